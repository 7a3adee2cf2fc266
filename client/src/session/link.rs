//! The link thread: it reads the socket, and when the connection is lost
//! in a way worth another try (`State::close`, `BYE shutdown`, `overload`
//! or `full`), it makes another one and signs the session back in. Per
//! line it updates the state and renders (`Feed`), hands the rows to the
//! printer thread, and does what signing back in asks (`outage::step`):
//! send the name, the kept password, `/join ROOM`. Between connections it
//! waits (1 s doubling to 30 s, with jitter), saying so once per attempt,
//! and stops as soon as the user does (Ctrl-C or Ctrl-D: the state turns
//! `Closed`, which wakes the wait). It never touches the terminal.
//!
//! A name still held by the dead connection (an unregistered name whose
//! old connection the server has not noticed yet: keepalive takes about
//! 90 s) is retried with the same backoff for [`HELD_FOR`] after the
//! loss, then given up to the user.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::backoff::{self, Backoff};
use crate::connection::{Connection, Incoming, Unopened};
use crate::feed::{Feed, Shared};
use crate::layout::Line;
use crate::mention::Ring;
use crate::outage::Step;
use crate::render;
use crate::state::Place;
use crate::target::Target;

use super::printer::Batch;

/// How long after the loss a name held by the old connection is waited
/// for: the server frees it within about 90 s (keepalive: 60 s idle, then
/// three probes 10 s apart), plus a margin.
pub(super) const HELD_FOR: Duration = Duration::from_secs(120);
/// How often the session loop is poked once the session is over.
const POKE_INTERVAL: Duration = Duration::from_millis(200);

/// Where and how to connect again.
#[derive(Debug, Clone)]
pub(crate) struct Reconnect {
    pub(crate) target: Target,
    /// `--trust-new`: nobody can be asked about a new certificate
    /// mid-session, so without it one is refused.
    pub(crate) trust_new: bool,
}

/// The connection the session sends on, if there is one now.
#[derive(Debug, Default)]
pub(super) struct Current(Mutex<Option<Connection>>);

impl Current {
    pub(super) fn get(&self) -> Option<Connection> {
        self.0.lock().clone()
    }

    pub(super) fn set(&self, connection: Option<Connection>) {
        *self.0.lock() = connection;
    }

    /// Closes the connection, if there is one; its reader sees the end.
    pub(super) fn close(&self) {
        if let Some(connection) = self.get() {
            connection.close();
        }
    }
}

/// The link thread's state.
pub(super) struct Link {
    shared: Arc<Shared>,
    feed: Feed,
    batches: Sender<Batch>,
    current: Arc<Current>,
    /// `None`: this session never reconnects.
    reconnect: Option<Reconnect>,
    backoff: Backoff,
    /// When the connection was lost, while the session is not restored.
    lost_at: Option<Instant>,
    /// Rows about the loss, held back to go out in one batch with the
    /// first "reconnecting" line: the prompt changes as the connection is
    /// lost, and rustyline can keep a row printed across that change in
    /// its queue while a later one, printed between two `readline` calls,
    /// overtakes it.
    deferred: Vec<String>,
}

impl Link {
    pub(super) fn new(
        feed: Feed,
        batches: Sender<Batch>,
        current: Arc<Current>,
        reconnect: Option<Reconnect>,
    ) -> Link {
        Link {
            shared: feed.shared(),
            feed,
            batches,
            current,
            reconnect,
            backoff: Backoff::new(),
            lost_at: None,
            deferred: Vec::new(),
        }
    }

    /// Reads `first`, and every connection after it, until the session
    /// is over; then pokes the session loop until the process ends.
    pub(super) fn run(mut self, first: Connection) -> ! {
        let mut connection = first;
        loop {
            self.current.set(Some(connection.clone()));
            connection.read(|incoming| self.handle(incoming, &connection));
            self.current.set(None);
            connection.close();
            if self.shared.state.lock().place != Place::Offline {
                break;
            }
            self.lost_at.get_or_insert_with(Instant::now);
            match self.connect_again() {
                Some(again) => connection = again,
                None => break,
            }
        }
        let rest = std::mem::take(&mut self.deferred);
        self.feed.hand_over(rest);
        self.feed.finished();
        poke_forever()
    }

    fn handle(&mut self, incoming: Incoming, connection: &Connection) {
        match incoming {
            Incoming::Line(text) => {
                let fed = self.feed.line(&text);
                self.show(fed.rows, fed.ring);
                self.act(fed.step, connection);
            }
            Incoming::Unreadable(why) => {
                let rows = self.feed.unreadable(why);
                self.show(rows, None);
            }
            Incoming::Closed(error) => {
                let rows = self.feed.closed(error.as_ref());
                self.show(rows, None);
            }
        }
    }

