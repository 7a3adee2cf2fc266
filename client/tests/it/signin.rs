//! Signing in to a registered name, against a scripted server that speaks
//! version 2's sign-in exactly as PROTOCOL.md describes it (telnet echo
//! bytes around `PASSWORD`, `ERR bad-password` back to naming): what the
//! client sends and shows, from a pipe and in a terminal. The same flows
//! against the real server are in `v2.rs`.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use expectrl::ControlCode;

use crate::harness::{FakeConn, FakeServer, outputs, run_pipe, scratch_dir};
use crate::term::Term;

const IAC_WILL_ECHO: &[u8] = b"\xff\xfb\x01";
const IAC_WONT_ECHO: &[u8] = b"\xff\xfc\x01";

/// A password file with these contents and mode.
fn password_file(dir: &Path, contents: &str, mode: u32) -> PathBuf {
    let path = dir.join("password");
    fs::write(&path, contents).expect("write password file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// The server's side of naming `alice`, up to `PASSWORD`; returns the
/// line the client sends as the password.
fn ask_alice_for_a_password(conn: &mut FakeConn) -> String {
    conn.send(b"HELLO chinwag/2 type a name\r\n");
    assert_eq!(conn.line(), "alice");
    let mut ask = IAC_WILL_ECHO.to_vec();
    ask.extend_from_slice(b"PASSWORD alice type the password\r\n");
    conn.send(&ask);
    conn.line()
}

fn welcome_alice(conn: &mut FakeConn) {
    let mut welcome = IAC_WONT_ECHO.to_vec();
    welcome.extend_from_slice(b"WELCOME alice\r\n");
    conn.send(&welcome);
}

/// Answers `/ping after`, then `/quit` with `BYE exit`.
fn ping_and_bye(conn: &mut FakeConn) {
    assert_eq!(conn.line(), "/ping after");
    conn.send(b"OK ping after\r\n");
    assert_eq!(conn.line(), "/quit");
    conn.send(b"BYE exit goodbye\r\n");
}

#[test]
fn a_password_file_answers_the_prompt_and_telnet_bytes_never_show() {
    let dir = scratch_dir("pwfile");
    let file = password_file(&dir, "correct horse battery\nnot this\n", 0o600);
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "correct horse battery");
        welcome_alice(conn);
        ping_and_bye(conn);
    });
    let args = [
        "--raw",
        "--password-file",
        file.to_str().expect("utf-8 path"),
    ];
    let output = run_pipe(&server.addr(), &args, "alice\n/ping after\n", &[]);
    server.finish();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(
        stdout,
        "HELLO chinwag/2 type a name\nPASSWORD alice type the password\nWELCOME alice\n\
         OK ping after\nBYE exit goodbye\n"
    );
    assert!(!output.stdout.contains(&0xff), "telnet bytes in {stdout:?}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn chinwag_password_answers_the_prompt_in_rendered_output() {
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "from the environment");
        welcome_alice(conn);
        ping_and_bye(conn);
    });
    let envs = [("CHINWAG_PASSWORD", "from the environment")];
    let output = run_pipe(&server.addr(), &["--name", "alice"], "/ping after\n", &envs);
    server.finish();
    let (stdout, stderr) = outputs(&output);
    assert!(
        stdout.contains("-!- alice is a registered name: enter its password to sign in"),
        "{stdout}"
    );
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}");
    assert!(stdout.contains("-!- pong after"), "{stdout}");
    assert!(!stdout.contains("from the environment"), "{stdout}");
    assert!(!output.stdout.contains(&0xff), "telnet bytes in {stdout:?}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn without_a_preset_the_next_input_line_is_the_password() {
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "/not a command, a password");
        welcome_alice(conn);
        ping_and_bye(conn);
    });
    let input = "alice\n/not a command, a password\n/ping after\n";
    let output = run_pipe(&server.addr(), &[], input, &[]);
    server.finish();
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_refused_preset_ends_the_script_and_sends_nothing_more() {
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "wrong one");
        let mut refuse = IAC_WONT_ECHO.to_vec();
        refuse.extend_from_slice(b"ERR bad-password wrong password\r\n");
        conn.send(&refuse);
        conn.until_closed();
    });
    let envs = [("CHINWAG_PASSWORD", "wrong one")];
    let output = run_pipe(&server.addr(), &[], "alice\n/ping after\n", &envs);
    let received = server.finish();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(received, ["alice", "wrong one"], "the script went on");
    assert!(
        stdout.contains("-!- wrong password for alice (the one from CHINWAG_PASSWORD"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the server refused the password given for \"alice\""),
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_password_file_others_can_read_is_warned_about() {
    let dir = scratch_dir("pwmode");
    let file = password_file(&dir, "pw-pw-pw-pw\n", 0o644);
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "pw-pw-pw-pw");
        welcome_alice(conn);
        ping_and_bye(conn);
    });
    let args = ["--password-file", file.to_str().expect("utf-8 path")];
    let output = run_pipe(&server.addr(), &args, "alice\n/ping after\n", &[]);
    server.finish();
    let (_, stderr) = outputs(&output);
    assert!(
        stderr.contains("can be read by other users (mode 0644); run chmod 600 on it"),
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn the_password_prompt_hides_what_is_typed_and_keeps_nothing() {
    let dir = scratch_dir("pwprompt");
    let history = dir.join("history");
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "zqzq zqzq");
        welcome_alice(conn);
        assert_eq!(conn.line(), "/register zqzqzqzq");
        conn.send(b"OK register alice\r\n");
        assert_eq!(conn.line(), "/quit");
        conn.send(b"BYE exit goodbye\r\n");
    });
    let mut term = Term::spawn_at(&server.addr(), &[], &history, &[]);
    term.expect_empty_prompt("name> ");
    term.send("alice\r");
    term.expect("alice is a registered name");
    term.expect_empty_prompt("password for alice: ");
    term.send("zqzq zqzq\r");
    term.expect("*********");
    term.expect("welcome, alice!");
    term.expect_empty_prompt("menu> ");
    term.send("/register zqzqzqzq\r");
    term.expect("/register ********");
    term.expect("alice is now registered to you");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    assert_eq!(term.exit_code(), 0);
    server.finish();
    let screen = term.screen_output();
    assert!(
        !screen.contains("zq"),
        "a password reached the screen:\n{screen}"
    );
    let kept = fs::read_to_string(&history).unwrap_or_default();
    assert!(
        !kept.contains("zq"),
        "a password reached the history: {kept:?}"
    );
    assert!(kept.contains("alice"), "the name is kept: {kept:?}");
}

