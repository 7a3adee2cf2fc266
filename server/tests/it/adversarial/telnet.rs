//! Hostile telnet: every two-byte command, negotiation inside messages,
//! subnegotiations that swallow newlines or never end, `IAC` at line ends,
//! and commands split at every read boundary.

use common::telnet::{DO, DONT, ECHO, IAC, IP, NAWS, SB, SE, SGA, TTYPE, WILL, WONT};

use crate::harness::{Control, Server, assert_name_free};

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
