//! The measuring phase of the message workloads. Closed loop (`pairs`,
//! `rooms`): each stream keeps a window of messages in flight and sends the
//! next one when one has reached every receiver. Open loop (`rate`, `fanout`):
//! messages leave on a fixed schedule whatever the replies, stamped with the
//! scheduled time so a stalled server shows up as latency
//! (coordinated-omission-safe); how late the generator itself was is kept
//! apart as the lag.

use std::time::{Duration, Instant};

use crate::net::{Handler, IoCounters, Net};
use crate::stats::Arrival;
use crate::traffic::{self, Traffic};
use chinwag_bench_lib::own_redis::{StreamCalls, stream_calls};
use chinwag_bench_lib::procfs::{CpuMeter, CpuUse, Watched};

/// How messages are paced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// Closed loop: this many messages in flight per stream.
    Window(u64),
    /// Open loop: this many messages per second over all streams.
    Rate(f64),
}

/// Who receives each stream, and which tracker checks it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Routing {
    /// Stream `d` goes from connection `base + d` to its chat partner
    /// `base + (d ^ 1)`; tracker `d`.
    Pairs {
        /// Id of the first connection.
        base: usize,
    },
    /// Stream `s` goes from connection `base + s` to every other member
    /// of its room, room `s / members`, whose members are connections
    /// `base + room * members ..` (one room when there are no more streams
    /// than members); tracker `s * members + member`.
    Room {
        /// Id of member 0 of room 0.
        base: usize,
        /// Room size.
        members: usize,
    },
}

impl Routing {
    /// Sender connection of each of `streams` streams.
    pub(crate) fn senders(self, streams: usize) -> Vec<usize> {
        let base = match self {
            Routing::Pairs { base } | Routing::Room { base, .. } => base,
        };
        (base..base + streams).collect()
    }

    /// The stream each tracker checks (`None`: unused).
    pub(crate) fn tracker_streams(self, streams: usize) -> Vec<Option<usize>> {
        match self {
            Routing::Pairs { .. } => (0..streams).map(Some).collect(),
            Routing::Room { members, .. } => (0..streams * members)
                .map(|t| ((t / members) % members != t % members).then_some(t / members))
                .collect(),
        }
    }

    /// Receivers per message.
    pub(crate) fn copies(self) -> u64 {
        match self {
            Routing::Pairs { .. } => 1,
            Routing::Room { members, .. } => members as u64 - 1,
        }
    }

    fn tracker(self, id: usize, stream: usize) -> Option<usize> {
        match self {
            Routing::Pairs { base } => (id == base + (stream ^ 1)).then_some(stream),
            Routing::Room { base, members } => {
                let room_base = base + stream / members * members;
                let member = id.checked_sub(room_base).filter(|&m| m < members)?;
                Some(stream * members + member)
            }
        }
    }
}

/// What was measured inside the window.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// CPU of generator and server.
    pub(crate) cpu: CpuUse,
    /// Generator system calls.
    pub(crate) io: IoCounters,
    /// Messages sent.
    pub(crate) sent: u64,
    /// In a cluster: the appends and reads of the log Redis served.
    pub(crate) redis: Option<StreamCalls>,
}

/// The measuring phase as a [`Handler`].
#[derive(Debug)]
pub(crate) struct Flow {
    /// The messages and what arrived.
    pub(crate) traffic: Traffic,
    pace: Pace,
    routing: Routing,
    length: Duration,
    watched: Watched,
    started: Option<(Instant, CpuMeter, IoCounters)>,
    redis_at_start: Option<StreamCalls>,
    end: Option<Instant>,
    sending: bool,
    scheduled: u64,
    /// Closed loop: deliveries still due of each message in flight, at
    /// `stream * window + seq % window`.
    due: Vec<u32>,
    /// Filled in when the window closes.
    pub(crate) window: Option<Window>,
}

impl Flow {
    /// A run of `length` with `streams` streams.
    pub(crate) fn new(
        streams: usize,
        pace: Pace,
        routing: Routing,
        length: Duration,
        watched: Watched,
    ) -> Flow {
        let traffic = Traffic::new(
            routing.senders(streams),
            routing.tracker_streams(streams),
            routing.copies(),
        );
        let slots = match pace {
            Pace::Window(window) => streams * window as usize,
            Pace::Rate(_) => 0,
        };
        Flow {
            traffic,
            pace,
            routing,
            length,
            watched,
            started: None,
            redis_at_start: None,
            end: None,
            sending: true,
            scheduled: 0,
            due: vec![0; slots],
            window: None,
        }
    }

    fn start(&mut self, net: &mut Net, now: Instant) {
        let end = now + self.length;
        self.traffic.set_window(now, end);
        self.end = Some(end);
        self.started = Some((now, CpuMeter::start(&self.watched), net.counters()));
        self.redis_at_start = self.watched.redis_addr.and_then(stream_calls);
        if let Pace::Window(window) = self.pace {
            let now_ns = self.traffic.at_ns(now);
            for stream in 0..self.traffic.streams() {
                for _ in 0..window {
                    self.send_next(net, stream, now_ns);
                }
            }
        }
    }

