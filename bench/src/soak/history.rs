//! Room history as `/join` shows it. At the join, each `HISTORY` line must
//! name the room joined, carry an intact soak message from its `from`, of
//! the kind it was said as (`msg`, or `action` for `/me`), in each
//! sender's order, at most [`HISTORY_LIMIT`] of them. At the end,
//! against what the senders know the hub took (the ledger): every line was
//! really said in that room; each reply is a window of the room's log, so
//! a sender's lines in it are a run of that sender's messages to the room
//! with none missing that was taken before the join was sent, a reply
//! short of the limit holds every message taken before, and two replies
//! never disagree on which message followed which. A joiner who ignores
//! someone sees none of their lines (checked at the join), so its reply is
//! a window with holes: nothing is asked of the ignored, the reply may be
//! short though the log was full, and it says nothing of neighbours.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::{HistoryKind, HistoryLine};

use crate::payload;

/// Lines of history the soak's server keeps per room (its default,
/// `--history 50`).
pub(crate) const HISTORY_LIMIT: usize = 50;
/// How far a `HISTORY` time stamp may be from our clock.
const CLOCK_SLACK_MS: u64 = 5_000;

/// One `/join` reply's history, for the end checks.
#[derive(Debug)]
pub(crate) struct HistoryReply {
    /// The room, folded.
    pub(crate) room: String,
    pub(crate) joiner: String,
    /// When the joiner sent `/join`.
    pub(crate) join_sent: Instant,
    /// (sender, sequence number) of each line, oldest first.
    pub(crate) entries: Vec<(String, u64)>,
    /// The names (folded) the joiner ignored: their lines are hidden, so
    /// the reply is a window of the room's log with holes.
    pub(crate) ignoring: Vec<String>,
}

/// Checks a `/join` reply's `HISTORY` lines as they arrive, before
/// `OK join <shown>`; returns the entries for the ledger.
///
/// # Errors
///
/// A line that cannot be part of this room's history, or too many.
pub(crate) fn check_reply(
    shown: &str,
    lines: &[HistoryLine],
) -> Result<Vec<(String, u64)>, String> {
    if lines.len() > HISTORY_LIMIT {
        return Err(format!(
            "{} HISTORY lines, more than --history {HISTORY_LIMIT}",
            lines.len()
        ));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let mut entries = Vec::with_capacity(lines.len());
    let mut last_ms = 0;
    let mut last_seq: HashMap<&str, u64> = HashMap::new();
    for line in lines {
        if *line.room != *shown {
            return Err(format!("HISTORY for room {} in /join {shown}", line.room));
        }
        if line.at_ms > now_ms + CLOCK_SLACK_MS || line.at_ms + CLOCK_SLACK_MS < last_ms {
            return Err(format!(
                "HISTORY time {} out of order or in the future (previous {last_ms}, now {now_ms})",
                line.at_ms
            ));
        }
        last_ms = last_ms.max(line.at_ms);
        let received =
            payload::check_received(&line.text).map_err(|why| format!("HISTORY: {why}"))?;
        if received.sender != &*line.from {
            return Err(format!(
                "HISTORY from {} carries a message of {}",
                line.from, received.sender
            ));
        }
        if received.action != (line.kind == HistoryKind::Action) {
            return Err(format!(
                "HISTORY of kind {:?} carries {}'s {} {}",
                line.kind,
                line.from,
                if received.action { "action" } else { "message" },
                received.seq
            ));
        }
        let last = last_seq.entry(&line.from).or_default();
        if received.seq <= *last {
            return Err(format!(
                "HISTORY has {}'s message {} after {}",
                line.from, received.seq, *last
            ));
        }
        *last = received.seq;
        entries.push((line.from.to_string(), received.seq));
    }
    Ok(entries)
}

/// What the senders know the hub took in rooms (the ledger's records).
pub(crate) struct Said<'a> {
    /// Messages of each (sender, folded room, membership).
    pub(crate) room_sent: &'a HashMap<(String, String, u32), Vec<u64>>,
    /// The membership each (sender, seq) was taken in.
    pub(crate) seq_membership: &'a HashMap<(String, u64), (String, u32)>,
    /// When the sender knew each was taken.
    pub(crate) confirmed: &'a HashMap<(String, u64), Instant>,
}

