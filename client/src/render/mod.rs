//! Server line → display text, pure. Every string from the network passes
//! through [`neutralise`] first. Message lines always start with the
//! sender's name (`bob: hi`, `[den] bob: hi`) and actions with a star and
//! the name (`* bob waves`); everything the client says itself starts with
//! a `-!-` marker (`-i-` for the server's `INFO` prose), which no user can
//! type in front of their own message. `/list`, `/rooms` and `/ignores`
//! rows are collected and shown as one table when their `OK` arrives
//! (`tables.rs`); `OK` and `ERR` words are in `replies.rs`; a room's
//! stored past, between its two separators, in `past.rs`.

mod past;
mod replies;
mod tables;
#[cfg(test)]
mod tests;

use common::{
    ByeReason, CancelReason, DeclineReason, EndReason, ErrorCode, PartReason, ServerLine,
    UserState, fold, is_forbidden,
};

use crate::layout::{Line, Shown, Span, Style, span};
use crate::mention;
use crate::outage::{Outage, Stage};
use crate::state::State;

pub(crate) use self::past::stamp_of;

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

/// A piece of a notice: system prose, a user name, a room name, or text a
/// user wrote (a reason, a topic).
enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
    Room(&'a str),
    Said(&'a str),
}

/// Collects table rows until their final `OK`, and remembers whether a
/// room's stored past is being shown.
#[derive(Debug, Default)]
pub(crate) struct Renderer {
    users: Vec<(String, UserState)>,
    rooms: Vec<(String, usize)>,
    ignored: Vec<String>,
    /// The room whose `HISTORY` lines are arriving, until another line
    /// closes the past with the "now" separator.
    past: Option<String>,
}

impl Renderer {
    /// The display lines for `line`; `state` must already include it.
    pub(crate) fn render(&mut self, line: &ServerLine, state: &State) -> Vec<Shown> {
        let mut shown = Vec::new();
        if let ServerLine::History(history) = line {
            if self.past.as_deref() != Some(&*history.room) {
                shown.push(past::opening(&history.room).into());
                self.past = Some(history.room.to_string());
            }
            shown.push(past::history(history, state.me.as_deref()));
            return shown;
        }
        if self.past.take().is_some() {
            shown.push(past::closing().into());
        }
        shown.extend(self.present(line, state).into_iter().map(Shown::from));
        shown
    }

    fn present(&mut self, line: &ServerLine, state: &State) -> Vec<Line> {
        use Piece::{Name, Room, Said, Text};
        let me = state.me.as_deref();
        let say = |pieces: &[Piece<'_>]| vec![notice_of(pieces, me)];
        match line {
            // Signing back in after a lost connection is summed up once it
            // is over (`outage.rs`): the greeting and the menu again would
            // be noise.
            ServerLine::Hello(_) => match restoring(state).and_then(|o| o.name.as_deref()) {
                Some(name) => say(&[Text("connected again; signing in as "), Name(name)]),
                None => say(&[Text(concat!(
                    "connected; choose a name: ",
                    common::name_rule!()
                ))]),
            },
            ServerLine::Welcome(_) | ServerLine::Info(_) if restoring(state).is_some() => {
                Vec::new()
            }
            ServerLine::Welcome(_) if state.outage.is_some() => Vec::new(),
            ServerLine::Password(name)
                if restoring(state).is_some() && state.password.is_some() =>
            {
                say(&[
                    Name(name),
                    Text(
                        " is registered: signing in with the password from earlier in this session",
                    ),
                ])
            }
            ServerLine::Err(ErrorCode::NameTaken, _)
                if restoring(state).is_some_and(|o| o.stage == Stage::Naming) =>
            {
                let name = state.tried_name.as_deref().unwrap_or_default();
                say(&[
                    Name(name),
                    Text(
                        " is still held by your old session; the server frees it within about 90 s",
                    ),
                ])
            }
            ServerLine::Welcome(name) => say(&[
                Text("welcome, "),
                Name(name),
                Text(
                    "! /list shows who is here, /chat NAME asks someone, /join ROOM enters a room, /help lists all",
                ),
            ]),
            ServerLine::Password(name) => say(&[
                Name(name),
                Text(" is a registered name: enter its password to sign in"),
            ]),
            ServerLine::Info(text) => vec![vec![
                span("-i-", Style::Faint),
                span(format!(" {}", neutralise(text)), Style::Faint),
            ]],
            ServerLine::Ok(reply) => self.render_ok(reply, state),
            ServerLine::Err(code, _) => vec![error(&replies::error_text(*code, state))],
            ServerLine::User(name, user_state) => {
                self.users.push((neutralise(name), user_state.clone()));
                Vec::new()
            }
            ServerLine::RoomInfo(room, members) => {
                self.rooms.push((neutralise(room), *members));
                Vec::new()
            }
            ServerLine::Ignoring(name) => {
                self.ignored.push(name.to_string());
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
            ServerLine::Away(name, reason) if reason.is_empty() => {
                say(&[Name(name), Text(" is away (your request was delivered)")])
            }
            ServerLine::Away(name, reason) => say(&[
                Name(name),
                Text(" is away: "),
                Said(reason),
                Text(" (your request was delivered)"),
            ]),
            ServerLine::Chat(partner) => say(&[
                Text("you are now chatting with "),
                Name(partner),
                Text(": type to talk, /leave to end"),
            ]),
            ServerLine::Msg(from, text) => vec![message(None, from, text, me)],
            ServerLine::Action(room, from, text) => vec![action(room.as_deref(), from, text, me)],
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
            ServerLine::Topic(room, _, text) if text.is_empty() => {
                say(&[Room(room), Text(" has no topic")])
            }
            ServerLine::Topic(room, Some(setter), text) => say(&[
                Text("topic of "),
                Room(room),
                Text(" (set by "),
                Name(setter),
                Text("): "),
                Said(text),
            ]),
            ServerLine::Topic(room, None, text) => {
                say(&[Text("topic of "), Room(room), Text(": "), Said(text)])
            }
            ServerLine::Op(room, name) if is_me(name, me) => {
                say(&[Text("you are now the operator of "), Room(room)])
            }
            ServerLine::Op(room, name) => {
                say(&[Name(name), Text(" is now the operator of "), Room(room)])
            }
            ServerLine::Kicked(room, by, reason) if reason.is_empty() => say(&[
                Text("you were removed from "),
                Room(room),
                Text(" by "),
                Name(by),
                Text("; back at the menu"),
            ]),
            ServerLine::Kicked(room, by, reason) => say(&[
                Text("you were removed from "),
                Room(room),
                Text(" by "),
                Name(by),
                Text(": "),
                Said(reason),
                Text("; back at the menu"),
            ]),
            ServerLine::Bye(reason, _) => vec![bye(*reason, state.leaving)],
            // Rendered by `render` itself.
            ServerLine::History(_) => Vec::new(),
        }
    }
}

/// The outage being restored without the user, if there is one.
fn restoring(state: &State) -> Option<&Outage> {
    state.outage.as_ref().filter(|outage| !outage.asking)
}

/// The last words of a connection, by the server's reason.
fn bye(reason: ByeReason, leaving: bool) -> Line {
    match reason {
        ByeReason::Exit if leaving => notice("disconnected. bye!"),
        ByeReason::Exit => notice("the server closed the connection"),
        ByeReason::Shutdown => notice("the server is shutting down; disconnected"),
        // Reconnecting would take the name back from the other session,
        // which would take it back in turn.
        ByeReason::Replaced => {
            error("you signed in from somewhere else; this session ended and will not reconnect")
        }
        ByeReason::Overload => error(
            "the server cut this connection off: it could not keep up with what was sent to it",
        ),
        ByeReason::Timeout => error("the server closed the connection: no name was chosen in time"),
        ByeReason::Full => error("the server is full; try again later"),
        ByeReason::Refused => error("too many wrong passwords; the server closed the connection"),
    }
}

fn is_me(name: &str, me: Option<&str>) -> bool {
    me.is_some_and(|me| me.eq_ignore_ascii_case(name))
}

fn name_span(name: &str, me: Option<&str>) -> Span {
    let shown = neutralise(name);
    if is_me(name, me) {
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
            Piece::Said(text) => span(neutralise(text), Style::Plain),
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
    line.push(span(": ", Style::Plain));
    // A one-to-one message is all for you: only room lines can mention.
    let mentioner = room.map(|_| from);
    line.extend(said(text, mentioner, me, &Style::Plain));
    line
}

/// `* B waves`, or `[room] * B waves`.
fn action(room: Option<&str>, from: &str, text: &str, me: Option<&str>) -> Line {
    let mut line = Vec::with_capacity(5);
    if let Some(room) = room {
        line.push(span(format!("[{}] ", neutralise(room)), Style::Room));
    }
    line.push(span("* ", Style::Plain));
    line.push(name_span(from, me));
    line.push(span(" ", Style::Plain));
    line.extend(said(text, Some(from), me, &Style::Plain));
    line
}

/// What a user said, neutralised, in `style`, with every mention of `me`
/// highlighted when `from` (the speaker, `None` where nothing counts as
/// a mention) is someone else.
pub(crate) fn said(text: &str, from: Option<&str>, me: Option<&str>, style: &Style) -> Vec<Span> {
    let text = neutralise(text);
    let found = match (from, me) {
        (Some(from), Some(me)) if mention::mentions(&text, from, Some(me)) => {
            mention::find(&text, me)
        }
        _ => Vec::new(),
    };
    let mut spans = Vec::with_capacity(2 * found.len() + 1);
    let mut at = 0;
    for range in found {
        if range.start > at {
            spans.push(span(&text[at..range.start], style.clone()));
        }
        spans.push(span(&text[range.clone()], Style::Mention));
        at = range.end;
    }
    if at < text.len() || spans.is_empty() {
        spans.push(span(&text[at..], style.clone()));
    }
    spans
}
