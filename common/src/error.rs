//! The protocol's error codes: stable lower-case words for programs, each with
//! one line of prose for people.

use std::fmt;
use std::str::FromStr;

/// An `ERR` code. The set is part of the protocol; the prose is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The username is taken (case-insensitively).
    NameTaken,
    /// A malformed user or room name.
    NameInvalid,
    /// A line starting with `/` that names no command.
    UnknownCommand,
    /// Missing or extra arguments.
    Usage,
    /// The named user is not online.
    NoSuchUser,
    /// The command names its own sender.
    SelfTarget,
    /// The other user is not available.
    Busy,
    /// The sender is chatting or in a room.
    NotAvailable,
    /// A message, or `/leave`, while not in a chat or room.
    NotInChat,
    /// Nothing to accept, decline or cancel.
    NoRequest,
    /// The line was longer than the server's limit.
    TooLong,
    /// The line was not valid UTF-8.
    BadEncoding,
    /// The server holds as many connections as it allows.
    ServerFull,
}

impl ErrorCode {
    /// Every code, in the protocol's order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::NameTaken,
        ErrorCode::NameInvalid,
        ErrorCode::UnknownCommand,
        ErrorCode::Usage,
        ErrorCode::NoSuchUser,
        ErrorCode::SelfTarget,
        ErrorCode::Busy,
        ErrorCode::NotAvailable,
        ErrorCode::NotInChat,
        ErrorCode::NoRequest,
        ErrorCode::TooLong,
        ErrorCode::BadEncoding,
        ErrorCode::ServerFull,
    ];

    /// The code as sent after `ERR`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NameTaken => "name-taken",
            ErrorCode::NameInvalid => "name-invalid",
            ErrorCode::UnknownCommand => "unknown-command",
            ErrorCode::Usage => "usage",
            ErrorCode::NoSuchUser => "no-such-user",
            ErrorCode::SelfTarget => "self",
            ErrorCode::Busy => "busy",
            ErrorCode::NotAvailable => "not-available",
            ErrorCode::NotInChat => "not-in-chat",
            ErrorCode::NoRequest => "no-request",
            ErrorCode::TooLong => "too-long",
            ErrorCode::BadEncoding => "bad-encoding",
            ErrorCode::ServerFull => "server-full",
        }
    }

    /// The default prose: what went wrong and what to do.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::NameTaken => {
                "that name is in use (if it was yours, the old session frees it within about 90 s); try another"
            }
            ErrorCode::NameInvalid => {
                "names are 1-24 letters, digits, '_' or '-', starting with a letter or digit"
            }
            ErrorCode::UnknownCommand => "no such command; /help lists them",
            ErrorCode::Usage => "wrong arguments; /help shows how to use each command",
            ErrorCode::NoSuchUser => "nobody of that name is online; /list shows who is",
            ErrorCode::SelfTarget => "that is you",
            ErrorCode::Busy => "that user is chatting or in a room; try later",
            ErrorCode::NotAvailable => "you are chatting or in a room; /leave first",
            ErrorCode::NotInChat => "you are not in a chat or a room; /help shows the menu",
            ErrorCode::NoRequest => "there is no such request",
            ErrorCode::TooLong => "line too long; it was discarded",
            ErrorCode::BadEncoding => "line is not valid UTF-8; it was discarded",
            ErrorCode::ServerFull => "the server is full; try again later",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = ();

    fn from_str(text: &str) -> Result<ErrorCode, ()> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_prose() {
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
            assert!(!code.message().is_empty() && !code.message().ends_with('.'));
        }
        assert_eq!("nope".parse::<ErrorCode>(), Err(()));
        assert_eq!("Busy".parse::<ErrorCode>(), Err(()));
    }
}
