//! Mentions and the bell, pure. A room line or an action (live or from a
//! room's past) that contains your name as a word, in any case, is a
//! mention: `alice` is found in "hi Alice!" and "@alice" but not in
//! "malice" or "alice_b", because a name's own characters (`A-Za-z0-9_-`)
//! may not touch it on either side. Your own lines never mention you.
//!
//! The bell rings, once per line, for a live mention, for an incoming
//! chat request, and for a one-to-one message or action unless the prompt
//! on screen is already that chat; never for a room's past. Whether the
//! prompt on screen is that chat is only known where the row is printed,
//! so a [`Ring`] says what to compare and the printer decides.

use std::ops::Range;

use common::ServerLine;

use crate::state::State;

/// When to ring the terminal bell for a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ring {
    /// Ring.
    Always,
    /// Ring unless the prompt on screen is the chat with this user.
    UnlessChattingWith(String),
}

impl Ring {
    /// Whether to ring when the prompt on screen is `shown`.
    pub(crate) fn rings(&self, shown: &str) -> bool {
        match self {
            Ring::Always => true,
            Ring::UnlessChattingWith(partner) => {
                !shown.eq_ignore_ascii_case(&format!("chat:{partner}> "))
            }
        }
    }
}

/// Whether `c` may be part of a name, so cannot border a mention.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The byte ranges where `name` occurs in `text` as a word, ignoring
/// ASCII case (names are ASCII, so a match is ASCII too and its bounds
/// are character boundaries).
pub(crate) fn find(text: &str, name: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    if name.is_empty() {
        return found;
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    while at + name.len() <= bytes.len() {
        let end = at + name.len();
        // Only an ASCII match is looked around, so `end` is a boundary.
        let is_word = bytes[at..end].eq_ignore_ascii_case(name.as_bytes())
            && text[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !is_name_char(c))
            && text[end..].chars().next().is_none_or(|c| !is_name_char(c));
        if is_word {
            found.push(at..end);
            at = end;
        } else {
            // Step to the next character boundary.
            at += text[at..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// Whether `text`, said by `from`, mentions `me`.
pub(crate) fn mentions(text: &str, from: &str, me: Option<&str>) -> bool {
    me.is_some_and(|me| !from.eq_ignore_ascii_case(me) && !find(text, me).is_empty())
}

/// Whether `line`, which `state` already includes, rings the bell.
pub(crate) fn ring(line: &ServerLine, state: &State) -> Option<Ring> {
    let me = state.me.as_deref();
    match line {
        ServerLine::Request(_) => Some(Ring::Always),
        ServerLine::Msg(from, _) | ServerLine::Action(None, from, _) => {
            Some(Ring::UnlessChattingWith(from.to_string()))
        }
        ServerLine::Room(_, from, text) | ServerLine::Action(Some(_), from, text)
            if mentions(text, from, me) =>
        {
            Some(Ring::Always)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `name` was found in `text`, as (start, end) pairs.
    fn at(text: &str, name: &str) -> Vec<(usize, usize)> {
        find(text, name)
            .into_iter()
            .map(|r| (r.start, r.end))
            .collect()
    }

    #[test]
    fn a_name_is_found_as_a_word_in_any_case() {
        assert_eq!(at("hi Alice!", "alice"), [(3, 8)]);
        assert_eq!(at("@alice", "alice"), [(1, 6)]);
        assert_eq!(at("alice", "alice"), [(0, 5)]);
        assert_eq!(at("ALICE, alice.", "alice"), [(0, 5), (7, 12)]);
        assert_eq!(at("«alice»", "alice"), [(2, 7)]);
        assert_eq!(at("é alice", "alice"), [(3, 8)]);
        assert_eq!(at("日本alice", "alice"), [(6, 11)]);
        assert!(find("see you \u{fffd}[2J", "alice").is_empty());
    }

    #[test]
    fn a_name_inside_a_longer_name_is_not_a_mention() {
        for text in [
            "malice", "alice_b", "alice-b", "alice2", "xalice", "alic", "",
        ] {
            assert!(find(text, "alice").is_empty(), "{text:?}");
        }
        assert_eq!(at("malice alice", "alice"), [(7, 12)]);
    }

    #[test]
    fn own_lines_never_mention() {
        assert!(mentions("hi alice", "bob", Some("alice")));
        assert!(!mentions("hi alice", "Alice", Some("alice")));
        assert!(!mentions("hi alice", "bob", None));
        assert!(!mentions("hi malice", "bob", Some("alice")));
    }

    fn state() -> State {
        let mut state = State::new();
        state.apply(&ServerLine::parse("WELCOME alice").unwrap());
        state
    }

    fn ring_of(line: &str) -> Option<Ring> {
        ring(&ServerLine::parse(line).unwrap(), &state())
    }

    #[test]
    fn requests_mentions_and_one_to_one_lines_ring() {
        assert_eq!(ring_of("REQUEST bob"), Some(Ring::Always));
        assert_eq!(ring_of("ROOM den bob hi @alice"), Some(Ring::Always));
        assert_eq!(ring_of("ACTION den bob pokes Alice"), Some(Ring::Always));
        let chat = Some(Ring::UnlessChattingWith("bob".into()));
        assert_eq!(ring_of("MSG bob hi"), chat);
        assert_eq!(ring_of("ACTION - bob waves"), chat);
        assert_eq!(ring_of("ROOM den bob hi malice"), None);
        assert_eq!(ring_of("JOINED den alice"), None);
        assert_eq!(ring_of("HISTORY den 1 msg bob hi alice"), None);
    }

    #[test]
    fn a_chat_line_rings_only_when_the_prompt_is_elsewhere() {
        let ring = Ring::UnlessChattingWith("Bob".into());
        assert!(!ring.rings("chat:bob> "));
        assert!(ring.rings("menu> "));
        assert!(ring.rings("chat:bobby> "));
        assert!(Ring::Always.rings("#den> "));
    }
}
