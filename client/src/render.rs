//! Server line → display text, pure. Every string from the network passes
//! through [`neutralise`] first. Message lines always start with the
//! sender's name; everything the client says itself starts with a `-!-`
//! marker (`-i-` for the server's `INFO` prose), which no user can type in
//! front of their own message. `/list` and `/rooms` rows are collected and
//! shown as one table when their `OK` arrives.

use common::{
    CancelReason, DeclineReason, EndReason, ErrorCode, OkReply, PartReason, ServerLine, UserState,
    fold, is_forbidden,
};

use crate::layout::{Line, Span, Style, span};
use crate::state::State;

/// Whether `c` must not reach the terminal: the protocol's forbidden set,
/// plus the bidi marks (U+200E, U+200F, U+061C), invisible operators and
/// format controls (U+2060–U+206F), the BOM and interlinear annotations.
fn is_hostile(c: char) -> bool {
    is_forbidden(c)
        || matches!(c,
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2060}'..='\u{206f}'
            | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// `text` made safe to print: hostile characters become U+FFFD and a tab
/// becomes a space (a tab could align text under someone else's name).
pub(crate) fn neutralise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if is_hostile(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn system(text: &str) -> Line {
    vec![
        span("-!-", Style::System),
        span(format!(" {text}"), Style::System),
    ]
}

/// A notice from the client itself.
pub(crate) fn notice(text: &str) -> Line {
    system(&neutralise(text))
}

/// An error from the client itself (or the server's `ERR`).
pub(crate) fn error(text: &str) -> Line {
    vec![
        span("-!-", Style::Error),
        span(format!(" {}", neutralise(text)), Style::Error),
    ]
}

/// A line the client could not parse, shown plainly as the server's.
pub(crate) fn unparsed(raw: &str) -> Line {
    vec![
        span("-!-", Style::System),
        span(" server said: ", Style::System),
        span(neutralise(raw), Style::Faint),
    ]
}

/// A piece of a notice: system prose, a user name or a room name.
enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
    Room(&'a str),
}

/// Collects `/list` and `/rooms` rows until their final `OK`.
#[derive(Debug, Default)]
pub(crate) struct Renderer {
    users: Vec<(String, UserState)>,
    rooms: Vec<(String, usize)>,
}

impl Renderer {
    /// The display lines for `line`; `state` must already include it.
    pub(crate) fn render(&mut self, line: &ServerLine, state: &State) -> Vec<Line> {
        use Piece::{Name, Room, Text};
        let me = state.me.as_deref();
        let say = |pieces: &[Piece<'_>]| vec![notice_of(pieces, me)];
        match line {
            ServerLine::Hello(_) => say(&[Text(concat!(
                "connected; choose a name: ",
                common::name_rule!()
            ))]),
            ServerLine::Welcome(name) => say(&[
                Text("welcome, "),
                Name(name),
                Text(
                    "! /list shows who is here, /chat NAME asks someone, /join ROOM enters a room, /help lists all",
                ),
            ]),
            ServerLine::Info(text) => vec![vec![
                span("-i-", Style::Faint),
                span(format!(" {}", neutralise(text)), Style::Faint),
            ]],
            ServerLine::Ok(reply) => self.render_ok(reply, me),
            ServerLine::Err(code, _) => vec![error(&error_text(*code, state))],
            ServerLine::User(name, user_state) => {
                self.users.push((neutralise(name), user_state.clone()));
                Vec::new()
            }
            ServerLine::RoomInfo(room, members) => {
                self.rooms.push((neutralise(room), *members));
                Vec::new()
            }
            ServerLine::Request(from) => say(&[
                Name(from),
                Text(" wants to chat: type /accept "),
                Name(from),
                Text(" or /decline "),
                Name(from),
            ]),
            ServerLine::Cancelled(from, reason) => match reason {
                CancelReason::Cancelled => say(&[Name(from), Text(" withdrew their chat request")]),
                CancelReason::Busy => say(&[
                    Name(from),
                    Text("'s chat request lapsed: they started another chat or joined a room"),
                ]),
                CancelReason::Disconnected => say(&[
                    Name(from),
                    Text("'s chat request lapsed: they disconnected"),
                ]),
            },
            ServerLine::Declined(name, reason) => match reason {
                DeclineReason::Declined => say(&[Name(name), Text(" declined your chat request")]),
                DeclineReason::Busy => say(&[
                    Name(name),
                    Text(" is now chatting or in a room; your request was dropped"),
                ]),
                DeclineReason::Disconnected => {
                    say(&[Name(name), Text(" disconnected; your request was dropped")])
                }
            },
            ServerLine::Chat(partner) => say(&[
                Text("you are now chatting with "),
                Name(partner),
                Text(": type to talk, /leave to end"),
            ]),
            ServerLine::Msg(from, text) => vec![message(None, from, text, me)],
            ServerLine::Ended(partner, reason) => match reason {
                EndReason::Left => say(&[Name(partner), Text(" left the chat; back at the menu")]),
                EndReason::Disconnected => say(&[
                    Name(partner),
                    Text(" disconnected; chat over, back at the menu"),
                ]),
            },
            ServerLine::Joined(room, name) => say(&[Name(name), Text(" joined "), Room(room)]),
            ServerLine::Parted(room, name, reason) => match reason {
                PartReason::Left => say(&[Name(name), Text(" left "), Room(room)]),
                PartReason::Disconnected => {
                    say(&[Name(name), Text(" disconnected from "), Room(room)])
                }
                PartReason::Kicked => say(&[Name(name), Text(" was removed from "), Room(room)]),
            },
            ServerLine::Room(room, from, text) => vec![message(Some(room), from, text, me)],
            ServerLine::Bye(..) if state.leaving => say(&[Text("disconnected. bye!")]),
            ServerLine::Bye(..) => say(&[Text("the server closed the connection (BYE)")]),
            other => say(&[Text(&other.to_string())]),
        }
    }

    fn render_ok(&mut self, reply: &OkReply, me: Option<&str>) -> Vec<Line> {
        use Piece::{Name, Room, Text};
        let say = |pieces: &[Piece<'_>]| vec![notice_of(pieces, me)];
        match reply {
            OkReply::Help | OkReply::Accept(_) => Vec::new(),
            OkReply::Register(_)
            | OkReply::Password
            | OkReply::Unregister(_)
            | OkReply::Away
            | OkReply::Back
            | OkReply::Ignore(_)
            | OkReply::Unignore(_)
            | OkReply::Ignores(_)
            | OkReply::Topic
            | OkReply::Kick(_)
            | OkReply::Ban(_) => say(&[Text(&ServerLine::Ok(reply.clone()).to_string())]),
            OkReply::List(_) => user_table(std::mem::take(&mut self.users), me),
            OkReply::Rooms(_) => room_table(std::mem::take(&mut self.rooms)),
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
        }
    }
}

/// The human text for an `ERR`, with the name we tried when it is about one.
fn error_text(code: ErrorCode, state: &State) -> String {
    let tried = state.tried_name.as_deref().map(neutralise);
    let naming = state.me.is_none();
    match (code, tried) {
        (ErrorCode::NameTaken, Some(name)) if naming => format!(
            "the name {name} is taken; if it was yours, the old session is freed within about 90 s. choose another name"
        ),
        (ErrorCode::NameInvalid, Some(name)) if naming => {
            format!("{name} is not a valid name: use {}", common::NAME_RULE)
        }
        (code, _) => code.message().to_owned(),
    }
}

fn name_span(name: &str, me: Option<&str>) -> Span {
    let shown = neutralise(name);
    if me.is_some_and(|me| me.eq_ignore_ascii_case(name)) {
        span(shown, Style::Me)
    } else {
        span(shown, Style::User(fold(name)))
    }
}

fn notice_of(pieces: &[Piece<'_>], me: Option<&str>) -> Line {
    let mut line = vec![span("-!- ", Style::System)];
    for piece in pieces {
        line.push(match piece {
            Piece::Text(text) => span(neutralise(text), Style::System),
            Piece::Name(name) => name_span(name, me),
            Piece::Room(room) => span(format!("#{}", neutralise(room)), Style::Room),
        });
    }
    line
}

/// `B: text`, or `[room] B: text`: the sender's name always comes first
/// after the optional room tag.
fn message(room: Option<&str>, from: &str, text: &str, me: Option<&str>) -> Line {
    let mut line = Vec::with_capacity(4);
    if let Some(room) = room {
        line.push(span(format!("[{}] ", neutralise(room)), Style::Room));
    }
    line.push(name_span(from, me));
    line.push(span(format!(": {}", neutralise(text)), Style::Plain));
    line
}

fn user_table(users: Vec<(String, UserState)>, me: Option<&str>) -> Vec<Line> {
    let count = match users.len() {
        1 => "1 user online:".to_owned(),
        n => format!("{n} users online:"),
    };
    let mut lines = vec![notice(&count)];
    let is_me = |name: &str| me.is_some_and(|me| me.eq_ignore_ascii_case(name));
    let label = |name: &str| {
        if is_me(name) {
            format!("{name} (you)")
        } else {
            name.to_owned()
        }
    };
    let column = users.iter().map(|(n, _)| label(n).len()).max().unwrap_or(0);
    for (name, user_state) in users {
        let shown = label(&name);
        let mut name_cell = name_span(&name, me);
        name_cell.text = shown.clone();
        let mut line = vec![
            span("-!-   ", Style::System),
            name_cell,
            span(" ".repeat(column - shown.len() + 2), Style::Plain),
        ];
        match user_state {
            UserState::Available => line.push(span("available", Style::Plain)),
            UserState::Away => line.push(span("away", Style::Faint)),
            UserState::Chatting(peer) => {
                line.push(span("chatting with ", Style::Faint));
                line.push(name_span(&peer, me));
            }
            UserState::Room(room) => {
                line.push(span("in room ", Style::Faint));
                line.push(span(format!("#{}", neutralise(&room)), Style::Room));
            }
        }
        lines.push(line);
    }
    lines
}

fn room_table(rooms: Vec<(String, usize)>) -> Vec<Line> {
    if rooms.is_empty() {
        return vec![notice("no rooms yet; /join NAME creates one")];
    }
    let count = match rooms.len() {
        1 => "1 room:".to_owned(),
        n => format!("{n} rooms:"),
    };
    let mut lines = vec![notice(&count)];
    let column = rooms.iter().map(|(r, _)| r.len() + 1).max().unwrap_or(0);
    for (room, members) in rooms {
        let members = match members {
            1 => "1 member".to_owned(),
            n => format!("{n} members"),
        };
        lines.push(vec![
            span("-!-   ", Style::System),
            span(format!("#{room}"), Style::Room),
            span(
                format!("{}  {members}", " ".repeat(column - room.len() - 1)),
                Style::Plain,
            ),
        ]);
    }
    lines
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
