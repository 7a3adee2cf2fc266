//! Where to connect: `--server` as `HOST:PORT`, `chinwag://HOST:PORT` or
//! `chinwags://HOST:PORT`, and what TLS trusts there. The same target is
//! used for every connection of a session, so reconnecting trusts exactly
//! what connecting trusted.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::known_servers;

/// Where to connect, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `HOST:PORT`, as the user wrote it (without a scheme).
    pub(crate) address: String,
    /// TLS settings, or `None` for plain TCP.
    pub(crate) tls: Option<TlsSettings>,
}

/// What TLS trusts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TlsSettings {
    /// `--ca FILE`: the only authority, and no trust on first use.
    pub(crate) ca: Option<PathBuf>,
    /// The known-servers file (`None`: no place to remember anything).
    pub(crate) known_servers: Option<PathBuf>,
}

impl Target {
    /// Reads `--server`: `HOST:PORT`, `chinwag://HOST:PORT` or
    /// `chinwags://HOST:PORT` (TLS). `tls` (`--tls` or `--ca`) asks for TLS
    /// whatever the scheme.
    ///
    /// # Errors
    ///
    /// An unknown scheme, or no port.
    pub(crate) fn parse(server: &str, tls: bool, ca: Option<PathBuf>) -> Result<Target> {
        let (scheme_tls, address) = if let Some(rest) = server.strip_prefix("chinwags://") {
            (true, rest)
        } else if let Some(rest) = server.strip_prefix("chinwag://") {
            (false, rest)
        } else if server.contains("://") {
            bail!("unknown scheme in {server:?}: use HOST:PORT, chinwag:// or chinwags://");
        } else {
            (false, server)
        };
        let address = address.trim_end_matches('/');
        if host_of(address).is_none() {
            bail!("{server:?} has no port: write HOST:PORT");
        }
        let tls = (tls || scheme_tls || ca.is_some()).then(|| TlsSettings {
            ca,
            known_servers: known_servers::default_path(),
        });
        Ok(Target {
            address: address.to_owned(),
            tls,
        })
    }
}

/// The host of `HOST:PORT` (without the brackets of an IPv6 address), if
/// there is a port.
pub(crate) fn host_of(address: &str) -> Option<&str> {
    let (host, port) = address.rsplit_once(':')?;
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_and_schemes() {
        let plain = Target::parse("chat.example:7878", false, None).unwrap();
        assert_eq!(plain.address, "chat.example:7878");
        assert_eq!(plain.tls, None);
        let tls = Target::parse("chinwags://chat.example:7879/", false, None).unwrap();
        assert_eq!(tls.address, "chat.example:7879");
        assert!(tls.tls.is_some());
        assert!(
            Target::parse("chinwag://h:1", true, None)
                .unwrap()
                .tls
                .is_some()
        );
        let ca = Target::parse("h:1", false, Some("/ca.pem".into())).unwrap();
        assert_eq!(ca.tls.unwrap().ca.as_deref(), Some("/ca.pem".as_ref()));
        assert!(Target::parse("https://h:1", false, None).is_err());
        assert!(Target::parse("chinwags://h", false, None).is_err());
        assert!(Target::parse("h:", false, None).is_err());
    }

    #[test]
    fn hosts_lose_their_port_and_brackets() {
        assert_eq!(host_of("h:1"), Some("h"));
        assert_eq!(host_of("[::1]:7879"), Some("::1"));
        assert_eq!(host_of("127.0.0.1:7879"), Some("127.0.0.1"));
        assert_eq!(host_of("h"), None);
        assert_eq!(host_of(":1"), None);
    }
}
