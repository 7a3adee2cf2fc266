//! The checks after every client has left: each name used can be logged in
//! again at once, and the server's threads, descriptors and memory are
//! back where they were before the first client connected.

use std::net::SocketAddr;
use std::sync::Mutex;
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

/// Logs in with every name in `names` (4 at a time) and quits; returns how
/// many succeeded.
pub(crate) fn check_names(addr: SocketAddr, names: Vec<String>, ledger: &Ledger) -> usize {
    let queue = Mutex::new(names);
    let n_ok = Mutex::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(name) = pop(&queue) {
                    match login_once(addr, &name) {
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

fn pop(queue: &Mutex<Vec<String>>) -> Option<String> {
    queue.lock().unwrap_or_else(|e| e.into_inner()).pop()
}

/// One login with `name` then `/quit`; a name still taken is retried until
/// [`SETTLE`] passes (a dropped connection may not be noticed yet).
fn login_once(addr: SocketAddr, name: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let lines = exchange(addr, format!("{name}\r\n/quit\r\n").as_bytes())?;
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
    let mut wire = Wire::connect(addr).map_err(|e| format!("connect: {e}"))?;
    wire.send(bytes).map_err(|e| format!("send: {e}"))?;
    let until = Instant::now() + SETTLE;
    let mut lines = Vec::new();
    loop {
        match wire.next(until) {
            Some(Incoming::Line(line)) => lines.push(line),
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
