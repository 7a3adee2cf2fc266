//! Moments of the run as seconds since it began, for violation reports
//! (an `Instant` prints as the machine's uptime, which says nothing).

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

/// Marks the run's start; later calls change nothing.
pub(crate) fn start() {
    START.get_or_init(Instant::now);
}

/// `t` as seconds since the run's start, to the millisecond.
pub(crate) fn at(t: Instant) -> String {
    let start = *START.get_or_init(Instant::now);
    if t >= start {
        format!("{:.3}s", t.duration_since(start).as_secs_f64())
    } else {
        format!("-{:.3}s", start.duration_since(t).as_secs_f64())
    }
}

/// `at`, or `-` for a moment not known.
pub(crate) fn maybe_at(t: Option<Instant>) -> String {
    t.map_or_else(|| "-".to_owned(), at)
}
