//! The command line of `chinwag-bench`: the modes ([`Mode`]) and the
//! workloads ([`Workload`]), each with the flags every workload takes
//! ([`Common`]). The workloads' own flags are their parameter structs.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::target::{CLUSTER_WITH_SERVER, ServerOptions};
use crate::workloads::Context;
use crate::workloads::crowd::{ConnectParams, ListParams};
use crate::workloads::messages::{FanoutParams, PairsParams, RateParams};
use crate::workloads::rooms::RoomsParams;
use crate::workloads::signin::SigninParams;

/// chinwag-bench: load generator for chinwagd.
#[derive(Debug, Parser)]
#[command(name = "chinwag-bench", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) mode: Mode,
}

/// What the bench does this time.
#[derive(Debug, Subcommand)]
pub(crate) enum Mode {
    // Flattened, so each workload is a subcommand of its own, as before
    // modes and workloads were told apart: scripts and docs use that.
    #[command(flatten)]
    Run(Workload),
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
    /// Guards a private redis-server for `--cluster` (used by the bench).
    #[command(hide = true, name = "redis-guard")]
    RedisGuard,
}

/// One workload, with its parameters and the common flags.
#[derive(Debug, Subcommand)]
pub(crate) enum Workload {
    /// P chatting pairs, W messages in flight per direction (closed loop).
    Pairs(Flags<PairsParams>),
    /// P chatting pairs at a fixed total rate (open loop).
    Rate(Flags<RateParams>),
    /// N users connect and register, C handshakes at a time; server memory.
    Connect(Flags<ConnectParams>),
    /// One room of M members, senders at a fixed total rate (open loop).
    Fanout(Flags<FanoutParams>),
    /// `/list` timed with N users online.
    List(Flags<ListParams>),
    /// R rooms of M members, all sending, W in flight each (closed loop).
    Rooms(Flags<RoomsParams>),
    /// N registered names; C signers sign in over and over (password checks).
    Signin(Flags<SigninParams>),
}

impl Workload {
    /// The common flags of the workload.
    pub(crate) fn common(&self) -> &Common {
        match self {
            Workload::Pairs(flags) => &flags.common,
            Workload::Rate(flags) => &flags.common,
            Workload::Connect(flags) => &flags.common,
            Workload::Fanout(flags) => &flags.common,
            Workload::List(flags) => &flags.common,
            Workload::Rooms(flags) => &flags.common,
            Workload::Signin(flags) => &flags.common,
        }
    }
}

/// A workload's flags: its parameters, then the common ones.
#[derive(Debug, Clone, Args)]
pub(crate) struct Flags<P: Args> {
    /// The workload's own flags.
    #[command(flatten)]
    pub(crate) params: P,
    /// The flags every workload takes.
    #[command(flatten)]
    pub(crate) common: Common,
}

impl<P: Args> Flags<P> {
    /// `params` with a copy of `common`.
    pub(crate) fn new(params: P, common: &Common) -> Flags<P> {
        Flags {
            params,
            common: common.clone(),
        }
    }
}

/// Flags every workload takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// Use this running server instead of starting one.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) server: Option<String>,
    /// Print only the JSON line.
    #[arg(long)]
    pub(crate) json_only: bool,
    /// Seconds any setup (connecting, registering, pairing) may take.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub(crate) timeout: u64,
    /// RUST_LOG of the server the bench starts.
    #[arg(long, default_value = "warn", value_name = "FILTER")]
    pub(crate) server_log: String,
    /// Extra chinwagd flag for the server the bench starts (repeatable).
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) server_args: Vec<String>,
    /// The server the bench starts keeps its data (room history,
    /// registered names) in a fresh directory under $TMPDIR, removed
    /// afterwards, instead of `--data none`.
    #[arg(long)]
    pub(crate) data_dir: bool,
    /// Every connection speaks TLS (the server the bench starts gets
    /// `--tls-bind 127.0.0.1:0 --tls-self-signed` and a data directory,
    /// whose certificate the bench trusts).
    #[arg(long)]
    pub(crate) tls: bool,
    /// With `--tls` and `--server`: the server's certificate (PEM) to trust.
    #[arg(long, value_name = "CERT.pem", requires = "tls")]
    pub(crate) tls_trust: Option<std::path::PathBuf>,
    /// Instead of one server, start a private redis-server and N chinwagd
    /// nodes joined to it (`--cluster redis://… --node-id benchK`), and
    /// spread the clients over the nodes round-robin, so the two users of
    /// every pair are on different nodes. Not with `--server`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=64))]
    pub(crate) cluster: Option<u16>,
}

impl Common {
    /// Fails on flags that cannot go together (beyond what clap checks).
    ///
    /// # Errors
    ///
    /// `--cluster` with `--server`.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if self.cluster.is_some() && self.server.is_some() {
            anyhow::bail!("{CLUSTER_WITH_SERVER}");
        }
        Ok(())
    }

    /// What a workload is given.
    pub(crate) fn context(&self) -> Context {
        Context {
            server: ServerOptions {
                external: self.server.clone(),
                log: self.server_log.clone(),
                extra_args: self.server_args.clone(),
                data_dir: self.data_dir,
                tls: self.tls,
                tls_trust: self.tls_trust.clone(),
                cluster: self.cluster.map(usize::from),
            },
            timeout: Duration::from_secs(self.timeout.max(1)),
        }
    }
}
