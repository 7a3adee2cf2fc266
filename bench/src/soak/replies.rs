//! What each line a client sends must be answered with, judged against the
//! model at the reply's position in the stream (which is exactly the hub's
//! state when it answered). Where the answer depends on other users (is the
//! target online? available?) every answer the protocol allows is accepted;
//! where it does not, only the one right answer is.

use common::{ErrorCode, HistoryLine, OkReply, ServerLine, UserState, fold};

use crate::accounts::{self, Account};
use crate::away::{AwaySeen, Told};
use crate::history::{self, HistoryReply};
use crate::ledger::{DROP_GRACE, NameStatus};
use crate::manners;
use crate::model::{Landing, Model, Place};
use crate::moderation;

/// The final line (`OK`, `ERR`, `BYE`, `WELCOME`) one sent line must get.
#[derive(Debug, Clone)]
pub(crate) enum Want {
    /// A name we own alone: `WELCOME name`.
    Welcome(String),
    /// This error whatever the state.
    Err(ErrorCode),
    Help,
    List,
    Rooms,
    /// `/chat NAME` (or `2 NAME`).
    Chat(String),
    Accept(Option<String>),
    Decline(Option<String>),
    Cancel,
    Leave,
    /// `/join ROOM`; `valid` says whether ROOM is a well-formed name.
    Join {
        room: String,
        valid: bool,
    },
    /// Registered names and signing in (`accounts.rs`).
    Account(Account),
    /// `/away [REASON]`.
    Away(Option<String>),
    /// `/back`.
    Back,
    /// `/ignore NAME`, typed as `typed`; `canonical` is how its holder
    /// spells it, if known.
    Ignore {
        typed: String,
        canonical: Option<String>,
    },
    /// `/unignore NAME`.
    Unignore(String),
    /// `/ignores`.
    Ignores,
    /// `/topic [TEXT]`.
    Topic(Option<String>),
    /// `/kick NAME [REASON]` (`typed` as sent).
    Kick {
        typed: String,
    },
    /// `/ban NAME`, typed as `typed`; `canonical` is how its holder
    /// spells it, if known.
    Ban {
        typed: String,
        canonical: Option<String>,
    },
}

/// What one sent line expects back.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// A message with this sequence number: `ERR not-in-chat` or nothing.
    Message(u64),
    /// Exactly one final line.
    Reply(Want),
    /// `OK ping TOKEN`: the barrier that ends an action.
    Ping(String),
    /// `BYE`, then the server closes.
    Bye,
}

/// Facts about the run a reply check needs.
pub(crate) struct Context<'a> {
    pub(crate) sentinel: &'a str,
    /// Only soak clients use the server, so every listed name is known.
    pub(crate) own_server: bool,
    pub(crate) ledger: &'a crate::ledger::Ledger,
    /// When the action was sent (for the `/list` ghost check).
    pub(crate) sent_at: std::time::Instant,
    /// The `USER`, `ROOMINFO` and `HISTORY` lines gathered for this reply.
    pub(crate) users: &'a [(String, UserState)],
    pub(crate) rooms: &'a [(String, usize)],
    pub(crate) history: &'a [HistoryLine],
    /// The `AWAY` lines (name, reason) gathered for this reply.
    pub(crate) aways: &'a [(String, String)],
    /// The `IGNORING` lines gathered for this reply.
    pub(crate) ignorings: &'a [String],
    /// The `TOPIC` line right before this reply's `OK topic` or `OK
    /// join`: room, setter (`None`: no topic), text.
    pub(crate) topic: Option<&'a TopicLine>,
}

/// A `TOPIC` line's fields: room, setter (`None` for `-`), text.
pub(crate) type TopicLine = (String, Option<String>, String);

/// A judgement: `Err` says what was wrong (empty: the line itself says).
pub(crate) type Check = Result<(), String>;

fn expect(condition: bool, what: impl FnOnce() -> String) -> Check {
    if condition { Ok(()) } else { Err(what()) }
}

/// `expect` for judges whose report is the line itself.
pub(crate) fn holds(condition: bool) -> Check {
    expect(condition, String::new)
}

/// Whether `line` is `ERR <code> …`.
pub(crate) fn is_err(line: &ServerLine, code: ErrorCode) -> bool {
    matches!(line, ServerLine::Err(got, _) if *got == code)
}

