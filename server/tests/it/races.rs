//! Races between users, each looped behind a `Barrier` so both lines reach
//! the server together: mutual requests, name registration, a message
//! against `/leave` or `/quit`, and `/accept` against the requester's close
//! or reset.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::thread;

use crate::harness::{Client, Control, Server, assert_name_free, list};

const ROUNDS: usize = 50;

/// Sends `/chat other` and returns every line up to a `/ping` barrier sent
/// after the reply (so a `CHAT` that follows the `OK` is included).
fn request(client: &mut Client, other: &str, barrier: &Barrier) -> Vec<String> {
    barrier.wait();
    client.send(&format!("/chat {other}"));
    client.lines_until(&format!("OK chat {other}"))
}

#[test]
fn simultaneous_mutual_requests_start_exactly_one_chat() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    for _ in 0..ROUNDS {
        let (lines_a, lines_b) = thread::scope(|s| {
            let ta = s.spawn(|| request(&mut a, "bob", &barrier));
            let tb = s.spawn(|| request(&mut b, "alice", &barrier));
            (
                ta.join().expect("alice thread"),
                tb.join().expect("bob thread"),
            )
        });
        // Whoever was second got CHAT before its OK; the first gets CHAT
        // after its OK, so collect up to a barrier.
        let mut all_a = lines_a;
        all_a.extend(a.sync());
        let mut all_b = lines_b;
        all_b.extend(b.sync());
        for (client, lines, partner) in [(&a, &all_a, "bob"), (&b, &all_b, "alice")] {
            let chats = lines.iter().filter(|l| l.starts_with("CHAT ")).count();
            let want = format!("CHAT {partner}");
            if chats != 1 || !lines.contains(&want) {
                client.fail(&format!("expected exactly one {want:?}, got {lines:?}"));
            }
            let unexpected: Vec<_> = lines
                .iter()
                .filter(|l| {
                    !l.starts_with("CHAT ")
                        && !l.starts_with("OK chat ")
                        && !l.starts_with("REQUEST ")
                })
                .collect();
            if !unexpected.is_empty() {
                client.fail(&format!("unexpected lines {unexpected:?}"));
            }
        }
        a.send("/list");
        a.expect_all(&[
            "USER alice chatting bob",
            "USER bob chatting alice",
            "OK list 2",
        ]);
        a.send("/leave");
        a.expect("OK leave chat bob");
        b.expect("ENDED alice left");
        a.quiet();
        b.quiet();
    }
}

#[test]
fn simultaneous_registration_of_one_name_welcomes_exactly_one() {
    let server = Server::start();
    for round in 0..ROUNDS {
        race_for_one_name(round, server.connect("first"), server.connect("second"));
    }
}

/// Two connections (that read `HELLO`) send one name, spelled in two
/// cases, at the same moment: exactly one is welcomed, the other gets
/// `ERR name-taken`; both then exit.
pub(crate) fn race_for_one_name(round: usize, mut first: Client, mut second: Client) {
    let barrier = Barrier::new(2);
    let name = format!("Same{round}");
    let spellings = [name.clone(), name.to_lowercase()];
    let lines: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = [(&mut first, &spellings[0]), (&mut second, &spellings[1])]
            .into_iter()
            .map(|(client, spelling)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    client.send(spelling);
                    client.next_key()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("registration thread"))
            .collect()
    });
    let results: Vec<(String, Client)> = lines.into_iter().zip([first, second]).collect();
    let welcomed = results
        .iter()
        .filter(|(l, _)| l.starts_with("WELCOME "))
        .count();
    let taken = results
        .iter()
        .filter(|(l, _)| l == "ERR name-taken")
        .count();
    if welcomed != 1 || taken != 1 {
        results[0].1.fail(&format!(
            "round {round}: expected one WELCOME and one ERR name-taken, got {:?}",
            results.iter().map(|(l, _)| l).collect::<Vec<_>>()
        ));
    }
    for (line, mut client) in results {
        if line.starts_with("WELCOME ") {
            client.skip_info();
        }
        client.send("/exit");
        client.expect_bye_and_close("exit");
    }
}

