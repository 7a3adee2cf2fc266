//! The run's shared record: what every client sent and received, the names
//! in use and the registered ones with their passwords, the `HISTORY`
//! replies seen, ignore windows, away periods, operator terms and what
//! others saw of them, counters for the summary, and every violation.
//! Cross-client invariants (delivery exactly once, in order, without loss
//! but for what ignoring excuses; history true to what was said; `AWAY`
//! true to the target's periods; one operator per room at a time, agreed
//! by all) are judged once all clients have finished.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::away::{self, AwayPeriod, AwaySeen, Told};
use crate::history::{self, HistoryReply};
use crate::ignores::{self, Times, Windows};
use crate::model::Carry;
use crate::operators::{self, How, OpSeen, OpTerm};

/// How long the server may take to notice a connection we dropped without
/// reading its close (we cannot observe that moment).
pub(crate) const DROP_GRACE: Duration = Duration::from_secs(10);
/// Violation details kept in full; the rest are only counted.
const MAX_DETAILS: usize = 40;
/// How far back a name's password checks count against its budget (the
/// server's bucket refills in 60 s; the rest is slack for the time
/// between our sending a check and the server taking it).
const CHECK_MEMORY: Duration = Duration::from_secs(65);

/// Where a name stands, for the `/list` ghost check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameStatus {
    /// Logged in, or logging in.
    Online,
    /// The server closed the connection at this moment (we saw EOF).
    Closed(Instant),
    /// We dropped the connection at this moment without waiting.
    Dropped(Instant),
}

/// One chat session between two connections: (sender, receiver, index of
/// this pair's session, counted by both ends).
pub(crate) type ChatKey = (String, String, u32);

/// A stretch in which a receiver and a sender were both in one room, as
/// the receiver saw it.
#[derive(Debug)]
pub(crate) struct RoomPeriod {
    pub(crate) receiver: String,
    pub(crate) sender: String,
    /// The receiver saw `JOINED` for the sender, so it was there from the
    /// sender's first message of that membership.
    pub(crate) saw_join: bool,
    /// The receiver saw `PARTED` for the sender, so it was there until the
    /// sender's last message of that membership.
    pub(crate) saw_part: bool,
    pub(crate) seqs: Vec<u64>,
}

/// Everything behind the ledger's lock.
#[derive(Default)]
struct Records {
    violations: Vec<String>,
    n_violations: u64,
    actions: BTreeMap<&'static str, u64>,
    errs: BTreeMap<String, u64>,
    disconnects: BTreeMap<&'static str, u64>,
    messages_sent: u64,
    names: HashMap<String, NameStatus>,
    used_names: Vec<String>,
    live: Vec<String>,
    chat_sent: HashMap<ChatKey, Vec<u64>>,
    chat_received: HashMap<ChatKey, Vec<u64>>,
    aborted: HashSet<String>,
    /// How each name's connection ended (`quit`, `half-close`, `drop`, …).
    ended_by: HashMap<String, &'static str>,
    room_sent: HashMap<(String, String, u32), Vec<u64>>,
    seq_membership: HashMap<(String, u64), (String, u32)>,
    /// When the sender knew the hub had taken each room message.
    room_confirmed: HashMap<(String, u64), Instant>,
    /// When each message (chat or room) was sent and seen taken.
    msg_times: HashMap<(String, u64), Times>,
    /// Every receiver's ignore windows.
    ignores: Windows,
    room_periods: Vec<RoomPeriod>,
    room_received: u64,
    /// Registered names (folded) with their shown name and password.
    accounts: HashMap<String, (String, String)>,
    /// When each name's password checks were sent (folded name).
    checks: HashMap<String, Vec<Instant>>,
    /// What each name's last session handed on.
    carries: HashMap<String, Carry>,
    histories: Vec<HistoryReply>,
    away_periods: Vec<AwayPeriod>,
    away_seen: Vec<AwaySeen>,
    op_terms: Vec<OpTerm>,
    op_seen: Vec<OpSeen>,
    /// (folded room, folded name) of every `/ban` sent.
    bans: HashSet<(String, String)>,
}

/// The shared ledger; every method takes the lock briefly.
#[derive(Default)]
pub(crate) struct Ledger {
    records: Mutex<Records>,
}

