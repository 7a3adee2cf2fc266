//! Both parsers on arbitrary text: client lines never panic and relay only
//! sanitised text (messages, tokens, `/me`, reasons, topics; passwords are
//! taken as typed and never relayed); a server line that parses formats
//! back to itself.
#![no_main]

use common::{Command, Input, ServerLine, is_forbidden, parse_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match parse_input(text) {
        Input::Text { text, .. } => assert!(!text.chars().any(is_forbidden)),
        Input::Command(Ok(Command::Ping(Some(token)))) => {
            assert!(!token.chars().any(is_forbidden) && !token.contains(' '));
        }
        Input::Command(Ok(
            Command::Me(text)
            | Command::Away(Some(text))
            | Command::Topic(Some(text))
            | Command::Kick(_, Some(text)),
        )) => assert!(!text.chars().any(is_forbidden)),
        Input::Command(_) => {}
    }
    // The server never sends CR or LF inside a line, so only such lines are
    // expected to survive a round trip.
    if !text.contains(['\r', '\n']) {
        if let Ok(line) = ServerLine::parse(text) {
            assert_eq!(ServerLine::parse(&line.to_string()), Ok(line));
        }
    }
});
