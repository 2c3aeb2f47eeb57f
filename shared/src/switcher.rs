//! The switcher: when to move a service off its active provider, and where.
//!
//! **Triggers** (seed defaults, `policy.switching`), most urgent first:
//!
//! | trigger | condition | urgency |
//! |---|---|---|
//! | `failed` | ≥ 3 consecutive failed probes, or down > 30 s | critical |
//! | `budget-exhausted` | the ladder reached *stop* (100 %) | critical |
//! | `budget-pressure` | the ladder reached *prefer free* (90 %) or *scale down* (95 %) | critical |
//! | `untrusted` | the total fell to the Untrusted level | critical |
//! | `bad-data` | ≥ 3 consecutive answers failing a data check (stale, wrong, inconsistent) | critical |
//! | `latency` | the median answer of the last window > 5 × max(baseline p50, target / 2), and over the target | degraded |
//! | `utilization` | a quota above 80 % | degraded |
//! | `data-quality` | data quality (last 2 h) < 70 | degraded |
//! | `performance` | performance < 60 | degraded |
//! | `error-rate` | errors > 5 % over the last 64 probes (≥ 40 probes, ≥ 5 errors) | degraded |
//! | `better-alternative` | a candidate's total ≥ 1.2 × the current one | optimize |
//!
//! **Guard rails.** Critical triggers act at once. Degraded and optimize
//! triggers must hold for `sustain` consecutive decisions and respect the
//! minimum dwell time on the current provider — except `latency`, whose
//! statistic is already held over a time window ([`crate::recent`]), so
//! it acts on the window, not on how often the sentinel wakes up. A candidate must be healthy
//! now, not Untrusted, not stopped by its budget, not flap-suppressed, not
//! just failed a canary, and *not worse on the trigger that fired*, with a
//! margin: after a switch for quality < 70 the candidate needs ≥ 75, after
//! latency it must be at least twice as fast, and so on. Those margins are
//! the hysteresis that keeps two mediocre providers from trading places.
//!
//! The seed's `best.total > current.total * 1.2` is kept, in integers:
//! `candidate·10000 ≥ current·(10000 + better_by)`, and only for candidates
//! whose confidence is at least 50 %, so a provider with five lucky probes
//! cannot pull traffic.

use crate::books::Step;
use crate::config::Switching;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::probe::Outcome;
use crate::{Bps, ProviderId};
use serde::{Deserialize, Serialize};

