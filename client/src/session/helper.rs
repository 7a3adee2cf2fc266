//! The rustyline helper: tab completion from the shared state, and the
//! watcher that keeps the prompt true. rustyline cannot change a prompt
//! while it edits a line, so on every repaint (which happens after each
//! external print, hence after each state change), and from the printer
//! thread after each batch and every 250 ms, the [`PromptWatch`] compares
//! the prompt on screen with the one the state asks for; when they differ
//! it raises SIGINT. rustyline turns that into `Interrupted`, and the
//! session loop reopens the editor with the new prompt and the line as it
//! was (text and cursor), which the helper records on every repaint. The
//! check repeats because rustyline reads one signal per wake-up and can
//! lose a SIGINT that arrives together with a SIGWINCH.
//!
//! rustyline reports a poke and the user's Ctrl-C alike, as `Interrupted`,
//! and a poke can land late: the watch finds the prompt stale, the session
//! loop reopens the editor meanwhile, and the signal reaches the new
//! `readline`. So every poke is counted ([`poke`]) before it is raised,
//! and the loop takes an `Interrupted` for the user's Ctrl-C only if no
//! poke started since that `readline` began. A late poke is then never
//! taken for a Ctrl-C (which would stop reconnecting, or arm the quit); at
//! worst a Ctrl-C pressed just as a poke was lost between two `readline`
//! calls is taken for a poke, and the user presses it again.
//!
//! Passwords are masked by the highlighter, as rustyline's
//! `read_password` example does: at the password prompt the whole line,
//! and in `/register`, `/password` and `/unregister` everything after the
//! command word, is drawn as one `*` per column.

use std::borrow::Cow;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use unicode_width::UnicodeWidthStr as _;

use parking_lot::Mutex;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::complete::complete;
use crate::feed::Shared;
use crate::input;

/// Pokes started so far.
static POKES: AtomicU64 = AtomicU64::new(0);

/// Interrupts the session loop's `readline` (SIGINT to ourselves), counted
/// first, so that the loop can tell it from the user's Ctrl-C.
pub(super) fn poke() {
    POKES.fetch_add(1, Ordering::SeqCst);
    let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
}

/// How many pokes have started.
pub(super) fn pokes() -> u64 {
    POKES.load(Ordering::SeqCst)
}

/// Compares the prompt on screen with the state's, and pokes the session
/// loop when they differ. Shared by the helper and the printer thread.
pub(super) struct PromptWatch {
    shared: Arc<Shared>,
    /// The prompt the current `readline` call shows.
    shown: Mutex<String>,
}

impl PromptWatch {
    pub(super) fn new(shared: Arc<Shared>) -> Arc<PromptWatch> {
        Arc::new(PromptWatch {
            shared,
            shown: Mutex::new(String::new()),
        })
    }

    /// Raises SIGINT if the prompt on screen is stale. Inside `readline`,
    /// rustyline's handler turns it into `Interrupted`; outside, the
    /// session's flag handler ignores it (the loop re-reads the state
    /// before the next `readline` anyway).
    pub(super) fn poke_if_stale(&self) {
        let wanted = self.shared.state.lock().prompt();
        if wanted != *self.shown.lock() {
            poke();
        }
    }

    /// The prompt the current `readline` call shows.
    pub(super) fn shown(&self) -> String {
        self.shown.lock().clone()
    }
}

/// The editor's helper.
pub(super) struct ChatHelper {
    watch: Arc<PromptWatch>,
    /// The line being edited and the cursor's byte offset, as of the last
    /// repaint.
    last_line: Mutex<(String, usize)>,
    /// The current `readline` reads a password: mask the whole line.
    secret_prompt: AtomicBool,
    colour: bool,
}

impl ChatHelper {
    pub(super) fn new(watch: Arc<PromptWatch>, colour: bool) -> ChatHelper {
        ChatHelper {
            watch,
            last_line: Mutex::new((String::new(), 0)),
            secret_prompt: AtomicBool::new(false),
            colour,
        }
    }

    /// Called before each `readline` with the prompt and line it will show,
    /// and whether the line is a password.
    pub(super) fn showing(&self, prompt: &str, line: &str, pos: usize, secret: bool) {
        self.secret_prompt.store(secret, Ordering::SeqCst);
        *self.watch.shown.lock() = prompt.to_owned();
        *self.last_line.lock() = (line.to_owned(), pos);
    }

    /// The line being edited when `readline` last repainted.
    pub(super) fn last_line(&self) -> (String, usize) {
        self.last_line.lock().clone()
    }

    fn record(&self, line: &str, pos: usize) {
        let mut last = self.last_line.lock();
        if last.0 != line {
            last.0.clear();
            last.0.push_str(line);
        }
        last.1 = pos;
    }
}

impl Completer for ChatHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let state = self.watch.shared.state.lock();
        let completion = complete(line, pos, &state);
        let candidates = completion
            .candidates
            .into_iter()
            .map(|c| Pair {
                display: c.trim_end().to_owned(),
                replacement: c,
            })
            .collect();
        Ok((completion.start, candidates))
    }
}

impl Hinter for ChatHelper {
    type Hint = String;
}

impl Validator for ChatHelper {}

impl Highlighter for ChatHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        default: bool,
    ) -> Cow<'b, str> {
        if default {
            self.watch.poke_if_stale();
        }
        if self.colour {
            Cow::Owned(format!("\x1b[1;97m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        self.record(line, pos);
        let start = if self.secret_prompt.load(Ordering::SeqCst) {
            Some(0)
        } else {
            input::secret_start(line)
        };
        match start {
            Some(start) => Cow::Owned(mask(line, start)),
            None => Cow::Borrowed(line),
        }
    }

    fn highlight_char(&self, line: &str, pos: usize, _kind: CmdKind) -> bool {
        // Always repaint, so that `highlight` sees every edit.
        self.record(line, pos);
        true
    }
}

impl Helper for ChatHelper {}

/// `line` with everything from byte `start` drawn as `*`, one per column,
/// so the cursor stays where rustyline puts it.
fn mask(line: &str, start: usize) -> String {
    let (shown, hidden) = line.split_at(start);
    format!("{shown}{}", "*".repeat(hidden.width()))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masking_keeps_the_width() {
        assert_eq!(mask("hunter2", 0), "*******");
        assert_eq!(mask("/register pass word", 10), "/register *********");
        assert_eq!(mask("/register 日本", 10), "/register ****");
        assert_eq!(mask("/register ", 10), "/register ");
    }
}
