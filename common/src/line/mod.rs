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
    Disconnected = "disconnected" }
);

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
    /// `BYE <text>`: the server is closing the connection.
    Bye(Arc<str>),
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
            ServerLine::Bye(_) => Tag::Bye,
        }
    }
}
