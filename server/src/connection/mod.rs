//! One connection's thread: read bytes, decode lines, throttle, run each
//! line through the hub under the lock, and live until the connection ends.
//! What the hub produced is queued under the lock and flushed once per
//! batch, before the next blocking read, so a burst of messages costs one
//! write (see `outbox.rs`, `Delivery`).
//!
//! Cleanup lives in `Drop`, so a panic in this thread still frees the name
//! and the `--max-clients` slot and tells the partner. The TLS handshake and
//! reads are in `transport.rs`; what a connection does differently in a
//! cluster (append to the log and wait, instead of calling the hub) is in
//! `clustered.rs`.

mod clustered;
mod transport;

pub(crate) use transport::Transport;
use transport::new_session;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use common::{
    ByeReason, Command, Decoded, ErrorCode, Input, LineDecoder, Secret, ServerLine, WONT_ECHO,
    parse_input,
};

use crate::cluster::Record;
use crate::flood::{TokenBucket, flood_gate};
use crate::hub::{ConnId, Happening, Hub, Now, Outcome};
use crate::outbox::{Delivery, Item, Outbox, Peer, QueueLimits};
use crate::shared::{Shared, Slot};
use crate::tls::Session;

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
/// `/list` and `/rooms` cost one extra line of flood allowance per this
/// many lines of reply, so asking for 10,000 users in a loop is slowed.
const REPLY_LINES_PER_TOKEN: usize = 100;

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
    /// The socket's read side; the outbox writes to the same descriptor.
    stream: Arc<TcpStream>,
    /// The TLS session, shared with the outbox, on a TLS connection.
    tls: Option<Session>,
    /// Ciphertext read but not yet given to the TLS session: `start..end`
    /// of `cipher` (TLS only; plaintext is drained before more is fed).
    cipher: Vec<u8>,
    cipher_start: usize,
    cipher_end: usize,
    outbox: Arc<Outbox>,
    /// This connection's `--max-clients` place; given back when it departs.
    slot: Option<Slot>,
    flood: TokenBucket,
    delivery: Delivery,
    /// Lines handled since the last flush.
    n_unflushed_lines: usize,
    outcome: Outcome<Peer>,
    /// The user's name once accepted, for the log.
    name: Option<common::Name>,
    /// What the hub did while handling this read, logged once it is done:
    /// the log formatter is the deepest call a connection makes, and
    /// logging from the top of the loop keeps the thread's stack within two
    /// resident pages (see ARCHITECTURE.md, "Memory per user").
    to_log: Vec<Happening>,
    /// When an unnamed connection is closed (`--name-timeout`, absolute).
    name_deadline: Option<Instant>,
    /// The name deadline passed while a batch of lines was handled.
    timed_out: bool,
    /// The server asked for a password: the next line is it, whole.
    awaiting_password: bool,
    /// `IAC WILL ECHO` was sent and not yet taken back.
    echo_offered: bool,
    closing: bool,
    departed: bool,
    /// In a cluster: lines read and not yet appended to the log (a burst
    /// of messages goes as one append; see `submit`).
    pending: Vec<Record>,
    /// In a cluster: the log has this connection's arrival.
    logged: bool,
    /// In a cluster: its arrival was sent to the log (perhaps in vain).
    arrival_sent: bool,
}

/// Runs one connection to its end. Called on the connection's own thread.
pub(crate) fn serve(
    shared: Arc<Shared>,
    slot: Slot,
    id: ConnId,
    stream: TcpStream,
    addr: SocketAddr,
    transport: Transport,
) {
    let Some(mut connection) = Connection::start(shared, slot, id, stream, addr, transport) else {
        return;
    };
    let ending = connection.run();
    let reason = match ending {
        Ending::Graceful(reason) | Ending::Abrupt(reason) => reason,
    };
    connection.depart(reason);
    if let Ending::Graceful(_) = ending {
        connection.outbox.flush_blocking();
    }
    let _ = connection.stream.shutdown(Shutdown::Both);
}

