//! Invalid UTF-8 in every form (lone continuation bytes, overlong forms,
//! surrogates, five- and six-byte forms, truncated sequences) is refused as
//! `ERR bad-encoding` wherever a line can go; a character split across two
//! writes is still valid.

use crate::harness::{Control, Server, join_room};

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
    join_room("den", &mut [&mut c, &mut d]);
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
