//! The server under test: `chinwagd` as a child process on a free port,
//! its stdout and stderr collected for failure reports, and stopped with
//! SIGTERM when the handle drops.
//!
//! With `CHINWAG_CLUSTER=1` in the environment (the parity run of
//! `.ci/run`), the same tests run against a cluster: [`Server::start_on`]
//! starts a private Redis and two nodes, and clients connect to them in
//! turn, so every other user is on the other node. Tests that are about one
//! process (its data directory, its limits, a wrapper command) start with
//! [`Server::alone`] instead; `docs/protocol.md` lists why each may.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::redis::Redis;
use super::{Client, Diagnostics, LINE_TIMEOUT, lock};

/// How long the server may take to exit after a signal before the test fails.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `chinwagd` child; sends SIGTERM and reaps it on drop.
pub(crate) struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    /// The TLS listener's address, if the server has one.
    tls_addr: Option<SocketAddr>,
    diagnostics: Diagnostics,
    /// In the parity run: the other node and Redis.
    rest: Option<Box<Rest>>,
}

/// The rest of a cluster behind a [`Server`] in the parity run.
struct Rest {
    /// Counts connections, to spread them over the nodes in turn.
    next: AtomicUsize,
    /// The other nodes, and Redis.
    cluster: Cluster,
}

/// Flags about one process: a test that sets one is about that process
/// (its data directory, its own `--max-clients` and thread budget), and
/// runs against one process also in the parity run. In a cluster each node
/// has its own limits, and the durable data lives in Redis (the cluster
/// tests cover it).
const PER_PROCESS: [&str; 3] = ["--data", "--max-clients", "--assume-thread-limit"];

/// Whether the tests run against a cluster (`CHINWAG_CLUSTER=1`).
pub(crate) fn cluster_mode() -> bool {
    std::env::var_os("CHINWAG_CLUSTER").is_some_and(|value| !value.is_empty() && value != "0")
}

/// Several `chinwagd` nodes on one private Redis, for the cluster tests.
/// The nodes share one failure report.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Server>,
    diagnostics: Diagnostics,
    args: Vec<String>,
    /// Nodes started so far, for their `--node-id`.
    started: usize,
    /// Dropped last: the nodes stop first.
    pub(crate) redis: Redis,
}

impl Cluster {
    /// A private Redis and `n` nodes, each started with `args` (plus
    /// `--flood-rate 0` and `--data none` unless given).
    pub(crate) fn start(n: usize, args: &[&str]) -> Cluster {
        let mut cluster = Cluster {
            nodes: Vec::new(),
            diagnostics: Diagnostics::default(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            started: 0,
            redis: Redis::start(),
        };
        for _ in 0..n {
            cluster.add_node();
        }
        cluster
    }

    /// Starts one more node; it is `nodes.last()`.
    pub(crate) fn add_node(&mut self) -> &Server {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.started += 1;
        let node_id = format!("node{}", self.started);
        let url = self.redis.url();
        let mut command = node_command("127.0.0.1:0", &args);
        command.args(["--cluster", &url, "--node-id", &node_id]);
        let node = Server::start_command_with(command, self.diagnostics.clone());
        self.nodes.push(node);
        self.nodes.last().expect("just pushed")
    }

    /// Node `i`.
    pub(crate) fn node(&self, i: usize) -> &Server {
        &self.nodes[i]
    }

    /// Panics with `message` and every node's transcripts and logs.
    pub(crate) fn fail(&self, message: &str) -> ! {
        self.diagnostics.fail(message)
    }
}

fn node_command(bind: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chinwagd"));
    command.args(["--bind", bind]).args(args);
    if !args.contains(&"--flood-rate") {
        command.args(["--flood-rate", "0"]);
    }
    if !args.contains(&"--data") {
        command.args(["--data", "none"]);
    }
    command
}

impl Server {
    /// Starts the server with flood control off.
    pub(crate) fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the server with extra flags; `--flood-rate 0` is added unless
    /// `args` sets `--flood-rate`, and `--data none` unless it sets `--data`
    /// (no test may touch the user's own data directory).
    pub(crate) fn start_with(args: &[&str]) -> Server {
        Server::start_on("127.0.0.1:0", args)
    }

