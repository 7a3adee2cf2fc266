//! Every line the server sends: `TAG`, a fixed number of space-free fields
//! for that tag (`-` for none), then optional free text. One formatter
//! ([`ServerLine::write_to`]) and one parser ([`ServerLine::parse`]), which
//! invert each other.

use std::fmt::{self, Write as _};
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

    /// Appends the line and its CRLF to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Vec<u8> has no fmt::Write, so format through a small adapter;
        // appending to a Vec cannot fail, so the result is ignored.
        struct Bytes<'a>(&'a mut Vec<u8>);
        impl fmt::Write for Bytes<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
        let _ = write!(Bytes(out), "{self}\r\n");
    }

    /// Parses one line, with or without its CRLF.
    ///
    /// # Errors
    ///
    /// An unknown tag or a missing or malformed field.
    pub fn parse(line: &str) -> Result<ServerLine, LineParseError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let tag: Tag = word
            .parse()
            .map_err(|()| LineParseError::UnknownTag(word.to_owned()))?;
        let mut fields = Fields {
            rest,
            tag: tag.as_str(),
        };
        let parsed = match tag {
            Tag::Hello => {
                fields.expect_literal(crate::PROTOCOL)?;
                ServerLine::Hello(fields.text())
            }
            Tag::Welcome => ServerLine::Welcome(fields.word()?),
            Tag::Info => ServerLine::Info(fields.text()),
            Tag::Ok => ServerLine::Ok(parse_ok(&mut fields)?),
            Tag::Err => {
                let code = fields.parsed::<ErrorCode>()?;
                ServerLine::Err(code, fields.text())
            }
            Tag::User => {
                let name = fields.word()?;
                let state = fields.word()?;
                let peer = fields.word()?;
                let state = match (&*state, &*peer) {
                    ("available", "-") => UserState::Available,
                    ("chatting", _) if &*peer != "-" => UserState::Chatting(peer),
                    ("room", _) if &*peer != "-" => UserState::Room(peer),
                    _ => return Err(LineParseError::Malformed("USER")),
                };
                ServerLine::User(name, state)
            }
            Tag::RoomInfo => ServerLine::RoomInfo(fields.word()?, fields.parsed()?),
            Tag::Request => ServerLine::Request(fields.word()?),
            Tag::Cancelled => ServerLine::Cancelled(fields.word()?, fields.parsed()?),
            Tag::Declined => ServerLine::Declined(fields.word()?, fields.parsed()?),
            Tag::Chat => ServerLine::Chat(fields.word()?),
            Tag::Msg => ServerLine::Msg(fields.word()?, fields.text()),
            Tag::Ended => ServerLine::Ended(fields.word()?, fields.parsed()?),
            Tag::Joined => ServerLine::Joined(fields.word()?, fields.word()?),
            Tag::Parted => ServerLine::Parted(fields.word()?, fields.word()?, fields.parsed()?),
            Tag::Room => ServerLine::Room(fields.word()?, fields.word()?, fields.text()),
            Tag::Bye => ServerLine::Bye(fields.text()),
        };
        // Any text after the fields of other tags is prose and ignored.
        Ok(parsed)
    }
}

fn parse_ok(fields: &mut Fields<'_>) -> Result<OkReply, LineParseError> {
    let command = fields.word()?;
    let Some(verb) = Verb::of(&command).filter(|verb| verb.name() == &*command) else {
        return Err(LineParseError::Malformed("OK"));
    };
    let reply = match verb {
        Verb::Help => OkReply::Help,
        Verb::List => OkReply::List(fields.parsed()?),
        Verb::Chat => OkReply::Chat(fields.word()?),
        Verb::Accept => OkReply::Accept(fields.word()?),
        Verb::Decline => OkReply::Decline(fields.word()?),
        Verb::Cancel => OkReply::Cancel(fields.word()?),
        Verb::Leave => match &*fields.word()? {
            "chat" => OkReply::LeaveChat(fields.word()?),
            "room" => OkReply::LeaveRoom(fields.word()?),
            _ => return Err(LineParseError::Malformed("OK leave")),
        },
        Verb::Join => OkReply::Join(fields.word()?, fields.parsed()?),
        Verb::Rooms => OkReply::Rooms(fields.parsed()?),
        Verb::Ping => {
            let token = fields.word()?;
            OkReply::Ping(if &*token == "-" { None } else { Some(token) })
        }
        Verb::Exit => return Err(LineParseError::Malformed("OK")),
    };
    // Free text after the fields is prose for humans, allowed on every tag.
    Ok(reply)
}

