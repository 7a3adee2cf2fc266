//! The scriptable mode, used when stdin is not a terminal: every input line
//! is sent as it is (no rustyline, no paste rule: a script's `/` lines are
//! commands), and every server line is printed rendered (or raw with
//! `--raw`). At the end of input it sends `/quit` unless the script already
//! left, and waits for the server's `BYE` (which comes after every earlier
//! reply, since the server answers in order), giving up after 5 s without
//! a line.
//!
//! ```text
//! printf 'alice\n/list\n' | chinwag --no-color
//! ```

use std::io::{self, BufRead as _};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use crossbeam_channel::{Receiver, select, unbounded};

use crate::connection::{Connection, Incoming};
use crate::feed::{Feed, Options, Shared};
use crate::input;

/// How long to wait for the server after the last input line, counted from
/// the last line received.
const IDLE_AFTER_EOF: Duration = Duration::from_secs(5);
/// How long `--name` may wait for its answer.
const NAME_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the pipe mode to the end; returns the exit status.
///
/// # Errors
///
/// The connection fails, the server stops answering, or `--name` is refused.
pub(crate) fn run(connection: Connection, options: Options, name: Option<String>) -> Result<u8> {
    let shared = Shared::new();
    let mut feed = Feed::new(shared.clone(), options);
    let (lines_tx, lines) = unbounded();
    connection.spawn_reader(move |incoming| {
        let _ = lines_tx.send(incoming);
    })?;
    let connection = Arc::new(connection);
    let mut out = io::stdout().lock();

    if let Some(name) = name {
        shared.state.lock().trying_name(&name);
        connection.send(&name).context("cannot send the name")?;
        loop {
            let incoming = lines
                .recv_timeout(NAME_TIMEOUT)
                .context("no answer from the server to the name")?;
            let done = show(&mut feed, incoming, &mut out)?;
            let state = shared.state.lock();
            if state.me.is_some() {
                break;
            }
            if done {
                bail!("the server closed the connection before accepting the name");
            }
            if state.refused_name {
                bail!("the server refused the name {name:?}");
            }
        }
    }

    let (eof_tx, eof) = unbounded();
    let sender = connection.clone();
    let reader_shared = shared.clone();
    thread::Builder::new()
        .name("chinwag-stdin".to_owned())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                {
                    let mut state = reader_shared.state.lock();
                    if input::is_exit_in(&line, &state.place) {
                        state.leaving = true;
                    }
                }
                if sender.send(&line).is_err() {
                    break;
                }
            }
            let _ = eof_tx.send(());
        })
        .context("cannot start the input thread")?;

    wait(&connection, &shared, &mut feed, &lines, &eof, &mut out)?;
    let state = shared.state.lock();
    Ok(state.exit_status())
}

/// Prints what arrives until the connection ends; after the end of input,
/// asks to leave and gives up after [`IDLE_AFTER_EOF`] without a line.
fn wait(
    connection: &Connection,
    shared: &Shared,
    feed: &mut Feed,
    lines: &Receiver<Incoming>,
    eof: &Receiver<()>,
    out: &mut impl io::Write,
) -> Result<()> {
    let mut input_done = false;
    loop {
        if input_done {
            match lines.recv_timeout(IDLE_AFTER_EOF) {
                Ok(incoming) => {
                    if show(feed, incoming, out)? {
                        return Ok(());
                    }
                }
                Err(_) => {
                    connection.close();
                    bail!("no answer from the server for 5 s after the end of input");
                }
            }
            continue;
        }
        select! {
            recv(lines) -> incoming => {
                let incoming = incoming.unwrap_or(Incoming::Closed(None));
                if show(feed, incoming, out)? {
                    return Ok(());
                }
            }
            recv(eof) -> _ => {
                input_done = true;
                let leaving = std::mem::replace(&mut shared.state.lock().leaving, true);
                if !leaving {
                    // The connection may already be gone; the reader says so.
                    let _ = connection.send("/quit");
                }
            }
        }
    }
}

/// Prints one incoming event; returns whether the connection has ended.
fn show(feed: &mut Feed, incoming: Incoming, out: &mut impl io::Write) -> Result<bool> {
    let (rows, done) = match incoming {
        Incoming::Line(text) => (feed.line(&text), false),
        Incoming::Closed(error) if feed.is_raw() => {
            // With --raw, stdout carries protocol lines only; the client's
            // own notice goes to stderr (the exit status says it too).
            for row in feed.closed(error.as_ref()) {
                eprintln!("{row}");
            }
            return Ok(true);
        }
        Incoming::Closed(error) => (feed.closed(error.as_ref()), true),
    };
    for row in rows {
        if let Err(error) = writeln!(out, "{row}") {
            if error.kind() == io::ErrorKind::BrokenPipe {
                // Nobody reads our output any more: stop quietly.
                std::process::exit(1);
            }
            return Err(error).context("cannot write to stdout");
        }
    }
    out.flush().context("cannot write to stdout")?;
    Ok(done)
}
