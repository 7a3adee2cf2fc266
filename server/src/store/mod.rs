//! The data directory: this module alone owns `chinwag.db` (SQLite, WAL
//! mode). The server keeps accounts, ignore lists and room history in
//! memory, so the file is read once, by [`Store::open`], and afterwards only
//! written: the hub queues [`Write`]s without waiting, and the
//! `store-writer` thread applies them in batches.
//!
//! Files: `error.rs` (why start-up stops), `files.rs` (directory, modes,
//! `--data`), `schema.rs` (lock, checks, migrations), `load.rs` (retention
//! and the one read), `writer.rs` (the thread).

mod error;
mod files;
mod load;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

pub use error::StoreError;
pub use files::DataDir;

use files::DATABASE_FILE;
use writer::Writer;

/// Writes the queue holds before [`Store::write`] refuses: about a minute
/// of a very busy server's messages, should the disk stall. Each slot is
/// a pointer (the write is boxed), so the queue itself costs about 1 MiB.
/// `Store::write`'s doc repeats the number.
const QUEUE_CAPACITY: usize = 65_536;

/// At most one "writes refused" warning this often.
const REFUSED_WARNING_EVERY: Duration = Duration::from_secs(10);

/// How much room history the store keeps, on disk and in what it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages kept per room (`--history`); 0 turns history off, and then
    /// history already stored is deleted at start-up.
    pub history_per_room: usize,
    /// Rooms whose history is kept, the most recently active; with
    /// 4 KiB lines the defaults bound the history to about 200 MB.
    pub history_rooms: usize,
}

impl Limits {
    /// `--history` by default.
    pub const DEFAULT_HISTORY_PER_ROOM: usize = 50;
    /// The room cap by default.
    pub const DEFAULT_HISTORY_ROOMS: usize = 1000;

    /// Rooms that may keep history: none when history is off.
    fn rooms_kept(&self) -> usize {
        if self.history_per_room == 0 {
            0
        } else {
            self.history_rooms
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            history_per_room: Limits::DEFAULT_HISTORY_PER_ROOM,
            history_rooms: Limits::DEFAULT_HISTORY_ROOMS,
        }
    }
}

/// A registered name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name case-folded: the key.
    pub folded: String,
    /// The name as registered.
    pub shown: String,
    /// The password's Argon2 PHC string.
    pub hash: String,
}

/// One entry of a registered user's ignore list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// Whose list: a folded registered name.
    pub owner: String,
    /// Who is ignored, folded.
    pub ignored: String,
    /// Who is ignored, as shown.
    pub ignored_shown: String,
}

/// One stored room line. Its strings are shared with the hub's own copy
/// of the line, so queueing it under the hub lock copies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it was said, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// A message or an action.
    pub kind: common::HistoryKind,
    /// Who said it, as shown.
    pub from: Arc<str>,
    /// What was said.
    pub text: Arc<str>,
}

/// A room's stored history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomHistory {
    /// The room's name, folded.
    pub folded: String,
    /// The room's name, as shown.
    pub shown: String,
    /// Oldest first, at most [`Limits::history_per_room`].
    pub entries: Vec<Entry>,
}

/// Everything the store holds, read once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Every registered name, by folded name.
    pub accounts: Vec<Account>,
    /// Every ignore-list entry, by owner then ignored name.
    pub ignores: Vec<Ignore>,
    /// At most [`Limits::history_rooms`] rooms, most recently active first;
    /// none when history is off.
    pub rooms: Vec<RoomHistory>,
}

/// One change for the writer thread, applied in the order queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Inserts or replaces an account (register, password change).
    PutAccount(Account),
    /// Deletes an account (unregister) and the account's own ignore list.
    DeleteAccount {
        /// The folded name.
        folded: String,
    },
    /// Adds a line to a room's history; the store then drops the room's
    /// oldest lines beyond the limit. Ignored when history is off.
    Append {
        /// The room, folded.
        room: Arc<str>,
        /// The room, as shown now.
        room_shown: Arc<str>,
        /// The line.
        entry: Entry,
    },
    /// Deletes a room's history (the in-memory room cap evicted it).
    ForgetRoom {
        /// The room, folded.
        room: String,
    },
    /// Adds a name to an ignore list (or updates how it is shown).
    AddIgnore(Ignore),
    /// Removes a name from an ignore list.
    RemoveIgnore {
        /// Whose list, folded.
        owner: String,
        /// Who, folded.
        ignored: String,
    },
}

/// The open database and its writer thread, or nothing for `--data none`.
///
/// Dropping a `Store` does what [`Store::close`] does.
#[derive(Debug)]
pub struct Store {
    /// `None` in memory.
    disk: Option<Disk>,
    /// False when no room may keep history: appends are not even queued.
    history_on: bool,
}

// The server shares one `Store` between its connection threads.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
};

