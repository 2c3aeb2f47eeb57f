//! A provider's recent latencies over a time window, and a robust
//! statistic of them.
//!
//! The latency trigger used to read an EWMA (α = 1/4) of the last answers
//! and count decisions in a row: a provider answering uniformly in 0–300 ms
//! (mean 150 ms) could show three high averages in a row by chance and be
//! switched away from. The trigger now reads the **median of the answers
//! in the last window** (at least two of them): a single slow answer, or
//! two of three, cannot move it, while a real slowdown moves it as soon as
//! most of the window's answers are slow. The window is a time span (by
//! default three probe intervals, at least a minute), not a number of
//! decisions, so how often the sentinel happens to wake up does not matter.

use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// Samples kept per provider.
pub const KEEP: usize = 8;

/// The last answers' latencies, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentLatency {
    /// `(when, latency in ms)`, oldest first, at most [`KEEP`].
    pub samples: Vec<(UnixMillis, u32)>,
}

impl RecentLatency {
    /// Adds an answer's latency (kept in time order).
    pub fn push(&mut self, at: UnixMillis, ms: u32) {
        let pos = self.samples.partition_point(|(t, _)| *t <= at);
        self.samples.insert(pos, (at, ms));
        let excess = self.samples.len().saturating_sub(KEEP);
        self.samples.drain(..excess);
    }

    /// The median latency of the answers in `(now − window, now]` and how
    /// many there were; the lower median for an even count (two answers
    /// must both be slow). `None` with fewer than two.
    pub fn median_within(&self, now: UnixMillis, window: u64) -> Option<(u64, usize)> {
        let from = now.saturating_sub(window);
        let mut v: Vec<u32> = self
            .samples
            .iter()
            .filter(|(t, _)| *t > from && *t <= now)
            .map(|(_, ms)| *ms)
            .collect();
        if v.len() < 2 {
            return None;
        }
        v.sort_unstable();
        Some((u64::from(v[(v.len() - 1) / 2]), v.len()))
    }

    /// Joins two replicas: the one with the newer last answer.
    pub fn newer<'a>(a: &'a RecentLatency, b: &'a RecentLatency) -> &'a RecentLatency {
        if b.samples.last() > a.samples.last() {
            b
        } else {
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_the_window_ignores_outliers() {
        let mut r = RecentLatency::default();
        assert_eq!(r.median_within(10, 100), None);
        for (t, ms) in [(1, 10), (2, 300), (3, 20)] {
            r.push(t, ms);
        }
        assert_eq!(r.median_within(3, 100), Some((20, 3)));
        r.push(4, 2_000);
        // Two slow of four: the lower median stays low.
        assert_eq!(r.median_within(4, 100), Some((20, 4)));
        r.push(5, 2_000);
        assert_eq!(r.median_within(5, 100), Some((300, 5)));
        // Only the window counts.
        assert_eq!(r.median_within(5, 2), Some((2_000, 2)));
        for t in 6..20 {
            r.push(t, 7);
        }
        assert_eq!(r.samples.len(), KEEP);
        assert_eq!(r.samples[0].0, 12);
        // Out of order: kept in time order.
        r.push(13, 1);
        assert!(r.samples.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
