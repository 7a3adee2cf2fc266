//! The printer thread: the only place rows reach the screen in the
//! interactive mode. It drains an unbounded channel, so the socket reader
//! never waits for the terminal, even while rustyline holds external
//! prints back (during Ctrl-R, a completion list, or between two
//! `readline` calls), and prints with rustyline's `ExternalPrinter`, which
//! draws rows above the prompt and repaints the half-typed line. Without a
//! usable terminal it writes to stdout instead.
//!
//! The bell (BEL) is written here too, in front of the rows it is for, and
//! never by the reader: whether a one-to-one line rings depends on the
//! prompt on screen, which is known here as the rows are drawn.

use std::io::{self, Write as _};

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rustyline::ExternalPrinter;

use super::helper::PromptWatch;
use crate::mention::Ring;

/// How often to check the prompt when nothing is printed.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Rows to print together, and whether they ring the bell.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) rows: Vec<String>,
    pub(super) ring: Option<Ring>,
}

impl From<Vec<String>> for Batch {
    fn from(rows: Vec<String>) -> Batch {
        Batch { rows, ring: None }
    }
}

/// The terminal bell.
const BEL: &str = "\x07";

/// Where rows go.
pub(super) enum Output {
    /// Above rustyline's prompt.
    Terminal(Box<dyn ExternalPrinter + Send>),
    /// Plain stdout (stdout is not a terminal, or the terminal is dumb).
    Stdout,
}

impl Output {
    fn print(&mut self, rows: Vec<String>, bell: bool) {
        if rows.is_empty() {
            return;
        }
        let bell = if bell { BEL } else { "" };
        match self {
            Output::Terminal(printer) => {
                // An error means the terminal is gone; nothing to tell.
                let _ = printer.print(format!("{bell}{}", rows.join("\n")));
            }
            Output::Stdout => {
                let mut out = io::stdout().lock();
                let _ = write!(out, "{bell}");
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
pub(super) fn run(batches: &Receiver<Batch>, mut output: Output, watch: &PromptWatch) {
    loop {
        match batches.recv_timeout(WATCH_INTERVAL) {
            Ok(batch) => {
                let bell = batch.ring.is_some_and(|ring| ring.rings(&watch.shown()));
                output.print(batch.rows, bell);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        watch.poke_if_stale();
    }
}
