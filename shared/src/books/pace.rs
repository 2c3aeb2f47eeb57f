//! Pacing the sentinel's own store writes, so a budgeted store (Workers
//! KV: 1,000 writes a day on the free plan) is never exhausted.
//!
//! The footprint ladder ([`super::ladder`]) is reactive: it alerts at
//! 80 %, and only at 95 % does it stretch probe intervals. A Worker on a
//! 1-minute cron with probes due every minute commits 1,440 times a day
//! and would cross 1,000 at about 16 h. Pacing is the proactive half: a
//! wake-up whose commit would run ahead of a linear allowance is skipped
//! entirely (no probes either — a probe whose observation cannot be
//! committed is wasted, and in a Worker lost), which stretches the
//! effective interval evenly over the period instead of burning the
//! budget early and stopping late.
//!
//! # The rule
//!
//! For each quota on store writes ([`Metric::Writes`]) of the sentinel's
//! footprint, with `L` its limit, `[start, end)` its current period
//! ([`super::period::window`]) and `used` the footprint ledger's count in
//! that period (the ledger rolled to `now`, as [`super::status`] reads
//! it):
//!
//! ```text
//! T  = ⌊L · target⌋           target share, default 75 % (below)
//! B  = max(1, ⌊L · burst⌋)    burst, default 1 %
//! R  = max(1, ⌊L · reserve⌋)  urgent reserve, default 1 %, only for urgent wake-ups
//! allowance(now) = min(cap, ⌊T · (now − start) / (end − start)⌋ + B [+ R])
//! cap = min(L, T [+ R])
//! a wake-up may commit  ⇔  used + 1 ≤ allowance(now)
//! ```
//!
//! When it may not, the next write is allowed at
//! `start + ⌈(used + 1 − B [− R]) · (end − start) / T⌉`, or at the
//! period's end when `used + 1` exceeds the cap. Integer arithmetic in
//! `u128`, so every target computes the same verdicts.
//!
//! This is the conformance test of the Generic Cell Rate Algorithm
//! (GCRA, ITU-T I.371 / ATM Forum TM 4.1; the "virtual scheduling" form)
//! with emission interval `τ = (end − start) / T` and limit (tolerance)
//! `(B − 1) · τ`: the `k`-th write of the period is conforming at time
//! `t` iff `t ≥ start + (k − B) · τ`. GCRA keeps the theoretical arrival
//! time `TAT` as state; here it is reconstructed from the ledger's count
//! (`TAT = start + used · τ`), because the state encoding has no room for
//! it and the count is what must not run out. The one difference that
//! follows: GCRA (like a token bucket, RFC 2697's single-rate
//! three-colour marker) forgets credit beyond the bucket during idle
//! time, while this allowance keeps what quiet stretches of the period
//! left unused — idle wake-ups write nothing, and later wake-ups may use
//! the headroom. That is safe here because the only thing being protected
//! is the period's total (at most `cap`, whatever the history), and a
//! catch-up after a quiet stretch runs at most at the cron's rate: a
//! wake-up commits at most once. The burst `B` is how far ahead of the
//! line a wake-up may run at any time (the first `B` writes of a period
//! go at once).
//!
//! **Properties** (tested): more writes used never allows more (the
//! allowance does not depend on `used`), and no verdict lets the count
//! cross the limit (`used < allowance ≤ cap ≤ L`).
//!
//! # The defaults, and why 75 %
//!
//! The target is set below the ladder's alert rung ([`Pace::for_ladder`]:
//! the alert rung minus 5 points, so 75 % under the default 80/90/95/100
//! ladder). A paced day then ends at about 75 % of the store's budget, and
//! the footprint's alert (80 %), prefer-free (90 %) and scale-down (95 %)
//! rungs keep their meaning: they fire only if something besides the
//! paced ticks — submissions, clean-shutdown saves, another writer —
//! spends the last quarter, which stays theirs. (At a 90 % target every
//! paced day would cross the alert rung by design, and the alert would
//! say nothing.) With the 1 % burst the burn-rate projection does not
//! alert either: a paced count projects to `T + B·P/elapsed`, which stays
//! below `L` once projections start (5 % into the period).
//!
//! **Urgent wake-ups** — a provider failing but not yet confirmed down
//! and due for its re-check, or a switch pending its canary — may run
//! `R` further ahead, so an outage is confirmed at the cron's pace rather
//! than the allowance's; the routine wake-ups after it wait until the line
//! catches up. The period's total is still at most `T + R`.
//!
//! Workers KV's daily limits reset at 00:00 UTC
//! (<https://developers.cloudflare.com/kv/platform/limits/>,
//! <https://developers.cloudflare.com/kv/platform/pricing/>), which is
//! [`Period::Day`] with no reset offset: the store's declared
//! `writes_per_day` becomes such a quota when the operator configured no
//! daily `writes` quota ([`with_store_budget`]).

