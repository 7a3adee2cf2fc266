//! Every row of the protocol's command table: replies, aliases, argument
//! errors, case-insensitivity, `//` escaping and empty lines. Each test starts
//! its own server and drives it with plain lines.

use crate::harness::{Client, Server};

/// Reads `INFO` lines up to `final_line`, which must follow at least one.
fn expect_info_then(client: &mut Client, final_line: &str) {
    let mut infos = 0;
    loop {
        let got = client.next_key();
        if got == final_line {
            break;
        }
        if got != "INFO" {
            client.fail(&format!("expected INFO or {final_line:?}, got {got:?}"));
        }
        infos += 1;
    }
    if infos == 0 {
        client.fail("expected at least one INFO line before the final reply");
    }
}

#[test]
fn help_replies_with_info_lines_then_ok_help() {
    let server = Server::start();
    let mut a = server.login("alice");
    for help in ["/help", "/HELP", "/Help"] {
        a.send(help);
        expect_info_then(&mut a, "OK help");
    }
    a.quiet();
}

#[test]
fn help_with_an_argument_is_a_usage_error() {
    let server = Server::start();
    let mut naming = server.connect("naming");
    naming.send("/help extra");
    naming.expect("ERR usage");
    naming.send("/help");
    expect_info_then(&mut naming, "OK help");
    let mut a = server.login("alice");
    a.send("/help extra");
    a.expect("ERR usage");
    a.send("/help two words");
    a.expect("ERR usage");
    a.quiet();
}

#[test]
fn list_and_its_alias_show_everyone_sorted_case_insensitively() {
    let server = Server::start();
    let mut carol = server.login("carol");
    let _bob = server.login("Bob");
    let _dave = server.login("dave");
    let _alice = server.login("alice");
    let _zed = server.login("Zed");
    let _digit = server.login("9lives");
    let everyone = [
        "USER 9lives available -",
        "USER alice available -",
        "USER Bob available -",
        "USER carol available -",
        "USER dave available -",
        "USER Zed available -",
        "OK list 6",
    ];
    for list in ["/list", "1", "/LIST", "/lIsT"] {
        carol.send(list);
        carol.expect_all(&everyone);
    }
    // Unnamed connections are not users.
    let _naming = server.connect("naming");
    carol.send("1");
    carol.expect_all(&everyone);
    carol.send("/list all");
    carol.expect("ERR usage");
    carol.send("1 all");
    carol.expect("ERR usage");
    carol.quiet();
}

#[test]
fn chat_and_its_alias_send_a_request_and_reply_ok_chat() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    c.send("2 bob");
    c.expect("OK chat bob");
    b.expect("REQUEST carol");
    // Case-insensitive command and name; the name is shown as first typed.
    a.send("/CHAT carol");
    a.expect("OK chat carol");
    b.expect("CANCELLED alice cancelled");
    c.expect("REQUEST alice");
    a.send("2     BOB");
    a.expect("OK chat bob");
    c.expect("CANCELLED alice cancelled");
    b.expect("REQUEST alice");
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn chat_with_missing_or_extra_arguments_is_a_usage_error() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    for line in ["/chat", "/chat bob carol", "2", "2 bob carol", "/chat   "] {
        a.send(line);
        a.expect("ERR usage");
    }
    a.quiet();
    b.quiet();
}

#[test]
fn chat_with_yourself_is_refused_as_self() {
    let server = Server::start();
    let mut a = server.login("alice");
    for line in ["/chat alice", "/chat ALICE", "2 Alice"] {
        a.send(line);
        a.expect("ERR self");
    }
    a.quiet();
}

#[test]
fn chat_with_an_offline_or_malformed_name_is_no_such_user() {
    let server = Server::start();
    let mut a = server.login("alice");
    let long = "x".repeat(25);
    for name in ["nobody", "-", "-bob", "bob!", long.as_str()] {
        a.send(&format!("/chat {name}"));
        a.expect("ERR no-such-user");
    }
    a.quiet();
}

#[test]
fn chat_with_a_busy_user_is_refused_as_busy() {
    let server = Server::start();
    let (_a, _b) = server.pair("alice", "bob");
    let mut r = server.login("roomy");
    r.send("/join lobby");
    r.expect("OK join lobby 1");
    let mut c = server.login("carol");
    c.send("/chat alice");
    c.expect("ERR busy");
    c.send("2 bob");
    c.expect("ERR busy");
    c.send("/chat roomy");
    c.expect("ERR busy");
    c.quiet();
    r.quiet();
}

