//! The workloads about many idle users: `connect` (how fast N users get in
//! and what they cost the server in memory and threads) and `list` (how
//! long `/list` takes with N users online). Both end by timing `/list` from
//! one more client. In a cluster, `connect` reads the memory of every node
//! (each holds a copy of every user, and the connections of its own) and
//! of Redis (`used_memory`: the log every login was appended to).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use common::{OkReply, ServerLine};

use crate::json::JsonLine;
use crate::net::{Handler, Net};
use crate::setup::{Command, Register};
use crate::stats::median;
use crate::workloads::signin::PASSWORD;
use crate::workloads::{
    Context, Report, SETUP_CONCURRENCY, add_cpu, add_server, register, run_phase,
};
use chinwag_bench_lib::procfs::{CpuMeter, MemStatus, RssParts, mem_status, rss_parts};

/// Time between memory samples while the server settles.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Consecutive steady samples that mean the server has settled.
const STEADY_SAMPLES: usize = 3;
/// The longest the settling may take.
const SETTLE_MAX: Duration = Duration::from_secs(15);

// The parameters are the workloads' command-line flags too: their doc
// comments are the `--help` text.

/// Parameters of `connect`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ConnectParams {
    /// Users.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) clients: usize,
    /// Handshakes in flight at most.
    #[arg(long, default_value_t = 200)]
    pub(crate) concurrency: usize,
    /// Each user also registers its name (`/register`: one Argon2id hash
    /// on its connection's thread) before the memory is read.
    #[arg(long)]
    pub(crate) register: bool,
}

/// Parameters of `list`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ListParams {
    /// Users online.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) clients: usize,
    /// Times to ask.
    #[arg(long, default_value_t = 20)]
    pub(crate) reps: usize,
}

/// `connect`: N users connect and register, C handshakes at a time.
///
/// # Errors
///
/// The server cannot be started or reached.
pub(crate) fn connect(context: &Context, params: ConnectParams) -> anyhow::Result<Report> {
    let clients = params.clients.max(1);
    let target = context.target(clients + 1)?;
    let deadline = Instant::now() + context.timeout;
    let pids = target.pids();
    let before: Option<Vec<MemStatus>> = pids.iter().map(|&pid| mem_status(pid)).collect();
    let before_parts: Option<Vec<RssParts>> = pids.iter().map(|&pid| rss_parts(pid)).collect();
    let redis_before = target.redis_used_memory();
    let mut net = Net::new(target.endpoint())?;
    let names = (0..clients).map(|i| format!("c{i}")).collect();
    let mut users = Register::new(&net, names, params.concurrency);
    let cpu = CpuMeter::start(&target.watched());
    let started = Instant::now();
    net.run(&mut users, deadline)?;
    let took = users.finished.unwrap_or_else(Instant::now) - started;
    let cpu = cpu.stop();
    let registering = Instant::now();
    if params.register && users.failures.count == 0 {
        let line = format!("/register {PASSWORD}");
        let mut accounts = Command::new(users.base(), clients, &line, b"OK register ");
        run_phase(&mut net, &mut accounts, "registering", deadline, |c| {
            (c.done, clients, &c.failures)
        })?;
    }
    let registered_in = registering.elapsed().as_secs_f64();
    let settled = if pids.is_empty() {
        None
    } else {
        Some(settle(&mut net, &mut users, &pids, deadline)?)
    };
    let redis_after = target.redis_used_memory();
    let lists = time_lists(&mut net, 1, deadline);
    net.close_all();
    let info = target.info();
    target.stop()?;

    let secs = took.as_secs_f64();
    let failed = clients - users.welcomed;
    let mut json = JsonLine::default();
    json.str("workload", "connect")
        .int("clients", clients as u64)
        .int("concurrency", params.concurrency as u64)
        .bool("register", params.register);
    let mut summary = String::new();
    add_server(&mut json, &mut summary, &info);
    json.num("secs", secs)
        .num("connects_per_sec", users.welcomed as f64 / secs.max(1e-9))
        .int("failures", failed as u64);
    let _ = writeln!(
        summary,
        "{} of {clients} users registered in {secs:.2} s ({:.0}/s), {failed} failed",
        users.welcomed,
        users.welcomed as f64 / secs.max(1e-9)
    );
    if let Some(first) = &users.failures.first {
        json.str("first_failure", first);
        let _ = writeln!(summary, "first failure: {first}");
    }
    add_cpu(&mut json, &mut summary, &cpu);
    if params.register {
        json.num("register_s", registered_in);
        let _ = writeln!(
            summary,
            "then every user registered its name, in {registered_in:.2} s"
        );
    }
    add_memory(
        &mut json,
        &mut summary,
        before.as_deref(),
        settled.as_ref(),
        clients,
    );
    let after_parts: Option<Vec<RssParts>> = settled
        .as_ref()
        .and_then(|settled| settled.parts.iter().copied().collect());
    if let (Some(before), Some(after)) = (before_parts, after_parts) {
        add_parts(&mut json, &mut summary, &before, &after, clients);
    }
    if let (Some(before), Some(after)) = (redis_before, redis_after) {
        let per_user = after.saturating_sub(before) as f64 / clients as f64;
        json.int("redis_used_before", before)
            .int("redis_used_after", after)
            .num("redis_bytes_per_user", per_user);
        let _ = writeln!(
            summary,
            "redis used_memory {} -> {} KiB ({per_user:.0} bytes per user)",
            before / 1024,
            after / 1024
        );
    }
    let list_ok = add_lists(
        &mut json,
        &mut summary,
        &lists,
        users.welcomed + 1,
        info.kind,
    );
    Ok(Report::new(json, summary, failed == 0 && list_ok))
}

