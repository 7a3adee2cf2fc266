//! Adversarial suite (issue #6): hostile bytes, hostile timing and hostile
//! connection behaviour against the real `chinwagd`. Every case checks two
//! things: what the offender gets (an `ERR` code, `BYE`, or a closed
//! connection), and that everyone else is undisturbed — a control group
//! exchanges numbered bursts both ways (nothing lost, duplicated or
//! reordered), `/list` shows exactly the expected names, and the offender's
//! name is free again once it is gone.
//!
//! The "vanish without FIN" case needs a network namespace and lives in
//! `adversarial_net.rs`.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use common::telnet::{DO, DONT, ECHO, IAC, IP, NAWS, SB, SE, SGA, TTYPE, WILL, WONT};

use crate::harness::{
    Client, Control, Server, assert_name_free, list, rss_kib, threads_and_fds, wait_for_baseline,
};

const R: char = '\u{fffd}';

/// A tiny deterministic generator (no dependency, fixed seeds).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------------------
// 1. Over-long lines
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// 2. Invalid UTF-8
// ---------------------------------------------------------------------------

/// Each line (without its LF) must get exactly `ERR bad-encoding`, deliver
/// nothing, and leave the chat working.
fn refused_as_bad_encoding(cases: &[&[u8]]) {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    for (i, bad) in cases.iter().enumerate() {
        let mut line = bad.to_vec();
        line.push(b'\n');
        a.send_raw(&line);
        a.expect("ERR bad-encoding");
        if i % 8 == 7 {
            b.quiet();
        }
    }
    // All of them in one write, too.
    let all: Vec<u8> = cases
        .iter()
        .flat_map(|bad| bad.iter().copied().chain([b'\n']))
        .collect();
    a.send_raw(&all);
    for _ in cases {
        a.expect("ERR bad-encoding");
    }
    b.quiet();
    a.send("fine");
    b.expect("MSG alice fine");
    a.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn lone_continuation_bytes_are_bad_encoding() {
    refused_as_bad_encoding(&[
        b"\x80",
        b"\xbf",
        b"ab\x80cd",
        b"\x80\x80\x80\x80",
        b"\xc3\xa9\xa9",
        b"\xe2\x82\xac\x80",
        b"/ping \x9b",
        b"//\xa0",
    ]);
}

#[test]
fn overlong_encodings_are_bad_encoding() {
    refused_as_bad_encoding(&[
        b"\xc0\x80",         // NUL
        b"\xc0\x8a",         // LF
        b"\xc0\xaf",         // '/'
        b"\xc1\xbf",         // DEL
        b"\xe0\x80\x80",     // NUL in 3 bytes
        b"\xe0\x80\xaf",     // '/' in 3 bytes
        b"\xe0\x9f\xbf",     // U+07FF in 3 bytes
        b"\xf0\x80\x80\x80", // NUL in 4 bytes
        b"\xf0\x8f\xbf\xbf", // U+FFFF in 4 bytes
        b"x\xc0\xafping",
    ]);
}

#[test]
fn surrogates_encoded_in_utf8_are_bad_encoding() {
    refused_as_bad_encoding(&[
        b"\xed\xa0\x80",             // U+D800
        b"\xed\xad\xbf",             // U+DB7F
        b"\xed\xae\x80",             // U+DB80
        b"\xed\xaf\xbf",             // U+DBFF
        b"\xed\xb0\x80",             // U+DC00
        b"\xed\xbf\xbf",             // U+DFFF
        b"\xed\xa0\xbd\xed\xb8\x80", // CESU-8 pair for U+1F600
        b"ok \xed\xa0\x80 ok",
    ]);
}

#[test]
fn five_and_six_byte_forms_and_bytes_f5_to_fe_are_bad_encoding() {
    refused_as_bad_encoding(&[
        b"\xf8\x88\x80\x80\x80",
        b"\xfc\x84\x80\x80\x80\x80",
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"\xf5\x80\x80\x80",
        b"\xf6\x80\x80\x80",
        b"\xf7\xbf\xbf\xbf",
        b"\xf8",
        b"\xf9",
        b"\xfa",
        b"\xfb",
        b"\xfc",
        b"\xfd",
        b"\xfe",
        b"\xc0",
        b"\xc1",
        b"a\xfeb",
    ]);
}

#[test]
fn truncated_sequences_inside_a_line_are_bad_encoding() {
    refused_as_bad_encoding(&[
        b"\xc3",
        b"\xe2\x82",
        b"\xf0\x9f\xa6",
        b"a\xc3 b",
        b"a\xe2\x82 b",
        b"a\xf0\x9f b",
        b"\xe2\x82\xe2\x82\xac",
    ]);
}

#[test]
fn a_character_split_across_two_writes_is_valid_and_delivered() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    for ch in ["é", "€", "日", "🦀", "\u{10ffff}", "\u{fffd}"] {
        let text = format!("x{ch}y");
        let bytes = format!("{text}\n").into_bytes();
        // Every split inside the character (and around it).
        for split in 1..bytes.len() {
            a.send_raw(&bytes[..split]);
            a.send_raw(&bytes[split..]);
            b.expect(&format!("MSG alice {text}"));
        }
    }
    // A name split inside a line works the same way.
    let mut naming = server.connect("naming");
    naming.send_raw(b"na");
    naming.send_raw(b"me\r");
    naming.send_raw(b"\n");
    naming.expect("WELCOME name");
    naming.skip_info();
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob", "name"]);
}

#[test]
fn bad_encoding_is_refused_in_names_rooms_tokens_and_room_messages() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut naming = server.connect("naming");
    naming.send_raw(b"al\xedce\n");
    naming.expect("ERR bad-encoding");
    naming.send_raw(b"/join \xc0\xaf\n");
    naming.expect("ERR bad-encoding");
    naming.send("nora");
    naming.expect("WELCOME nora");
    naming.skip_info();
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    for (client, n) in [(&mut c, 1), (&mut d, 2)] {
        client.send("/join den");
        client.expect(&format!("OK join den {n}"));
    }
    c.expect("JOINED den dave");
    naming.send_raw(b"/join d\xffen\n");
    // 0xFF is a telnet IAC: "\xff e" is removed, leaving "/join dn".
    naming.expect("OK join dn 1");
    naming.send("/leave");
    naming.expect("OK leave room dn");
    for bad in [
        &b"/join \xed\xa0\x80\n"[..],
        b"/ping \xf8\n",
        b"/chat \xc3\n",
    ] {
        naming.send_raw(bad);
        naming.expect("ERR bad-encoding");
    }
    for bad in [&b"room \xe2\x82\n"[..], b"\xfe\n", b"//\x80\n"] {
        c.send_raw(bad);
        c.expect("ERR bad-encoding");
    }
    d.quiet();
    c.send("room ok");
    d.expect("ROOM den carol room ok");
    c.quiet();
    ctl.check(&["carol", "dave", "nora"]);
}

// ---------------------------------------------------------------------------
// 3. Telnet
// ---------------------------------------------------------------------------

#[test]
fn every_two_byte_telnet_command_is_removed_silently() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, and a stray SE.
    let mut line = Vec::new();
    for (i, command) in [241u8, 242, 243, 244, 245, 246, 247, 248, 249, 240]
        .into_iter()
        .enumerate()
    {
        line.push(b'a' + i as u8);
        line.extend_from_slice(&[IAC, command]);
    }
    line.extend_from_slice(b"!\r\n");
    a.send_raw(&line);
    b.expect("MSG alice abcdefghij!");
    // No reply bytes at all: quiet() fails on anything that is not a line.
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn negotiation_inside_a_message_is_removed_and_answered_every_time() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut line = b"he".to_vec();
    line.extend_from_slice(&[IAC, WILL, ECHO]);
    line.extend_from_slice(b"l");
    line.extend_from_slice(&[IAC, WONT, SGA]);
    line.extend_from_slice(b"l");
    line.extend_from_slice(&[IAC, DO, NAWS]);
    line.extend_from_slice(b"o");
    line.extend_from_slice(&[IAC, DONT, TTYPE, IAC, DO, NAWS]);
    line.extend_from_slice(b"\n");
    a.send_raw(&line);
    a.expect_bytes(&[IAC, DONT, ECHO, IAC, WONT, NAWS, IAC, WONT, NAWS]);
    b.expect("MSG alice hello");
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_subnegotiation_swallows_newlines_commands_and_escaped_iacs() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut line = b"before".to_vec();
    line.extend_from_slice(&[IAC, SB, TTYPE, 0]);
    line.extend_from_slice(b"x\n/ping inside\r\n/exit\n");
    line.extend_from_slice(&[IAC, IAC, b'y', IAC, WILL]);
    line.extend_from_slice(&[IAC, SE]);
    line.extend_from_slice(b"after\n");
    a.send_raw(&line);
    b.expect("MSG alice beforeafter");
    // Neither the ping nor the exit inside the subnegotiation ran.
    a.quiet();
    b.quiet();
    // The same while naming: a subnegotiation holding a name is no name.
    let mut naming = server.connect("naming");
    let mut bytes = vec![IAC, SB, TTYPE];
    bytes.extend_from_slice(b"ghost\n");
    bytes.extend_from_slice(&[IAC, SE]);
    bytes.extend_from_slice(b"nora\n");
    naming.send_raw(&bytes);
    naming.expect("WELCOME nora");
    naming.skip_info();
    ctl.check(&["alice", "bob", "nora"]);
}