/// Why a switch happens, e.g. `{"failed":{"consecutive_failures":3,"down_for_ms":61000}}`
/// in JSON. (Externally tagged: the compact binary state encoding cannot
/// carry internally tagged enums.) [`Reason::name`] gives the trigger name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The service had no active provider.
    Initial,
    /// The active provider is down.
    Failed {
        /// Consecutive failed probes.
        consecutive_failures: u32,
        /// Time since the first failed probe.
        down_for_ms: u64,
        /// How the last probe failed (`timeout`, `refused`, `reset`,
        /// `http-503`, …); `None` in records written before causes were
        /// kept.
        cause: Option<Outcome>,
    },
    /// The active provider's budget or quota is exhausted.
    BudgetExhausted {
        /// Highest utilization, basis points.
        utilization: Bps,
    },
    /// The active provider's reputation fell to Untrusted.
    Untrusted {
        /// Its total.
        total: Bps,
    },
    /// Consecutive answers failed a data check.
    BadData {
        /// How many in a row.
        consecutive: u32,
        /// The failing check (`freshness`, `business`, `schema`, `consistency`).
        check: String,
    },
    /// Latency far above the provider's own baseline.
    Latency {
        /// Recent latency (EWMA), ms.
        recent_ms: u64,
        /// Baseline p50, ms.
        baseline_ms: u64,
        /// Configured factor.
        factor: u32,
    },
    /// A quota is nearly used up.
    Utilization {
        /// Highest utilization.
        utilization: Bps,
        /// Threshold.
        max: Bps,
    },
    /// Data quality below the minimum.
    DataQuality {
        /// Recent data quality.
        score: Bps,
        /// Threshold.
        min: Bps,
    },
    /// Performance below the minimum.
    Performance {
        /// Performance score.
        score: Bps,
        /// Threshold.
        min: Bps,
    },
    /// Error rate above the maximum.
    ErrorRate {
        /// Recent error rate.
        rate: Bps,
        /// Threshold.
        max: Bps,
    },
    /// A clearly better alternative exists.
    BetterAlternative {
        /// Current total.
        current: Bps,
        /// Candidate total.
        candidate: Bps,
    },
    /// The provider refuses us with 429 Too Many Requests: up, but out of
    /// quota for us — a quota signal, not an outage.
    Throttled {
        /// Consecutive 429 answers.
        consecutive: u32,
        /// The `Retry-After` it sent, in seconds.
        retry_after_s: Option<u64>,
    },
    /// A quota or budget reached the ladder's `prefer_free` step (90 %) or
    /// beyond: as urgent as an outage, because waiting out the dwell burns
    /// the provider to 100 %.
    BudgetPressure {
        /// Highest utilization.
        utilization: Bps,
        /// The ladder step reached.
        step: Step,
    },
    /// A peer sentinel routed the service here later than this one
    /// decided ([`crate::peer`]): its decision is adopted so both route
    /// the same way.
    Reconciled {
        /// The peer.
        peer: crate::SentinelId,
    },
    /// The provider's own status page declares a maintenance under way or
    /// about to start, or a major incident ([`crate::statuspage`]): traffic
    /// moves before our probes would see it fail.
    StatusPage {
        /// What is declared, in words.
        what: String,
        /// Seconds until the maintenance starts (0: under way; `None`: an
        /// incident).
        starts_in_s: Option<u64>,
    },
}

/// How urgently a trigger acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Improve when convenient (sustain + dwell).
    Optimize,
    /// Degraded service (sustain + dwell).
    Degraded,
    /// Broken now: act at once.
    Critical,
}

impl Reason {
    /// The trigger's kebab-case name.
    pub fn name(&self) -> &'static str {
        match self {
            Reason::Initial => "initial",
            Reason::Failed { .. } => "failed",
            Reason::BudgetExhausted { .. } => "budget-exhausted",
            Reason::Untrusted { .. } => "untrusted",
            Reason::BadData { .. } => "bad-data",
            Reason::Latency { .. } => "latency",
            Reason::Utilization { .. } => "utilization",
            Reason::DataQuality { .. } => "data-quality",
            Reason::Performance { .. } => "performance",
            Reason::ErrorRate { .. } => "error-rate",
            Reason::BetterAlternative { .. } => "better-alternative",
            Reason::Throttled { .. } => "throttled",
            Reason::BudgetPressure { .. } => "budget-pressure",
            Reason::Reconciled { .. } => "reconciled",
            Reason::StatusPage { .. } => "status-page",
        }
    }

    /// How urgently it acts.
    pub fn urgency(&self) -> Urgency {
        match self {
            // Bad data is as harmful as no data, and the trigger already
            // needs N answers in a row, so it acts at once like a failure.
            Reason::Initial
            | Reason::Failed { .. }
            | Reason::BadData { .. }
            | Reason::BudgetExhausted { .. }
            | Reason::Throttled { .. }
            | Reason::BudgetPressure { .. }
            | Reason::Untrusted { .. } => Urgency::Critical,
            Reason::BetterAlternative { .. } | Reason::Reconciled { .. } => Urgency::Optimize,
            _ => Urgency::Degraded,
        }
    }

    /// Whether the provider switched away from deserves a flap penalty.
    pub fn penalises(&self) -> bool {
        !matches!(
            self,
            Reason::Initial
                | Reason::BetterAlternative { .. }
                | Reason::Utilization { .. }
                | Reason::BudgetExhausted { .. }
                | Reason::Throttled { .. }
                | Reason::BudgetPressure { .. }
                | Reason::Reconciled { .. }
                | Reason::StatusPage { .. }
        )
    }
}