/// `list`: `/list` timed `reps` times with N users online.
///
/// # Errors
///
/// The server cannot be started or reached, or the users cannot register.
pub(crate) fn list(context: &Context, params: ListParams) -> anyhow::Result<Report> {
    let clients = params.clients.max(1);
    let target = context.target(clients + 1)?;
    let deadline = Instant::now() + context.timeout;
    let mut net = Net::new(target.endpoint())?;
    let names = (0..clients).map(|i| format!("l{i}")).collect();
    register(&mut net, names, SETUP_CONCURRENCY, deadline)?;
    let cpu = CpuMeter::start(&target.watched());
    let lists = time_lists(&mut net, params.reps.max(1), deadline);
    let cpu = cpu.stop();
    net.close_all();
    let info = target.info();
    target.stop()?;

    let mut json = JsonLine::default();
    json.str("workload", "list")
        .int("clients", clients as u64)
        .int("reps", params.reps as u64);
    let mut summary = String::new();
    add_server(&mut json, &mut summary, &info);
    let ok = add_lists(&mut json, &mut summary, &lists, clients + 1, info.kind);
    add_cpu(&mut json, &mut summary, &cpu);
    Ok(Report::new(json, summary, ok))
}

/// The server's memory once settled (each node's, in a cluster), where it
/// is, and how long settling took.
#[derive(Debug, Clone)]
struct Settled {
    status: Vec<MemStatus>,
    parts: Vec<Option<RssParts>>,
    secs: f64,
}

/// Keeps every client connected (and read) while sampling the memory of
/// the server's processes until none changes any more.
fn settle(
    net: &mut Net,
    users: &mut Register,
    pids: &[u32],
    deadline: Instant,
) -> anyhow::Result<Settled> {
    let read = || -> Option<Vec<MemStatus>> { pids.iter().map(|&pid| mem_status(pid)).collect() };
    let started = Instant::now();
    let limit = (started + SETTLE_MAX).min(deadline);
    let mut previous = read();
    let mut steady = 0;
    while steady < STEADY_SAMPLES && Instant::now() < limit {
        net.run_for(users, SAMPLE_EVERY)?;
        let current = read();
        steady = match (&previous, &current) {
            (Some(a), Some(b)) if a.iter().zip(b).all(|(&a, &b)| is_steady(a, b)) => steady + 1,
            _ => 0,
        };
        previous = current;
    }
    let Some(status) = previous else {
        bail!("cannot read /proc/PID/status of the server {pids:?}");
    };
    Ok(Settled {
        status,
        parts: pids.iter().map(|&pid| rss_parts(pid)).collect(),
        secs: started.elapsed().as_secs_f64(),
    })
}

/// Same thread count and resident memory within 0.2% (or 64 KiB).
fn is_steady(a: MemStatus, b: MemStatus) -> bool {
    let tolerance = (a.rss_kib / 500).max(64);
    a.threads == b.threads && a.rss_kib.abs_diff(b.rss_kib) <= tolerance
}

