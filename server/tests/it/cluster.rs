//! Cluster mode: several `chinwagd` nodes on one private `redis-server`.
//! These are the cases only a cluster has (a node killed or frozen, Redis
//! restarted or frozen, a node joining, the whole cluster restarting); the
//! rest of the suite runs against a two-node cluster in the parity run
//! (`CHINWAG_CLUSTER=1`, see `harness/server.rs`), where every other client
//! is on the other node, so its races (one name, mutual requests, accept
//! against a close) are races between nodes there.

use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{Client, Cluster, Redis, join_room, list};
use crate::races::race_for_one_name;

/// The protocol's bounds for a dead node: its users' disconnects reach the
/// others within 15 s, its names are free within 30 s.
const DISCONNECTS_WITHIN: Duration = Duration::from_secs(15);
const NAMES_FREE_WITHIN: Duration = Duration::from_secs(30);

/// Logs in `name` on `node` of `cluster`.
fn login(cluster: &Cluster, node: usize, name: &str) -> Client {
    cluster.node(node).login(name)
}

/// Starts a chat between `a` (who asks) and `b`.
fn chat(a: &mut Client, a_name: &str, b: &mut Client, b_name: &str) {
    a.send(&format!("/chat {b_name}"));
    a.expect(&format!("OK chat {b_name}"));
    b.expect(&format!("REQUEST {a_name}"));
    b.send(&format!("/accept {a_name}"));
    b.expect_all(&[&format!("CHAT {a_name}"), &format!("OK accept {a_name}")]);
    a.expect(&format!("CHAT {b_name}"));
}

/// Runs a node with `cluster` as its `--cluster` URL (and `extra` flags)
/// that must refuse to start; returns what it said.
fn refused_start(cluster: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_chinwagd"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--data",
            "none",
            "--cluster",
            cluster,
        ])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run chinwagd");
    assert!(!output.status.success(), "exited {}", output.status);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Logs `name` in on `node` once the cluster takes it again (after it
/// lost Redis or a node), asking again while it answers try-later or
/// name-taken, up to 30 s.
fn login_when_back(cluster: &Cluster, node: usize, name: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut client = cluster.node(node).connect(&format!("{name}-back"));
        client.send(name);
        match client.next_key().as_str() {
            answer if answer == format!("WELCOME {name}") => {
                client.skip_info();
                return client;
            }
            "ERR try-later" | "ERR name-taken" if Instant::now() < deadline => {
                // Nothing announces a rejoined node to a client: ask again.
                thread::sleep(Duration::from_millis(250));
            }
            other => client.fail(&format!("the cluster did not take {name} back: {other:?}")),
        }
    }
}

/// alice on node 0 and bob on node 1, chatting.
fn pair_across(cluster: &Cluster) -> (Client, Client) {
    let mut alice = login(cluster, 0, "alice");
    let mut bob = login(cluster, 1, "bob");
    chat(&mut alice, "alice", &mut bob, "bob");
    (alice, bob)
}

