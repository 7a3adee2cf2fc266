//! The room a client is in, as its own stream shows it: the other
//! members (and whether each came before us or after), who operates the
//! room, and its topic. The stream shows every arrival after ours
//! (`JOINED`) and every departure (`PARTED`), and `OK join` counts the
//! members, so the model knows exactly how many others are here and how
//! many of them came before us, if not always who. From that:
//!
//! - whether we operate the room is exact: we created it (`OK join <room>
//!   1`) or an `OP` named us; and while we do, everyone else came after
//!   us, so we know every member (`/kick` and `/ban` are judged exactly);
//! - who else operates it is known from `OP`, or a `TOPIC` event (only
//!   the operator sets the topic), until its `PARTED`; that `PARTED` must
//!   be followed at once by `OP`, and a `PARTED` of anyone else must not;
//! - the new operator is the member here longest: us, only if nobody who
//!   came before us is still here; never anyone who came after us;
//! - only the operator kicks: a `PARTED … kicked` while we operate must
//!   be our own `/kick` or `/ban`, and the operator is never kicked;
//! - the topic is exact: none in a room we created, else what `/join`
//!   showed, then every `TOPIC` since.

use std::collections::HashMap;

use common::{PartReason, fold};

use crate::ledger::RoomPeriod;

/// What the model knows of another member of the room.
#[derive(Debug)]
enum Member {
    /// Seen in the room since this period began. `order` is 0 for a
    /// member here before us, else the count of `JOINED` lines that
    /// brought it.
    Present {
        saw_join: bool,
        seqs: Vec<u64>,
        order: u64,
    },
    /// Seen leaving.
    Gone,
}

/// A `PARTED` line just read in our room.
#[derive(Debug, Clone)]
pub(crate) struct Parted {
    pub(crate) name: String,
    /// Whether it operated the room, if we knew.
    pub(crate) operated: Option<bool>,
    pub(crate) kicked: bool,
}

/// The room we are in.
#[derive(Debug)]
pub(crate) struct RoomView {
    /// The room's name as shown.
    shown: String,
    /// Other members, by shown name; absent is unknown.
    members: HashMap<String, Member>,
    /// How many others are here now (exact).
    n_others: usize,
    /// `JOINED` lines read, for the members' order.
    n_joined: u64,
    /// We operate the room (exact).
    pub(crate) am_op: bool,
    /// Who operates it, if we know (us, while `am_op`).
    op: Option<String>,
    /// The topic (setter, text), exact.
    pub(crate) topic: Option<(String, String)>,
    /// The line before the one being read was a `PARTED` here.
    pub(crate) parted_before: Option<Parted>,
    /// The line just read was a `PARTED` here.
    parted_now: Option<Parted>,
    /// The operator left on the line before: this one must be `OP`.
    op_due: bool,
    /// While we operate: the ledger's number of our term.
    pub(crate) op_term: Option<usize>,
}

impl RoomView {
    /// Just joined `shown` with `n_members` (us included) and the topic
    /// `/join` showed; we operate a room we created.
    pub(crate) fn new(
        me: &str,
        shown: &str,
        n_members: usize,
        topic: Option<(String, String)>,
    ) -> RoomView {
        let created = n_members == 1;
        RoomView {
            shown: shown.to_owned(),
            members: HashMap::new(),
            n_others: n_members.saturating_sub(1),
            n_joined: 0,
            am_op: created,
            op: created.then(|| me.to_owned()),
            topic,
            parted_before: None,
            parted_now: None,
            op_due: false,
            op_term: None,
        }
    }

    /// Called before each line is read, with whether it is `OP`.
    ///
    /// # Errors
    ///
    /// The operator left on the line before, and this line is not `OP`.
    pub(crate) fn before_line(&mut self, is_op: bool) -> Result<(), String> {
        self.parted_before = self.parted_now.take();
        if std::mem::take(&mut self.op_due) && !is_op {
            let who = self
                .parted_before
                .as_ref()
                .map(|parted| parted.name.clone());
            return Err(format!(
                "PARTED {} {who:?}, its operator, not followed at once by OP",
                self.shown
            ));
        }
        Ok(())
    }

    /// Who else operates the room, as far as we know.
    pub(crate) fn other_op(&self) -> Option<&str> {
        self.op.as_deref().filter(|_| !self.am_op)
    }

