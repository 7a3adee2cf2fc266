//! The chat state machine: who is connected, named, available, chatting,
//! requesting, or in which room. It takes *(connection, parsed line)* and
//! produces the lines to send and to whom; it never sees a socket or a clock,
//! so every rule is tested with plain calls (see `hub_tests.rs`).
//!
//! It runs under the server's one mutex, so every method is short, allocates
//! little, formats nothing and cannot panic on any input.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use common::{
    CancelReason, Command, DeclineReason, EndReason, ErrorCode, Input, Name, OkReply, Parsed,
    PartReason, ServerLine, UserState, fold,
};

/// Identifies a connection for its whole life; never reused.
pub type ConnId = u64;

/// Who gets a line: one connection or several (a room), sharing one line.
#[derive(Debug)]
pub enum Targets<P> {
    /// One connection.
    One(P),
    /// Several connections (room members), one copy of the line for all.
    Many(Vec<P>),
}

/// The lines one call produces. `reply` goes to the caller, in order, and
/// counts as one item of its send queue; each event goes to other users.
#[derive(Debug)]
pub struct Outcome<P> {
    /// Lines for the caller, in order.
    pub reply: Vec<ServerLine>,
    /// Lines for other connections, in order.
    pub events: Vec<(Targets<P>, ServerLine)>,
    /// The caller asked to leave (`/exit`): send the reply, then close.
    pub close: bool,
}

impl<P> Default for Outcome<P> {
    fn default() -> Outcome<P> {
        Outcome {
            reply: Vec::new(),
            events: Vec::new(),
            close: false,
        }
    }
}

impl<P> Outcome<P> {
    /// Empties the outcome so its buffers can be reused.
    pub fn clear(&mut self) {
        self.reply.clear();
        self.events.clear();
        self.close = false;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Naming,
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
}

#[derive(Debug)]
struct Room {
    name: Name,
    members: BTreeSet<ConnId>,
}

/// The reasons sent when a user's pending requests are resolved.
#[derive(Clone, Copy)]
struct Resolution {
    to_requesters: DeclineReason,
    to_target: CancelReason,
}

const BECAME_BUSY: Resolution = Resolution {
    to_requesters: DeclineReason::Busy,
    to_target: CancelReason::Busy,
};
const DISCONNECTED: Resolution = Resolution {
    to_requesters: DeclineReason::Disconnected,
    to_target: CancelReason::Disconnected,
};

/// All users, requests, chats and rooms. `P` is how the caller reaches a
/// connection (the server uses its outbound queue; tests use plain ids).
#[derive(Debug)]
pub struct Hub<P> {
    conns: HashMap<ConnId, Conn<P>>,
    /// Folded name to connection: sorted, so `/list` needs no sort.
    names: BTreeMap<Arc<str>, ConnId>,
    /// Folded room name to room.
    rooms: BTreeMap<Arc<str>, Room>,
}

impl<P: Clone> Default for Hub<P> {
    fn default() -> Hub<P> {
        Hub {
            conns: HashMap::new(),
            names: BTreeMap::new(),
            rooms: BTreeMap::new(),
        }
    }
}

impl<P: Clone> Hub<P> {
    /// Checks the hub's invariants and panics with a description of the
    /// first one broken. For tests and fuzzing; it walks everything.
    pub fn check_invariants(&self) {
        for (folded, id) in &self.names {
            let conn = self
                .conns
                .get(id)
                .expect("a name points at a missing connection");
            assert_eq!(
                conn.name.as_ref().map(Name::folded),
                Some(&**folded),
                "name map out of sync"
            );
        }
        for (id, conn) in &self.conns {
            match &conn.state {
                State::Naming => assert!(conn.name.is_none(), "a naming connection has a name"),
                State::Available => {}
                State::Chatting(partner) => {
                    let other = self
                        .conns
                        .get(partner)
                        .expect("chatting with a missing connection");
                    assert_eq!(other.state, State::Chatting(*id), "asymmetric chat");
                }
                State::InRoom(room) => {
                    let room = self.rooms.get(room).expect("in a missing room");
                    assert!(room.members.contains(id), "room does not list its member");
                }
            }
            if let Some(target) = conn.outgoing {
                let other = self
                    .conns
                    .get(&target)
                    .expect("request to a missing connection");
                assert!(
                    other.incoming.contains(id),
                    "request not recorded at its target"
                );
                assert_eq!(conn.state, State::Available, "a busy user has a request");
                assert_eq!(other.state, State::Available, "a request to a busy user");
            }
            for requester in &conn.incoming {
                let other = self
                    .conns
                    .get(requester)
                    .expect("request from a missing connection");
                assert_eq!(
                    other.outgoing,
                    Some(*id),
                    "incoming request not outgoing at its sender"
                );
            }
        }
        for room in self.rooms.values() {
            assert!(!room.members.is_empty(), "an empty room was kept");
            for member in &room.members {
                assert!(self.conns.contains_key(member), "ghost room member");
            }
        }
    }

