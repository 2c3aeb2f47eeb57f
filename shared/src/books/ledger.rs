//! The ledger: usage and cost counters of one provider.
//!
//! Per quota it keeps the current period's start and usage; for the UTC
//! calendar month it keeps the usage totals of the three priced groups
//! (requests, bytes, compute units, see [`money`](super::money)) and the
//! month-to-date variable cost in nano-USD.
//!
//! **Rolling.** Every operation first rolls the ledger to `now`: a counter
//! whose period has ended starts over at the new period's start, and a new
//! month zeroes the month totals. Counters are keyed by (metric, period)
//! and kept sorted, one per configured quota; counters of quotas no longer
//! configured are dropped. Usage recorded with a `now` before a counter's
//! start (a late event from a finished period) is not counted there. If a
//! quota's reset offset changes so that the current window starts before
//! the counter's start, the counter is kept and re-based: usage since a
//! later point is a lower bound of the window's usage.
//!
//! **Recording.** [`Ledger::record`] adds the amount (saturating) to the
//! month total of its group and to every counter of its metric, prices the
//! month total before and after against the free tier (only usage beyond
//! the month's free tier costs money), and adds the difference to the
//! month's cost and to every `cost-nano-usd` counter. Idempotence of
//! *events* is the engine's job (it deduplicates observations); the ledger
//! just counts.
//!
//! **Merging.** [`Ledger::merge`] reconciles two replicas of the same
//! ledger (say a Worker's tick racing a retry): per counter and for the
//! month, the later period wins, and within the same period each counter
//! takes the maximum. That is a join-semilattice, so merging is
//! commutative, associative and idempotent, and replicas converge whatever
//! the order. It is not a sum: two ledgers that counted *different* events
//! should be recorded into one, not merged.
//!
//! The serialized form is compact (short keys, no optional fields) so the
//! state of all providers fits a single KV value.

use super::money::{Rates, Usage};
use super::period;
use super::spec::{Limits, Metric, Period};
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Usage of one quota in its current period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// What it counts.
    #[serde(rename = "m")]
    pub metric: Metric,
    /// Over which period.
    #[serde(rename = "p")]
    pub period: Period,
    /// Start of the period it counts.
    #[serde(rename = "s")]
    pub start: UnixMillis,
    /// Usage so far in that period.
    #[serde(rename = "u")]
    pub used: u64,
}

impl Counter {
    fn key(&self) -> (Metric, Period) {
        (self.metric, self.period)
    }
}

/// Usage and cost counters of one provider. See the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ledger {
    /// Start of the UTC month the totals below count.
    #[serde(rename = "ms")]
    pub month_start: UnixMillis,
    /// Requests, writes and invocations this month.
    #[serde(rename = "rq")]
    pub requests: u64,
    /// Egress and storage bytes this month.
    #[serde(rename = "by")]
    pub bytes: u64,
    /// Compute units and gas this month.
    #[serde(rename = "cu")]
    pub compute_units: u64,
    /// Variable cost this month in nano-USD: priced usage beyond the free
    /// tier plus bills recorded as `cost-nano-usd`. The fixed fee is not
    /// included (see [`Rates::monthly_fixed_nano`]).
    #[serde(rename = "c")]
    pub cost_nano: u64,
    /// One counter per quota, sorted by (metric, period).
    #[serde(rename = "q")]
    pub counters: Vec<Counter>,
}

impl Ledger {
    /// The month's usage in the three priced groups.
    pub fn usage(&self) -> Usage {
        Usage {
            requests: self.requests,
            bytes: self.bytes,
            compute_units: self.compute_units,
        }
    }

    /// The counter of `metric` per `period`, if that quota is configured.
    pub fn counter(&self, metric: Metric, period: Period) -> Option<&Counter> {
        self.counters
            .iter()
            .find(|c| c.metric == metric && c.period == period)
    }