/// Adds the server's memory before and after; in a cluster, the sum over
/// the nodes (what a user costs the whole cluster) and then each node.
fn add_memory(
    json: &mut JsonLine,
    summary: &mut String,
    before: Option<&[MemStatus]>,
    after: Option<&Settled>,
    clients: usize,
) {
    let (Some(before), Some(after)) = (before, after) else {
        json.opt_num("kib_per_conn", None);
        summary.push_str("server memory: n/a (not started by the bench)\n");
        return;
    };
    let total = |statuses: &[MemStatus]| MemStatus {
        rss_kib: statuses.iter().map(|s| s.rss_kib).sum(),
        threads: statuses.iter().map(|s| s.threads).sum(),
    };
    let (sum_before, sum_after) = (total(before), total(&after.status));
    let grown = sum_after.rss_kib.saturating_sub(sum_before.rss_kib);
    let per_conn = grown as f64 / clients as f64;
    json.int("rss_before_kib", sum_before.rss_kib)
        .int("rss_after_kib", sum_after.rss_kib)
        .int("threads_before", sum_before.threads)
        .int("threads_after", sum_after.threads)
        .num("kib_per_conn", per_conn)
        .num("settle_s", after.secs);
    let nodes = before.len();
    let _ = writeln!(
        summary,
        "server RSS{} {} -> {} KiB ({per_conn:.1} KiB per connection), threads {} -> {} \
         (settled after {:.1} s)",
        if nodes > 1 { " (all nodes)" } else { "" },
        sum_before.rss_kib,
        sum_after.rss_kib,
        sum_before.threads,
        sum_after.threads,
        after.secs
    );
    if nodes < 2 {
        return;
    }
    for (k, (before, after)) in before.iter().zip(&after.status).enumerate() {
        let n = k + 1;
        let grown = after.rss_kib.saturating_sub(before.rss_kib);
        // Every node holds every user; its own connections are 1/N of them.
        let per_user = grown as f64 / clients as f64;
        json.int(&format!("node{n}_rss_before_kib"), before.rss_kib)
            .int(&format!("node{n}_rss_after_kib"), after.rss_kib)
            .int(&format!("node{n}_threads_after"), after.threads)
            .num(&format!("node{n}_kib_per_user"), per_user);
        let _ = writeln!(
            summary,
            "  node {n}: RSS {} -> {} KiB ({per_user:.1} KiB per user of the cluster), \
             threads {} -> {}",
            before.rss_kib, after.rss_kib, before.threads, after.threads
        );
    }
}

/// Adds where the growth per connection is: thread stacks, heap, the rest
/// (summed over the nodes of a cluster).
fn add_parts(
    json: &mut JsonLine,
    summary: &mut String,
    before: &[RssParts],
    after: &[RssParts],
    clients: usize,
) {
    let sum = |parts: &[RssParts]| RssParts {
        stacks_kib: parts.iter().map(|p| p.stacks_kib).sum(),
        heap_kib: parts.iter().map(|p| p.heap_kib).sum(),
        other_kib: parts.iter().map(|p| p.other_kib).sum(),
    };
    let (before, after) = (sum(before), sum(after));
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / clients as f64;
    let stacks = per(before.stacks_kib, after.stacks_kib);
    let heap = per(before.heap_kib, after.heap_kib);
    let other = per(before.other_kib, after.other_kib);
    json.num("stack_kib_per_conn", stacks)
        .num("heap_kib_per_conn", heap);
    let _ = writeln!(
        summary,
        "per connection: {stacks:.1} KiB of thread stacks, {heap:.1} KiB of heap, \
         {other:.1} KiB else (from smaps)"
    );
}

/// Adds the `/list` timings; true if every reply was complete and, on our
/// own server, counted `expected` users.
fn add_lists(
    json: &mut JsonLine,
    summary: &mut String,
    lists: &anyhow::Result<Vec<ListSample>>,
    expected: usize,
    kind: &str,
) -> bool {
    let samples = match lists {
        Ok(samples) if !samples.is_empty() => samples,
        Ok(_) => return false,
        Err(error) => {
            json.str("list_error", &format!("{error:#}"));
            let _ = writeln!(summary, "/list failed: {error:#}");
            return false;
        }
    };
    let mut totals: Vec<f64> = samples.iter().map(|s| s.total_ms).collect();
    let mut firsts: Vec<f64> = samples.iter().map(|s| s.first_ms).collect();
    let min = totals.iter().copied().fold(f64::INFINITY, f64::min);
    let max = totals.iter().copied().fold(0.0, f64::max);
    let median_total = median(&mut totals);
    let median_first = median(&mut firsts);
    let users = samples[0].count;
    json.num("list_ms", median_total)
        .num("list_min_ms", min)
        .num("list_max_ms", max)
        .num("list_first_line_ms", median_first)
        .int("list_users", users);
    let _ = writeln!(
        summary,
        "/list of {users} users: {median_total:.2} ms median (min {min:.2}, max {max:.2}, \
         {} runs); first line after {median_first:.2} ms",
        samples.len()
    );
    let complete = samples.iter().all(|s| s.count == s.lines);
    let counted = kind != "own" || samples.iter().all(|s| s.count == expected as u64);
    complete && counted
}

