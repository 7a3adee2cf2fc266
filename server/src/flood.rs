//! Flood control: a token bucket per connection. A client faster than
//! `--flood-rate` lines per second (burst twice that) is not refused and
//! loses nothing: its thread simply waits before handling the next line, so
//! the kernel's buffers fill and TCP slows the sender down.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct FloodGate {
    /// Lines per second; 0 turns flood control off.
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl FloodGate {
    pub(crate) fn new(rate: u32, now: Instant) -> FloodGate {
        let rate = f64::from(rate);
        FloodGate {
            rate,
            burst: rate * 2.0,
            tokens: rate * 2.0,
            last: now,
        }
    }

    /// Charges `cost` lines and returns how long to wait before going on
    /// (zero when within the rate). The balance may go negative, so an
    /// expensive line (a big `/list`) delays the lines after it.
    pub(crate) fn charge(&mut self, cost: f64, now: Instant) -> Duration {
        if self.rate == 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - cost;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_twice_the_rate_passes_then_lines_wait() {
        let start = Instant::now();
        let mut gate = FloodGate::new(10, start);
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
        let mut gate = FloodGate::new(10, start);
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
        let mut gate = FloodGate::new(50, start);
        assert_eq!(gate.charge(1.0, start), Duration::ZERO);
        let wait = gate.charge(150.0, start);
        assert!((wait.as_secs_f64() - 1.02).abs() < 1e-9, "{wait:?}");
    }

    #[test]
    fn rate_zero_is_off() {
        let start = Instant::now();
        let mut gate = FloodGate::new(0, start);
        for _ in 0..10_000 {
            assert_eq!(gate.charge(1.0, start), Duration::ZERO);
        }
    }
}
