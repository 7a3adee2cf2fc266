//! One line-oriented TCP client of the server under test: every read has
//! a deadline, every line is checked to be a well-formed server line, and
//! everything sent and received goes into a transcript for failure reports.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::ServerLine;
use socket2::SockRef;

use super::{Diagnostics, LINE_TIMEOUT, Transcript, key, lock};

/// Transcript entries kept per client (the slow-reader test sends thousands).
const TRANSCRIPT_KEEP: usize = 300;

/// One TCP connection to the server, with a transcript.
pub(crate) struct Client {
    label: String,
    stream: TcpStream,
    pending: Vec<u8>,
    /// The server sent `IAC WILL ECHO` and has not taken it back.
    echo_offered: bool,
    transcript: Transcript,
    diagnostics: Diagnostics,
    /// How long one line may take (`LINE_TIMEOUT` unless a test waits for
    /// something slower by design, such as a node declared gone).
    patience: Duration,
}

fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}… ({} bytes)", text.len())
    }
}

static TOKENS: AtomicU64 = AtomicU64::new(0);

impl Client {
    /// Wraps a connected stream; its transcript joins the server's report.
    pub(super) fn new(label: &str, stream: TcpStream, diagnostics: &Diagnostics) -> Client {
        let transcript = Transcript::default();
        lock(&diagnostics.transcripts).push((label.to_owned(), Arc::clone(&transcript)));
        let _ = stream.set_nodelay(true);
        Client {
            label: label.to_owned(),
            stream,
            pending: Vec::new(),
            echo_offered: false,
            transcript,
            diagnostics: diagnostics.clone(),
            patience: LINE_TIMEOUT,
        }
    }

    /// Waits up to `patience` for each line from now on.
    pub(crate) fn set_patience(&mut self, patience: Duration) {
        self.patience = patience;
    }

