//! Scripted multi-user transcripts through the hub's entry points: no
//! sockets, no threads. Each step returns every line produced, as
//! `<recipient> <LINE>`, replies first, then events in order. Version 1's
//! rules are here; `accounts.rs` and `manners.rs` hold version 2's.

mod accounts;
mod manners;

use super::*;
use common::{EndReason, Name, PartReason, Secret, parse_input};

struct Script {
    hub: Hub<ConnId>,
    /// Milliseconds since the script started; each line advances it by 1.
    clock_ms: u64,
}

/// Where the scripted clock starts, in Unix milliseconds.
const EPOCH_MS: u64 = 1_764_000_000_000;

impl Script {
    fn new() -> Script {
        Script::with(Settings::default(), Memory::default())
    }

    fn with(settings: Settings, memory: Memory) -> Script {
        Script {
            hub: Hub::new(settings, memory, Now { unix_ms: EPOCH_MS }),
            clock_ms: 0,
        }
    }

    fn now(&mut self) -> Now {
        self.clock_ms += 1;
        Now {
            unix_ms: EPOCH_MS + self.clock_ms,
        }
    }

    /// Lets `ms` milliseconds pass on the scripted clock.
    fn wait_ms(&mut self, ms: u64) {
        self.clock_ms += ms;
    }

    /// Connects `id` and names it `name` (asserting the welcome).
    fn user(&mut self, id: ConnId, name: &str) {
        self.hub.connect(id, id);
        let lines = self.send(id, name);
        assert_eq!(lines[0], format!("me WELCOME {name}"), "{lines:#?}");
    }

    fn send(&mut self, id: ConnId, line: &str) -> Vec<String> {
        let mut out = Outcome::default();
        let now = self.now();
        let input = parse_input(line);
        let typed = typed(&input);
        self.hub.handle(id, input, now, &mut out);
        self.finish(id, out, &typed)
    }

    /// Sends a password line, as the connection does after `PASSWORD`.
    fn password(&mut self, id: ConnId, password: &str) -> Vec<String> {
        let mut out = Outcome::default();
        let now = self.now();
        self.hub.password(id, now, &mut out);
        let typed = [password.to_owned()];
        self.finish(id, out, &typed)
            .into_iter()
            .map(strip_prose)
            .collect()
    }

    /// Runs password work as the connection would, with what was typed and
    /// a stand-in for Argon2 (the hub never reads a hash: `plain:` + the
    /// password is as good as a real one here), then renders everything.
    fn finish(&mut self, id: ConnId, mut out: Outcome<ConnId>, typed: &[String]) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(task) = out.task.take() {
            lines.extend(render(std::mem::take(&mut out)));
            let (first, last) = (typed.first(), typed.last());
            let checked = match (&task.check, first) {
                (Some(hash), Some(password)) => **hash == *format!("plain:{password}"),
                (Some(_), None) => false,
                (None, _) => true,
            };
            let hash = last
                .filter(|_| checked && task.hash_new)
                .map(|password| Arc::from(format!("plain:{password}")));
            let done = Done {
                purpose: task.purpose,
                checked,
                hash,
            };
            let now = self.now();
            self.hub.task_done(id, done, now, &mut out);
        }
        lines.extend(render(out));
        lines
    }

    fn drop_conn(&mut self, id: ConnId) -> Vec<String> {
        let mut out = Outcome::default();
        self.hub.disconnect(id, &mut out);
        render(out)
    }

    /// Sends and returns only the lines that are not INFO prose.
    fn check(&mut self, id: ConnId, line: &str, expected: &[&str]) {
        let lines: Vec<String> = self
            .send(id, line)
            .into_iter()
            .filter(|l| !l.contains(" INFO"))
            .collect();
        let lines: Vec<String> = lines.into_iter().map(strip_prose).collect();
        assert_eq!(lines, expected, "after {id} sent {line:?}");
    }
}

