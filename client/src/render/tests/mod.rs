//! Tests for the renderer: every tag, tables, and hostile text; the lines
//! and replies version 2 added, and the stored past, are in `v2.rs`;
//! mentions in `mentions.rs`; signing back in in `restoring.rs`.

mod mentions;
mod restoring;
mod v2;

use super::*;
use crate::layout::Layout;
use jiff::Zoned;

pub(super) const PLAIN: Layout = Layout {
    colour: false,
    width: None,
};

/// "Now" for the tests: 2024-05-01 12:00 UTC.
pub(super) fn now() -> Zoned {
    "2024-05-01T12:00:00+00:00[UTC]".parse().unwrap()
}

/// Feeds `lines` through a fresh state and renderer (as `me` after a
/// `WELCOME`, unless the first line is `HELLO` or `PASSWORD`) and returns
/// plain rows; the stamp of a row about now ("12:00 ") is cut off, a stamp
/// about the past is kept.
pub(super) fn show(lines: &[&str]) -> Vec<String> {
    let mut state = State::new();
    let mut renderer = Renderer::default();
    if !lines[0].starts_with("HELLO") && !lines[0].starts_with("PASSWORD") {
        state.apply(&ServerLine::parse("WELCOME me").unwrap());
    }
    let mut out = Vec::new();
    for raw in lines {
        let line = ServerLine::parse(raw).unwrap();
        state.apply(&line);
        for shown in renderer.render(&line, &state) {
            let stamp = stamp_of(shown.at_ms, &now());
            for row in PLAIN.rows(&stamp, &shown.line) {
                out.push(row.strip_prefix("12:00 ").unwrap_or(&row).to_owned());
            }
        }
    }
    out
}

/// Renders one line in `state` to plain rows with the "12:00" stamp.
pub(super) fn rows_in(state: &State, raw: &str) -> Vec<String> {
    let line = ServerLine::parse(raw).unwrap();
    Renderer::default()
        .render(&line, state)
        .iter()
        .flat_map(|shown| PLAIN.rows("00:00", &shown.line))
        .collect()
}

pub(super) fn check(lines: &[&str], expected: &[&str]) {
    assert_eq!(show(lines), expected, "input {lines:?}");
}

