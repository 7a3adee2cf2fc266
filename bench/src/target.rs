//! The server one workload runs against: an existing one (`--server
//! HOST:PORT`) or our own, started through [`OwnServer`] with flood
//! control and the naming timeout off so the server measured is not the
//! one throttling the load.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use chinwag_bench_lib::own_server::{Launch, OwnServer};

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
    own: Option<OwnServer>,
}

impl Target {
    /// Resolves the external server, or starts our own allowing
    /// `max_clients` connections.
    ///
    /// # Errors
    ///
    /// The address does not resolve, or our server does not start.
    pub(crate) fn open(options: &ServerOptions, max_clients: usize) -> anyhow::Result<Target> {
        if let Some(text) = &options.external {
            let addr = chinwag_bench_lib::resolve(text)?;
            return Ok(Target { addr, own: None });
        }
        let mut flags: Vec<String> = ["--flood-rate", "0", "--name-timeout", "0", "--max-clients"]
            .map(String::from)
            .into();
        flags.push(max_clients.to_string());
        flags.extend(options.extra_args.iter().cloned());
        let own = OwnServer::start(&Launch {
            flags,
            env: vec![("RUST_LOG", options.log.clone())],
            scan_stderr: false,
            start_timeout: START_TIMEOUT,
            stop_timeout: STOP_TIMEOUT,
        })?;
        Ok(Target {
            addr: own.addr(),
            own: Some(own),
        })
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's pid when the bench started it.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.own.as_ref().map(OwnServer::pid)
    }

    /// `"own"` or `"external"`, for the report.
    pub(crate) fn kind(&self) -> &'static str {
        if self.own.is_some() {
            "own"
        } else {
            "external"
        }
    }

    /// Stops our own server.
    ///
    /// # Errors
    ///
    /// It had to be killed, or exited unsuccessfully.
    pub(crate) fn stop(self) -> anyhow::Result<()> {
        let Some(mut own) = self.own else {
            return Ok(());
        };
        match own.stop().status {
            Some(status) if status.success() => Ok(()),
            Some(status) => bail!("the server exited with {status}"),
            None => {
                bail!("the server did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed")
            }
        }
    }
}