/// A message: its sender and sequence number.
type Key = (String, u64);
/// Each room's senders (folded room, then sender) with their messages to
/// it, oldest first, and when each sender knew the hub had taken it.
type ByRoom<'a> = HashMap<&'a str, HashMap<&'a str, Vec<(u64, Instant)>>>;

/// The end checks of every `/join` reply; returns the problems found.
pub(crate) fn check(replies: &[HistoryReply], said: &Said<'_>) -> Vec<String> {
    let mut by_room: ByRoom<'_> = HashMap::new();
    for ((sender, room, _), seqs) in said.room_sent {
        let list = by_room.entry(room).or_default().entry(sender).or_default();
        for &seq in seqs {
            if let Some(&at) = said.confirmed.get(&(sender.clone(), seq)) {
                list.push((seq, at));
            }
        }
    }
    for list in by_room.values_mut().flat_map(HashMap::values_mut) {
        list.sort_unstable_by_key(|&(seq, _)| seq);
    }
    let no_senders = HashMap::new();
    let mut problems = Vec::new();
    let mut next: HashMap<(&str, &Key), &Key> = HashMap::new();
    let mut prev: HashMap<(&str, &Key), &Key> = HashMap::new();
    for reply in replies {
        let what = format!("/join {} by {}", reply.room, reply.joiner);
        let senders = by_room.get(reply.room.as_str()).unwrap_or(&no_senders);
        if let Some(problem) = check_window(reply, said, senders) {
            problems.push(format!("{what}: {problem}"));
            continue;
        }
        if !reply.ignoring.is_empty() {
            // Holes where the ignored said something: no neighbours.
            continue;
        }
        for pair in reply.entries.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let seen = *next.entry((&reply.room, a)).or_insert(b);
            let seen_before = *prev.entry((&reply.room, b)).or_insert(a);
            if seen != b || seen_before != a {
                problems.push(format!(
                    "{what}: HISTORY has {a:?} then {b:?}, another join saw {a:?} then {seen:?} \
                     and {seen_before:?} then {b:?} (the room's log cannot be both)"
                ));
            }
        }
    }
    problems
}

