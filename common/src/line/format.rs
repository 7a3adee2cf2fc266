//! The formatter: a [`ServerLine`] to its wire form.

use std::fmt::{self, Write as _};

use super::{HistoryLine, OkReply, ServerLine, UserState};

/// The prose after `PASSWORD <name>`.
const PASSWORD_PROSE: &str = "this name is registered; type its password";

impl ServerLine {
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
            ServerLine::Info(text) => with_text(f, text),
            ServerLine::Bye(reason, text) => {
                write!(f, " {}", reason.as_str())?;
                with_text(f, text)
            }
            ServerLine::Ok(reply) => {
                write!(f, " {}", reply.verb().name())?;
                match reply {
                    OkReply::Help
                    | OkReply::Password
                    | OkReply::Away
                    | OkReply::Back
                    | OkReply::Topic => Ok(()),
                    OkReply::List(count) | OkReply::Rooms(count) | OkReply::Ignores(count) => {
                        write!(f, " {count}")
                    }
                    OkReply::Chat(name)
                    | OkReply::Accept(name)
                    | OkReply::Decline(name)
                    | OkReply::Cancel(name)
                    | OkReply::Register(name)
                    | OkReply::Unregister(name)
                    | OkReply::Ignore(name)
                    | OkReply::Unignore(name)
                    | OkReply::Kick(name)
                    | OkReply::Ban(name) => write!(f, " {name}"),
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
                UserState::Away => write!(f, " {name} away -"),
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
            ServerLine::Password(name) => write!(f, " {name} {PASSWORD_PROSE}"),
            ServerLine::History(line) => {
                let HistoryLine {
                    room,
                    at_ms,
                    kind,
                    from,
                    text,
                } = &**line;
                write!(f, " {room} {at_ms} {} {from}", kind.as_str())?;
                with_text(f, text)
            }
            ServerLine::Action(room, from, text) => {
                write!(f, " {} {from}", room.as_deref().unwrap_or("-"))?;
                with_text(f, text)
            }
            ServerLine::Away(name, text) => {
                write!(f, " {name}")?;
                with_text(f, text)
            }
            ServerLine::Ignoring(name) => write!(f, " {name}"),
            ServerLine::Topic(room, setter, text) => {
                write!(f, " {room} {}", setter.as_deref().unwrap_or("-"))?;
                with_text(f, text)
            }
            ServerLine::Op(room, name) => write!(f, " {room} {name}"),
            ServerLine::Kicked(room, by, text) => {
                write!(f, " {room} {by}")?;
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
