//! What a client line means. A line starting with one `/` is a command; any
//! other line is text, which is a message in a chat or room, a username
//! while naming, and possibly a menu alias (`1`, `2 NAME`, `3`, `yes`, `no`)
//! while available. Which reading applies depends on the sender's state, so
//! [`Input`] keeps both and the server's state machine picks.

use std::sync::Arc;

use crate::error::ErrorCode;
use crate::sanitize::sanitize;

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
}

impl Command {
    /// The command's full name, as used in `OK <command>`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::List => "list",
            Command::Chat(_) => "chat",
            Command::Accept(_) => "accept",
            Command::Decline(_) => "decline",
            Command::Cancel => "cancel",
            Command::Leave => "leave",
            Command::Join(_) => "join",
            Command::Rooms => "rooms",
            Command::Ping(_) => "ping",
            Command::Exit => "exit",
        }
    }
}

/// A line that names a command but cannot run: the `ERR` code to answer,
/// and the command's full name when the command word was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandError {
    /// `unknown-command` or `usage`.
    pub code: ErrorCode,
    /// The recognised command (`"help"`, `"chat"`, …), if any.
    pub command: Option<&'static str>,
}

impl CommandError {
    fn usage(command: &'static str) -> CommandError {
        CommandError {
            code: ErrorCode::Usage,
            command: Some(command),
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
        let mut words = command.split(' ').filter(|w| !w.is_empty());
        let word = command.split(' ').next().unwrap_or_default();
        // An empty first word ("/" or "/ list") names no command.
        let parsed = if word.is_empty() {
            Err(CommandError {
                code: ErrorCode::UnknownCommand,
                command: None,
            })
        } else {
            words.next();
            parse_command(word, words.collect())
        };
        return Input::Command(parsed);
    }
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let alias = words
        .next()
        .and_then(Alias::of)
        .map(|alias| alias.parse(words.collect()));
    Input::Text {
        text: Arc::from(sanitize(line)),
        alias,
    }
}

fn parse_command(word: &str, args: Vec<&str>) -> Parsed {
    let parsed = match word.to_ascii_lowercase().as_str() {
        "help" => no_args(args, Command::Help),
        "list" => no_args(args, Command::List),
        "chat" => one_arg(args).map(Command::Chat),
        "accept" => optional_arg(args).map(Command::Accept),
        "decline" => optional_arg(args).map(Command::Decline),
        "cancel" => no_args(args, Command::Cancel),
        "leave" => no_args(args, Command::Leave),
        "join" => one_arg(args).map(Command::Join),
        "rooms" => no_args(args, Command::Rooms),
        "ping" => optional_arg(args)
            .map(|token| Command::Ping(token.map(|token| Arc::from(sanitize(&token))))),
        "exit" | "quit" => Ok(Command::Exit),
        _ => {
            return Err(CommandError {
                code: ErrorCode::UnknownCommand,
                command: None,
            });
        }
    };
    parsed.map_err(|()| CommandError::usage(command_name(word)))
}

/// A menu alias: the first word of a line outside a chat, room or naming.
#[derive(Debug, Clone, Copy)]
enum Alias {
    List,
    Chat,
    Exit,
    Accept,
    Decline,
}

impl Alias {
    /// Recognises an alias without allocating: this runs on every message.
    fn of(word: &str) -> Option<Alias> {
        const ALIASES: [(&str, Alias); 7] = [
            ("1", Alias::List),
            ("2", Alias::Chat),
            ("3", Alias::Exit),
            ("yes", Alias::Accept),
            ("y", Alias::Accept),
            ("no", Alias::Decline),
            ("n", Alias::Decline),
        ];
        ALIASES
            .into_iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(word))
            .map(|(_, alias)| alias)
    }

    fn parse(self, args: Vec<&str>) -> Parsed {
        let (parsed, name) = match self {
            Alias::List => (no_args(args, Command::List), "list"),
            Alias::Chat => (one_arg(args).map(Command::Chat), "chat"),
            Alias::Exit => (Ok(Command::Exit), "exit"),
            Alias::Accept => (optional_arg(args).map(Command::Accept), "accept"),
            Alias::Decline => (optional_arg(args).map(Command::Decline), "decline"),
        };
        parsed.map_err(|()| CommandError::usage(name))
    }
}