/// What is wrong with one reply as a window of its room's log, if anything.
fn check_window(
    reply: &HistoryReply,
    said: &Said<'_>,
    senders: &HashMap<&str, Vec<(u64, Instant)>>,
) -> Option<String> {
    let mut by_sender: HashMap<&str, Vec<u64>> = HashMap::new();
    for (sender, seq) in &reply.entries {
        match said.seq_membership.get(&(sender.clone(), *seq)) {
            Some((room, _)) if *room == reply.room => {}
            Some((room, _)) => {
                return Some(format!("{sender}'s message {seq} was said in {room}"));
            }
            None => {
                return Some(format!(
                    "{sender}'s message {seq} was never taken by the hub in a room"
                ));
            }
        }
        by_sender.entry(sender).or_default().push(*seq);
    }
    // With lines hidden, the log may have been full though fewer show.
    let full = reply.entries.len() == HISTORY_LIMIT || !reply.ignoring.is_empty();
    let before_join = |at: &Instant| *at < reply.join_sent;
    for (sender, list) in senders {
        if reply.ignoring.contains(&common::fold(sender)) {
            continue;
        }
        let Some(shown) = by_sender.get(sender) else {
            // Nothing of this sender's: all pushed out, or none said yet.
            if !full && let Some((seq, _)) = list.iter().find(|(_, at)| before_join(at)) {
                return Some(format!(
                    "only {} lines, but {sender}'s message {seq} was taken before the join",
                    reply.entries.len()
                ));
            }
            continue;
        };
        let start = list
            .iter()
            .position(|(seq, _)| *seq == shown[0])
            .unwrap_or(list.len());
        let end = (start + shown.len()).min(list.len());
        let run: Vec<u64> = list[start..end].iter().map(|(seq, _)| *seq).collect();
        if run != *shown {
            return Some(format!(
                "{sender}'s lines {shown:?} are not a run of their messages to the room"
            ));
        }
        if let Some((seq, _)) = list[end..].iter().find(|(_, at)| before_join(at)) {
            return Some(format!(
                "{sender}'s message {seq}, taken before the join, is missing after {:?}",
                shown.last()
            ));
        }
        if !full && let Some((seq, _)) = list[..start].iter().find(|(_, at)| before_join(at)) {
            return Some(format!(
                "only {} lines, but {sender}'s older message {seq} is missing",
                reply.entries.len()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// `alice` said 1, 2, 3 and `bob` 1, 2 in room `r`, all confirmed at
    /// `t0`; `bob` said 3 in room `q`.
    fn confirmed_at(t0: Instant) -> HashMap<(String, u64), Instant> {
        let mut confirmed = HashMap::new();
        for (sender, seq) in [
            ("alice", 1),
            ("alice", 2),
            ("alice", 3),
            ("bob", 1),
            ("bob", 2),
        ] {
            confirmed.insert((sender.to_owned(), seq), t0);
        }
        confirmed.insert(("bob".to_owned(), 3), t0);
        confirmed
    }

    fn reply(entries: &[(&str, u64)], join_sent: Instant) -> HistoryReply {
        HistoryReply {
            room: "r".to_owned(),
            joiner: "carol".to_owned(),
            join_sent,
            entries: entries.iter().map(|&(s, q)| (s.to_owned(), q)).collect(),
            ignoring: Vec::new(),
        }
    }

    fn problems(replies: &[HistoryReply], t0: Instant) -> Vec<String> {
        let room_sent = HashMap::from([
            (("alice".to_owned(), "r".to_owned(), 1), vec![1, 2, 3]),
            (("bob".to_owned(), "r".to_owned(), 1), vec![1, 2]),
            (("bob".to_owned(), "q".to_owned(), 1), vec![3]),
        ]);
        let mut seq_membership = HashMap::new();
        for ((sender, room, j), seqs) in &room_sent {
            for &seq in seqs {
                seq_membership.insert((sender.clone(), seq), (room.clone(), *j));
            }
        }
        let confirmed = confirmed_at(t0);
        let said = Said {
            room_sent: &room_sent,
            seq_membership: &seq_membership,
            confirmed: &confirmed,
        };
        check(replies, &said)
    }

    #[test]
    fn windows_of_one_log_pass() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let log = [
            ("alice", 1),
            ("bob", 1),
            ("alice", 2),
            ("bob", 2),
            ("alice", 3),
        ];
        // Joined before anything was confirmed: any prefix will do.
        let early = reply(&log[..2], t0);
        let full = reply(&log, later);
        assert_eq!(problems(&[early, full], t0), Vec::<String>::new());
    }

    #[test]
    fn a_gap_a_stranger_and_a_swap_are_caught() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let gap = reply(&[("alice", 1), ("alice", 3)], later);
        assert_eq!(problems(&[gap], t0).len(), 1);
        let elsewhere = reply(&[("bob", 3)], later);
        assert_eq!(problems(&[elsewhere], t0).len(), 1);
        // Short of the limit, yet missing what was said before the join.
        let short = reply(&[("alice", 3)], later);
        assert_eq!(problems(&[short], t0).len(), 1);
        let one = reply(
            &[
                ("alice", 1),
                ("bob", 1),
                ("alice", 2),
                ("bob", 2),
                ("alice", 3),
            ],
            later,
        );
        let other = reply(
            &[
                ("bob", 1),
                ("alice", 1),
                ("alice", 2),
                ("bob", 2),
                ("alice", 3),
            ],
            later,
        );
        assert!(!problems(&[one, other], t0).is_empty());
    }
}