/// Tries to take `name` on `node` until it is free, up to `within`; the
/// name is released again. Fails the test past the bound.
fn wait_until_name_free(cluster: &Cluster, node: usize, name: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut client = cluster.node(node).connect(&format!("{name}-again"));
        client.send(name);
        let answer = client.next_key();
        if answer == format!("WELCOME {name}") {
            client.skip_info();
            client.send("/exit");
            client.expect_bye_and_close("exit");
            return;
        }
        if answer != "ERR name-taken" {
            client.fail(&format!(
                "expected WELCOME or ERR name-taken, got {answer:?}"
            ));
        }
        if Instant::now() > deadline {
            client.fail(&format!("{name} was still taken after {within:?}"));
        }
        client.send("/exit");
        client.expect_bye_and_close("exit");
        // Nothing announces a freed name to a stranger: ask again shortly.
        thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn users_on_two_nodes_are_one_chat_system() {
    let cluster = Cluster::start(2, &[]);
    let mut alice = login(&cluster, 0, "alice");
    let mut bob = login(&cluster, 1, "bob");
    // Names are unique across nodes, case-insensitively.
    let mut again = cluster.node(1).connect("again");
    again.send("ALICE");
    again.expect("ERR name-taken");
    again.send("/exit");
    again.expect_bye_and_close("exit");
    let users = list(&mut bob);
    assert_eq!(
        users,
        ["USER alice available -", "USER bob available -"],
        "/list on node 2"
    );
    chat(&mut alice, "alice", &mut bob, "bob");
    for i in 0..50 {
        alice.send(&format!("hello {i}"));
    }
    for i in 0..50 {
        bob.expect(&format!("MSG alice hello {i}"));
    }
    bob.send("/me waves");
    alice.expect("ACTION - bob waves");
    bob.send("/leave");
    bob.expect("OK leave chat alice");
    alice.expect("ENDED bob left");
    // A room made on node 1 is listed, joined and spoken in from node 2,
    // and its history is there for a later member on either node.
    join_room("den", &mut [&mut alice, &mut bob]);
    alice.send("from one");
    bob.expect("ROOM den alice from one");
    bob.send("from two");
    alice.expect("ROOM den bob from two");
    let mut carol = login(&cluster, 1, "carol");
    carol.send("/rooms");
    carol.expect_all(&["ROOMINFO den 2", "OK rooms 1"]);
    carol.send("/join den");
    let reply = carol.lines_until("OK join den 3");
    for said in [" msg alice from one", " msg bob from two"] {
        if !reply
            .iter()
            .any(|got| got.starts_with("HISTORY den ") && got.ends_with(said))
        {
            carol.fail(&format!("no history line ending {said:?} in {reply:?}"));
        }
    }
}

#[test]
fn a_killed_node_ends_its_users_chats_rooms_and_requests_everywhere() {
    let mut cluster = Cluster::start(2, &[]);
    // On the node that stays: a chat partner, a room member, a user who
    // asked someone on the doomed node, and one who was asked by one there.
    let mut alice = login(&cluster, 0, "alice");
    let mut dave = login(&cluster, 0, "dave");
    let mut frank = login(&cluster, 0, "frank");
    let mut grace = login(&cluster, 0, "grace");
    // On the doomed node.
    let mut bob = login(&cluster, 1, "bob");
    let mut carol = login(&cluster, 1, "carol");
    let mut erin = login(&cluster, 1, "erin");
    let mut heidi = login(&cluster, 1, "heidi");
    chat(&mut alice, "alice", &mut bob, "bob");
    join_room("den", &mut [&mut dave, &mut carol]);
    erin.send("/chat frank");
    erin.expect("OK chat frank");
    frank.expect("REQUEST erin");
    grace.send("/chat heidi");
    grace.expect("OK chat heidi");
    heidi.expect("REQUEST grace");

    let killed = Instant::now();
    cluster.nodes[1].signal("KILL");
    cluster.nodes[1].wait_exit();
    for client in [&mut alice, &mut dave, &mut frank, &mut grace] {
        client.set_patience(DISCONNECTS_WITHIN);
    }
    alice.expect("ENDED bob disconnected");
    dave.expect("PARTED den carol disconnected");
    frank.expect("CANCELLED erin disconnected");
    grace.expect("DECLINED heidi disconnected");
    let took = killed.elapsed();
    eprintln!("a killed node's users were disconnected everywhere after {took:?}");
    assert!(took < DISCONNECTS_WITHIN, "took {took:?}");
    for name in ["bob", "carol", "erin", "heidi"] {
        wait_until_name_free(
            &cluster,
            0,
            name,
            NAMES_FREE_WITHIN.saturating_sub(killed.elapsed()),
        );
    }
    // The surviving node works on, and a new node joins it.
    let users = list(&mut alice);
    assert_eq!(
        users,
        [
            "USER alice available -",
            "USER dave room den",
            "USER frank available -",
            "USER grace available -"
        ],
        "who is left"
    );
    let newcomer = cluster.add_node();
    let mut ivan = newcomer.login("ivan");
    ivan.send("/chat alice");
    ivan.expect("OK chat alice");
    alice.expect("REQUEST ivan");
}

#[test]
fn a_new_node_starts_from_the_running_clusters_state() {
    let mut cluster = Cluster::start(1, &[]);
    let mut alice = login(&cluster, 0, "alice");
    let mut bob = login(&cluster, 0, "bob");
    chat(&mut alice, "alice", &mut bob, "bob");
    let mut carol = login(&cluster, 0, "carol");
    join_room("den", &mut [&mut carol]);
    carol.send("before the newcomer");
    let mut dave = login(&cluster, 0, "dave");
    let mut frank = login(&cluster, 0, "frank");
    dave.send("/chat frank");
    dave.expect("OK chat frank");
    frank.expect("REQUEST dave");

    let node = cluster.add_node();
    let mut erin = node.login("erin");
    let users = list(&mut erin);
    assert_eq!(
        users,
        [
            "USER alice chatting bob",
            "USER bob chatting alice",
            "USER carol room den",
            "USER dave available -",
            "USER erin available -",
            "USER frank available -",
        ],
        "the new node's /list"
    );
    erin.send("/join den");
    let reply = erin.lines_until("OK join den 2");
    if !reply.iter().any(|line| {
        line.starts_with("HISTORY den ") && line.ends_with(" msg carol before the newcomer")
    }) {
        erin.fail(&format!(
            "no history from before the node joined: {reply:?}"
        ));
    }
    carol.expect("JOINED den erin");
    // The request made before the node joined is answered after.
    frank.send("/accept dave");
    frank.expect_all(&["CHAT dave", "OK accept dave"]);
    dave.expect("CHAT frank");
    carol.send("/leave");
    carol.expect("OK leave room den");
    erin.expect("PARTED den carol left");
    bob.send("to alice");
    alice.expect("MSG bob to alice");
}

#[test]
fn two_nodes_racing_for_one_name_welcome_exactly_one() {
    let cluster = Cluster::start(2, &[]);
    for round in 0..30 {
        race_for_one_name(
            round,
            cluster.node(0).connect("first"),
            cluster.node(1).connect("second"),
        );
    }
}

#[test]
fn a_mutual_chat_request_across_nodes_starts_one_chat() {
    let cluster = Cluster::start(2, &[]);
    let mut alice = login(&cluster, 0, "alice");
    let mut bob = login(&cluster, 1, "bob");
    let barrier = Barrier::new(2);
    for round in 0..20 {
        let (mut lines_a, mut lines_b) = thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                alice.send("/chat bob");
                alice.lines_until("OK chat bob")
            });
            let tb = s.spawn(|| {
                barrier.wait();
                bob.send("/chat alice");
                bob.lines_until("OK chat alice")
            });
            (ta.join().expect("alice"), tb.join().expect("bob"))
        });
        lines_a.extend(alice.sync());
        lines_b.extend(bob.sync());
        for (lines, want) in [(&lines_a, "CHAT bob"), (&lines_b, "CHAT alice")] {
            let chats = lines.iter().filter(|l| l.starts_with("CHAT ")).count();
            if chats != 1 || !lines.iter().any(|l| l == want) {
                cluster.fail(&format!(
                    "round {round}: expected one {want:?}, got {lines:?}"
                ));
            }
        }
        alice.send("/leave");
        alice.expect("OK leave chat bob");
        bob.expect("ENDED alice left");
    }
}

