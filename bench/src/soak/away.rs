//! `/away` across clients. Each session records its away periods as it
//! sees them (from the `/away` line sent to its `OK away`, until the
//! `/back` or the end of the connection), and each asker what it was told:
//! `AWAY <name> <reason>` before `OK chat`, or `OK chat` alone, or `USER
//! <name> away` in `/list`. At the end every `AWAY` and every listed
//! `away` must fall in a period of that name that may have been in force
//! (with that reason), and an `OK chat` without `AWAY` must not fall
//! wholly inside a period that certainly was.

use std::collections::HashMap;
use std::time::Instant;

use crate::clock;

/// One stretch in which a name was away, as its session saw it. The
/// hub's start lies between `start_sent` and `start_ok`, its end between
/// `end_sent` and `end_ok` (`None`: not known, so any time later).
#[derive(Debug, Clone)]
pub(crate) struct AwayPeriod {
    /// The name, folded.
    pub(crate) name: String,
    pub(crate) reason: String,
    pub(crate) start_sent: Instant,
    pub(crate) start_ok: Instant,
    pub(crate) end_sent: Option<Instant>,
    pub(crate) end_ok: Option<Instant>,
}

impl AwayPeriod {
    /// Whether the hub may have had the name away at some moment
    /// between `from` and `to`.
    fn may_overlap(&self, from: Instant, to: Instant) -> bool {
        self.start_sent <= to && self.end_ok.is_none_or(|end| end >= from)
    }

    /// Whether the hub had the name away all the time from `from` to `to`.
    fn surely_covers(&self, from: Instant, to: Instant) -> bool {
        self.start_ok <= from && self.end_sent.is_none_or(|end| end >= to)
    }
}

/// What one client was told about another's being away.
#[derive(Debug, Clone)]
pub(crate) struct AwaySeen {
    /// Who asked.
    pub(crate) asker: String,
    /// Whom it was about, folded.
    pub(crate) target: String,
    pub(crate) told: Told,
    /// When the command was sent, and when its answer came.
    pub(crate) sent: Instant,
    pub(crate) answered: Instant,
}

/// One observation of away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Told {
    /// `AWAY <target> <reason>`, then `OK chat`.
    Away(String),
    /// `OK chat <target>` with no `AWAY` (and no chat at once).
    NotAway,
    /// `USER <target> away` in `/list`.
    Listed,
}

/// The end check; returns the problems found.
pub(crate) fn check(periods: &[AwayPeriod], seen: &[AwaySeen]) -> Vec<String> {
    let mut by_name: HashMap<&str, Vec<&AwayPeriod>> = HashMap::new();
    for period in periods {
        by_name.entry(&period.name).or_default().push(period);
    }
    let mut problems = Vec::new();
    for seen in seen {
        let periods = by_name
            .get(seen.target.as_str())
            .map_or(&[][..], Vec::as_slice);
        let (from, to) = (seen.sent, seen.answered);
        let fits = match &seen.told {
            Told::Away(reason) => periods
                .iter()
                .any(|p| p.reason == *reason && p.may_overlap(from, to)),
            Told::Listed => periods.iter().any(|p| p.may_overlap(from, to)),
            Told::NotAway => !periods.iter().any(|p| p.surely_covers(from, to)),
        };
        if !fits {
            let what = match &seen.told {
                Told::Away(reason) => format!("AWAY {} {reason:?}", seen.target),
                Told::Listed => format!("USER {} away", seen.target),
                Told::NotAway => format!("OK chat {} without AWAY", seen.target),
            };
            let periods: Vec<String> = periods
                .iter()
                .map(|p| {
                    format!(
                        "{:?} from [{}, {}] until [{}, {}]",
                        p.reason,
                        clock::at(p.start_sent),
                        clock::at(p.start_ok),
                        clock::maybe_at(p.end_sent),
                        clock::maybe_at(p.end_ok)
                    )
                })
                .collect();
            problems.push(format!(
                "{} was told {what} (asked in [{}, {}]), but {}'s away periods were {periods:?}",
                seen.asker,
                clock::at(seen.sent),
                clock::at(seen.answered),
                seen.target,
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn period(t0: Instant, start: (u64, u64), end: Option<(u64, u64)>) -> AwayPeriod {
        AwayPeriod {
            name: "bob".into(),
            reason: "lunch".into(),
            start_sent: at(t0, start.0),
            start_ok: at(t0, start.1),
            end_sent: end.map(|(sent, _)| at(t0, sent)),
            end_ok: end.map(|(_, ok)| at(t0, ok)),
        }
    }

    fn seen(t0: Instant, told: Told, sent: u64, answered: u64) -> AwaySeen {
        AwaySeen {
            asker: "amy".into(),
            target: "bob".into(),
            told,
            sent: at(t0, sent),
            answered: at(t0, answered),
        }
    }

    #[test]
    fn away_must_fit_a_period_and_its_absence_must_not_contradict_one() {
        let t0 = Instant::now();
        let periods = [period(t0, (100, 110), Some((200, 210)))];
        let good = [
            seen(t0, Told::Away("lunch".into()), 105, 120),
            seen(t0, Told::Listed, 150, 160),
            // Raced with the start or the end: either answer will do.
            seen(t0, Told::NotAway, 95, 105),
            seen(t0, Told::NotAway, 205, 215),
        ];
        assert_eq!(check(&periods, &good), Vec::<String>::new());
        let bad = [
            seen(t0, Told::Away("dinner".into()), 105, 120),
            seen(t0, Told::Away("lunch".into()), 220, 230),
            seen(t0, Told::Listed, 50, 90),
            seen(t0, Told::NotAway, 120, 190),
        ];
        assert_eq!(check(&periods, &bad).len(), 4);
    }
}
