//! The phases that bring clients to where a workload measures: connect and
//! register names with a bounded number of handshakes in flight, pair users
//! into chats, and put members into a room. Each is a [`Handler`] run on the
//! shared [`Net`] until done or out of time. They look only at a line's tag,
//! by its bytes, as the event loop hands it over.

use std::time::Instant;

use crate::net::{Handler, Net};

/// Failures of a phase: how many, and the first reason seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failures {
    /// Clients that failed.
    pub(crate) count: usize,
    /// The first reason, for the report.
    pub(crate) first: Option<String>,
}

impl Failures {
    /// Notes one failure of client `who`.
    pub(crate) fn add(&mut self, who: &str, why: &str) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(format!("{who}: {why}"));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    NotStarted,
    Waiting,
    Welcomed,
    Failed,
}

/// Connects one client per name and registers it, at most `concurrency`
/// handshakes at a time. Client `k` gets connection id `base + k`.
#[derive(Debug)]
pub(crate) struct Register {
    names: Vec<String>,
    base: usize,
    next: usize,
    in_flight: usize,
    concurrency: usize,
    states: Vec<Naming>,
    /// Clients whose name was accepted.
    pub(crate) welcomed: usize,
    /// Clients that failed to connect or register, or dropped afterwards.
    pub(crate) failures: Failures,
    /// When the last client was welcomed.
    pub(crate) finished: Option<Instant>,
}

impl Register {
    /// Prepares to register `names` on `net`.
    pub(crate) fn new(net: &Net, names: Vec<String>, concurrency: usize) -> Register {
        let states = vec![Naming::NotStarted; names.len()];
        Register {
            base: net.len(),
            names,
            next: 0,
            in_flight: 0,
            concurrency: concurrency.max(1),
            states,
            welcomed: 0,
            failures: Failures::default(),
            finished: None,
        }
    }

    /// The connection id of the first client.
    pub(crate) fn base(&self) -> usize {
        self.base
    }

    fn index(&self, id: usize) -> Option<usize> {
        id.checked_sub(self.base).filter(|&k| k < self.names.len())
    }

    fn settle(&mut self, k: usize, outcome: Naming, why: &str) {
        if self.states[k] == Naming::Waiting {
            self.in_flight -= 1;
        }
        if outcome == Naming::Failed {
            if self.states[k] == Naming::Welcomed {
                self.welcomed -= 1;
            }
            self.failures.add(&self.names[k], why);
        } else {
            self.welcomed += 1;
            if self.welcomed == self.names.len() {
                self.finished = Some(Instant::now());
            }
        }
        self.states[k] = outcome;
    }
}

impl Handler for Register {
    fn on_line(&mut self, _net: &mut Net, id: usize, line: &[u8]) {
        let Some(k) = self.index(id) else { return };
        if self.states[k] != Naming::Waiting {
            return;
        }
        if line.starts_with(b"WELCOME ") {
            self.settle(k, Naming::Welcomed, "");
        } else if line.starts_with(b"ERR ") || line.starts_with(b"BYE") {
            self.settle(k, Naming::Failed, &String::from_utf8_lossy(line));
        }
    }

    fn on_closed(&mut self, _net: &mut Net, id: usize, why: &str) {
        if let Some(k) = self.index(id)
            && self.states[k] != Naming::Failed
        {
            self.settle(k, Naming::Failed, why);
        }
    }

    fn on_tick(&mut self, net: &mut Net, _now: Instant) -> Option<Instant> {
        while self.in_flight < self.concurrency && self.next < self.names.len() {
            let id = net.connect();
            debug_assert_eq!(id, self.base + self.next);
            // The name may go before HELLO: the server reads it as the
            // first line in the naming state either way.
            let line = format!("{}\n", self.names[self.next]);
            net.send(id, line.as_bytes());
            self.states[self.next] = Naming::Waiting;
            self.in_flight += 1;
            self.next += 1;
        }
        None
    }

    fn is_done(&self) -> bool {
        self.next == self.names.len() && self.in_flight == 0
    }
}

/// Puts registered users into one-to-one chats: users `base + 2i` (named
/// `name_a(i)`) and `base + 2i + 1` (`name_b(i)`); a asks with `/chat`, b
/// answers the `REQUEST` with `/accept`.
#[derive(Debug)]
pub(crate) struct Pairing {
    base: usize,
    names: Vec<(String, String)>,
    sides_ready: Vec<u8>,
    started: bool,
    /// Pairs chatting.
    pub(crate) ready: usize,
    /// Pairs that failed.
    pub(crate) failures: Failures,
}

impl Pairing {
    /// Pairs the users named in `names`, whose connections start at `base`.
    pub(crate) fn new(base: usize, names: Vec<(String, String)>) -> Pairing {
        Pairing {
            base,
            sides_ready: vec![0; names.len()],
            names,
            started: false,
            ready: 0,
            failures: Failures::default(),
        }
    }