impl Connection {
    /// Sets the connection up: its outbox, its place in the registry and
    /// (on one node) the hub. On the heap and in a frame of its own that
    /// is gone before the first line is read: a connection thread's
    /// deepest call then stays within two stack pages for a user who only
    /// names itself, where an inline `Connection` took a third, 4 KiB per
    /// user (docs/performance.md, memory per user).
    #[inline(never)]
    fn start(
        shared: Arc<Shared>,
        slot: Slot,
        id: ConnId,
        stream: TcpStream,
        addr: SocketAddr,
        transport: Transport,
    ) -> Option<Box<Connection>> {
        let stream = Arc::new(stream);
        let tls = match transport {
            Transport::Plain => None,
            Transport::Tls(config) => match new_session(config) {
                Ok(session) => Some(session),
                Err(error) => {
                    tracing::error!(conn = id, %error, "cannot start a TLS session");
                    return None;
                }
            },
        };
        let limits = QueueLimits {
            max_items: shared.config.send_queue,
            max_bytes: shared.config.send_queue_bytes,
        };
        let outbox = Arc::new(Outbox::new(
            id,
            Arc::clone(&stream),
            tls.clone(),
            limits,
            Arc::clone(&shared.writers),
        ));
        shared.registry.lock().insert(id, Arc::clone(&outbox));
        if shared.cluster.is_none() {
            // In a cluster the arrival is logged with the first line.
            shared.hub.lock().connect(id, Some(Arc::clone(&outbox)));
        }
        tracing::info!(conn = id, %addr, tls = tls.is_some(), "connected");
        let flood = flood_gate(shared.config.flood_rate, Instant::now());
        let name_deadline = shared
            .config
            .name_timeout
            .map(|timeout| Instant::now() + timeout);
        Some(Box::new(Connection {
            id,
            shared,
            stream,
            tls,
            cipher: Vec::new(),
            cipher_start: 0,
            cipher_end: 0,
            outbox,
            slot: Some(slot),
            flood,
            delivery: Delivery::default(),
            n_unflushed_lines: 0,
            outcome: Outcome::default(),
            name: None,
            to_log: Vec::new(),
            name_deadline,
            timed_out: false,
            awaiting_password: false,
            echo_offered: false,
            closing: false,
            departed: false,
            pending: Vec::new(),
            logged: false,
            arrival_sent: false,
        }))
    }

