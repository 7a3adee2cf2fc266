//! The client side of every workload: thousands of non-blocking TCP
//! connections driven by one `mio` event loop on one thread, in clear or
//! over TLS (a rustls session per connection, fed with `read_tls` and
//! drained with `write_tls` on the same non-blocking socket). Reads are
//! drained until `WouldBlock` (mio is edge-triggered) and split into lines;
//! the telnet echo offer around a password (`IAC WILL ECHO`, `IAC WONT
//! ECHO`, at the start of a line's bytes) is removed there. Writes are
//! queued per connection and flushed once per loop turn, so several lines
//! ready for one socket leave in one `write` call.
//!
//! Against a cluster the endpoint has one address per node, and
//! connection `k` goes to node `k mod N`: consecutive connections are on
//! different nodes, so the two users of every pair (connections `2i`,
//! `2i + 1` from a base) are split across nodes, and a crowd is spread
//! evenly.

use std::io::{self, Read as _, Write as _};

use self::socket::{Got, read_records, without_echo_offer, write_plain, write_records};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod socket;

use anyhow::Context as _;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::ClientConnection;

use crate::tls::TlsClient;

/// Bytes read from a socket in one `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// What a workload does with the traffic of its connections. Every method
/// gets the [`Net`] so it can queue lines, open or close connections.
pub(crate) trait Handler {
    /// A complete line (terminator removed) arrived on connection `id`.
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]);
    /// Connection `id` closed or failed; `why` says how.
    fn on_closed(&mut self, net: &mut Net, id: usize, why: &str);
    /// Called once per loop turn before polling; returns when it wants to
    /// be called again at the latest (`None`: only on network events).
    fn on_tick(&mut self, _net: &mut Net, _now: Instant) -> Option<Instant> {
        None
    }
    /// True once the phase this handler drives is complete.
    fn is_done(&self) -> bool;
}

/// Counters of the system calls the generator made, to show its batching.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IoCounters {
    /// `write` calls that wrote something.
    pub(crate) writes: u64,
    /// Bytes written.
    pub(crate) bytes_written: u64,
    /// `read` calls that returned data.
    pub(crate) reads: u64,
}

/// Where the connections go, and whether they speak TLS.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The server's address (its TLS listener's, with `tls`); one per node
    /// of a cluster, connection `k` going to `addrs[k % addrs.len()]`.
    pub(crate) addrs: Vec<SocketAddr>,
    /// TLS on every connection, trusting this.
    pub(crate) tls: Option<TlsClient>,
}

/// One client connection.
struct Conn {
    stream: Option<TcpStream>,
    /// The TLS session over `stream`, on a TLS endpoint.
    tls: Option<Box<ClientConnection>>,
    connected: bool,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    queued: bool,
}

/// The event loop and every connection it owns; connections are numbered
/// from 0 in the order they were opened and never renumbered.
pub(crate) struct Net {
    poll: Poll,
    endpoint: Endpoint,
    conns: Vec<Conn>,
    dirty: Vec<usize>,
    closed: Vec<(usize, String)>,
    scratch: Vec<u8>,
    counters: IoCounters,
}

impl Net {
    /// An event loop whose connections go to `endpoint`.
    ///
    /// # Errors
    ///
    /// The `epoll` instance cannot be created.
    pub(crate) fn new(endpoint: Endpoint) -> anyhow::Result<Net> {
        Ok(Net {
            poll: Poll::new().context("cannot create the event loop")?,
            endpoint,
            conns: Vec::new(),
            dirty: Vec::new(),
            closed: Vec::new(),
            scratch: vec![0; READ_CHUNK],
            counters: IoCounters::default(),
        })
    }

    /// The write and read counters so far.
    pub(crate) fn counters(&self) -> IoCounters {
        self.counters
    }

