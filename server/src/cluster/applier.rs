//! The node's applier: it reads the cluster log in order and applies every
//! record to this node's copy of the hub, so every node's copy goes
//! through the same states. It delivers what concerns this node's own
//! connections (the other nodes deliver the rest), writes what the hub must
//! remember when the record came from this node (so it is written once),
//! tells this node's waiting connections their calls are done, hands its
//! state to a node that joins when it is that node's chosen donor, and
//! notices when Redis lost the log or the cluster declared this node gone.

use std::collections::BTreeSet;
use std::net::Shutdown;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::{ByeReason, ServerLine};
use redis::Connection;

use super::log::{self, Record, What, node_of};
use super::redis_io::{self, CALL_TIMEOUT, LOG};
use super::{Cluster, Control, bootstrap, membership};
use crate::hub::{ConnId, Hub, Outcome, Snapshot};
use crate::outbox::{Delivery, Item, Outbox, Peer};
use crate::shared::Shared;

/// How long one `XREAD` blocks for new entries.
const BLOCK: Duration = Duration::from_millis(250);
/// Entries taken per read.
const COUNT: usize = 256;
/// Told to a user whose line was answered `ERR try-later` but reached the
/// log after all (Redis answered too late).
const LATE_NOTICE: &str = "a line you were told to try later went through after all";
/// Pause between attempts to reach Redis again.
const RETRY: Duration = Duration::from_millis(200);

/// Where a node starts reading, and who it knows is in the cluster.
pub(super) struct Start {
    /// The id of the node's own `Hello` entry: it applies what follows.
    pub(super) after: String,
    /// The nodes in the cluster, as the hub's copy knows them.
    pub(super) members: BTreeSet<u32>,
}

/// What a node joining is handed: the hub and the members.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Handover {
    pub(super) members: BTreeSet<u32>,
    pub(super) hub: Snapshot,
}

pub(super) fn spawn(cluster: Arc<Cluster>, shared: Arc<Shared>, start: Start) -> JoinHandle<()> {
    let applier = Applier {
        cluster,
        shared,
        last_id: start.after,
        members: start.members,
        con: None,
        delivery: Delivery::default(),
    };
    thread::Builder::new()
        .name("cluster-applier".to_owned())
        .spawn(move || applier.run())
        .unwrap_or_else(|error| panic!("cannot start the cluster applier: {error}"))
}

struct Applier {
    cluster: Arc<Cluster>,
    shared: Arc<Shared>,
    /// The last entry applied.
    last_id: String,
    members: BTreeSet<u32>,
    con: Option<Connection>,
    delivery: Delivery,
}

/// What one entry left to do once the hub's lock is released.
#[derive(Default)]
struct After {
    completions: Vec<(u64, Option<ConnId>, Vec<Control>)>,
    replaced: Vec<Arc<Outbox>>,
    handover: Option<(u32, Handover)>,
    rejoin: bool,
}

