//! One connection's state as its own line stream shows it. The server
//! queues every connection's lines in the hub's order, so at each line the
//! model is exactly the hub's view of this user at the moment that line
//! was made: replies can be judged exactly, and events checked against it
//! (no `MSG` from anyone but the partner, no `CHAT` unasked, …).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use common::{ServerLine, fold};

use crate::ledger::{Ledger, RoomPeriod};
use crate::payload;

/// Where the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// Before `WELCOME`.
    Naming,
    /// At the menu.
    Available,
    /// In the `k`-th chat of this pair of connections.
    Chatting { partner: String, k: u32 },
    /// In the `j`-th membership of this room (shown and folded name).
    Room {
        shown: String,
        folded: String,
        j: u32,
    },
}

/// A chat session or room membership, in which a message may have landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Landing {
    Chat { partner: String, k: u32 },
    Room { folded: String, j: u32 },
}

/// What the model knows of another member of the room it is in.
#[derive(Debug)]
enum Member {
    /// Seen in the room since this period began.
    Present { saw_join: bool, seqs: Vec<u64> },
    /// Seen leaving.
    Gone,
}

/// What a registered name carries from one of its sessions to the next,
/// so its messages stay numbered and placed as one sender's: the
/// sequence number of its next message and its memberships of each room.
#[derive(Debug, Clone, Default)]
pub(crate) struct Carry {
    pub(crate) next_seq: u64,
    memberships: HashMap<String, u32>,
    /// The ignore list, which the server keeps for a registered name.
    pub(crate) ignoring: BTreeMap<String, String>,
}

/// The state of one connection.
pub(crate) struct Model {
    pub(crate) me: Option<String>,
    pub(crate) place: Place,
    /// The password of our name while it is registered.
    pub(crate) password: Option<String>,
    /// The registered name the server asked the password of (`PASSWORD`),
    /// until the password line is answered.
    pub(crate) signing_in: Option<String>,
    /// False on a session signed in to a name used before: it takes no
    /// part in one-to-one chats, whose session count its old partners
    /// cannot share (see `accounts.rs`).
    pub(crate) may_chat: bool,
    pub(crate) outgoing: Option<String>,
    /// Requests seen (`REQUEST`) and still pending: folded name to shown
    /// name. Never of a name we ignore.
    pub(crate) incoming: BTreeMap<String, String>,
    /// Names we stopped ignoring while at the menu: a request of theirs
    /// may be pending unseen (sent while ignored, so hidden), and shows
    /// now. Folded name to shown name; never of a name we ignore.
    pub(crate) maybe_incoming: BTreeMap<String, String>,
    /// Whom we ignore (`OK ignore` seen, no `OK unignore` since): folded
    /// name to the name as `OK ignore` showed it, exactly the server's
    /// list for us. A request of theirs may be pending unseen.
    pub(crate) ignoring: BTreeMap<String, String>,
    /// Chats started with each partner (shown name), for session keys.
    chats_with: HashMap<String, u32>,
    /// Memberships of each room (folded name), for membership keys.
    memberships: HashMap<String, u32>,
    /// Other members of the current room, by shown name; absent is unknown.
    members: HashMap<String, Member>,
    /// Highest sequence number received from each sender.
    last_seq: HashMap<String, u64>,
    /// The last event line was `PARTED` in the room we are in: an `OP`
    /// (a new operator, when the old one left) may follow it, and only it.
    just_parted: bool,
    /// Sessions this user was in since the last final reply line: where a
    /// message sent in that stretch can have landed.
    pub(crate) window: Vec<Landing>,
    /// The partner of a chat started since the last final line.
    pub(crate) chat_just_started: Option<String>,
    /// Incoming requests (folded names) held just before that chat
    /// started: seen, and maybe pending unseen (not ignored).
    pub(crate) incoming_before_chat: Vec<String>,
    pub(crate) maybe_before_chat: Vec<String>,
    /// While away (`OK away`): the reason, and the ledger's number of the
    /// away period.
    pub(crate) away: Option<(String, usize)>,
    ledger: Arc<Ledger>,
}

