//! What a client line means. A line starting with one `/` is a command; any
//! other line is text, which is a message in a chat or room, a username
//! while naming, and possibly a menu alias (`1`, `2 NAME`, `3`, `yes`, `no`)
//! while available. Which reading applies depends on the sender's state, so
//! [`Input`] keeps both and the server's state machine picks.

mod verb;

use std::sync::Arc;

pub use verb::{Args, Verb};

use crate::error::ErrorCode;
use crate::sanitize::sanitize;
use crate::secret::Secret;

/// A command, with its arguments as typed. Arguments are looked up (and
/// room names validated) by the state machine, which knows who is online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/help`
    Help,
    /// `/list`, alias `1`
    List,
    /// `/chat NAME`, alias `2 NAME`
    Chat(String),
    /// `/accept [NAME]`, aliases `yes`, `y`
    Accept(Option<String>),
    /// `/decline [NAME]`, aliases `no`, `n`
    Decline(Option<String>),
    /// `/cancel`
    Cancel,
    /// `/leave`
    Leave,
    /// `/join ROOM`
    Join(String),
    /// `/rooms`
    Rooms,
    /// `/ping [TOKEN]`; the token is already sanitised.
    Ping(Option<Arc<str>>),
    /// `/exit`, `/quit`, alias `3`; arguments are ignored.
    Exit,
    /// `/register PASSWORD`: the rest of the line, spaces included.
    Register(Secret),
    /// `/password OLD NEW`: two space-free words.
    Password {
        /// The password now.
        old: Secret,
        /// The password from now on.
        new: Secret,
    },
    /// `/unregister PASSWORD`
    Unregister(Secret),
    /// `/me TEXT`: the text, sanitised.
    Me(Arc<str>),
    /// `/away [REASON]`: the reason, sanitised.
    Away(Option<Arc<str>>),
    /// `/back`
    Back,
    /// `/ignore NAME`
    Ignore(String),
    /// `/unignore NAME`
    Unignore(String),
    /// `/ignores`
    Ignores,
    /// `/topic [TEXT]`: the new topic, sanitised; none to ask.
    Topic(Option<Arc<str>>),
    /// `/kick NAME [REASON]`: the reason, sanitised.
    Kick(String, Option<Arc<str>>),
    /// `/ban NAME`
    Ban(String),
}

/// A line that names a command but cannot run: the `ERR` code to answer,
/// and the command's full name when the command word was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandError {
    /// `unknown-command` or `usage`.
    pub code: ErrorCode,
    /// The recognised command, if any.
    pub command: Option<Verb>,
}

impl CommandError {
    pub(super) fn usage(verb: Verb) -> CommandError {
        CommandError {
            code: ErrorCode::Usage,
            command: Some(verb),
        }
    }
}

/// The result of reading a command or alias.
pub type Parsed = Result<Command, CommandError>;

/// A decoded client line, read without knowing the sender's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The line starts with a single `/`.
    Command(Parsed),
    /// Any other line. `text` is sanitised, with a leading `//` turned into
    /// `/`; `alias` is the menu-alias reading, if the first word is an alias.
    Text {
        /// The line as a message: sanitised, `//` unescaped.
        text: Arc<str>,
        /// The line as a menu alias, if it reads as one.
        alias: Option<Parsed>,
    },
}

/// Reads one line (without its terminator).
pub fn parse_input(line: &str) -> Input {
    if let Some(escaped) = line.strip_prefix("//") {
        let text = format!("/{escaped}");
        return Input::Text {
            text: Arc::from(sanitize(&text)),
            alias: None,
        };
    }
    if let Some(command) = line.strip_prefix('/') {
        let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
        // An empty first word ("/" or "/ list") names no command.
        let parsed = match Verb::of(word) {
            Some(verb) => verb.parse(rest),
            None => Err(CommandError {
                code: ErrorCode::UnknownCommand,
                command: None,
            }),
        };
        return Input::Command(parsed);
    }
    let trimmed = line.trim_start_matches(' ');
    let (word, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    let alias = alias(word).map(|verb| verb.parse(rest));
    Input::Text {
        text: Arc::from(sanitize(line)),
        alias,
    }
}

/// The menu aliases: the first word of a line outside a chat, room or
/// naming, and the command it stands for.
const ALIASES: [(&str, Verb); 7] = [
    ("1", Verb::List),
    ("2", Verb::Chat),
    ("3", Verb::Exit),
    ("yes", Verb::Accept),
    ("y", Verb::Accept),
    ("no", Verb::Decline),
    ("n", Verb::Decline),
];

/// The command a menu alias stands for. Recognised without allocating:
/// this runs on every message.
fn alias(word: &str) -> Option<Verb> {
    ALIASES
        .into_iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(word))
        .map(|(_, verb)| verb)
}

#[cfg(test)]
mod tests;
