//! Delivery: one connection's outbound side, a bounded queue (items and
//! bytes), and the rule for who writes to the socket. Whoever queues a line
//! flushes it with non-blocking sends; only when the socket is full does a
//! writer thread start, and it ends once the backlog is written. So an idle
//! or keeping-up connection costs one thread, not two (see ARCHITECTURE.md).
//! [`Delivery`] is how the hub's output gets here: queued under the hub
//! lock, flushed after it.
//!
//! Full-queue policy, decided here only: a connection whose queue passes
//! `--send-queue` items or `--send-queue-bytes` bytes, or whose socket takes
//! nothing for `--write-timeout`, is the one that cannot keep up. Its queue
//! is dropped, it gets a best-effort `BYE`, and its socket is shut down,
//! which wakes its own connection thread to do the disconnect. Senders
//! never block and never wait.

use std::io::{self, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use socket2::SockRef;

use common::{ByeReason, ServerLine, WILL_ECHO};

use crate::fanout::{FanoutPool, SPREAD_AT};
use crate::hub::{ConnId, Hub, Outcome, Targets};
use crate::threads::ThreadBudget;
use crate::tls::Session;

/// Coalesce at most this much queued output into one write call.
const BATCH_BYTES: usize = 64 * 1024;
const WRITER_STACK_BYTES: usize = 128 * 1024;

/// One queued unit: an event, or one command's whole reply. Lines are kept
/// as values and formatted by the writer straight into its batch buffer, so
/// queueing (done under the hub lock, to keep every connection's output in
/// the hub's order) formats nothing and performs no I/O.
///
/// Kept to three words: the queue's storage comes in blocks of 31 slots,
/// one of which every connection keeps for as long as it lives, so each
/// byte here costs 31 bytes per idle user (a `ServerLine` by value made it
/// 2 KiB; see docs/performance.md).
#[derive(Debug)]
pub(crate) enum Item {
    /// One line for this connection only.
    Line(Box<ServerLine>),
    /// One line for several recipients (a room message), shared.
    Shared(Arc<ServerLine>),
    /// A command's reply: several lines, one item.
    Reply(Box<[ServerLine]>),
    /// Raw bytes (a telnet refusal).
    Raw([u8; 3]),
}

const _: () = assert!(std::mem::size_of::<Item>() <= 24);

impl Item {
    /// The size charged against `--send-queue-bytes`: the line's text
    /// fields plus a fixed overhead for tag, spaces and CRLF. Close to the
    /// formatted size without formatting.
    fn charge(&self) -> usize {
        match self {
            Item::Line(line) => line_charge(line),
            Item::Shared(line) => line_charge(line),
            Item::Reply(lines) => lines.iter().map(line_charge).sum(),
            Item::Raw(bytes) => bytes.len(),
        }
    }

    fn write_to(&self, buffer: &mut Vec<u8>) {
        match self {
            Item::Line(line) => line.write_to(buffer),
            Item::Shared(line) => line.write_to(buffer),
            Item::Reply(lines) => lines.iter().for_each(|line| line.write_to(buffer)),
            Item::Raw(bytes) => buffer.extend_from_slice(bytes),
        }
    }
}

fn line_charge(line: &ServerLine) -> usize {
    const OVERHEAD: usize = 24;
    let text = match line {
        ServerLine::Msg(from, text) => from.len() + text.len(),
        ServerLine::Room(room, from, text) => room.len() + from.len() + text.len(),
        ServerLine::Info(text) | ServerLine::Hello(text) | ServerLine::Bye(_, text) => text.len(),
        ServerLine::Err(_, text) => text.len(),
        ServerLine::User(name, _) => 2 * name.len(),
        _ => 2 * common::MAX_NAME_LEN,
    };
    OVERHEAD + text
}

/// Limits of one outbox.
#[derive(Debug, Clone)]
pub(crate) struct QueueLimits {
    pub(crate) max_items: usize,
    pub(crate) max_bytes: usize,
}

/// State owned by whoever currently writes (the writer mutex is the token).
#[derive(Debug, Default)]
struct Writer {
    /// Bytes taken off the queue and not yet fully written.
    buffer: Vec<u8>,
    /// How much of `buffer` has been written.
    written: usize,
    /// A writer thread exists for this connection.
    thread_active: bool,
}

/// Why a blocking drain stopped.
enum Drain {
    /// Everything queued has been written.
    Empty,
    /// The socket is full (non-blocking mode only).
    Blocked,
}

/// A connection's outbound queue and the write side of its socket. Shared
/// by every thread that sends to this connection; the connection's own
/// thread reads from the same socket (one descriptor, never `try_clone`d).
#[derive(Debug)]
pub(crate) struct Outbox {
    id: ConnId,
    stream: Arc<TcpStream>,
    /// The TLS session, on a TLS connection: what is queued is encrypted
    /// as it is taken off the queue.
    tls: Option<Session>,
    tx: Sender<Item>,
    rx: Receiver<Item>,
    limits: QueueLimits,
    n_items: AtomicUsize,
    n_bytes: AtomicUsize,
    /// No more items are accepted (closing, shutting down, or dead).
    sealed: AtomicBool,
    /// A last item was queued (`push_final`).
    finished: AtomicBool,
    /// Held shared by `push` from its check of `sealed` to its enqueue,
    /// and exclusively by `push_final`: nothing slips in after the last item.
    gate: RwLock<()>,
    /// The connection has been cut; set once.
    dead: AtomicBool,
    /// Some thread will flush soon; saves redundant flushes in a batch.
    scheduled: AtomicBool,
    /// The queue passed a limit; the next flush cuts the connection (not at
    /// once: queueing happens under the hub lock, where no I/O may happen).
    overflowed: AtomicBool,
    /// The overflow has been reported to whoever delivers (once).
    overflow_reported: AtomicBool,
    writer: Mutex<Writer>,
    budget: Arc<ThreadBudget>,
}

impl Outbox {
    pub(crate) fn new(
        id: ConnId,
        stream: Arc<TcpStream>,
        tls: Option<Session>,
        limits: QueueLimits,
        budget: Arc<ThreadBudget>,
    ) -> Outbox {
        if let Some(session) = &tls {
            // This queue bounds what waits for a client; rustls's own limit
            // would make it refuse part of a batch.
            session.lock().set_buffer_limit(None);
        }
        // The list-flavoured channel allocates as items arrive; the bound is
        // enforced in `push`. crossbeam's bounded channel would reserve every
        // slot up front (about 40 KiB at 1024 items) for each idle user.
        let (tx, rx) = crossbeam_channel::unbounded();
        Outbox {
            id,
            stream,
            tls,
            tx,
            rx,
            limits,
            n_items: AtomicUsize::new(0),
            n_bytes: AtomicUsize::new(0),
            sealed: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            gate: RwLock::new(()),
            dead: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            overflow_reported: AtomicBool::new(false),
            writer: Mutex::new(Writer::default()),
            budget,
        }
    }

    /// The connection's id.
    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    /// True once, the first time it is asked after the queue passed a
    /// limit: the connection takes no more lines and must leave the hub.
    pub(crate) fn newly_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
            && !self.overflow_reported.swap(true, Ordering::AcqRel)
    }

    /// Shuts the socket down (shutdown wakes a reader this way).
    pub(crate) fn shutdown(&self, how: Shutdown) {
        let _ = self.stream.shutdown(how);
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Queues `item`. Returns true when the caller should call [`flush`]
    /// later (it is the first to queue since the last flush). Never blocks
    /// and performs no I/O, so it may be called under the hub lock.
    ///
    /// [`flush`]: Outbox::flush
    pub(crate) fn push(&self, item: Item) -> bool {
        let _open = self.gate.read();
        if self.sealed.load(Ordering::Acquire) {
            return false;
        }
        self.enqueue(item)
    }

    /// Queues a last item even after sealing (the shutdown `BYE`), then
    /// seals. Only the first last item is queued: the server and the
    /// connection's own thread may both say goodbye at shutdown.
    pub(crate) fn push_final(&self, item: Item) -> bool {
        let _closed = self.gate.write();
        if self.finished.swap(true, Ordering::AcqRel) {
            return false;
        }
        let queued = !self.dead.load(Ordering::Acquire) && self.enqueue(item);
        self.seal();
        queued
    }

    /// Stops accepting items; what is queued is still written.
    pub(crate) fn seal(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    fn enqueue(&self, item: Item) -> bool {
        let len = item.charge();
        let n_bytes = self.n_bytes.fetch_add(len, Ordering::AcqRel) + len;
        let n_items = self.n_items.fetch_add(1, Ordering::AcqRel) + 1;
        if n_bytes > self.limits.max_bytes || n_items > self.limits.max_items {
            self.sealed.store(true, Ordering::Release);
            self.overflowed.store(true, Ordering::Release);
            return !self.scheduled.swap(true, Ordering::AcqRel);
        }
        if self.tx.send(item).is_err() {
            return false;
        }
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Writes what is queued without blocking. If the socket is full, starts
    /// a writer thread for the backlog (or cuts the connection if no thread
    /// can be had).
    pub(crate) fn flush(self: &Arc<Self>) {
        self.scheduled.store(false, Ordering::Release);
        if self.overflowed.load(Ordering::Acquire) {
            return self.cut(Some("send queue full"));
        }
        loop {
            // Whoever holds the writer lock re-checks the queue after
            // releasing it, so an item queued meanwhile is never stranded.
            let Some(mut writer) = self.writer.try_lock() else {
                return;
            };
            if writer.thread_active {
                return;
            }
            match self.drain(&mut writer, false) {
                Ok(Drain::Empty) => {}
                Ok(Drain::Blocked) => {
                    self.start_writer_thread(&mut writer);
                    return;
                }
                Err(error) => {
                    drop(writer);
                    self.fail(&error);
                    return;
                }
            }
            drop(writer);
            if self.rx.is_empty() {
                return;
            }
        }
    }

    /// Writes everything queued, blocking (each write bounded by the
    /// socket's write timeout). Used by the connection's own thread before
    /// it closes, so a `BYE` reaches the client.
    pub(crate) fn flush_blocking(&self) {
        let mut writer = self.writer.lock();
        if let Err(error) = self.drain(&mut writer, true) {
            drop(writer);
            self.fail(&error);
        }
    }

    /// Cuts the connection because it cannot keep up (or its socket broke):
    /// drops the queue, sends `BYE` if it can without blocking, and shuts
    /// the socket down so the connection thread disconnects it.
    pub(crate) fn cut(&self, why: Option<&str>) {
        if self.dead.swap(true, Ordering::AcqRel) {
            return;
        }
        self.seal();
        if let Some(why) = why {
            tracing::warn!(conn = self.id, reason = why, "disconnecting slow client");
        }
        while self.rx.try_recv().is_ok() {}
        if let (Some(why), Some(writer)) = (why, self.writer.try_lock())
            && !writer.thread_active
        {
            let unwritten = &writer.buffer[writer.written..];
            // A line cut in the middle gets its own end first, so BYE
            // arrives as a line of its own.
            let cut_line = !unwritten.is_empty()
                && writer.written > 0
                && writer.buffer[writer.written - 1] != b'\n';
            let bye = format!(
                "{}BYE {} {why}\r\n",
                if cut_line { "\r\n" } else { "" },
                ByeReason::Overload.as_str()
            );
            match &self.tls {
                None => {
                    let _ = send_nonblocking(&self.stream, bye.as_bytes());
                }
                // A new record after part of another would garble the
                // stream: only when nothing is half sent.
                Some(session) if unwritten.is_empty() => {
                    let mut record = Vec::new();
                    if let Some(mut session) = session.try_lock() {
                        let _ = session.writer().write_all(bye.as_bytes());
                        let _ = session.write_tls(&mut record);
                    }
                    let _ = send_nonblocking(&self.stream, &record);
                }
                Some(_) => {}
            }
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn fail(&self, error: &io::Error) {
        tracing::debug!(conn = self.id, %error, "write failed");
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                self.cut(Some("write timeout: the client stopped reading"))
            }
            _ => self.cut(None),
        }
    }

    /// Writes the writer's buffer and then the queue, until the queue is
    /// empty, the socket is full (`blocking` false) or an error.
    fn drain(&self, writer: &mut Writer, blocking: bool) -> io::Result<Drain> {
        loop {
            while writer.written < writer.buffer.len() {
                if self.is_dead() {
                    return Err(io::Error::from(io::ErrorKind::BrokenPipe));
                }
                let unwritten = &writer.buffer[writer.written..];
                let result = if blocking {
                    (&*self.stream).write(unwritten)
                } else {
                    send_nonblocking(&self.stream, unwritten)
                };
                match result {
                    Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                    Ok(n) => writer.written += n,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) if !blocking && error.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Drain::Blocked);
                    }
                    Err(error) => return Err(error),
                }
            }
            writer.buffer.clear();
            writer.written = 0;
            if !self.refill(writer) {
                // Freed once drained: an idle connection keeps no buffer
                // (one allocation per flush costs far less than its send).
                writer.buffer = Vec::new();
                return Ok(Drain::Empty);
            }
        }
    }

    /// Moves queued items into the writer's buffer, up to about
    /// [`BATCH_BYTES`]: as they are, or, on a TLS connection, encrypted
    /// (with any record rustls has waiting, such as a handshake reply).
    fn refill(&self, writer: &mut Writer) -> bool {
        let Some(session) = &self.tls else {
            self.take_items(&mut writer.buffer);
            return !writer.buffer.is_empty();
        };
        let mut plain = Vec::new();
        self.take_items(&mut plain);
        let mut session = session.lock();
        if !plain.is_empty() {
            // The session's buffer is unlimited (see `Outbox::new`), so
            // this takes every byte; the records move out just below.
            let _ = session.writer().write_all(&plain);
        }
        while session.wants_write() {
            if session.write_tls(&mut writer.buffer).is_err() {
                break;
            }
        }
        !writer.buffer.is_empty()
    }

    fn take_items(&self, buffer: &mut Vec<u8>) {
        while buffer.len() < BATCH_BYTES {
            let Ok(item) = self.rx.try_recv() else { break };
            self.n_bytes.fetch_sub(item.charge(), Ordering::AcqRel);
            self.n_items.fetch_sub(1, Ordering::AcqRel);
            item.write_to(buffer);
        }
    }

    fn start_writer_thread(self: &Arc<Self>, writer: &mut Writer) {
        let Some(permit) = self.budget.try_acquire() else {
            return self.cut(Some("no writer thread available for a backlogged client"));
        };
        let outbox = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(format!("writer-{}", self.id))
            .stack_size(WRITER_STACK_BYTES)
            .spawn(move || {
                let _permit = permit;
                outbox.write_backlog();
            });
        match spawned {
            Ok(_) => writer.thread_active = true,
            Err(error) => {
                tracing::warn!(conn = self.id, %error, "cannot start a writer thread");
                self.cut(Some("no writer thread available for a backlogged client"));
            }
        }
    }

    /// The writer thread: blocking writes until the backlog is gone.
    fn write_backlog(self: Arc<Self>) {
        let mut writer = self.writer.lock();
        let result = self.drain(&mut writer, true);
        writer.thread_active = false;
        drop(writer);
        match result {
            Ok(_) => self.flush(),
            Err(error) => self.fail(&error),
        }
    }
}