/// The on-disk half of a [`Store`].
#[derive(Debug)]
struct Disk {
    /// `DIR/chinwag.db`, for log messages.
    path: PathBuf,
    /// The writer's queue; taken (closed) at shutdown.
    queue: Option<Sender<Box<Write>>>,
    /// Taken and joined at shutdown.
    writer: Option<JoinHandle<()>>,
    /// Writes committed so far, counted by the writer.
    committed: Arc<AtomicU64>,
    /// Writes refused so far (queue full or writer gone).
    refused: AtomicU64,
    /// The origin of `next_warning_ms`.
    started: Instant,
    /// When (ms after `started`) a refusal may be logged again.
    next_warning_ms: AtomicU64,
}

impl Store {
    /// Opens the database in `dir`, creating the directory (0700) and the
    /// file (0600) if missing; checks it, takes its lock, migrates it to
    /// the latest schema, deletes history beyond `limits`, loads
    /// everything, and starts the `store-writer` thread. In memory: an
    /// empty [`Loaded`] and a store that keeps nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] if another server (or `Store`) has the file,
    /// [`StoreError::Corrupt`] if it is damaged or not ours,
    /// [`StoreError::Newer`] if a newer server wrote it: the file is
    /// unchanged in all three. [`StoreError::Io`] or
    /// [`StoreError::Sqlite`] for the rest.
    pub fn open(dir: &DataDir, limits: Limits) -> Result<(Store, Loaded), StoreError> {
        let history_on = limits.rooms_kept() > 0;
        let DataDir::Dir(dir) = dir else {
            let store = Store {
                disk: None,
                history_on,
            };
            return Ok((store, Loaded::default()));
        };
        files::prepare_dir(dir)?;
        let path = dir.join(DATABASE_FILE);
        files::prepare_database_file(&path)?;
        let mut conn = schema::open(&path)?;
        let loaded = load::retain_and_load(&mut conn, &limits, &path)?;

        let (sender, receiver) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        let committed = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            conn,
            path: path.clone(),
            limits,
            queue: receiver,
            committed: Arc::clone(&committed),
            lost: None,
        }
        .spawn()
        .map_err(|error| StoreError::io(&path, error))?;
        tracing::info!(
            path = %path.display(),
            accounts = loaded.accounts.len(),
            rooms = loaded.rooms.len(),
            "database opened"
        );
        let disk = Disk {
            path,
            queue: Some(sender),
            writer: Some(writer),
            committed,
            refused: AtomicU64::new(0),
            started: Instant::now(),
            next_warning_ms: AtomicU64::new(0),
        };
        let store = Store {
            disk: Some(disk),
            history_on,
        };
        Ok((store, loaded))
    }

    /// Queues a write for the writer thread, which applies writes in the
    /// order they were accepted. Never blocks and never touches the disk,
    /// so it may be called with the hub lock held. In memory, or for an
    /// append with history off, it accepts and keeps nothing.
    ///
    /// Returns false when the write was refused: the queue is full (the
    /// disk has fallen 65,536 writes behind) or the writer has stopped.
    /// The change then exists only in memory; refusals are logged, at most
    /// every ten seconds.
    pub fn write(&self, write: Write) -> bool {
        let Some(disk) = &self.disk else {
            return true;
        };
        if !self.history_on && matches!(write, Write::Append { .. }) {
            return true;
        }
        // The queue is taken only while dropping, when no `&self` exists.
        let Some(queue) = &disk.queue else {
            return false;
        };
        // Boxed so that each of the queue's slots is one pointer.
        match queue.try_send(Box::new(write)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                disk.refused("the database is behind and its queue is full; changes are dropped");
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                disk.refused("the database writer has stopped; changes are dropped");
                false
            }
        }
    }

    /// Writes committed to the file so far, counted per batch; always 0 in
    /// memory.
    pub fn committed(&self) -> u64 {
        self.disk
            .as_ref()
            .map_or(0, |disk| disk.committed.load(Ordering::Acquire))
    }

    /// Clean shutdown: commits every write accepted so far, checkpoints
    /// the WAL into the database file, releases the lock and joins the
    /// writer thread.
    pub fn close(self) {
        drop(self);
    }
}

impl Disk {
    /// Counts a refused write and logs it, at most every ten seconds.
    fn refused(&self, why: &str) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now_ms = self.started.elapsed().as_millis() as u64;
        let next_ms = self.next_warning_ms.load(Ordering::Relaxed);
        let every_ms = REFUSED_WARNING_EVERY.as_millis() as u64;
        if now_ms >= next_ms
            && self
                .next_warning_ms
                .compare_exchange(
                    next_ms,
                    now_ms + every_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(path = %self.path.display(), refused, "{why}");
        }
    }
}

impl Drop for Disk {
    /// Closing the queue ends the writer's loop once the queue is empty;
    /// joining waits for its last commit and for the connection's close.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(
                path = %self.path.display(),
                "the database writer panicked; the last changes may not be saved"
            );
        }
    }
}
