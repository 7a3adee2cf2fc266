//! Token buckets. Flood control gives each connection one: a client faster
//! than `--flood-rate` lines per second (burst twice that) is not refused
//! and loses nothing: its thread simply waits before handling the next
//! line, so the kernel's buffers fill and TCP slows the sender down. The
//! hub gives each registered name one for password checks
//! (`--password-tries` per minute), because each check costs real CPU; the
//! hub's clock is milliseconds it is given ([`Millis`]), so that every
//! node of a cluster computes the same buckets from the same inputs.

use std::time::{Duration, Instant};

/// A point in time a bucket can measure from.
pub(crate) trait Moment: Copy + std::fmt::Debug {
    /// Seconds from `earlier` to `self`; zero if `earlier` is later.
    fn secs_since(self, earlier: Self) -> f64;
}

impl Moment for Instant {
    fn secs_since(self, earlier: Instant) -> f64 {
        self.saturating_duration_since(earlier).as_secs_f64()
    }
}

/// Milliseconds since the Unix epoch, as the hub is told the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Millis(pub(crate) u64);

impl Moment for Millis {
    fn secs_since(self, earlier: Millis) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1000.0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TokenBucket<T: Moment = Instant> {
    /// Tokens per second; 0 turns the bucket off (everything passes).
    rate: f64,
    burst: f64,
    tokens: f64,
    last: T,
}

/// Flood control: `rate` lines per second, burst twice that.
pub(crate) fn flood_gate(rate: u32, now: Instant) -> TokenBucket {
    let rate = f64::from(rate);
    TokenBucket::new(rate, rate * 2.0, now)
}

impl<T: Moment> TokenBucket<T> {
    /// The tokens and when they were last counted, to copy the bucket.
    pub(crate) fn state(&self) -> (f64, T) {
        (self.tokens, self.last)
    }

    /// Sets the tokens and when they were last counted (a copied bucket).
    pub(crate) fn set_state(&mut self, tokens: f64, last: T) {
        self.tokens = tokens.min(self.burst);
        self.last = last;
    }

    /// A full bucket of `burst` tokens, refilled at `rate` per second.
    pub(crate) fn new(rate: f64, burst: f64, now: T) -> TokenBucket<T> {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: T) {
        let elapsed = now.secs_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    /// Charges `cost` tokens and returns how long to wait before going on
    /// (zero when within the rate). The balance may go negative, so an
    /// expensive line (a big `/list`) delays the lines after it.
    pub(crate) fn charge(&mut self, cost: f64, now: T) -> Duration {
        if self.rate == 0.0 {
            return Duration::ZERO;
        }
        self.refill(now);
        self.tokens -= cost;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Whether a whole token is there now, without taking it.
    pub(crate) fn has_token(&mut self, now: T) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Takes one token if there is one; never goes negative.
    pub(crate) fn take(&mut self, now: T) -> bool {
        let has = self.has_token(now);
        if has && self.rate != 0.0 {
            self.tokens -= 1.0;
        }
        has
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_twice_the_rate_passes_then_lines_wait() {
        let start = Instant::now();
        let mut gate = flood_gate(10, start);
        for _ in 0..20 {
            assert_eq!(gate.charge(1.0, start), Duration::ZERO);
        }
        let wait = gate.charge(1.0, start);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // After waiting, the line is paid for.
        assert_eq!(gate.charge(0.0, start + wait), Duration::ZERO);
    }

    #[test]
    fn tokens_refill_over_time_up_to_the_burst() {
        let start = Instant::now();
        let mut gate = flood_gate(10, start);
        for _ in 0..20 {
            gate.charge(1.0, start);
        }
        let later = start + Duration::from_secs(60);
        for _ in 0..20 {
            assert_eq!(gate.charge(1.0, later), Duration::ZERO);
        }
        assert!(gate.charge(1.0, later) > Duration::ZERO);
    }

    #[test]
    fn expensive_lines_delay_the_next_ones() {
        let start = Instant::now();
        let mut gate = flood_gate(50, start);
        assert_eq!(gate.charge(1.0, start), Duration::ZERO);
        let wait = gate.charge(150.0, start);
        assert!((wait.as_secs_f64() - 1.02).abs() < 1e-9, "{wait:?}");
    }

    #[test]
    fn rate_zero_is_off() {
        let start = Instant::now();
        let mut gate = flood_gate(0, start);
        for _ in 0..10_000 {
            assert_eq!(gate.charge(1.0, start), Duration::ZERO);
            assert!(gate.take(start));
        }
    }

    #[test]
    fn take_never_overdraws_and_refills_per_minute() {
        let start = Millis(1_000_000);
        let at = |ms: u64| Millis(start.0 + ms);
        // Ten a minute, as --password-tries.
        let mut tries = TokenBucket::new(10.0 / 60.0, 10.0, start);
        for _ in 0..10 {
            assert!(tries.take(start));
        }
        assert!(!tries.take(start));
        assert!(!tries.has_token(at(5000)));
        assert!(tries.take(at(6001)));
        assert!(!tries.take(at(6001)));
        // A clock that steps back refills nothing.
        assert!(!tries.take(at(10)));
    }
}
