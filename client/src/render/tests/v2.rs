//! Version 2 in the renderer: every BYE reason, the new replies and
//! errors, `/ignores`, and a room's stored past.

use super::{check, rows_in};
use crate::layout::Style;
use crate::render::Renderer;
use crate::state::State;
use common::ServerLine;

#[test]
fn every_bye_reason_has_its_own_words() {
    check(
        &["BYE exit goodbye"],
        &["-!- the server closed the connection"],
    );
    check(
        &["BYE shutdown"],
        &["-!- the server is shutting down; disconnected"],
    );
    check(
        &["BYE replaced"],
        &["-!- you signed in from somewhere else; this session ended and will not reconnect"],
    );
    check(
        &["BYE overload"],
        &["-!- the server cut this connection off: it could not keep up with what was sent to it"],
    );
    check(
        &["BYE timeout"],
        &["-!- the server closed the connection: no name was chosen in time"],
    );
    check(&["BYE full"], &["-!- the server is full; try again later"]);
    check(
        &["BYE refused"],
        &["-!- too many wrong passwords; the server closed the connection"],
    );
    let mut state = State::new();
    state.leaving = true;
    assert_eq!(
        rows_in(&state, "BYE exit"),
        ["00:00 -!- disconnected. bye!"]
    );
}

#[test]
fn version_two_replies_confirm_briefly() {
    check(
        &["OK register me"],
        &["-!- me is now registered to you: only your password can take it"],
    );
    check(&["OK password"], &["-!- your password is changed"]);
    check(
        &["OK unregister me"],
        &["-!- me is no longer registered: anyone can take it once you leave"],
    );
    check(
        &["OK away"],
        &["-!- you are marked away: whoever asks you to chat is told so (/back ends it)"],
    );
    check(&["OK back"], &["-!- you are back: no longer marked away"]);
    check(
        &["OK ignore B"],
        &["-!- you now ignore B: nothing they send reaches you (/unignore B undoes it)"],
    );
    check(&["OK unignore B"], &["-!- you no longer ignore B"]);
    check(
        &["TOPIC r me new", "OK topic"],
        &["-!- topic of #r (set by me): new"],
    );
    check(
        &["OK join den 2", "PARTED den B kicked", "OK kick B"],
        &[
            "-!- you joined #den (1 other member): type to talk, /leave to go back",
            "-!- B was removed from #den",
            "-!- you removed B from #den",
        ],
    );
    check(
        &["OK join den 2", "OK ban B"],
        &[
            "-!- you joined #den (1 other member): type to talk, /leave to go back",
            "-!- B is banned from #den for as long as it exists",
        ],
    );
}

#[test]
fn ignores_become_one_table() {
    check(
        &["IGNORING bob", "IGNORING carol", "OK ignores 2"],
        &["-!- you ignore 2 users:", "-!-   bob", "-!-   carol"],
    );
    check(
        &["IGNORING bob", "OK ignores 1"],
        &["-!- you ignore 1 user:", "-!-   bob"],
    );
    check(
        &["OK ignores 0"],
        &["-!- you ignore nobody; /ignore NAME stops someone reaching you"],
    );
}

#[test]
fn a_rooms_past_is_stamped_and_fenced_off() {
    // 2024-05-01 11:58 UTC, then 2024-04-30 09:05 UTC, then 2023-12-31.
    let today = 1_714_564_680_000_u64;
    let yesterday = 1_714_467_900_000_u64;
    let last_year = 1_704_020_400_000_u64;
    check(
        &[
            &format!("HISTORY den {last_year} msg amy happy new year"),
            &format!("HISTORY den {yesterday} action bob waves"),
            &format!("HISTORY den {today} msg amy see you \u{1b}[2J"),
            "TOPIC den amy plans",
            "OK join den 2",
            "ROOM den amy live now",
        ],
        &[
            "── earlier in #den ──",
            "2023-12-31 11:00 [den] amy: happy new year",
            "Apr 30 09:05 [den] * bob waves",
            "11:58 [den] amy: see you \u{fffd}[2J",
            "── now ──",
            "-!- topic of #den (set by amy): plans",
            "-!- you joined #den (1 other member): type to talk, /leave to go back",
            "[den] amy: live now",
        ],
    );
}

#[test]
fn the_past_is_faint() {
    let mut state = State::new();
    state.apply(&ServerLine::parse("WELCOME me").unwrap());
    let line = ServerLine::parse("HISTORY den 1 msg amy hi").unwrap();
    let shown = Renderer::default().render(&line, &state);
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[1].at_ms, Some(1));
    for shown in &shown {
        for piece in &shown.line {
            assert_eq!(piece.style, Style::Faint, "{piece:?}");
        }
    }
}

#[test]
fn new_errors_are_human() {
    check(
        &["ERR registered"],
        &["-!- your name is registered already (/password OLD NEW changes the password)"],
    );
    check(
        &["ERR not-registered"],
        &["-!- your name is not registered; /register PASSWORD reserves it"],
    );
    check(
        &["ERR weak-password"],
        &["-!- a password needs 8 to 128 characters (spaces are fine); nothing was changed"],
    );
    check(
        &["ERR bad-password"],
        &["-!- wrong password; nothing was changed"],
    );
    check(&["ERR try-later"], &["-!- not now; try again in a minute"]);
    check(
        &["ERR not-in-room"],
        &["-!- you are not in a room; /join ROOM first"],
    );
    check(
        &["ERR not-operator"],
        &["-!- only the room's operator can do that"],
    );
    check(&["ERR banned"], &["-!- you are banned from that room"]);
    check(
        &["PASSWORD alice", "ERR bad-password"],
        &[
            "-!- alice is a registered name: enter its password to sign in",
            "-!- wrong password for alice; choose a name again",
        ],
    );
    let mut state = State::new();
    state.apply(&ServerLine::parse("PASSWORD alice").unwrap());
    state.sending_preset("CHINWAG_PASSWORD");
    state.apply(&ServerLine::parse("ERR bad-password").unwrap());
    assert_eq!(
        rows_in(&state, "ERR bad-password"),
        [
            "00:00 -!- wrong password for alice (the one from CHINWAG_PASSWORD, which will not be sent again); choose a name again"
        ]
    );
    let mut state = State::new();
    state.trying_name("alice");
    assert_eq!(
        rows_in(&state, "ERR try-later"),
        [
            "00:00 -!- too many password attempts for alice just now; wait a minute, then choose a name again"
        ]
    );
}
