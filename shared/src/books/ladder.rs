//! Utilization, projection and the budget ladder.
//!
//! [`status`] turns a ledger into one [`QuotaStatus`] per quota, plus one
//! for the monthly money budget when the cost model has one. [`step`]
//! reads the statuses against the [`Ladder`] (seed defaults 80 % alert,
//! 90 % prefer providers with free headroom, 95 % scale down, 100 % stop)
//! and returns the step to take and why.
//!
//! **Utilization** is `used / limit` in basis points rounded *down*, so a
//! rung is reached exactly when `used × 10 000 ≥ rung × limit`: 79.99 % is
//! not 80 %. It saturates at 100 %.
//!
//! **Projection.** The burn rate is the period's usage over the time
//! elapsed in it; the projected usage at the period's end is
//! `used + used × remaining / elapsed` (integers, rounded down), and the
//! limit is reached, if at all before the end, at
//! `now + ⌈(limit − used) × elapsed / used⌉`. Early in a period a few
//! requests would extrapolate wildly, so there is no projection (projected
//! = used) until at least 5 % of the period *and* 10 minutes have elapsed —
//! a quarter of it for the minute period: 15 s of a minute, 10 min of an
//! hour, 72 min of a day, ~1.5 days of a month. For the money budget the
//! fixed fee is committed, not burned: only the variable cost is
//! extrapolated.
//!
//! **Act before the limit.** The step is the highest rung any status has
//! reached by its *current* utilization; in addition, a status whose
//! projection reaches its limit before the period ends raises the step to
//! at least [`Step::Alert`], even below the alert rung. A projection alone
//! never goes further than an alert: it is an estimate, and the higher
//! rungs change routing and traffic, so they wait for real usage (which,
//! at 90/95 %, is itself well before the limit).

use super::ledger::Ledger;
use super::money::{usd_to_nano, Rates};
use super::period::{self, Window};
use super::spec::{Budgets, Ladder, Limits, Metric, Period};
use crate::time::{UnixMillis, MINUTE};
use crate::{Bps, Kind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The step the bookkeeper asks for, from none to stopping.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Below every rung.
    #[default]
    Normal,
    /// Tell the operator.
    Alert,
    /// Route to providers with free headroom where possible.
    PreferFree,
    /// Probe less, shed optional traffic.
    ScaleDown,
    /// Stop using the provider.
    Stop,
}

impl Step {
    /// The kebab-case name, as in configs, labels and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Normal => "normal",
            Step::Alert => "alert",
            Step::PreferFree => "prefer-free",
            Step::ScaleDown => "scale-down",
            Step::Stop => "stop",
        }
    }
}

/// Where a status comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A configured quota.
    Quota,
    /// The cost model's monthly money budget (metric `cost-nano-usd`,
    /// period `month`, fixed fee included).
    Budget,
}

/// How full one quota or budget is, and where it is heading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaStatus {
    /// A quota or the money budget.
    pub source: Source,
    /// What is counted.
    pub metric: Metric,
    /// Over which period.
    pub period: Period,
    /// The limit (nano-USD for the budget).
    pub limit: u64,
    /// Used so far this period.
    pub used: u64,
    /// `used / limit`, rounded down, saturating at 100 %.
    pub utilization: Bps,
    /// Usage projected at the period's end from the burn rate (= `used`
    /// while too little of the period has elapsed).
    pub projected_used: u64,
    /// `projected_used / limit`, rounded down, saturating at 100 %.
    pub projected: Bps,
    /// When the period ends (and the counter resets).
    pub period_end: UnixMillis,
    /// When the limit is reached at the current burn rate, if before the
    /// period ends; `now` if it already is.
    pub exhausts_at: Option<UnixMillis>,
    /// An alert rung replacing the ladder's for this status (the cost
    /// model's `alert_threshold`, for the budget).
    pub alert_at: Option<Bps>,
}

