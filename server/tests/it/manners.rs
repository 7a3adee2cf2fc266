//! Version 2's manners over real sockets: `/me`, away, ignore, and room
//! operators (topic, kick, ban, succession), including the races the issue
//! names: a kick racing the member's own `/leave`, the operator dropping
//! mid-command, ignore toggled while the ignored user floods the room, and
//! away toggled while requests arrive. Each race runs many rounds behind a
//! barrier; every outcome must be one the protocol allows.

use std::sync::Barrier;
use std::thread;

use crate::harness::{Client, Control, Server, join_room, list};

const ROUNDS: usize = 60;

#[test]
fn actions_reach_the_partner_and_the_room_and_history_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server = Server::start_with(&["--data", data]);
    let (mut a, mut b) = server.pair("ann", "ben");
    a.send("/me waves");
    b.expect("ACTION - ann waves");
    a.send("/leave");
    a.expect("OK leave chat ben");
    b.expect("ENDED ann left");
    join_room("Den", &mut [&mut a, &mut b]);
    // The spaces that end the command word are not part of the action.
    b.send("/me  sits  down");
    a.expect("ACTION Den ben sits  down");
    server.signal("TERM");
    a.expect_bye_and_close("shutdown");
    b.expect_bye_and_close("shutdown");
    assert!(server.wait_exit().success());
    let server = Server::start_with(&["--data", data]);
    let mut c = server.login("cal");
    c.send("/join den");
    let lines = c.lines_until("OK join den 1");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("HISTORY den ") && l.ends_with(" action ben sits  down")),
        "{lines:?}"
    );
}

#[test]
fn away_is_listed_and_told_to_whoever_asks() {
    let server = Server::start();
    let mut a = server.login("ava");
    let mut b = server.login("bo");
    a.send("/away in a meeting");
    a.expect("OK away");
    assert_eq!(list(&mut b), ["USER ava away -", "USER bo available -"]);
    b.send("/chat ava");
    b.expect_all(&["AWAY ava in a meeting", "OK chat ava"]);
    a.expect("REQUEST bo");
    a.send("/back");
    a.expect("OK back");
    assert_eq!(
        list(&mut b),
        ["USER ava available -", "USER bo available -"]
    );
}

#[test]
fn an_ignored_user_is_never_heard_and_never_told() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut amy = server.login("amy");
    let mut troll = server.login("troll");
    let mut cat = server.login("cat");
    amy.send("/ignore troll");
    amy.expect("OK ignore troll");
    // Requests: troll is answered as if delivered.
    troll.send("/chat amy");
    troll.expect("OK chat amy");
    amy.quiet();
    amy.send("/accept troll");
    amy.expect("ERR no-request");
    troll.send("/cancel");
    troll.expect("OK cancel amy");
    amy.quiet();
    // /list and /rooms look the same to both sides.
    let from_amy = list(&mut amy);
    let from_troll = list(&mut troll);
    assert_eq!(from_amy, from_troll);
    // Rooms: lines and actions skip amy; joins and parts still show.
    join_room("den", &mut [&mut amy, &mut cat, &mut troll]);
    troll.send("hello everyone");
    troll.send("/me dances");
    cat.expect_all(&["ROOM den troll hello everyone", "ACTION den troll dances"]);
    amy.quiet();
    troll.send("/leave");
    troll.expect("OK leave room den");
    amy.expect("PARTED den troll left");
    cat.expect("PARTED den troll left");
    ctl.check(&["amy", "cat", "troll"]);
}

#[test]
fn a_registered_users_ignore_list_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server = Server::start_with(&["--data", data]);
    let mut eve = server.login("eve");
    eve.send("/ignore Mallory");
    eve.expect("OK ignore Mallory");
    eve.send("/register eve's passphrase");
    eve.expect("OK register eve");
    eve.send("/ignore trudy");
    eve.expect("OK ignore trudy");
    server.signal("TERM");
    eve.expect_bye_and_close("shutdown");
    assert!(server.wait_exit().success());
    let server = Server::start_with(&["--data", data]);
    let mut eve = server.connect("eve");
    eve.send("eve");
    eve.expect("PASSWORD eve");
    eve.send("eve's passphrase");
    eve.expect("WELCOME eve");
    eve.skip_info();
    eve.send("/ignores");
    eve.expect_all(&["IGNORING Mallory", "IGNORING trudy", "OK ignores 2"]);
}

