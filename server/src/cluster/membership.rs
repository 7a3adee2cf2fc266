//! Which nodes are alive: each node renews its heartbeat (`cw:nodes`, a
//! sorted set scored by when the heartbeat expires) every second, and
//! looks for nodes whose heartbeat has expired. The first node to claim a
//! gone node (`SET cw:reap:<node> NX`) appends `NodeDown` to the log, and
//! every node's hub then closes that node's connections (disconnect events
//! for their partners and rooms, names free). A node reaps only after it
//! has itself been in touch with Redis for a whole timeout: after Redis
//! was away, every heartbeat looks stale until its node renews it.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use redis::Connection;

use super::Cluster;
use super::log::{self, Record, What};
use super::redis_io::{self, CALL_TIMEOUT};
use crate::hub::Now;

const BEAT: Duration = Duration::from_secs(1);

pub(super) fn spawn(cluster: Arc<Cluster>) -> JoinHandle<()> {
    thread::Builder::new()
        .name("cluster-heartbeat".to_owned())
        .spawn(move || run(&cluster))
        .unwrap_or_else(|error| panic!("cannot start the cluster heartbeat: {error}"))
}

fn run(cluster: &Cluster) {
    let mut con: Option<Connection> = None;
    let mut in_touch_since: Option<Instant> = None;
    while !cluster.is_stopping() {
        let started = Instant::now();
        if con.is_none() {
            con = redis_io::connect(&cluster.client, CALL_TIMEOUT).ok();
            in_touch_since = con.as_ref().map(|_| Instant::now());
        }
        if let Some(connection) = con.as_mut() {
            let trusted =
                in_touch_since.is_some_and(|since| since.elapsed() >= cluster.config.node_timeout);
            if let Err(error) = beat(cluster, connection, trusted) {
                tracing::warn!(%error, "cannot renew this node's heartbeat");
                con = None;
                in_touch_since = None;
            }
        }
        let spent = started.elapsed();
        cluster.pause(BEAT.saturating_sub(spent));
    }
    // A clean stop: this node is gone at once, not after its timeout.
    if let Some(connection) = con.as_mut() {
        let _ = reap(cluster, connection, cluster.node());
    }
}

fn beat(cluster: &Cluster, con: &mut Connection, trusted: bool) -> redis::RedisResult<()> {
    let now = Now::read().unix_ms;
    let timeout = u64::try_from(cluster.config.node_timeout.as_millis()).unwrap_or(u64::MAX);
    let me = cluster.node();
    // `XX`: a node declared gone does not come back by beating; it joins
    // again with a new number.
    let _: () = redis::cmd("ZADD")
        .arg("cw:nodes")
        .arg("XX")
        .arg(now + timeout)
        .arg(me)
        .query(con)?;
    if !trusted {
        return Ok(());
    }
    let gone: Vec<u32> = redis::cmd("ZRANGEBYSCORE")
        .arg("cw:nodes")
        .arg("-inf")
        .arg(now)
        .query(con)?;
    for node in gone.into_iter().filter(|&node| node != me) {
        reap(cluster, con, node)?;
    }
    Ok(())
}

/// Claims a gone node and tells the log, unless another node did.
pub(super) fn reap(cluster: &Cluster, con: &mut Connection, node: u32) -> redis::RedisResult<()> {
    let claimed: Option<String> = redis::cmd("SET")
        .arg(format!("cw:reap:{node}"))
        .arg(cluster.node())
        .arg("NX")
        .arg("PX")
        .arg(600_000)
        .query(con)?;
    if claimed.is_none() {
        // Another node tells the log; the heartbeat goes either way.
        let _: () = redis::cmd("ZREM").arg("cw:nodes").arg(node).query(con)?;
        return Ok(());
    }
    if node == cluster.node() {
        tracing::info!(
            node,
            "leaving the cluster; the other nodes close this node's connections"
        );
    } else {
        tracing::warn!(node, "a cluster node is gone; closing its connections");
    }
    let mut text = format!(
        "B\t{}\n",
        cluster
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    log::encode(
        &[Record {
            at: Now::read(),
            what: What::NodeDown(node),
        }],
        &mut text,
    );
    redis_io::append(con, cluster.node(), &text)?;
    let _: () = redis::cmd("ZREM").arg("cw:nodes").arg(node).query(con)?;
    Ok(())
}
