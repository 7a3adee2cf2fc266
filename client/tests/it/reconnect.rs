//! Reconnecting, in a terminal, against the real server: across a restart
//! (SIGTERM, so `BYE shutdown`; same data directory, a registered name
//! signed back in with the password typed earlier; the room rejoined; the
//! half-typed line still there) and a crash (SIGKILL: the connection just
//! drops), the server restarted on the same port; a name still held by
//! the dead connection (the tap cuts the client's side only); and the
//! endings that must not reconnect: `BYE replaced`, `/exit`,
//! `--no-reconnect`, Ctrl-C while waiting, and a server whose
//! certificate changed.

use std::fs;

use expectrl::ControlCode;

use crate::harness::{ServerProcess, TestServer, scratch_dir};
use crate::peer::{Peer, register};
use crate::tap::Tap;
use crate::term::Term;
use crate::tls::{path, self_signed};

#[test]
fn a_restart_is_survived_signed_in_in_the_same_room_with_the_line_kept() {
    let dir = scratch_dir("restart");
    let data = dir.join("server-data");
    fs::create_dir_all(&data).expect("data dir");
    let mut server = ServerProcess::start(&["--data", path(&data)], false);
    let bind = format!("127.0.0.1:{}", server.addr.port());
    register(server.addr, "alice", "pass-word-1");

    let history = dir.join("history");
    let addr = server.addr.to_string();
    let mut alice = Term::spawn_at(&addr, &["--name", "alice"], &history, &[]);
    alice.expect_empty_prompt("password for alice: ");
    alice.send("pass-word-1\r");
    alice.expect("welcome, alice!");
    alice.expect_empty_prompt("menu> ");
    alice.send("/join den\r");
    alice.expect("you joined #den");
    alice.expect_empty_prompt("#den> ");
    alice.send("half");
    alice.expect("half");

    server.terminate();
    alice.expect("the server is shutting down; disconnected");
    alice.expect("reconnecting in 1 s (attempt 1); Ctrl-C stops");
    alice.expect("(reconnecting) #den> half");
    let server = ServerProcess::start(&["--bind", &bind, "--data", path(&data)], false);
    alice.expect("connected again; signing in as alice");
    alice.expect("signing in with the password from earlier in this session");
    alice.expect("reconnected as alice, back in #den");
    alice.expect("#den> half");

    let mut bob = Peer::join(server.addr, "bob");
    bob.send("/join den");
    bob.expect("OK join den 2");
    alice.expect("bob joined #den");
    alice.send(" done\r");
    bob.expect("ROOM den alice half done");
    alice.expect_empty_prompt("#den> ");
    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);

    let screen = alice.screen_output();
    assert!(!screen.contains("pass-word"), "the password was shown");
    let kept = fs::read_to_string(&history).unwrap_or_default();
    assert!(
        !kept.contains("pass-word"),
        "the password was kept: {kept:?}"
    );
}

