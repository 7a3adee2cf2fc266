//! The protocol's error codes: stable lower-case words for programs, each with
//! one line of prose for people.

use std::fmt;
use std::str::FromStr;

/// Declares the error codes, each once: variant, wire word, prose.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $word:literal, $prose:expr;)+) => {
        /// An `ERR` code. The set is part of the protocol; the prose is not.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the protocol's order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as sent after `ERR`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $word,)+
                }
            }

            /// The default prose: what went wrong and what to do.
            pub fn message(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $prose,)+
                }
            }
        }
    };
}

error_codes! {
    /// The username is taken (case-insensitively).
    NameTaken = "name-taken",
        "that name is in use (if it was yours, the old session frees it within about 90 s); try another";
    /// A malformed user or room name.
    NameInvalid = "name-invalid", concat!("names are ", crate::name_rule!());
    /// A line starting with `/` that names no command.
    UnknownCommand = "unknown-command", "no such command; /help lists them";
    /// Missing or extra arguments.
    Usage = "usage", "wrong arguments; /help shows how to use each command";
    /// The named user is not online.
    NoSuchUser = "no-such-user", "nobody of that name is online; /list shows who is";
    /// The command names its own sender.
    SelfTarget = "self", "that is you";
    /// The other user is not available.
    Busy = "busy", "that user is chatting or in a room; try later";
    /// The sender is chatting or in a room.
    NotAvailable = "not-available", "you are chatting or in a room; /leave first";
    /// A message, or `/leave`, while not in a chat or room.
    NotInChat = "not-in-chat", "you are not in a chat or a room; /help shows the menu";
    /// Nothing to accept, decline or cancel.
    NoRequest = "no-request", "there is no such request";
    /// The line was longer than the server's limit.
    TooLong = "too-long", "line too long; it was discarded";
    /// The line was not valid UTF-8.
    BadEncoding = "bad-encoding", "line is not valid UTF-8; it was discarded";
    /// The server holds as many connections as it allows.
    ServerFull = "server-full", "the server is full; try again later";
    /// `/register` for a name that is registered already.
    Registered = "registered", "this name is registered already";
    /// `/password` or `/unregister` for a name that is not registered.
    NotRegistered = "not-registered", "this name is not registered; /register PASSWORD reserves it";
    /// A new password under 8 characters or over 128 bytes.
    WeakPassword = "weak-password", "a password needs 8 to 128 characters (spaces allowed)";
    /// The password is wrong.
    BadPassword = "bad-password", "wrong password";
    /// Too many attempts for now (password checks, or the cluster is
    /// unreachable); nothing was done.
    TryLater = "try-later", "not now; try again in a minute";
    /// A room command outside a room.
    NotInRoom = "not-in-room", "you are not in a room";
    /// A room command only the room's operator may use.
    NotOperator = "not-operator", "only the room's operator can do that";
    /// Banned from the room.
    Banned = "banned", "you are banned from that room";
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
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_prose() {
        for &code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
            assert!(!code.message().is_empty() && !code.message().ends_with('.'));
        }
        assert_eq!("nope".parse::<ErrorCode>(), Err(()));
        assert_eq!("Busy".parse::<ErrorCode>(), Err(()));
    }
}
