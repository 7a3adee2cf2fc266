//! What signing back in after a lost connection looks like: one line on
//! connecting, the greeting and menu left out, a held name explained, a
//! kept password announced, and `BYE replaced` saying it will not
//! reconnect.

use super::*;
use crate::state::Pending;

/// Rows for `lines`, fed to a session of alice that may reconnect and
/// lost its connection in #den; `password` is the one kept.
fn after_the_loss(password: Option<&str>, lines: &[&str]) -> Vec<String> {
    let mut state = State::new();
    state.reconnect = true;
    state.apply(&ServerLine::parse("HELLO chinwag/2 hi").unwrap());
    if let Some(password) = password {
        state.apply(&ServerLine::parse("PASSWORD alice").unwrap());
        state.keep_when_confirmed(Pending::SignIn(common::Secret::new(password)));
    }
    state.apply(&ServerLine::parse("WELCOME alice").unwrap());
    state.apply(&ServerLine::parse("OK join den 1").unwrap());
    state.close();
    let mut renderer = Renderer::default();
    let mut out = Vec::new();
    for raw in lines {
        let line = ServerLine::parse(raw).unwrap();
        state.apply(&line);
        for shown in renderer.render(&line, &state) {
            out.extend(PLAIN.rows("12:00", &shown.line));
        }
        // What `Feed` does after rendering.
        let (_, said) = crate::outage::step(&mut state, &line);
        for line in said {
            out.extend(PLAIN.rows("12:00", &line));
        }
    }
    out.iter()
        .map(|row| row.trim_start_matches("12:00 ").to_owned())
        .collect()
}

#[test]
fn signing_back_in_is_brief() {
    assert_eq!(
        after_the_loss(
            Some("pass word"),
            &[
                "HELLO chinwag/2 type a name",
                "PASSWORD alice type it",
                "WELCOME alice",
                "INFO hello alice; 1 other user is online",
                "INFO menu: 1 = list users",
                "OK join den 2",
            ]
        ),
        [
            "-!- connected again; signing in as alice",
            "-!- alice is registered: signing in with the password from earlier in this session",
            "-!- you joined #den (1 other member): type to talk, /leave to go back",
            "-!- reconnected as alice, back in #den",
        ]
    );
}

#[test]
fn a_held_name_is_explained() {
    assert_eq!(
        after_the_loss(None, &["HELLO chinwag/2 hi", "ERR name-taken taken"]),
        [
            "-!- connected again; signing in as alice",
            "-!- alice is still held by your old session; the server frees it within about 90 s",
        ]
    );
}

#[test]
fn without_a_kept_password_the_prompt_is_explained_as_usual() {
    assert_eq!(
        after_the_loss(None, &["HELLO chinwag/2 hi", "PASSWORD alice"]),
        [
            "-!- connected again; signing in as alice",
            "-!- alice is a registered name: enter its password to sign in",
        ]
    );
}

#[test]
fn a_refused_kept_password_names_where_it_came_from() {
    let rows = after_the_loss(
        Some("old one"),
        &[
            "HELLO chinwag/2 hi",
            "PASSWORD alice",
            "ERR bad-password no",
        ],
    );
    assert_eq!(
        rows[2],
        "-!- wrong password for alice (the one from earlier in this session, which will not be sent again); choose a name again"
    );
}
