//! Who is online and what they are doing: `/list`.

use common::{OkReply, ServerLine, UserState};

use super::{Hub, Outcome, State};

impl<P: Clone> Hub<P> {
    /// `/list`: one `USER` line per named user, already sorted by folded
    /// name because the name map is a `BTreeMap`.
    pub(super) fn list(&self, out: &mut Outcome<P>) {
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
                _ => UserState::Available,
            };
            out.reply(ServerLine::User(self.shown_name(id), state));
        }
        out.reply(ServerLine::Ok(OkReply::List(self.names.len())));
    }
}
