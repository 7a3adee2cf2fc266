//! What one call into the hub produced: the reply for the caller, the lines
//! for others, what the data directory must remember, work to do off the
//! lock, and what happened, in words the log can use. The hub says what it
//! did, so the connection never rescans lines to find out.

use std::sync::Arc;

use common::{EndReason, ErrorCode, HistoryKind, Name, PartReason, ServerLine};

/// Who gets a line: one connection or several (a room), sharing one line.
#[derive(Debug)]
pub enum Targets<P> {
    /// One connection.
    One(P),
    /// Several connections (room members), one copy of the line for all.
    Many(Vec<P>),
}

/// Something the hub did that the server log records. Carries shown
/// names, so the log needs no second look at the hub. Never a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// The caller took this name.
    Named(Name),
    /// The caller must now send the password for this registered name.
    PasswordAsked(Name),
    /// A password check for this name failed.
    WrongPassword(Name),
    /// The caller took this name back from another session.
    TookBack(Name),
    /// The caller registered its name.
    Registered(Name),
    /// The caller changed its password.
    PasswordChanged(Name),
    /// The caller unregistered its name.
    Unregistered(Name),
    /// A chat started between the caller and this partner.
    ChatStarted(Arc<str>),
    /// The caller's chat with this partner ended.
    ChatEnded(Arc<str>, EndReason),
    /// The caller joined this room.
    JoinedRoom(Arc<str>),
    /// The caller left this room.
    LeftRoom(Arc<str>, PartReason),
    /// The caller, an operator, set this room's topic.
    TopicSet(Arc<str>),
    /// The caller, an operator, removed this user from this room.
    Kicked(Arc<str>, Arc<str>),
}

/// One stored room line, shared by the room's history in memory and the
/// write that puts it on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// A message or an action.
    pub kind: HistoryKind,
    /// Who said it, as shown.
    pub from: Arc<str>,
    /// What was said.
    pub text: Arc<str>,
}

/// Something the data directory must remember, in the hub's order. The
/// connection hands these to the store while it holds the lock, so the
/// disk sees changes in the order the hub made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remember {
    /// A registered name with its password hash (new, or a new password).
    Account {
        /// The name.
        name: Name,
        /// Its Argon2id hash, as a PHC string.
        hash: Arc<str>,
    },
    /// A name is not registered any more.
    ForgetAccount {
        /// The name's folded form.
        folded: Arc<str>,
    },
    /// A room line for the room's history.
    Said {
        /// The room.
        room: Name,
        /// The line.
        said: Arc<Said>,
    },
    /// A room's history was dropped to make room for another's.
    ForgetRoom {
        /// The room's folded form.
        folded: Arc<str>,
    },
    /// A registered user ignores a name.
    Ignore {
        /// The folded name of the registered user who ignores.
        owner: Arc<str>,
        /// Whom they ignore.
        ignored: Name,
    },
    /// A registered user no longer ignores a name.
    Unignore {
        /// The folded name of the registered user.
        owner: Arc<str>,
        /// The folded name they no longer ignore.
        ignored: Arc<str>,
    },
}

/// Password work the connection does off the lock (Argon2 takes real CPU
/// time), with the password its user typed, which the hub never keeps;
/// then it reports with [`Hub::task_done`](super::Hub::task_done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Check the password typed (the old one, for `/password`) against
    /// this stored hash first.
    pub check: Option<Arc<str>>,
    /// Then, if the check passed (or there was none), hash the new password.
    pub hash_new: bool,
    /// What the result is for.
    pub purpose: Purpose,
}

/// What a [`Task`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in to this registered name.
    SignIn(Name),
    /// `/register`.
    Register,
    /// `/password`.
    ChangePassword,
    /// `/unregister`.
    Unregister,
}

/// The result of a [`Task`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// What the task was for.
    pub purpose: Purpose,
    /// The check passed, or there was none.
    pub checked: bool,
    /// The new hash, if one was asked for and the check passed.
    pub hash: Option<Arc<str>>,
}

/// The lines one call produces. `reply` goes to the caller, in order, and
/// counts as one item of its send queue; each event goes to other users.
#[derive(Debug)]
pub struct Outcome<P> {
    /// Lines for the caller, in order.
    pub reply: Vec<ServerLine>,
    /// Lines for other connections, in order.
    pub events: Vec<(Targets<P>, ServerLine)>,
    /// Connections the hub removed (a session replaced by a new sign-in):
    /// after their last event they take nothing more, and their threads
    /// must be woken to close them.
    pub closed: Vec<P>,
    /// What the data directory must remember.
    pub remember: Vec<Remember>,
    /// Password work to do off the lock, then report.
    pub task: Option<Task>,
    /// Offer echo (`IAC WILL ECHO`) just before the reply: it asks for a
    /// password, which a telnet client then stops echoing.
    pub offer_echo: bool,
    /// What happened, for the log.
    pub happened: Vec<Happening>,
    /// The caller asked to leave (`/exit`) or is refused: send the reply,
    /// then close.
    pub close: bool,
}

impl<P> Default for Outcome<P> {
    fn default() -> Outcome<P> {
        Outcome {
            reply: Vec::new(),
            events: Vec::new(),
            closed: Vec::new(),
            remember: Vec::new(),
            task: None,
            offer_echo: false,
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
        self.closed.clear();
        self.remember.clear();
        self.task = None;
        self.offer_echo = false;
        self.happened.clear();
        self.close = false;
    }

    /// Adds a line to the caller's reply.
    pub(crate) fn reply(&mut self, line: ServerLine) {
        self.reply.push(line);
    }

    /// Adds `ERR code` to the caller's reply.
    pub(crate) fn error(&mut self, code: ErrorCode) {
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
