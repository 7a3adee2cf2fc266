//! Tests for `outage.rs` and the reconnect rules in `state.rs`: which
//! endings reconnect, what is remembered and said, and the steps of
//! signing back in and rejoining.

use common::Secret;

use super::*;
use crate::state::Input;

fn feed(state: &mut State, lines: &[&str]) -> Vec<Step> {
    lines
        .iter()
        .map(|line| {
            let line = ServerLine::parse(line).unwrap();
            state.apply(&line);
            step(state, &line).0
        })
        .collect()
}

/// A session that may reconnect, signed in as alice with `password`.
fn signed_in(password: Option<&str>) -> State {
    let mut state = State::new();
    state.reconnect = true;
    feed(&mut state, &["HELLO chinwag/2 hi"]);
    state.trying_name("alice");
    if let Some(password) = password {
        feed(&mut state, &["PASSWORD alice"]);
        state.keep_when_confirmed(Pending::SignIn(Secret::new(password)));
    }
    feed(&mut state, &["WELCOME alice"]);
    state
}

/// The words of what `step` said for `line`.
fn said(state: &mut State, line: &str) -> Vec<String> {
    let line = ServerLine::parse(line).unwrap();
    state.apply(&line);
    step(state, &line)
        .1
        .iter()
        .map(|line| line.iter().map(|span| span.text.as_str()).collect())
        .collect()
}

#[test]
fn only_some_endings_reconnect() {
    for (bye, again) in [
        ("BYE shutdown", true),
        ("BYE overload", true),
        ("BYE full", true),
        ("BYE replaced", false),
        ("BYE timeout", false),
        ("BYE refused", false),
        ("BYE exit", false),
    ] {
        let mut state = signed_in(None);
        feed(&mut state, &[bye]);
        state.close();
        let expected = if again { Place::Offline } else { Place::Closed };
        assert_eq!(state.place, expected, "{bye}");
    }
    let mut dropped = signed_in(None);
    dropped.close();
    assert_eq!(
        dropped.place,
        Place::Offline,
        "a connection that just drops"
    );
}

#[test]
fn never_after_our_own_exit_nor_without_reconnect() {
    let mut state = signed_in(None);
    state.leaving = true;
    feed(&mut state, &["BYE shutdown"]);
    assert_eq!(state.place, Place::Closed);
    let mut state = signed_in(None);
    state.reconnect = false;
    state.close();
    assert_eq!(state.place, Place::Closed);
    let mut state = signed_in(None);
    state.close();
    state.stop_reconnecting();
    state.close();
    assert_eq!(state.place, Place::Closed, "stopped stays stopped");
}

#[test]
fn a_room_is_rejoined_with_the_kept_password() {
    let mut state = signed_in(Some("pass word"));
    assert_eq!(state.password, Some(Secret::new("pass word")));
    feed(&mut state, &["OK join den 1", "REQUEST bob"]);
    feed(&mut state, &["BYE shutdown"]);
    state.close();
    assert_eq!(state.prompt(), "(reconnecting) #den> ");
    assert_eq!(state.input(), Input::Held);
    assert_eq!(state.me, None);

    let steps = feed(&mut state, &["HELLO chinwag/2 hi", "PASSWORD alice"]);
    assert_eq!(steps, [Step::Send("alice".into()), Step::SendPassword]);
    assert_eq!(state.password_source.as_deref(), Some(KEPT));
    assert_eq!(state.input(), Input::Held, "the user does not type it");
    let steps = feed(&mut state, &["WELCOME alice", "TOPIC den amy plans"]);
    assert_eq!(steps, [Step::Send("/join den".into()), Step::Nothing]);
    assert_eq!(state.prompt(), "(reconnecting) #den> ");
    assert_eq!(
        said(&mut state, "OK join den 2"),
        [
            "-!- reconnected as alice, back in #den",
            "-!- bob's chat request was lost when the connection dropped",
        ]
    );
    assert_eq!(state.outage, None);
    assert_eq!(state.prompt(), "#den> ");
    assert_eq!(state.input(), Input::Server);
    assert!(state.requests.is_empty());
}

#[test]
fn a_chat_cannot_be_restored_and_is_said_to_have_ended() {
    let mut state = signed_in(None);
    feed(&mut state, &["OK chat carol", "CHAT bob"]);
    state.close();
    assert_eq!(state.prompt(), "(reconnecting) chat:bob> ");
    feed(&mut state, &["HELLO chinwag/2 hi"]);
    assert_eq!(
        said(&mut state, "WELCOME alice"),
        [
            "-!- reconnected as alice",
            "-!- your chat with bob ended when the connection dropped",
        ]
    );
    assert_eq!(state.prompt(), "menu> ");
}

