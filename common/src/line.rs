//! Every line the server sends: `TAG`, a fixed number of space-free fields
//! for that tag (`-` for none), then optional free text. One formatter
//! ([`ServerLine::write_to`]) and one parser ([`ServerLine::parse`]), which
//! invert each other.

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::Arc;

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
    pub fn tag(&self) -> &'static str {
        match self {
            ServerLine::Hello(_) => "HELLO",
            ServerLine::Welcome(_) => "WELCOME",
            ServerLine::Info(_) => "INFO",
            ServerLine::Ok(_) => "OK",
            ServerLine::Err(..) => "ERR",
            ServerLine::User(..) => "USER",
            ServerLine::RoomInfo(..) => "ROOMINFO",
            ServerLine::Request(_) => "REQUEST",
            ServerLine::Cancelled(..) => "CANCELLED",
            ServerLine::Declined(..) => "DECLINED",
            ServerLine::Chat(_) => "CHAT",
            ServerLine::Msg(..) => "MSG",
            ServerLine::Ended(..) => "ENDED",
            ServerLine::Joined(..) => "JOINED",
            ServerLine::Parted(..) => "PARTED",
            ServerLine::Room(..) => "ROOM",
            ServerLine::Bye(_) => "BYE",
        }
    }

    /// Appends the line and its CRLF to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Writing into a String cannot fail; Vec<u8> has no fmt::Write, so
        // format through a small adapter.
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
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let mut fields = Fields {
            rest,
            tag: tag_name(tag),
        };
        let parsed = match tag {
            "HELLO" => {
                fields.expect_literal(crate::PROTOCOL)?;
                ServerLine::Hello(fields.text())
            }
            "WELCOME" => ServerLine::Welcome(fields.word()?),
            "INFO" => ServerLine::Info(fields.text()),
            "OK" => ServerLine::Ok(parse_ok(&mut fields)?),
            "ERR" => {
                let code = fields.parsed::<ErrorCode>()?;
                ServerLine::Err(code, fields.text())
            }
            "USER" => {
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
            "ROOMINFO" => ServerLine::RoomInfo(fields.word()?, fields.parsed()?),
            "REQUEST" => ServerLine::Request(fields.word()?),
            "CANCELLED" => ServerLine::Cancelled(fields.word()?, fields.parsed()?),
            "DECLINED" => ServerLine::Declined(fields.word()?, fields.parsed()?),
            "CHAT" => ServerLine::Chat(fields.word()?),
            "MSG" => ServerLine::Msg(fields.word()?, fields.text()),
            "ENDED" => ServerLine::Ended(fields.word()?, fields.parsed()?),
            "JOINED" => ServerLine::Joined(fields.word()?, fields.word()?),
            "PARTED" => ServerLine::Parted(fields.word()?, fields.word()?, fields.parsed()?),
            "ROOM" => ServerLine::Room(fields.word()?, fields.word()?, fields.text()),
            "BYE" => ServerLine::Bye(fields.text()),
            _ => return Err(LineParseError::UnknownTag(tag.to_owned())),
        };
        // Any text after the fields of other tags is prose and ignored.
        Ok(parsed)
    }
}

fn tag_name(tag: &str) -> &'static str {
    const TAGS: [&str; 17] = [
        "HELLO",
        "WELCOME",
        "INFO",
        "OK",
        "ERR",
        "USER",
        "ROOMINFO",
        "REQUEST",
        "CANCELLED",
        "DECLINED",
        "CHAT",
        "MSG",
        "ENDED",
        "JOINED",
        "PARTED",
        "ROOM",
        "BYE",
    ];
    TAGS.into_iter()
        .find(|known| *known == tag)
        .unwrap_or("server")
}

fn parse_ok(fields: &mut Fields<'_>) -> Result<OkReply, LineParseError> {
    let command = fields.word()?;
    let reply = match &*command {
        "help" => OkReply::Help,
        "list" => OkReply::List(fields.parsed()?),
        "chat" => OkReply::Chat(fields.word()?),
        "accept" => OkReply::Accept(fields.word()?),
        "decline" => OkReply::Decline(fields.word()?),
        "cancel" => OkReply::Cancel(fields.word()?),
        "leave" => match &*fields.word()? {
            "chat" => OkReply::LeaveChat(fields.word()?),
            "room" => OkReply::LeaveRoom(fields.word()?),
            _ => return Err(LineParseError::Malformed("OK leave")),
        },
        "join" => OkReply::Join(fields.word()?, fields.parsed()?),
        "rooms" => OkReply::Rooms(fields.parsed()?),
        "ping" => {
            let token = fields.word()?;
            OkReply::Ping(if &*token == "-" { None } else { Some(token) })
        }
        _ => return Err(LineParseError::Malformed("OK")),
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
        f.write_str(self.tag())?;
        match self {
            ServerLine::Hello(text) => {
                write!(f, " {}", crate::PROTOCOL)?;
                with_text(f, text)
            }
            ServerLine::Welcome(name) => write!(f, " {name}"),
            ServerLine::Info(text) | ServerLine::Bye(text) => with_text(f, text),
            ServerLine::Ok(reply) => match reply {
                OkReply::Help => f.write_str(" help"),
                OkReply::List(count) => write!(f, " list {count}"),
                OkReply::Chat(name) => write!(f, " chat {name}"),
                OkReply::Accept(name) => write!(f, " accept {name}"),
                OkReply::Decline(name) => write!(f, " decline {name}"),
                OkReply::Cancel(name) => write!(f, " cancel {name}"),
                OkReply::LeaveChat(name) => write!(f, " leave chat {name}"),
                OkReply::LeaveRoom(room) => write!(f, " leave room {room}"),
                OkReply::Join(room, members) => write!(f, " join {room} {members}"),
                OkReply::Rooms(count) => write!(f, " rooms {count}"),
                OkReply::Ping(token) => write!(f, " ping {}", token.as_deref().unwrap_or("-")),
            },
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
            assert_eq!(line.tag(), text.split(' ').next().unwrap());
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