/// One timed `/list`.
#[derive(Debug, Clone, Copy)]
struct ListSample {
    /// From sending `/list` to its first reply line.
    first_ms: f64,
    /// From sending `/list` to its final `OK list` line.
    total_ms: f64,
    /// The count in `OK list`.
    count: u64,
    /// `USER` lines received.
    lines: u64,
}

/// Registers one more client and times `/list` `reps` times from it.
fn time_lists(net: &mut Net, reps: usize, deadline: Instant) -> anyhow::Result<Vec<ListSample>> {
    let lister = register(net, vec!["lister".to_owned()], 1, deadline)?.base();
    let mut timer = ListTimer {
        id: lister,
        reps,
        synced: false,
        sent_at: None,
        first_at: None,
        lines: 0,
        samples: Vec::new(),
        failure: None,
    };
    net.send(lister, b"/ping sync\n");
    let finished = net.run(&mut timer, deadline)?;
    if let Some(failure) = timer.failure {
        bail!("{failure}");
    }
    if !finished {
        bail!("timed out after {} of {reps} lists", timer.samples.len());
    }
    Ok(timer.samples)
}

/// Sends `/list`, waits for its `OK list`, and again. A `/ping` first
/// makes sure no greeting line is taken for part of the reply.
#[derive(Debug)]
struct ListTimer {
    id: usize,
    reps: usize,
    synced: bool,
    sent_at: Option<Instant>,
    first_at: Option<Instant>,
    lines: u64,
    samples: Vec<ListSample>,
    failure: Option<String>,
}

impl ListTimer {
    fn finish(&mut self, line: &[u8], now: Instant) {
        let count = match std::str::from_utf8(line).map(ServerLine::parse) {
            Ok(Ok(ServerLine::Ok(OkReply::List(count)))) => Some(count as u64),
            _ => None,
        };
        let (Some(count), Some(sent)) = (count, self.sent_at.take()) else {
            self.failure = Some(format!("bad reply {:?}", String::from_utf8_lossy(line)));
            return;
        };
        let first = self.first_at.take().unwrap_or(now);
        let ms = |t: Instant| (t - sent).as_secs_f64() * 1000.0;
        self.samples.push(ListSample {
            first_ms: ms(first),
            total_ms: ms(now),
            count,
            lines: std::mem::take(&mut self.lines),
        });
    }
}

impl Handler for ListTimer {
    fn on_line(&mut self, _net: &mut Net, id: usize, line: &[u8]) {
        if id != self.id {
            return;
        }
        let now = Instant::now();
        if !self.synced {
            self.synced = line == b"OK ping sync";
            return;
        }
        if self.sent_at.is_none() {
            return;
        }
        self.first_at.get_or_insert(now);
        // Tags by their bytes, and only the final line through the parser:
        // a reply has one line per user, and the clock is running.
        if line.starts_with(b"USER ") {
            self.lines += 1;
        } else if line.starts_with(b"OK list ") {
            self.finish(line, now);
        } else if line.starts_with(b"ERR ") || line.starts_with(b"BYE") {
            self.failure = Some(format!("/list got {:?}", String::from_utf8_lossy(line)));
        }
    }

    fn on_closed(&mut self, _net: &mut Net, id: usize, why: &str) {
        if id == self.id {
            self.failure = Some(format!("the lister's connection closed: {why}"));
        }
    }

    fn on_tick(&mut self, net: &mut Net, now: Instant) -> Option<Instant> {
        if self.synced && self.sent_at.is_none() && self.samples.len() < self.reps {
            net.send(self.id, b"/list\n");
            self.sent_at = Some(now);
        }
        None
    }

    fn is_done(&self) -> bool {
        self.failure.is_some() || self.samples.len() == self.reps
    }
}
