//! Mentions of your name: highlighted in room lines, actions and a room's
//! past, as a word only, never in your own lines or one-to-one messages,
//! and never with colours off.

use super::*;

/// The spans of `raw` rendered for `me`, as (text, is it highlighted).
fn spans(me: &str, raw: &str) -> Vec<(String, bool)> {
    let mut state = State::new();
    state.apply(&ServerLine::parse(&format!("WELCOME {me}")).unwrap());
    let line = ServerLine::parse(raw).unwrap();
    state.apply(&line);
    Renderer::default()
        .render(&line, &state)
        .into_iter()
        .flat_map(|shown| shown.line)
        .map(|piece| (piece.text, piece.style == Style::Mention))
        .collect()
}

/// Just the highlighted texts.
fn highlighted(me: &str, raw: &str) -> Vec<String> {
    spans(me, raw)
        .into_iter()
        .filter(|(_, marked)| *marked)
        .map(|(text, _)| text)
        .collect()
}

#[test]
fn a_room_line_that_names_you_highlights_the_name() {
    assert_eq!(highlighted("alice", "ROOM den bob hi Alice!"), ["Alice"]);
    assert_eq!(
        highlighted("alice", "ROOM den bob @alice and ALICE"),
        ["alice", "ALICE"]
    );
    assert_eq!(
        highlighted("alice", "ACTION den bob pokes alice"),
        ["alice"]
    );
    assert_eq!(highlighted("alice", "ACTION - bob pokes alice"), ["alice"]);
    let text: String = spans("alice", "ROOM den bob hi Alice!")
        .into_iter()
        .map(|(text, _)| text)
        .collect();
    assert_eq!(text, "[den] bob: hi Alice!");
}

#[test]
fn only_whole_words_of_someone_else_count() {
    for raw in [
        "ROOM den bob malice",
        "ROOM den bob alice_b and alice-b",
        "ROOM den Alice I said alice",
        "ACTION den ALICE waves at alice",
        "MSG bob hi alice",
        "ROOM den bob nobody here",
    ] {
        assert!(highlighted("alice", raw).is_empty(), "{raw}");
    }
}

#[test]
fn a_mention_in_the_past_is_highlighted_too() {
    assert_eq!(
        highlighted("alice", "HISTORY den 1 msg bob see you alice"),
        ["alice"]
    );
    assert!(highlighted("alice", "HISTORY den 1 msg alice I am alice").is_empty());
}

#[test]
fn a_mention_is_bold_reverse_with_colours_and_unmarked_without() {
    let mut state = State::new();
    state.apply(&ServerLine::parse("WELCOME alice").unwrap());
    let line = ServerLine::parse("ROOM den bob hi alice!").unwrap();
    let shown = Renderer::default().render(&line, &state);
    let colour = Layout {
        colour: true,
        width: None,
    };
    let row = colour.rows("00:00", &shown[0].line).concat();
    assert!(row.contains("\u{1b}[1;7malice\u{1b}[0m!"), "{row:?}");
    assert_eq!(
        PLAIN.rows("00:00", &shown[0].line),
        ["00:00 [den] bob: hi alice!"]
    );
}
