//! The connection, plain TCP or TLS: connecting with a deadline (and, for
//! TLS, the handshake and trust on first use), the reader thread that owns
//! reading the socket and turns bytes into lines, and sending typed lines.
//! The reader never touches the terminal; it hands each line to a callback
//! that must not block.
//!
//! Bytes become lines through `common::LineDecoder`, which removes telnet
//! commands (the server sends `IAC WILL ECHO` and `IAC WONT ECHO` around a
//! password prompt) wherever reads split them, frames lines and bounds
//! their length. We never answer telnet negotiation: the offers around a
//! password are the server's own, and we are not a terminal that echoes.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use common::{Decoded, LineDecoder};

use crate::known_servers::KnownServers;
use crate::target::{Target, host_of};
use crate::tls::{self, Channel, Failure, Refusal, Trust};

/// Longest server line kept, in bytes; a longer one is dropped whole. The
/// server never sends more than a few KiB, so this only bounds what a
/// hostile server could make us hold.
const MAX_SERVER_LINE: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing may wait to say goodbye over TLS.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
const READ_BUFFER: usize = 16 * 1024;

/// What the reader thread reports, in order.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// One server line, without its line ending or telnet commands.
    Line(String),
    /// A line that was dropped: it is not UTF-8, or it is far too long.
    Unreadable(Unreadable),
    /// The connection ended: `None` for an orderly close, or the error.
    Closed(Option<io::Error>),
}

/// Why a server line was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    TooLong,
    BadEncoding,
}

/// A server whose certificate the user is asked to trust.
#[derive(Debug)]
pub(crate) struct NewServer<'a> {
    pub(crate) address: &'a str,
    pub(crate) fingerprint: &'a str,
    /// Why the certificate does not verify by itself.
    pub(crate) why: &'a str,
    /// Where the answer will be remembered.
    pub(crate) file: &'a std::path::Path,
}

/// The socket and, for TLS, the session; shared by the reader thread and
/// whoever sends.
#[derive(Debug)]
struct Link {
    socket: TcpStream,
    tls: Option<Channel>,
}

impl Link {
    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        match &self.tls {
            None => (&self.socket).write_all(bytes),
            Some(channel) => channel.send(&self.socket, bytes),
        }
    }
}

/// The connection, for sending; the reader thread has its own handle.
/// Clones share the one connection.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    link: Arc<Link>,
}

/// Why connecting failed.
#[derive(Debug)]
pub(crate) enum Unopened {
    /// Nobody answered, or the handshake broke off: worth another try.
    Unreachable(anyhow::Error),
    /// The server's certificate is not trusted: trying again cannot help.
    Refused(anyhow::Error),
}

impl From<Unopened> for anyhow::Error {
    fn from(unopened: Unopened) -> anyhow::Error {
        match unopened {
            Unopened::Unreachable(error) | Unopened::Refused(error) => error,
        }
    }
}

