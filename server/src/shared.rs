//! What every connection thread shares: the settings, the hub behind its
//! one mutex, the registry used at shutdown, the thread accounting, and
//! the `--max-clients` slots, each held by a [`Slot`] guard.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::data;
use crate::fanout::FanoutPool;
use crate::hub::{ConnId, Hub, Memory, Now, Remember, Settings};
use crate::outbox::{Outbox, Peer};
use crate::password::Passwords;
use crate::store::Store;
use crate::threads::{LiveThreads, ThreadBudget};

/// What every connection thread shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) hub: Mutex<Hub<Peer>>,
    /// Every open connection, named or not, for shutdown.
    pub(crate) registry: Mutex<HashMap<ConnId, Arc<Outbox>>>,
    pub(crate) writers: Arc<ThreadBudget>,
    pub(crate) live: Arc<LiveThreads>,
    /// Hashes and checks passwords, a few at a time.
    pub(crate) passwords: Passwords,
    /// Threads that help write large fan-outs.
    pub(crate) fanout: FanoutPool,
    /// This node's part in a cluster (`--cluster`); `None` alone.
    pub(crate) cluster: Option<Arc<Cluster>>,
    /// The data directory's writer; taken at shutdown to flush it.
    store: Mutex<Option<Store>>,
    n_connections: AtomicUsize,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
    /// Dropped at shutdown, which wakes every sleeping thread at once.
    wake_tx: Mutex<Option<Sender<()>>>,
    wake_rx: Receiver<()>,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        memory: Memory,
        store: Store,
        cluster: Option<Arc<Cluster>>,
    ) -> Shared {
        let live = Arc::new(LiveThreads::default());
        let fanout = match config.fanout_threads {
            Some(n_threads) => FanoutPool::new(n_threads),
            None => FanoutPool::for_this_machine(),
        };
        let settings = Settings::of(&config);
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(0);
        Shared {
            writers: Arc::new(ThreadBudget::new(
                config.max_writer_threads,
                Arc::clone(&live),
            )),
            config,
            hub: Mutex::new(Hub::new(settings, memory, Now::read())),
            registry: Mutex::new(HashMap::new()),
            live,
            passwords: Passwords::for_this_machine(),
            fanout,
            cluster,
            store: Mutex::new(Some(store)),
            n_connections: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            wake_tx: Mutex::new(Some(wake_tx)),
            wake_rx,
        }
    }

    /// Hands what the data directory must remember to the store. Called
    /// with the hub lock held, so the disk sees changes in the hub's order;
    /// the store only queues (it never waits on the disk).
    pub(crate) fn remember(&self, items: &mut Vec<Remember>) {
        if items.is_empty() {
            return;
        }
        let store = self.store.lock();
        for item in items.drain(..) {
            if let Some(store) = store.as_ref() {
                // A refusal (the disk far behind) is logged by the store;
                // the change still holds in memory until a restart.
                let _ = store.write(data::write(item));
            }
        }
    }

    /// Closes the data directory: everything accepted is on disk after.
    pub(crate) fn close_store(&self) {
        if let Some(store) = self.store.lock().take() {
            store.close();
        }
    }

    /// A fresh connection id (in a cluster, one no other node uses).
    pub(crate) fn next_id(&self) -> ConnId {
        match &self.cluster {
            Some(cluster) => cluster.new_conn_id(),
            None => self.next_id.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Starts shutdown: sets the flag and wakes every sleeping thread.
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.wake_tx.lock().take();
    }

    /// Sleeps for `duration`, or until shutdown starts.
    pub(crate) fn sleep(&self, duration: Duration) {
        let _ = self.wake_rx.recv_timeout(duration);
    }
}

/// One of the `--max-clients` places, held for a connection's whole life
/// and given back when dropped: on every path out of `admit`, when the
/// connection departs, and when its thread unwinds from a panic.
pub(crate) struct Slot(Arc<Shared>);

impl Slot {
    /// Takes a place, or `None` when the server is full.
    pub(crate) fn take(shared: &Arc<Shared>) -> Option<Slot> {
        let taken = shared
            .n_connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < shared.config.max_clients).then_some(n + 1)
            });
        taken.ok().map(|_| Slot(Arc::clone(shared)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.n_connections.fetch_sub(1, Ordering::AcqRel);
    }
}
