//! The scriptable mode, used when stdin is not a terminal: every input line
//! is sent as it is (no rustyline, no paste rule: a script's `/` lines are
//! commands), and every server line is printed rendered (or raw with
//! `--raw`). At the end of input it sends `/quit` unless the script already
//! left, and waits for the server's `BYE` (which comes after every earlier
//! reply, since the server answers in order), giving up after 5 s without
//! a line.
//!
//! Until a name is accepted, lines go one at a time, each after the answer
//! to the one before, so that a password given ahead of time
//! (`--password-file`, `CHINWAG_PASSWORD`) goes exactly where the server
//! asks for it; without one, the input line after the name is the
//! password. A refused preset password ends the script (status 1).
//!
//! ```text
//! printf 'alice\n/list\n' | chinwag --no-color
//! ```

use std::io::{self, BufRead as _};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use crossbeam_channel::{Receiver, select, unbounded};

use crate::connection::{Connection, Incoming};
use crate::feed::{Feed, Options, Shared};
use crate::input;
use crate::password::Stash;
use crate::state::Place;

/// How long to wait for the server after the last input line, counted from
/// the last line received.
const IDLE_AFTER_EOF: Duration = Duration::from_secs(5);
/// How long `--name`, or any line sent while naming, may wait for its
/// answer (a password check is deliberately slow).
const NAME_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the pipe mode to the end; returns the exit status.
///
/// # Errors
///
/// The connection fails, the server stops answering, `--name` is refused,
/// or a preset password is refused.
pub(crate) fn run(
    connection: Connection,
    options: Options,
    name: Option<String>,
    password: Stash,
) -> Result<u8> {
    let shared = Shared::new();
    let mut feed = Feed::new(shared.clone(), options);
    let (lines_tx, lines) = unbounded();
    connection.spawn_reader(move |incoming| {
        let _ = lines_tx.send(incoming);
    })?;
    let connection = Arc::new(connection);
    let password = Arc::new(password);
    let mut out = io::stdout().lock();

    if let Some(name) = name {
        {
            let mut state = shared.state.lock();
            state.trying_name(&name);
            state.awaiting_answer = true;
        }
        connection.send(&name).context("cannot send the name")?;
        loop {
            let incoming = lines
                .recv_timeout(NAME_TIMEOUT)
                .context("no answer from the server to the name")?;
            let done = show(&mut feed, incoming, &mut out)?;
            check_password(&shared, &password)?;
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
            if matches!(state.place, Place::Password(_)) && !state.awaiting_answer {
                drop(state);
                if !send_preset(&shared, &connection, &password)? {
                    // No preset: the first input line is the password.
                    break;
                }
            }
        }
    }

    let (eof_tx, eof) = unbounded();
    let sender = connection.clone();
    let reader_shared = shared.clone();
    let reader_password = password.clone();
    thread::Builder::new()
        .name("chinwag-stdin".to_owned())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if settle(&reader_shared, &sender, &reader_password).is_err() {
                    break;
                }
                {
                    let mut state = reader_shared.state.lock();
                    match &state.place {
                        Place::Naming if !line.is_empty() => {
                            state.trying_name(&line);
                            state.awaiting_answer = true;
                        }
                        Place::Password(_) if !line.is_empty() => {
                            state.sending_password();
                            state.awaiting_answer = true;
                        }
                        _ => {}
                    }
                    if input::is_exit_in(&line, &state.place) {
                        state.leaving = true;
                    }
                }
                if sender.send(&line).is_err() {
                    break;
                }
            }
            let _ = settle(&reader_shared, &sender, &reader_password);
            let _ = eof_tx.send(());
        })
        .context("cannot start the input thread")?;

    wait(
        &connection,
        &shared,
        &password,
        &mut feed,
        &lines,
        &eof,
        &mut out,
    )?;
    let state = shared.state.lock();
    Ok(state.exit_status())
}

/// Waits for the answer to the last naming line; when it asks for a
/// password and one was given ahead of time, sends it and waits again.
fn settle(shared: &Shared, connection: &Connection, password: &Stash) -> Result<()> {
    loop {
        let deadline = Instant::now() + NAME_TIMEOUT;
        let mut state = shared.state.lock();
        while state.awaiting_answer {
            if shared.changed.wait_until(&mut state, deadline).timed_out() {
                // Say nothing here: the main thread reports a silent server.
                return Ok(());
            }
        }
        if state.refused_password && password.was_used() {
            // The main thread ends the script; send nothing more.
            bail!("the preset password was refused");
        }
        let asked = matches!(state.place, Place::Password(_));
        drop(state);
        if !asked || !send_preset(shared, connection, password)? {
            return Ok(());
        }
    }
}

/// Sends the preset password if there is one left; returns whether it did.
fn send_preset(shared: &Shared, connection: &Connection, password: &Stash) -> Result<bool> {
    let Some(preset) = password.take() else {
        return Ok(false);
    };
    {
        let mut state = shared.state.lock();
        state.sending_preset(&preset.source);
        state.awaiting_answer = true;
    }
    connection
        .send_secret(&preset.secret)
        .context("cannot send the password")?;
    Ok(true)
}

/// Fails once the server has refused a password given ahead of time: a
/// script must not go on as someone else, nor send its next line as a
/// name.
fn check_password(shared: &Shared, password: &Stash) -> Result<()> {
    let state = shared.state.lock();
    if state.refused_password && password.was_used() {
        let name = state.password_for.clone().unwrap_or_default();
        bail!("the server refused the password given for {name:?}");
    }
    Ok(())
}

/// Prints what arrives until the connection ends; after the end of input,
/// asks to leave and gives up after [`IDLE_AFTER_EOF`] without a line.
fn wait(
    connection: &Connection,
    shared: &Shared,
    password: &Stash,
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
                    check_password(shared, password)?;
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
                check_password(shared, password)?;
            }
            recv(eof) -> _ => {
                input_done = true;
                let mut state = shared.state.lock();
                if let Place::Password(name) = &state.place {
                    // `/quit` would be taken for the password.
                    let name = name.clone();
                    drop(state);
                    connection.close();
                    bail!("the input ended while the server waited for the password of {name:?}");
                }
                let leaving = std::mem::replace(&mut state.leaving, true);
                drop(state);
                if !leaving {
                    // The connection may already be gone; the reader says so.
                    let _ = connection.send("/quit");
                }
            }
        }
    }
}

/// Prints one incoming event; returns whether the connection has ended
/// (closed, or `BYE` said: nothing may follow it, so a server slow to
/// close is not waited for).
fn show(feed: &mut Feed, incoming: Incoming, out: &mut impl io::Write) -> Result<bool> {
    let (rows, done) = match incoming {
        Incoming::Line(text) => {
            // A script's output never rings: `Options::bell` is off here.
            let rows = feed.line(&text).rows;
            (rows, feed.is_closed())
        }
        Incoming::Unreadable(why) if feed.is_raw() => {
            // With --raw, stdout carries protocol lines only.
            for row in feed.unreadable(why) {
                eprintln!("{row}");
            }
            return Ok(false);
        }
        Incoming::Unreadable(why) => (feed.unreadable(why), false),
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
