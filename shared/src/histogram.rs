//! A log-bucket latency histogram.
//!
//! Latencies (milliseconds) fall into buckets whose width grows
//! geometrically: four sub-buckets per power of two, as in HDR histograms
//! (Gil Tene, <http://hdrhistogram.org>), so any quantile is known to within
//! about 19 % relative error with at most ~100 buckets for 0 ms to 70 min.
//! Buckets are stored sparsely, so a steady provider costs a handful of
//! `(index, count)` pairs.
//!
//! The histogram forgets: when it holds more than [`LatencyHistogram::CAP`]
//! samples, every count is halved. That is an exponential decay by sample
//! count, which keeps p50/p95/p99 tracking the provider's recent behaviour
//! (its *baseline*) without storing a time series.

use serde::{Deserialize, Serialize};

/// Sparse log-bucket histogram of latencies in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// `(bucket index, count)` in ascending index order.
    buckets: Vec<(u8, u32)>,
    /// Sum of all counts.
    total: u32,
}

const SUB_BITS: u32 = 2; // four sub-buckets per power of two
const SUB: u64 = 1 << SUB_BITS;

/// Bucket index of a latency.
pub fn bucket_of(ms: u64) -> u8 {
    if ms < SUB {
        return ms as u8;
    }
    let exp = 63 - ms.leading_zeros(); // floor(log2 ms) >= SUB_BITS
    let sub = (ms >> (exp - SUB_BITS)) & (SUB - 1);
    let idx = u64::from(exp - SUB_BITS + 1) * SUB + sub;
    idx.min(u64::from(u8::MAX)) as u8
}

/// Smallest latency that falls into bucket `idx`.
pub fn bucket_low(idx: u8) -> u64 {
    let idx = u64::from(idx);
    if idx < SUB {
        return idx;
    }
    let exp = idx / SUB - 1 + u64::from(SUB_BITS);
    let sub = idx % SUB;
    (1u64 << exp) + (sub << (exp - u64::from(SUB_BITS)))
}

/// Largest latency that falls into bucket `idx`.
pub fn bucket_high(idx: u8) -> u64 {
    if idx == u8::MAX {
        return u64::MAX;
    }
    bucket_low(idx + 1).saturating_sub(1).max(bucket_low(idx))
}

impl LatencyHistogram {
    /// Samples kept before the counts are halved.
    pub const CAP: u32 = 4096;

    /// Records one latency.
    pub fn record(&mut self, ms: u64) {
        let idx = bucket_of(ms);
        match self.buckets.binary_search_by_key(&idx, |(i, _)| *i) {
            Ok(p) => {
                if let Some((_, c)) = self.buckets.get_mut(p) {
                    *c = c.saturating_add(1);
                }
            }
            Err(p) => self.buckets.insert(p, (idx, 1)),
        }
        self.total = self.total.saturating_add(1);
        if self.total > Self::CAP {
            self.halve();
        }
    }

    /// Halves every count (rounding down), dropping empty buckets.
    pub fn halve(&mut self) {
        for (_, c) in &mut self.buckets {
            *c /= 2;
        }
        self.buckets.retain(|(_, c)| *c > 0);
        self.total = self.buckets.iter().map(|(_, c)| *c).sum();
    }

    /// Number of samples currently weighted in.
    pub fn count(&self) -> u32 {
        self.total
    }

    /// The `q`-quantile (`q` in basis points: 5000 = p50, 9900 = p99) as the
    /// upper bound of the bucket it falls in (a conservative estimate), or
    /// `None` without samples.
    pub fn quantile(&self, q_bps: u16) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        // rank = ceil(total * q), at least 1
        let rank = ((u64::from(self.total) * u64::from(q_bps.min(10_000))).div_ceil(10_000)).max(1);
        let mut seen = 0u64;
        for (idx, c) in &self.buckets {
            seen += u64::from(*c);
            if seen >= rank {
                return Some(bucket_high(*idx));
            }
        }
        self.buckets.last().map(|(i, _)| bucket_high(*i))
    }

    /// Joins another replica: bucket-wise maximum.
    pub fn join(&mut self, other: &LatencyHistogram) {
        for (idx, c) in &other.buckets {
            match self.buckets.binary_search_by_key(idx, |(i, _)| *i) {
                Ok(p) => {
                    if let Some((_, mine)) = self.buckets.get_mut(p) {
                        *mine = (*mine).max(*c);
                    }
                }
                Err(p) => self.buckets.insert(p, (*idx, *c)),
            }
        }
        self.total = self.buckets.iter().map(|(_, c)| *c).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_contiguous() {
        for idx in 0..=200u8 {
            assert_eq!(bucket_of(bucket_low(idx)), idx, "low of {idx}");
            assert_eq!(bucket_of(bucket_high(idx)), idx, "high of {idx}");
            assert_eq!(bucket_low(idx + 1), bucket_high(idx) + 1);
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=100u64 {
            h.record(ms);
        }
        let p50 = h.quantile(5000).unwrap();
        let p99 = h.quantile(9900).unwrap();
        assert!((50..=63).contains(&p50), "p50 {p50}");
        assert!((99..=127).contains(&p99), "p99 {p99}");
        assert_eq!(LatencyHistogram::default().quantile(5000), None);
    }

    #[test]
    fn forgets_old_samples() {
        let mut h = LatencyHistogram::default();
        for _ in 0..4000 {
            h.record(1000);
        }
        for _ in 0..20_000 {
            h.record(10);
        }
        assert!(h.quantile(9500).unwrap() < 20);
        assert!(h.count() <= LatencyHistogram::CAP);
    }

    proptest! {
        #[test]
        fn bucket_bounds_contain_value(ms in 0u64..10_000_000) {
            let i = bucket_of(ms);
            prop_assert!(bucket_low(i) <= ms && ms <= bucket_high(i));
            // relative width stays under 25 %
            prop_assert!(bucket_high(i) - bucket_low(i) <= bucket_low(i) / 4 + 1);
        }

        #[test]
        fn quantiles_are_monotone(samples in proptest::collection::vec(0u64..100_000, 1..300)) {
            let mut h = LatencyHistogram::default();
            for s in &samples { h.record(*s); }
            let qs: Vec<_> = [1000u16, 5000, 9000, 9500, 9900].iter().map(|q| h.quantile(*q).unwrap()).collect();
            prop_assert!(qs.windows(2).all(|w| w[0] <= w[1]));
            let max = *samples.iter().max().unwrap();
            prop_assert!(qs[4] <= bucket_high(bucket_of(max)));
        }
    }
}
