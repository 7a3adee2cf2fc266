//! A password given ahead of time, for scripts and for not typing it:
//! `--password-file FILE` (its first line) or `CHINWAG_PASSWORD`. It is
//! kept as a [`Secret`] (zeroed when dropped, never printed) and handed
//! out once: if the server refuses it, the client does not send it again.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result, bail};
use common::Secret;
use parking_lot::Mutex;

/// The environment variable that may hold the password.
pub(crate) const ENV: &str = "CHINWAG_PASSWORD";

/// A password and where it came from (for messages; never the password).
#[derive(Debug)]
pub(crate) struct Preset {
    pub(crate) secret: Secret,
    pub(crate) source: String,
}

/// The first line of `path`, with a warning on stderr when other users may
/// read the file.
///
/// # Errors
///
/// The file cannot be read, or its first line is empty.
pub(crate) fn from_file(path: &Path) -> Result<Preset> {
    let metadata = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Some(warning) = mode_warning(path, metadata.permissions().mode()) {
        eprintln!("chinwag: warning: {warning}");
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let secret = first_line(&text).map(Secret::new);
    // Overwrite our copy of the file as `Secret` does its own.
    text.into_bytes().fill(0);
    match secret {
        Some(secret) => Ok(Preset {
            secret,
            source: format!("--password-file {}", path.display()),
        }),
        None => bail!("the first line of {} is empty", path.display()),
    }
}

/// `CHINWAG_PASSWORD`, if set and not empty.
pub(crate) fn from_env() -> Option<Preset> {
    let value = std::env::var(ENV).ok()?;
    first_line(&value).map(|line| Preset {
        secret: Secret::new(line),
        source: ENV.to_owned(),
    })
}

/// The first line, without its line ending; `None` if it is empty.
fn first_line(text: &str) -> Option<&str> {
    let line = text.split('\n').next().unwrap_or_default();
    let line = line.strip_suffix('\r').unwrap_or(line);
    (!line.is_empty()).then_some(line)
}

/// The warning for a password file whose `mode` lets others read it.
fn mode_warning(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} can be read by other users (mode {:04o}); run chmod 600 on it",
            path.display(),
            mode & 0o7777
        )
    })
}

/// The preset, handed out at most once.
#[derive(Debug, Default)]
pub(crate) struct Stash {
    preset: Mutex<Option<Preset>>,
    used: AtomicBool,
}

impl Stash {
    pub(crate) fn new(preset: Option<Preset>) -> Stash {
        Stash {
            preset: Mutex::new(preset),
            used: AtomicBool::new(false),
        }
    }

    /// The password, the first time only.
    pub(crate) fn take(&self) -> Option<Preset> {
        let preset = self.preset.lock().take();
        if preset.is_some() {
            self.used.store(true, Ordering::Release);
        }
        preset
    }

    /// Whether the password was handed out.
    pub(crate) fn was_used(&self) -> bool {
        self.used.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_line_counts() {
        assert_eq!(first_line("pass word\nsecond\n"), Some("pass word"));
        assert_eq!(first_line("pw\r\n"), Some("pw"));
        assert_eq!(first_line("pw"), Some("pw"));
        assert_eq!(first_line("\npw"), None);
        assert_eq!(first_line(""), None);
    }

    #[test]
    fn a_file_others_can_read_is_warned_about() {
        assert_eq!(mode_warning(Path::new("/p"), 0o100600), None);
        assert_eq!(mode_warning(Path::new("/p"), 0o100400), None);
        assert_eq!(
            mode_warning(Path::new("/p"), 0o100644).unwrap(),
            "/p can be read by other users (mode 0644); run chmod 600 on it"
        );
        assert!(mode_warning(Path::new("/p"), 0o100640).is_some());
    }

    #[test]
    fn a_file_gives_its_first_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        fs::write(&path, "correct horse\nignored\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let preset = from_file(&path).unwrap();
        assert_eq!(preset.secret.expose(), b"correct horse");
        assert!(preset.source.starts_with("--password-file "));
        let stash = Stash::new(Some(preset));
        assert!(!stash.was_used());
        assert!(stash.take().is_some());
        assert!(stash.take().is_none());
        assert!(stash.was_used());
    }
}