#[test]
fn a_refused_preset_is_not_sent_again_and_the_user_is_asked() {
    let dir = scratch_dir("pwretry");
    let server = FakeServer::start(|conn| {
        assert_eq!(ask_alice_for_a_password(conn), "stale");
        conn.send(b"\xff\xfc\x01ERR bad-password wrong password\r\n");
        assert_eq!(conn.line(), "alice");
        conn.send(b"\xff\xfb\x01PASSWORD alice again\r\n");
        assert_eq!(conn.line(), "typed by hand");
        welcome_alice(conn);
        assert_eq!(conn.line(), "/quit");
        conn.send(b"BYE exit goodbye\r\n");
    });
    let envs = [("CHINWAG_PASSWORD", "stale")];
    let mut term = Term::spawn_at(&server.addr(), &[], &dir.join("history"), &envs);
    term.expect_empty_prompt("name> ");
    term.send("alice\r");
    term.expect("sending the password from CHINWAG_PASSWORD");
    term.expect(
        "wrong password for alice (the one from CHINWAG_PASSWORD, which will not be sent again)",
    );
    term.expect_empty_prompt("name> ");
    term.send("alice\r");
    term.expect_empty_prompt("password for alice: ");
    term.send("typed by hand\r");
    term.expect("welcome, alice!");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    assert_eq!(term.exit_code(), 0);
    server.finish();
}

#[test]
fn leaving_at_the_password_prompt_sends_no_password() {
    let dir = scratch_dir("pwleave");
    let server = FakeServer::start(|conn| {
        conn.send(b"HELLO chinwag/2 type a name\r\n");
        assert_eq!(conn.line(), "alice");
        conn.send(b"\xff\xfb\x01PASSWORD alice type the password\r\n");
        conn.until_closed();
    });
    let mut term = Term::spawn_at(&server.addr(), &["--name", "alice"], &dir.join("h"), &[]);
    term.expect_empty_prompt("password for alice: ");
    term.control(ControlCode::EndOfTransmission);
    term.expect("disconnected. bye!");
    assert_eq!(term.exit_code(), 0);
    // `/quit` would have been taken for a password: nothing may follow.
    assert_eq!(server.finish(), ["alice"]);
}
