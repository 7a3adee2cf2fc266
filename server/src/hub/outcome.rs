//! What one call into the hub produced: the reply for the caller, the lines
//! for others, and what happened, in words the log can use. The hub says
//! what it did, so the connection never rescans lines to find out.

use std::sync::Arc;

use common::{EndReason, Name, PartReason, ServerLine};

/// Who gets a line: one connection or several (a room), sharing one line.
#[derive(Debug)]
pub enum Targets<P> {
    /// One connection.
    One(P),
    /// Several connections (room members), one copy of the line for all.
    Many(Vec<P>),
}

/// Something the hub did that the server log records. Carries shown
/// names, so the log needs no second look at the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// The caller took this name.
    Named(Name),
    /// A chat started between the caller and this partner.
    ChatStarted(Arc<str>),
    /// The caller's chat with this partner ended.
    ChatEnded(Arc<str>, EndReason),
    /// The caller joined this room.
    JoinedRoom(Arc<str>),
    /// The caller left this room.
    LeftRoom(Arc<str>, PartReason),
}

/// The lines one call produces. `reply` goes to the caller, in order, and
/// counts as one item of its send queue; each event goes to other users.
#[derive(Debug)]
pub struct Outcome<P> {
    /// Lines for the caller, in order.
    pub reply: Vec<ServerLine>,
    /// Lines for other connections, in order.
    pub events: Vec<(Targets<P>, ServerLine)>,
    /// What happened, for the log.
    pub happened: Vec<Happening>,
    /// The caller asked to leave (`/exit`): send the reply, then close.
    pub close: bool,
}

impl<P> Default for Outcome<P> {
    fn default() -> Outcome<P> {
        Outcome {
            reply: Vec::new(),
            events: Vec::new(),
            happened: Vec::new(),
            close: false,
        }
    }
}

impl<P> Outcome<P> {
    /// Empties the outcome so its buffers can be reused.
    pub fn clear(&mut self) {
        self.reply.clear();
        self.events.clear();
        self.happened.clear();
        self.close = false;
    }

    /// Adds a line to the caller's reply.
    pub(crate) fn reply(&mut self, line: ServerLine) {
        self.reply.push(line);
    }

    /// Adds `ERR code` to the caller's reply.
    pub(crate) fn error(&mut self, code: common::ErrorCode) {
        self.reply.push(ServerLine::error(code));
    }

    /// Sends a line to one other connection.
    pub(crate) fn send(&mut self, to: P, line: ServerLine) {
        self.events.push((Targets::One(to), line));
    }

    /// Sends one shared line to several connections; nothing if none.
    pub(crate) fn send_many(&mut self, to: Vec<P>, line: ServerLine) {
        if !to.is_empty() {
            self.events.push((Targets::Many(to), line));
        }
    }
}
