//! TLS: the server's identity (PEM files, or a self-signed certificate made
//! on first start and kept in the data directory), the rustls configuration
//! built from it, and `Session`, one connection's TLS state. A session is
//! shared by two parties: the connection's own thread, which decrypts what
//! it reads, and whoever flushes its outbox, which encrypts what is queued;
//! each holds the session's lock only while rustls works on bytes in memory,
//! never across a socket call.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// One connection's TLS state.
pub(crate) type Session = Arc<Mutex<rustls::ServerConnection>>;

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum Identity {
    /// PEM files given with `--tls-cert` and `--tls-key`.
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// `--tls-self-signed`: made on first start and kept in this data
    /// directory (`None`: made afresh each start, with `--data none`).
    SelfSigned(Option<PathBuf>),
}

/// Why the TLS set-up failed; each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {detail}")]
    Pem {
        /// "a certificate" or "a private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The certificate and key do not make a working configuration.
    #[error("the certificate and key cannot be used together: {0}")]
    Config(#[from] rustls::Error),
    /// A self-signed certificate cannot be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The self-signed certificate cannot be kept in the data directory.
    #[error("cannot keep the self-signed certificate in {path}: {source}")]
    Keep {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A ready TLS configuration and the certificate's SHA-256 fingerprint.
pub struct Tls {
    /// The rustls configuration every TLS connection shares.
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate, as `AB:CD:…`, as clients see it.
    pub fingerprint: String,
}

impl Tls {
    /// Loads or makes the identity and builds the configuration.
    ///
    /// # Errors
    ///
    /// A file cannot be read or written, or holds no usable certificate or
    /// key, or the two do not match.
    pub fn new(identity: &Identity, hostnames: &[String]) -> Result<Tls, TlsError> {
        let (certs, key) = match identity {
            Identity::Files { cert, key } => (read_certs(cert)?, read_key(key)?),
            Identity::SelfSigned(Some(dir)) => self_signed_in(dir, hostnames)?,
            Identity::SelfSigned(None) => {
                let made = make_self_signed(hostnames)?;
                (vec![made.0], made.1)
            }
        };
        let fingerprint = certs
            .first()
            .map_or_else(String::new, |cert| fingerprint(cert));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(Tls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// The SHA-256 of a certificate, as colon-separated upper-case hex pairs
/// (what `openssl x509 -fingerprint -sha256` prints).
pub fn fingerprint(cert: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    let pairs: Vec<String> = digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    pairs.join(":")
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |detail: String| TlsError::Pem {
        what: "a certificate",
        path: path.to_owned(),
        detail,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("no CERTIFICATE block in the file".to_owned()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        what: "a private key",
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// Names the certificate is made for: `localhost`, loopback, and whatever
/// the caller knows the server as.
fn subject_names(hostnames: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for name in hostnames {
        if !name.is_empty() && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn make_self_signed(
    hostnames: &[String],
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let made = rcgen::generate_simple_self_signed(subject_names(hostnames))?;
    let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    Ok((made.cert.der().clone(), key))
}

/// The self-signed identity kept in `dir`: read it if both files are
/// there, else make one and write both files (mode 0600), never replacing
/// a file that exists.
fn self_signed_in(
    dir: &Path,
    hostnames: &[String],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert_path = dir.join("tls-cert.pem");
    let key_path = dir.join("tls-key.pem");
    if cert_path.exists() || key_path.exists() {
        return Ok((read_certs(&cert_path)?, read_key(&key_path)?));
    }
    let made = rcgen::generate_simple_self_signed(subject_names(hostnames))?;
    write_private(&key_path, made.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert_path, made.cert.pem().as_bytes())?;
    let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    Ok((vec![made.cert.der().clone()], key))
}

/// Writes a new file readable by its owner only; fails if it exists.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let keep = |source| TlsError::Keep {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(keep)?;
    file.write_all(bytes).map_err(keep)?;
    file.sync_all().map_err(keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_self_signed_identity_is_made_once_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::SelfSigned(Some(dir.path().to_owned()));
        let first = Tls::new(&identity, &["chat.example".to_owned()]).unwrap();
        for file in ["tls-cert.pem", "tls-key.pem"] {
            let mode = fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let second = Tls::new(&identity, &[]).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let fresh = Tls::new(&Identity::SelfSigned(None), &[]).unwrap();
        assert_ne!(fresh.fingerprint, first.fingerprint);
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        fs::write(&cert, "not a certificate").unwrap();
        let identity = Identity::Files {
            cert: cert.clone(),
            key: dir.path().join("missing.pem"),
        };
        let error = Tls::new(&identity, &[]).err().unwrap().to_string();
        assert!(error.contains("cert.pem"), "{error}");
    }

    #[test]
    fn the_fingerprint_is_colon_separated_sha256() {
        assert_eq!(
            fingerprint(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }
}
