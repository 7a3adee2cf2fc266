//! The printer thread: the only place rows reach the screen in the
//! interactive mode. It drains an unbounded channel, so the socket reader
//! never waits for the terminal, even while rustyline holds external
//! prints back (during Ctrl-R, a completion list, or between two
//! `readline` calls), and prints with rustyline's `ExternalPrinter`, which
//! draws rows above the prompt and repaints the half-typed line. Without a
//! usable terminal it writes to stdout instead.

use std::io::{self, Write as _};

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rustyline::ExternalPrinter;

use super::helper::PromptWatch;

/// How often to check the prompt when nothing is printed.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Where rows go.
pub(super) enum Output {
    /// Above rustyline's prompt.
    Terminal(Box<dyn ExternalPrinter + Send>),
    /// Plain stdout (stdout is not a terminal, or the terminal is dumb).
    Stdout,
}

impl Output {
    fn print(&mut self, rows: Vec<String>) {
        if rows.is_empty() {
            return;
        }
        match self {
            Output::Terminal(printer) => {
                // An error means the terminal is gone; nothing to tell.
                let _ = printer.print(rows.join("\n"));
            }
            Output::Stdout => {
                let mut out = io::stdout().lock();
                for row in rows {
                    let _ = writeln!(out, "{row}");
                }
                let _ = out.flush();
            }
        }
    }
}

/// Prints every batch of rows until all senders are gone; after each batch,
/// and whenever nothing came for a while, makes sure the prompt is current.
pub(super) fn run(rows: &Receiver<Vec<String>>, mut output: Output, watch: &PromptWatch) {
    loop {
        match rows.recv_timeout(WATCH_INTERVAL) {
            Ok(batch) => output.print(batch),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        watch.poke_if_stale();
    }
}