#[test]
fn asking_someone_who_already_asked_you_starts_the_chat_at_once() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    b.send("/chat alice");
    b.expect_all(&["CHAT alice", "OK chat alice"]);
    a.expect("CHAT bob");
    a.send("hi");
    b.expect("MSG alice hi");
    a.quiet();
    b.quiet();
}

#[test]
fn accept_and_its_aliases_start_a_chat() {
    for accept in [
        "/accept",
        "/accept alice",
        "yes",
        "y",
        "YES",
        "Y",
        "yes alice",
        "/ACCEPT ALICE",
    ] {
        let server = Server::start();
        let mut a = server.login("alice");
        let mut b = server.login("bob");
        a.send("2 bob");
        a.expect("OK chat bob");
        b.expect("REQUEST alice");
        b.send(accept);
        b.expect_all(&["CHAT alice", "OK accept alice"]);
        a.expect("CHAT bob");
        b.send("/list");
        b.expect_all(&[
            "USER alice chatting bob",
            "USER bob chatting alice",
            "OK list 2",
        ]);
        a.quiet();
    }
}

#[test]
fn decline_and_its_aliases_tell_the_requester() {
    for decline in [
        "/decline",
        "/decline alice",
        "no",
        "n",
        "NO",
        "N",
        "no alice",
        "/DECLINE Alice",
    ] {
        let server = Server::start();
        let mut a = server.login("alice");
        let mut b = server.login("bob");
        a.send("/chat bob");
        a.expect("OK chat bob");
        b.expect("REQUEST alice");
        b.send(decline);
        b.expect("OK decline alice");
        a.expect("DECLINED bob declined");
        // The request is gone and alice has no outgoing request left.
        b.send("/accept alice");
        b.expect("ERR no-request");
        a.send("/cancel");
        a.expect("ERR no-request");
        a.quiet();
        b.quiet();
    }
}

#[test]
fn accept_or_decline_without_a_name_needs_exactly_one_request() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    // None pending.
    for line in ["/accept", "/decline", "yes", "no"] {
        c.send(line);
        c.expect("ERR no-request");
    }
    a.send("/chat carol");
    a.expect("OK chat carol");
    c.expect("REQUEST alice");
    b.send("/chat carol");
    b.expect("OK chat carol");
    c.expect("REQUEST bob");
    // Two pending: the name is required.
    for line in ["/accept", "/decline", "yes", "y", "no", "n"] {
        c.send(line);
        c.expect("ERR usage");
    }
    c.send("/decline bob");
    c.expect("OK decline bob");
    b.expect("DECLINED carol declined");
    // One left: no name needed.
    c.send("y");
    c.expect_all(&["CHAT alice", "OK accept alice"]);
    a.expect("CHAT carol");
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn accept_or_decline_with_extra_arguments_is_a_usage_error() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    for line in [
        "/accept alice bob",
        "/decline alice bob",
        "yes alice bob",
        "n alice bob",
    ] {
        b.send(line);
        b.expect("ERR usage");
    }
    // The request survived the errors.
    b.send("/accept");
    b.expect_all(&["CHAT alice", "OK accept alice"]);
    a.expect("CHAT bob");
}

#[test]
fn accept_or_decline_naming_yourself_offline_or_non_requesters_fails() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    for command in ["/accept", "/decline", "yes", "no"] {
        b.send(&format!("{command} bob"));
        b.expect("ERR self");
        b.send(&format!("{command} BOB"));
        b.expect("ERR self");
        b.send(&format!("{command} nobody"));
        b.expect("ERR no-such-user");
        b.send(&format!("{command} carol"));
        b.expect("ERR no-request");
    }
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn cancel_withdraws_the_outgoing_request() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/cancel");
    a.expect("ERR no-request");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    a.send("/cancel bob");
    a.expect("ERR usage");
    a.send("/CANCEL");
    a.expect("OK cancel bob");
    b.expect("CANCELLED alice cancelled");
    b.send("/accept");
    b.expect("ERR no-request");
    a.send("/cancel");
    a.expect("ERR no-request");
    a.quiet();
    b.quiet();
}

