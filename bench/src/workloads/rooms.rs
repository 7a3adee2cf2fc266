//! `rooms`: R rooms of M members, every member sending into its room in a
//! closed loop (W messages in flight, each until every other member has
//! it). Every room message also goes into the room's history, so with
//! `--data-dir` the server's store writer puts each one on disk: comparing
//! the two runs shows whether the disk is off the hot path.

use std::fmt::Write as _;
use std::time::Instant;

use clap::Args;

use crate::flow::{Flow, Pace, Routing};
use crate::json::JsonLine;
use crate::net::Net;
use crate::setup::Command;
use crate::target::Needs;
use crate::workloads::messages::{flow_parts, measure, seconds};
use crate::workloads::{Context, Report, SETUP_CONCURRENCY, node_gone_note, register, run_phase};
use chinwag_bench_lib::procfs::thread_cpu_seconds;

/// The name of the server's thread that writes the data directory.
const WRITER_THREAD: &str = "store-writer";

/// Parameters of `rooms` (also its command-line flags).
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RoomsParams {
    /// Rooms.
    #[arg(long, default_value_t = 10)]
    pub(crate) rooms: usize,
    /// Members per room; every one sends.
    #[arg(long, default_value_t = 10)]
    pub(crate) members: usize,
    /// Messages in flight per member (each until all the others have it).
    #[arg(long, default_value_t = 4)]
    pub(crate) window: u64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) secs: f64,
}

/// `rooms`: R rooms of M members, all sending, closed loop.
///
/// # Errors
///
/// The server cannot be started or reached, or setup fails.
pub(crate) fn rooms(context: &Context, params: RoomsParams) -> anyhow::Result<Report> {
    let n_rooms = params.rooms.max(1);
    let members = params.members.max(2);
    let n_users = n_rooms * members;
    let target = context.target_with(Needs {
        clients: n_users,
        // Counted, not shown: see the end.
        scan_log: true,
        ..Needs::default()
    })?;
    let deadline = Instant::now() + context.timeout;
    let mut net = Net::new(target.endpoint())?;
    let names = (0..n_users).map(|i| format!("k{i}")).collect();
    let base = register(&mut net, names, SETUP_CONCURRENCY, deadline)?.base();
    let joins = (0..n_users)
        .map(|i| format!("/join room{}", i / members))
        .collect();
    let mut join = Command::each(base, n_users, joins, b"OK join ");
    run_phase(&mut net, &mut join, "joining", deadline, |j| {
        (j.done, n_users, &j.failures)
    })?;
    let routing = Routing::Room { base, members };
    let pace = Pace::Window(params.window.max(1));
    let length = seconds(params.secs);
    let mut flow = Flow::new(n_users, pace, routing, length, target.watched());
    let writer = WriterCpu::start(target.pids().first().copied());
    measure(&mut net, &mut flow, params.secs)?;
    let writer = writer.stop();
    net.close_all();
    let info = target.info();
    let ended = target.stop()?;

    let mut json = JsonLine::default();
    json.str("workload", "rooms")
        .int("rooms", n_rooms as u64)
        .int("members", members as u64)
        .int("window", params.window);
    let said = flow.window.as_ref().map_or(0, |window| window.sent);
    let said_per_sec = said as f64 / params.secs.max(1e-9);
    json.num("said_per_sec", said_per_sec);
    let (mut json, mut summary, mut ok) = flow_parts(json, &info, params.secs, &flow);
    let _ = writeln!(
        summary,
        "room messages said (each kept in the room's history): {said_per_sec:.0}/s"
    );
    if let Some(log) = &ended.log {
        // A store that falls behind says so at warn level: the run failed.
        ok &= log.n_errors == 0 && log.n_warnings == 0;
        json.int("server_log_errors", log.n_errors)
            .int("server_log_warnings", log.n_warnings);
        let _ = writeln!(
            summary,
            "server log: {} ERROR, {} WARN lines{}",
            log.n_errors,
            log.n_warnings,
            node_gone_note(log)
        );
        for line in &log.first {
            let _ = writeln!(summary, "  {line}");
        }
    }
    if let Some((seconds, wall)) = writer {
        let percent = 100.0 * seconds / wall.max(1e-9);
        json.num("store_writer_cpu_s", seconds)
            .num("store_writer_cpu_pct", percent);
        let _ = writeln!(
            summary,
            "store-writer thread: {seconds:.2} s of CPU over {wall:.2} s ({percent:.0}% of a core)"
        );
    }
    if let Some(bytes) = ended.data_bytes {
        json.int("data_kib", bytes.div_ceil(1024));
        let _ = writeln!(
            summary,
            "data directory after the run: {} KiB",
            bytes.div_ceil(1024)
        );
    }
    Ok(Report::new(json, summary, ok))
}

/// CPU used by the server's `store-writer` thread (the one that puts
/// history on disk; absent with `--data none`) over an interval.
struct WriterCpu {
    pid: Option<u32>,
    started: Instant,
    before: Option<f64>,
}

impl WriterCpu {
    fn start(pid: Option<u32>) -> WriterCpu {
        WriterCpu {
            pid,
            started: Instant::now(),
            before: pid.and_then(|pid| thread_cpu_seconds(pid, WRITER_THREAD)),
        }
    }

    /// CPU seconds and wall seconds since `start`, if the thread exists.
    fn stop(&self) -> Option<(f64, f64)> {
        let after = thread_cpu_seconds(self.pid?, WRITER_THREAD)?;
        Some((after - self.before?, self.started.elapsed().as_secs_f64()))
    }
}