/// The passwords a command line carries, as the connection keeps them.
fn typed(input: &Input) -> Vec<String> {
    let text = |secret: &Secret| String::from_utf8_lossy(secret.expose()).into_owned();
    match input {
        Input::Command(Ok(Command::Register(password) | Command::Unregister(password))) => {
            vec![text(password)]
        }
        Input::Command(Ok(Command::Password { old, new })) => vec![text(old), text(new)],
        _ => Vec::new(),
    }
}

/// Cuts the human prose off ERR, BYE and PASSWORD lines, which tests must
/// not pin, and the time off HISTORY lines (`history_keeps_the_time_said`
/// checks it).
fn strip_prose(line: String) -> String {
    let words: Vec<&str> = line.splitn(5, ' ').collect();
    match words.as_slice() {
        [id, "ERR", code, ..] | [id, "BYE", code, ..] | [id, "PASSWORD", code, ..] => {
            format!("{id} {} {code}", words[1])
        }
        [id, "HISTORY", room, _time, rest] => format!("{id} HISTORY {room} <t> {rest}"),
        _ => line,
    }
}

fn render(out: Outcome<ConnId>) -> Vec<String> {
    let mut lines = Vec::new();
    let reply_to = "me";
    if out.offer_echo {
        lines.push("me <will echo>".to_owned());
    }
    for line in &out.reply {
        lines.push(format!("{reply_to} {line}"));
    }
    for (targets, line) in &out.events {
        match targets {
            Targets::One(id) => lines.push(format!("{id} {line}")),
            Targets::Many(ids) => {
                for id in ids {
                    lines.push(format!("{id} {line}"));
                }
            }
        }
    }
    for closed in &out.closed {
        lines.push(format!("{closed} <closed>"));
    }
    if out.close {
        lines.push("me <close>".to_owned());
    }
    lines
}

#[test]
fn naming_rejects_taken_and_invalid_names_and_allows_retry() {
    let mut s = Script::new();
    s.user(1, "Alice");
    s.hub.connect(2, 2);
    s.check(2, "alice", &["me ERR name-taken"]);
    s.check(2, "ALICE", &["me ERR name-taken"]);
    s.check(2, "-", &["me ERR name-invalid"]);
    s.check(2, " bob", &["me ERR name-invalid"]);
    s.check(2, "/list", &["me ERR name-invalid"]);
    s.check(2, "/list extra", &["me ERR name-invalid"]);
    s.check(2, "//bob", &["me ERR name-invalid"]);
    s.check(2, "/nope", &["me ERR name-invalid"]);
    s.check(2, "/help me", &["me ERR usage"]);
    s.check(2, "/help", &["me OK help"]);
    s.check(2, "", &[]);
    s.check(2, "3", &["me WELCOME 3"]);
    assert_eq!(s.hub.n_users(), 2);
}

#[test]
fn exit_works_while_naming_and_after() {
    let mut s = Script::new();
    s.hub.connect(1, 1);
    s.check(1, "/quit now", &["me BYE exit", "me <close>"]);
    s.user(2, "bob");
    s.check(2, "3", &["me BYE exit", "me <close>"]);
}

#[test]
fn the_lab_session() {
    let mut s = Script::new();
    s.user(1, "A");
    s.user(2, "B");
    s.check(2, "2 A", &["me OK chat A", "1 REQUEST B"]);
    s.check(1, "yes", &["me CHAT B", "me OK accept B", "2 CHAT A"]);
    s.check(2, "hello A", &["1 MSG B hello A"]);
    s.check(1, "hi B", &["2 MSG A hi B"]);
    s.user(3, "C");
    s.user(4, "D");
    s.user(5, "E");
    s.check(
        3,
        "1",
        &[
            "me USER A chatting B",
            "me USER B chatting A",
            "me USER C available -",
            "me USER D available -",
            "me USER E available -",
            "me OK list 5",
        ],
    );
    s.check(3, "/chat E", &["me OK chat E", "5 REQUEST C"]);
    s.check(5, "no", &["me OK decline C", "3 DECLINED E declined"]);
    s.check(3, "2 d", &["me OK chat D", "4 REQUEST C"]);
    s.check(4, "Y", &["me CHAT C", "me OK accept C", "3 CHAT D"]);
    s.check(3, "1", &["4 MSG C 1"]);
    s.check(4, "yes indeed", &["3 MSG D yes indeed"]);
    s.check(
        5,
        "/LIST",
        &[
            "me USER A chatting B",
            "me USER B chatting A",
            "me USER C chatting D",
            "me USER D chatting C",
            "me USER E available -",
            "me OK list 5",
        ],
    );
    s.check(1, "/leave", &["me OK leave chat B", "2 ENDED A left"]);
    s.check(3, "/leave", &["me OK leave chat D", "4 ENDED C left"]);
    s.check(5, "3", &["me BYE exit", "me <close>"]);
    assert_eq!(s.drop_conn(5), Vec::<String>::new());
    assert_eq!(s.hub.n_users(), 4);
}

