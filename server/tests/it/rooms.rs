//! Group rooms: joining, member counts, `JOINED`/`PARTED`/`ROOM` events,
//! `/rooms`, case-insensitive names that keep their creator's spelling, and
//! deletion of empty rooms.

use crate::harness::{Server, join_room};

#[test]
fn joining_creates_the_room_and_members_see_each_other_join_and_part() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    a.send("/join Lobby");
    a.expect("OK join Lobby 1");
    b.send("/JOIN lobby");
    b.expect("OK join Lobby 2");
    a.expect("JOINED Lobby bob");
    c.send("/join LOBBY");
    c.expect("OK join Lobby 3");
    a.expect("JOINED Lobby carol");
    b.expect("JOINED Lobby carol");

    a.send("hello room");
    b.expect("ROOM Lobby alice hello room");
    c.expect("ROOM Lobby alice hello room");
    a.quiet();

    c.send("/list");
    c.expect_all(&[
        "USER alice room Lobby",
        "USER bob room Lobby",
        "USER carol room Lobby",
        "OK list 3",
    ]);

    b.send("/leave");
    b.expect("OK leave room Lobby");
    a.expect("PARTED Lobby bob left");
    c.expect("PARTED Lobby bob left");
    b.quiet();
    c.send("bye bob");
    a.expect("ROOM Lobby carol bye bob");
    b.send("/rooms");
    b.expect_all(&["ROOMINFO Lobby 2", "OK rooms 1"]);
    b.send("bye");
    b.expect("ERR not-in-chat");
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn room_messages_from_one_sender_arrive_in_order() {
    let server = Server::start();
    let mut members: Vec<_> = ["m0", "m1", "m2"].iter().map(|n| server.login(n)).collect();
    join_room("hall", &mut members.iter_mut().collect::<Vec<_>>());
    for i in 0..50 {
        members[0].send(&format!("line {i}"));
    }
    for member in &mut members[1..] {
        for i in 0..50 {
            member.expect(&format!("ROOM hall m0 line {i}"));
        }
    }
    for member in &mut members {
        member.quiet();
    }
}

#[test]
fn rooms_are_listed_sorted_case_insensitively_and_deleted_when_empty() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    d.send("/rooms");
    d.expect("OK rooms 0");
    a.send("/join beta");
    a.expect("OK join beta 1");
    b.send("/join Alpha");
    b.expect("OK join Alpha 1");
    c.send("/join gamma");
    c.expect("OK join gamma 1");
    d.send("/join BETA");
    d.expect("OK join beta 2");
    a.expect("JOINED beta dave");
    d.send("/rooms");
    d.expect_all(&[
        "ROOMINFO Alpha 1",
        "ROOMINFO beta 2",
        "ROOMINFO gamma 1",
        "OK rooms 3",
    ]);
    b.send("/leave");
    b.expect("OK leave room Alpha");
    b.send("/rooms");
    b.expect_all(&["ROOMINFO beta 2", "ROOMINFO gamma 1", "OK rooms 2"]);
    // A deleted room is created anew with the new creator's spelling.
    b.send("/join ALPHA");
    b.expect("OK join ALPHA 1");
    b.send("/rooms extra");
    b.expect("ERR usage");
    a.send("/leave");
    a.expect("OK leave room beta");
    // alice created beta; d, the member there longest, takes over.
    d.expect_all(&["PARTED beta alice left", "OP beta dave"]);
    c.send("/leave");
    c.expect("OK leave room gamma");
    d.send("/leave");
    d.expect("OK leave room beta");
    b.send("/rooms");
    b.expect_all(&["ROOMINFO ALPHA 1", "OK rooms 1"]);
    b.send("/leave");
    b.expect("OK leave room ALPHA");
    b.send("/rooms");
    b.expect("OK rooms 0");
}

#[test]
fn malformed_room_names_are_name_invalid() {
    let server = Server::start();
    let mut a = server.login("alice");
    let long = "r".repeat(25);
    for room in [
        "-",
        "-room",
        "_room",
        "ro!om",
        "röom",
        "#room",
        long.as_str(),
    ] {
        a.send(&format!("/join {room}"));
        a.expect("ERR name-invalid");
    }
    a.send("/join");
    a.expect("ERR usage");
    a.send("/join two words");
    a.expect("ERR usage");
    let longest = "r".repeat(24);
    a.send(&format!("/join {longest}"));
    a.expect(&format!("OK join {longest} 1"));
}

#[test]
fn a_room_may_share_a_name_with_a_user() {
    let server = Server::start();
    let mut a = server.login("alice");
    a.send("/join alice");
    a.expect("OK join alice 1");
    a.quiet();
}

#[test]
fn joining_while_chatting_is_not_available() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("/join lobby");
    a.expect("ERR not-available");
    b.quiet();
    let mut c = server.login("carol");
    c.send("/rooms");
    c.expect("OK rooms 0");
}

#[test]
fn room_members_can_not_be_asked_to_chat() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    b.send("/chat alice");
    b.expect("ERR busy");
    a.quiet();
}

#[test]
fn leaving_a_room_returns_to_the_menu() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    a.send("/leave");
    a.expect("OK leave room lobby");
    b.send("/chat alice");
    b.expect("OK chat alice");
    a.expect("REQUEST bob");
    a.send("yes");
    a.expect_all(&["CHAT bob", "OK accept bob"]);
    b.expect("CHAT alice");
}