impl Model {
    /// A fresh connection, naming.
    pub(crate) fn new(ledger: Arc<Ledger>) -> Model {
        Model {
            me: None,
            place: Place::Naming,
            password: None,
            signing_in: None,
            may_chat: true,
            outgoing: None,
            incoming: BTreeMap::new(),
            maybe_incoming: BTreeMap::new(),
            ignoring: BTreeMap::new(),
            chats_with: HashMap::new(),
            memberships: HashMap::new(),
            members: HashMap::new(),
            last_seq: HashMap::new(),
            just_parted: false,
            window: Vec::new(),
            chat_just_started: None,
            incoming_before_chat: Vec::new(),
            maybe_before_chat: Vec::new(),
            away: None,
            ledger,
        }
    }

    /// Away ends: `/back` or `/away` sent at `sent` and answered at `ok`,
    /// or the connection's end, after `sent` (and seen at `ok`, if seen).
    pub(crate) fn end_away(&mut self, sent: Instant, ok: Option<Instant>) {
        if let Some((_, period)) = self.away.take() {
            self.ledger.away_end(period, sent, ok);
        }
    }

    /// What this session hands to the next session of its name.
    pub(crate) fn carry(&self, next_seq: u64) -> Carry {
        Carry {
            next_seq,
            memberships: self.memberships.clone(),
            ignoring: self.ignoring.clone(),
        }
    }

    /// Continues as the next session of a name: numbered and placed on
    /// from `carry`, outside one-to-one chats.
    pub(crate) fn resume(&mut self, carry: &Carry) {
        self.memberships = carry.memberships.clone();
        self.may_chat = false;
    }

    /// The own name (empty while naming).
    pub(crate) fn me(&self) -> &str {
        self.me.as_deref().unwrap_or("")
    }

    /// Whether `name` is this user, case-insensitively.
    pub(crate) fn is_me(&self, name: &str) -> bool {
        self.me.as_deref().is_some_and(|me| fold(me) == fold(name))
    }

    /// Whether `name` has a pending request to this user that we saw.
    pub(crate) fn has_incoming(&self, name: &str) -> bool {
        self.incoming.contains_key(&fold(name))
    }

    /// The other members of our room seen there and not seen leaving.
    pub(crate) fn present_members(&self) -> Vec<String> {
        let mut present: Vec<String> = self
            .members
            .iter()
            .filter(|(_, member)| matches!(member, Member::Present { .. }))
            .map(|(name, _)| name.clone())
            .collect();
        present.sort_unstable();
        present
    }

    /// Whether we ignore `name` now.
    pub(crate) fn is_ignoring(&self, name: &str) -> bool {
        self.ignoring.contains_key(&fold(name))
    }

    /// Whether `name` may have a request to this user pending that we
    /// never saw: we ignore them, or did while it was made.
    pub(crate) fn may_have_hidden_request(&self, name: &str) -> bool {
        let folded = fold(name);
        self.ignoring.contains_key(&folded) || self.maybe_incoming.contains_key(&folded)
    }

    /// The session a message sent now would land in, if any.
    pub(crate) fn landing(&self) -> Option<Landing> {
        match &self.place {
            Place::Chatting { partner, k } => Some(Landing::Chat {
                partner: partner.clone(),
                k: *k,
            }),
            Place::Room { folded, j, .. } => Some(Landing::Room {
                folded: folded.clone(),
                j: *j,
            }),
            Place::Naming | Place::Available => None,
        }
    }

    /// Called after each final reply line: a new stretch begins.
    pub(crate) fn reset_window(&mut self) {
        self.window = self.landing().into_iter().collect();
        self.chat_just_started = None;
    }

    /// The user is now available with no requests (after a chat or room).
    fn become_available(&mut self) {
        self.place = Place::Available;
        self.outgoing = None;
    }

    /// A chat with `partner` starts (as event or as part of a reply).
    pub(crate) fn start_chat(&mut self, partner: &str) {
        let k = self.chats_with.entry(partner.to_owned()).or_default();
        *k += 1;
        self.place = Place::Chatting {
            partner: partner.to_owned(),
            k: *k,
        };
        self.incoming_before_chat = std::mem::take(&mut self.incoming).into_keys().collect();
        self.maybe_before_chat = std::mem::take(&mut self.maybe_incoming)
            .into_keys()
            .collect();
        self.outgoing = None;
        self.chat_just_started = Some(partner.to_owned());
        self.window.extend(self.landing());
    }

    /// The user joined the room shown as `shown`.
    pub(crate) fn join_room(&mut self, shown: &str) {
        let folded = fold(shown);
        let j = self.memberships.entry(folded.clone()).or_default();
        *j += 1;
        self.place = Place::Room {
            shown: shown.to_owned(),
            folded,
            j: *j,
        };
        self.outgoing = None;
        self.incoming.clear();
        self.maybe_incoming.clear();
        self.members.clear();
        self.window.extend(self.landing());
    }