#[test]
fn a_message_racing_with_leave_is_delivered_before_ended_or_refused() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let barrier = Barrier::new(2);
    for round in 0..ROUNDS {
        let text = format!("racing {round}");
        let (lines_a, lines_b) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send(&text);
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/leave");
                b.lines_until("OK leave chat alice")
            });
            (
                ta.join().expect("alice thread"),
                tb.join().expect("bob thread"),
            )
        });
        // bob's /leave is done: a barrier now collects whatever alice
        // still has coming.
        let mut lines_a = lines_a;
        lines_a.extend(a.sync());
        let msg = format!("MSG alice {text}");
        let delivered = lines_b == [msg.clone(), "OK leave chat alice".to_owned()];
        let refused = lines_b == ["OK leave chat alice"];
        if delivered {
            if lines_a != ["ENDED bob left"] {
                a.fail(&format!(
                    "message delivered, expected only ENDED, got {lines_a:?}"
                ));
            }
        } else if refused {
            if lines_a != ["ENDED bob left", "ERR not-in-chat"] {
                a.fail(&format!(
                    "message not delivered, expected ENDED then ERR not-in-chat, got {lines_a:?}"
                ));
            }
        } else {
            b.fail(&format!("unexpected lines {lines_b:?}"));
        }
        b.quiet();
        // Start the chat again for the next round.
        b.send("/chat alice");
        b.expect("OK chat alice");
        a.expect("REQUEST bob");
        a.send("/accept");
        a.expect_all(&["CHAT bob", "OK accept bob"]);
        b.expect("CHAT alice");
    }
}

/// How the requester goes away while its request is being accepted.
#[derive(Clone, Copy, Debug)]
enum Departure {
    /// The socket is closed the ordinary way: a FIN.
    Close,
    /// The socket is closed with SO_LINGER 0: a reset.
    Reset,
}

/// `/accept` racing the requester's departure, for 100 rounds: either the
/// chat starts and ends at once (`CHAT`, `OK accept`, `ENDED …
/// disconnected`) or the request is cancelled first (`CANCELLED …
/// disconnected`, `ERR no-such-user`). Either way nothing is left: bob is
/// available, the requester is off the list and its name is free.
fn accept_racing_the_requesters_departure_leaves_no_ghost_chat(departure: Departure) {
    const DEPARTURE_ROUNDS: usize = 100;
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    let mut outcomes = BTreeMap::new();
    for round in 0..DEPARTURE_ROUNDS {
        let name = match departure {
            Departure::Close => format!("ghost{round}"),
            Departure::Reset => format!("rst{round}"),
        };
        let mut a = server.login(&name);
        a.send("/chat bob");
        a.expect("OK chat bob");
        b.expect(&format!("REQUEST {name}"));
        let lines = thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                match departure {
                    Departure::Close => drop(a),
                    Departure::Reset => a.reset(),
                }
            });
            barrier.wait();
            b.send(&format!("/accept {name}"));
            let mut lines = Vec::new();
            loop {
                let line = b.next_key();
                let last = line.starts_with("OK ") || line.starts_with("ERR ");
                lines.push(line);
                if last {
                    break;
                }
            }
            if lines.last().is_some_and(|l| l.starts_with("OK ")) {
                // The chat started: its end must follow.
                lines.push(b.next_key());
            }
            lines
        });
        let accepted = [
            format!("CHAT {name}"),
            format!("OK accept {name}"),
            format!("ENDED {name} disconnected"),
        ];
        let refused = [
            format!("CANCELLED {name} disconnected"),
            "ERR no-such-user".to_owned(),
        ];
        let kind = if lines == accepted {
            "accepted"
        } else if lines == refused {
            "refused"
        } else {
            b.fail(&format!(
                "round {round}: expected {accepted:?} or {refused:?}, got {lines:?}"
            ));
        };
        *outcomes.entry(kind).or_insert(0) += 1;
        b.quiet();
        let users = list(&mut b);
        let alone = [
            "USER bob available -",
            "USER ctl_a chatting ctl_b",
            "USER ctl_b chatting ctl_a",
            "USER ctl_idle available -",
        ];
        if users != alone {
            b.fail(&format!(
                "round {round}: /list {users:?}, expected {alone:?}"
            ));
        }
        assert_name_free(&server, &name);
    }
    eprintln!("accept vs {departure:?} outcomes: {outcomes:?}");
    ctl.check(&["bob"]);
}

