//! Version 2's manners through the hub alone: `/me`, away, ignore, and a
//! room's operator with topic, kick, ban and succession.

use super::*;

fn users(s: &mut Script, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        s.user(i as ConnId + 1, name);
    }
}

#[test]
fn me_is_an_action_in_a_chat_or_a_room_and_kept_as_one() {
    let mut s = Script::new();
    users(&mut s, &["a", "b", "c"]);
    s.check(1, "/me waves", &["me ERR not-in-chat"]);
    s.send(1, "/chat b");
    s.send(2, "yes");
    s.check(1, "/me  waves  back", &["2 ACTION - a waves  back"]);
    s.check(1, "/me", &["me ERR usage"]);
    s.send(1, "/leave");
    s.check(1, "/join den", &["me OK join den 1"]);
    s.check(3, "/join den", &["me OK join den 2", "1 JOINED den c"]);
    s.check(1, "/me sits down", &["3 ACTION den a sits down"]);
    s.check(
        2,
        "/join den",
        &[
            "me HISTORY den <t> action a sits down",
            "me OK join den 3",
            "1 JOINED den b",
            "3 JOINED den b",
        ],
    );
}

#[test]
fn away_shows_in_the_list_and_tells_whoever_asks() {
    let mut s = Script::new();
    users(&mut s, &["a", "b"]);
    s.check(1, "/away at lunch", &["me OK away"]);
    s.check(
        2,
        "/list",
        &["me USER a away -", "me USER b available -", "me OK list 2"],
    );
    // The request is still delivered.
    s.check(
        2,
        "/chat a",
        &["me AWAY a at lunch", "me OK chat a", "1 REQUEST b"],
    );
    // In a chat, the list shows the chat; away comes back at the menu.
    s.send(1, "yes");
    s.check(
        2,
        "/list",
        &[
            "me USER a chatting b",
            "me USER b chatting a",
            "me OK list 2",
        ],
    );
    s.send(1, "/leave");
    s.check(
        2,
        "/list",
        &["me USER a away -", "me USER b available -", "me OK list 2"],
    );
    s.check(1, "/back", &["me OK back"]);
    s.check(1, "/back", &["me OK back"]);
    s.check(1, "/back now", &["me ERR usage"]);
    s.check(1, "/away", &["me OK away"]);
    s.check(2, "/chat a", &["me AWAY a", "me OK chat a", "1 REQUEST b"]);
}

#[test]
fn an_ignored_user_reaches_nothing_and_is_told_nothing() {
    let mut s = Script::new();
    users(&mut s, &["amy", "troll", "cat"]);
    s.check(1, "/ignore TROLL", &["me OK ignore troll"]);
    s.check(1, "/ignore amy", &["me ERR self"]);
    s.check(1, "/ignore -x", &["me ERR name-invalid"]);
    s.check(1, "/ignore Nobody", &["me OK ignore Nobody"]);
    s.check(
        1,
        "/ignores",
        &["me IGNORING Nobody", "me IGNORING troll", "me OK ignores 2"],
    );
    // A request: troll sees OK chat, amy sees nothing, and cannot accept it.
    s.check(2, "/chat amy", &["me OK chat amy"]);
    s.check(1, "/accept", &["me ERR no-request"]);
    s.check(1, "/accept troll", &["me ERR no-request"]);
    // Cancelling it tells amy nothing either.
    s.check(2, "/cancel", &["me OK cancel amy"]);
    // In a room: troll's lines and actions skip amy; joins and parts show.
    s.check(1, "/join den", &["me OK join den 1"]);
    s.check(3, "/join den", &["me OK join den 2", "1 JOINED den cat"]);
    s.check(
        2,
        "/join den",
        &[
            "me OK join den 3",
            "1 JOINED den troll",
            "3 JOINED den troll",
        ],
    );
    s.check(2, "hello all", &["3 ROOM den troll hello all"]);
    s.check(2, "/me grins", &["3 ACTION den troll grins"]);
    s.check(3, "hi", &["1 ROOM den cat hi", "2 ROOM den cat hi"]);
    // History skips the ignored sender for the ignorer only.
    s.send(1, "/leave");
    let lines = s.send(1, "/join den");
    assert!(
        lines.iter().all(|line| !line.contains("troll hello")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|line| line.contains("msg cat hi")),
        "{lines:?}"
    );
    s.check(
        2,
        "/leave",
        &[
            "me OK leave room den",
            "1 PARTED den troll left",
            "3 PARTED den troll left",
        ],
    );
    s.check(1, "/unignore troll", &["me OK unignore troll"]);
    s.check(1, "/ignores", &["me IGNORING Nobody", "me OK ignores 1"]);
    s.check(
        2,
        "/join den",
        &[
            "me HISTORY den <t> msg troll hello all",
            "me HISTORY den <t> action troll grins",
            "me HISTORY den <t> msg cat hi",
            "me OK join den 3",
            "1 JOINED den troll",
            "3 JOINED den troll",
        ],
    );
    s.check(
        2,
        "again",
        &["1 ROOM den troll again", "3 ROOM den troll again"],
    );
}

