//! Start-up reading: apply the retention limits to the file (they may have
//! been lowered since the last run), then read everything the server keeps
//! in memory. After this the database is written, never read.

use std::path::Path;
use std::str::FromStr as _;

use common::HistoryKind;
use rusqlite::Connection;

use super::error::StoreError;
use super::schema::{rooms_newest_first, sql_count};
use super::{Account, Entry, Ignore, Limits, Loaded, RoomHistory};

/// Deletes what the limits no longer allow, then loads the rest, in one
/// transaction.
pub(crate) fn retain_and_load(
    conn: &mut Connection,
    limits: &Limits,
    path: &Path,
) -> Result<Loaded, StoreError> {
    let sqlite = |error| StoreError::from_sqlite(path, error);
    let tx = conn.transaction().map_err(sqlite)?;
    retain(&tx, limits).map_err(sqlite)?;
    let loaded = load(&tx, path)?;
    tx.commit().map_err(sqlite)?;
    Ok(loaded)
}

/// Keeps the most recently active `limits.rooms_kept()` rooms and the newest
/// `history_per_room` messages of each; a lowered flag is retention, so
/// this is logged, not refused.
fn retain(conn: &Connection, limits: &Limits) -> rusqlite::Result<()> {
    let rooms = conn.execute(
        concat!(
            "DELETE FROM rooms WHERE name IN (SELECT name FROM rooms ORDER BY ",
            rooms_newest_first!(),
            " LIMIT -1 OFFSET ?1)"
        ),
        [sql_count(limits.rooms_kept())],
    )?;
    let orphans = conn.execute(
        "DELETE FROM history WHERE room NOT IN (SELECT name FROM rooms)",
        [],
    )?;
    let older = conn.execute(
        "DELETE FROM history WHERE id IN (
             SELECT id FROM (
                 SELECT id, row_number() OVER (PARTITION BY room ORDER BY id DESC) AS newer
                 FROM history
             ) WHERE newer > ?1
         )",
        [sql_count(limits.history_per_room)],
    )?;
    if rooms + orphans + older > 0 {
        tracing::info!(
            rooms,
            messages = orphans + older,
            "deleted stored history beyond the --history limits"
        );
    }
    Ok(())
}

/// Reads every table into memory.
fn load(conn: &Connection, path: &Path) -> Result<Loaded, StoreError> {
    let sqlite = |error| StoreError::from_sqlite(path, error);
    let accounts = conn
        .prepare("SELECT name, shown, hash FROM accounts ORDER BY name")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok(Account {
                        folded: row.get(0)?,
                        shown: row.get(1)?,
                        hash: row.get(2)?,
                    })
                })?
                .collect()
        })
        .map_err(sqlite)?;
    let ignores = conn
        .prepare("SELECT owner, ignored, shown FROM ignores ORDER BY owner, ignored")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok(Ignore {
                        owner: row.get(0)?,
                        ignored: row.get(1)?,
                        ignored_shown: row.get(2)?,
                    })
                })?
                .collect()
        })
        .map_err(sqlite)?;
    let room_names: Vec<(String, String)> = conn
        .prepare(concat!(
            "SELECT name, shown FROM rooms ORDER BY ",
            rooms_newest_first!()
        ))
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(sqlite)?;

    let mut entries = conn
        .prepare("SELECT at_ms, kind, sender, text FROM history WHERE room = ?1 ORDER BY id")
        .map_err(sqlite)?;
    let mut rooms = Vec::with_capacity(room_names.len());
    for (folded, shown) in room_names {
        let raw: Vec<(i64, String, String, String)> = entries
            .query_map([&folded], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(sqlite)?;
        let entries = raw
            .into_iter()
            .map(|(at_ms, kind, from, text)| entry(path, at_ms, &kind, from, text))
            .collect::<Result<_, _>>()?;
        rooms.push(RoomHistory {
            folded,
            shown,
            entries,
        });
    }
    Ok(Loaded {
        accounts,
        ignores,
        rooms,
    })
}

/// One history row as an [`Entry`]; a kind or time we never write means
/// the file was changed behind our back.
fn entry(
    path: &Path,
    at_ms: i64,
    kind: &str,
    from: String,
    text: String,
) -> Result<Entry, StoreError> {
    let corrupt = |reason| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    Ok(Entry {
        at_ms: u64::try_from(at_ms)
            .map_err(|_| corrupt(format!("a message has the time {at_ms}")))?,
        kind: HistoryKind::from_str(kind)
            .map_err(|()| corrupt(format!("a message has the kind {kind:?}")))?,
        from: from.into(),
        text: text.into(),
    })
}