#[test]
fn telnet_commands_split_at_every_read_boundary_are_removed() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut bytes = b"he".to_vec();
    bytes.extend_from_slice(&[IAC, WILL, NAWS]);
    bytes.extend_from_slice(b"l");
    bytes.extend_from_slice(&[IAC, SB, TTYPE, 0]);
    bytes.extend_from_slice(b"vt");
    bytes.extend_from_slice(&[IAC, IAC]);
    bytes.extend_from_slice(b"100");
    bytes.extend_from_slice(&[IAC, SE]);
    bytes.extend_from_slice(b"lo");
    bytes.extend_from_slice(&[IAC, IP]);
    bytes.extend_from_slice(b"!\r\n");
    for split in 1..bytes.len() {
        a.send_raw(&bytes[..split]);
        a.send_raw(&bytes[split..]);
        a.expect_bytes(&[IAC, DONT, NAWS]);
        b.expect("MSG alice hello!");
    }
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn iac_at_the_end_of_a_line_takes_the_next_byte_with_it() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    // IAC LF is a two-byte telnet command: the line goes on.
    a.send_raw(b"ab\xff\ncd\n");
    b.expect("MSG alice abcd");
    // IAC CR is removed and the LF still ends the line.
    a.send_raw(b"ef\xff\r\n");
    b.expect("MSG alice ef");
    // IAC as the very last byte of a write, its partner in the next one.
    a.send_raw(b"gh\xff");
    a.send_raw(b"\n");
    a.send_raw(b"ij\n");
    b.expect("MSG alice ghij");
    a.quiet();
    b.quiet();
    // IAC as the last byte before the client half-closes: the partial line
    // is dropped and the close is a disconnect.
    a.send_raw(b"tail\xff");
    a.shutdown_write();
    a.expect_closed();
    b.expect("ENDED alice disconnected");
    b.quiet();
    assert_name_free(&server, "alice");
    ctl.check(&["bob"]);
}

#[test]
fn iac_iac_is_bad_encoding_in_names_and_split_messages() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut naming = server.connect("naming");
    naming.send_raw(b"bo\xff\xffb\n");
    naming.expect("ERR bad-encoding");
    naming.send("bob");
    naming.expect("WELCOME bob");
    naming.skip_info();
    let mut a = server.login("alice");
    a.send("/chat bob");
    a.expect("OK chat bob");
    naming.expect("REQUEST alice");
    naming.send("yes");
    naming.expect_all(&["CHAT alice", "OK accept alice"]);
    a.expect("CHAT bob");
    a.send_raw(b"x\xff");
    a.send_raw(b"\xffy\n");
    a.expect("ERR bad-encoding");
    naming.quiet();
    a.send("after");
    naming.expect("MSG alice after");
    ctl.check(&["alice", "bob"]);
}

#[test]
fn an_unterminated_subnegotiation_until_disconnect_frees_the_name() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    a.bound_writes();
    a.send_raw(&[IAC, SB, NAWS]);
    for _ in 0..64 {
        a.send_raw(&[b'q'; 16 * 1024]);
    }
    a.send_raw(b"\nmore\n");
    b.quiet();
    a.shutdown_write();
    a.expect_closed();
    b.expect("ENDED alice disconnected");
    assert_name_free(&server, "alice");
    ctl.check(&["bob"]);
}

// ---------------------------------------------------------------------------
// 4. Control, escape, C1 and bidi characters
// ---------------------------------------------------------------------------

#[test]
fn names_and_room_names_with_control_or_direction_characters_are_invalid() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut naming = server.connect("naming");
    let bad = [
        "a\u{0}b",
        "\u{1b}[31mred",
        "red\u{1b}",
        "\u{1b}]0;x\u{7}",
        "a\u{7f}b",
        "a\tb",
        "a\rb",
        "a\u{80}b",
        "a\u{85}b",
        "a\u{9b}b",
        "a\u{9f}b",
        "\u{202e}abc",
        "a\u{202a}b",
        "a\u{2066}b",
        "a\u{2069}b",
        "a\u{2028}b",
        "a\u{200f}b",
        "a\u{feff}",
    ];
    for name in bad {
        naming.send(name);
        naming.expect("ERR name-invalid");
    }
    naming.send("nora");
    naming.expect("WELCOME nora");
    naming.skip_info();
    for room in bad {
        naming.send(&format!("/join {room}"));
        naming.expect("ERR name-invalid");
    }
    naming.send("/rooms");
    naming.expect("OK rooms 0");
    ctl.check(&["nora"]);
}

#[test]
fn every_forbidden_code_point_is_replaced_and_its_neighbours_kept() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let forbidden: Vec<char> = (0u32..=0x1f)
        .filter(|&c| c != 0x09 && c != 0x0a)
        .chain(0x7f..=0x9f)
        .chain([0x2028, 0x2029])
        .chain(0x202a..=0x202e)
        .chain(0x2066..=0x2069)
        .filter_map(char::from_u32)
        .collect();
    let allowed = [
        '\t',
        ' ',
        '~',
        '\u{a0}',
        '\u{a1}',
        '\u{200e}',
        '\u{200f}',
        '\u{2027}',
        '\u{202f}',
        '\u{2065}',
        '\u{206a}',
        '\u{feff}',
        '\u{fffd}',
        '\u{10ffff}',
    ];
    // All in one write: one line per character, wrapped so a CR is not
    // taken as part of the line ending.
    let mut bytes = String::new();
    for c in forbidden.iter().chain(&allowed) {
        bytes.push('<');
        bytes.push(*c);
        bytes.push_str(">\n");
    }
    a.send_raw(bytes.as_bytes());
    for _ in &forbidden {
        b.expect(&format!("MSG alice <{R}>"));
    }
    for c in allowed {
        b.expect(&format!("MSG alice <{c}>"));
    }
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn escapes_are_neutralised_in_room_messages_escaped_lines_and_ping_tokens() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    let mut e = server.login("erin");
    for (client, n) in [(&mut c, 1), (&mut d, 2), (&mut e, 3)] {
        client.send("/join den");
        client.expect(&format!("OK join den {n}"));
    }
    c.expect_all(&["JOINED den dave", "JOINED den erin"]);
    d.expect("JOINED den erin");
    for (sent, want) in [
        (
            "\u{1b}[2J\u{1b}[H\u{1b}]0;pwned\u{7}".to_owned(),
            format!("{R}[2J{R}[H{R}]0;pwned{R}"),
        ),
        (
            "\u{9b}31m\u{90}q\u{9c}".to_owned(),
            format!("{R}31m{R}q{R}"),
        ),
        (
            "abc\u{202e}fed\u{2066}x\u{2069}".to_owned(),
            format!("abc{R}fed{R}x{R}"),
        ),
        ("//\u{1b}c".to_owned(), format!("/{R}c")),
        ("nul\u{0}".to_owned(), format!("nul{R}")),
    ] {
        c.send(&sent);
        d.expect(&format!("ROOM den carol {want}"));
        e.expect(&format!("ROOM den carol {want}"));
    }
    c.send("/ping \u{1b}]0;x\u{7}\u{202e}");
    c.expect(&format!("OK ping {R}]0;x{R}{R}"));
    // A chat partner gets the `//` form sanitised too.
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("//\u{1b}[1mbold\u{85}");
    b.expect(&format!("MSG alice /{R}[1mbold{R}"));
    for client in [&mut a, &mut b, &mut c, &mut d, &mut e] {
        client.quiet();
    }
    ctl.check(&["alice", "bob", "carol", "dave", "erin"]);
}

// ---------------------------------------------------------------------------
// 5. Write patterns
// ---------------------------------------------------------------------------