    /// Queues rows for the printer; once the session is over they are
    /// kept for the session loop, which prints them after the editor has
    /// let go of the terminal; while offline they wait for [`Link::announce`].
    fn show(&mut self, rows: Vec<String>, ring: Option<Ring>) {
        let place = self.shared.state.lock().place.clone();
        match place {
            Place::Closed => {
                let mut all = std::mem::take(&mut self.deferred);
                all.extend(rows);
                self.feed.hand_over(all);
            }
            Place::Offline => self.deferred.extend(rows),
            _ => self.send(rows, ring),
        }
    }

    /// Sends rows to the printer now, after any held back.
    fn send(&mut self, rows: Vec<String>, ring: Option<Ring>) {
        let mut all = std::mem::take(&mut self.deferred);
        all.extend(rows);
        let _ = self.batches.send(Batch { rows: all, ring });
    }

    fn say(&mut self, line: Line) {
        let rows = self.feed.local(&[line]);
        self.show(rows, None);
    }

    /// Says `line` now, also while offline.
    fn announce(&mut self, line: Line) {
        let rows = self.feed.local(&[line]);
        self.send(rows, None);
    }

    /// Does what signing back in asks after a line.
    fn act(&mut self, step: Step, connection: &Connection) {
        let sent = match step {
            Step::Nothing => Ok(()),
            Step::Send(line) => connection.send(&line),
            Step::SendPassword => {
                let kept = self.shared.state.lock().password.clone();
                kept.map_or(Ok(()), |secret| connection.send_secret(&secret))
            }
            Step::NameHeld => {
                self.name_held(connection);
                Ok(())
            }
            Step::Restored => {
                self.backoff.reset();
                self.lost_at = None;
                Ok(())
            }
        };
        if sent.is_err() {
            // The reader sees the end and says so.
            connection.close();
        }
    }

    /// The name is still held by the old connection: hang up and try
    /// again later, or, once the server must have freed it and has not,
    /// let the user choose.
    fn name_held(&mut self, connection: &Connection) {
        let lost_at = *self.lost_at.get_or_insert_with(Instant::now);
        if lost_at.elapsed() < HELD_FOR {
            self.shared.state.lock().retry_later();
            self.shared.changed.notify_all();
            connection.close();
            return;
        }
        let name = self.shared.state.lock().give_up_name();
        self.shared.changed.notify_all();
        let name = name.unwrap_or_default();
        self.say(render::error(&format!(
            "{name} is still taken two minutes after the connection dropped; choose a name"
        )));
    }

    /// Waits and connects until a connection is made (`Some`), the user
    /// stops, or the server's certificate is refused (`None`).
    fn connect_again(&mut self) -> Option<Connection> {
        let Some(reconnect) = self.reconnect.clone() else {
            self.shared.state.lock().stop_reconnecting();
            return None;
        };
        let mut failed: Option<String> = None;
        loop {
            let attempt = self.backoff.attempt();
            let wait = self.backoff.next_wait();
            let before = failed
                .take()
                .map(|why| format!("attempt {} failed ({why}); ", attempt - 1))
                .unwrap_or_default();
            self.announce(render::notice(&format!(
                "{before}reconnecting in {} s (attempt {attempt}); Ctrl-C stops",
                backoff::seconds(wait)
            )));
            if !self.wait(wait) {
                return None;
            }
            match Connection::reopen(&reconnect.target, reconnect.trust_new) {
                Ok(again) if self.shared.state.lock().place == Place::Offline => {
                    return Some(again);
                }
                // The user stopped while we were connecting.
                Ok(again) => {
                    again.close();
                    return None;
                }
                Err(Unopened::Unreachable(error)) => failed = Some(error.root_cause().to_string()),
                Err(Unopened::Refused(error)) => {
                    self.shared.state.lock().stop_reconnecting();
                    self.shared.changed.notify_all();
                    for line in format!("{error:#}").lines().filter(|l| !l.is_empty()) {
                        self.say(render::error(line));
                    }
                    self.say(render::error("not reconnecting"));
                    return None;
                }
            }
        }
    }

    /// Waits `wait`; `false` if the user stopped reconnecting meanwhile.
    fn wait(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut state = self.shared.state.lock();
        while state.place == Place::Offline {
            if self
                .shared
                .changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return state.place == Place::Offline;
            }
        }
        false
    }
}

/// Pokes the session loop with SIGINT until the process ends: the loop
/// treats it as "look at the state", and a poke that lands between two
/// `readline` calls is simply repeated.
pub(super) fn poke_forever() -> ! {
    loop {
        super::helper::poke();
        thread::sleep(POKE_INTERVAL);
    }
}
