//! Races between users, each repeated for many rounds behind a `Barrier`:
//! mutual and crowded requests, accept against cancel, a room message or a
//! join against a leave, and requests against the target's reset. Accept
//! against the requester's close or reset is in `races.rs`.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::thread;

use crate::harness::{Client, Control, Server, assert_name_free, list};

const RACE_ROUNDS: usize = 100;

#[test]
fn a_mutual_request_racing_a_third_request_starts_one_chat_and_declines_the_third() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let mut c = server.login("carol");
    let barrier = Barrier::new(3);
    for round in 0..RACE_ROUNDS {
        let (la, lb, lc) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send("/chat bob");
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/chat alice");
                b.sync()
            });
            let tc = s.spawn(|| {
                barrier.wait();
                c.send("/chat alice");
                c.sync()
            });
            (
                ta.join().expect("alice"),
                tb.join().expect("bob"),
                tc.join().expect("carol"),
            )
        });
        // Each side: its reply, CHAT once, possibly a REQUEST first.
        let mut la = la;
        la.extend(a.sync());
        let mut lb = lb;
        lb.extend(b.sync());
        let mut lc = lc;
        lc.extend(c.sync());
        for (client, lines, partner) in [(&a, &la, "bob"), (&b, &lb, "alice")] {
            let chat = format!("CHAT {partner}");
            let chats = lines.iter().filter(|l| **l == chat).count();
            let stray = lines.iter().any(|l| {
                !(l.starts_with("CHAT ") || l.starts_with("OK chat ") || l.starts_with("REQUEST "))
            });
            if chats != 1 || stray || lines.iter().filter(|l| l.starts_with("CHAT")).count() != 1 {
                client.fail(&format!("round {round}: bad lines {lines:?}"));
            }
        }
        // carol either got in before the chat (then alice saw her request
        // and carol is declined busy) or after (ERR busy).
        let declined = lc == ["OK chat alice", "DECLINED alice busy"];
        let busy = lc == ["ERR busy"];
        if !declined && !busy {
            c.fail(&format!("round {round}: bad lines {lc:?}"));
        }
        if declined != la.contains(&"REQUEST carol".to_owned()) {
            a.fail(&format!(
                "round {round}: {la:?} disagrees with carol's {lc:?}"
            ));
        }
        let users = list(&mut c);
        if users
            != [
                "USER alice chatting bob",
                "USER bob chatting alice",
                "USER carol available -",
                "USER ctl_a chatting ctl_b",
                "USER ctl_b chatting ctl_a",
                "USER ctl_idle available -",
            ]
        {
            c.fail(&format!("round {round}: /list {users:?}"));
        }
        c.send("/cancel");
        c.expect("ERR no-request");
        a.send("/leave");
        a.expect("OK leave chat bob");
        b.expect("ENDED alice left");
    }
    ctl.check(&["alice", "bob", "carol"]);
}

#[test]
fn many_users_requesting_one_user_at_once_are_all_answered() {
    const N: usize = 8;
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut target = server.login("target");
    let mut askers: Vec<Client> = (0..N).map(|i| server.login(&format!("u{i}"))).collect();
    let barrier = Barrier::new(N);
    for round in 0..30 {
        thread::scope(|s| {
            for client in &mut askers {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    client.send("/chat target");
                    client.expect("OK chat target");
                });
            }
        });
        let mut requests: Vec<String> = (0..N).map(|_| target.next_key()).collect();
        requests.sort();
        let want: Vec<String> = (0..N).map(|i| format!("REQUEST u{i}")).collect();
        if requests != want {
            target.fail(&format!("round {round}: got {requests:?}"));
        }
        target.send("/accept");
        target.expect("ERR usage");
        let chosen = round % N;
        target.send(&format!("/accept u{chosen}"));
        target.expect_all(&[&format!("CHAT u{chosen}"), &format!("OK accept u{chosen}")]);
        for (i, client) in askers.iter_mut().enumerate() {
            if i == chosen {
                client.expect("CHAT target");
            } else {
                client.expect("DECLINED target busy");
                client.send("/cancel");
                client.expect("ERR no-request");
            }
        }
        target.send("/leave");
        target.expect(&format!("OK leave chat u{chosen}"));
        askers[chosen].expect("ENDED target left");
        target.quiet();
    }
    let mut names: Vec<String> = (0..N).map(|i| format!("u{i}")).collect();
    names.push("target".to_owned());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
}

