//! The workloads, one function each, and what they share: the run context,
//! the report (one JSON line plus a readable summary) and the setup steps
//! every workload begins with.

pub(crate) mod crowd;
pub(crate) mod guessers;
pub(crate) mod messages;
pub(crate) mod rooms;
pub(crate) mod signin;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::json::JsonLine;
use crate::net::{Handler, Net};
use crate::setup::{Failures, Register};
use crate::target::{Needs, ServerOptions, Target, TargetInfo};
use chinwag_bench_lib::own_server::StderrSummary;
use chinwag_bench_lib::procfs::CpuUse;

/// Connection handshakes in flight while a message workload sets up.
pub(crate) const SETUP_CONCURRENCY: usize = 256;
/// Connections beyond a workload's own that our server allows.
const SPARE_CLIENTS: usize = 16;

/// What every workload is given.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The server to use or start.
    pub(crate) server: ServerOptions,
    /// The longest any setup (connecting, registering, pairing) may take.
    pub(crate) timeout: Duration,
}

impl Context {
    /// Opens the target for `clients` connections plus spares.
    ///
    /// # Errors
    ///
    /// As [`Target::open`].
    pub(crate) fn target(&self, clients: usize) -> anyhow::Result<Target> {
        self.target_with(Needs {
            clients,
            ..Needs::default()
        })
    }

    /// Opens the target as `needs` asks, with spare connections.
    ///
    /// # Errors
    ///
    /// As [`Target::open`].
    pub(crate) fn target_with(&self, needs: Needs) -> anyhow::Result<Target> {
        let clients = needs.clients + SPARE_CLIENTS;
        Target::open(&self.server, &Needs { clients, ..needs })
    }
}

/// The outcome of one workload.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// The JSON line.
    pub(crate) json: String,
    /// The readable summary.
    pub(crate) summary: String,
    /// False if anything was lost, duplicated, reordered or failed.
    pub(crate) ok: bool,
}

impl Report {
    /// A report from its JSON fields and summary; `ok` is added to both.
    pub(crate) fn new(mut json: JsonLine, summary: String, ok: bool) -> Report {
        json.bool("ok", ok);
        let verdict = if ok { "OK" } else { "FAILED" };
        Report {
            json: json.finish(),
            summary: format!("{summary}result: {verdict}\n"),
            ok,
        }
    }

    /// The report of a workload that could not run at all.
    pub(crate) fn failed(workload: &str, error: &anyhow::Error) -> Report {
        let mut json = JsonLine::default();
        json.str("workload", workload)
            .str("error", &format!("{error:#}"));
        Report::new(json, format!("{workload}: {error:#}\n"), false)
    }
}

/// Registers one client per name, failing unless all were welcomed.
///
/// # Errors
///
/// A client failed to connect or register, or the deadline passed.
pub(crate) fn register(
    net: &mut Net,
    names: Vec<String>,
    concurrency: usize,
    deadline: Instant,
) -> anyhow::Result<Register> {
    let count = names.len();
    let mut register = Register::new(net, names, concurrency);
    let finished = net.run(&mut register, deadline)?;
    check_phase(
        "registering",
        finished,
        register.welcomed,
        count,
        &register.failures,
    )?;
    Ok(register)
}

/// Runs a setup `phase` and fails unless all `expected` clients made it.
///
/// # Errors
///
/// The deadline passed or some client failed.
pub(crate) fn run_phase<H: Handler>(
    net: &mut Net,
    phase: &mut H,
    what: &str,
    deadline: Instant,
    progress: impl Fn(&H) -> (usize, usize, &Failures),
) -> anyhow::Result<()> {
    let finished = net.run(phase, deadline)?;
    let (done, expected, failures) = progress(phase);
    check_phase(what, finished, done, expected, failures)
}

fn check_phase(
    what: &str,
    finished: bool,
    done: usize,
    expected: usize,
    failures: &Failures,
) -> anyhow::Result<()> {
    if failures.count > 0 {
        bail!(
            "{what}: {} of {expected} clients failed (first: {})",
            failures.count,
            failures.first.as_deref().unwrap_or("?")
        );
    }
    if !finished || done < expected {
        bail!("{what}: only {done} of {expected} clients done before the timeout");
    }
    Ok(())
}

/// Adds the CPU fields (seconds and percent of one core) to `json` and
/// `summary`: the generator's, the server's (in a cluster: all nodes
/// together, then each node with its applier and writer threads) and, in
/// a cluster, Redis's.
pub(crate) fn add_cpu(json: &mut JsonLine, summary: &mut String, cpu: &CpuUse) {
    let percent = |seconds: Option<f64>| seconds.map(|s| 100.0 * s / cpu.wall.max(1e-9));
    json.opt_num("bench_cpu_s", cpu.bench)
        .opt_num("server_cpu_s", cpu.server)
        .opt_num("bench_cpu_pct", percent(cpu.bench))
        .opt_num("server_cpu_pct", percent(cpu.server));
    let show = |seconds: Option<f64>| match seconds {
        Some(s) => format!(
            "{s:.2} s ({:.0}% of a core)",
            100.0 * s / cpu.wall.max(1e-9)
        ),
        None => "n/a".to_owned(),
    };
    let cluster = cpu.nodes.len() > 1 || cpu.redis.is_some();
    let _ = writeln!(
        summary,
        "cpu over {:.2} s: generator {}, server {}{}",
        cpu.wall,
        show(cpu.bench),
        if cluster { "(all nodes) " } else { "" },
        show(cpu.server)
    );
    if !cluster {
        return;
    }
    json.opt_num("redis_cpu_s", cpu.redis)
        .opt_num("redis_cpu_pct", percent(cpu.redis));
    let _ = writeln!(summary, "  redis-server {}", show(cpu.redis));
    for (k, node) in cpu.nodes.iter().enumerate() {
        let n = k + 1;
        json.opt_num(&format!("node{n}_cpu_pct"), percent(node.total))
            .opt_num(&format!("node{n}_applier_cpu_pct"), percent(node.applier))
            .opt_num(&format!("node{n}_writer_cpu_pct"), percent(node.writer));
        let _ = writeln!(
            summary,
            "  node {n}: {}; its applier thread {}, its writer thread {}",
            show(node.total),
            show(node.applier),
            show(node.writer)
        );
    }
}

/// Adds which server ran, whether over TLS, and where it kept its data.
pub(crate) fn add_server(json: &mut JsonLine, summary: &mut String, info: &TargetInfo) {
    json.str("server", info.kind)
        .bool("tls", info.tls)
        .str("data", &info.data)
        .int("nodes", info.nodes as u64);
    let cluster = if info.nodes > 1 {
        format!(
            ", a cluster of {} nodes on one private redis-server; connection k on node k mod N, \
             so the two users of every pair are on different nodes",
            info.nodes
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        summary,
        "server: {}{cluster}{}, data: {}",
        info.kind,
        if info.tls { ", over TLS" } else { "" },
        info.data
    );
}

/// ", and N saying a cluster node is gone" when there are such log
/// lines (a node that left without saying so).
pub(crate) fn node_gone_note(log: &StderrSummary) -> String {
    if log.n_node_gone == 0 {
        return String::new();
    }
    format!(
        ", and {} saying a cluster node is gone (one left without saying so)",
        log.n_node_gone
    )
}