/// What the switcher needs to know about one provider right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Id.
    pub id: ProviderId,
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Trust level.
    pub trust: TrustLevel,
    /// Decision total.
    pub total: Bps,
    /// Confidence.
    pub confidence: Bps,
    /// Data quality over the last two hours.
    pub recent_quality: Option<Bps>,
    /// Performance component.
    pub performance: Option<Bps>,
    /// Consecutive failed probes.
    pub consecutive_failures: u32,
    /// Consecutive answers failing a data check, and the check.
    pub consecutive_bad: (u32, Option<String>),
    /// Time since the first failed probe of the current outage.
    pub down_for_ms: Option<u64>,
    /// Error rate over the last 64 probes and its sample count.
    pub error_rate: (Option<Bps>, u64),
    /// Failed probes among the last 64.
    pub errors: u64,
    /// Recent latency (EWMA).
    pub recent_latency_ms: u64,
    /// The median latency of the answers in the latency window (at least
    /// two), see [`crate::recent`].
    pub window_latency_ms: Option<u64>,
    /// Baseline p50 and its sample count.
    pub baseline: (Option<u64>, u32),
    /// The service's latency target.
    pub target_ms: u64,
    /// Highest quota or budget utilization.
    pub utilization: Bps,
    /// Ladder step.
    pub step: Step,
    /// Remaining free tier.
    pub free_headroom: Bps,
    /// Flap-suppressed.
    pub suppressed: bool,
    /// Recently failed a canary.
    pub canary_blocked: bool,
    /// Whether the last probe was healthy (and there was one).
    pub last_healthy: bool,
    /// Consecutive healthy probes.
    pub consecutive_successes: u32,
    /// How the latest failed probe failed, and how many failures in a row
    /// failed that way.
    pub streak_cause: Option<(Outcome, u32)>,
    /// The `Retry-After` of the latest 429, in seconds.
    pub retry_after_s: Option<u64>,
    /// What its status page declares that should move traffic now: a
    /// maintenance under way or starting within
    /// [`crate::statuspage::MAINTENANCE_LEAD`] (with ms until it starts),
    /// or a major or critical incident (`None` ms) — in words.
    pub declared: Option<(String, Option<u64>)>,
}

/// The trigger that fires for the active provider, if any, most urgent
/// first.
pub fn trigger(a: &View, sw: &Switching) -> Option<Reason> {
    let down_for = a.down_for_ms.unwrap_or(0);
    if a.consecutive_failures >= sw.failure_threshold
        || (a.down_for_ms.is_some() && down_for > sw.down_after.as_ms())
    {
        // Every failure of the run a 429: the provider is up and refusing
        // us, a quota signal with its own name, not an outage.
        if let Some((Outcome::Throttled, n)) = a.streak_cause {
            if n >= a.consecutive_failures {
                return Some(Reason::Throttled {
                    consecutive: n,
                    retry_after_s: a.retry_after_s,
                });
            }
        }
        return Some(Reason::Failed {
            consecutive_failures: a.consecutive_failures,
            down_for_ms: down_for,
            cause: a.streak_cause.map(|(o, _)| o),
        });
    }
    if a.step >= Step::Stop {
        return Some(Reason::BudgetExhausted {
            utilization: a.utilization,
        });
    }
    if a.step >= Step::PreferFree {
        return Some(Reason::BudgetPressure {
            utilization: a.utilization,
            step: a.step,
        });
    }
    if a.trust == TrustLevel::Untrusted {
        return Some(Reason::Untrusted { total: a.total });
    }
    if a.consecutive_bad.0 >= sw.failure_threshold {
        return Some(Reason::BadData {
            consecutive: a.consecutive_bad.0,
            check: a.consecutive_bad.1.clone().unwrap_or_default(),
        });
    }
    if let (Some(base), n, Some(recent)) = (a.baseline.0, a.baseline.1, a.window_latency_ms) {
        // The baseline is floored at half the target: a provider that was
        // 1 ms away on loopback is not "5× slower" at 6 ms, nor at a
        // harmless 150 ms under a 200 ms target.
        let floor = base.max(a.target_ms / 2).max(1);
        let factor = u64::from(sw.latency_factor);
        if n >= 30 && recent > floor.saturating_mul(factor) && recent > a.target_ms {
            return Some(Reason::Latency {
                recent_ms: recent,
                baseline_ms: base,
                factor: sw.latency_factor,
            });
        }
    }
    if a.utilization > sw.max_utilization {
        return Some(Reason::Utilization {
            utilization: a.utilization,
            max: sw.max_utilization,
        });
    }
    if let Some(q) = a.recent_quality {
        if q < sw.min_quality {
            return Some(Reason::DataQuality {
                score: q,
                min: sw.min_quality,
            });
        }
    }
    if let Some(p) = a.performance {
        if p < sw.min_performance && a.confidence >= Bps::percent(50) {
            return Some(Reason::Performance {
                score: p,
                min: sw.min_performance,
            });
        }
    }
    if let Some((what, starts_in_ms)) = &a.declared {
        return Some(Reason::StatusPage {
            what: what.clone(),
            starts_in_s: starts_in_ms.map(|ms| ms / 1000),
        });
    }
    if let (Some(rate), n) = a.error_rate {
        // At least 40 probes and 5 errors: with 20 probes, two unlucky
        // ones already read as 10 %, and rare noise must not move traffic.
        if n >= 40 && a.errors >= 5 && rate > sw.max_error_rate {
            return Some(Reason::ErrorRate {
                rate,
                max: sw.max_error_rate,
            });
        }
    }
    None
}

