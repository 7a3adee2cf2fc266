//! One connection's thread: read bytes, decode lines, run each through the
//! hub under the lock, then deliver what the hub produced with no lock held.
//! Outbound queues touched while handling a batch of lines are flushed once,
//! before the next blocking read, so a burst of messages costs one write.
//!
//! Cleanup lives in `Drop`, so a panic in this thread still frees the name
//! and the `--max-clients` slot and tells the partner.

use std::io::{self, Read as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use common::{Decoded, ErrorCode, LineDecoder, OkReply, ServerLine, parse_input};

use crate::flood::FloodGate;
use crate::hub::{ConnId, Outcome, Targets};
use crate::outbox::{Item, Outbox, QueueLimits};
use crate::server::Shared;

/// Read buffer of a quiet connection, on the heap. Small on purpose: one
/// typed line fits, and keeping it off the stack keeps an idle
/// connection's stack at two resident pages (see docs/performance.md).
const SMALL_READ_BYTES: usize = 512;
/// Read buffer while a client streams (a read filled the small one), and
/// shrunk back when the client is quiet again.
const LARGE_READ_BYTES: usize = 64 * 1024;
/// Flush after this many lines even within one read: a 64 KiB read can
/// hold thousands of lines, and holding all their output until the end of
/// the batch could push a partner who reads perfectly well past
/// `--send-queue`.
const LINES_PER_FLUSH: usize = 32;

/// How a connection ends, and why (for the log).
enum Ending {
    /// The server says goodbye: flush what is queued (a `BYE`), then close.
    Graceful(&'static str),
    /// The peer closed, reset, or was cut: just close.
    Abrupt(&'static str),
}

/// Something worth a log line, noted while handling a line and logged once
/// the read is done: the log formatter is the deepest call a connection
/// makes, and logging it from the top of the loop keeps the thread's stack
/// within two resident pages (see ARCHITECTURE.md, "Memory per user").
#[derive(Debug, Clone)]
enum LogNote {
    Named,
    ChatStarted,
    ChatEnded(&'static str),
    JoinedRoom(Arc<str>),
    LeftRoom(Arc<str>),
}

pub(crate) struct Connection {
    id: ConnId,
    shared: Arc<Shared>,
    outbox: Arc<Outbox>,
    flood: FloodGate,
    /// Outboxes this thread queued to since its last flush.
    dirty: Vec<Arc<Outbox>>,
    /// Lines handled since the last flush.
    n_unflushed_lines: usize,
    outcome: Outcome<Arc<Outbox>>,
    /// The user's name once accepted, for the log.
    name: Option<common::Name>,
    /// Log lines to write after the current read.
    log_notes: Vec<LogNote>,
    /// When an unnamed connection is closed (`--name-timeout`, absolute).
    name_deadline: Option<Instant>,
    /// The name deadline passed while a batch of lines was handled.
    timed_out: bool,
    closing: bool,
    departed: bool,
}

/// Runs one connection to its end. Called on the connection's own thread.
pub(crate) fn serve(shared: Arc<Shared>, id: ConnId, stream: TcpStream, addr: SocketAddr) {
    let stream = Arc::new(stream);
    let limits = QueueLimits {
        max_items: shared.config.send_queue,
        max_bytes: shared.config.send_queue_bytes,
    };
    let outbox = Arc::new(Outbox::new(id, stream, limits, Arc::clone(&shared.writers)));
    shared.registry.lock().insert(id, Arc::clone(&outbox));
    shared.hub.lock().connect(id, Arc::clone(&outbox));
    tracing::info!(conn = id, %addr, "connected");
    let flood = FloodGate::new(shared.config.flood_rate, Instant::now());
    let name_deadline = shared
        .config
        .name_timeout
        .map(|timeout| Instant::now() + timeout);
    let mut connection = Connection {
        id,
        shared,
        outbox,
        flood,
        dirty: Vec::new(),
        n_unflushed_lines: 0,
        outcome: Outcome::default(),
        name: None,
        log_notes: Vec::new(),
        name_deadline,
        timed_out: false,
        closing: false,
        departed: false,
    };
    let ending = connection.run();
    let reason = match ending {
        Ending::Graceful(reason) | Ending::Abrupt(reason) => reason,
    };
    connection.depart(reason);
    if let Ending::Graceful(_) = ending {
        connection.outbox.flush_blocking();
    }
    let _ = connection.outbox.stream().shutdown(Shutdown::Both);
}

impl Connection {
    fn run(&mut self) -> Ending {
        let hello = ServerLine::Hello(Arc::from(
            "hello! type a username: 1-24 letters, digits, '_' or '-', starting with a letter or digit",
        ));
        self.reply(&[hello]);
        self.flush_dirty();
        let mut decoder = LineDecoder::new(self.shared.config.max_line);
        let mut buffer = vec![0u8; SMALL_READ_BYTES];
        loop {
            if let (None, Some(deadline)) = (&self.name, self.name_deadline) {
                let now = Instant::now();
                if now >= deadline {
                    self.time_out_naming();
                    return Ending::Graceful("name timeout");
                }
                // Re-armed before every read: the deadline is absolute, so
                // trickling bytes does not extend it.
                let _ = self.outbox.stream().set_read_timeout(Some(deadline - now));
            }
            let n_read = match self.outbox.stream().read(&mut buffer) {
                Ok(0) if self.outbox.is_dead() => return Ending::Abrupt("cut off"),
                Ok(0) if self.shared.is_shutting_down() => return Ending::Graceful("shutdown"),
                // The client may have only half-closed (`nc -N`): it still
                // reads, so what it asked for is flushed before closing.
                Ok(0) => return Ending::Graceful("closed by client"),
                Ok(n_read) => n_read,
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => continue,
                    io::ErrorKind::Interrupted => continue,
                    _ => {
                        tracing::debug!(conn = self.id, %error, "read failed");
                        return Ending::Abrupt("read error");
                    }
                },
            };
            let was_named = self.name.is_some();
            let filled = n_read == buffer.len();
            decoder.feed(&buffer[..n_read], |item| self.on_item(item));
            self.flush_dirty();
            self.write_log();
            if filled && buffer.len() < LARGE_READ_BYTES {
                buffer = vec![0; LARGE_READ_BYTES];
            } else if n_read < SMALL_READ_BYTES && buffer.len() > SMALL_READ_BYTES {
                buffer = vec![0; SMALL_READ_BYTES];
            }
            if self.timed_out {
                return Ending::Graceful("name timeout");
            }
            if self.closing {
                return Ending::Graceful("exit");
            }
            if self.outbox.is_dead() {
                return Ending::Abrupt("cut off");
            }
            if self.shared.is_shutting_down() {
                return Ending::Graceful("shutdown");
            }
            if self.name.is_some() && !was_named {
                let _ = self.outbox.stream().set_read_timeout(None);
            }
        }
    }

    fn on_item(&mut self, item: Decoded<'_>) {
        if self.closing || self.outbox.is_dead() {
            return;
        }
        self.throttle(1.0);
        // The name deadline is absolute: lines read in time but slowed by
        // flood control do not extend it.
        if self.naming_time_is_up() {
            return self.time_out_naming();
        }
        self.n_unflushed_lines += 1;
        if self.n_unflushed_lines >= LINES_PER_FLUSH {
            self.flush_dirty();
        }
        match item {
            Decoded::Line("") => {}
            Decoded::Line(line) => self.on_line(line),
            Decoded::TooLong => self.reply(&[ServerLine::error(ErrorCode::TooLong)]),
            Decoded::BadEncoding => self.reply(&[ServerLine::error(ErrorCode::BadEncoding)]),
            Decoded::Reply(bytes) => queue(&mut self.dirty, &self.outbox, Item::Raw(bytes)),
        }
    }

    fn on_line(&mut self, line: &str) {
        if self.shared.config.fault_injection && line == "/__panic" {
            panic!("fault injected by conn {}", self.id);
        }
        let input = parse_input(line);
        self.outcome.clear();
        let mut hub = self.shared.hub.lock();
        hub.handle(self.id, input, &mut self.outcome);
        let newly_named = if self.name.is_none() {
            hub.name_of(self.id).cloned()
        } else {
            None
        };
        let notes = Notes::of(&self.outcome);
        enqueue(&mut self.outcome, &self.outbox, &mut self.dirty);
        drop(hub);
        if let Some(name) = newly_named {
            self.name = Some(name);
            self.log_notes.push(LogNote::Named);
        }
        self.note(&notes);
        if notes.close {
            self.closing = true;
            self.outbox.seal();
        }
        // /list and /rooms are charged by their size (one line per 100
        // entries), so asking for 10,000 users in a loop is slowed down.
        let extra_cost = (notes.n_reply_lines / 100) as f64;
        if extra_cost > 0.0 {
            self.throttle(extra_cost);
        }
    }

    /// Queues lines for this connection that the hub did not produce.
    fn reply(&mut self, lines: &[ServerLine]) {
        let item = match lines {
            [line] => Item::Line(Box::new(line.clone())),
            lines => Item::Reply(lines.into()),
        };
        queue(&mut self.dirty, &self.outbox, item);
    }

    fn flush_dirty(&mut self) {
        self.n_unflushed_lines = 0;
        for outbox in self.dirty.drain(..) {
            outbox.flush();
        }
    }

    /// Waits as flood control asks, first sending what is queued so the
    /// wait delays only this client's later lines. An unnamed connection
    /// waits no later than its name deadline.
    fn throttle(&mut self, cost: f64) {
        let now = Instant::now();
        let mut wait = self.flood.charge(cost, now);
        if let (None, Some(deadline)) = (&self.name, self.name_deadline) {
            wait = wait.min(deadline.saturating_duration_since(now));
        }
        if !wait.is_zero() {
            self.flush_dirty();
            self.shared.sleep(wait);
        }
    }

    fn naming_time_is_up(&self) -> bool {
        self.name.is_none()
            && self
                .name_deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Says goodbye to a connection that picked no name in time; the rest
    /// of its input is ignored.
    fn time_out_naming(&mut self) {
        self.reply(&[ServerLine::Bye(Arc::from("no username chosen in time"))]);
        self.timed_out = true;
        self.closing = true;
        self.outbox.seal();
    }

    /// Leaves the hub: the name and the slot are freed first, then the
    /// partner, rooms and requesters are told (not during shutdown, when
    /// everyone gets only `BYE`). Runs once, also when unwinding.
    fn depart(&mut self, reason: &str) {
        if self.departed {
            return;
        }
        self.departed = true;
        self.shared.release_slot();
        self.outcome.clear();
        let mut hub = self.shared.hub.lock();
        hub.disconnect(self.id, &mut self.outcome);
        let notes = Notes::of(&self.outcome);
        if !self.shared.is_shutting_down() {
            self.outcome.reply.clear();
            enqueue(&mut self.outcome, &self.outbox, &mut self.dirty);
        }
        drop(hub);
        self.shared.registry.lock().remove(&self.id);
        self.note(&notes);
        self.write_log();
        tracing::info!(conn = self.id, name = ?self.shown_name(), reason, "disconnected");
        self.flush_dirty();
        self.outbox.seal();
    }
}

/// What the log wants to know of an outcome, taken before it is queued.
struct Notes {
    n_reply_lines: usize,
    chat_started: bool,
    chat_ended: Option<&'static str>,
    /// A room this user joined or left by command (`OK join`, `OK leave room`).
    room_joined: Option<Arc<str>>,
    room_left: Option<Arc<str>>,
    close: bool,
}

impl Notes {
    fn of(outcome: &Outcome<Arc<Outbox>>) -> Notes {
        let mut notes = Notes {
            n_reply_lines: outcome.reply.len(),
            chat_started: false,
            chat_ended: None,
            room_joined: None,
            room_left: None,
            close: outcome.close,
        };
        for line in &outcome.reply {
            match line {
                ServerLine::Ok(OkReply::Join(room, _)) => notes.room_joined = Some(room.clone()),
                ServerLine::Ok(OkReply::LeaveRoom(room)) => notes.room_left = Some(room.clone()),
                _ => {}
            }
        }
        for (_, line) in &outcome.events {
            match line {
                ServerLine::Chat(_) => notes.chat_started = true,
                ServerLine::Ended(_, reason) => notes.chat_ended = Some(reason.as_str()),
                _ => {}
            }
        }
        notes
    }
}

/// Queues what the hub produced: the reply as one item to the caller, each
/// event to its recipients (one shared copy for a room). Called with the hub
/// lock held, so every connection receives lines in the hub's order; it
/// only moves values into queues (no formatting, no I/O).
fn enqueue(outcome: &mut Outcome<Arc<Outbox>>, own: &Arc<Outbox>, dirty: &mut Vec<Arc<Outbox>>) {
    match outcome.reply.len() {
        0 => {}
        1 => {
            if let Some(line) = outcome.reply.pop() {
                queue(dirty, own, Item::Line(Box::new(line)));
            }
        }
        _ => queue(
            dirty,
            own,
            Item::Reply(std::mem::take(&mut outcome.reply).into_boxed_slice()),
        ),
    }
    for (targets, line) in outcome.events.drain(..) {
        match targets {
            Targets::One(outbox) => queue(dirty, &outbox, Item::Line(Box::new(line))),
            Targets::Many(outboxes) => {
                let line = Arc::new(line);
                for outbox in &outboxes {
                    queue(dirty, outbox, Item::Shared(Arc::clone(&line)));
                }
            }
        }
    }
}

/// Queues one item, remembering the outbox for the flush after this batch.
fn queue(dirty: &mut Vec<Arc<Outbox>>, outbox: &Arc<Outbox>, item: Item) {
    if outbox.push(item) {
        dirty.push(Arc::clone(outbox));
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.departed {
            // Only reached when the thread unwinds from a panic.
            tracing::error!(conn = self.id, "connection thread panicked; cleaning up");
            self.depart("panic");
            let _ = self.outbox.stream().shutdown(Shutdown::Both);
        }
    }
}

impl Connection {
    fn shown_name(&self) -> &str {
        self.name.as_ref().map_or("-", |name| name.as_str())
    }

    /// Notes chats starting and ending, for [`Connection::write_log`].
    fn note(&mut self, notes: &Notes) {
        if notes.chat_started {
            self.log_notes.push(LogNote::ChatStarted);
        }
        if let Some(reason) = notes.chat_ended {
            self.log_notes.push(LogNote::ChatEnded(reason));
        }
        if let Some(room) = &notes.room_left {
            self.log_notes.push(LogNote::LeftRoom(room.clone()));
        }
        if let Some(room) = &notes.room_joined {
            self.log_notes.push(LogNote::JoinedRoom(room.clone()));
        }
    }

    /// Logs what was noted. User-supplied text is logged with `{:?}`, so
    /// nothing a user types reaches the operator's terminal raw.
    fn write_log(&mut self) {
        let name = self.shown_name();
        for note in &self.log_notes {
            match note {
                LogNote::Named => tracing::info!(conn = self.id, name = ?name, "named"),
                LogNote::ChatStarted => {
                    tracing::info!(conn = self.id, name = ?name, "chat started");
                }
                LogNote::ChatEnded(reason) => {
                    tracing::info!(conn = self.id, name = ?name, reason, "chat ended");
                }
                LogNote::JoinedRoom(room) => {
                    tracing::info!(conn = self.id, name = ?name, room = ?room, "joined room");
                }
                LogNote::LeftRoom(room) => {
                    tracing::info!(conn = self.id, name = ?name, room = ?room, "left room");
                }
            }
        }
        self.log_notes.clear();
    }
}
