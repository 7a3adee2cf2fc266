//! The table of commands: each command's words, what its arguments are,
//! and how they are read. Adding a command is one row here and one arm in
//! [`Verb::parse`].

use std::sync::Arc;

use super::{Command, CommandError};
use crate::sanitize::sanitize;
use crate::secret::Secret;

/// What follows a command word. The client completes names from it, and
/// keeps a line whose argument is a secret out of its history.
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
    /// A password: the rest of the line.
    Secret,
    /// Two space-free passwords.
    TwoSecrets,
    /// Free text: the rest of the line, required.
    Text,
    /// Free text: the rest of the line, optional.
    OptionalText,
    /// A user name, then optional free text.
    UserAndText,
}

impl Args {
    /// Whether the line carries a password, which a client must never
    /// echo or keep.
    pub fn is_secret(self) -> bool {
        matches!(self, Args::Secret | Args::TwoSecrets)
    }

    /// Whether the first argument is a user name.
    pub fn starts_with_user(self) -> bool {
        matches!(self, Args::User | Args::OptionalUser | Args::UserAndText)
    }
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
    /// `/me TEXT`
    Me = ["me"], Args::Text;
    /// `/away [REASON]`
    Away = ["away"], Args::OptionalText;
    /// `/back`
    Back = ["back"], Args::None;
    /// `/ignore NAME`
    Ignore = ["ignore"], Args::User;
    /// `/unignore NAME`
    Unignore = ["unignore"], Args::User;
    /// `/ignores`
    Ignores = ["ignores"], Args::None;
    /// `/topic [TEXT]`
    Topic = ["topic"], Args::OptionalText;
    /// `/kick NAME [REASON]`
    Kick = ["kick"], Args::UserAndText;
    /// `/ban NAME`
    Ban = ["ban"], Args::User;
    /// `/register PASSWORD`
    Register = ["register"], Args::Secret;
    /// `/password OLD NEW`
    Password = ["password"], Args::TwoSecrets;
    /// `/unregister PASSWORD`
    Unregister = ["unregister"], Args::Secret;
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

    /// Reads the arguments: `rest` is the line after the command word and
    /// the space that ends it.
    pub(super) fn parse(self, rest: &str) -> Result<Command, CommandError> {
        let args = Arguments::new(rest);
        let parsed = match self {
            Verb::Help => args.none(Command::Help),
            Verb::List => args.none(Command::List),
            Verb::Chat => args.one().map(Command::Chat),
            Verb::Accept => args.optional().map(Command::Accept),
            Verb::Decline => args.optional().map(Command::Decline),
            Verb::Cancel => args.none(Command::Cancel),
            Verb::Leave => args.none(Command::Leave),
            Verb::Join => args.one().map(Command::Join),
            Verb::Rooms => args.none(Command::Rooms),
            Verb::Me => args.text().map(Command::Me),
            Verb::Away => Ok(Command::Away(args.optional_text())),
            Verb::Back => args.none(Command::Back),
            Verb::Ignore => args.one().map(Command::Ignore),
            Verb::Unignore => args.one().map(Command::Unignore),
            Verb::Ignores => args.none(Command::Ignores),
            Verb::Topic => Ok(Command::Topic(args.optional_text())),
            Verb::Kick => args
                .user_and_text()
                .map(|(name, why)| Command::Kick(name, why)),
            Verb::Ban => args.one().map(Command::Ban),
            Verb::Register => args.secret().map(Command::Register),
            Verb::Password => args
                .two_secrets()
                .map(|(old, new)| Command::Password { old, new }),
            Verb::Unregister => args.secret().map(Command::Unregister),
            Verb::Ping => args
                .optional()
                .map(|token| Command::Ping(token.map(|token| Arc::from(sanitize(&token))))),
            Verb::Exit => Ok(Command::Exit),
        };
        parsed.map_err(|()| CommandError::usage(self))
    }
}

/// A command's arguments: space-separated words (runs of spaces count as
/// one), or the rest of the line without the spaces that start it.
struct Arguments<'a> {
    rest: &'a str,
}

impl<'a> Arguments<'a> {
    fn new(rest: &'a str) -> Arguments<'a> {
        Arguments {
            rest: rest.trim_start_matches(' '),
        }
    }

    fn words(&self) -> impl Iterator<Item = &'a str> {
        self.rest.split(' ').filter(|word| !word.is_empty())
    }

    fn none(&self, command: Command) -> Result<Command, ()> {
        match self.words().next() {
            None => Ok(command),
            Some(_) => Err(()),
        }
    }

    fn one(&self) -> Result<String, ()> {
        let mut words = self.words();
        match (words.next(), words.next()) {
            (Some(word), None) => Ok(word.to_owned()),
            _ => Err(()),
        }
    }

    fn optional(&self) -> Result<Option<String>, ()> {
        let mut words = self.words();
        match (words.next(), words.next()) {
            (None, _) => Ok(None),
            (Some(word), None) => Ok(Some(word.to_owned())),
            _ => Err(()),
        }
    }

    /// The rest of the line, sanitised; required.
    fn text(&self) -> Result<Arc<str>, ()> {
        self.optional_text().ok_or(())
    }

    /// The rest of the line, sanitised; `None` if there is none.
    fn optional_text(&self) -> Option<Arc<str>> {
        (!self.rest.is_empty()).then(|| Arc::from(sanitize(self.rest)))
    }

    /// A user name, then optional text.
    fn user_and_text(&self) -> Result<(String, Option<Arc<str>>), ()> {
        let (name, text) = self.rest.split_once(' ').unwrap_or((self.rest, ""));
        if name.is_empty() {
            return Err(());
        }
        Ok((name.to_owned(), Arguments::new(text).optional_text()))
    }

    /// The rest of the line, as typed: a passphrase may hold spaces.
    fn secret(&self) -> Result<Secret, ()> {
        if self.rest.is_empty() {
            Err(())
        } else {
            Ok(Secret::new(self.rest))
        }
    }

    fn two_secrets(&self) -> Result<(Secret, Secret), ()> {
        let mut words = self.words();
        match (words.next(), words.next(), words.next()) {
            (Some(old), Some(new), None) => Ok((Secret::new(old), Secret::new(new))),
            _ => Err(()),
        }
    }
}