#[test]
fn accept_racing_the_requesters_cancel_agrees_on_both_sides() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    for round in 0..RACE_ROUNDS {
        a.send("/chat bob");
        a.expect("OK chat bob");
        b.expect("REQUEST alice");
        let (la, lb) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send("/cancel");
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/accept alice");
                b.sync()
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        let (mut la, mut lb) = (la, lb);
        la.extend(a.sync());
        lb.extend(b.sync());
        // Either the cancel came first (bob is told and has nothing to
        // accept) or the accept did (the chat started; nothing to cancel).
        let cancelled =
            la == ["OK cancel bob"] && lb == ["CANCELLED alice cancelled", "ERR no-request"];
        let chatting =
            la == ["CHAT bob", "ERR no-request"] && lb == ["CHAT alice", "OK accept alice"];
        if !cancelled && !chatting {
            a.fail(&format!("round {round}: alice {la:?}, bob {lb:?}"));
        }
        if chatting {
            b.send("/leave");
            b.expect("OK leave chat alice");
            a.expect("ENDED bob left");
        }
        let users = list(&mut a);
        if !users.contains(&"USER alice available -".to_owned())
            || !users.contains(&"USER bob available -".to_owned())
        {
            a.fail(&format!("round {round}: /list {users:?}"));
        }
    }
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_room_message_racing_a_members_leave_arrives_before_ok_leave_or_not_at_all() {
    // The room is joined again every round; its history is not under test.
    let server = Server::start_with(&["--history", "0"]);
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    a.send("/join den");
    a.expect("OK join den 1");
    let barrier = Barrier::new(2);
    for round in 0..RACE_ROUNDS {
        b.send("/join den");
        b.expect("OK join den 2");
        a.expect("JOINED den bob");
        let text = format!("racing {round}");
        let (la, lb) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send(&text);
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send("/leave");
                b.lines_until("OK leave room den")
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        let (mut la, mut lb) = (la, lb);
        la.extend(a.sync());
        lb.extend(b.sync());
        let msg = format!("ROOM den alice {text}");
        let before = lb == [msg.clone(), "OK leave room den".to_owned()];
        let not_at_all = lb == ["OK leave room den"];
        if !(before || not_at_all) || la != ["PARTED den bob left"] {
            b.fail(&format!("round {round}: alice {la:?}, bob {lb:?}"));
        }
    }
    a.send("/rooms");
    a.expect_all(&["ROOMINFO den 1", "OK rooms 1"]);
    ctl.check(&["alice", "bob"]);
}

#[test]
fn a_join_racing_the_last_members_leave_leaves_one_consistent_room() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut a = server.login("alice");
    let mut b = server.login("bob");
    let barrier = Barrier::new(2);
    let mut outcomes = BTreeMap::new();
    for round in 0..RACE_ROUNDS {
        let room = format!("Den{round}");
        a.send(&format!("/join {room}"));
        a.expect(&format!("OK join {room} 1"));
        let (la, lb) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.send("/leave");
                a.sync()
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.send(&format!("/join {}", room.to_uppercase()));
                b.sync()
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        let (mut la, mut lb) = (la, lb);
        la.extend(a.sync());
        lb.extend(b.sync());
        let upper = room.to_uppercase();
        // bob joined alice's room (her spelling) and saw her part, and
        // became its operator as the member left; or created a new room
        // (his spelling) after it was deleted.
        let joined_first =
            la == [
                format!("JOINED {room} bob"),
                format!("OK leave room {room}"),
            ] && lb
                == [
                    format!("OK join {room} 2"),
                    format!("PARTED {room} alice left"),
                    format!("OP {room} bob"),
                ];
        let created_after =
            la == [format!("OK leave room {room}")] && lb == [format!("OK join {upper} 1")];
        let kind = if joined_first {
            "joined first"
        } else if created_after {
            "created after"
        } else {
            a.fail(&format!("round {round}: alice {la:?}, bob {lb:?}"));
        };
        *outcomes.entry(kind).or_insert(0) += 1;
        a.send("/rooms");
        let shown = if joined_first { &room } else { &upper };
        a.expect_all(&[&format!("ROOMINFO {shown} 1"), "OK rooms 1"]);
        b.send("/leave");
        b.expect(&format!("OK leave room {shown}"));
        b.send("/rooms");
        b.expect("OK rooms 0");
    }
    eprintln!("join vs leave outcomes: {outcomes:?}");
    ctl.check(&["alice", "bob"]);
}

#[test]
fn requests_racing_the_targets_reset_leave_no_ghost_request() {
    const N: usize = 5;
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut askers: Vec<Client> = (0..N).map(|i| server.login(&format!("u{i}"))).collect();
    // The target asks `watcher`, whose CANCELLED marks the departure.
    let mut watcher = server.login("watcher");
    let barrier = Barrier::new(N + 1);
    for round in 0..40 {
        let name = format!("t{round}");
        let mut target = server.login(&name);
        target.send("/chat watcher");
        target.expect("OK chat watcher");
        watcher.expect(&format!("REQUEST {name}"));
        let mut firsts: Vec<Vec<String>> = thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                target.reset();
            });
            let handles: Vec<_> = askers
                .iter_mut()
                .map(|client| {
                    let barrier = &barrier;
                    let name = &name;
                    s.spawn(move || {
                        barrier.wait();
                        client.send(&format!("/chat {name}"));
                        client.sync()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("asker"))
                .collect()
        });
        watcher.expect(&format!("CANCELLED {name} disconnected"));
        // The departure is done: whatever it caused has been queued.
        for (client, lines) in askers.iter_mut().zip(&mut firsts) {
            lines.extend(client.sync());
            let asked = [
                format!("OK chat {name}"),
                format!("DECLINED {name} disconnected"),
            ];
            if *lines != asked && *lines != ["ERR no-such-user"] {
                client.fail(&format!("round {round}: {lines:?}"));
            }
            client.send("/cancel");
            client.expect("ERR no-request");
        }
        watcher.send("/accept");
        watcher.expect("ERR no-request");
        assert_name_free(&server, &name);
    }
    let mut names: Vec<String> = (0..N).map(|i| format!("u{i}")).collect();
    names.push("watcher".to_owned());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
}
