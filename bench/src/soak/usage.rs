//! The server's threads, open descriptors and resident memory, read from
//! `/proc` while the soak runs: the baseline before any client, the peak
//! during each phase, the figures the leak check compares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chinwag_bench_lib::procfs;

/// Threads, open descriptors and resident memory of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) threads: u64,
    pub(crate) fds: u64,
    pub(crate) rss_kib: u64,
}

impl Usage {
    /// Reads `/proc/<pid>`; `None` if the process is gone.
    pub(crate) fn of(pid: u32) -> Option<Usage> {
        let status = procfs::mem_status(pid)?;
        Some(Usage {
            threads: status.threads,
            fds: procfs::open_fds(pid)?,
            rss_kib: status.rss_kib,
        })
    }

    /// The larger of each figure.
    pub(crate) fn max(self, other: Usage) -> Usage {
        Usage {
            threads: self.threads.max(other.threads),
            fds: self.fds.max(other.fds),
            rss_kib: self.rss_kib.max(other.rss_kib),
        }
    }
}

/// The server's usage before any client, once two readings agree.
pub(crate) fn baseline(pid: u32) -> Option<Usage> {
    let mut last = Usage::of(pid)?;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        let now = Usage::of(pid)?;
        if now.threads == last.threads && now.fds == last.fds {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// Samples the server's processes (one per node of a cluster) every
/// 250 ms until `done`; returns each one's peak.
pub(crate) fn monitor(pids: &[u32], done: &AtomicBool) -> Vec<Usage> {
    let mut peaks = vec![Usage::default(); pids.len()];
    while !pids.is_empty() && !done.load(Ordering::SeqCst) {
        for (peak, &pid) in peaks.iter_mut().zip(pids) {
            if let Some(now) = Usage::of(pid) {
                *peak = peak.max(now);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    peaks
}
