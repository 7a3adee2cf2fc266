//! The cluster's durable data in Redis keys, in place of the single node's
//! SQLite file: registered names, ignore lists, room history. Only the
//! node whose record changed them writes them, through this queue and one
//! thread (no connection and never the hub's lock waits on Redis for it);
//! only the first node of a cluster reads them, when no running node can
//! hand its state over.
//!
//! ```text
//! cw:accounts            HASH  folded name -> "shown<TAB>argon2 hash"
//! cw:ignores:<owner>     HASH  folded name -> shown name
//! cw:history:<room>      LIST  "ms<TAB>kind<TAB>from<TAB>text", oldest first
//! cw:rooms               HASH  folded room -> shown room
//! cw:history-rooms       ZSET  folded room, scored by when it last spoke
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::{HistoryKind, Name};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;
use redis::{Client, Connection};

use super::redis_io::{self, CALL_TIMEOUT};
use crate::config::Config;
use crate::hub::{Memory, Remember, Said};

/// Writes the queue holds before it refuses (the disk analogue: Redis far
/// behind or away); each refusal is logged.
const QUEUE: usize = 65_536;
/// Writes per pipeline.
const BATCH: usize = 512;
const RETRY: Duration = Duration::from_millis(500);

/// The queue of durable writes and its thread.
pub(super) struct Writer {
    client: Client,
    tx: Mutex<Option<Sender<Remember>>>,
    rx: Receiver<Remember>,
    history: Mutex<usize>,
    stopping: Arc<AtomicBool>,
}

