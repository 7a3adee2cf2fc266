//! The chat state machine: who is connected, named, available, chatting,
//! requesting, or in which room; which names are registered; what each
//! room said lately. It takes *(connection, parsed line, now)* and produces
//! the lines to send and to whom; it never sees a socket, a clock or a disk,
//! so every rule is tested with plain calls (see `tests.rs`).
//!
//! It runs under the server's one mutex, so every method is short, allocates
//! little and cannot panic on any input. This file holds the state and the
//! dispatch; each family of commands has its own file, and a new command is
//! one arm in `Hub::command` plus a method in its family's file.

mod accounts;
mod chats;
mod history;
mod ignores;
#[cfg(any(test, feature = "invariants"))]
mod invariants;
mod moderation;
mod naming;
mod outcome;
mod presence;
mod prose;
mod rooms;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use common::{Command, ErrorCode, HistoryKind, Input, Name, OkReply, Parsed, ServerLine, fold};

use crate::flood::{Millis, TokenBucket};

pub(crate) use accounts::is_weak;
pub use outcome::{Done, Happening, Outcome, Purpose, Remember, Said, Targets, Task};
pub(crate) use prose::GREETING;
pub use snapshot::{BadSnapshot, Snapshot};

/// Identifies a connection for its whole life; never reused.
pub type ConnId = u64;

/// The time, given to the hub by its caller (the hub reads no clock): the
/// wall clock in milliseconds since the Unix epoch, for history time stamps
/// and password-check buckets. Every node of a cluster applies the same
/// times to its copy of the hub, so they all compute the same state; the
/// hub never lets its clock go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

impl Now {
    /// The time now, from the system's clock.
    pub fn read() -> Now {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Now { unix_ms }
    }
}

/// The hub's settings (server flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lines kept per room (`--history`); 0 keeps none.
    pub history_per_room: usize,
    /// Rooms whose history is kept (`--history-rooms`).
    pub history_rooms: usize,
    /// Password checks per name per minute (`--password-tries`); 0 is no cap.
    pub password_tries: u32,
}

impl Settings {
    /// The hub's settings from the server's.
    pub fn of(config: &crate::config::Config) -> Settings {
        Settings {
            history_per_room: config.history,
            history_rooms: config.history_rooms,
            password_tries: config.password_tries,
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        use crate::config::defaults;
        Settings {
            history_per_room: defaults::HISTORY,
            history_rooms: defaults::HISTORY_ROOMS,
            password_tries: defaults::PASSWORD_TRIES,
        }
    }
}

/// What the data directory held at start-up.
#[derive(Debug, Default)]
pub struct Memory {
    /// Registered names and their password hashes.
    pub accounts: Vec<(Name, Arc<str>)>,
    /// Rooms' recent lines, oldest first, least recently active room first.
    pub rooms: Vec<(Name, Vec<Said>)>,
    /// Registered users' ignore lists: the owner's folded name, whom.
    pub ignores: Vec<(Arc<str>, Name)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Naming,
    /// Asked for the password of this registered name.
    SigningIn(Name),
    /// The password line was read; the check runs off the lock.
    Checking(Name),
    Available,
    Chatting(ConnId),
    /// The room's folded name.
    InRoom(Arc<str>),
}

#[derive(Debug)]
struct Conn<P> {
    peer: P,
    name: Option<Name>,
    state: State,
    outgoing: Option<ConnId>,
    incoming: BTreeSet<ConnId>,
    /// Wrong passwords on this connection; the fifth closes it.
    wrong_passwords: u8,
    /// `/away`: the reason (possibly empty) while away.
    away: Option<Arc<str>>,
    /// Folded name to name: whose lines this user does not receive. For a
    /// registered name, a copy of the account's list, kept in step.
    ignores: BTreeMap<Arc<str>, Name>,
}

/// A registered name.
#[derive(Debug)]
struct Account {
    /// The name as registered.
    name: Name,
    /// Its Argon2id hash, a PHC string.
    hash: Arc<str>,
    /// Password checks left this minute.
    tries: TokenBucket<Millis>,
    /// Its ignore list, kept across sessions.
    ignores: BTreeMap<Arc<str>, Name>,
}

#[derive(Debug)]
struct Room {
    name: Name,
    /// Member to when it joined (the hub's join counter): the operator's
    /// successor is the member here longest.
    members: BTreeMap<ConnId, u64>,
    /// Who may set the topic, kick and ban.
    operator: ConnId,
    /// The topic and who set it.
    topic: Option<(Arc<str>, Arc<str>)>,
    /// Folded names that may not join while the room exists.
    banned: BTreeSet<Arc<str>>,
}

/// All users, requests, chats and rooms. `P` is how the caller reaches a
/// connection (the server uses its outbound queue; tests use plain ids).
#[derive(Debug)]
pub struct Hub<P> {
    conns: HashMap<ConnId, Conn<P>>,
    /// Folded name to connection: sorted, so `/list` needs no sort.
    names: BTreeMap<Arc<str>, ConnId>,
    /// Folded room name to room.
    rooms: BTreeMap<Arc<str>, Room>,
    /// Folded name to registered account.
    accounts: HashMap<Arc<str>, Account>,
    /// Rooms' recent lines, kept while a room is empty.
    history: history::History,
    /// Counts joins, to order room members by when they came.
    joins: u64,
    /// The latest time the hub was given (it never goes back).
    clock: Millis,
    settings: Settings,
}

impl<P: Clone> Default for Hub<P> {
    fn default() -> Hub<P> {
        Hub::new(Settings::default(), Memory::default(), Now::read())
    }
}

impl<P: Clone> Hub<P> {
    /// A hub with these settings, holding what the data directory had.
    pub fn new(settings: Settings, memory: Memory, now: Now) -> Hub<P> {
        let mut hub = Hub {
            conns: HashMap::new(),
            names: BTreeMap::new(),
            rooms: BTreeMap::new(),
            accounts: HashMap::new(),
            history: history::History::new(settings.history_per_room, settings.history_rooms),
            joins: 0,
            clock: Millis(now.unix_ms),
            settings,
        };
        for (name, hash) in memory.accounts {
            hub.add_account(name, hash);
        }
        for (owner, ignored) in memory.ignores {
            if let Some(account) = hub.accounts.get_mut(&owner) {
                account.ignores.insert(Arc::from(ignored.folded()), ignored);
            }
        }
        hub.history.load(memory.rooms);
        hub
    }

