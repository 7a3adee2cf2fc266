//! The interactive mode under a pseudo-terminal (expectrl): incoming lines
//! appear at once above a half-typed line, which survives; the prompt
//! follows the server; history, completion, paste and Ctrl-C/Ctrl-D.

use std::process::Command;

use expectrl::ControlCode;

use crate::harness::{TestServer, scratch_dir};
use crate::peer::Peer;
use crate::term::Term;

#[test]
fn an_incoming_request_appears_while_typing_and_the_line_survives() {
    let server = TestServer::start();
    let dir = scratch_dir("request");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("history"));
    alice.expect("menu> ");
    alice.send("/acc");
    alice.expect("/acc");

    let mut bob = Peer::join(server.addr(), "bob");
    bob.send("/chat alice");
    bob.expect("OK chat alice");

    // The notice is printed at once, then the prompt and the partial line
    // are drawn again below it.
    alice.expect("bob wants to chat: type /accept bob or /decline bob");
    alice.expect("menu> /acc");
    alice.send("ept bob\r");
    bob.expect("CHAT alice");
    alice.expect("you are now chatting with bob");
    alice.expect("chat:bob> ");

    alice.send("hello bob\r");
    bob.expect("MSG alice hello bob");
    bob.send("hi alice");
    alice.expect("bob: hi alice");
    alice.expect_empty_prompt("chat:bob> ");

    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
    bob.expect("ENDED alice disconnected");
}

#[test]
fn the_prompt_changes_under_a_half_typed_line() {
    let server = TestServer::start();
    let dir = scratch_dir("prompt");
    let mut bob = Peer::join(server.addr(), "bob");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("history"));
    alice.expect("menu> ");
    alice.send("/chat bob\r");
    bob.expect("REQUEST alice");
    alice.expect("asked bob to chat");
    alice.send("half");
    alice.expect("half");

    bob.send("/accept alice");
    alice.expect("you are now chatting with bob");
    alice.expect("chat:bob> half");
    alice.send(" done\r");
    bob.expect("MSG alice half done");

    alice.send("/exit\r");
    alice.expect("disconnected. bye!");
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn history_survives_a_restart() {
    let server = TestServer::start();
    let dir = scratch_dir("history");
    let history = dir.join("sub").join("history");
    let mut first = Term::spawn(&server, &["--name", "hal"], &history);
    first.expect("menu> ");
    first.send("/ping remember-me\r");
    first.expect("pong remember-me");
    first.expect_empty_prompt("menu> ");
    first.control(ControlCode::EndOfTransmission);
    assert_eq!(first.exit_code(), 0);
    let saved = std::fs::read_to_string(&history).expect("history file");
    assert!(saved.contains("/ping remember-me"), "{saved:?}");

    let mut second = Term::spawn(&server, &["--name", "hal"], &history);
    second.expect("menu> ");
    second.send("\x1b[A");
    second.expect("/ping remember-me");
    second.send("\r");
    second.expect("pong remember-me");
    second.expect_empty_prompt("menu> ");
    second.control(ControlCode::EndOfTransmission);
    assert_eq!(second.exit_code(), 0);
}