/// A cursor over the part of a line after its tag.
struct Fields<'a> {
    rest: &'a str,
    tag: &'static str,
}

impl Fields<'_> {
    fn word(&mut self) -> Result<Arc<str>, LineParseError> {
        let (word, rest) = self.rest.split_once(' ').unwrap_or((self.rest, ""));
        if word.is_empty() {
            return Err(LineParseError::Malformed(self.tag));
        }
        self.rest = rest;
        Ok(Arc::from(word))
    }

    fn parsed<T: FromStr>(&mut self) -> Result<T, LineParseError> {
        let word = self.word()?;
        word.parse()
            .map_err(|_| LineParseError::Malformed(self.tag))
    }

    fn expect_literal(&mut self, literal: &str) -> Result<(), LineParseError> {
        if *self.word()? == *literal {
            Ok(())
        } else {
            Err(LineParseError::Malformed(self.tag))
        }
    }

    fn text(&mut self) -> Arc<str> {
        Arc::from(std::mem::take(&mut self.rest))
    }
}

/// Formats without the CRLF.
impl fmt::Display for ServerLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag().as_str())?;
        match self {
            ServerLine::Hello(text) => {
                write!(f, " {}", crate::PROTOCOL)?;
                with_text(f, text)
            }
            ServerLine::Welcome(name) => write!(f, " {name}"),
            ServerLine::Info(text) | ServerLine::Bye(text) => with_text(f, text),
            ServerLine::Ok(reply) => {
                write!(f, " {}", reply.verb().name())?;
                match reply {
                    OkReply::Help => Ok(()),
                    OkReply::List(count) | OkReply::Rooms(count) => write!(f, " {count}"),
                    OkReply::Chat(name)
                    | OkReply::Accept(name)
                    | OkReply::Decline(name)
                    | OkReply::Cancel(name) => write!(f, " {name}"),
                    OkReply::LeaveChat(name) => write!(f, " chat {name}"),
                    OkReply::LeaveRoom(room) => write!(f, " room {room}"),
                    OkReply::Join(room, members) => write!(f, " {room} {members}"),
                    OkReply::Ping(token) => write!(f, " {}", token.as_deref().unwrap_or("-")),
                }
            }
            ServerLine::Err(code, text) => {
                write!(f, " {code}")?;
                with_text(f, text)
            }
            ServerLine::User(name, state) => match state {
                UserState::Available => write!(f, " {name} available -"),
                UserState::Chatting(peer) => write!(f, " {name} chatting {peer}"),
                UserState::Room(room) => write!(f, " {name} room {room}"),
            },
            ServerLine::RoomInfo(room, members) => write!(f, " {room} {members}"),
            ServerLine::Request(name) | ServerLine::Chat(name) => write!(f, " {name}"),
            ServerLine::Cancelled(name, reason) => write!(f, " {name} {}", reason.as_str()),
            ServerLine::Declined(name, reason) => write!(f, " {name} {}", reason.as_str()),
            ServerLine::Ended(name, reason) => write!(f, " {name} {}", reason.as_str()),
            ServerLine::Msg(from, text) => {
                write!(f, " {from}")?;
                with_text(f, text)
            }
            ServerLine::Joined(room, name) => write!(f, " {room} {name}"),
            ServerLine::Parted(room, name, reason) => {
                write!(f, " {room} {name} {}", reason.as_str())
            }
            ServerLine::Room(room, from, text) => {
                write!(f, " {room} {from}")?;
                with_text(f, text)
            }
        }
    }
}

