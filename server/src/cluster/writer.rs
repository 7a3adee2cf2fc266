//! The node's one appender: it takes every waiting connection's records,
//! batches whatever is waiting into one stream entry (one `XADD`, however
//! many connections), and appends it. A connection's records are one
//! block, headed `B <seq>`, so the applier can tell its waiter when the
//! block is applied. When Redis cannot be reached, waiters are told at
//! once (`ERR try-later`); when an append fails half-way (sent, but no
//! answer), the writer looks for its blocks in the stream before saying so.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use redis::Connection;

use super::log::{self, Record};
use super::redis_io::{self, CALL_TIMEOUT, LOG};
use super::{Cluster, Submission};

/// Blocks per entry, at most: a bound on one entry's size.
const MAX_BLOCKS: usize = 512;
/// How long to wait for work before looking at departures to retry.
const IDLE: Duration = Duration::from_millis(200);
/// Latest entries searched for blocks whose append is in doubt.
const SETTLE_ENTRIES: usize = 1024;

pub(super) fn spawn(cluster: Arc<Cluster>) -> JoinHandle<()> {
    thread::Builder::new()
        .name("cluster-writer".to_owned())
        .spawn(move || run(&cluster))
        .unwrap_or_else(|error| panic!("cannot start the cluster writer: {error}"))
}

fn run(cluster: &Cluster) {
    let mut con: Option<Connection> = None;
    loop {
        let first = match cluster.submissions_rx.recv_timeout(IDLE) {
            Ok(first) => Some(first),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if cluster.is_stopping() && first.is_none() {
            return;
        }
        let mut batch: Vec<Submission> = first.into_iter().collect();
        while batch.len() < MAX_BLOCKS {
            match cluster.submissions_rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let departures = cluster.take_unlogged();
        if batch.is_empty() && departures.is_empty() {
            continue;
        }
        if con.is_none() {
            con = redis_io::connect(&cluster.client, CALL_TIMEOUT).ok();
        }
        let Some(connection) = con.as_mut() else {
            give_up(cluster, &batch, departures);
            continue;
        };
        let departure_seq = cluster
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = entry_text(&batch, &departures, departure_seq);
        let appended = redis_io::append(connection, cluster.node(), &text);
        if let Err(error) = appended {
            tracing::warn!(%error, "cannot append to the cluster log");
            con = None;
            settle_in_doubt(cluster, &mut con, batch, departures, departure_seq);
        }
    }
}

/// The entry's text: a block per submission, then the departures being
/// retried as one block of their own (nobody waits for it).
fn entry_text(batch: &[Submission], departures: &[Record], departure_seq: u64) -> String {
    let mut text = String::new();
    for submission in batch {
        text.push_str(&format!("B\t{}\n", submission.seq));
        log::encode(&submission.records, &mut text);
    }
    if !departures.is_empty() {
        text.push_str(&format!("B\t{departure_seq}\n"));
        log::encode(departures, &mut text);
    }
    text
}

/// Redis is out of reach: every waiter is told, and departures wait.
fn give_up(cluster: &Cluster, batch: &[Submission], departures: Vec<Record>) {
    for submission in batch {
        cluster.fail(submission.seq);
    }
    cluster.unlogged.lock().extend(departures);
}

/// An append failed after it may have reached Redis (sent, but no answer:
/// Redis frozen, or the network cut after sending). A query sent on a
/// connection opened after the failed one is served after it (Redis reads
/// a new connection only once it has accepted it), so the log read on a
/// new connection shows whether the blocks landed. That is asked until
/// Redis answers or the waiters have given up; found blocks are left to
/// the applier, the rest are failed (departures are kept to log again;
/// logging one twice does no harm). Unsettled, the waiters time out and a
/// block that lands later is completed late (see `Cluster::complete`).
fn settle_in_doubt(
    cluster: &Cluster,
    con: &mut Option<Connection>,
    batch: Vec<Submission>,
    departures: Vec<Record>,
    departure_seq: u64,
) {
    let give_up_at = Instant::now() + cluster.config.call_timeout;
    let recent = loop {
        *con = redis_io::connect(&cluster.client, CALL_TIMEOUT).ok();
        let answer = con.as_mut().map(|connection| {
            redis::cmd("XREVRANGE")
                .arg(LOG)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(SETTLE_ENTRIES)
                .query::<redis::Value>(connection)
        });
        match answer {
            Some(Ok(recent)) => break recent,
            Some(Err(_)) | None => {
                *con = None;
                if Instant::now() >= give_up_at || cluster.is_stopping() {
                    tracing::warn!(
                        blocks = batch.len(),
                        "cannot tell whether an append reached the cluster log"
                    );
                    cluster.unlogged.lock().extend(departures);
                    return;
                }
                cluster.pause(IDLE);
            }
        }
    };
    let node = cluster.node().to_string();
    let ours = redis_io::range_entries(recent)
        .into_iter()
        .filter(|entry| entry.fields.get("n").is_some_and(|n| *n == node.as_bytes()))
        .filter_map(|entry| {
            entry
                .fields
                .get("d")
                .map(|d| String::from_utf8_lossy(d).into_owned())
        })
        .collect::<Vec<String>>()
        .join("");
    let landed = |seq: u64| ours.lines().any(|line| line == format!("B\t{seq}"));
    for submission in &batch {
        if !landed(submission.seq) {
            cluster.fail(submission.seq);
        }
    }
    if !departures.is_empty() && !landed(departure_seq) {
        cluster.unlogged.lock().extend(departures);
    }
}