#[test]
fn every_tag_renders() {
    check(
        &["HELLO chinwag/2 type a name"],
        &[
            "-!- connected; choose a name: 1-24 letters, digits, '_' or '-', starting with a letter or digit",
        ],
    );
    check(
        &["WELCOME me"],
        &[
            "-!- welcome, me! /list shows who is here, /chat NAME asks someone, /join ROOM enters a room, /help lists all",
        ],
    );
    check(&["INFO   /list  who is on"], &["-i-   /list  who is on"]);
    check(&["OK help"], &[]);
    check(&["MSG B hello"], &["B: hello"]);
    check(&["ROOM lobby B hi"], &["[lobby] B: hi"]);
    check(
        &["REQUEST B"],
        &["-!- B wants to chat: type /accept B or /decline B"],
    );
    check(
        &["CHAT B"],
        &["-!- you are now chatting with B: type to talk, /leave to end"],
    );
    check(&["OK accept B"], &[]);
    check(
        &["OK chat B"],
        &["-!- asked B to chat; waiting for an answer (/cancel withdraws)"],
    );
    check(&["OK decline B"], &["-!- declined B's request"]);
    check(&["OK cancel B"], &["-!- withdrew your request to B"]);
    check(
        &["OK leave chat B"],
        &["-!- you left the chat with B; back at the menu"],
    );
    check(&["OK leave room r"], &["-!- you left #r; back at the menu"]);
    check(
        &["OK join r 1"],
        &["-!- you joined #r (nobody else is here yet): type to talk, /leave to go back"],
    );
    check(
        &["OK join r 3"],
        &["-!- you joined #r (2 other members): type to talk, /leave to go back"],
    );
    check(&["OK ping t1"], &["-!- pong t1"]);
    check(&["OK ping -"], &["-!- pong -"]);
    check(
        &["ENDED B left"],
        &["-!- B left the chat; back at the menu"],
    );
    check(
        &["ENDED B disconnected"],
        &["-!- B disconnected; chat over, back at the menu"],
    );
    check(
        &["DECLINED B declined"],
        &["-!- B declined your chat request"],
    );
    check(
        &["DECLINED B busy"],
        &["-!- B is now chatting or in a room; your request was dropped"],
    );
    check(
        &["DECLINED B disconnected"],
        &["-!- B disconnected; your request was dropped"],
    );
    check(
        &["CANCELLED B cancelled"],
        &["-!- B withdrew their chat request"],
    );
    check(
        &["CANCELLED B busy"],
        &["-!- B's chat request lapsed: they started another chat or joined a room"],
    );
    check(
        &["CANCELLED B disconnected"],
        &["-!- B's chat request lapsed: they disconnected"],
    );
    check(&["JOINED r B"], &["-!- B joined #r"]);
    check(&["PARTED r B left"], &["-!- B left #r"]);
    check(
        &["PARTED r B disconnected"],
        &["-!- B disconnected from #r"],
    );
    check(&["PARTED r B kicked"], &["-!- B was removed from #r"]);
    check(
        &["PASSWORD alice type the password"],
        &["-!- alice is a registered name: enter its password to sign in"],
    );
    check(&["ACTION - B waves"], &["* B waves"]);
    check(&["ACTION den B waves back"], &["[den] * B waves back"]);
    check(
        &["AWAY B lunch, back at 2"],
        &["-!- B is away: lunch, back at 2 (your request was delivered)"],
    );
    check(&["AWAY B"], &["-!- B is away (your request was delivered)"]);
    check(
        &["TOPIC den amy release on friday"],
        &["-!- topic of #den (set by amy): release on friday"],
    );
    check(&["TOPIC den -"], &["-!- #den has no topic"]);
    check(
        &["TOPIC den - old words"],
        &["-!- topic of #den: old words"],
    );
    check(&["OP den amy"], &["-!- amy is now the operator of #den"]);
    check(&["OP den ME"], &["-!- you are now the operator of #den"]);
    check(
        &["KICKED den amy too loud"],
        &["-!- you were removed from #den by amy: too loud; back at the menu"],
    );
    check(
        &["KICKED den amy"],
        &["-!- you were removed from #den by amy; back at the menu"],
    );
}

#[test]
fn errors_are_human() {
    check(
        &["ERR busy whatever the server says"],
        &["-!- that user is chatting or in a room; try later"],
    );
    check(
        &["ERR unknown-command"],
        &["-!- no such command; /help lists them"],
    );
}

#[test]
fn name_errors_name_the_name_and_mention_old_sessions() {
    let mut state = State::new();
    state.trying_name("alice");
    let line = ServerLine::parse("ERR name-taken x").unwrap();
    let rows = PLAIN.rows("00:00", &Renderer::default().render(&line, &state)[0].line);
    assert_eq!(
        rows,
        [
            "00:00 -!- the name alice is taken; if it was yours, the old session is freed within about 90 s. choose another name"
        ]
    );
}

#[test]
fn list_becomes_one_table_when_ok_arrives() {
    check(
        &[
            "USER bob chatting carol",
            "MSG carol hi",
            "USER me available -",
            "USER dave room Lobby",
            "OK list 3",
        ],
        &[
            "carol: hi",
            "-!- 3 users online:",
            "-!-   bob       chatting with carol",
            "-!-   me (you)  available",
            "-!-   dave      in room #Lobby",
        ],
    );
    check(&["OK list 0"], &["-!- 0 users online:"]);
}

#[test]
fn rooms_become_one_table() {
    check(
        &["ROOMINFO lobby 3", "ROOMINFO r 1", "OK rooms 2"],
        &[
            "-!- 2 rooms:",
            "-!-   #lobby  3 members",
            "-!-   #r      1 member",
        ],
    );
    check(
        &["OK rooms 0"],
        &["-!- no rooms yet; /join NAME creates one"],
    );
}

