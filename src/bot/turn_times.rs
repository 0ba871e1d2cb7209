//! How long the bot itself takes to answer: for each chat message, the time from its arrival
//! at the bot to the end of its turn (waiting behind the same learner's earlier messages, the
//! store, the engine; the reply has then been handed to the connection). Kept as a fixed
//! histogram, so memory does not grow with the number of turns; read by `otrbot stats`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Buckets per doubling: percentiles are within 2^(1/8), about 9%.
const PER_OCTAVE: usize = 8;
/// 1 µs to about 2^27 µs (134 s); longer turns land in the last bucket.
const BUCKETS: usize = 27 * PER_OCTAVE + 1;

/// Turn times since the bot started.
#[derive(Clone, Default)]
pub struct TurnTimes(Arc<Mutex<Histogram>>);

struct Histogram {
    counts: [u64; BUCKETS],
    total: u64,
    max: Duration,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: [0; BUCKETS],
            total: 0,
            max: Duration::ZERO,
        }
    }
}

/// A summary of the turn times (microseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnTimesSummary {
    /// Turns measured.
    pub turns: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Longest.
    pub max_us: u64,
}

fn bucket(d: Duration) -> usize {
    let us = d.as_micros().max(1) as f64;
    ((us.log2() * PER_OCTAVE as f64) as usize).min(BUCKETS - 1)
}

/// The upper bound of bucket `i` in microseconds.
fn upper_us(i: usize) -> u64 {
    2f64.powf((i + 1) as f64 / PER_OCTAVE as f64).ceil() as u64
}

impl TurnTimes {
    /// Records one turn.
    pub fn record(&self, d: Duration) {
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        h.counts[bucket(d)] += 1;
        h.total += 1;
        h.max = h.max.max(d);
    }

    /// The percentiles so far (each the upper bound of its bucket, never above the maximum).
    pub fn summary(&self) -> TurnTimesSummary {
        let h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let max_us = h.max.as_micros() as u64;
        let pct = |p: f64| {
            if h.total == 0 {
                return 0;
            }
            let rank = ((h.total as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in h.counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return upper_us(i).min(max_us);
                }
            }
            max_us
        };
        TurnTimesSummary {
            turns: h.total,
            p50_us: pct(0.50),
            p90_us: pct(0.90),
            p99_us: pct(0.99),
            max_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket_and_memory_is_fixed() {
        let t = TurnTimes::default();
        assert_eq!(t.summary().turns, 0);
        for ms in 1..=100u64 {
            t.record(Duration::from_millis(ms));
        }
        t.record(Duration::from_secs(100_000));
        let s = t.summary();
        assert_eq!(s.turns, 101);
        assert!((51_000..=51_000 * 110 / 100).contains(&s.p50_us), "{s:?}");
        assert!((100_000..=100_000 * 110 / 100).contains(&s.p99_us), "{s:?}");
        assert_eq!(s.max_us, 100_000_000_000);
        t.record(Duration::ZERO);
        assert_eq!(t.summary().turns, 102);
    }
}
