//! The words for `OK` and `ERR`: a short confirmation for each command
//! that succeeded (nothing where another line already said it), and a
//! friendly explanation for each error code, naming what we tried when the
//! code is about it.

use common::{ErrorCode, OkReply};

use super::tables;
use super::{Piece, Renderer, neutralise, notice_of};
use crate::layout::Line;
use crate::state::{Place, State};

impl Renderer {
    pub(super) fn render_ok(&mut self, reply: &OkReply, state: &State) -> Vec<Line> {
        use Piece::{Name, Room, Text};
        let me = state.me.as_deref();
        let say = |pieces: &[Piece<'_>]| vec![notice_of(pieces, me)];
        // Kick and ban name the room we are in, when we know it.
        let room = match &state.place {
            Place::Room(room) => Some(room.as_str()),
            _ => None,
        };
        match reply {
            // The lines before these said everything already: `INFO` for
            // help, `CHAT` for accept, `TOPIC` for topic.
            OkReply::Help | OkReply::Accept(_) | OkReply::Topic => Vec::new(),
            OkReply::List(_) => tables::users(std::mem::take(&mut self.users), me),
            OkReply::Rooms(_) => tables::rooms(std::mem::take(&mut self.rooms)),
            OkReply::Ignores(_) => tables::ignored(std::mem::take(&mut self.ignored), me),
            OkReply::Chat(name) => say(&[
                Text("asked "),
                Name(name),
                Text(" to chat; waiting for an answer (/cancel withdraws)"),
            ]),
            OkReply::Decline(name) => say(&[Text("declined "), Name(name), Text("'s request")]),
            OkReply::Cancel(name) => say(&[Text("withdrew your request to "), Name(name)]),
            OkReply::LeaveChat(partner) => say(&[
                Text("you left the chat with "),
                Name(partner),
                Text("; back at the menu"),
            ]),
            OkReply::LeaveRoom(room) => {
                say(&[Text("you left "), Room(room), Text("; back at the menu")])
            }
            OkReply::Join(room, members) => {
                let others = match members.saturating_sub(1) {
                    0 => "nobody else is here yet".to_owned(),
                    1 => "1 other member".to_owned(),
                    n => format!("{n} other members"),
                };
                say(&[
                    Text("you joined "),
                    Room(room),
                    Text(&format!(" ({others}): type to talk, /leave to go back")),
                ])
            }
            OkReply::Ping(token) => {
                let token = token.as_deref().map(neutralise);
                say(&[Text(&format!("pong {}", token.as_deref().unwrap_or("-")))])
            }
            OkReply::Register(name) => say(&[
                Name(name),
                Text(" is now registered to you: only your password can take it"),
            ]),
            OkReply::Password => say(&[Text("your password is changed")]),
            OkReply::Unregister(name) => say(&[
                Name(name),
                Text(" is no longer registered: anyone can take it once you leave"),
            ]),
            OkReply::Away => say(&[Text(
                "you are marked away: whoever asks you to chat is told so (/back ends it)",
            )]),
            OkReply::Back => say(&[Text("you are back: no longer marked away")]),
            OkReply::Ignore(name) => say(&[
                Text("you now ignore "),
                Name(name),
                Text(": nothing they send reaches you (/unignore "),
                Name(name),
                Text(" undoes it)"),
            ]),
            OkReply::Unignore(name) => say(&[Text("you no longer ignore "), Name(name)]),
            OkReply::Kick(name) => match room {
                Some(room) => say(&[Text("you removed "), Name(name), Text(" from "), Room(room)]),
                None => say(&[Text("you removed "), Name(name)]),
            },
            OkReply::Ban(name) => match room {
                Some(room) => say(&[
                    Name(name),
                    Text(" is banned from "),
                    Room(room),
                    Text(" for as long as it exists"),
                ]),
                None => say(&[Name(name), Text(" is banned from the room")]),
            },
        }
    }
}

/// The human text for an `ERR`, with the name we tried when it is about one.
pub(super) fn error_text(code: ErrorCode, state: &State) -> String {
    let tried = state.tried_name.as_deref().map(neutralise);
    let naming = state.me.is_none();
    let signing_in = state.password_for.as_deref().map(neutralise);
    match (code, tried) {
        (ErrorCode::NameTaken, Some(name)) if naming => format!(
            "the name {name} is taken; if it was yours, the old session is freed within about 90 s. choose another name"
        ),
        (ErrorCode::NameInvalid, Some(name)) if naming => {
            format!("{name} is not a valid name: use {}", common::NAME_RULE)
        }
        (ErrorCode::BadPassword, _) if naming => {
            let name = signing_in
                .map(|name| format!(" for {name}"))
                .unwrap_or_default();
            match state.password_source.as_deref().map(neutralise) {
                Some(source) => format!(
                    "wrong password{name} (the one from {source}, which will not be sent again); choose a name again"
                ),
                None => format!("wrong password{name}; choose a name again"),
            }
        }
        (ErrorCode::BadPassword, _) => "wrong password; nothing was changed".to_owned(),
        (ErrorCode::TryLater, tried) if naming => {
            let name = signing_in
                .or(tried)
                .unwrap_or_else(|| "that name".to_owned());
            format!(
                "too many password attempts for {name} just now; wait a minute, then choose a name again"
            )
        }
        (ErrorCode::TryLater, _) => "not now; try again in a minute".to_owned(),
        (ErrorCode::Registered, _) => {
            "your name is registered already (/password OLD NEW changes the password)".to_owned()
        }
        (ErrorCode::NotRegistered, _) => {
            "your name is not registered; /register PASSWORD reserves it".to_owned()
        }
        (ErrorCode::WeakPassword, _) => {
            "a password needs 8 to 128 characters (spaces are fine); nothing was changed".to_owned()
        }
        (ErrorCode::NotInRoom, _) => "you are not in a room; /join ROOM first".to_owned(),
        (ErrorCode::NotOperator, _) => "only the room's operator can do that".to_owned(),
        (ErrorCode::Banned, _) => "you are banned from that room".to_owned(),
        (code, _) => code.message().to_owned(),
    }
}
