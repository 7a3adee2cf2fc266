//! The `chinwagd` command line: flags, logging, limits, bind, run until a
//! signal. Kept in the library so `chinwag-bench` can run the very same
//! server by re-executing itself.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cluster::ClusterConfig;
use crate::config::{Config, defaults};
use crate::data;
use crate::limits::{self, OsLimits};
use crate::server::{Listeners, Server};
use crate::store::{DataDir, Limits, Store};
use crate::tls::{Identity, Tls};

/// chinwagd: a chat server for terminals and telnet (protocol chinwag/2).
#[derive(Debug, Parser)]
#[command(name = "chinwagd", version, about, long_about = None)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, default_value = defaults::BIND, value_name = "ADDR:PORT")]
    pub bind: String,
    /// Where registered names, ignore lists and room history live
    /// (`chinwag.db`); `none` keeps them in memory only.
    /// [default: $XDG_STATE_HOME/chinwagd, else ~/.local/state/chinwagd]
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    /// Also listen for TLS here (port 0 picks a free port); needs
    /// --tls-cert and --tls-key, or --tls-self-signed.
    #[arg(long, value_name = "ADDR:PORT")]
    pub tls_bind: Option<String>,
    /// The TLS certificate chain (PEM), leaf first.
    #[arg(long, value_name = "FILE", requires = "tls_key", requires = "tls_bind")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Make a self-signed certificate on first start and keep it in the data
    /// directory; its SHA-256 fingerprint is logged for clients to check.
    #[arg(long, conflicts_with = "tls_cert", requires = "tls_bind")]
    pub tls_self_signed: bool,
    /// Join a cluster of chinwagd nodes that share this Redis server
    /// (`redis://[USER:PASSWORD@]HOST:PORT[/DB]`); registered names,
    /// ignore lists and room history then live in Redis, not in --data.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// This node's name in the cluster, for logs [default: HOSTNAME-PID].
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub node_id: Option<String>,
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
    /// Threads that help write a large room's lines (0: the sender writes
    /// them all); default one per core but one. For measurements.
    #[arg(long, hide = true, value_name = "N")]
    pub fanout_threads: Option<usize>,
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
            fanout_threads: self.fanout_threads,
            fault_injection: self.fault_injection,
            cluster: self.cluster.as_ref().map(|url| {
                let node_id = self.node_id.clone().unwrap_or_else(default_node_id);
                ClusterConfig::new(url.clone(), node_id)
            }),
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
    let data = DataDir::from_flag(args.data.as_deref())?;
    let limits = Limits {
        history_per_room: config.history,
        history_rooms: config.history_rooms,
    };
    // In a cluster the durable data lives in Redis; the data directory
    // keeps only a self-signed certificate, if asked for.
    let store_dir = if config.cluster.is_some() {
        &DataDir::Memory
    } else {
        &data
    };
    let (store, loaded) = Store::open(store_dir, limits)?;
    let tls = match &args.tls_bind {
        Some(tls_bind) => Some((tls_bind, tls_config(&args, &data)?)),
        None => None,
    };
    let plain = bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let tls = match tls {
        Some((tls_bind, config)) => {
            let listener =
                bind(tls_bind).with_context(|| format!("cannot listen on {tls_bind}"))?;
            Some((listener, config))
        }
        None => None,
    };
    let listeners = Listeners { plain, tls };
    let server = Server::start_with(listeners, config, data::memory(loaded), store)
        .context("cannot start the server")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    if let Some(tls_addr) = server.tls_addr() {
        writeln!(stdout, "listening tls on {tls_addr}")?;
    }
    stdout.flush()?;
    drop(stdout);
    tracing::info!(addr = %server.local_addr(), "chinwagd {} ready", env!("CARGO_PKG_VERSION"));
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "shutting down");
    }
    server.shutdown();
    Ok(())
}

/// The TLS configuration the flags ask for; logs the certificate's
/// fingerprint, which clients use to check a self-signed server.
fn tls_config(args: &Args, data: &DataDir) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let identity = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Identity::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        (_, _, true) => Identity::SelfSigned(match data {
            DataDir::Dir(dir) => Some(dir.clone()),
            DataDir::Memory => None,
        }),
        _ => anyhow::bail!("--tls-bind needs --tls-cert and --tls-key, or --tls-self-signed"),
    };
    let hostnames: Vec<String> = fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .into_iter()
        .chain(args.tls_bind.iter().filter_map(|bind| {
            let host = bind
                .rsplit_once(':')
                .map_or(bind.as_str(), |(host, _)| host);
            (!host.is_empty() && host != "0.0.0.0" && host != "[::]").then(|| host.to_owned())
        }))
        .collect();
    let tls = Tls::new(&identity, &hostnames)?;
    tracing::info!(fingerprint = %tls.fingerprint, "tls certificate (sha-256)");
    Ok(tls.config)
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

/// `HOSTNAME-PID`: unique enough among the nodes of one cluster.
fn default_node_id() -> String {
    let host = fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "node".to_owned()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
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
