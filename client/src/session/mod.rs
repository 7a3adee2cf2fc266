//! The interactive session, used when stdin is a terminal; the only module
//! that touches rustyline. The main thread edits lines and sends them; the
//! socket reader feeds an unbounded channel drained by the printer thread,
//! which prints above the prompt at once, so incoming lines never wait for
//! the user and never disturb the half-typed line.
//!
//! Keys: Enter sends, Tab completes, Ctrl-C clears the line (a second one
//! on an empty line quits), Ctrl-D on an empty line quits. A paste with
//! several lines sends each line; only its first line may be a command.
//!
//! Signing in: when the server asks for a registered name's password, the
//! prompt becomes `password for NAME: ` and the line is masked and never
//! kept; a password given ahead of time (`--password-file`,
//! `CHINWAG_PASSWORD`) is sent instead of asking, once.
//!
//! Reconnecting: the link thread (`link.rs`) makes a new connection when
//! one is lost and signs back in; meanwhile the prompt says
//! `(reconnecting)`, a line typed is kept in the editor instead of sent,
//! and Ctrl-C or Ctrl-D stops reconnecting.

mod helper;
mod link;
mod printer;
mod screen;
mod signin;

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use crossbeam_channel::{Sender, unbounded};
use rustyline::Editor;
use rustyline::config::{ColorMode, CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;

use crate::connection::Connection;
use crate::feed::{self, Feed, Options, Shared};
use crate::history::may_remember;
use crate::input;
use crate::layout::Line;
use crate::password::Stash;
use crate::render;
use crate::state::{Input, Pending, Place};

use self::helper::{ChatHelper, PromptWatch};
use self::link::{Current, Link};
use self::printer::{Batch, Output};
use self::screen::{rows_used, save_history};

pub(crate) use self::link::Reconnect;

/// How long to wait for `BYE` after asking to leave.
const BYE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait for the printer's last rows once the connection is over.
const LAST_WORDS_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_HISTORY: usize = 1000;

/// Runs the interactive session to the end; returns the exit status.
///
/// # Errors
///
/// The terminal or the connection fails.
pub(crate) fn run(
    connection: Connection,
    options: Options,
    name: Option<String>,
    history: Option<PathBuf>,
    password: Stash,
    reconnect: Option<Reconnect>,
) -> Result<u8> {
    // The link thread (once the session is over) and the signal thread
    // poke the session loop with SIGINT. Inside readline, rustyline's handler turns that
    // into `Interrupted`; outside it, this flag handler keeps the default
    // action (exit) from killing us before history is saved.
    signal_hook::flag::register(
        signal_hook::consts::SIGINT,
        Arc::new(AtomicBool::new(false)),
    )
    .context("cannot install the SIGINT handler")?;
    let hung_up = watch_hangup()?;

    let shared = Shared::new();
    shared.state.lock().reconnect = reconnect.is_some();
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(MAX_HISTORY)
        .context("bad history size")?
        // Forced, so the helper sees every repaint; it adds colour only
        // when colours are wanted.
        .color_mode(ColorMode::Forced)
        .build();
    let mut editor: Editor<ChatHelper, FileHistory> =
        Editor::with_config(config).context("cannot set up the line editor")?;
    let watch = PromptWatch::new(shared.clone());
    editor.set_helper(Some(ChatHelper::new(watch.clone(), options.colour)));

    let (rows, rows_rx) = unbounded();
    if let Some(path) = &history {
        match editor.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                let _ = rows.send(Batch::from(feed::rows(
                    options,
                    &[render::error(&format!(
                        "cannot read the history file {}: {error}",
                        path.display()
                    ))],
                )));
            }
        }
    }
    let output = match editor.create_external_printer() {
        Ok(printer) => Output::Terminal(Box::new(printer)),
        Err(_) => Output::Stdout,
    };
    let erase = matches!(output, Output::Terminal(_));

    thread::Builder::new()
        .name("chinwag-printer".to_owned())
        .spawn(move || printer::run(&rows_rx, output, &watch))
        .context("cannot start the printer thread")?;
    // Set here too, so that a line sent before the link thread runs has
    // somewhere to go.
    let current = Arc::new(Current::default());
    current.set(Some(connection.clone()));
    let link = Link::new(
        Feed::new(shared.clone(), options),
        rows.clone(),
        current.clone(),
        reconnect,
    );
    thread::Builder::new()
        .name("chinwag-link".to_owned())
        .spawn(move || link.run(connection))
        .context("cannot start the link thread")?;

    let mut session = Session {
        editor,
        current,
        shared,
        rows,
        options,
        erase,
        hung_up,
        password,
    };
    if let Some(name) = name {
        let _ = session.send_lines(&[name]);
    }
    let status = session.edit_loop();
    if let Some(path) = &history {
        save_history(&mut session.editor, path);
    }
    status
}

