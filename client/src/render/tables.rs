//! The tables shown when `OK list`, `OK rooms` or `OK ignores` arrives:
//! a heading with the count, then one aligned row per entry.

use common::UserState;

use super::{is_me, name_span, neutralise, notice};
use crate::layout::{Line, Style, span};

pub(super) fn users(users: Vec<(String, UserState)>, me: Option<&str>) -> Vec<Line> {
    let count = match users.len() {
        1 => "1 user online:".to_owned(),
        n => format!("{n} users online:"),
    };
    let mut lines = vec![notice(&count)];
    let label = |name: &str| {
        if is_me(name, me) {
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

pub(super) fn rooms(rooms: Vec<(String, usize)>) -> Vec<Line> {
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

pub(super) fn ignored(names: Vec<String>, me: Option<&str>) -> Vec<Line> {
    let count = match names.len() {
        0 => {
            return vec![notice(
                "you ignore nobody; /ignore NAME stops someone reaching you",
            )];
        }
        1 => "you ignore 1 user:".to_owned(),
        n => format!("you ignore {n} users:"),
    };
    let mut lines = vec![notice(&count)];
    for name in names {
        lines.push(vec![span("-!-   ", Style::System), name_span(&name, me)]);
    }
    lines
}
