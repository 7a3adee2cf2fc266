//! The message workloads: `pairs` (closed loop, a window in flight per
//! direction), `rate` (open loop over pairs) and `fanout` (open loop into
//! one room). They share the measuring phase ([`Flow`]) and the report.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::Args;

use crate::flow::{Flow, Pace, Routing};
use crate::json::JsonLine;
use crate::net::Net;
use crate::setup::{Command, Pairing};
use crate::target::Needs;
use crate::target::TargetInfo;
use crate::workloads::guessers::{Guessers, WithGuessers};
use crate::workloads::signin::{UNCAPPED, register_accounts};
use crate::workloads::{
    Context, Report, SETUP_CONCURRENCY, add_cpu, add_server, node_gone_note, register, run_phase,
};

/// How long after the window closes the generator waits for the messages
/// still in flight; any not delivered by then count as lost.
const DRAIN: Duration = Duration::from_secs(10);
/// The room of the `fanout` workload.
const ROOM: &str = "bench";
/// The registered name `rate --guessers` guesses the password of.
const VICTIM: &str = "victim";
/// How long the guessers run before the messages start.
const GUESS_WARM_UP: Duration = Duration::from_secs(1);

// The parameters are the workloads' command-line flags too: their doc
// comments are the `--help` text.

/// Parameters of `pairs`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct PairsParams {
    /// Chatting pairs.
    #[arg(long, default_value_t = 100)]
    pub(crate) pairs: usize,
    /// Messages in flight per direction.
    #[arg(long, default_value_t = 8)]
    pub(crate) window: u64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) secs: f64,
}

/// Parameters of `rate`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RateParams {
    /// Chatting pairs.
    #[arg(long, default_value_t = 1000)]
    pub(crate) pairs: usize,
    /// Messages per second over all pairs.
    #[arg(long, default_value_t = 20_000.0)]
    pub(crate) rate: f64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) secs: f64,
    /// Extra connections guessing one registered name's password as fast
    /// as the server answers, all the while (server: --password-tries 0).
    #[arg(long, default_value_t = 0)]
    pub(crate) guessers: usize,
}

/// Parameters of `fanout`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct FanoutParams {
    /// Room members.
    #[arg(long, default_value_t = 1000)]
    pub(crate) members: usize,
    /// Messages per second over all senders.
    #[arg(long, default_value_t = 50.0)]
    pub(crate) rate: f64,
    /// Members that send.
    #[arg(long, default_value_t = 1)]
    pub(crate) senders: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) secs: f64,
}

/// `pairs`: P pairs chat, each direction keeping W messages in flight.
///
/// # Errors
///
/// The server cannot be started or reached, or setup fails.
pub(crate) fn pairs(context: &Context, params: PairsParams) -> anyhow::Result<Report> {
    let mut json = JsonLine::default();
    json.str("workload", "pairs")
        .int("pairs", params.pairs as u64)
        .int("window", params.window);
    let pace = Pace::Window(params.window.max(1));
    chatting_pairs(context, params.pairs, "p", pace, params.secs, 0, json)
}

/// `rate`: P pairs chat at a fixed total rate, open loop.
///
/// # Errors
///
/// The server cannot be started or reached, or setup fails.
pub(crate) fn rate(context: &Context, params: RateParams) -> anyhow::Result<Report> {
    let mut json = JsonLine::default();
    json.str("workload", "rate")
        .int("pairs", params.pairs as u64)
        .num("rate", params.rate)
        .int("guessers", params.guessers as u64);
    let pace = Pace::Rate(params.rate.max(0.001));
    let (pairs, secs) = (params.pairs, params.secs);
    chatting_pairs(context, pairs, "r", pace, secs, params.guessers, json)
}

