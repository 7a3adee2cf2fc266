//! The running server: the accept thread, the state every connection shares,
//! and the one shutdown path (flag, wake `accept`, `BYE` to everyone, wake
//! every reader, wait for every thread, then force what is left).

use std::collections::HashMap;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{ErrorCode, ServerLine};
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use socket2::{SockRef, TcpKeepalive};

use crate::connection;
use crate::hub::{ConnId, Hub};
use crate::outbox::{Item, Outbox};
use crate::threads::{LiveThreads, ThreadBudget};

const CONNECTION_STACK_BYTES: usize = 256 * 1024;
/// Everyone has had `BYE` and a chance to read it by then; what is still
/// blocked is cut, so the process exits within the protocol's two seconds.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);
const SHUTDOWN_FORCE: Duration = Duration::from_millis(400);

/// Server settings; every one is a `chinwagd` flag (see `cli.rs`).
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
    /// Test hook: the line `/__panic` panics its connection thread, to show
    /// that a bug in one connection frees its name and disturbs no one.
    pub fault_injection: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_clients: 10_000,
            name_timeout: Some(Duration::from_secs(60)),
            send_queue: 1024,
            send_queue_bytes: 1 << 20,
            write_timeout: Duration::from_secs(10),
            flood_rate: 50,
            max_line: common::DEFAULT_MAX_LINE,
            max_writer_threads: 2048,
            keepalive_idle: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(10),
            keepalive_retries: 3,
            fault_injection: false,
        }
    }
}

/// What every connection thread shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) hub: Mutex<Hub<Arc<Outbox>>>,
    /// Every open connection, named or not, for shutdown.
    pub(crate) registry: Mutex<HashMap<ConnId, Arc<Outbox>>>,
    pub(crate) writers: Arc<ThreadBudget>,
    live: Arc<LiveThreads>,
    n_connections: AtomicUsize,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
    /// Dropped at shutdown, which wakes every sleeping thread at once.
    wake_tx: Mutex<Option<Sender<()>>>,
    wake_rx: Receiver<()>,
}

impl Shared {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Sleeps for `duration`, or until shutdown starts.
    pub(crate) fn sleep(&self, duration: Duration) {
        let _ = self.wake_rx.recv_timeout(duration);
    }

    pub(crate) fn release_slot(&self) {
        self.n_connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running server. Dropping it without [`Server::shutdown`] leaves the
/// threads running until the process exits.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts accepting connections on `listener` in a new thread.
    ///
    /// # Errors
    ///
    /// The listener's address cannot be read, or no thread can be started.
    pub fn start(listener: TcpListener, config: Config) -> io::Result<Server> {
        let local_addr = listener.local_addr()?;
        let live = Arc::new(LiveThreads::default());
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(0);
        let shared = Arc::new(Shared {
            writers: Arc::new(ThreadBudget::new(
                config.max_writer_threads,
                Arc::clone(&live),
            )),
            config,
            hub: Mutex::new(Hub::default()),
            registry: Mutex::new(HashMap::new()),
            live,
            n_connections: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            wake_tx: Mutex::new(Some(wake_tx)),
            wake_rx,
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("accept".to_owned())
            .spawn(move || accept_loop(&accept_shared, &listener))?;
        Ok(Server {
            shared,
            local_addr,
            accept_thread: Some(accept_thread),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections open now, named or not.
    pub fn n_connections(&self) -> usize {
        self.shared.n_connections.load(Ordering::Acquire)
    }

    /// Stops the server: no more connections, `BYE` to every client, then
    /// waits (about two seconds at most) for every thread to end.
    pub fn shutdown(mut self) {
        let started = Instant::now();
        self.shared.shutting_down.store(true, Ordering::Release);
        self.shared.wake_tx.lock().take();
        // Connect to ourselves to wake the blocked `accept` (tiny-http's trick).
        let mut wake_addr = self.local_addr;
        if wake_addr.ip().is_unspecified() {
            wake_addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(1));
        if let Some(accept_thread) = self.accept_thread.take() {
            let _ = accept_thread.join();
        }
        let outboxes: Vec<Arc<Outbox>> = self.shared.registry.lock().values().cloned().collect();
        let n_clients = outboxes.len();
        let bye = Arc::new(ServerLine::Bye(Arc::from("server shutting down")));
        for outbox in &outboxes {
            if outbox.push_final(Item::Shared(Arc::clone(&bye))) {
                outbox.flush();
            }
            // Wakes the reader, which flushes and closes.
            let _ = outbox.stream().shutdown(Shutdown::Read);
        }
        if !self.shared.live.wait_idle(started + SHUTDOWN_GRACE) {
            for outbox in &outboxes {
                let _ = outbox.stream().shutdown(Shutdown::Both);
            }
            self.shared.live.wait_idle(Instant::now() + SHUTDOWN_FORCE);
        }
        tracing::info!(
            clients = n_clients,
            left_running = self.shared.live.count(),
            "shut down in {:?}",
            started.elapsed()
        );
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    let mut last_complaint: Option<Instant> = None;
    loop {
        let accepted = listener.accept();
        if shared.is_shutting_down() {
            return;
        }
        match accepted {
            Ok((stream, addr)) => admit(shared, stream, addr),
            Err(error) if out_of_resources(&error) => {
                // Out of file descriptors or memory: back off instead of
                // spinning, and complain at most every five seconds.
                if last_complaint.is_none_or(|at| at.elapsed() > Duration::from_secs(5)) {
                    tracing::error!(%error, "cannot accept connections");
                    last_complaint = Some(Instant::now());
                }
                shared.sleep(Duration::from_millis(100));
            }
            Err(error) => tracing::debug!(%error, "accept failed"),
        }
    }
}

fn out_of_resources(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn admit(shared: &Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let n_before = shared.n_connections.fetch_add(1, Ordering::AcqRel);
    if n_before >= shared.config.max_clients {
        shared.release_slot();
        tracing::warn!(%addr, "server full; refusing a connection");
        return refuse(stream);
    }
    if let Err(error) = configure(&stream, &shared.config) {
        shared.release_slot();
        return tracing::debug!(%addr, %error, "cannot configure socket");
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let guard = shared.live.enter();
    let thread_shared = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("conn-{id}"))
        .stack_size(CONNECTION_STACK_BYTES)
        .spawn(move || {
            let _guard = guard;
            connection::serve(thread_shared, id, stream, addr);
        });
    if let Err(error) = spawned {
        // The closure (with the stream and the guard) was dropped.
        shared.release_slot();
        tracing::error!(%error, "cannot start a connection thread");
    }
}

fn configure(stream: &TcpStream, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    // A vanished peer (laptop asleep, cable pulled) is found in about 90 s.
    let keepalive = TcpKeepalive::new()
        .with_time(config.keepalive_idle)
        .with_interval(config.keepalive_interval)
        .with_retries(config.keepalive_retries);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

/// Tells a connection past `--max-clients` why it is closed. Never blocks
/// the accept thread.
fn refuse(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut bytes = Vec::new();
    ServerLine::error(ErrorCode::ServerFull).write_to(&mut bytes);
    ServerLine::Bye(Arc::from("server full")).write_to(&mut bytes);
    let _ = stream.write_all(&bytes);
    // Unread input would turn the close into a reset, which can destroy the
    // reply before the client reads it; take what has arrived.
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    let _ = stream.shutdown(Shutdown::Write);
}
