//! The schema, its version (`PRAGMA user_version`) and how a file reaches
//! the latest one. Opening checks everything (lock, header, `quick_check`,
//! version, tables) while writing nothing, and only then switches to WAL
//! and migrates, so a file we refuse is a file we have not changed.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::StoreError;

/// Migration `n` (from 0) takes a file from version `n` to `n + 1`. Append
/// only: a shipped migration is never edited, since files out there have
/// already run it.
const MIGRATIONS: &[&str] = &[
    // 1: registered names and room history.
    "CREATE TABLE accounts (
         name TEXT PRIMARY KEY NOT NULL,
         shown TEXT NOT NULL,
         hash TEXT NOT NULL,
         created_ms INTEGER NOT NULL
     );
     CREATE TABLE rooms (
         name TEXT PRIMARY KEY NOT NULL,
         shown TEXT NOT NULL,
         last_ms INTEGER NOT NULL
     );
     CREATE TABLE history (
         id INTEGER PRIMARY KEY,
         room TEXT NOT NULL,
         at_ms INTEGER NOT NULL,
         kind TEXT NOT NULL CHECK (kind IN ('msg', 'action')),
         sender TEXT NOT NULL,
         text TEXT NOT NULL
     );
     CREATE INDEX history_by_room ON history (room, id);",
    // 2: ignore lists (server version 2).
    "CREATE TABLE ignores (
         owner TEXT NOT NULL,
         ignored TEXT NOT NULL,
         shown TEXT NOT NULL,
         PRIMARY KEY (owner, ignored)
     ) WITHOUT ROWID;",
];

/// The schema version this build writes.
pub(crate) const LATEST: u32 = MIGRATIONS.len() as u32;

/// The tables a file of a given version must have, with the columns we
/// use: (version that added it, table, columns). A file that lacks one is
/// somebody else's database, not ours.
const TABLES: &[(u32, &str, &[&str])] = &[
    (1, "accounts", &["name", "shown", "hash", "created_ms"]),
    (1, "rooms", &["name", "shown", "last_ms"]),
    (
        1,
        "history",
        &["id", "room", "at_ms", "kind", "sender", "text"],
    ),
    (2, "ignores", &["owner", "ignored", "shown"]),
];

/// Opens `path` (which must exist), takes the lock, checks it, then sets
/// WAL mode and migrates it to [`LATEST`].
///
/// The lock is SQLite's own: `locking_mode=EXCLUSIVE` set before the first
/// access means that once in WAL mode the connection holds an exclusive
/// lock on the file until it closes (and keeps the WAL index in its own
/// memory, so there is no `-shm` file). A second opener gets `SQLITE_BUSY`
/// at once, since the busy timeout is zero.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let sqlite = |error| StoreError::from_sqlite(path, error);
    // No SQLITE_OPEN_CREATE: `files::prepare_database_file` made the file
    // with our mode, and a file that vanished since is an error, not a cue.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    // Until the checks pass, closing must not checkpoint a WAL left by a
    // crash into a file we may be about to refuse.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(sqlite)?;
    conn.busy_timeout(Duration::ZERO).map_err(sqlite)?;
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
        .map_err(sqlite)?;

    let version = {
        // EXCLUSIVE takes the write lock now, before reading anything, so
        // two servers starting at once cannot both pass the checks.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(sqlite)?;
        let version = check(&tx, path)?;
        tx.commit().map_err(sqlite)?;
        version
    };
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
        .map_err(sqlite)?;

    let journal: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sqlite)?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::io(
            path,
            std::io::Error::other(format!("sqlite refused WAL mode (still {journal})")),
        ));
    }
    // NORMAL in WAL mode syncs at checkpoints, not at every commit: a
    // commit survives a crash of the process (it is in the OS's cache), and
    // only a power cut or kernel crash can lose the last few commits, never
    // the file's consistency. Chat history and a just-made registration
    // are worth less than an fsync per batch on a busy server.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;
    migrate(&mut conn, version, LATEST).map_err(sqlite)?;
    Ok(conn)
}

/// Applies migrations `from..to`, each in its own transaction together with
/// its new version number, so a crash leaves the file at some version.
pub(crate) fn migrate(conn: &mut Connection, from: u32, to: u32) -> rusqlite::Result<()> {
    for version in from..to {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "database schema migrated");
    }
    Ok(())
}

/// Reads the version and checks the file, changing nothing: the header
/// (SQLite fails on a non-database), `quick_check`, and our tables.
fn check(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let sqlite = |error| StoreError::from_sqlite(path, error);
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let raw: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    let version =
        u32::try_from(raw).map_err(|_| corrupt(format!("schema version {raw} is not ours")))?;
    if version > LATEST {
        return Err(StoreError::Newer {
            path: path.to_path_buf(),
            found: version,
            known: LATEST,
        });
    }

    let problems = quick_check(conn).map_err(sqlite)?;
    if !problems.is_empty() {
        return Err(corrupt(format!("quick_check: {}", problems.join("; "))));
    }

    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(sqlite)?;
        if objects != 0 {
            return Err(corrupt(
                "it has tables but no chinwag schema version".into(),
            ));
        }
    }
    for &(since, table, columns) in TABLES.iter().filter(|(since, ..)| *since <= version) {
        let present = table_columns(conn, table).map_err(sqlite)?;
        if let Some(missing) = columns.iter().find(|c| !present.iter().any(|p| p == *c)) {
            return Err(corrupt(format!(
                "schema {version} needs column {table}.{missing} (added in {since})"
            )));
        }
    }
    Ok(version)
}

/// `quick_check`'s complaints, at most a few; none means the file is sound.
fn quick_check(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("PRAGMA quick_check(5)")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    let mut problems = Vec::new();
    for row in rows {
        let row = row?;
        if row != "ok" {
            problems.push(row);
        }
    }
    Ok(problems)
}

/// The columns of `table`; empty if there is no such table.
fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let rows = statement.query_map([table], |row| row.get::<_, String>(0))?;
    rows.collect()
}

/// The order of `rooms`, most recently active first: by the time of the
/// last message, then (same millisecond) by which message came last, then
/// by name so that the order is total.
macro_rules! rooms_newest_first {
    () => {
        "rooms.last_ms DESC, \
         (SELECT max(history.id) FROM history WHERE history.room = rooms.name) DESC, \
         rooms.name"
    };
}
pub(crate) use rooms_newest_first;

/// A count as SQLite's integer; a limit beyond `i64` is no limit.
pub(crate) fn sql_count(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
