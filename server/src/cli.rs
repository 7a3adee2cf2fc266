//! The `chinwagd` command line: flags, logging, limits, bind, run until a
//! signal. Kept in the library so `chinwag-bench` can run the very same
//! server by re-executing itself.

use std::ffi::OsString;
use std::io::Write as _;
use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::config::{Config, defaults};
use crate::limits::{self, OsLimits};
use crate::server::Server;

/// chinwagd: a chat server for terminals and telnet (protocol chinwag/2).
#[derive(Debug, Parser)]
#[command(name = "chinwagd", version, about, long_about = None)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, default_value = defaults::BIND, value_name = "ADDR:PORT")]
    pub bind: String,
    /// Connections at once, named or not; lowered at start-up to what the
    /// system allows.
    #[arg(long, default_value_t = defaults::MAX_CLIENTS, value_name = "N")]
    pub max_clients: usize,
    /// Seconds from connect to pick a username (0: no limit).
    #[arg(long, default_value_t = defaults::NAME_TIMEOUT_SECS, value_name = "SECS")]
    pub name_timeout: u64,
    /// Items (events or replies) waiting for one client before it is
    /// disconnected as too slow.
    #[arg(long, default_value_t = defaults::SEND_QUEUE, value_name = "ITEMS")]
    pub send_queue: usize,
    /// Bytes waiting for one client before it is disconnected as too slow.
    #[arg(long, default_value_t = defaults::SEND_QUEUE_BYTES, value_name = "BYTES")]
    pub send_queue_bytes: usize,
    /// Seconds a write to a client may make no progress before it is
    /// disconnected.
    #[arg(long, default_value_t = defaults::WRITE_TIMEOUT_SECS, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout: u64,
    /// Lines per second per connection, burst twice that; a faster client
    /// is read more slowly, never cut off (0: off).
    #[arg(long, default_value_t = defaults::FLOOD_RATE, value_name = "LINES")]
    pub flood_rate: u32,
    /// Longest input line in bytes, line ending excluded.
    #[arg(long, default_value_t = defaults::MAX_LINE, value_name = "BYTES",
          value_parser = clap::builder::ValueParser::new(parse_max_line))]
    pub max_line: usize,
    /// Lines of history kept per room, replayed to whoever joins (0: none).
    #[arg(long, default_value_t = defaults::HISTORY, value_name = "LINES")]
    pub history: usize,
    /// Rooms whose history is kept; past it, the room quiet longest loses
    /// its history. Bounds what history can take in memory and on disk.
    #[arg(long, default_value_t = defaults::HISTORY_ROOMS, value_name = "ROOMS")]
    pub history_rooms: usize,
    /// Password checks per registered name per minute, server-wide; each
    /// costs real CPU (0: no cap).
    #[arg(long, default_value_t = defaults::PASSWORD_TRIES, value_name = "N")]
    pub password_tries: u32,
    /// TCP keepalive idle seconds (tests shorten it).
    #[arg(long, hide = true, default_value_t = defaults::KEEPALIVE_IDLE_SECS, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keepalive_idle: u64,
    /// TCP keepalive seconds between probes (tests shorten it).
    #[arg(long, hide = true, default_value_t = defaults::KEEPALIVE_INTERVAL_SECS, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keepalive_interval: u64,
    /// Test hook: the line `/__panic` panics its connection thread.
    #[arg(long, hide = true)]
    pub fault_injection: bool,
    /// Test hook: pretend the system allows only this many threads.
    #[arg(long, hide = true, value_name = "N")]
    pub assume_thread_limit: Option<u64>,
}

fn parse_max_line(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1 << 20).contains(&n) => Ok(n),
        _ => Err("expected a number of bytes from 1 to 1048576".to_owned()),
    }
}

impl Args {
    fn config(&self) -> Config {
        Config {
            max_clients: self.max_clients,
            name_timeout: (self.name_timeout > 0).then(|| Duration::from_secs(self.name_timeout)),
            send_queue: self.send_queue,
            send_queue_bytes: self.send_queue_bytes,
            write_timeout: Duration::from_secs(self.write_timeout),
            flood_rate: self.flood_rate,
            max_line: self.max_line,
            keepalive_idle: Duration::from_secs(self.keepalive_idle),
            keepalive_interval: Duration::from_secs(self.keepalive_interval),
            history: self.history,
            history_rooms: self.history_rooms,
            password_tries: self.password_tries,
            fault_injection: self.fault_injection,
            ..Config::default()
        }
    }
}

/// Runs `chinwagd` with these arguments (the first is the program name)
/// until SIGINT or SIGTERM. `--help` and `--version` print and exit.
///
/// # Errors
///
/// Bad flags are reported by clap (which exits); binding or starting fails.
pub fn run_from<I, T>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = Args::parse_from(args);
    init_logging();
    // Registered before binding, so a signal that arrives as soon as
    // `listening on` is printed is not lost.
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("cannot handle signals")?;
    let mut config = args.config();
    limits::raise_open_files();
    let mut os_limits = OsLimits::detect();
    if let Some(threads) = args.assume_thread_limit {
        os_limits.threads = Some(threads);
    }
    let capacity = os_limits.capacity(config.max_clients);
    if let Some(why) = &capacity.lowered_because {
        tracing::warn!(
            requested = config.max_clients,
            allowed = capacity.max_clients,
            "--max-clients lowered to what the system allows ({why})"
        );
    }
    config.max_clients = capacity.max_clients;
    config.max_writer_threads = capacity.max_writer_threads;
    let listener = bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let server = Server::start(listener, config).context("cannot start the server")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    stdout.flush()?;
    drop(stdout);
    tracing::info!(addr = %server.local_addr(), "chinwagd {} ready", env!("CARGO_PKG_VERSION"));
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "shutting down");
    }
    server.shutdown();
    Ok(())
}

/// Binds with a listen backlog of 1024: std's 128 drops SYNs in a
/// connection storm before the accept thread can take them.
fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    use std::net::ToSocketAddrs as _;
    let addr = addr
        .to_socket_addrs()?
        .next()
        .context("the address resolves to nothing")?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
