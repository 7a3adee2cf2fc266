//! Unusual ways of writing: single-byte writes, hundreds of lines in one
//! write, a flood under flood control, a random mix of lines however split,
//! a megabyte of empty lines, and HTTP or TLS on the chat port.

use common::telnet::{DO, ECHO, IAC, SB, SE, TTYPE, WONT};

use super::R;
use crate::harness::{Control, Server};

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
    web.expect_bye_and_close("exit");
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