impl Writer {
    pub(super) fn new(client: Client) -> Writer {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        Writer {
            client,
            tx: Mutex::new(Some(tx)),
            rx,
            history: Mutex::new(crate::config::defaults::HISTORY),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Lines kept per room (`--history`).
    pub(super) fn set_history(&self, lines: usize) {
        *self.history.lock() = lines;
    }

    /// Queues writes; never blocks.
    pub(super) fn remember(&self, writes: impl Iterator<Item = Remember>) {
        let tx = self.tx.lock();
        let Some(tx) = tx.as_ref() else {
            return;
        };
        for write in writes {
            if let Err(TrySendError::Full(_)) = tx.try_send(write) {
                tracing::warn!("Redis is far behind: a durable change was dropped");
            }
        }
    }

    pub(super) fn spawn(&self) -> JoinHandle<()> {
        let client = self.client.clone();
        let rx = self.rx.clone();
        let history = *self.history.lock();
        let stopping = Arc::clone(&self.stopping);
        thread::Builder::new()
            .name("cluster-durable".to_owned())
            .spawn(move || run(&client, &rx, history, &stopping))
            .unwrap_or_else(|error| panic!("cannot start the durable writer: {error}"))
    }

    /// Writes what is queued, then stops (with the cluster).
    pub(super) fn stop(&self) {
        self.tx.lock().take();
        self.stopping.store(true, Ordering::Release);
    }
}

fn run(client: &Client, rx: &Receiver<Remember>, history: usize, stopping: &AtomicBool) {
    let mut con: Option<Connection> = None;
    let mut batch: Vec<Remember> = Vec::new();
    loop {
        if batch.is_empty() {
            match rx.recv_timeout(RETRY) {
                Ok(first) => batch.push(first),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
            }
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        if con.is_none() {
            con = redis_io::connect(client, CALL_TIMEOUT).ok();
        }
        let Some(connection) = con.as_mut() else {
            if stopping.load(Ordering::Acquire) {
                tracing::error!(
                    lost = batch.len(),
                    "Redis is gone at shutdown: durable changes lost"
                );
                return;
            }
            thread::sleep(RETRY);
            continue;
        };
        let mut pipe = redis::pipe();
        for write in &batch {
            add(&mut pipe, write, history);
        }
        match pipe.query::<()>(connection) {
            Ok(()) => batch.clear(),
            Err(error) => {
                tracing::warn!(%error, "cannot write durable changes; retrying");
                con = None;
            }
        }
    }
}

fn add(pipe: &mut redis::Pipeline, write: &Remember, history: usize) {
    match write {
        Remember::Account { name, hash } => {
            pipe.cmd("HSET")
                .arg("cw:accounts")
                .arg(name.folded())
                .arg(format!("{name}\t{hash}"))
                .ignore();
        }
        Remember::ForgetAccount { folded } => {
            pipe.cmd("HDEL").arg("cw:accounts").arg(&**folded).ignore();
            pipe.cmd("DEL").arg(format!("cw:ignores:{folded}")).ignore();
        }
        Remember::Said { room, said } => {
            let key = format!("cw:history:{}", room.folded());
            let kind = match said.kind {
                HistoryKind::Msg => "msg",
                HistoryKind::Action => "action",
            };
            let item = format!("{}\t{kind}\t{}\t{}", said.at_ms, said.from, said.text);
            pipe.cmd("RPUSH").arg(&key).arg(item).ignore();
            let keep = i64::try_from(history).unwrap_or(i64::MAX);
            pipe.cmd("LTRIM").arg(&key).arg(-keep).arg(-1).ignore();
            pipe.cmd("HSET")
                .arg("cw:rooms")
                .arg(room.folded())
                .arg(room.as_str())
                .ignore();
            pipe.cmd("ZADD")
                .arg("cw:history-rooms")
                .arg(said.at_ms)
                .arg(room.folded())
                .ignore();
        }
        Remember::ForgetRoom { folded } => {
            pipe.cmd("DEL").arg(format!("cw:history:{folded}")).ignore();
            pipe.cmd("ZREM")
                .arg("cw:history-rooms")
                .arg(&**folded)
                .ignore();
            pipe.cmd("HDEL").arg("cw:rooms").arg(&**folded).ignore();
        }
        Remember::Ignore { owner, ignored } => {
            pipe.cmd("HSET")
                .arg(format!("cw:ignores:{owner}"))
                .arg(ignored.folded())
                .arg(ignored.as_str())
                .ignore();
        }
        Remember::Unignore { owner, ignored } => {
            pipe.cmd("HDEL")
                .arg(format!("cw:ignores:{owner}"))
                .arg(&**ignored)
                .ignore();
        }
    }
}

/// What the durable keys hold, for the first node of a cluster. Rooms
/// come least recently active first, at most `--history-rooms` of them.
pub(super) fn load(con: &mut Connection, config: &Config) -> redis::RedisResult<Memory> {
    let mut memory = Memory::default();
    let accounts: Vec<(String, String)> = redis::cmd("HGETALL").arg("cw:accounts").query(con)?;
    for (folded, value) in accounts {
        let Some((shown, hash)) = value.split_once('\t') else {
            continue;
        };
        let Ok(name) = Name::parse(shown) else {
            continue;
        };
        let ignores: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(format!("cw:ignores:{folded}"))
            .query(con)?;
        for (_, shown) in ignores {
            if let Ok(ignored) = Name::parse(&shown) {
                memory.ignores.push((Arc::from(folded.as_str()), ignored));
            }
        }
        memory.accounts.push((name, Arc::from(hash)));
    }
    if config.history == 0 {
        return Ok(memory);
    }
    let rooms: Vec<String> = redis::cmd("ZRANGE")
        .arg("cw:history-rooms")
        .arg(0)
        .arg(-1)
        .query(con)?;
    let skip = rooms.len().saturating_sub(config.history_rooms);
    for folded in rooms.into_iter().skip(skip) {
        let shown: Option<String> = redis::cmd("HGET").arg("cw:rooms").arg(&folded).query(con)?;
        let Some(room) = shown.and_then(|shown| Name::parse(&shown).ok()) else {
            continue;
        };
        let items: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("cw:history:{folded}"))
            .arg(0)
            .arg(-1)
            .query(con)?;
        let lines = items.iter().filter_map(|item| said(item)).collect();
        memory.rooms.push((room, lines));
    }
    Ok(memory)
}

fn said(item: &str) -> Option<Said> {
    let mut fields = item.splitn(4, '\t');
    let at_ms = fields.next()?.parse().ok()?;
    let kind = match fields.next()? {
        "msg" => HistoryKind::Msg,
        "action" => HistoryKind::Action,
        _ => return None,
    };
    let from = Arc::from(fields.next()?);
    let text = Arc::from(fields.next()?);
    Some(Said {
        at_ms,
        kind,
        from,
        text,
    })
}
