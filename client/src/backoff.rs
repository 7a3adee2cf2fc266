//! How long to wait before each attempt to reconnect: 1 s, doubling to
//! 30 s, each with ±20 % jitter so that clients dropped together by a
//! restart do not all come back in the same instant. Pure but for the
//! seed of the jitter.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::time::Duration;

const FIRST: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(30);
/// The jitter: each wait is its nominal length times 1 ± this.
const JITTER: f64 = 0.2;

/// The waits of one outage.
#[derive(Debug)]
pub(crate) struct Backoff {
    /// Attempts made so far.
    attempts: u32,
    /// xorshift64 state, never zero.
    random: u64,
}

impl Backoff {
    /// A backoff with a seed of its own (std's per-process hash keys:
    /// enough for jitter, which only needs clients to differ).
    pub(crate) fn new() -> Backoff {
        Backoff::with_seed(RandomState::new().hash_one(std::process::id()))
    }

    pub(crate) fn with_seed(seed: u64) -> Backoff {
        Backoff {
            attempts: 0,
            random: seed | 1,
        }
    }

    /// The number of the next attempt, from 1.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempts + 1
    }

    /// How long to wait before the next attempt; counts it.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let nominal = FIRST.saturating_mul(1 << self.attempts.min(5)).min(LONGEST);
        self.attempts = self.attempts.saturating_add(1);
        nominal.mul_f64(1.0 + JITTER * (2.0 * self.unit() - 1.0))
    }

    /// Back to the first wait: the session was restored.
    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        // The top 53 bits, as f64 holds them exactly.
        (self.random >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// A wait as the user is told it: whole seconds, at least 1.
pub(crate) fn seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().round().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_thirty_seconds_within_the_jitter() {
        for seed in [1, 2, 0xdead_beef, u64::MAX] {
            let mut backoff = Backoff::with_seed(seed);
            for (n, nominal) in [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
                .iter()
                .enumerate()
            {
                assert_eq!(backoff.attempt(), n as u32 + 1);
                let wait = backoff.next_wait().as_secs_f64();
                assert!(
                    wait >= nominal * 0.8 && wait <= nominal * 1.2,
                    "seed {seed}, attempt {}: {wait} s for {nominal} s",
                    n + 1
                );
            }
        }
    }

    #[test]
    fn the_jitter_varies() {
        let mut backoff = Backoff::with_seed(7);
        let waits: Vec<Duration> = (0..10)
            .map(|_| {
                backoff.reset();
                backoff.next_wait()
            })
            .collect();
        assert!(waits.windows(2).any(|w| w[0] != w[1]), "{waits:?}");
    }

    #[test]
    fn a_reset_starts_over() {
        let mut backoff = Backoff::with_seed(3);
        for _ in 0..7 {
            backoff.next_wait();
        }
        backoff.reset();
        assert_eq!(backoff.attempt(), 1);
        assert!(backoff.next_wait() <= Duration::from_millis(1200));
    }

    #[test]
    fn waits_are_told_in_whole_seconds() {
        assert_eq!(seconds(Duration::from_millis(800)), 1);
        assert_eq!(seconds(Duration::from_millis(200)), 1);
        assert_eq!(seconds(Duration::from_millis(3600)), 4);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
    }
}
