//! `chinwag-soak`: many clients doing random valid and invalid things to
//! chinwagd for a while (`chinwag-soak --clients 100 --secs 60`), with the
//! protocol's promises checked all along (delivery exactly once and in order,
//! exact replies, no ghosts in `/list`, no line from a sender the receiver
//! ignores, exactly one operator per non-empty room) and the server's
//! threads, descriptors and memory checked for leaks at the end. With `--cluster N`
//! the server is N chinwagd nodes on a private redis-server, and the
//! clients' connections go to the nodes in turn.

mod accounts;
mod actions;
mod away;
mod client;
mod clock;
mod finale;
mod history;
mod ignores;
mod ledger;
mod manners;
mod model;
mod moderation;
mod operators;
mod payload;
mod replies;
mod report;
mod restart;
mod rng;
mod room;
mod session;
mod usage;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chinwag_bench_lib::own_redis::{self, OwnRedis};
use chinwag_bench_lib::own_server::{self, Launch, OwnServer, StderrSummary};
use chinwag_bench_lib::procfs;
use clap::Parser;

use crate::ledger::Ledger;
use crate::report::Report;
use crate::session::Shared;
use crate::usage::Usage;

/// After the run's end, the soak gives up (and kills its server) if it has
/// not finished within this.
const HARD_GRACE: Duration = Duration::from_secs(60);
/// …and this much more for each cluster node beyond the first (each has
/// its stacks warmed in turn; see `finale::deepen_stacks`).
const HARD_GRACE_PER_NODE: Duration = Duration::from_secs(15);

/// chinwag-soak: a long randomised run against chinwagd with invariant checks.
#[derive(Debug, Parser)]
#[command(name = "chinwag-soak", version, about, long_about = None)]
struct Args {
    /// Clients acting at once (each reconnects after every disconnect).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds to run before every client quits.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Seed for the clients' random choices (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Use this running server instead of starting one (no leak checks).
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Instead of one server, start a private redis-server and N chinwagd
    /// nodes joined to it, and spread the clients' connections over the
    /// nodes in turn; the same checks hold, the leak check on every node.
    /// The data-directory restart check is single-node and is skipped.
    /// Not with `--server`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=64))]
    cluster: Option<u16>,
}

/// What `--cluster` with `--server` says.
const CLUSTER_WITH_SERVER: &str = "--cluster is not supported with --server: --cluster \
    starts its own redis-server and nodes; to soak a cluster of yours, point --server at \
    one of its nodes";

/// Exit status: 0 if no violation, 1 if any, 2 if the soak itself failed,
/// 3 if it overran `--secs` + [`HARD_GRACE`] (+ [`HARD_GRACE_PER_NODE`]
/// for each node of a cluster beyond the first; the watchdog kills the
/// server). `chinwag-soak serve …` is the server the soak starts, and
/// `chinwag-soak redis-guard` the guard of its Redis, with `--cluster`.
fn main() {
    let mut args = std::env::args();
    match args.nth(1).as_deref() {
        Some(own_server::SERVE) => {
            if let Err(error) = own_server::serve(args) {
                eprintln!("chinwag-soak serve: {error:#}");
                std::process::exit(1);
            }
            return;
        }
        Some(own_redis::REDIS_GUARD) => {
            if let Err(error) = own_redis::guard() {
                eprintln!("chinwag-soak redis-guard: {error:#}");
                std::process::exit(1);
            }
            return;
        }
        _ => {}
    }
    match run(Args::parse()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("chinwag-soak: {error:#}");
            std::process::exit(2);
        }
    }
}

/// The servers the soak runs against: ours (one, or the nodes of a
/// cluster and their Redis) or someone else's.
struct Servers {
    /// Our server, or the cluster's nodes in the order they joined.
    // Declared before `redis`: nodes dropped on an error are killed
    // before Redis stops.
    own: Vec<OwnServer>,
    redis: Option<OwnRedis>,
    addrs: Vec<SocketAddr>,
}

impl Servers {
    fn open(args: &Args) -> anyhow::Result<Servers> {
        if let Some(text) = &args.server {
            if args.cluster.is_some() {
                anyhow::bail!("{CLUSTER_WITH_SERVER}");
            }
            return Ok(Servers {
                own: Vec::new(),
                redis: None,
                addrs: vec![chinwag_bench_lib::resolve(text)?],
            });
        }
        let launch = server_launch();
        let (own, redis) = match args.cluster {
            None => (vec![OwnServer::start(&launch)?], None),
            Some(n) => {
                let redis = OwnRedis::start()?;
                let url = redis.url();
                let nodes = own_server::start_nodes(usize::from(n), &launch, &url, "soak")?;
                (nodes, Some(redis))
            }
        };
        let addrs = own.iter().map(OwnServer::addr).collect();
        Ok(Servers { own, redis, addrs })
    }