#[test]
fn mutual_requests_start_the_chat_at_once() {
    let mut s = Script::new();
    s.user(1, "a");
    s.user(2, "b");
    s.check(1, "/chat b", &["me OK chat b", "2 REQUEST a"]);
    s.check(2, "/chat A", &["me CHAT a", "me OK chat a", "1 CHAT b"]);
    s.check(
        1,
        "/list",
        &[
            "me USER a chatting b",
            "me USER b chatting a",
            "me OK list 2",
        ],
    );
}

#[test]
fn a_new_request_replaces_the_old_one() {
    let mut s = Script::new();
    s.user(1, "a");
    s.user(2, "b");
    s.user(3, "c");
    s.check(1, "/chat b", &["me OK chat b", "2 REQUEST a"]);
    s.check(1, "/chat b", &["me OK chat b", "2 REQUEST a"]);
    s.check(
        1,
        "/chat c",
        &["me OK chat c", "2 CANCELLED a cancelled", "3 REQUEST a"],
    );
    s.check(2, "/accept", &["me ERR no-request"]);
    s.check(2, "/accept a", &["me ERR no-request"]);
    s.check(1, "/cancel", &["me OK cancel c", "3 CANCELLED a cancelled"]);
    s.check(1, "/cancel", &["me ERR no-request"]);
    s.check(3, "/decline", &["me ERR no-request"]);
}

#[test]
fn accept_and_decline_pick_the_only_request_or_need_a_name() {
    let mut s = Script::new();
    s.user(1, "a");
    s.user(2, "b");
    s.user(3, "c");
    s.check(2, "/chat a", &["me OK chat a", "1 REQUEST b"]);
    s.check(3, "/chat a", &["me OK chat a", "1 REQUEST c"]);
    s.check(1, "/accept", &["me ERR usage"]);
    s.check(1, "no", &["me ERR usage"]);
    s.check(1, "/accept zed", &["me ERR no-such-user"]);
    s.check(1, "/accept a", &["me ERR self"]);
    s.check(1, "n b", &["me OK decline b", "2 DECLINED a declined"]);
    s.check(1, "/accept", &["me CHAT c", "me OK accept c", "3 CHAT a"]);
}

#[test]
fn becoming_busy_resolves_every_other_request() {
    let mut s = Script::new();
    for (id, name) in [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")] {
        s.user(id, name);
    }
    // c and d ask a; a asks e; b asks a too; e asks b.
    s.check(3, "/chat a", &["me OK chat a", "1 REQUEST c"]);
    s.check(4, "/chat a", &["me OK chat a", "1 REQUEST d"]);
    s.check(1, "/chat e", &["me OK chat e", "5 REQUEST a"]);
    s.check(2, "/chat a", &["me OK chat a", "1 REQUEST b"]);
    s.check(5, "/chat b", &["me OK chat b", "2 REQUEST e"]);
    // a accepts b: c and d are declined (busy), e's request from a is
    // cancelled (busy), and b's request to... b had no other outgoing; e's
    // request to b is declined (busy).
    s.check(
        1,
        "/accept b",
        &[
            "me CHAT b",
            "me OK accept b",
            "3 DECLINED a busy",
            "4 DECLINED a busy",
            "5 CANCELLED a busy",
            "5 DECLINED b busy",
            "2 CHAT a",
        ],
    );
    s.check(3, "/chat a", &["me ERR busy"]);
    s.check(5, "/cancel", &["me ERR no-request"]);
    s.check(3, "/cancel", &["me ERR no-request"]);
}

