//! Server settings, and their defaults named once: the flags in `cli.rs`
//! show these defaults in `--help`, and [`Config::default`] uses them.

use std::time::Duration;

/// Every default, in one place. The protocol document lists the ones that
/// are part of the contract (`--max-clients 10000` and the like).
pub mod defaults {
    /// `--bind`
    pub const BIND: &str = "127.0.0.1:7878";
    /// `--max-clients`
    pub const MAX_CLIENTS: usize = 10_000;
    /// `--name-timeout`, in seconds.
    pub const NAME_TIMEOUT_SECS: u64 = 60;
    /// `--send-queue`, in items.
    pub const SEND_QUEUE: usize = 1024;
    /// `--send-queue-bytes`
    pub const SEND_QUEUE_BYTES: usize = 1 << 20;
    /// `--write-timeout`, in seconds.
    pub const WRITE_TIMEOUT_SECS: u64 = 10;
    /// `--flood-rate`, lines per second.
    pub const FLOOD_RATE: u32 = 50;
    /// `--max-line`, in bytes.
    pub const MAX_LINE: usize = common::DEFAULT_MAX_LINE;
    /// TCP keepalive idle time, in seconds.
    pub const KEEPALIVE_IDLE_SECS: u64 = 60;
    /// TCP keepalive time between probes, in seconds.
    pub const KEEPALIVE_INTERVAL_SECS: u64 = 10;
    /// TCP keepalive probes before a peer counts as gone: with the two
    /// above, a vanished peer is found in about 90 seconds.
    pub const KEEPALIVE_RETRIES: u32 = 3;
    /// `--history`, lines kept per room.
    pub const HISTORY: usize = 50;
    /// `--history-rooms`: rooms whose history is kept. With `--history`
    /// at 50 lines of at most `--max-line` bytes, this bounds history at
    /// about 200 MB in the worst case and a few MB in practice.
    pub const HISTORY_ROOMS: usize = 1000;
    /// `--password-tries`, password checks per name per minute.
    pub const PASSWORD_TRIES: u32 = 10;
    /// Writer threads at once when the system's thread limit is unknown.
    pub const WRITER_THREADS: usize = 2048;
    /// Writer threads at once, at most, however many the system allows.
    pub const MAX_WRITER_THREADS: usize = 4096;
}

/// Server settings. Most are `chinwagd` flags (see `cli.rs`); the writer
/// budget is derived from the system's limits at start-up (`limits.rs`).
#[derive(Debug, Clone)]
pub struct Config {
    /// Connections at once, named or not.
    pub max_clients: usize,
    /// Time from connect to pick a name; `None` for no limit.
    pub name_timeout: Option<Duration>,
    /// Items waiting for one client before it is disconnected.
    pub send_queue: usize,
    /// Bytes waiting for one client before it is disconnected.
    pub send_queue_bytes: usize,
    /// A write that makes no progress this long disconnects the client.
    pub write_timeout: Duration,
    /// Lines per second per connection (burst twice that); 0 is off.
    pub flood_rate: u32,
    /// Longest input line in bytes, terminator excluded.
    pub max_line: usize,
    /// Writer threads (connections with a backlog) that may exist at once.
    pub max_writer_threads: usize,
    /// TCP keepalive: idle time before the first probe.
    pub keepalive_idle: Duration,
    /// TCP keepalive: time between probes.
    pub keepalive_interval: Duration,
    /// TCP keepalive: unanswered probes before the connection is dropped.
    pub keepalive_retries: u32,
    /// Lines of history kept per room; 0 keeps none.
    pub history: usize,
    /// Rooms whose history is kept.
    pub history_rooms: usize,
    /// Password checks per registered name per minute; 0 is no cap.
    pub password_tries: u32,
    /// Threads that help write large fan-outs; `None`: one per core but one.
    pub fanout_threads: Option<usize>,
    /// Test hook: the line `/__panic` panics its connection thread, to show
    /// that a bug in one connection frees its name and disturbs no one.
    pub fault_injection: bool,
    /// Join this cluster (`--cluster`); `None` runs alone.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Default for Config {
    fn default() -> Config {
        use defaults::*;
        Config {
            max_clients: MAX_CLIENTS,
            name_timeout: Some(Duration::from_secs(NAME_TIMEOUT_SECS)),
            send_queue: SEND_QUEUE,
            send_queue_bytes: SEND_QUEUE_BYTES,
            write_timeout: Duration::from_secs(WRITE_TIMEOUT_SECS),
            flood_rate: FLOOD_RATE,
            max_line: MAX_LINE,
            max_writer_threads: WRITER_THREADS,
            keepalive_idle: Duration::from_secs(KEEPALIVE_IDLE_SECS),
            keepalive_interval: Duration::from_secs(KEEPALIVE_INTERVAL_SECS),
            keepalive_retries: KEEPALIVE_RETRIES,
            history: HISTORY,
            history_rooms: HISTORY_ROOMS,
            password_tries: PASSWORD_TRIES,
            fanout_threads: None,
            fault_injection: false,
            cluster: None,
        }
    }
}