/// Margin (basis points) a candidate must clear beyond a threshold.
const MARGIN: u32 = 500;

/// Whether `c` may take over from `active` for `reason`.
pub fn eligible(c: &View, active: Option<&View>, reason: &Reason, sw: &Switching) -> bool {
    let healthy_now = c.last_healthy && c.consecutive_failures == 0 && c.consecutive_bad.0 == 0;
    let usable = matches!(c.lifecycle, Lifecycle::Standby | Lifecycle::Active)
        && c.trust > TrustLevel::Untrusted
        && c.step < Step::Stop
        && !c.suppressed
        && !c.canary_blocked
        && healthy_now
        && active.is_none_or(|a| a.id != c.id);
    if !usable {
        return false;
    }
    // A candidate that would itself be switched away from is no cure. When
    // the active provider is broken (a critical trigger), a merely
    // degraded candidate still beats it; otherwise it must be clean.
    if let Some(own) = trigger(c, sw) {
        if reason.urgency() < Urgency::Critical || own.urgency() == Urgency::Critical {
            return false;
        }
    }
    let plus = |b: Bps| Bps::new(u32::from(b.get()) + MARGIN);
    match reason {
        Reason::Latency { recent_ms, .. } => c.recent_latency_ms.saturating_mul(2) <= *recent_ms,
        Reason::Utilization { .. }
        | Reason::BudgetExhausted { .. }
        | Reason::BudgetPressure { .. } => {
            c.utilization <= Bps::new(u32::from(sw.max_utilization.get()).saturating_sub(MARGIN))
        }
        Reason::DataQuality { .. } => c.recent_quality.is_none_or(|q| q >= plus(sw.min_quality)),
        Reason::Performance { .. } => c.performance.is_none_or(|p| p >= plus(sw.min_performance)),
        Reason::ErrorRate { .. } => c
            .error_rate
            .0
            .is_none_or(|r| u32::from(r.get()) * 2 <= u32::from(sw.max_error_rate.get())),
        Reason::BetterAlternative { .. } => c.confidence >= Bps::percent(50),
        Reason::Untrusted { total } => c.total > *total,
        // Never a trigger here (a peer's decision is adopted directly).
        Reason::Reconciled { .. } => false,
        // A candidate with its own declaration is turned away above (its
        // own trigger fires).
        Reason::Initial
        | Reason::Failed { .. }
        | Reason::Throttled { .. }
        | Reason::BadData { .. }
        | Reason::StatusPage { .. } => true,
    }
}

