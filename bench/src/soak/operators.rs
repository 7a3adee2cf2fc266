//! Room operators across clients. Each client knows exactly when it
//! operates a room (it created it, `OK join <room> 1`, or was named by
//! `OP`) until it leaves: a term. Others see who operates a room now and
//! then: `OP`, a `TOPIC` set by the operator, a `KICKED` by it. Every
//! such sighting and every term carries the span of our clock in which
//! the hub made it happen: a line came after the hub handled our last
//! answered line (sent at the span's start) and before we read it (its
//! end); a departure came after we sent it. At the end:
//!
//! - no room has two operators at once: two holders' terms of one room
//!   never surely overlap (from when each read that it operates until it
//!   sent its leaving);
//! - every sighting, and every client's view of who operates its room
//!   when it leaves it, agrees with the holder's own view: the holder has a
//!   term of that room that may cover it (for `OP`, one that may have
//!   begun then), and no other holder surely operated the room all
//!   through it.

use std::collections::HashMap;
use std::time::Instant;

use common::fold;

use crate::clock;

/// A span of our clock: the hub did something between `.0` and `.1`.
pub(crate) type Span = (Instant, Instant);

/// One client's stretch as a room's operator.
#[derive(Debug, Clone)]
pub(crate) struct OpTerm {
    /// The room, folded.
    pub(crate) room: String,
    pub(crate) holder: String,
    /// When the hub made the holder operator.
    pub(crate) start: Span,
    /// When the holder sent what made it leave (`/leave`, `/quit`, or
    /// the last line before its connection ended), if it has.
    pub(crate) end_sent: Option<Instant>,
    /// When it saw that it had left (`OK leave`, the server's close), if
    /// it did.
    pub(crate) end_seen: Option<Instant>,
}

impl OpTerm {
    /// The term, for reports.
    fn show(&self) -> String {
        format!(
            "{} operated it from [{}, {}] until [{}, {}]",
            self.holder,
            clock::at(self.start.0),
            clock::at(self.start.1),
            clock::maybe_at(self.end_sent),
            clock::maybe_at(self.end_seen)
        )
    }

    /// When the holder surely operated the room: from reading it did
    /// until sending its leaving.
    fn sure(&self) -> (Instant, Option<Instant>) {
        (self.start.1, self.end_sent)
    }

    /// Whether the holder may have operated the room at some moment in
    /// `span`.
    fn may_cover(&self, span: Span) -> bool {
        self.start.0 <= span.1 && self.end_seen.is_none_or(|end| end >= span.0)
    }

    /// Whether the hub may have made the holder operator within `span`.
    fn may_begin_in(&self, span: Span) -> bool {
        self.start.0 <= span.1 && self.start.1 >= span.0
    }

    /// Whether the holder surely operated the room all through `span`.
    fn surely_covers(&self, span: Span) -> bool {
        let (from, to) = self.sure();
        from <= span.0 && to.is_none_or(|to| to >= span.1)
    }
}

/// How a client saw who operates its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// `OP <room> <holder>`: it became operator.
    Op,
    /// `TOPIC <room> <holder> …` as an event: it set the topic.
    Topic,
    /// `KICKED <room> <holder> …`: it removed us.
    Kicked,
    /// Our view when we left the room (`OK leave`, or our `/quit`
    /// answered): the operator we last knew of.
    View,
}

/// One client's sighting of another's operating a room.
#[derive(Debug, Clone)]
pub(crate) struct OpSeen {
    /// The room, folded.
    pub(crate) room: String,
    pub(crate) holder: String,
    pub(crate) observer: String,
    pub(crate) how: How,
    pub(crate) span: Span,
}