impl Connection {
    /// Connects to `target`. For TLS, a certificate nobody vouches for is
    /// shown to `ask`, and connecting starts over once it is trusted.
    ///
    /// # Errors
    ///
    /// The address does not resolve, nobody accepts the connection, the
    /// TLS handshake fails, or the certificate is not trusted.
    pub(crate) fn open(
        target: &Target,
        ask: &mut dyn FnMut(&NewServer<'_>) -> Result<bool>,
    ) -> Result<Connection> {
        Ok(Connection::open_or_say_why(target, ask)?)
    }

    /// Connects to `target` again, for a session that lost its connection,
    /// trusting exactly what the first connection trusted: the same
    /// authorities and remembered certificates, a changed certificate
    /// refused as loudly. Nobody can be asked in the middle of a session,
    /// so a certificate never seen is trusted only with `trust_new`.
    ///
    /// # Errors
    ///
    /// As [`Connection::open`], sorted by whether trying again may help.
    pub(crate) fn reopen(target: &Target, trust_new: bool) -> Result<Connection, Unopened> {
        Connection::open_or_say_why(target, &mut |new| {
            if trust_new {
                return Ok(true);
            }
            bail!(
                "{} now shows a certificate that was never trusted ({}); its SHA-256 \
                 fingerprint is {}. not reconnecting: connect again to decide whether to trust it",
                new.address,
                new.why,
                new.fingerprint
            )
        })
    }

    fn open_or_say_why(
        target: &Target,
        ask: &mut dyn FnMut(&NewServer<'_>) -> Result<bool>,
    ) -> Result<Connection, Unopened> {
        let socket = connect(&target.address).map_err(Unopened::Unreachable)?;
        let Some(settings) = &target.tls else {
            return Ok(Connection::over(socket, None));
        };
        let known = match &settings.known_servers {
            Some(path) => KnownServers::load(path).map_err(Unopened::Refused)?,
            None => KnownServers::default(),
        };
        let host = host_of(&target.address).unwrap_or(&target.address);
        let mut trust = Trust {
            server: target.address.to_ascii_lowercase(),
            host: host.to_owned(),
            ca: settings.ca.clone(),
            known,
        };
        match tls::handshake(&socket, &trust) {
            Ok(channel) => Ok(Connection::over(socket, Some(channel))),
            Err(Failure::Failed(error)) => Err(Unopened::Unreachable(error)),
            Err(Failure::Refused(Refusal::Changed { fingerprint, known })) => {
                Err(Unopened::Refused(anyhow!(changed_warning(
                    &target.address,
                    &known.fingerprint,
                    &fingerprint,
                    trust.known.path(),
                    known.line
                ))))
            }
            Err(Failure::Refused(Refusal::Unknown { fingerprint, why })) => {
                drop(socket);
                let Some(file) = settings.known_servers.as_deref() else {
                    return Err(Unopened::Refused(anyhow!(
                        "the server's certificate is not trusted ({why}) and there is nowhere to remember it: set HOME or XDG_DATA_HOME, or use --ca"
                    )));
                };
                let new = NewServer {
                    address: &target.address,
                    fingerprint: &fingerprint,
                    why: &why,
                    file,
                };
                if !ask(&new).map_err(Unopened::Refused)? {
                    return Err(Unopened::Refused(anyhow!(
                        "the server's certificate was not trusted; nothing was sent"
                    )));
                }
                trust
                    .known
                    .remember(&trust.server, &fingerprint)
                    .map_err(Unopened::Refused)?;
                let socket = connect(&target.address).map_err(Unopened::Unreachable)?;
                match tls::handshake(&socket, &trust) {
                    Ok(channel) => Ok(Connection::over(socket, Some(channel))),
                    Err(Failure::Failed(error)) => Err(Unopened::Unreachable(error)),
                    // The server changed its certificate between the two
                    // connections: refuse rather than ask again.
                    Err(Failure::Refused(_)) => Err(Unopened::Refused(anyhow!(
                        "the server showed another certificate on the second connection; refusing"
                    ))),
                }
            }
        }
    }

    fn over(socket: TcpStream, tls: Option<Channel>) -> Connection {
        Connection {
            link: Arc::new(Link { socket, tls }),
        }
    }

    /// Starts the reader thread, which hands every line, then one
    /// [`Incoming::Closed`], to `handle`. `handle` must never wait for the
    /// terminal: it runs on the thread that drains the socket.
    ///
    /// # Errors
    ///
    /// The thread cannot start.
    pub(crate) fn spawn_reader(
        &self,
        handle: impl FnMut(Incoming) + Send + 'static,
    ) -> Result<JoinHandle<()>> {
        let link = Arc::clone(&self.link);
        thread::Builder::new()
            .name("chinwag-reader".to_owned())
            .spawn(move || read_lines(&link, handle))
            .context("cannot start the reader thread")
    }

    /// Reads the connection on this thread until it ends, handing every
    /// line, then one [`Incoming::Closed`], to `handle`, which must never
    /// wait for the terminal.
    pub(crate) fn read(&self, handle: impl FnMut(Incoming)) {
        read_lines(&self.link, handle);
    }

    /// Sends one line (a CRLF is added).
    ///
    /// # Errors
    ///
    /// The connection is broken.
    pub(crate) fn send(&self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.link.send(&bytes)
    }

    /// Sends a password as one line; our copy of the bytes is overwritten
    /// afterwards.
    ///
    /// # Errors
    ///
    /// The connection is broken.
    pub(crate) fn send_secret(&self, secret: &common::Secret) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(secret.expose().len() + 2);
        bytes.extend_from_slice(secret.expose());
        bytes.extend_from_slice(b"\r\n");
        let sent = self.link.send(&bytes);
        bytes.fill(0);
        sent
    }

    /// Closes both directions, which also ends the reader thread.
    pub(crate) fn close(&self) {
        if let Some(channel) = &self.link.tls {
            // The goodbye is best effort: a server that stopped reading
            // must not keep us here.
            let _ = self.link.socket.set_write_timeout(Some(CLOSE_TIMEOUT));
            channel.close(&self.link.socket);
        }
        let _ = self.link.socket.shutdown(Shutdown::Both);
    }
}

/// Connects to `address`, trying each resolved address.
fn connect(address: &str) -> Result<TcpStream> {
    let addresses: Vec<_> = address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {address:?} (expected HOST:PORT)"))?
        .collect();
    let mut last_error = None;
    for candidate in &addresses {
        match TcpStream::connect_timeout(candidate, CONNECT_TIMEOUT) {
            Ok(stream) => {
                // Lines are small and interactive: send each at once.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) => last_error = Some(error),
        }
    }
    let error = last_error.map_or_else(|| anyhow!("no address found"), anyhow::Error::from);
    Err(error.context(format!(
        "cannot connect to chinwag server at {address}; is chinwagd running?"
    )))
}

/// The refusal of a changed certificate, loud as ssh's.
fn changed_warning(
    address: &str,
    known: &str,
    seen: &str,
    file: &std::path::Path,
    line: usize,
) -> String {
    let bar = "@".repeat(64);
    format!(
        "\n{bar}\n@    WARNING: THE SERVER'S CERTIFICATE HAS CHANGED!            @\n{bar}\n\
         someone may be listening in (a man-in-the-middle attack), or the server's\n\
         certificate was replaced. {address} used to show\n  {known}\nand now shows\n  {seen}\n\
         nothing was sent. if you know why it changed, delete line {line} of\n  {}\n\
         and connect again",
        file.display()
    )
}

/// Turns decrypted bytes into [`Incoming`] items.
struct Lines {
    decoder: LineDecoder,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            decoder: LineDecoder::new(MAX_SERVER_LINE),
        }
    }

