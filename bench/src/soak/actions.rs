//! What a client does next: random valid and invalid input, chosen by
//! state with a seeded PRNG, each with the replies it must get. Every
//! action ends with a barrier (`/ping TOKEN` once named, `/help` while
//! naming), so the client knows when the server has handled all of it.
//! Registered names are in `accounts.rs`, `/away` and ignoring in
//! `manners.rs`, `/topic`, `/kick` and `/ban` in `moderation.rs`.

use common::ErrorCode;
use common::telnet::{DO, DONT, ECHO, IAC, IP, NAWS, WILL, WONT};

use crate::model::{Model, Place};
use crate::payload;
use crate::replies::{Expect, Want};
use crate::rng::Rng;

const ROOMS: [&str; 6] = ["lobby", "Lounge", "r1", "r2", "r3", "big-room"];
const BAD_NAMES: [&str; 8] = [
    "-dash",
    "_under",
    "has space",
    "abcdefghijklmnopqrstuvwxy",
    "\u{430}lice",
    "\u{feff}bob",
    "a.b",
    "nul\u{0}name",
];

/// How the connection ends after an action, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// It stays open.
    Open,
    /// `/quit`: `BYE`, then the server closes.
    Quit,
    /// We shut down our sending side and read until the server closes.
    HalfClose,
    /// We close the socket without reading on (after sending the bytes).
    Drop,
    /// Like `Drop`, with unread replies pending so the kernel sends RST.
    Reset,
}

/// Lines to send and what they must get back.
pub(crate) struct Action {
    pub(crate) kind: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) expects: Vec<Expect>,
    pub(crate) telnet: Vec<[u8; 3]>,
    pub(crate) end: End,
    pub(crate) n_messages: u64,
    /// Password checks the action costs, and of which name.
    pub(crate) checks: Option<(String, usize)>,
    /// A ban the action may make: (folded room, folded name).
    pub(crate) bans: Option<(String, String)>,
}

impl Action {
    pub(crate) fn new(kind: &'static str) -> Action {
        Action {
            kind,
            bytes: Vec::new(),
            expects: Vec::new(),
            telnet: Vec::new(),
            end: End::Open,
            n_messages: 0,
            checks: None,
            bans: None,
        }
    }

    /// Appends a line with CRLF, or with LF alone (which the server must
    /// accept too) when the bytes so far are a multiple of four, about one
    /// line in four.
    pub(crate) fn line(mut self, text: impl AsRef<[u8]>, expect: Option<Expect>) -> Action {
        self.bytes.extend_from_slice(text.as_ref());
        let lf_only = self.bytes.len().is_multiple_of(4);
        self.bytes
            .extend_from_slice(if lf_only { b"\n" } else { b"\r\n" });
        self.expects.extend(expect);
        self
    }

    pub(crate) fn want(self, text: impl AsRef<[u8]>, want: Want) -> Action {
        self.line(text, Some(Expect::Reply(want)))
    }

    pub(crate) fn ending(mut self, end: End) -> Action {
        self.end = end;
        self
    }
}

/// `/quit`, as every client ends the run.
pub(crate) fn quit() -> Action {
    Action::new("quit")
        .line("/quit", Some(Expect::Bye))
        .ending(End::Quit)
}

/// Logs in with `name` (which we alone use), then the naming barrier.
pub(crate) fn login(name: &str) -> Action {
    Action::new("login")
        .want(name, Want::Welcome(name.to_owned()))
        .want("/help", Want::Help)
}

/// Chooses actions for one client.
pub(crate) struct Chooser<'a> {
    pub(crate) rng: &'a mut Rng,
    pub(crate) model: &'a Model,
    pub(crate) sentinel: &'a str,
    /// The name to log in with.
    pub(crate) login: &'a str,
    pub(crate) next_seq: &'a mut u64,
    pub(crate) next_token: &'a mut u64,
    pub(crate) label: &'a str,
    /// A random online soak name, if any.
    pub(crate) live_name: Option<String>,
    /// Password checks our name may still be sent this minute.
    pub(crate) check_budget: usize,
}

