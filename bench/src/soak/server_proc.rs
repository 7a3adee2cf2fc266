//! The server under test when the soak starts its own: this very binary
//! re-executed with the hidden `serve` subcommand, its `listening on` line
//! read from stdout, its stderr scanned for `ERROR`/`WARN` lines, and its
//! threads, descriptors and RSS read from `/proc`.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Runs the server in this process (the `serve` subcommand).
///
/// # Errors
///
/// The server failed to start.
pub(crate) fn serve(extra: Vec<String>) -> anyhow::Result<()> {
    let mut args = vec!["chinwagd".to_owned(), "--bind".into(), "127.0.0.1:0".into()];
    args.extend(extra);
    server::cli::run_from(args)
}

/// What the server wrote to stderr, in brief.
#[derive(Debug, Default)]
pub(crate) struct StderrSummary {
    pub(crate) n_errors: u64,
    pub(crate) n_warnings: u64,
    pub(crate) first: Vec<String>,
}

/// A started server.
pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
    stderr: Option<JoinHandle<StderrSummary>>,
}

impl ServerProcess {
    /// Starts the server with `flags` and waits for its address.
    ///
    /// # Errors
    ///
    /// It could not be started or did not print `listening on` in 10 s.
    pub(crate) fn start(flags: &[&str]) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let log_level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        // glibc gives busy threads arenas of their own (up to 8 per core),
        // and what those keep after a load peak depends on the peak, not on
        // the work done: up to +25 % RSS after a long run with no leak at
        // all. Two arenas keep the RSS figure a leak signal; a caller who
        // wants the default sets MALLOC_ARENA_MAX themselves.
        let arenas = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into());
        let mut child = Command::new(exe)
            .arg("serve")
            .args(flags)
            .env("RUST_LOG", log_level)
            .env("MALLOC_ARENA_MAX", arenas)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start the server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let stderr = std::thread::spawn(move || scan_stderr(stderr));
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr: Some(stderr),
        };
        let line = match receiver.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                server.stop();
                bail!("the server did not print `listening on` within 10 s");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_default();
        server.addr = addr
            .parse()
            .with_context(|| format!("unexpected first stdout line {line:?}"))?;
        Ok(server)
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL after 5 s. Returns the exit status and how
    /// long the server took to exit, and the stderr summary.
    pub(crate) fn stop(&mut self) -> (Option<ExitStatus>, Duration, StderrSummary) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let mut status = None;
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(exited)) = self.child.try_wait() {
                status = Some(exited);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let took = started.elapsed();
        let summary = self
            .stderr
            .take()
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default();
        (status, took, summary)
    }
}

fn scan_stderr(stderr: std::process::ChildStderr) -> StderrSummary {
    let mut summary = StderrSummary::default();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let is_error = line.contains(" ERROR ") || line.starts_with("ERROR");
        let is_warning = line.contains(" WARN ") || line.starts_with("WARN");
        summary.n_errors += u64::from(is_error);
        summary.n_warnings += u64::from(is_warning);
        if (is_error || is_warning) && summary.first.len() < 5 {
            summary.first.push(line);
        }
    }
    summary
}

/// Threads, open descriptors and resident memory of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) threads: u64,
    pub(crate) fds: u64,
    pub(crate) rss_kib: u64,
}

impl Usage {
    /// Reads `/proc/<pid>`; `None` if the process is gone.
    pub(crate) fn of(pid: u32) -> Option<Usage> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
        Some(Usage {
            threads: field("Threads:"),
            fds,
            rss_kib: field("VmRSS:"),
        })
    }

    /// The larger of each figure.
    pub(crate) fn max(self, other: Usage) -> Usage {
        Usage {
            threads: self.threads.max(other.threads),
            fds: self.fds.max(other.fds),
            rss_kib: self.rss_kib.max(other.rss_kib),
        }
    }
}