/// Why the ladder is at a step: the status that put it there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The step.
    pub step: Step,
    /// Whether current usage or the projection triggered it.
    pub trigger: Trigger,
    /// A quota or the money budget.
    pub source: Source,
    /// The metric.
    pub metric: Metric,
    /// The period.
    pub period: Period,
    /// The rung reached (for a projection: the limit, 100 %).
    pub threshold: Bps,
    /// The limit.
    pub limit: u64,
    /// Used so far.
    pub used: u64,
    /// Current utilization.
    pub utilization: Bps,
    /// Projected utilization at the period's end.
    pub projected: Bps,
    /// When the limit is reached at the current burn rate.
    pub exhausts_at: Option<UnixMillis>,
    /// When the period ends.
    pub period_end: UnixMillis,
}

/// What triggered a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Current utilization reached a rung.
    Current,
    /// The projection reaches the limit before the period ends.
    Projected,
}

/// `used / limit` in basis points, rounded down, saturating; a zero limit
/// is 0 % unused and 100 % as soon as anything is used.
pub fn utilization(used: u64, limit: u64) -> Bps {
    if limit == 0 {
        return if used == 0 { Bps::ZERO } else { Bps::MAX };
    }
    let v = (u128::from(used) * 10_000 / u128::from(limit)).min(10_000);
    Bps::new(v as u32)
}

/// Least time elapsed in a window before its burn rate is extrapolated:
/// 5 % of it and 10 minutes, but at most a quarter of it.
pub fn min_elapsed_for_projection(w: Window) -> u64 {
    let len = w.len();
    (len / 20).max((10 * MINUTE).min(len / 4))
}

/// Projects `base + var` (a committed part and a burned part) to the
/// window's end. Returns (projected usage, exhaustion time).
fn project(
    base: u64,
    var: u64,
    limit: u64,
    w: Window,
    now: UnixMillis,
) -> (u64, Option<UnixMillis>) {
    let used = base.saturating_add(var);
    if used > 0 && used >= limit {
        return (used, Some(now.clamp(w.start, w.end)));
    }
    let (elapsed, remaining) = (w.elapsed(now), w.remaining(now));
    if var == 0 || elapsed == 0 || elapsed < min_elapsed_for_projection(w) {
        return (used, None);
    }
    let (var, elapsed, remaining) = (u128::from(var), u128::from(elapsed), u128::from(remaining));
    let extra = var * remaining / elapsed;
    let projected = u64::try_from(u128::from(used) + extra).unwrap_or(u64::MAX);
    let left = u128::from(limit - used);
    // Exactly: the limit is reached by the end iff var·remaining ≥ left·elapsed.
    let exhausts = (var * remaining >= left * elapsed).then(|| {
        let dt = (left * elapsed).div_ceil(var);
        now.saturating_add(u64::try_from(dt).unwrap_or(u64::MAX))
    });
    (projected, exhausts)
}

/// The status of every quota in `limits` (in their order), then of the
/// monthly money budget if `rates` has one, at `now`. The ledger is read
/// as if rolled to `now`.
pub fn status(
    ledger: &Ledger,
    now: UnixMillis,
    limits: &Limits,
    rates: &Rates,
) -> Vec<QuotaStatus> {
    let mut l = ledger.clone();
    l.roll(now, limits);
    let mut out = Vec::with_capacity(limits.quotas.len() + 1);
    for q in &limits.quotas {
        let w = period::window(q.period, q.reset_offset, now);
        let used = l
            .counter(q.metric, q.period)
            .filter(|c| c.start == w.start)
            .map_or(0, |c| c.used);
        let (projected_used, exhausts_at) = project(0, used, q.limit, w, now);
        out.push(QuotaStatus {
            source: Source::Quota,
            metric: q.metric,
            period: q.period,
            limit: q.limit,
            used,
            utilization: utilization(used, q.limit),
            projected_used,
            projected: utilization(projected_used, q.limit),
            period_end: w.end,
            exhausts_at,
            alert_at: None,
        });
    }
    if let Some(budget) = rates.budget_nano {
        let w = period::month(now);
        let var = if l.month_start == w.start {
            l.cost_nano
        } else {
            0
        };
        let (projected_used, exhausts_at) = project(rates.monthly_fixed_nano, var, budget, w, now);
        let used = rates.monthly_fixed_nano.saturating_add(var);
        out.push(QuotaStatus {
            source: Source::Budget,
            metric: Metric::CostNanoUsd,
            period: Period::Month,
            limit: budget,
            used,
            utilization: utilization(used, budget),
            projected_used,
            projected: utilization(projected_used, budget),
            period_end: w.end,
            exhausts_at,
            alert_at: Some(rates.alert_threshold),
        });
    }
    out
}

