//! One-to-one chats: requests (`/chat`, `/accept`, `/decline`, `/cancel`),
//! the chat itself (messages and actions), and how pending requests are
//! resolved when a user stops being available. A request to someone who
//! ignores its sender is recorded but never shown to them: `REQUEST`,
//! `CANCELLED` and their messages stay away, and `/accept` and `/decline`
//! do not see it.

use std::sync::Arc;

use common::{CancelReason, DeclineReason, EndReason, ErrorCode, HistoryKind, OkReply, ServerLine};

use super::{ConnId, Ending, Happening, Hub, Outcome, State};

/// The reasons sent when a user's pending requests are resolved.
#[derive(Clone, Copy)]
pub(super) struct Resolution {
    to_requesters: DeclineReason,
    to_target: CancelReason,
}

/// The user started a chat or joined a room.
pub(super) const BECAME_BUSY: Resolution = Resolution {
    to_requesters: DeclineReason::Busy,
    to_target: CancelReason::Busy,
};

/// The user's connection closed.
pub(super) const DISCONNECTED: Resolution = Resolution {
    to_requesters: DeclineReason::Disconnected,
    to_target: CancelReason::Disconnected,
};

impl<P: Clone> Hub<P> {
    /// `/chat NAME`: ask, or start the chat at once if NAME asked first.
    pub(super) fn chat(&mut self, id: ConnId, target: &str, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.error(ErrorCode::NotAvailable);
        }
        let target = match self.lookup_other(id, target) {
            Ok(target) => target,
            Err(code) => return out.error(code),
        };
        if !self.is_available(target) {
            return out.error(ErrorCode::Busy);
        }
        let target_name = self.shown_name(target);
        if self
            .conns
            .get(&target)
            .is_some_and(|conn| conn.outgoing == Some(id))
        {
            // They asked us first: the chat starts at once.
            self.start_chat(id, target, out);
            out.reply(ServerLine::Chat(target_name.clone()));
            out.reply(ServerLine::Ok(OkReply::Chat(target_name)));
            return;
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let previous = conn.outgoing.replace(target);
        let from = self.shown_name(id);
        if let Some(previous) = previous.filter(|&previous| previous != target) {
            let shown = !self.is_ignoring(previous, id);
            if let Some(old) = self.conns.get_mut(&previous) {
                old.incoming.remove(&id);
                if shown {
                    let line = ServerLine::Cancelled(from.clone(), CancelReason::Cancelled);
                    out.send(old.peer.clone(), line);
                }
            }
        }
        let shown = !self.is_ignoring(target, id);
        if let Some(away) = self.away_line(target) {
            out.reply(away);
        }
        if let Some(conn) = self.conns.get_mut(&target) {
            conn.incoming.insert(id);
            if shown {
                out.send(conn.peer.clone(), ServerLine::Request(from));
            }
        }
        out.reply(ServerLine::Ok(OkReply::Chat(target_name)));
    }

