//! Test support, servers: an in-process server on `127.0.0.1:0` that
//! shuts down on drop; `chinwagd`'s own command line in a child process,
//! for flags the in-process API does not take and for restarts (SIGTERM,
//! or SIGKILL as a crash); and scratch directories. The raw protocol peer
//! is in `peer.rs`, the client run from a pipe in `script.rs`, the relay
//! that records or cuts a connection in `tap.rs`.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Every wait in these tests gives up after this long.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A running server, stopped (all clients get `BYE`) when dropped.
pub(crate) struct TestServer {
    server: Option<server::Server>,
}

impl TestServer {
    pub(crate) fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let server = server::Server::start(listener, server::Config::default()).expect("start");
        TestServer {
            server: Some(server),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    /// Stops the server now (every client gets `BYE`).
    pub(crate) fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh, empty directory under the system's temporary directory.
pub(crate) fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("chinwag-it-{}-{label}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The environment variable that turns this test binary into `chinwagd`.
const CHINWAGD_ARGS: &str = "CHINWAG_IT_CHINWAGD_ARGS";

/// Not a test: the entry point of [`ServerProcess`]. Run by a child copy
/// of this binary with `CHINWAG_IT_CHINWAGD_ARGS` set, it becomes
/// `chinwagd` with those arguments (the real command line, flags and all)
/// and never returns; in an ordinary run it does nothing.
#[test]
fn chinwagd_entry_point() {
    let Some(args) = std::env::var_os(CHINWAGD_ARGS) else {
        return;
    };
    let args = args.to_string_lossy().into_owned();
    let args = std::iter::once("chinwagd".to_owned()).chain(
        args.split('\u{1f}')
            .map(str::to_owned)
            .filter(|a| !a.is_empty()),
    );
    match server::cli::run_from(args) {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("chinwagd: {error:#}");
            std::process::exit(1);
        }
    }
}

/// `chinwagd`'s command line running in a child process: this test binary
/// run again as [`chinwagd_entry_point`], since `cargo test -p client`
/// builds no `chinwagd` binary. Killed on drop.
pub(crate) struct ServerProcess {
    child: Child,
    /// The plain listener.
    pub(crate) addr: SocketAddr,
    /// The TLS listener, when asked for.
    pub(crate) tls_addr: Option<SocketAddr>,
}

impl ServerProcess {
    /// Starts `chinwagd --bind 127.0.0.1:0 ARGS…` (without the `--bind`
    /// when ARGS has one: a restart on the same port) and waits for its
    /// `listening on` line (and `listening tls on` if `tls`).
    ///
    /// # Panics
    ///
    /// The server did not start; the message holds what it said.
    pub(crate) fn start(args: &[&str], tls: bool) -> ServerProcess {
        match ServerProcess::try_start(args, tls) {
            Ok(server) => server,
            Err(said) => panic!("chinwagd {args:?} did not start:\n{said}"),
        }
    }

    /// [`ServerProcess::start`], with what the server said on failure.
    fn try_start(args: &[&str], tls: bool) -> Result<ServerProcess, String> {
        let mut all = Vec::new();
        if !args.contains(&"--bind") {
            all.extend(["--bind", "127.0.0.1:0"]);
        }
        all.extend_from_slice(args);
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "harness::chinwagd_entry_point", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHINWAGD_ARGS, all.join("\u{1f}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chinwagd");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (lines_tx, lines) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Keep reading stderr (logs) so the server never blocks on it; keep
        // the start of it for the error report.
        let (err_tx, err_lines) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = err_tx.send(line);
            }
        });
        let mut addr = None;
        let mut tls_addr = None;
        while addr.is_none() || (tls && tls_addr.is_none()) {
            match lines.recv_timeout(TIMEOUT) {
                Ok(line) => {
                    // libtest's "test … ... " may start the first line.
                    let after = |marker: &str| {
                        line.find(marker)
                            .and_then(|at| line[at + marker.len()..].trim().parse().ok())
                    };
                    if let Some(at) = after("listening tls on ") {
                        tls_addr = Some(at);
                    } else if let Some(at) = after("listening on ") {
                        addr = Some(at);
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The child is gone, so its stderr ends and this ends.
                    let said: Vec<String> = err_lines.iter().take(20).collect();
                    return Err(said.join("\n"));
                }
            }
        }
        Ok(ServerProcess {
            child,
            addr: addr.expect("checked"),
            tls_addr,
        })
    }
}

impl ServerProcess {
    /// Sends SIGTERM (every client gets `BYE shutdown`) and waits for the
    /// server to exit, so its port and data directory are free again.
    pub(crate) fn terminate(&mut self) {
        self.signal("-TERM");
    }

    /// Sends SIGKILL, a crash: connections drop without a `BYE`.
    pub(crate) fn crash(&mut self) {
        self.signal("-KILL");
    }

    fn signal(&mut self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid}");
        // Polled: `wait` has no timeout, and a server that hung on exit
        // must fail the test rather than stall it.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(10));
                }
                other => {
                    let _ = self.child.kill();
                    panic!("chinwagd did not exit within {TIMEOUT:?} of kill {signal}: {other:?}");
                }
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
