//! `signin`: how fast registered users get in. N names are registered
//! (`/register`, one Argon2id hash each) and leave; then C signers sign in
//! over and over for S seconds, each with names of its own: connect, name,
//! `PASSWORD`, the password, `WELCOME`, close. The server runs with
//! `--password-tries 0`: its per-name cap (10 a minute) would otherwise be
//! what is measured.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::Args;

use crate::json::JsonLine;
use crate::net::{Handler, Net};
use crate::setup::Failures;
use crate::stats::Histogram;
use crate::target::Needs;
use crate::workloads::messages::seconds;
use crate::workloads::{Context, Report, add_cpu, add_server, run_phase};
use chinwag_bench_lib::procfs::CpuMeter;

/// Every account's password in the sign-in workloads.
pub(crate) const PASSWORD: &str = "bench-password-1";
/// Names being registered at once.
const REGISTER_CONCURRENCY: usize = 8;
/// How long sign-ins still in progress when the window closes may take.
const DRAIN: Duration = Duration::from_secs(10);
/// The server flags of a workload that checks passwords as fast as it can.
pub(crate) const UNCAPPED: [&str; 2] = ["--password-tries", "0"];

/// Parameters of `signin` (also its command-line flags).
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct SigninParams {
    /// Registered names (at least one per signer).
    #[arg(long, default_value_t = 200)]
    pub(crate) names: usize,
    /// Sign-ins in progress at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) signers: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) secs: f64,
}

/// Registers `names` with [`PASSWORD`], [`REGISTER_CONCURRENCY`] at a
/// time, each on a connection that quits once its name is registered;
/// returns how long it took.
///
/// # Errors
///
/// A client failed to connect, register or quit, or the deadline passed.
pub(crate) fn register_accounts(
    net: &mut Net,
    names: Vec<String>,
    deadline: Instant,
) -> anyhow::Result<Duration> {
    let count = names.len();
    let started = Instant::now();
    let mut registrar = Registrar {
        names,
        next: 0,
        in_flight: HashMap::new(),
        done: 0,
        failures: Failures::default(),
    };
    run_phase(net, &mut registrar, "registering", deadline, |r| {
        (r.done, count, &r.failures)
    })?;
    Ok(started.elapsed())
}

/// Registers names a few at a time: connect, name, `/register`, `/quit`.
/// Few at a time because a connection that checked a password, while it
/// stays, pins about 19 MiB of the server's memory (see
/// docs/performance.md); the password work is one check at a time anyway.
#[derive(Debug)]
struct Registrar {
    names: Vec<String>,
    next: usize,
    /// Connection to (name index, registered yet).
    in_flight: HashMap<usize, (usize, bool)>,
    done: usize,
    failures: Failures,
}

impl Handler for Registrar {
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
        let Some((k, registered)) = self.in_flight.get_mut(&id) else {
            return;
        };
        if line.starts_with(b"OK register ") {
            *registered = true;
        } else if line.starts_with(b"BYE") && *registered {
            self.done += 1;
            self.in_flight.remove(&id);
            net.close(id);
        } else if line.starts_with(b"ERR ") || line.starts_with(b"BYE") {
            let name = self.names[*k].clone();
            self.failures.add(&name, &String::from_utf8_lossy(line));
            self.in_flight.remove(&id);
            net.close(id);
        }
    }

    fn on_closed(&mut self, _net: &mut Net, id: usize, why: &str) {
        if let Some((k, _)) = self.in_flight.remove(&id) {
            self.failures.add(&self.names[k], why);
        }
    }

    fn on_tick(&mut self, net: &mut Net, _now: Instant) -> Option<Instant> {
        while self.in_flight.len() < REGISTER_CONCURRENCY && self.next < self.names.len() {
            let id = net.connect();
            let name = &self.names[self.next];
            let lines = format!("{name}\n/register {PASSWORD}\n/quit\n");
            net.send(id, lines.as_bytes());
            self.in_flight.insert(id, (self.next, false));
            self.next += 1;
        }
        None
    }

    fn is_done(&self) -> bool {
        self.next == self.names.len() && self.in_flight.is_empty()
    }
}

