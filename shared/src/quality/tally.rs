//! Counting checks over a window and turning the counts into a score.
//!
//! A [`QualityTally`] holds, per category, how many applicable checks
//! passed out of how many ran ([`PassCount`]; not-applicable checks are
//! not counted). Counts saturate instead of overflowing, and tallies of
//! sub-windows [`merge`](QualityTally::merge) by addition.
//!
//! [`QualityTally::score`] implements the seed formula
//!
//! ```text
//! dataQuality = schema·0.30 + business·0.30 + freshness·0.25 + consistency·0.15
//! ```
//!
//! where each category's score is its pass ratio, in integer basis points
//! ([`Bps::ratio`], then [`Bps::weighted_mean`]) so every platform gets the
//! same number. **Categories that were never checked are left out and the
//! remaining weights renormalised.** With the seed's fixed weights a
//! provider without a configured freshness check would get either a free
//! 25 points (counting the category as passed) or a 25-point penalty
//! (counting it as failed) for something nobody asked about; with a single
//! provider, consistency — which needs two — would always be missing.
//! Renormalising scores each provider on what was actually checked. When
//! nothing was checked at all the score is `None`, not a made-up number.

use super::Check;
use crate::errors::{join, Errors};
use crate::Bps;
use serde::{Deserialize, Serialize};

/// Passed and total applicable checks of one category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PassCount {
    /// Checks that passed.
    pub pass: u32,
    /// Checks that ran (passed or failed).
    pub total: u32,
}

impl PassCount {
    /// Counts one check; not-applicable checks do not count.
    pub fn add(&mut self, c: Check) {
        match c {
            Check::NotApplicable => {}
            Check::Pass => {
                self.pass = self.pass.saturating_add(1);
                self.total = self.total.saturating_add(1);
            }
            Check::Fail(_) => self.total = self.total.saturating_add(1),
        }
    }

    /// Adds another count.
    pub fn merge(&mut self, other: PassCount) {
        self.pass = self.pass.saturating_add(other.pass);
        self.total = self.total.saturating_add(other.total);
    }

    /// The pass ratio, or `None` when nothing ran.
    pub fn ratio(self) -> Option<Bps> {
        Bps::ratio(u64::from(self.pass), u64::from(self.total))
    }
}

/// Pass counts of the four data-quality categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QualityTally {
    /// Body shape.
    pub schema: PassCount,
    /// Business rules.
    pub business: PassCount,
    /// Data age.
    pub freshness: PassCount,
    /// Agreement with the other providers.
    pub consistency: PassCount,
}

/// Category weights in basis points; they need not sum to 10 000, as only
/// their proportions matter. Defaults are the seed's 30/30/25/15.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityWeights {
    /// Weight of `schema`.
    pub schema: u32,
    /// Weight of `business`.
    pub business: u32,
    /// Weight of `freshness`.
    pub freshness: u32,
    /// Weight of `consistency`.
    pub consistency: u32,
}

impl Default for QualityWeights {
    fn default() -> Self {
        QualityWeights {
            schema: 3000,
            business: 3000,
            freshness: 2500,
            consistency: 1500,
        }
    }
}

impl QualityWeights {
    /// Records every problem of these weights under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        for (name, w) in [
            ("schema", self.schema),
            ("business", self.business),
            ("freshness", self.freshness),
            ("consistency", self.consistency),
        ] {
            errs.check(
                w <= 10_000,
                &join(key, name),
                w,
                "a weight is in basis points, 0..=10000",
            );
        }
        let sum = u64::from(self.schema)
            + u64::from(self.business)
            + u64::from(self.freshness)
            + u64::from(self.consistency);
        if sum == 0 {
            errs.push_key(key, "at least one weight must be above zero");
        }
    }
}

impl QualityTally {
    /// Counts the per-response checks of one verdict.
    pub fn add_verdict(&mut self, v: &super::Verdict) {
        self.schema.add(v.schema);
        self.business.add(v.business);
        self.freshness.add(v.freshness);
    }

