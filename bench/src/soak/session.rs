//! One connection of a soak client: sends an action, reads and judges every
//! line until the action's barrier comes back, and keeps the model in step.
//! A violation ends the connection (dropped), so one fault is reported once
//! and not echoed by every later check. The telnet echo offer around a
//! password is checked here: `IAC WILL ECHO` right before `PASSWORD`,
//! `IAC WONT ECHO` right before the line that answers the password. A
//! `TOPIC` line read while `/topic` or `/join` awaits its answer is held
//! back one line: it is that answer's if the `OK` comes next (an answer's
//! lines come together), else an event.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::telnet::IAC;
use common::{ErrorCode, HistoryLine, OkReply, PROTOCOL, ServerLine, WILL_ECHO, WONT_ECHO};

use crate::accounts::Account;
use crate::actions::{Action, End};
use crate::ledger::{Ledger, NameStatus};
use crate::model::{Landing, Model, Place};
use crate::replies::{self, Context, Expect, TopicLine, Want};
use crate::wire::{Incoming, Wire};

/// How long an action may wait for its replies (flood control and a loaded
/// machine included) before silence is a violation.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the server may take to close after `BYE` or our half-close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Facts shared by all clients.
pub(crate) struct Shared {
    /// The server's address; one per node of a cluster.
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) sentinel: String,
    pub(crate) own_server: bool,
    pub(crate) ledger: Arc<Ledger>,
    /// Connections opened so far: the next goes to node `opened mod N`.
    pub(crate) opened: AtomicUsize,
}

impl Shared {
    /// Where the next connection goes: the nodes of a cluster in turn, so
    /// a client's sessions move from node to node and two clients that
    /// meet are mostly on different nodes.
    pub(crate) fn next_addr(&self) -> SocketAddr {
        let k = self.opened.fetch_add(1, Ordering::Relaxed);
        self.addrs[k % self.addrs.len()]
    }
}

/// How an action left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Still open.
    Open,
    /// Closed by the server after we asked (we read to EOF).
    Closed,
    /// Dropped by us (on purpose or after a violation).
    Dropped,
}

/// Where the echo offer around a password stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// No offer made.
    Idle,
    /// `IAC WILL ECHO` came: `PASSWORD` must follow.
    Offered,
    /// `PASSWORD` came: `IAC WONT ECHO` must come before the next line.
    AwaitingWont,
}

/// An open connection and its model.
pub(crate) struct Session {
    wire: Wire,
    pub(crate) model: Model,
    shared: Arc<Shared>,
    label: String,
    expects: VecDeque<Expect>,
    sent_at: Instant,
    telnet_expected: Vec<[u8; 3]>,
    telnet_seen: Vec<[u8; 3]>,
    sent_telnet: bool,
    users: Vec<(String, common::UserState)>,
    rooms: Vec<(String, usize)>,
    history: Vec<HistoryLine>,
    /// `AWAY` lines (name, reason) gathered for the reply to `/chat`.
    aways: Vec<(String, String)>,
    /// `IGNORING` lines gathered for the reply to `/ignores`.
    ignorings: Vec<String>,
    /// A `TOPIC` line read while a `/topic` or `/join` awaits its answer:
    /// part of it if that answer's `OK` comes next, else an event.
    topic_held: Option<ServerLine>,
    /// The `TOPIC` line of the answer being read.
    topic_reply: Option<TopicLine>,
    echo: Echo,
    transcript: VecDeque<String>,
    failed: bool,
    /// The accepted name was published to the ledger as a chat target.
    announced: bool,
}

impl Session {
    /// Connects and reads `HELLO` (of the protocol version `common` speaks).
    ///
    /// # Errors
    ///
    /// The connection or the greeting failed (already reported).
    pub(crate) fn open(shared: &Arc<Shared>, label: String) -> Result<Session, ()> {
        let wire = Wire::connect(shared.next_addr()).map_err(|error| {
            shared
                .ledger
                .violation(format!("{label}: cannot connect: {error}"));
        })?;
        let mut session = Session {
            wire,
            model: Model::new(Arc::clone(&shared.ledger)),
            shared: Arc::clone(shared),
            label,
            expects: VecDeque::new(),
            sent_at: Instant::now(),
            telnet_expected: Vec::new(),
            telnet_seen: Vec::new(),
            sent_telnet: false,
            users: Vec::new(),
            rooms: Vec::new(),
            history: Vec::new(),
            aways: Vec::new(),
            ignorings: Vec::new(),
            topic_held: None,
            topic_reply: None,
            echo: Echo::Idle,
            transcript: VecDeque::new(),
            failed: false,
            announced: false,
        };
        match session.wire.next(Instant::now() + REPLY_TIMEOUT) {
            Some(Incoming::Line(line))
                if matches!(ServerLine::parse(&line), Ok(ServerLine::Hello(_))) =>
            {
                Ok(session)
            }
            other => {
                session.violate(format!("first line is not HELLO {PROTOCOL}: {other:?}"));
                Err(())
            }
        }
    }