#[test]
fn registered_names_ignores_and_history_outlive_every_node() {
    let mut cluster = Cluster::start(2, &[]);
    let mut alice = login(&cluster, 0, "alice");
    alice.send("/register correct horse battery");
    alice.expect("OK register alice");
    alice.send("/ignore mallory");
    alice.expect("OK ignore mallory");
    let mut bob = login(&cluster, 1, "bob");
    join_room("den", &mut [&mut bob]);
    bob.send("remember me");
    bob.send("/ping written");
    bob.expect("OK ping written");
    drop((alice, bob));
    // Every node stops (cleanly); Redis keeps the durable keys.
    for node in &mut cluster.nodes {
        node.signal("TERM");
        node.wait_exit();
    }
    cluster.nodes.clear();
    let node = cluster.add_node();
    let mut alice = node.connect("alice-back");
    alice.send("alice");
    alice.expect("PASSWORD alice");
    alice.send("correct horse battery");
    alice.expect("WELCOME alice");
    alice.skip_info();
    alice.send("/ignores");
    alice.expect_all(&["IGNORING mallory", "OK ignores 1"]);
    alice.send("/join den");
    let reply = alice.lines_until("OK join den 1");
    if !reply
        .iter()
        .any(|line| line.starts_with("HISTORY den ") && line.ends_with(" msg bob remember me"))
    {
        alice.fail(&format!("the room's history is gone: {reply:?}"));
    }
}

