//! The TCP connection: connecting with a deadline, the reader thread that
//! owns the read half and turns bytes into lines, and the write half the
//! main thread sends typed lines through. The reader never touches the
//! terminal; it hands each line to a callback that must not block.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};

/// Longest server line kept, in bytes; the rest of a longer line is
/// dropped. The server never sends more than a few KiB, so this only bounds
/// what a hostile server could make us hold.
const MAX_SERVER_LINE: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the reader thread reports, in order.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// One server line, without its line ending.
    Line(String),
    /// The connection ended: `None` for an orderly close, or the error.
    Closed(Option<io::Error>),
}

/// The write half of the connection.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
}

impl Connection {
    /// Connects to `address` (`HOST:PORT`), trying each resolved address.
    ///
    /// # Errors
    ///
    /// The address does not resolve, or no address accepts the connection.
    pub(crate) fn open(address: &str) -> Result<Connection> {
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
                    return Ok(Connection { stream });
                }
                Err(error) => last_error = Some(error),
            }
        }
        let error = last_error.map_or_else(|| anyhow!("no address found"), anyhow::Error::from);
        Err(error.context(format!(
            "cannot connect to chinwag server at {address}; is chinwagd running?"
        )))
    }

    /// Starts the reader thread, which hands every line, then one
    /// [`Incoming::Closed`], to `handle`. `handle` must never wait for the
    /// terminal: it runs on the thread that drains the socket.
    ///
    /// # Errors
    ///
    /// The socket cannot be cloned or the thread cannot start.
    pub(crate) fn spawn_reader(
        &self,
        handle: impl FnMut(Incoming) + Send + 'static,
    ) -> Result<JoinHandle<()>> {
        let stream = self.stream.try_clone().context("cannot clone the socket")?;
        thread::Builder::new()
            .name("chinwag-reader".to_owned())
            .spawn(move || read_lines(stream, handle))
            .context("cannot start the reader thread")
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
        (&self.stream).write_all(&bytes)
    }

    /// Closes both directions, which also ends the reader thread.
    pub(crate) fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn read_lines(stream: TcpStream, mut handle: impl FnMut(Incoming)) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let result = (&mut reader)
            .take(MAX_SERVER_LINE as u64)
            .read_until(b'\n', &mut buffer);
        match result {
            Ok(0) => {
                handle(Incoming::Closed(None));
                return;
            }
            Ok(_) => {
                if buffer.last() != Some(&b'\n') && buffer.len() >= MAX_SERVER_LINE {
                    // Too long: keep the start, drop the rest of the line.
                    if let Err(error) = skip_line(&mut reader) {
                        handle(Incoming::Closed(Some(error)));
                        return;
                    }
                }
                let text = String::from_utf8_lossy(&buffer);
                let text = text.trim_end_matches('\n').trim_end_matches('\r');
                handle(Incoming::Line(text.to_owned()));
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                handle(Incoming::Closed(Some(error)));
                return;
            }
        }
    }
}

fn skip_line(reader: &mut BufReader<TcpStream>) -> io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        if let Some(end) = available.iter().position(|b| *b == b'\n') {
            reader.consume(end + 1);
            return Ok(());
        }
        let n = available.len();
        reader.consume(n);
    }
}
