//! Registered names, the password step, taking a name back, and room
//! history, through the hub alone.

use common::{HistoryKind, Name, parse_input};

use super::*;

/// A script with one registered name, `Alice`, whose password is
/// `correct horse`, as if loaded from the data directory.
fn with_alice(password_tries: u32) -> Script {
    let memory = Memory {
        accounts: vec![(Name::parse("Alice").unwrap(), "plain:correct horse".into())],
        ..Memory::default()
    };
    let settings = Settings {
        password_tries,
        ..Settings::default()
    };
    Script::with(settings, memory)
}

#[test]
fn a_registered_name_asks_for_its_password_with_echo_offered() {
    let mut s = with_alice(10);
    s.hub.connect(1, 1);
    s.check(1, "alice", &["me <will echo>", "me PASSWORD Alice"]);
    assert_eq!(
        s.password(1, "correct horse")[..1],
        ["me WELCOME Alice".to_owned()]
    );
    assert_eq!(s.hub.n_users(), 1);
}

#[test]
fn a_wrong_password_goes_back_to_naming_and_the_fifth_closes() {
    let mut s = with_alice(10);
    s.hub.connect(1, 1);
    for _ in 0..4 {
        s.check(1, "Alice", &["me <will echo>", "me PASSWORD Alice"]);
        assert_eq!(s.password(1, "wrong horse"), ["me ERR bad-password"]);
    }
    s.check(1, "Alice", &["me <will echo>", "me PASSWORD Alice"]);
    let last: Vec<String> = s
        .password(1, "still wrong")
        .into_iter()
        .map(strip_prose)
        .collect();
    assert_eq!(
        last,
        ["me ERR bad-password", "me BYE refused", "me <close>"]
    );
    // Another name works meanwhile on another connection.
    s.user(2, "bob");
}

#[test]
fn password_checks_per_name_are_capped() {
    let mut s = with_alice(3);
    s.hub.connect(1, 1);
    for _ in 0..3 {
        s.check(1, "Alice", &["me <will echo>", "me PASSWORD Alice"]);
        s.password(1, "wrong horse");
    }
    // The cap is per name and server-wide: a new connection is refused too,
    // at the name, before any password is sent.
    s.hub.connect(2, 2);
    s.check(2, "alice", &["me ERR try-later"]);
    s.check(2, "bob", &["me WELCOME bob"]);
    // Three a minute: one more after twenty seconds.
    s.wait_ms(20_000);
    s.check(1, "Alice", &["me <will echo>", "me PASSWORD Alice"]);
    assert_eq!(s.password(1, "correct horse")[0], "me WELCOME Alice");
}

#[test]
fn signing_in_takes_the_name_back_from_the_old_session() {
    let mut s = with_alice(10);
    s.hub.connect(1, 1);
    s.check(1, "Alice", &["me <will echo>", "me PASSWORD Alice"]);
    s.password(1, "correct horse");
    s.user(2, "bob");
    s.check(2, "/chat alice", &["me OK chat Alice", "1 REQUEST bob"]);
    s.check(
        1,
        "yes",
        &["me CHAT bob", "me OK accept bob", "2 CHAT Alice"],
    );
    s.hub.connect(3, 3);
    s.check(3, "ALICE", &["me <will echo>", "me PASSWORD Alice"]);
    let lines: Vec<String> = s
        .password(3, "correct horse")
        .into_iter()
        .filter(|line| !line.contains(" INFO"))
        .map(strip_prose)
        .collect();
    // The old session's end reaches everyone before the new WELCOME.
    assert_eq!(
        lines,
        [
            "me WELCOME Alice",
            "1 BYE replaced",
            "2 ENDED Alice disconnected",
            "1 <closed>"
        ]
    );
    s.check(
        2,
        "/list",
        &[
            "me USER Alice available -",
            "me USER bob available -",
            "me OK list 2",
        ],
    );
    // The old connection's late lines and its departure do nothing.
    assert!(s.send(1, "hello?").is_empty());
    assert!(s.drop_conn(1).is_empty());
    s.hub.check_invariants();
}

#[test]
fn register_password_and_unregister() {
    let mut s = Script::new();
    s.user(1, "carol");
    s.check(1, "/register short", &["me ERR weak-password"]);
    s.check(1, "/password old newpassword", &["me ERR not-registered"]);
    s.check(1, "/unregister whatever1", &["me ERR not-registered"]);
    s.check(1, "/register a long passphrase", &["me OK register carol"]);
    s.check(1, "/register another one", &["me ERR registered"]);
    s.check(1, "/password wrong newpassword", &["me ERR bad-password"]);
    s.check(1, "/password nope short", &["me ERR weak-password"]);
    s.check(1, "/password a long passphrase", &["me ERR usage"]);
    s.check(
        1,
        "/unregister a long passphrase",
        &["me OK unregister carol"],
    );
    s.check(1, "/register passphrase2", &["me OK register carol"]);
    s.check(1, "/password passphrase2 passphrase3", &["me OK password"]);
    s.hub.connect(2, 2);
    s.check(2, "carol", &["me <will echo>", "me PASSWORD carol"]);
    assert_eq!(s.password(2, "passphrase2"), ["me ERR bad-password"]);
    s.check(2, "carol", &["me <will echo>", "me PASSWORD carol"]);
    let welcome = s.password(2, "passphrase3");
    assert_eq!(strip_prose(welcome[0].clone()), "me WELCOME carol");
}

