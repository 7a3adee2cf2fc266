//! `chinwag-soak`: many clients doing random valid and invalid things to
//! chinwagd for a while, with the protocol's promises checked all along
//! (delivery exactly once and in order, exact replies, no ghosts in
//! `/list`) and the server's threads, descriptors and memory checked for
//! leaks at the end. Exits 0 only if nothing was violated.
//!
//! ```text
//! chinwag-soak --clients 100 --secs 60 [--seed S] [--server HOST:PORT]
//! ```
//!
//! Without `--server` it runs its own server: this binary re-executed with
//! the hidden subcommand `serve`, which is `chinwagd --bind 127.0.0.1:0`
//! with default flags (flood control on, as in production) and
//! `MALLOC_ARENA_MAX=2` (see `server_proc.rs`).
//!
//! The run has two phases of the same workload: the first fifth of
//! `--secs` warms the server up, then every client leaves and the leak
//! baseline is taken; the rest is the main phase. Exit status: 0 if no
//! violation, 1 if any, 2 if the soak itself failed, 3 if it overran
//! `--secs` + 60 s (the watchdog kills the server).

mod actions;
mod client;
mod finale;
mod ledger;
mod model;
mod payload;
mod replies;
mod report;
mod rng;
mod server_proc;
mod session;
mod wire;

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

use crate::ledger::Ledger;
use crate::report::Report;
use crate::server_proc::{ServerProcess, Usage};
use crate::session::Shared;

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

fn main() {
    let mut args = std::env::args();
    if args.nth(1).as_deref() == Some("serve") {
        if let Err(error) = server_proc::serve(args.collect()) {
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

/// Runs the soak; true if no invariant was violated.
fn run(args: Args) -> anyhow::Result<bool> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let seed = args.seed.unwrap_or_else(clock_seed);
    let started = Instant::now();
    let mut server = match &args.server {
        Some(_) => None,
        None => Some(ServerProcess::start(&[])?),
    };
    let addr = match (&args.server, &server) {
        (Some(text), _) => resolve(text)?,
        (None, Some(server)) => server.addr,
        (None, None) => unreachable!("a server was started above"),
    };
    let pid = server.as_ref().map(ServerProcess::pid);
    spawn_watchdog(pid, Duration::from_secs(args.secs) + HARD_GRACE);
    let ledger = Arc::new(Ledger::default());
    let shared = Arc::new(Shared {
        addr,
        sentinel: "Sentinel".into(),
        own_server: server.is_some(),
        ledger: Arc::clone(&ledger),
    });
    let cold = pid.and_then(baseline_usage);
    // The first fifth of the run warms the server up (allocator arenas,
    // glibc's cache of thread stacks) under the same checks; the baseline
    // for the leak check is taken once its clients have all left.
    let warm_secs = (args.secs / 5).clamp(3.min(args.secs), 60);
    let warm_peak = run_clients(&shared, 'w', args.clients, warm_secs, seed, pid);
    let baseline = match (pid, cold) {
        (Some(pid), Some(cold)) => finale::settle(pid, cold).and_then(|_| baseline_usage(pid)),
        _ => None,
    };
    let peak =
        run_clients(&shared, 'c', args.clients, args.secs - warm_secs, seed, pid).max(warm_peak);
    let names_checked = finale::check_names(addr, ledger.used_names(), &ledger);
    let usage = match (pid, baseline) {
        (Some(pid), Some(baseline)) => finale::settle(pid, baseline).map(|after| {
            if let Some(leak) = finale::leak(baseline, after) {
                ledger.violation(leak);
            }
            (baseline, peak.max(baseline), after)
        }),
        _ => None,
    };
    let (server_exit, stderr) = match server.as_mut() {
        Some(server) => {
            let (status, took, stderr) = server.stop();
            judge_exit(&ledger, status, took, &stderr);
            (
                Some(format!("{status:?} after SIGTERM in {took:.2?}")),
                Some(stderr),
            )
        }
        None => (None, None),
    };
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

fn resolve(text: &str) -> anyhow::Result<SocketAddr> {
    text.to_socket_addrs()
        .with_context(|| format!("cannot resolve {text}"))?
        .next()
        .with_context(|| format!("{text} resolves to nothing"))
}

/// The server's usage before any client, once two readings agree.
fn baseline_usage(pid: u32) -> Option<Usage> {
    let mut last = Usage::of(pid)?;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        let now = Usage::of(pid)?;
        if now.threads == last.threads && now.fds == last.fds {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// Kills the server and exits if the soak overruns its bound.
fn spawn_watchdog(pid: Option<u32>, limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("chinwag-soak: did not finish within {limit:?}; giving up");
        if let Some(pid) = pid {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
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
        let monitor = scope.spawn(|| monitor(pid, &done));
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

/// Samples the server every 250 ms until `done`; returns the peak.
fn monitor(pid: Option<u32>, done: &AtomicBool) -> Usage {
    let mut peak = Usage::default();
    while let Some(pid) = pid {
        if done.load(Ordering::SeqCst) {
            break;
        }
        if let Some(now) = Usage::of(pid) {
            peak = peak.max(now);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    peak
}

/// The server must exit 0 within two seconds of SIGTERM and log no errors.
fn judge_exit(
    ledger: &Ledger,
    status: Option<std::process::ExitStatus>,
    took: Duration,
    stderr: &server_proc::StderrSummary,
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
