//! Faults, OS limits and amplification: a panicking connection thread,
//! `ulimit -n` and thread limits that lower `--max-clients`, and clients
//! that never read while the server answers them (or trickle a name).

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::telnet::{DO, ECHO, IAC};

use crate::harness::{
    Client, Control, Server, assert_name_free, cluster_mode, join_room, rss_kib, threads_and_fds,
    wait_for_baseline,
};

#[test]
fn a_panicking_connection_frees_its_name_and_disturbs_no_one() {
    let server = Server::start_with(&["--fault-injection"]);
    let mut ctl = Control::new(&server);
    let baseline = threads_and_fds(server.pid());
    // Chatting.
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("//__panic is just a message");
    b.expect("MSG alice /__panic is just a message");
    a.send("/__panic");
    b.expect("ENDED alice disconnected");
    a.drain_to_close(Duration::from_secs(10));
    assert_name_free(&server, "alice");
    // In a room.
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    join_room("den", &mut [&mut c, &mut d]);
    d.send("/__panic");
    c.expect("PARTED den dave disconnected");
    d.drain_to_close(Duration::from_secs(10));
    // Holding requests both ways.
    let mut e = server.login("erin");
    let mut f = server.login("frank");
    e.send("/chat frank");
    e.expect("OK chat frank");
    f.expect("REQUEST erin");
    b.send("/chat erin");
    b.expect("OK chat erin");
    e.expect("REQUEST bob");
    e.send("/__panic");
    f.expect("CANCELLED erin disconnected");
    b.expect("DECLINED erin disconnected");
    e.drain_to_close(Duration::from_secs(10));
    // While naming, and in the middle of a batch of lines.
    let mut naming = server.connect("naming");
    naming.send("/__panic");
    naming.drain_to_close(Duration::from_secs(10));
    let mut g = server.login("gina");
    g.send_raw(b"/ping before\n/__panic\n/ping after\n");
    g.expect("OK ping before");
    g.drain_to_close(Duration::from_secs(10));
    for name in ["dave", "erin", "gina"] {
        assert_name_free(&server, name);
    }
    for client in [&mut b, &mut c, &mut f] {
        client.quiet();
    }
    ctl.check(&["bob", "carol", "frank"]);
    let panics = server.stderr_text().matches("panicked").count();
    if panics < 5 {
        server.fail(&format!("expected 5 panics in the log, found {panics}"));
    }
    drop((b, c, f));
    wait_for_baseline(&server, baseline);
}

/// The `allowed=N` of the server's "--max-clients lowered" warning.
fn lowered_max_clients(server: &Server, because: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stderr = server.stderr_text();
        if let Some(line) = stderr
            .lines()
            .find(|l| l.contains("--max-clients lowered") && l.contains(because))
        {
            let allowed = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("allowed="))
                .and_then(|n| n.parse().ok());
            match allowed {
                Some(n) => return n,
                None => server.fail(&format!("no allowed= in {line:?}")),
            }
        }
        if Instant::now() > deadline {
            server.fail(&format!(
                "no warning that --max-clients was lowered ({because})"
            ));
        }
        // The warning is printed before `listening on`; the stderr reader
        // thread may lag a little.
        thread::sleep(Duration::from_millis(20));
    }
}

/// Fills the server to `max` connections (the control group's three
/// included), shows that `extras` more (opened all at once) are refused
/// with `server-full`, and that a slot comes back when someone leaves.
fn fill_to(server: &Server, ctl: &mut Control, max: usize, extras: usize) {
    let mut users: Vec<Client> = (3..max)
        .map(|i| server.login(&format!("f{i:03}")))
        .collect();
    let storm: Vec<Client> = (0..extras)
        .map(|i| server.connect_raw(&format!("extra{i}")))
        .collect();
    for mut extra in storm {
        extra.expect_all(&["ERR server-full", "BYE full"]);
        extra.expect_closed();
    }
    let names: Vec<String> = (3..max).map(|i| format!("f{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&names);
    let mut last = users.pop().expect("at least one user");
    last.exit_skipping_events();
    let mut again = server.login("again");
    again.quiet();
    let mut extra = server.connect_raw("extra-after");
    extra.expect_all(&["ERR server-full", "BYE full"]);
    extra.expect_closed();
    for client in users.iter_mut().chain([&mut again]) {
        client.exit_skipping_events();
    }
}

#[test]
fn under_ulimit_n_100_max_clients_is_clamped_and_extras_get_server_full() {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 100 && exec \"$0\" \"$@\"")
        .arg(Server::binary())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--flood-rate",
            "0",
            "--max-clients",
            "1000",
        ]);
    let server = Server::start_command(command);
    let max = lowered_max_clients(&server, "open-file limit 100");
    if max == 0 || max > 100 {
        server.fail(&format!("clamped to {max}, expected at most 100 - reserve"));
    }
    let mut ctl = Control::new(&server);
    // 150 extras: well past the file limit itself. All are refused, and
    // the server survives.
    fill_to(&server, &mut ctl, max, 150);
    ctl.check(&[]);
}

