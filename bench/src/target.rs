//! The server one workload runs against: an existing one (`--server
//! HOST:PORT`) or our own, started through [`OwnServer`] with flood
//! control and the naming timeout off so the server measured is not the
//! one throttling the load. Our own server may keep its data in a fresh
//! directory on disk (`--data-dir`, and always with `--tls`, whose
//! self-signed certificate the generator reads from there), removed
//! after the run.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use chinwag_bench_lib::own_server::{Launch, OwnServer, StderrSummary};

use crate::net::Endpoint;
use crate::tls::{SELF_SIGNED_CERT, TlsClient};

/// How long our own server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long it may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How the bench reaches and, maybe, owns the server.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerOptions {
    /// `HOST:PORT` of an existing server (its TLS port, with `tls`).
    pub(crate) external: Option<String>,
    /// `RUST_LOG` for our own server.
    pub(crate) log: String,
    /// Extra `chinwagd` flags for our own server.
    pub(crate) extra_args: Vec<String>,
    /// Our own server keeps its data in a fresh directory on disk.
    pub(crate) data_dir: bool,
    /// Every connection speaks TLS.
    pub(crate) tls: bool,
    /// The certificate to trust on an external TLS server.
    pub(crate) tls_trust: Option<PathBuf>,
}

/// What a workload needs of our own server beyond the common flags.
#[derive(Debug, Clone, Default)]
pub(crate) struct Needs {
    /// Connections it must allow.
    pub(crate) clients: usize,
    /// chinwagd flags the workload depends on (before the user's own).
    pub(crate) flags: Vec<String>,
    /// Count the server's log lines instead of passing them through
    /// (a workload that makes it log a warning per request).
    pub(crate) scan_log: bool,
}

/// What the report says about the server.
#[derive(Debug, Clone)]
pub(crate) struct TargetInfo {
    /// `"own"` or `"external"`.
    pub(crate) kind: &'static str,
    /// The connections spoke TLS.
    pub(crate) tls: bool,
    /// Where our server kept its data, with the file system's type
    /// (`none`: in memory; `external`: not ours).
    pub(crate) data: String,
}

/// The server one workload runs against.
#[derive(Debug)]
pub(crate) struct Target {
    endpoint: Endpoint,
    // Declared before `data`: a server dropped on an error is killed
    // before its directory is removed.
    own: Option<OwnServer>,
    data: Option<tempfile::TempDir>,
    data_note: String,
}

impl Target {
    /// Resolves the external server, or starts our own as `needs` asks.
    ///
    /// # Errors
    ///
    /// The address does not resolve, our server does not start, or the
    /// certificate to trust cannot be read.
    pub(crate) fn open(options: &ServerOptions, needs: &Needs) -> anyhow::Result<Target> {
        if let Some(text) = &options.external {
            let addr = chinwag_bench_lib::resolve(text)?;
            let tls = match (options.tls, &options.tls_trust) {
                (false, _) => None,
                (true, Some(path)) => Some(TlsClient::trusting(path)?),
                (true, None) => bail!("--tls with --server needs --tls-trust CERT.pem"),
            };
            return Ok(Target {
                endpoint: Endpoint { addr, tls },
                own: None,
                data: None,
                data_note: "external".to_owned(),
            });
        }
        let mut flags: Vec<String> = ["--flood-rate", "0", "--name-timeout", "0", "--max-clients"]
            .map(String::from)
            .into();
        flags.push(needs.clients.to_string());
        flags.extend(needs.flags.iter().cloned());
        flags.extend(options.extra_args.iter().cloned());
        let given_dir = flag_value(&flags, "--data").filter(|dir| dir != "none");
        let data = if given_dir.is_none() && (options.data_dir || options.tls) {
            // Private, as chinwagd wants its data directory (else it warns).
            let dir = tempfile::Builder::new()
                .prefix("chinwag-bench-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .context("cannot make a data directory")?;
            flags.push("--data".to_owned());
            flags.push(dir.path().display().to_string());
            Some(dir)
        } else {
            None
        };
        let dir = given_dir.or_else(|| data.as_ref().map(|dir| dir.path().display().to_string()));
        if options.tls {
            flags.extend(["--tls-bind", "127.0.0.1:0", "--tls-self-signed"].map(String::from));
        }
        let own = OwnServer::start(&Launch {
            flags,
            env: vec![("RUST_LOG", options.log.clone())],
            scan_stderr: needs.scan_log,
            start_timeout: START_TIMEOUT,
            stop_timeout: STOP_TIMEOUT,
        })?;
        let tls = match (&dir, options.tls) {
            (Some(dir), true) => Some(TlsClient::trusting(&Path::new(dir).join(SELF_SIGNED_CERT))?),
            _ => None,
        };
        let addr = match tls {
            Some(_) => own.tls_addr().context("no TLS address")?,
            None => own.addr(),
        };
        let data_note = match &dir {
            Some(dir) => format!("{dir} ({})", filesystem_of(Path::new(dir))),
            None => "none".to_owned(),
        };
        Ok(Target {
            endpoint: Endpoint { addr, tls },
            own: Some(own),
            data,
            data_note,
        })
    }

    /// Where clients connect, and how.
    pub(crate) fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
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

    /// What the report says about the server.
    pub(crate) fn info(&self) -> TargetInfo {
        TargetInfo {
            kind: self.kind(),
            tls: self.endpoint.tls.is_some(),
            data: self.data_note.clone(),
        }
    }

    /// Stops our own server (then removes its temporary data directory).
    ///
    /// # Errors
    ///
    /// It had to be killed, or exited unsuccessfully.
    pub(crate) fn stop(self) -> anyhow::Result<Ended> {
        let Target { own, data, .. } = self;
        let Some(mut own) = own else {
            return Ok(Ended::default());
        };
        let stopped = own.stop();
        // After SIGTERM everything accepted is on disk.
        let data_bytes = data.as_ref().map(|dir| bytes_in(dir.path()));
        drop(data);
        let ended = Ended {
            log: stopped.stderr,
            data_bytes,
        };
        match stopped.status {
            Some(status) if status.success() => Ok(ended),
            Some(status) => bail!("the server exited with {status}"),
            None => {
                bail!("the server did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed")
            }
        }
    }
}

/// What is left of our server once it stopped.
#[derive(Debug, Default)]
pub(crate) struct Ended {
    /// Its log, in brief, when [`Needs::scan_log`] asked for it.
    pub(crate) log: Option<StderrSummary>,
    /// Bytes in its temporary data directory at the end.
    pub(crate) data_bytes: Option<u64>,
}

/// Bytes in the files of directory `dir` (not its subdirectories).
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|entry| entry.ok()?.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|meta| meta.len())
            .sum()
    })
}

/// The value after the last `flag` in `flags`.
fn flag_value(flags: &[String], flag: &str) -> Option<String> {
    let at = flags.iter().rposition(|f| f == flag)?;
    flags.get(at + 1).cloned()
}

/// The type of the file system holding `path` (`ext4`, `tmpfs`, …), from
/// `/proc/mounts`: the mount point that is the longest prefix of the path.
fn filesystem_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown file system".to_owned(), |(_, kind)| kind)
}
