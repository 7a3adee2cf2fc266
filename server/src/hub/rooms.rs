//! Group rooms: `/join` (with the room's history and topic), `/rooms`,
//! room messages and actions, and leaving. A room is created by its first
//! member, who is its operator, and deleted with its last; its history
//! outlives it (`history.rs`); its topic and bans do not (`moderation.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{ErrorCode, HistoryKind, HistoryLine, Name, OkReply, PartReason, ServerLine};

use super::chats::BECAME_BUSY;
use super::{ConnId, Ending, Happening, Hub, Now, Outcome, Room, Said, State};

impl<P: Clone> Hub<P> {
    /// `/join ROOM`: creates the room if new; resolves pending requests.
    pub(super) fn join(&mut self, id: ConnId, room: &str, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.error(ErrorCode::NotAvailable);
        }
        let Ok(room_name) = Name::parse(room) else {
            return out.error(ErrorCode::NameInvalid);
        };
        let key: Arc<str> = Arc::from(room_name.folded());
        let me = self.name_of(id).map(|name| Arc::<str>::from(name.folded()));
        if let (Some(room), Some(me)) = (self.rooms.get(&key), &me)
            && room.banned.contains(me)
        {
            return out.error(ErrorCode::Banned);
        }
        self.resolve_requests(id, None, BECAME_BUSY, out);
        self.joins += 1;
        let joined_at = self.joins;
        let room = self.rooms.entry(key.clone()).or_insert_with(|| Room {
            name: room_name,
            members: BTreeMap::new(),
            operator: id,
            topic: None,
            banned: BTreeSet::new(),
        });
        let shown_room = room.name.shared().clone();
        let others: Vec<ConnId> = room.members.keys().copied().collect();
        room.members.insert(id, joined_at);
        let n_members = room.members.len();
        let topic = room.topic.clone();
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.state = State::InRoom(key.clone());
        }
        let peers: Vec<P> = others
            .iter()
            .filter_map(|&other| self.peer(other))
            .collect();
        let line = ServerLine::Joined(shown_room.clone(), self.shown_name(id));
        out.send_many(peers, line);
        for said in self.history.lines(&key) {
            if self.is_ignoring_name(id, &said.from) {
                continue;
            }
            out.reply(ServerLine::History(Box::new(HistoryLine {
                room: shown_room.clone(),
                at_ms: said.at_ms,
                kind: said.kind,
                from: said.from.clone(),
                text: said.text.clone(),
            })));
        }
        if let Some((setter, text)) = topic {
            out.reply(ServerLine::Topic(shown_room.clone(), Some(setter), text));
        }
        out.happened.push(Happening::JoinedRoom(shown_room.clone()));
        out.reply(ServerLine::Ok(OkReply::Join(shown_room, n_members)));
    }

    /// `/rooms`: one `ROOMINFO` line per room, sorted by folded name.
    pub(super) fn rooms(&self, out: &mut Outcome<P>) {
        for room in self.rooms.values() {
            out.reply(ServerLine::RoomInfo(
                room.name.shared().clone(),
                room.members.len(),
            ));
        }
        out.reply(ServerLine::Ok(OkReply::Rooms(self.rooms.len())));
    }

    /// A line of text or an action in a room: to every other member who
    /// does not ignore the sender, no echo; kept in the room's history
    /// (also when nobody else is there to read it).
    pub(super) fn room_message(
        &mut self,
        id: ConnId,
        room: &str,
        text: Arc<str>,
        kind: HistoryKind,
        now: Now,
        out: &mut Outcome<P>,
    ) {
        let Some(room) = self.rooms.get(room) else {
            return;
        };
        let from = self.shown_name(id);
        let peers = self.room_peers(room, Some(id), Some(id));
        let room_name = room.name.clone();
        if !peers.is_empty() {
            let shown_room = room_name.shared().clone();
            let line = match kind {
                HistoryKind::Msg => ServerLine::Room(shown_room, from.clone(), text.clone()),
                HistoryKind::Action => {
                    ServerLine::Action(Some(shown_room), from.clone(), text.clone())
                }
            };
            out.send_many(peers, line);
        }
        let said = Said {
            at_ms: now.unix_ms,
            kind,
            from,
            text,
        };
        self.history.record(&room_name, said, out);
    }

    /// `id` has already left `room` in its own state: takes it off the
    /// member list, deletes the room if it is empty, else tells the others
    /// and, if `id` was the operator, names the member here longest.
    pub(super) fn part(&mut self, id: ConnId, room: &str, why: Ending, out: &mut Outcome<P>) {
        let reason = match why {
            Ending::Left => PartReason::Left,
            Ending::Disconnected => PartReason::Disconnected,
        };
        let Some(entry) = self.rooms.get_mut(room) else {
            return;
        };
        entry.members.remove(&id);
        let shown_room = entry.name.shared().clone();
        out.happened
            .push(Happening::LeftRoom(shown_room.clone(), reason));
        if entry.members.is_empty() {
            self.rooms.remove(room);
            return;
        }
        let successor = (entry.operator == id)
            .then(|| {
                let (&member, _) = entry.members.iter().min_by_key(|(_, joined)| **joined)?;
                entry.operator = member;
                Some(member)
            })
            .flatten();
        let Some(entry) = self.rooms.get(room) else {
            return;
        };
        let peers = self.room_peers(entry, None, None);
        out.send_many(
            peers.clone(),
            ServerLine::Parted(shown_room.clone(), self.shown_name(id), reason),
        );
        if let Some(successor) = successor {
            out.send_many(
                peers,
                ServerLine::Op(shown_room, self.shown_name(successor)),
            );
        }
    }

    /// The members to send a room line to: all but `except`, and none
    /// that ignores `sender`.
    pub(super) fn room_peers(
        &self,
        room: &Room,
        except: Option<ConnId>,
        sender: Option<ConnId>,
    ) -> Vec<P> {
        room.members
            .keys()
            .filter(|&&member| Some(member) != except)
            .filter(|&&member| sender.is_none_or(|sender| !self.is_ignoring(member, sender)))
            .filter_map(|&member| self.peer(member))
            .collect()
    }
}
