//! Lines at, just over and far over `--max-line`, up to a line that never
//! ends: each gets one `ERR too-long`, the next line works, and the
//! server's memory stays flat.

use crate::harness::{Control, Server, assert_name_free, rss_kib};

#[test]
fn lines_just_under_and_at_max_line_are_delivered_whole() {
    let server = Server::start_with(&["--max-line", "64"]);
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    for len in [1, 62, 63, 64] {
        let text = "x".repeat(len);
        a.send(&text);
        b.expect(&format!("MSG alice {text}"));
    }
    // 64 bytes ending in a 2-byte character, terminated by CRLF.
    let text = "y".repeat(62) + "é";
    a.send_raw(format!("{text}\r\n").as_bytes());
    b.expect(&format!("MSG alice {text}"));
    // A 64-byte name fits the line limit but not the name rules.
    let mut naming = server.connect("naming");
    naming.send(&"n".repeat(64));
    naming.expect("ERR name-invalid");
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_line_one_byte_over_max_line_is_refused_once_in_every_state() {
    let server = Server::start_with(&["--max-line", "64"]);
    let mut ctl = Control::new(&server);
    let mut naming = server.connect("naming");
    naming.send(&"n".repeat(65));
    naming.expect("ERR too-long");
    naming.send("nora");
    naming.expect("WELCOME nora");
    naming.skip_info();
    let (mut a, mut b) = server.pair("alice", "bob");
    for line in [
        "x".repeat(65),
        "y".repeat(63) + "é",
        format!("/ping {}", "t".repeat(60)),
        format!("//{}", "s".repeat(63)),
    ] {
        a.send(&line);
        a.expect("ERR too-long");
    }
    // The same in a room: nobody hears any of it.
    let mut c = server.login("carol");
    naming.send("/join den");
    naming.expect("OK join den 1");
    c.send("/join den");
    c.expect("OK join den 2");
    naming.expect("JOINED den carol");
    c.send(&"r".repeat(65));
    c.expect("ERR too-long");
    naming.quiet();
    b.quiet();
    a.send("still here");
    b.expect("MSG alice still here");
    ctl.check(&["alice", "bob", "carol", "nora"]);
}

#[test]
fn a_line_ten_times_max_line_gets_one_error_and_the_next_line_works() {
    let server = Server::start_with(&["--max-line", "64"]);
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    // In one write, followed by a complete command.
    a.send_raw(format!("{}\n/ping after\n", "z".repeat(640)).as_bytes());
    a.expect_all(&["ERR too-long", "OK ping after"]);
    // In ten writes of exactly the limit: still one error, as the limit passes.
    for _ in 0..10 {
        a.send_raw(&[b'w'; 64]);
    }
    a.send_raw(b"\n/ping again\n");
    a.expect_all(&["ERR too-long", "OK ping again"]);
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_one_mib_line_gets_one_error_while_naming_and_chatting() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mib = vec![b'm'; 1 << 20];
    let mut naming = server.connect("naming");
    naming.bound_writes();
    naming.send_raw(&mib);
    naming.send_raw(b"\n");
    naming.expect("ERR too-long");
    naming.send("nora");
    naming.expect("WELCOME nora");
    naming.skip_info();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.bound_writes();
    let mut line = mib.clone();
    line.extend_from_slice(b"\r\n/ping after\r\n");
    a.send_raw(&line);
    a.expect_all(&["ERR too-long", "OK ping after"]);
    b.quiet();
    a.send("short");
    b.expect("MSG alice short");
    ctl.check(&["alice", "bob", "nora"]);
}

#[test]
fn a_line_that_never_ends_is_discarded_as_it_arrives_and_memory_stays_flat() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    a.bound_writes();
    a.send_raw(&[b'e'; 8192]);
    a.expect("ERR too-long");
    let rss_before = rss_kib(server.pid());
    let chunk = vec![b'e'; 64 * 1024];
    // 16 MiB without a newline; the others keep chatting meanwhile.
    for i in 0..256 {
        a.send_raw(&chunk);
        if i % 64 == 63 {
            ctl.check(&["alice", "bob"]);
        }
    }
    // The line is still open: a ping now is part of it, not a command.
    a.send_raw(b"/ping inside");
    let grown = rss_kib(server.pid()).saturating_sub(rss_before);
    if grown > 8 * 1024 {
        server.fail(&format!(
            "the server grew by {grown} KiB while discarding one line"
        ));
    }
    b.quiet();
    // It never ends: the client resets. Nothing of it was delivered.
    a.reset();
    b.expect("ENDED alice disconnected");
    b.quiet();
    assert_name_free(&server, "alice");
    ctl.check(&["bob"]);
}