    /// Number of connections ever opened (ids run below this).
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Opens a new connection and returns its id. A connection that fails
    /// at once still gets an id; its failure is reported through
    /// [`Handler::on_closed`] on the next loop turn.
    pub(crate) fn connect(&mut self) -> usize {
        let id = self.conns.len();
        let tls = match self.endpoint.tls.as_ref().map(TlsClient::session) {
            Some(Ok(mut session)) => {
                // The queue before the handshake ends is ours to bound.
                session.set_buffer_limit(None);
                Some(Box::new(session))
            }
            Some(Err(error)) => {
                self.conns.push(Conn::new(None, None));
                self.closed.push((id, format!("tls: {error}")));
                return id;
            }
            None => None,
        };
        let addr = self.endpoint.addrs[node_of(id, self.endpoint.addrs.len())];
        let stream = TcpStream::connect(addr).and_then(|mut stream| {
            stream.set_nodelay(true)?;
            self.poll.registry().register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        let (stream, error) = match stream {
            Ok(stream) => (Some(stream), None),
            Err(error) => (None, Some(format!("connect: {error}"))),
        };
        self.conns.push(Conn::new(stream, tls));
        if let Some(why) = error {
            self.closed.push((id, why));
        }
        id
    }

    /// Queues bytes for connection `id`; they are written at the end of
    /// this loop turn together with everything else queued for it.
    pub(crate) fn send(&mut self, id: usize, bytes: &[u8]) {
        self.buffer(id).extend_from_slice(bytes);
    }

    /// The output buffer of connection `id`, marked for the next flush, for
    /// formatting a line straight into it.
    pub(crate) fn buffer(&mut self, id: usize) -> &mut Vec<u8> {
        let conn = &mut self.conns[id];
        if !conn.queued {
            conn.queued = true;
            self.dirty.push(id);
        }
        &mut conn.out
    }

    /// Closes connection `id` without telling the handler.
    pub(crate) fn close(&mut self, id: usize) {
        if let Some(mut stream) = self.conns[id].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }

    /// Closes every connection.
    pub(crate) fn close_all(&mut self) {
        for id in 0..self.conns.len() {
            self.close(id);
        }
    }

    /// Runs the loop until `handler.is_done()` or `deadline`.
    ///
    /// # Errors
    ///
    /// Polling fails; returns `Ok(false)` when the deadline passed first.
    pub(crate) fn run<H: Handler>(
        &mut self,
        handler: &mut H,
        deadline: Instant,
    ) -> anyhow::Result<bool> {
        let mut events = Events::with_capacity(4096);
        loop {
            let now = Instant::now();
            let wake = handler.on_tick(self, now);
            self.flush();
            self.report_closed(handler);
            if handler.is_done() {
                return Ok(true);
            }
            if now >= deadline {
                return Ok(false);
            }
            let until = wake.map_or(deadline, |wake| wake.min(deadline));
            let timeout = until.saturating_duration_since(now);
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error).context("polling failed"),
            }
            for event in events.iter() {
                let id = event.token().0;
                if event.is_writable() {
                    self.on_writable(id);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.read_all(id, handler);
                }
            }
            self.flush();
            self.report_closed(handler);
        }
    }

