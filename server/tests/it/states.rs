//! The naming state (name rules, what works before `WELCOME`) and the
//! resolution of pending requests when a user stops being available.

use crate::harness::Server;

#[test]
fn taken_name_is_rejected_case_insensitively() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut other = server.connect("other");
    for name in ["alice", "ALICE", "Alice", "aLiCe"] {
        other.send(name);
        other.expect("ERR name-taken");
    }
    other.send("alice2");
    other.expect("WELCOME alice2");
    other.skip_info();
    alice.quiet();
}

#[test]
fn malformed_names_are_rejected_and_naming_continues() {
    let server = Server::start();
    let mut c = server.connect("naming");
    let long = "a".repeat(25);
    for name in [
        "-",
        "-alice",
        "_alice",
        " alice",
        "alice ",
        "al ice",
        "ali!ce",
        "al.ice",
        "аlice", // Cyrillic а
        "alicé",
        "\u{feff}alice", // byte-order mark
        "al\u{0}ice",
        long.as_str(),
    ] {
        c.send(name);
        c.expect("ERR name-invalid");
    }
    let longest = "A".repeat(23) + "9";
    c.send(&longest);
    c.expect(&format!("WELCOME {longest}"));
    c.skip_info();
}

#[test]
fn names_may_use_letters_digits_underscore_and_dash() {
    let server = Server::start();
    for name in ["x", "7", "a_b-c", "9-_", "Z0"] {
        let mut c = server.login(name);
        c.quiet();
    }
}

#[test]
fn name_is_shown_as_first_typed() {
    let server = Server::start();
    let mut m = server.login("MiXeD");
    let mut b = server.login("bob");
    b.send("/list");
    b.expect_all(&[
        "USER bob available -",
        "USER MiXeD available -",
        "OK list 2",
    ]);
    b.send("/chat mixed");
    b.expect("OK chat MiXeD");
    m.expect("REQUEST bob");
    m.send("/accept BOB");
    m.expect_all(&["CHAT bob", "OK accept bob"]);
    b.expect("CHAT MiXeD");
    m.send("hi");
    b.expect("MSG MiXeD hi");
}

#[test]
fn while_naming_only_help_exit_and_quit_are_commands() {
    let server = Server::start();
    let mut c = server.connect("naming");
    for line in [
        "/list",
        "/chat bob",
        "/ping",
        "/ping x",
        "/join lobby",
        "/frobnicate",
        "/leave",
        "//alice",
    ] {
        c.send(line);
        c.expect("ERR name-invalid");
    }
    // Menu aliases are not commands while naming: they are names.
    c.send("1");
    c.expect("WELCOME 1");
    c.skip_info();

    for exit in ["/exit", "/quit", "/QUIT now"] {
        let mut c = server.connect("leaver");
        c.send(exit);
        c.expect_bye_and_close("exit");
    }
}

#[test]
fn menu_alias_3_while_naming_is_a_name() {
    let server = Server::start();
    let mut c = server.connect("three");
    c.send("3");
    c.expect("WELCOME 3");
    c.skip_info();
}

#[test]
fn starting_a_chat_resolves_every_other_request_as_busy() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    let mut e = server.login("erin");
    // bob and carol ask alice; dave asks bob; alice asks erin.
    b.send("/chat alice");
    b.expect("OK chat alice");
    a.expect("REQUEST bob");
    c.send("/chat alice");
    c.expect("OK chat alice");
    a.expect("REQUEST carol");
    d.send("/chat bob");
    d.expect("OK chat bob");
    b.expect("REQUEST dave");
    a.send("/chat erin");
    a.expect("OK chat erin");
    e.expect("REQUEST alice");

    a.send("/accept bob");
    a.expect_all(&["CHAT bob", "OK accept bob"]);
    b.expect("CHAT alice");
    c.expect("DECLINED alice busy");
    d.expect("DECLINED bob busy");
    e.expect("CANCELLED alice busy");
    for client in [&mut a, &mut b, &mut c, &mut d, &mut e] {
        client.quiet();
    }
    // Nothing is left pending.
    e.send("/accept alice");
    e.expect("ERR no-request");
    c.send("/cancel");
    c.expect("ERR no-request");
    d.send("/cancel");
    d.expect("ERR no-request");
}

#[test]
fn a_mutual_request_resolves_other_requests_as_busy() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    c.send("/chat alice");
    c.expect("OK chat alice");
    a.expect("REQUEST carol");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    b.send("/chat alice");
    b.expect_all(&["CHAT alice", "OK chat alice"]);
    a.expect("CHAT bob");
    c.expect("DECLINED alice busy");
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn joining_a_room_resolves_requests_as_busy() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    b.send("/chat alice");
    b.expect("OK chat alice");
    a.expect("REQUEST bob");
    a.send("/chat carol");
    a.expect("OK chat carol");
    c.expect("REQUEST alice");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    b.expect("DECLINED alice busy");
    c.expect("CANCELLED alice busy");
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
    c.send("/accept");
    c.expect("ERR no-request");
}

#[test]
fn waiting_for_an_answer_keeps_you_available() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    c.send("1");
    c.expect_all(&[
        "USER alice available -",
        "USER bob available -",
        "USER carol available -",
        "OK list 3",
    ]);
    // alice can still be asked, and accept someone else.
    c.send("/chat alice");
    c.expect("OK chat alice");
    a.expect("REQUEST carol");
    a.send("/accept carol");
    a.expect_all(&["CHAT carol", "OK accept carol"]);
    c.expect("CHAT alice");
    b.expect("CANCELLED alice busy");
}