#[test]
fn an_outgoing_request_is_lost() {
    let mut state = signed_in(None);
    feed(&mut state, &["OK chat carol"]);
    state.close();
    feed(&mut state, &["HELLO chinwag/2 hi"]);
    let said = said(&mut state, "WELCOME alice");
    assert_eq!(
        said[1],
        "-!- your chat request to carol was lost when the connection dropped"
    );
}

#[test]
fn a_held_name_is_retried_then_given_up_to_the_user() {
    let mut state = signed_in(None);
    feed(&mut state, &["OK join den 1"]);
    state.close();
    let steps = feed(&mut state, &["HELLO chinwag/2 hi", "ERR name-taken"]);
    assert_eq!(steps, [Step::Send("alice".into()), Step::NameHeld]);
    state.retry_later();
    assert_eq!(state.place, Place::Offline);
    state.close();
    assert_eq!(state.place, Place::Offline, "our own close is not news");
    let steps = feed(&mut state, &["HELLO chinwag/2 hi", "ERR name-taken"]);
    assert_eq!(steps[1], Step::NameHeld);
    assert_eq!(state.give_up_name().as_deref(), Some("alice"));
    assert_eq!(state.prompt(), "name> ");
    assert_eq!(state.input(), Input::Server);
    // The user picks another name; the room is still rejoined.
    state.trying_name("alice2");
    let steps = feed(&mut state, &["WELCOME alice2"]);
    assert_eq!(steps, [Step::Send("/join den".into())]);
    assert_eq!(
        said(&mut state, "OK join den 1"),
        ["-!- reconnected as alice2, back in #den"]
    );
}

#[test]
fn without_a_kept_password_the_user_is_asked() {
    let mut state = signed_in(None);
    state.close();
    let steps = feed(&mut state, &["HELLO chinwag/2 hi", "PASSWORD alice"]);
    assert_eq!(steps, [Step::Send("alice".into()), Step::Nothing]);
    assert_eq!(state.prompt(), "password for alice: ");
    assert_eq!(state.input(), Input::Password);
}

#[test]
fn a_refused_kept_password_is_forgotten_and_the_user_takes_over() {
    let mut state = signed_in(Some("old password"));
    state.close();
    let steps = feed(&mut state, &["HELLO chinwag/2 hi", "PASSWORD alice"]);
    assert_eq!(steps[1], Step::SendPassword);
    feed(&mut state, &["ERR bad-password wrong"]);
    assert_eq!(state.password, None);
    assert_eq!(state.prompt(), "name> ");
    assert_eq!(state.input(), Input::Server);
}

#[test]
fn a_room_that_cannot_be_rejoined_is_said() {
    let mut state = signed_in(None);
    feed(&mut state, &["OK join den 1"]);
    state.close();
    feed(&mut state, &["HELLO chinwag/2 hi", "WELCOME alice"]);
    assert_eq!(
        said(&mut state, "ERR banned"),
        ["-!- reconnected as alice", "-!- could not rejoin #den"]
    );
    assert_eq!(state.prompt(), "menu> ");
}

#[test]
fn dropped_while_choosing_a_name_comes_back_to_choosing() {
    let mut state = State::new();
    state.reconnect = true;
    feed(&mut state, &["HELLO chinwag/2 hi"]);
    state.close();
    assert_eq!(state.prompt(), "(reconnecting) name> ");
    assert_eq!(
        said(&mut state, "HELLO chinwag/2 hi"),
        ["-!- reconnected; choose a name"]
    );
    assert_eq!(state.prompt(), "name> ");
}

#[test]
fn new_passwords_are_kept_once_confirmed() {
    let mut state = signed_in(None);
    state.keep_when_confirmed(Pending::Command(Secret::new("first one")));
    feed(&mut state, &["ERR weak-password"]);
    assert_eq!(state.password, None);
    feed(&mut state, &["OK register alice"]);
    assert_eq!(state.password, None, "the refused one is not kept");
    state.keep_when_confirmed(Pending::Command(Secret::new("second one")));
    feed(&mut state, &["OK register alice"]);
    assert_eq!(state.password, Some(Secret::new("second one")));
    state.keep_when_confirmed(Pending::Command(Secret::new("third one")));
    feed(&mut state, &["OK password"]);
    assert_eq!(state.password, Some(Secret::new("third one")));
    feed(&mut state, &["OK unregister alice"]);
    assert_eq!(state.password, None);
}