    /// The client's label for reports.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    fn violate(&mut self, what: String) {
        if self.failed {
            return;
        }
        self.failed = true;
        let transcript: Vec<&String> = self.transcript.iter().collect();
        self.shared.ledger.violation(format!(
            "{} ({}): {what}\n    last lines: {transcript:?}",
            self.label,
            self.model.me()
        ));
    }

    fn note(&mut self, line: String) {
        if self.transcript.len() == 10 {
            self.transcript.pop_front();
        }
        self.transcript.push_back(line);
    }

    /// Sends `action` and reads until it is answered in full.
    pub(crate) fn perform(&mut self, action: Action) -> After {
        let ledger = Arc::clone(&self.shared.ledger);
        ledger.count_action(action.kind);
        for _ in 0..action.n_messages {
            ledger.count_message();
        }
        if let Some(Expect::Reply(Want::Welcome(name))) = action.expects.first() {
            ledger.name_online(name);
        }
        for expect in &action.expects {
            if let Expect::Reply(Want::Account(Account::SignIn { name, right: true })) = expect {
                ledger.name_online(name);
            }
        }
        if let Some((name, n)) = &action.checks {
            ledger.note_checks(name, *n);
        }
        if let Some((room, name)) = &action.bans {
            ledger.note_ban(room, name);
        }
        self.expects = action.expects.into();
        self.telnet_expected = action.telnet;
        self.sent_telnet |= action.bytes.contains(&IAC);
        self.sent_at = Instant::now();
        // A message can only land in a session that exists once it is sent.
        self.model.reset_window();
        self.note(format!(
            "> {}",
            String::from_utf8_lossy(&action.bytes)
                .chars()
                .take(120)
                .collect::<String>()
        ));
        if let Err(error) = self.wire.send(&action.bytes) {
            if !matches!(action.end, End::Drop | End::Reset) {
                self.violate(format!("sending {} failed: {error}", action.kind));
            }
            return self.drop_connection("broken");
        }
        match action.end {
            End::Open => self.await_replies(),
            End::Quit => self.await_close("quit"),
            End::HalfClose => {
                self.wire.shutdown_write();
                self.await_close("half-close")
            }
            End::Drop => self.drop_connection(action.kind),
            End::Reset => {
                std::thread::sleep(Duration::from_millis(30));
                self.drop_connection("reset")
            }
        }
    }

    /// Reads until every expected reply came.
    fn await_replies(&mut self) -> After {
        let until = self.sent_at + REPLY_TIMEOUT;
        while !self.expects.is_empty() && !self.failed {
            match self.wire.next(until) {
                None => self.violate(format!(
                    "no reply within {REPLY_TIMEOUT:?}; still expecting {:?}",
                    self.expects
                )),
                Some(item) => self.on_item(item, false),
            }
        }
        if !self.failed && self.telnet_seen != self.telnet_expected {
            let what = format!(
                "telnet replies {:?}, expected {:?}",
                self.telnet_seen, self.telnet_expected
            );
            self.violate(what);
        }
        self.telnet_seen.clear();
        if self.failed {
            return self.drop_connection("after-violation");
        }
        if let (Some(name), false, true) = (&self.model.me, self.announced, self.model.may_chat) {
            self.shared.ledger.name_live(name);
            self.announced = true;
        }
        After::Open
    }

    /// Reads events until `until`; false if the connection failed.
    pub(crate) fn idle(&mut self, until: Instant) -> bool {
        while !self.failed {
            match self.wire.next(until) {
                None => return true,
                Some(item) => self.on_item(item, false),
            }
        }
        self.drop_connection("after-violation");
        false
    }

    /// Reads until the server closes (after `/quit` or our half-close).
    fn await_close(&mut self, kind: &'static str) -> After {
        let until = Instant::now() + CLOSE_TIMEOUT + REPLY_TIMEOUT;
        while !self.failed {
            match self.wire.next(until) {
                None => self.violate(format!(
                    "server did not close within {CLOSE_TIMEOUT:?} after {kind}"
                )),
                Some(Incoming::Eof) if self.expects.is_empty() => {
                    self.finish(kind, NameStatus::Closed(Instant::now()), false);
                    return After::Closed;
                }
                Some(item) => self.on_item(item, true),
            }
        }
        self.drop_connection("after-violation")
    }

    /// Gives up the connection without reading on; the caller then drops
    /// the session, which closes the socket (RST if replies are unread).
    pub(crate) fn drop_connection(&mut self, kind: &'static str) -> After {
        self.finish(kind, NameStatus::Dropped(Instant::now()), true);
        After::Dropped
    }

    fn finish(&mut self, kind: &'static str, status: NameStatus, aborted: bool) {
        self.shared.ledger.count_disconnect(kind);
        // The connection's end is after the last line we sent; it was
        // seen only if the server closed it.
        let seen_end = match status {
            NameStatus::Closed(at) => Some(at),
            NameStatus::Online | NameStatus::Dropped(_) => None,
        };
        self.model.end_away(self.sent_at, seen_end);
        let sent_at = self.sent_at;
        if let Some(seen) = seen_end {
            self.model.record_view(sent_at, seen);
        }
        // An unregistered name's ignore list ends with its session; a
        // registered one's stays with the name, for its next session.
        if self.model.password.is_none()
            && let Some(name) = &self.model.me
        {
            self.shared
                .ledger
                .ignore_close_all(name, seen_end.unwrap_or_else(Instant::now));
        }
        self.model.leave(sent_at, seen_end);
        if let Some(name) = &self.model.me {
            self.shared.ledger.name_gone(name, kind, status, aborted);
        }
    }

    fn on_item(&mut self, item: Incoming, closing: bool) {
        match item {
            Incoming::Line(text) => {
                match self.echo {
                    Echo::Offered if !text.starts_with("PASSWORD ") => {
                        return self
                            .violate(format!("IAC WILL ECHO not followed by PASSWORD: {text:?}"));
                    }
                    Echo::AwaitingWont => {
                        return self.violate(format!(
                            "no IAC WONT ECHO after the password line, before {text:?}"
                        ));
                    }
                    _ => {}
                }
                self.on_text(&text);
            }
            Incoming::Telnet(WILL_ECHO) if self.echo == Echo::Idle => self.echo = Echo::Offered,
            Incoming::Telnet(WONT_ECHO) if self.echo == Echo::AwaitingWont => {
                self.echo = Echo::Idle;
            }
            Incoming::Telnet(bytes) => {
                if !self.sent_telnet || self.echo != Echo::Idle {
                    self.violate(format!(
                        "telnet bytes {bytes:?} unasked (echo offer {:?})",
                        self.echo
                    ));
                }
                self.telnet_seen.push(bytes);
            }
            Incoming::Malformed(bytes) => self.violate(format!(
                "malformed line (no CRLF or not UTF-8): {:?}",
                String::from_utf8_lossy(&bytes)
            )),
            Incoming::Eof if closing => {
                self.violate(format!("server closed before answering {:?}", self.expects))
            }
            Incoming::Eof => self.violate("server closed the connection unasked".into()),
            Incoming::Failed(kind) => self.violate(format!("connection failed: {kind:?}")),
        }
    }

    fn on_text(&mut self, text: &str) {
        self.note(format!("< {}", text.chars().take(120).collect::<String>()));
        let line = match ServerLine::parse(text) {
            Ok(line) => line,
            Err(error) => return self.violate(format!("unparsable line {text:?}: {error}")),
        };
        if let Err(what) = self.model.before_line(&line) {
            return self.violate(what);
        }
        if let Some(held) = self.topic_held.take() {
            if matches!(line, ServerLine::Ok(OkReply::Topic | OkReply::Join(..))) {
                if let ServerLine::Topic(room, setter, text) = held {
                    let setter = setter.map(|setter| setter.to_string());
                    self.topic_reply = Some((room.to_string(), setter, text.to_string()));
                }
            } else if let Err(what) = self.model.on_event(&held, outstanding(&self.expects)) {
                return self.violate(what);
            }
        }
        if matches!(line, ServerLine::Topic(..))
            && matches!(
                outstanding(&self.expects),
                Some(Want::Topic(_) | Want::Join { .. })
            )
        {
            self.topic_held = Some(line);
            return;
        }
        let result = match &line {
            ServerLine::User(name, state) => {
                self.users.push((name.to_string(), state.clone()));
                Ok(())
            }
            ServerLine::RoomInfo(room, members) => {
                self.rooms.push((room.to_string(), *members));
                Ok(())
            }
            ServerLine::History(history) => {
                self.history.push((**history).clone());
                Ok(())
            }
            ServerLine::Away(name, reason) => {
                self.aways.push((name.to_string(), reason.to_string()));
                Ok(())
            }
            ServerLine::Ignoring(name) => {
                self.ignorings.push(name.to_string());
                Ok(())
            }
            ServerLine::Info(_) => Ok(()),
            ServerLine::Hello(_) => Err("a second HELLO".to_owned()),
            ServerLine::Password(_) => {
                if self.echo != Echo::Offered {
                    return self.violate("PASSWORD without IAC WILL ECHO right before it".into());
                }
                self.echo = Echo::AwaitingWont;
                self.on_final(&line)
            }
            ServerLine::Welcome(_)
            | ServerLine::Ok(_)
            | ServerLine::Err(..)
            | ServerLine::Bye(..) => self.on_final(&line),
            event => self.model.on_event(event, outstanding(&self.expects)),
        };
        if let Err(what) = result {
            self.violate(what);
        }
    }

    /// A final line: the answer to the oldest unanswered sent line.
    fn on_final(&mut self, line: &ServerLine) -> Result<(), String> {
        if let ServerLine::Err(code, _) = line {
            self.shared.ledger.count_err(code.as_str());
        }
        let history_before_join =
            !self.history.is_empty() && !matches!(line, ServerLine::Ok(OkReply::Join(..)));
        let away_before_chat =
            !self.aways.is_empty() && !matches!(line, ServerLine::Ok(OkReply::Chat(..)));
        let ignoring_before_ignores =
            !self.ignorings.is_empty() && !matches!(line, ServerLine::Ok(OkReply::Ignores(..)));
        let result = self.match_final(line);
        self.users.clear();
        self.rooms.clear();
        self.history.clear();
        self.aways.clear();
        self.ignorings.clear();
        self.topic_reply = None;
        // The hub made every line after this one after it took our line
        // sent then.
        self.model.floor = self.sent_at;
        self.model.reset_window();
        if history_before_join {
            return Err(format!("HISTORY lines before {line:?}, not before OK join"));
        }
        if away_before_chat {
            return Err(format!("AWAY lines before {line:?}, not before OK chat"));
        }
        if ignoring_before_ignores {
            return Err(format!(
                "IGNORING lines before {line:?}, not before OK ignores"
            ));
        }
        result
    }

    fn match_final(&mut self, line: &ServerLine) -> Result<(), String> {
        loop {
            let Some(expect) = self.expects.pop_front() else {
                return Err(format!("{} line with nothing outstanding", line.tag()));
            };
            match expect {
                Expect::Message(seq) => {
                    if matches!(line, ServerLine::Err(ErrorCode::NotInChat, _)) {
                        return match self.model.place {
                            Place::Available => Ok(()),
                            _ => Err(format!(
                                "message {seq} got ERR not-in-chat while {:?}",
                                self.model.place
                            )),
                        };
                    }
                    self.record_landing(seq)?;
                }
                Expect::Reply(want) => {
                    let cx = Context {
                        sentinel: &self.shared.sentinel,
                        own_server: self.shared.own_server,
                        ledger: &self.shared.ledger,
                        sent_at: self.sent_at,
                        users: &self.users,
                        rooms: &self.rooms,
                        history: &self.history,
                        aways: &self.aways,
                        ignorings: &self.ignorings,
                        topic: self.topic_reply.as_ref(),
                    };
                    return replies::check(&want, line, &mut self.model, &cx);
                }
                Expect::Ping(token) => {
                    let want = if token == "-" {
                        None
                    } else {
                        Some(token.as_str())
                    };
                    return match line {
                        ServerLine::Ok(OkReply::Ping(got)) if got.as_deref() == want => Ok(()),
                        _ => Err(format!("expected OK ping {token}, got {line:?}")),
                    };
                }
                Expect::Bye => {
                    return match line {
                        ServerLine::Bye(..) => Ok(()),
                        _ => Err(format!("expected BYE, got {line:?}")),
                    };
                }
            }
        }
    }

    /// Records where a message that got no `ERR` landed.
    fn record_landing(&mut self, seq: u64) -> Result<(), String> {
        let me = self.model.me().to_owned();
        let times = (self.sent_at, Instant::now());
        match replies::landing_of_silent_message(&self.model)? {
            Landing::Chat { partner, k } => {
                self.shared.ledger.chat_sent((me, partner, k), seq, times);
            }
            Landing::Room { folded, j } => {
                self.shared.ledger.room_sent(&me, &folded, j, seq, times);
            }
        }
        Ok(())
    }
}

/// The command whose answer is awaited: the first sent line still
/// expecting a reply, past messages (which get none).
fn outstanding(expects: &VecDeque<Expect>) -> Option<&Want> {
    match expects
        .iter()
        .find(|expect| !matches!(expect, Expect::Message(_)))
    {
        Some(Expect::Reply(want)) => Some(want),
        _ => None,
    }
}