    /// Runs the loop for `pause` with `handler` taking whatever arrives
    /// (and ticking), so the clients keep reading while the caller waits.
    ///
    /// # Errors
    ///
    /// As [`Net::run`].
    pub(crate) fn run_for<H: Handler>(
        &mut self,
        handler: &mut H,
        pause: Duration,
    ) -> anyhow::Result<()> {
        struct Pause<'a, H>(&'a mut H, Instant);
        impl<H: Handler> Handler for Pause<'_, H> {
            fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
                self.0.on_line(net, id, line);
            }
            fn on_closed(&mut self, net: &mut Net, id: usize, why: &str) {
                self.0.on_closed(net, id, why);
            }
            fn on_tick(&mut self, net: &mut Net, now: Instant) -> Option<Instant> {
                self.0.on_tick(net, now)
            }
            fn is_done(&self) -> bool {
                Instant::now() >= self.1
            }
        }
        let until = Instant::now() + pause;
        self.run(&mut Pause(handler, until), until).map(drop)
    }

    fn report_closed<H: Handler>(&mut self, handler: &mut H) {
        while let Some((id, why)) = self.closed.pop() {
            self.close(id);
            handler.on_closed(self, id, &why);
        }
    }

    fn fail(&mut self, id: usize, why: String) {
        if self.conns[id].stream.is_some() {
            self.close(id);
            self.closed.push((id, why));
        }
    }

    /// A connect finished (or failed), or a full socket has room again.
    fn on_writable(&mut self, id: usize) {
        let Some(stream) = self.conns[id].stream.as_ref() else {
            return;
        };
        if !self.conns[id].connected {
            match stream.take_error() {
                Ok(Some(error)) | Err(error) => return self.fail(id, format!("connect: {error}")),
                Ok(None) => {}
            }
            match stream.peer_addr() {
                Ok(_) => self.conns[id].connected = true,
                Err(error) if error.kind() == io::ErrorKind::NotConnected => return,
                Err(error) => return self.fail(id, format!("connect: {error}")),
            }
        }
        self.write_out(id);
    }

    fn flush(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            self.conns[id].queued = false;
            self.write_out(id);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Writes what is queued for `id`, normally in one call, until done or
    /// the socket is full (then the writable event resumes it). On TLS the
    /// plaintext moves into the session, which is drained as records.
    fn write_out(&mut self, id: usize) {
        let conn = &mut self.conns[id];
        let Some(stream) = conn.stream.as_mut() else {
            conn.out.clear();
            conn.out_pos = 0;
            return;
        };
        if !conn.connected {
            return;
        }
        let result = match conn.tls.as_deref_mut() {
            None => write_plain(stream, &conn.out, &mut conn.out_pos, &mut self.counters),
            Some(session) => {
                // The session's buffer is unlimited: it takes every byte.
                let _ = session.writer().write_all(&conn.out[conn.out_pos..]);
                conn.out_pos = conn.out.len();
                write_records(stream, session, &mut self.counters)
            }
        };
        match result {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return self.fail(id, format!("write: {error}")),
        }
        let conn = &mut self.conns[id];
        if conn.out_pos == conn.out.len() {
            conn.out.clear();
            conn.out_pos = 0;
        }
    }

    /// Reads until `WouldBlock`, handing every complete line to `handler`.
    fn read_all<H: Handler>(&mut self, id: usize, handler: &mut H) {
        let mut scratch = std::mem::take(&mut self.scratch);
        loop {
            let conn = &mut self.conns[id];
            let Some(stream) = conn.stream.as_mut() else {
                break;
            };
            let read = match conn.tls.as_deref_mut() {
                None => stream.read(&mut scratch).map(Got::Bytes),
                Some(session) => read_records(stream, session, &mut scratch),
            };
            match read {
                Ok(Got::Eof) | Ok(Got::Bytes(0)) => {
                    self.fail(id, "closed by the server".to_owned());
                    break;
                }
                Ok(Got::Bytes(n)) => {
                    self.counters.reads += 1;
                    self.split_lines(id, &scratch[..n], handler);
                }
                Ok(Got::Records { plaintext, reply }) => {
                    self.counters.reads += 1;
                    if plaintext > 0 {
                        self.split_lines(id, &scratch[..plaintext], handler);
                    }
                    if reply {
                        self.write_out(id);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.fail(id, format!("read: {error}"));
                    break;
                }
            }
        }
        self.scratch = scratch;
    }

    /// Appends `chunk` to the connection's partial line and hands out every
    /// complete line; the rest waits for the next read.
    fn split_lines<H: Handler>(&mut self, id: usize, chunk: &[u8], handler: &mut H) {
        let mut pending = std::mem::take(&mut self.conns[id].inbuf);
        let joined = !pending.is_empty();
        if joined {
            pending.extend_from_slice(chunk);
        }
        let data: &[u8] = if joined { &pending } else { chunk };
        let mut start = 0;
        while let Some(offset) = data[start..].iter().position(|&b| b == b'\n') {
            let mut line = &data[start..start + offset];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            handler.on_line(self, id, without_echo_offer(line));
            start += offset + 1;
        }
        if joined {
            pending.drain(..start);
        } else {
            pending.extend_from_slice(&chunk[start..]);
        }
        self.conns[id].inbuf = pending;
    }
}

/// The node connection `id` goes to, of `nodes`: round-robin.
fn node_of(id: usize, nodes: usize) -> usize {
    id % nodes
}

impl Conn {
    fn new(stream: Option<TcpStream>, tls: Option<Box<ClientConnection>>) -> Conn {
        Conn {
            stream,
            tls,
            connected: false,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            queued: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::node_of;

    #[test]
    fn the_two_users_of_every_pair_are_on_different_nodes() {
        for nodes in 2..=5 {
            for base in 0..7 {
                for pair in 0..50 {
                    let a = base + 2 * pair;
                    assert_ne!(node_of(a, nodes), node_of(a + 1, nodes));
                }
            }
        }
        assert!((0..10).all(|id| node_of(id, 1) == 0));
    }
}
