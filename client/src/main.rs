//! `chinwag`: the terminal client for `chinwagd`. Parses the flags,
//! connects (over TLS, asking before trusting a new server's certificate),
//! and hands over to the interactive session (a terminal on stdin) or to
//! the scriptable pipe mode (anything else). Exit status: 0 after a `BYE`
//! we asked for, 1 when the server went away or on an error, 2 for bad
//! flags.

mod backoff;
mod complete;
mod connection;
mod feed;
mod history;
mod input;
mod known_servers;
mod layout;
mod mention;
mod outage;
mod password;
mod pipe;
mod render;
mod session;
mod state;
mod target;
mod tls;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Parser;

use crate::connection::{Connection, NewServer};
use crate::feed::Options;
use crate::password::Stash;
use crate::target::Target;

/// Chat with people on a chinwag server.
#[derive(Debug, Parser)]
#[command(name = "chinwag", version)]
struct Args {
    /// Server to connect to: HOST:PORT, or chinwags://HOST:PORT for TLS.
    #[arg(
        long,
        env = "CHINWAG_SERVER",
        default_value = "127.0.0.1:7878",
        value_name = "HOST:PORT"
    )]
    server: String,

    /// Connect with TLS (as chinwags:// does).
    #[arg(long)]
    tls: bool,

    /// With TLS, trust only the certificate authority in this PEM file (and
    /// never a certificate on first use); implies --tls.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,

    /// With TLS, trust and remember a server's certificate seen for the
    /// first time without asking (a changed one is still refused).
    #[arg(long)]
    trust_new: bool,

    /// Sign in to a registered name with the password on the first line of
    /// this file (keep it mode 0600). CHINWAG_PASSWORD works too.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,

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

    /// Never ring the terminal bell (it rings for a mention of your name,
    /// a chat request, and a one-to-one message while you are elsewhere).
    #[arg(long)]
    no_bell: bool,

    /// Print the server's protocol lines as they arrive, unrendered (control
    /// characters are still neutralised).
    #[arg(long)]
    raw: bool,

    /// When the connection is lost, do not connect again (a session reading
    /// a pipe never does).
    #[arg(long)]
    no_reconnect: bool,
}

/// Whether output may be coloured: not asked off, `NO_COLOR` unset or
/// empty, and stdout a terminal.
fn colour_wanted(args: &Args) -> bool {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !args.no_color && !no_color_env && std::io::stdout().is_terminal()
}

/// Asks on the terminal whether to trust a server's certificate; from a
/// pipe, trusts it only with `--trust-new`.
fn ask_trust(new: &NewServer<'_>, interactive: bool, trust_new: bool) -> Result<bool> {
    let file = new.file.display();
    if trust_new {
        eprintln!(
            "chinwag: trusting {} on first use (SHA-256 {}); remembered in {file}",
            new.address, new.fingerprint
        );
        return Ok(true);
    }
    if !interactive {
        bail!(
            "the certificate of {} cannot be verified ({}); its SHA-256 fingerprint is {}. \
             stdin is not a terminal, so chinwag cannot ask: run it once in a terminal, \
             or pass --trust-new, or add the line \"{} {}\" to {file}",
            new.address,
            new.why,
            new.fingerprint,
            new.address.to_ascii_lowercase(),
            new.fingerprint
        );
    }
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "chinwag: the certificate of {} cannot be verified:\n  {}\n\
         its SHA-256 fingerprint is\n  {}\n\
         compare it with the one the server's operator gives you (chinwagd logs it).\n\
         trust this server and remember it in {file}? [y/N] ",
        new.address, new.why, new.fingerprint
    )?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn run(args: Args) -> Result<u8> {
    let interactive = std::io::stdin().is_terminal();
    // Read before connecting, so a bad file fails at once.
    let preset = match &args.password_file {
        Some(path) => Some(password::from_file(path)?),
        None => password::from_env(),
    };
    let target = Target::parse(&args.server, args.tls, args.ca.clone())?;
    let trust_new = args.trust_new;
    let connection = Connection::open(&target, &mut |new| ask_trust(new, interactive, trust_new))?;
    let password = Stash::new(preset);
    let options = Options {
        colour: colour_wanted(&args),
        wrap: std::io::stdout().is_terminal(),
        raw: args.raw,
        // Only a person at a terminal hears it; a script's output never
        // carries BEL.
        bell: !args.no_bell && interactive && std::io::stdout().is_terminal(),
    };
    if interactive {
        let history = match args.history {
            Some(path) => Some(path),
            None => history::default_path(),
        };
        // A script never reconnects: its next line would go to a session
        // that is not the one it was written for.
        let reconnect = (!args.no_reconnect).then(|| session::Reconnect {
            target: target.clone(),
            trust_new,
        });
        session::run(connection, options, args.name, history, password, reconnect)
    } else {
        pipe::run(connection, options, args.name, password)
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
