//! Joining the cluster: a node takes a number, announces itself in the log
//! (`Hello`), and gets the hub's state as of that entry: from a running
//! node (its donor writes a handover when it applies the `Hello`), or, when
//! no node is running, from the durable keys. One node joins at a time
//! (`cw:joining`), so two nodes starting together cannot both decide they
//! are the first.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Connection;

use super::applier::{Handover, Start};
use super::log::{self, Record, What};
use super::redis_io::{self, CALL_TIMEOUT};
use super::{Cluster, ClusterError, durable, membership};
use crate::hub::{Hub, Now, Settings};
use crate::shared::Shared;

/// How long a node waits for its turn to join.
const TURN_WAIT: Duration = Duration::from_secs(30);
/// How long a node holds the turn at most (if it dies joining).
const TURN_HOLD_MS: u64 = 15_000;
/// How long a node waits for its donor's handover.
const HANDOVER_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// A node number never given before, also after Redis lost its data (and
/// the counter): past the highest number this node has seen.
const NEXT_NUMBER: &str = r#"
local n = redis.call("INCR", KEYS[1])
local floor = tonumber(ARGV[1])
if n <= floor then
    n = floor + 1
    redis.call("SET", KEYS[1], n)
end
return n"#;

/// Releases the turn only if it is still ours.
const RELEASE_TURN: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

pub(super) fn join(cluster: &Arc<Cluster>, shared: &Arc<Shared>) -> Result<Start, ClusterError> {
    let unreachable = |error: redis::RedisError| ClusterError::Unreachable {
        url: cluster.config.url.clone(),
        detail: error.to_string(),
    };
    let mut con = redis_io::connect(&cluster.client, CALL_TIMEOUT).map_err(unreachable)?;
    let node: u32 = redis::Script::new(NEXT_NUMBER)
        .key("cw:node-seq")
        .arg(cluster.highest_number())
        .invoke(&mut con)
        .map_err(unreachable)?;
    cluster
        .node
        .store(node, std::sync::atomic::Ordering::Release);
    cluster.saw_number(node);
    let token = format!("{node}:{}", cluster.config.node_id);
    take_turn(shared, &mut con, &token).map_err(unreachable)?;
    let joined = join_in_turn(cluster, shared, &mut con, node);
    let _: redis::RedisResult<i64> = redis::Script::new(RELEASE_TURN)
        .key("cw:joining")
        .arg(&token)
        .invoke(&mut con);
    let start = joined?;
    for &member in &start.members {
        cluster.saw_number(member);
    }
    tracing::info!(
        node,
        id = %cluster.config.node_id,
        members = ?start.members,
        "joined the cluster"
    );
    Ok(start)
}

fn take_turn(shared: &Shared, con: &mut Connection, token: &str) -> redis::RedisResult<()> {
    let deadline = Instant::now() + TURN_WAIT;
    loop {
        let taken: Option<String> = redis::cmd("SET")
            .arg("cw:joining")
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(TURN_HOLD_MS)
            .query(con)?;
        if taken.is_some() || Instant::now() > deadline {
            return Ok(());
        }
        shared.sleep(POLL);
    }
}

fn join_in_turn(
    cluster: &Arc<Cluster>,
    shared: &Arc<Shared>,
    con: &mut Connection,
    node: u32,
) -> Result<Start, ClusterError> {
    let unreachable = |error: redis::RedisError| ClusterError::Unreachable {
        url: cluster.config.url.clone(),
        detail: error.to_string(),
    };
    let now = Now::read();
    // In the heartbeats first: a node that dies while joining is then
    // declared gone like any other, and leaves no member behind.
    let expires =
        now.unix_ms + u64::try_from(cluster.config.node_timeout.as_millis()).unwrap_or(u64::MAX);
    let _: () = redis::cmd("ZADD")
        .arg("cw:nodes")
        .arg(expires)
        .arg(node)
        .query(con)
        .map_err(unreachable)?;
    let _: () = redis::cmd("HSET")
        .arg("cw:node-names")
        .arg(node)
        .arg(&cluster.config.node_id)
        .query(con)
        .map_err(unreachable)?;
    let running: Vec<u32> = redis::cmd("ZRANGEBYSCORE")
        .arg("cw:nodes")
        .arg(format!("({}", now.unix_ms))
        .arg("+inf")
        .query(con)
        .map_err(unreachable)?;
    let first = running.iter().all(|&other| other == node);
    let settings = Settings::of(&shared.config);
    if let Err(error) = check_settings(con, &settings, first) {
        let _: redis::RedisResult<i64> = redis::cmd("ZREM").arg("cw:nodes").arg(node).query(con);
        return Err(match error {
            Mismatch::Redis(error) => unreachable(error),
            Mismatch::Differ { ours, theirs } => ClusterError::Settings { ours, theirs },
        });
    }
    let mut text = String::from("B\t0\n");
    log::encode(
        &[Record {
            at: now,
            what: What::Hello(node),
        }],
        &mut text,
    );
    let hello = redis_io::append(con, node, &text).map_err(unreachable)?;
    let (hub, members) = if first {
        let memory = durable::load(con, &shared.config).map_err(unreachable)?;
        tracing::info!("no node is running: the hub starts from the durable keys");
        (Hub::new(settings, memory, now), BTreeSet::from([node]))
    } else {
        let handover = await_handover(shared, con, node).map_err(unreachable)?;
        let Some(handover) = handover else {
            // Nobody answered (the chosen donor died, and is not yet
            // declared gone): this number leaves, and the caller tries
            // again with a new one.
            let _ = membership::reap(cluster, con, node);
            return Err(ClusterError::NoSnapshot(HANDOVER_WAIT));
        };
        let hub = Hub::restore(settings, handover.hub, |_| None)
            .map_err(|error| ClusterError::BadHandover(error.to_string()))?;
        (hub, handover.members)
    };
    *shared.hub.lock() = hub;
    Ok(Start {
        after: hello,
        members,
    })
}

fn await_handover(
    shared: &Shared,
    con: &mut Connection,
    node: u32,
) -> redis::RedisResult<Option<Handover>> {
    let key = format!("cw:handover:{node}");
    let deadline = Instant::now() + HANDOVER_WAIT;
    while Instant::now() < deadline {
        let json: Option<String> = redis::cmd("GET").arg(&key).query(con)?;
        if let Some(json) = json {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&key).query(con);
            return Ok(serde_json::from_str(&json).ok());
        }
        shared.sleep(POLL);
    }
    Ok(None)
}

enum Mismatch {
    Redis(redis::RedisError),
    Differ { ours: String, theirs: String },
}

/// The settings that shape the shared state must be the same on every
/// node: the first node writes them, every later one compares.
fn check_settings(con: &mut Connection, settings: &Settings, first: bool) -> Result<(), Mismatch> {
    let ours = format!(
        "--history {} --history-rooms {} --password-tries {}",
        settings.history_per_room, settings.history_rooms, settings.password_tries
    );
    if first {
        let _: () = redis::cmd("SET")
            .arg("cw:settings")
            .arg(&ours)
            .query(con)
            .map_err(Mismatch::Redis)?;
        return Ok(());
    }
    let theirs: Option<String> = redis::cmd("GET")
        .arg("cw:settings")
        .query(con)
        .map_err(Mismatch::Redis)?;
    match theirs {
        Some(theirs) if theirs != ours => Err(Mismatch::Differ { ours, theirs }),
        _ => Ok(()),
    }
}