/// `signin`: N registered names, C signers, S seconds.
///
/// # Errors
///
/// The server cannot be started or reached, or setup fails.
pub(crate) fn signin(context: &Context, params: SigninParams) -> anyhow::Result<Report> {
    let n_names = params.names.max(1);
    let n_signers = params.signers.clamp(1, n_names);
    let target = context.target_with(Needs {
        clients: n_names.max(n_signers),
        flags: UNCAPPED.map(String::from).into(),
        scan_log: false,
    })?;
    let deadline = Instant::now() + context.timeout;
    let mut net = Net::new(target.endpoint())?;
    let names: Vec<String> = (0..n_names).map(|i| format!("s{i}")).collect();
    let register_took = register_accounts(&mut net, names.clone(), deadline)?;
    let mut signers = Signers::new(names, n_signers, seconds(params.secs));
    let cpu = CpuMeter::start(&target.watched());
    let finished = net.run(&mut signers, Instant::now() + seconds(params.secs) + DRAIN)?;
    let cpu = cpu.stop();
    net.close_all();
    let info = target.info();
    target.stop()?;

    let per_sec = signers.in_window as f64 / params.secs.max(1e-9);
    let registers_per_sec = n_names as f64 / register_took.as_secs_f64().max(1e-9);
    let latency = signers.latency.summary_us();
    let check = signers.check.summary_us();
    let mut json = JsonLine::default();
    json.str("workload", "signin")
        .int("names", n_names as u64)
        .int("signers", n_signers as u64);
    let mut summary = String::new();
    add_server(&mut json, &mut summary, &info);
    json.num("secs", params.secs)
        .num("registers_per_sec", registers_per_sec)
        .int("signins", signers.in_window)
        .num("signins_per_sec", per_sec)
        .num("p50_us", latency.p50)
        .num("p99_us", latency.p99)
        .num("max_us", latency.max)
        .num("check_p50_us", check.p50)
        .num("check_p99_us", check.p99)
        .int("failures", signers.failures.count as u64);
    let _ = writeln!(
        summary,
        "registered {n_names} names in {:.2} s ({registers_per_sec:.0}/s)\n\
         {} sign-ins in the {} s window: {per_sec:.1}/s with {n_signers} signers\n\
         connect to WELCOME µs: p50 {:.0}, p99 {:.0}, max {:.0}\n\
         password sent to WELCOME µs: p50 {:.0}, p99 {:.0}\n\
         failures {}",
        register_took.as_secs_f64(),
        signers.in_window,
        params.secs,
        latency.p50,
        latency.p99,
        latency.max,
        check.p50,
        check.p99,
        signers.failures.count,
    );
    add_cpu(&mut json, &mut summary, &cpu);
    if let Some(first) = &signers.failures.first {
        json.str("first_failure", first);
        let _ = writeln!(summary, "first failure: {first}");
    }
    let ok = finished && signers.failures.count == 0 && signers.in_window > 0;
    Ok(Report::new(json, summary, ok))
}

/// One sign-in in progress.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    conn: usize,
    started: Instant,
    password_at: Option<Instant>,
}

/// Signs in over and over, `n_signers` at a time, for a while. Signer `j`
/// uses names `j`, `j + C`, `j + 2C`, … in turn, so no two sign-ins are
/// for one name at once.
#[derive(Debug)]
struct Signers {
    names: Vec<String>,
    current: Vec<Option<Attempt>>,
    turns: Vec<usize>,
    owner: HashMap<usize, usize>,
    length: Duration,
    end: Option<Instant>,
    running: bool,
    /// Sign-ins completed inside the window.
    in_window: u64,
    /// From connecting to `WELCOME`.
    latency: Histogram,
    /// From sending the password to `WELCOME`.
    check: Histogram,
    failures: Failures,
}

impl Signers {
    fn new(names: Vec<String>, n_signers: usize, length: Duration) -> Signers {
        Signers {
            names,
            current: vec![None; n_signers],
            turns: vec![0; n_signers],
            owner: HashMap::new(),
            length,
            end: None,
            running: true,
            in_window: 0,
            latency: Histogram::default(),
            check: Histogram::default(),
            failures: Failures::default(),
        }
    }

    fn start(&mut self, net: &mut Net, signer: usize, now: Instant) {
        let n_signers = self.current.len();
        let mut index = signer + self.turns[signer] * n_signers;
        if index >= self.names.len() {
            self.turns[signer] = 0;
            index = signer;
        }
        self.turns[signer] += 1;
        let conn = net.connect();
        // The name may go before HELLO, as in every workload.
        let line = format!("{}\n", self.names[index]);
        net.send(conn, line.as_bytes());
        self.owner.insert(conn, signer);
        self.current[signer] = Some(Attempt {
            conn,
            started: now,
            password_at: None,
        });
    }

    /// Ends signer `signer`'s attempt (closing its connection) and starts
    /// the next while the window is open.
    fn finish(&mut self, net: &mut Net, signer: usize, now: Instant) {
        if let Some(attempt) = self.current[signer].take() {
            self.owner.remove(&attempt.conn);
            net.close(attempt.conn);
        }
        if self.running {
            self.start(net, signer, now);
        }
    }
}

impl Handler for Signers {
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
        let Some(&signer) = self.owner.get(&id) else {
            return;
        };
        let Some(attempt) = self.current[signer].as_mut() else {
            return;
        };
        let now = Instant::now();
        if line.starts_with(b"PASSWORD ") {
            attempt.password_at = Some(now);
            net.send(id, format!("{PASSWORD}\n").as_bytes());
        } else if line.starts_with(b"WELCOME ") {
            let attempt = *attempt;
            self.latency
                .record((now - attempt.started).as_nanos() as u64);
            if let Some(sent) = attempt.password_at {
                self.check.record((now - sent).as_nanos() as u64);
            }
            if self.end.is_some_and(|end| now <= end) {
                self.in_window += 1;
            }
            self.finish(net, signer, now);
        } else if line.starts_with(b"ERR ") || line.starts_with(b"BYE") {
            let name = format!("signer {signer}");
            self.failures.add(&name, &String::from_utf8_lossy(line));
            self.finish(net, signer, now);
        }
    }

    fn on_closed(&mut self, net: &mut Net, id: usize, why: &str) {
        if let Some(&signer) = self.owner.get(&id) {
            self.failures.add(&format!("signer {signer}"), why);
            self.finish(net, signer, Instant::now());
        }
    }

    fn on_tick(&mut self, net: &mut Net, now: Instant) -> Option<Instant> {
        let end = *self.end.get_or_insert_with(|| {
            self.running = true;
            now + self.length
        });
        if self.running && now >= end {
            self.running = false;
        }
        if self.running {
            for signer in 0..self.current.len() {
                if self.current[signer].is_none() {
                    self.start(net, signer, now);
                }
            }
            return Some(end);
        }
        None
    }

    fn is_done(&self) -> bool {
        !self.running && self.current.iter().all(Option::is_none)
    }
}
