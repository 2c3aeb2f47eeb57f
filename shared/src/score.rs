//! Integer scores.
//!
//! Every score the core computes, compares, serializes or will sign is a
//! [`Bps`]: basis points from 0 to 10 000 (0–100.00 %). Integer arithmetic
//! with explicit rounding means a Worker on wasm32 and a Lambda on x86_64
//! agree bit for bit, which floats would not guarantee once weights and
//! ratios are chained.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Basis points, `0..=10_000`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Bps(u16);

impl Bps {
    /// 0 %.
    pub const ZERO: Bps = Bps(0);
    /// 100 %.
    pub const MAX: Bps = Bps(10_000);

    /// `v` basis points, saturating at 10 000.
    pub const fn new(v: u32) -> Bps {
        if v > 10_000 {
            Bps(10_000)
        } else {
            Bps(v as u16)
        }
    }

    /// `pct` percent (0–100), saturating.
    pub const fn percent(pct: u32) -> Bps {
        Bps::new(pct.saturating_mul(100))
    }

    /// `num / den` rounded half up; `den == 0` gives `None`.
    pub fn ratio(num: u64, den: u64) -> Option<Bps> {
        if den == 0 {
            return None;
        }
        let num = num.min(den) as u128;
        let v = (num * 10_000 + den as u128 / 2) / den as u128;
        Some(Bps(v as u16))
    }

    /// `num / den`, or `default` when there is nothing to divide.
    pub fn ratio_or(num: u64, den: u64, default: Bps) -> Bps {
        Bps::ratio(num, den).unwrap_or(default)
    }

    /// The raw value.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// `1 - self`.
    pub const fn complement(self) -> Bps {
        Bps(10_000 - self.0)
    }

    /// `self × other` (both as fractions), rounded half up.
    pub const fn mul(self, other: Bps) -> Bps {
        Bps(((self.0 as u32 * other.0 as u32 + 5_000) / 10_000) as u16)
    }

    /// Linear blend: `self·w + other·(1 − w)`.
    pub const fn blend(self, other: Bps, w: Bps) -> Bps {
        let a = self.0 as u32 * w.0 as u32;
        let b = other.0 as u32 * (10_000 - w.0 as u32);
        Bps(((a + b + 5_000) / 10_000) as u16)
    }

    /// Weighted mean of `(score, weight)` pairs; weights need not sum to
    /// 10 000. `None` when all weights are zero.
    pub fn weighted_mean(parts: impl IntoIterator<Item = (Bps, u32)>) -> Option<Bps> {
        let (mut num, mut den) = (0u64, 0u64);
        for (s, w) in parts {
            num += u64::from(s.0) * u64::from(w);
            den += u64::from(w);
        }
        if den == 0 {
            return None;
        }
        Some(Bps(((num + den / 2) / den) as u16))
    }

    /// Signed difference `self − other` in basis points.
    pub const fn delta(self, other: Bps) -> i32 {
        self.0 as i32 - other.0 as i32
    }
}

impl<'de> Deserialize<'de> for Bps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u16::deserialize(d)?;
        if v > 10_000 {
            return Err(serde::de::Error::custom(format!(
                "{v} is not a score in basis points (0..=10000)"
            )));
        }
        Ok(Bps(v))
    }
}

impl fmt::Debug for Bps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}bps", self.0)
    }
}

impl fmt::Display for Bps {
    /// `87.25` — percent with two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn basics() {
        assert_eq!(Bps::ratio(1, 3), Some(Bps::new(3333)));
        assert_eq!(Bps::ratio(2, 3), Some(Bps::new(6667)));
        assert_eq!(Bps::ratio(5, 0), None);
        assert_eq!(Bps::ratio(7, 5), Some(Bps::MAX));
        assert_eq!(Bps::new(20_000), Bps::MAX);
        assert_eq!(Bps::new(8725).to_string(), "87.25");
        assert_eq!(Bps::new(5000).mul(Bps::new(5000)), Bps::new(2500));
        assert_eq!(Bps::MAX.blend(Bps::ZERO, Bps::new(2500)), Bps::new(2500));
        assert_eq!(
            Bps::weighted_mean([(Bps::MAX, 3000), (Bps::ZERO, 1000)]),
            Some(Bps::new(7500))
        );
        assert_eq!(Bps::weighted_mean([(Bps::MAX, 0)]), None);
        assert!(serde_json::from_str::<Bps>("10001").is_err());
    }

    proptest! {
        #[test]
        fn ratio_in_range(n in any::<u64>(), d in 1u64..) {
            let r = Bps::ratio(n, d).unwrap();
            prop_assert!(r <= Bps::MAX);
        }

        #[test]
        fn ratio_monotone_in_numerator(n in 0u64..1_000_000, d in 1u64..1_000_000, k in 0u64..1000) {
            prop_assert!(Bps::ratio(n, d) <= Bps::ratio(n + k, d));
        }

        #[test]
        fn weighted_mean_between_extremes(parts in proptest::collection::vec((0u32..=10_000, 1u32..10_000), 1..8)) {
            let scores: Vec<_> = parts.iter().map(|&(s, w)| (Bps::new(s), w)).collect();
            let m = Bps::weighted_mean(scores.iter().copied()).unwrap();
            let lo = scores.iter().map(|s| s.0).min().unwrap();
            let hi = scores.iter().map(|s| s.0).max().unwrap();
            prop_assert!(lo <= m && m <= hi);
        }
    }
}