    fn locate(&self, id: usize) -> Option<(usize, bool)> {
        let offset = id.checked_sub(self.base)?;
        let pair = offset / 2;
        (pair < self.names.len()).then_some((pair, offset % 2 == 0))
    }
}

impl Handler for Pairing {
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
        let Some((pair, is_a)) = self.locate(id) else {
            return;
        };
        if self.sides_ready[pair] == u8::MAX {
            return;
        }
        if !is_a && line.starts_with(b"REQUEST ") {
            let accept = format!("/accept {}\n", self.names[pair].0);
            net.send(id, accept.as_bytes());
        } else if line.starts_with(b"CHAT ") {
            self.sides_ready[pair] |= if is_a { 1 } else { 2 };
            if self.sides_ready[pair] == 3 {
                self.ready += 1;
            }
        } else if line.starts_with(b"ERR ")
            || line.starts_with(b"DECLINED ")
            || line.starts_with(b"CANCELLED ")
        {
            self.sides_ready[pair] = u8::MAX;
            self.failures
                .add(&self.names[pair].0, &String::from_utf8_lossy(line));
        }
    }

    fn on_closed(&mut self, _net: &mut Net, id: usize, why: &str) {
        if let Some((pair, _)) = self.locate(id)
            && self.sides_ready[pair] != u8::MAX
        {
            if self.sides_ready[pair] == 3 {
                self.ready -= 1;
            }
            self.sides_ready[pair] = u8::MAX;
            self.failures.add(&self.names[pair].0, why);
        }
    }

    fn on_tick(&mut self, net: &mut Net, _now: Instant) -> Option<Instant> {
        if !self.started {
            self.started = true;
            for (pair, (_, b)) in self.names.iter().enumerate() {
                let chat = format!("/chat {b}\n");
                net.send(self.base + 2 * pair, chat.as_bytes());
            }
        }
        None
    }

    fn is_done(&self) -> bool {
        self.started && self.ready + self.failures.count == self.names.len()
    }
}

/// Sends one command on each of `count` connections from `base` and waits
/// for the reply that starts with `expect` (e.g. `/join bench` and
/// `OK join `).
#[derive(Debug)]
pub(crate) struct Command {
    base: usize,
    count: usize,
    /// The line for each connection, or one line for all.
    lines: Vec<String>,
    expect: &'static [u8],
    answered: Vec<bool>,
    started: bool,
    /// Connections that got the expected reply.
    pub(crate) done: usize,
    /// Connections that got an error or closed.
    pub(crate) failures: Failures,
}

impl Command {
    /// Prepares `command` (no line terminator) for connections
    /// `base..base + count`.
    pub(crate) fn new(base: usize, count: usize, command: &str, expect: &'static [u8]) -> Command {
        Command::each(base, count, vec![command.to_owned()], expect)
    }

    /// Like [`Command::new`], with command `commands[k]` for connection
    /// `base + k` (or the only one for all).
    pub(crate) fn each(
        base: usize,
        count: usize,
        commands: Vec<String>,
        expect: &'static [u8],
    ) -> Command {
        Command {
            base,
            count,
            lines: commands.into_iter().map(|c| format!("{c}\n")).collect(),
            expect,
            answered: vec![false; count],
            started: false,
            done: 0,
            failures: Failures::default(),
        }
    }

    fn index(&self, id: usize) -> Option<usize> {
        id.checked_sub(self.base).filter(|&k| k < self.count)
    }
}

impl Handler for Command {
    fn on_line(&mut self, _net: &mut Net, id: usize, line: &[u8]) {
        let Some(k) = self.index(id) else { return };
        if self.answered[k] {
            return;
        }
        if line.starts_with(self.expect) {
            self.answered[k] = true;
            self.done += 1;
        } else if line.starts_with(b"ERR ") || line.starts_with(b"BYE") {
            self.answered[k] = true;
            self.failures
                .add(&format!("client {k}"), &String::from_utf8_lossy(line));
        }
    }

    fn on_closed(&mut self, _net: &mut Net, id: usize, why: &str) {
        if let Some(k) = self.index(id)
            && !self.answered[k]
        {
            self.answered[k] = true;
            self.failures.add(&format!("client {k}"), why);
        }
    }

    fn on_tick(&mut self, net: &mut Net, _now: Instant) -> Option<Instant> {
        if !self.started {
            self.started = true;
            for k in 0..self.count {
                let line = &self.lines[k.min(self.lines.len() - 1)];
                net.send(self.base + k, line.as_bytes());
            }
        }
        None
    }

    fn is_done(&self) -> bool {
        self.started && self.done + self.failures.count == self.count
    }
}