#[test]
fn state_rules_for_busy_users() {
    let mut s = Script::new();
    s.user(1, "a");
    s.user(2, "b");
    s.user(3, "c");
    s.check(1, "/leave", &["me ERR not-in-chat"]);
    s.check(1, "hello?", &["me ERR not-in-chat"]);
    s.check(1, "/chat a", &["me ERR self"]);
    s.check(1, "/chat no_one", &["me ERR no-such-user"]);
    s.check(1, "/chat bad!name", &["me ERR no-such-user"]);
    s.check(1, "/chat b", &["me OK chat b", "2 REQUEST a"]);
    s.check(2, "y", &["me CHAT a", "me OK accept a", "1 CHAT b"]);
    for line in ["/chat c", "/accept", "/accept c", "/join r"] {
        s.check(1, line, &["me ERR not-available"]);
    }
    for line in ["/decline", "/decline c", "/cancel"] {
        s.check(1, line, &["me ERR no-request"]);
    }
    s.check(3, "/chat a", &["me ERR busy"]);
    // Aliases are messages in a chat; // escapes a slash.
    s.check(1, "yes", &["2 MSG a yes"]);
    s.check(1, "3", &["2 MSG a 3"]);
    s.check(1, "//help", &["2 MSG a /help"]);
    s.check(1, "", &[]);
    s.check(1, "/ping", &["me OK ping -"]);
    s.check(1, "/ping t1", &["me OK ping t1"]);
    s.check(1, "/bogus", &["me ERR unknown-command"]);
    s.check(1, "/list x", &["me ERR usage"]);
}

#[test]
fn disconnect_tells_everyone_involved_and_frees_the_name() {
    let mut s = Script::new();
    for (id, name) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        s.user(id, name);
    }
    s.check(3, "/chat a", &["me OK chat a", "1 REQUEST c"]);
    s.check(1, "/chat d", &["me OK chat d", "4 REQUEST a"]);
    assert_eq!(
        s.drop_conn(1),
        ["3 DECLINED a disconnected", "4 CANCELLED a disconnected"]
    );
    s.check(3, "/chat b", &["me OK chat b", "2 REQUEST c"]);
    s.check(2, "yes", &["me CHAT c", "me OK accept c", "3 CHAT b"]);
    assert_eq!(s.drop_conn(2), ["3 ENDED b disconnected"]);
    s.check(
        3,
        "/list",
        &[
            "me USER c available -",
            "me USER d available -",
            "me OK list 2",
        ],
    );
    s.user(5, "A");
    s.user(6, "B");
    assert_eq!(s.drop_conn(99), Vec::<String>::new());
}

#[test]
fn rooms_join_talk_leave_and_vanish_when_empty() {
    let mut s = Script::new();
    for (id, name) in [(1, "a"), (2, "b"), (3, "c")] {
        s.user(id, name);
    }
    s.check(1, "/join Lobby", &["me OK join Lobby 1"]);
    s.check(
        2,
        "/join lobby",
        &["me OK join Lobby 2", "1 JOINED Lobby b"],
    );
    s.check(1, "hi all", &["2 ROOM Lobby a hi all"]);
    s.check(3, "/rooms", &["me ROOMINFO Lobby 2", "me OK rooms 1"]);
    s.check(3, "/join", &["me ERR usage"]);
    s.check(3, "/join -x", &["me ERR name-invalid"]);
    s.check(3, "/chat a", &["me ERR busy"]);
    s.check(
        3,
        "/join LOBBY",
        &[
            "me HISTORY Lobby <t> msg a hi all",
            "me OK join Lobby 3",
            "1 JOINED Lobby c",
            "2 JOINED Lobby c",
        ],
    );
    s.check(
        3,
        "/list",
        &[
            "me USER a room Lobby",
            "me USER b room Lobby",
            "me USER c room Lobby",
            "me OK list 3",
        ],
    );
    s.check(2, "1", &["1 ROOM Lobby b 1", "3 ROOM Lobby b 1"]);
    s.check(2, "/join other", &["me ERR not-available"]);
    s.check(
        2,
        "/leave",
        &[
            "me OK leave room Lobby",
            "1 PARTED Lobby b left",
            "3 PARTED Lobby b left",
        ],
    );
    assert_eq!(s.drop_conn(3), ["1 PARTED Lobby c disconnected"]);
    s.check(1, "alone", &[]);
    s.check(1, "/leave", &["me OK leave room Lobby"]);
    s.check(1, "/rooms", &["me OK rooms 0"]);
    // The room is gone, its history is not; the new room keeps the new
    // spelling.
    s.check(
        2,
        "/join lobby",
        &[
            "me HISTORY lobby <t> msg a hi all",
            "me HISTORY lobby <t> msg b 1",
            "me HISTORY lobby <t> msg a alone",
            "me OK join lobby 1",
        ],
    );
}

