//! The soak client's side of one TCP connection: blocking reads with a
//! deadline, framed into CRLF lines and the raw telnet refusals the server
//! may put between lines (`IAC WONT x`, `IAC DONT x`). Framing only: what a
//! line says is `common::ServerLine::parse`'s business.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::telnet::IAC;

/// One thing read from the server.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A line without its CRLF.
    Line(String),
    /// A line that did not end in CRLF or was not UTF-8 (a violation).
    Malformed(Vec<u8>),
    /// A raw three-byte telnet command.
    Telnet([u8; 3]),
    /// The server closed the connection (clean FIN).
    Eof,
    /// The connection was reset or failed.
    Failed(io::ErrorKind),
}

/// A connected socket and its unread bytes.
pub(crate) struct Wire {
    stream: TcpStream,
    buffer: Vec<u8>,
    start: usize,
    closed: bool,
}

impl Wire {
    /// Connects with a timeout.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Wire> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        Ok(Wire {
            stream,
            buffer: Vec::with_capacity(8192),
            start: 0,
            closed: false,
        })
    }

    /// Writes all of `bytes`; a failure is returned for the caller to judge.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream
            .set_write_timeout(Some(Duration::from_secs(10)))?;
        self.stream.write_all(bytes)
    }

    /// Half-closes: no more bytes from us, the server's still arrive.
    pub(crate) fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// The next item, or `None` when `until` passes first.
    pub(crate) fn next(&mut self, until: Instant) -> Option<Incoming> {
        loop {
            if let Some(item) = self.take_buffered() {
                return Some(item);
            }
            if self.closed {
                return Some(Incoming::Eof);
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            let wait = (until - now).max(Duration::from_millis(1));
            if let Err(error) = self.stream.set_read_timeout(Some(wait)) {
                return Some(Incoming::Failed(error.kind()));
            }
            if let Some(failure) = self.fill() {
                return Some(failure);
            }
        }
    }

    /// Reads once into the buffer; a hard failure is returned as an item.
    fn fill(&mut self) -> Option<Incoming> {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                None
            }
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                None
            }
            Err(error) => match error.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => None,
                kind => Some(Incoming::Failed(kind)),
            },
        }
    }

    /// A complete item from the buffer, if there is one.
    fn take_buffered(&mut self) -> Option<Incoming> {
        let rest = &self.buffer[self.start..];
        if rest.first() == Some(&IAC) {
            if rest.len() < 3 {
                return self.closed.then(|| self.take_tail());
            }
            let command = [rest[0], rest[1], rest[2]];
            self.start += 3;
            return Some(Incoming::Telnet(command));
        }
        let Some(at) = rest.iter().position(|&b| b == b'\n') else {
            return (self.closed && !rest.is_empty()).then(|| self.take_tail());
        };
        let raw = rest[..at].to_vec();
        self.start += at + 1;
        match raw.strip_suffix(b"\r").map(std::str::from_utf8) {
            Some(Ok(line)) if !line.contains('\r') => Some(Incoming::Line(line.to_owned())),
            _ => Some(Incoming::Malformed(raw)),
        }
    }

    /// Bytes left without a terminator when the server closed.
    fn take_tail(&mut self) -> Incoming {
        let tail = self.buffer[self.start..].to_vec();
        self.start = self.buffer.len();
        Incoming::Malformed(tail)
    }
}