/// The rung `u` has reached on `ladder`, with `alert_at` replacing the
/// alert rung when given. Returns the step and its threshold.
fn rung(u: Bps, ladder: &Ladder, alert_at: Option<Bps>) -> (Step, Bps) {
    let alert = alert_at.unwrap_or(ladder.alert);
    [
        (Step::Stop, ladder.stop),
        (Step::ScaleDown, ladder.scale_down),
        (Step::PreferFree, ladder.prefer_free),
        (Step::Alert, alert),
    ]
    .into_iter()
    .find(|(_, t)| u >= *t)
    .unwrap_or((Step::Normal, Bps::ZERO))
}

/// The step over all `statuses` and the status that decided it (the first
/// with the highest step, then the highest utilization); `None` when
/// [`Step::Normal`]. See the module documentation for the projection rule.
pub fn step(statuses: &[QuotaStatus], ladder: &Ladder) -> (Step, Option<Reason>) {
    let mut best: Option<Reason> = None;
    for s in statuses {
        let (mut st, mut threshold) = rung(s.utilization, ladder, s.alert_at);
        let mut trigger = Trigger::Current;
        if st < Step::Alert && s.exhausts_at.is_some() {
            (st, threshold, trigger) = (Step::Alert, Bps::MAX, Trigger::Projected);
        }
        if st == Step::Normal {
            continue;
        }
        let better = best
            .as_ref()
            .is_none_or(|b| (st, s.utilization) > (b.step, b.utilization));
        if better {
            best = Some(Reason {
                step: st,
                trigger,
                source: s.source,
                metric: s.metric,
                period: s.period,
                threshold,
                limit: s.limit,
                used: s.used,
                utilization: s.utilization,
                projected: s.projected,
                exhausts_at: s.exhausts_at,
                period_end: s.period_end,
            });
        }
    }
    (best.as_ref().map_or(Step::Normal, |b| b.step), best)
}