/// The end checks; `aborted` says whether a name's connection was dropped
/// by us at some point (it may not have read that it operates).
pub(crate) fn check(
    terms: &[OpTerm],
    seen: &[OpSeen],
    aborted: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut by_room: HashMap<&str, Vec<&OpTerm>> = HashMap::new();
    for term in terms {
        by_room.entry(&term.room).or_default().push(term);
    }
    let mut problems = Vec::new();
    for (room, terms) in &by_room {
        for (k, a) in terms.iter().enumerate() {
            for b in &terms[k + 1..] {
                if fold(&a.holder) == fold(&b.holder) {
                    continue;
                }
                let (a_from, a_to) = a.sure();
                let (b_from, b_to) = b.sure();
                let overlap =
                    a_to.is_none_or(|a_to| b_from < a_to) && b_to.is_none_or(|b_to| a_from < b_to);
                if overlap {
                    problems.push(format!(
                        "room {room} had two operators at once: {}; {}",
                        a.show(),
                        b.show()
                    ));
                }
            }
        }
    }
    for sighting in seen {
        let terms = by_room
            .get(sighting.room.as_str())
            .map_or(&[][..], Vec::as_slice);
        let holder = fold(&sighting.holder);
        let (own, others): (Vec<&OpTerm>, Vec<&OpTerm>) = terms
            .iter()
            .copied()
            .partition(|term| fold(&term.holder) == holder);
        let agrees = match sighting.how {
            How::Op => own.iter().any(|term| term.may_begin_in(sighting.span)),
            How::Topic | How::Kicked | How::View => {
                own.iter().any(|term| term.may_cover(sighting.span))
            }
        };
        let what = format!(
            "{} saw {} operate {} ({:?} made in [{}, {}])",
            sighting.observer,
            sighting.holder,
            sighting.room,
            sighting.how,
            clock::at(sighting.span.0),
            clock::at(sighting.span.1)
        );
        if !agrees && !aborted(&sighting.holder) {
            let own: Vec<String> = own.iter().map(|term| term.show()).collect();
            problems.push(format!(
                "{what}, which {} never knew then; its terms there: {own:?}",
                sighting.holder
            ));
        }
        if let Some(other) = others.iter().find(|term| term.surely_covers(sighting.span)) {
            problems.push(format!("{what}, while {}", other.show()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn term(t0: Instant, holder: &str, start: (u64, u64), end: Option<(u64, u64)>) -> OpTerm {
        OpTerm {
            room: "den".into(),
            holder: holder.into(),
            start: (at(t0, start.0), at(t0, start.1)),
            end_sent: end.map(|(sent, _)| at(t0, sent)),
            end_seen: end.map(|(_, seen)| at(t0, seen)),
        }
    }

    fn seen(t0: Instant, holder: &str, how: How, span: (u64, u64)) -> OpSeen {
        OpSeen {
            room: "den".into(),
            holder: holder.into(),
            observer: "cat".into(),
            how,
            span: (at(t0, span.0), at(t0, span.1)),
        }
    }

    #[test]
    fn a_succession_passes_and_two_at_once_or_a_stranger_fail() {
        let t0 = Instant::now();
        // amy created den at 0–10 and left at 100–110; bob took over.
        let terms = [
            term(t0, "amy", (0, 10), Some((100, 110))),
            term(t0, "bob", (95, 115), Some((200, 210))),
        ];
        let good = [
            seen(t0, "amy", How::Topic, (20, 30)),
            seen(t0, "Bob", How::Op, (90, 120)),
            seen(t0, "bob", How::Kicked, (150, 160)),
        ];
        assert_eq!(check(&terms, &good, |_| false), Vec::<String>::new());
        let bad = [
            // bob cannot have become operator long after he did.
            seen(t0, "bob", How::Op, (150, 160)),
            // nobody called zed operated den, and bob surely did then.
            seen(t0, "zed", How::Topic, (150, 160)),
            // bob did not yet, and amy surely did all through 20–30.
            seen(t0, "bob", How::Topic, (20, 30)),
        ];
        assert_eq!(check(&terms, &bad, |_| false).len(), 5);
        // A holder that stopped reading may not know; bob still clashes.
        assert_eq!(check(&terms, &bad[1..2], |name| name == "zed").len(), 1);
        let clash = [
            term(t0, "amy", (0, 10), Some((100, 110))),
            term(t0, "bob", (50, 60), None),
        ];
        assert_eq!(check(&clash, &[], |_| false).len(), 1);
    }
}