use super::ledger::Ledger;
use super::period::{self, Window};
use super::spec::{Ladder, Limits, Metric, Period, Quota};
use crate::time::{Span, UnixMillis};
use crate::Bps;

/// The pacing parameters, as shares of each quota's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// Share of the limit the paced wake-ups spread over the period.
    pub target: Bps,
    /// How far ahead of the line a wake-up may run (at least one write).
    pub burst: Bps,
    /// How much further an urgent wake-up may run (at least one write).
    pub reserve: Bps,
}

/// Target share by default: 75 % (below the default 80 % alert rung).
pub const DEFAULT_TARGET: Bps = Bps::new(7_500);
/// Burst by default: 1 % of the limit (10 writes of Workers KV's 1,000).
pub const DEFAULT_BURST: Bps = Bps::new(100);
/// Urgent reserve by default: 1 % of the limit.
pub const DEFAULT_RESERVE: Bps = Bps::new(100);
/// How far below the ladder's alert rung [`Pace::for_ladder`] aims.
pub const BELOW_ALERT: Bps = Bps::new(500);

impl Default for Pace {
    fn default() -> Self {
        Pace {
            target: DEFAULT_TARGET,
            burst: DEFAULT_BURST,
            reserve: DEFAULT_RESERVE,
        }
    }
}

/// Whether a wake-up may do work that will commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It may: its commit stays within the allowance.
    Go,
    /// It may not; the next write is allowed at `until`.
    Wait {
        /// When the next write is allowed (for a routine wake-up when the
        /// verdict was for one, for an urgent one otherwise).
        until: UnixMillis,
    },
}

impl Verdict {
    /// Whether the wake-up may go.
    pub fn go(self) -> bool {
        self == Verdict::Go
    }

    /// The stricter of two verdicts: any wait, and the later one.
    fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Go, v) | (v, Verdict::Go) => v,
            (Verdict::Wait { until: a }, Verdict::Wait { until: b }) => {
                Verdict::Wait { until: a.max(b) }
            }
        }
    }
}

fn share(limit: u64, s: Bps) -> u64 {
    (u128::from(limit) * u128::from(s.get()) / 10_000) as u64
}

impl Pace {
    /// The defaults, with the target [`BELOW_ALERT`] under the ladder's
    /// alert rung (75 % for the default ladder), but never above
    /// [`DEFAULT_TARGET`] and at least 1 %.
    pub fn for_ladder(ladder: &Ladder) -> Pace {
        let below = ladder.alert.get().saturating_sub(BELOW_ALERT.get());
        Pace {
            target: Bps::new(u32::from(below.clamp(100, DEFAULT_TARGET.get()))),
            ..Pace::default()
        }
    }

    /// The most a period may commit: `min(L, T [+ R])`.
    pub fn cap(&self, limit: u64, urgent: bool) -> u64 {
        let t = share(limit, self.target);
        let r = if urgent {
            share(limit, self.reserve).max(1)
        } else {
            0
        };
        t.saturating_add(r).min(limit)
    }

    fn ahead(&self, limit: u64, urgent: bool) -> u64 {
        let b = share(limit, self.burst).max(1);
        if urgent {
            b.saturating_add(share(limit, self.reserve).max(1))
        } else {
            b
        }
    }

    /// Writes allowed in the period `w` by `now`: the linear share of the
    /// target plus the burst (and the reserve when `urgent`), capped.
    pub fn allowance(&self, limit: u64, w: Window, now: UnixMillis, urgent: bool) -> u64 {
        let t = u128::from(share(limit, self.target));
        let len = u128::from(w.len().max(1));
        let line = (t * u128::from(w.elapsed(now)) / len) as u64;
        line.saturating_add(self.ahead(limit, urgent))
            .min(self.cap(limit, urgent))
    }

