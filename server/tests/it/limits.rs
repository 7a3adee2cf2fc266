//! Limits and overload: line length, UTF-8, sanitising of relayed text,
//! `--max-clients`, `--name-timeout`, the slow-reader cut-off and flood
//! control. Nothing here measures time; each limit is shown by its effect.

use std::time::{Duration, Instant};

use crate::harness::{Server, threads_and_fds, wait_for_baseline};

#[test]
fn a_message_of_exactly_max_line_bytes_is_delivered_intact() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let ascii = "x".repeat(4096);
    a.send(&ascii);
    b.expect(&format!("MSG alice {ascii}"));
    // 4093 ASCII bytes and one 3-byte character: 4096 bytes, one code point
    // across the limit's neighbourhood, never split.
    let multibyte = "y".repeat(4093) + "€";
    a.send(&multibyte);
    b.expect(&format!("MSG alice {multibyte}"));
    // CRLF is not counted either.
    a.send_raw(format!("{ascii}\r\n").as_bytes());
    b.expect(&format!("MSG alice {ascii}"));
    a.quiet();
    b.quiet();
}

#[test]
fn a_line_one_byte_too_long_is_refused_and_the_connection_kept() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send(&"x".repeat(4097));
    a.expect("ERR too-long");
    // Bytes are counted, not characters.
    a.send(&("y".repeat(4094) + "€"));
    a.expect("ERR too-long");
    a.send(&format!("/ping {}", "t".repeat(4091)));
    a.expect("ERR too-long");
    b.quiet();
    a.send("still here");
    b.expect("MSG alice still here");
    a.quiet();
    b.quiet();
}

#[test]
fn a_too_long_name_is_refused_and_naming_continues() {
    let server = Server::start();
    let mut c = server.connect("naming");
    c.send(&"n".repeat(5000));
    c.expect("ERR too-long");
    c.send("named");
    c.expect("WELCOME named");
}

#[test]
fn an_endless_line_gets_one_too_long_as_soon_as_the_limit_passes() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    // No newline yet: the error must come as soon as the limit is passed.
    a.send_raw(&[b'z'; 8192]);
    a.expect("ERR too-long");
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..64 {
        a.send_raw(&chunk);
    }
    a.send_raw(b"\n/ping after\n");
    a.expect("OK ping after");
    b.quiet();
}

#[test]
fn invalid_utf8_is_refused_and_the_connection_kept() {
    let server = Server::start();
    let mut naming = server.connect("naming");
    naming.send_raw(b"n\xc3\x28me\n");
    naming.expect("ERR bad-encoding");
    naming.send("name");
    naming.expect("WELCOME name");

    let (mut a, mut b) = server.pair("alice", "bob");
    for bad in [
        &b"\xfe\n"[..],
        b"\xc0\xaf\n",
        b"\xed\xa0\x80\n",
        b"\xe2\x82\n",
        b"ok \x80 ok\n",
        b"/ping \xf5\n",
    ] {
        a.send_raw(bad);
        a.expect("ERR bad-encoding");
    }
    b.quiet();
    a.send("fine");
    b.expect("MSG alice fine");
}

#[test]
fn text_split_into_single_byte_writes_is_delivered_intact() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let text = "héllo wörld ☕ 🦀 日本語";
    for byte in format!("{text}\r\n").bytes() {
        a.send_raw(&[byte]);
    }
    b.expect(&format!("MSG alice {text}"));
}

#[test]
fn control_characters_are_replaced_in_messages_and_ping_tokens() {
    let server = Server::start();
    let (mut a, mut b) = server.pair("alice", "bob");
    let r = '\u{fffd}';
    for (sent, want) in [
        ("a\u{1}b\u{1b}c\u{7f}d".to_owned(), format!("a{r}b{r}c{r}d")),
        (
            "\u{1b}[2J\u{1b}]0;title\u{7}".to_owned(),
            format!("{r}[2J{r}]0;title{r}"),
        ),
        ("x\u{85}y\u{9b}z\u{80}".to_owned(), format!("x{r}y{r}z{r}")),
        (
            "l\u{202a}m\u{202e}n\u{2066}o\u{2069}p\u{2028}q\u{2029}s".to_owned(),
            format!("l{r}m{r}n{r}o{r}p{r}q{r}s"),
        ),
        ("nul\u{0}here".to_owned(), format!("nul{r}here")),
        ("tab\tkept".to_owned(), "tab\tkept".to_owned()),
        ("a\rb".to_owned(), format!("a{r}b")),
    ] {
        a.send(&sent);
        b.expect(&format!("MSG alice {want}"));
    }
    // A CR before CRLF is part of the text, not of the line ending.
    a.send_raw(b"cr\r\r\n");
    b.expect(&format!("MSG alice cr{r}"));
    a.send("/ping x\u{1b}y\u{202e}z\u{9b}");
    a.expect(&format!("OK ping x{r}y{r}z{r}"));
    a.quiet();
    b.quiet();
}