    /// A new connection, in the naming state.
    pub fn connect(&mut self, id: ConnId, peer: P) {
        self.conns.insert(
            id,
            Conn {
                peer,
                name: None,
                state: State::Naming,
                outgoing: None,
                incoming: BTreeSet::new(),
            },
        );
    }

    /// Number of named users.
    #[cfg(test)]
    pub fn n_users(&self) -> usize {
        self.names.len()
    }

    /// Number of rooms.
    #[cfg(test)]
    pub fn n_rooms(&self) -> usize {
        self.rooms.len()
    }

    /// The name of a connection, once it has one.
    pub fn name_of(&self, id: ConnId) -> Option<&Name> {
        self.conns.get(&id).and_then(|conn| conn.name.as_ref())
    }

    /// Handles one non-empty line from `id`.
    pub fn handle(&mut self, id: ConnId, input: Input, out: &mut Outcome<P>) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        match (&conn.state, input) {
            (State::Naming, input) => self.naming(id, input, out),
            (_, Input::Command(parsed)) => self.command(id, parsed, out),
            (_, Input::Text { text, .. }) if text.is_empty() => {}
            (
                State::Available,
                Input::Text {
                    alias: Some(parsed),
                    ..
                },
            ) => self.command(id, parsed, out),
            (State::Available, Input::Text { alias: None, .. }) => {
                out.reply.push(ServerLine::error(ErrorCode::NotInChat))
            }
            (State::Chatting(partner), Input::Text { text, .. }) => {
                let partner = *partner;
                let from = self.shown_name(id);
                if let Some(peer) = self.peer(partner) {
                    out.events
                        .push((Targets::One(peer), ServerLine::Msg(from, text)));
                }
            }
            (State::InRoom(room), Input::Text { text, .. }) => {
                let Some(room) = self.rooms.get(room) else {
                    return;
                };
                let peers = self.room_peers(room, Some(id));
                if !peers.is_empty() {
                    let line =
                        ServerLine::Room(room.name.shared().clone(), self.shown_name(id), text);
                    out.events.push((Targets::Many(peers), line));
                }
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
        self.end_state(id, EndReason::Disconnected, PartReason::Disconnected, out);
        self.resolve_requests(id, None, DISCONNECTED, out);
        self.conns.remove(&id);
    }

    fn naming(&mut self, id: ConnId, input: Input, out: &mut Outcome<P>) {
        let text = match input {
            Input::Command(Ok(Command::Help)) => return self.help(true, out),
            Input::Command(Ok(Command::Exit)) => return self.exit(id, out),
            Input::Command(Err(error)) if error.command == Some("help") => {
                return out.reply.push(ServerLine::error(error.code));
            }
            Input::Command(_) => return out.reply.push(ServerLine::error(ErrorCode::NameInvalid)),
            Input::Text { text, .. } if text.is_empty() => return,
            Input::Text { text, .. } => text,
        };
        let Ok(name) = Name::parse(&text) else {
            return out.reply.push(ServerLine::error(ErrorCode::NameInvalid));
        };
        if self.names.contains_key(name.folded()) {
            return out.reply.push(ServerLine::error(ErrorCode::NameTaken));
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.name = Some(name.clone());
        conn.state = State::Available;
        self.names.insert(Arc::from(name.folded()), id);
        out.reply.push(ServerLine::Welcome(name.shared().clone()));
        let n_others = self.names.len() - 1;
        let others = match n_others {
            0 => "nobody else is online yet".to_owned(),
            1 => "1 other user is online".to_owned(),
            n => format!("{n} other users are online"),
        };
        out.reply.push(info(&format!("hello {name}; {others}")));
        for line in MENU {
            out.reply.push(info(line));
        }
    }

    fn command(&mut self, id: ConnId, parsed: Parsed, out: &mut Outcome<P>) {
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return out.reply.push(ServerLine::error(error.code)),
        };
        match command {
            Command::Help => self.help(false, out),
            Command::List => self.list(out),
            Command::Chat(target) => self.chat(id, &target, out),
            Command::Accept(from) => self.accept(id, from.as_deref(), out),
            Command::Decline(from) => self.decline(id, from.as_deref(), out),
            Command::Cancel => self.cancel(id, out),
            Command::Leave => self.leave(id, out),
            Command::Join(room) => self.join(id, &room, out),
            Command::Rooms => self.rooms(out),
            Command::Ping(token) => out.reply.push(ServerLine::Ok(OkReply::Ping(token))),
            Command::Exit => self.exit(id, out),
        }
    }

    fn help(&self, naming: bool, out: &mut Outcome<P>) {
        if naming {
            out.reply.push(info(
                "type a username to begin: 1-24 letters, digits, '_' or '-', starting with a letter or digit",
            ));
            out.reply.push(info("/exit leaves"));
        } else {
            for line in HELP {
                out.reply.push(info(line));
            }
        }
        out.reply.push(ServerLine::Ok(OkReply::Help));
    }

    /// `/exit`: the user leaves the hub in the same step, so a partner's
    /// message handled before the connection closes gets `ERR not-in-chat`
    /// instead of vanishing into an outbox that takes nothing more after
    /// `BYE`.
    fn exit(&mut self, id: ConnId, out: &mut Outcome<P>) {
        out.reply.push(ServerLine::Bye(Arc::from("goodbye")));
        out.close = true;
        self.disconnect(id, out);
    }

    fn list(&self, out: &mut Outcome<P>) {
        out.reply.reserve(self.names.len() + 1);
        for &id in self.names.values() {
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            let state = match &conn.state {
                State::Chatting(partner) => UserState::Chatting(self.shown_name(*partner)),
                State::InRoom(room) => match self.rooms.get(room) {
                    Some(room) => UserState::Room(room.name.shared().clone()),
                    None => UserState::Available,
                },
                State::Available | State::Naming => UserState::Available,
            };
            out.reply.push(ServerLine::User(self.shown_name(id), state));
        }
        out.reply
            .push(ServerLine::Ok(OkReply::List(self.names.len())));
    }

    fn rooms(&self, out: &mut Outcome<P>) {
        for room in self.rooms.values() {
            out.reply.push(ServerLine::RoomInfo(
                room.name.shared().clone(),
                room.members.len(),
            ));
        }
        out.reply
            .push(ServerLine::Ok(OkReply::Rooms(self.rooms.len())));
    }

    fn chat(&mut self, id: ConnId, target: &str, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.reply.push(ServerLine::error(ErrorCode::NotAvailable));
        }
        let target = match self.lookup_other(id, target) {
            Ok(target) => target,
            Err(code) => return out.reply.push(ServerLine::error(code)),
        };
        if !self.is_available(target) {
            return out.reply.push(ServerLine::error(ErrorCode::Busy));
        }
        let target_name = self.shown_name(target);
        if self
            .conns
            .get(&target)
            .is_some_and(|conn| conn.outgoing == Some(id))
        {
            // They asked us first: the chat starts at once.
            self.start_chat(id, target, out);
            out.reply.push(ServerLine::Chat(target_name.clone()));
            out.reply.push(ServerLine::Ok(OkReply::Chat(target_name)));
            return;
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let previous = conn.outgoing.replace(target);
        if let Some(previous) = previous.filter(|&previous| previous != target) {
            let from = self.shown_name(id);
            if let Some(old) = self.conns.get_mut(&previous) {
                old.incoming.remove(&id);
                let peer = old.peer.clone();
                out.events.push((
                    Targets::One(peer),
                    ServerLine::Cancelled(from, CancelReason::Cancelled),
                ));
            }
        }
        let from = self.shown_name(id);
        if let Some(conn) = self.conns.get_mut(&target) {
            conn.incoming.insert(id);
            out.events
                .push((Targets::One(conn.peer.clone()), ServerLine::Request(from)));
        }
        out.reply.push(ServerLine::Ok(OkReply::Chat(target_name)));
    }

    fn accept(&mut self, id: ConnId, from: Option<&str>, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.reply.push(ServerLine::error(ErrorCode::NotAvailable));
        }
        let requester = match self.pending_request(id, from) {
            Ok(requester) => requester,
            Err(code) => return out.reply.push(ServerLine::error(code)),
        };
        let requester_name = self.shown_name(requester);
        self.start_chat(id, requester, out);
        out.reply.push(ServerLine::Chat(requester_name.clone()));
        out.reply
            .push(ServerLine::Ok(OkReply::Accept(requester_name)));
    }