fn with_text(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if text.is_empty() {
        Ok(())
    } else {
        write!(f, " {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Arc<str> {
        Arc::from(text)
    }

    fn every_line() -> Vec<(ServerLine, &'static str)> {
        vec![
            (
                ServerLine::Hello(s("choose a name")),
                "HELLO chinwag/1 choose a name",
            ),
            (ServerLine::Hello(s("")), "HELLO chinwag/1"),
            (ServerLine::Welcome(s("Bob")), "WELCOME Bob"),
            (
                ServerLine::Info(s("  1  list users")),
                "INFO   1  list users",
            ),
            (ServerLine::Info(s("")), "INFO"),
            (ServerLine::Ok(OkReply::Help), "OK help"),
            (ServerLine::Ok(OkReply::List(3)), "OK list 3"),
            (ServerLine::Ok(OkReply::Chat(s("A"))), "OK chat A"),
            (ServerLine::Ok(OkReply::Accept(s("A"))), "OK accept A"),
            (ServerLine::Ok(OkReply::Decline(s("A"))), "OK decline A"),
            (ServerLine::Ok(OkReply::Cancel(s("A"))), "OK cancel A"),
            (
                ServerLine::Ok(OkReply::LeaveChat(s("A"))),
                "OK leave chat A",
            ),
            (
                ServerLine::Ok(OkReply::LeaveRoom(s("r"))),
                "OK leave room r",
            ),
            (ServerLine::Ok(OkReply::Join(s("r"), 2)), "OK join r 2"),
            (ServerLine::Ok(OkReply::Rooms(0)), "OK rooms 0"),
            (ServerLine::Ok(OkReply::Ping(None)), "OK ping -"),
            (ServerLine::Ok(OkReply::Ping(Some(s("x1")))), "OK ping x1"),
            (
                ServerLine::Err(ErrorCode::Busy, s("later")),
                "ERR busy later",
            ),
            (ServerLine::Err(ErrorCode::Usage, s("")), "ERR usage"),
            (
                ServerLine::User(s("A"), UserState::Available),
                "USER A available -",
            ),
            (
                ServerLine::User(s("A"), UserState::Chatting(s("B"))),
                "USER A chatting B",
            ),
            (
                ServerLine::User(s("A"), UserState::Room(s("r"))),
                "USER A room r",
            ),
            (ServerLine::RoomInfo(s("lobby"), 5), "ROOMINFO lobby 5"),
            (ServerLine::Request(s("B")), "REQUEST B"),
            (
                ServerLine::Cancelled(s("B"), CancelReason::Cancelled),
                "CANCELLED B cancelled",
            ),
            (
                ServerLine::Cancelled(s("B"), CancelReason::Busy),
                "CANCELLED B busy",
            ),
            (
                ServerLine::Cancelled(s("B"), CancelReason::Disconnected),
                "CANCELLED B disconnected",
            ),
            (
                ServerLine::Declined(s("B"), DeclineReason::Declined),
                "DECLINED B declined",
            ),
            (
                ServerLine::Declined(s("B"), DeclineReason::Busy),
                "DECLINED B busy",
            ),
            (
                ServerLine::Declined(s("B"), DeclineReason::Disconnected),
                "DECLINED B disconnected",
            ),
            (ServerLine::Chat(s("B")), "CHAT B"),
            (ServerLine::Msg(s("B"), s("hi  there ")), "MSG B hi  there "),
            (ServerLine::Msg(s("B"), s(" lead")), "MSG B  lead"),
            (ServerLine::Ended(s("B"), EndReason::Left), "ENDED B left"),
            (
                ServerLine::Ended(s("B"), EndReason::Disconnected),
                "ENDED B disconnected",
            ),
            (ServerLine::Joined(s("r"), s("B")), "JOINED r B"),
            (
                ServerLine::Parted(s("r"), s("B"), PartReason::Left),
                "PARTED r B left",
            ),
            (
                ServerLine::Parted(s("r"), s("B"), PartReason::Disconnected),
                "PARTED r B disconnected",
            ),
            (
                ServerLine::Room(s("r"), s("B"), s("hello all")),
                "ROOM r B hello all",
            ),
            (ServerLine::Bye(s("")), "BYE"),
            (ServerLine::Bye(s("see you")), "BYE see you"),
        ]
    }

    #[test]
    fn every_line_formats_and_parses_back() {
        for (line, text) in every_line() {
            assert_eq!(line.to_string(), text);
            let mut bytes = Vec::new();
            line.write_to(&mut bytes);
            assert_eq!(bytes, format!("{text}\r\n").into_bytes());
            assert_eq!(ServerLine::parse(text), Ok(line.clone()), "{text:?}");
            assert_eq!(ServerLine::parse(&format!("{text}\r\n")), Ok(line.clone()));
            assert_eq!(line.tag().as_str(), text.split(' ').next().unwrap());
        }
    }

    #[test]
    fn every_tag_round_trips_and_has_a_case_above() {
        let covered: Vec<Tag> = every_line().iter().map(|(line, _)| line.tag()).collect();
        for &tag in Tag::ALL {
            assert_eq!(tag.as_str().parse::<Tag>(), Ok(tag));
            assert!(covered.contains(&tag), "no test line for {tag}");
        }
    }

    #[test]
    fn malformed_lines_are_rejected() {
        let cases = [
            ("NOPE x", LineParseError::UnknownTag("NOPE".into())),
            ("", LineParseError::UnknownTag("".into())),
            (
                "hello chinwag/1",
                LineParseError::UnknownTag("hello".into()),
            ),
            ("HELLO chinwag/2", LineParseError::Malformed("HELLO")),
            ("WELCOME", LineParseError::Malformed("WELCOME")),
            ("OK", LineParseError::Malformed("OK")),
            ("OK dance", LineParseError::Malformed("OK")),
            ("OK list x", LineParseError::Malformed("OK")),
            ("OK leave sideways x", LineParseError::Malformed("OK leave")),
            ("ERR nope", LineParseError::Malformed("ERR")),
            ("USER a available b", LineParseError::Malformed("USER")),
            ("USER a chatting -", LineParseError::Malformed("USER")),
            ("USER a room -", LineParseError::Malformed("USER")),
            ("USER a away -", LineParseError::Malformed("USER")),
            ("USER a", LineParseError::Malformed("USER")),
            ("ROOMINFO r many", LineParseError::Malformed("ROOMINFO")),
            ("CANCELLED a maybe", LineParseError::Malformed("CANCELLED")),
            ("DECLINED a", LineParseError::Malformed("DECLINED")),
            ("ENDED a gone", LineParseError::Malformed("ENDED")),
            ("PARTED r a gone", LineParseError::Malformed("PARTED")),
            ("JOINED r", LineParseError::Malformed("JOINED")),
            ("ROOM r", LineParseError::Malformed("ROOM")),
            ("MSG  x", LineParseError::Malformed("MSG")),
            ("REQUEST", LineParseError::Malformed("REQUEST")),
            ("CHAT", LineParseError::Malformed("CHAT")),
        ];
        for (text, error) in cases {
            assert_eq!(ServerLine::parse(text), Err(error.clone()), "{text:?}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn prose_after_the_fields_is_allowed_and_ignored() {
        assert_eq!(
            ServerLine::parse("OK list 1 that is all"),
            Ok(ServerLine::Ok(OkReply::List(1)))
        );
        assert_eq!(
            ServerLine::parse("CHAT bob say hi"),
            Ok(ServerLine::Chat(s("bob")))
        );
        assert_eq!(
            ServerLine::parse("OK help done"),
            Ok(ServerLine::Ok(OkReply::Help))
        );
    }

    #[test]
    fn error_lines_carry_the_default_prose() {
        let line = ServerLine::error(ErrorCode::NameTaken);
        assert!(
            line.to_string()
                .starts_with("ERR name-taken that name is in use")
        );
    }

    #[test]
    fn reasons_parse() {
        assert_eq!("left".parse::<EndReason>(), Ok(EndReason::Left));
        assert_eq!("busy".parse::<PartReason>(), Err(()));
        assert_eq!(PartReason::Disconnected.as_str(), "disconnected");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn word() -> impl Strategy<Value = Arc<str>> {
            "[A-Za-z0-9][A-Za-z0-9_-]{0,23}".prop_map(|w| Arc::from(w.as_str()))
        }

        fn text() -> impl Strategy<Value = Arc<str>> {
            "[^\r\n]{0,40}".prop_map(|t| Arc::from(t.as_str()))
        }

        fn any_line() -> impl Strategy<Value = ServerLine> {
            prop_oneof![
                text().prop_map(ServerLine::Info),
                (word(), text()).prop_map(|(a, t)| ServerLine::Msg(a, t)),
                (word(), word(), text()).prop_map(|(r, a, t)| ServerLine::Room(r, a, t)),
                (word(), any::<usize>()).prop_map(|(r, n)| ServerLine::RoomInfo(r, n)),
                (word(), word()).prop_map(|(a, b)| ServerLine::User(a, UserState::Chatting(b))),
                prop::option::of(word()).prop_map(|t| ServerLine::Ok(OkReply::Ping(t))),
                (word(), any::<usize>()).prop_map(|(r, n)| ServerLine::Ok(OkReply::Join(r, n))),
                (0..ErrorCode::ALL.len(), text())
                    .prop_map(|(i, t)| ServerLine::Err(ErrorCode::ALL[i], t)),
            ]
        }

        proptest! {
            #[test]
            fn format_then_parse_is_the_identity(line in any_line()) {
                prop_assert_eq!(ServerLine::parse(&line.to_string()), Ok(line));
            }

            #[test]
            fn parse_never_panics(text in "\\PC{0,60}") {
                let _ = ServerLine::parse(&text);
            }
        }
    }
}
