//! The chat state machine under random sequences of connects, lines,
//! password lines and disconnects from a few users: its invariants hold
//! after every step (unique names, symmetric partners, consistent requests,
//! no ghost room members, history within bounds), no event goes to a
//! departed connection, and a freed name can be taken again. Password work
//! is done by a stand-in (a "hash" is the password with a prefix): the hub
//! never reads a hash, so only its state machine is under test here.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use std::sync::Arc;

use common::{ErrorCode, ServerLine, parse_input};
use libfuzzer_sys::fuzz_target;
use server::hub::{ConnId, Done, Hub, Now, Outcome, Targets};

const WORDS: &[&str] = &[
    "u0", "U0", "u1", "u2", "u3", "r", "R", "-", "", "x y", "/", "//", "1", "2", "3", "yes", "y",
    "no", "n", "/chat", "/accept", "/decline", "/cancel", "/leave", "/join", "/rooms", "/list",
    "/help", "/ping", "/exit", "/quit", "hello", "/register", "/password", "/unregister",
    "passphrase", "otherphrase", "/me", "/away", "/back", "/ignore", "/unignore", "/ignores",
    "/topic", "/kick", "/ban",
];

/// Runs password work the way the connection does, with what was typed
/// and a stand-in hash.
fn finish(hub: &mut Hub<ConnId>, id: ConnId, typed: &[&str], now: Now, out: &mut Outcome<ConnId>) {
    let stand_in = |password: &str| format!("stand-in:{password}");
    while let Some(task) = out.task.take() {
        let checked = match (&task.check, typed.first()) {
            (Some(hash), Some(password)) => **hash == *stand_in(password),
            (Some(_), None) => false,
            (None, _) => true,
        };
        let hash = typed
            .last()
            .filter(|_| checked && task.hash_new)
            .map(|password| Arc::from(stand_in(password)));
        let done = Done { purpose: task.purpose, checked, hash };
        hub.task_done(id, done, now, out);
    }
}

/// The passwords a line carries, first to check, last new.
fn typed(line: &str) -> Vec<&str> {
    let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
    match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("/register" | "/unregister") => words.get(1).copied().into_iter().collect(),
        Some("/password") => words.iter().skip(1).take(2).copied().collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug, Arbitrary)]
enum Step {
    Line { conn: u8, words: Vec<u8> },
    Raw { conn: u8, text: String },
    Password { conn: u8, word: u8 },
    Disconnect { conn: u8 },
}

fuzz_target!(|steps: Vec<Step>| {
    let mut hub: Hub<ConnId> = Hub::default();
    let now = Now::read();
    let mut live = BTreeSet::new();
    let mut next_id: ConnId = 0;
    // Slot i holds the connection id of "user slot" i, if connected.
    let mut slots: [Option<ConnId>; 5] = [None; 5];
    for step in steps.into_iter().take(200) {
        let mut out = Outcome::default();
        if let Step::Password { conn, word } = &step {
            let slot = usize::from(*conn) % 5;
            if let Some(id) = slots[slot] {
                let password = WORDS[usize::from(*word) % WORDS.len()];
                hub.password(id, now, &mut out);
                finish(&mut hub, id, &[password], now, &mut out);
                if out.close {
                    hub.disconnect(id, &mut out);
                    live.remove(&id);
                    slots[slot] = None;
                }
                check_events(&out, &mut live);
                hub.check_invariants();
            }
            continue;
        }
        let (slot, line) = match step {
            Step::Line { conn, words } => {
                let line: Vec<&str> =
                    words.iter().take(3).map(|&w| WORDS[usize::from(w) % WORDS.len()]).collect();
                (usize::from(conn) % 5, Some(line.join(" ")))
            }
            Step::Raw { conn, text } => (usize::from(conn) % 5, Some(text)),
            Step::Disconnect { conn } => (usize::from(conn) % 5, None),
            Step::Password { .. } => continue,
        };
        let id = *slots[slot].get_or_insert_with(|| {
            next_id += 1;
            hub.connect(next_id, next_id);
            live.insert(next_id);
            next_id
        });
        match line {
            Some(line) if !line.is_empty() => {
                hub.handle(id, parse_input(&line), now, &mut out);
                finish(&mut hub, id, &typed(&line), now, &mut out);
                if out.close {
                    hub.disconnect(id, &mut out);
                    live.remove(&id);
                    slots[slot] = None;
                }
            }
            Some(_) => {}
            None => {
                let name = hub.name_of(id).cloned();
                hub.disconnect(id, &mut out);
                live.remove(&id);
                slots[slot] = None;
                if let Some(name) = name {
                    // The name is free at once.
                    let probe = next_id + 1000;
                    let mut probe_out = Outcome::default();
                    hub.connect(probe, probe);
                    hub.handle(probe, parse_input(name.as_str()), now, &mut probe_out);
                    // A registered name asks for its password instead.
                    assert!(
                        probe_out.reply.iter().any(|line| matches!(
                            line,
                            ServerLine::Welcome(_)
                                | ServerLine::Password(_)
                                | ServerLine::Err(ErrorCode::TryLater, _)
                        )),
                        "a freed name could not be taken again"
                    );
                    hub.disconnect(probe, &mut probe_out);
                }
            }
        }
        check_events(&out, &mut live);
        hub.check_invariants();
    }
});

/// No event goes to a connection that has left; a session replaced by a
/// sign-in elsewhere has left.
fn check_events(out: &Outcome<ConnId>, live: &mut BTreeSet<ConnId>) {
    for (targets, _) in &out.events {
        let ids: Vec<ConnId> = match targets {
            Targets::One(id) => vec![*id],
            Targets::Many(ids) => ids.clone(),
        };
        for target in ids {
            assert!(live.contains(&target), "event sent to a departed connection");
        }
    }
    for replaced in &out.closed {
        live.remove(replaced);
    }
}
