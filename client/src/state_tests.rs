//! Tests for `state.rs`: the prompt follows the server, requests,
//! snapshots, signing in, kicks and ignores.

use super::*;

fn feed(state: &mut State, lines: &[&str]) {
    for line in lines {
        state.apply(&ServerLine::parse(line).unwrap());
    }
}

#[test]
fn prompt_follows_the_server() {
    let mut state = State::new();
    assert_eq!(state.prompt(), "name> ");
    feed(&mut state, &["HELLO chinwag/2 pick", "WELCOME Alice"]);
    assert_eq!(state.prompt(), "menu> ");
    feed(&mut state, &["REQUEST Bob", "CHAT Bob", "OK accept Bob"]);
    assert_eq!(state.prompt(), "chat:Bob> ");
    assert!(state.requests.is_empty());
    feed(&mut state, &["ENDED Bob left"]);
    assert_eq!(state.prompt(), "menu> ");
    feed(&mut state, &["OK join Lobby 3"]);
    assert_eq!(state.prompt(), "#Lobby> ");
    feed(&mut state, &["OK leave room Lobby"]);
    assert_eq!(state.prompt(), "menu> ");
    feed(&mut state, &["BYE shutdown"]);
    assert_eq!(state.place, Place::Closed);
}

#[test]
fn signing_in_asks_for_a_password_and_a_wrong_one_goes_back_to_naming() {
    let mut state = State::new();
    feed(&mut state, &["HELLO chinwag/2 hi"]);
    state.trying_name("alice");
    feed(&mut state, &["PASSWORD alice type it"]);
    assert_eq!(state.place, Place::Password("alice".into()));
    assert_eq!(state.prompt(), "password for alice: ");
    state.sending_password();
    feed(&mut state, &["ERR bad-password wrong"]);
    assert_eq!(state.place, Place::Naming);
    assert!(state.refused_password);
    feed(&mut state, &["PASSWORD alice again"]);
    state.sending_password();
    assert!(!state.refused_password);
    // A line too long leaves the server waiting for the password.
    feed(&mut state, &["ERR too-long"]);
    assert_eq!(state.place, Place::Password("alice".into()));
    feed(&mut state, &["WELCOME alice"]);
    assert_eq!(state.place, Place::Menu);
    assert_eq!(state.password_for, None);
    // Once named, a wrong password (to /password) changes no place.
    feed(&mut state, &["ERR bad-password"]);
    assert_eq!(state.place, Place::Menu);
}

#[test]
fn kicked_goes_back_to_the_menu() {
    let mut state = State::new();
    feed(&mut state, &["WELCOME me", "OK join Den 2"]);
    assert_eq!(state.prompt(), "#Den> ");
    feed(&mut state, &["OP den amy", "TOPIC den amy hi"]);
    assert_eq!(state.place, Place::Room("Den".into()));
    feed(&mut state, &["KICKED den amy enough"]);
    assert_eq!(state.place, Place::Menu);
    assert_eq!(state.users().collect::<Vec<_>>(), ["amy", "me"]);
}

#[test]
fn ignored_names_follow_the_replies() {
    let mut state = State::new();
    feed(&mut state, &["WELCOME me", "IGNORING Zed", "IGNORING bob"]);
    assert_eq!(state.ignored().count(), 0);
    feed(&mut state, &["OK ignores 2"]);
    assert_eq!(state.ignored().collect::<Vec<_>>(), ["bob", "Zed"]);
    feed(&mut state, &["OK unignore BOB", "OK ignore carol"]);
    assert_eq!(state.ignored().collect::<Vec<_>>(), ["carol", "Zed"]);
}

#[test]
fn naming_answers_end_the_wait() {
    let mut state = State::new();
    for answer in [
        "WELCOME a",
        "PASSWORD a",
        "ERR name-taken",
        "OK help",
        "BYE timeout",
    ] {
        state.awaiting_answer = true;
        feed(&mut state, &["INFO menu"]);
        assert!(state.awaiting_answer, "INFO is not an answer");
        feed(&mut state, &[answer]);
        assert!(!state.awaiting_answer, "{answer}");
    }
}

#[test]
fn leaving_is_a_clean_exit_after_bye_or_our_own_hang_up() {
    let mut state = State::new();
    assert_eq!(state.exit_status(), 1);
    state.leaving = true;
    assert_eq!(state.exit_status(), 1);
    state.hung_up = true;
    assert_eq!(state.exit_status(), 0);
    let mut state = State::new();
    feed(&mut state, &["BYE exit"]);
    assert_eq!(state.exit_status(), 1, "a BYE we did not ask for");
    state.leaving = true;
    assert_eq!(state.exit_status(), 0);
}

#[test]
fn requests_and_outgoing_are_tracked() {
    let mut state = State::new();
    feed(
        &mut state,
        &["WELCOME a", "REQUEST b", "REQUEST c", "REQUEST B"],
    );
    assert_eq!(state.requests, ["c", "B"]);
    feed(&mut state, &["CANCELLED c busy", "OK chat d"]);
    assert_eq!(state.requests, ["B"]);
    assert_eq!(state.outgoing.as_deref(), Some("d"));
    feed(&mut state, &["DECLINED D declined"]);
    assert_eq!(state.outgoing, None);
    // A mutual request: CHAT comes before OK chat.
    feed(&mut state, &["CHAT B", "OK chat B"]);
    assert_eq!(state.outgoing, None);
}

#[test]
fn list_replaces_known_users_and_rooms() {
    let mut state = State::new();
    feed(&mut state, &["WELCOME me", "MSG ghost hi", "JOINED r1 x"]);
    assert_eq!(state.users().collect::<Vec<_>>(), ["ghost", "me", "x"]);
    feed(
        &mut state,
        &[
            "USER Bob chatting carol",
            "REQUEST zed",
            "USER dave room Lobby",
            "OK list 3",
        ],
    );
    assert_eq!(
        state.users().collect::<Vec<_>>(),
        ["Bob", "carol", "dave", "me", "zed"]
    );
    feed(&mut state, &["ROOMINFO Lobby 1", "OK rooms 1"]);
    assert_eq!(state.rooms().collect::<Vec<_>>(), ["Lobby"]);
}
