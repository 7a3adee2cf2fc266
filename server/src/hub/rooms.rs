//! Group rooms: `/join` (with the room's history), `/rooms`, room
//! messages, and leaving. A room is created by its first member and
//! deleted with its last; its history outlives it (`history.rs`).

use std::collections::BTreeSet;
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
            conn.state = State::InRoom(key.clone());
        }
        let peers: Vec<P> = others
            .iter()
            .filter_map(|&other| self.peer(other))
            .collect();
        let line = ServerLine::Joined(shown_room.clone(), self.shown_name(id));
        out.send_many(peers, line);
        for said in self.history.lines(&key) {
            out.reply(ServerLine::History(Box::new(HistoryLine {
                room: shown_room.clone(),
                at_ms: said.at_ms,
                kind: said.kind,
                from: said.from.clone(),
                text: said.text.clone(),
            })));
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

    /// A line of text in a room: to every other member, no echo; kept in
    /// the room's history (also when nobody else is there to read it).
    pub(super) fn room_message(
        &mut self,
        id: ConnId,
        room: &str,
        text: Arc<str>,
        now: Now,
        out: &mut Outcome<P>,
    ) {
        let Some(room) = self.rooms.get(room) else {
            return;
        };
        let from = self.shown_name(id);
        let peers = self.room_peers(room, Some(id));
        let room_name = room.name.clone();
        if !peers.is_empty() {
            let line = ServerLine::Room(room_name.shared().clone(), from.clone(), text.clone());
            out.send_many(peers, line);
        }
        let said = Said {
            at_ms: now.unix_ms,
            kind: HistoryKind::Msg,
            from,
            text,
        };
        self.history.record(&room_name, said, out);
    }

    /// `id` has already left `room` in its own state: takes it off the
    /// member list, deletes the room if it is empty, else tells the others.
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
        let Some(entry) = self.rooms.get(room) else {
            return;
        };
        let peers = self.room_peers(entry, None);
        out.send_many(
            peers,
            ServerLine::Parted(shown_room, self.shown_name(id), reason),
        );
    }

    fn room_peers(&self, room: &Room, except: Option<ConnId>) -> Vec<P> {
        room.members
            .iter()
            .filter(|&&member| Some(member) != except)
            .filter_map(|&member| self.peer(member))
            .collect()
    }
}
