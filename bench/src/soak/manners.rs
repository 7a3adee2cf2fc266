//! Version 2's manners in the soak: what a client sends of `/away`,
//! `/back`, `/ignore`, `/unignore` and `/ignores`, and what each must be
//! answered. (`/me` is a message with another line, in `actions.rs`.)
//! Ignoring is aimed where it shows: at the chat partner, room members,
//! requesters and live users, a few at a time.

use std::time::Instant;

use common::{ErrorCode, Name, OkReply, ServerLine, fold};

use crate::actions::{Action, Chooser};
use crate::away::AwayPeriod;
use crate::model::{Model, Place};
use crate::replies::{Check, Context, Want, holds, is_err};

/// Names nobody holds, and one no one can.
const NOBODY: [&str; 3] = ["zz-nobody", "no_one_at_all", "-x"];

impl Chooser<'_> {
    /// A manners command that fits the state.
    pub(crate) fn manners(&mut self) -> Action {
        let away = self.model.away.is_some();
        let n_ignored = self.model.ignoring.len();
        let weights = [
            if away { 2 } else { 6 },
            if away { 6 } else { 1 },
            if n_ignored < 3 { 8 } else { 1 },
            if n_ignored > 0 { 6 } else { 1 },
            2,
        ];
        match self.rng.weighted(&weights) {
            0 => self.away(),
            1 => Action::new("back").want("/back", Want::Back),
            2 => {
                let (typed, canonical) = self.someone();
                let line = format!("/ignore {typed}");
                Action::new("ignore").want(line, Want::Ignore { typed, canonical })
            }
            3 => {
                let k = self.rng.below(n_ignored as u64) as usize;
                let typed = match self.model.ignoring.values().nth(k) {
                    Some(name) if self.rng.chance(85) => self.rng.recase(name),
                    _ => self.someone().0,
                };
                let line = format!("/unignore {typed}");
                Action::new("unignore").want(line, Want::Unignore(typed))
            }
            _ => Action::new("ignores").want("/ignores", Want::Ignores),
        }
    }

    /// Someone to ignore (or kick, or ban), typed in any case, with the
    /// name as its holder spells it: mostly someone whose lines reach us
    /// (the partner, a room member, a requester), else a live user, the
    /// sentinel, ourselves, nobody, or a malformed name.
    pub(crate) fn someone(&mut self) -> (String, Option<String>) {
        let partner = match &self.model.place {
            Place::Chatting { partner, .. } => Some(partner.clone()),
            _ => None,
        };
        let members = self.model.present_members();
        let requester = self.model.incoming.values().next().cloned();
        let name = match self.rng.weighted(&[30, 30, 15, 15, 4, 3, 3]) {
            0 if partner.is_some() => partner,
            1 if !members.is_empty() => {
                Some(members[self.rng.below(members.len() as u64) as usize].clone())
            }
            2 if requester.is_some() => requester,
            4 => Some(self.sentinel.to_owned()),
            5 => Some(self.model.me().to_owned()),
            6 => {
                let nobody = *self.rng.pick(&NOBODY);
                let held = Name::parse(nobody).ok().map(|_| nobody.to_owned());
                return (nobody.to_owned(), held);
            }
            _ => self.live_name.clone(),
        };
        let name = name.unwrap_or_else(|| self.sentinel.to_owned());
        (self.rng.recase(&name), Some(name))
    }

    /// `/away`, with a reason of our own (two spaces in it, which must
    /// reach an asker as they are) or none.
    fn away(&mut self) -> Action {
        let reason = self
            .rng
            .chance(70)
            .then(|| format!("brb  {} {}", self.label, self.rng.below(1000)));
        let line = match &reason {
            Some(reason) => format!("/away {reason}"),
            None => "/away".to_owned(),
        };
        Action::new("away").want(line, Want::Away(reason))
    }
}

/// `/away [REASON]`: `OK away` in every named state; a period begins (and
/// the one before, if any, ends).
pub(crate) fn check_away(
    reason: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    holds(matches!(line, ServerLine::Ok(OkReply::Away)))?;
    let now = Instant::now();
    model.end_away(cx.sent_at, Some(now));
    let reason = reason.unwrap_or_default().to_owned();
    let period = cx.ledger.away_start(AwayPeriod {
        name: fold(model.me()),
        reason: reason.clone(),
        start_sent: cx.sent_at,
        start_ok: now,
        end_sent: None,
        end_ok: None,
    });
    model.away = Some((reason, period));
    Ok(())
}

/// `/back`: `OK back`, away or not.
pub(crate) fn check_back(line: &ServerLine, model: &mut Model, cx: &Context<'_>) -> Check {
    holds(matches!(line, ServerLine::Ok(OkReply::Back)))?;
    model.end_away(cx.sent_at, Some(Instant::now()));
    Ok(())
}

/// `/ignore NAME`: `ERR name-invalid` for a malformed name, `ERR self`
/// for our own, else `OK ignore` with the name as its holder spells it
/// (or as typed, for a name nobody holds). The ignore is in force from
/// that line on.
pub(crate) fn check_ignore(
    typed: &str,
    canonical: Option<&str>,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    if Name::parse(typed).is_err() {
        return holds(is_err(line, ErrorCode::NameInvalid));
    }
    if model.is_me(typed) {
        return holds(is_err(line, ErrorCode::SelfTarget));
    }
    let ServerLine::Ok(OkReply::Ignore(shown)) = line else {
        return Err(String::new());
    };
    let folded = fold(typed);
    let spelled = **shown == *typed || canonical.is_none_or(|canonical| **shown == *canonical);
    holds(fold(shown) == folded && spelled)?;
    if !model.ignoring.contains_key(&folded) {
        cx.ledger.ignore_open(model.me(), &folded, cx.sent_at);
    }
    // Their request, if any, is hidden from now on (and so is its end).
    model.incoming.remove(&folded);
    model.maybe_incoming.remove(&folded);
    model.ignoring.insert(folded, shown.to_string());
    Ok(())
}

/// `/unignore NAME`: `ERR name-invalid` for a malformed name, else `OK
/// unignore` with the name as the list held it (or as typed, if it did
/// not). A request made while ignored may now show.
pub(crate) fn check_unignore(
    typed: &str,
    line: &ServerLine,
    model: &mut Model,
    cx: &Context<'_>,
) -> Check {
    if Name::parse(typed).is_err() {
        return holds(is_err(line, ErrorCode::NameInvalid));
    }
    let ServerLine::Ok(OkReply::Unignore(shown)) = line else {
        return Err(String::new());
    };
    let folded = fold(typed);
    let Some(held) = model.ignoring.get(&folded).cloned() else {
        return holds(**shown == *typed);
    };
    holds(**shown == *held)?;
    model.ignoring.remove(&folded);
    cx.ledger.ignore_close(model.me(), &folded, Instant::now());
    if model.place == Place::Available {
        model.maybe_incoming.insert(folded, held);
    }
    Ok(())
}

/// `/ignores`: an `IGNORING` line for each name on our list, as `OK
/// ignore` showed it, sorted case-insensitively, then `OK ignores <count>`.
pub(crate) fn check_ignores(line: &ServerLine, model: &Model, cx: &Context<'_>) -> Check {
    let ServerLine::Ok(OkReply::Ignores(count)) = line else {
        return Err(String::new());
    };
    let listed: Vec<&String> = cx.ignorings.iter().collect();
    let held: Vec<&String> = model.ignoring.values().collect();
    if *count != listed.len() || listed != held {
        return Err(format!("with IGNORING {listed:?}; we ignore {held:?}"));
    }
    Ok(())
}
