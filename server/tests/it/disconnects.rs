//! What others see when a connection closes for any reason (`/exit`, FIN,
//! RST, half-close): `ENDED`, `PARTED`, `DECLINED`, `CANCELLED` with reason
//! `disconnected`, and the name free again at once.

use crate::harness::{Server, join_room};

#[test]
fn abrupt_close_mid_chat_ends_the_chat_and_frees_the_name() {
    let server = Server::start();
    let (a, mut b) = server.pair("alice", "bob");
    drop(a);
    b.expect("ENDED alice disconnected");
    b.quiet();
    // The name is free before the event is sent, in any spelling.
    let mut again = server.login("ALICE");
    again.quiet();
    b.send("1");
    b.expect_all(&[
        "USER ALICE available -",
        "USER bob available -",
        "OK list 2",
    ]);
}

#[test]
fn reset_mid_chat_ends_the_chat_and_frees_the_name() {
    let server = Server::start();
    let (a, mut b) = server.pair("alice", "bob");
    a.reset();
    b.expect("ENDED alice disconnected");
    let mut again = server.login("alice");
    again.quiet();
}

#[test]
fn half_close_mid_chat_is_a_disconnect() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.shutdown_write();
    b.expect("ENDED alice disconnected");
    a.expect_closed();
    let mut again = server.login("alice");
    again.quiet();
}

#[test]
fn exit_mid_chat_counts_as_a_disconnect() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("/exit");
    a.expect_bye_and_close("exit");
    b.expect("ENDED alice disconnected");
    let mut again = server.login("alice");
    again.quiet();
}

#[test]
fn complete_lines_before_a_half_close_are_answered_and_the_tail_dropped() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send_raw(b"/ping one\nhello\n/ping two\nunfinished");
    a.shutdown_write();
    a.expect_all(&["OK ping one", "OK ping two"]);
    a.expect_closed();
    b.expect_all(&["MSG alice hello", "ENDED alice disconnected"]);
    b.quiet();
}

#[test]
fn disconnect_of_a_room_member_is_parted_disconnected() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    join_room("lobby", &mut [&mut a, &mut b, &mut c]);
    drop(c);
    a.expect("PARTED lobby carol disconnected");
    b.expect("PARTED lobby carol disconnected");
    b.send("/rooms");
    b.expect_all(&["ROOMINFO lobby 2", "OK rooms 1"]);
    let mut again = server.login("carol");
    again.quiet();
}

#[test]
fn disconnect_resolves_requests_to_and_from_the_leaver() {
    let server = Server::start();
    let mut x = server.login("xavier");
    let mut target = server.login("target");
    let mut r1 = server.login("req1");
    let mut r2 = server.login("req2");
    x.send("/chat target");
    x.expect("OK chat target");
    target.expect("REQUEST xavier");
    r1.send("/chat xavier");
    r1.expect("OK chat xavier");
    x.expect("REQUEST req1");
    r2.send("2 xavier");
    r2.expect("OK chat xavier");
    x.expect("REQUEST req2");
    drop(x);
    target.expect("CANCELLED xavier disconnected");
    r1.expect("DECLINED xavier disconnected");
    r2.expect("DECLINED xavier disconnected");
    target.send("/accept");
    target.expect("ERR no-request");
    r1.send("/cancel");
    r1.expect("ERR no-request");
    let mut again = server.login("xavier");
    again.quiet();
}
