//! The chat state machine: who is connected, named, available, chatting,
//! requesting, or in which room. It takes *(connection, parsed line)* and
//! produces the lines to send and to whom; it never sees a socket or a clock,
//! so every rule is tested with plain calls (see `tests.rs`).
//!
//! It runs under the server's one mutex, so every method is short, allocates
//! little and cannot panic on any input. This file holds the state and the
//! dispatch; each family of commands has its own file, and a new command is
//! one arm in [`Hub::command`] plus a method in its family's file.

mod chats;
#[cfg(any(test, feature = "invariants"))]
mod invariants;
mod naming;
mod outcome;
mod presence;
mod prose;
mod rooms;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use common::{Command, ErrorCode, Input, Name, OkReply, Parsed, ServerLine, fold};

pub use outcome::{Happening, Outcome, Targets};
pub(crate) use prose::GREETING;

/// Identifies a connection for its whole life; never reused.
pub type ConnId = u64;

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
            (State::Available, Input::Text { alias: None, .. }) => out.error(ErrorCode::NotInChat),
            (State::Chatting(partner), Input::Text { text, .. }) => {
                let partner = *partner;
                self.chat_message(id, partner, text, out);
            }
            (State::InRoom(room), Input::Text { text, .. }) => {
                let room = room.clone();
                self.room_message(id, &room, text, out);
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
    fn command(&mut self, id: ConnId, parsed: Parsed, out: &mut Outcome<P>) {
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
            // Version 2's commands arrive with the features behind them.
            _ => out.error(ErrorCode::UnknownCommand),
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
            State::Available | State::Naming => {}
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

    /// The shown name of a connection (`-` before it has one, which only a
    /// bug could send, since unnamed connections take part in nothing).
    fn shown_name(&self, id: ConnId) -> Arc<str> {
        match self.name_of(id) {
            Some(name) => name.shared().clone(),
            None => Arc::from("-"),
        }
    }
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