    /// Whether one more write is allowed in the period `w` at `now`, given
    /// `used` writes in it so far out of `limit`; see the module docs.
    pub fn check(
        &self,
        used: u64,
        limit: u64,
        w: Window,
        now: UnixMillis,
        urgent: bool,
    ) -> Verdict {
        let next = used.saturating_add(1);
        if next <= self.allowance(limit, w, now, urgent) {
            return Verdict::Go;
        }
        let t = share(limit, self.target);
        if next > self.cap(limit, urgent) || t == 0 {
            return Verdict::Wait { until: w.end };
        }
        // The least elapsed e with ⌊T·e/P⌋ + ahead ≥ next.
        let need = u128::from(next.saturating_sub(self.ahead(limit, urgent)));
        let e = (need * u128::from(w.len())).div_ceil(u128::from(t));
        let until = w.start.saturating_add(u64::try_from(e).unwrap_or(u64::MAX));
        Verdict::Wait {
            until: until.clamp(now.saturating_add(1), w.end),
        }
    }

    /// The verdict over every [`Metric::Writes`] quota in `limits`, from
    /// the footprint `ledger` read as if rolled to `now` (as
    /// [`super::status`] reads it): the stricter of all. [`Verdict::Go`]
    /// when no quota limits writes.
    pub fn verdict(
        &self,
        ledger: &Ledger,
        limits: &Limits,
        now: UnixMillis,
        urgent: bool,
    ) -> Verdict {
        let mut l = ledger.clone();
        l.roll(now, limits);
        limits
            .quotas
            .iter()
            .filter(|q| q.metric == Metric::Writes)
            .map(|q| {
                let w = period::window(q.period, q.reset_offset, now);
                let used = l
                    .counter(q.metric, q.period)
                    .filter(|c| c.start == w.start)
                    .map_or(0, |c| c.used);
                self.check(used, q.limit, w, now, urgent)
            })
            .fold(Verdict::Go, Verdict::and)
    }
}