#[test]
fn an_assumed_thread_limit_lowers_max_clients_with_a_warning_and_is_enforced() {
    // 104 threads: 64 reserved, 16 for writers, so 24 clients.
    let server = Server::start_with(&["--max-clients", "100", "--assume-thread-limit", "104"]);
    let max = lowered_max_clients(&server, "thread limit 104");
    if max != 24 {
        server.fail(&format!("clamped to {max}, expected 24"));
    }
    let mut ctl = Control::new(&server);
    fill_to(&server, &mut ctl, max, 5);
    ctl.check(&[]);
}

#[test]
fn list_amplification_by_a_client_that_never_reads_is_cut_off() {
    const USERS: usize = 60;
    let server = Server::start_with(&["--flood-rate", "50", "--send-queue-bytes", "131072"]);
    let mut ctl = Control::new(&server);
    let mut users: Vec<Client> = (0..USERS)
        .map(|i| server.login(&format!("user_with_a_long_name{i:02}")))
        .collect();
    let mut spammer = server.login_small_rcvbuf("spammer");
    // The spammer's request to the first user witnesses its departure:
    // `CANCELLED … disconnected` is queued in the same locked step that
    // frees its name. The close of its socket is no such witness: the cut
    // shuts the socket down before the connection thread leaves the hub.
    let witness = "user_with_a_long_name00";
    spammer.send(&format!("/chat {witness}"));
    spammer.expect(&format!("OK chat {witness}"));
    users[0].expect("REQUEST spammer");
    let baseline_rss = rss_kib(server.pid());
    let spam = "/list\n".repeat(3000);
    spammer.send_raw(spam.as_bytes());
    let mut names: Vec<String> = (0..USERS)
        .map(|i| format!("user_with_a_long_name{i:02}"))
        .collect();
    names.push("spammer".to_owned());
    // Others are served while the spam is processed.
    ctl.burst();
    // The spammer is cut once its queue passes the byte cap, reading
    // nothing meanwhile. Each reply is charged about 4.4 KB (64 users), so
    // the replies to the first 30 lines of one read pass the 128 KiB cap
    // before the server's first flush (every 32 lines): the cut needs no
    // socket buffer to fill.
    if cluster_mode() {
        // In a cluster the spammer's node delivers each reply as its own
        // write, so the cut waits for the socket's buffers to fill at the
        // flood rate (about 4 MB at 220 KB/s here): slower, not different.
        users[0].set_patience(Duration::from_secs(60));
    }
    users[0].expect("CANCELLED spammer disconnected");
    // Only now does the spammer read: a best-effort BYE, then the close.
    let tail = spammer.drain_to_close(Duration::from_secs(30));
    let tail = String::from_utf8_lossy(&tail);
    if !tail.contains("BYE") && !tail.is_empty() {
        eprintln!("the spammer's last bytes had no BYE (best effort): {tail:?}");
    }
    let grown = rss_kib(server.pid()).saturating_sub(baseline_rss);
    if grown > 16 * 1024 {
        server.fail(&format!(
            "the server grew by {grown} KiB for one /list spammer"
        ));
    }
    names.pop();
    assert_name_free(&server, "spammer");
    for client in users.iter_mut().take(5) {
        client.quiet();
    }
    let shown: Vec<&str> = names.iter().map(String::as_str).collect();
    ctl.check(&shown);
}

#[test]
fn a_naming_client_cannot_outlast_the_name_timeout_with_throttled_lines() {
    // 4096 empty lines in one read take 80 s to process at 50 lines/s;
    // the deadline is absolute, so BYE must come at about one second.
    let server = Server::start_with(&[
        "--name-timeout",
        "1",
        "--flood-rate",
        "50",
        "--max-clients",
        "4",
    ]);
    let mut ctl = Control::new(&server);
    let mut slow_namer = server.connect("slow_namer");
    let started = Instant::now();
    slow_namer.send_raw(&[b'\n'; 4096]);
    slow_namer.expect_bye_and_close("timeout");
    let took = started.elapsed();
    if took > Duration::from_secs(5) {
        slow_namer.fail(&format!("BYE came after {took:?}"));
    }
    // It held the last slot; the slot is free again.
    let mut next = server.login("next");
    next.quiet();
    ctl.check(&["next"]);
}

