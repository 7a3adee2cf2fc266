//! A password flood beside another workload (`rate --guessers K`): K
//! connections guess the password of one registered name as fast as the
//! server answers, each guess an Argon2id check (the server runs with
//! `--password-tries 0`); the server closes a connection after its fifth
//! wrong guess (`BYE refused`), and the guesser connects again.

use std::collections::HashMap;
use std::time::Instant;

use crate::flow::Flow;
use crate::net::{Handler, Net};
use crate::setup::Failures;

/// Wrong guesses the server allows one connection; the last gets `BYE`.
const GUESSES_PER_CONNECTION: u32 = 5;

/// K guessers, each on its own connection at a time.
#[derive(Debug)]
pub(crate) struct Guessers {
    victim: String,
    /// Each guesser's connection, and its wrong guesses so far.
    current: Vec<Option<(usize, u32)>>,
    owner: HashMap<usize, usize>,
    running: bool,
    started: Option<Instant>,
    stopped: Option<Instant>,
    /// Wrong guesses answered `ERR bad-password`.
    pub(crate) guesses: u64,
    /// Connections the server closed with `BYE refused`.
    pub(crate) refused: u64,
    /// Anything else: a guesser got another answer or was cut off.
    pub(crate) failures: Failures,
}

impl Guessers {
    /// `count` guessers against the registered name `victim`.
    pub(crate) fn new(victim: &str, count: usize) -> Guessers {
        Guessers {
            victim: victim.to_owned(),
            current: vec![None; count],
            owner: HashMap::new(),
            running: true,
            started: None,
            stopped: None,
            guesses: 0,
            refused: 0,
            failures: Failures::default(),
        }
    }

    /// Whether connection `id` is a guesser's.
    pub(crate) fn owns(&self, id: usize) -> bool {
        self.owner.contains_key(&id)
    }

    /// No more guesses from now on.
    pub(crate) fn stop(&mut self) {
        if self.running {
            self.running = false;
            self.stopped = Some(Instant::now());
        }
    }

    /// Wrong guesses answered per second while the guessers ran.
    pub(crate) fn per_sec(&self) -> f64 {
        let (Some(started), Some(stopped)) = (self.started, self.stopped) else {
            return 0.0;
        };
        self.guesses as f64 / (stopped - started).as_secs_f64().max(1e-9)
    }

    fn connect(&mut self, net: &mut Net, guesser: usize) {
        let conn = net.connect();
        net.send(conn, format!("{}\n", self.victim).as_bytes());
        self.owner.insert(conn, guesser);
        self.current[guesser] = Some((conn, 0));
    }

    /// Ends guesser `guesser`'s connection and opens the next.
    fn reconnect(&mut self, net: &mut Net, guesser: usize) {
        if let Some((conn, _)) = self.current[guesser].take() {
            self.owner.remove(&conn);
            net.close(conn);
        }
        if self.running {
            self.connect(net, guesser);
        }
    }
}

impl Handler for Guessers {
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
        let Some(&guesser) = self.owner.get(&id) else {
            return;
        };
        let Some((conn, wrong)) = self.current[guesser].as_mut() else {
            return;
        };
        if line.starts_with(b"PASSWORD ") {
            if self.running {
                let guess = format!("wrong-guess-{}\n", self.guesses);
                net.send(*conn, guess.as_bytes());
            }
        } else if line.starts_with(b"ERR bad-password") {
            self.guesses += 1;
            *wrong += 1;
            if *wrong < GUESSES_PER_CONNECTION && self.running {
                net.send(*conn, format!("{}\n", self.victim).as_bytes());
            }
        } else if line.starts_with(b"BYE refused") && *wrong == GUESSES_PER_CONNECTION {
            self.refused += 1;
            self.reconnect(net, guesser);
        } else if line.starts_with(b"ERR ") || line.starts_with(b"BYE") {
            let why = String::from_utf8_lossy(line);
            self.failures.add(&format!("guesser {guesser}"), &why);
            self.reconnect(net, guesser);
        }
    }

    fn on_closed(&mut self, net: &mut Net, id: usize, why: &str) {
        if let Some(&guesser) = self.owner.get(&id) {
            self.failures.add(&format!("guesser {guesser}"), why);
            self.reconnect(net, guesser);
        }
    }

    fn on_tick(&mut self, net: &mut Net, now: Instant) -> Option<Instant> {
        if self.started.is_none() {
            self.started = Some(now);
            for guesser in 0..self.current.len() {
                self.connect(net, guesser);
            }
        }
        None
    }

    fn is_done(&self) -> bool {
        !self.running
    }
}

/// A [`Flow`] with [`Guessers`] beside it on the same event loop; done
/// when the flow is, and the guessers stop when the flow stops sending.
pub(crate) struct WithGuessers<'a> {
    pub(crate) flow: &'a mut Flow,
    pub(crate) guessers: &'a mut Guessers,
}

impl Handler for WithGuessers<'_> {
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
        if self.guessers.owns(id) {
            self.guessers.on_line(net, id, line);
        } else {
            self.flow.on_line(net, id, line);
        }
    }

    fn on_closed(&mut self, net: &mut Net, id: usize, why: &str) {
        if self.guessers.owns(id) {
            self.guessers.on_closed(net, id, why);
        } else {
            self.flow.on_closed(net, id, why);
        }
    }

    fn on_tick(&mut self, net: &mut Net, now: Instant) -> Option<Instant> {
        let wake = self.flow.on_tick(net, now);
        self.guessers.on_tick(net, now);
        if !self.flow.is_sending() {
            self.guessers.stop();
        }
        wake
    }

    fn is_done(&self) -> bool {
        self.flow.is_done()
    }
}
