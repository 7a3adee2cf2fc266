//! Our own chinwagd as a child process: this very binary re-executed with
//! the hidden subcommand `serve`, so the server is the same code and build;
//! its addresses read from its `listening on` line (and `listening tls on`
//! when it has `--tls-bind`); stopped with SIGTERM and, if it overstays,
//! SIGKILL (through the `kill` command: no `unsafe` here). Its stdin is a
//! pipe from us that it watches: when the pipe closes because we died
//! (even of SIGKILL, which leaves no chance to stop it), the server sends
//! itself SIGTERM, so no run leaves a server behind.

use std::io::Read as _;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The hidden subcommand both binaries answer by running chinwagd.
pub const SERVE: &str = "serve";
/// Set (to `1`) in the environment of a server we start: its stdin is our
/// pipe, to be watched.
const WATCH_PARENT: &str = "CHINWAG_BENCH_WATCH_PARENT";

/// Runs chinwagd in this process with `args` (the `serve` subcommand).
/// Started by [`OwnServer::start`], it also watches its stdin and sends
/// itself SIGTERM when the pipe closes (its parent is gone).
///
/// # Errors
///
/// The flags are wrong or the server failed.
pub fn serve(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    if std::env::var_os(WATCH_PARENT).is_some_and(|value| value == "1") {
        let _ = std::thread::Builder::new()
            .name("parent-watch".to_owned())
            .spawn(|| {
                let mut sink = [0u8; 64];
                // Nothing is ever written: the read returns at EOF.
                while let Ok(n) = std::io::stdin().lock().read(&mut sink) {
                    if n == 0 {
                        break;
                    }
                }
                signal(std::process::id(), "TERM");
            });
    }
    server::cli::run_from(std::iter::once("chinwagd".to_owned()).chain(args))
}

/// Sends signal `name` (`TERM`, `KILL`) to process `pid`; a process that
/// is already gone is not an error worth reporting.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Launch {
    /// chinwagd flags after `--bind 127.0.0.1:0`; `--data none` is added
    /// unless they say `--data` (a benchmark never touches the user's own
    /// data directory, and two runs never share one).
    pub flags: Vec<String>,
    /// Environment variables set for the server.
    pub env: Vec<(&'static str, String)>,
    /// Read stderr and count its `ERROR` and `WARN` lines instead of
    /// passing it through to ours.
    pub scan_stderr: bool,
    /// How long it may take to print `listening on`.
    pub start_timeout: Duration,
    /// How long it may take to exit after SIGTERM before it gets SIGKILL.
    pub stop_timeout: Duration,
}

/// What a cluster node logs at warn level when another node has left
/// without saying so (a node stopping cleanly says it at info level):
/// counted apart from the other warnings.
const NODE_GONE: &str = "a cluster node is gone";

/// What the server wrote to stderr, in brief.
#[derive(Debug, Default)]
pub struct StderrSummary {
    /// `ERROR` lines.
    pub n_errors: u64,
    /// `WARN` lines, but for those of [`StderrSummary::n_node_gone`].
    pub n_warnings: u64,
    /// `WARN` lines saying a cluster node is gone (one that vanished also
    /// closes connections, which the workloads count as failures).
    pub n_node_gone: u64,
    /// The first few `ERROR` and other `WARN` lines.
    pub first: Vec<String>,
}

impl StderrSummary {
    /// Adds `other`'s counts and lines (each line prefixed with `[tag]`).
    pub fn absorb(&mut self, other: StderrSummary, tag: Option<&str>) {
        self.n_errors += other.n_errors;
        self.n_warnings += other.n_warnings;
        self.n_node_gone += other.n_node_gone;
        for line in other.first {
            if self.first.len() < 5 {
                self.first.push(match tag {
                    Some(tag) => format!("[{tag}] {line}"),
                    None => line,
                });
            }
        }
    }
}

/// How the server ended.
#[derive(Debug)]
pub struct Stopped {
    /// Its exit status, `None` if it had to be killed.
    pub status: Option<ExitStatus>,
    /// From SIGTERM to its exit (or to SIGKILL).
    pub took: Duration,
    /// Its stderr, when [`Launch::scan_stderr`] was set.
    pub stderr: Option<StderrSummary>,
}

/// A running server of ours. Dropping it kills the server, so an error
/// on the way never leaves one behind.
#[derive(Debug)]
pub struct OwnServer {
    child: Child,
    /// Kept open while we live: the server stops when it closes.
    _stdin: Option<ChildStdin>,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    stop_timeout: Duration,
    stderr: Option<JoinHandle<StderrSummary>>,
}

