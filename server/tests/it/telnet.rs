//! Telnet: option negotiation refused byte for byte, telnet commands removed
//! from the input even when split across writes, and a session with the real
//! `telnet` program under `expect`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::telnet::{
    AYT, BRK, DO, DONT, ECHO, IAC, IP, NAWS, SB, SE, SGA, TIMING_MARK, TTYPE, WILL, WONT,
};

use crate::harness::{Server, on_path};

#[test]
fn offered_options_are_refused_with_exact_bytes() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut sent = vec![
        IAC, DO, ECHO, IAC, WILL, TTYPE, IAC, WONT, SGA, IAC, DONT, SGA,
    ];
    sent.extend_from_slice(b"/ping after\r\n");
    a.send_raw(&sent);
    a.expect_bytes(&[IAC, WONT, ECHO, IAC, DONT, TTYPE]);
    a.expect("OK ping after");
    a.quiet();
}

#[test]
fn options_offered_while_naming_are_refused_too() {
    let server = Server::start();
    let mut c = server.connect_raw("tel");
    c.send_raw(&[IAC, WILL, TTYPE, IAC, DO, SGA, IAC, WILL, NAWS]);
    c.expect("HELLO chinwag/2");
    c.expect_bytes(&[IAC, DONT, TTYPE, IAC, WONT, SGA, IAC, DONT, NAWS]);
    c.send("tel");
    c.expect("WELCOME tel");
    c.skip_info();
}

#[test]
fn ctrl_c_from_telnet_is_answered_and_output_continues() {
    let server = Server::start();
    let mut a = server.login("alice");
    a.send_raw(&[IAC, IP, IAC, DO, TIMING_MARK]);
    a.expect_bytes(&[IAC, WONT, TIMING_MARK]);
    a.send("/ping after");
    a.expect("OK ping after");
    // Commands without options get no reply at all.
    a.send_raw(&[IAC, AYT, IAC, BRK]);
    a.send("/ping quiet");
    a.expect("OK ping quiet");
}

#[test]
fn telnet_commands_split_across_writes_are_removed_from_messages() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    for piece in [
        &b"he"[..],
        &[IAC],
        &[IP],
        b"llo",
        &[IAC, SB, TTYPE, 0],
        b"xterm",
        &[IAC],
        &[SE],
        b" wor",
        &[IAC],
        &[WILL],
        &[NAWS],
        b"ld\r",
        b"\n",
    ] {
        a.send_raw(piece);
    }
    b.expect("MSG alice hello world");
    a.expect_bytes(&[IAC, DONT, NAWS]);
    a.quiet();
    b.quiet();
}

#[test]
fn iac_iac_is_a_literal_byte_and_so_bad_encoding() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send_raw(b"x\xff\xffy\n");
    a.expect("ERR bad-encoding");
    b.quiet();
    a.send("next");
    b.expect("MSG alice next");
}

#[test]
fn a_long_subnegotiation_is_dropped_and_lines_work_after_it() {
    let server = Server::start();
    let mut a = server.login("alice");
    a.send_raw(&[IAC, SB, TTYPE]);
    let junk = vec![b'a'; 64 * 1024];
    for _ in 0..16 {
        a.send_raw(&junk);
    }
    a.send_raw(&[IAC, SE]);
    a.send("/ping after");
    a.expect("OK ping after");
    a.quiet();
}

#[test]
fn the_real_telnet_client_can_name_list_interrupt_and_exit() {
    run_expect_script("telnet.exp");
}

#[test]
fn the_real_telnet_client_hides_the_password_and_echoes_again_after() {
    run_expect_script("telnet_password.exp");
}

/// Runs `tests/it/<script>` under `expect` against a fresh server, with
/// the real `telnet` client; the script exits 0 on success.
fn run_expect_script(script: &str) {
    for program in ["telnet", "expect"] {
        assert!(
            on_path(program),
            "`{program}` is not installed; this test needs it \
             (Debian: apt-get install -y telnet expect)"
        );
    }
    let server = Server::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it")
        .join(script);
    let mut child = Command::new("expect")
        .arg("-f")
        .arg(&script)
        .arg(server.addr().port().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run expect");
    // The script bounds every step by 10 s; this bounds the whole run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break Some(status),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            // No event to wait on for a child's exit; the deadline decides.
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    let output = child.wait_with_output().expect("expect output");
    if !matches!(status, Some(s) if s.success()) {
        server.fail(&format!(
            "expect {} failed ({status:?})\n--- expect stdout ---\n{}\n--- expect stderr ---\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
}

#[test]
fn the_echo_offer_around_a_password_is_acknowledged_not_answered() {
    let server = Server::start();
    let mut owner = server.login("wes");
    owner.send("/register passphrase-of-wes");
    owner.expect("OK register wes");
    owner.exit_skipping_events();
    let mut client = server.connect("client");
    // Before any offer, DO ECHO is a request, refused as in version 1.
    client.send_raw(&[IAC, DO, ECHO]);
    client.expect_bytes(&[IAC, WONT, ECHO]);
    client.send("wes");
    client.expect_bytes(&[IAC, WILL, ECHO]);
    client.expect("PASSWORD wes");
    // Now DO ECHO agrees to the server's offer: it must not be answered
    // (an answer would show as a second IAC WONT ECHO below).
    client.send_raw(&[IAC, DO, ECHO]);
    client.send("passphrase-of-wes");
    client.expect_bytes(&[IAC, WONT, ECHO]);
    client.expect("WELCOME wes");
    client.skip_info();
    // DONT ECHO, the answer to the server's WONT, gets nothing either.
    client.send_raw(&[IAC, DONT, ECHO]);
    client.quiet();
}