/// The step and utilization of each per-kind monthly budget, given what
/// the providers of each kind spent this month (nano-USD, fixed fees
/// included). Kinds without a budget are absent; a kind with a budget and
/// no spending is at 0 %.
pub fn kind_budget_step(
    spent_nano_by_kind: &BTreeMap<Kind, u64>,
    budgets: &Budgets,
    ladder: &Ladder,
) -> BTreeMap<Kind, (Step, Bps)> {
    budgets
        .monthly_usd
        .iter()
        .map(|(kind, usd)| {
            let spent = spent_nano_by_kind.get(kind).copied().unwrap_or(0);
            let u = utilization(spent, usd_to_nano(*usd));
            (*kind, (rung(u, ladder, None).0, u))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::spec::{CostModel, Quota};
    use crate::time::{parse_rfc3339, Span};
    use proptest::prelude::*;

    fn t(s: &str) -> UnixMillis {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn step_names_are_their_serialized_names() {
        for step in [
            Step::Normal,
            Step::Alert,
            Step::PreferFree,
            Step::ScaleDown,
            Step::Stop,
        ] {
            assert_eq!(serde_json::to_value(step).unwrap(), step.as_str());
        }
    }

    fn day_quota(limit: u64) -> Limits {
        Limits {
            quotas: vec![Quota {
                metric: Metric::Requests,
                limit,
                period: Period::Day,
                reset_offset: Span(0),
            }],
        }
    }

    fn at(used: u64, limit: u64) -> QuotaStatus {
        QuotaStatus {
            source: Source::Quota,
            metric: Metric::Requests,
            period: Period::Day,
            limit,
            used,
            utilization: utilization(used, limit),
            projected_used: used,
            projected: utilization(used, limit),
            period_end: 0,
            exhausts_at: None,
            alert_at: None,
        }
    }

    #[test]
    fn ladder_thresholds() {
        let ladder = Ladder::default();
        let st = |used| step(&[at(used, 10_000)], &ladder).0;
        assert_eq!(st(7999), Step::Normal); // 79.99 %
        assert_eq!(st(8000), Step::Alert);
        assert_eq!(st(8999), Step::Alert);
        assert_eq!(st(9000), Step::PreferFree);
        assert_eq!(st(9500), Step::ScaleDown);
        assert_eq!(st(9999), Step::ScaleDown);
        assert_eq!(st(10_000), Step::Stop);
        assert_eq!(st(20_000), Step::Stop);
        // Rounding down: 79.995 % is still below 80 %.
        assert_eq!(step(&[at(79_995, 100_000)], &ladder).0, Step::Normal);
        assert_eq!(step(&[], &ladder), (Step::Normal, None));
    }

    #[test]
    fn highest_step_wins_and_says_why() {
        let ladder = Ladder::default();
        let mut b = at(95, 100);
        b.metric = Metric::Writes;
        let (s, why) = step(&[at(85, 100), b, at(10, 100)], &ladder);
        assert_eq!(s, Step::ScaleDown);
        let why = why.unwrap();
        assert_eq!(
            (why.metric, why.trigger, why.threshold, why.used),
            (Metric::Writes, Trigger::Current, Bps::new(9500), 95)
        );
        let json = serde_json::to_value(&why).unwrap();
        assert_eq!(json["step"], "scale-down");
        assert_eq!(json["metric"], "writes");
    }

    #[test]
    fn projection_at_half_the_period() {
        let lim = day_quota(1000);
        let mut l = Ledger::default();
        let noon = t("2026-11-24T12:00:00Z");
        l.record(noon, &lim, &Rates::default(), Metric::Requests, 300);
        let all = status(&l, noon, &lim, &Rates::default());
        let s = &all[0];
        assert_eq!(
            (s.used, s.utilization, s.projected_used, s.projected),
            (300, Bps::new(3000), 600, Bps::new(6000))
        );
        assert_eq!(s.period_end, t("2026-11-25T00:00:00Z"));
        assert_eq!(s.exhausts_at, None);
        assert_eq!(step(&all, &Ladder::default()).0, Step::Normal);
    }

    #[test]
    fn projection_triggers_an_alert() {
        let lim = day_quota(1000);
        let mut l = Ledger::default();
        let noon = t("2026-11-24T12:00:00Z");
        l.record(noon, &lim, &Rates::default(), Metric::Requests, 600);
        let all = status(&l, noon, &lim, &Rates::default());
        let s = &all[0];
        // 60 % used at half time: 120 % projected, the limit falls at 20:00.
        assert_eq!(
            (s.utilization, s.projected_used, s.projected),
            (Bps::new(6000), 1200, Bps::MAX)
        );
        assert_eq!(s.exhausts_at, Some(t("2026-11-24T20:00:00Z")));
        let (st, why) = step(&all, &Ladder::default());
        assert_eq!(st, Step::Alert);
        assert_eq!(why.unwrap().trigger, Trigger::Projected);
    }

    #[test]
    fn no_projection_early_in_the_period() {
        let lim = day_quota(1000);
        let mut l = Ledger::default();
        // 70 minutes into the day: below 5 % (72 min), no extrapolation.
        let now = t("2026-11-24T01:10:00Z");
        l.record(now, &lim, &Rates::default(), Metric::Requests, 100);
        let s = &status(&l, now, &lim, &Rates::default())[0];
        assert_eq!((s.projected_used, s.exhausts_at), (100, None));
        let later = now + 2 * MINUTE;
        let s = &status(&l, later, &lim, &Rates::default())[0];
        assert!(s.projected_used > 1000 && s.exhausts_at.is_some());
        assert_eq!(
            min_elapsed_for_projection(period::window(Period::Minute, Span(0), 0)),
            15_000
        );
        assert_eq!(
            min_elapsed_for_projection(period::window(Period::Hour, Span(0), 0)),
            10 * MINUTE
        );
    }

    #[test]
    fn money_budget_status() {
        let rates = CostModel {
            per_request_usd: 0.001,
            monthly_fixed_usd: 5.0,
            monthly_budget_usd: Some(10.0),
            alert_threshold: Bps::new(5000),
            ..CostModel::default()
        }
        .compile();
        let lim = Limits::default();
        let mut l = Ledger::default();
        // Nov 16 00:00 is half of November: $1 of requests, $5 fixed.
        let now = t("2026-11-16T00:00:00Z");
        l.record(now, &lim, &rates, Metric::Requests, 1000);
        let s = status(&l, now, &lim, &rates);
        assert_eq!(s.len(), 1);
        let b = &s[0];
        assert_eq!(b.source, Source::Budget);
        assert_eq!((b.used, b.utilization), (6_000_000_000, Bps::new(6000)));
        // Only the variable part is extrapolated: 5 + 2 = 7 USD.
        assert_eq!(b.projected_used, 7_000_000_000);
        // The cost model's 50 % alert threshold replaces the ladder's 80 %.
        assert_eq!(step(&s, &Ladder::default()).0, Step::Alert);
        // Next month: only the fixed fee.
        let dec = status(&l, t("2026-12-01T00:00:00Z"), &lim, &rates);
        assert_eq!(dec[0].used, 5_000_000_000);
    }

    #[test]
    fn zero_budget_stops_at_the_first_cost() {
        let rates = CostModel {
            per_request_usd: 0.001,
            monthly_budget_usd: Some(0.0),
            ..CostModel::default()
        }
        .compile();
        let (lim, now) = (Limits::default(), t("2026-11-16T00:00:00Z"));
        let mut l = Ledger::default();
        assert_eq!(
            step(&status(&l, now, &lim, &rates), &Ladder::default()).0,
            Step::Normal
        );
        l.record(now, &lim, &rates, Metric::Requests, 1);
        assert_eq!(
            step(&status(&l, now, &lim, &rates), &Ladder::default()).0,
            Step::Stop
        );
    }

    #[test]
    fn per_kind_budgets() {
        let budgets = Budgets {
            monthly_usd: [(Kind::Api, 10.0), (Kind::Storage, 1.0)]
                .into_iter()
                .collect(),
        };
        let spent: BTreeMap<Kind, u64> = [(Kind::Api, 9_000_000_000), (Kind::EvmRpc, 5)]
            .into_iter()
            .collect();
        let steps = kind_budget_step(&spent, &budgets, &Ladder::default());
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[&Kind::Api], (Step::PreferFree, Bps::new(9000)));
        assert_eq!(steps[&Kind::Storage], (Step::Normal, Bps::ZERO));
    }

    proptest! {
        #[test]
        fn utilization_monotone(used in any::<u64>(), more in any::<u64>(), limit in any::<u64>()) {
            let u = utilization(used, limit);
            prop_assert!(u <= Bps::MAX);
            prop_assert!(utilization(used.saturating_add(more), limit) >= u);
        }

        #[test]
        fn more_usage_never_lowers_the_step(
            a in 0u64..2000, extra in 0u64..2000, limit in 1u64..2000,
            mins in 0u64..(24 * 60),
        ) {
            let lim = day_quota(limit);
            let now = t("2026-11-24T00:00:00Z") + mins * MINUTE;
            let mut l = Ledger::default();
            l.record(now, &lim, &Rates::default(), Metric::Requests, a);
            let before = step(&status(&l, now, &lim, &Rates::default()), &Ladder::default()).0;
            l.record(now, &lim, &Rates::default(), Metric::Requests, extra);
            let after = step(&status(&l, now, &lim, &Rates::default()), &Ladder::default()).0;
            prop_assert!(after >= before);
        }

        #[test]
        fn exhaustion_is_within_the_period(used in 1u64..5000, limit in 1u64..5000, mins in 0u64..(24 * 60)) {
            let w = period::window(Period::Day, Span(0), t("2026-11-24T00:00:00Z"));
            let now = w.start + mins * MINUTE;
            let (p, ex) = project(0, used, limit, w, now);
            prop_assert!(p >= used);
            if let Some(x) = ex {
                prop_assert!(x >= now && x <= w.end);
                prop_assert!(p >= limit);
            }
        }
    }
}