impl OwnServer {
    /// Starts the server and waits for its address (and its TLS address
    /// when the flags say `--tls-bind`).
    ///
    /// # Errors
    ///
    /// It could not be started, did not print `listening on` (and
    /// `listening tls on`) in time, or printed something else first.
    pub fn start(launch: &Launch) -> anyhow::Result<OwnServer> {
        let exe = std::env::current_exe().context("cannot find this program to run the server")?;
        let stderr = if launch.scan_stderr {
            Stdio::piped()
        } else {
            Stdio::inherit()
        };
        let data: &[&str] = if launch.flags.iter().any(|flag| flag == "--data") {
            &[]
        } else {
            &["--data", "none"]
        };
        let mut child = Command::new(exe)
            .args([SERVE, "--bind", "127.0.0.1:0"])
            .args(data)
            .args(&launch.flags)
            .envs(launch.env.iter().map(|(key, value)| (key, value)))
            .env(WATCH_PARENT, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("cannot start the server")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("no server stdout")?;
        let stderr = child
            .stderr
            .take()
            .map(|stderr| std::thread::spawn(move || scan_stderr(stderr)));
        let mut server = OwnServer {
            child,
            _stdin: stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_addr: None,
            stop_timeout: launch.stop_timeout,
            stderr,
        };
        let wants_tls = launch.flags.iter().any(|flag| flag == "--tls-bind");
        let n_lines = if wants_tls { 2 } else { 1 };
        let (sender, receiver) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("server-stdout".to_owned())
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                let mut lines = Vec::new();
                for _ in 0..n_lines {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    lines.push(line);
                }
                let _ = sender.send(lines);
            })
            .context("cannot start a thread")?;
        let Ok(lines) = receiver.recv_timeout(launch.start_timeout) else {
            // Killing the server closes its stdout, which ends the reader.
            server.kill();
            let _ = reader.join();
            bail!(
                "the server did not print `listening on` within {:?}",
                launch.start_timeout
            );
        };
        let _ = reader.join();
        // On a bad line, `server` is dropped here, which kills it.
        let first = lines.first().map_or("", String::as_str);
        server.addr = address_after(first, "listening on ")
            .with_context(|| format!("unexpected first line from the server: {first:?}"))?;
        if wants_tls {
            let second = lines.get(1).map_or("", String::as_str);
            server.tls_addr =
                Some(address_after(second, "listening tls on ").with_context(|| {
                    format!("expected `listening tls on` from the server, got {second:?}")
                })?);
        }
        Ok(server)
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where TLS clients connect, when the server has `--tls-bind`.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL if it has not exited within the launch's
    /// `stop_timeout`.
    pub fn stop(&mut self) -> Stopped {
        let started = Instant::now();
        signal(self.pid(), "TERM");
        let mut status = None;
        while started.elapsed() < self.stop_timeout {
            if let Ok(Some(exited)) = self.child.try_wait() {
                status = Some(exited);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if status.is_none() {
            self.kill();
        }
        let took = started.elapsed();
        // The server has exited, so its stderr is closed and the scan ends.
        let stderr = self
            .stderr
            .take()
            .map(|handle| handle.join().unwrap_or_default());
        Stopped {
            status,
            took,
            stderr,
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        // After `stop` the child has been waited for: nothing to kill.
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Starts the `n` nodes of a cluster on the Redis at `redis_url`, named
/// `{prefix}1` to `{prefix}N`: `launch`'s flags plus `--cluster URL
/// --node-id NAME`. One after the other, as nodes must join: each has
/// joined once it prints `listening on`. A node that fails to start stops
/// the ones before it (they are dropped).
///
/// # Errors
///
/// A node did not start, as [`OwnServer::start`].
pub fn start_nodes(
    n: usize,
    launch: &Launch,
    redis_url: &str,
    prefix: &str,
) -> anyhow::Result<Vec<OwnServer>> {
    let mut nodes = Vec::with_capacity(n);
    for k in 1..=n {
        let mut node = launch.clone();
        let name = format!("{prefix}{k}");
        node.flags.extend([
            "--cluster".to_owned(),
            redis_url.to_owned(),
            "--node-id".to_owned(),
            name.clone(),
        ]);
        nodes.push(
            OwnServer::start(&node)
                .with_context(|| format!("cluster node {name} (of {n}) did not start"))?,
        );
    }
    Ok(nodes)
}

/// The address in `line` after `prefix` (`listening on 127.0.0.1:4000`).
fn address_after(line: &str, prefix: &str) -> Option<SocketAddr> {
    line.trim().strip_prefix(prefix)?.parse().ok()
}

fn scan_stderr(stderr: ChildStderr) -> StderrSummary {
    let mut summary = StderrSummary::default();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let is_error = line.contains(" ERROR ") || line.starts_with("ERROR");
        let mut is_warning = line.contains(" WARN ") || line.starts_with("WARN");
        if is_warning && line.contains(NODE_GONE) {
            summary.n_node_gone += 1;
            is_warning = false;
        }
        summary.n_errors += u64::from(is_error);
        summary.n_warnings += u64::from(is_warning);
        if (is_error || is_warning) && summary.first.len() < 5 {
            summary.first.push(line);
        }
    }
    summary
}
