//! The client against the real server's version-2 features: signing in,
//! a room's stored past, TLS. The server runs from its own command line
//! (`ServerProcess`) with `--data none` (memory only) unless the test is
//! about what it keeps.

use std::fs;
use std::thread;

use expectrl::ControlCode;

use crate::harness::{ServerProcess, scratch_dir};
use crate::peer::{Peer, register};
use crate::script::{outputs, run_pipe};
use crate::term::Term;

#[test]
fn signing_in_to_a_registered_name() {
    let server = ServerProcess::start(&["--data", "none"], false);
    register(server.addr, "alice", "pass-word-1");

    let dir = scratch_dir("v2-signin");
    let history = dir.join("history");
    let mut term = Term::spawn_at(&server.addr.to_string(), &[], &history, &[]);
    term.expect_empty_prompt("name> ");
    term.send("alice\r");
    term.expect_empty_prompt("password for alice: ");
    term.send("wrong-word-1\r");
    term.expect("wrong password for alice; choose a name again");
    term.expect_empty_prompt("name> ");
    term.send("alice\r");
    term.expect_empty_prompt("password for alice: ");
    term.send("pass-word-1\r");
    term.expect("welcome, alice!");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    assert_eq!(term.exit_code(), 0);
    let screen = term.screen_output();
    assert!(
        !screen.contains("-word-1"),
        "a password reached the screen:\n{screen}"
    );
    let kept = fs::read_to_string(&history).unwrap_or_default();
    assert!(!kept.contains("-word-1"), "a password was kept: {kept:?}");
}

#[test]
fn a_password_from_a_pipe_signs_in() {
    let server = ServerProcess::start(&["--data", "none"], false);
    register(server.addr, "bob", "pass-word-2");
    let envs = [("CHINWAG_PASSWORD", "pass-word-2")];
    let output = run_pipe(&server.addr.to_string(), &["--raw"], "bob\n/list\n", &envs);
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("PASSWORD bob"), "{stdout}");
    assert!(stdout.contains("WELCOME bob"), "{stdout}");
    assert!(stdout.contains("OK list 1"), "{stdout}");
    assert!(!output.stdout.contains(&0xff), "telnet bytes in {stdout:?}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_rooms_past_is_shown_between_separators() {
    let server = ServerProcess::start(&["--data", "none", "--history", "50"], false);
    let mut bob = Peer::join(server.addr, "bob");
    bob.send("/join den");
    bob.expect("OK join den 1");
    bob.send("hello from the past");
    bob.send("/me waves");
    bob.send("/ping stored");
    bob.expect("OK ping stored");
    let output = run_pipe(&server.addr.to_string(), &[], "carol\n/join den\n", &[]);
    let (stdout, stderr) = outputs(&output);
    let expected = [
        "── earlier in #den ──",
        "[den] bob: hello from the past",
        "[den] * bob waves",
        "── now ──",
        "-!- you joined #den (1 other member)",
    ];
    let mut rest = stdout.as_str();
    for needle in expected {
        let at = rest.find(needle).unwrap_or_else(|| {
            panic!("{needle:?} missing or out of order in:\n{stdout}\n{stderr}")
        });
        rest = &rest[at + needle.len()..];
    }
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn chatting_over_tls_with_a_self_signed_server() {
    let dir = scratch_dir("v2-tls");
    let data = dir.join("server-data");
    fs::create_dir_all(&data).expect("data dir");
    let data_arg = data.to_str().expect("utf-8 path");
    let args = [
        "--data",
        data_arg,
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-self-signed",
    ];
    let server = ServerProcess::start(&args, true);
    let tls = server.tls_addr.expect("listening tls on");
    let url = format!("chinwags://{tls}");
    let client_data = dir.join("client-data");
    let client_data = client_data.to_str().expect("utf-8 path").to_owned();
    let mut dave = Peer::join(server.addr, "dave");
    let client = {
        let url = url.clone();
        let client_data = client_data.clone();
        thread::spawn(move || {
            let envs = [("XDG_DATA_HOME", client_data.as_str())];
            run_pipe(&url, &["--trust-new"], "erin\n/chat dave\n", &envs)
        })
    };
    dave.expect("REQUEST erin");
    let output = client.join().expect("client");
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, erin!"), "{stdout}\n{stderr}");
    assert!(stdout.contains("-!- asked dave to chat"), "{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    // The certificate is remembered: no question, no flag the second time.
    let envs = [("XDG_DATA_HOME", client_data.as_str())];
    let output = run_pipe(&url, &[], "erin\n/list\n", &envs);
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- 2 users online:"), "{stdout}\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// The harness behind the tests above runs the real command line.
#[test]
fn the_server_process_runs_chinwagds_command_line() {
    let server = ServerProcess::start(&["--data", "none"], false);
    let mut peer = Peer::join(server.addr, "probe");
    peer.send("/ping harness");
    peer.expect("OK ping harness");
}
