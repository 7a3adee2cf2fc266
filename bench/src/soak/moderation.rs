//! A room's operator in the soak: what a client sends of `/topic`,
//! `/kick` and `/ban` (mostly as the operator, sometimes not, sometimes
//! outside a room), and what each must be answered. Whether we operate
//! is exact (`room.rs`), and while we do we know every member, so every
//! answer is judged exactly: the errors in the server's order
//! (`not-in-room`, `not-operator`, `self`, then the argument), `PARTED …
//! kicked` right before `OK kick` or `OK ban` of a member, the topic shown
//! as it stands. A kick's reason is never `banned`, so `KICKED … banned`
//! means a ban.

use common::{ErrorCode, Name, OkReply, ServerLine, fold};

use crate::actions::{Action, Chooser};
use crate::model::Model;
use crate::replies::{Check, Context, Want, holds, is_err};

/// Names nobody holds, and one no one can.
const STRANGERS: [&str; 3] = ["zz-nobody", "no_one_at_all", "-x"];

impl Chooser<'_> {
    /// `/topic`, `/kick` or `/ban`: as the operator mostly to set the
    /// topic (so the members learn who operates), now and then to kick or
    /// ban; as a member mostly to read the topic.
    pub(crate) fn moderation(&mut self) -> Action {
        let weights: [u64; 4] = if self.model.am_op() {
            [8, 3, 4, 2]
        } else {
            [2, 4, 1, 1]
        };
        match self.rng.weighted(&weights) {
            0 => {
                let text = format!("topic of {}  no. {}", self.label, self.rng.below(1000));
                let line = format!("/topic {text}");
                Action::new("topic-set").want(line, Want::Topic(Some(text)))
            }
            1 => Action::new("topic").want("/topic", Want::Topic(None)),
            2 => {
                let typed = self.moderated();
                let line = match self.rng.chance(50) {
                    true => format!("/kick {typed} k  {} {}", self.label, self.rng.below(1000)),
                    false => format!("/kick {typed}"),
                };
                Action::new("kick").want(line, Want::Kick { typed })
            }
            _ => {
                let (typed, canonical) = self.banned();
                let mut action = Action::new("ban").want(
                    format!("/ban {typed}"),
                    Want::Ban {
                        typed: typed.clone(),
                        canonical,
                    },
                );
                if let Some(room) = self.model.room_folded() {
                    action.bans = Some((room, fold(&typed)));
                }
                action
            }
        }
    }

    /// Someone to kick: a member here mostly, else ourselves, someone
    /// (maybe) elsewhere, or nobody.
    fn moderated(&mut self) -> String {
        let members = self.model.present_members();
        let name = match self.rng.weighted(&[70, 10, 10, 10]) {
            0 if !members.is_empty() => {
                members[self.rng.below(members.len() as u64) as usize].clone()
            }
            1 => self.model.me().to_owned(),
            3 => (*self.rng.pick(&STRANGERS)).to_owned(),
            _ => self
                .live_name
                .clone()
                .unwrap_or_else(|| self.sentinel.to_owned()),
        };
        self.rng.recase(&name)
    }

    /// Someone to ban, typed in any case, with the name as its holder
    /// spells it: a member here, else someone who may come (a live user,
    /// the sentinel, nobody), ourselves, or a malformed name.
    fn banned(&mut self) -> (String, Option<String>) {
        let members = self.model.present_members();
        let name = match self.rng.weighted(&[50, 20, 5, 15, 5, 5]) {
            0 if !members.is_empty() => {
                members[self.rng.below(members.len() as u64) as usize].clone()
            }
            2 => self.sentinel.to_owned(),
            3 => (*self.rng.pick(&STRANGERS[..2])).to_owned(),
            4 => self.model.me().to_owned(),
            5 => return ("-x".to_owned(), None),
            _ => self
                .live_name
                .clone()
                .unwrap_or_else(|| self.sentinel.to_owned()),
        };
        (self.rng.recase(&name), Some(name))
    }
}

