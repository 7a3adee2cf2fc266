//! Where the data lives and with which permissions: `--data` to a directory,
//! the XDG default, and creating the directory (0700) and the database file
//! (0600) ourselves, because SQLite would create the file with the umask's
//! mode and its WAL file copies the database file's mode.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// The database's file name inside the data directory.
pub(crate) const DATABASE_FILE: &str = "chinwag.db";

/// Where the server keeps its data (`--data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// `--data none`: nothing is kept across restarts.
    Memory,
    /// A directory holding `chinwag.db`.
    Dir(PathBuf),
}

impl DataDir {
    /// Reads the `--data` flag: `none` keeps everything in memory, anything
    /// else is a directory; no flag means `$XDG_STATE_HOME/chinwagd`, else
    /// `$HOME/.local/state/chinwagd`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoDefaultDir`] without a flag when neither variable is
    /// set; [`StoreError::EmptyDataFlag`] for `--data ""`.
    pub fn from_flag(flag: Option<&str>) -> Result<DataDir, StoreError> {
        match flag {
            Some("none") => Ok(DataDir::Memory),
            Some("") => Err(StoreError::EmptyDataFlag),
            Some(path) => Ok(DataDir::Dir(PathBuf::from(path))),
            None => default_dir(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
                .map(DataDir::Dir),
        }
    }

    /// `DIR/chinwag.db`, or `None` in memory.
    pub fn database_path(&self) -> Option<PathBuf> {
        match self {
            DataDir::Memory => None,
            DataDir::Dir(dir) => Some(dir.join(DATABASE_FILE)),
        }
    }
}

/// The default directory from the two variables, kept apart from the
/// environment so it can be tested. The XDG spec says a relative
/// `XDG_STATE_HOME` is invalid and must be ignored, and so is an empty one.
pub(crate) fn default_dir(
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, StoreError> {
    if let Some(state) = xdg_state_home.map(PathBuf::from)
        && state.is_absolute()
    {
        return Ok(state.join("chinwagd"));
    }
    match home {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home).join(".local/state/chinwagd")),
        _ => Err(StoreError::NoDefaultDir),
    }
}

/// Creates `dir` (and its parents) with mode 0700 if it is missing. An
/// existing directory is somebody's choice: a mode wider than 0700 gets a
/// warning, not a chmod.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            warn_if_open(dir, meta.permissions().mode(), 0o700);
            Ok(())
        }
        Ok(_) => Err(StoreError::io(
            dir,
            io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        )),
        Err(error) if error.kind() == io::ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|error| StoreError::io(dir, error)),
        Err(error) => Err(StoreError::io(dir, error)),
    }
}

/// Creates an empty database file with mode 0600 if there is none; an
/// empty file is a valid empty SQLite database. An existing file is never
/// opened here: closing any descriptor of a file drops every POSIX lock
/// this process holds on it, which would silently release the lock of a
/// `Store` already open on it.
pub(crate) fn prepare_database_file(path: &Path) -> Result<(), StoreError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::metadata(path).map_err(|error| StoreError::io(path, error))?;
            warn_if_open(path, meta.permissions().mode(), 0o600);
            Ok(())
        }
        Err(error) => Err(StoreError::io(path, error)),
    }
}

/// Warns when `mode` lets more than `wanted` through.
fn warn_if_open(path: &Path, mode: u32, wanted: u32) {
    if mode & 0o777 & !wanted != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "data is readable by others; chmod {wanted:o} it if that is not intended"
        );
    }
}
