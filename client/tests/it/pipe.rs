//! The scriptable mode: stdin and stdout are pipes.

use std::net::SocketAddr;
use std::process::Output;

use crate::harness::{ServerProcess, TestServer};
use crate::peer::Peer;
use crate::script::{Script, run_pipe};

/// Runs `chinwag --server ADDR ARGS…` with `input` on stdin.
fn run(addr: SocketAddr, args: &[&str], input: &str) -> Output {
    run_pipe(&addr.to_string(), args, input, &[])
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_contains(output: &Output, needles: &[&str]) {
    let text = stdout(output);
    for needle in needles {
        assert!(
            text.contains(needle),
            "stdout lacks {needle:?}:\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_script_lists_users_and_exits_zero_after_bye() {
    let server = TestServer::start();
    let _bob = Peer::join(server.addr(), "bob");
    let output = run(server.addr(), &[], "alice\n/list\n/exit\n");
    assert_contains(
        &output,
        &[
            "-!- welcome, alice!",
            "-!- 2 users online:",
            "-!-   alice (you)  available",
            "-!-   bob          available",
            "-!- disconnected. bye!",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // No colours into a pipe, and every line stamped.
    let text = stdout(&output);
    assert!(!text.contains('\u{1b}'));
    for line in text.lines() {
        let (stamp, _) = line.split_at(6);
        assert!(
            stamp.as_bytes()[2] == b':' && stamp.ends_with(' '),
            "{line:?}"
        );
    }
}

#[test]
fn end_of_input_waits_for_every_outstanding_reply() {
    let server = TestServer::start();
    let output = run(
        server.addr(),
        &[],
        "carol\n/list\n/rooms\n/join lobby\n/ping last\n",
    );
    assert_contains(
        &output,
        &[
            "-!- 1 user online:",
            "-!- no rooms yet",
            "-!- you joined #lobby",
            "-!- pong last",
            "-!- disconnected. bye!",
        ],
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn raw_prints_the_protocol_lines() {
    let server = TestServer::start();
    let output = run(server.addr(), &["--raw"], "dave\n/ping tok\n");
    assert_contains(
        &output,
        &["HELLO chinwag/2", "WELCOME dave", "OK ping tok", "BYE exit"],
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_taken_name_is_explained_and_fails() {
    let server = TestServer::start();
    let _bob = Peer::join(server.addr(), "Bob");
    let output = run(server.addr(), &["--name", "bob"], "/list\n");
    assert_contains(
        &output,
        &["the name bob is taken; if it was yours, the old session is freed within about 90 s"],
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn raw_keeps_stdout_for_protocol_lines_when_the_connection_drops() {
    let mut server = ServerProcess::start(&["--data", "none"], false);
    let mut erin = Script::spawn(&server.addr.to_string(), &["--raw"], &[]);
    erin.send("erin");
    erin.send("/ping before-the-crash");
    erin.expect("OK ping before-the-crash");
    // A crash: the connection ends without a `BYE`.
    server.crash();
    let output = erin.finish();
    let stdout = stdout(&output);
    for line in stdout.lines() {
        let tag = line.split(' ').next().unwrap_or_default();
        assert!(
            !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_uppercase()),
            "not a protocol line on stdout: {line:?}\n{stdout}"
        );
    }
    assert!(stdout.starts_with("HELLO chinwag/2"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the server closed the connection")
            || stderr.contains("lost the connection to the server"),
        "stderr: {stderr}"
    );
    // A script never reconnects.
    assert!(!stderr.contains("reconnect"), "stderr: {stderr}");
    assert_eq!(output.status.code(), Some(1));
}