    /// The user's chat or room ended (`/leave`, `ENDED`, or the connection
    /// closed): room periods are handed to the ledger.
    pub(crate) fn leave(&mut self) {
        self.close_periods();
        if self.place != Place::Naming {
            self.become_available();
        }
    }

    fn close_periods(&mut self) {
        let me = self.me().to_owned();
        for (sender, member) in self.members.drain() {
            if let Member::Present { saw_join, seqs } = member {
                self.ledger.room_period(RoomPeriod {
                    receiver: me.clone(),
                    sender,
                    saw_join,
                    saw_part: false,
                    seqs,
                });
            }
        }
    }

    /// Applies an event line (any line that is not part of a reply).
    /// `reply_may_chat` is set while an action that can start a chat by its
    /// reply (`/chat`, `/accept`) is outstanding.
    ///
    /// # Errors
    ///
    /// The event contradicts the state (a violation).
    pub(crate) fn on_event(
        &mut self,
        line: &ServerLine,
        reply_may_chat: bool,
    ) -> Result<(), String> {
        let just_parted = std::mem::take(&mut self.just_parted);
        match line {
            // The operator left and the room chose the next: only a member
            // hears it, right after the PARTED.
            ServerLine::Op(room, name) => self.on_op(room, name, just_parted),
            ServerLine::Request(from) => self.on_request(from),
            ServerLine::Cancelled(from, _) => {
                if self.is_ignoring(from) {
                    return Err(format!("CANCELLED from {from}, whom we ignore"));
                }
                let folded = fold(from);
                let seen = self.incoming.remove(&folded);
                let unseen = self.maybe_incoming.remove(&folded);
                if seen.is_none() && unseen.is_none() {
                    return Err(format!("CANCELLED from {from}, who had no request pending"));
                }
                Ok(())
            }
            ServerLine::Declined(name, _) => {
                if self.outgoing.as_deref().map(fold) != Some(fold(name)) {
                    return Err(format!("DECLINED by {name}, who was not asked"));
                }
                self.outgoing = None;
                Ok(())
            }
            ServerLine::Chat(partner) => self.on_chat(partner, reply_may_chat),
            ServerLine::Ended(partner, _) => match &self.place {
                Place::Chatting {
                    partner: current, ..
                } if current == &**partner => {
                    self.leave();
                    Ok(())
                }
                place => Err(format!("ENDED {partner} while {place:?}")),
            },
            ServerLine::Joined(room, name) => self.on_joined(room, name),
            ServerLine::Parted(room, name, _) => self.on_parted(room, name),
            ServerLine::Msg(from, text) => self.on_msg(from, text, false),
            ServerLine::Room(room, from, text) => self.on_room_msg(room, from, text, false),
            ServerLine::Action(None, from, text) => self.on_msg(from, text, true),
            ServerLine::Action(Some(room), from, text) => self.on_room_msg(room, from, text, true),
            other => Err(format!("unexpected {} line outside a reply", other.tag())),
        }
    }

    fn on_request(&mut self, from: &str) -> Result<(), String> {
        if self.place != Place::Available || self.is_me(from) {
            return Err(format!("REQUEST from {from} while {:?}", self.place));
        }
        if self.is_ignoring(from) {
            return Err(format!("REQUEST from {from}, whom we ignore"));
        }
        self.maybe_incoming.remove(&fold(from));
        self.incoming.insert(fold(from), from.to_owned());
        Ok(())
    }

    fn on_chat(&mut self, partner: &str, reply_may_chat: bool) -> Result<(), String> {
        let asked = self.outgoing.as_deref().map(fold) == Some(fold(partner));
        let answering =
            reply_may_chat && (self.has_incoming(partner) || self.may_have_hidden_request(partner));
        if self.place != Place::Available || !(asked || answering) {
            return Err(format!(
                "CHAT {partner} while {:?}, outgoing {:?}, incoming {:?}",
                self.place,
                self.outgoing,
                self.incoming.values().collect::<Vec<_>>()
            ));
        }
        self.start_chat(partner);
        Ok(())
    }

    fn in_room(&self, room: &str) -> bool {
        matches!(&self.place, Place::Room { shown, .. } if shown == room)
    }

