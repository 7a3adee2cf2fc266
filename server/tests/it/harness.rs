//! The test harness: starts the real `chinwagd` on `127.0.0.1:0` and gives
//! line-oriented TCP clients whose every read has a deadline. Any failure
//! prints every client's transcript and the server's stderr.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::ServerLine;

/// How long any one expected line (or close) may take to arrive.
pub(crate) const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take to exit after a signal before the test fails.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Transcript entries kept per client (the slow-reader test sends thousands).
const TRANSCRIPT_KEEP: usize = 300;

type Transcript = Arc<Mutex<Vec<String>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread may poison a mutex; the data is still good for
    // a failure report.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Diagnostics shared by a server handle and its clients, so that whoever
/// fails can print the whole picture.
#[derive(Clone, Default)]
struct Diagnostics {
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    transcripts: Arc<Mutex<Vec<(String, Transcript)>>>,
}

impl Diagnostics {
    fn report(&self) -> String {
        let mut out = String::new();
        for (label, transcript) in lock(&self.transcripts).iter() {
            let _ = writeln!(out, "--- transcript of client {label} ---");
            for entry in lock(transcript).iter() {
                let _ = writeln!(out, "  {entry}");
            }
        }
        let _ = writeln!(out, "--- server stdout ---");
        for line in lock(&self.stdout).iter() {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out, "--- server stderr ---");
        out.push_str(&String::from_utf8_lossy(&lock(&self.stderr)));
        out
    }

    fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.report());
    }
}

/// The protocol content of a server line: prose is dropped (`ERR code`,
/// `BYE`, `INFO`, `HELLO chinwag/1`), fields and message text are kept.
///
/// # Errors
///
/// The line is not a well-formed server line.
pub(crate) fn key(line: &str) -> Result<String, common::LineParseError> {
    let none = || Arc::<str>::from("");
    let canonical = match ServerLine::parse(line)? {
        ServerLine::Hello(_) => ServerLine::Hello(none()),
        ServerLine::Info(_) => ServerLine::Info(none()),
        ServerLine::Err(code, _) => ServerLine::Err(code, none()),
        ServerLine::Bye(_) => ServerLine::Bye(none()),
        other => other,
    };
    Ok(canonical.to_string())
}

/// A running `chinwagd` child; sends SIGTERM and reaps it on drop.
pub(crate) struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    diagnostics: Diagnostics,
}

impl Server {
    /// Starts the server with flood control off.
    pub(crate) fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the server with extra flags; `--flood-rate 0` is added unless
    /// `args` sets `--flood-rate`.
    pub(crate) fn start_with(args: &[&str]) -> Server {
        Server::start_on("127.0.0.1:0", args)
    }

    /// Starts the server on an explicit address.
    pub(crate) fn start_on(bind: &str, args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chinwagd"));
        command.args(["--bind", bind]).args(args);
        if !args.contains(&"--flood-rate") {
            command.args(["--flood-rate", "0"]);
        }
        Server::start_command(command)
    }

    /// The address the server is listening on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Panics with `message`, every transcript and the server's stderr.
    pub(crate) fn fail(&self, message: &str) -> ! {
        self.diagnostics.fail(message)
    }

    /// Connects without reading anything.
    pub(crate) fn connect_raw(&self, label: &str) -> Client {
        match TcpStream::connect(self.addr) {
            Ok(stream) => self.client(label, stream),
            Err(e) => self.fail(&format!("{label}: cannot connect: {e}")),
        }
    }

    /// Wraps an already connected stream (for custom socket options).
    pub(crate) fn client(&self, label: &str, stream: TcpStream) -> Client {
        let transcript = Transcript::default();
        lock(&self.diagnostics.transcripts).push((label.to_owned(), Arc::clone(&transcript)));
        let _ = stream.set_nodelay(true);
        Client {
            label: label.to_owned(),
            stream,
            pending: Vec::new(),
            transcript,
            diagnostics: self.diagnostics.clone(),
        }
    }

