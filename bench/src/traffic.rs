//! Numbered, timestamped messages and their checking at the receiver. A
//! message is the chat line `b STREAM SEQ STAMP`: the stream it belongs to
//! (one sender towards one or more receivers), its sequence number in that
//! stream and its send time (or scheduled send time) in nanoseconds since
//! the run's epoch; the receiver checks the order and takes the latency.

use std::io::Write as _;
use std::time::Instant;

use crate::net::Net;
use crate::setup::Failures;
use crate::stats::{Arrival, Histogram, Integrity, SeqTracker};

/// Messages of many streams, and what their receivers saw.
#[derive(Debug)]
pub(crate) struct Traffic {
    epoch: Instant,
    senders: Vec<usize>,
    sent: Vec<u64>,
    trackers: Vec<SeqTracker>,
    tracker_streams: Vec<Option<usize>>,
    copies: u64,
    window: Option<(u64, u64)>,
    /// Send-to-delivery latency of every delivery.
    pub(crate) latency: Histogram,
    /// Latency from the time the generator really queued each message.
    pub(crate) service: Histogram,
    /// How late the generator sent scheduled messages (open-loop only).
    pub(crate) lag: Histogram,
    /// Deliveries, each message once per receiver.
    pub(crate) delivered: u64,
    /// Deliveries inside the measured window.
    pub(crate) delivered_in_window: u64,
    /// Lines no healthy run produces (`ERR`, `ENDED`, `BYE`…).
    pub(crate) unexpected: Failures,
    /// Connections that closed during the run.
    pub(crate) closed: Failures,
}

impl Traffic {
    /// Streams sent from connections `senders`; tracker `t` checks stream
    /// `tracker_streams[t]` (`None`: unused); each message is delivered
    /// `copies` times.
    pub(crate) fn new(
        senders: Vec<usize>,
        tracker_streams: Vec<Option<usize>>,
        copies: u64,
    ) -> Traffic {
        Traffic {
            epoch: Instant::now(),
            sent: vec![0; senders.len()],
            senders,
            trackers: vec![SeqTracker::default(); tracker_streams.len()],
            tracker_streams,
            copies,
            window: None,
            latency: Histogram::default(),
            service: Histogram::default(),
            lag: Histogram::default(),
            delivered: 0,
            delivered_in_window: 0,
            unexpected: Failures::default(),
            closed: Failures::default(),
        }
    }

    /// Nanoseconds since the epoch.
    pub(crate) fn now_ns(&self) -> u64 {
        self.at_ns(Instant::now())
    }

    /// `instant` in nanoseconds since the epoch.
    pub(crate) fn at_ns(&self, instant: Instant) -> u64 {
        instant.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Deliveries between these two instants count as the measured window.
    pub(crate) fn set_window(&mut self, start: Instant, end: Instant) {
        self.window = Some((self.at_ns(start), self.at_ns(end)));
    }

    /// Number of streams.
    pub(crate) fn streams(&self) -> usize {
        self.senders.len()
    }

    /// Messages sent in `stream`.
    pub(crate) fn sent(&self, stream: usize) -> u64 {
        self.sent[stream]
    }

    /// Messages sent over all streams.
    pub(crate) fn sent_total(&self) -> u64 {
        self.sent.iter().sum()
    }

    /// Deliveries due for the messages sent so far.
    pub(crate) fn expected(&self) -> u64 {
        self.sent_total() * self.copies
    }

    /// Deliveries still expected.
    pub(crate) fn outstanding(&self) -> u64 {
        self.expected().saturating_sub(self.delivered)
    }

    /// Queues the next message of `stream`, due at `stamp_ns` and queued
    /// at `sent_ns`.
    pub(crate) fn send(&mut self, net: &mut Net, stream: usize, stamp_ns: u64, sent_ns: u64) {
        let seq = self.sent[stream];
        self.sent[stream] += 1;
        let buffer = net.buffer(self.senders[stream]);
        // Writing into a Vec cannot fail.
        let _ = writeln!(buffer, "b {stream} {seq} {stamp_ns} {sent_ns}");
    }

    /// Records the arrival of a message of `stream` checked by tracker
    /// `tracker` (`None`: it reached a client that should not get it).
    pub(crate) fn record(
        &mut self,
        tracker: Option<usize>,
        message: Message,
        now_ns: u64,
    ) -> Arrival {
        let valid = tracker.filter(|&t| {
            t < self.trackers.len() && self.tracker_streams[t] == Some(message.stream)
        });
        let Some(tracker) = valid else {
            self.unexpected
                .add("receiver", "a message reached the wrong client");
            return Arrival::Bogus;
        };
        let arrival = self.trackers[tracker].observe(message.seq, self.sent[message.stream]);
        if matches!(arrival, Arrival::New | Arrival::Late) {
            self.delivered += 1;
            self.latency.record(now_ns.saturating_sub(message.stamp_ns));
            self.service.record(now_ns.saturating_sub(message.sent_ns));
            if self
                .window
                .is_some_and(|(start, end)| (start..end).contains(&now_ns))
            {
                self.delivered_in_window += 1;
            }
        }
        arrival
    }

    /// Loss, duplicates and reordering over every stream.
    pub(crate) fn integrity(&self) -> Integrity {
        let mut total = Integrity::default();
        for (tracker, stream) in self.trackers.iter().zip(&self.tracker_streams) {
            if let Some(stream) = *stream {
                total.add(tracker, self.sent[stream]);
            }
        }
        total
    }
}

/// The numbers carried by one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Message {
    /// Its stream.
    pub(crate) stream: usize,
    /// Its place in the stream.
    pub(crate) seq: u64,
    /// When it was due, ns since the epoch.
    pub(crate) stamp_ns: u64,
    /// When it was really queued, ns since the epoch.
    pub(crate) sent_ns: u64,
}

/// Reads the message at the end of a server line (`MSG from b S Q T U`
/// or `ROOM room from b S Q T U`).
pub(crate) fn parse(line: &[u8]) -> Option<Message> {
    let mut fields = line.rsplit(|&b| b == b' ');
    let sent_ns = number(fields.next()?)?;
    let stamp_ns = number(fields.next()?)?;
    let seq = number(fields.next()?)?;
    let stream = usize::try_from(number(fields.next()?)?).ok()?;
    (fields.next()? == b"b").then_some(Message {
        stream,
        seq,
        stamp_ns,
        sent_ns,
    })
}

fn number(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 19 {
        return None;
    }
    field.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Classifies a line that is not a message: `true` if it means the run is
/// broken (an error, a chat or room left, the server closing).
pub(crate) fn is_trouble(line: &[u8]) -> bool {
    [&b"ERR "[..], b"ENDED ", b"PARTED ", b"BYE"]
        .iter()
        .any(|tag| line.starts_with(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_from_both_tags() {
        let expected = Message {
            stream: 3,
            seq: 42,
            stamp_ns: 123_456,
            sent_ns: 123_789,
        };
        assert_eq!(parse(b"MSG p1a b 3 42 123456 123789"), Some(expected));
        assert_eq!(parse(b"ROOM bench f0 b 3 42 123456 123789"), Some(expected));
        assert_eq!(parse(b"MSG p1a hello there"), None);
        assert_eq!(parse(b"MSG p1a x 3 42 123456 123789"), None);
        assert_eq!(parse(b"MSG p1a b 3 42 1 99999999999999999999"), None);
    }
}