fn chatting_pairs(
    context: &Context,
    n_pairs: usize,
    prefix: &str,
    pace: Pace,
    secs: f64,
    n_guessers: usize,
    json: JsonLine,
) -> anyhow::Result<Report> {
    let n_pairs = n_pairs.max(1);
    let target = context.target_with(Needs {
        clients: 2 * n_pairs + n_guessers + 1,
        flags: if n_guessers > 0 {
            UNCAPPED.map(String::from).into()
        } else {
            Vec::new()
        },
        // Every wrong guess is a warning in the server's log: counted,
        // not shown.
        scan_log: n_guessers > 0,
    })?;
    let deadline = Instant::now() + context.timeout;
    let mut net = Net::new(target.endpoint())?;
    let pair_names: Vec<(String, String)> = (0..n_pairs)
        .map(|i| (format!("{prefix}{i}a"), format!("{prefix}{i}b")))
        .collect();
    let names = pair_names
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let base = register(&mut net, names, SETUP_CONCURRENCY, deadline)?.base();
    let mut pairing = Pairing::new(base, pair_names);
    run_phase(&mut net, &mut pairing, "pairing", deadline, |p| {
        (p.ready, n_pairs, &p.failures)
    })?;
    let routing = Routing::Pairs { base };
    let mut flow = Flow::new(2 * n_pairs, pace, routing, seconds(secs), target.watched());
    if n_guessers == 0 {
        measure(&mut net, &mut flow, secs)?;
        net.close_all();
        let info = target.info();
        target.stop()?;
        return Ok(flow_report(json, &info, secs, &flow));
    }
    register_accounts(&mut net, vec![VICTIM.to_owned()], deadline)?;
    let mut guessers = Guessers::new(VICTIM, n_guessers);
    // The flood is in full swing before the first message is measured.
    net.run_for(&mut guessers, GUESS_WARM_UP)?;
    let mut both = WithGuessers {
        flow: &mut flow,
        guessers: &mut guessers,
    };
    net.run(&mut both, Instant::now() + seconds(secs) + DRAIN)?;
    net.close_all();
    let info = target.info();
    let ended = target.stop()?;
    let (mut json, mut summary, mut ok) = flow_parts(json, &info, secs, &flow);
    let per_sec = guessers.per_sec();
    json.int("guesses", guessers.guesses)
        .num("guesses_per_sec", per_sec)
        .int("guess_failures", guessers.failures.count as u64);
    let _ = writeln!(
        summary,
        "{n_guessers} guessers: {} wrong passwords answered ({per_sec:.1}/s, each an Argon2id \
         check), {} connections refused after five, {} guesser failures",
        guessers.guesses, guessers.refused, guessers.failures.count
    );
    if let Some(first) = &guessers.failures.first {
        let _ = writeln!(summary, "first guesser failure: {first}");
    }
    if let Some(log) = ended.log {
        json.int("server_log_errors", log.n_errors)
            .int("server_log_warnings", log.n_warnings);
        let _ = writeln!(
            summary,
            "server log: {} ERROR lines, {} WARN lines (one per wrong password){}",
            log.n_errors,
            log.n_warnings,
            node_gone_note(&log)
        );
        ok &= log.n_errors == 0;
    }
    ok &= guessers.failures.count == 0 && guessers.guesses > 0;
    Ok(Report::new(json, summary, ok))
}

/// `fanout`: M members in one room, S of them sending at a total rate.
///
/// # Errors
///
/// The server cannot be started or reached, or setup fails.
pub(crate) fn fanout(context: &Context, params: FanoutParams) -> anyhow::Result<Report> {
    let members = params.members.max(2);
    let senders = params.senders.clamp(1, members);
    let target = context.target(members)?;
    let deadline = Instant::now() + context.timeout;
    let mut net = Net::new(target.endpoint())?;
    let names = (0..members).map(|i| format!("f{i}")).collect();
    let base = register(&mut net, names, SETUP_CONCURRENCY, deadline)?.base();
    let mut join = Command::new(base, members, &format!("/join {ROOM}"), b"OK join ");
    run_phase(&mut net, &mut join, "joining", deadline, |j| {
        (j.done, members, &j.failures)
    })?;
    let routing = Routing::Room { base, members };
    let pace = Pace::Rate(params.rate.max(0.001));
    let mut flow = Flow::new(
        senders,
        pace,
        routing,
        seconds(params.secs),
        target.watched(),
    );
    measure(&mut net, &mut flow, params.secs)?;
    net.close_all();
    let info = target.info();
    target.stop()?;
    let mut json = JsonLine::default();
    json.str("workload", "fanout")
        .int("members", members as u64)
        .int("senders", senders as u64)
        .num("rate", params.rate);
    Ok(flow_report(json, &info, params.secs, &flow))
}

pub(crate) fn seconds(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.max(0.001))
}