#[test]
fn accept_racing_the_requesters_close_leaves_no_ghost_chat() {
    accept_racing_the_requesters_departure_leaves_no_ghost_chat(Departure::Close);
}

#[test]
fn accept_racing_the_requesters_reset_leaves_no_ghost_chat() {
    accept_racing_the_requesters_departure_leaves_no_ghost_chat(Departure::Reset);
}

#[test]
fn simultaneous_joins_of_a_new_room_make_one_room() {
    let server = Server::start();
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    for round in 0..ROUNDS {
        let (line_a, line_b) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send(&format!("/join Room{round}"));
                a.next_key()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send(&format!("/join ROOM{round}"));
                b.next_key()
            });
            (
                ta.join().expect("alice thread"),
                tb.join().expect("bob thread"),
            )
        });
        // Whoever came first created the room and chose its spelling.
        let alice_first = line_a.ends_with(" 1");
        let room = if alice_first {
            format!("Room{round}")
        } else {
            format!("ROOM{round}")
        };
        let (one, two) = (format!("OK join {room} 1"), format!("OK join {room} 2"));
        let want = if alice_first {
            (&one, &two)
        } else {
            (&two, &one)
        };
        if (&line_a, &line_b) != want {
            a.fail(&format!(
                "expected alice {:?} and bob {:?}, got {line_a:?} and {line_b:?}",
                want.0, want.1
            ));
        }
        let (first, second, second_name) = if alice_first {
            (&mut a, &mut b, "bob")
        } else {
            (&mut b, &mut a, "alice")
        };
        first.expect(&format!("JOINED {room} {second_name}"));
        second.send("/rooms");
        second.expect_all(&[&format!("ROOMINFO {room} 2"), "OK rooms 1"]);
        second.send("/leave");
        second.expect(&format!("OK leave room {room}"));
        first.expect(&format!("PARTED {room} {second_name} left"));
        first.send("/leave");
        first.expect(&format!("OK leave room {room}"));
        first.send("/rooms");
        first.expect("OK rooms 0");
    }
}

/// A burst of messages racing the partner's `/quit`: each message is
/// either delivered before `BYE` or answered `ERR not-in-chat`, never lost
/// silently (found by the soak: the quitting user stayed a partner until
/// its thread cleaned up, while its queue already took nothing more).
#[test]
fn messages_racing_the_partners_exit_are_delivered_or_refused() {
    const MESSAGES: usize = 300;
    let server = Server::start_with(&["--flood-rate", "0"]);
    for round in 0..ROUNDS {
        let sender = format!("s{round}");
        let quitter = format!("q{round}");
        let (mut a, mut b) = server.pair(&sender, &quitter);
        let barrier = Barrier::new(2);
        let (refused, delivered) = thread::scope(|s| {
            let ta = s.spawn(|| {
                let burst: String = (0..MESSAGES).map(|i| format!("m{i}\n")).collect();
                barrier.wait();
                a.send_raw(burst.as_bytes());
                a.send("/ping end");
                let mut refused = 0;
                loop {
                    let line = a.next_key();
                    match line.as_str() {
                        "OK ping end" => break,
                        "ERR not-in-chat" => refused += 1,
                        _ if line == format!("ENDED {quitter} disconnected") => {}
                        _ => a.fail(&format!("unexpected {line:?}")),
                    }
                }
                refused
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/quit");
                let mut delivered = Vec::new();
                while let Some(line) = b.try_line() {
                    if let Some(text) = line.strip_prefix(&format!("MSG {sender} ")) {
                        delivered.push(text.to_owned());
                    }
                }
                delivered
            });
            (
                ta.join().expect("sender thread"),
                tb.join().expect("quitter thread"),
            )
        });
        let in_order = delivered
            .iter()
            .enumerate()
            .all(|(i, text)| *text == format!("m{i}"));
        if !in_order || delivered.len() + refused != MESSAGES {
            server.fail(&format!(
                "round {round}: {} delivered (in order: {in_order}) + {refused} refused != {MESSAGES}",
                delivered.len()
            ));
        }
    }
}