#[test]
fn commands_and_messages_in_single_byte_writes_work() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut bytes = b"/ping one\r\nh\xc3\xa9".to_vec();
    bytes.extend_from_slice(&[IAC, DO, ECHO]);
    bytes.extend_from_slice(b"llo \xf0\x9f\xa6\x80\r\n//x\n\n/PING two\n");
    for byte in &bytes {
        a.send_raw(std::slice::from_ref(byte));
    }
    a.expect("OK ping one");
    a.expect_bytes(&[IAC, WONT, ECHO]);
    a.expect("OK ping two");
    b.expect_all(&["MSG alice héllo 🦀", "MSG alice /x"]);
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn hundreds_of_lines_in_one_write_are_all_handled_in_order() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut bytes = String::new();
    for i in 0..600 {
        bytes.push_str(&format!("message {i}\n"));
        if i % 2 == 0 {
            bytes.push_str(&format!("/ping p{i}\r\n"));
        }
    }
    a.send_raw(bytes.as_bytes());
    for i in (0..600).step_by(2) {
        a.expect(&format!("OK ping p{i}"));
    }
    for i in 0..600 {
        b.expect(&format!("MSG alice message {i}"));
    }
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_flood_under_flood_control_is_slowed_never_dropped_and_others_unharmed() {
    let server = Server::start_with(&["--flood-rate", "200"]);
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let burst: String = (0..800).map(|i| format!("flood {i}\n")).collect();
    a.send_raw(burst.as_bytes());
    // The control group is served while the flood is being read slowly.
    ctl.check(&["alice", "bob"]);
    for i in 0..800 {
        b.expect(&format!("MSG alice flood {i}"));
    }
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_random_mix_of_good_and_bad_lines_gives_the_same_result_however_split() {
    let server = Server::start_with(&["--max-line", "64"]);
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let mut rng = Lcg(0x5eed);
    let mut stream = Vec::new();
    let mut to_a = Vec::new();
    let mut to_b = Vec::new();
    for i in 0..200 {
        match rng.below(7) {
            0 => {
                stream.extend_from_slice(format!("msg {i}\n").as_bytes());
                to_b.push(format!("MSG alice msg {i}"));
            }
            1 => {
                let len = 65 + rng.below(200) as usize;
                stream.extend(std::iter::repeat_n(b'L', len));
                stream.push(b'\n');
                to_a.push("ERR too-long".to_owned());
            }
            2 => {
                stream.extend_from_slice(b"bad \xc0\xaf\r\n");
                to_a.push("ERR bad-encoding".to_owned());
            }
            3 => stream.extend_from_slice(b"\r\n"),
            4 => {
                stream.extend_from_slice(b"t");
                stream.extend_from_slice(&[IAC, SB, TTYPE, b'\n', IAC, SE, IAC, 241]);
                stream.extend_from_slice(format!("el {i}\n").as_bytes());
                to_b.push(format!("MSG alice tel {i}"));
            }
            5 => {
                stream.extend_from_slice(format!("/ping r{i}\n").as_bytes());
                to_a.push(format!("OK ping r{i}"));
            }
            _ => {
                stream.extend_from_slice(format!("ünï {i} \u{1b}\n").as_bytes());
                to_b.push(format!("MSG alice ünï {i} {R}"));
            }
        }
    }
    for chunking in 0..4 {
        let mut at = 0;
        while at < stream.len() {
            let size = match chunking {
                0 => stream.len(),
                1 => 1,
                _ => 1 + rng.below(40) as usize,
            };
            let end = (at + size).min(stream.len());
            a.send_raw(&stream[at..end]);
            at = end;
        }
        for want in &to_a {
            a.expect(want);
        }
        for want in &to_b {
            b.expect(want);
        }
        a.quiet();
        b.quiet();
    }
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_megabyte_of_empty_lines_gets_no_reply() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    a.bound_writes();
    let mut bytes = Vec::with_capacity(1 << 20);
    while bytes.len() < 1 << 20 {
        bytes.extend_from_slice(b"\n\r\n");
    }
    a.send_raw(&bytes);
    a.quiet();
    b.quiet();
    // The same while naming.
    let mut naming = server.connect("naming");
    naming.bound_writes();
    naming.send_raw(&bytes);
    naming.send("nora");
    naming.expect("WELCOME nora");
    naming.skip_info();
    ctl.check(&["alice", "bob", "nora"]);
}

#[test]
fn an_http_request_or_tls_hello_on_the_chat_port_is_refused_line_by_line() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut web = server.connect("web");
    web.send_raw(b"GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: x\r\n\r\n");
    web.expect_all(&["ERR name-invalid", "ERR name-invalid", "ERR name-invalid"]);
    web.send("/exit");
    web.expect_bye_and_close();
    // A TLS ClientHello: binary, no newline, with bytes that are not UTF-8.
    let mut tls = server.connect("tls");
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut rng = Lcg(7);
    // Random bytes with no newline and no 0xFF (IAC): one binary line.
    hello.extend((0..500).map(|_| match (rng.next() & 0xfe) as u8 {
        b'\n' => 0x80,
        byte => byte,
    }));
    tls.send_raw(&hello);
    tls.send_raw(b"\n");
    tls.expect("ERR bad-encoding");
    tls.send("tlsname");
    tls.expect("WELCOME tlsname");
    tls.skip_info();
    ctl.check(&["tlsname"]);
}

// ---------------------------------------------------------------------------
// 6. Connection behaviour
// ---------------------------------------------------------------------------

#[test]
fn silent_connections_time_out_and_their_slots_come_back() {
    const SILENT: usize = 10;
    let server = Server::start_with(&[
        "--name-timeout",
        "1",
        "--max-clients",
        &(SILENT + 3).to_string(),
    ]);
    let mut ctl = Control::new(&server);
    let mut silent: Vec<Client> = (0..SILENT)
        .map(|i| server.connect(&format!("silent{i}")))
        .collect();
    // They hold slots: one more is refused.
    let mut extra = server.connect_raw("extra");
    extra.expect_all(&["ERR server-full", "BYE"]);
    extra.expect_closed();
    for client in &mut silent {
        client.expect_bye_and_close();
    }
    // Their slots are free: as many new users fit again.
    let mut fresh: Vec<Client> = (0..SILENT)
        .map(|i| server.login(&format!("fresh{i}")))
        .collect();
    let names: Vec<String> = (0..SILENT).map(|i| format!("fresh{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
    for client in &mut fresh {
        client.quiet();
    }
}

#[test]
fn half_a_line_then_a_fin_is_dropped_and_the_close_is_a_disconnect() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send_raw(b"/ping whole\nhalf a mes");
    a.shutdown_write();
    a.expect("OK ping whole");
    a.expect_closed();
    b.expect("ENDED alice disconnected");
    b.quiet();
    assert_name_free(&server, "alice");
    // While naming: a half name is never registered.
    let mut naming = server.connect("naming");
    naming.send_raw(b"carol");
    naming.shutdown_write();
    naming.expect_closed();
    assert_name_free(&server, "carol");
    ctl.check(&["bob"]);
}

#[test]
fn half_a_line_then_a_reset_in_a_room_is_parted_disconnected() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    for (client, n) in [(&mut c, 1), (&mut d, 2)] {
        client.send("/join den");
        client.expect(&format!("OK join den {n}"));
    }
    c.expect("JOINED den dave");
    // A line completed by a later write is one message.
    d.send_raw(b"half a mes");
    d.send_raw(b"sage\n");
    c.expect("ROOM den dave half a message");
    d.send_raw(b"another half");
    d.reset();
    c.expect("PARTED den dave disconnected");
    c.quiet();
    c.send("/rooms");
    c.expect_all(&["ROOMINFO den 1", "OK rooms 1"]);
    assert_name_free(&server, "dave");
    ctl.check(&["carol"]);
}

#[test]
fn a_reset_while_the_server_holds_a_backlog_ends_the_chat_and_the_writer() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let baseline = threads_and_fds(server.pid());
    let mut slow = server.login_small_rcvbuf("slow");
    let mut pusher = server.login("pusher");
    pusher.send("/chat slow");
    pusher.expect("OK chat slow");
    slow.expect("REQUEST pusher");
    slow.send("/accept");
    slow.expect_all(&["CHAT pusher", "OK accept pusher"]);
    pusher.expect("CHAT slow");
    // About 512 KB for a reader that reads nothing: the kernel buffers
    // fill and the server queues the rest (a writer thread waits).
    let batch: String = (0..16).map(|_| format!("{}\n", "p".repeat(2000))).collect();
    for round in 0..16 {
        pusher.send_raw(batch.as_bytes());
        pusher.send(&format!("/ping r{round}"));
        pusher.expect(&format!("OK ping r{round}"));
    }
    slow.reset();
    pusher.expect("ENDED slow disconnected");
    pusher.quiet();
    assert_name_free(&server, "slow");
    ctl.check(&["pusher"]);
    drop(pusher);
    wait_for_baseline(&server, baseline);
}

#[test]
fn half_close_with_pending_requests_resolves_them_as_disconnected() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut x = server.login("xavier");
    let mut target = server.login("target");
    let mut r1 = server.login("req1");
    let mut r2 = server.login("req2");
    x.send("/chat target");
    x.expect("OK chat target");
    target.expect("REQUEST xavier");
    for r in [&mut r1, &mut r2] {
        r.send("/chat xavier");
        r.expect("OK chat xavier");
        x.expect(&format!("REQUEST {}", r.label()));
    }
    // Complete lines before the half-close are answered.
    x.send_raw(b"/list\n/ping last\n");
    x.shutdown_write();
    let lines = x.lines_until("OK ping last");
    // Seven USER lines, OK list, OK ping.
    if lines.len() != 9 || lines[7] != "OK list 7" {
        x.fail(&format!("expected the list and the ping, got {lines:?}"));
    }
    x.expect_closed();
    target.expect("CANCELLED xavier disconnected");
    r1.expect("DECLINED xavier disconnected");
    r2.expect("DECLINED xavier disconnected");
    for client in [&mut target, &mut r1, &mut r2] {
        client.send("/cancel");
        client.expect("ERR no-request");
        client.send("/accept");
        client.expect("ERR no-request");
    }
    assert_name_free(&server, "xavier");
    ctl.check(&["req1", "req2", "target"]);
}

