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

use common::{Decoded, ErrorCode, LineDecoder, ServerLine, parse_input};

use crate::flood::FloodGate;
use crate::hub::{ConnId, Outcome, Targets};
use crate::outbox::{Item, Outbox, QueueLimits};
use crate::server::Shared;

/// Read buffer of a quiet connection: one page, on the thread's stack.
const SMALL_READ_BYTES: usize = 4 * 1024;
/// Read buffer while a client streams (a read filled the small one): on the
/// heap, and freed when the client is quiet again, so idle users keep none.
const LARGE_READ_BYTES: usize = 64 * 1024;

/// How a connection ends, and why (for the log).
enum Ending {
    /// The server says goodbye: flush what is queued (a `BYE`), then close.
    Graceful(&'static str),
    /// The peer closed, reset, or was cut: just close.
    Abrupt(&'static str),
}

pub(crate) struct Connection {
    id: ConnId,
    shared: Arc<Shared>,
    outbox: Arc<Outbox>,
    flood: FloodGate,
    /// Outboxes this thread queued to since its last flush.
    dirty: Vec<Arc<Outbox>>,
    outcome: Outcome<Arc<Outbox>>,
    /// The user's name once accepted, for the log.
    name: Option<common::Name>,
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
    let mut connection = Connection {
        id,
        shared,
        outbox,
        flood,
        dirty: Vec::new(),
        outcome: Outcome::default(),
        name: None,
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
        let deadline = self
            .shared
            .config
            .name_timeout
            .map(|timeout| Instant::now() + timeout);
        let mut small_buffer = [0u8; SMALL_READ_BYTES];
        let mut large_buffer: Vec<u8> = Vec::new();
        loop {
            if let (None, Some(deadline)) = (&self.name, deadline) {
                let now = Instant::now();
                if now >= deadline {
                    self.reply(&[ServerLine::Bye(Arc::from("no username chosen in time"))]);
                    return Ending::Graceful("name timeout");
                }
                // Re-armed before every read: the deadline is absolute, so
                // trickling bytes does not extend it.
                let _ = self.outbox.stream().set_read_timeout(Some(deadline - now));
            }
            let buffer: &mut [u8] = if large_buffer.is_empty() {
                &mut small_buffer
            } else {
                &mut large_buffer
            };
            let n_read = match self.outbox.stream().read(buffer) {
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
            if filled && large_buffer.is_empty() {
                large_buffer = vec![0; LARGE_READ_BYTES];
            } else if !filled && n_read < SMALL_READ_BYTES && !large_buffer.is_empty() {
                large_buffer = Vec::new();
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
        match item {
            Decoded::Line("") => {}
            Decoded::Line(line) => self.on_line(line),
            Decoded::TooLong => self.reply(&[ServerLine::error(ErrorCode::TooLong)]),
            Decoded::BadEncoding => self.reply(&[ServerLine::error(ErrorCode::BadEncoding)]),
            Decoded::Reply(bytes) => self.queue_to_self(Item::Owned(bytes.to_vec())),
        }
    }

    fn on_line(&mut self, line: &str) {
        #[cfg(feature = "fault-injection")]
        if line == "/__panic" {
            panic!("fault injected by conn {}", self.id);
        }
        let input = parse_input(line);
        let mut outcome = std::mem::take(&mut self.outcome);
        outcome.clear();
        let name = {
            let mut hub = self.shared.hub.lock();
            hub.handle(self.id, input, &mut outcome);
            if self.name.is_none() {
                hub.name_of(self.id).cloned()
            } else {
                None
            }
        };
        if let Some(name) = name {
            tracing::info!(conn = self.id, name = ?name.as_str(), "named");
            self.name = Some(name);
        }
        // /list and /rooms are charged by their size (one line per 100
        // entries), so asking for 10,000 users in a loop is slowed down.
        let extra_cost = (outcome.reply.len() / 100) as f64;
        self.deliver(&mut outcome);
        self.outcome = outcome;
        if extra_cost > 0.0 {
            self.throttle(extra_cost);
        }
    }

    /// Formats and queues what the hub produced. Runs with no lock held.
    fn deliver(&mut self, outcome: &mut Outcome<Arc<Outbox>>) {
        if !outcome.reply.is_empty() {
            self.reply(&outcome.reply);
        }
        for (targets, line) in outcome.events.drain(..) {
            self.log_event(&line);
            let mut bytes = Vec::new();
            line.write_to(&mut bytes);
            match targets {
                Targets::One(outbox) => self.queue(outbox, Item::Owned(bytes)),
                Targets::Many(outboxes) => {
                    let shared: Arc<[u8]> = Arc::from(bytes);
                    for outbox in outboxes {
                        self.queue(outbox, Item::Shared(Arc::clone(&shared)));
                    }
                }
            }
        }
        if outcome.close {
            self.closing = true;
            self.outbox.seal();
        }
    }

    /// Queues lines for this connection as one item (one command's reply).
    fn reply(&mut self, lines: &[ServerLine]) {
        let mut bytes = Vec::new();
        for line in lines {
            line.write_to(&mut bytes);
        }
        self.queue_to_self(Item::Owned(bytes));
    }

    fn queue_to_self(&mut self, item: Item) {
        let outbox = Arc::clone(&self.outbox);
        self.queue(outbox, item);
    }

    fn queue(&mut self, outbox: Arc<Outbox>, item: Item) {
        if outbox.push(item) {
            self.dirty.push(outbox);
        }
    }

    fn flush_dirty(&mut self) {
        for outbox in self.dirty.drain(..) {
            outbox.flush();
        }
    }

    /// Waits as flood control asks, first sending what is queued so the
    /// wait delays only this client's later lines.
    fn throttle(&mut self, cost: f64) {
        let wait = self.flood.charge(cost, Instant::now());
        if !wait.is_zero() {
            self.flush_dirty();
            self.shared.sleep(wait);
        }
    }

    /// Leaves the hub: the name and the slot are freed first, then the
    /// partner, rooms and requesters are told (not during shutdown, when
    /// everyone gets only `BYE`). Runs once, also when unwinding.
    fn depart(&mut self, reason: &str) {
        if self.departed {
            return;
        }
        self.departed = true;
        let mut outcome = std::mem::take(&mut self.outcome);
        outcome.clear();
        self.shared.hub.lock().disconnect(self.id, &mut outcome);
        self.shared.registry.lock().remove(&self.id);
        self.shared.release_slot();
        tracing::info!(conn = self.id, name = ?self.shown_name(), reason, "disconnected");
        if !self.shared.is_shutting_down() {
            outcome.reply.clear();
            self.deliver(&mut outcome);
            self.flush_dirty();
        }
        self.outbox.seal();
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

    /// Logs chats starting and ending. User-supplied text is logged with
    /// `{:?}`, so nothing a user types reaches the operator's terminal raw.
    fn log_event(&self, line: &ServerLine) {
        match line {
            ServerLine::Chat(_) => {
                tracing::info!(conn = self.id, name = ?self.shown_name(), "chat started")
            }
            ServerLine::Ended(_, reason) => {
                tracing::info!(conn = self.id, name = ?self.shown_name(), reason = reason.as_str(), "chat ended")
            }
            _ => {}
        }
    }
}