/// `/topic [TEXT]`: outside a room `ERR not-in-room`; without TEXT the
/// topic as it stands (`TOPIC <room> -` for none); with TEXT, by the
/// operator, the new topic, which we set; by anyone else `ERR
/// not-operator`.
pub(crate) fn check_topic(
    text: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    let me = model.me().to_owned();
    let Some(shown) = model.room_shown() else {
        return holds(is_err(line, ErrorCode::NotInRoom));
    };
    let Some(room) = &mut model.room else {
        return holds(is_err(line, ErrorCode::NotInRoom));
    };
    if text.is_some() && !room.am_op {
        return holds(is_err(line, ErrorCode::NotOperator));
    }
    holds(matches!(line, ServerLine::Ok(OkReply::Topic)))?;
    let want = match text {
        Some(text) => (shown, Some(me.clone()), text.to_owned()),
        None => match &room.topic {
            Some((setter, text)) => (shown, Some(setter.clone()), text.clone()),
            None => (shown, None, String::new()),
        },
    };
    if cx.topic != Some(&want) {
        return Err(format!("with TOPIC {:?}, not {want:?}", cx.topic));
    }
    if let Some(text) = text {
        room.topic = Some((me, text.to_owned()));
    }
    Ok(())
}

/// `/kick NAME`: the errors in order, else (we operate, and know every
/// member) `PARTED <room> <NAME> kicked` then `OK kick <NAME>` for a
/// member here, `ERR no-such-user` for anyone else.
pub(crate) fn check_kick(typed: &str, line: &ServerLine, model: &mut Model) -> Check {
    if let Some(check) = operator_errors(line, model) {
        return check;
    }
    if model.is_me(typed) {
        return holds(is_err(line, ErrorCode::SelfTarget));
    }
    match removed(typed, model) {
        Some(name) if matches!(line, ServerLine::Ok(OkReply::Kick(got)) if **got == name) => Ok(()),
        Some(name) => Err(format!("we operate and {name} was here")),
        None if is_err(line, ErrorCode::NoSuchUser) => Ok(()),
        None => Err("we operate, and know every member: nobody by that name".into()),
    }
}

/// `/ban NAME`: the errors in order (`name-invalid` before `self`), else
/// as `/kick` for a member here, and `OK ban <NAME>` alone for anyone
/// else (as its holder spells it, or as typed).
pub(crate) fn check_ban(
    typed: &str,
    canonical: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
) -> Check {
    if let Some(check) = operator_errors(line, model) {
        return check;
    }
    if Name::parse(typed).is_err() {
        return holds(is_err(line, ErrorCode::NameInvalid));
    }
    if model.is_me(typed) {
        return holds(is_err(line, ErrorCode::SelfTarget));
    }
    let ServerLine::Ok(OkReply::Ban(shown)) = line else {
        return Err(String::new());
    };
    match removed(typed, model) {
        Some(name) if **shown == name => Ok(()),
        Some(name) => Err(format!("we operate and {name} was here")),
        None => {
            let spelled =
                **shown == *typed || canonical.is_none_or(|canonical| **shown == *canonical);
            holds(fold(shown) == fold(typed) && spelled)
        }
    }
}

/// `ERR not-in-room` and `ERR not-operator`, when they are the answer:
/// `Some` with the verdict on `line`.
fn operator_errors(line: &ServerLine, model: &Model) -> Option<Check> {
    let (code, why) = match &model.room {
        None => (ErrorCode::NotInRoom, "we are in no room"),
        Some(room) if !room.am_op => (ErrorCode::NotOperator, "we do not operate the room"),
        Some(_) => return None,
    };
    Some(if is_err(line, code) {
        Ok(())
    } else {
        Err(why.to_owned())
    })
}

/// The member `typed` names, if our kick or ban just removed it: the
/// line right before the answer was its `PARTED … kicked`. A member
/// still here would have had to be removed (a violation, reported as the
/// answer's).
fn removed(typed: &str, model: &Model) -> Option<String> {
    let room = model.room.as_ref()?;
    if let Some(parted) = &room.parted_before
        && parted.kicked
        && fold(&parted.name) == fold(typed)
    {
        return Some(parted.name.clone());
    }
    room.is_present(typed)
        .map(|_| "(a member still here)".to_owned())
}