#[test]
fn signing_in_on_another_node_takes_the_name_back() {
    let cluster = Cluster::start(2, &[]);
    let mut old = login(&cluster, 0, "alice");
    old.send("/register correct horse battery");
    old.expect("OK register alice");
    let mut new = cluster.node(1).connect("alice-new");
    new.send("alice");
    new.expect("PASSWORD alice");
    new.send("correct horse battery");
    new.expect("WELCOME alice");
    new.skip_info();
    old.expect_bye_and_close("replaced");
    let users = list(&mut new);
    assert_eq!(users, ["USER alice available -"]);
}

#[test]
fn redis_frozen_past_the_timeouts_answers_try_later_and_the_cluster_recovers() {
    let cluster = Cluster::start(2, &[]);
    let (mut alice, mut bob) = pair_across(&cluster);
    let mut carol = cluster.node(1).connect("carol");
    cluster.redis.pause();
    let frozen = Instant::now();
    // A message and a name, each needing the cluster: both are answered
    // try-later within the call bound (10 s), and nothing hangs.
    alice.set_patience(Duration::from_secs(30));
    carol.set_patience(Duration::from_secs(30));
    alice.send("while frozen");
    carol.send("carol");
    alice.expect("ERR try-later");
    carol.expect("ERR try-later");
    eprintln!("try-later after {:?} of a frozen Redis", frozen.elapsed());
    // Carol gives up and leaves while Redis is still frozen: her name,
    // which may yet reach the log, must not stay taken.
    drop(carol);
    // The greeting needs no cluster: a new connection is still served.
    let mut waiting = cluster.node(0).connect("waiting");
    cluster.redis.resume();
    // Both nodes pick up where they were, by themselves.
    bob.set_patience(Duration::from_secs(30));
    let recovered = Instant::now();
    loop {
        alice.send("/ping back");
        match alice.next_key().as_str() {
            "OK ping back" => break,
            "ERR try-later" if recovered.elapsed() < Duration::from_secs(30) => {
                // Redis answers again a moment after resuming; nothing to
                // wait on but asking again.
                thread::sleep(Duration::from_millis(200));
            }
            // The line answered try-later went through after all.
            "INFO" => {}
            other => alice.fail(&format!("unexpected {other:?} after Redis resumed")),
        }
    }
    alice.send("after");
    // The frozen line reached Redis's socket before the freeze: it may be
    // appended when Redis resumes (alice is told so by an INFO). Either
    // way it is not lost silently, and order holds.
    let mut line = bob.next_key();
    if line == "MSG alice while frozen" {
        line = bob.next_key();
    }
    assert_eq!(line, "MSG alice after");
    waiting.send("dave");
    waiting.expect("WELCOME dave");
    wait_until_name_free(&cluster, 1, "carol", Duration::from_secs(30));
}