#[test]
fn a_slow_room_member_is_cut_and_the_flooder_and_fast_members_lose_nothing() {
    let server = Server::start_with(&["--send-queue-bytes", "65536"]);
    let mut ctl = Control::new(&server);
    let mut flooder = server.login("flooder");
    let mut fast = server.login("fast");
    let mut slow = server.login_small_rcvbuf("slow");
    for (client, n) in [(&mut flooder, 1), (&mut fast, 2), (&mut slow, 3)] {
        client.send("/join flood");
        client.expect(&format!("OK join flood {n}"));
    }
    flooder.expect_all(&["JOINED flood fast", "JOINED flood slow"]);
    fast.expect("JOINED flood slow");
    let started = Instant::now();
    let mut seq = 0usize;
    let mut cut = false;
    let mut fast_parted = false;
    let mut round = 0;
    while !cut {
        if started.elapsed() > Duration::from_secs(60) || seq > 100_000 {
            flooder.fail(&format!("slow member still connected after {seq} messages"));
        }
        let first = seq;
        let batch: String = (0..16)
            .map(|_| {
                seq += 1;
                format!("{:05} {}\n", seq - 1, "f".repeat(1000))
            })
            .collect();
        flooder.send_raw(batch.as_bytes());
        flooder.send(&format!("/ping f{round}"));
        for line in flooder.lines_until(&format!("OK ping f{round}")) {
            match line.as_str() {
                "PARTED flood slow disconnected" if !cut => cut = true,
                l if l.starts_with("OK ping") => {}
                other => flooder.fail(&format!("unexpected {other:?}")),
            }
        }
        // The fast member gets every message of the batch, in order, with
        // the PARTED wherever it fell.
        let mut next = first;
        while next < seq {
            let line = fast.next_key();
            if line == "PARTED flood slow disconnected" && !fast_parted {
                fast_parted = true;
                continue;
            }
            let want = format!("ROOM flood flooder {next:05} {}", "f".repeat(1000));
            if line != want {
                fast.fail(&format!("expected message {next}, got {line:?}"));
            }
            next += 1;
        }
        // Whether `slow` is still listed changes under our feet here.
        ctl.burst();
        round += 1;
    }
    if !fast_parted {
        fast.expect("PARTED flood slow disconnected");
    }
    slow.drain_to_close(Duration::from_secs(30));
    fast.quiet();
    flooder.quiet();
    flooder.send("/rooms");
    flooder.expect_all(&["ROOMINFO flood 2", "OK rooms 1"]);
    assert_name_free(&server, "slow");
    ctl.check(&["fast", "flooder"]);
}

#[test]
fn a_connection_storm_past_max_clients_is_refused_and_slots_come_back() {
    const MAX: usize = 20;
    const STORM: usize = 60;
    let server = Server::start_with(&["--max-clients", &(MAX + 3).to_string()]);
    let mut ctl = Control::new(&server);
    let storm = |round: usize| -> Vec<Client> {
        let barrier = Barrier::new(STORM);
        let results: Vec<(bool, Client)> = thread::scope(|s| {
            let handles: Vec<_> = (0..STORM)
                .map(|i| {
                    let barrier = &barrier;
                    let server = &server;
                    s.spawn(move || {
                        barrier.wait();
                        let mut client = server.connect_raw(&format!("storm{round}-{i}"));
                        let first = client.next_key();
                        match first.as_str() {
                            "HELLO chinwag/1" => (true, client),
                            "ERR server-full" => {
                                client.expect_bye_and_close();
                                (false, client)
                            }
                            other => client.fail(&format!("unexpected first line {other:?}")),
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("storm thread"))
                .collect()
        });
        let admitted: Vec<Client> = results
            .into_iter()
            .filter_map(|(ok, client)| ok.then_some(client))
            .collect();
        if admitted.len() != MAX {
            server.fail(&format!(
                "{} of {STORM} admitted, expected {MAX}",
                admitted.len()
            ));
        }
        admitted
    };
    let mut admitted = storm(0);
    let names: Vec<String> = (0..MAX).map(|i| format!("s{i:02}")).collect();
    for (client, name) in admitted.iter_mut().zip(&names) {
        client.send(name);
        client.expect(&format!("WELCOME {name}"));
        client.skip_info();
    }
    let shown: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&shown);
    for client in &mut admitted {
        client.exit_skipping_events();
    }
    ctl.check(&[]);
    // Every slot came back: a second storm admits exactly as many.
    let mut again = storm(1);
    for client in &mut again {
        client.send("/exit");
        client.expect_bye_and_close();
    }
    ctl.check(&[]);
}

#[test]
fn a_thousand_connect_register_exit_cycles_leak_no_name_thread_or_fd() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut watcher = server.login("watcher");
    let baseline = threads_and_fds(server.pid());
    for cycle in 0..1000 {
        let mut churn = server.login("Churn");
        match cycle % 4 {
            0 => {
                churn.send("/exit");
                churn.expect_bye_and_close();
            }
            1 => {
                churn.shutdown_write();
                churn.expect_closed();
            }
            2 => {
                churn.send("/chat watcher");
                churn.expect("OK chat watcher");
                watcher.expect("REQUEST Churn");
                churn.reset();
                watcher.expect("CANCELLED Churn disconnected");
            }
            _ => {
                watcher.send("/chat churn");
                watcher.expect("OK chat Churn");
                churn.expect("REQUEST watcher");
                drop(churn);
                watcher.expect("DECLINED Churn disconnected");
            }
        }
        if cycle % 250 == 249 {
            ctl.check(&["watcher"]);
        }
    }
    watcher.quiet();
    ctl.check(&["watcher"]);
    wait_for_baseline(&server, baseline);
}

// ---------------------------------------------------------------------------
// 7. Races
// ---------------------------------------------------------------------------

const RACE_ROUNDS: usize = 100;

#[test]
fn a_mutual_request_racing_a_third_request_starts_one_chat_and_declines_the_third() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    let barrier = Barrier::new(3);
    for round in 0..RACE_ROUNDS {
        let (la, lb, lc) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send("/chat bob");
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/chat alice");
                b.sync()
            });
            let tc = s.spawn(|| {
                barrier.wait();
                c.send("/chat alice");
                c.sync()
            });
            (
                ta.join().expect("alice"),
                tb.join().expect("bob"),
                tc.join().expect("carol"),
            )
        });
        // Each side: its reply, CHAT once, possibly a REQUEST first.
        let mut la = la;
        la.extend(a.sync());
        let mut lb = lb;
        lb.extend(b.sync());
        let mut lc = lc;
        lc.extend(c.sync());
        for (client, lines, partner) in [(&a, &la, "bob"), (&b, &lb, "alice")] {
            let chat = format!("CHAT {partner}");
            let chats = lines.iter().filter(|l| **l == chat).count();
            let stray = lines.iter().any(|l| {
                !(l.starts_with("CHAT ") || l.starts_with("OK chat ") || l.starts_with("REQUEST "))
            });
            if chats != 1 || stray || lines.iter().filter(|l| l.starts_with("CHAT")).count() != 1 {
                client.fail(&format!("round {round}: bad lines {lines:?}"));
            }
        }
        // carol either got in before the chat (then alice saw her request
        // and carol is declined busy) or after (ERR busy).
        let declined = lc == ["OK chat alice", "DECLINED alice busy"];
        let busy = lc == ["ERR busy"];
        if !declined && !busy {
            c.fail(&format!("round {round}: bad lines {lc:?}"));
        }
        if declined != la.contains(&"REQUEST carol".to_owned()) {
            a.fail(&format!(
                "round {round}: {la:?} disagrees with carol's {lc:?}"
            ));
        }
        let users = list(&mut c);
        if users
            != [
                "USER alice chatting bob",
                "USER bob chatting alice",
                "USER carol available -",
                "USER ctl_a chatting ctl_b",
                "USER ctl_b chatting ctl_a",
                "USER ctl_idle available -",
            ]
        {
            c.fail(&format!("round {round}: /list {users:?}"));
        }
        c.send("/cancel");
        c.expect("ERR no-request");
        a.send("/leave");
        a.expect("OK leave chat bob");
        b.expect("ENDED alice left");
    }
    ctl.check(&["alice", "bob", "carol"]);
}

