//! `chinwag-soak`: many clients doing random valid and invalid things to
//! chinwagd for a while (`chinwag-soak --clients 100 --secs 60`), with the
//! protocol's promises checked all along (delivery exactly once and in order,
//! exact replies, no ghosts in `/list`) and the server's threads,
//! descriptors and memory checked for leaks at the end.

mod accounts;
mod actions;
mod client;
mod finale;
mod history;
mod ledger;
mod model;
mod payload;
mod replies;
mod report;
mod restart;
mod rng;
mod session;
mod usage;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
}

/// Exit status: 0 if no violation, 1 if any, 2 if the soak itself failed,
/// 3 if it overran `--secs` + [`HARD_GRACE`] (the watchdog kills the
/// server). `chinwag-soak serve …` is the server the soak starts.
fn main() {
    let mut args = std::env::args();
    if args.nth(1).as_deref() == Some(own_server::SERVE) {
        if let Err(error) = own_server::serve(args) {
            eprintln!("chinwag-soak serve: {error:#}");
            std::process::exit(1);
        }
        return;
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

/// Runs the soak; true if no invariant was violated. The run has two
/// phases of the same workload: the first half of `--secs` warms the
/// server up, then every client leaves and the leak baseline is taken; the
/// rest is the main phase.
fn run(args: Args) -> anyhow::Result<bool> {
    chinwag_bench_lib::raise_fd_limit();
    let seed = args.seed.unwrap_or_else(clock_seed);
    let started = Instant::now();
    let (mut server, addr) = match &args.server {
        Some(text) => (None, chinwag_bench_lib::resolve(text)?),
        None => {
            let server = start_server()?;
            let addr = server.addr();
            (Some(server), addr)
        }
    };
    let pid = server.as_ref().map(OwnServer::pid);
    spawn_watchdog(pid, Duration::from_secs(args.secs) + HARD_GRACE);
    let ledger = Arc::new(Ledger::default());
    let shared = Arc::new(Shared {
        addr,
        sentinel: "Sentinel".into(),
        own_server: server.is_some(),
        ledger: Arc::clone(&ledger),
    });
    let cold = pid.and_then(usage::baseline);
    // The first half of the run warms the server up (allocator arenas,
    // glibc's cache of thread stacks) under the same checks; the baseline
    // for the leak check is taken once its clients have all left. Half,
    // not less: room history keeps lines from all over the heap alive, so
    // the heap reaches its working size only after half a minute or so
    // (in a fifth of a minute, 2 MB short of it).
    let warm_secs = (args.secs / 2).clamp(3.min(args.secs), 150);
    let warm_peak = run_clients(&shared, 'w', args.clients, warm_secs, seed, pid);
    let baseline = match (pid, cold) {
        (Some(pid), Some(cold)) => {
            // As many threads as the run can have at once (clients, the
            // sentinel, the finale's four, spares), each with a password
            // check behind it.
            finale::deepen_stacks(addr, args.clients + 16, &ledger);
            finale::settle(pid, cold).and_then(|_| usage::baseline(pid))
        }
        _ => None,
    };
    let baseline_parts = pid.and_then(procfs::rss_parts);
    let peak =
        run_clients(&shared, 'c', args.clients, args.secs - warm_secs, seed, pid).max(warm_peak);
    let names_checked = finale::check_names(addr, ledger.used_names(), &ledger);
    let usage = match (pid, baseline) {
        (Some(pid), Some(baseline)) => finale::settle(pid, baseline).map(|after| {
            if let Some(leak) = finale::leak(baseline, after) {
                let parts = procfs::rss_parts(pid);
                ledger.violation(format!(
                    "{leak}; resident KiB by kind before {baseline_parts:?}, after {parts:?}"
                ));
            }
            (baseline, peak.max(baseline), after)
        }),
        _ => None,
    };
    let (server_exit, stderr) = match server.as_mut() {
        Some(server) => {
            let stopped = server.stop();
            let (status, took) = (stopped.status, stopped.took);
            let stderr = stopped.stderr.unwrap_or_default();
            judge_exit(&ledger, status, took, &stderr);
            (
                Some(format!("{status:?} after SIGTERM in {took:.2?}")),
                Some(stderr),
            )
        }
        None => (None, None),
    };
    // Only with our own server: the check starts servers of its own.
    let restart = server.is_some().then(restart::check);
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
        usage,
        cold,
        stderr,
        server_exit,
        restart: restart.map(|result| result.is_ok()),
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

/// Starts our own server: `chinwagd --bind 127.0.0.1:0 --data none` with
/// default flags (unlike the bench's, flood control stays on and
/// `--password-tries` is 10, as in production) and `MALLOC_ARENA_MAX=2`,
/// its log scanned for the exit check.
fn start_server() -> anyhow::Result<OwnServer> {
    let log_level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    // glibc gives busy threads arenas of their own (up to 8 per core),
    // and what those keep after a load peak depends on the peak, not on
    // the work done: up to +25 % RSS after a long run with no leak at
    // all. Two arenas keep the RSS figure a leak signal; a caller who
    // wants the default sets MALLOC_ARENA_MAX themselves.
    let arenas = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into());
    OwnServer::start(&Launch {
        flags: Vec::new(),
        env: vec![("RUST_LOG", log_level), ("MALLOC_ARENA_MAX", arenas)],
        scan_stderr: true,
        start_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(5),
    })
}

/// Kills the server and exits if the soak overruns its bound.
fn spawn_watchdog(pid: Option<u32>, limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("chinwag-soak: did not finish within {limit:?}; giving up");
        if let Some(pid) = pid {
            own_server::signal(pid, "KILL");
        }
        std::process::exit(3);
    });
}

/// Runs one phase: the sentinel and `n_clients` clients (names starting
/// with `prefix`) for `secs`; returns the server's peak usage.
fn run_clients(
    shared: &Arc<Shared>,
    prefix: char,
    n_clients: usize,
    secs: u64,
    seed: u64,
    pid: Option<u32>,
) -> Usage {
    let ready = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut peak = Usage::default();
    std::thread::scope(|scope| {
        scope.spawn(|| client::run_sentinel(shared, &ready, &stop));
        while !ready.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let monitor = scope.spawn(|| usage::monitor(pid, &done));
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

/// The server must exit 0 within two seconds of SIGTERM and log no errors.
fn judge_exit(
    ledger: &Ledger,
    status: Option<std::process::ExitStatus>,
    took: Duration,
    stderr: &StderrSummary,
) {
    if !status.is_some_and(|status| status.success()) || took > Duration::from_secs(2) {
        ledger.violation(format!("server exit after SIGTERM: {status:?} in {took:?}"));
    }
    if stderr.n_errors > 0 {
        ledger.violation(format!(
            "server logged {} ERROR lines: {:?}",
            stderr.n_errors, stderr.first
        ));
    }
}
