//! What the operating system allows: file descriptors and threads. Read at
//! start-up so `--max-clients` can be lowered to something the process can
//! really hold; past the thread ceiling (about 16,400 threads with the
//! default `vm.max_map_count` of 65530, at four mappings a thread) a new
//! thread aborts the whole process, so the server must never get there.

use std::fs;

use crate::config::defaults;

/// File descriptors kept for the listener, logs and the like.
const RESERVED_FDS: u64 = 64;
/// Threads kept for the accept, signal and main threads and slack.
const RESERVED_THREADS: u64 = 64;
/// Memory mappings one thread costs (stack, guard, sigaltstack and its guard).
const MAPS_PER_THREAD: u64 = 4;

/// Limits read from the system; `None` where it could not be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsLimits {
    /// Open files this process may have (soft `RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
    /// Threads this process can still start, from `vm.max_map_count`,
    /// `kernel.pid_max`, `kernel.threads-max` and `RLIMIT_NPROC`.
    pub threads: Option<u64>,
}

/// The result of fitting the requested client count to the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// Clients the server may hold.
    pub max_clients: usize,
    /// Writer threads that may exist at once.
    pub max_writer_threads: usize,
    /// Why `max_clients` was lowered, if it was.
    pub lowered_because: Option<String>,
}

/// Raises the soft open-file limit to the hard limit, as servers do.
pub fn raise_open_files() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

impl OsLimits {
    /// Reads the limits of this process and machine (Linux `/proc`).
    pub fn detect() -> OsLimits {
        let open_files = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft);
        let by_maps = read_number("/proc/sys/vm/max_map_count").map(|max_maps| {
            let used =
                fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count() as u64);
            // Keep a tenth of the mappings for the allocator and the rest.
            max_maps.saturating_sub(used) * 9 / 10 / MAPS_PER_THREAD
        });
        let tasks_now = fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|loadavg| {
                let running_total = loadavg.split_whitespace().nth(3)?;
                running_total.split('/').nth(1)?.parse::<u64>().ok()
            });
        let by_pids = read_number("/proc/sys/kernel/pid_max")
            .map(|max| max.saturating_sub(tasks_now.unwrap_or(0)));
        let by_threads_max = read_number("/proc/sys/kernel/threads-max")
            .map(|max| max.saturating_sub(tasks_now.unwrap_or(0)));
        let by_nproc = rlimit::getrlimit(rlimit::Resource::NPROC)
            .ok()
            .map(|(soft, _)| soft)
            .filter(|&soft| soft != rlimit::INFINITY);
        let threads = [by_maps, by_pids, by_threads_max, by_nproc]
            .into_iter()
            .flatten()
            .min();
        OsLimits {
            open_files,
            threads,
        }
    }

    /// Fits `requested` clients into these limits. Each client needs one
    /// file descriptor and one thread; an eighth of the threads (at least
    /// 16) is kept for writer threads, which exist only while a client has
    /// a backlog.
    pub fn capacity(&self, requested: usize) -> Capacity {
        let mut max_clients = requested as u64;
        let mut reasons = Vec::new();
        if let Some(open_files) = self.open_files {
            let by_fds = open_files.saturating_sub(RESERVED_FDS);
            if by_fds < max_clients {
                max_clients = by_fds;
                reasons.push(format!("open-file limit {open_files}"));
            }
        }
        let mut max_writer_threads = defaults::WRITER_THREADS as u64;
        if let Some(threads) = self.threads {
            let usable = threads.saturating_sub(RESERVED_THREADS);
            let writers = (usable / 8).max(16).min(usable);
            let by_threads = usable - writers;
            if by_threads < max_clients {
                max_clients = by_threads;
                reasons.push(format!("thread limit {threads}"));
            }
            max_writer_threads = (usable - max_clients).min(defaults::MAX_WRITER_THREADS as u64);
        }
        Capacity {
            max_clients: max_clients as usize,
            max_writer_threads: max_writer_threads as usize,
            lowered_because: (!reasons.is_empty()).then(|| reasons.join(", ")),
        }
    }
}

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_lowered_when_the_limits_are_generous() {
        let limits = OsLimits {
            open_files: Some(1_000_000),
            threads: Some(1_000_000),
        };
        let capacity = limits.capacity(10_000);
        assert_eq!(capacity.max_clients, 10_000);
        assert_eq!(capacity.max_writer_threads, 4096);
        assert_eq!(capacity.lowered_because, None);
    }

    #[test]
    fn open_files_lower_the_client_count() {
        let limits = OsLimits {
            open_files: Some(1024),
            threads: Some(100_000),
        };
        let capacity = limits.capacity(10_000);
        assert_eq!(capacity.max_clients, 960);
        assert_eq!(
            capacity.lowered_because.as_deref(),
            Some("open-file limit 1024")
        );
    }

    #[test]
    fn threads_lower_the_client_count_and_keep_writers() {
        // The default map limit gives about 14,700 threads.
        let limits = OsLimits {
            open_files: Some(20_000),
            threads: Some(14_700),
        };
        let capacity = limits.capacity(10_000);
        assert_eq!(capacity.max_clients, 10_000);
        assert_eq!(capacity.max_writer_threads, 4096);
        let limits = OsLimits {
            open_files: Some(20_000),
            threads: Some(1_064),
        };
        let capacity = limits.capacity(10_000);
        assert_eq!(capacity.max_clients, 875);
        assert_eq!(capacity.max_writer_threads, 125);
        assert_eq!(
            capacity.lowered_because.as_deref(),
            Some("thread limit 1064")
        );
    }

    #[test]
    fn unknown_limits_change_nothing() {
        assert_eq!(OsLimits::default().capacity(5).max_clients, 5);
    }

    #[test]
    fn this_machine_has_readable_limits() {
        let limits = OsLimits::detect();
        assert!(limits.open_files.is_some_and(|n| n > 0));
        assert!(limits.threads.is_some_and(|n| n > 0));
    }
}
