//! Where the user is (naming, menu, chat, room) and which names the client
//! has seen, tracked only from the server's lines. The prompt and tab
//! completion read it; the thread that reads the socket is its only writer.

use std::collections::BTreeMap;

use common::{ByeReason, ErrorCode, OkReply, Secret, ServerLine, UserState, fold};

use crate::outage::Outage;

/// Where this connection is, as the server last told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// Connected, no name accepted yet.
    Naming,
    /// The server asked for the password of this registered name.
    Password(String),
    /// At the menu (available).
    Menu,
    /// In a one-to-one chat with this partner.
    Chat(String),
    /// In this room.
    Room(String),
    /// The connection is gone and another is being made (see
    /// `outage.rs`).
    Offline,
    /// The server said `BYE` or the connection closed, for good.
    Closed,
}

/// What the line the user types goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// The server, as a command or a message.
    Server,
    /// The server, as a password: hidden, never kept.
    Password,
    /// Nowhere: the client is reconnecting and signing back in.
    Held,
}

/// A new password sent and not yet confirmed, and the reply that
/// confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Signing in (the answer to `PASSWORD`): `WELCOME` confirms it.
    SignIn(Secret),
    /// `/register` or `/password`: their `OK` confirms it.
    Command(Secret),
}

/// Everything the client knows about its session.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) place: Place,
    /// Our accepted name.
    pub(crate) me: Option<String>,
    /// The last name we asked for while naming, to explain a refusal.
    pub(crate) tried_name: Option<String>,
    /// We asked to leave (`/exit`, `/quit`, Ctrl-D), so `BYE` is expected.
    pub(crate) leaving: bool,
    /// The server said `BYE`.
    pub(crate) saw_bye: bool,
    /// The server refused the last name we tried.
    pub(crate) refused_name: bool,
    /// The registered name whose password was last asked for.
    pub(crate) password_for: Option<String>,
    /// The server refused the last password we sent.
    pub(crate) refused_password: bool,
    /// Where the password in flight came from, if it was given ahead of
    /// time (`None`: typed), to say so when it is refused.
    pub(crate) password_source: Option<String>,
    /// A line was sent before the name was accepted and its answer has
    /// not come yet (pipe mode sends naming lines one at a time).
    pub(crate) awaiting_answer: bool,
    /// We closed the connection ourselves without a `BYE` (leaving while
    /// the server waited for a password, which would take `/quit` as one).
    pub(crate) hung_up: bool,
    /// Rows about the end of the connection, printed by whoever exits.
    pub(crate) last_words: Vec<String>,
    /// The connection is over and every row about it is in `last_words`.
    pub(crate) finished: bool,
    /// Users who asked us to chat and are still waiting, as shown.
    pub(crate) requests: Vec<String>,
    /// The user our own request is waiting on.
    pub(crate) outgoing: Option<String>,
    /// Users seen in `/list` and events: folded name → shown name.
    users: BTreeMap<String, String>,
    /// Rooms seen in `/rooms`, `/list` and events: folded → shown.
    rooms: BTreeMap<String, String>,
    /// `/list` rows arriving before their `OK list`, to replace `users`.
    fresh_users: Option<BTreeMap<String, String>>,
    /// `/rooms` rows arriving before their `OK rooms`, to replace `rooms`.
    fresh_rooms: Option<BTreeMap<String, String>>,
    /// Users we ignore, from `/ignores` and our own `/ignore`: folded → shown.
    ignored: BTreeMap<String, String>,
    /// `/ignores` rows arriving before their `OK ignores`.
    fresh_ignored: Option<BTreeMap<String, String>>,
    /// This session reconnects when the connection is lost (interactive,
    /// without `--no-reconnect`).
    pub(crate) reconnect: bool,
    /// The connection was lost and the session is being restored.
    pub(crate) outage: Option<Outage>,
    /// The password that signed this session in, or that `/register` or
    /// `/password` set since: what signing back in sends. Only in memory.
    pub(crate) password: Option<Secret>,
    /// A password sent and not yet confirmed.
    pub(crate) pending: Option<Pending>,
}