#[test]
fn escape_sequences_and_controls_are_neutralised() {
    let rows = show(&["MSG B \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\rhi\u{8}"]);
    assert_eq!(
        rows,
        ["B: \u{fffd}]0;pwned\u{fffd}\u{fffd}[2J\u{fffd}31m\u{fffd}hi\u{fffd}"]
    );
    for row in rows {
        assert!(!row.chars().any(|c| c.is_control()), "{row:?}");
    }
}

#[test]
fn bidi_and_invisible_format_characters_are_neutralised() {
    let hostile = "a\u{202e}b\u{2066}c\u{200e}d\u{200f}e\u{61c}f\u{2069}g\u{feff}h\u{2028}i";
    let rows = show(&[&format!("MSG B {hostile}")]);
    assert_eq!(
        rows,
        ["B: a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}f\u{fffd}g\u{fffd}h\u{fffd}i"]
    );
    // Also in names and rooms, should a server ever send them.
    let rows = show(&["ROOM r\u{202e}x B\u{200f} t"]);
    assert_eq!(rows, ["[r\u{fffd}x] B\u{fffd}: t"]);
}

#[test]
fn colours_never_reach_the_screen_from_the_network() {
    let layout = Layout {
        colour: true,
        width: None,
    };
    let mut state = State::new();
    state.apply(&ServerLine::parse("WELCOME me").unwrap());
    let line = ServerLine::parse("MSG B \u{1b}[31mred").unwrap();
    let rendered = Renderer::default().render(&line, &state);
    let row = layout.rows("00:00", &rendered[0].line).concat();
    // Our own SGR codes only: every ESC is followed by `[` and a code we emit.
    assert!(row.contains("\u{fffd}[31mred"));
    assert_eq!(row.matches('\u{1b}').count(), 4, "{row:?}");
}

#[test]
fn a_message_can_never_look_like_a_notice() {
    for text in [
        "INFO server restarting",
        "-!- server restarting",
        "-i- INFO",
        "ERR busy",
    ] {
        let rows = show(&[&format!("MSG bob {text}")]);
        assert_eq!(rows, [format!("bob: {text}")]);
    }
}

#[test]
fn padding_cannot_push_a_fake_sender_to_the_start_of_a_row() {
    let layout = Layout {
        colour: false,
        width: Some(80),
    };
    let mut state = State::new();
    state.apply(&ServerLine::parse("WELCOME me").unwrap());
    let text = format!("{}bob: send me your password", " ".repeat(300));
    let line = ServerLine::parse(&format!("MSG eve {text}")).unwrap();
    let rendered = Renderer::default().render(&line, &state);
    let rows = layout.rows("12:00", &rendered[0].line);
    assert!(rows.len() >= 4);
    assert!(rows[0].starts_with("12:00 eve: "));
    for row in &rows[1..] {
        assert!(row.starts_with("      \u{2506} "), "{row:?}");
        assert!(crate::layout::width(row) <= 80);
    }
    assert!(rows.last().unwrap().ends_with("bob: send me your password"));
}

#[test]
fn very_long_lines_are_kept_whole() {
    let text = "x".repeat(5000);
    let rows = show(&[&format!("MSG B {text}")]);
    assert_eq!(rows, [format!("B: {text}")]);
}

#[test]
fn unparsed_lines_are_marked_as_the_servers() {
    let rows = PLAIN.rows("00:00", &unparsed("FOO \u{1b}[2J bar"));
    assert_eq!(rows, ["00:00 -!- server said: FOO \u{fffd}[2J bar"]);
}

#[test]
fn own_name_is_styled_as_me() {
    let mut state = State::new();
    state.apply(&ServerLine::parse("WELCOME Me").unwrap());
    let line = ServerLine::parse("JOINED r me").unwrap();
    let rendered = Renderer::default().render(&line, &state);
    assert_eq!(rendered[0].line[1].style, Style::Me);
    let line = ServerLine::parse("JOINED r bob").unwrap();
    let rendered = Renderer::default().render(&line, &state);
    assert_eq!(rendered[0].line[1].style, Style::User("bob".into()));
}