    /// `/accept [NAME]`
    pub(super) fn accept(&mut self, id: ConnId, from: Option<&str>, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.error(ErrorCode::NotAvailable);
        }
        let requester = match self.pending_request(id, from) {
            Ok(requester) => requester,
            Err(code) => return out.error(code),
        };
        let requester_name = self.shown_name(requester);
        self.start_chat(id, requester, out);
        out.reply(ServerLine::Chat(requester_name.clone()));
        out.reply(ServerLine::Ok(OkReply::Accept(requester_name)));
    }

    /// `/decline [NAME]`
    pub(super) fn decline(&mut self, id: ConnId, from: Option<&str>, out: &mut Outcome<P>) {
        if !self.is_available(id) {
            return out.error(ErrorCode::NoRequest);
        }
        let requester = match self.pending_request(id, from) {
            Ok(requester) => requester,
            Err(code) => return out.error(code),
        };
        let me = self.shown_name(id);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.incoming.remove(&requester);
        }
        if let Some(conn) = self.conns.get_mut(&requester) {
            conn.outgoing = None;
            let line = ServerLine::Declined(me, DeclineReason::Declined);
            out.send(conn.peer.clone(), line);
        }
        out.reply(ServerLine::Ok(OkReply::Decline(self.shown_name(requester))));
    }

    /// `/cancel`: withdraw your own request.
    pub(super) fn cancel(&mut self, id: ConnId, out: &mut Outcome<P>) {
        let Some(target) = self
            .conns
            .get_mut(&id)
            .and_then(|conn| conn.outgoing.take())
        else {
            return out.error(ErrorCode::NoRequest);
        };
        let me = self.shown_name(id);
        let shown = !self.is_ignoring(target, id);
        if let Some(conn) = self.conns.get_mut(&target) {
            conn.incoming.remove(&id);
            if shown {
                let line = ServerLine::Cancelled(me, CancelReason::Cancelled);
                out.send(conn.peer.clone(), line);
            }
        }
        out.reply(ServerLine::Ok(OkReply::Cancel(self.shown_name(target))));
    }

    /// A line of text or an action in a chat: to the partner (unless it
    /// ignores the sender), no echo, never stored.
    pub(super) fn chat_message(
        &mut self,
        id: ConnId,
        partner: ConnId,
        text: Arc<str>,
        kind: HistoryKind,
        out: &mut Outcome<P>,
    ) {
        if self.is_ignoring(partner, id) {
            return;
        }
        if let Some(peer) = self.peer(partner) {
            let from = self.shown_name(id);
            let line = match kind {
                HistoryKind::Msg => ServerLine::Msg(from, text),
                HistoryKind::Action => ServerLine::Action(None, from, text),
            };
            out.send(peer, line);
        }
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
            out.send(conn.peer.clone(), ServerLine::Chat(a_name));
        }
        out.happened
            .push(Happening::ChatStarted(self.shown_name(b)));
    }

    /// `id` has already left its chat with `partner`: the partner is back
    /// at the menu and told why.
    pub(super) fn end_chat(
        &mut self,
        id: ConnId,
        partner: ConnId,
        why: Ending,
        out: &mut Outcome<P>,
    ) {
        let reason = match why {
            Ending::Left => EndReason::Left,
            Ending::Disconnected => EndReason::Disconnected,
        };
        let name = self.shown_name(id);
        if let Some(other) = self.conns.get_mut(&partner) {
            other.state = State::Available;
            let partner_name = other.name.as_ref().map(|name| name.shared().clone());
            out.send(other.peer.clone(), ServerLine::Ended(name, reason));
            if let Some(partner_name) = partner_name {
                out.happened
                    .push(Happening::ChatEnded(partner_name, reason));
            }
        }
    }

    /// Drops every request to or from `id`, telling everyone involved except
    /// `spared` (the new chat partner).
    pub(super) fn resolve_requests(
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
                out.send(other.peer.clone(), line);
            }
        }
        let hidden = outgoing.is_some_and(|target| self.is_ignoring(target, id));
        if let Some(target) = outgoing
            && let Some(other) = self.conns.get_mut(&target)
        {
            other.incoming.remove(&id);
            if Some(target) != spared && !hidden {
                let line = ServerLine::Cancelled(name, why.to_target);
                out.send(other.peer.clone(), line);
            }
        }
    }

    /// The requester `/accept` or `/decline` acts on, among the requests
    /// `id` can see (not those from users it ignores).
    fn pending_request(&self, id: ConnId, from: Option<&str>) -> Result<ConnId, ErrorCode> {
        let incoming = self.conns.get(&id).map(|conn| &conn.incoming);
        let Some(incoming) = incoming else {
            return Err(ErrorCode::NoRequest);
        };
        let mut visible = incoming
            .iter()
            .copied()
            .filter(|&requester| !self.is_ignoring(id, requester));
        match from {
            None => match (visible.next(), visible.next()) {
                (None, _) => Err(ErrorCode::NoRequest),
                (Some(requester), None) => Ok(requester),
                (Some(_), Some(_)) => Err(ErrorCode::Usage),
            },
            Some(from) => {
                let requester = self.lookup_other(id, from)?;
                if visible.any(|visible| visible == requester) {
                    Ok(requester)
                } else {
                    Err(ErrorCode::NoRequest)
                }
            }
        }
    }
}