    /// Starts the server on an explicit address (in the parity run, a
    /// two-node cluster whose first node listens there).
    pub(crate) fn start_on(bind: &str, args: &[&str]) -> Server {
        if !cluster_mode() || args.iter().any(|arg| PER_PROCESS.contains(arg)) {
            return Server::start_command(node_command(bind, args));
        }
        let mut cluster = Cluster::start(0, args);
        cluster.started = 1;
        let url = cluster.redis.url();
        let mut command = node_command(bind, args);
        command.args(["--cluster", &url, "--node-id", "node1"]);
        let mut first = Server::start_command_with(command, cluster.diagnostics.clone());
        cluster.add_node();
        first.rest = Some(Box::new(Rest {
            next: AtomicUsize::new(0),
            cluster,
        }));
        first
    }

    /// Where the next client connects: in the parity run, the nodes in
    /// turn.
    fn next_addr(&self) -> SocketAddr {
        let Some(rest) = &self.rest else {
            return self.addr;
        };
        let turn = rest.next.fetch_add(1, Ordering::Relaxed) % (rest.cluster.nodes.len() + 1);
        match turn {
            0 => self.addr,
            n => rest.cluster.nodes[n - 1].addr,
        }
    }

    /// The address the server is listening on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Panics with `message`, every transcript and the server's stderr.
    pub(crate) fn fail(&self, message: &str) -> ! {
        self.diagnostics.fail(message)
    }

    /// Connects without reading anything.
    pub(crate) fn connect_raw(&self, label: &str) -> Client {
        match TcpStream::connect(self.next_addr()) {
            Ok(stream) => self.client(label, stream),
            Err(e) => self.fail(&format!("{label}: cannot connect: {e}")),
        }
    }

    /// Wraps an already connected stream (for custom socket options).
    pub(crate) fn client(&self, label: &str, stream: TcpStream) -> Client {
        Client::new(label, stream, &self.diagnostics)
    }

    /// Connects and reads `HELLO chinwag/2`.
    pub(crate) fn connect(&self, label: &str) -> Client {
        let mut client = self.connect_raw(label);
        client.expect("HELLO chinwag/2");
        client
    }

    /// Connects, picks `name`, checks `WELCOME name` and skips the menu.
    pub(crate) fn login(&self, name: &str) -> Client {
        register(self.connect(name), name)
    }

    /// Connects with a tiny receive buffer, for a client that never reads,
    /// and reads `HELLO chinwag/2`.
    pub(crate) fn connect_small_rcvbuf(&self, label: &str) -> Client {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        socket.connect(&self.next_addr().into()).expect("connect");
        let mut client = self.client(label, TcpStream::from(socket));
        client.expect("HELLO chinwag/2");
        client
    }

    /// [`Server::login`] with a tiny receive buffer.
    pub(crate) fn login_small_rcvbuf(&self, name: &str) -> Client {
        register(self.connect_small_rcvbuf(name), name)
    }

    /// Logs in `a` and `b` and starts a chat between them.
    pub(crate) fn pair(&self, a: &str, b: &str) -> (Client, Client) {
        let mut ca = self.login(a);
        let mut cb = self.login(b);
        ca.send(&format!("/chat {b}"));
        ca.expect(&format!("OK chat {b}"));
        cb.expect(&format!("REQUEST {a}"));
        cb.send(&format!("/accept {a}"));
        cb.expect_all(&[&format!("CHAT {a}"), &format!("OK accept {a}")]);
        ca.expect(&format!("CHAT {b}"));
        (ca, cb)
    }

    /// Sends a signal (`TERM`, `INT`, ...) to the server process. Uses
    /// kill(1) because the workspace forbids `unsafe` (and so `libc::kill`).
    /// In the parity run every node gets the signal.
    pub(crate) fn signal(&self, name: &str) {
        for other in self.rest.iter().flat_map(|rest| &rest.cluster.nodes) {
            other.signal(name);
        }
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .args(["-s", name, &pid.to_string()])
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            self.fail(&format!("kill -s {name} {pid} failed: {status:?}"));
        }
    }