#[test]
fn the_operator_sets_the_topic_kicks_bans_and_hands_over() {
    let server = Server::start();
    let mut op = server.login("op");
    let mut ben = server.login("ben");
    let mut cy = server.login("cy");
    join_room("den", &mut [&mut op, &mut ben, &mut cy]);
    op.send("/topic exam on Friday");
    op.expect_all(&["TOPIC den op exam on Friday", "OK topic"]);
    ben.expect("TOPIC den op exam on Friday");
    cy.expect("TOPIC den op exam on Friday");
    ben.send("/kick cy");
    ben.expect("ERR not-operator");
    op.send("/kick cy spamming");
    op.expect_all(&["PARTED den cy kicked", "OK kick cy"]);
    cy.expect("KICKED den op spamming");
    ben.expect("PARTED den cy kicked");
    // cy is at the menu and may come back, seeing the topic.
    cy.send("/join den");
    cy.expect_all(&["TOPIC den op exam on Friday", "OK join den 3"]);
    op.expect("JOINED den cy");
    ben.expect("JOINED den cy");
    op.send("/ban cy");
    op.expect_all(&["PARTED den cy kicked", "OK ban cy"]);
    cy.expect("KICKED den op banned");
    ben.expect("PARTED den cy kicked");
    cy.send("/join den");
    cy.expect("ERR banned");
    // The operator leaves; ben, here longest, takes over.
    op.send("/leave");
    op.expect("OK leave room den");
    ben.expect_all(&["PARTED den op left", "OP den ben"]);
    ben.send("/topic new topic");
    ben.expect_all(&["TOPIC den ben new topic", "OK topic"]);
}

#[test]
fn a_kick_racing_the_members_own_leave_ends_one_way() {
    let server = Server::start_with(&["--history", "0"]);
    let mut ctl = Control::new(&server);
    let mut op = server.login("op");
    let mut ben = server.login("ben");
    let barrier = Barrier::new(2);
    let (mut kicked, mut left) = (0, 0);
    for round in 0..ROUNDS {
        let room = format!("r{round}");
        join_room(&room, &mut [&mut op, &mut ben]);
        let (lo, lb) = thread::scope(|s| {
            let to = s.spawn(|| {
                barrier.wait();
                op.send("/kick ben");
                op.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                ben.send("/leave");
                ben.sync()
            });
            (to.join().expect("op"), tb.join().expect("ben"))
        });
        let kick_first =
            lo == [
                format!("PARTED {room} ben kicked"),
                "OK kick ben".to_owned(),
            ] && lb == [format!("KICKED {room} op"), "ERR not-in-chat".to_owned()];
        let leave_first =
            lo == [
                format!("PARTED {room} ben left"),
                "ERR no-such-user".to_owned(),
            ] && lb == [format!("OK leave room {room}")];
        match (kick_first, leave_first) {
            (true, false) => kicked += 1,
            (false, true) => left += 1,
            _ => op.fail(&format!("round {round}: op {lo:?}, ben {lb:?}")),
        }
        op.send("/leave");
        op.expect(&format!("OK leave room {room}"));
    }
    eprintln!("kick vs leave: kicked {kicked}, left {left}");
    ctl.check(&["ben", "op"]);
}

#[test]
fn the_operator_dropping_mid_command_hands_over_exactly_once() {
    let server = Server::start_with(&["--history", "0"]);
    let mut ctl = Control::new(&server);
    let mut ben = server.login("ben");
    let mut cy = server.login("cy");
    for round in 0..ROUNDS {
        let room = format!("r{round}");
        let mut op = server.login(&format!("op{round}"));
        join_room(&room, &mut [&mut op, &mut ben, &mut cy]);
        // The operator's kick and its reset arrive together: either the
        // kick happened (cy is out) and then the operator is gone, or the
        // connection was gone first. Either way ben, here longest, is the
        // operator, announced once, after the PARTED.
        op.send("/kick cy");
        op.reset();
        let mut lines = ben.lines_until(&format!("OP {room} ben"));
        lines.pop();
        let parted = format!("PARTED {room} op{round} disconnected");
        let kicked = format!("PARTED {room} cy kicked");
        let ok = lines == [parted.clone()] || lines == [kicked.clone(), parted.clone()];
        if !ok {
            ben.fail(&format!("round {round}: {lines:?}"));
        }
        if lines.len() == 2 {
            // Kicked first: cy is at the menu and hears nothing more.
            cy.expect(&format!("KICKED {room} op{round}"));
            cy.quiet();
        } else {
            cy.expect_all(&[&parted, &format!("OP {room} ben")]);
            cy.send("/leave");
            cy.expect(&format!("OK leave room {room}"));
        }
        ben.quiet();
        ben.send("/leave");
        ben.expect(&format!("OK leave room {room}"));
    }
    ctl.check(&["ben", "cy"]);
}

