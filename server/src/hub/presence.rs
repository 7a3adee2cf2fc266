//! Who is online and what they are doing: `/list`, `/away`, `/back`.

use std::sync::Arc;

use common::{OkReply, ServerLine, UserState};

use super::{ConnId, Hub, Outcome, State};

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
                _ if conn.away.is_some() => UserState::Away,
                _ => UserState::Available,
            };
            out.reply(ServerLine::User(self.shown_name(id), state));
        }
        out.reply(ServerLine::Ok(OkReply::List(self.names.len())));
    }

    /// `/away [REASON]`: in any state; `/list` shows it while the user is
    /// at the menu, and whoever asks them to chat is told first.
    pub(super) fn away(&mut self, id: ConnId, reason: Option<Arc<str>>, out: &mut Outcome<P>) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.away = Some(reason.unwrap_or_else(|| Arc::from("")));
            out.reply(ServerLine::Ok(OkReply::Away));
        }
    }

    /// `/back`: not away any more (also when not away).
    pub(super) fn back(&mut self, id: ConnId, out: &mut Outcome<P>) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.away = None;
            out.reply(ServerLine::Ok(OkReply::Back));
        }
    }

    /// The `AWAY` line for `id`, if it is away.
    pub(super) fn away_line(&self, id: ConnId) -> Option<ServerLine> {
        let reason = self.conns.get(&id)?.away.clone()?;
        Some(ServerLine::Away(self.shown_name(id), reason))
    }
}