/// How the hub reaches a connection: its outbox, or none for a connection
/// on another node of a cluster (that node delivers its lines).
pub(crate) type Peer = Option<Arc<Outbox>>;

/// Lines queued since the last flush, and the outboxes to flush. Queueing
/// happens under the hub lock (so every connection receives lines in the
/// hub's order) and only moves values; flushing, which formats and writes,
/// happens after the lock is released.
#[derive(Default)]
pub(crate) struct Delivery {
    /// Outboxes queued to since the last flush.
    dirty: Vec<Arc<Outbox>>,
    /// Outboxes whose queue passed a limit while queueing: their
    /// connections take nothing more and must leave the hub at once.
    overflowed: Vec<Arc<Outbox>>,
}

impl Delivery {
    /// Queues the hub's output: the reply as one item to the caller, each
    /// event to its recipients (one shared copy for a room). Connections
    /// this node does not hold (`own` or a peer of `None`) are skipped:
    /// their node delivers to them.
    pub(crate) fn outcome(&mut self, outcome: &mut Outcome<Peer>, own: Option<&Arc<Outbox>>) {
        match own {
            Some(own) => {
                if outcome.offer_echo {
                    self.queue(own, Item::Raw(WILL_ECHO));
                }
                self.reply(own, &mut outcome.reply);
            }
            None => outcome.reply.clear(),
        }
        for (targets, line) in outcome.events.drain(..) {
            match targets {
                Targets::One(Some(outbox)) => self.queue(&outbox, Item::Line(Box::new(line))),
                Targets::One(None) => {}
                Targets::Many(outboxes) => {
                    let line = Arc::new(line);
                    for outbox in outboxes.iter().flatten() {
                        self.queue(outbox, Item::Shared(Arc::clone(&line)));
                    }
                }
            }
        }
        for removed in outcome.closed.iter().flatten() {
            // Its last line (`BYE replaced`) is queued; nothing after it.
            removed.seal();
        }
    }

