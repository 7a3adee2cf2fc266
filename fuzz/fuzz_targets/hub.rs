//! The chat state machine under random sequences of connects, lines and
//! disconnects from a few users: its invariants hold after every step
//! (unique names, symmetric partners, consistent requests, no ghost room
//! members), no event goes to a departed connection, and a freed name can be
//! taken again.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use common::parse_input;
use libfuzzer_sys::fuzz_target;
use server::hub::{ConnId, Hub, Outcome, Targets};

const WORDS: &[&str] = &[
    "u0", "U0", "u1", "u2", "u3", "r", "R", "-", "", "x y", "/", "//", "1", "2", "3", "yes", "y",
    "no", "n", "/chat", "/accept", "/decline", "/cancel", "/leave", "/join", "/rooms", "/list",
    "/help", "/ping", "/exit", "/quit", "hello",
];

#[derive(Debug, Arbitrary)]
enum Step {
    Line { conn: u8, words: Vec<u8> },
    Raw { conn: u8, text: String },
    Disconnect { conn: u8 },
}

fuzz_target!(|steps: Vec<Step>| {
    let mut hub: Hub<ConnId> = Hub::default();
    let mut live = BTreeSet::new();
    let mut next_id: ConnId = 0;
    // Slot i holds the connection id of "user slot" i, if connected.
    let mut slots: [Option<ConnId>; 5] = [None; 5];
    for step in steps.into_iter().take(200) {
        let mut out = Outcome::default();
        let (slot, line) = match step {
            Step::Line { conn, words } => {
                let line: Vec<&str> =
                    words.iter().take(3).map(|&w| WORDS[usize::from(w) % WORDS.len()]).collect();
                (usize::from(conn) % 5, Some(line.join(" ")))
            }
            Step::Raw { conn, text } => (usize::from(conn) % 5, Some(text)),
            Step::Disconnect { conn } => (usize::from(conn) % 5, None),
        };
        let id = *slots[slot].get_or_insert_with(|| {
            next_id += 1;
            hub.connect(next_id, next_id);
            live.insert(next_id);
            next_id
        });
        match line {
            Some(line) if !line.is_empty() => {
                hub.handle(id, parse_input(&line), &mut out);
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
                    hub.handle(probe, parse_input(name.as_str()), &mut probe_out);
                    assert!(
                        probe_out.reply.first().is_some_and(|l| l.tag() == common::Tag::Welcome),
                        "a freed name could not be taken again"
                    );
                    hub.disconnect(probe, &mut probe_out);
                }
            }
        }
        for (targets, _) in &out.events {
            let ids: Vec<ConnId> = match targets {
                Targets::One(id) => vec![*id],
                Targets::Many(ids) => ids.clone(),
            };
            for target in ids {
                assert!(live.contains(&target), "event sent to a departed connection");
            }
        }
        hub.check_invariants();
    }
});