/// Whether `c` may take over as a **last resort** when the active provider
/// is dead (or there is none) and no regular candidate is eligible: a
/// provider still recovering from its own outage (or marked failed, but
/// answering again) whose latest probes are healthy. A working provider
/// always beats a dead one; the canary still checks it first, and flap
/// damping and trust, which only order healthy choices, do not bar it.
pub fn last_resort(c: &View, active: Option<&View>, reason: &Reason) -> bool {
    let dead_route = matches!(
        reason,
        Reason::Initial | Reason::Failed { .. } | Reason::Throttled { .. }
    );
    dead_route
        && matches!(c.lifecycle, Lifecycle::Recovering | Lifecycle::Failed)
        && c.last_healthy
        && c.consecutive_successes >= 1
        && c.consecutive_failures == 0
        && c.consecutive_bad.0 == 0
        && c.step < Step::Stop
        && !c.canary_blocked
        && active.is_none_or(|a| a.id != c.id)
}

/// Orders candidates best first: those that fire no trigger of their own
/// first; with `prefer_free`, those with free-tier headroom next; then by
/// total, confidence, and id for determinism.
pub fn rank<'a>(mut candidates: Vec<&'a View>, prefer_free: bool, sw: &Switching) -> Vec<&'a View> {
    candidates.sort_by(|a, b| {
        let free = |v: &View| prefer_free && v.free_headroom > Bps::ZERO;
        let clean = |v: &View| trigger(v, sw).is_none();
        clean(b)
            .cmp(&clean(a))
            .then(free(b).cmp(&free(a)))
            .then(b.total.cmp(&a.total))
            .then(b.confidence.cmp(&a.confidence))
            .then(a.id.cmp(&b.id))
    });
    candidates
}

