//! Every line the server sends: `TAG`, a fixed number of space-free fields
//! for that tag (`-` for none), then optional free text. The types are
//! here; one formatter ([`ServerLine::write_to`], `format.rs`) and one
//! parser ([`ServerLine::parse`], `parse.rs`) invert each other.

mod format;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::command::Verb;
use crate::error::ErrorCode;

/// A user's state in a `USER` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserState {
    /// At the menu; can be asked to chat.
    Available,
    /// In a one-to-one chat with this partner.
    Chatting(Arc<str>),
    /// In this room.
    Room(Arc<str>),
    /// At the menu but away (`/away`); can still be asked.
    Away,
}

macro_rules! reason_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The reason as sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(text: &str) -> Result<$name, ()> {
                match text { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }
    };
}

reason_enum!(
    /// Why a request to you was withdrawn (`CANCELLED`).
    CancelReason { /// The requester cancelled.
    Cancelled = "cancelled", /// The requester became busy.
    Busy = "busy", /// The requester disconnected.
    Disconnected = "disconnected" }
);
reason_enum!(
    /// Why your request failed (`DECLINED`).
    DeclineReason { /// The other user said no.
    Declined = "declined", /// The other user became busy.
    Busy = "busy", /// The other user disconnected.
    Disconnected = "disconnected" }
);
reason_enum!(
    /// Why your chat ended (`ENDED`).
    EndReason { /// The partner used `/leave`.
    Left = "left", /// The partner disconnected.
    Disconnected = "disconnected" }
);
reason_enum!(
    /// Why someone left a room (`PARTED`).
    PartReason { /// They used `/leave`.
    Left = "left", /// They disconnected.
    Disconnected = "disconnected", /// An operator removed them.
    Kicked = "kicked" }
);
reason_enum!(
    /// Why the server closes the connection (`BYE`).
    ByeReason { /// You asked (`/exit`).
    Exit = "exit", /// The server is shutting down.
    Shutdown = "shutdown", /// You signed in elsewhere.
    Replaced = "replaced", /// You could not keep up with what was sent to you.
    Overload = "overload", /// No name in time.
    Timeout = "timeout", /// The server is full.
    Full = "full", /// Five wrong passwords.
    Refused = "refused" }
);
reason_enum!(
    /// What a stored room line was (`HISTORY`).
    HistoryKind { /// A message.
    Msg = "msg", /// An action (`/me`).
    Action = "action" }
);

impl ByeReason {
    /// The default prose after the reason.
    pub fn prose(self) -> &'static str {
        match self {
            ByeReason::Exit => "goodbye",
            ByeReason::Shutdown => "the server is shutting down",
            ByeReason::Replaced => "you signed in elsewhere",
            ByeReason::Overload => "you could not keep up with what was sent to you",
            ByeReason::Timeout => "no username chosen in time",
            ByeReason::Full => "the server is full; try again later",
            ByeReason::Refused => "too many wrong passwords",
        }
    }
}