    /// A new connection, in the naming state. A connection already known
    /// stays as it is (a cluster may log its arrival twice).
    pub fn connect(&mut self, id: ConnId, peer: P) {
        self.conns.entry(id).or_insert_with(|| Conn {
            peer,
            name: None,
            state: State::Naming,
            outgoing: None,
            incoming: BTreeSet::new(),
            wrong_passwords: 0,
            away: None,
            ignores: BTreeMap::new(),
        });
    }

    /// Every connection `keep` says yes to, in id order (a cluster closes a
    /// gone node's connections with it, in an order every node agrees on).
    pub fn conns_where(&self, keep: impl Fn(ConnId) -> bool) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().filter(|&id| keep(id)).collect();
        ids.sort_unstable();
        ids
    }

    /// The name of a connection, once it has one.
    pub fn name_of(&self, id: ConnId) -> Option<&Name> {
        self.conns.get(&id).and_then(|conn| conn.name.as_ref())
    }

    /// Applies one [`Call`] from `id`: the one way in for a cluster's
    /// nodes, which log calls and apply them in the same order.
    pub fn apply(&mut self, id: ConnId, call: Call, now: Now, out: &mut Outcome<P>) {
        match call {
            Call::Input(input) => self.handle(id, input, now, out),
            Call::Password => self.password(id, now, out),
            Call::TaskDone(done) => self.task_done(id, done, now, out),
            Call::Disconnect => self.disconnect(id, out),
        }
    }

