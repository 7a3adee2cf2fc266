//! The store's tests, on real SQLite files in temporary directories: the
//! helpers here, and one file per concern. Nothing sleeps; `close()` is the
//! barrier that makes every accepted write visible.

mod contents;
mod crash;
mod open;
mod writer;

use std::path::Path;

use common::HistoryKind;
use rusqlite::Connection;
use tempfile::TempDir;

use super::*;

/// A fresh temporary data directory.
fn temp() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Opens the store in `dir`, which must succeed.
fn open_dir(dir: &Path, limits: Limits) -> (Store, Loaded) {
    Store::open(&DataDir::Dir(dir.to_path_buf()), limits).unwrap()
}

/// Opens the store in `dir`, which must fail.
fn open_err(dir: &Path, limits: Limits) -> StoreError {
    Store::open(&DataDir::Dir(dir.to_path_buf()), limits).unwrap_err()
}

/// An account named `name`.
fn account(name: &str) -> Account {
    Account {
        folded: name.to_lowercase(),
        shown: name.to_string(),
        hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"),
    }
}

/// A message at `at_ms` in `room` (folded = shown lowercased).
fn append(room: &str, at_ms: u64, text: &str) -> Write {
    Write::Append {
        room: room.to_lowercase().into(),
        room_shown: room.into(),
        entry: entry(at_ms, text),
    }
}

/// A message from `alice` at `at_ms`.
fn entry(at_ms: u64, text: &str) -> Entry {
    Entry {
        at_ms,
        kind: HistoryKind::Msg,
        from: "alice".into(),
        text: text.into(),
    }
}

/// Queues `writes`, all of which must be accepted.
fn write_all(store: &Store, writes: impl IntoIterator<Item = Write>) {
    for write in writes {
        assert!(store.write(write));
    }
}

/// A plain connection to the database in `dir`, for inspecting it while no
/// store has it open.
fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DATABASE_FILE)).unwrap()
}

/// The single integer `sql` returns.
fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn data_flag_none_is_memory_and_anything_else_a_directory() {
    assert_eq!(DataDir::from_flag(Some("none")).unwrap(), DataDir::Memory);
    assert_eq!(
        DataDir::from_flag(Some("/srv/chat")).unwrap(),
        DataDir::Dir("/srv/chat".into())
    );
    assert_eq!(
        DataDir::from_flag(Some("/srv/chat"))
            .unwrap()
            .database_path(),
        Some("/srv/chat/chinwag.db".into())
    );
    assert_eq!(DataDir::Memory.database_path(), None);
    assert!(matches!(
        DataDir::from_flag(Some("")),
        Err(StoreError::EmptyDataFlag)
    ));
}

#[test]
fn default_directory_prefers_an_absolute_xdg_state_home() {
    fn check(xdg: Option<&str>, home: Option<&str>, expected: Option<&str>) {
        let found = files::default_dir(xdg.map(Into::into), home.map(Into::into)).ok();
        assert_eq!(
            found.as_deref(),
            expected.map(Path::new),
            "XDG_STATE_HOME={xdg:?} HOME={home:?}"
        );
    }
    check(Some("/x/state"), Some("/home/a"), Some("/x/state/chinwagd"));
    check(None, Some("/home/a"), Some("/home/a/.local/state/chinwagd"));
    check(
        Some(""),
        Some("/home/a"),
        Some("/home/a/.local/state/chinwagd"),
    );
    check(
        Some("rel"),
        Some("/home/a"),
        Some("/home/a/.local/state/chinwagd"),
    );
    check(Some("/x/state"), None, Some("/x/state/chinwagd"));
    check(None, None, None);
    check(None, Some(""), None);
}

#[test]
fn memory_store_loads_nothing_and_accepts_everything() {
    let (store, loaded) = Store::open(&DataDir::Memory, Limits::default()).unwrap();
    assert_eq!(loaded, Loaded::default());
    assert!(store.write(Write::PutAccount(account("Ann"))));
    assert!(store.write(append("Lobby", 1, "hi")));
    assert_eq!(store.committed(), 0);
    store.close();
}
