//! Version 2's manners in the soak: what a client sends of `/away` and
//! `/back`, and what each must be answered. (`/me` is a message with
//! another line, in `actions.rs`.)

use std::time::Instant;

use common::{OkReply, ServerLine, fold};

use crate::actions::{Action, Chooser};
use crate::away::AwayPeriod;
use crate::model::Model;
use crate::replies::{Context, Want};

type Check = Result<(), String>;

fn expect(condition: bool) -> Check {
    if condition {
        Ok(())
    } else {
        Err(String::new())
    }
}

impl Chooser<'_> {
    /// A manners command that fits the state.
    pub(crate) fn manners(&mut self) -> Action {
        let away = self.model.away.is_some();
        match self
            .rng
            .weighted(&[if away { 2 } else { 6 }, if away { 6 } else { 1 }])
        {
            0 => self.away(),
            _ => Action::new("back").want("/back", Want::Back),
        }
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
    expect(matches!(line, ServerLine::Ok(OkReply::Away)))?;
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
    expect(matches!(line, ServerLine::Ok(OkReply::Back)))?;
    model.end_away(cx.sent_at, Some(Instant::now()));
    Ok(())
}