    /// Handles one non-empty line from `id`. A line while a password is
    /// awaited or checked is not for this method (see [`Hub::password`]).
    pub fn handle(&mut self, id: ConnId, input: Input, now: Now, out: &mut Outcome<P>) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        match (&conn.state, input) {
            (State::Naming, input) => self.naming(id, input, now, out),
            (State::SigningIn(_) | State::Checking(_), _) => {}
            (_, Input::Command(parsed)) => self.command(id, parsed, now, out),
            (_, Input::Text { text, .. }) if text.is_empty() => {}
            (
                State::Available,
                Input::Text {
                    alias: Some(parsed),
                    ..
                },
            ) => self.command(id, parsed, now, out),
            (State::Available, Input::Text { alias: None, .. }) => out.error(ErrorCode::NotInChat),
            (State::Chatting(partner), Input::Text { text, .. }) => {
                let partner = *partner;
                self.chat_message(id, partner, text, HistoryKind::Msg, out);
            }
            (State::InRoom(room), Input::Text { text, .. }) => {
                let room = room.clone();
                self.room_message(id, &room, text, HistoryKind::Msg, now, out);
            }
        }
    }

    /// Removes `id`: frees its name first, then tells its partner, rooms,
    /// requesters and target.
    pub fn disconnect(&mut self, id: ConnId, out: &mut Outcome<P>) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let Some(name) = conn.name.clone() else {
            self.conns.remove(&id);
            return;
        };
        self.names.remove(name.folded());
        self.end_state(id, Ending::Disconnected, out);
        self.resolve_requests(id, None, chats::DISCONNECTED, out);
        self.conns.remove(&id);
    }

    /// Runs a command from a named user.
    fn command(&mut self, id: ConnId, parsed: Parsed, now: Now, out: &mut Outcome<P>) {
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return out.error(error.code),
        };
        match command {
            Command::Help => prose::help(out),
            Command::List => self.list(out),
            Command::Chat(target) => self.chat(id, &target, out),
            Command::Accept(from) => self.accept(id, from.as_deref(), out),
            Command::Decline(from) => self.decline(id, from.as_deref(), out),
            Command::Cancel => self.cancel(id, out),
            Command::Leave => self.leave(id, out),
            Command::Join(room) => self.join(id, &room, out),
            Command::Rooms => self.rooms(out),
            Command::Ping(token) => out.reply(ServerLine::Ok(OkReply::Ping(token))),
            Command::Exit => self.exit(id, out),
            // The passwords stay with the connection; only the new one's
            // length is looked at here.
            Command::Register(password) => self.register(id, &password, out),
            Command::Password { new, .. } => self.change_password(id, &new, now, out),
            Command::Unregister(_) => self.unregister(id, now, out),
            Command::Me(text) => self.me(id, text, now, out),
            Command::Away(reason) => self.away(id, reason, out),
            Command::Back => self.back(id, out),
            Command::Ignore(name) => self.ignore(id, &name, out),
            Command::Unignore(name) => self.unignore(id, &name, out),
            Command::Ignores => self.list_ignores(id, out),
            Command::Topic(text) => self.topic(id, text, out),
            Command::Kick(name, reason) => self.kick(id, &name, reason, out),
            Command::Ban(name) => self.ban(id, &name, out),
        }
    }

    /// `/leave`: out of the chat or room, back to the menu.
    fn leave(&mut self, id: ConnId, out: &mut Outcome<P>) {
        let reply = match self.conns.get(&id).map(|conn| &conn.state) {
            Some(State::Chatting(partner)) => OkReply::LeaveChat(self.shown_name(*partner)),
            Some(State::InRoom(room)) => match self.rooms.get(room) {
                Some(room) => OkReply::LeaveRoom(room.name.shared().clone()),
                None => return out.error(ErrorCode::NotInChat),
            },
            _ => return out.error(ErrorCode::NotInChat),
        };
        self.end_state(id, Ending::Left, out);
        out.reply(ServerLine::Ok(reply));
    }

    /// Takes `id` out of its chat or room, back to available, telling the
    /// partner or the other members.
    fn end_state(&mut self, id: ConnId, why: Ending, out: &mut Outcome<P>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match std::mem::replace(&mut conn.state, State::Available) {
            State::Chatting(partner) => self.end_chat(id, partner, why, out),
            State::InRoom(room) => self.part(id, &room, why, out),
            State::Available | State::Naming | State::SigningIn(_) | State::Checking(_) => {}
        }
    }

    /// Moves the hub's clock to `now`, never back, and returns it.
    fn tick(&mut self, now: Now) -> Millis {
        self.clock = self.clock.max(Millis(now.unix_ms));
        self.clock
    }

    /// Finds another online user by name.
    fn lookup_other(&self, id: ConnId, name: &str) -> Result<ConnId, ErrorCode> {
        let found = self
            .names
            .get(fold(name).as_str())
            .copied()
            .ok_or(ErrorCode::NoSuchUser)?;
        if found == id {
            Err(ErrorCode::SelfTarget)
        } else {
            Ok(found)
        }
    }

    fn is_available(&self, id: ConnId) -> bool {
        self.conns
            .get(&id)
            .is_some_and(|conn| conn.state == State::Available)
    }

    fn peer(&self, id: ConnId) -> Option<P> {
        self.conns.get(&id).map(|conn| conn.peer.clone())
    }

    /// Whether `receiver` ignores `sender`: then `sender`'s requests,
    /// messages, actions and room lines do not reach it.
    fn is_ignoring(&self, receiver: ConnId, sender: ConnId) -> bool {
        let Some(conn) = self.conns.get(&receiver) else {
            return false;
        };
        if conn.ignores.is_empty() {
            return false;
        }
        self.name_of(sender)
            .is_some_and(|name| conn.ignores.contains_key(name.folded()))
    }

    /// `/me TEXT`: an action, in a chat or a room.
    fn me(&mut self, id: ConnId, text: Arc<str>, now: Now, out: &mut Outcome<P>) {
        match self.conns.get(&id).map(|conn| conn.state.clone()) {
            Some(State::Chatting(partner)) => {
                self.chat_message(id, partner, text, HistoryKind::Action, out);
            }
            Some(State::InRoom(room)) => {
                self.room_message(id, &room, text, HistoryKind::Action, now, out);
            }
            _ => out.error(ErrorCode::NotInChat),
        }
    }

    /// The shown name of a connection (`-` before it has one, which only a
    /// bug could send, since unnamed connections take part in nothing).
    fn shown_name(&self, id: ConnId) -> Arc<str> {
        match self.name_of(id) {
            Some(name) => name.shared().clone(),
            None => Arc::from("-"),
        }
    }
}

/// Something a connection does to the hub, as a value (see [`Hub::apply`]);
/// a connection's arrival is [`Hub::connect`], which needs its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A line, parsed.
    Input(Input),
    /// The line after `PASSWORD` arrived (the connection keeps it).
    Password,
    /// Password work finished.
    TaskDone(Done),
    /// The connection closed.
    Disconnect,
}

/// Why a user's chat or room stay ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// `/leave`.
    Left,
    /// The connection closed.
    Disconnected,
}

#[cfg(test)]
mod tests;
