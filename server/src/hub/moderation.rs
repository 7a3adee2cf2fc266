//! A room's operator and what only it may do: `/topic TEXT`, `/kick`,
//! `/ban`. Whoever creates a room is its operator; when the operator
//! leaves, the member here longest takes over (`rooms.rs`, `part`). Topic
//! and bans last while the room exists.

use std::sync::Arc;

use common::{ErrorCode, Name, OkReply, PartReason, ServerLine};

use super::{ConnId, Happening, Hub, Outcome, State};

impl<P: Clone> Hub<P> {
    /// The folded name of the room `id` is in.
    fn room_of(&self, id: ConnId) -> Option<Arc<str>> {
        match &self.conns.get(&id)?.state {
            State::InRoom(room) => Some(Arc::clone(room)),
            _ => None,
        }
    }

    /// `/topic [TEXT]`: shows the topic, or sets it (operator only).
    pub(super) fn topic(&mut self, id: ConnId, text: Option<Arc<str>>, out: &mut Outcome<P>) {
        let Some(key) = self.room_of(id) else {
            return out.error(ErrorCode::NotInRoom);
        };
        let me = self.shown_name(id);
        let Some(room) = self.rooms.get_mut(&key) else {
            return out.error(ErrorCode::NotInRoom);
        };
        let shown_room = room.name.shared().clone();
        let Some(text) = text else {
            let line = match &room.topic {
                Some((setter, text)) => {
                    ServerLine::Topic(shown_room, Some(setter.clone()), text.clone())
                }
                None => ServerLine::Topic(shown_room, None, Arc::from("")),
            };
            out.reply(line);
            return out.reply(ServerLine::Ok(OkReply::Topic));
        };
        if room.operator != id {
            return out.error(ErrorCode::NotOperator);
        }
        room.topic = Some((me.clone(), text.clone()));
        let line = ServerLine::Topic(shown_room.clone(), Some(me), text);
        let Some(room) = self.rooms.get(&key) else {
            return;
        };
        let others = self.room_peers(room, Some(id), None);
        out.send_many(others, line.clone());
        out.reply(line);
        out.reply(ServerLine::Ok(OkReply::Topic));
        out.happened.push(Happening::TopicSet(shown_room));
    }

    /// `/kick NAME [REASON]`
    pub(super) fn kick(
        &mut self,
        id: ConnId,
        name: &str,
        reason: Option<Arc<str>>,
        out: &mut Outcome<P>,
    ) {
        let Some(key) = self.operated_room(id, out) else {
            return;
        };
        let target = match self.member_named(id, &key, name) {
            Ok(target) => target,
            Err(code) => return out.error(code),
        };
        let target_name = self.shown_name(target);
        self.remove_from_room(
            id,
            target,
            &key,
            reason.unwrap_or_else(|| Arc::from("")),
            out,
        );
        out.reply(ServerLine::Ok(OkReply::Kick(target_name)));
    }

    /// `/ban NAME`: kicks NAME if present; NAME cannot join again while
    /// the room exists. A name need not be online to be banned.
    pub(super) fn ban(&mut self, id: ConnId, name: &str, out: &mut Outcome<P>) {
        let Some(key) = self.operated_room(id, out) else {
            return;
        };
        let Ok(typed) = Name::parse(name) else {
            return out.error(ErrorCode::NameInvalid);
        };
        if self
            .name_of(id)
            .is_some_and(|me| me.folded() == typed.folded())
        {
            return out.error(ErrorCode::SelfTarget);
        }
        if let Some(room) = self.rooms.get_mut(&key) {
            room.banned.insert(Arc::from(typed.folded()));
        }
        let shown = match self.member_named(id, &key, name) {
            Ok(target) => {
                let shown = self.shown_name(target);
                self.remove_from_room(id, target, &key, Arc::from("banned"), out);
                shown
            }
            Err(_) => self.known_spelling(&typed).shared().clone(),
        };
        out.reply(ServerLine::Ok(OkReply::Ban(shown)));
    }

    /// The room `id` operates, or the error for it.
    fn operated_room(&self, id: ConnId, out: &mut Outcome<P>) -> Option<Arc<str>> {
        let Some(key) = self.room_of(id) else {
            out.error(ErrorCode::NotInRoom);
            return None;
        };
        if self.rooms.get(&key).is_none_or(|room| room.operator != id) {
            out.error(ErrorCode::NotOperator);
            return None;
        }
        Some(key)
    }

    /// The member of room `key` called `name`: `ERR self` for the caller,
    /// `ERR no-such-user` for anyone not in the room.
    fn member_named(&self, id: ConnId, key: &str, name: &str) -> Result<ConnId, ErrorCode> {
        let target = self.lookup_other(id, name)?;
        let in_room = self
            .rooms
            .get(key)
            .is_some_and(|room| room.members.contains_key(&target));
        if in_room {
            Ok(target)
        } else {
            Err(ErrorCode::NoSuchUser)
        }
    }

    /// Removes `target` from room `key` on `by`'s word: `target` gets
    /// `KICKED` and is at the menu; every other member gets `PARTED …
    /// kicked`, `by` as part of its reply.
    fn remove_from_room(
        &mut self,
        by: ConnId,
        target: ConnId,
        key: &str,
        reason: Arc<str>,
        out: &mut Outcome<P>,
    ) {
        let by_name = self.shown_name(by);
        let target_name = self.shown_name(target);
        let Some(room) = self.rooms.get_mut(key) else {
            return;
        };
        room.members.remove(&target);
        let shown_room = room.name.shared().clone();
        if let Some(conn) = self.conns.get_mut(&target) {
            conn.state = State::Available;
            let line = ServerLine::Kicked(shown_room.clone(), by_name, reason);
            out.send(conn.peer.clone(), line);
        }
        let parted =
            ServerLine::Parted(shown_room.clone(), target_name.clone(), PartReason::Kicked);
        if let Some(room) = self.rooms.get(key) {
            let others = self.room_peers(room, Some(by), None);
            out.send_many(others, parted.clone());
        }
        out.reply(parted);
        out.happened
            .push(Happening::Kicked(shown_room, target_name));
    }
}
