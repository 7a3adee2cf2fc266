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

/// What follows a command word; the client completes names from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Args {
    /// Nothing.
    None,
    /// One user name.
    User,
    /// An optional user name.
    OptionalUser,
    /// One room name.
    Room,
    /// An optional space-free token.
    Token,
    /// Anything; ignored.
    Ignored,
}

/// Declares the commands, each once: variant, words (the first is the
/// command's full name, as in `OK <command>`) and arguments.
macro_rules! verbs {
    ($($(#[$doc:meta])* $variant:ident = [$($word:literal),+], $args:expr;)+) => {
        /// A command word, without its arguments.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Verb {
            $($(#[$doc])* $variant,)+
        }

        impl Verb {
            /// Every command, in the order `/help` lists them.
            pub const ALL: &[Verb] = &[$(Verb::$variant),+];

            /// The words that name this command; the first is its full name.
            pub fn words(self) -> &'static [&'static str] {
                match self {
                    $(Verb::$variant => &[$($word),+],)+
                }
            }

            /// What follows the command word.
            pub fn args(self) -> Args {
                match self {
                    $(Verb::$variant => $args,)+
                }
            }
        }
    };
}

verbs! {
    /// `/help`
    Help = ["help"], Args::None;
    /// `/list`
    List = ["list"], Args::None;
    /// `/chat NAME`
    Chat = ["chat"], Args::User;
    /// `/accept [NAME]`
    Accept = ["accept"], Args::OptionalUser;
    /// `/decline [NAME]`
    Decline = ["decline"], Args::OptionalUser;
    /// `/cancel`
    Cancel = ["cancel"], Args::None;
    /// `/leave`
    Leave = ["leave"], Args::None;
    /// `/join ROOM`
    Join = ["join"], Args::Room;
    /// `/rooms`
    Rooms = ["rooms"], Args::None;
    /// `/ping [TOKEN]`
    Ping = ["ping"], Args::Token;
    /// `/exit`, `/quit`
    Exit = ["exit", "quit"], Args::Ignored;
}

impl Verb {
    /// The command's full name, as used in `OK <command>`.
    pub fn name(self) -> &'static str {
        self.words()[0]
    }

    /// The command a word names, ignoring ASCII case.
    pub fn of(word: &str) -> Option<Verb> {
        Verb::ALL.iter().copied().find(|verb| {
            verb.words()
                .iter()
                .any(|known| known.eq_ignore_ascii_case(word))
        })
    }

    /// Reads the arguments (the rest of the line after the command word).
    fn parse(self, rest: &str) -> Result<Command, CommandError> {
        let args: Vec<&str> = rest.split(' ').filter(|w| !w.is_empty()).collect();
        let parsed = match self {
            Verb::Help => no_args(args, Command::Help),
            Verb::List => no_args(args, Command::List),
            Verb::Chat => one_arg(args).map(Command::Chat),
            Verb::Accept => optional_arg(args).map(Command::Accept),
            Verb::Decline => optional_arg(args).map(Command::Decline),
            Verb::Cancel => no_args(args, Command::Cancel),
            Verb::Leave => no_args(args, Command::Leave),
            Verb::Join => one_arg(args).map(Command::Join),
            Verb::Rooms => no_args(args, Command::Rooms),
            Verb::Ping => optional_arg(args)
                .map(|token| Command::Ping(token.map(|token| Arc::from(sanitize(&token))))),
            Verb::Exit => Ok(Command::Exit),
        };
        parsed.map_err(|()| CommandError::usage(self))
    }
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
    fn usage(verb: Verb) -> CommandError {
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
                command: Verb::of(name),
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
                } => assert_eq!(error.command.map(Verb::name), Some(name)),
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
    fn every_word_of_every_command_parses_to_that_command() {
        for &verb in Verb::ALL {
            for word in verb.words() {
                assert_eq!(Verb::of(word), Some(verb));
                assert_eq!(Verb::of(&word.to_ascii_uppercase()), Some(verb));
                let line = match verb.args() {
                    Args::User | Args::Room => format!("/{word} x"),
                    _ => format!("/{word}"),
                };
                match parse_input(&line) {
                    Input::Command(Ok(_)) => {}
                    other => panic!("{line:?}: {other:?}"),
                }
            }
        }
        assert_eq!(Verb::Exit.name(), "exit");
        assert_eq!(Verb::of("quit"), Some(Verb::Exit));
        assert_eq!(Verb::of(""), None);
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