    /// Members seen here and not seen leaving.
    pub(crate) fn present(&self) -> Vec<String> {
        let mut present: Vec<String> = self
            .members
            .iter()
            .filter(|(_, member)| matches!(member, Member::Present { .. }))
            .map(|(name, _)| name.clone())
            .collect();
        present.sort_unstable();
        present
    }

    /// Whether `name` is a member we know to be here.
    pub(crate) fn is_present(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(shown, member)| {
                fold(shown) == fold(name) && matches!(member, Member::Present { .. })
            })
            .map(|(shown, _)| shown.as_str())
    }

    /// Members here who came after us.
    fn n_after_us(&self) -> usize {
        self.members
            .values()
            .filter(|member| matches!(member, Member::Present { order, .. } if *order > 0))
            .count()
    }

    /// Members here who came before us, known or not.
    fn n_before_us(&self) -> usize {
        self.n_others.saturating_sub(self.n_after_us())
    }

    /// Members here who came before us that we know of.
    fn n_known_before_us(&self) -> usize {
        self.members
            .values()
            .filter(|member| matches!(member, Member::Present { order: 0, .. }))
            .count()
    }

    /// `name`, whom we had not seen, is here: it came before us (we see
    /// everyone who comes after).
    fn here_before_us(&mut self, name: &str) -> Result<(), String> {
        if self.n_known_before_us() >= self.n_before_us() {
            return Err(format!(
                "{name} is in {}, but we knew all {} members who came before us",
                self.shown,
                self.n_before_us()
            ));
        }
        let member = Member::Present {
            saw_join: false,
            seqs: Vec::new(),
            order: 0,
        };
        self.members.insert(name.to_owned(), member);
        Ok(())
    }

    pub(crate) fn on_joined(&mut self, name: &str) -> Result<(), String> {
        if let Some(Member::Present { .. }) = self.members.get(name) {
            return Err(format!(
                "JOINED {} {name}, who was already a member",
                self.shown
            ));
        }
        self.n_joined += 1;
        self.n_others += 1;
        let present = Member::Present {
            saw_join: true,
            seqs: Vec::new(),
            order: self.n_joined,
        };
        self.members.insert(name.to_owned(), present);
        Ok(())
    }

    /// `PARTED room name reason`; `our_kick` is the name our outstanding
    /// `/kick` or `/ban` names, if any. A finished period goes to `periods`.
    pub(crate) fn on_parted(
        &mut self,
        name: &str,
        reason: PartReason,
        our_kick: Option<&str>,
        me: &str,
        periods: &mut Vec<RoomPeriod>,
    ) -> Result<(), String> {
        let room = &self.shown;
        let Some(n_others) = self.n_others.checked_sub(1) else {
            return Err(format!(
                "PARTED {room} {name}, but we counted nobody else here"
            ));
        };
        self.n_others = n_others;
        let operated = self.op.as_deref().map(|op| fold(op) == fold(name));
        let kicked = reason == PartReason::Kicked;
        if kicked && operated == Some(true) {
            return Err(format!(
                "PARTED {room} {name} kicked, but it operates the room"
            ));
        }
        if kicked && self.am_op && our_kick.is_none_or(|ours| fold(ours) != fold(name)) {
            return Err(format!(
                "PARTED {room} {name} kicked while we operate the room, not by our kick"
            ));
        }
        if operated == Some(true) {
            self.op = None;
            self.op_due = true;
        }
        self.parted_now = Some(Parted {
            name: name.to_owned(),
            operated,
            kicked,
        });
        match self.members.insert(name.to_owned(), Member::Gone) {
            Some(Member::Gone) => Err(format!("PARTED {room} {name}, who had already left")),
            Some(Member::Present { saw_join, seqs, .. }) => {
                periods.push(RoomPeriod {
                    receiver: me.to_owned(),
                    sender: name.to_owned(),
                    saw_join,
                    saw_part: true,
                    seqs,
                });
                Ok(())
            }
            None if self.n_known_before_us() > self.n_before_us() => Err(format!(
                "PARTED {room} {name}, one more than the members who came before us"
            )),
            None => Ok(()),
        }
    }

    /// `OP room name`: right after the `PARTED` of the operator, the
    /// member here longest operates the room.
    pub(crate) fn on_op(&mut self, name: &str, me: &str) -> Result<(), String> {
        let room = &self.shown;
        let Some(parted) = &self.parted_before else {
            return Err(format!("OP {room} {name}, not right after a PARTED there"));
        };
        if parted.kicked || parted.operated == Some(false) {
            return Err(format!(
                "OP {room} {name} after {} left ({}), who did not operate the room ({:?} did)",
                parted.name,
                if parted.kicked {
                    "kicked"
                } else {
                    "not kicked"
                },
                self.op
            ));
        }
        if fold(name) == fold(me) {
            let before_us = self.n_before_us();
            if before_us > 0 {
                return Err(format!(
                    "OP {room} {name} (us), but {before_us} members who came before us are here"
                ));
            }
            self.am_op = true;
        } else {
            match self.members.get(name) {
                Some(Member::Gone) => {
                    return Err(format!("OP {room} {name}, who had left the room"));
                }
                Some(Member::Present { order, .. }) if *order > 0 => {
                    return Err(format!(
                        "OP {room} {name}, who came after us (we are here and came first)"
                    ));
                }
                Some(Member::Present { .. }) => {}
                None => self.here_before_us(name)?,
            }
        }
        self.op = Some(name.to_owned());
        Ok(())
    }

    /// A `TOPIC` event: `setter`, the operator, set the topic to `text`.
    pub(crate) fn on_topic(&mut self, setter: &str, text: &str, me: &str) -> Result<(), String> {
        let room = &self.shown;
        if fold(setter) == fold(me) {
            return Err(format!("TOPIC {room} set by us, as an event"));
        }
        if let Some(op) = &self.op
            && fold(op) != fold(setter)
        {
            return Err(format!(
                "TOPIC {room} set by {setter}, while {op} operates the room"
            ));
        }
        self.operates(setter, "TOPIC")?;
        self.topic = Some((setter.to_owned(), text.to_owned()));
        Ok(())
    }

    /// `KICKED room by`: we were removed by `by`, the operator.
    pub(crate) fn on_kicked(&mut self, by: &str, me: &str) -> Result<(), String> {
        let room = &self.shown;
        if self.am_op || fold(by) == fold(me) {
            return Err(format!("KICKED {room} by {by}, while we operate the room"));
        }
        if let Some(op) = &self.op
            && fold(op) != fold(by)
        {
            return Err(format!(
                "KICKED {room} by {by}, while {op} operates the room"
            ));
        }
        self.operates(by, "KICKED")
    }

    /// `name`, not us, operates the room now (a `TOPIC` or `KICKED` of
    /// its): it is a member here before us.
    fn operates(&mut self, name: &str, tag: &str) -> Result<(), String> {
        match self.members.get(name) {
            Some(Member::Gone) => Err(format!("{tag} {} by {name}, who had left", self.shown)),
            Some(Member::Present { order, .. }) if *order > 0 => Err(format!(
                "{tag} {} by {name}, who operates though it came after us",
                self.shown
            )),
            Some(Member::Present { .. }) => {
                self.op = Some(name.to_owned());
                Ok(())
            }
            None => {
                self.here_before_us(name)?;
                self.op = Some(name.to_owned());
                Ok(())
            }
        }
    }

    /// A line said by `from` (message or action) with number `seq`.
    pub(crate) fn on_said(&mut self, from: &str, seq: u64, tag: &str) -> Result<(), String> {
        if !self.members.contains_key(from) {
            self.here_before_us(from)?;
        }
        match self.members.get_mut(from) {
            Some(Member::Present { seqs, .. }) => {
                seqs.push(seq);
                Ok(())
            }
            _ => Err(format!("{tag} {} from {from} after it PARTED", self.shown)),
        }
    }

    /// We leave: the periods of everyone still here go to `periods`.
    pub(crate) fn close(self, me: &str, periods: &mut Vec<RoomPeriod>) {
        for (sender, member) in self.members {
            if let Member::Present { saw_join, seqs, .. } = member {
                periods.push(RoomPeriod {
                    receiver: me.to_owned(),
                    sender,
                    saw_join,
                    saw_part: false,
                    seqs,
                });
            }
        }
    }
}