#[test]
fn joining_a_room_resolves_requests() {
    let mut s = Script::new();
    s.user(1, "a");
    s.user(2, "b");
    s.user(3, "c");
    s.check(2, "/chat a", &["me OK chat a", "1 REQUEST b"]);
    s.check(1, "/chat c", &["me OK chat c", "3 REQUEST a"]);
    s.check(
        1,
        "/join r",
        &["me OK join r 1", "2 DECLINED a busy", "3 CANCELLED a busy"],
    );
}

#[test]
fn lines_from_unknown_connections_are_ignored() {
    let mut s = Script::new();
    assert_eq!(s.send(42, "/list"), Vec::<String>::new());
    assert_eq!(s.hub.n_rooms(), 0);
}

mod properties {
    //! Random sequences of events across a few users; after every step the
    //! hub's invariants must hold.
    use super::*;
    use proptest::prelude::*;

    const LINES: &[&str] = &[
        "u0",
        "u1",
        "u2",
        "U3",
        "/chat u0",
        "/chat u1",
        "/chat u2",
        "/chat u3",
        "yes",
        "no",
        "/accept u1",
        "/decline u0",
        "/cancel",
        "/leave",
        "/join r",
        "/join R2",
        "hello",
        "/list",
        "/rooms",
        "3",
        "1",
        "2 u2",
        "/me waves",
        "/away lunch",
        "/back",
        "/ignore u1",
        "/ignore u0",
        "/unignore u1",
        "/topic hi",
        "/kick u1",
        "/kick u2",
        "/ban u0",
        "/ban U3",
        "/register passphrase",
        "/unregister passphrase",
    ];

    /// Renders an outcome as `to: line` strings, for comparing two hubs.
    fn lines(out: &Outcome<ConnId>) -> Vec<String> {
        super::render(Outcome {
            reply: out.reply.clone(),
            events: out
                .events
                .iter()
                .map(|(targets, line)| {
                    let targets = match targets {
                        Targets::One(id) => Targets::One(*id),
                        Targets::Many(ids) => Targets::Many(ids.clone()),
                    };
                    (targets, line.clone())
                })
                .collect(),
            closed: out.closed.clone(),
            remember: out.remember.clone(),
            task: out.task.clone(),
            offer_echo: out.offer_echo,
            happened: out.happened.clone(),
            close: out.close,
        })
    }