/// The footprint quotas with the store's daily write budget: `limits` as
/// configured, plus a `writes` per UTC `day` quota of `writes_per_day`
/// when the store declares one (a non-zero one) and the operator
/// configured no daily `writes` quota (a configured one wins: the
/// operator may know the plan better). The ledger then counts the
/// sentinel's writes per day, the pacing reads that count, and the ladder
/// alerts on it.
pub fn with_store_budget(limits: &Limits, writes_per_day: Option<u32>) -> Limits {
    let mut out = limits.clone();
    if let Some(n) = writes_per_day.filter(|n| *n > 0) {
        if out.quota(Metric::Writes, Period::Day).is_none() {
            out.quotas.push(Quota {
                metric: Metric::Writes,
                limit: u64::from(n),
                period: Period::Day,
                reset_offset: Span(0),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR, MINUTE};
    use proptest::prelude::*;

    const START: UnixMillis = 20_000 * DAY;

    fn day() -> Window {
        Window {
            start: START,
            end: START + DAY,
        }
    }

    #[test]
    fn kv_free_plan_numbers() {
        let p = Pace::default();
        // T = 750, B = 10, R = 10.
        assert_eq!(p.cap(1_000, false), 750);
        assert_eq!(p.cap(1_000, true), 760);
        assert_eq!(p.allowance(1_000, day(), START, false), 10);
        assert_eq!(p.allowance(1_000, day(), START + 12 * HOUR, false), 385);
        assert_eq!(p.allowance(1_000, day(), START + 12 * HOUR, true), 395);
        assert_eq!(p.allowance(1_000, day(), START + DAY - 1, false), 750);
        // The 11th write of the day waits for the line: 1 · 86 400 s / 750.
        assert_eq!(
            p.check(10, 1_000, day(), START, false),
            Verdict::Wait {
                until: START + 115_200
            }
        );
        assert!(p.check(10, 1_000, day(), START + 115_200, false).go());
        assert!(p.check(10, 1_000, day(), START, true).go());
        // The cap is for the period: the rest waits for the next one.
        assert_eq!(
            p.check(750, 1_000, day(), START + DAY - MINUTE, false),
            Verdict::Wait { until: START + DAY }
        );
        assert!(p.check(750, 1_000, day(), START + DAY - MINUTE, true).go());
        assert_eq!(
            p.check(760, 1_000, day(), START + DAY - MINUTE, true),
            Verdict::Wait { until: START + DAY }
        );
    }

    #[test]
    fn the_target_sits_below_the_alert_rung() {
        assert_eq!(Pace::for_ladder(&Ladder::default()).target, Bps::new(7_500));
        let high = Ladder {
            alert: Bps::new(9_500),
            ..Ladder::default()
        };
        assert_eq!(Pace::for_ladder(&high).target, DEFAULT_TARGET);
        let low = Ladder {
            alert: Bps::new(5_000),
            ..Ladder::default()
        };
        assert_eq!(Pace::for_ladder(&low).target, Bps::new(4_500));
        let tiny = Ladder {
            alert: Bps::new(100),
            ..Ladder::default()
        };
        assert_eq!(Pace::for_ladder(&tiny).target, Bps::new(100));
    }

    #[test]
    fn the_store_budget_is_a_daily_quota_unless_one_is_configured() {
        let none = Limits::default();
        let got = with_store_budget(&none, Some(1_000));
        assert_eq!(
            got.quota(Metric::Writes, Period::Day).map(|q| q.limit),
            Some(1_000)
        );
        assert_eq!(with_store_budget(&none, None), none);
        assert_eq!(with_store_budget(&none, Some(0)), none);
        let configured = Limits {
            quotas: vec![Quota {
                metric: Metric::Writes,
                limit: 5_000,
                period: Period::Day,
                reset_offset: Span(0),
            }],
        };
        assert_eq!(with_store_budget(&configured, Some(1_000)), configured);
        // Applying it twice changes nothing.
        assert_eq!(with_store_budget(&got, Some(1_000)), got);
    }

    #[test]
    fn the_stricter_quota_decides() {
        let limits = Limits {
            quotas: vec![
                Quota {
                    metric: Metric::Writes,
                    limit: 1_000,
                    period: Period::Day,
                    reset_offset: Span(0),
                },
                Quota {
                    metric: Metric::Writes,
                    limit: 60,
                    period: Period::Hour,
                    reset_offset: Span(0),
                },
            ],
        };
        let mut ledger = Ledger::default();
        let rates = super::super::Rates::default();
        let now = START + 30 * MINUTE;
        ledger.record(now, &limits, &rates, Metric::Writes, 30);
        // The day allows 10 + 15 = 25 by 00:30 and 30 are used: wait.
        let v = Pace::default().verdict(&ledger, &limits, now, false);
        assert!(!v.go(), "{v:?}");
        // Without quotas nothing is paced.
        assert!(Pace::default()
            .verdict(&ledger, &Limits::default(), now, false)
            .go());
    }

    proptest! {
        #[test]
        fn more_used_never_allows_more_and_the_limit_holds(
            limit in 1u64..100_000,
            used in 0u64..120_000,
            more in 0u64..1_000,
            at in 0u64..DAY,
            target in 0u32..=10_000,
            burst in 0u32..=2_000,
            urgent: bool,
        ) {
            let p = Pace {
                target: Bps::new(target),
                burst: Bps::new(burst),
                ..Pace::default()
            };
            let now = START + at;
            let a = p.check(used, limit, day(), now, urgent);
            let b = p.check(used + more, limit, day(), now, urgent);
            // Monotone: if more used may go, so may fewer.
            prop_assert!(!b.go() || a.go());
            // Never across the limit.
            if a.go() {
                prop_assert!(used < limit);
            }
            // A wait names a later time, within the period, at which the
            // same count may go (or the period's end).
            if let Verdict::Wait { until } = a {
                prop_assert!(until > now && until <= START + DAY);
                if until < START + DAY {
                    prop_assert!(p.check(used, limit, day(), until, urgent).go());
                    prop_assert!(!p.check(used, limit, day(), until - 1, urgent).go() || until == now + 1);
                }
            }
            // Urgency only ever allows more.
            prop_assert!(!p.check(used, limit, day(), now, false).go() || p.check(used, limit, day(), now, true).go());
        }

        /// Over a whole period of wake-ups every `cron` ms, each writing
        /// when allowed, the count never passes the cap.
        #[test]
        fn a_paced_period_stays_under_its_cap(
            limit in 1u64..5_000,
            cron in 1u64..600,
        ) {
            let p = Pace::default();
            let cron = cron * 1_000;
            let (mut used, mut t) = (0u64, START);
            while t < START + DAY {
                if p.check(used, limit, day(), t, false).go() {
                    used += 1;
                }
                t += cron;
            }
            prop_assert!(used <= p.cap(limit, false));
            prop_assert!(used <= limit);
        }
    }
}
