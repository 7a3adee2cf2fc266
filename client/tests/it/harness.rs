//! Test support: an in-process server on `127.0.0.1:0` that shuts down on
//! drop, a raw TCP peer whose waits time out after 30 s and print the
//! transcript, and scratch directories.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Every wait in these tests gives up after this long.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A running server, stopped (all clients get `BYE`) when dropped.
pub(crate) struct TestServer {
    server: Option<server::Server>,
}

impl TestServer {
    pub(crate) fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let server = server::Server::start(listener, server::Config::default()).expect("start");
        TestServer {
            server: Some(server),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    /// Stops the server now (every client gets `BYE`).
    pub(crate) fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A user speaking the protocol over a raw socket.
pub(crate) struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: Vec<String>,
}

impl Peer {
    /// Connects and takes `name`, waiting for `WELCOME`.
    pub(crate) fn join(addr: SocketAddr, name: &str) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut peer = Peer {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
            transcript: Vec::new(),
        };
        peer.send(name);
        peer.expect(&format!("WELCOME {name}"));
        peer
    }

    pub(crate) fn send(&mut self, line: &str) {
        self.transcript.push(format!("> {line}"));
        write!(self.writer, "{line}\r\n").expect("send");
    }

    /// Reads lines until one starts with `prefix`; returns it.
    pub(crate) fn expect(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(n) if n > 0 => {
                    let line = line.trim_end().to_owned();
                    self.transcript.push(format!("< {line}"));
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                other => panic!(
                    "peer waited for {prefix:?} and got {other:?}; transcript:\n{}",
                    self.transcript.join("\n")
                ),
            }
        }
    }
}

/// A fresh, empty directory under the system's temporary directory.
pub(crate) fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("chinwag-it-{}-{label}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
