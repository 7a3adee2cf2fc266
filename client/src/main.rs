//! `chinwag`: the terminal client for `chinwagd`. Parses the flags,
//! connects, and hands over to the interactive session (a terminal on
//! stdin) or to the scriptable pipe mode (anything else). Exit status: 0
//! after a `BYE` we asked for, 1 when the server went away or on an error,
//! 2 for bad flags.

mod complete;
mod connection;
mod feed;
mod history;
mod input;
mod layout;
mod pipe;
mod render;
mod session;
mod state;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::connection::Connection;
use crate::feed::Options;

/// Chat with people on a chinwag server.
#[derive(Debug, Parser)]
#[command(name = "chinwag", version)]
struct Args {
    /// Server to connect to.
    #[arg(
        long,
        env = "CHINWAG_SERVER",
        default_value = "127.0.0.1:7878",
        value_name = "HOST:PORT"
    )]
    server: String,

    /// Username to ask for; without it, chinwag asks (or, reading a pipe,
    /// takes the first input line).
    #[arg(long, env = "CHINWAG_NAME", value_name = "NAME")]
    name: Option<String>,

    /// History file [default: $XDG_DATA_HOME/chinwag/history, or
    /// ~/.local/share/chinwag/history].
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,

    /// No colours (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long)]
    no_color: bool,

    /// Print the server's protocol lines as they arrive, unrendered (control
    /// characters are still neutralised).
    #[arg(long)]
    raw: bool,
}

/// Whether output may be coloured: not asked off, `NO_COLOR` unset or
/// empty, and stdout a terminal.
fn colour_wanted(args: &Args) -> bool {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !args.no_color && !no_color_env && std::io::stdout().is_terminal()
}

fn run(args: Args) -> Result<u8> {
    let connection = Connection::open(&args.server)?;
    let options = Options {
        colour: colour_wanted(&args),
        wrap: std::io::stdout().is_terminal(),
        raw: args.raw,
    };
    if std::io::stdin().is_terminal() {
        let history = match args.history {
            Some(path) => Some(path),
            None => history::default_path(),
        };
        session::run(connection, options, args.name, history)
    } else {
        pipe::run(connection, options, args.name)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("chinwag: {error:#}");
            ExitCode::from(1)
        }
    }
}