    /// Moves `lines` into one connection's queue as one item: a single
    /// line as itself (keeping the vector's buffer for reuse), several as
    /// one reply.
    pub(crate) fn reply(&mut self, outbox: &Arc<Outbox>, lines: &mut Vec<ServerLine>) {
        let item = match lines.len() {
            0 => return,
            1 => match lines.pop() {
                Some(line) => Item::Line(Box::new(line)),
                None => return,
            },
            _ => Item::Reply(std::mem::take(lines).into_boxed_slice()),
        };
        self.queue(outbox, item);
    }

    /// Queues one item, remembering the outbox for the next flush.
    pub(crate) fn queue(&mut self, outbox: &Arc<Outbox>, item: Item) {
        if outbox.push(item) {
            self.dirty.push(Arc::clone(outbox));
        }
        if outbox.newly_overflowed() {
            self.overflowed.push(Arc::clone(outbox));
        }
    }

    /// Takes every connection whose queue overflowed while queueing out of
    /// the hub, while its lock is still held: it takes no more lines, so it
    /// must not stay a partner or member whose lines vanish (whoever writes
    /// to it next is answered as if it had gone, and its name is free).
    /// Single-node only: in a cluster, the connection's own departure is
    /// logged instead, so that every node's hub changes alike.
    pub(crate) fn drop_overflowed(&mut self, hub: &mut Hub<Peer>) {
        while let Some(cut) = self.overflowed.pop() {
            let mut gone = Outcome::default();
            hub.disconnect(cut.id(), &mut gone);
            self.outcome(&mut gone, Some(&cut));
        }
    }

    /// Forgets overflows (a cluster node: the connection departs itself).
    pub(crate) fn forget_overflowed(&mut self) {
        self.overflowed.clear();
    }

    /// Writes what was queued, without blocking, spreading a large
    /// fan-out over `pool`'s threads. Call with no lock held.
    pub(crate) fn flush(&mut self, pool: &FanoutPool) {
        if self.dirty.len() < SPREAD_AT {
            // The common case keeps its buffer: no allocation per flush.
            for outbox in self.dirty.drain(..) {
                outbox.flush();
            }
        } else {
            pool.flush(std::mem::take(&mut self.dirty));
        }
    }
}

/// One `send` that never blocks, whatever the socket's mode: the reader
/// thread blocks in `read` on the same socket, so the socket itself stays
/// blocking and each send says `MSG_DONTWAIT`.
fn send_nonblocking(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    SockRef::from(stream).send_with_flags(bytes, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
}