#[test]
fn many_users_requesting_one_user_at_once_are_all_answered() {
    const N: usize = 8;
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut target = server.login("target");
    let mut askers: Vec<Client> = (0..N).map(|i| server.login(&format!("u{i}"))).collect();
    let barrier = Barrier::new(N);
    for round in 0..30 {
        thread::scope(|s| {
            for client in &mut askers {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    client.send("/chat target");
                    client.expect("OK chat target");
                });
            }
        });
        let mut requests: Vec<String> = (0..N).map(|_| target.next_key()).collect();
        requests.sort();
        let want: Vec<String> = (0..N).map(|i| format!("REQUEST u{i}")).collect();
        if requests != want {
            target.fail(&format!("round {round}: got {requests:?}"));
        }
        target.send("/accept");
        target.expect("ERR usage");
        let chosen = round % N;
        target.send(&format!("/accept u{chosen}"));
        target.expect_all(&[&format!("CHAT u{chosen}"), &format!("OK accept u{chosen}")]);
        for (i, client) in askers.iter_mut().enumerate() {
            if i == chosen {
                client.expect("CHAT target");
            } else {
                client.expect("DECLINED target busy");
                client.send("/cancel");
                client.expect("ERR no-request");
            }
        }
        target.send("/leave");
        target.expect(&format!("OK leave chat u{chosen}"));
        askers[chosen].expect("ENDED target left");
        target.quiet();
    }
    let mut names: Vec<String> = (0..N).map(|i| format!("u{i}")).collect();
    names.push("target".to_owned());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
}

#[test]
fn accept_racing_the_requesters_reset_leaves_no_ghost_chat() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    let mut outcomes = BTreeMap::new();
    for round in 0..RACE_ROUNDS {
        let name = format!("rst{round}");
        let mut a = server.login(&name);
        a.send("/chat bob");
        a.expect("OK chat bob");
        b.expect(&format!("REQUEST {name}"));
        let lines = thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                a.reset();
            });
            barrier.wait();
            b.send(&format!("/accept {name}"));
            let mut lines = vec![b.next_key()];
            if lines[0].starts_with("CHAT ") || lines[0].starts_with("CANCELLED ") {
                lines.push(b.next_key());
            }
            if lines.last().is_some_and(|l| l.starts_with("OK accept")) {
                lines.push(b.next_key());
            }
            lines
        });
        let accepted = [
            format!("CHAT {name}"),
            format!("OK accept {name}"),
            format!("ENDED {name} disconnected"),
        ];
        let refused = [
            format!("CANCELLED {name} disconnected"),
            "ERR no-such-user".to_owned(),
        ];
        let kind = if lines == accepted {
            "accepted"
        } else if lines == refused {
            "refused"
        } else {
            b.fail(&format!(
                "expected {accepted:?} or {refused:?}, got {lines:?}"
            ));
        };
        *outcomes.entry(kind).or_insert(0) += 1;
        b.quiet();
        assert_name_free(&server, &name);
    }
    eprintln!("accept vs reset outcomes: {outcomes:?}");
    ctl.check(&["bob"]);
}

#[test]
fn accept_racing_the_requesters_cancel_agrees_on_both_sides() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    for round in 0..RACE_ROUNDS {
        a.send("/chat bob");
        a.expect("OK chat bob");
        b.expect("REQUEST alice");
        let (la, lb) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send("/cancel");
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/accept alice");
                b.sync()
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        let (mut la, mut lb) = (la, lb);
        la.extend(a.sync());
        lb.extend(b.sync());
        // Either the cancel came first (bob is told and has nothing to
        // accept) or the accept did (the chat started; nothing to cancel).
        let cancelled =
            la == ["OK cancel bob"] && lb == ["CANCELLED alice cancelled", "ERR no-request"];
        let chatting =
            la == ["CHAT bob", "ERR no-request"] && lb == ["CHAT alice", "OK accept alice"];
        if !cancelled && !chatting {
            a.fail(&format!("round {round}: alice {la:?}, bob {lb:?}"));
        }
        if chatting {
            b.send("/leave");
            b.expect("OK leave chat alice");
            a.expect("ENDED bob left");
        }
        let users = list(&mut a);
        if !users.contains(&"USER alice available -".to_owned())
            || !users.contains(&"USER bob available -".to_owned())
        {
            a.fail(&format!("round {round}: /list {users:?}"));
        }
    }
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_room_message_racing_a_members_leave_arrives_before_ok_leave_or_not_at_all() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/join den");
    a.expect("OK join den 1");
    let barrier = Barrier::new(2);
    for round in 0..RACE_ROUNDS {
        b.send("/join den");
        b.expect("OK join den 2");
        a.expect("JOINED den bob");
        let text = format!("racing {round}");
        let (la, lb) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send(&text);
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/leave");
                b.lines_until("OK leave room den")
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        let (mut la, mut lb) = (la, lb);
        la.extend(a.sync());
        lb.extend(b.sync());
        let msg = format!("ROOM den alice {text}");
        let before = lb == [msg.clone(), "OK leave room den".to_owned()];
        let not_at_all = lb == ["OK leave room den"];
        if !(before || not_at_all) || la != ["PARTED den bob left"] {
            b.fail(&format!("round {round}: alice {la:?}, bob {lb:?}"));
        }
    }
    a.send("/rooms");
    a.expect_all(&["ROOMINFO den 1", "OK rooms 1"]);
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_join_racing_the_last_members_leave_leaves_one_consistent_room() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    let mut outcomes = BTreeMap::new();
    for round in 0..RACE_ROUNDS {
        let room = format!("Den{round}");
        a.send(&format!("/join {room}"));
        a.expect(&format!("OK join {room} 1"));
        let (la, lb) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send("/leave");
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send(&format!("/join {}", room.to_uppercase()));
                b.sync()
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        let (mut la, mut lb) = (la, lb);
        la.extend(a.sync());
        lb.extend(b.sync());
        let upper = room.to_uppercase();
        // bob joined alice's room (her spelling) and saw her part, or
        // created a new room (his spelling) after it was deleted.
        let joined_first =
            la == [
                format!("JOINED {room} bob"),
                format!("OK leave room {room}"),
            ] && lb
                == [
                    format!("OK join {room} 2"),
                    format!("PARTED {room} alice left"),
                ];
        let created_after =
            la == [format!("OK leave room {room}")] && lb == [format!("OK join {upper} 1")];
        let kind = if joined_first {
            "joined first"
        } else if created_after {
            "created after"
        } else {
            a.fail(&format!("round {round}: alice {la:?}, bob {lb:?}"));
        };
        *outcomes.entry(kind).or_insert(0) += 1;
        a.send("/rooms");
        let shown = if joined_first { &room } else { &upper };
        a.expect_all(&[&format!("ROOMINFO {shown} 1"), "OK rooms 1"]);
        b.send("/leave");
        b.expect(&format!("OK leave room {shown}"));
        b.send("/rooms");
        b.expect("OK rooms 0");
    }
    eprintln!("join vs leave outcomes: {outcomes:?}");
    ctl.check(&["alice", "bob"]);
}

#[test]
fn requests_racing_the_targets_reset_leave_no_ghost_request() {
    const N: usize = 5;
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut askers: Vec<Client> = (0..N).map(|i| server.login(&format!("u{i}"))).collect();
    // The target asks `watcher`, whose CANCELLED marks the departure.
    let mut watcher = server.login("watcher");
    let barrier = Barrier::new(N + 1);
    for round in 0..40 {
        let name = format!("t{round}");
        let mut target = server.login(&name);
        target.send("/chat watcher");
        target.expect("OK chat watcher");
        watcher.expect(&format!("REQUEST {name}"));
        let mut firsts: Vec<Vec<String>> = thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                target.reset();
            });
            let handles: Vec<_> = askers
                .iter_mut()
                .map(|client| {
                    let barrier = &barrier;
                    let name = &name;
                    s.spawn(move || {
                        barrier.wait();
                        client.send(&format!("/chat {name}"));
                        client.sync()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("asker"))
                .collect()
        });
        watcher.expect(&format!("CANCELLED {name} disconnected"));
        // The departure is done: whatever it caused has been queued.
        for (client, lines) in askers.iter_mut().zip(&mut firsts) {
            lines.extend(client.sync());
            let asked = [
                format!("OK chat {name}"),
                format!("DECLINED {name} disconnected"),
            ];
            if *lines != asked && *lines != ["ERR no-such-user"] {
                client.fail(&format!("round {round}: {lines:?}"));
            }
            client.send("/cancel");
            client.expect("ERR no-request");
        }
        watcher.send("/accept");
        watcher.expect("ERR no-request");
        assert_name_free(&server, &name);
    }
    let mut names: Vec<String> = (0..N).map(|i| format!("u{i}")).collect();
    names.push("watcher".to_owned());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
}

// ---------------------------------------------------------------------------
// 8. Every command in every state
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum State {
    Naming,
    Available,
    Requesting,
    Requested,
    Chatting,
    Room,
}

