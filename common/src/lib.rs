//! The chinwag wire protocol, versions 1 and 2, as pure code: bytes in, typed values
//! out, and typed values back to bytes.
//!
//! # In scope
//!
//! * [`LineDecoder`]: telnet stripping, line framing, the length limit and
//!   UTF-8 checking, with state carried across arbitrary read boundaries.
//! * [`Input`] and [`Command`]: what a client line means, including menu
//!   aliases and `//` escaping.
//! * [`ServerLine`]: every line the server sends, with one formatter and one
//!   parser (the client and the tests use the parser).
//! * [`Name`]: the username and room-name rules, and [`sanitize()`] for text
//!   that is relayed to other users.
//!
//! # Out of scope
//!
//! Sockets, threads, clocks and logging. Nothing in this crate performs I/O,
//! so every rule of the protocol can be tested with plain function calls.
#![warn(missing_docs)]

mod command;
mod decode;
mod error;
mod line;
mod name;
mod sanitize;
mod secret;
pub mod telnet;

pub use command::{Args, Command, CommandError, Input, Parsed, Verb, parse_input};
pub use decode::{DEFAULT_MAX_LINE, Decoded, LineDecoder, WILL_ECHO, WONT_ECHO};
pub use error::ErrorCode;
pub use line::{
    ByeReason, CancelReason, DeclineReason, EndReason, HistoryKind, HistoryLine, LineParseError,
    OkReply, PartReason, ServerLine, Tag, UserState,
};
pub use name::{MAX_NAME_LEN, NAME_RULE, Name, NameError, fold};
pub use sanitize::{is_forbidden, sanitize};
pub use secret::Secret;

/// The protocol version announced in `HELLO`.
pub const PROTOCOL: &str = "chinwag/2";