#[test]
fn redis_restarted_empty_under_traffic_closes_sessions_and_the_cluster_recovers() {
    let mut cluster = Cluster::start(2, &[]);
    let (mut alice, mut bob) = pair_across(&cluster);
    thread::scope(|s| {
        let sending = s.spawn(|| {
            // Traffic while Redis goes away: every line is either
            // delivered, refused with try-later, or its sender is told the
            // session is over.
            for i in 0..200 {
                alice.send(&format!("traffic {i}"));
            }
        });
        cluster.redis.restart();
        sending.join().expect("sender");
    });
    // Redis lost everything (no persistence here): each node notices its
    // log is gone, tells its users and closes their sessions.
    for client in [&mut alice, &mut bob] {
        client.set_patience(Duration::from_secs(30));
        loop {
            let line = client.next_key();
            match line.as_str() {
                "BYE shutdown" => break,
                l if l.starts_with("MSG alice traffic ") || l == "ERR try-later" => {}
                other => client.fail(&format!("unexpected {other:?} while Redis restarted")),
            }
        }
        client.expect_closed();
    }
    // The nodes join the new Redis by themselves; users come back.
    let mut alice = login_when_back(&cluster, 0, "alice");
    let mut bob = login_when_back(&cluster, 1, "bob");
    chat(&mut alice, "alice", &mut bob, "bob");
}

#[test]
fn a_frozen_node_is_declared_gone_and_comes_back_empty() {
    let cluster = Cluster::start(2, &[]);
    let (mut alice, mut bob) = pair_across(&cluster);
    // A node that stops reading (here: stopped outright) falls behind the
    // log without bound; the others declare it gone.
    cluster.node(1).signal("STOP");
    alice.set_patience(DISCONNECTS_WITHIN);
    alice.expect("ENDED bob disconnected");
    wait_until_name_free(&cluster, 0, "bob", NAMES_FREE_WITHIN);
    cluster.node(1).signal("CONT");
    // On waking it finds itself declared gone: its users are told and
    // closed, and it joins again with the cluster's state.
    bob.set_patience(Duration::from_secs(30));
    loop {
        match bob.next_key().as_str() {
            "BYE shutdown" => break,
            // Lines it delivered before it read its own departure.
            l if l.starts_with("INFO ") => {}
            other => bob.fail(&format!("unexpected {other:?} on the woken node")),
        }
    }
    bob.expect_closed();
    // Kept open: bob must still be online for the /list below.
    let _bob = login_when_back(&cluster, 1, "bob");
    let users = list(&mut alice);
    assert_eq!(users, ["USER alice available -", "USER bob available -"]);
}

#[test]
fn a_node_that_cannot_reach_redis_says_so_and_exits() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let said = refused_start(&url, &[]);
    assert!(
        said.contains("cannot reach Redis") && said.contains(&url),
        "{said}"
    );
    let said = refused_start("http://nowhere", &[]);
    assert!(said.contains("--cluster http://nowhere"), "{said}");
    // A Redis that is there but refuses (a password is required).
    let redis = Redis::start();
    let set = redis.command(&["CONFIG", "SET", "requirepass", "s3cret"]);
    assert_eq!(set.as_deref(), Some("+OK"));
    let said = refused_start(&redis.url(), &[]);
    assert!(said.contains("cannot reach Redis"), "{said}");
}

#[test]
fn a_node_whose_shared_settings_differ_is_refused() {
    let cluster = Cluster::start(1, &[]);
    let said = refused_start(&cluster.redis.url(), &["--history", "10"]);
    assert!(
        said.contains("--history 10") && said.contains("--history 50"),
        "{said}"
    );
    // The running node is undisturbed, and knows of no other member.
    let mut alice = login(&cluster, 0, "alice");
    assert_eq!(list(&mut alice), ["USER alice available -"]);
}
