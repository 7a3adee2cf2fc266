//! Mentions and the bell in a terminal, against the real server: a
//! mention of your name is highlighted (bold reverse, `ESC [1;7m`) and
//! rings (BEL, 0x07, written with the rows it is for), a chat request
//! rings, a word that only contains your name does neither, a message in
//! the chat your prompt is in does not ring, colours off still ring, and
//! `--no-bell` never rings.

use expectrl::ControlCode;

use crate::harness::{TestServer, scratch_dir};
use crate::peer::Peer;
use crate::term::Term;

const BEL: u8 = 0x07;
/// How the client highlights a mention of `alice`.
const HIGHLIGHTED_ALICE: &str = "\u{1b}[1;7mAlice\u{1b}[0m";

fn rang(bytes: &[u8]) -> bool {
    bytes.contains(&BEL)
}

#[test]
fn a_mention_is_highlighted_and_rings_and_a_lookalike_does_not() {
    let server = TestServer::start();
    let dir = scratch_dir("mention");
    let addr = server.addr().to_string();
    let mut alice = Term::spawn_in_colour(&addr, &["--name", "alice"], &dir.join("h"), &[]);
    alice.expect_empty_coloured_prompt("menu> ");

    // A chat request rings.
    let mut bob = Peer::join(server.addr(), "bob");
    let mark = alice.mark();
    bob.send("/chat alice");
    bob.expect("OK chat alice");
    alice.expect("wants to chat");
    assert!(rang(alice.since(mark)), "a request did not ring");
    bob.send("/cancel");
    bob.expect("OK cancel alice");
    alice.expect("withdrew their chat request");

    alice.send("/join den\r");
    alice.expect("you joined");
    alice.expect_empty_coloured_prompt("#den> ");
    bob.send("/join den");
    bob.expect("OK join den 2");
    alice.expect("joined");
    alice.expect_empty_coloured_prompt("#den> ");

    let mark = alice.mark();
    bob.send("no malice in alice_b");
    alice.expect("no malice in alice_b");
    alice.expect_empty_coloured_prompt("#den> ");
    assert!(!rang(alice.since(mark)), "a lookalike rang");

    let mark = alice.mark();
    bob.send("hi @Alice!");
    alice.expect(&format!("hi @{HIGHLIGHTED_ALICE}!"));
    assert!(rang(alice.since(mark)), "a mention did not ring");
    alice.expect_empty_coloured_prompt("#den> ");

    let mark = alice.mark();
    bob.send("/me pokes Alice");
    alice.expect(&format!("pokes {HIGHLIGHTED_ALICE}"));
    assert!(
        rang(alice.since(mark)),
        "an action that mentions did not ring"
    );
    alice.expect_empty_coloured_prompt("#den> ");

    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn a_message_in_the_chat_you_are_in_does_not_ring_and_no_colour_still_rings() {
    let server = TestServer::start();
    let dir = scratch_dir("chat-bell");
    let mut alice = Term::spawn(&server, &["--name", "alice"], &dir.join("h"));
    alice.expect_empty_prompt("menu> ");
    let mut bob = Peer::join(server.addr(), "bob");
    let mark = alice.mark();
    bob.send("/chat alice");
    bob.expect("OK chat alice");
    alice.expect("bob wants to chat");
    assert!(rang(alice.since(mark)), "--no-color silenced the bell");
    alice.expect_empty_prompt("menu> ");
    alice.send("/accept bob\r");
    bob.expect("CHAT alice");
    alice.expect_empty_prompt("chat:bob> ");

    let mark = alice.mark();
    bob.send("hi alice, you are in this chat");
    alice.expect("bob: hi alice, you are in this chat");
    alice.expect_empty_prompt("chat:bob> ");
    assert!(
        !rang(alice.since(mark)),
        "a message in the chat on screen rang"
    );

    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
}

#[test]
fn no_bell_never_rings_but_still_highlights() {
    let server = TestServer::start();
    let dir = scratch_dir("no-bell");
    let addr = server.addr().to_string();
    let args = ["--name", "alice", "--no-bell"];
    let mut alice = Term::spawn_in_colour(&addr, &args, &dir.join("h"), &[]);
    alice.expect_empty_coloured_prompt("menu> ");
    let mut bob = Peer::join(server.addr(), "bob");
    bob.send("/chat alice");
    alice.expect("wants to chat");
    bob.send("/cancel");
    alice.expect("withdrew their chat request");
    alice.send("/join den\r");
    alice.expect("you joined");
    bob.send("/join den");
    bob.expect("OK join den 2");
    bob.send("hi @Alice!");
    alice.expect(&format!("hi @{HIGHLIGHTED_ALICE}!"));
    alice.expect_empty_coloured_prompt("#den> ");
    assert!(!rang(alice.since(0)), "--no-bell rang");
    alice.control(ControlCode::EndOfTransmission);
    assert_eq!(alice.exit_code(), 0);
}
