//! Why the store could not start, as one typed error whose every message
//! names the file and says what to do. Causes are part of the message, not
//! a `source()`, so the binary's `{:#}` chain prints each of them once.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Why [`Store::open`](super::Store::open) or [`DataDir::from_flag`](super::DataDir::from_flag)
/// failed. Start-up stops on any of these; none of them has touched the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another `Store` in this one) holds the database.
    #[error(
        "{} is in use by another chinwagd; stop it, or give this one another --data directory",
        path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// Not a database, damaged, or a database with somebody else's schema.
    #[error(
        "{} is damaged or not a chinwag database ({reason}); move it aside (chinwagd never \
         overwrites it) and start again, or use another --data directory",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite or the schema check said, for whoever debugs it.
        reason: String,
    },
    /// The schema version is one this build does not know.
    #[error(
        "{} was written by a newer chinwagd (schema {found}; this one knows {known}); \
         upgrade chinwagd or use another --data directory",
        path.display()
    )]
    Newer {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: u32,
        /// The latest version this build can migrate to.
        known: u32,
    },
    /// No `--data` flag and no environment to derive the default from.
    #[error(
        "neither XDG_STATE_HOME nor HOME is set, so there is no default data directory; \
         give one with --data DIR, or --data none to keep nothing"
    )]
    NoDefaultDir,
    /// `--data` was given an empty string.
    #[error("--data needs a directory, or none to keep nothing")]
    EmptyDataFlag,
    /// The directory or file could not be created or inspected.
    #[error(
        "cannot use {}: {cause}; fix its permissions or use another --data directory",
        path.display()
    )]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What the OS said.
        cause: io::Error,
    },
    /// SQLite failed for a reason that is neither a lock nor damage.
    #[error("cannot use {}: {cause}; check the disk, or use another --data directory", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        cause: rusqlite::Error,
    },
}

impl StoreError {
    /// Sorts a SQLite error met while opening `path`: busy means another
    /// holder of the lock; "not a database", "malformed" and a value of the
    /// wrong type in one of our columns mean damage.
    pub(crate) fn from_sqlite(path: &Path, cause: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        if matches!(
            cause,
            rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
        ) {
            return StoreError::Corrupt {
                path,
                reason: cause.to_string(),
            };
        }
        match cause.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                reason: cause.to_string(),
            },
            _ => StoreError::Sqlite { path, cause },
        }
    }

    /// Wraps an OS error about `path`.
    pub(crate) fn io(path: &Path, cause: io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}