#[test]
fn what_is_remembered_is_said_in_the_hubs_order() {
    let mut s = Script::new();
    s.user(1, "dave");
    let mut out = Outcome::default();
    let now = s.now();
    s.hub
        .handle(1, parse_input("/register passphrase"), now, &mut out);
    let task = out.task.take().expect("a hash to make");
    assert!(task.check.is_none());
    let done = Done {
        purpose: task.purpose,
        checked: true,
        hash: Some("$argon2id$stand-in".into()),
    };
    s.hub.task_done(1, done, now, &mut out);
    assert_eq!(
        out.remember,
        [Remember::Account {
            name: Name::parse("dave").unwrap(),
            hash: "$argon2id$stand-in".into()
        }]
    );
    // Passwords never reach the log's record of what happened.
    assert_eq!(
        out.happened,
        [Happening::Registered(Name::parse("dave").unwrap())]
    );
    assert!(!format!("{out:?}").contains("passphrase"));
}

#[test]
fn history_keeps_the_last_lines_and_the_time_said() {
    let settings = Settings {
        history_per_room: 2,
        ..Settings::default()
    };
    let mut s = Script::with(settings, Memory::default());
    s.user(1, "a");
    s.user(2, "b");
    s.check(1, "/join r", &["me OK join r 1"]);
    s.check(1, "one", &[]);
    s.check(1, "two", &[]);
    s.check(1, "three", &[]);
    let lines = s.send(2, "/join r");
    let times: Vec<u64> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("me HISTORY r "))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 2, "{lines:?}");
    assert!(times[0] < times[1] && times[0] > EPOCH_MS, "{times:?}");
    assert_eq!(
        lines.iter().cloned().map(strip_prose).collect::<Vec<_>>()[..2],
        ["me HISTORY r <t> msg a two", "me HISTORY r <t> msg a three"]
    );
}

#[test]
fn one_to_one_chats_are_never_stored() {
    let mut s = Script::new();
    s.user(1, "a");
    s.user(2, "b");
    s.send(1, "/chat b");
    s.send(2, "yes");
    let mut out = Outcome::default();
    let now = s.now();
    s.hub.handle(1, parse_input("secret stuff"), now, &mut out);
    assert!(out.remember.is_empty());
    assert_eq!(s.hub.n_rooms_with_history(), 0);
}

#[test]
fn the_room_quiet_longest_loses_its_history_past_the_cap() {
    let settings = Settings {
        history_rooms: 3,
        ..Settings::default()
    };
    let mut s = Script::with(settings, Memory::default());
    s.user(1, "a");
    for room in ["r1", "r2", "r3", "r1", "r4"] {
        s.send(1, &format!("/join {room}"));
        let mut out = Outcome::default();
        let now = s.now();
        s.hub.handle(1, parse_input("hi"), now, &mut out);
        if room == "r4" {
            // r2 spoke longest ago (r1 spoke again after it).
            assert_eq!(
                out.remember[0],
                Remember::ForgetRoom {
                    folded: "r2".into()
                }
            );
        }
        s.send(1, "/leave");
    }
    assert_eq!(s.hub.n_rooms_with_history(), 3);
    s.check(1, "/join r2", &["me OK join r2 1"]);
    s.hub.check_invariants();
}

#[test]
fn history_from_the_data_directory_is_replayed_and_zero_keeps_none() {
    let said = |text: &str| Said {
        at_ms: 5,
        kind: HistoryKind::Action,
        from: "amy".into(),
        text: text.into(),
    };
    let memory = || Memory {
        rooms: vec![(
            Name::parse("Den").unwrap(),
            vec![said("waves"), said("sits")],
        )],
        ..Memory::default()
    };
    let mut s = Script::with(Settings::default(), memory());
    s.user(1, "a");
    s.check(
        1,
        "/join den",
        &[
            "me HISTORY den <t> action amy waves",
            "me HISTORY den <t> action amy sits",
            "me OK join den 1",
        ],
    );
    let off = Settings {
        history_per_room: 0,
        ..Settings::default()
    };
    let mut s = Script::with(off, memory());
    s.user(1, "a");
    s.check(1, "/join den", &["me OK join den 1"]);
    s.check(1, "hello", &[]);
    assert_eq!(s.hub.n_rooms_with_history(), 0);
}