#[test]
fn refused_connections_that_send_at_once_still_read_server_full() {
    let server = Server::start_with(&["--max-clients", "3"]);
    let mut ctl = Control::new(&server);
    for i in 0..50 {
        let mut extra = server.connect_raw(&format!("eager{i}"));
        // A script piping its input: lines before reading anything.
        let blob = "eager\n/list\n".repeat(1 + i * 200);
        let _ = std::io::Write::write_all(&mut extra.stream(), blob.as_bytes());
        let bytes = extra.drain_to_close(Duration::from_secs(10));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !(text.starts_with("ERR server-full") && text.contains("\r\nBYE")) {
            extra.fail(&format!("expected ERR server-full and BYE, got {text:?}"));
        }
    }
    ctl.check(&[]);
}

#[test]
fn when_writer_threads_run_out_the_extra_backlogged_reader_is_cut_and_permits_return() {
    // 104 threads: 24 clients and 16 writer threads. 17 room members that
    // never read each need a writer thread once the kernel buffers fill.
    const SLOW: usize = 17;
    let server = Server::start_with(&["--max-clients", "100", "--assume-thread-limit", "104"]);
    let mut ctl = Control::new(&server);
    let baseline = threads_and_fds(server.pid());
    let mut flooder = server.login("flooder");
    flooder.send("/join flood");
    flooder.expect("OK join flood 1");
    let mut slow: Vec<Client> = Vec::new();
    for i in 0..SLOW {
        let name = format!("slow{i:02}");
        let mut client = server.login_small_rcvbuf(&name);
        client.send("/join flood");
        client.expect(&format!("OK join flood {}", i + 2));
        flooder.expect(&format!("JOINED flood {name}"));
        slow.push(client);
    }
    let batch: String = (0..8).map(|_| format!("{}\n", "w".repeat(4000))).collect();
    let mut parted = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    while parted.is_empty() {
        if started.elapsed() > Duration::from_secs(30) || round > 100 {
            flooder.fail("no member was cut although the writer threads ran out");
        }
        flooder.send_raw(batch.as_bytes());
        flooder.send(&format!("/ping w{round}"));
        for line in flooder.lines_until(&format!("OK ping w{round}")) {
            if let Some(rest) = line.strip_prefix("PARTED flood ") {
                parted.push(rest.to_owned());
            } else if !line.starts_with("OK ping") {
                flooder.fail(&format!("unexpected {line:?}"));
            }
        }
        round += 1;
    }
    if parted.iter().any(|p| !p.ends_with(" disconnected")) {
        flooder.fail(&format!("unexpected parts {parted:?}"));
    }
    eprintln!("cut for want of a writer thread after {round} rounds: {parted:?}");
    if !server.stderr_text().contains("no writer thread available") {
        server.fail("no member was cut for want of a writer thread");
    }
    ctl.burst();
    // Everyone else resets; every writer thread ends and its permit returns.
    for client in slow.drain(..) {
        client.reset();
    }
    let mut gone = parted.len();
    while gone < SLOW {
        let line = flooder.next_key();
        if !(line.starts_with("PARTED flood slow") && line.ends_with(" disconnected")) {
            flooder.fail(&format!("unexpected {line:?}"));
        }
        gone += 1;
    }
    flooder.send("/rooms");
    flooder.expect_all(&["ROOMINFO flood 1", "OK rooms 1"]);
    ctl.check(&["flooder"]);
    drop(flooder);
    wait_for_baseline(&server, baseline);
}

#[test]
fn a_telnet_negotiation_flood_from_a_client_that_never_reads_is_cut() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut offender = server.login_small_rcvbuf("offender");
    let mut partner = server.login("partner");
    partner.send("/chat offender");
    partner.expect("OK chat offender");
    offender.expect("REQUEST partner");
    offender.send("/accept");
    offender.expect_all(&["CHAT partner", "OK accept partner"]);
    partner.expect("CHAT offender");
    offender.bound_writes();
    // Each IAC DO gets a 3-byte answer; the offender reads none of them.
    let chunk: Vec<u8> = [IAC, DO, ECHO].repeat(64 * 1024 / 3);
    let started = Instant::now();
    let mut pushed = 0usize;
    'push: loop {
        if started.elapsed() > Duration::from_secs(60) || pushed > 256 << 20 {
            partner.fail(&format!("offender still connected after {pushed} bytes"));
        }
        for _ in 0..16 {
            // Once the server cuts it, writes fail: that is fine.
            if std::io::Write::write_all(&mut offender.stream(), &chunk).is_err() {
                break;
            }
            pushed += chunk.len();
        }
        match partner.sync().as_slice() {
            [] => {}
            [ended] if ended == "ENDED offender disconnected" => break 'push,
            other => partner.fail(&format!("unexpected {other:?}")),
        }
    }
    eprintln!("negotiation flood cut after {pushed} bytes");
    partner.quiet();
    assert_name_free(&server, "offender");
    ctl.check(&["partner"]);
}
