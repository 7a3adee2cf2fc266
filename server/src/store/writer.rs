//! The `store-writer` thread, the only code that writes to the database
//! while the server runs. It drains the queue in batches of up to
//! [`BATCH_MAX`] writes, gathered for at most [`GATHER`], one transaction
//! each, so a busy server makes about fifty commits a second, not one
//! per message; the hub only ever `try_send`s.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::slice;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;
use rusqlite::{Connection, Transaction, params};

use super::schema::{rooms_newest_first, sql_count};
use super::{Limits, Write};

/// Writes per transaction, at most: enough to absorb a burst in one commit,
/// few enough that one batch is a short transaction.
pub(crate) const BATCH_MAX: usize = 4096;

/// How long a batch gathers writes after its first: committing as soon as
/// anything was queued made a commit per handful of lines in a busy room,
/// which was most of the writer's CPU. `kill -9` loses at most one batch,
/// so at most this much of what was said.
const GATHER: Duration = Duration::from_millis(20);

/// The thread's state: the connection (moved here after start-up) and how
/// the last batches went.
pub(crate) struct Writer {
    /// The database, checked, migrated and locked by `schema::open`.
    pub(crate) conn: Connection,
    /// The file, for log messages.
    pub(crate) path: PathBuf,
    /// What the history may hold.
    pub(crate) limits: Limits,
    /// Writes in the order the hub queued them; closed by `Store::close`.
    pub(crate) queue: Receiver<Box<Write>>,
    /// Writes committed so far, for `Store::committed`.
    pub(crate) committed: Arc<AtomicU64>,
    /// While writing fails: writes lost since the first failure, so the
    /// error is logged once per outage rather than once per batch.
    pub(crate) lost: Option<u64>,
}

impl Writer {
    /// Starts the thread.
    pub(crate) fn spawn(self) -> io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || self.run())
    }

    /// Applies batches until the queue is closed and empty, then closes the
    /// connection, which checkpoints the WAL into the database file.
    fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        while let Ok(first) = self.queue.recv() {
            batch.push(first);
            let deadline = Instant::now() + GATHER;
            while batch.len() < BATCH_MAX {
                match self.queue.recv_deadline(deadline) {
                    Ok(write) => batch.push(write),
                    Err(_) => break,
                }
            }
            let started = Instant::now();
            match apply(&mut self.conn, &batch, &self.limits) {
                Ok(()) => self.record(Ok(()), batch.len()),
                // One write that cannot be stored (too big, say) must not
                // take its whole batch down: the batch was rolled back, so
                // apply its writes again one by one and lose only those
                // that fail on their own.
                Err(_) if batch.len() > 1 => {
                    for write in &batch {
                        let result = apply(&mut self.conn, slice::from_ref(write), &self.limits);
                        self.record(result, 1);
                    }
                }
                Err(error) => self.record(Err(error), 1),
            }
            tracing::trace!(writes = batch.len(), elapsed = ?started.elapsed(), "store batch");
            batch.clear();
        }
        if let Err((_, error)) = self.conn.close() {
            tracing::error!(path = %self.path.display(), %error, "closing the database failed");
        }
    }

    /// Counts committed writes, and logs the start and the end of an
    /// outage. Failed writes are dropped, not retried later: the error
    /// (disk full, I/O) would most likely hit the retry too, the queue
    /// would back up behind it, and the chat must go on.
    fn record(&mut self, result: rusqlite::Result<()>, writes: usize) {
        let writes = writes as u64;
        match (result, &mut self.lost) {
            (Ok(()), _) => {
                self.committed.fetch_add(writes, Ordering::Release);
                if let Some(lost) = self.lost.take() {
                    tracing::warn!(
                        path = %self.path.display(),
                        lost,
                        "writing to the database works again; changes made meanwhile were not saved"
                    );
                }
            }
            (Err(error), None) => {
                tracing::error!(
                    path = %self.path.display(),
                    %error,
                    "cannot write to the database; changes are not saved until this is fixed"
                );
                self.lost = Some(writes);
            }
            (Err(_), Some(lost)) => *lost += writes,
        }
    }
}

/// How many room lines of a batch are still to come, per room: a line
/// with `history_per_room` or more after it in its room is trimmed at the
/// end of the batch anyway, so it is not written at all, and only a room's
/// last line of the batch updates its row. In a busy room most lines of a
/// batch are such lines: writing them only to delete them was half the
/// writer's work (docs/performance.md, rooms on disk).
fn lines_to_come(batch: &[Box<Write>]) -> HashMap<&str, usize> {
    let mut to_come: HashMap<&str, usize> = HashMap::new();
    for write in batch {
        if let Write::Append { room, .. } = &**write {
            *to_come.entry(&**room).or_default() += 1;
        }
    }
    to_come
}