/// Judges `line` as the answer to `want`, updating the model.
///
/// # Errors
///
/// The answer is not one the protocol allows here.
pub(crate) fn check(want: &Want, line: &ServerLine, model: &mut Model, cx: &Context<'_>) -> Check {
    let result = match want {
        Want::Welcome(name) => match line {
            ServerLine::Welcome(got) if got.as_ref() == name => {
                model.me = Some(name.clone());
                model.place = Place::Available;
                Ok(())
            }
            _ => Err(String::new()),
        },
        Want::Err(code) => expect(is_err(line, *code), String::new),
        Want::Help => expect(matches!(line, ServerLine::Ok(OkReply::Help)), String::new),
        Want::List => check_list(line, model, cx),
        Want::Rooms => check_rooms(line, model, cx),
        Want::Chat(target) => check_chat(target, line, model, cx),
        Want::Accept(name) => check_accept(name.as_deref(), line, model, cx),
        Want::Decline(name) => check_decline(name.as_deref(), line, model, cx),
        Want::Cancel => check_cancel(line, model),
        Want::Leave => check_leave(line, model, cx),
        Want::Join { room, valid } => check_join(room, *valid, line, model, cx),
        Want::Account(account) => accounts::check(account, line, model, cx.ledger),
        Want::Away(reason) => manners::check_away(reason.as_deref(), line, model, cx),
        Want::Back => manners::check_back(line, model, cx),
        Want::Ignore { typed, canonical } => {
            manners::check_ignore(typed, canonical.as_deref(), line, model, cx)
        }
        Want::Unignore(typed) => manners::check_unignore(typed, line, model, cx),
        Want::Ignores => manners::check_ignores(line, model, cx),
        Want::Topic(text) => moderation::check_topic(text.as_deref(), line, model, cx),
        Want::Kick { typed } => moderation::check_kick(typed, line, model),
        Want::Ban { typed, canonical } => {
            moderation::check_ban(typed, canonical.as_deref(), line, model)
        }
    };
    result.map_err(|why| {
        let state = format!(
            "place {:?}, outgoing {:?}, incoming {:?}",
            model.place,
            model.outgoing,
            model.incoming.values().collect::<Vec<_>>()
        );
        format!("{want:?} answered {line:?} ({state}) {why}")
    })
}

fn check_list(line: &ServerLine, model: &Model, cx: &Context<'_>) -> Check {
    let ServerLine::Ok(OkReply::List(count)) = line else {
        return Err(String::new());
    };
    let users = cx.users;
    check_listing(*count, users, "USER")?;
    let own = match &model.place {
        Place::Chatting { partner, .. } => UserState::Chatting(partner.as_str().into()),
        Place::Room { shown, .. } => UserState::Room(shown.as_str().into()),
        Place::Naming | Place::Available if model.away.is_some() => UserState::Away,
        Place::Naming | Place::Available => UserState::Available,
    };
    expect(
        users
            .iter()
            .any(|(name, state)| model.is_me(name) && *state == own),
        || format!("own entry is not {own:?}"),
    )?;
    expect(users.iter().any(|(name, _)| name == cx.sentinel), || {
        "no sentinel".into()
    })?;
    for (name, state) in users {
        if let UserState::Chatting(peer) = state {
            let back = UserState::Chatting(name.as_str().into());
            expect(
                users.iter().any(|(n, s)| n == &**peer && *s == back),
                || format!("{name} chats with {peer}, but not the other way round"),
            )?;
        }
        check_not_ghost(name, cx)?;
        if *state == UserState::Away && !model.is_me(name) && cx.own_server {
            cx.ledger.away_seen(AwaySeen {
                asker: model.me().to_owned(),
                target: fold(name),
                told: Told::Listed,
                sent: cx.sent_at,
                answered: std::time::Instant::now(),
            });
        }
    }
    Ok(())
}

/// The `tag` lines of a `/list` or `/rooms` reply: as many as its `OK`
/// line counts, in folded order of their names, each name once.
fn check_listing<T>(count: usize, entries: &[(String, T)], tag: &str) -> Check {
    expect(count == entries.len(), || {
        format!("but {} {tag} lines came", entries.len())
    })?;
    for pair in entries.windows(2) {
        expect(fold(&pair[0].0) < fold(&pair[1].0), || {
            format!(
                "not sorted or listed twice: {} then {}",
                pair[0].0, pair[1].0
            )
        })?;
    }
    Ok(())
}

/// A listed name must not belong to a connection whose close we had
/// already seen (or dropped long enough ago) when `/list` was sent.
fn check_not_ghost(name: &str, cx: &Context<'_>) -> Check {
    match cx.ledger.name_status(name) {
        Some(NameStatus::Closed(at)) if at < cx.sent_at => Err(format!(
            "ghost {name}: its connection was closed {:?} before /list",
            cx.sent_at - at
        )),
        Some(NameStatus::Dropped(at)) if at + DROP_GRACE < cx.sent_at => Err(format!(
            "ghost {name}: dropped {:?} before /list",
            cx.sent_at - at
        )),
        None if cx.own_server => Err(format!("{name} was never a soak client's name")),
        _ => Ok(()),
    }
}