#[test]
fn past_max_clients_a_connection_gets_server_full_until_a_slot_frees() {
    let server = Server::start_with(&["--max-clients", "2"]);
    let (a, mut b) = server.pair("alice", "bob");
    let mut extra = server.connect_raw("extra");
    extra.expect_all(&["ERR server-full", "BYE full"]);
    extra.expect_closed();
    b.quiet();
    // The slot is free before the partner hears of the disconnect.
    drop(a);
    b.expect("ENDED alice disconnected");
    let mut unnamed = server.connect("unnamed");
    // Unnamed connections count too.
    let mut extra = server.connect_raw("extra2");
    extra.expect_all(&["ERR server-full", "BYE full"]);
    extra.expect_closed();
    unnamed.send("carol");
    unnamed.expect("WELCOME carol");
    unnamed.skip_info();
    b.send("1");
    b.expect_all(&[
        "USER bob available -",
        "USER carol available -",
        "OK list 2",
    ]);
}

#[test]
fn a_connection_that_picks_no_name_in_time_gets_bye() {
    let server = Server::start_with(&["--name-timeout", "1"]);
    let mut named = server.login("early");
    let mut silent = server.connect("silent");
    silent.expect_bye_and_close("timeout");
    // A partial name does not extend the deadline either.
    let mut trickle = server.connect("trickle");
    trickle.send_raw(b"tri");
    trickle.expect_bye_and_close("timeout");
    // The named user, connected before both, is unaffected.
    named.quiet();
    named.send("1");
    named.expect_all(&["USER early available -", "OK list 1"]);
}

/// Starts `server`-side chats for a reader that never reads (`slow`, with
/// a tiny receive buffer) and a control pair, pushes messages at `slow`
/// until the server cuts it off, and checks that nobody else noticed.
fn push_until_the_slow_reader_is_cut_off(server: &Server) {
    let mut slow = server.login_small_rcvbuf("slow");
    let mut pusher = server.login("pusher");
    pusher.send("/chat slow");
    pusher.expect("OK chat slow");
    slow.expect("REQUEST pusher");
    slow.send("yes");
    slow.expect_all(&["CHAT pusher", "OK accept pusher"]);
    pusher.expect("CHAT slow");
    let (mut c1, mut c2) = server.pair("ctl1", "ctl2");

    // From here on `slow` reads nothing. Push in batches closed by a ping,
    // so the pusher itself never falls behind, until the server gives up on
    // the slow reader. Loopback may buffer about 4 MB in the kernel first.
    let batch: String = (0..16).map(|_| format!("{}\n", "p".repeat(4000))).collect();
    let started = Instant::now();
    let mut pushed = 0usize;
    let mut ended = false;
    let mut round = 0;
    while !ended {
        if started.elapsed() > Duration::from_secs(60) || pushed > 256 << 20 {
            pusher.fail(&format!("slow reader still connected after {pushed} bytes"));
        }
        pusher.send_raw(batch.as_bytes());
        pushed += batch.len();
        pusher.send(&format!("/ping push{round}"));
        c1.send(&format!("control {round}"));
        c2.expect(&format!("MSG ctl1 control {round}"));
        let done = format!("OK ping push{round}");
        loop {
            let line = pusher.next_key();
            if line == done {
                break;
            } else if line == "ENDED slow disconnected" && !ended {
                ended = true;
            } else if !(ended && line == "ERR not-in-chat") {
                pusher.fail(&format!("unexpected line {line:?}"));
            }
        }
        round += 1;
    }
    // The slow client is closed once it catches up with what was sent.
    slow.drain_to_close(Duration::from_secs(30));
    // Its name is free, and the control pair lost nothing.
    let mut again = server.login("slow");
    again.quiet();
    c2.send("done");
    c1.expect("MSG ctl2 done");
    c1.quiet();
    c2.quiet();
    pusher.quiet();
}

#[test]
fn a_reader_past_the_send_queue_bytes_is_cut_off_and_others_keep_chatting() {
    let server = Server::start_with(&["--send-queue-bytes", "65536"]);
    push_until_the_slow_reader_is_cut_off(&server);
}

#[test]
fn a_reader_past_the_send_queue_items_is_cut_off_and_others_keep_chatting() {
    let server = Server::start_with(&["--send-queue", "64"]);
    push_until_the_slow_reader_is_cut_off(&server);
}

#[test]
fn a_reader_stalled_past_the_write_timeout_is_cut_off_and_others_keep_chatting() {
    // Queues large enough that only the write timeout can trigger.
    let server = Server::start_with(&[
        "--write-timeout",
        "1",
        "--send-queue",
        "10000000",
        "--send-queue-bytes",
        "4000000000",
    ]);
    push_until_the_slow_reader_is_cut_off(&server);
}

#[test]
fn flood_control_slows_a_burst_but_drops_no_line() {
    let server = Server::start_with(&["--flood-rate", "5"]);
    let (mut a, mut b) = server.pair("alice", "bob");
    let burst: String = (0..40).map(|i| format!("flood {i}\n")).collect();
    a.send_raw(burst.as_bytes());
    for i in 0..40 {
        b.expect(&format!("MSG alice flood {i}"));
    }
    a.quiet();
    b.quiet();
}

#[test]
fn connection_churn_returns_threads_fds_and_the_name_to_baseline() {
    let server = Server::start();
    let mut watcher = server.login("watcher");
    let baseline = threads_and_fds(server.pid());
    for _ in 0..200 {
        let mut churn = server.login("Churn");
        churn.send("/exit");
        churn.expect_bye_and_close("exit");
    }
    watcher.send("1");
    watcher.expect_all(&["USER watcher available -", "OK list 1"]);
    // Threads end shortly after their socket closes; wait for the count to
    // come back, bounded by a deadline (no timing is asserted).
    wait_for_baseline(&server, baseline);
}
