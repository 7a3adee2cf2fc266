//! Signing in to a registered name, against the real server (which sends
//! `IAC WILL ECHO` before `PASSWORD` and `IAC WONT ECHO` after the
//! password line): what the client shows, from a pipe and in a terminal,
//! and, through the tap, exactly what it sends (a refused password given
//! ahead of time is never sent again, nothing follows it in a script, and
//! leaving at the password prompt sends no password).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use expectrl::ControlCode;

use crate::harness::{TestServer, scratch_dir};
use crate::peer::register;
use crate::script::{outputs, run_pipe};
use crate::tap::Tap;
use crate::term::Term;

/// A password file with these contents and mode.
fn password_file(dir: &Path, contents: &str, mode: u32) -> PathBuf {
    let path = dir.join("password");
    fs::write(&path, contents).expect("write password file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// The tags of `--raw` output, in order (the first word of each line).
fn tags(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| line.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_password_file_answers_the_prompt_and_telnet_bytes_never_show() {
    let server = TestServer::start();
    register(server.addr(), "alice", "correct horse battery");
    let dir = scratch_dir("pwfile");
    let file = password_file(&dir, "correct horse battery\nnot this\n", 0o600);
    let args = [
        "--raw",
        "--password-file",
        file.to_str().expect("utf-8 path"),
    ];
    let output = run_pipe(
        &server.addr().to_string(),
        &args,
        "alice\n/ping after\n",
        &[],
    );
    let (stdout, stderr) = outputs(&output);
    // Protocol lines only, in the server's order, and not one telnet byte
    // (the server sent four around the password).
    let tags: Vec<String> = tags(&stdout)
        .into_iter()
        .filter(|tag| tag != "INFO")
        .collect();
    assert_eq!(
        tags,
        ["HELLO", "PASSWORD", "WELCOME", "OK", "BYE"],
        "{stdout}"
    );
    assert!(stdout.contains("PASSWORD alice "), "{stdout}");
    assert!(stdout.contains("\nOK ping after\n"), "{stdout}");
    assert!(stdout.contains("\nBYE exit"), "{stdout}");
    assert!(!output.stdout.contains(&0xff), "telnet bytes in {stdout:?}");
    assert!(
        !stdout.contains("horse"),
        "the password was shown: {stdout}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn chinwag_password_answers_the_prompt_in_rendered_output() {
    let server = TestServer::start();
    register(server.addr(), "alice", "from the environment");
    let envs = [("CHINWAG_PASSWORD", "from the environment")];
    let addr = server.addr().to_string();
    let output = run_pipe(&addr, &["--name", "alice"], "/ping after\n", &envs);
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
    let server = TestServer::start();
    register(server.addr(), "alice", "/not a command, a password");
    let mut tap = Tap::start(server.addr());
    let input = "alice\n/not a command, a password\n/ping after\n";
    let output = run_pipe(&tap.addr(), &[], input, &[]);
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}");
    assert!(stdout.contains("-!- pong after"), "{stdout}");
    assert!(!stdout.contains("a password"), "{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        tap.sent(0),
        [
            "alice",
            "/not a command, a password",
            "/ping after",
            "/quit"
        ]
    );
}

#[test]
fn a_refused_preset_ends_the_script_and_sends_nothing_more() {
    let server = TestServer::start();
    register(server.addr(), "alice", "the right one");
    let mut tap = Tap::start(server.addr());
    let envs = [("CHINWAG_PASSWORD", "wrong one")];
    let output = run_pipe(&tap.addr(), &[], "alice\n/ping after\n", &envs);
    let (stdout, stderr) = outputs(&output);
    assert_eq!(tap.sent(0), ["alice", "wrong one"], "the script went on");
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
    let server = TestServer::start();
    register(server.addr(), "alice", "pw-pw-pw-pw");
    let dir = scratch_dir("pwmode");
    let file = password_file(&dir, "pw-pw-pw-pw\n", 0o644);
    let args = ["--password-file", file.to_str().expect("utf-8 path")];
    let addr = server.addr().to_string();
    let output = run_pipe(&addr, &args, "alice\n/ping after\n", &[]);
    let (stdout, stderr) = outputs(&output);
    assert!(
        stderr.contains("can be read by other users (mode 0644); run chmod 600 on it"),
        "{stderr}"
    );
    assert!(stdout.contains("-!- pong after"), "{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn the_password_prompt_hides_what_is_typed_and_keeps_nothing() {
    let server = TestServer::start();
    register(server.addr(), "alice", "zqzq zqzq");
    let dir = scratch_dir("pwprompt");
    let history = dir.join("history");
    let mut term = Term::spawn_at(&server.addr().to_string(), &[], &history, &[]);
    term.expect_empty_prompt("name> ");
    term.send("alice\r");
    term.expect("alice is a registered name");
    term.expect_empty_prompt("password for alice: ");
    term.send("zqzq zqzq\r");
    term.expect("*********");
    term.expect("welcome, alice!");
    term.expect_empty_prompt("menu> ");
    // Both commands that carry a password are masked while typed.
    term.send("/unregister zqzq zqzq\r");
    term.expect("/unregister *********");
    term.expect("alice is no longer registered");
    term.expect_empty_prompt("menu> ");
    term.send("/register zqzqzqzq\r");
    term.expect("/register ********");
    term.expect("alice is now registered to you");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    assert_eq!(term.exit_code(), 0);
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
    let server = TestServer::start();
    register(server.addr(), "alice", "typed by hand");
    let mut tap = Tap::start(server.addr());
    let dir = scratch_dir("pwretry");
    let envs = [("CHINWAG_PASSWORD", "stale-password")];
    let mut term = Term::spawn_at(&tap.addr(), &[], &dir.join("history"), &envs);
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
    assert_eq!(
        tap.sent(0),
        ["alice", "stale-password", "alice", "typed by hand", "/quit"]
    );
}

#[test]
fn leaving_at_the_password_prompt_sends_no_password() {
    let server = TestServer::start();
    register(server.addr(), "alice", "never typed");
    let mut tap = Tap::start(server.addr());
    let dir = scratch_dir("pwleave");
    let mut term = Term::spawn_at(&tap.addr(), &["--name", "alice"], &dir.join("h"), &[]);
    term.expect_empty_prompt("password for alice: ");
    term.control(ControlCode::EndOfTransmission);
    term.expect("disconnected. bye!");
    assert_eq!(term.exit_code(), 0);
    // `/quit` would have been taken for a password: nothing may follow.
    assert_eq!(tap.sent(0), ["alice"]);
}