    /// Connects and reads `HELLO chinwag/1`.
    pub(crate) fn connect(&self, label: &str) -> Client {
        let mut client = self.connect_raw(label);
        client.expect("HELLO chinwag/1");
        client
    }

    /// Connects, picks `name`, checks `WELCOME name` and skips the menu.
    pub(crate) fn login(&self, name: &str) -> Client {
        let mut client = self.connect(name);
        client.send(name);
        client.expect(&format!("WELCOME {name}"));
        client.skip_info();
        client
    }

    /// Logs in `a` and `b` and starts a chat between them.
    pub(crate) fn pair(&self, a: &str, b: &str) -> (Client, Client) {
        let mut ca = self.login(a);
        let mut cb = self.login(b);
        ca.send(&format!("/chat {b}"));
        ca.expect(&format!("OK chat {b}"));
        cb.expect(&format!("REQUEST {a}"));
        cb.send(&format!("/accept {a}"));
        cb.expect_all(&[&format!("CHAT {a}"), &format!("OK accept {a}")]);
        ca.expect(&format!("CHAT {b}"));
        (ca, cb)
    }

    /// Sends a signal (`TERM`, `INT`, ...) to the server process. Uses
    /// kill(1) because the workspace forbids `unsafe` (and so `libc::kill`).
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .args(["-s", name, &pid.to_string()])
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            self.fail(&format!("kill -s {name} {pid} failed: {status:?}"));
        }
    }

    /// Waits for the server to exit, failing after a generous timeout.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        let child = self.child.as_mut().expect("server running");
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return status;
                }
                Ok(None) if Instant::now() < deadline => {
                    // Polling a child for exit has no event to wait on in
                    // std; the deadline, not the sleep, decides the outcome.
                    thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    self.child = None;
                    self.fail(&format!("server did not exit within {EXIT_TIMEOUT:?}"));
                }
                Err(e) => self.fail(&format!("try_wait: {e}")),
            }
        }
    }

    /// Every line the server printed on stdout so far.
    pub(crate) fn stdout_lines(&self) -> Vec<String> {
        lock(&self.diagnostics.stdout).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-s", "TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One TCP connection to the server, with a transcript.
pub(crate) struct Client {
    label: String,
    stream: TcpStream,
    pending: Vec<u8>,
    transcript: Transcript,
    diagnostics: Diagnostics,
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

    /// The underlying stream, for socket options.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
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
    pub(crate) fn try_line(&mut self) -> Option<String> {
        let raw = self.raw_line(Instant::now() + LINE_TIMEOUT)?;
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

    /// `BYE`, then the connection closes.
    pub(crate) fn expect_bye_and_close(&mut self) {
        self.expect("BYE");
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

/// Helpers for the adversarial suite, and the common start.
impl Server {
    /// The path of the `chinwagd` binary under test.
    pub(crate) fn binary() -> &'static str {
        env!("CARGO_BIN_EXE_chinwagd")
    }

    /// Starts the server from a prepared command (for a wrapper such as
    /// `sh -c 'ulimit -n 100; exec chinwagd …'`). The command must run
    /// `chinwagd` with `--bind` and print `listening on` like it; stdio is
    /// set here.
    pub(crate) fn start_command(mut command: Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot spawn the server command");
        let diagnostics = Diagnostics::default();
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&diagnostics.stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                lock(&sink).extend_from_slice(&buf[..n]);
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::clone(&diagnostics.stdout);
        let (first_tx, first_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut first = Some(first_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lock(&lines).push(line.clone());
                if let Some(tx) = first.take() {
                    let _ = tx.send(line);
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            diagnostics,
        };
        let line = match first_rx.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(_) => server.fail("the server printed no `listening on` line"),
        };
        let Some(addr) = line
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
        else {
            server.fail(&format!("unexpected first stdout line {line:?}"))
        };
        server.addr = addr;
        server
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.diagnostics.stderr)).into_owned()
    }
}

impl Client {
    /// This client's label, for messages.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }
}