/// Turns SIGHUP (the terminal window closed, `tmux kill-session`) and
/// SIGTERM into a clean leave, so history is saved and the server gets
/// `/quit`, instead of the default death. A watcher thread sets the flag and
/// pokes the edit loop with SIGINT; if the terminal is already gone,
/// `readline` fails instead and the session ends through that path, which
/// saves history too.
fn watch_hangup() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    let hung_up = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM])
        .context("cannot install the SIGHUP and SIGTERM handlers")?;
    let flag = Arc::clone(&hung_up);
    thread::Builder::new()
        .name("chinwag-signals".to_owned())
        .spawn(move || {
            if signals.forever().next().is_some() {
                flag.store(true, Ordering::Release);
                link::poke_forever();
            }
        })
        .context("cannot start the signal thread")?;
    Ok(hung_up)
}

struct Session {
    editor: Editor<ChatHelper, FileHistory>,
    /// The connection the link thread is reading, if there is one.
    current: Arc<Current>,
    shared: Arc<Shared>,
    /// Rows for the printer thread.
    rows: Sender<Batch>,
    options: Options,
    /// Stdout is the terminal rustyline draws on, so stale rows can be erased.
    erase: bool,
    /// SIGHUP or SIGTERM arrived: leave as with Ctrl-D.
    hung_up: Arc<AtomicBool>,
    /// A password given ahead of time, sent the first time one is asked for.
    password: Stash,
}

impl Session {
    fn helper(&self) -> &ChatHelper {
        // The helper is set in `run` before the session exists and never
        // removed.
        self.editor.helper().expect("the helper is set")
    }

    fn notice(&self, line: Line) {
        let _ = self.rows.send(feed::rows(self.options, &[line]).into());
    }

    /// The connection to send on; `None` while reconnecting.
    fn connection(&self) -> Option<Connection> {
        self.current.get()
    }

    fn edit_loop(&mut self) -> Result<u8> {
        let mut restore: Option<(String, usize)> = None;
        let mut ctrl_c_armed = false;
        loop {
            let (prompt, input) = {
                let state = self.shared.state.lock();
                if state.place == Place::Closed {
                    drop(state);
                    return Ok(self.finish());
                }
                (state.prompt(), state.input())
            };
            let asking_password = input == Input::Password;
            if asking_password && self.send_preset_password() {
                continue;
            }
            let (line, pos) = if asking_password {
                // Nothing typed at another prompt is carried into this one.
                restore = None;
                (String::new(), 0)
            } else {
                restore.take().unwrap_or_default()
            };
            self.helper().showing(&prompt, &line, pos, asking_password);
            let pokes_before = helper::pokes();
            let result = if line.is_empty() {
                self.editor.readline(&prompt)
            } else {
                let (left, right) = line.split_at(pos.min(line.len()));
                self.editor.readline_with_initial(&prompt, (left, right))
            };
            match result {
                Ok(text) if input == Input::Held => {
                    self.notice(render::notice(
                        "not sent: not connected while reconnecting (Ctrl-C stops); the line is kept",
                    ));
                    restore = Some((text.clone(), text.len()));
                }
                Ok(text) if asking_password => {
                    ctrl_c_armed = false;
                    self.send_password(text);
                }
                Ok(text) => {
                    ctrl_c_armed = false;
                    if may_remember(&text) {
                        let _ = self.editor.add_history_entry(text.as_str());
                    }
                    if let Some(unsent) = self.send_lines(&input::split_typed(&text)) {
                        restore = Some((unsent.clone(), unsent.len()));
                    }
                }
                Err(ReadlineError::Interrupted) if self.hung_up.load(Ordering::Acquire) => {
                    return Ok(self.leave());
                }
                Err(ReadlineError::Interrupted) => {
                    let (line, pos) = self.helper().last_line();
                    if helper::pokes() != pokes_before {
                        // Not the user: a poke (the prompt changed, or the
                        // session is over), maybe a late one. Reopen the
                        // editor with the prompt as it is now in place of
                        // the old row; a half-typed password is dropped,
                        // not carried over to another prompt.
                        let changed = self.shared.state.lock().prompt() != prompt;
                        self.erase_rows(&prompt, &line);
                        if !(asking_password && changed) {
                            restore = Some((line, pos));
                        }
                        continue;
                    }
                    if input == Input::Held {
                        return Ok(self.stop_reconnecting());
                    }
                    if line.is_empty() && ctrl_c_armed {
                        return Ok(self.leave());
                    }
                    if line.is_empty() {
                        self.notice(render::notice(
                            "press Ctrl-C again to quit (or Ctrl-D, or type /exit)",
                        ));
                    }
                    ctrl_c_armed = true;
                }
                Err(ReadlineError::Eof) => return Ok(self.leave()),
                Err(error) => return Err(error).context("cannot read from the terminal"),
            }
        }
    }

