//! Cluster mode: several `chinwagd` nodes behave as one chat system, with
//! Redis as the only shared part. The design is a replicated state
//! machine: every node keeps a full copy of the hub, every node appends
//! what its connections do to one Redis stream (`log.rs`), and every node
//! applies the whole stream, in the stream's order, to its copy
//! (`applier.rs`). Redis's single thread orders the stream, so every copy
//! sees every change in the same order and ends in the same state, and a
//! node delivers to its own connections what its copy says. A connection's
//! thread appends its call and waits for its node to apply it; the replies
//! are queued by the applier, in the hub's order, like any other line.
//!
//! Around that: `writer.rs` appends (one thread, batching every waiting
//! connection's records into one entry); `membership.rs` keeps a heartbeat
//! per node and tells the log when a node is gone; `bootstrap.rs` starts a
//! node (from a running node's snapshot, or from the durable keys when it
//! is the first); `durable.rs` keeps registered names, ignore lists and
//! room history in Redis keys. ARCHITECTURE.md has the ordering argument
//! and what happens when Redis or a node fails.

mod applier;
mod bootstrap;
mod durable;
pub(crate) mod log;
mod membership;
mod redis_io;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::hub::{ConnId, Happening, Task};
use crate::shared::Shared;

pub(crate) use log::Record;

/// Tries at joining at start-up (a donor that died while we joined is
/// declared gone in the meantime, and another node answers).
const JOIN_ATTEMPTS: u32 = 3;

/// How to join a cluster (`--cluster`, `--node-id`).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://[user:password@]HOST:PORT[/DB]`.
    pub url: String,
    /// This node's name, for logs and `cw:nodes` (a number is assigned too).
    pub node_id: String,
    /// A node silent this long is declared gone: its users' disconnects
    /// are sent and their names freed.
    pub node_timeout: Duration,
    /// How long a connection waits for its call to be applied before it
    /// is answered `ERR try-later`.
    pub call_timeout: Duration,
}