#[test]
fn ignore_toggled_while_the_ignored_user_floods_cuts_cleanly() {
    let server = Server::start_with(&["--history", "0"]);
    let mut amy = server.login("amy");
    let mut flood = server.login("flood");
    let mut cat = server.login("cat");
    join_room("den", &mut [&mut amy, &mut flood, &mut cat]);
    const N: usize = 400;
    for round in 0..10 {
        let barrier = Barrier::new(2);
        let (amy_lines, flood_ok) = thread::scope(|s| {
            let tf = s.spawn(|| {
                barrier.wait();
                let burst: String = (0..N).map(|i| format!("r{round} n{i}\n")).collect();
                flood.send_raw(burst.as_bytes());
                flood.quiet();
            });
            let ta = s.spawn(|| {
                barrier.wait();
                amy.send("/ignore flood");
                let lines = amy.lines_until("OK ignore flood");
                amy.send("/unignore flood");
                let after = amy.lines_until("OK unignore flood");

                (lines, after)
            });
            tf.join().expect("flood");
            (ta.join().expect("amy"), true)
        });
        assert!(flood_ok);
        // The flood is handled (its own barrier passed): the rest of it is
        // queued for amy before her barrier's reply.
        let (before, mut after) = amy_lines;
        after.extend(amy.sync());
        let amy_lines = (before, after);
        // cat got every line, in order.
        for i in 0..N {
            cat.expect(&format!("ROOM den flood r{round} n{i}"));
        }
        // amy got a prefix before the ignore and a suffix after the
        // unignore, each in order, nothing in between duplicated.
        let (before, after) = amy_lines;
        let seq = |lines: &[String]| -> Vec<usize> {
            lines
                .iter()
                .filter(|l| !l.starts_with("OK "))
                .map(|l| {
                    let n = l
                        .strip_prefix(&format!("ROOM den flood r{round} n"))
                        .unwrap_or_else(|| panic!("unexpected line {l:?}"));
                    n.parse().unwrap()
                })
                .collect()
        };
        let (before, after) = (seq(&before), seq(&after));
        assert!(before.windows(2).all(|w| w[1] == w[0] + 1), "{before:?}");
        assert!(before.first().is_none_or(|&n| n == 0), "{before:?}");
        assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{after:?}");
        if let (Some(&last), Some(&first)) = (before.last(), after.first()) {
            assert!(first > last, "{before:?} then {after:?}");
        }
        if let Some(&last) = after.last() {
            assert_eq!(last, N - 1);
        }
    }
}

#[test]
fn away_toggled_while_requests_arrive_is_told_or_not_consistently() {
    let server = Server::start();
    let mut ava = server.login("ava");
    let barrier = Barrier::new(2);
    let mut askers: Vec<Client> = (0..4).map(|i| server.login(&format!("asker{i}"))).collect();
    for round in 0..ROUNDS / 4 {
        let (mut seen, lines) = thread::scope(|s| {
            let tv = s.spawn(|| {
                barrier.wait();
                ava.send(if round % 2 == 0 {
                    "/away busy"
                } else {
                    "/back"
                });
                ava.sync()
            });
            let ta = s.spawn(|| {
                barrier.wait();
                let mut all = Vec::new();
                for asker in askers.iter_mut() {
                    asker.send("/chat ava");
                    all.push(asker.sync());
                }
                all
            });
            (tv.join().expect("ava"), ta.join().expect("askers"))
        });
        for reply in &lines {
            // Told away, or not: the request went through either way.
            let ok = reply == &["OK chat ava".to_owned()]
                || reply == &["AWAY ava busy".to_owned(), "OK chat ava".to_owned()];
            assert!(ok, "round {round}: {reply:?}");
        }
        for asker in askers.iter_mut() {
            asker.send("/cancel");
            asker.expect("OK cancel ava");
        }
        // ava saw every request and every cancel.
        seen.extend(ava.sync());
        assert_eq!(seen.iter().filter(|l| l.starts_with("REQUEST ")).count(), 4);
        assert_eq!(
            seen.iter().filter(|l| l.starts_with("CANCELLED ")).count(),
            4
        );
    }
}
