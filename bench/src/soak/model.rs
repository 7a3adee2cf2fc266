//! One connection's state as its own line stream shows it. The server
//! queues every connection's lines in the hub's order, so at each line the
//! model is exactly the hub's view of this user at the moment that line
//! was made: replies can be judged exactly, and events checked against it
//! (no `MSG` from anyone but the partner, no `CHAT` unasked, nothing from
//! a name we ignore, …). The room we are in has a view of its own
//! (`room.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use common::{PartReason, ServerLine, fold};

use crate::ledger::Ledger;
use crate::operators::{How, OpSeen, OpTerm};
use crate::payload;
use crate::replies::Want;
use crate::room::RoomView;

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
    /// The room we are in, while we are (`rooms.rs`).
    pub(crate) room: Option<RoomView>,
    /// Highest sequence number received from each sender.
    last_seq: HashMap<String, u64>,
    /// When the last action whose answer we read was sent: the hub made
    /// every line after that answer later than this.
    pub(crate) floor: Instant,
    /// Sessions this user was in since the last final reply line: where a
    /// message sent in that stretch can have landed.
    pub(crate) window: Vec<Landing>,
    /// The partner of a chat started since the last final line.
    pub(crate) chat_just_started: Option<String>,
    /// Incoming requests (folded names) held just before that chat
    /// started: seen, and maybe pending unseen (not ignored).
    pub(crate) incoming_before_chat: Vec<String>,
    pub(crate) maybe_before_chat: Vec<String>,
    /// The last room whose operator banned us (`KICKED … banned`).
    pub(crate) banned_from: Option<String>,
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
            room: None,
            last_seq: HashMap::new(),
            floor: Instant::now(),
            window: Vec::new(),
            chat_just_started: None,
            incoming_before_chat: Vec::new(),
            maybe_before_chat: Vec::new(),
            away: None,
            banned_from: None,
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
        self.room.as_ref().map_or_else(Vec::new, RoomView::present)
    }

    /// The room we are in, as shown.
    pub(crate) fn room_shown(&self) -> Option<String> {
        match &self.place {
            Place::Room { shown, .. } => Some(shown.clone()),
            _ => None,
        }
    }

    /// The room we are in, folded.
    pub(crate) fn room_folded(&self) -> Option<String> {
        match &self.place {
            Place::Room { folded, .. } => Some(folded.clone()),
            _ => None,
        }
    }

    /// Whether we operate the room we are in.
    pub(crate) fn am_op(&self) -> bool {
        self.room.as_ref().is_some_and(|room| room.am_op)
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

    /// The user joined the room shown as `shown` with `n_members` (us
    /// included), sent at `sent`; `/join` showed `topic`.
    pub(crate) fn join_room(
        &mut self,
        shown: &str,
        n_members: usize,
        topic: Option<(String, String)>,
        sent: Instant,
    ) {
        let me = self.me().to_owned();
        let mut room = RoomView::new(&me, shown, n_members, topic);
        if room.am_op {
            room.op_term = Some(self.ledger.op_start(OpTerm {
                room: fold(shown),
                holder: me,
                start: (sent, Instant::now()),
                end_sent: None,
                end_seen: None,
            }));
        }
        self.room = Some(room);
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
        self.window.extend(self.landing());
    }

    /// The user's chat or room ended (`/leave`, `ENDED`, `KICKED`, or the
    /// connection closed), by a line sent at `sent` and seen done at
    /// `seen` (if it was): room periods are handed to the ledger, and the
    /// end of our term if we operated the room.
    pub(crate) fn leave(&mut self, sent: Instant, seen: Option<Instant>) {
        if let Some(room) = self.room.take() {
            if let Some(term) = room.op_term {
                self.ledger.op_end(term, sent, seen);
            }
            let mut periods = Vec::new();
            room.close(self.me(), &mut periods);
            for period in periods {
                self.ledger.room_period(period);
            }
        }
        if self.place != Place::Naming {
            self.become_available();
        }
    }

    /// We leave our room by a line sent at `sent` whose answer we read at
    /// `seen` (`OK leave`, or the server's close after `/quit`): the
    /// operator we knew of operated it when the hub took that line.
    pub(crate) fn record_view(&self, sent: Instant, seen: Instant) {
        if let (Some(room), Some(shown)) = (&self.room, self.room_shown())
            && let Some(op) = room.other_op()
        {
            self.ledger.op_seen(OpSeen {
                room: fold(&shown),
                holder: op.to_owned(),
                observer: self.me().to_owned(),
                how: How::View,
                span: (sent, seen),
            });
        }
    }

    /// Called before each line is read.
    ///
    /// # Errors
    ///
    /// The line breaks an order the room's lines must keep.
    pub(crate) fn before_line(&mut self, line: &ServerLine) -> Result<(), String> {
        match &mut self.room {
            Some(room) => room.before_line(matches!(line, ServerLine::Op(..))),
            None => Ok(()),
        }
    }

    /// Records that `holder` operates our room, as `how` showed (the hub
    /// made that line since our floor).
    fn saw_operator(&self, room: &str, holder: &str, how: How) {
        self.ledger.op_seen(OpSeen {
            room: fold(room),
            holder: holder.to_owned(),
            observer: self.me().to_owned(),
            how,
            span: (self.floor, Instant::now()),
        });
    }

    /// Applies an event line (any line that is not part of a reply).
    /// `outstanding` is the command whose answer we await, if any: a
    /// `/chat` or `/accept` may start a chat by its reply, and a `/kick`
    /// or `/ban` of ours removes a member.
    ///
    /// # Errors
    ///
    /// The event contradicts the state (a violation).
    pub(crate) fn on_event(
        &mut self,
        line: &ServerLine,
        outstanding: Option<&Want>,
    ) -> Result<(), String> {
        let reply_may_chat = matches!(outstanding, Some(Want::Chat(_) | Want::Accept(_)));
        let our_kick = match outstanding {
            Some(Want::Kick { typed, .. } | Want::Ban { typed, .. }) => Some(typed.as_str()),
            _ => None,
        };
        match line {
            ServerLine::Op(room, name) => self.on_op(room, name),
            ServerLine::Topic(room, setter, text) => self.on_topic(room, setter.as_deref(), text),
            ServerLine::Kicked(room, by, reason) => {
                if **reason == *"banned" {
                    self.banned_from = Some(room.to_string());
                }
                self.on_kicked(room, by)
            }
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
                    let now = Instant::now();
                    self.leave(now, Some(now));
                    Ok(())
                }
                place => Err(format!("ENDED {partner} while {place:?}")),
            },
            ServerLine::Joined(room, name) => self.on_joined(room, name),
            ServerLine::Parted(room, name, reason) => self.on_parted(room, name, *reason, our_kick),
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

    /// The room view, if we are in `room` (as shown).
    fn room_view(&mut self, room: &str, tag: &str) -> Result<&mut RoomView, String> {
        match (&self.place, &mut self.room) {
            (Place::Room { shown, .. }, Some(view)) if shown == room => Ok(view),
            (place, _) => Err(format!("{tag} {room} while {place:?}")),
        }
    }

    fn on_joined(&mut self, room: &str, name: &str) -> Result<(), String> {
        if self.is_me(name) {
            return Err(format!("JOINED {room} {name}, which is us"));
        }
        self.room_view(room, "JOINED")?.on_joined(name)
    }

    /// `OP room name`: the operator left (the `PARTED` right before) and
    /// `name`, still in the room (maybe us), operates it now.
    fn on_op(&mut self, room: &str, name: &str) -> Result<(), String> {
        let me = self.me().to_owned();
        let floor = self.floor;
        let view = self.room_view(room, "OP")?;
        view.on_op(name, &me)?;
        if fold(name) == fold(&me) {
            let term = self.ledger.op_start(OpTerm {
                room: fold(room),
                holder: me,
                start: (floor, Instant::now()),
                end_sent: None,
                end_seen: None,
            });
            if let Some(view) = &mut self.room {
                view.op_term = Some(term);
            }
        } else {
            self.saw_operator(room, name, How::Op);
        }
        Ok(())
    }

    /// A `TOPIC` event: another member, the operator, set the topic.
    fn on_topic(&mut self, room: &str, setter: Option<&str>, text: &str) -> Result<(), String> {
        let me = self.me().to_owned();
        let Some(setter) = setter else {
            return Err(format!("TOPIC {room} - (no topic) as an event"));
        };
        self.room_view(room, "TOPIC")?.on_topic(setter, text, &me)?;
        self.saw_operator(room, setter, How::Topic);
        Ok(())
    }

    /// `KICKED room by`: the operator removed us; we are at the menu.
    fn on_kicked(&mut self, room: &str, by: &str) -> Result<(), String> {
        let me = self.me().to_owned();
        self.room_view(room, "KICKED")?.on_kicked(by, &me)?;
        self.saw_operator(room, by, How::Kicked);
        let now = Instant::now();
        self.leave(now, Some(now));
        Ok(())
    }

    fn on_parted(
        &mut self,
        room: &str,
        name: &str,
        reason: PartReason,
        our_kick: Option<&str>,
    ) -> Result<(), String> {
        if self.is_me(name) {
            return Err(format!("PARTED {room} {name}, which is us"));
        }
        let me = self.me().to_owned();
        let mut periods = Vec::new();
        let result =
            self.room_view(room, "PARTED")?
                .on_parted(name, reason, our_kick, &me, &mut periods);
        for period in periods {
            self.ledger.room_period(period);
        }
        result
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
        self.room_view(room, tag)?.on_said(from, seq, tag)
    }
}
