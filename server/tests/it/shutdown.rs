//! Shutdown on SIGTERM and SIGINT: every client gets `BYE` and nothing else,
//! the process exits 0, and the port can be bound again at once.

use crate::harness::{Client, Server, cluster_mode, join_room};

/// Clients in every state: chatting, available with a pending request, in a
/// room, and still naming.
fn clients_in_every_state(server: &Server) -> Vec<Client> {
    let (a, b) = server.pair("alice", "bob");
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    c.send("/chat dave");
    c.expect("OK chat dave");
    d.expect("REQUEST carol");
    let mut r = server.login("roomy");
    let mut s = server.login("sally");
    join_room("lobby", &mut [&mut r, &mut s]);
    let naming = server.connect("naming");
    let mut all = vec![a, b, c, d, r, s];
    for client in &mut all {
        client.quiet();
    }
    all.push(naming);
    all
}

fn shuts_down_on(signal: &str) {
    let mut server = Server::start();
    let mut clients = clients_in_every_state(&server);
    server.signal(signal);
    for client in &mut clients {
        if cluster_mode() {
            // The nodes get the signal one after the other, and a node
            // that stops says so: a user of the node signalled last may
            // first hear of the others' users leaving (docs/protocol.md,
            // cluster mode).
            skip_departures_of_other_nodes(client);
        } else {
            client.expect_bye_and_close("shutdown");
        }
    }
    let status = server.wait_exit();
    if status.code() != Some(0) {
        server.fail(&format!(
            "expected exit status 0 after SIG{signal}, got {status}"
        ));
    }
    let stdout = server.stdout_lines();
    if stdout.len() != 1 {
        server.fail(&format!(
            "expected only the listening line on stdout, got {stdout:?}"
        ));
    }
}

#[test]
fn sigterm_sends_only_bye_to_every_client_and_exits_zero() {
    shuts_down_on("TERM");
}

#[test]
fn sigint_sends_only_bye_to_every_client_and_exits_zero() {
    shuts_down_on("INT");
}

#[test]
fn the_port_can_be_bound_again_right_after_shutdown() {
    let mut server = Server::start();
    let port = server.addr().port();
    // A connection open at shutdown leaves the server's side in TIME_WAIT.
    let mut a = server.login("alice");
    server.signal("TERM");
    a.expect_bye_and_close("shutdown");
    let status = server.wait_exit();
    if !status.success() {
        server.fail(&format!("exit status {status}"));
    }
    let again = Server::start_on(&format!("127.0.0.1:{port}"), &[]);
    if again.addr().port() != port {
        again.fail(&format!("expected port {port}, got {}", again.addr()));
    }
    let mut b = again.login("bob");
    b.quiet();
}

/// A connection whose thread notices the shutdown while handling its own
/// read leaves before the server lists whom to say `BYE` to: it must say
/// it itself. The client streams pings while the signal lands, so its
/// thread is busy in that window; a few rounds make the race likely.
#[test]
fn a_client_busy_at_the_signal_still_gets_bye() {
    for round in 0..10 {
        let mut server = Server::start();
        let mut a = server.login("alice");
        a.send_raw("/ping busy\n".repeat(4000).as_bytes());
        server.signal("TERM");
        loop {
            match a.next_key().as_str() {
                "OK ping busy" => {}
                "BYE shutdown" => break,
                other => a.fail(&format!(
                    "round {round}: expected BYE shutdown, got {other:?}"
                )),
            }
        }
        a.expect_closed();
        let status = server.wait_exit();
        if !status.success() {
            server.fail(&format!("exit status {status}"));
        }
    }
}

/// Expects `BYE shutdown` and the close, after any number of `…
/// disconnected` events.
fn skip_departures_of_other_nodes(client: &mut Client) {
    loop {
        let line = client.next_key();
        if line == "BYE shutdown" {
            return client.expect_closed();
        }
        let departure = line.ends_with(" disconnected")
            && ["ENDED ", "PARTED ", "CANCELLED ", "DECLINED "]
                .iter()
                .any(|tag| line.starts_with(tag));
        if !departure {
            client.fail(&format!("expected BYE shutdown, got {line:?}"));
        }
    }
}