/// Declares the tags, each once: variant and wire word.
macro_rules! tags {
    ($($(#[$doc:meta])* $variant:ident = $word:literal,)+) => {
        /// A server line's first word, which says how to read the rest.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Tag {
            $($(#[$doc])* $variant,)+
        }

        impl Tag {
            /// Every tag this version knows.
            pub const ALL: &[Tag] = &[$(Tag::$variant),+];

            /// The tag as sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Tag::$variant => $word,)+
                }
            }
        }
    };
}

tags! {
    /// The greeting.
    Hello = "HELLO",
    /// The username was accepted.
    Welcome = "WELCOME",
    /// Prose for humans.
    Info = "INFO",
    /// A command succeeded.
    Ok = "OK",
    /// A command or line failed.
    Err = "ERR",
    /// One line of `/list`.
    User = "USER",
    /// One line of `/rooms`.
    RoomInfo = "ROOMINFO",
    /// A chat request to you.
    Request = "REQUEST",
    /// A request to you was withdrawn.
    Cancelled = "CANCELLED",
    /// Your request failed.
    Declined = "DECLINED",
    /// A chat started.
    Chat = "CHAT",
    /// A chat message.
    Msg = "MSG",
    /// Your chat ended.
    Ended = "ENDED",
    /// Someone joined your room.
    Joined = "JOINED",
    /// Someone left your room.
    Parted = "PARTED",
    /// A room message.
    Room = "ROOM",
    /// The server closes the connection.
    Bye = "BYE",
    /// Send the password for this registered name.
    Password = "PASSWORD",
    /// A stored room message, replayed on join.
    History = "HISTORY",
    /// An action (`/me`).
    Action = "ACTION",
    /// The user you asked is away.
    Away = "AWAY",
    /// One line of `/ignores`.
    Ignoring = "IGNORING",
    /// A room's topic.
    Topic = "TOPIC",
    /// A room's new operator.
    Op = "OP",
    /// You were removed from a room.
    Kicked = "KICKED",
}

impl FromStr for Tag {
    type Err = ();

    fn from_str(word: &str) -> Result<Tag, ()> {
        Tag::ALL
            .iter()
            .copied()
            .find(|tag| tag.as_str() == word)
            .ok_or(())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of an `OK` line, one variant per command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OkReply {
    /// `OK help`
    Help,
    /// `OK list <count>`
    List(usize),
    /// `OK chat <name>`
    Chat(Arc<str>),
    /// `OK accept <name>`
    Accept(Arc<str>),
    /// `OK decline <name>`
    Decline(Arc<str>),
    /// `OK cancel <name>`
    Cancel(Arc<str>),
    /// `OK leave chat <partner>`
    LeaveChat(Arc<str>),
    /// `OK leave room <room>`
    LeaveRoom(Arc<str>),
    /// `OK join <room> <members>`
    Join(Arc<str>, usize),
    /// `OK rooms <count>`
    Rooms(usize),
    /// `OK register <name>`
    Register(Arc<str>),
    /// `OK password`
    Password,
    /// `OK unregister <name>`
    Unregister(Arc<str>),
    /// `OK away`
    Away,
    /// `OK back`
    Back,
    /// `OK ignore <name>`
    Ignore(Arc<str>),
    /// `OK unignore <name>`
    Unignore(Arc<str>),
    /// `OK ignores <count>`
    Ignores(usize),
    /// `OK topic`
    Topic,
    /// `OK kick <name>`
    Kick(Arc<str>),
    /// `OK ban <name>`
    Ban(Arc<str>),
    /// `OK ping <token or ->`
    Ping(Option<Arc<str>>),
}

impl OkReply {
    /// The command this replies to.
    pub fn verb(&self) -> Verb {
        match self {
            OkReply::Help => Verb::Help,
            OkReply::List(_) => Verb::List,
            OkReply::Chat(_) => Verb::Chat,
            OkReply::Accept(_) => Verb::Accept,
            OkReply::Decline(_) => Verb::Decline,
            OkReply::Cancel(_) => Verb::Cancel,
            OkReply::LeaveChat(_) | OkReply::LeaveRoom(_) => Verb::Leave,
            OkReply::Join(..) => Verb::Join,
            OkReply::Rooms(_) => Verb::Rooms,
            OkReply::Register(_) => Verb::Register,
            OkReply::Password => Verb::Password,
            OkReply::Unregister(_) => Verb::Unregister,
            OkReply::Away => Verb::Away,
            OkReply::Back => Verb::Back,
            OkReply::Ignore(_) => Verb::Ignore,
            OkReply::Unignore(_) => Verb::Unignore,
            OkReply::Ignores(_) => Verb::Ignores,
            OkReply::Topic => Verb::Topic,
            OkReply::Kick(_) => Verb::Kick,
            OkReply::Ban(_) => Verb::Ban,
            OkReply::Ping(_) => Verb::Ping,
        }
    }
}

/// One line from the server. Text fields hold free text (prose or, for
/// `MSG` and `ROOM`, the message); every other field is space-free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine {
    /// `HELLO chinwag/1 <text>`: first line on connect.
    Hello(Arc<str>),
    /// `WELCOME <name>`: the username was accepted.
    Welcome(Arc<str>),
    /// `INFO <text>`: for humans only.
    Info(Arc<str>),
    /// `OK <command> [fields…]`
    Ok(OkReply),
    /// `ERR <code> <text>`
    Err(ErrorCode, Arc<str>),
    /// `USER <name> <state> <peer>`: one line of `/list`.
    User(Arc<str>, UserState),
    /// `ROOMINFO <room> <members>`: one line of `/rooms`.
    RoomInfo(Arc<str>, usize),
    /// `REQUEST <from>`
    Request(Arc<str>),
    /// `CANCELLED <from> <reason>`
    Cancelled(Arc<str>, CancelReason),
    /// `DECLINED <name> <reason>`
    Declined(Arc<str>, DeclineReason),
    /// `CHAT <partner>`
    Chat(Arc<str>),
    /// `MSG <from> <text>`
    Msg(Arc<str>, Arc<str>),
    /// `ENDED <partner> <reason>`
    Ended(Arc<str>, EndReason),
    /// `JOINED <room> <name>`
    Joined(Arc<str>, Arc<str>),
    /// `PARTED <room> <name> <reason>`
    Parted(Arc<str>, Arc<str>, PartReason),
    /// `ROOM <room> <from> <text>`
    Room(Arc<str>, Arc<str>, Arc<str>),
    /// `BYE <reason> <text>`: the server is closing the connection.
    Bye(ByeReason, Arc<str>),
    /// `PASSWORD <name>`: send the password for this registered name.
    Password(Arc<str>),
    /// `HISTORY <room> <unix-ms> <kind> <from> <text>`
    History(Box<HistoryLine>),
    /// `ACTION <room or -> <from> <text>`: `/me`.
    Action(Option<Arc<str>>, Arc<str>, Arc<str>),
    /// `AWAY <name> <reason>`
    Away(Arc<str>, Arc<str>),
    /// `IGNORING <name>`: one line of `/ignores`.
    Ignoring(Arc<str>),
    /// `TOPIC <room> <setter or -> <text>`: no setter and no text, no topic.
    Topic(Arc<str>, Option<Arc<str>>, Arc<str>),
    /// `OP <room> <name>`
    Op(Arc<str>, Arc<str>),
    /// `KICKED <room> <by> <reason>`
    Kicked(Arc<str>, Arc<str>, Arc<str>),
}

/// The fields of a `HISTORY` line (boxed: the widest line by far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    /// The room, as shown.
    pub room: Arc<str>,
    /// When it was said, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// A message or an action.
    pub kind: HistoryKind,
    /// Who said it.
    pub from: Arc<str>,
    /// What was said.
    pub text: Arc<str>,
}

/// Why a line is not a well-formed server line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineParseError {
    /// The tag is not one this version knows.
    #[error("unknown tag {0:?}")]
    UnknownTag(String),
    /// A field is missing or malformed.
    #[error("malformed {0} line")]
    Malformed(&'static str),
}

impl ServerLine {
    /// An `ERR` line with the code's default prose.
    pub fn error(code: ErrorCode) -> ServerLine {
        ServerLine::Err(code, Arc::from(code.message()))
    }

    /// A `BYE` line with its reason's default prose.
    pub fn bye(reason: ByeReason) -> ServerLine {
        ServerLine::Bye(reason, Arc::from(reason.prose()))
    }

    /// The line's tag.
    pub fn tag(&self) -> Tag {
        match self {
            ServerLine::Hello(_) => Tag::Hello,
            ServerLine::Welcome(_) => Tag::Welcome,
            ServerLine::Info(_) => Tag::Info,
            ServerLine::Ok(_) => Tag::Ok,
            ServerLine::Err(..) => Tag::Err,
            ServerLine::User(..) => Tag::User,
            ServerLine::RoomInfo(..) => Tag::RoomInfo,
            ServerLine::Request(_) => Tag::Request,
            ServerLine::Cancelled(..) => Tag::Cancelled,
            ServerLine::Declined(..) => Tag::Declined,
            ServerLine::Chat(_) => Tag::Chat,
            ServerLine::Msg(..) => Tag::Msg,
            ServerLine::Ended(..) => Tag::Ended,
            ServerLine::Joined(..) => Tag::Joined,
            ServerLine::Parted(..) => Tag::Parted,
            ServerLine::Room(..) => Tag::Room,
            ServerLine::Bye(..) => Tag::Bye,
            ServerLine::Password(_) => Tag::Password,
            ServerLine::History(_) => Tag::History,
            ServerLine::Action(..) => Tag::Action,
            ServerLine::Away(..) => Tag::Away,
            ServerLine::Ignoring(_) => Tag::Ignoring,
            ServerLine::Topic(..) => Tag::Topic,
            ServerLine::Op(..) => Tag::Op,
            ServerLine::Kicked(..) => Tag::Kicked,
        }
    }
}