/// Applies one batch in one transaction, then bounds the history.
fn apply(conn: &mut Connection, batch: &[Box<Write>], limits: &Limits) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let history_on = limits.rooms_kept() > 0;
    let mut to_come = lines_to_come(batch);
    let mut touched: HashSet<&str> = HashSet::new();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        });
    for write in batch {
        match &**write {
            Write::PutAccount(account) => {
                tx.prepare_cached(
                    "INSERT INTO accounts (name, shown, hash, created_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET shown = excluded.shown, hash = excluded.hash",
                )?
                .execute(params![
                    account.folded,
                    account.shown,
                    account.hash,
                    now_ms
                ])?;
            }
            Write::DeleteAccount { folded } => {
                tx.prepare_cached("DELETE FROM accounts WHERE name = ?1")?
                    .execute([folded])?;
                tx.prepare_cached("DELETE FROM ignores WHERE owner = ?1")?
                    .execute([folded])?;
            }
            Write::Append {
                room,
                room_shown,
                entry,
            } if history_on => {
                let after = match to_come.get_mut(&**room) {
                    Some(left) => {
                        *left -= 1;
                        *left
                    }
                    None => 0,
                };
                if after >= limits.history_per_room {
                    continue;
                }
                let at_ms = i64::try_from(entry.at_ms).unwrap_or(i64::MAX);
                if after == 0 {
                    tx.prepare_cached(
                        "INSERT INTO rooms (name, shown, last_ms) VALUES (?1, ?2, ?3)
                         ON CONFLICT (name) DO UPDATE SET shown = excluded.shown, last_ms = excluded.last_ms",
                    )?
                    .execute(params![room, room_shown, at_ms])?;
                }
                tx.prepare_cached(
                    "INSERT INTO history (room, at_ms, kind, sender, text) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![room, at_ms, entry.kind.as_str(), entry.from, entry.text])?;
                touched.insert(&**room);
            }
            Write::Append { .. } => {}
            Write::ForgetRoom { room } => {
                forget_room(&tx, room)?;
                touched.remove(room.as_str());
            }
            Write::AddIgnore(ignore) => {
                tx.prepare_cached(
                    "INSERT INTO ignores (owner, ignored, shown) VALUES (?1, ?2, ?3)
                     ON CONFLICT (owner, ignored) DO UPDATE SET shown = excluded.shown",
                )?
                .execute(params![
                    ignore.owner,
                    ignore.ignored,
                    ignore.ignored_shown
                ])?;
            }
            Write::RemoveIgnore { owner, ignored } => {
                tx.prepare_cached("DELETE FROM ignores WHERE owner = ?1 AND ignored = ?2")?
                    .execute([owner, ignored])?;
            }
        }
    }
    if !touched.is_empty() {
        trim(&tx, &touched, limits)?;
    }
    tx.commit()
}

/// Keeps the newest `history_per_room` messages of each room just written
/// to, and at most `history_rooms` rooms. The hub evicts rooms itself with
/// `ForgetRoom`; this is the backstop that keeps the disk bounded anyway.
fn trim(tx: &Transaction<'_>, touched: &HashSet<&str>, limits: &Limits) -> rusqlite::Result<()> {
    let mut older = tx.prepare_cached(
        "DELETE FROM history WHERE room = ?1 AND id <= (
             SELECT id FROM history WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2
         )",
    )?;
    for room in touched {
        older.execute(params![room, sql_count(limits.history_per_room)])?;
    }
    let rooms: i64 = tx
        .prepare_cached("SELECT count(*) FROM rooms")?
        .query_row([], |row| row.get(0))?;
    if rooms > sql_count(limits.rooms_kept()) {
        let evicted: Vec<String> = tx
            .prepare_cached(concat!(
                "SELECT name FROM rooms ORDER BY ",
                rooms_newest_first!(),
                " LIMIT -1 OFFSET ?1"
            ))?
            .query_map([sql_count(limits.rooms_kept())], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        tracing::debug!(
            rooms = evicted.len(),
            "store evicted rooms beyond the room cap"
        );
        for room in &evicted {
            forget_room(tx, room)?;
        }
    }
    Ok(())
}

/// Deletes a room and its history.
fn forget_room(tx: &Transaction<'_>, room: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM history WHERE room = ?1")?
        .execute([room])?;
    tx.prepare_cached("DELETE FROM rooms WHERE name = ?1")?
        .execute([room])?;
    Ok(())
}