#[test]
fn a_new_request_replaces_the_old_one_and_repeating_it_resends() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    a.send("/chat carol");
    a.expect("OK chat carol");
    b.expect("CANCELLED alice cancelled");
    c.expect("REQUEST alice");
    // The same target again re-sends REQUEST and cancels nothing.
    a.send("/chat carol");
    a.expect("OK chat carol");
    c.expect("REQUEST alice");
    b.quiet();
    // bob no longer holds a request from alice.
    b.send("/accept alice");
    b.expect("ERR no-request");
    c.send("/accept alice");
    c.expect_all(&["CHAT alice", "OK accept alice"]);
    a.expect("CHAT carol");
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn leave_ends_a_chat_and_needs_no_arguments() {
    let server = Server::start();
    let mut a = server.login("alice");
    a.send("/leave");
    a.expect("ERR not-in-chat");
    let (mut b, mut c) = server.pair("bob", "carol");
    b.send("/leave now");
    b.expect("ERR usage");
    c.quiet();
    b.send("/LEAVE");
    b.expect("OK leave chat carol");
    c.expect("ENDED bob left");
    // Both are back at the menu.
    b.send("hello");
    b.expect("ERR not-in-chat");
    c.send("hello");
    c.expect("ERR not-in-chat");
    a.send("1");
    a.expect_all(&[
        "USER alice available -",
        "USER bob available -",
        "USER carol available -",
        "OK list 3",
    ]);
}

#[test]
fn ping_echoes_its_token_or_a_dash() {
    let server = Server::start();
    let mut a = server.login("alice");
    a.send("/ping");
    a.expect("OK ping -");
    a.send("/ping abc");
    a.expect("OK ping abc");
    a.send("/PING   xyz");
    a.expect("OK ping xyz");
    a.send("/ping a b");
    a.expect("ERR usage");
    // The token is echoed as typed, not case-folded.
    a.send("/ping MiXeD");
    a.expect("OK ping MiXeD");
}

#[test]
fn exit_quit_and_3_say_bye_and_close_ignoring_arguments() {
    let server = Server::start();
    for (name, line) in [
        ("a1", "/exit"),
        ("a2", "/quit"),
        ("a3", "3"),
        ("a4", "/EXIT"),
        ("a5", "/quit see you later"),
        ("a6", "/exit now"),
        ("a7", "3 please"),
    ] {
        let mut client = server.login(name);
        client.send(line);
        client.expect_bye_and_close("exit");
    }
}

#[test]
fn unknown_commands_are_refused_in_every_named_state() {
    let server = Server::start();
    let mut a = server.login("alice");
    for line in ["/frobnicate", "/lists", "/c", "/chat_bob"] {
        a.send(line);
        a.expect("ERR unknown-command");
    }
    let (mut b, mut c) = server.pair("bob", "carol");
    b.send("/frobnicate");
    b.expect("ERR unknown-command");
    c.quiet();
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    a.send("/frobnicate now");
    a.expect("ERR unknown-command");
    a.quiet();
}

#[test]
fn a_message_while_available_is_not_in_chat() {
    let server = Server::start();
    let mut a = server.login("alice");
    for line in [
        "hello",
        "hello there",
        "4",
        "yesterday",
        "2bob",
        "hello world",
    ] {
        a.send(line);
        a.expect("ERR not-in-chat");
    }
    a.quiet();
}

#[test]
fn messages_reach_the_partner_in_order_with_no_echo() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let sent: Vec<String> = (0..100).map(|i| format!("message number {i}")).collect();
    for text in &sent {
        a.send(text);
    }
    for text in &sent {
        b.expect(&format!("MSG alice {text}"));
    }
    // Spaces are kept verbatim, including leading and trailing ones.
    a.send("  two  spaces  ");
    b.expect("MSG alice   two  spaces  ");
    a.send("\tcafé ☕ 日本");
    b.expect("MSG alice \tcafé ☕ 日本");
    a.quiet();
    b.quiet();
}

#[test]
fn menu_aliases_are_messages_while_chatting() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let aliases = [
        "1", "2 bob", "2 carol", "3", "yes", "y", "no", "n", "YES", "Y", "no alice",
    ];
    for alias in aliases {
        a.send(alias);
    }
    for alias in aliases {
        b.expect(&format!("MSG alice {alias}"));
    }
    a.quiet();
    b.quiet();
}

#[test]
fn menu_aliases_are_messages_in_a_room() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    b.send("/join lobby");
    b.expect("OK join lobby 2");
    a.expect("JOINED lobby bob");
    let aliases = ["1", "2 bob", "3", "yes", "y", "no", "n"];
    for alias in aliases {
        a.send(alias);
    }
    for alias in aliases {
        b.expect(&format!("ROOM lobby alice {alias}"));
    }
    a.quiet();
    b.quiet();
}

