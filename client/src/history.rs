//! Where the client keeps its files: `$XDG_DATA_HOME/chinwag/`, else
//! `~/.local/share/chinwag/` (the XDG default). The input history is
//! `history` there unless `--history` names a file; which lines may enter
//! it is decided here too (never a password).

use std::ffi::OsString;
use std::path::PathBuf;

/// The default history file, or `None` when neither `XDG_DATA_HOME` nor
/// `HOME` is set.
pub(crate) fn default_path() -> Option<PathBuf> {
    data_dir().map(|dir| dir.join("history"))
}

/// Whether what one `readline` returned may be kept in the history: not
/// if any of its lines carries a password. (The answer to a password
/// prompt is never offered.)
pub(crate) fn may_remember(text: &str) -> bool {
    !text.trim().is_empty() && !text.split('\n').any(crate::input::is_secret)
}

/// `$XDG_DATA_HOME/chinwag`, else `~/.local/share/chinwag`.
pub(crate) fn data_dir() -> Option<PathBuf> {
    dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

fn dir_from(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The XDG spec says a relative XDG_DATA_HOME is invalid and ignored.
    let data = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(data.join("chinwag"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(xdg: Option<&str>, home: Option<&str>, expected: Option<&str>) {
        assert_eq!(
            dir_from(xdg.map(OsString::from), home.map(OsString::from)).map(|d| d.join("history")),
            expected.map(PathBuf::from)
        );
    }

    #[test]
    fn password_commands_are_never_remembered() {
        assert!(may_remember("/join den"));
        assert!(may_remember("hello /register x"));
        assert!(!may_remember("/register correct horse"));
        assert!(!may_remember("/password old new"));
        assert!(!may_remember("/UNREGISTER pw"));
        assert!(!may_remember("hi\n/register pw"));
        assert!(!may_remember("  "));
    }

    #[test]
    fn xdg_then_home_then_nothing() {
        check(Some("/x"), Some("/h"), Some("/x/chinwag/history"));
        check(None, Some("/h"), Some("/h/.local/share/chinwag/history"));
        check(
            Some("rel"),
            Some("/h"),
            Some("/h/.local/share/chinwag/history"),
        );
        check(None, None, None);
        check(None, Some(""), None);
    }
}
