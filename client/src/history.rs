//! Where the input history lives: `$XDG_DATA_HOME/chinwag/history`, else
//! `~/.local/share/chinwag/history` (the XDG default), unless `--history`
//! names a file.

use std::ffi::OsString;
use std::path::PathBuf;

/// The default history file, or `None` when neither `XDG_DATA_HOME` nor
/// `HOME` is set.
pub(crate) fn default_path() -> Option<PathBuf> {
    path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

fn path_from(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The XDG spec says a relative XDG_DATA_HOME is invalid and ignored.
    let data = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(data.join("chinwag").join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(xdg: Option<&str>, home: Option<&str>, expected: Option<&str>) {
        assert_eq!(
            path_from(xdg.map(OsString::from), home.map(OsString::from)),
            expected.map(PathBuf::from)
        );
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
