//! One connection's reads and writes, in clear or through its rustls
//! session (records read with `read_tls` and taken apart with
//! `process_new_packets`, plaintext queued with `writer()` and sent with
//! `write_tls`), and the removal of the telnet echo offer from line starts.

use std::io::{self, Read as _, Write as _};

use common::{WILL_ECHO, WONT_ECHO};
use mio::net::TcpStream;
use rustls::ClientConnection;

use super::IoCounters;

/// What one read of a connection gave.
pub(super) enum Got {
    /// Plain bytes (0: the server closed).
    Bytes(usize),
    /// TLS records: this much plaintext now in the scratch buffer, and
    /// whether the session has records to send (the handshake's).
    Records { plaintext: usize, reply: bool },
    /// The server closed the TLS connection.
    Eof,
}

/// Reads records from the socket into the session and takes out the
/// plaintext they hold (up to `scratch`'s size; the rest stays in the
/// session for the next turn of the caller's loop).
pub(super) fn read_records(
    stream: &mut TcpStream,
    session: &mut ClientConnection,
    scratch: &mut [u8],
) -> io::Result<Got> {
    let mut plaintext = take_plaintext(session, scratch)?;
    if plaintext == 0 {
        if session.read_tls(stream)? == 0 {
            return Ok(Got::Eof);
        }
        session
            .process_new_packets()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        plaintext = take_plaintext(session, scratch)?;
    }
    Ok(Got::Records {
        plaintext,
        reply: session.wants_write(),
    })
}

/// Plaintext the session holds, into `scratch`; 0 if none.
fn take_plaintext(session: &mut ClientConnection, scratch: &mut [u8]) -> io::Result<usize> {
    match session.reader().read(scratch) {
        // The server's close_notify: what follows is the socket's EOF.
        Ok(n) => Ok(n),
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(error) => Err(error),
    }
}

/// Writes `out[*pos..]` to the socket; `WouldBlock` when it is full.
pub(super) fn write_plain(
    stream: &mut TcpStream,
    out: &[u8],
    pos: &mut usize,
    counters: &mut IoCounters,
) -> io::Result<()> {
    while *pos < out.len() {
        match stream.write(&out[*pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                *pos += n;
                counters.writes += 1;
                counters.bytes_written += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Sends the records the session has waiting; `WouldBlock` when the
/// socket is full (the session keeps the rest).
pub(super) fn write_records(
    stream: &mut TcpStream,
    session: &mut ClientConnection,
    counters: &mut IoCounters,
) -> io::Result<()> {
    while session.wants_write() {
        match session.write_tls(stream) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                counters.writes += 1;
                counters.bytes_written += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `line` without the server's echo offer around a password (`IAC WILL
/// ECHO` before `PASSWORD`, `IAC WONT ECHO` before the line after the
/// password), which arrives at the start of a line's bytes.
pub(super) fn without_echo_offer(mut line: &[u8]) -> &[u8] {
    while let Some(rest) = line
        .strip_prefix(&WILL_ECHO)
        .or_else(|| line.strip_prefix(&WONT_ECHO))
    {
        line = rest;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_offer_is_removed_from_line_starts_only() {
        let mut line = WILL_ECHO.to_vec();
        line.extend_from_slice(b"PASSWORD ann");
        assert_eq!(without_echo_offer(&line), b"PASSWORD ann");
        let mut line = WONT_ECHO.to_vec();
        line.extend_from_slice(b"WELCOME ann");
        assert_eq!(without_echo_offer(&line), b"WELCOME ann");
        let mut inside = b"MSG bob ".to_vec();
        inside.extend_from_slice(&WONT_ECHO);
        assert_eq!(without_echo_offer(&inside), &inside[..]);
        assert_eq!(without_echo_offer(b"OK ping x"), b"OK ping x");
    }
}