    fn pids(&self) -> Vec<u32> {
        self.own.iter().map(OwnServer::pid).collect()
    }

    fn is_cluster(&self) -> bool {
        self.redis.is_some()
    }

    /// How node `k` is called in the report.
    fn name(&self, k: usize) -> String {
        if self.is_cluster() {
            format!("node soak{}", k + 1)
        } else {
            "server".to_owned()
        }
    }
}

/// Runs the soak; true if no invariant was violated. The run has two
/// phases of the same workload: the first half of `--secs` warms the
/// server up, then every client leaves and the leak baseline is taken; the
/// rest is the main phase.
fn run(args: Args) -> anyhow::Result<bool> {
    chinwag_bench_lib::raise_fd_limit();
    clock::start();
    let seed = args.seed.unwrap_or_else(clock_seed);
    let started = Instant::now();
    let mut servers = Servers::open(&args)?;
    let pids = servers.pids();
    let extra_nodes = pids.len().saturating_sub(1) as u32;
    let limit = Duration::from_secs(args.secs) + HARD_GRACE + HARD_GRACE_PER_NODE * extra_nodes;
    spawn_watchdog(pids.clone(), limit);
    let ledger = Arc::new(Ledger::default());
    let shared = Arc::new(Shared {
        addrs: servers.addrs.clone(),
        sentinel: "Sentinel".into(),
        own_server: !servers.own.is_empty(),
        ledger: Arc::clone(&ledger),
        opened: AtomicUsize::new(0),
    });
    let cold: Option<Vec<Usage>> = pids.iter().map(|&pid| usage::baseline(pid)).collect();
    // The first half of the run warms the server up (allocator arenas,
    // glibc's cache of thread stacks) under the same checks; the baseline
    // for the leak check is taken once its clients have all left. Half,
    // not less: room history keeps lines from all over the heap alive, so
    // the heap reaches its working size only after half a minute or so
    // (in a fifth of a minute, 2 MB short of it).
    let warm_secs = (args.secs / 2).clamp(3.min(args.secs), 150);
    let warm_peak = run_clients(&shared, 'w', args.clients, warm_secs, seed, &pids);
    let baseline: Option<Vec<Usage>> = cold.as_ref().and_then(|cold| {
        // As many threads as the run can have at once on one node (clients,
        // the sentinel, the finale's four, spares), each with a password
        // check behind it; in a cluster each node in turn, as all clients
        // may be on one.
        for (k, addr) in servers.addrs.iter().enumerate() {
            let tag = if servers.is_cluster() {
                format!("n{}x", k + 1)
            } else {
                String::new()
            };
            finale::deepen_stacks(*addr, args.clients + 16, &tag, &ledger);
        }
        // The nodes settle at once, not in turn: a cluster node keeps
        // connections to Redis it did not have when cold, so it never gets
        // back to that count and each waits the settling's limit.
        std::thread::scope(|scope| {
            let settling: Vec<_> = pids
                .iter()
                .zip(cold)
                .map(|(&pid, &cold)| {
                    scope
                        .spawn(move || finale::settle(pid, cold).and_then(|_| usage::baseline(pid)))
                })
                .collect();
            settling
                .into_iter()
                .map(|handle| handle.join().ok().flatten())
                .collect()
        })
    });
    let baseline_parts: Vec<_> = pids.iter().map(|&pid| procfs::rss_parts(pid)).collect();
    let main_peak = run_clients(
        &shared,
        'c',
        args.clients,
        args.secs - warm_secs,
        seed,
        &pids,
    );
    let peak: Vec<Usage> = main_peak
        .iter()
        .zip(&warm_peak)
        .map(|(a, b)| a.max(*b))
        .collect();
    let names_checked = finale::check_names(&servers.addrs, ledger.used_names(), &ledger);
    let usage: Option<Vec<(Usage, Usage, Usage)>> = baseline.as_ref().and_then(|baseline| {
        let mut all = Vec::new();
        for (k, (&pid, &baseline)) in pids.iter().zip(baseline).enumerate() {
            let after = finale::settle(pid, baseline)?;
            if let Some(leak) = finale::leak(baseline, after) {
                let parts = procfs::rss_parts(pid);
                ledger.violation(format!(
                    "{}: {leak}; resident KiB by kind before {:?}, after {parts:?}",
                    servers.name(k),
                    baseline_parts[k]
                ));
            }
            all.push((baseline, peak[k].max(baseline), after));
        }
        Some(all)
    });
    let redis_used_kib = servers
        .redis
        .as_ref()
        .and_then(OwnRedis::used_memory)
        .map(|bytes| bytes / 1024);
    let mut exits = Vec::new();
    let mut stderr: Option<StderrSummary> = None;
    let cluster = servers.is_cluster();
    let names: Vec<String> = (0..servers.own.len()).map(|k| servers.name(k)).collect();
    for (node, name) in servers.own.iter_mut().zip(names) {
        let stopped = node.stop();
        let (status, took) = (stopped.status, stopped.took);
        let node_stderr = stopped.stderr.unwrap_or_default();
        judge_exit(&ledger, &name, status, took, &node_stderr);
        let who = if cluster {
            format!("{name}: ")
        } else {
            String::new()
        };
        exits.push(format!("{who}{status:?} after SIGTERM in {took:.2?}"));
        stderr
            .get_or_insert_with(StderrSummary::default)
            .absorb(node_stderr, cluster.then_some(name.as_str()));
    }
    if let Some(redis) = servers.redis.take()
        && !redis.stop()
    {
        ledger.violation("the private redis-server did not stop in time and was killed".into());
    }
    // Only with our own single server: the check starts servers of its
    // own, on a data directory, which a cluster does not use.
    let restart = (!servers.own.is_empty() && !cluster).then(restart::check);
    if let Some(Err(why)) = &restart {
        ledger.violation(format!("data directory across a restart: {why}"));
    }
    let totals = ledger.finish();
    let report = Report {
        clients: args.clients,
        secs: args.secs,
        seed,
        wall: started.elapsed(),
        totals,
        names_checked,
        nodes: cluster.then_some(servers.own.len()),
        usage,
        cold,
        stderr,
        server_exit: (!exits.is_empty()).then(|| exits.join("; ")),
        restart: restart.map(|result| result.is_ok()),
        redis_used_kib,
    };
    print!("{}", report.text());
    println!("{}", report.json());
    Ok(report.totals.n_violations == 0)
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64)
}