    /// This client's label, for messages.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    fn note(&self, entry: String) {
        let mut transcript = lock(&self.transcript);
        if transcript.len() >= TRANSCRIPT_KEEP {
            transcript.remove(0);
        }
        transcript.push(entry);
    }

    /// Panics with `message`, every transcript and the server's stderr.
    pub(crate) fn fail(&self, message: &str) -> ! {
        self.diagnostics
            .fail(&format!("client {}: {message}", self.label))
    }

    /// Sends `line` followed by LF.
    pub(crate) fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send_raw(&bytes);
    }

    /// Sends bytes as they are, in one write.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let shown = String::from_utf8_lossy(bytes);
        self.note(format!("> {}", shorten(&shown.escape_debug().to_string())));
        if let Err(e) = self.stream.write_all(bytes) {
            self.fail(&format!("write failed: {e}"));
        }
    }

    /// Closes the sending direction (TCP FIN) and keeps reading.
    pub(crate) fn shutdown_write(&mut self) {
        self.note("> (shutdown write)".to_owned());
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN.
    pub(crate) fn reset(self) {
        self.note("> (reset)".to_owned());
        SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
        drop(self);
    }

    /// The underlying stream, for socket options.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Bounds every write: a test that pushes megabytes fails instead of
    /// hanging if the server stops reading.
    pub(crate) fn bound_writes(&self) {
        self.stream
            .set_write_timeout(Some(Duration::from_secs(20)))
            .expect("SO_SNDTIMEO");
    }

    /// Reads more bytes into `pending`; `Ok(false)` means EOF or reset.
    fn fill(&mut self, deadline: Instant) -> Result<bool, String> {
        let now = Instant::now();
        if now >= deadline {
            return Err("timed out".to_owned());
        }
        let _ = self.stream.set_read_timeout(Some(deadline - now));
        let mut buf = [0u8; 65536];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err("timed out".to_owned())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(false),
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    /// The next raw line including its terminator, or `None` at EOF.
    fn raw_line(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
                return Some(self.pending.drain(..=at).collect());
            }
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => {
                    if !self.pending.is_empty() {
                        let tail = String::from_utf8_lossy(&self.pending).into_owned();
                        self.fail(&format!("connection closed after a partial line {tail:?}"));
                    }
                    return None;
                }
                Err(e) => self.fail(&format!("{e} waiting for a line")),
            }
        }
    }

    /// The next line without CRLF, checked to end in CRLF, to be UTF-8 (so
    /// it holds no telnet command) and to parse as a server line; `None` at
    /// EOF.
    ///
    /// The only telnet bytes allowed are the echo offer around a password:
    /// `IAC WILL ECHO` right before `PASSWORD`, and `IAC WONT ECHO` (only
    /// after such an offer) at the start of a later line. They are noted in
    /// the transcript and taken off the line.
    pub(crate) fn try_line(&mut self) -> Option<String> {
        let mut raw = self.raw_line(Instant::now() + self.patience)?;
        if raw.starts_with(&common::WONT_ECHO) && self.echo_offered {
            self.note("< IAC WONT ECHO".to_owned());
            self.echo_offered = false;
            raw.drain(..3);
        }
        if raw.starts_with(&common::WILL_ECHO) && raw[3..].starts_with(b"PASSWORD ") {
            self.note("< IAC WILL ECHO".to_owned());
            self.echo_offered = true;
            raw.drain(..3);
        }
        let Ok(text) = String::from_utf8(raw.clone()) else {
            self.note(format!("< (not UTF-8) {raw:?}"));
            self.fail("received a line that is not UTF-8");
        };
        self.note(format!("< {}", shorten(&text.escape_debug().to_string())));
        let Some(line) = text.strip_suffix("\r\n") else {
            self.fail("received a line not ending in CRLF");
        };
        if let Err(e) = ServerLine::parse(line) {
            self.fail(&format!("received a malformed server line: {e}"));
        }
        Some(line.to_owned())
    }

    /// The next line (see [`Client::try_line`]); fails at EOF.
    pub(crate) fn line(&mut self) -> String {
        match self.try_line() {
            Some(line) => line,
            None => self.fail("connection closed while a line was expected"),
        }
    }

    /// Whether the server's echo offer (`IAC WILL ECHO`) is standing.
    pub(crate) fn echo_offered(&self) -> bool {
        self.echo_offered
    }

    /// The protocol content of the next line (see [`key`]).
    pub(crate) fn next_key(&mut self) -> String {
        let line = self.line();
        key(&line).expect("checked by try_line")
    }

    /// The next line's protocol content must be `want`.
    pub(crate) fn expect(&mut self, want: &str) {
        let got = self.next_key();
        if got != want {
            self.fail(&format!(
                "expected {:?}, got {:?}",
                shorten(want),
                shorten(&got)
            ));
        }
    }

    /// The next lines must be exactly `want`, in order.
    pub(crate) fn expect_all(&mut self, want: &[&str]) {
        for line in want {
            self.expect(line);
        }
    }

    /// The protocol content of every line up to and including `last`.
    pub(crate) fn lines_until(&mut self, last: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.next_key();
            let done = line == last;
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Sends `/ping TOKEN` with a fresh token and returns the protocol
    /// content of every line that arrived before `OK ping TOKEN`.
    pub(crate) fn sync(&mut self) -> Vec<String> {
        let token = format!("sync{}", TOKENS.fetch_add(1, Ordering::Relaxed));
        self.send(&format!("/ping {token}"));
        let done = format!("OK ping {token}");
        let mut before = Vec::new();
        loop {
            let got = self.next_key();
            if got == done {
                return before;
            }
            before.push(got);
        }
    }

    /// Nothing is pending for this client: the next line after a `/ping`
    /// barrier is its reply.
    pub(crate) fn quiet(&mut self) {
        let before = self.sync();
        if !before.is_empty() {
            self.fail(&format!("expected no lines, got {before:?}"));
        }
    }

    /// Skips `INFO` lines up to a `/ping` barrier; anything else fails.
    pub(crate) fn skip_info(&mut self) {
        let before = self.sync();
        if let Some(other) = before.iter().find(|k| *k != "INFO") {
            self.fail(&format!("expected only INFO lines, got {other:?}"));
        }
    }

    /// The server must close the connection with nothing more to read.
    pub(crate) fn expect_closed(&mut self) {
        if let Some(line) = self.try_line() {
            self.fail(&format!("expected the connection to close, got {line:?}"));
        }
        self.note("< (closed)".to_owned());
    }

    /// `BYE <reason>`, then the connection closes.
    pub(crate) fn expect_bye_and_close(&mut self, reason: &str) {
        self.expect(&format!("BYE {reason}"));
        self.expect_closed();
    }

    /// Sends `/exit` and reads until `BYE` and the close, skipping any
    /// events queued before the `BYE`.
    pub(crate) fn exit_skipping_events(&mut self) {
        self.send("/exit");
        loop {
            if self.next_key() == "BYE exit" {
                break;
            }
        }
        self.expect_closed();
    }

    /// Exactly these raw bytes arrive next.
    pub(crate) fn expect_bytes(&mut self, want: &[u8]) {
        let deadline = Instant::now() + LINE_TIMEOUT;
        while self.pending.len() < want.len() {
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => self.fail(&format!(
                    "closed while expecting bytes {want:?}, have {:?}",
                    self.pending
                )),
                Err(e) => self.fail(&format!(
                    "{e} expecting bytes {want:?}, have {:?}",
                    self.pending
                )),
            }
        }
        let got: Vec<u8> = self.pending.drain(..want.len()).collect();
        self.note(format!("< (bytes) {got:?}"));
        if got != want {
            self.fail(&format!("expected bytes {want:?}, got {got:?}"));
        }
    }

    /// Reads and discards everything until EOF (or reset); fails if the
    /// connection stays open past the deadline. Returns the bytes read.
    pub(crate) fn drain_to_close(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fill(deadline) {
                Ok(true) => {
                    // Keep memory flat: only the tail matters for reports.
                    let len = self.pending.len();
                    if len > 1 << 20 {
                        self.pending.drain(..len - 4096);
                    }
                }
                Ok(false) => {
                    self.note("< (closed)".to_owned());
                    return std::mem::take(&mut self.pending);
                }
                Err(e) => self.fail(&format!("{e} waiting for the connection to close")),
            }
        }
    }
}

/// Each of `members`, in turn, joins `room` (`OK join room N`, `N` counting
/// up from 1) and every member before it sees `JOINED room name`. Each
/// client's label must be its name, as [`Server::login`] makes it.
///
/// [`Server::login`]: super::Server::login
pub(crate) fn join_room(room: &str, members: &mut [&mut Client]) {
    for n in 0..members.len() {
        let (earlier, rest) = members.split_at_mut(n);
        let joiner = &mut rest[0];
        joiner.send(&format!("/join {room}"));
        joiner.expect(&format!("OK join {room} {}", n + 1));
        let joined = format!("JOINED {room} {}", joiner.label);
        for member in earlier {
            member.expect(&joined);
        }
    }
}
