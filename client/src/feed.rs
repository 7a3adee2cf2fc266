//! What happens to each incoming server line, in both modes: parse it,
//! update the shared [`State`], render it and lay it out as stamped rows
//! (or, with `--raw`, pass it on neutralised but unrendered). Reads the
//! clock and the terminal width; prints nothing itself.

use std::io;
use std::sync::Arc;

use common::ServerLine;
use parking_lot::{Condvar, Mutex};

use crate::connection::Unreadable;
use crate::layout::{Layout, Line, Shown};
use crate::mention::{self, Ring};
use crate::outage::{self, Step};
use crate::render::{self, Renderer, neutralise};
use crate::state::{Place, State};

/// The state shared by the thread that feeds lines and the thread that
/// reads the user's input, with a condition variable signalled on every
/// change.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) changed: Condvar,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
        })
    }
}

/// How output is shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Emit ANSI colours.
    pub(crate) colour: bool,
    /// Wrap at the width of the terminal on stdout, if it is one.
    pub(crate) wrap: bool,
    /// Print protocol lines as received (neutralised), not rendered.
    pub(crate) raw: bool,
    /// Ring the terminal bell for mentions, requests and one-to-one lines.
    pub(crate) bell: bool,
}

/// What one server line became.
#[derive(Debug)]
pub(crate) struct Fed {
    /// Rows to print.
    pub(crate) rows: Vec<String>,
    /// Whether to ring the bell with them.
    pub(crate) ring: Option<Ring>,
    /// What to do next while signing back in after a lost connection.
    pub(crate) step: Step,
}

/// Stamped, laid-out rows for `lines`, as of now and at the terminal's
/// current width.
pub(crate) fn rows(options: Options, lines: &[Line]) -> Vec<String> {
    let lines: Vec<Shown> = lines.iter().cloned().map(Shown::from).collect();
    shown_rows(options, &lines)
}

/// Stamped, laid-out rows for `lines`, each stamped with the time it is
/// about, at the terminal's current width.
pub(crate) fn shown_rows(options: Options, lines: &[Shown]) -> Vec<String> {
    let width = if options.wrap {
        terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
    } else {
        None
    };
    let layout = Layout {
        colour: options.colour,
        width,
    };
    let now = jiff::Zoned::now();
    lines
        .iter()
        .flat_map(|shown| layout.rows(&render::stamp_of(shown.at_ms, &now), &shown.line))
        .collect()
}

/// Turns server lines into rows to print.
#[derive(Debug)]
pub(crate) struct Feed {
    shared: Arc<Shared>,
    renderer: Renderer,
    options: Options,
}

impl Feed {
    pub(crate) fn new(shared: Arc<Shared>, options: Options) -> Feed {
        Feed {
            shared,
            renderer: Renderer::default(),
            options,
        }
    }

    /// The state this feed updates.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Whether protocol lines are shown unrendered (`--raw`).
    pub(crate) fn is_raw(&self) -> bool {
        self.options.raw
    }

    /// Rows for lines the client says itself.
    pub(crate) fn local(&self, lines: &[Line]) -> Vec<String> {
        rows(self.options, lines)
    }

    /// Handles one server line: the state is updated before this returns.
    pub(crate) fn line(&mut self, text: &str) -> Fed {
        let parsed = ServerLine::parse(text);
        let (mut rendered, ring, step) = {
            let mut state = self.shared.state.lock();
            match &parsed {
                Ok(line) => {
                    state.apply(line);
                    let rendered = self.renderer.render(line, &state);
                    let ring = mention::ring(line, &state).filter(|_| self.options.bell);
                    let (step, said) = outage::step(&mut state, line);
                    (rendered, ring, (step, said))
                }
                Err(_) => (
                    vec![render::unparsed(text).into()],
                    None,
                    (Step::Nothing, Vec::new()),
                ),
            }
        };
        self.shared.changed.notify_all();
        let (step, said) = step;
        let rows = if self.options.raw {
            let mut rows = vec![neutralise(text)];
            rows.extend(self.local(&said));
            rows
        } else {
            rendered.extend(said.into_iter().map(Shown::from));
            shown_rows(self.options, &rendered)
        };
        Fed { rows, ring, step }
    }

    /// Rows for a server line that was dropped unread.
    pub(crate) fn unreadable(&self, why: Unreadable) -> Vec<String> {
        let text = match why {
            Unreadable::TooLong => "the server sent a line over 64 KiB long; it was dropped",
            Unreadable::BadEncoding => "the server sent a line that is not UTF-8; it was dropped",
        };
        self.local(&[render::error(text)])
    }

    /// Whether the connection is over (`BYE` seen or closed).
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.state.lock().place == Place::Closed
    }

    /// Keeps rows for the session loop to print after the editor is gone.
    pub(crate) fn hand_over(&self, rows: Vec<String>) {
        self.shared.state.lock().last_words.extend(rows);
        self.shared.changed.notify_all();
    }

    /// Marks that no more rows will be handed over.
    pub(crate) fn finished(&self) {
        self.shared.state.lock().finished = true;
        self.shared.changed.notify_all();
    }

    /// Handles the end of the connection.
    pub(crate) fn closed(&mut self, error: Option<&io::Error>) -> Vec<String> {
        let said_so = {
            let mut state = self.shared.state.lock();
            // After `BYE` (which was shown), or closed by us to try again.
            let said_so = matches!(state.place, Place::Closed | Place::Offline);
            state.close();
            said_so
        };
        self.shared.changed.notify_all();
        if said_so {
            return Vec::new();
        }
        let text = match error {
            Some(error) => format!("lost the connection to the server: {error}"),
            None => "the server closed the connection".to_owned(),
        };
        self.local(&[render::error(&text)])
    }
}