fn check_rooms(line: &ServerLine, model: &Model, cx: &Context<'_>) -> Check {
    let ServerLine::Ok(OkReply::Rooms(count)) = line else {
        return Err(String::new());
    };
    let rooms = cx.rooms;
    check_listing(*count, rooms, "ROOMINFO")?;
    expect(rooms.iter().all(|(_, members)| *members > 0), || {
        "an empty room".into()
    })?;
    if let Place::Room { shown, .. } = &model.place {
        expect(rooms.iter().any(|(room, _)| room == shown), || {
            format!("own room {shown} missing")
        })?;
    }
    Ok(())
}

/// Whether `name` may legitimately be offline or busy: anyone but the
/// sentinel (always online, always available) and a pending requester.
fn may_be_away(name: &str, model: &Model, cx: &Context<'_>) -> bool {
    fold(name) != fold(cx.sentinel) && !model.has_incoming(name) && !model.is_me(name)
}

fn check_chat(target: &str, line: &ServerLine, model: &mut Model, cx: &Context<'_>) -> Check {
    let available = model.place == Place::Available;
    let just_started = model.chat_just_started.as_deref().map(fold) == Some(fold(target));
    // `AWAY` only before an `OK chat` that asks (not one that starts a
    // chat at once), and only for the user asked.
    let told_away = match cx.aways {
        [] => None,
        [(name, reason)] if fold(name) == fold(target) => Some(reason.clone()),
        more => return Err(format!("AWAY lines {more:?}")),
    };
    if told_away.is_some() && (just_started || !matches!(line, ServerLine::Ok(_))) {
        return Err("after AWAY".into());
    }
    match line {
        _ if is_err(line, ErrorCode::NotAvailable) => expect(!available, String::new),
        _ if !available && !just_started => Err("instead of not-available".into()),
        _ if is_err(line, ErrorCode::SelfTarget) => expect(model.is_me(target), String::new),
        _ if is_err(line, ErrorCode::NoSuchUser) || is_err(line, ErrorCode::Busy) => {
            expect(may_be_away(target, model, cx), String::new)
        }
        ServerLine::Ok(OkReply::Chat(name)) if fold(name) == fold(target) => {
            if just_started {
                return Ok(());
            }
            expect(!model.has_incoming(target) && !model.is_me(target), || {
                "but they had asked us: the chat should have started".into()
            })?;
            model.outgoing = Some(name.to_string());
            // Had they a request pending, hidden from us, the chat would
            // have started.
            model.maybe_incoming.remove(&fold(name));
            if cx.own_server {
                cx.ledger.away_seen(AwaySeen {
                    asker: model.me().to_owned(),
                    target: fold(name),
                    told: told_away.map_or(Told::NotAway, Told::Away),
                    sent: cx.sent_at,
                    answered: std::time::Instant::now(),
                });
            }
            Ok(())
        }
        _ => Err(String::new()),
    }
}

/// Whether `requester`'s request (folded) fits an `/accept` or `/decline`
/// naming `name`, among those `seen` (`REQUEST` came) and `unseen` (maybe
/// pending, hidden by an ignore since lifted); `None` needs the only one.
fn answers(name: Option<&str>, requester: &str, seen: &[&String], unseen: &[&String]) -> bool {
    let is_seen = seen.iter().any(|seen| **seen == requester);
    let is_unseen = unseen.iter().any(|unseen| **unseen == requester);
    match name {
        None => (is_seen && seen.len() == 1) || (is_unseen && seen.is_empty()),
        Some(name) => fold(name) == requester && (is_seen || is_unseen),
    }
}

fn check_accept(
    name: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    if let ServerLine::Ok(OkReply::Accept(partner)) = line {
        let started = model.chat_just_started.as_deref() == Some(partner.as_ref());
        let seen: Vec<&String> = model.incoming_before_chat.iter().collect();
        let unseen: Vec<&String> = model.maybe_before_chat.iter().collect();
        let fits = answers(name, &fold(partner), &seen, &unseen);
        return expect(started && fits && !model.is_ignoring(partner), || {
            format!("(requests before: seen {seen:?}, maybe unseen {unseen:?})")
        });
    }
    if is_err(line, ErrorCode::NotAvailable) {
        return expect(model.place != Place::Available, String::new);
    }
    if model.place != Place::Available {
        return Err("instead of not-available".into());
    }
    check_pending_error(name, line, model, cx)
}