impl Chooser<'_> {
    /// The next action for the current state.
    pub(crate) fn choose(&mut self) -> Action {
        match self.model.place {
            Place::Naming => self.naming(),
            Place::Available => self.available(),
            Place::Chatting { .. } | Place::Room { .. } => self.engaged(),
        }
    }

    fn naming(&mut self) -> Action {
        let action = match self.rng.weighted(&[70, 8, 8, 4, 3, 2, 2, 2, 1]) {
            0 => Action::new("login").want(self.login, Want::Welcome(self.login.to_owned())),
            1 => {
                let name = self.rng.recase(self.sentinel);
                Action::new("login-taken").want(name, Want::Err(ErrorCode::NameTaken))
            }
            2 => {
                let name = *self.rng.pick(&BAD_NAMES);
                Action::new("login-invalid").want(name, Want::Err(ErrorCode::NameInvalid))
            }
            3 => self.naming_command(),
            4 => self.garbage(),
            5 => self.telnet(),
            6 => return Action::new("drop-naming").ending(End::Drop),
            7 => {
                return Action::new("quit-naming")
                    .line("/exit", Some(Expect::Bye))
                    .ending(End::Quit);
            }
            _ => return self.partial_line_drop(),
        };
        action.want("/help", Want::Help)
    }

    fn naming_command(&mut self) -> Action {
        let (line, want) = self
            .rng
            .pick(&[
                ("/list", Want::Err(ErrorCode::NameInvalid)),
                ("/help", Want::Help),
                ("/help me", Want::Err(ErrorCode::Usage)),
                ("//x", Want::Err(ErrorCode::NameInvalid)),
                ("/frobnicate", Want::Err(ErrorCode::NameInvalid)),
                ("/ping x", Want::Err(ErrorCode::NameInvalid)),
                ("/me waves", Want::Err(ErrorCode::NameInvalid)),
            ])
            .clone();
        Action::new("naming-command").want(line, want)
    }

    fn available(&mut self) -> Action {
        let has_incoming = !self.model.incoming.is_empty();
        let chats = self.model.may_chat;
        // Disconnects are rare (weight 1 of about 300 each), so chats and
        // rooms last long enough to carry many messages.
        let weights = [
            match (chats, has_incoming) {
                (false, _) => 0,
                (true, true) => 120,
                (true, false) => 9,
            },
            if has_incoming { 30 } else { 6 },
            if chats { 75 } else { 0 },
            36,
            15,
            9,
            9,
            6,
            9,
            15,
            6,
            1,
            1,
            1,
            2,
            3,
            8,
            1,
        ];
        self.common_action(&weights)
    }

    fn engaged(&mut self) -> Action {
        let in_room = matches!(self.model.place, Place::Room { .. });
        let leave = if in_room { 15 } else { 12 };
        let moderation = match (in_room, self.model.am_op()) {
            (true, true) => 14,
            (true, false) => 4,
            (false, _) => 1,
        };
        let weights = [
            3, 3, 3, 3, 9, 3, 3, leave, 210, 12, 6, 1, 1, 1, 1, 40, 4, moderation,
        ];
        self.common_action(&weights)
    }

    /// One action picked by `weights`, in the order of the arms below.
    fn common_action(&mut self, weights: &[u64; 18]) -> Action {
        let action = match self.rng.weighted(weights) {
            0 => self.accept(),
            1 => self.decline(),
            2 => self.chat(),
            3 => self.join(),
            4 => self.simple("list", "/list", "1", Want::List),
            5 => Action::new("rooms").want("/rooms", Want::Rooms),
            6 => Action::new("cancel").want("/cancel", Want::Cancel),
            7 => Action::new("leave").want("/leave", Want::Leave),
            8 => self.message(),
            9 => self.garbage(),
            10 => self.odd_ping(),
            11 => return self.quit_variant(),
            12 => return Action::new("half-close").ending(End::HalfClose),
            13 => return self.drop_variant(),
            14 => self.account(),
            15 => self.me(),
            16 => self.manners(),
            _ => self.moderation(),
        };
        self.barrier(action)
    }

    /// Whether menu aliases are safe: available with no request of our own
    /// out, so nothing can move us into a chat while the line is in flight
    /// (where `1` would be a message).
    fn aliases_safe(&self) -> bool {
        self.model.place == Place::Available && self.model.outgoing.is_none()
    }

    fn simple(&mut self, kind: &'static str, command: &str, alias: &str, want: Want) -> Action {
        let line = if self.aliases_safe() && self.rng.chance(30) {
            alias
        } else {
            command
        };
        Action::new(kind).want(line, want)
    }

    fn barrier(&mut self, action: Action) -> Action {
        *self.next_token += 1;
        let token = format!("{}-{}", self.label, self.next_token);
        action.line(format!("/ping {token}"), Some(Expect::Ping(token)))
    }

    /// A name to act on: a requester, the sentinel, ourselves, nobody, or
    /// a random online user.
    fn target(&mut self) -> String {
        let requester = self.model.incoming.values().next().cloned();
        match self.rng.weighted(&[35, 15, 5, 5, 40]) {
            0 if requester.is_some() => requester.unwrap_or_default(),
            1 => self.rng.recase(self.sentinel),
            2 => self.rng.recase(self.model.me()),
            3 => (*self.rng.pick(&["zz-nobody", "-x", "no_one_at_all"])).to_owned(),
            _ => self
                .live_name
                .clone()
                .unwrap_or_else(|| self.sentinel.to_owned()),
        }
    }

    fn chat(&mut self) -> Action {
        let target = self.target();
        let alias = self.aliases_safe() && self.rng.chance(20);
        let line = if alias {
            format!("2 {target}")
        } else {
            format!("/chat {target}")
        };
        Action::new("chat").want(line, Want::Chat(target))
    }

    fn accept(&mut self) -> Action {
        let (line, name) = self.answer("/accept", &["yes", "y", "YES"]);
        Action::new("accept").want(line, Want::Accept(name))
    }

    fn decline(&mut self) -> Action {
        let (line, name) = self.answer("/decline", &["no", "n"]);
        Action::new("decline").want(line, Want::Decline(name))
    }

    /// An answer to a chat request: `command` or one of its menu `aliases`,
    /// naming the requester half the time; returns the line and the name.
    fn answer(
        &mut self,
        command: &'static str,
        aliases: &[&'static str],
    ) -> (String, Option<String>) {
        let name = self.rng.chance(50).then(|| self.target());
        let verb = if self.aliases_safe() && self.rng.chance(30) {
            *self.rng.pick(aliases)
        } else {
            command
        };
        let line = match &name {
            Some(name) => format!("{verb} {name}"),
            None => verb.to_owned(),
        };
        (line, name)
    }

    fn join(&mut self) -> Action {
        let (room, valid) = if self.rng.chance(8) {
            (
                self.rng.pick(&["-bad", "bad!room", "r\u{e9}"]).to_string(),
                false,
            )
        } else {
            // Back to a room that banned us, now and then: ERR banned
            // while it lasts.
            let room = match &self.model.banned_from {
                Some(room) if self.rng.chance(40) => room.clone(),
                _ => (*self.rng.pick(&ROOMS)).to_owned(),
            };
            (self.rng.recase(&room), true)
        };
        Action::new("join").want(format!("/join {room}"), Want::Join { room, valid })
    }

    fn message(&mut self) -> Action {
        *self.next_seq += 1;
        let seq = *self.next_seq;
        let kind = if self.rng.chance(60) {
            'p'
        } else {
            *self.rng.pick(&payload::KINDS)
        };
        let (line, telnet) = payload::message_line(kind, self.model.me(), seq);
        let mut action = Action::new("message").line(line, Some(Expect::Message(seq)));
        action.telnet = telnet;
        action.n_messages = 1;
        action
    }

    /// `/me` with a soak payload: an action, numbered with the messages;
    /// `ERR not-in-chat` at the menu.
    fn me(&mut self) -> Action {
        *self.next_seq += 1;
        let seq = *self.next_seq;
        let kind = if self.rng.chance(60) {
            'p'
        } else {
            *self.rng.pick(&payload::ACTION_KINDS)
        };
        let (line, telnet) = payload::action_line(kind, self.model.me(), seq);
        let mut action = Action::new("me").line(line, Some(Expect::Message(seq)));
        action.telnet = telnet;
        action.n_messages = 1;
        action
    }

    /// Input the server must refuse the same way in every state.
    fn garbage(&mut self) -> Action {
        let me = self.model.me().to_owned();
        let named = self.model.place != Place::Naming;
        match self.rng.below(9) {
            0 => Action::new("too-long").want(
                payload::too_long_line(&me, 1 + self.rng.below(3000) as usize),
                Want::Err(ErrorCode::TooLong),
            ),
            1 => Action::new("bad-encoding").want(
                payload::bad_encoding_line(&me),
                Want::Err(ErrorCode::BadEncoding),
            ),
            2 => Action::new("iac-iac").want(b"x\xff\xffy", Want::Err(ErrorCode::BadEncoding)),
            3 => Action::new("empty-lines").line("", None).line("", None),
            4 => self.telnet(),
            _ if !named => Action::new("too-long-endless").want(
                payload::too_long_line(&me, 20_000),
                Want::Err(ErrorCode::TooLong),
            ),
            5 => Action::new("unknown-command").want(
                *self.rng.pick(&["/frobnicate", "/", "/ list"]),
                Want::Err(ErrorCode::UnknownCommand),
            ),
            _ => {
                let line = *self.rng.pick(&[
                    "/LIST extra",
                    "/ping a b",
                    "/help me",
                    "/leave now",
                    "/JOIN",
                    "/chat a b",
                    "/me",
                    "/ME   ",
                    "/back now",
                ]);
                Action::new("usage").want(line, Want::Err(ErrorCode::Usage))
            }
        }
    }

    /// Telnet negotiation with no line: each `DO`/`WILL` must be refused;
    /// a `WONT`/`DONT` (of options 5 and 2, which the server never had)
    /// and an interrupt need no answer.
    fn telnet(&mut self) -> Action {
        let mut action = Action::new("telnet");
        action.bytes.extend_from_slice(&[
            IAC, DO, ECHO, IAC, WILL, NAWS, IAC, WONT, 5, IAC, IP, IAC, DONT, 2,
        ]);
        action.telnet = vec![[IAC, WONT, ECHO], [IAC, DONT, NAWS]];
        action
    }

    fn odd_ping(&mut self) -> Action {
        if self.rng.chance(50) {
            let want = Expect::Ping(common::sanitize("\u{1b}[31mred\u{202e}x\u{7}").into_owned());
            Action::new("ping-odd").line("/PING \u{1b}[31mred\u{202e}x\u{7}", Some(want))
        } else {
            Action::new("ping-bare").line("/ping", Some(Expect::Ping("-".into())))
        }
    }

    fn quit_variant(&mut self) -> Action {
        let line = if self.aliases_safe() && self.rng.chance(30) {
            "3"
        } else {
            *self.rng.pick(&["/quit", "/exit", "/QUIT now"])
        };
        Action::new("quit")
            .line(line, Some(Expect::Bye))
            .ending(End::Quit)
    }

    fn drop_variant(&mut self) -> Action {
        match self.rng.below(3) {
            0 => Action::new("drop").ending(End::Drop),
            1 => Action::new("reset").line("/help", None).ending(End::Reset),
            _ => self.partial_line_drop(),
        }
    }

    /// A line without its newline, then the socket is closed: it must be
    /// discarded, never delivered.
    fn partial_line_drop(&mut self) -> Action {
        let mut action = Action::new("partial-line-drop").ending(End::Drop);
        action.bytes = format!("sk {} 0 P unfinished", self.model.me()).into_bytes();
        action
    }
}
