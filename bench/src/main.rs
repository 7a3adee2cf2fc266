//! `chinwag-bench`: the load generator for chinwagd. Each workload drives
//! thousands of connections from one `mio` event loop, prints one JSON line
//! of results on stdout and then a readable summary, and exits non-zero if
//! any message was lost, duplicated or reordered or any client failed.
//! Without `--server` it starts its own server by re-executing itself as
//! `chinwag-bench serve`, so the server is the same code and build.

mod chart;
mod flow;
mod json;
mod net;
mod setup;
mod stats;
mod target;
mod traffic;
mod workloads;

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::target::ServerOptions;
use crate::workloads::crowd::{self, ConnectParams, ListParams};
use crate::workloads::messages::{self, FanoutParams, PairsParams, RateParams};
use crate::workloads::{Context, Report};

/// chinwag-bench: load generator for chinwagd.
#[derive(Debug, Parser)]
#[command(name = "chinwag-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Workload,
}

/// Flags every workload takes.
#[derive(Debug, Clone, Args)]
struct Common {
    /// Use this running server instead of starting one.
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Print only the JSON line.
    #[arg(long)]
    json_only: bool,
    /// Seconds any setup (connecting, registering, pairing) may take.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    timeout: u64,
    /// RUST_LOG of the server the bench starts.
    #[arg(long, default_value = "warn", value_name = "FILTER")]
    server_log: String,
    /// Extra chinwagd flag for the server the bench starts (repeatable).
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,
}

impl Common {
    fn context(&self) -> Context {
        Context {
            server: ServerOptions {
                external: self.server.clone(),
                log: self.server_log.clone(),
                extra_args: self.server_args.clone(),
            },
            timeout: Duration::from_secs(self.timeout.max(1)),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// P chatting pairs, W messages in flight per direction (closed loop).
    Pairs {
        /// Chatting pairs.
        #[arg(long, default_value_t = 100)]
        pairs: usize,
        /// Messages in flight per direction.
        #[arg(long, default_value_t = 8)]
        window: u64,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        #[command(flatten)]
        common: Common,
    },
    /// P chatting pairs at a fixed total rate (open loop).
    Rate {
        /// Chatting pairs.
        #[arg(long, default_value_t = 1000)]
        pairs: usize,
        /// Messages per second over all pairs.
        #[arg(long, default_value_t = 20_000.0)]
        rate: f64,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        #[command(flatten)]
        common: Common,
    },
    /// N users connect and register, C handshakes at a time; server memory.
    Connect {
        /// Users.
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        /// Handshakes in flight at most.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        #[command(flatten)]
        common: Common,
    },
    /// One room of M members, senders at a fixed total rate (open loop).
    Fanout {
        /// Room members.
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Messages per second over all senders.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Members that send.
        #[arg(long, default_value_t = 1)]
        senders: usize,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        #[command(flatten)]
        common: Common,
    },
    /// `/list` timed with N users online.
    List {
        /// Users online.
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        /// Times to ask.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Every workload with small sizes, in a few seconds (for CI).
    Smoke {
        #[command(flatten)]
        common: Common,
    },
    /// SVG chart of `pairs` JSON lines read from stdin.
    Chart {
        /// Chart title.
        #[arg(long, default_value = "chinwagd: pairs workload")]
        title: String,
    },
    /// Runs chinwagd itself (used by the bench to start its own server).
    #[command(hide = true)]
    Serve {
        /// chinwagd flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

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
    match cli.command {
        Workload::Serve { args } => {
            chinwag_bench_lib::own_server::serve(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Workload::Chart { title } => chart(&title),
        Workload::Smoke { common } => Ok(smoke(&common)),
        workload => Ok(run_workload(workload)),
    }
}

fn run_workload(workload: Workload) -> ExitCode {
    let (name, common, result) = match workload {
        Workload::Pairs {
            pairs,
            window,
            secs,
            common,
        } => {
            let params = PairsParams {
                pairs,
                window,
                secs,
            };
            (
                "pairs",
                common.clone(),
                go(&common, |c| messages::pairs(c, params)),
            )
        }
        Workload::Rate {
            pairs,
            rate,
            secs,
            common,
        } => {
            let params = RateParams { pairs, rate, secs };
            (
                "rate",
                common.clone(),
                go(&common, |c| messages::rate(c, params)),
            )
        }
        Workload::Fanout {
            members,
            rate,
            senders,
            secs,
            common,
        } => {
            let params = FanoutParams {
                members,
                senders,
                rate,
                secs,
            };
            (
                "fanout",
                common.clone(),
                go(&common, |c| messages::fanout(c, params)),
            )
        }
        Workload::Connect {
            clients,
            concurrency,
            common,
        } => {
            let params = ConnectParams {
                clients,
                concurrency,
            };
            (
                "connect",
                common.clone(),
                go(&common, |c| crowd::connect(c, params)),
            )
        }
        Workload::List {
            clients,
            reps,
            common,
        } => {
            let params = ListParams { clients, reps };
            (
                "list",
                common.clone(),
                go(&common, |c| crowd::list(c, params)),
            )
        }
        Workload::Smoke { .. } | Workload::Chart { .. } | Workload::Serve { .. } => {
            unreachable!("handled in run")
        }
    };
    let report = result.unwrap_or_else(|error| Report::failed(name, &error));
    print(&report, common.json_only);
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Raises the open-file limit and runs one workload.
fn go(
    common: &Common,
    workload: impl FnOnce(&Context) -> anyhow::Result<Report>,
) -> anyhow::Result<Report> {
    chinwag_bench_lib::raise_fd_limit();
    workload(&common.context())
}

fn print(report: &Report, json_only: bool) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", report.json);
    if !json_only {
        let _ = write!(stdout, "{}", report.summary);
    }
    let _ = stdout.flush();
}

/// One workload with its small sizes.
type SmokeRun = Box<dyn Fn(&Context) -> anyhow::Result<Report>>;

/// Every workload with small sizes; fails if any does.
fn smoke(common: &Common) -> ExitCode {
    let runs: [(&str, SmokeRun); 5] = [
        (
            "pairs",
            Box::new(|c| {
                messages::pairs(
                    c,
                    PairsParams {
                        pairs: 4,
                        window: 4,
                        secs: 2.0,
                    },
                )
            }),
        ),
        (
            "rate",
            Box::new(|c| {
                messages::rate(
                    c,
                    RateParams {
                        pairs: 10,
                        rate: 2000.0,
                        secs: 2.0,
                    },
                )
            }),
        ),
        (
            "fanout",
            Box::new(|c| {
                messages::fanout(
                    c,
                    FanoutParams {
                        members: 20,
                        senders: 2,
                        rate: 100.0,
                        secs: 2.0,
                    },
                )
            }),
        ),
        (
            "connect",
            Box::new(|c| {
                crowd::connect(
                    c,
                    ConnectParams {
                        clients: 200,
                        concurrency: 50,
                    },
                )
            }),
        ),
        (
            "list",
            Box::new(|c| {
                crowd::list(
                    c,
                    ListParams {
                        clients: 200,
                        reps: 5,
                    },
                )
            }),
        ),
    ];
    let started = Instant::now();
    let mut all_ok = true;
    for (name, workload) in &runs {
        let report = go(common, workload).unwrap_or_else(|error| Report::failed(name, &error));
        print(&report, common.json_only);
        all_ok &= report.ok;
    }
    if !common.json_only {
        println!(
            "smoke: {} in {:.1} s",
            if all_ok { "OK" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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