/// How our own server starts: `chinwagd --bind 127.0.0.1:0 --data none`
/// with default flags (unlike the bench's, flood control stays on and
/// `--password-tries` is 10, as in production) and `MALLOC_ARENA_MAX=2`,
/// its log scanned for the exit check. Each node of a cluster the same.
fn server_launch() -> Launch {
    let log_level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    // glibc gives busy threads arenas of their own (up to 8 per core),
    // and what those keep after a load peak depends on the peak, not on
    // the work done: up to +25 % RSS after a long run with no leak at
    // all. Two arenas keep the RSS figure a leak signal; a caller who
    // wants the default sets MALLOC_ARENA_MAX themselves.
    let arenas = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into());
    Launch {
        flags: Vec::new(),
        env: vec![("RUST_LOG", log_level), ("MALLOC_ARENA_MAX", arenas)],
        scan_stderr: true,
        start_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(5),
    }
}

/// Kills the server (every node) and exits if the soak overruns its
/// bound; our Redis's guard sees us gone and stops it.
fn spawn_watchdog(pids: Vec<u32>, limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("chinwag-soak: did not finish within {limit:?}; giving up");
        for pid in pids {
            own_server::signal(pid, "KILL");
        }
        std::process::exit(3);
    });
}

/// Runs one phase: the sentinel and `n_clients` clients (names starting
/// with `prefix`) for `secs`; returns the peak usage of each of `pids`.
fn run_clients(
    shared: &Arc<Shared>,
    prefix: char,
    n_clients: usize,
    secs: u64,
    seed: u64,
    pids: &[u32],
) -> Vec<Usage> {
    let ready = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut peak = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| client::run_sentinel(shared, &ready, &stop));
        while !ready.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let monitor = scope.spawn(|| usage::monitor(pids, &done));
        let clients: Vec<_> = (0..n_clients)
            .map(|slot| {
                std::thread::Builder::new()
                    .name(format!("client-{prefix}{slot}"))
                    .stack_size(256 * 1024)
                    .spawn_scoped(scope, move || {
                        client::run(shared, prefix, slot, seed, deadline)
                    })
            })
            .collect();
        for client in clients.into_iter().flatten() {
            let _ = client.join();
        }
        stop.store(true, Ordering::SeqCst);
        done.store(true, Ordering::SeqCst);
        peak = monitor.join().unwrap_or_default();
    });
    peak
}

/// The server (`name`: a node of a cluster) must exit 0 within two
/// seconds of SIGTERM and log no errors.
fn judge_exit(
    ledger: &Ledger,
    name: &str,
    status: Option<std::process::ExitStatus>,
    took: Duration,
    stderr: &StderrSummary,
) {
    if !status.is_some_and(|status| status.success()) || took > Duration::from_secs(2) {
        ledger.violation(format!("{name} exit after SIGTERM: {status:?} in {took:?}"));
    }
    if stderr.n_errors > 0 {
        ledger.violation(format!(
            "{name} logged {} ERROR lines: {:?}",
            stderr.n_errors, stderr.first
        ));
    }
}
