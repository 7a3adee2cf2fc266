//! A peer that vanishes without a FIN or a reset (cable pulled, laptop
//! asleep): the client sits in a network namespace behind a veth pair whose
//! link then goes down, so nothing comes back, and the server must find it
//! dead by a short TCP keepalive, tell the partner `ENDED … disconnected`
//! and free the name. Needs root, `ip` (iproute2) and `python3`; without
//! them the test says why on stderr and passes without running, unless
//! `CHINWAG_REQUIRE_NETNS=1` (CI sets it) makes that a failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{Control, Server, assert_name_free, list, on_path};

/// The client inside the namespace: registers, asks `partner` to chat,
/// prints `READY` once the chat has started, then sits on the socket
/// without sending a byte.
const GHOST: &str = r#"
import socket, sys
host, port, name, partner = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=10)
f = s.makefile("rb")
def line():
    l = f.readline()
    if not l:
        sys.exit("closed")
    return l.decode("utf-8", "replace").rstrip("\r\n")
if not line().startswith("HELLO"):
    sys.exit("no HELLO")
s.sendall(("%s\r\n/chat %s\r\n" % (name, partner)).encode())
while not line().startswith("CHAT "):
    pass
# An empty line (the server ignores it) carries the acknowledgement of
# everything read so far: a delayed ACK lost to the pulled cable would leave
# the server retransmitting, where keepalive does not apply.
s.sendall(b"\r\n")
print("READY", flush=True)
s.settimeout(None)
while s.recv(4096):
    pass
"#;

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The namespace, the veth pair and the client process; all removed on
/// drop, also when the test panics.
struct NetLab {
    netns: String,
    host_if: String,
    ns_if: String,
    host_ip: String,
    client: Option<Child>,
}

impl NetLab {
    /// Creates `chinwag-adv-<X>` with a veth pair in 10.201.X.0/30, X
    /// derived from the pid and the clock and moved on if taken.
    fn create() -> Result<NetLab, String> {
        let seed = std::process::id() as u64
            ^ SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let mut last_error = String::new();
        for attempt in 0..16 {
            let x = (seed + attempt * 37) % 250 + 2;
            let netns = format!("chinwag-adv-{x}");
            if let Err(e) = ip(&["netns", "add", &netns]) {
                // Taken by a concurrent run (not ours to delete), or no
                // permission.
                last_error = e;
                continue;
            }
            // From here on, drop cleans up.
            let lab = NetLab {
                netns,
                host_if: format!("cwa{x}h"),
                ns_if: format!("cwa{x}n"),
                host_ip: format!("10.201.{x}.1"),
                client: None,
            };
            let ns_ip = format!("10.201.{x}.2/30");
            let host_cidr = format!("{}/30", lab.host_ip);
            let setup = ip(&[
                "link",
                "add",
                &lab.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &lab.ns_if,
            ])
            .and_then(|()| ip(&["link", "set", &lab.ns_if, "netns", &lab.netns]))
            .and_then(|()| ip(&["addr", "add", &host_cidr, "dev", &lab.host_if]))
            .and_then(|()| ip(&["link", "set", &lab.host_if, "up"]))
            .and_then(|()| ip(&["-n", &lab.netns, "addr", "add", &ns_ip, "dev", &lab.ns_if]))
            .and_then(|()| ip(&["-n", &lab.netns, "link", "set", &lab.ns_if, "up"]))
            .and_then(|()| ip(&["-n", &lab.netns, "link", "set", "lo", "up"]));
            match setup {
                Ok(()) => return Ok(lab),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Pulls the cable: the namespace's end goes down, so packets to it are
    /// dropped silently (no FIN, no reset, no ICMP).
    fn pull_the_cable(&self) -> Result<(), String> {
        ip(&["-n", &self.netns, "link", "set", &self.ns_if, "down"])
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.client.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = ip(&["netns", "del", &self.netns]);
        // Deleting the namespace deletes its veth end and so the pair;
        // this is for a half-built lab.
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

/// Skips (or fails, with `CHINWAG_REQUIRE_NETNS=1`) with a clear message.
fn unavailable(why: &str) {
    let message = format!(
        "vanish-without-FIN test not run: {why}. It needs root, iproute2 (`ip`) \
         and python3; set CHINWAG_REQUIRE_NETNS=1 to make this a failure."
    );
    if std::env::var_os("CHINWAG_REQUIRE_NETNS").is_some_and(|v| v == "1") {
        panic!("{message}");
    }
    eprintln!("{message}");
}

#[test]
fn a_peer_that_vanishes_without_fin_is_found_by_keepalive_and_its_name_freed() {
    for program in ["ip", "python3"] {
        if !on_path(program) {
            return unavailable(&format!("`{program}` is not on PATH"));
        }
    }
    let mut lab = match NetLab::create() {
        Ok(lab) => lab,
        Err(e) => return unavailable(&format!("cannot create a network namespace ({e})")),
    };
    let server = Server::start_on(
        &format!("{}:0", lab.host_ip),
        &["--keepalive-idle", "1", "--keepalive-interval", "1"],
    );
    let mut ctl = Control::new(&server);
    let mut partner = server.login("host_side");

    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.netns, "python3", "-c", GHOST])
        .arg(server.addr().ip().to_string())
        .arg(server.addr().port().to_string())
        .args(["ghost", "host_side"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run ip netns exec");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    lab.client = Some(child);
    let (ready_tx, ready_rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "READY" {
                let _ = ready_tx.send(());
            }
        }
    });
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let text: Vec<String> = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = err_tx.send(text.join("\n"));
    });

    partner.expect("REQUEST ghost");
    partner.send("/accept ghost");
    partner.expect_all(&["CHAT ghost", "OK accept ghost"]);
    if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
        let stderr = err_rx
            .recv_timeout(Duration::from_secs(1))
            .unwrap_or_default();
        server.fail(&format!(
            "the client in the namespace never chatted: {stderr}"
        ));
    }
    let users = list(&mut partner);
    if !users.contains(&"USER ghost chatting host_side".to_owned()) {
        partner.fail(&format!("ghost is not chatting: {users:?}"));
    }

    // From now on nothing is sent to ghost (unacknowledged data would put
    // the connection under retransmission, not keepalive).
    if let Err(e) = lab.pull_the_cable() {
        server.fail(&e);
    }
    let pulled = Instant::now();
    // Keepalive: 1 s idle, then 3 probes 1 s apart; the harness allows 10 s.
    partner.expect("ENDED ghost disconnected");
    let took = pulled.elapsed();
    eprintln!("vanished peer declared dead after {took:?}");
    if took > Duration::from_secs(15) {
        server.fail(&format!("took {took:?} to notice the vanished peer"));
    }
    partner.quiet();
    assert_name_free(&server, "ghost");
    ctl.check(&["host_side"]);
}