    /// Counts one cross-provider check.
    pub fn add_consistency(&mut self, c: Check) {
        self.consistency.add(c);
    }

    /// Counts `n` failures of `category` (`schema`, `business`,
    /// `freshness`, `consistency`): answers the proxy refused.
    pub fn add_failures(&mut self, category: &str, n: u32) {
        let c = match category {
            "schema" => &mut self.schema,
            "business" => &mut self.business,
            "freshness" => &mut self.freshness,
            _ => &mut self.consistency,
        };
        c.total = c.total.saturating_add(n);
    }

    /// Adds another tally (e.g. of another sub-window or sentinel).
    pub fn merge(&mut self, other: &QualityTally) {
        self.schema.merge(other.schema);
        self.business.merge(other.business);
        self.freshness.merge(other.freshness);
        self.consistency.merge(other.consistency);
    }

    /// Whether no check has been counted.
    pub fn is_empty(&self) -> bool {
        self.schema.total == 0
            && self.business.total == 0
            && self.freshness.total == 0
            && self.consistency.total == 0
    }

    /// The data-quality score: the weighted mean of the pass ratios of the
    /// categories that were checked, weights renormalised over them.
    /// `None` when no category with a non-zero weight was checked.
    pub fn score(&self, w: &QualityWeights) -> Option<Bps> {
        Bps::weighted_mean(
            [
                (self.schema, w.schema),
                (self.business, w.business),
                (self.freshness, w.freshness),
                (self.consistency, w.consistency),
            ]
            .into_iter()
            .filter_map(|(c, w)| c.ratio().map(|r| (r, w))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FailReason, Verdict};
    use super::*;
    use proptest::prelude::*;

    const FAIL: Check = Check::Fail(FailReason::Stale);

    fn count(pass: u32, total: u32) -> PassCount {
        PassCount { pass, total }
    }

    #[test]
    fn counting() {
        let mut t = QualityTally::default();
        assert!(t.is_empty());
        t.add_verdict(&Verdict {
            schema: Check::Pass,
            business: FAIL,
            freshness: Check::NotApplicable,
        });
        t.add_consistency(Check::Pass);
        t.add_consistency(Check::NotApplicable);
        assert_eq!(t.schema, count(1, 1));
        assert_eq!(t.business, count(0, 1));
        assert_eq!(t.freshness, count(0, 0));
        assert_eq!(t.consistency, count(1, 1));
        let mut m = t;
        m.merge(&t);
        assert_eq!(m.schema, count(2, 2));
        assert_eq!(m.business, count(0, 2));
        let mut sat = count(u32::MAX, u32::MAX);
        sat.add(Check::Pass);
        sat.merge(count(5, 5));
        assert_eq!(sat, count(u32::MAX, u32::MAX));
    }

    #[test]
    fn seed_formula_when_everything_is_checked() {
        let t = QualityTally {
            schema: count(1, 1),
            business: count(1, 2),
            freshness: count(0, 1),
            consistency: count(3, 4),
        };
        // 0.30·1 + 0.30·0.5 + 0.25·0 + 0.15·0.75 = 0.5625
        assert_eq!(t.score(&QualityWeights::default()), Some(Bps::new(5625)));
    }

    #[test]
    fn unchecked_categories_are_renormalised_away() {
        let mut t = QualityTally {
            schema: count(1, 1),
            business: count(1, 1),
            ..QualityTally::default()
        };
        // No free 25 points, no 25-point penalty.
        assert_eq!(t.score(&QualityWeights::default()), Some(Bps::MAX));
        t.business = count(0, 1);
        assert_eq!(t.score(&QualityWeights::default()), Some(Bps::new(5000)));
        t.freshness = count(0, 1);
        // (3000·1 + 3000·0 + 2500·0) / 8500
        assert_eq!(t.score(&QualityWeights::default()), Some(Bps::new(3529)));
        assert_eq!(
            QualityTally::default().score(&QualityWeights::default()),
            None
        );
        let zero = QualityWeights {
            schema: 0,
            business: 0,
            freshness: 0,
            consistency: 0,
        };
        assert_eq!(t.score(&zero), None);
    }

    #[test]
    fn weights_config() {
        let w: QualityWeights = toml::from_str("freshness = 0").unwrap();
        assert_eq!(w.freshness, 0);
        assert_eq!(w.schema, 3000);
        assert!(toml::from_str::<QualityWeights>("freshnes = 1").is_err());
        let mut errs = Errors::default();
        w.validate("quality.weights", &mut errs);
        assert!(errs.is_empty());
        QualityWeights {
            schema: 0,
            business: 0,
            freshness: 0,
            consistency: 20_000,
        }
        .validate("w", &mut errs);
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, "w.consistency");
        let mut errs = Errors::default();
        QualityWeights {
            schema: 0,
            business: 0,
            freshness: 0,
            consistency: 0,
        }
        .validate("w", &mut errs);
        assert_eq!(errs.0[0].key, "w");
        let json = serde_json::to_string(&QualityTally::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<QualityTally>(&json).unwrap(),
            QualityTally::default()
        );
    }

    fn tally() -> impl Strategy<Value = QualityTally> {
        let pc = (0u32..50, 0u32..50).prop_map(|(p, f)| count(p, p + f));
        (pc.clone(), pc.clone(), pc.clone(), pc).prop_map(|(s, b, f, c)| QualityTally {
            schema: s,
            business: b,
            freshness: f,
            consistency: c,
        })
    }

    fn weights() -> impl Strategy<Value = QualityWeights> {
        (0u32..=10_000, 0u32..=10_000, 0u32..=10_000, 0u32..=10_000).prop_map(
            |(schema, business, freshness, consistency)| QualityWeights {
                schema,
                business,
                freshness,
                consistency,
            },
        )
    }

    fn bump(t: &QualityTally, category: usize, c: Check) -> QualityTally {
        let mut t = *t;
        match category {
            0 => t.schema.add(c),
            1 => t.business.add(c),
            2 => t.freshness.add(c),
            _ => t.consistency.add(c),
        }
        t
    }

    proptest! {
        #[test]
        fn score_in_range(t in tally(), w in weights()) {
            if let Some(s) = t.score(&w) {
                prop_assert!(s <= Bps::MAX);
            } else {
                prop_assert!(t.is_empty() || [
                    (t.schema, w.schema), (t.business, w.business),
                    (t.freshness, w.freshness), (t.consistency, w.consistency),
                ].iter().all(|(c, w)| c.total == 0 || *w == 0));
            }
        }

        #[test]
        fn one_more_failure_never_raises_the_score(t in tally(), w in weights(), cat in 0usize..4) {
            let before = t.score(&w);
            let after = bump(&t, cat, FAIL).score(&w);
            if let (Some(b), Some(a)) = (before, after) {
                prop_assert!(a <= b, "{:?} -> {:?}", b, a);
            }
        }

        #[test]
        fn one_more_pass_never_lowers_the_score(t in tally(), w in weights(), cat in 0usize..4) {
            let before = t.score(&w);
            let after = bump(&t, cat, Check::Pass).score(&w);
            if let (Some(b), Some(a)) = (before, after) {
                prop_assert!(a >= b, "{:?} -> {:?}", b, a);
            }
        }

        #[test]
        fn merge_is_addition(a in tally(), b in tally()) {
            let mut m = a;
            m.merge(&b);
            prop_assert_eq!(m.schema.total, a.schema.total + b.schema.total);
            prop_assert_eq!(m.consistency.pass, a.consistency.pass + b.consistency.pass);
            let mut n = b;
            n.merge(&a);
            prop_assert_eq!(m, n);
        }
    }
}