    proptest! {
        #[test]
        fn invariants_hold_after_every_step(
            steps in proptest::collection::vec((0u64..5, 0usize..LINES.len() + 2), 1..120)
        ) {
            let mut hub: Hub<ConnId> = Hub::default();
            let mut live = std::collections::BTreeSet::new();
            let now = Now::read();
            for (id, action) in steps {
                let mut out = Outcome::default();
                if !live.contains(&id) {
                    hub.connect(id, id);
                    live.insert(id);
                }
                if action >= LINES.len() {
                    hub.disconnect(id, &mut out);
                    live.remove(&id);
                } else {
                    hub.handle(id, parse_input(LINES[action]), now, &mut out);
                    if out.close {
                        hub.disconnect(id, &mut out);
                        live.remove(&id);
                    }
                }
                for (targets, _) in &out.events {
                    let ids = match targets {
                        Targets::One(id) => vec![*id],
                        Targets::Many(ids) => ids.clone(),
                    };
                    for target in ids {
                        prop_assert!(live.contains(&target), "event to departed {target}");
                    }
                }
                hub.check_invariants();
            }
        }

        #[test]
        fn a_restored_snapshot_behaves_as_the_hub_it_copies(
            before in proptest::collection::vec((0u64..5, 0usize..LINES.len() + 2), 1..80),
            after in proptest::collection::vec((0u64..5, 0usize..LINES.len() + 2), 1..80),
        ) {
            let now = Now { unix_ms: 1_000_000 };
            let mut hub: Hub<ConnId> = Hub::default();
            let mut live = std::collections::BTreeSet::new();
            let step = |hub: &mut Hub<ConnId>, live: &mut std::collections::BTreeSet<ConnId>, id: ConnId, action: usize| {
                let mut out = Outcome::default();
                if live.insert(id) {
                    hub.connect(id, id);
                }
                let call = if action >= LINES.len() {
                    live.remove(&id);
                    Call::Disconnect
                } else {
                    Call::Input(parse_input(LINES[action]))
                };
                hub.apply(id, call, now, &mut out);
                // Password work, done the same way for both hubs.
                while let Some(task) = out.task.take() {
                    let done = Done {
                        purpose: task.purpose,
                        checked: true,
                        hash: task.hash_new.then(|| Arc::from("stand-in")),
                    };
                    hub.apply(id, Call::TaskDone(done), now, &mut out);
                }
                if out.close {
                    hub.disconnect(id, &mut out);
                    live.remove(&id);
                }
                lines(&out)
            };
            for &(id, action) in &before {
                step(&mut hub, &mut live, id, action);
            }
            let snapshot = hub.snapshot();
            let json = serde_json::to_string(&snapshot).unwrap();
            let copied: Snapshot = serde_json::from_str(&json).unwrap();
            let mut restored: Hub<ConnId> =
                Hub::restore(Settings::default(), copied, |id| id).unwrap();
            prop_assert_eq!(restored.snapshot(), snapshot);
            restored.check_invariants();
            let mut live_copy = live.clone();
            for &(id, action) in &after {
                let a = step(&mut hub, &mut live, id, action);
                let b = step(&mut restored, &mut live_copy, id, action);
                prop_assert_eq!(a, b);
            }
            prop_assert_eq!(restored.snapshot(), hub.snapshot());
        }
    }
}

#[test]
fn the_outcome_says_what_happened_for_the_log() {
    fn happened(hub: &mut Hub<ConnId>, id: ConnId, line: &str) -> Vec<Happening> {
        let mut out = Outcome::default();
        hub.handle(id, parse_input(line), Now::read(), &mut out);
        out.happened
    }
    let mut hub: Hub<ConnId> = Hub::default();
    hub.connect(1, 1);
    hub.connect(2, 2);
    let alice = Name::parse("Alice").unwrap();
    assert_eq!(happened(&mut hub, 1, "Alice"), [Happening::Named(alice)]);
    assert!(happened(&mut hub, 1, "/list").is_empty());
    happened(&mut hub, 2, "bob");
    happened(&mut hub, 2, "/chat alice");
    assert_eq!(
        happened(&mut hub, 1, "yes"),
        [Happening::ChatStarted("bob".into())]
    );
    assert_eq!(
        happened(&mut hub, 2, "/leave"),
        [Happening::ChatEnded("Alice".into(), EndReason::Left)]
    );
    assert_eq!(
        happened(&mut hub, 1, "/join Den"),
        [Happening::JoinedRoom("Den".into())]
    );
    let mut out = Outcome::default();
    hub.disconnect(1, &mut out);
    assert_eq!(
        out.happened,
        [Happening::LeftRoom("Den".into(), PartReason::Disconnected)]
    );
}