#[test]
fn double_slash_sends_a_message_beginning_with_a_slash() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("//help");
    b.expect("MSG alice /help");
    a.send("///x");
    b.expect("MSG alice //x");
    a.send("//");
    b.expect("MSG alice /");
    a.send("// spaced");
    b.expect("MSG alice / spaced");
    a.quiet();
    b.send("/leave");
    b.expect("OK leave chat alice");
    a.expect("ENDED bob left");
    // While available a `//` line is a message, so not-in-chat.
    a.send("//help");
    a.expect("ERR not-in-chat");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    b.send("/join lobby");
    b.expect("OK join lobby 2");
    a.expect("JOINED lobby bob");
    a.send("//me waves");
    b.expect("ROOM lobby alice /me waves");
    a.quiet();
}

#[test]
fn empty_lines_are_ignored_in_every_state() {
    let server = Server::start();
    // Naming: empty lines are not names.
    let mut a = server.connect("alice");
    a.send_raw(b"\n\r\n\n");
    a.send("alice");
    a.expect("WELCOME alice");
    a.skip_info();
    // Available.
    a.send_raw(b"\n\r\n");
    a.quiet();
    // Chatting: nothing reaches the partner.
    let mut b = server.login("bob");
    a.send("/chat bob");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    b.send("y");
    b.expect_all(&["CHAT alice", "OK accept alice"]);
    a.expect("CHAT bob");
    a.send_raw(b"\n\r\n\nafter\n");
    b.expect("MSG alice after");
    a.quiet();
    b.quiet();
    // In a room.
    a.send("/leave");
    a.expect("OK leave chat bob");
    b.expect("ENDED alice left");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    b.send("/join lobby");
    b.expect("OK join lobby 2");
    a.expect("JOINED lobby bob");
    a.send_raw(b"\r\n\n\r\nroom after\n");
    b.expect("ROOM lobby alice room after");
    a.quiet();
    b.quiet();
}

#[test]
fn lines_may_end_in_lf_or_crlf() {
    let server = Server::start();
    let mut a = server.connect("alice");
    a.send_raw(b"alice\r\n");
    a.expect("WELCOME alice");
    a.skip_info();
    let mut b = server.login("bob");
    a.send_raw(b"/chat bob\r\n");
    a.expect("OK chat bob");
    b.expect("REQUEST alice");
    b.send_raw(b"yes\r\n");
    b.expect_all(&["CHAT alice", "OK accept alice"]);
    a.expect("CHAT bob");
    a.send_raw(b"crlf\r\nlf\n");
    b.expect_all(&["MSG alice crlf", "MSG alice lf"]);
    a.send_raw(b"/ping x\r\n/ping y\n");
    a.expect_all(&["OK ping x", "OK ping y"]);
}

#[test]
fn in_a_chat_chat_accept_join_are_not_available_decline_cancel_no_request() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut c = server.login("carol");
    c.send("/chat alice");
    c.expect("ERR busy");
    for (line, want) in [
        ("/chat carol", "ERR not-available"),
        ("/accept", "ERR not-available"),
        ("/accept carol", "ERR not-available"),
        ("/join lobby", "ERR not-available"),
        ("/decline", "ERR no-request"),
        ("/decline carol", "ERR no-request"),
        ("/cancel", "ERR no-request"),
    ] {
        a.send(line);
        a.expect(want);
    }
    for client in [&mut a, &mut b, &mut c] {
        client.quiet();
    }
}

#[test]
fn in_a_room_chat_accept_join_are_not_available_decline_cancel_no_request() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut c = server.login("carol");
    a.send("/join lobby");
    a.expect("OK join lobby 1");
    for (line, want) in [
        ("/chat carol", "ERR not-available"),
        ("/accept", "ERR not-available"),
        ("/accept carol", "ERR not-available"),
        ("/join lobby", "ERR not-available"),
        ("/join other", "ERR not-available"),
        ("/decline", "ERR no-request"),
        ("/decline carol", "ERR no-request"),
        ("/cancel", "ERR no-request"),
    ] {
        a.send(line);
        a.expect(want);
    }
    a.quiet();
    c.quiet();
}

#[test]
fn list_rooms_ping_and_help_work_while_chatting() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("/list");
    a.expect_all(&[
        "USER alice chatting bob",
        "USER bob chatting alice",
        "OK list 2",
    ]);
    a.send("/rooms");
    a.expect("OK rooms 0");
    a.send("/help");
    expect_info_then(&mut a, "OK help");
    a.send("/ping p");
    a.expect("OK ping p");
    b.quiet();
}
