//! The scriptable mode: stdin and stdout are pipes.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::Output;
use std::thread;

use crate::harness::{Peer, TIMEOUT, TestServer, run_pipe};

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
    use std::io::{BufRead as _, BufReader};
    // A server that says hello, welcomes, and hangs up without a BYE.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        writer.write_all(b"HELLO chinwag/1 hi\r\n").expect("hello");
        let mut name = String::new();
        reader.read_line(&mut name).expect("name");
        writer.write_all(b"WELCOME erin\r\n").expect("welcome");
    });
    let output = run(addr, &["--raw"], "erin\n");
    fake.join().expect("fake server");
    let stdout = stdout(&output);
    assert_eq!(stdout, "HELLO chinwag/1 hi\nWELCOME erin\n", "stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the server closed the connection")
            || stderr.contains("lost the connection to the server"),
        "stderr: {stderr}"
    );
    assert_eq!(output.status.code(), Some(1));
}