const NI: &str = "ERR name-invalid";
const U: &str = "ERR usage";
const NA: &str = "ERR not-available";
const NR: &str = "ERR no-request";
const NSU: &str = "ERR no-such-user";
const SELF: &str = "ERR self";
const NIC: &str = "ERR not-in-chat";
const UC: &str = "ERR unknown-command";
const LA: &str = "@list-available";
const LC: &str = "@list-chatting";
const LR: &str = "@list-room";
const ACC: &str = "CHAT bob | OK accept bob || bob: CHAT amy";
const DEC: &str = "OK decline bob || bob: DECLINED amy declined";
const MUTUAL: &str = "CHAT bob | OK chat bob || bob: CHAT amy";
const BYE: &str = "BYE | CLOSED";
const BYE_REQUESTING: &str = "BYE | CLOSED || bob: CANCELLED amy disconnected";
const BYE_REQUESTED: &str = "BYE | CLOSED || bob: DECLINED amy disconnected";
const BYE_CHATTING: &str = "BYE | CLOSED || bob: ENDED amy disconnected";
const BYE_ROOM: &str = "BYE | CLOSED || bob: PARTED den amy disconnected";
const ASK_BOB: &str = "OK chat bob || bob: REQUEST amy";

/// `amy` (the subject) in each state, with `bob` as the other party and
/// `cat` as a bystander. Columns: naming, available, requesting (amy asked
/// bob), requested (bob asked amy), chatting (with bob), room (den, with
/// bob). A cell is amy's lines separated by ` | `, then optionally
/// `|| bob: …` and `|| cat: …`. `@help` is any INFO lines then `OK help`;
/// `INFO*` any INFO lines; `CLOSED` the connection closes.
#[rustfmt::skip]
const TABLE: &[(&str, [&str; 6])] = &[
    ("", [""; 6]),
    ("/help", ["@help"; 6]),
    ("/HeLp", ["@help"; 6]),
    ("/help me", [U; 6]),
    ("/list", [NI, LA, LA, LA, LC, LR]),
    ("/LIST", [NI, LA, LA, LA, LC, LR]),
    ("/list x", [NI, U, U, U, U, U]),
    ("1", ["WELCOME 1 | INFO*", LA, LA, LA, "|| bob: MSG amy 1", "|| bob: ROOM den amy 1"]),
    ("1 x", [NI, U, U, U, "|| bob: MSG amy 1 x", "|| bob: ROOM den amy 1 x"]),
    ("/chat cat", [NI, "OK chat cat || cat: REQUEST amy", "OK chat cat || bob: CANCELLED amy cancelled || cat: REQUEST amy", "OK chat cat || cat: REQUEST amy", NA, NA]),
    ("/chat bob", [NI, ASK_BOB, ASK_BOB, MUTUAL, NA, NA]),
    ("/CHAT BOB", [NI, ASK_BOB, ASK_BOB, MUTUAL, NA, NA]),
    ("2 bob", [NI, ASK_BOB, ASK_BOB, MUTUAL, "|| bob: MSG amy 2 bob", "|| bob: ROOM den amy 2 bob"]),
    ("2", ["WELCOME 2 | INFO*", U, U, U, "|| bob: MSG amy 2", "|| bob: ROOM den amy 2"]),
    ("/chat", [NI, U, U, U, U, U]),
    ("/chat bob cat", [NI, U, U, U, U, U]),
    ("/chat amy", [NI, SELF, SELF, SELF, NA, NA]),
    ("/chat AMY", [NI, SELF, SELF, SELF, NA, NA]),
    ("/chat nobody", [NI, NSU, NSU, NSU, NA, NA]),
    ("/chat -x", [NI, NSU, NSU, NSU, NA, NA]),
    ("/accept", [NI, NR, NR, ACC, NA, NA]),
    ("/accept bob", [NI, NR, NR, ACC, NA, NA]),
    ("/ACCEPT BOB", [NI, NR, NR, ACC, NA, NA]),
    ("yes", ["WELCOME yes | INFO*", NR, NR, ACC, "|| bob: MSG amy yes", "|| bob: ROOM den amy yes"]),
    ("Y bob", [NI, NR, NR, ACC, "|| bob: MSG amy Y bob", "|| bob: ROOM den amy Y bob"]),
    ("/accept cat", [NI, NR, NR, NR, NA, NA]),
    ("/accept nobody", [NI, NSU, NSU, NSU, NA, NA]),
    ("/accept amy", [NI, SELF, SELF, SELF, NA, NA]),
    ("/accept bob cat", [NI, U, U, U, U, U]),
    ("/decline", [NI, NR, NR, DEC, NR, NR]),
    ("/decline bob", [NI, NR, NR, DEC, NR, NR]),
    ("no", ["WELCOME no | INFO*", NR, NR, DEC, "|| bob: MSG amy no", "|| bob: ROOM den amy no"]),
    ("N", ["WELCOME N | INFO*", NR, NR, DEC, "|| bob: MSG amy N", "|| bob: ROOM den amy N"]),
    ("/decline cat", [NI, NR, NR, NR, NR, NR]),
    ("/decline nobody", [NI, NSU, NSU, NSU, NR, NR]),
    ("/decline amy", [NI, SELF, SELF, SELF, NR, NR]),
    ("/cancel", [NI, NR, "OK cancel bob || bob: CANCELLED amy cancelled", NR, NR, NR]),
    ("/cancel bob", [NI, U, U, U, U, U]),
    ("/leave", [NI, NIC, NIC, NIC, "OK leave chat bob || bob: ENDED amy left", "OK leave room den || bob: PARTED den amy left"]),
    ("/leave now", [NI, U, U, U, U, U]),
    ("/join den", [NI, "OK join den 1", "OK join den 1 || bob: CANCELLED amy busy", "OK join den 1 || bob: DECLINED amy busy", NA, NA]),
    ("/join -x", [NI, NI, NI, NI, NA, NA]),
    ("/join", [NI, U, U, U, U, U]),
    ("/join a b", [NI, U, U, U, U, U]),
    ("/rooms", [NI, "OK rooms 0", "OK rooms 0", "OK rooms 0", "OK rooms 0", "ROOMINFO den 2 | OK rooms 1"]),
    ("/rooms x", [NI, U, U, U, U, U]),
    ("/ping", [NI, "OK ping -", "OK ping -", "OK ping -", "OK ping -", "OK ping -"]),
    ("/ping tok", [NI, "OK ping tok", "OK ping tok", "OK ping tok", "OK ping tok", "OK ping tok"]),
    ("/ping a b", [NI, U, U, U, U, U]),
    ("/frobnicate", [NI, UC, UC, UC, UC, UC]),
    ("/", [NI, UC, UC, UC, UC, UC]),
    ("/ list", [NI, UC, UC, UC, UC, UC]),
    ("/__panic", [NI, UC, UC, UC, UC, UC]),
    ("hello", ["WELCOME hello | INFO*", NIC, NIC, NIC, "|| bob: MSG amy hello", "|| bob: ROOM den amy hello"]),
    ("hello world", [NI, NIC, NIC, NIC, "|| bob: MSG amy hello world", "|| bob: ROOM den amy hello world"]),
    ("//list", [NI, NIC, NIC, NIC, "|| bob: MSG amy /list", "|| bob: ROOM den amy /list"]),
    ("bob", ["ERR name-taken", NIC, NIC, NIC, "|| bob: MSG amy bob", "|| bob: ROOM den amy bob"]),
    ("CAT", ["ERR name-taken", NIC, NIC, NIC, "|| bob: MSG amy CAT", "|| bob: ROOM den amy CAT"]),
    ("/exit", [BYE, BYE, BYE_REQUESTING, BYE_REQUESTED, BYE_CHATTING, BYE_ROOM]),
    ("/QUIT now", [BYE, BYE, BYE_REQUESTING, BYE_REQUESTED, BYE_CHATTING, BYE_ROOM]),
    ("3 now", [NI, BYE, BYE_REQUESTING, BYE_REQUESTED, "|| bob: MSG amy 3 now", "|| bob: ROOM den amy 3 now"]),
    ("3", ["WELCOME 3 | INFO*", BYE, BYE_REQUESTING, BYE_REQUESTED, "|| bob: MSG amy 3", "|| bob: ROOM den amy 3"]),
];

/// The three users of one table row, `amy` in `state`.
fn scene(server: &Server, state: State) -> [Client; 3] {
    let mut bob = server.login("bob");
    let cat = server.login("cat");
    let mut amy = match state {
        State::Naming => server.connect("amy"),
        _ => server.login("amy"),
    };
    match state {
        State::Naming | State::Available => {}
        State::Requesting => {
            amy.send("/chat bob");
            amy.expect("OK chat bob");
            bob.expect("REQUEST amy");
        }
        State::Requested => {
            bob.send("/chat amy");
            bob.expect("OK chat amy");
            amy.expect("REQUEST bob");
        }
        State::Chatting => {
            amy.send("/chat bob");
            amy.expect("OK chat bob");
            bob.expect("REQUEST amy");
            bob.send("/accept");
            bob.expect_all(&["CHAT amy", "OK accept amy"]);
            amy.expect("CHAT bob");
        }
        State::Room => {
            amy.send("/join den");
            amy.expect("OK join den 1");
            bob.send("/join den");
            bob.expect("OK join den 2");
            amy.expect("JOINED den bob");
        }
    }
    [amy, bob, cat]
}

