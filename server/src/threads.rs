//! Thread accounting. Every connection and writer thread is counted while it
//! runs, so shutdown can wait for all of them; writer threads also draw from
//! a fixed budget, because past the OS's thread ceiling a new thread aborts
//! the whole process: each thread costs four memory mappings, so the default
//! `vm.max_map_count` of 65530 stops a process near 16,400 threads, and the
//! thread that hits it panics in std's stack-guard set-up and takes the
//! process down (measured: exit 134).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// Counts running threads and lets one thread wait until none are left.
#[derive(Debug, Default)]
pub(crate) struct LiveThreads {
    count: Mutex<usize>,
    changed: Condvar,
}

/// Held by a running thread; dropping it (also while unwinding from a
/// panic) counts the thread out.
#[derive(Debug)]
pub(crate) struct LiveGuard(Arc<LiveThreads>);

impl LiveThreads {
    pub(crate) fn enter(self: &Arc<Self>) -> LiveGuard {
        *self.count.lock() += 1;
        LiveGuard(Arc::clone(self))
    }

    pub(crate) fn count(&self) -> usize {
        *self.count.lock()
    }

    /// Waits until no counted thread runs, or `deadline`. True if none runs.
    pub(crate) fn wait_idle(&self, deadline: Instant) -> bool {
        let mut count = self.count.lock();
        while *count > 0 {
            if self.changed.wait_until(&mut count, deadline).timed_out() {
                return *count == 0;
            }
        }
        true
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut count = self.0.count.lock();
        *count = count.saturating_sub(1);
        self.0.changed.notify_all();
    }
}

/// How many writer threads may exist at once.
#[derive(Debug)]
pub(crate) struct ThreadBudget {
    limit: usize,
    used: AtomicUsize,
    live: Arc<LiveThreads>,
}

/// One writer thread's place in the budget; returned on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    budget: Arc<ThreadBudget>,
    _live: LiveGuard,
}

impl ThreadBudget {
    pub(crate) fn new(limit: usize, live: Arc<LiveThreads>) -> ThreadBudget {
        ThreadBudget {
            limit,
            used: AtomicUsize::new(0),
            live,
        }
    }

    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < self.limit).then_some(used + 1)
            });
        taken.ok().map(|_| Permit {
            budget: Arc::clone(self),
            _live: self.live.enter(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_budget_is_never_exceeded_and_permits_come_back() {
        let live = Arc::new(LiveThreads::default());
        let budget = Arc::new(ThreadBudget::new(2, Arc::clone(&live)));
        let a = budget.try_acquire().unwrap();
        let b = budget.try_acquire().unwrap();
        assert!(budget.try_acquire().is_none());
        assert_eq!(live.count(), 2);
        drop(a);
        assert!(budget.try_acquire().is_some());
        drop(b);
        assert_eq!(live.count(), 0);
    }

    #[test]
    fn wait_idle_returns_when_the_last_thread_leaves() {
        let live = Arc::new(LiveThreads::default());
        let guard = live.enter();
        let deadline = Instant::now() + Duration::from_millis(1);
        assert!(!live.wait_idle(deadline));
        let handle = std::thread::spawn(move || drop(guard));
        assert!(live.wait_idle(Instant::now() + Duration::from_secs(30)));
        handle.join().unwrap();
    }
}
