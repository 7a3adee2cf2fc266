//! The servers whose self-signed certificates the user has trusted, as ssh
//! keeps `known_hosts`: `$XDG_DATA_HOME/chinwag/known_servers` (else
//! `~/.local/share/chinwag/known_servers`), one `host:port fingerprint`
//! per line, `#` comments and blank lines kept as they are. Parsing and
//! editing are pure; only [`KnownServers::load`] and
//! [`KnownServers::remember`] touch the disk, and the file is created with
//! mode 0600.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// The SHA-256 fingerprint of a DER certificate, as `openssl x509
/// -fingerprint -sha256` prints it: upper-case hex pairs joined by colons.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let pairs: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// The default file, or `None` when neither `XDG_DATA_HOME` nor `HOME` is
/// set.
pub(crate) fn default_path() -> Option<PathBuf> {
    crate::history::data_dir().map(|dir| dir.join("known_servers"))
}

/// A remembered fingerprint and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) fingerprint: String,
    /// 1-based line number in the file, for the "edit this line" advice.
    pub(crate) line: usize,
}

/// The file's contents.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownServers {
    path: PathBuf,
    text: String,
}

impl KnownServers {
    /// Reads `path`; a missing file is an empty list.
    ///
    /// # Errors
    ///
    /// The file exists but cannot be read.
    pub(crate) fn load(path: &Path) -> Result<KnownServers> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        Ok(KnownServers {
            path: path.to_owned(),
            text,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint remembered for `server` (`host:port`, compared
    /// without regard to ASCII case), if any. The last line for a server
    /// wins, so an appended line overrides an older one.
    pub(crate) fn lookup(&self, server: &str) -> Option<Entry> {
        let mut found = None;
        for (index, line) in self.text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            if let (Some(name), Some(fingerprint)) = (words.next(), words.next())
                && name.eq_ignore_ascii_case(server)
            {
                found = Some(Entry {
                    fingerprint: fingerprint.to_ascii_uppercase(),
                    line: index + 1,
                });
            }
        }
        found
    }

    /// The file's text with `server`'s fingerprint appended.
    pub(crate) fn with(&self, server: &str, fingerprint: &str) -> String {
        let mut text = self.text.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{} {fingerprint}\n", server.to_ascii_lowercase()));
        text
    }

    /// Appends `server`'s fingerprint to the file (created with mode
    /// 0600, its directory too if needed). Appending, not rewriting, so a
    /// line another `chinwag` added meanwhile is kept.
    ///
    /// # Errors
    ///
    /// The directory or file cannot be written.
    pub(crate) fn remember(&mut self, server: &str, fingerprint: &str) -> Result<()> {
        let text = self.with(server, fingerprint);
        let added = &text[self.text.len()..];
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        file.write_all(added.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.text = text;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(text: &str) -> KnownServers {
        KnownServers {
            path: PathBuf::from("/k"),
            text: text.to_owned(),
        }
    }

    #[test]
    fn fingerprints_look_like_openssls() {
        // SHA-256 of the empty input.
        assert_eq!(
            fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
        assert_eq!(fingerprint(b"x").len(), 32 * 3 - 1);
    }

    #[test]
    fn lookup_skips_comments_and_ignores_case() {
        let servers = known(
            "# trusted by hand\n\nchat.example:7879 AA:BB\n  [::1]:7879   cc:dd  \nbroken-line\n",
        );
        assert_eq!(
            servers.lookup("Chat.Example:7879"),
            Some(Entry {
                fingerprint: "AA:BB".into(),
                line: 3
            })
        );
        assert_eq!(servers.lookup("[::1]:7879").unwrap().fingerprint, "CC:DD");
        assert_eq!(servers.lookup("chat.example:7878"), None);
        assert_eq!(servers.lookup("broken-line"), None);
    }

    #[test]
    fn the_last_line_for_a_server_wins() {
        let servers = known("a:1 11\na:1 22\n");
        assert_eq!(
            servers.lookup("a:1"),
            Some(Entry {
                fingerprint: "22".into(),
                line: 2
            })
        );
    }

    #[test]
    fn appending_keeps_what_was_there() {
        assert_eq!(known("").with("Host:1", "AB"), "host:1 AB\n");
        assert_eq!(
            known("# c\nx:2 CD").with("h:1", "AB"),
            "# c\nx:2 CD\nh:1 AB\n"
        );
    }

    #[test]
    fn remembering_writes_a_private_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("known_servers");
        let mut servers = KnownServers::load(&path).unwrap();
        assert_eq!(servers.lookup("h:1"), None);
        servers.remember("h:1", "AB:CD").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = KnownServers::load(&path).unwrap();
        assert_eq!(again.lookup("h:1").unwrap().fingerprint, "AB:CD");
    }
}