#[test]
fn a_crash_drops_the_connection_and_the_client_comes_back() {
    let mut server = ServerProcess::start(&["--data", "none"], false);
    let bind = format!("127.0.0.1:{}", server.addr.port());
    let dir = scratch_dir("crash");
    let addr = server.addr.to_string();
    let mut alice = Term::spawn_at(&addr, &["--name", "alice"], &dir.join("h"), &[]);
    alice.expect_empty_prompt("menu> ");
    alice.send("/join den\r");
    alice.expect_empty_prompt("#den> ");

    server.crash();
    alice.expect("reconnecting in 1 s (attempt 1); Ctrl-C stops");
    let _server = ServerProcess::start(&["--bind", &bind, "--data", "none"], false);
    alice.expect("reconnected as alice, back in #den");
    alice.expect_empty_prompt("#den> ");
    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn a_name_held_by_the_dead_connection_is_waited_for_and_lines_are_not_sent() {
    let server = TestServer::start();
    let mut tap = Tap::start(server.addr());
    let dir = scratch_dir("held");
    let mut alice = Term::spawn_at(&tap.addr(), &["--name", "alice"], &dir.join("h"), &[]);
    alice.expect_empty_prompt("menu> ");

    // The network path dies: the client sees it, the server does not.
    tap.cut(0);
    alice.expect("reconnecting in 1 s (attempt 1)");
    alice.expect("alice is still held by your old session; the server frees it within about 90 s");
    alice.expect_empty_prompt("(reconnecting) menu> ");
    alice.send("/list\r");
    alice.expect("not sent: not connected while reconnecting (Ctrl-C stops); the line is kept");
    alice.expect("(reconnecting) menu> /list");

    // Now the server notices that the old connection is gone.
    tap.release(0);
    alice.expect("reconnected as alice");
    alice.expect("menu> /list");
    alice.send("\r");
    alice.expect("1 user online");
    alice.expect_empty_prompt("menu> ");
    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
    // The attempt that found the name held sent the name, nothing else.
    assert_eq!(tap.sent(1), ["alice"]);
}

#[test]
fn signing_in_elsewhere_ends_the_session_without_reconnecting() {
    let server = TestServer::start();
    register(server.addr(), "alice", "pass-word-4");
    let dir = scratch_dir("replaced");
    let addr = server.addr().to_string();
    let mut alice = Term::spawn_at(&addr, &["--name", "alice"], &dir.join("h"), &[]);
    alice.expect_empty_prompt("password for alice: ");
    alice.send("pass-word-4\r");
    alice.expect_empty_prompt("menu> ");
    let mut elsewhere = Peer::sign_in(server.addr(), "alice", "pass-word-4");
    alice.expect("you signed in from somewhere else; this session ended and will not reconnect");
    assert_eq!(alice.exit_code(), 1);
    assert!(!alice.screen_output().contains("reconnecting"));
    // The new session keeps the name.
    elsewhere.sync("still-here");
}

#[test]
fn exit_does_not_reconnect() {
    let server = TestServer::start();
    let dir = scratch_dir("exit");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("h"));
    alice.expect_empty_prompt("menu> ");
    alice.send("/exit\r");
    alice.expect("disconnected. bye!");
    assert_eq!(alice.exit_code(), 0);
    assert!(!alice.screen_output().contains("reconnect"));
}

#[test]
fn ctrl_c_stops_reconnecting() {
    let mut server = TestServer::start();
    let dir = scratch_dir("stop");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("h"));
    alice.expect_empty_prompt("menu> ");
    server.stop();
    alice.expect("reconnecting in 1 s (attempt 1); Ctrl-C stops");
    alice.expect_empty_prompt("(reconnecting) menu> ");
    alice.control(ControlCode::EndOfText);
    alice.expect("stopped reconnecting. bye!");
    assert_eq!(alice.exit_code(), 1);
}

#[test]
fn a_changed_certificate_is_refused_on_reconnecting() {
    let dir = scratch_dir("reconnect-tls");
    let (first, second) = (dir.join("first"), dir.join("second"));
    fs::create_dir_all(&first).expect("dir");
    fs::create_dir_all(&second).expect("dir");
    let (cert, key) = self_signed(&first);
    let (other_cert, other_key) = self_signed(&second);
    let tls_args = |bind: &str, cert, key| {
        [
            "--data",
            "none",
            "--tls-bind",
            bind,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ]
        .map(str::to_owned)
    };
    let args = tls_args("127.0.0.1:0", path(&cert), path(&key));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = ServerProcess::start(&args, true);
    let tls = server.tls_addr.expect("listening tls on");
    let url = format!("chinwags://{tls}");
    let envs = [("XDG_DATA_HOME", path(&dir))];
    let args = ["--name", "alice", "--trust-new"];
    let mut alice = Term::spawn_at(&url, &args, &dir.join("h"), &envs);
    alice.expect_empty_prompt("menu> ");

    server.terminate();
    alice.expect("reconnecting in 1 s (attempt 1)");
    let bind = tls.to_string();
    let args = tls_args(&bind, path(&other_cert), path(&other_key));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _server = ServerProcess::start(&args, true);
    alice.expect("THE SERVER'S CERTIFICATE HAS CHANGED");
    alice.expect("not reconnecting");
    assert_eq!(alice.exit_code(), 1);
}