pub(crate) fn measure(net: &mut Net, flow: &mut Flow, secs: f64) -> anyhow::Result<()> {
    let deadline = Instant::now() + seconds(secs) + DRAIN;
    net.run(flow, deadline)?;
    Ok(())
}

/// The report of a finished [`Flow`].
pub(crate) fn flow_report(json: JsonLine, info: &TargetInfo, secs: f64, flow: &Flow) -> Report {
    let (json, summary, ok) = flow_parts(json, info, secs, flow);
    Report::new(json, summary, ok)
}

/// The JSON fields and summary of a finished [`Flow`], and whether every
/// message arrived exactly once, in order, with no client failing.
pub(crate) fn flow_parts(
    mut json: JsonLine,
    info: &TargetInfo,
    secs: f64,
    flow: &Flow,
) -> (JsonLine, String, bool) {
    let traffic = &flow.traffic;
    let integrity = traffic.integrity();
    let latency = traffic.latency.summary_us();
    let failures = traffic.unexpected.count + traffic.closed.count;
    let per_sec = traffic.delivered_in_window as f64 / secs.max(1e-9);
    let open_loop = traffic.lag.len() > 0;
    let mut summary = String::new();
    add_server(&mut json, &mut summary, info);
    json.num("secs", secs)
        .int("sent", traffic.sent_total())
        .int("delivered", traffic.delivered)
        .num("msgs_per_sec", per_sec)
        .num("p50_us", latency.p50)
        .num("p99_us", latency.p99)
        .num("p999_us", latency.p999)
        .num("max_us", latency.max)
        .int("lost", integrity.lost)
        .int("duplicates", integrity.duplicates)
        .int("reordered", integrity.reordered)
        .int("bogus", integrity.bogus)
        .int("failures", failures as u64);
    let _ = write!(
        summary,
        "delivered {} of {} deliveries due; {per_sec:.0} deliveries/s in the {secs} s window\n\
         latency µs: p50 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}\n\
         lost {}, duplicated {}, reordered {}, bogus {}, client failures {}\n",
        traffic.delivered,
        traffic.expected(),
        latency.p50,
        latency.p99,
        latency.p999,
        latency.max,
        integrity.lost,
        integrity.duplicates,
        integrity.reordered,
        integrity.bogus,
        failures,
    );
    if open_loop {
        let lag = traffic.lag.summary_us();
        let service = traffic.service.summary_us();
        json.num("lag_p50_us", lag.p50)
            .num("lag_p99_us", lag.p99)
            .num("svc_p50_us", service.p50)
            .num("svc_p99_us", service.p99)
            .num("svc_p999_us", service.p999);
        let _ = writeln!(
            summary,
            "generator lag behind schedule µs: p50 {:.1}, p99 {:.1} (included in latency)\n\
             latency from the real send µs: p50 {:.1}, p99 {:.1}, p99.9 {:.1}",
            lag.p50, lag.p99, service.p50, service.p99, service.p999
        );
    }
    if let Some(window) = &flow.window {
        let per_write = window.sent as f64 / window.io.writes.max(1) as f64;
        json.int("writes", window.io.writes)
            .num("msgs_per_write", per_write);
        let _ = writeln!(
            summary,
            "generator: {} writes for {} messages sent ({per_write:.2} per write), {} reads",
            window.io.writes, window.sent, window.io.reads
        );
        add_cpu(&mut json, &mut summary, &window.cpu);
        if let Some(calls) = window.redis {
            let lines_per_xadd = window.sent as f64 / calls.xadd.max(1) as f64;
            let usec_per_xadd = calls.xadd_usec as f64 / calls.xadd.max(1) as f64;
            json.int("redis_xadd", calls.xadd)
                .num("msgs_per_xadd", lines_per_xadd)
                .num("redis_usec_per_xadd", usec_per_xadd)
                .int("redis_xread", calls.xread);
            let _ = writeln!(
                summary,
                "  the log: {} XADD ({lines_per_xadd:.1} messages sent per XADD, {usec_per_xadd:.1} µs \
                 of Redis each), {} XREAD by the appliers",
                calls.xadd, calls.xread
            );
        }
    }
    let first = traffic
        .unexpected
        .first
        .as_ref()
        .or(traffic.closed.first.as_ref());
    if let Some(first) = first {
        json.str("first_failure", first);
        let _ = writeln!(summary, "first failure: {first}");
    }
    (json, summary, integrity.is_clean() && failures == 0)
}
