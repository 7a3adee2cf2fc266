//! The server under test: an existing one (`--server HOST:PORT`) or our own
//! `chinwagd`, started by re-executing this binary with the hidden `serve`
//! subcommand so it is the very same code and build, and stopped with
//! SIGTERM (through the `kill` command: this crate has no `unsafe`).

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long our own server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long it may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How the bench reaches and, maybe, owns the server.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerOptions {
    /// `HOST:PORT` of an existing server.
    pub(crate) external: Option<String>,
    /// `RUST_LOG` for our own server.
    pub(crate) log: String,
    /// Extra `chinwagd` flags for our own server.
    pub(crate) extra_args: Vec<String>,
}

/// The server one workload runs against.
#[derive(Debug)]
pub(crate) struct Target {
    addr: SocketAddr,
    child: Option<Child>,
}

impl Target {
    /// Resolves the external server, or starts our own allowing
    /// `max_clients` connections.
    ///
    /// # Errors
    ///
    /// The address does not resolve, or our server does not start.
    pub(crate) fn open(options: &ServerOptions, max_clients: usize) -> anyhow::Result<Target> {
        match &options.external {
            Some(text) => {
                let addr = text
                    .to_socket_addrs()
                    .with_context(|| format!("cannot resolve {text}"))?
                    .next()
                    .with_context(|| format!("{text} resolves to nothing"))?;
                Ok(Target { addr, child: None })
            }
            None => start_own(options, max_clients),
        }
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's pid when the bench started it.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `"own"` or `"external"`, for the report.
    pub(crate) fn kind(&self) -> &'static str {
        if self.child.is_some() {
            "own"
        } else {
            "external"
        }
    }

    /// Stops our own server: SIGTERM, then SIGKILL if it has not exited
    /// within [`STOP_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// It had to be killed, or exited unsuccessfully.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!("the server exited with {status}");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        bail!("the server did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_own(options: &ServerOptions, max_clients: usize) -> anyhow::Result<Target> {
    let exe = std::env::current_exe().context("cannot find this program to run the server")?;
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .args([
            "--bind",
            "127.0.0.1:0",
            "--flood-rate",
            "0",
            "--name-timeout",
            "0",
        ])
        .arg("--max-clients")
        .arg(max_clients.to_string())
        .args(&options.extra_args)
        .env("RUST_LOG", &options.log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().context("cannot start the server")?;
    let stdout = child.stdout.take().context("no server stdout")?;
    let (sender, receiver) = mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("server-stdout".to_owned())
        .spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        })
        .context("cannot start a thread")?;
    let line = match receiver.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            // Killing the child closes its stdout, which ends the reader.
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            bail!("the server did not print `listening on` within {START_TIMEOUT:?}");
        }
    };
    let _ = reader.join();
    let mut target = Target {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        child: Some(child),
    };
    // On a bad line, `target` is dropped here, which kills the child.
    target.addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .with_context(|| format!("unexpected first line from the server: {line:?}"))?;
    Ok(target)
}