    /// Rolls the month and every counter to `now`: ended periods start
    /// over, counters of quotas no longer in `limits` are dropped, new
    /// quotas get a counter at 0.
    pub fn roll(&mut self, now: UnixMillis, limits: &Limits) {
        let month = period::month(now).start;
        if month > self.month_start {
            *self = Ledger {
                month_start: month,
                counters: std::mem::take(&mut self.counters),
                ..Ledger::default()
            };
        }
        let mut next: Vec<Counter> = Vec::with_capacity(limits.quotas.len());
        for q in &limits.quotas {
            if next.iter().any(|c| c.key() == (q.metric, q.period)) {
                continue; // a duplicate quota (rejected by validation)
            }
            let w = period::window(q.period, q.reset_offset, now);
            let fresh = Counter {
                metric: q.metric,
                period: q.period,
                start: w.start,
                used: 0,
            };
            let c = match self.counter(q.metric, q.period) {
                None => fresh,
                // A late event: leave the counter as it is.
                Some(c) if now < c.start => *c,
                // The period ended: start over.
                Some(c) if c.start < w.start => fresh,
                // Same period, or re-based after a reset-offset change.
                Some(c) => Counter {
                    start: w.start,
                    ..*c
                },
            };
            next.push(c);
        }
        next.sort_by_key(Counter::key);
        self.counters = next;
    }

    /// Records `amount` of `metric` at `now` and returns what it cost in
    /// nano-USD (0 within the free tier). Rolls first.
    pub fn record(
        &mut self,
        now: UnixMillis,
        limits: &Limits,
        rates: &Rates,
        metric: Metric,
        amount: u64,
    ) -> u64 {
        self.roll(now, limits);
        let this_month = period::month(now).start == self.month_start;
        let cost = if metric == Metric::CostNanoUsd {
            if this_month {
                self.cost_nano = self.cost_nano.saturating_add(amount);
            }
            amount
        } else if this_month {
            let before = self.usage();
            let mut after = before;
            after.add(metric, amount);
            self.requests = after.requests;
            self.bytes = after.bytes;
            self.compute_units = after.compute_units;
            let cost = rates
                .variable_cost(after)
                .saturating_sub(rates.variable_cost(before));
            self.cost_nano = self.cost_nano.saturating_add(cost);
            cost
        } else {
            // A late event from a closed month: its free tier and totals
            // are gone, so it is counted only where its period is current.
            0
        };
        for c in &mut self.counters {
            if now < c.start {
                continue;
            }
            let add = if c.metric == metric {
                amount
            } else if c.metric == Metric::CostNanoUsd {
                cost
            } else {
                0
            };
            c.used = c.used.saturating_add(add);
        }
        cost
    }