/// The errors `/accept` and `/decline` share once the user is available.
/// A request we may not have seen that such an error shows not pending
/// is forgotten.
fn check_pending_error(
    name: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    let n_seen = model.incoming.len();
    let n_unseen = model.maybe_incoming.len();
    match name {
        None if is_err(line, ErrorCode::NoRequest) => {
            expect(n_seen == 0, String::new)?;
            model.maybe_incoming.clear();
            Ok(())
        }
        None if is_err(line, ErrorCode::Usage) => expect(n_seen + n_unseen > 1, String::new),
        Some(name) if is_err(line, ErrorCode::SelfTarget) => expect(model.is_me(name), String::new),
        Some(name) if is_err(line, ErrorCode::NoRequest) => {
            expect(!model.has_incoming(name) && !model.is_me(name), String::new)?;
            model.maybe_incoming.remove(&fold(name));
            Ok(())
        }
        Some(name) if is_err(line, ErrorCode::NoSuchUser) => {
            expect(may_be_away(name, model, cx), String::new)?;
            model.maybe_incoming.remove(&fold(name));
            Ok(())
        }
        _ => Err(String::new()),
    }
}

fn check_decline(
    name: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    if model.place != Place::Available {
        return expect(is_err(line, ErrorCode::NoRequest), String::new);
    }
    if let ServerLine::Ok(OkReply::Decline(requester)) = line {
        let folded = fold(requester);
        let seen: Vec<&String> = model.incoming.keys().collect();
        let unseen: Vec<&String> = model.maybe_incoming.keys().collect();
        let fits = answers(name, &folded, &seen, &unseen);
        expect(fits && !model.is_ignoring(requester), String::new)?;
        model.incoming.remove(&folded);
        model.maybe_incoming.remove(&folded);
        return Ok(());
    }
    check_pending_error(name, line, model, cx)
}

fn check_cancel(line: &ServerLine, model: &mut Model) -> Check {
    match (line, model.outgoing.take()) {
        (ServerLine::Ok(OkReply::Cancel(target)), Some(asked)) if fold(target) == fold(&asked) => {
            Ok(())
        }
        (_, None) if is_err(line, ErrorCode::NoRequest) => Ok(()),
        (_, asked) => {
            model.outgoing = asked;
            Err(String::new())
        }
    }
}

fn check_leave(line: &ServerLine, model: &mut Model, cx: &Context<'_>) -> Check {
    let left = match (line, &model.place) {
        (ServerLine::Ok(OkReply::LeaveChat(name)), Place::Chatting { partner, .. }) => {
            **name == **partner
        }
        (ServerLine::Ok(OkReply::LeaveRoom(room)), Place::Room { shown, .. }) => **room == **shown,
        (_, Place::Available) => return expect(is_err(line, ErrorCode::NotInChat), String::new),
        _ => false,
    };
    expect(left, String::new)?;
    let now = std::time::Instant::now();
    model.record_view(cx.sent_at, now);
    model.leave(cx.sent_at, Some(now));
    Ok(())
}

fn check_join(
    room: &str,
    valid: bool,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    if model.place != Place::Available {
        return expect(is_err(line, ErrorCode::NotAvailable), String::new);
    }
    if !valid {
        return expect(is_err(line, ErrorCode::NameInvalid), String::new);
    }
    if is_err(line, ErrorCode::Banned) {
        // Only if someone sent a ban of our name there (before we asked).
        return expect(
            cx.ledger.may_be_banned(&fold(room), &fold(model.me())),
            || "but nobody banned us there".into(),
        );
    }
    match line {
        ServerLine::Ok(OkReply::Join(shown, members))
            if fold(shown) == fold(room) && *members > 0 =>
        {
            if let Some(line) = cx.history.iter().find(|line| model.is_ignoring(&line.from)) {
                return Err(format!("HISTORY from {}, whom we ignore", line.from));
            }
            // A server of others may hold anyone's history.
            if cx.own_server {
                let entries = history::check_reply(shown, cx.history)?;
                cx.ledger.history_seen(HistoryReply {
                    room: fold(shown),
                    joiner: model.me().to_owned(),
                    join_sent: cx.sent_at,
                    entries,
                    ignoring: model.ignoring.keys().cloned().collect(),
                });
            }
            let topic = match cx.topic {
                None => None,
                Some((_, _, _)) if *members == 1 => {
                    return Err("TOPIC in a room we created".into());
                }
                Some((topic_room, Some(setter), text)) if **topic_room == **shown => {
                    Some((setter.clone(), text.clone()))
                }
                Some(other) => return Err(format!("with TOPIC {other:?}")),
            };
            model.join_room(shown, *members, topic, cx.sent_at);
            Ok(())
        }
        _ => Err(String::new()),
    }
}

/// Decides where a message with no `ERR` landed: the one chat or room the
/// user was in since the previous reply line.
///
/// # Errors
///
/// The user was available throughout, so the message should have got
/// `ERR not-in-chat`; or the stretch is ambiguous (a checker bug).
pub(crate) fn landing_of_silent_message(model: &Model) -> Result<Landing, String> {
    match model.window.as_slice() {
        [landing] => Ok(landing.clone()),
        [] => Err("a message got neither ERR not-in-chat nor a chat or room to land in".into()),
        many => Err(format!("checker cannot place a message among {many:?}")),
    }
}