impl State {
    /// The process's exit status: 0 after a `BYE` we asked for (or when we
    /// hung up ourselves); 1 when the server ended the session on its own
    /// or the connection broke.
    pub(crate) fn exit_status(&self) -> u8 {
        if self.leaving && (self.saw_bye || self.hung_up) {
            0
        } else {
            1
        }
    }

    pub(crate) fn new() -> State {
        State {
            place: Place::Naming,
            me: None,
            tried_name: None,
            leaving: false,
            saw_bye: false,
            refused_name: false,
            password_for: None,
            refused_password: false,
            password_source: None,
            awaiting_answer: false,
            hung_up: false,
            last_words: Vec::new(),
            finished: false,
            requests: Vec::new(),
            outgoing: None,
            users: BTreeMap::new(),
            rooms: BTreeMap::new(),
            fresh_users: None,
            fresh_rooms: None,
            ignored: BTreeMap::new(),
            fresh_ignored: None,
            reconnect: false,
            outage: None,
            password: None,
            pending: None,
        }
    }

    /// The prompt for the current place, without styling. While the
    /// session is being restored it is the place being restored, marked.
    pub(crate) fn prompt(&self) -> String {
        match (&self.outage, self.input()) {
            (Some(outage), Input::Held) => format!("(reconnecting) {}", prompt_of(&outage.was)),
            _ => prompt_of(&self.place),
        }
    }

    /// Where a typed line goes.
    pub(crate) fn input(&self) -> Input {
        let asking = self.outage.as_ref().is_none_or(|o| o.asking);
        match &self.place {
            Place::Offline | Place::Closed => Input::Held,
            _ if !asking => Input::Held,
            Place::Password(_) => Input::Password,
            _ => Input::Server,
        }
    }

    /// Known user names, as shown, sorted case-insensitively.
    pub(crate) fn users(&self) -> impl Iterator<Item = &str> {
        self.users.values().map(String::as_str)
    }

    /// Known room names, as shown, sorted case-insensitively.
    pub(crate) fn rooms(&self) -> impl Iterator<Item = &str> {
        self.rooms.values().map(String::as_str)
    }

    /// Users we ignore, as shown, sorted case-insensitively.
    pub(crate) fn ignored(&self) -> impl Iterator<Item = &str> {
        self.ignored.values().map(String::as_str)
    }

    /// Records a name we are about to send while naming.
    pub(crate) fn trying_name(&mut self, name: &str) {
        self.tried_name = Some(name.to_owned());
        self.refused_name = false;
    }

    /// Records that a typed password is about to be sent.
    pub(crate) fn sending_password(&mut self) {
        self.refused_password = false;
        self.password_source = None;
    }

    /// Records that a password given ahead of time (from `source`) is about
    /// to be sent.
    pub(crate) fn sending_preset(&mut self, source: &str) {
        self.refused_password = false;
        self.password_source = Some(source.to_owned());
    }

    /// Records a new password about to be sent, kept for signing back in
    /// once the server confirms it.
    pub(crate) fn keep_when_confirmed(&mut self, pending: Pending) {
        self.pending = Some(pending);
    }

    fn see_user(&mut self, name: &str) {
        if let Some(fresh) = &mut self.fresh_users {
            fresh.insert(fold(name), name.to_owned());
        }
        self.users.insert(fold(name), name.to_owned());
    }

    fn see_room(&mut self, room: &str) {
        if let Some(fresh) = &mut self.fresh_rooms {
            fresh.insert(fold(room), room.to_owned());
        }
        self.rooms.insert(fold(room), room.to_owned());
    }

    fn forget_request(&mut self, name: &str) {
        self.requests.retain(|r| !r.eq_ignore_ascii_case(name));
    }