#[test]
fn ignoring_a_partner_mid_chat_drops_its_messages_silently() {
    let mut s = Script::new();
    users(&mut s, &["a", "b"]);
    s.send(1, "/chat b");
    s.send(2, "yes");
    s.check(1, "/ignore b", &["me OK ignore b"]);
    s.check(2, "are you there?", &[]);
    s.check(2, "/me pokes", &[]);
    s.check(1, "still here", &["2 MSG a still here"]);
}

#[test]
fn the_creator_operates_and_the_member_here_longest_succeeds() {
    let mut s = Script::new();
    users(&mut s, &["op", "b", "c"]);
    s.send(1, "/join den");
    s.send(2, "/join den");
    s.send(3, "/join den");
    s.check(2, "/topic nope", &["me ERR not-operator"]);
    s.check(2, "/topic", &["me TOPIC den -", "me OK topic"]);
    s.check(
        1,
        "/topic exam on Friday",
        &[
            "me TOPIC den op exam on Friday",
            "me OK topic",
            "2 TOPIC den op exam on Friday",
            "3 TOPIC den op exam on Friday",
        ],
    );
    // The operator leaves: b came before c.
    s.check(
        1,
        "/leave",
        &[
            "me OK leave room den",
            "2 PARTED den op left",
            "3 PARTED den op left",
            "2 OP den b",
            "3 OP den b",
        ],
    );
    assert_eq!(s.hub.operator_of("den").map(Name::as_str), Some("b"));
    // A newcomer sees the topic after history, before OK join.
    s.check(
        1,
        "/join den",
        &[
            "me TOPIC den op exam on Friday",
            "me OK join den 3",
            "2 JOINED den op",
            "3 JOINED den op",
        ],
    );
    // The operator disconnects: c is now the member here longest.
    assert_eq!(
        s.drop_conn(2),
        [
            "1 PARTED den b disconnected",
            "3 PARTED den b disconnected",
            "1 OP den c",
            "3 OP den c"
        ]
    );
    s.hub.check_invariants();
}

#[test]
fn kick_and_ban() {
    let mut s = Script::new();
    users(&mut s, &["op", "b", "c", "d"]);
    s.check(1, "/kick b", &["me ERR not-in-room"]);
    s.send(1, "/join den");
    s.send(2, "/join den");
    s.send(3, "/join den");
    s.check(2, "/kick c", &["me ERR not-operator"]);
    s.check(1, "/kick op", &["me ERR self"]);
    s.check(1, "/kick d", &["me ERR no-such-user"]);
    s.check(1, "/kick zed", &["me ERR no-such-user"]);
    s.check(
        1,
        "/kick b  too  loud",
        &[
            "me PARTED den b kicked",
            "me OK kick b",
            "2 KICKED den op too  loud",
            "3 PARTED den b kicked",
        ],
    );
    // b is back at the menu and may come back; a ban keeps c out.
    s.check(
        2,
        "/list",
        &[
            "me USER b available -",
            "me USER c room den",
            "me USER d available -",
            "me USER op room den",
            "me OK list 4",
        ],
    );
    s.check(
        1,
        "/ban c",
        &[
            "me PARTED den c kicked",
            "me OK ban c",
            "3 KICKED den op banned",
        ],
    );
    s.check(3, "/join den", &["me ERR banned"]);
    s.check(3, "/join DEN", &["me ERR banned"]);
    // A ban in advance, of someone not there.
    s.check(1, "/ban d", &["me OK ban d"]);
    s.check(4, "/join den", &["me ERR banned"]);
    s.check(1, "/ban op", &["me ERR self"]);
    s.check(1, "/ban -x", &["me ERR name-invalid"]);
    // The ban lasts while the room exists.
    s.send(1, "/leave");
    s.check(3, "/join den", &["me OK join den 1"]);
}

#[test]
fn the_ignore_list_of_a_registered_name_outlives_its_session() {
    let mut s = Script::new();
    s.user(1, "eve");
    s.check(1, "/ignore mallory", &["me OK ignore mallory"]);
    s.check(1, "/register passphrase", &["me OK register eve"]);
    s.check(1, "/ignore trudy", &["me OK ignore trudy"]);
    s.check(1, "/unignore mallory", &["me OK unignore mallory"]);
    s.check(1, "/ignore mallory", &["me OK ignore mallory"]);
    s.send(1, "/exit");
    s.drop_conn(1);
    s.hub.connect(2, 2);
    s.check(2, "eve", &["me <will echo>", "me PASSWORD eve"]);
    s.password(2, "passphrase");
    s.check(
        2,
        "/ignores",
        &[
            "me IGNORING mallory",
            "me IGNORING trudy",
            "me OK ignores 2",
        ],
    );
    // An unregistered name's list lasts only the session.
    s.user(3, "walt");
    s.check(3, "/ignore mallory", &["me OK ignore mallory"]);
    s.send(3, "/exit");
    s.drop_conn(3);
    s.user(4, "walt");
    s.check(4, "/ignores", &["me OK ignores 0"]);
}