/// Totals for the summary, taken after the final check.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) actions: BTreeMap<&'static str, u64>,
    pub(crate) errs: BTreeMap<String, u64>,
    pub(crate) disconnects: BTreeMap<&'static str, u64>,
    pub(crate) messages_sent: u64,
    pub(crate) chat_verified: u64,
    pub(crate) room_received: u64,
    pub(crate) room_verified: u64,
    /// `/join` replies with `HISTORY` lines, and the lines in them.
    pub(crate) history_replies: u64,
    pub(crate) history_lines: u64,
    /// Names still registered when the clients had all left.
    pub(crate) accounts: usize,
    /// Away periods, and what askers were told: `AWAY` lines, `OK chat`
    /// without one, `USER … away` lines.
    pub(crate) away_periods: u64,
    pub(crate) away_told: u64,
    pub(crate) not_away_told: u64,
    pub(crate) away_listed: u64,
    /// Ignore windows (a receiver ignoring a sender for a while), and
    /// messages a receiver missed because of one.
    pub(crate) ignore_windows: u64,
    pub(crate) ignored_drops: u64,
    /// Operator terms, and sightings of an operator by others (`OP`, a
    /// `TOPIC` event, `KICKED`).
    pub(crate) op_terms: u64,
    pub(crate) op_seen: BTreeMap<&'static str, u64>,
    pub(crate) n_violations: u64,
    pub(crate) violations: Vec<String>,
    pub(crate) names_used: usize,
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        // A panicking client thread must not hide the others' records.
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a broken invariant.
    pub(crate) fn violation(&self, detail: String) {
        let mut records = self.lock();
        records.n_violations += 1;
        if records.violations.len() < MAX_DETAILS {
            eprintln!("chinwag-soak: VIOLATION {detail}");
            records.violations.push(detail);
        }
    }

    /// Counts one action of `kind`.
    pub(crate) fn count_action(&self, kind: &'static str) {
        *self.lock().actions.entry(kind).or_default() += 1;
    }

    /// Counts one `ERR` line.
    pub(crate) fn count_err(&self, code: &str) {
        *self.lock().errs.entry(code.to_owned()).or_default() += 1;
    }

    /// Counts one disconnect of `kind`.
    pub(crate) fn count_disconnect(&self, kind: &'static str) {
        *self.lock().disconnects.entry(kind).or_default() += 1;
    }

    /// Counts one message line sent.
    pub(crate) fn count_message(&self) {
        self.lock().messages_sent += 1;
    }

    /// A name is about to be requested (or was accepted).
    pub(crate) fn name_online(&self, name: &str) {
        let mut records = self.lock();
        let folded = common::fold(name);
        if !records.names.contains_key(&folded) {
            records.used_names.push(name.to_owned());
        }
        records.names.insert(folded, NameStatus::Online);
    }

    /// The server accepted `name`: others may now target it.
    pub(crate) fn name_live(&self, name: &str) {
        self.lock().live.push(name.to_owned());
    }

    /// The connection holding `name` ended (`kind` says how, `status`
    /// when).
    pub(crate) fn name_gone(
        &self,
        name: &str,
        kind: &'static str,
        status: NameStatus,
        aborted: bool,
    ) {
        let mut records = self.lock();
        records.ended_by.insert(name.to_owned(), kind);
        records.names.insert(common::fold(name), status);
        records.live.retain(|live| live != name);
        if aborted {
            records.aborted.insert(name.to_owned());
        }
    }

    /// A live name chosen by `roll`, if any.
    pub(crate) fn live_name(&self, roll: u64) -> Option<String> {
        let records = self.lock();
        let n_live = records.live.len() as u64;
        (n_live > 0).then(|| records.live[(roll % n_live) as usize].clone())
    }

    /// Where `name` stands now.
    pub(crate) fn name_status(&self, name: &str) -> Option<NameStatus> {
        self.lock().names.get(&common::fold(name)).copied()
    }

    /// Every name that was ever accepted or requested.
    pub(crate) fn used_names(&self) -> Vec<String> {
        self.lock().used_names.clone()
    }

    /// A chat message the hub took while its sender chatted in `key`,
    /// sent and seen taken at `times`.
    pub(crate) fn chat_sent(&self, key: ChatKey, seq: u64, times: Times) {
        let mut records = self.lock();
        records.msg_times.insert((key.0.clone(), seq), times);
        records.chat_sent.entry(key).or_default().push(seq);
    }

    /// A chat message received in session `key`.
    pub(crate) fn chat_received(&self, key: ChatKey, seq: u64) {
        self.lock().chat_received.entry(key).or_default().push(seq);
    }

    /// A room message the hub took during `sender`'s `index`-th
    /// membership of room `room` (folded), sent and seen taken at `times`.
    pub(crate) fn room_sent(&self, sender: &str, room: &str, index: u32, seq: u64, times: Times) {
        let confirmed = times.1;
        let mut records = self.lock();
        records.msg_times.insert((sender.to_owned(), seq), times);
        let key = (sender.to_owned(), room.to_owned(), index);
        records.room_sent.entry(key).or_default().push(seq);
        records
            .seq_membership
            .insert((sender.to_owned(), seq), (room.to_owned(), index));
        records
            .room_confirmed
            .insert((sender.to_owned(), seq), confirmed);
    }

    /// `name` is now registered with `password`, or (`None`) not.
    pub(crate) fn set_account(&self, name: &str, password: Option<&str>) {
        let mut records = self.lock();
        let folded = common::fold(name);
        match password {
            Some(password) => {
                let entry = (name.to_owned(), password.to_owned());
                records.accounts.insert(folded, entry);
            }
            None => {
                records.accounts.remove(&folded);
            }
        }
    }

    /// The password `name` is registered with, if it is.
    pub(crate) fn password_of(&self, name: &str) -> Option<String> {
        let records = self.lock();
        let (_, password) = records.accounts.get(&common::fold(name))?;
        Some(password.clone())
    }

    /// `n` password checks of `name` are being sent now.
    pub(crate) fn note_checks(&self, name: &str, n: usize) {
        let now = Instant::now();
        let mut records = self.lock();
        let checks = records.checks.entry(common::fold(name)).or_default();
        checks.retain(|&at| now.duration_since(at) < CHECK_MEMORY);
        checks.extend(std::iter::repeat_n(now, n));
    }

    /// Password checks of `name` sent lately (within the bucket's refill
    /// time, and some).
    pub(crate) fn recent_checks(&self, name: &str) -> usize {
        let now = Instant::now();
        self.lock()
            .checks
            .get(&common::fold(name))
            .map_or(0, |checks| {
                checks
                    .iter()
                    .filter(|&&at| now.duration_since(at) < CHECK_MEMORY)
                    .count()
            })
    }

    /// Keeps what a session of `name` hands to the next.
    pub(crate) fn save_carry(&self, name: &str, carry: Carry) {
        self.lock().carries.insert(name.to_owned(), carry);
    }

    /// What the last session of `name` handed on.
    pub(crate) fn carry(&self, name: &str) -> Option<Carry> {
        self.lock().carries.get(name).cloned()
    }

    /// A `/join` reply's `HISTORY` lines, judged at the end.
    pub(crate) fn history_seen(&self, reply: HistoryReply) {
        self.lock().histories.push(reply);
    }

    /// `receiver` ignores `sender` (folded) since sending `/ignore` at `from`.
    pub(crate) fn ignore_open(&self, receiver: &str, sender: &str, from: Instant) {
        self.lock().ignores.open(receiver, sender, from);
    }

    /// `receiver` saw `OK unignore` of `sender` (folded) at `to`.
    pub(crate) fn ignore_close(&self, receiver: &str, sender: &str, to: Instant) {
        self.lock().ignores.close(receiver, sender, to);
    }

    /// `receiver`'s session ended at `to`, its ignore list with it.
    pub(crate) fn ignore_close_all(&self, receiver: &str, to: Instant) {
        self.lock().ignores.close_all(receiver, to);
    }

    /// A client operates a room (`OK join <room> 1`, or `OP` naming it);
    /// returns the term's number.
    pub(crate) fn op_start(&self, term: OpTerm) -> usize {
        let mut records = self.lock();
        records.op_terms.push(term);
        records.op_terms.len() - 1
    }

    /// Term `k` ended: its holder sent what made it leave at `sent`, and
    /// saw that it had at `seen` (if it did).
    pub(crate) fn op_end(&self, k: usize, sent: Instant, seen: Option<Instant>) {
        if let Some(term) = self.lock().op_terms.get_mut(k) {
            term.end_sent = Some(sent);
            term.end_seen = seen;
        }
    }

    /// A client saw another operate its room, judged at the end.
    pub(crate) fn op_seen(&self, seen: OpSeen) {
        self.lock().op_seen.push(seen);
    }

    /// A `/ban` of `name` in `room` is about to be sent (folded names).
    pub(crate) fn note_ban(&self, room: &str, name: &str) {
        self.lock().bans.insert((room.to_owned(), name.to_owned()));
    }

    /// Whether anyone ever sent a `/ban` of `name` in `room` (folded names).
    pub(crate) fn may_be_banned(&self, room: &str, name: &str) -> bool {
        self.lock()
            .bans
            .contains(&(room.to_owned(), name.to_owned()))
    }

    /// A session went away (`OK away`); returns the period's number.
    pub(crate) fn away_start(&self, period: AwayPeriod) -> usize {
        let mut records = self.lock();
        records.away_periods.push(period);
        records.away_periods.len() - 1
    }

    /// Away period `k` ended: `/back` (or another `/away`) was sent at
    /// `sent` and answered at `ok`; or the connection ended after `sent`
    /// (`ok` then `None`, or when the server's close was seen).
    pub(crate) fn away_end(&self, k: usize, sent: Instant, ok: Option<Instant>) {
        if let Some(period) = self.lock().away_periods.get_mut(k) {
            period.end_sent = Some(sent);
            period.end_ok = ok;
        }
    }

    /// What a client was told about another's being away, judged at the end.
    pub(crate) fn away_seen(&self, seen: AwaySeen) {
        self.lock().away_seen.push(seen);
    }

    /// A finished room period, judged at the end.
    pub(crate) fn room_period(&self, period: RoomPeriod) {
        let mut records = self.lock();
        records.room_received += period.seqs.len() as u64;
        records.room_periods.push(period);
    }

    /// Runs the cross-client checks and returns the totals.
    pub(crate) fn finish(&self) -> Totals {
        let (chat_verified, chat_drops, chat_problems) = self.check_chats();
        let (room_verified, room_drops, room_problems) = self.check_rooms();
        let history_problems = {
            let records = self.lock();
            history::check(
                &records.histories,
                &history::Said {
                    room_sent: &records.room_sent,
                    seq_membership: &records.seq_membership,
                    confirmed: &records.room_confirmed,
                },
            )
        };
        let away_problems = {
            let records = self.lock();
            away::check(&records.away_periods, &records.away_seen)
        };
        let op_problems = {
            let records = self.lock();
            operators::check(&records.op_terms, &records.op_seen, |name| {
                records.aborted.contains(name)
            })
        };
        let problems = chat_problems.into_iter().chain(room_problems);
        let problems = problems.chain(history_problems).chain(away_problems);
        for problem in problems.chain(op_problems) {
            self.violation(problem);
        }
        let records = self.lock();
        Totals {
            actions: records.actions.clone(),
            errs: records.errs.clone(),
            disconnects: records.disconnects.clone(),
            messages_sent: records.messages_sent,
            chat_verified,
            room_received: records.room_received,
            room_verified,
            history_replies: records.histories.len() as u64,
            history_lines: records
                .histories
                .iter()
                .map(|reply| reply.entries.len() as u64)
                .sum(),
            accounts: records.accounts.len(),
            away_periods: records.away_periods.len() as u64,
            away_told: count_told(&records.away_seen, |told| matches!(told, Told::Away(_))),
            not_away_told: count_told(&records.away_seen, |told| *told == Told::NotAway),
            away_listed: count_told(&records.away_seen, |told| *told == Told::Listed),
            ignore_windows: records.ignores.count() as u64,
            ignored_drops: chat_drops + room_drops,
            op_terms: records.op_terms.len() as u64,
            op_seen: count_sightings(&records.op_seen),
            n_violations: records.n_violations,
            violations: records.violations.clone(),
            names_used: records.used_names.len(),
        }
    }

    /// Every chat session: what the receiver got must be exactly what the
    /// hub took from the sender in that session, in order, but for what
    /// the receiver's ignoring excuses; only a receiver that dropped its
    /// connection may miss a tail. Returns the messages verified, those
    /// missed because ignored, and the problems.
    fn check_chats(&self) -> (u64, u64, Vec<String>) {
        let records = self.lock();
        let mut problems = Vec::new();
        let (mut verified, mut dropped) = (0, 0);
        let keys: HashSet<&ChatKey> = records
            .chat_sent
            .keys()
            .chain(records.chat_received.keys())
            .collect();
        for key in keys {
            let sent = records.chat_sent.get(key).map_or(&[][..], Vec::as_slice);
            let got = records
                .chat_received
                .get(key)
                .map_or(&[][..], Vec::as_slice);
            let receiver_aborted = records.aborted.contains(&key.1);
            let receiver_end = records.ended_by.get(&key.1).copied().unwrap_or("open");
            let windows = records.ignores.of(&key.1, &key.0);
            let excused = |seq| {
                let times = records.msg_times.get(&(key.0.clone(), seq));
                ignores::may_drop(windows, times.copied())
            };
            match ignores::delivery_problem(sent, got, false, receiver_aborted, excused) {
                None => {
                    verified += got.len() as u64;
                    if !receiver_aborted {
                        dropped += (sent.len() - got.len()) as u64;
                    }
                }
                Some(problem) => problems.push(format!(
                    "chat {} -> {} session {}: {problem}: sent (no ERR) {} but received {}; \
                     the receiver's connection ended by {receiver_end}; its ignore windows \
                     for the sender: {}",
                    key.0,
                    key.1,
                    key.2,
                    summarize(sent),
                    summarize(got),
                    ignores::show(windows),
                )),
            }
        }
        (verified, dropped, problems)
    }

    /// Every room period: a run of one membership's messages, from its
    /// first when the join was seen and to its last when the part was
    /// seen, with nothing missing in between but what the receiver's
    /// ignoring excuses. Returns the messages verified, those missed
    /// because ignored (between the first and the last received), and the
    /// problems.
    fn check_rooms(&self) -> (u64, u64, Vec<String>) {
        let records = self.lock();
        let mut problems = Vec::new();
        let (mut verified, mut dropped) = (0, 0);
        for period in &records.room_periods {
            let Some(&first) = period.seqs.first() else {
                continue;
            };
            let membership = records
                .seq_membership
                .get(&(period.sender.clone(), first))
                .cloned();
            let sent = membership
                .and_then(|(room, index)| {
                    records.room_sent.get(&(period.sender.clone(), room, index))
                })
                .map_or(&[][..], Vec::as_slice);
            let windows = records.ignores.of(&period.receiver, &period.sender);
            let excused = |seq| {
                let times = records.msg_times.get(&(period.sender.clone(), seq));
                ignores::may_drop(windows, times.copied())
            };
            let (head_free, tail_free) = (!period.saw_join, !period.saw_part);
            match ignores::delivery_problem(sent, &period.seqs, head_free, tail_free, excused) {
                None => {
                    verified += period.seqs.len() as u64;
                    dropped += missed_between(sent, &period.seqs);
                }
                Some(problem) => problems.push(format!(
                    "room messages {} -> {}: {problem}; received {}, membership sent {}; \
                     JOINED seen {}, PARTED seen {}; the receiver's ignore windows for the \
                     sender: {}",
                    period.sender,
                    period.receiver,
                    summarize(&period.seqs),
                    summarize(sent),
                    period.saw_join,
                    period.saw_part,
                    ignores::show(windows),
                )),
            }
        }
        (verified, dropped, problems)
    }
}