    fn decline(&mut self, id: ConnId, from: Option<&str>, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.reply.push(ServerLine::error(ErrorCode::NoRequest));
        }
        let requester = match self.pending_request(id, from) {
            Ok(requester) => requester,
            Err(code) => return out.reply.push(ServerLine::error(code)),
        };
        let me = self.shown_name(id);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.incoming.remove(&requester);
        }
        if let Some(conn) = self.conns.get_mut(&requester) {
            conn.outgoing = None;
            out.events.push((
                Targets::One(conn.peer.clone()),
                ServerLine::Declined(me, DeclineReason::Declined),
            ));
        }
        out.reply
            .push(ServerLine::Ok(OkReply::Decline(self.shown_name(requester))));
    }

    fn cancel(&mut self, id: ConnId, out: &mut Outcome<P>) {
        let Some(target) = self
            .conns
            .get_mut(&id)
            .and_then(|conn| conn.outgoing.take())
        else {
            return out.reply.push(ServerLine::error(ErrorCode::NoRequest));
        };
        let me = self.shown_name(id);
        if let Some(conn) = self.conns.get_mut(&target) {
            conn.incoming.remove(&id);
            out.events.push((
                Targets::One(conn.peer.clone()),
                ServerLine::Cancelled(me, CancelReason::Cancelled),
            ));
        }
        out.reply
            .push(ServerLine::Ok(OkReply::Cancel(self.shown_name(target))));
    }

    fn leave(&mut self, id: ConnId, out: &mut Outcome<P>) {
        let reply = match self.conns.get(&id).map(|conn| &conn.state) {
            Some(State::Chatting(partner)) => OkReply::LeaveChat(self.shown_name(*partner)),
            Some(State::InRoom(room)) => match self.rooms.get(room) {
                Some(room) => OkReply::LeaveRoom(room.name.shared().clone()),
                None => return out.reply.push(ServerLine::error(ErrorCode::NotInChat)),
            },
            _ => return out.reply.push(ServerLine::error(ErrorCode::NotInChat)),
        };
        self.end_state(id, EndReason::Left, PartReason::Left, out);
        out.reply.push(ServerLine::Ok(reply));
    }

    fn join(&mut self, id: ConnId, room: &str, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.reply.push(ServerLine::error(ErrorCode::NotAvailable));
        }
        let Ok(room_name) = Name::parse(room) else {
            return out.reply.push(ServerLine::error(ErrorCode::NameInvalid));
        };
        self.resolve_requests(id, None, BECAME_BUSY, out);
        let key: Arc<str> = Arc::from(room_name.folded());
        let room = self.rooms.entry(key.clone()).or_insert_with(|| Room {
            name: room_name,
            members: BTreeSet::new(),
        });
        let shown_room = room.name.shared().clone();
        let others: Vec<ConnId> = room.members.iter().copied().collect();
        room.members.insert(id);
        let n_members = room.members.len();
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.state = State::InRoom(key);
        }
        let peers: Vec<P> = others
            .iter()
            .filter_map(|&other| self.peer(other))
            .collect();
        if !peers.is_empty() {
            let line = ServerLine::Joined(shown_room.clone(), self.shown_name(id));
            out.events.push((Targets::Many(peers), line));
        }
        out.reply
            .push(ServerLine::Ok(OkReply::Join(shown_room, n_members)));
    }

    /// Moves `a` and `b` into a chat with each other, resolving every other
    /// request to or from either of them. Sends `CHAT a` to `b`; the caller
    /// replies to `a`.
    fn start_chat(&mut self, a: ConnId, b: ConnId, out: &mut Outcome<P>) {
        self.resolve_requests(a, Some(b), BECAME_BUSY, out);
        self.resolve_requests(b, Some(a), BECAME_BUSY, out);
        if let Some(conn) = self.conns.get_mut(&a) {
            conn.state = State::Chatting(b);
        }
        let a_name = self.shown_name(a);
        if let Some(conn) = self.conns.get_mut(&b) {
            conn.state = State::Chatting(a);
            out.events
                .push((Targets::One(conn.peer.clone()), ServerLine::Chat(a_name)));
        }
    }

    /// Drops every request to or from `id`, telling everyone involved except
    /// `spared` (the new chat partner).
    fn resolve_requests(
        &mut self,
        id: ConnId,
        spared: Option<ConnId>,
        why: Resolution,
        out: &mut Outcome<P>,
    ) {
        let name = self.shown_name(id);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let incoming = std::mem::take(&mut conn.incoming);
        let outgoing = conn.outgoing.take();
        for requester in incoming {
            let Some(other) = self.conns.get_mut(&requester) else {
                continue;
            };
            other.outgoing = None;
            if Some(requester) != spared {
                let line = ServerLine::Declined(name.clone(), why.to_requesters);
                out.events.push((Targets::One(other.peer.clone()), line));
            }
        }
        if let Some(target) = outgoing {
            let Some(other) = self.conns.get_mut(&target) else {
                return;
            };
            other.incoming.remove(&id);
            if Some(target) != spared {
                let line = ServerLine::Cancelled(name, why.to_target);
                out.events.push((Targets::One(other.peer.clone()), line));
            }
        }
    }

    /// Takes `id` out of its chat or room, back to available, telling the
    /// partner or the other members.
    fn end_state(
        &mut self,
        id: ConnId,
        ended: EndReason,
        parted: PartReason,
        out: &mut Outcome<P>,
    ) {
        let name = self.shown_name(id);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match std::mem::replace(&mut conn.state, State::Available) {
            State::Chatting(partner) => {
                if let Some(other) = self.conns.get_mut(&partner) {
                    other.state = State::Available;
                    let line = ServerLine::Ended(name, ended);
                    out.events.push((Targets::One(other.peer.clone()), line));
                }
            }
            State::InRoom(key) => {
                let Some(room) = self.rooms.get_mut(&key) else {
                    return;
                };
                room.members.remove(&id);
                if room.members.is_empty() {
                    self.rooms.remove(&key);
                    return;
                }
                let line = ServerLine::Parted(room.name.shared().clone(), name, parted);
                let Some(room) = self.rooms.get(&key) else {
                    return;
                };
                let peers = self.room_peers(room, None);
                out.events.push((Targets::Many(peers), line));
            }
            State::Available | State::Naming => {}
        }
    }

    /// The requester `/accept` or `/decline` acts on.
    fn pending_request(&self, id: ConnId, from: Option<&str>) -> Result<ConnId, ErrorCode> {
        let incoming = self.conns.get(&id).map(|conn| &conn.incoming);
        let Some(incoming) = incoming else {
            return Err(ErrorCode::NoRequest);
        };
        match from {
            None => match incoming.len() {
                0 => Err(ErrorCode::NoRequest),
                1 => incoming.first().copied().ok_or(ErrorCode::NoRequest),
                _ => Err(ErrorCode::Usage),
            },
            Some(from) => {
                let requester = self.lookup_other(id, from)?;
                if incoming.contains(&requester) {
                    Ok(requester)
                } else {
                    Err(ErrorCode::NoRequest)
                }
            }
        }
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

    fn room_peers(&self, room: &Room, except: Option<ConnId>) -> Vec<P> {
        room.members
            .iter()
            .filter(|&&member| Some(member) != except)
            .filter_map(|&member| self.peer(member))
            .collect()
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

fn info(text: &str) -> ServerLine {
    ServerLine::Info(Arc::from(text))
}

const MENU: [&str; 5] = [
    "menu:  1 = list users   2 NAME = ask NAME to chat   3 = exit",
    "answer a chat request with yes or no (or /accept NAME, /decline NAME)",
    "group rooms: /join ROOM, /rooms; in a chat or room, /leave returns here",
    "/help lists every command",
    "while chatting, every line you type is a message; start it with // to send a line beginning with /",
];

const HELP: [&str; 13] = [
    "commands (menu aliases in brackets, usable when you are not chatting):",
    "  /list            [1]         who is online, free or chatting with whom",
    "  /chat NAME       [2 NAME]    ask NAME to chat",
    "  /accept [NAME]   [yes, y]    accept a chat request",
    "  /decline [NAME]  [no, n]     decline a chat request",
    "  /cancel                      withdraw your own request",
    "  /join ROOM                   join a group room (created if new)",
    "  /rooms                       list the rooms",
    "  /leave                       leave your chat or room",
    "  /ping [TOKEN]                check the connection",
    "  /exit, /quit     [3]         disconnect",
    "in a chat or room every other line is a message; //text sends /text",
    "names and rooms: 1-24 letters, digits, '_' or '-', starting with a letter or digit",
];

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