impl ClusterConfig {
    /// The defaults: gone after 6 s, calls wait at most 10 s.
    pub fn new(url: String, node_id: String) -> ClusterConfig {
        ClusterConfig {
            url,
            node_id,
            node_timeout: Duration::from_secs(6),
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the cluster cannot be joined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The URL is not a Redis URL.
    #[error("--cluster {url}: {detail}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Redis did not answer, or refused.
    #[error("cannot reach Redis at {url}: {detail}; is redis-server running there?")]
    Unreachable {
        /// The URL given.
        url: String,
        /// The error.
        detail: String,
    },
    /// No running node handed over its state in time.
    #[error("no running node sent its state within {0:?}; try again")]
    NoSnapshot(Duration),
    /// This node's settings differ from the cluster's.
    #[error("this node has {ours}, the running cluster {theirs}; they must be equal on every node")]
    Settings {
        /// This node's.
        ours: String,
        /// The cluster's.
        theirs: String,
    },
    /// The state a running node handed over cannot be read (nodes of
    /// different versions?).
    #[error("the state handed over by a running node cannot be read: {0}")]
    BadHandover(String),
}

/// What a connection's thread must do after its call was applied: the
/// parts of the hub's outcome that are not lines (those are delivered).
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub(crate) happened: Vec<Happening>,
    pub(crate) task: Option<Task>,
    pub(crate) close: bool,
    /// `IAC WILL ECHO` was sent (with `PASSWORD`).
    pub(crate) offer_echo: bool,
    /// Lines of reply (flood control charges long `/list` replies).
    pub(crate) reply_lines: usize,
}

/// The call could not be applied now (Redis unreachable): answer
/// `ERR try-later`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TryLater;

/// What a waiting submission hears: applied, with what its connection
/// must do, or not appended.
type Applied = Result<Vec<Control>, TryLater>;

/// One connection's records, appended together and completed together.
pub(crate) struct Submission {
    pub(crate) seq: u64,
    pub(crate) records: Vec<Record>,
}

/// A running node.
pub(crate) struct Cluster {
    pub(crate) config: ClusterConfig,
    client: redis::Client,
    /// This node's number (from `INCR cw:node-seq`); a new one on rejoin.
    node: AtomicU32,
    /// The highest node number this node has seen: a number is never
    /// reused, even when Redis loses its counter.
    highest: AtomicU32,
    submissions: Sender<Submission>,
    submissions_rx: Receiver<Submission>,
    /// Submissions waiting for their node to apply them.
    waiting: Mutex<HashMap<u64, Sender<Applied>>>,
    /// Completions whose connection stopped waiting (it was told
    /// try-later, and the call turned out to be in the log after all).
    late: Mutex<HashMap<ConnId, Vec<Control>>>,
    next_seq: AtomicU64,
    next_conn: AtomicU64,
    /// Disconnects that could not be logged yet; retried until they are.
    unlogged: Mutex<Vec<Record>>,
    durable: durable::Writer,
    stopping: AtomicBool,
    /// Dropped by `stop`, which wakes every pausing thread at once.
    wake_tx: Mutex<Option<Sender<()>>>,
    wake_rx: Receiver<()>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Cluster {
    /// Checks the URL; nothing is contacted yet.
    pub(crate) fn new(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let bad_url = |error: redis::RedisError| ClusterError::Url {
            url: config.url.clone(),
            detail: error.to_string(),
        };
        let info = redis::IntoConnectionInfo::into_connection_info(config.url.as_str())
            .map_err(bad_url)?;
        // Redis 7.0 (Debian's) answers `CLIENT SETINFO` with an error on
        // every connect: skip it.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let client = redis::Client::open(info.set_redis_settings(settings)).map_err(bad_url)?;
        let (submissions, submissions_rx) = crossbeam_channel::unbounded();
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(0);
        Ok(Cluster {
            durable: durable::Writer::new(client.clone()),
            config,
            client,
            node: AtomicU32::new(0),
            highest: AtomicU32::new(0),
            submissions,
            submissions_rx,
            waiting: Mutex::new(HashMap::new()),
            late: Mutex::new(HashMap::new()),
            next_seq: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
            unlogged: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            wake_tx: Mutex::new(Some(wake_tx)),
            wake_rx,
            threads: Mutex::new(Vec::new()),
        })
    }

    /// Joins the cluster: takes this node's number and the hub's state,
    /// then starts the writer, the applier and the heartbeat. The hub in
    /// `shared` is replaced by the cluster's.
    ///
    /// # Errors
    ///
    /// Redis cannot be reached, or no running node hands over its state.
    pub(crate) fn start(self: &Arc<Self>, shared: &Arc<Shared>) -> Result<(), ClusterError> {
        let mut attempts = 1;
        let start = loop {
            match bootstrap::join(self, shared) {
                Err(ClusterError::NoSnapshot(_)) if attempts < JOIN_ATTEMPTS => attempts += 1,
                joined => break joined?,
            }
        };
        self.durable.set_history(shared.config.history);
        let mut threads = self.threads.lock();
        threads.push(writer::spawn(Arc::clone(self)));
        threads.push(applier::spawn(Arc::clone(self), Arc::clone(shared), start));
        threads.push(membership::spawn(Arc::clone(self)));
        threads.push(self.durable.spawn());
        Ok(())
    }

    /// This node's number.
    pub(crate) fn node(&self) -> u32 {
        self.node.load(Ordering::Acquire)
    }

    /// The highest node number seen so far.
    pub(crate) fn highest_number(&self) -> u32 {
        self.highest.load(Ordering::Acquire)
    }

    /// Notes a node number seen in the log.
    pub(crate) fn saw_number(&self, node: u32) {
        self.highest.fetch_max(node, Ordering::AcqRel);
    }

    /// A connection id no other node will use.
    pub(crate) fn new_conn_id(&self) -> ConnId {
        let count = self.next_conn.fetch_add(1, Ordering::Relaxed);
        (u64::from(self.node()) << log::NODE_SHIFT) | count
    }

    /// Appends `records` and waits until this node has applied them;
    /// their lines are delivered by then. `TryLater` when Redis cannot be
    /// reached, or the call is not applied within the call timeout.
    pub(crate) fn call(
        &self,
        conn: ConnId,
        records: Vec<Record>,
    ) -> Result<Vec<Control>, TryLater> {
        if log::node_of(conn) != self.node() {
            // A connection from before this node joined again: the
            // cluster has forgotten it (the node's departure was logged).
            return Err(TryLater);
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        self.waiting.lock().insert(seq, done_tx);
        if self.submissions.send(Submission { seq, records }).is_err() {
            self.waiting.lock().remove(&seq);
            return Err(TryLater);
        }
        match done_rx.recv_timeout(self.config.call_timeout) {
            Ok(result) => result,
            Err(_) => {
                // Given up on: if it was appended after all, its node will
                // apply it, and what the connection must do waits in `late`.
                self.waiting.lock().remove(&seq);
                Err(TryLater)
            }
        }
    }

    /// What the applier found for a submission of this node; false if
    /// nobody waited for it any more (it is kept for the connection).
    pub(crate) fn complete(&self, seq: u64, conn: Option<ConnId>, result: Vec<Control>) -> bool {
        let waiter = self.waiting.lock().remove(&seq);
        match waiter {
            Some(waiter) => waiter.send(Ok(result)).is_ok(),
            None => {
                if let Some(conn) = conn {
                    self.late.lock().entry(conn).or_default().extend(result);
                }
                false
            }
        }
    }

    /// Tells a waiting submission that it was not appended.
    pub(crate) fn fail(&self, seq: u64) {
        if let Some(waiter) = self.waiting.lock().remove(&seq) {
            let _ = waiter.send(Err(TryLater));
        }
    }

    /// What the connection must still do from calls it stopped waiting for.
    pub(crate) fn take_late(&self, conn: ConnId) -> Vec<Control> {
        let mut late = self.late.lock();
        match late.get_mut(&conn) {
            Some(controls) => std::mem::take(controls),
            None => Vec::new(),
        }
    }

    /// Logs a connection's departure; if Redis cannot take it now, it is
    /// kept and logged as soon as Redis can (a name must not stay taken).
    pub(crate) fn depart(&self, conn: ConnId, record: Record) {
        self.late.lock().remove(&conn);
        if log::node_of(conn) != self.node() {
            return;
        }
        if self.call(conn, vec![record.clone()]).is_err() {
            self.unlogged.lock().push(record);
        }
    }

    /// Departures still to log.
    pub(crate) fn take_unlogged(&self) -> Vec<Record> {
        std::mem::take(&mut *self.unlogged.lock())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Waits for `duration`, or until the node stops.
    pub(crate) fn pause(&self, duration: Duration) {
        let _ = self.wake_rx.recv_timeout(duration);
    }

    /// Stops the node's threads (the connections are closed by the server).
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wake_tx.lock().take();
        self.durable.stop();
        let threads: Vec<JoinHandle<()>> = self.threads.lock().drain(..).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}