fn expand(token: &str) -> Vec<String> {
    let list = |amy: &str, bob: &str| {
        vec![
            format!("USER amy {amy}"),
            format!("USER bob {bob}"),
            "USER cat available -".to_owned(),
            "USER ctl_a chatting ctl_b".to_owned(),
            "USER ctl_b chatting ctl_a".to_owned(),
            "USER ctl_idle available -".to_owned(),
            "OK list 6".to_owned(),
        ]
    };
    match token {
        "@help" => vec!["INFO*".to_owned(), "OK help".to_owned()],
        "@list-available" => list("available -", "available -"),
        "@list-chatting" => list("chatting bob", "chatting amy"),
        "@list-room" => list("room den", "room den"),
        other => vec![other.to_owned()],
    }
}

/// Reads `want` (with `INFO*` and `CLOSED`); true if the client closed.
fn expect_spec(client: &mut Client, want: &[String], context: &str) -> bool {
    let mut pending: Option<String> = None;
    for (i, token) in want.iter().enumerate() {
        match token.as_str() {
            "INFO*" => {
                if i + 1 == want.len() {
                    // Trailing: the barrier skips INFO lines anyway.
                    continue;
                }
                loop {
                    let line = client.next_key();
                    if line != "INFO" {
                        pending = Some(line);
                        break;
                    }
                }
            }
            "CLOSED" => {
                client.expect_closed();
                return true;
            }
            want_line => {
                let got = pending.take().unwrap_or_else(|| client.next_key());
                if got != want_line {
                    client.fail(&format!("{context}: expected {want_line:?}, got {got:?}"));
                }
            }
        }
    }
    false
}

/// `/help` works in every state: INFO lines, then `OK help`. Anything
/// else before it was not expected.
fn help_barrier(client: &mut Client, context: &str) {
    client.send("/help");
    loop {
        let line = client.next_key();
        if line == "OK help" {
            return;
        }
        if line != "INFO" {
            client.fail(&format!("{context}: unexpected {line:?}"));
        }
    }
}

fn run_table(state: State, column: usize) {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    for (n, (command, cells)) in TABLE.iter().enumerate() {
        let cell = cells[column];
        let context = format!("{state:?}, {command:?} (cell {cell:?})");
        let mut clients = scene(&server, state);
        let mut parts = cell.split("||").map(str::trim);
        let own: Vec<String> = parts
            .next()
            .unwrap_or_default()
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .flat_map(expand)
            .collect();
        let mut others: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for part in parts {
            let (who, lines) = part.split_once(':').expect("`who: lines`");
            let index = match who.trim() {
                "bob" => 0,
                "cat" => 1,
                other => panic!("unknown user {other:?} in the table"),
            };
            others[index] = lines
                .split('|')
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
        }
        clients[0].send(command);
        let mut open = [true; 3];
        open[0] = !expect_spec(&mut clients[0], &own, &context);
        for (i, want) in others.iter().enumerate() {
            expect_spec(&mut clients[i + 1], want, &context);
        }
        for (client, open) in clients.iter_mut().zip(open) {
            if open {
                help_barrier(client, &context);
            }
        }
        for (client, open) in clients.iter_mut().zip(open) {
            if open {
                client.exit_skipping_events();
            }
        }
        if n % 16 == 15 {
            ctl.check(&[]);
        }
    }
    ctl.check(&[]);
}

#[test]
fn every_command_while_naming() {
    run_table(State::Naming, 0);
}

#[test]
fn every_command_while_available() {
    run_table(State::Available, 1);
}

#[test]
fn every_command_while_requesting() {
    run_table(State::Requesting, 2);
}

#[test]
fn every_command_while_requested() {
    run_table(State::Requested, 3);
}

#[test]
fn every_command_while_chatting() {
    run_table(State::Chatting, 4);
}

#[test]
fn every_command_in_a_room() {
    run_table(State::Room, 5);
}

// ---------------------------------------------------------------------------
// 9. Faults, OS limits and amplification
// ---------------------------------------------------------------------------

#[test]
fn a_panicking_connection_frees_its_name_and_disturbs_no_one() {
    let server = Server::start_with(&["--fault-injection"]);
    let mut ctl = Control::new(&server);
    let baseline = threads_and_fds(server.pid());
    // Chatting.
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("//__panic is just a message");
    b.expect("MSG alice /__panic is just a message");
    a.send("/__panic");
    b.expect("ENDED alice disconnected");
    a.drain_to_close(Duration::from_secs(10));
    assert_name_free(&server, "alice");
    // In a room.
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    for (client, n) in [(&mut c, 1), (&mut d, 2)] {
        client.send("/join den");
        client.expect(&format!("OK join den {n}"));
    }
    c.expect("JOINED den dave");
    d.send("/__panic");
    c.expect("PARTED den dave disconnected");
    d.drain_to_close(Duration::from_secs(10));
    // Holding requests both ways.
    let mut e = server.login("erin");
    let mut f = server.login("frank");
    e.send("/chat frank");
    e.expect("OK chat frank");
    f.expect("REQUEST erin");
    b.send("/chat erin");
    b.expect("OK chat erin");
    e.expect("REQUEST bob");
    e.send("/__panic");
    f.expect("CANCELLED erin disconnected");
    b.expect("DECLINED erin disconnected");
    e.drain_to_close(Duration::from_secs(10));
    // While naming, and in the middle of a batch of lines.
    let mut naming = server.connect("naming");
    naming.send("/__panic");
    naming.drain_to_close(Duration::from_secs(10));
    let mut g = server.login("gina");
    g.send_raw(b"/ping before\n/__panic\n/ping after\n");
    g.expect("OK ping before");
    g.drain_to_close(Duration::from_secs(10));
    for name in ["dave", "erin", "gina"] {
        assert_name_free(&server, name);
    }
    for client in [&mut b, &mut c, &mut f] {
        client.quiet();
    }
    ctl.check(&["bob", "carol", "frank"]);
    let panics = server.stderr_text().matches("panicked").count();
    if panics < 5 {
        server.fail(&format!("expected 5 panics in the log, found {panics}"));
    }
    drop((b, c, f));
    wait_for_baseline(&server, baseline);
}

/// The `allowed=N` of the server's "--max-clients lowered" warning.
fn lowered_max_clients(server: &Server, because: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stderr = server.stderr_text();
        if let Some(line) = stderr
            .lines()
            .find(|l| l.contains("--max-clients lowered") && l.contains(because))
        {
            let allowed = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("allowed="))
                .and_then(|n| n.parse().ok());
            match allowed {
                Some(n) => return n,
                None => server.fail(&format!("no allowed= in {line:?}")),
            }
        }
        if Instant::now() > deadline {
            server.fail(&format!(
                "no warning that --max-clients was lowered ({because})"
            ));
        }
        // The warning is printed before `listening on`; the stderr reader
        // thread may lag a little.
        thread::sleep(Duration::from_millis(20));
    }
}

/// Fills the server to `max` connections (the control group's three
/// included), shows that `extras` more (opened all at once) are refused
/// with `server-full`, and that a slot comes back when someone leaves.
fn fill_to(server: &Server, ctl: &mut Control, max: usize, extras: usize) {
    let mut users: Vec<Client> = (3..max)
        .map(|i| server.login(&format!("f{i:03}")))
        .collect();
    let storm: Vec<Client> = (0..extras)
        .map(|i| server.connect_raw(&format!("extra{i}")))
        .collect();
    for mut extra in storm {
        extra.expect_all(&["ERR server-full", "BYE"]);
        extra.expect_closed();
    }
    let names: Vec<String> = (3..max).map(|i| format!("f{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
    let mut last = users.pop().expect("at least one user");
    last.exit_skipping_events();
    let mut again = server.login("again");
    again.quiet();
    let mut extra = server.connect_raw("extra-after");
    extra.expect_all(&["ERR server-full", "BYE"]);
    extra.expect_closed();
    for client in users.iter_mut().chain([&mut again]) {
        client.exit_skipping_events();
    }
}

#[test]
fn under_ulimit_n_100_max_clients_is_clamped_and_extras_get_server_full() {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 100 && exec \"$0\" \"$@\"")
        .arg(Server::binary())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--flood-rate",
            "0",
            "--max-clients",
            "1000",
        ]);
    let server = Server::start_command(command);
    let max = lowered_max_clients(&server, "open-file limit 100");
    if max == 0 || max > 100 {
        server.fail(&format!("clamped to {max}, expected at most 100 - reserve"));
    }
    let mut ctl = Control::new(&server);
    // 150 extras: well past the file limit itself. All are refused, and
    // the server survives.
    fill_to(&server, &mut ctl, max, 150);
    ctl.check(&[]);
}