/// The "clearly better alternative" trigger: the best eligible candidate's
/// total is at least `better_by` above the active one's.
pub fn better_alternative(active: &View, candidates: &[View], sw: &Switching) -> Option<Reason> {
    let probe = Reason::BetterAlternative {
        current: active.total,
        candidate: Bps::ZERO,
    };
    let best = rank(
        candidates
            .iter()
            .filter(|c| eligible(c, Some(active), &probe, sw))
            .collect(),
        false,
        sw,
    )
    .into_iter()
    .next()?;
    let lhs = u64::from(best.total.get()) * 10_000;
    let rhs = u64::from(active.total.get()) * (10_000 + u64::from(sw.better_by.get()));
    (lhs >= rhs && best.total > active.total).then_some(Reason::BetterAlternative {
        current: active.total,
        candidate: best.total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn view(id: &str, total: u32) -> View {
        View {
            id: ProviderId::new(id).unwrap(),
            lifecycle: Lifecycle::Standby,
            trust: TrustLevel::Trusted,
            total: Bps::new(total),
            confidence: Bps::MAX,
            recent_quality: Some(Bps::MAX),
            performance: Some(Bps::MAX),
            consecutive_failures: 0,
            consecutive_bad: (0, None),
            down_for_ms: None,
            error_rate: (Some(Bps::ZERO), 100),
            errors: 0,
            recent_latency_ms: 50,
            window_latency_ms: Some(50),
            baseline: (Some(50), 100),
            target_ms: 200,
            utilization: Bps::ZERO,
            step: Step::Normal,
            free_headroom: Bps::MAX,
            suppressed: false,
            canary_blocked: false,
            last_healthy: true,
            consecutive_successes: 10,
            streak_cause: None,
            retry_after_s: None,
            declared: None,
        }
    }

    #[test]
    fn triggers_in_order_of_urgency() {
        let sw = Switching::default();
        let mut a = view("a", 9000);
        assert_eq!(trigger(&a, &sw), None);
        a.error_rate = (Some(Bps::percent(6)), 40);
        a.errors = 3;
        assert_eq!(trigger(&a, &sw), None, "too few errors to tell");
        a.errors = 6;
        assert_eq!(trigger(&a, &sw).map(|r| r.name()), Some("error-rate"));
        a.recent_latency_ms = 1000;
        assert_eq!(
            trigger(&a, &sw).map(|r| r.name()),
            Some("error-rate"),
            "the EWMA alone never switches: the window's median does"
        );
        a.window_latency_ms = Some(300);
        assert_eq!(
            trigger(&a, &sw).map(|r| r.name()),
            Some("error-rate"),
            "300 ms is 6x the 50 ms baseline, but the baseline is floored at half the 200 ms target"
        );
        a.window_latency_ms = Some(501);
        assert_eq!(
            trigger(&a, &sw).map(|r| r.name()),
            Some("latency"),
            "501 ms > 5 x max(50, 100) ms and > the 200 ms target"
        );
        a.baseline = (Some(1), 100);
        a.window_latency_ms = Some(300);
        assert_eq!(
            trigger(&a, &sw).map(|r| r.name()),
            Some("error-rate"),
            "a 1 ms loopback baseline does not make 300 ms a latency problem"
        );
        a.window_latency_ms = Some(1000);
        assert_eq!(trigger(&a, &sw).map(|r| r.name()), Some("latency"));
        a.consecutive_failures = 2;
        a.down_for_ms = Some(20_000);
        assert_eq!(trigger(&a, &sw).map(|r| r.name()), Some("latency"));
        a.down_for_ms = Some(31_000);
        assert_eq!(trigger(&a, &sw).map(|r| r.name()), Some("failed"));
    }

    #[test]
    fn candidates_must_not_be_worse_on_the_trigger() {
        let sw = Switching::default();
        let mut c = view("c", 9000);
        c.recent_quality = Some(Bps::percent(72));
        let r = Reason::DataQuality {
            score: Bps::percent(60),
            min: sw.min_quality,
        };
        assert!(
            !eligible(&c, None, &r, &sw),
            "72 is above 70 but inside the margin"
        );
        c.recent_quality = Some(Bps::percent(80));
        assert!(eligible(&c, None, &r, &sw));
        c.trust = TrustLevel::Untrusted;
        assert!(!eligible(
            &c,
            None,
            &Reason::Failed {
                consecutive_failures: 3,
                down_for_ms: 0,
                cause: None,
            },
            &sw
        ));
    }

    #[test]
    fn a_candidate_that_would_be_switched_away_from_is_no_cure() {
        let sw = Switching::default();
        let mut slow = view("slow", 9500);
        slow.recent_latency_ms = 2_000; // 40x its baseline, over the target
        slow.window_latency_ms = Some(2_000);
        let clean = view("clean", 9000);
        let degraded = Reason::ErrorRate {
            rate: Bps::percent(9),
            max: sw.max_error_rate,
        };
        assert!(
            !eligible(&slow, None, &degraded, &sw),
            "a degraded candidate does not cure a degraded provider"
        );
        let failed = Reason::Failed {
            consecutive_failures: 3,
            down_for_ms: 0,
            cause: Some(Outcome::Timeout),
        };
        assert!(eligible(&slow, None, &failed, &sw), "but beats a dead one");
        let ranked = rank(vec![&slow, &clean], false, &sw);
        assert_eq!(
            ranked[0].id.as_str(),
            "clean",
            "clean candidates first, whatever their total"
        );
    }

    #[test]
    fn better_alternative_needs_twenty_percent() {
        let sw = Switching::default();
        let a = view("a", 7000);
        assert!(better_alternative(&a, &[view("b", 8399)], &sw).is_none());
        assert!(better_alternative(&a, &[view("b", 8400)], &sw).is_some());
        let mut unsure = view("b", 9900);
        unsure.confidence = Bps::percent(10);
        assert!(better_alternative(&a, &[unsure], &sw).is_none());
    }

    #[test]
    fn ranking_prefers_free_headroom_when_asked() {
        let mut paid = view("paid", 9500);
        paid.free_headroom = Bps::ZERO;
        let free = view("free", 9000);
        let r = rank(vec![&paid, &free], true, &Switching::default());
        assert_eq!(r[0].id.as_str(), "free");
        let r = rank(vec![&paid, &free], false, &Switching::default());
        assert_eq!(r[0].id.as_str(), "paid");
    }
}
