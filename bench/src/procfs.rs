//! What `/proc` says about a process: CPU time (user + system, from
//! `stat`, for the process or its threads of one name), resident memory
//! and thread count (from `status`), where the resident memory is (from
//! `smaps`) and open descriptors (from `fd`). Linux only.

use std::fs;
use std::time::Instant;

/// Clock ticks per second of `utime`/`stime` (`CLK_TCK`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// User + system CPU seconds of process `pid` (`None`: this process).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |pid| format!("/proc/{pid}/stat"),
    );
    let text = fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. utime and stime are fields 14 and 15 (1-based).
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// Resident memory and threads of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemStatus {
    /// `VmRSS` in KiB.
    pub rss_kib: u64,
    /// `Threads`.
    pub threads: u64,
}

/// Reads `/proc/<pid>/status`.
pub fn mem_status(pid: u32) -> Option<MemStatus> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = |key: &str| -> Option<u64> {
        let line = text.lines().find(|line| line.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(MemStatus {
        rss_kib: value("VmRSS:")?,
        threads: value("Threads:")?,
    })
}

/// User + system CPU seconds of the threads of process `pid` named `name`
/// (their `comm`, e.g. `store-writer`); `None` if there is none.
pub fn thread_cpu_seconds(pid: u32, name: &str) -> Option<f64> {
    let mut total = None;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let path = task.path();
        let comm = fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let text = fs::read_to_string(path.join("stat")).ok()?;
        let rest = &text[text.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        *total.get_or_insert(0.0) += (utime + stime) as f64 / TICKS_PER_SEC;
    }
    total
}

/// Where a process's resident memory is, in KiB, from `smaps`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RssParts {
    /// Anonymous mappings the size of a server thread's stack (256 or
    /// 128 KiB, the guard page apart): thread stacks, live or cached.
    pub stacks_kib: u64,
    /// Other anonymous memory: `[heap]` and malloc's arenas.
    pub heap_kib: u64,
    /// Everything else (the program, libraries).
    pub other_kib: u64,
}

/// Reads `/proc/<pid>/smaps` into [`RssParts`].
pub fn rss_parts(pid: u32) -> Option<RssParts> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut parts = RssParts::default();
    let mut kind = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        {
            let size_kib = (end - start) / 1024;
            let path = fields.nth(4).unwrap_or("");
            kind = match path {
                "" if matches!(size_kib, 124 | 128 | 132 | 252 | 256 | 260) => 1,
                "" | "[heap]" => 2,
                _ => 3,
            };
        } else if first == "Rss:" {
            let kib: u64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            match kind {
                1 => parts.stacks_kib += kib,
                2 => parts.heap_kib += kib,
                _ => parts.other_kib += kib,
            }
        }
    }
    Some(parts)
}

/// Open file descriptors of process `pid`; `None` if it is gone.
pub fn open_fds(pid: u32) -> Option<u64> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// The processes a [`CpuMeter`] reads besides the generator: the server
/// (one process per node of a cluster) and, in a cluster, Redis.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// The server's processes, one per node (empty: not ours).
    pub servers: Vec<u32>,
    /// Redis, in a cluster.
    pub redis: Option<u32>,
    /// Where that Redis listens (for its command counts).
    pub redis_addr: Option<std::net::SocketAddr>,
}

/// The threads of a cluster node whose CPU is shown apart: the one that
/// applies the whole log, and the one that appends this node's lines.
const CLUSTER_THREADS: [&str; 2] = ["cluster-applier", "cluster-writer"];

/// CPU seconds of one server process, and of its cluster threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeCpu {
    /// The whole process.
    pub total: Option<f64>,
    /// Its `cluster-applier` thread (in a cluster).
    pub applier: Option<f64>,
    /// Its `cluster-writer` thread (in a cluster).
    pub writer: Option<f64>,
}

impl NodeCpu {
    fn read(pid: u32, threads: bool) -> NodeCpu {
        let thread = |name| threads.then(|| thread_cpu_seconds(pid, name)).flatten();
        NodeCpu {
            total: cpu_seconds(Some(pid)),
            applier: thread(CLUSTER_THREADS[0]),
            writer: thread(CLUSTER_THREADS[1]),
        }
    }

    fn since(self, before: NodeCpu) -> NodeCpu {
        let delta = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
        NodeCpu {
            total: delta(before.total, self.total),
            applier: delta(before.applier, self.applier),
            writer: delta(before.writer, self.writer),
        }
    }
}

/// CPU used by the generator, the server and Redis over one interval.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    watched: Watched,
    started: Instant,
    bench: Option<f64>,
    servers: Vec<NodeCpu>,
    redis: Option<f64>,
}

/// The CPU seconds of one interval.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    /// Wall-clock seconds.
    pub wall: f64,
    /// Generator CPU seconds.
    pub bench: Option<f64>,
    /// Server CPU seconds (when the bench started it), all nodes together.
    pub server: Option<f64>,
    /// Each node's (in a cluster: more than one).
    pub nodes: Vec<NodeCpu>,
    /// Redis CPU seconds (in a cluster).
    pub redis: Option<f64>,
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start(watched: &Watched) -> CpuMeter {
        let threads = watched.redis.is_some();
        CpuMeter {
            watched: watched.clone(),
            started: Instant::now(),
            bench: cpu_seconds(None),
            servers: watched
                .servers
                .iter()
                .map(|&pid| NodeCpu::read(pid, threads))
                .collect(),
            redis: watched.redis.and_then(|pid| cpu_seconds(Some(pid))),
        }
    }

    /// CPU used since [`CpuMeter::start`].
    pub fn stop(&self) -> CpuUse {
        let delta = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
        let threads = self.watched.redis.is_some();
        let nodes: Vec<NodeCpu> = self
            .watched
            .servers
            .iter()
            .zip(&self.servers)
            .map(|(&pid, &before)| NodeCpu::read(pid, threads).since(before))
            .collect();
        let server = nodes
            .iter()
            .map(|node| node.total)
            .try_fold(0.0, |sum, total| Some(sum + total?))
            .filter(|_| !nodes.is_empty());
        CpuUse {
            wall: self.started.elapsed().as_secs_f64(),
            bench: delta(self.bench, cpu_seconds(None)),
            server,
            nodes,
            redis: delta(
                self.redis,
                self.watched.redis.and_then(|pid| cpu_seconds(Some(pid))),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_readable() {
        assert!(cpu_seconds(None).is_some());
        let status = mem_status(std::process::id()).expect("own status");
        assert!(status.rss_kib > 0 && status.threads >= 1);
        assert!(open_fds(std::process::id()).is_some_and(|fds| fds >= 3));
        let parts = rss_parts(std::process::id()).expect("own smaps");
        assert!(parts.heap_kib + parts.other_kib > 0);
    }
}