impl Applier {
    fn run(mut self) {
        let mut reconnected = false;
        while !self.cluster.is_stopping() {
            if self.con.is_none() {
                match redis_io::connect(&self.cluster.client, BLOCK + CALL_TIMEOUT) {
                    Ok(con) => {
                        self.con = Some(con);
                        reconnected = true;
                    }
                    Err(_) => {
                        self.shared.sleep(RETRY);
                        continue;
                    }
                }
            }
            if reconnected {
                reconnected = false;
                match self.log_is_whole() {
                    Some(true) => {}
                    Some(false) => {
                        self.lost("the cluster's log lost entries this node had not read");
                        continue;
                    }
                    None => {
                        self.con = None;
                        continue;
                    }
                }
            }
            let read = self.read();
            match read {
                Ok(entries) => {
                    for entry in entries {
                        self.apply(&entry);
                        self.last_id = entry.id;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the cluster log; reconnecting");
                    self.con = None;
                    self.shared.sleep(RETRY);
                }
            }
        }
    }

    fn read(&mut self) -> redis::RedisResult<Vec<redis_io::Entry>> {
        let Some(con) = self.con.as_mut() else {
            return Ok(Vec::new());
        };
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(LOG)
            .arg(&self.last_id)
            .query(con)?;
        Ok(redis_io::read_entries(reply))
    }

    /// After a reconnect: is the last entry applied still in the log? If
    /// it is, nothing after it is missing (Redis trims only the oldest).
    /// `None` if Redis cannot be asked.
    fn log_is_whole(&mut self) -> Option<bool> {
        let con = self.con.as_mut()?;
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(LOG)
            .arg(&self.last_id)
            .arg(&self.last_id)
            .query(con)
            .ok()?;
        Some(!redis_io::range_entries(reply).is_empty())
    }

    fn apply(&mut self, entry: &redis_io::Entry) {
        let Some(origin) = entry
            .fields
            .get("n")
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            return tracing::error!(id = %entry.id, "a cluster log entry without its node; skipped");
        };
        let text = entry
            .fields
            .get("d")
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default();
        let blocks = blocks(&text);
        let me = self.cluster.node();
        let mut after = After::default();
        let shared = Arc::clone(&self.shared);
        // Lock order: the hub, then the registry (nobody takes them the
        // other way round).
        let local = |conn: ConnId| -> Peer {
            if node_of(conn) == me {
                shared.registry.lock().get(&conn).cloned()
            } else {
                None
            }
        };
        let mut hub = shared.hub.lock();
        for (seq, records) in blocks {
            let mut controls = Vec::new();
            let mut block_conn = None;
            for record in records {
                self.apply_record(
                    &mut hub,
                    record,
                    origin,
                    &local,
                    &mut controls,
                    &mut block_conn,
                    &mut after,
                );
            }
            if origin == me {
                after.completions.push((seq, block_conn, controls));
            }
        }
        // A cut connection logs its own departure: every copy must change
        // alike, so this copy does not drop it by itself.
        self.delivery.forget_overflowed();
        drop(hub);
        self.delivery.flush(&self.shared.fanout);
        self.finish(after);
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one record's context, passed as it is"
    )]
    fn apply_record(
        &mut self,
        hub: &mut Hub<Peer>,
        record: Record,
        origin: u32,
        local: &impl Fn(ConnId) -> Peer,
        controls: &mut Vec<Control>,
        block_conn: &mut Option<ConnId>,
        after: &mut After,
    ) {
        let me = self.cluster.node();
        match &record.what {
            // A connection of a node declared gone (it arrived while its
            // node did not know yet) would never be logged as leaving.
            What::Connect(conn) if !self.members.contains(&node_of(*conn)) => {}
            What::Connect(conn) => {
                hub.connect(*conn, local(*conn));
                *block_conn = Some(*conn);
                controls.push(Control::default());
            }
            What::Hello(node) => {
                self.cluster.saw_number(*node);
                self.members.insert(*node);
                let donor = self.members.iter().copied().find(|member| member != node);
                if *node != me && donor == Some(me) {
                    let handover = Handover {
                        members: self.members.clone(),
                        hub: hub.snapshot(),
                    };
                    after.handover = Some((*node, handover));
                }
            }
            What::NodeDown(node) => {
                self.members.remove(node);
                let node = *node;
                for conn in hub.conns_where(|conn| node_of(conn) == node) {
                    let mut out = Outcome::default();
                    hub.disconnect(conn, &mut out);
                    self.delivery.outcome(&mut out, None);
                }
                if node == me {
                    after.rejoin = true;
                }
            }
            What::Line(..) | What::Password(_) | What::TaskDone(..) | What::Disconnect(_) => {
                let Some((conn, call)) = record.what.call() else {
                    return;
                };
                *block_conn = Some(conn);
                let mut out = Outcome::default();
                hub.apply(conn, call, record.at, &mut out);
                let (offer_echo, reply_lines) = (out.offer_echo, out.reply.len());
                let own = local(conn);
                self.delivery.outcome(&mut out, own.as_ref());
                after.replaced.extend(out.closed.drain(..).flatten());
                if origin == me {
                    self.cluster.durable.remember(out.remember.drain(..));
                    controls.push(Control {
                        happened: std::mem::take(&mut out.happened),
                        task: out.task.take(),
                        close: out.close,
                        offer_echo,
                        reply_lines,
                    });
                }
            }
        }
    }

    /// What an entry left to do once the lock is released.
    fn finish(&mut self, after: After) {
        for (seq, conn, controls) in after.completions {
            let closes = controls.iter().any(|control| control.close);
            if self.cluster.complete(seq, conn, controls) {
                continue;
            }
            // Its connection stopped waiting and was told `ERR try-later`:
            // say that it went through after all (or wake it to close).
            let Some(outbox) =
                conn.and_then(|conn| self.shared.registry.lock().get(&conn).cloned())
            else {
                continue;
            };
            if closes {
                outbox.shutdown(Shutdown::Read);
            } else if outbox.push(Item::Line(Box::new(ServerLine::Info(Arc::from(
                LATE_NOTICE,
            ))))) {
                outbox.flush();
            }
        }
        for replaced in after.replaced {
            replaced.shutdown(Shutdown::Read);
        }
        if let Some((node, handover)) = after.handover {
            self.hand_over(node, &handover);
        }
        if after.rejoin && !self.cluster.is_stopping() {
            self.lost("the cluster declared this node gone (it could not reach Redis in time)");
        }
    }

    /// Writes this node's state for a node that joins.
    fn hand_over(&mut self, node: u32, handover: &Handover) {
        let Ok(json) = serde_json::to_string(handover) else {
            return tracing::error!("cannot write the hub's state for a joining node");
        };
        let Some(con) = self.con.as_mut() else {
            return;
        };
        let written: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("cw:handover:{node}"))
            .arg(json)
            .arg("PX")
            .arg(60_000)
            .query(con);
        match written {
            Ok(()) => tracing::info!(node, "handed the hub's state to a joining node"),
            Err(error) => tracing::warn!(node, %error, "cannot hand the hub's state over"),
        }
    }

    /// This node's copy can no longer follow the cluster: every local
    /// connection is told and closed (clients reconnect), and the node
    /// joins again with a new number and the cluster's current state.
    fn lost(&mut self, why: &str) {
        tracing::error!(why, "leaving the cluster's state and joining again");
        let outboxes: Vec<Arc<Outbox>> = self.shared.registry.lock().values().cloned().collect();
        let bye = Arc::new(ServerLine::Bye(
            ByeReason::Shutdown,
            Arc::from("this node lost touch with the cluster; reconnect"),
        ));
        for outbox in &outboxes {
            if outbox.push_final(Item::Shared(Arc::clone(&bye))) {
                outbox.flush();
            }
            outbox.shutdown(Shutdown::Read);
        }
        // Whatever the other nodes still hold of this node's connections
        // is closed with this node's departure (unless it was declared
        // gone already).
        if let Ok(mut con) = redis_io::connect(&self.cluster.client, CALL_TIMEOUT) {
            let _ = membership::reap(&self.cluster, &mut con, self.cluster.node());
        }
        loop {
            if self.cluster.is_stopping() {
                return;
            }
            match bootstrap::join(&self.cluster, &self.shared) {
                Ok(start) => {
                    self.last_id = start.after;
                    self.members = start.members;
                    self.con = None;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot join the cluster again yet");
                    self.shared.sleep(Duration::from_secs(1));
                }
            }
        }
    }
}

/// An entry's blocks: `B <seq>` headers, each followed by its records.
fn blocks(text: &str) -> Vec<(u64, Vec<Record>)> {
    let mut blocks: Vec<(u64, Vec<Record>)> = Vec::new();
    for line in text.split('\n').filter(|line| !line.is_empty()) {
        if let Some(seq) = line.strip_prefix("B\t") {
            blocks.push((seq.parse().unwrap_or(0), Vec::new()));
            continue;
        }
        match (log::decode(line), blocks.last_mut()) {
            (Ok(record), Some((_, records))) => records.push(record),
            (Ok(record), None) => blocks.push((0, vec![record])),
            (Err(error), _) => tracing::error!(%error, "skipped"),
        }
    }
    blocks
}
