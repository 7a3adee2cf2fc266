//! The checks after every client has left: each name used can be logged in
//! again at once (a registered one with its password), and the server's
//! threads, descriptors and memory are back where they were before the
//! first client connected; and the warm-up step that makes the memory
//! check fair to password checks.

use std::net::SocketAddr;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use common::{ErrorCode, ServerLine};

use crate::ledger::Ledger;
use crate::usage::Usage;
use crate::wire::{Incoming, Wire};

/// How long leftovers (threads still exiting, a drop not yet noticed) may
/// take to clear.
const SETTLE: Duration = Duration::from_secs(10);
/// RSS may stay this much above the baseline (allocator caches).
pub(crate) const RSS_SLACK_KIB: u64 = 2048;
/// …or this many percent above it, whichever is larger.
pub(crate) const RSS_SLACK_PERCENT: u64 = 10;

/// Logs in with every name in `names` (4 at a time), signing in with the
/// ledger's password to a registered one, and quits; returns how many
/// succeeded. Name `i` goes to `addrs[i % addrs.len()]` (the nodes of a
/// cluster in turn).
pub(crate) fn check_names(addrs: &[SocketAddr], names: Vec<String>, ledger: &Ledger) -> usize {
    let names: Vec<(SocketAddr, String, Option<String>)> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let password = ledger.password_of(&name);
            (addrs[i % addrs.len()], name, password)
        })
        .collect();
    let queue = Mutex::new(names);
    let n_ok = Mutex::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some((addr, name, password)) = pop(&queue) {
                    match login_once(addr, &name, password.as_deref()) {
                        Ok(()) => *n_ok.lock().unwrap_or_else(|e| e.into_inner()) += 1,
                        Err(why) => ledger.violation(format!(
                            "after the run, name {name} cannot be used again: {why}"
                        )),
                    }
                }
            });
        }
    });
    n_ok.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn pop<T>(queue: &Mutex<Vec<T>>) -> Option<T> {
    queue.lock().unwrap_or_else(|e| e.into_inner()).pop()
}

/// One login with `name` (and `password`, for a registered name) then
/// `/quit`; a name still taken is retried until [`SETTLE`] passes (a
/// dropped connection may not be noticed yet; signing in takes a
/// registered name back at once).
fn login_once(addr: SocketAddr, name: &str, password: Option<&str>) -> Result<(), String> {
    let started = Instant::now();
    let input = match password {
        Some(password) => format!("{name}\r\n{password}\r\n/quit\r\n"),
        None => format!("{name}\r\n/quit\r\n"),
    };
    loop {
        let lines = exchange(addr, input.as_bytes())?;
        let parsed = lines
            .iter()
            .map(|line| ServerLine::parse(line))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("{error} in {lines:?}"))?;
        let welcomed = parsed
            .iter()
            .any(|line| matches!(line, ServerLine::Welcome(got) if **got == *name));
        let taken = parsed
            .iter()
            .any(|line| matches!(line, ServerLine::Err(ErrorCode::NameTaken, _)));
        let said_bye = matches!(parsed.last(), Some(ServerLine::Bye(..)));
        let asked = parsed
            .iter()
            .any(|line| matches!(line, ServerLine::Password(got) if **got == *name));
        if asked != password.is_some() {
            return Err(format!("registered: {}, got {lines:?}", password.is_some()));
        }
        match (welcomed, taken, said_bye) {
            (true, false, true) => return Ok(()),
            (false, true, true) if started.elapsed() < SETTLE => {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => return Err(format!("got {lines:?}")),
        }
    }
}

/// Sends `bytes` on a new connection and returns every line until EOF.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Result<Vec<String>, String> {
    let wire = Wire::connect(addr).map_err(|e| format!("connect: {e}"))?;
    exchange_on(wire, bytes)
}

/// Sends `bytes` on `wire` and returns every line until EOF.
fn exchange_on(mut wire: Wire, bytes: &[u8]) -> Result<Vec<String>, String> {
    wire.send(bytes).map_err(|e| format!("send: {e}"))?;
    let until = Instant::now() + SETTLE;
    let mut lines = Vec::new();
    loop {
        match wire.next(until) {
            Some(Incoming::Line(line)) => lines.push(line),
            // The echo offer around a password.
            Some(Incoming::Telnet(_)) => {}
            Some(Incoming::Eof) => return Ok(lines),
            other => return Err(format!("{other:?} after {lines:?}")),
        }
    }
}

/// Polls until threads and descriptors are back to `baseline` (or
/// [`SETTLE`] passes) and returns the last reading.
pub(crate) fn settle(pid: u32, baseline: Usage) -> Option<Usage> {
    let started = Instant::now();
    loop {
        let now = Usage::of(pid)?;
        let back = now.threads == baseline.threads && now.fds == baseline.fds;
        if back || started.elapsed() > SETTLE {
            return Some(now);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What is wrong with `after` compared with `baseline`, if anything.
pub(crate) fn leak(baseline: Usage, after: Usage) -> Option<String> {
    let rss_limit =
        baseline.rss_kib + RSS_SLACK_KIB.max(baseline.rss_kib * RSS_SLACK_PERCENT / 100);
    if after.threads != baseline.threads || after.fds != baseline.fds || after.rss_kib > rss_limit {
        Some(format!(
            "server resources did not return to the baseline: before {baseline:?}, after {after:?} (RSS limit {rss_limit} KiB)"
        ))
    } else {
        None
    }
}

/// Warms glibc's cache of thread stacks for password checks: `n`
/// connections at once each register a name of their own (one Argon2id
/// hash on its thread), then all quit. A thread that hashed has two more
/// resident stack pages, which its stack keeps in glibc's cache after the
/// thread ends; without this step the leak check would count the cache
/// filling with such stacks during the main phase (about 8 KiB for each
/// thread the server ever had at once) as growth. The names are
/// `stack{tag}{k}`: in a cluster, names are the whole cluster's, so each
/// node's round has a tag of its own.
pub(crate) fn deepen_stacks(addr: SocketAddr, n: usize, tag: &str, ledger: &Ledger) {
    let all_in = Barrier::new(n);
    std::thread::scope(|scope| {
        for k in 0..n {
            let all_in = &all_in;
            scope.spawn(move || {
                let name = format!("stack{tag}{k}");
                let result = register_and_wait(addr, &name, all_in);
                if let Err(why) = result {
                    ledger.violation(format!("warming stacks with {name}: {why}"));
                }
            });
        }
    });
}

/// Registers `name`, waits for everyone at `all_in`, then quits.
fn register_and_wait(addr: SocketAddr, name: &str, all_in: &Barrier) -> Result<(), String> {
    let registered = Wire::connect(addr)
        .map_err(|e| format!("connect: {e}"))
        .and_then(|mut wire| register(&mut wire, name).map(|()| wire));
    // Everyone waits, failed or not, so no thread is left at the barrier.
    all_in.wait();
    exchange_on(registered?, b"/quit\r\n").map(drop)
}

fn register(wire: &mut Wire, name: &str) -> Result<(), String> {
    let line = format!("{name}\r\n/register pw.{name}.warm\r\n");
    wire.send(line.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let until = Instant::now() + SETTLE;
    loop {
        match wire.next(until) {
            Some(Incoming::Line(line)) if line.starts_with("OK register ") => return Ok(()),
            Some(Incoming::Line(line)) if line.starts_with("ERR ") => {
                return Err(format!("got {line:?}"));
            }
            Some(Incoming::Line(_)) => {}
            other => return Err(format!("got {other:?}")),
        }
    }
}
