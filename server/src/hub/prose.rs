//! Text for people: the welcome, the menu and `/help`. The only place the
//! hub composes text (the welcome's count of users, once per user); every
//! other line it makes is a value that is formatted after the lock.

use std::sync::Arc;

use common::{Name, OkReply, ServerLine};

use super::Outcome;

/// The prose of `HELLO`, the first line of every connection.
pub(crate) const GREETING: &str = concat!("hello! type a username: ", common::name_rule!());

/// `/help` before a name.
const ASK_FOR_NAME: &str = concat!("type a username to begin: ", common::name_rule!());

const MENU: [&str; 5] = [
    "menu:  1 = list users   2 NAME = ask NAME to chat   3 = exit",
    "answer a chat request with yes or no (or /accept NAME, /decline NAME)",
    "group rooms: /join ROOM, /rooms; in a chat or room, /leave returns here",
    "/help lists every command",
    "while chatting, every line you type is a message; start it with // to send a line beginning with /",
];

const HELP: [&str; 13] = [
    "commands (menu aliases in brackets, usable when you are not chatting):",
    "  /list            [1]         who is online, free or chatting with whom",
    "  /chat NAME       [2 NAME]    ask NAME to chat",
    "  /accept [NAME]   [yes, y]    accept a chat request",
    "  /decline [NAME]  [no, n]     decline a chat request",
    "  /cancel                      withdraw your own request",
    "  /join ROOM                   join a group room (created if new)",
    "  /rooms                       list the rooms",
    "  /leave                       leave your chat or room",
    "  /ping [TOKEN]                check the connection",
    "  /exit, /quit     [3]         disconnect",
    "in a chat or room every other line is a message; //text sends /text",
    concat!("names and rooms: ", common::name_rule!()),
];

fn info(text: &str) -> ServerLine {
    ServerLine::Info(Arc::from(text))
}

/// The greeting and the menu after `WELCOME`.
pub(super) fn welcome<P>(name: &Name, n_others: usize, out: &mut Outcome<P>) {
    let others = match n_others {
        0 => "nobody else is online yet".to_owned(),
        1 => "1 other user is online".to_owned(),
        n => format!("{n} other users are online"),
    };
    out.reply(info(&format!("hello {name}; {others}")));
    for line in MENU {
        out.reply(info(line));
    }
}

/// `/help` before a name.
pub(super) fn naming_help<P>(out: &mut Outcome<P>) {
    out.reply(info(ASK_FOR_NAME));
    out.reply(info("/exit leaves"));
    out.reply(ServerLine::Ok(OkReply::Help));
}

/// `/help` with a name.
pub(super) fn help<P>(out: &mut Outcome<P>) {
    for line in HELP {
        out.reply(info(line));
    }
    out.reply(ServerLine::Ok(OkReply::Help));
}
