//! Test support: an in-process server on `127.0.0.1:0` that shuts down on
//! drop; `chinwagd`'s own command line in a child process, for flags the
//! in-process API does not take; a scripted fake server for what the real
//! one cannot be made to send; a raw TCP peer whose waits time out after
//! 30 s and print the transcript; running the client from a pipe; and
//! scratch directories.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

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

/// A user speaking the protocol over a raw socket.
pub(crate) struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: Vec<String>,
}

impl Peer {
    /// Connects and takes `name`, waiting for `WELCOME`.
    pub(crate) fn join(addr: SocketAddr, name: &str) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut peer = Peer {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
            transcript: Vec::new(),
        };
        peer.send(name);
        peer.expect(&format!("WELCOME {name}"));
        peer
    }

    pub(crate) fn send(&mut self, line: &str) {
        self.transcript.push(format!("> {line}"));
        write!(self.writer, "{line}\r\n").expect("send");
    }

    /// Reads lines until one starts with `prefix`; returns it.
    pub(crate) fn expect(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(n) if n > 0 => {
                    let line = line.trim_end().to_owned();
                    self.transcript.push(format!("< {line}"));
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                other => panic!(
                    "peer waited for {prefix:?} and got {other:?}; transcript:\n{}",
                    self.transcript.join("\n")
                ),
            }
        }
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

/// Runs `chinwag --server SERVER ARGS…` with `input` on stdin and these
/// extra environment variables; kills it and fails if it takes longer than
/// the timeout.
pub(crate) fn run_pipe(server: &str, args: &[&str], input: &str, envs: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .arg("--server")
        .arg(server)
        .args(args)
        .env_remove("CHINWAG_NAME")
        .env_remove("CHINWAG_PASSWORD")
        .env_remove("NO_COLOR")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chinwag");
    let mut stdin = child.stdin.take().expect("stdin");
    // A client that gives up before reading (a refused certificate) closes
    // its stdin: a broken pipe here is its business, told by its output.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let pid = child.id();
    let (done_tx, done) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done.recv_timeout(TIMEOUT) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("chinwag did not finish within {TIMEOUT:?} (input {input:?})");
        }
    }
}

/// stdout and stderr of a finished client, for assertions and reports.
pub(crate) fn outputs(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A server played by the test itself: it accepts one connection and runs
/// a script against it, for lines the real server cannot be made to send
/// (telnet bytes around a password before the server has sign-in, a
/// wrong password on demand).
pub(crate) struct FakeServer {
    addr: SocketAddr,
    script: Option<JoinHandle<Vec<String>>>,
}

/// The fake server's end of its one connection.
pub(crate) struct FakeConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Every line received, for the test to check afterwards.
    pub(crate) received: Vec<String>,
}

impl FakeConn {
    /// Sends raw bytes (lines need their own CRLF).
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("fake server send");
    }

    /// Reads one line (without CRLF); panics on end of stream or timeout.
    pub(crate) fn line(&mut self) -> String {
        let mut bytes = Vec::new();
        match self.reader.read_until(b'\n', &mut bytes) {
            Ok(n) if n > 0 => {
                let line = String::from_utf8_lossy(&bytes)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                self.received.push(line.clone());
                line
            }
            other => panic!(
                "fake server waited for a line and got {other:?}; received so far: {:?}",
                self.received
            ),
        }
    }

    /// Waits until the client closes the connection.
    pub(crate) fn until_closed(&mut self) {
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest);
    }
}

impl FakeServer {
    /// Listens on `127.0.0.1:0`; `script` runs on the first connection and
    /// its lines are returned by [`FakeServer::finish`].
    pub(crate) fn start(script: impl FnOnce(&mut FakeConn) + Send + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            let mut conn = FakeConn {
                reader: BufReader::new(stream.try_clone().expect("clone")),
                writer: stream,
                received: Vec::new(),
            };
            script(&mut conn);
            conn.received
        });
        FakeServer {
            addr,
            script: Some(script),
        }
    }

    pub(crate) fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Waits for the script to end; returns every line it received.
    pub(crate) fn finish(mut self) -> Vec<String> {
        match self.script.take().expect("finished once").join() {
            Ok(lines) => lines,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
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
    /// Starts `chinwagd --bind 127.0.0.1:0 ARGS…` and waits for its
    /// `listening on` line (and `listening tls on` if `tls`). `Err` carries
    /// what the server said when it did not start, e.g. that it does not
    /// know a flag yet.
    pub(crate) fn start(args: &[&str], tls: bool) -> Result<ServerProcess, String> {
        let mut all = vec!["--bind", "127.0.0.1:0"];
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

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