#[test]
fn tab_completes_a_user_name() {
    let server = TestServer::start();
    let dir = scratch_dir("tab");
    let mut bobby = Peer::join(server.addr(), "Bobby");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("history"));
    alice.expect("menu> ");
    alice.send("/list\r");
    alice.expect("2 users online:");
    alice.send("/chat bo\t");
    alice.expect("/chat Bobby");
    alice.send("\r");
    bobby.expect("REQUEST alice");
    alice.expect("asked Bobby to chat");
    alice.expect_empty_prompt("menu> ");
    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn a_paste_sends_each_line_and_never_runs_a_later_command() {
    let server = TestServer::start();
    let dir = scratch_dir("paste");
    let mut bob = Peer::join(server.addr(), "bob");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("history"));
    alice.expect("menu> ");
    alice.send("/join r\r");
    alice.expect("#r> ");
    bob.send("/join r");
    bob.expect("OK join r 2");
    alice.send("\x1b[200~line one\n/exit\nline three\x1b[201~\r");
    bob.expect("ROOM r alice line one");
    bob.expect("ROOM r alice /exit");
    bob.expect("ROOM r alice line three");
    alice.send("still here\r");
    bob.expect("ROOM r alice still here");
    // Past the echo first: an empty prompt drawn before it (after "bob
    // joined") would match, and Ctrl-D sent between two readline calls is
    // taken by the tty driver.
    alice.expect("still here");
    alice.expect_empty_prompt("#r> ");
    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn ctrl_c_clears_the_line_and_a_second_one_quits() {
    let server = TestServer::start();
    let dir = scratch_dir("ctrlc");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("history"));
    // Type only once the greeting is over, so that the next prompt seen
    // is the one drawn after Ctrl-C (rustyline drops keys typed ahead of
    // a Ctrl-C).
    alice.expect("-i- while chatting");
    alice.send("junk");
    alice.expect("junk");
    alice.control(ControlCode::EndOfText);
    alice.expect_empty_prompt("menu> ");
    alice.send("/ping after\r");
    alice.expect("pong after");
    alice.expect_empty_prompt("menu> ");
    alice.control(ControlCode::EndOfText);
    alice.expect("press Ctrl-C again to quit");
    alice.expect_empty_prompt("menu> ");
    alice.control(ControlCode::EndOfText);
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn a_vanished_server_is_reported_and_the_exit_is_non_zero() {
    let mut server = TestServer::start();
    let dir = scratch_dir("vanish");
    let args = ["--name", "alice", "--no-reconnect"];
    let mut alice = Term::spawn(&server, &args, &dir.join("history"));
    alice.expect("menu> ");
    alice.send("half typed");
    alice.expect("half typed");
    server.stop();
    alice.expect("the server is shutting down; disconnected");
    assert_eq!(alice.exit_code(), 1);
    assert!(!alice.screen_output().contains("reconnect"));
}

#[test]
fn a_bad_name_is_explained_and_asked_again() {
    let server = TestServer::start();
    let dir = scratch_dir("name");
    let _taken = Peer::join(server.addr(), "Alice");
    let mut term = Term::spawn(&server, &[], &dir.join("history"));
    term.expect("name> ");
    term.send("al ice\r");
    term.expect("cannot be a name: a name uses only letters");
    term.send("alice\r");
    term.expect(
        "the name alice is taken; if it was yours, the old session is freed within about 90 s",
    );
    term.send("alice2\r");
    term.expect("welcome, alice2!");
    term.expect("menu> ");
    term.send("/exit\r");
    assert_eq!(term.exit_code(), 0);
}

#[test]
fn history_survives_a_hangup() {
    let server = TestServer::start();
    let dir = scratch_dir("hangup");
    let history = dir.join("history");
    let mut term = Term::spawn(&server, &["--name", "hup"], &history);
    term.expect("menu> ");
    term.send("/ping before-the-hangup\r");
    term.expect("pong before-the-hangup");
    term.expect_empty_prompt("menu> ");
    let pid = term.session.get_process().pid().to_string();
    let killed = Command::new("kill").args(["-HUP", &pid]).status();
    assert!(killed.is_ok_and(|status| status.success()), "kill -HUP");
    let code = term.exit_code();
    assert_eq!(code, 0, "a hangup leaves cleanly");
    let saved = std::fs::read_to_string(&history).expect("history file");
    assert!(saved.contains("/ping before-the-hangup"), "{saved:?}");
}

#[test]
fn a_password_command_is_masked_and_never_kept() {
    let server = TestServer::start();
    let dir = scratch_dir("secret");
    let history = dir.join("history");
    let mut term = Term::spawn(&server, &["--name", "sam"], &history);
    term.expect_empty_prompt("menu> ");
    term.send("/ping kept\r");
    term.expect("pong kept");
    term.expect_empty_prompt("menu> ");
    term.send("/register zqzq zqzq");
    term.expect("/register *********");
    term.send("\r");
    // Whatever this server answers (a version-1 hub does not know the
    // command), the password is neither shown nor kept.
    term.expect("-!- ");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    assert_eq!(term.exit_code(), 0);
    let screen = term.screen_output();
    assert!(
        !screen.contains("zq"),
        "a password reached the screen:\n{screen}"
    );
    let kept = std::fs::read_to_string(&history).expect("history file");
    assert!(kept.contains("/ping kept"), "{kept:?}");
    assert!(!kept.contains("register"), "{kept:?}");
}