/// How many of `sent` between the first and the last of `got` (a
/// subsequence of it) are not in `got`.
fn missed_between(sent: &[u64], got: &[u64]) -> u64 {
    let (Some(first), Some(last)) = (got.first(), got.last()) else {
        return 0;
    };
    let start = sent.iter().position(|seq| seq == first).unwrap_or(0);
    let end = sent.iter().position(|seq| seq == last).unwrap_or(start);
    (end + 1 - start).saturating_sub(got.len()) as u64
}

fn count_sightings(seen: &[OpSeen]) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    for sighting in seen {
        let how = match sighting.how {
            How::Op => "OP",
            How::Topic => "TOPIC",
            How::Kicked => "KICKED",
            How::View => "view on leaving",
        };
        *counts.entry(how).or_default() += 1;
    }
    counts
}

fn count_told(seen: &[AwaySeen], which: impl Fn(&Told) -> bool) -> u64 {
    seen.iter().filter(|seen| which(&seen.told)).count() as u64
}

/// A short rendering of a sequence list for violation reports.
fn summarize(seqs: &[u64]) -> String {
    if seqs.len() <= 12 {
        return format!("{seqs:?}");
    }
    format!(
        "{:?} … {:?} ({} in all)",
        &seqs[..6],
        &seqs[seqs.len() - 6..],
        seqs.len()
    )
}
