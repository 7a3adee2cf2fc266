//! The running server: the accept thread, admission (a `--max-clients`
//! slot and a thread per connection), and the one shutdown path (flag, wake `accept`, `BYE` to everyone, wake
//! every reader, wait for every thread, then force what is left).

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{ByeReason, ErrorCode, ServerLine};
use socket2::{SockRef, TcpKeepalive};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::connection::{self, Transport};
use crate::hub::Memory;
use crate::outbox::{Item, Outbox};
use crate::shared::{Shared, Slot};
use crate::store::{DataDir, Limits, Store};

const CONNECTION_STACK_BYTES: usize = 256 * 1024;
/// Everyone has had `BYE` and a chance to read it by then; what is still
/// blocked is cut, so the process exits within the protocol's two seconds.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);
const SHUTDOWN_FORCE: Duration = Duration::from_millis(400);

/// Where the server listens.
pub struct Listeners {
    /// The plain TCP listener.
    pub plain: TcpListener,
    /// The TLS listener and its configuration, if any.
    pub tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
}

/// A running server. Dropping it without [`Server::shutdown`] leaves the
/// threads running until the process exits.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    accept_threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts accepting connections on `listener` in a new thread.
    ///
    /// # Errors
    ///
    /// The listener's address cannot be read, or no thread can be started.
    pub fn start(listener: TcpListener, config: Config) -> io::Result<Server> {
        let listeners = Listeners {
            plain: listener,
            tls: None,
        };
        let in_memory = Store::open(&DataDir::Memory, Limits::default());
        let (store, _) = in_memory.map_err(io::Error::other)?;
        Server::start_with(listeners, config, Memory::default(), store)
    }

    /// Starts accepting on every listener, each in its own thread, with
    /// what the data directory held and its store.
    ///
    /// # Errors
    ///
    /// A listener's address cannot be read, or no thread can be started.
    pub fn start_with(
        listeners: Listeners,
        config: Config,
        memory: Memory,
        store: Store,
    ) -> io::Result<Server> {
        let local_addr = listeners.plain.local_addr()?;
        let cluster = match &config.cluster {
            Some(cluster) => Some(Arc::new(
                Cluster::new(cluster.clone()).map_err(io::Error::other)?,
            )),
            None => None,
        };
        let shared = Arc::new(Shared::new(config, memory, store, cluster));
        if let Some(cluster) = &shared.cluster {
            // Takes the cluster's state before the first connection.
            cluster.start(&shared).map_err(io::Error::other)?;
        }
        let mut accept_threads = vec![spawn_accept(&shared, "accept", listeners.plain, || {
            Transport::Plain
        })?];
        let mut tls_addr = None;
        if let Some((listener, config)) = listeners.tls {
            tls_addr = Some(listener.local_addr()?);
            let transport = move || Transport::Tls(Arc::clone(&config));
            accept_threads.push(spawn_accept(&shared, "accept-tls", listener, transport)?);
        }
        Ok(Server {
            shared,
            local_addr,
            tls_addr,
            accept_threads,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the TLS listener listens on, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Stops the server: no more connections, `BYE` to every client, then
    /// waits (about two seconds at most) for every thread to end.
    pub fn shutdown(mut self) {
        let started = Instant::now();
        self.shared.begin_shutdown();
        // Connect to ourselves to wake each blocked `accept` (tiny-http's
        // trick).
        for addr in std::iter::once(self.local_addr).chain(self.tls_addr) {
            let mut wake_addr = addr;
            if wake_addr.ip().is_unspecified() {
                wake_addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let _ = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(1));
        }
        for accept_thread in self.accept_threads.drain(..) {
            let _ = accept_thread.join();
        }
        let outboxes: Vec<Arc<Outbox>> = self.shared.registry.lock().values().cloned().collect();
        let n_clients = outboxes.len();
        let bye = Arc::new(ServerLine::bye(ByeReason::Shutdown));
        for outbox in &outboxes {
            if outbox.push_final(Item::Shared(Arc::clone(&bye))) {
                outbox.flush();
            }
            // Wakes the reader, which flushes and closes.
            outbox.shutdown(Shutdown::Read);
        }
        if !self.shared.live.wait_idle(started + SHUTDOWN_GRACE) {
            for outbox in &outboxes {
                outbox.shutdown(Shutdown::Both);
            }
            self.shared.live.wait_idle(Instant::now() + SHUTDOWN_FORCE);
        }
        if let Some(cluster) = &self.shared.cluster {
            // The node says it is gone: the other nodes close its users'
            // sessions at once, not after the heartbeat timeout.
            cluster.stop();
        }
        self.shared.fanout.shutdown();
        // Everything accepted reaches the disk before the process exits.
        self.shared.close_store();
        tracing::info!(
            clients = n_clients,
            left_running = self.shared.live.count(),
            "shut down in {:?}",
            started.elapsed()
        );
    }
}

fn spawn_accept(
    shared: &Arc<Shared>,
    name: &str,
    listener: TcpListener,
    transport: impl Fn() -> Transport + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || accept_loop(&shared, &listener, &transport))
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, transport: &dyn Fn() -> Transport) {
    let mut last_complaint: Option<Instant> = None;
    loop {
        let accepted = listener.accept();
        if shared.is_shutting_down() {
            return;
        }
        match accepted {
            Ok((stream, addr)) => admit(shared, stream, addr, transport()),
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

fn admit(shared: &Arc<Shared>, stream: TcpStream, addr: SocketAddr, transport: Transport) {
    let Some(slot) = Slot::take(shared) else {
        tracing::warn!(%addr, "server full; refusing a connection");
        return match transport {
            Transport::Plain => refuse(stream),
            // Saying so would take a handshake, which is what a full server
            // cannot afford; the client sees the connection closed.
            Transport::Tls(_) => drop(stream),
        };
    };
    if let Err(error) = configure(&stream, &shared.config) {
        return tracing::debug!(%addr, %error, "cannot configure socket");
    }
    let id = shared.next_id();
    let guard = shared.live.enter();
    let thread_shared = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("conn-{id}"))
        .stack_size(CONNECTION_STACK_BYTES)
        .spawn(move || {
            let _guard = guard;
            connection::serve(thread_shared, slot, id, stream, addr, transport);
        });
    if let Err(error) = spawned {
        // The closure, with the stream, the slot and the guard, was dropped.
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
    ServerLine::bye(ByeReason::Full).write_to(&mut bytes);
    let _ = stream.write_all(&bytes);
    // Unread input would turn the close into a reset, which can destroy the
    // reply before the client reads it; take what has arrived.
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    let _ = stream.shutdown(Shutdown::Write);
}