    fn run(&mut self) -> Ending {
        if let Err(why) = self.handshake() {
            return Ending::Abrupt(why);
        }
        let hello = ServerLine::Hello(Arc::from(crate::hub::GREETING));
        self.reply(hello);
        self.flush();
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
                let _ = self.stream.set_read_timeout(Some(deadline - now));
            }
            let n_read = match self.read_some(&mut buffer) {
                Ok(0) if self.outbox.is_dead() => return Ending::Abrupt("cut off"),
                Ok(0) if self.shared.is_shutting_down() => return self.shutdown_ending(),
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
            self.submit_pending();
            self.flush();
            self.write_log();
            if filled && buffer.len() < LARGE_READ_BYTES {
                buffer = vec![0; LARGE_READ_BYTES];
            } else if n_read < SMALL_READ_BYTES && buffer.len() > SMALL_READ_BYTES {
                buffer = vec![0; SMALL_READ_BYTES];
                if self.cipher_start == self.cipher_end {
                    self.cipher = Vec::new();
                }
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
                return self.shutdown_ending();
            }
            if self.name.is_some() && !was_named {
                let _ = self.stream.set_read_timeout(None);
            }
        }
    }

    /// Ends for the server's shutdown. The server says `BYE` to every
    /// connection it finds; one that noticed the shutdown and left first
    /// says it here (only one `BYE` is ever queued).
    fn shutdown_ending(&self) -> Ending {
        self.outbox
            .push_final(Item::Line(Box::new(ServerLine::bye(ByeReason::Shutdown))));
        Ending::Graceful("shutdown")
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
            self.submit_pending();
            self.flush();
        }
        if !matches!(item, Decoded::Line(_)) {
            // What this thread answers by itself comes after the lines
            // before it (in a cluster they may still be on their way).
            self.submit_pending();
        }
        match item {
            Decoded::Line("") => {}
            Decoded::Line(line) => self.on_line(line),
            Decoded::TooLong => self.reply(ServerLine::error(ErrorCode::TooLong)),
            Decoded::BadEncoding => self.reply(ServerLine::error(ErrorCode::BadEncoding)),
            Decoded::Reply(bytes) => self.delivery.queue(&self.outbox, Item::Raw(bytes)),
            // After our own `WILL ECHO`, `DO ECHO` is the client's
            // agreement and must not be answered; otherwise it is a
            // request, refused as every other option is.
            Decoded::DoEcho if self.echo_offered => {}
            Decoded::DoEcho => self.delivery.queue(&self.outbox, Item::Raw(WONT_ECHO)),
        }
    }

    fn on_line(&mut self, line: &str) {
        if self.shared.config.fault_injection && line == "/__panic" {
            panic!("fault injected by conn {}", self.id);
        }
        if let Some(cluster) = self.shared.cluster.clone() {
            return self.on_line_in_cluster(&cluster, line);
        }
        let now = Now::read();
        self.outcome.clear();
        // What the user typed as a password stays on this thread: the hub
        // only says what to check it against.
        let mut typed: Vec<Secret> = Vec::new();
        if self.awaiting_password {
            // The whole line is the password: not parsed, not sanitised.
            self.awaiting_password = false;
            self.end_echo_offer();
            typed.push(Secret::new(line));
            self.call_hub(|hub, id, out| hub.password(id, now, out));
        } else {
            let input = parse_input(line);
            typed.extend(typed_passwords(&input));
            self.call_hub(|hub, id, out| hub.handle(id, input, now, out));
        }
        // Password work: this thread waits for a hashing thread with no
        // lock held; only this client waits for it.
        while let Some(task) = self.outcome.task.take() {
            self.flush();
            let done = self.shared.passwords.run(task, &typed);
            let now = Now::read();
            self.outcome.clear();
            self.call_hub(|hub, id, out| hub.task_done(id, done, now, out));
        }
    }

    /// Calls the hub under the lock and delivers what it produced: lines
    /// queued and writes handed to the store in the hub's order, before
    /// the lock is released; sessions it replaced woken to close after.
    fn call_hub(&mut self, call: impl FnOnce(&mut Hub<Peer>, ConnId, &mut Outcome<Peer>)) {
        let mut hub = self.shared.hub.lock();
        call(&mut hub, self.id, &mut self.outcome);
        let n_reply_lines = self.outcome.reply.len();
        if self.outcome.offer_echo {
            self.echo_offered = true;
        }
        self.delivery.outcome(&mut self.outcome, Some(&self.outbox));
        self.shared.remember(&mut self.outcome.remember);
        self.delivery.drop_overflowed(&mut hub);
        drop(hub);
        for replaced in self.outcome.closed.drain(..).flatten() {
            // Wakes its thread, which flushes its `BYE` and closes.
            replaced.shutdown(Shutdown::Read);
        }
        self.note_happenings();
        if self.outcome.close {
            self.close_after_queued();
        }
        self.charge_reply_lines(n_reply_lines);
    }

    /// Ends the connection once what is queued is out: nothing more is
    /// read or queued.
    fn close_after_queued(&mut self) {
        self.closing = true;
        self.outbox.seal();
    }

    /// Charges a long reply (`/list`, `/rooms`) to flood control.
    fn charge_reply_lines(&mut self, n_reply_lines: usize) {
        let extra_cost = n_reply_lines / REPLY_LINES_PER_TOKEN;
        if extra_cost > 0 {
            self.throttle(extra_cost as f64);
        }
    }

    /// Ends the echo offer made with `PASSWORD`, so a telnet client echoes
    /// what its user types again.
    fn end_echo_offer(&mut self) {
        if self.echo_offered {
            self.echo_offered = false;
            self.delivery.queue(&self.outbox, Item::Raw(WONT_ECHO));
        }
    }

    /// Queues a line for this connection that the hub did not produce.
    fn reply(&mut self, line: ServerLine) {
        self.delivery
            .queue(&self.outbox, Item::Line(Box::new(line)));
    }

    fn flush(&mut self) {
        self.n_unflushed_lines = 0;
        self.delivery.flush(&self.shared.fanout);
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
            self.submit_pending();
            self.flush();
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
        self.end_echo_offer();
        self.reply(ServerLine::bye(ByeReason::Timeout));
        self.timed_out = true;
        self.close_after_queued();
    }

    /// Leaves the hub: the name and the slot are freed first, then the
    /// partner, rooms and requesters are told (not during shutdown, when
    /// everyone gets only `BYE`). Runs once, also when unwinding.
    fn depart(&mut self, reason: &str) {
        if self.departed {
            return;
        }
        self.departed = true;
        drop(self.slot.take());
        self.outcome.clear();
        if let Some(cluster) = self.shared.cluster.clone() {
            self.depart_cluster(&cluster);
        } else {
            let mut hub = self.shared.hub.lock();
            hub.disconnect(self.id, &mut self.outcome);
            if !self.shared.is_shutting_down() {
                self.outcome.reply.clear();
                self.delivery.outcome(&mut self.outcome, Some(&self.outbox));
                self.delivery.drop_overflowed(&mut hub);
            }
            drop(hub);
            self.shared.registry.lock().remove(&self.id);
            self.note_happenings();
        }
        self.write_log();
        tracing::info!(conn = self.id, name = ?self.shown_name(), reason, "disconnected");
        self.flush();
        self.outbox.seal();
    }

    /// Keeps what the hub did for the log, and notices a new name or a
    /// password to come.
    fn note_happenings(&mut self) {
        for happening in self.outcome.happened.drain(..) {
            match &happening {
                Happening::Named(name) => self.name = Some(name.clone()),
                Happening::PasswordAsked(_) => self.awaiting_password = true,
                _ => {}
            }
            self.to_log.push(happening);
        }
    }

    fn shown_name(&self) -> &str {
        self.name.as_ref().map_or("-", |name| name.as_str())
    }

    /// Logs what the hub did. User-supplied text is logged with `{:?}`, so
    /// nothing a user types reaches the operator's terminal raw.
    fn write_log(&mut self) {
        let (conn, name) = (self.id, self.shown_name());
        for happening in &self.to_log {
            match happening {
                Happening::Named(_) => tracing::info!(conn, name = ?name, "named"),
                Happening::ChatStarted(partner) => {
                    tracing::info!(conn, name = ?name, partner = ?partner, "chat started");
                }
                Happening::ChatEnded(partner, reason) => {
                    let reason = reason.as_str();
                    tracing::info!(conn, name = ?name, partner = ?partner, reason, "chat ended");
                }
                Happening::JoinedRoom(room) => {
                    tracing::info!(conn, name = ?name, room = ?room, "joined room");
                }
                Happening::LeftRoom(room, reason) => {
                    let reason = reason.as_str();
                    tracing::info!(conn, name = ?name, room = ?room, reason, "left room");
                }
                Happening::PasswordAsked(account) => {
                    tracing::info!(conn, account = ?account, "password asked");
                }
                Happening::WrongPassword(account) => {
                    tracing::warn!(conn, account = ?account, "wrong password");
                }
                Happening::TookBack(account) => {
                    tracing::info!(conn, account = ?account, "signed in; the old session was replaced");
                }
                Happening::Registered(account) => {
                    tracing::info!(conn, account = ?account, "registered");
                }
                Happening::PasswordChanged(account) => {
                    tracing::info!(conn, account = ?account, "password changed");
                }
                Happening::Unregistered(account) => {
                    tracing::info!(conn, account = ?account, "unregistered");
                }
                Happening::TopicSet(room) => {
                    tracing::info!(conn, name = ?name, room = ?room, "topic set");
                }
                Happening::Kicked(room, whom) => {
                    tracing::info!(conn, name = ?name, room = ?room, whom = ?whom, "kicked");
                }
            }
        }
        self.to_log.clear();
    }
}

/// The passwords a command carries, the one to check first and the new
/// one last.
fn typed_passwords(input: &Input) -> Vec<Secret> {
    match input {
        Input::Command(Ok(Command::Register(password) | Command::Unregister(password))) => {
            vec![password.clone()]
        }
        Input::Command(Ok(Command::Password { old, new })) => vec![old.clone(), new.clone()],
        _ => Vec::new(),
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.departed {
            // Only reached when the thread unwinds from a panic.
            tracing::error!(conn = self.id, "connection thread panicked; cleaning up");
            self.depart("panic");
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }
}