#[test]
fn an_assumed_thread_limit_lowers_max_clients_with_a_warning_and_is_enforced() {
    // 104 threads: 64 reserved, 16 for writers, so 24 clients.
    let server = Server::start_with(&["--max-clients", "100", "--assume-thread-limit", "104"]);
    let max = lowered_max_clients(&server, "thread limit 104");
    if max != 24 {
        server.fail(&format!("clamped to {max}, expected 24"));
    }
    let mut ctl = Control::new(&server);
    fill_to(&server, &mut ctl, max, 5);
    ctl.check(&[]);
}

#[test]
fn list_amplification_by_a_client_that_never_reads_is_cut_off() {
    const USERS: usize = 60;
    let server = Server::start_with(&["--flood-rate", "50", "--send-queue-bytes", "131072"]);
    let mut ctl = Control::new(&server);
    let mut users: Vec<Client> = (0..USERS)
        .map(|i| server.login(&format!("user_with_a_long_name{i:02}")))
        .collect();
    let mut spammer = server.login_small_rcvbuf("spammer");
    // The spammer's request to the first user witnesses its departure:
    // `CANCELLED … disconnected` is queued in the same locked step that
    // frees its name. The close of its socket is no such witness: the cut
    // shuts the socket down before the connection thread leaves the hub.
    let witness = "user_with_a_long_name00";
    spammer.send(&format!("/chat {witness}"));
    spammer.expect(&format!("OK chat {witness}"));
    users[0].expect("REQUEST spammer");
    let baseline_rss = rss_kib(server.pid());
    let spam = "/list\n".repeat(3000);
    spammer.send_raw(spam.as_bytes());
    let mut names: Vec<String> = (0..USERS)
        .map(|i| format!("user_with_a_long_name{i:02}"))
        .collect();
    names.push("spammer".to_owned());
    // Others are served while the spam is processed.
    ctl.burst();
    // The spammer is cut once its queue passes the byte cap, reading
    // nothing meanwhile. Each reply is charged about 4.4 KB (64 users), so
    // the replies to the first 30 lines of one read pass the 128 KiB cap
    // before the server's first flush (every 32 lines): the cut needs no
    // socket buffer to fill.
    users[0].expect("CANCELLED spammer disconnected");
    // Only now does the spammer read: a best-effort BYE, then the close.
    let tail = spammer.drain_to_close(Duration::from_secs(30));
    let tail = String::from_utf8_lossy(&tail);
    if !tail.contains("BYE") && !tail.is_empty() {
        eprintln!("the spammer's last bytes had no BYE (best effort): {tail:?}");
    }
    let grown = rss_kib(server.pid()).saturating_sub(baseline_rss);
    if grown > 16 * 1024 {
        server.fail(&format!(
            "the server grew by {grown} KiB for one /list spammer"
        ));
    }
    names.pop();
    assert_name_free(&server, "spammer");
    for client in users.iter_mut().take(5) {
        client.quiet();
    }
    let shown: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&shown);
}

#[test]
fn a_naming_client_cannot_outlast_the_name_timeout_with_throttled_lines() {
    // 4096 empty lines in one read take 80 s to process at 50 lines/s;
    // the deadline is absolute, so BYE must come at about one second.
    let server = Server::start_with(&[
        "--name-timeout",
        "1",
        "--flood-rate",
        "50",
        "--max-clients",
        "4",
    ]);
    let mut ctl = Control::new(&server);
    let mut slow_namer = server.connect("slow_namer");
    let started = Instant::now();
    slow_namer.send_raw(&[b'\n'; 4096]);
    slow_namer.expect_bye_and_close();
    let took = started.elapsed();
    if took > Duration::from_secs(5) {
        slow_namer.fail(&format!("BYE came after {took:?}"));
    }
    // It held the last slot; the slot is free again.
    let mut next = server.login("next");
    next.quiet();
    ctl.check(&["next"]);
}

#[test]
fn refused_connections_that_send_at_once_still_read_server_full() {
    let server = Server::start_with(&["--max-clients", "3"]);
    let mut ctl = Control::new(&server);
    for i in 0..50 {
        let mut extra = server.connect_raw(&format!("eager{i}"));
        // A script piping its input: lines before reading anything.
        let blob = "eager\n/list\n".repeat(1 + i * 200);
        let _ = std::io::Write::write_all(&mut extra.stream(), blob.as_bytes());
        let bytes = extra.drain_to_close(Duration::from_secs(10));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !(text.starts_with("ERR server-full") && text.contains("\r\nBYE")) {
            extra.fail(&format!("expected ERR server-full and BYE, got {text:?}"));
        }
    }
    ctl.check(&[]);
}

#[test]
fn when_writer_threads_run_out_the_extra_backlogged_reader_is_cut_and_permits_return() {
    // 104 threads: 24 clients and 16 writer threads. 17 room members that
    // never read each need a writer thread once the kernel buffers fill.
    const SLOW: usize = 17;
    let server = Server::start_with(&["--max-clients", "100", "--assume-thread-limit", "104"]);
    let mut ctl = Control::new(&server);
    let baseline = threads_and_fds(server.pid());
    let mut flooder = server.login("flooder");
    flooder.send("/join flood");
    flooder.expect("OK join flood 1");
    let mut slow: Vec<Client> = Vec::new();
    for i in 0..SLOW {
        let name = format!("slow{i:02}");
        let mut client = server.login_small_rcvbuf(&name);
        client.send("/join flood");
        client.expect(&format!("OK join flood {}", i + 2));
        flooder.expect(&format!("JOINED flood {name}"));
        slow.push(client);
    }
    let batch: String = (0..8).map(|_| format!("{}\n", "w".repeat(4000))).collect();
    let mut parted = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    while parted.is_empty() {
        if started.elapsed() > Duration::from_secs(30) || round > 100 {
            flooder.fail("no member was cut although the writer threads ran out");
        }
        flooder.send_raw(batch.as_bytes());
        flooder.send(&format!("/ping w{round}"));
        for line in flooder.lines_until(&format!("OK ping w{round}")) {
            if let Some(rest) = line.strip_prefix("PARTED flood ") {
                parted.push(rest.to_owned());
            } else if !line.starts_with("OK ping") {
                flooder.fail(&format!("unexpected {line:?}"));
            }
        }
        round += 1;
    }
    if parted.iter().any(|p| !p.ends_with(" disconnected")) {
        flooder.fail(&format!("unexpected parts {parted:?}"));
    }
    eprintln!("cut for want of a writer thread after {round} rounds: {parted:?}");
    if !server.stderr_text().contains("no writer thread available") {
        server.fail("no member was cut for want of a writer thread");
    }
    ctl.burst();
    // Everyone else resets; every writer thread ends and its permit returns.
    for client in slow.drain(..) {
        client.reset();
    }
    let mut gone = parted.len();
    while gone < SLOW {
        let line = flooder.next_key();
        if !(line.starts_with("PARTED flood slow") && line.ends_with(" disconnected")) {
            flooder.fail(&format!("unexpected {line:?}"));
        }
        gone += 1;
    }
    flooder.send("/rooms");
    flooder.expect_all(&["ROOMINFO flood 1", "OK rooms 1"]);
    ctl.check(&["flooder"]);
    drop(flooder);
    wait_for_baseline(&server, baseline);
}

#[test]
fn a_telnet_negotiation_flood_from_a_client_that_never_reads_is_cut() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut offender = server.login_small_rcvbuf("offender");
    let mut partner = server.login("partner");
    partner.send("/chat offender");
    partner.expect("OK chat offender");
    offender.expect("REQUEST partner");
    offender.send("/accept");
    offender.expect_all(&["CHAT partner", "OK accept partner"]);
    partner.expect("CHAT offender");
    offender.bound_writes();
    // Each IAC DO gets a 3-byte answer; the offender reads none of them.
    let chunk: Vec<u8> = [IAC, DO, ECHO].repeat(64 * 1024 / 3);
    let started = Instant::now();
    let mut pushed = 0usize;
    'push: loop {
        if started.elapsed() > Duration::from_secs(60) || pushed > 256 << 20 {
            partner.fail(&format!("offender still connected after {pushed} bytes"));
        }
        for _ in 0..16 {
            // Once the server cuts it, writes fail: that is fine.
            if std::io::Write::write_all(&mut offender.stream(), &chunk).is_err() {
                break;
            }
            pushed += chunk.len();
        }
        match partner.sync().as_slice() {
            [] => {}
            [ended] if ended == "ENDED offender disconnected" => break 'push,
            other => partner.fail(&format!("unexpected {other:?}")),
        }
    }
    eprintln!("negotiation flood cut after {pushed} bytes");
    partner.quiet();
    assert_name_free(&server, "offender");
    ctl.check(&["partner"]);
}