    /// Sends typed lines, checking names locally while naming. Returns
    /// the lines not sent because the connection had just dropped, to be
    /// put back in the editor (sending them after a reconnect is the
    /// user's choice: the room or chat may have changed).
    #[must_use]
    fn send_lines(&mut self, lines: &[String]) -> Option<String> {
        for (n, line) in lines.iter().enumerate() {
            let Some(connection) = self.connection() else {
                self.notice(render::error(
                    "not sent: the connection dropped; the line is kept",
                ));
                return Some(lines[n..].join("\n"));
            };
            let leaving = {
                let mut state = self.shared.state.lock();
                if let Some(new) = input::new_password(line) {
                    state.keep_when_confirmed(Pending::Command(new));
                }
                if state.place == Place::Naming && !input::is_naming_command(line) {
                    if let Some(problem) = input::name_problem(line) {
                        drop(state);
                        self.notice(render::error(&problem));
                        continue;
                    }
                    state.trying_name(line);
                }
                if input::is_exit_in(line, &state.place) {
                    state.leaving = true;
                }
                state.leaving
            };
            if let Err(error) = connection.send(line) {
                self.notice(render::error(&format!(
                    "not sent: {error}; the line is kept"
                )));
                // The link thread sees the end and reconnects, or not.
                connection.close();
                return Some(lines[n..].join("\n"));
            }
            if leaving {
                self.wait_for_bye();
                return None;
            }
        }
        None
    }

    /// Ctrl-D, or a second Ctrl-C: ask the server to close, then finish.
    /// While the server waits for a password it would take `/quit` for
    /// one, so then we hang up instead.
    fn leave(&mut self) -> u8 {
        let mut state = self.shared.state.lock();
        if state.input() == Input::Held {
            drop(state);
            return self.stop_reconnecting();
        }
        state.leaving = true;
        if matches!(state.place, Place::Password(_)) {
            state.hung_up = true;
            state.place = Place::Closed;
            let goodbye = feed::rows(self.options, &[render::notice("disconnected. bye!")]);
            state.last_words.extend(goodbye);
            drop(state);
            self.current.close();
            return self.finish();
        }
        drop(state);
        if self.connection().is_some_and(|c| c.send("/quit").is_ok()) {
            self.wait_for_bye();
        }
        self.finish()
    }

    /// Ctrl-C or Ctrl-D while reconnecting: stop, and end the session.
    fn stop_reconnecting(&mut self) -> u8 {
        {
            let mut state = self.shared.state.lock();
            state.stop_reconnecting();
            let said = feed::rows(
                self.options,
                &[render::notice("stopped reconnecting. bye!")],
            );
            state.last_words.extend(said);
        }
        self.shared.changed.notify_all();
        // A connection still signing back in ends with it.
        self.current.close();
        self.finish()
    }

    fn wait_for_bye(&self) {
        let deadline = Instant::now() + BYE_TIMEOUT;
        let mut state = self.shared.state.lock();
        while state.place != Place::Closed {
            if self
                .shared
                .changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                drop(state);
                // The server did not answer: stop waiting for it.
                self.current.close();
                return;
            }
        }
    }

    /// Prints the last rows about the connection and picks the exit status.
    fn finish(&mut self) -> u8 {
        let deadline = Instant::now() + LAST_WORDS_TIMEOUT;
        let mut state = self.shared.state.lock();
        while !state.finished {
            if self
                .shared
                .changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                break;
            }
        }
        let mut out = io::stdout().lock();
        for row in state.last_words.drain(..) {
            let _ = writeln!(out, "{row}");
        }
        let _ = out.flush();
        state.exit_status()
    }

    /// Erases the rows of an interrupted `readline` (prompt plus line); the
    /// cursor is on the row below them.
    fn erase_rows(&mut self, prompt: &str, line: &str) {
        if !self.erase {
            return;
        }
        let Some((columns, _)) = self.editor.dimensions() else {
            return;
        };
        let rows = rows_used(&format!("{prompt}{line}"), usize::from(columns));
        let mut out = io::stdout().lock();
        let _ = write!(out, "\x1b[{rows}A\r\x1b[J");
        let _ = out.flush();
    }
}