    /// Closed loop: sends the next message of `stream`, due at every
    /// receiver.
    fn send_next(&mut self, net: &mut Net, stream: usize, now_ns: u64) {
        if let Pace::Window(window) = self.pace {
            let seq = self.traffic.sent(stream);
            self.due[stream * window as usize + (seq % window) as usize] =
                self.routing.copies() as u32;
            self.traffic.send(net, stream, now_ns, now_ns);
        }
    }

    /// Closed loop: one copy of message `seq` of `stream` arrived; true
    /// when it has now reached every receiver. Each receiver gets a
    /// stream in order, so messages complete in order and at most a
    /// window of them is ever due.
    fn completes(&mut self, stream: usize, seq: u64) -> bool {
        let Pace::Window(window) = self.pace else {
            return false;
        };
        let slot = stream * window as usize + (seq % window) as usize;
        match self.due.get_mut(slot) {
            Some(due) if *due > 0 => {
                *due -= 1;
                *due == 0
            }
            _ => false,
        }
    }

    fn stop(&mut self, net: &Net) {
        self.sending = false;
        if let Some((_, cpu, io)) = &self.started {
            let now = net.counters();
            self.window = Some(Window {
                cpu: cpu.stop(),
                io: IoCounters {
                    writes: now.writes - io.writes,
                    bytes_written: now.bytes_written - io.bytes_written,
                    reads: now.reads - io.reads,
                },
                sent: self.traffic.sent_total(),
                redis: self
                    .redis_at_start
                    .zip(self.watched.redis_addr.and_then(stream_calls))
                    .map(|(before, after)| after.since(before)),
            });
        }
    }

    /// Whether the window is still open (messages are still being sent).
    pub(crate) fn is_sending(&self) -> bool {
        self.sending
    }

    /// Sends every message whose time has come; returns the next one's time.
    fn send_scheduled(&mut self, net: &mut Net, rate: f64, now: Instant) -> Option<Instant> {
        let (start, _, _) = self.started.as_ref()?;
        let start_ns = self.traffic.at_ns(*start);
        let now_ns = self.traffic.at_ns(now);
        let length_ns = self.length.as_nanos() as u64;
        let interval_ns = 1e9 / rate;
        loop {
            let offset_ns = (self.scheduled as f64 * interval_ns) as u64;
            if offset_ns >= length_ns {
                return None;
            }
            let due_ns = start_ns + offset_ns;
            if due_ns > now_ns {
                return Some(*start + Duration::from_nanos(offset_ns));
            }
            let stream = (self.scheduled % self.traffic.streams() as u64) as usize;
            self.traffic.send(net, stream, due_ns, now_ns);
            self.traffic.lag.record(now_ns - due_ns);
            self.scheduled += 1;
        }
    }
}

impl Handler for Flow {
    fn on_line(&mut self, net: &mut Net, id: usize, line: &[u8]) {
        // Bytes, not `ServerLine::parse`: this runs for every delivery, and
        // a parse allocates its fields.
        let is_message = line.starts_with(b"MSG ") || line.starts_with(b"ROOM ");
        match traffic::parse(line).filter(|_| is_message) {
            Some(message) => {
                let tracker = self.routing.tracker(id, message.stream);
                let now_ns = self.traffic.now_ns();
                let arrival = self.traffic.record(tracker, message, now_ns);
                let fresh = matches!(arrival, Arrival::New | Arrival::Late);
                if fresh && self.completes(message.stream, message.seq) && self.sending {
                    self.send_next(net, message.stream, now_ns);
                }
            }
            None if traffic::is_trouble(line) => {
                let text = String::from_utf8_lossy(line);
                self.traffic
                    .unexpected
                    .add(&format!("connection {id}"), &text);
            }
            None => {}
        }
    }

    fn on_closed(&mut self, _net: &mut Net, id: usize, why: &str) {
        self.traffic.closed.add(&format!("connection {id}"), why);
    }

    fn on_tick(&mut self, net: &mut Net, now: Instant) -> Option<Instant> {
        if self.started.is_none() {
            self.start(net, now);
        }
        let end = self.end?;
        if !self.sending {
            return None;
        }
        // Messages due before the end still go, even if this turn is late.
        let next = match self.pace {
            Pace::Window(_) => None,
            Pace::Rate(rate) => self.send_scheduled(net, rate, now),
        };
        if now >= end {
            self.stop(net);
            return None;
        }
        Some(next.map_or(end, |next| next.min(end)))
    }

    fn is_done(&self) -> bool {
        !self.sending && self.traffic.outstanding() == 0
    }
}
