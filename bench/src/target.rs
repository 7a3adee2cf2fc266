//! The server one workload runs against: an existing one (`--server
//! HOST:PORT`) or our own, started through [`OwnServer`] with flood
//! control and the naming timeout off so the server measured is not the
//! one throttling the load. Our own server may keep its data in a fresh
//! directory on disk (`--data-dir`, and always with `--tls`, whose
//! self-signed certificate the generator reads from there), removed
//! after the run.
//!
//! With `--cluster N`, "our own server" is N chinwagd nodes joined to one
//! private redis-server ([`OwnRedis`]), started one after the other with
//! the same flags; the generator then spreads its connections over the
//! nodes round-robin (see [`Endpoint`]). In a cluster the durable data
//! lives in Redis; a data directory (shared by the nodes) keeps only the
//! self-signed certificate of `--tls`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use chinwag_bench_lib::own_redis::OwnRedis;
use chinwag_bench_lib::own_server::{self, Launch, OwnServer, StderrSummary};
use chinwag_bench_lib::procfs::Watched;

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
    /// Our own server is a cluster of this many nodes on a private Redis.
    pub(crate) cluster: Option<usize>,
}

/// What `--cluster` with `--server` says.
pub(crate) const CLUSTER_WITH_SERVER: &str = "--cluster is not supported with --server: \
    --cluster starts its own redis-server and nodes; to measure a cluster of yours, \
    point --server at one of its nodes";

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
    /// (`none`: in memory; `external`: not ours; `redis`: a cluster's).
    pub(crate) data: String,
    /// Our server's nodes: 1, or N with `--cluster N` (0: not ours).
    pub(crate) nodes: usize,
}

/// The server one workload runs against.
#[derive(Debug)]
pub(crate) struct Target {
    endpoint: Endpoint,
    // Declared before `redis` and `data`: a server dropped on an error is
    // killed before Redis stops and its directory is removed.
    /// Our server, or a cluster's nodes in the order they joined.
    own: Vec<OwnServer>,
    redis: Option<OwnRedis>,
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
            if options.cluster.is_some() {
                bail!("{CLUSTER_WITH_SERVER}");
            }
            let addr = chinwag_bench_lib::resolve(text)?;
            let tls = match (options.tls, &options.tls_trust) {
                (false, _) => None,
                (true, Some(path)) => Some(TlsClient::trusting(path)?),
                (true, None) => bail!("--tls with --server needs --tls-trust CERT.pem"),
            };
            return Ok(Target {
                endpoint: Endpoint {
                    addrs: vec![addr],
                    tls,
                },
                own: Vec::new(),
                redis: None,
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
        let launch = Launch {
            flags,
            env: vec![("RUST_LOG", options.log.clone())],
            scan_stderr: needs.scan_log,
            start_timeout: START_TIMEOUT,
            stop_timeout: STOP_TIMEOUT,
        };
        let (own, redis) = match options.cluster {
            None => (vec![OwnServer::start(&launch)?], None),
            Some(n) => {
                let redis = OwnRedis::start()?;
                let nodes = own_server::start_nodes(n, &launch, &redis.url(), NODE_PREFIX)?;
                (nodes, Some(redis))
            }
        };
        let tls = match (&dir, options.tls) {
            (Some(dir), true) => Some(TlsClient::trusting(&Path::new(dir).join(SELF_SIGNED_CERT))?),
            _ => None,
        };
        let addrs = own
            .iter()
            .map(|node| match tls {
                Some(_) => node.tls_addr().context("no TLS address"),
                None => Ok(node.addr()),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let data_note = match (&dir, &redis) {
            (_, Some(redis)) => format!("redis ({})", redis.addr()),
            (Some(dir), None) => format!("{dir} ({})", filesystem_of(Path::new(dir))),
            (None, None) => "none".to_owned(),
        };
        Ok(Target {
            endpoint: Endpoint { addrs, tls },
            own,
            redis,
            data,
            data_note,
        })
    }

    /// Where clients connect, and how.
    pub(crate) fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    /// Our server's processes, one per node (empty: not ours).
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.own.iter().map(OwnServer::pid).collect()
    }

    /// What a CPU meter reads: our nodes and our Redis.
    pub(crate) fn watched(&self) -> Watched {
        Watched {
            servers: self.pids(),
            redis: self.redis.as_ref().map(OwnRedis::pid),
            redis_addr: self.redis.as_ref().map(OwnRedis::addr),
        }
    }

    /// `used_memory` of our Redis, in a cluster.
    pub(crate) fn redis_used_memory(&self) -> Option<u64> {
        self.redis.as_ref().and_then(OwnRedis::used_memory)
    }

    /// `"own"` or `"external"`, for the report.
    pub(crate) fn kind(&self) -> &'static str {
        if self.own.is_empty() {
            "external"
        } else {
            "own"
        }
    }

    /// What the report says about the server.
    pub(crate) fn info(&self) -> TargetInfo {
        TargetInfo {
            kind: self.kind(),
            tls: self.endpoint.tls.is_some(),
            data: self.data_note.clone(),
            nodes: self.own.len(),
        }
    }

    /// Stops our own server, every node of it (then Redis, then removes
    /// the temporary data directory).
    ///
    /// # Errors
    ///
    /// A node had to be killed, or exited unsuccessfully.
    pub(crate) fn stop(self) -> anyhow::Result<Ended> {
        let Target {
            own, redis, data, ..
        } = self;
        if own.is_empty() {
            return Ok(Ended::default());
        }
        let cluster = redis.is_some();
        let mut log: Option<StderrSummary> = None;
        let mut trouble = Vec::new();
        for (k, mut node) in own.into_iter().enumerate() {
            let which = if cluster {
                format!("node {NODE_PREFIX}{}", k + 1)
            } else {
                "the server".to_owned()
            };
            let stopped = node.stop();
            if let Some(stderr) = stopped.stderr {
                let tag = cluster.then(|| format!("{NODE_PREFIX}{}", k + 1));
                log.get_or_insert_with(StderrSummary::default)
                    .absorb(stderr, tag.as_deref());
            }
            match stopped.status {
                Some(status) if status.success() => {}
                Some(status) => trouble.push(format!("{which} exited with {status}")),
                None => trouble.push(format!(
                    "{which} did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed"
                )),
            }
        }
        if let Some(redis) = redis
            && !redis.stop()
        {
            trouble.push("the private redis-server did not stop and was killed".to_owned());
        }
        // After SIGTERM everything accepted is on disk.
        let data_bytes = data
            .as_ref()
            .filter(|_| !cluster)
            .map(|dir| bytes_in(dir.path()));
        drop(data);
        if !trouble.is_empty() {
            bail!("{}", trouble.join("; "));
        }
        Ok(Ended { log, data_bytes })
    }
}

/// Node names in a cluster: `bench1`, `bench2`, …
const NODE_PREFIX: &str = "bench";

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
