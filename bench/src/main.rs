//! `chinwag-bench`: the load generator for chinwagd. Each workload drives
//! thousands of connections from one `mio` event loop, prints one JSON line
//! of results on stdout and then a readable summary, and exits non-zero if
//! any message was lost, duplicated or reordered or any client failed.
//! Without `--server` it starts its own server by re-executing itself as
//! `chinwag-bench serve`, so the server is the same code and build.

mod chart;
mod cli;
mod flow;
mod json;
mod net;
mod setup;
mod smoke;
mod stats;
mod target;
mod tls;
mod traffic;
mod workloads;

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser as _;

use crate::cli::{Cli, Common, Flags, Mode, Workload};
use crate::workloads::{Context, Report, crowd, messages, rooms, signin};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("chinwag-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.mode {
        Mode::Run(workload) => {
            workload.common().validate()?;
            Ok(exit_code(run_workload(&workload)))
        }
        Mode::Smoke { common } => {
            common.validate()?;
            Ok(smoke(&common))
        }
        Mode::Chart { title } => chart(&title),
        Mode::Serve { args } => {
            chinwag_bench_lib::own_server::serve(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Mode::RedisGuard => {
            chinwag_bench_lib::own_redis::guard()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one workload and prints its report; true if it passed.
fn run_workload(workload: &Workload) -> bool {
    match workload {
        Workload::Pairs(flags) => go(flags, "pairs", messages::pairs),
        Workload::Rate(flags) => go(flags, "rate", messages::rate),
        Workload::Connect(flags) => go(flags, "connect", crowd::connect),
        Workload::Fanout(flags) => go(flags, "fanout", messages::fanout),
        Workload::List(flags) => go(flags, "list", crowd::list),
        Workload::Rooms(flags) => go(flags, "rooms", rooms::rooms),
        Workload::Signin(flags) => go(flags, "signin", signin::signin),
    }
}

fn go<P: clap::Args + Copy>(
    flags: &Flags<P>,
    name: &str,
    workload: fn(&Context, P) -> anyhow::Result<Report>,
) -> bool {
    chinwag_bench_lib::raise_fd_limit();
    let report = workload(&flags.common.context(), flags.params)
        .unwrap_or_else(|error| Report::failed(name, &error));
    print(&report, flags.common.json_only);
    report.ok
}

fn print(report: &Report, json_only: bool) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", report.json);
    if !json_only {
        let _ = write!(stdout, "{}", report.summary);
    }
    let _ = stdout.flush();
}

/// Every workload with small sizes; fails if any does.
fn smoke(common: &Common) -> ExitCode {
    let started = Instant::now();
    let mut all_ok = true;
    for workload in &smoke::runs(common) {
        all_ok &= run_workload(workload);
    }
    if !common.json_only {
        if common.server.is_some() {
            println!("smoke: the cluster runs were left out (--cluster is not for --server)");
        }
        println!(
            "smoke: {} in {:.1} s",
            if all_ok { "OK" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
    }
    exit_code(all_ok)
}

/// Reads JSON lines on stdin and writes the SVG chart on stdout.
fn chart(title: &str) -> anyhow::Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read JSON lines from stdin")?;
    let points = chart::read_points(&input);
    if points.is_empty() {
        anyhow::bail!("no successful `pairs` lines on stdin");
    }
    print!("{}", chart::render(&points, title));
    Ok(ExitCode::SUCCESS)
}
