//! What the tests read from the operating system: the server process's
//! threads, descriptors and resident memory from `/proc`, and whether a
//! program is installed.

use std::thread;
use std::time::{Duration, Instant};

use super::Server;

/// Threads and open descriptors of a process, from `/proc`.
pub(crate) fn threads_and_fds(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: line");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc fd")
        .count();
    (threads, fds)
}

/// Resident memory of a process in KiB.
pub(crate) fn rss_kib(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|n| n.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS: line")
}

/// Waits (bounded) until the server's threads and fds are back to
/// `baseline`. Threads end shortly after their socket closes; polling
/// `/proc` has no event to wait on, the deadline decides.
pub(crate) fn wait_for_baseline(server: &Server, baseline: (usize, usize)) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = threads_and_fds(server.pid());
    while now.0 > baseline.0 || now.1 > baseline.1 {
        if Instant::now() > deadline {
            server.fail(&format!(
                "threads and fds {now:?} did not return to the baseline {baseline:?}"
            ));
        }
        thread::sleep(Duration::from_millis(20));
        now = threads_and_fds(server.pid());
    }
}

/// `program` is a file in one of the directories on `PATH`.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
