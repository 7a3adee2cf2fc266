//! A user speaking the protocol over a raw socket, as a test's other
//! party: every wait times out after 30 s and prints the transcript.
//! Telnet commands (the echo offers around a password) are removed from
//! what it reads, so lines compare as text.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};

use crate::harness::TIMEOUT;

/// A user speaking the protocol over a raw socket.
pub(crate) struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: Vec<String>,
}

impl Peer {
    /// Connects, without choosing a name.
    pub(crate) fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        Peer {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
            transcript: Vec::new(),
        }
    }

    /// Connects and takes `name`, waiting for `WELCOME`.
    pub(crate) fn join(addr: SocketAddr, name: &str) -> Peer {
        let mut peer = Peer::connect(addr);
        peer.send(name);
        peer.expect(&format!("WELCOME {name}"));
        peer
    }

    /// Connects and signs in to the registered `name`.
    pub(crate) fn sign_in(addr: SocketAddr, name: &str, password: &str) -> Peer {
        let mut peer = Peer::connect(addr);
        peer.send(name);
        peer.expect(&format!("PASSWORD {name}"));
        peer.send(password);
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
            let line = self.line(prefix);
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// The final reply to the last command: reads past prose (`INFO`) and
    /// events until an `OK`, `ERR` or `BYE` line; returns it.
    pub(crate) fn reply(&mut self) -> String {
        loop {
            let line = self.line("a reply");
            if ["OK ", "ERR ", "BYE"].iter().any(|p| line.starts_with(p)) {
                return line;
            }
        }
    }

    /// A barrier: `/ping TOKEN` and its answer, so that every line the
    /// server sent before it has been read.
    pub(crate) fn sync(&mut self, token: &str) {
        self.send(&format!("/ping {token}"));
        self.expect(&format!("OK ping {token}"));
    }

    /// Leaves with `/exit` and waits for `BYE exit`.
    pub(crate) fn exit(mut self) {
        self.send("/exit");
        self.expect("BYE exit");
    }

    /// One line, without its line ending and telnet commands; panics on
    /// the end of the stream or a timeout, naming what it waited for.
    fn line(&mut self, waiting_for: &str) -> String {
        let mut bytes = Vec::new();
        match self.reader.read_until(b'\n', &mut bytes) {
            Ok(n) if n > 0 && bytes.ends_with(b"\n") => {
                let line = String::from_utf8_lossy(&without_telnet(&bytes))
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                self.transcript.push(format!("< {line}"));
                line
            }
            other => panic!(
                "peer waited for {waiting_for:?} and got {other:?}; transcript:\n{}",
                self.transcript.join("\n")
            ),
        }
    }
}

/// `bytes` without telnet commands (`IAC WILL|WONT|DO|DONT x`, `IAC x`).
fn without_telnet(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0xff if bytes.get(i + 1).is_some_and(|b| (0xfb..=0xfe).contains(b)) => i += 3,
            0xff => i += 2,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Registers `name` with `password` from a raw connection, which then
/// leaves: the name is free and registered.
pub(crate) fn register(addr: SocketAddr, name: &str, password: &str) {
    let mut owner = Peer::join(addr, name);
    owner.send(&format!("/register {password}"));
    let answer = owner.reply();
    assert_eq!(
        answer.split(' ').take(3).collect::<Vec<_>>(),
        ["OK", "register", name],
        "{answer}"
    );
    owner.exit();
}