/// The full name of a recognised command word (only called for known words).
fn command_name(word: &str) -> &'static str {
    const NAMES: [&str; 10] = [
        "help", "list", "chat", "accept", "decline", "cancel", "leave", "join", "rooms", "ping",
    ];
    NAMES
        .into_iter()
        .find(|name| name.eq_ignore_ascii_case(word))
        .unwrap_or("exit")
}

fn no_args(args: Vec<&str>, command: Command) -> Result<Command, ()> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(())
    }
}

fn one_arg(args: Vec<&str>) -> Result<String, ()> {
    match args.as_slice() {
        [arg] => Ok((*arg).to_owned()),
        _ => Err(()),
    }
}

fn optional_arg(args: Vec<&str>) -> Result<Option<String>, ()> {
    match args.as_slice() {
        [] => Ok(None),
        [arg] => Ok(Some((*arg).to_owned())),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> Result<Command, ErrorCode> {
        match parse_input(line) {
            Input::Command(parsed) => parsed.map_err(|error| error.code),
            other => panic!("{line:?} is not a command: {other:?}"),
        }
    }

    fn text(line: &str) -> (String, Option<Result<Command, ErrorCode>>) {
        match parse_input(line) {
            Input::Text { text, alias } => (text.to_string(), alias.map(|a| a.map_err(|e| e.code))),
            other => panic!("{line:?} is not text: {other:?}"),
        }
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn every_command_and_its_arguments() {
        use Command::*;
        let cases: &[(&str, Result<Command, ErrorCode>)] = &[
            ("/help", Ok(Help)),
            ("/help me", Err(ErrorCode::Usage)),
            ("/list", Ok(List)),
            ("/list x", Err(ErrorCode::Usage)),
            ("/chat bob", Ok(Chat("bob".into()))),
            ("/chat", Err(ErrorCode::Usage)),
            ("/chat bob carol", Err(ErrorCode::Usage)),
            ("/accept", Ok(Accept(None))),
            ("/accept bob", Ok(Accept(some("bob")))),
            ("/accept a b", Err(ErrorCode::Usage)),
            ("/decline", Ok(Decline(None))),
            ("/decline bob", Ok(Decline(some("bob")))),
            ("/decline a b", Err(ErrorCode::Usage)),
            ("/cancel", Ok(Cancel)),
            ("/cancel bob", Err(ErrorCode::Usage)),
            ("/leave", Ok(Leave)),
            ("/leave now", Err(ErrorCode::Usage)),
            ("/join lobby", Ok(Join("lobby".into()))),
            ("/join", Err(ErrorCode::Usage)),
            ("/join a b", Err(ErrorCode::Usage)),
            ("/rooms", Ok(Rooms)),
            ("/rooms x", Err(ErrorCode::Usage)),
            ("/ping", Ok(Ping(None))),
            ("/ping t0k", Ok(Ping(Some("t0k".into())))),
            ("/ping a b", Err(ErrorCode::Usage)),
            ("/exit", Ok(Exit)),
            ("/quit", Ok(Exit)),
            ("/exit now please", Ok(Exit)),
            ("/quit bye", Ok(Exit)),
            ("/nope", Err(ErrorCode::UnknownCommand)),
            ("/", Err(ErrorCode::UnknownCommand)),
            ("/ list", Err(ErrorCode::UnknownCommand)),
            ("/list\t", Err(ErrorCode::UnknownCommand)),
        ];
        for (line, expected) in cases {
            assert_eq!(&command(line), expected, "line {line:?}");
        }
    }

    #[test]
    fn commands_are_case_insensitive_and_arguments_split_on_runs_of_spaces() {
        assert_eq!(command("/LIST"), Ok(Command::List));
        assert_eq!(command("/Chat   bob  "), Ok(Command::Chat("bob".into())));
        assert_eq!(command("/QuIt"), Ok(Command::Exit));
        assert_eq!(command("/list   "), Ok(Command::List));
    }

    #[test]
    fn usage_errors_name_their_command() {
        for (line, name) in [
            ("/HELP x", "help"),
            ("/list x", "list"),
            ("/Chat", "chat"),
            ("/accept a b", "accept"),
            ("/decline a b", "decline"),
            ("/cancel x", "cancel"),
            ("/leave x", "leave"),
            ("/join", "join"),
            ("/rooms x", "rooms"),
            ("/ping a b", "ping"),
        ] {
            let expected = CommandError {
                code: ErrorCode::Usage,
                command: Some(name),
            };
            assert_eq!(parse_input(line), Input::Command(Err(expected)), "{line:?}");
        }
        let unknown = CommandError {
            code: ErrorCode::UnknownCommand,
            command: None,
        };
        assert_eq!(parse_input("/x"), Input::Command(Err(unknown)));
        for (line, name) in [
            ("1 x", "list"),
            ("2", "chat"),
            ("yes a b", "accept"),
            ("n a b", "decline"),
        ] {
            match parse_input(line) {
                Input::Text {
                    alias: Some(Err(error)),
                    ..
                } => assert_eq!(error.command, Some(name)),
                other => panic!("{line:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn ping_tokens_are_sanitised() {
        assert_eq!(
            command("/ping a\u{1b}b"),
            Ok(Command::Ping(Some("a\u{fffd}b".into())))
        );
        assert_eq!(
            command("/ping \u{202e}x"),
            Ok(Command::Ping(Some("\u{fffd}x".into())))
        );
    }

    #[test]
    fn menu_aliases() {
        use Command::*;
        let cases: &[(&str, Option<Result<Command, ErrorCode>>)] = &[
            ("1", Some(Ok(List))),
            ("1 x", Some(Err(ErrorCode::Usage))),
            ("2 bob", Some(Ok(Chat("bob".into())))),
            ("2", Some(Err(ErrorCode::Usage))),
            ("3", Some(Ok(Exit))),
            ("3 bye", Some(Ok(Exit))),
            ("yes", Some(Ok(Accept(None)))),
            ("YES", Some(Ok(Accept(None)))),
            ("y bob", Some(Ok(Accept(some("bob"))))),
            ("Y", Some(Ok(Accept(None)))),
            ("no", Some(Ok(Decline(None)))),
            ("N carol", Some(Ok(Decline(some("carol"))))),
            ("no thanks at all", Some(Err(ErrorCode::Usage))),
            ("  1", Some(Ok(List))),
            ("hello", None),
            ("yesterday", None),
            ("12", None),
            ("", None),
        ];
        for (line, expected) in cases {
            assert_eq!(&text(line).1, expected, "line {line:?}");
        }
    }

    #[test]
    fn text_keeps_its_spaces_and_is_sanitised() {
        assert_eq!(text("  hi  there "), ("  hi  there ".into(), None));
        assert_eq!(text("a\u{7}b\rc").0, "a\u{fffd}b\u{fffd}c");
        assert_eq!(text("tab\there").0, "tab\there");
    }

    #[test]
    fn double_slash_escapes_a_message() {
        assert_eq!(text("//help"), ("/help".into(), None));
        assert_eq!(text("//"), ("/".into(), None));
        assert_eq!(text("///x"), ("//x".into(), None));
        assert_eq!(text("//1"), ("/1".into(), None));
    }

    #[test]
    fn command_names_match_ok_replies() {
        assert_eq!(Command::Exit.name(), "exit");
        assert_eq!(Command::Ping(None).name(), "ping");
        assert_eq!(Command::Join("r".into()).name(), "join");
        for (cmd, name) in [
            (Command::Help, "help"),
            (Command::List, "list"),
            (Command::Chat(String::new()), "chat"),
            (Command::Accept(None), "accept"),
            (Command::Decline(None), "decline"),
            (Command::Cancel, "cancel"),
            (Command::Leave, "leave"),
            (Command::Rooms, "rooms"),
        ] {
            assert_eq!(cmd.name(), name);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsing_never_panics_and_text_is_clean(line in "\\PC*|[/ a-zA-Z0-9\u{0}-\u{1f}\u{80}-\u{9f}\u{2028}-\u{202e}]*") {
                match parse_input(&line) {
                    Input::Text { text, .. } => prop_assert!(!text.chars().any(crate::is_forbidden)),
                    Input::Command(Ok(Command::Ping(Some(token)))) => {
                        prop_assert!(!token.chars().any(crate::is_forbidden));
                        prop_assert!(!token.contains(' '));
                    }
                    Input::Command(_) => {}
                }
            }
        }
    }
}
