//! Measurements: a fixed-size log-linear latency histogram (bounded memory
//! however long the run, under 1% error) and the per-stream sequence check
//! that proves every message arrived exactly once and in order.

use std::collections::HashSet;

/// Values below this are counted exactly.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: u64 = 64;
/// Enough buckets for any `u64`.
const BUCKETS: usize = (LINEAR + 57 * SUB + SUB) as usize;

/// Latencies in nanoseconds, each kept to within 1/128 of its value.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    /// Records one value.
    pub(crate) fn record(&mut self, value: u64) {
        self.counts[bucket(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Number of values recorded.
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0.0–1.0), 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket_middle(index).min(self.max);
            }
        }
        self.max
    }

    /// p50, p99, p99.9 and max in microseconds.
    pub(crate) fn summary_us(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            p50: us(self.quantile(0.50)),
            p99: us(self.quantile(0.99)),
            p999: us(self.quantile(0.999)),
            max: us(self.max),
        }
    }
}

/// Percentiles of a [`Histogram`], in microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatencySummary {
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// 99.9th percentile.
    pub(crate) p999: f64,
    /// Largest.
    pub(crate) max: f64,
}

fn bucket(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let msb = 63 - u64::from(value.leading_zeros());
    let shift = msb - 6;
    let top = value >> shift;
    (LINEAR + (shift - 1) * SUB + (top - SUB)) as usize
}

fn bucket_middle(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let shift = (index - LINEAR) / SUB + 1;
    let top = (index - LINEAR) % SUB + SUB;
    (top << shift) + (1 << shift) / 2
}

/// What one arrival meant for its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The next message, or a later one (earlier ones are missing so far).
    New,
    /// A message that was missing arrived after a later one.
    Late,
    /// Already delivered.
    Duplicate,
    /// A sequence number that was never sent.
    Bogus,
}

/// The receiving end of one ordered stream of numbered messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqTracker {
    next: u64,
    missing: HashSet<u64>,
    /// Messages that arrived after a later one.
    pub(crate) reordered: u64,
    /// Messages delivered twice.
    pub(crate) duplicates: u64,
    /// Sequence numbers never sent.
    pub(crate) bogus: u64,
}

impl SeqTracker {
    /// Notes the arrival of `seq` when `sent` messages have been sent.
    pub(crate) fn observe(&mut self, seq: u64, sent: u64) -> Arrival {
        if seq >= sent {
            self.bogus += 1;
            Arrival::Bogus
        } else if seq >= self.next {
            self.missing.extend(self.next..seq);
            self.next = seq + 1;
            Arrival::New
        } else if self.missing.remove(&seq) {
            self.reordered += 1;
            Arrival::Late
        } else {
            self.duplicates += 1;
            Arrival::Duplicate
        }
    }

    /// Messages of the `sent` that never arrived.
    pub(crate) fn lost(&self, sent: u64) -> u64 {
        self.missing.len() as u64 + sent.saturating_sub(self.next)
    }
}

/// Totals of many [`SeqTracker`]s.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Integrity {
    /// Never arrived.
    pub(crate) lost: u64,
    /// Arrived twice.
    pub(crate) duplicates: u64,
    /// Arrived after a later message of the same stream.
    pub(crate) reordered: u64,
    /// Carried a sequence number never sent, or reached the wrong client.
    pub(crate) bogus: u64,
}

impl Integrity {
    /// Adds one stream of `sent` messages.
    pub(crate) fn add(&mut self, tracker: &SeqTracker, sent: u64) {
        self.lost += tracker.lost(sent);
        self.duplicates += tracker.duplicates;
        self.reordered += tracker.reordered;
        self.bogus += tracker.bogus;
    }

    /// True when every message arrived exactly once and in order.
    pub(crate) fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicates == 0 && self.reordered == 0 && self.bogus == 0
    }
}

/// Median of a list of values (sorted in place), 0 when empty.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_values_within_one_percent() {
        for value in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            123_456,
            9_999_999_999,
            u64::MAX / 3,
        ] {
            let middle = bucket_middle(bucket(value));
            let error = middle.abs_diff(value) as f64 / value.max(1) as f64;
            assert!(error <= 1.0 / 128.0, "{value} -> {middle}");
        }
        assert!(bucket(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut histogram = Histogram::default();
        for value in 1..=10_000 {
            histogram.record(value * 1000);
        }
        let p50 = histogram.quantile(0.5) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.01, "{p50}");
        assert_eq!(histogram.quantile(1.0), 10_000_000);
    }

    #[test]
    fn tracker_tells_loss_reorder_and_duplicates_apart() {
        let mut tracker = SeqTracker::default();
        let arrivals: Vec<Arrival> = [0, 2, 1, 1, 4, 9]
            .iter()
            .map(|&s| tracker.observe(s, 6))
            .collect();
        use Arrival::*;
        assert_eq!(arrivals, [New, New, Late, Duplicate, New, Bogus]);
        assert_eq!(tracker.lost(6), 2); // 3 and 5
        assert_eq!(
            (tracker.reordered, tracker.duplicates, tracker.bogus),
            (1, 1, 1)
        );
    }
}
