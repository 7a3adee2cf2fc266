//! How a connection speaks: plain TCP, or TLS with rustls on the
//! connection's own thread. Kept out of line on purpose: rustls's large
//! locals inlined into the connection's outermost frame cost every
//! connection, TLS or not, a resident stack page (docs/performance.md).

use std::io::{self, Read as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Connection;
use crate::tls::Session;

/// How a connection speaks: in clear, or TLS with this configuration.
pub(crate) enum Transport {
    /// Plain TCP.
    Plain,
    /// TLS; the handshake runs on the connection's own thread.
    Tls(Arc<rustls::ServerConfig>),
}

/// How long a TLS handshake may take when `--name-timeout` is 0 (no
/// limit): a handshake that never ends must still end.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(60);

impl Connection {
    /// The TLS handshake, on a TLS connection, before anything else: with
    /// blocking reads and writes on this connection's own socket, bounded
    /// by the name deadline, so a stalled or bogus handshake holds its
    /// `--max-clients` slot no longer than a silent plain client would.
    #[inline(never)]
    pub(super) fn handshake(&mut self) -> Result<(), &'static str> {
        let Some(session) = &self.tls else {
            return Ok(());
        };
        let deadline = self
            .name_deadline
            .unwrap_or_else(|| Instant::now() + HANDSHAKE_LIMIT);
        let mut session = session.lock();
        while session.is_handshaking() || session.wants_write() {
            if session.wants_write() {
                if session.write_tls(&mut &*self.stream).is_err() {
                    return Err("tls handshake write failed");
                }
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err("tls handshake timeout");
            }
            let _ = self.stream.set_read_timeout(Some(deadline - now));
            match session.read_tls(&mut &*self.stream) {
                Ok(0) => return Err("closed during the tls handshake"),
                Ok(_) => {}
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted => continue,
                    _ => return Err("read error during the tls handshake"),
                },
            }
            if let Err(error) = session.process_new_packets() {
                tracing::debug!(conn = self.id, %error, "tls handshake failed");
                // The alert rustls queued tells the client why.
                let _ = session.write_tls(&mut &*self.stream);
                return Err("tls handshake failed");
            }
        }
        Ok(())
    }

    /// Reads what the client sent: bytes off the socket, or, on a TLS
    /// connection, plaintext, reading and decrypting as much as needed.
    /// `Ok(0)` is the end of the stream.
    pub(super) fn read_some(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self.tls.clone() {
            None => (&*self.stream).read(buffer),
            Some(session) => self.read_tls(&session, buffer),
        }
    }

    /// [`Connection::read_some`] on a TLS connection. Not inlined, like
    /// the handshake: rustls's large locals would otherwise sit in every
    /// connection's outermost frame and cost a plain user a stack page.
    #[inline(never)]
    fn read_tls(&mut self, session: &Session, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            match session.lock().reader().read(buffer) {
                Ok(n_read) => return Ok(n_read),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
            if self.cipher_start == self.cipher_end {
                self.cipher.resize(buffer.len(), 0);
                let n_read = (&*self.stream).read(&mut self.cipher)?;
                if n_read == 0 {
                    return Ok(0);
                }
                (self.cipher_start, self.cipher_end) = (0, n_read);
            }
            let mut session = session.lock();
            let mut unread = &self.cipher[self.cipher_start..self.cipher_end];
            let fed = session.read_tls(&mut unread)?;
            self.cipher_start += fed;
            if fed == 0 {
                // The client sent close_notify: nothing more will come.
                self.cipher_start = self.cipher_end;
            }
            session
                .process_new_packets()
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            let reply_waiting = session.wants_write();
            drop(session);
            if reply_waiting {
                // A record rustls owes the client (a key update, an alert)
                // goes out with the next flush.
                self.outbox.flush();
            }
        }
    }
}

/// A TLS session for a new connection (not inlined: see `read_tls`).
#[inline(never)]
pub(super) fn new_session(config: Arc<rustls::ServerConfig>) -> Result<Session, rustls::Error> {
    Ok(Arc::new(Mutex::new(rustls::ServerConnection::new(config)?)))
}