    /// Merges `other` into `self`: per counter and for the month, the later
    /// period wins; within the same period, the maximum of each counter.
    /// Commutative, associative and idempotent.
    pub fn merge(&mut self, other: &Ledger) {
        match self.month_start.cmp(&other.month_start) {
            Ordering::Less => {
                self.month_start = other.month_start;
                self.requests = other.requests;
                self.bytes = other.bytes;
                self.compute_units = other.compute_units;
                self.cost_nano = other.cost_nano;
            }
            Ordering::Equal => {
                self.requests = self.requests.max(other.requests);
                self.bytes = self.bytes.max(other.bytes);
                self.compute_units = self.compute_units.max(other.compute_units);
                self.cost_nano = self.cost_nano.max(other.cost_nano);
            }
            Ordering::Greater => {}
        }
        let mut by_key: BTreeMap<(Metric, Period), (UnixMillis, u64)> = BTreeMap::new();
        for c in self.counters.iter().chain(&other.counters) {
            let v = by_key.entry(c.key()).or_insert((c.start, c.used));
            // Lexicographic max: later start wins, then the larger count.
            *v = (*v).max((c.start, c.used));
        }
        self.counters = by_key
            .into_iter()
            .map(|((metric, period), (start, used))| Counter {
                metric,
                period,
                start,
                used,
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::spec::{CostModel, FreeTier, Quota};
    use crate::time::{parse_rfc3339, Span, HOUR};
    use proptest::prelude::*;

    fn t(s: &str) -> UnixMillis {
        parse_rfc3339(s).unwrap()
    }

    fn q(metric: Metric, limit: u64, period: Period, off: Span) -> Quota {
        Quota {
            metric,
            limit,
            period,
            reset_offset: off,
        }
    }

    fn limits() -> Limits {
        Limits {
            quotas: vec![
                q(Metric::Requests, 1000, Period::Day, Span::hours(6)),
                q(Metric::Requests, 100, Period::Minute, Span(0)),
                q(Metric::Requests, 20_000, Period::Month, Span(0)),
                q(
                    Metric::CostNanoUsd,
                    1_000_000,
                    Period::Month,
                    Span::days(14),
                ),
            ],
        }
    }

    fn used(l: &Ledger, m: Metric, p: Period) -> u64 {
        l.counter(m, p).map_or(0, |c| c.used)
    }

    #[test]
    fn counts_and_resets_with_offsets() {
        let (lim, rates) = (limits(), Rates::default());
        let mut l = Ledger::default();
        l.record(
            t("2026-11-24T05:00:00Z"),
            &lim,
            &rates,
            Metric::Requests,
            10,
        );
        l.record(t("2026-11-24T05:59:59Z"), &lim, &rates, Metric::Requests, 5);
        assert_eq!(used(&l, Metric::Requests, Period::Day), 15);
        assert_eq!(used(&l, Metric::Requests, Period::Minute), 5);
        // 06:00 UTC: the daily quota resets, the monthly one does not.
        l.record(t("2026-11-24T06:00:00Z"), &lim, &rates, Metric::Requests, 1);
        assert_eq!(used(&l, Metric::Requests, Period::Day), 1);
        assert_eq!(used(&l, Metric::Requests, Period::Month), 16);
        assert_eq!(l.requests, 16);
        // Other metrics do not count against request quotas.
        l.record(t("2026-11-24T06:00:01Z"), &lim, &rates, Metric::Gas, 7);
        assert_eq!(
            (used(&l, Metric::Requests, Period::Day), l.compute_units),
            (1, 7)
        );
        // A late event from before the daily reset is not counted there.
        l.record(
            t("2026-11-24T05:30:00Z"),
            &lim,
            &rates,
            Metric::Requests,
            100,
        );
        assert_eq!(used(&l, Metric::Requests, Period::Day), 1);
        assert_eq!(used(&l, Metric::Requests, Period::Month), 116);
    }

    #[test]
    fn month_rollover_december_to_january() {
        let (lim, rates) = (limits(), Rates::default());
        let mut l = Ledger::default();
        l.record(
            t("2026-12-31T23:59:59Z"),
            &lim,
            &rates,
            Metric::Requests,
            500,
        );
        assert_eq!(l.month_start, t("2026-12-01T00:00:00Z"));
        l.roll(t("2027-01-01T00:00:00Z"), &lim);
        assert_eq!(l.month_start, t("2027-01-01T00:00:00Z"));
        assert_eq!(
            (l.requests, used(&l, Metric::Requests, Period::Month)),
            (0, 0)
        );
        // The daily quota resets at 06:00, so it still counts.
        assert_eq!(used(&l, Metric::Requests, Period::Day), 500);
        l.roll(t("2027-01-01T06:00:00Z"), &lim);
        assert_eq!(used(&l, Metric::Requests, Period::Day), 0);
    }

    #[test]
    fn leap_february() {
        let lim = Limits {
            quotas: vec![q(Metric::Writes, 10, Period::Month, Span(0))],
        };
        let rates = Rates::default();
        let mut l = Ledger::default();
        l.record(t("2028-02-29T23:00:00Z"), &lim, &rates, Metric::Writes, 3);
        assert_eq!(l.month_start, t("2028-02-01T00:00:00Z"));
        l.record(t("2028-03-01T00:00:00Z"), &lim, &rates, Metric::Writes, 1);
        assert_eq!(used(&l, Metric::Writes, Period::Month), 1);
        assert_eq!(l.month_start, t("2028-03-01T00:00:00Z"));
    }

    #[test]
    fn free_tier_then_paid_usage() {
        let lim = limits();
        let rates = CostModel {
            per_request_usd: 0.0001, // 100_000 nano
            free_tier: FreeTier {
                requests: 10,
                ..FreeTier::default()
            },
            ..CostModel::default()
        }
        .compile();
        let mut l = Ledger::default();
        let now = t("2026-11-20T12:00:00Z");
        assert_eq!(l.record(now, &lim, &rates, Metric::Requests, 8), 0);
        // 2 of these 5 are free.
        assert_eq!(l.record(now, &lim, &rates, Metric::Requests, 5), 300_000);
        assert_eq!(l.cost_nano, 300_000);
        // Cost counts against the cost quota (its cycle began on the 15th).
        assert_eq!(used(&l, Metric::CostNanoUsd, Period::Month), 300_000);
        // A bill recorded directly.
        assert_eq!(l.record(now, &lim, &rates, Metric::CostNanoUsd, 50), 50);
        assert_eq!(
            (l.cost_nano, used(&l, Metric::CostNanoUsd, Period::Month)),
            (300_050, 300_050)
        );
        // A new month: the free tier is back.
        let dec = t("2026-12-02T00:00:00Z");
        assert_eq!(l.record(dec, &lim, &rates, Metric::Requests, 10), 0);
        assert_eq!(l.cost_nano, 0);
        // ... but the billing cycle (15th to 15th) still runs.
        assert_eq!(used(&l, Metric::CostNanoUsd, Period::Month), 300_050);
    }

    #[test]
    fn quotas_follow_the_config() {
        let mut l = Ledger::default();
        let now = t("2026-11-20T12:00:00Z");
        l.record(now, &limits(), &Rates::default(), Metric::Requests, 1);
        assert_eq!(l.counters.len(), 4);
        let fewer = Limits {
            quotas: vec![q(Metric::Requests, 5, Period::Day, Span(0))],
        };
        l.roll(now + HOUR, &fewer);
        // Re-based to midnight, usage kept (it is a lower bound).
        assert_eq!(
            l.counters,
            [Counter {
                metric: Metric::Requests,
                period: Period::Day,
                start: t("2026-11-20T00:00:00Z"),
                used: 1
            }]
        );
    }

    #[test]
    fn compact_serialization() {
        let mut l = Ledger::default();
        l.record(
            t("2026-11-20T12:00:00Z"),
            &limits(),
            &Rates::default(),
            Metric::Requests,
            3,
        );
        let json = serde_json::to_string(&l).unwrap();
        assert!(json.len() < 300, "{json}");
        assert_eq!(serde_json::from_str::<Ledger>(&json).unwrap(), l);
        assert_eq!(
            serde_json::from_str::<Ledger>("{}").unwrap(),
            Ledger::default()
        );
        let bytes = postcard::to_allocvec(&l).unwrap();
        assert_eq!(postcard::from_bytes::<Ledger>(&bytes).unwrap(), l);
    }

    const METRICS: [Metric; 3] = [Metric::Requests, Metric::Gas, Metric::CostNanoUsd];

    /// A ledger built from a random sequence of records over ~2 months.
    fn arb_ledger() -> impl Strategy<Value = Ledger> {
        proptest::collection::vec((0u64..60 * 24, 0usize..3, 0u64..1000), 0..12).prop_map(|evs| {
            let base = t("2026-11-10T00:00:00Z");
            let rates = Rates {
                per_request_nano: 7,
                free_requests: 500,
                ..Rates::default()
            };
            let mut l = Ledger::default();
            let mut evs = evs;
            evs.sort();
            for (h, m, a) in evs {
                l.record(base + h * HOUR, &limits(), &rates, METRICS[m], a);
            }
            l
        })
    }

    fn merged(a: &Ledger, b: &Ledger) -> Ledger {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_ledger(), b in arb_ledger()) {
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in arb_ledger(), b in arb_ledger(), c in arb_ledger()) {
            prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_ledger(), b in arb_ledger()) {
            prop_assert_eq!(merged(&a, &a), a.clone());
            let ab = merged(&a, &b);
            prop_assert_eq!(merged(&ab, &b), ab);
        }

        #[test]
        fn recording_never_lowers_counters(a in arb_ledger(), m in 0usize..3, amount in 0u64..10_000) {
            let now = a.month_start.max(t("2026-11-10T00:00:00Z")) + 61 * 24 * HOUR;
            let mut before = a.clone();
            before.roll(now, &limits());
            let mut after = before.clone();
            after.record(now, &limits(), &Rates::default(), METRICS[m], amount);
            for (x, y) in before.counters.iter().zip(&after.counters) {
                prop_assert!(y.used >= x.used);
            }
        }
    }
}