    /// Updates the state from one server line. Call it before rendering
    /// the line, so the prompt changes together with the notice.
    pub(crate) fn apply(&mut self, line: &ServerLine) {
        if matches!(
            line,
            ServerLine::Welcome(_)
                | ServerLine::Password(_)
                | ServerLine::Ok(_)
                | ServerLine::Err(..)
                | ServerLine::Bye(..)
        ) {
            self.awaiting_answer = false;
        }
        match line {
            ServerLine::Hello(_) => self.place = Place::Naming,
            ServerLine::Welcome(name) => {
                self.me = Some(name.to_string());
                self.place = Place::Menu;
                self.password_for = None;
                if let Some(Pending::SignIn(secret)) = self.pending.take() {
                    self.password = Some(secret);
                }
                self.see_user(name);
            }
            ServerLine::Password(name) => {
                self.place = Place::Password(name.to_string());
                self.password_for = Some(name.to_string());
            }
            ServerLine::Info(_) | ServerLine::History(_) => {}
            ServerLine::Action(room, from, _) => {
                if let Some(room) = room {
                    self.see_room(room);
                }
                self.see_user(from);
            }
            ServerLine::Away(name, _) => self.see_user(name),
            ServerLine::Ignoring(name) => {
                self.fresh_ignored
                    .get_or_insert_with(BTreeMap::new)
                    .insert(fold(name), name.to_string());
            }
            ServerLine::Topic(room, setter, _) => {
                self.see_room(room);
                if let Some(setter) = setter {
                    self.see_user(setter);
                }
            }
            ServerLine::Op(room, name) => {
                self.see_room(room);
                self.see_user(name);
            }
            ServerLine::Kicked(room, by, _) => {
                self.see_user(by);
                if matches!(&self.place, Place::Room(r) if r.eq_ignore_ascii_case(room)) {
                    self.place = Place::Menu;
                }
            }
            ServerLine::Ok(reply) => self.apply_ok(reply),
            ServerLine::Err(code, _) => self.apply_err(*code),
            ServerLine::User(name, user_state) => {
                self.fresh_users.get_or_insert_with(BTreeMap::new);
                self.see_user(name);
                match user_state {
                    UserState::Available | UserState::Away => {}
                    UserState::Chatting(peer) => self.see_user(peer),
                    UserState::Room(room) => self.see_room(room),
                }
            }
            ServerLine::RoomInfo(room, _) => {
                self.fresh_rooms.get_or_insert_with(BTreeMap::new);
                self.see_room(room);
            }
            ServerLine::Request(from) => {
                self.see_user(from);
                self.forget_request(from);
                self.requests.push(from.to_string());
            }
            ServerLine::Cancelled(from, _) => self.forget_request(from),
            ServerLine::Declined(name, _) => {
                if self
                    .outgoing
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(name))
                {
                    self.outgoing = None;
                }
            }
            ServerLine::Chat(partner) => {
                self.see_user(partner);
                self.place = Place::Chat(partner.to_string());
                self.requests.clear();
                self.outgoing = None;
            }
            ServerLine::Msg(from, _) => self.see_user(from),
            ServerLine::Ended(..) => self.place = Place::Menu,
            ServerLine::Joined(room, name) | ServerLine::Parted(room, name, _) => {
                self.see_room(room);
                self.see_user(name);
            }
            ServerLine::Room(room, from, _) => {
                self.see_room(room);
                self.see_user(from);
            }
            ServerLine::Bye(reason, _) => {
                self.saw_bye = true;
                if self.may_reconnect(Some(*reason)) {
                    self.begin_outage();
                } else {
                    self.place = Place::Closed;
                }
            }
        }
    }

    fn apply_err(&mut self, code: ErrorCode) {
        if matches!(
            code,
            ErrorCode::WeakPassword | ErrorCode::Registered | ErrorCode::NotRegistered
        ) || (code == ErrorCode::BadPassword && self.me.is_some())
        {
            // `/register` or `/password` refused: nothing changed.
            self.pending = None;
        }
        if self.me.is_some() {
            return;
        }
        match (&self.place, code) {
            (
                Place::Naming,
                ErrorCode::NameTaken | ErrorCode::NameInvalid | ErrorCode::TryLater,
            ) => {
                self.refused_name = true;
            }
            // After a wrong password (or too many tries) the server is
            // back at naming. Other errors (a line too long) leave it
            // waiting for the password.
            (Place::Password(_), ErrorCode::BadPassword | ErrorCode::TryLater) => {
                self.place = Place::Naming;
                self.refused_password = true;
                let refused = self.pending.take();
                let kept_is_wrong = matches!(
                    (&refused, &self.password),
                    (Some(Pending::SignIn(sent)), Some(kept)) if sent == kept
                );
                if code == ErrorCode::BadPassword && kept_is_wrong {
                    // The password kept for signing back in is wrong now
                    // (changed elsewhere): never send it again.
                    self.password = None;
                }
            }
            _ => {}
        }
    }

    fn apply_ok(&mut self, reply: &OkReply) {
        match reply {
            OkReply::Register(_) | OkReply::Password => {
                if let Some(Pending::Command(secret)) = self.pending.take() {
                    self.password = Some(secret);
                }
            }
            OkReply::Unregister(_) => self.password = None,
            OkReply::Help
            | OkReply::Ping(_)
            | OkReply::Away
            | OkReply::Back
            | OkReply::Topic
            | OkReply::Kick(_)
            | OkReply::Ban(_) => {}
            OkReply::Ignore(name) => {
                self.ignored.insert(fold(name), name.to_string());
            }
            OkReply::Unignore(name) => {
                self.ignored.remove(&fold(name));
            }
            OkReply::Ignores(_) => self.ignored = self.fresh_ignored.take().unwrap_or_default(),
            OkReply::List(_) => {
                // The list is a snapshot: names not in it have left.
                let mut fresh = self.fresh_users.take().unwrap_or_default();
                if let Some(me) = &self.me {
                    fresh.insert(fold(me), me.clone());
                }
                self.users = fresh;
            }
            OkReply::Rooms(_) => self.rooms = self.fresh_rooms.take().unwrap_or_default(),
            OkReply::Chat(name) => {
                // When `name` had already asked us, `CHAT` came first and
                // the chat has started: there is nothing outstanding.
                if !matches!(self.place, Place::Chat(_)) {
                    self.see_user(name);
                    self.outgoing = Some(name.to_string());
                }
            }
            OkReply::Accept(name) | OkReply::Decline(name) => self.forget_request(name),
            OkReply::Cancel(_) => self.outgoing = None,
            OkReply::LeaveChat(_) | OkReply::LeaveRoom(_) => self.place = Place::Menu,
            OkReply::Join(room, _) => {
                self.see_room(room);
                self.place = Place::Room(room.to_string());
                self.requests.clear();
                self.outgoing = None;
            }
        }
    }

    /// The connection is gone without a `BYE` (or after one): the session
    /// is over, or, if it may reconnect, being restored.
    pub(crate) fn close(&mut self) {
        self.awaiting_answer = false;
        match self.place {
            Place::Closed => {}
            _ if self.may_reconnect(None) => self.begin_outage(),
            _ => self.place = Place::Closed,
        }
    }

    /// Whether losing the connection (after a `BYE` with this reason, or
    /// without one) leads to reconnecting: never after our own `/exit` or
    /// hang-up, never after `replaced` (two clients would take one name
    /// from each other in a loop), `timeout`, `refused` or an `exit` we
    /// did not ask for; only `shutdown`, `overload` and `full` are worth
    /// another try.
    fn may_reconnect(&self, bye: Option<ByeReason>) -> bool {
        self.reconnect
            && !self.leaving
            && !self.hung_up
            && self.place != Place::Closed
            && match bye {
                None => true,
                Some(reason) => matches!(
                    reason,
                    ByeReason::Shutdown | ByeReason::Overload | ByeReason::Full
                ),
            }
    }
}

/// The prompt for `place`.
fn prompt_of(place: &Place) -> String {
    match place {
        Place::Naming | Place::Offline => "name> ".to_owned(),
        Place::Password(name) => format!("password for {name}: "),
        Place::Menu => "menu> ".to_owned(),
        Place::Chat(partner) => format!("chat:{partner}> "),
        Place::Room(room) => format!("#{room}> "),
        Place::Closed => "closed> ".to_owned(),
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