    fn on_joined(&mut self, room: &str, name: &str) -> Result<(), String> {
        if !self.in_room(room) || self.is_me(name) {
            return Err(format!("JOINED {room} {name} while {:?}", self.place));
        }
        if let Some(Member::Present { .. }) = self.members.get(name) {
            return Err(format!("JOINED {room} {name}, who was already a member"));
        }
        let present = Member::Present {
            saw_join: true,
            seqs: Vec::new(),
        };
        self.members.insert(name.to_owned(), present);
        Ok(())
    }

    /// `OP room name`: the operator left (the `PARTED` right before) and
    /// `name`, still in the room (maybe us), operates it now.
    fn on_op(&mut self, room: &str, name: &str, just_parted: bool) -> Result<(), String> {
        if !self.in_room(room) || !just_parted {
            return Err(format!(
                "OP {room} {name} while {:?}, not right after a PARTED there",
                self.place
            ));
        }
        if matches!(self.members.get(name), Some(Member::Gone)) {
            return Err(format!("OP {room} {name}, who had left the room"));
        }
        Ok(())
    }

    fn on_parted(&mut self, room: &str, name: &str) -> Result<(), String> {
        if !self.in_room(room) || self.is_me(name) {
            return Err(format!("PARTED {room} {name} while {:?}", self.place));
        }
        self.just_parted = true;
        match self.members.insert(name.to_owned(), Member::Gone) {
            Some(Member::Gone) => Err(format!("PARTED {room} {name}, who had already left")),
            Some(Member::Present { saw_join, seqs }) => {
                self.ledger.room_period(RoomPeriod {
                    receiver: self.me().to_owned(),
                    sender: name.to_owned(),
                    saw_join,
                    saw_part: true,
                    seqs,
                });
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Checks a received payload against its `from` field, the line it
    /// came as (`action`: `ACTION`, else `MSG` or `ROOM`) and the
    /// per-sender order, returning its sequence number.
    fn receive(&mut self, from: &str, text: &str, action: bool) -> Result<u64, String> {
        let received = payload::check_received(text)?;
        if received.sender != from {
            return Err(format!(
                "message from {from} carries sender {}",
                received.sender
            ));
        }
        if received.action != action {
            return Err(format!(
                "{from}'s {} {} came as {}",
                if received.action { "action" } else { "message" },
                received.seq,
                if action { "an ACTION" } else { "a message" }
            ));
        }
        let last = self.last_seq.entry(from.to_owned()).or_default();
        if received.seq <= *last {
            return Err(format!(
                "message {} from {from} after {} (duplicate or reordered)",
                received.seq, *last
            ));
        }
        *last = received.seq;
        Ok(received.seq)
    }

    /// `MSG`, or with `action` `ACTION -`: a line of the chat partner's.
    fn on_msg(&mut self, from: &str, text: &str, action: bool) -> Result<(), String> {
        let tag = if action { "ACTION -" } else { "MSG" };
        let Place::Chatting { partner, k } = &self.place else {
            return Err(format!("{tag} from {from} while {:?}", self.place));
        };
        if partner != from {
            return Err(format!("{tag} from {from} while chatting with {partner}"));
        }
        if self.is_ignoring(from) {
            return Err(format!("{tag} from {from}, whom we ignore"));
        }
        let key = (from.to_owned(), self.me().to_owned(), *k);
        let seq = self.receive(from, text, action)?;
        self.ledger.chat_received(key, seq);
        Ok(())
    }

    /// `ROOM`, or with `action` `ACTION <room>`: a line of a member's.
    fn on_room_msg(
        &mut self,
        room: &str,
        from: &str,
        text: &str,
        action: bool,
    ) -> Result<(), String> {
        let tag = if action { "ACTION" } else { "ROOM" };
        if !self.in_room(room) || self.is_me(from) {
            return Err(format!("{tag} {room} from {from} while {:?}", self.place));
        }
        if self.is_ignoring(from) {
            return Err(format!("{tag} {room} from {from}, whom we ignore"));
        }
        let seq = self.receive(from, text, action)?;
        let member = self
            .members
            .entry(from.to_owned())
            .or_insert(Member::Present {
                saw_join: false,
                seqs: Vec::new(),
            });
        match member {
            Member::Present { seqs, .. } => {
                seqs.push(seq);
                Ok(())
            }
            Member::Gone => Err(format!("{tag} {room} from {from} after it PARTED")),
        }
    }
}
