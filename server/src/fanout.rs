//! Large fan-outs spread over the cores. A room line is queued to every
//! member under the hub lock, but writing it out (formatting and one
//! `send` per member) is done after: for a room of thousands that is
//! milliseconds on one core. Past [`SPREAD_AT`] outboxes, the sender's
//! thread writes the first share itself and hands the rest, in shares, to
//! a few threads that do nothing else. Order is unaffected: each member's
//! lines are already in its queue in the hub's order, and whoever flushes
//! an outbox writes its queue from the front, one writer at a time.

use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::outbox::Outbox;

/// Fewer outboxes than this are flushed by the sender alone: handing work
/// to another thread costs a wake-up, worth it only for a big room. Measured
/// on two cores (with the load generator on them too): spreading cost 2–3
/// ms of median latency at 2,000 members and paid from about 3,000
/// (`docs/performance.md`, fanout); with more cores it would pay sooner,
/// unmeasured.
pub(crate) const SPREAD_AT: usize = 2048;

/// Shares waiting for a thread; past this, the sender flushes a share
/// itself rather than wait (the pool never makes a sender block).
const QUEUE: usize = 64;

const STACK_BYTES: usize = 128 * 1024;

/// Threads that flush shares of large fan-outs.
pub(crate) struct FanoutPool {
    /// Taken at shutdown, which ends the threads once the queue is empty.
    tx: Mutex<Option<Sender<Vec<Arc<Outbox>>>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    n_threads: usize,
}

impl FanoutPool {
    /// One thread per core but the sender's own, at least one.
    pub(crate) fn for_this_machine() -> FanoutPool {
        let cores = thread::available_parallelism().map_or(1, usize::from);
        FanoutPool::new(cores.saturating_sub(1).max(1))
    }

    pub(crate) fn new(n_threads: usize) -> FanoutPool {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let threads = (0..n_threads)
            .filter_map(|i| {
                let rx: Receiver<Vec<Arc<Outbox>>> = rx.clone();
                let spawned = thread::Builder::new()
                    .name(format!("fanout-{i}"))
                    .stack_size(STACK_BYTES)
                    .spawn(move || {
                        for share in rx {
                            flush_all(share);
                        }
                    });
                match spawned {
                    Ok(handle) => Some(handle),
                    Err(error) => {
                        tracing::warn!(%error, "cannot start a fan-out thread; senders flush alone");
                        None
                    }
                }
            })
            .collect::<Vec<_>>();
        let n_threads = threads.len();
        FanoutPool {
            tx: Mutex::new((n_threads > 0).then_some(tx)),
            threads: Mutex::new(threads),
            n_threads,
        }
    }

    /// Flushes `outboxes` (at least [`SPREAD_AT`] of them): the first
    /// share on this thread, the rest on the pool's threads.
    pub(crate) fn flush(&self, mut outboxes: Vec<Arc<Outbox>>) {
        if self.n_threads == 0 {
            return flush_all(outboxes);
        }
        let share = outboxes.len().div_ceil(self.n_threads + 1);
        let mut handed = Vec::new();
        while outboxes.len() > share {
            let tail = outboxes.split_off(outboxes.len() - share);
            handed.push(tail);
        }
        let tx = self.tx.lock().clone();
        for tail in handed {
            let refused = match &tx {
                Some(tx) => match tx.try_send(tail) {
                    Ok(()) => None,
                    Err(TrySendError::Full(tail) | TrySendError::Disconnected(tail)) => Some(tail),
                },
                None => Some(tail),
            };
            if let Some(tail) = refused {
                flush_all(tail);
            }
        }
        flush_all(outboxes);
    }

    /// Ends the threads once they have flushed what they were given.
    pub(crate) fn shutdown(&self) {
        self.tx.lock().take();
        for handle in self.threads.lock().drain(..) {
            let _ = handle.join();
        }
    }
}

fn flush_all(outboxes: Vec<Arc<Outbox>>) {
    for outbox in outboxes {
        outbox.flush();
    }
}
