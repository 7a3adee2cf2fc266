//! A room's stored past (`HISTORY` lines, sent on `/join` before
//! `OK join`): each line is faint and stamped with the time it was said
//! (with the date when that was not today), and the block sits between
//! two separators, `── earlier in #den ──` before the first line and
//! `── now ──` as soon as any other line arrives, so the past can never be
//! mistaken for the present, also where there are no colours.

use common::{HistoryKind, HistoryLine};
use jiff::{Timestamp, Zoned};

use super::{neutralise, said};
use crate::layout::{Line, Shown, Style, span};

/// The separator before a room's past.
pub(super) fn opening(room: &str) -> Line {
    vec![span(
        format!("── earlier in #{} ──", neutralise(room)),
        Style::Faint,
    )]
}

/// The separator after it.
pub(super) fn closing() -> Line {
    vec![span("── now ──", Style::Faint)]
}

/// One stored line, as a live one would look but faint, and stamped with
/// its own time; a mention of `me` is highlighted as in a live line.
pub(super) fn history(line: &HistoryLine, me: Option<&str>) -> Shown {
    let room = format!("[{}] ", neutralise(&line.room));
    let from = neutralise(&line.from);
    let head = match line.kind {
        HistoryKind::Msg => format!("{room}{from}: "),
        HistoryKind::Action => format!("{room}* {from} "),
    };
    let mut spans = vec![span(head, Style::Faint)];
    spans.extend(said(&line.text, Some(&line.from), me, &Style::Faint));
    Shown {
        at_ms: Some(line.at_ms),
        line: spans,
    }
}

/// The stamp for a line about `at_ms` (`None`: now), seen at `now` in
/// `now`'s time zone: `HH:MM` for today, `Mon DD HH:MM` for another day
/// this year, `YYYY-MM-DD HH:MM` before that.
pub(crate) fn stamp_of(at_ms: Option<u64>, now: &Zoned) -> String {
    let Some(at_ms) = at_ms else {
        return now.strftime("%H:%M").to_string();
    };
    // Out of range (a hostile or broken server): show the epoch's start
    // rather than nothing, so the row still starts with a stamp.
    let when = i64::try_from(at_ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(now.time_zone().clone());
    if when.date() == now.date() {
        when.strftime("%H:%M").to_string()
    } else if when.year() == now.year() {
        when.strftime("%b %d %H:%M").to_string()
    } else {
        when.strftime("%Y-%m-%d %H:%M").to_string()
    }
}