    fn feed(&mut self, bytes: &[u8], handle: &mut impl FnMut(Incoming)) {
        self.decoder.feed(bytes, |item| match item {
            Decoded::Line(line) => handle(Incoming::Line(line.to_owned())),
            Decoded::TooLong => handle(Incoming::Unreadable(Unreadable::TooLong)),
            Decoded::BadEncoding => handle(Incoming::Unreadable(Unreadable::BadEncoding)),
            // Offers and requests are never answered (see the module docs).
            Decoded::Reply(_) | Decoded::DoEcho => {}
        });
    }
}

fn read_lines(link: &Link, mut handle: impl FnMut(Incoming)) {
    let mut lines = Lines::new();
    let mut buffer = vec![0; READ_BUFFER];
    let mut plain = Vec::new();
    if let Some(channel) = &link.tls {
        // The handshake may have read the server's first lines already.
        match channel.receive(&link.socket, &[], &mut plain) {
            Ok(open) => {
                lines.feed(&plain, &mut handle);
                plain.clear();
                if !open {
                    return handle(Incoming::Closed(None));
                }
            }
            Err(error) => return handle(Incoming::Closed(Some(error))),
        }
    }
    loop {
        let n = match (&link.socket).read(&mut buffer) {
            Ok(0) => return handle(Incoming::Closed(None)),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return handle(Incoming::Closed(Some(error))),
        };
        match &link.tls {
            None => lines.feed(&buffer[..n], &mut handle),
            Some(channel) => {
                let open = match channel.receive(&link.socket, &buffer[..n], &mut plain) {
                    Ok(open) => open,
                    Err(error) => return handle(Incoming::Closed(Some(error))),
                };
                lines.feed(&plain, &mut handle);
                plain.clear();
                if !open {
                    return handle(Incoming::Closed(None));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Line(String),
        Unreadable(Unreadable),
    }

    fn decode(chunks: &[&[u8]]) -> Vec<Seen> {
        let mut lines = Lines::new();
        let mut seen = Vec::new();
        let mut handle = |incoming| match incoming {
            Incoming::Line(line) => seen.push(Seen::Line(line)),
            Incoming::Unreadable(why) => seen.push(Seen::Unreadable(why)),
            Incoming::Closed(_) => unreachable!("the decoder never closes"),
        };
        for chunk in chunks {
            lines.feed(chunk, &mut handle);
        }
        seen
    }

    #[test]
    fn telnet_around_a_password_is_removed_at_every_split() {
        let input: &[u8] = b"HELLO chinwag/2 hi\r\n\xff\xfb\x01PASSWORD alice type it\r\n\
            \xff\xfc\x01WELCOME alice\r\nMSG b caf\xc3\xa9 \xff\xff\r\n\xff\xfd\x06INFO x\r\n";
        let expected = [
            Seen::Line("HELLO chinwag/2 hi".into()),
            Seen::Line("PASSWORD alice type it".into()),
            Seen::Line("WELCOME alice".into()),
            // IAC IAC is a literal 0xFF: not UTF-8, so the line is dropped.
            Seen::Unreadable(Unreadable::BadEncoding),
            Seen::Line("INFO x".into()),
        ];
        assert_eq!(decode(&[input]), expected);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(decode(&[a, b]), expected, "split at {split}");
        }
        for first in 0..input.len() {
            for second in first..=input.len() {
                let chunks = [&input[..first], &input[first..second], &input[second..]];
                assert_eq!(decode(&chunks), expected, "split at {first} and {second}");
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode(&bytes), expected, "byte by byte");
    }

    #[test]
    fn a_huge_line_is_dropped_and_the_next_one_kept() {
        let mut input = vec![b'x'; MAX_SERVER_LINE + 10];
        input.extend_from_slice(b"\r\nOK ping -\r\n");
        assert_eq!(
            decode(&[&input]),
            [
                Seen::Unreadable(Unreadable::TooLong),
                Seen::Line("OK ping -".into())
            ]
        );
    }
}