    /// Waits for the server to exit, failing after a generous timeout (in
    /// the parity run, every node; the first node's status is returned).
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        if let Some(rest) = self.rest.as_mut() {
            for other in &mut rest.cluster.nodes {
                let status = other.wait_exit();
                if !status.success() {
                    self.fail(&format!("another node exited with {status}"));
                }
            }
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        let child = self.child.as_mut().expect("server running");
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return status;
                }
                Ok(None) if Instant::now() < deadline => {
                    // Polling a child for exit has no event to wait on in
                    // std; the deadline, not the sleep, decides the outcome.
                    thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    self.child = None;
                    self.fail(&format!("server did not exit within {EXIT_TIMEOUT:?}"));
                }
                Err(e) => self.fail(&format!("try_wait: {e}")),
            }
        }
    }

    /// Every line the server printed on stdout so far.
    pub(crate) fn stdout_lines(&self) -> Vec<String> {
        lock(&self.diagnostics.stdout).clone()
    }

    /// The path of the `chinwagd` binary under test.
    pub(crate) fn binary() -> &'static str {
        env!("CARGO_BIN_EXE_chinwagd")
    }

    /// Starts the server from a prepared command (for a wrapper such as
    /// `sh -c 'ulimit -n 100; exec chinwagd …'`). The command must run
    /// `chinwagd` with `--bind` and print `listening on` like it; stdio is
    /// set here.
    pub(crate) fn start_command(command: Command) -> Server {
        Server::start_command_with(command, Diagnostics::default())
    }

    fn start_command_with(mut command: Command, diagnostics: Diagnostics) -> Server {
        // Each node's stdout is its own (its `listening on` lines).
        let diagnostics = Diagnostics {
            stdout: Arc::default(),
            ..diagnostics
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot spawn the server command");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&diagnostics.stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                lock(&sink).extend_from_slice(&buf[..n]);
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::clone(&diagnostics.stdout);
        let wants_tls = command.get_args().any(|arg| arg == "--tls-bind");
        let (line_tx, line_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lock(&lines).push(line.clone());
                let _ = line_tx.send(line);
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_addr: None,
            diagnostics,
            rest: None,
        };
        let line = match line_rx.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(_) => server.fail("the server printed no `listening on` line"),
        };
        let Some(addr) = line
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
        else {
            server.fail(&format!("unexpected first stdout line {line:?}"))
        };
        server.addr = addr;
        if wants_tls {
            let line = match line_rx.recv_timeout(LINE_TIMEOUT) {
                Ok(line) => line,
                Err(_) => server.fail("the server printed no `listening tls on` line"),
            };
            server.tls_addr = line
                .strip_prefix("listening tls on ")
                .and_then(|addr| addr.parse().ok());
        }
        server
    }

    /// The TLS listener's address; fails if the server has none.
    pub(crate) fn tls_addr(&self) -> SocketAddr {
        match self.tls_addr {
            Some(addr) => addr,
            None => self.fail("the server printed no `listening tls on` line"),
        }
    }

    /// Waits (bounded) until the server's log holds `needle` at least
    /// `count` times: the barrier for what only the log shows, such as a
    /// TLS connection admitted but not yet through its handshake. Reading
    /// a pipe's progress has no event to wait on here; the deadline decides.
    pub(crate) fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + LINE_TIMEOUT;
        while self.stderr_text().matches(needle).count() < count {
            if Instant::now() > deadline {
                self.fail(&format!("the log never held {needle:?} {count} times"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.diagnostics.stderr)).into_owned()
    }
}

/// Picks `name` on a connection that has read `HELLO`, checks `WELCOME
/// name` and skips the menu.
fn register(mut client: Client, name: &str) -> Client {
    client.send(name);
    client.expect(&format!("WELCOME {name}"));
    client.skip_info();
    client
}

impl Server {
    /// Sends SIGTERM, quietly (for `Drop`).
    fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &child.id().to_string()])
                .status();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Every node is told at once; each `Drop` then waits for its own.
        for node in &self.nodes {
            node.terminate();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for other in self.rest.iter().flat_map(|rest| &rest.cluster.nodes) {
            other.terminate();
        }
        self.terminate();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
