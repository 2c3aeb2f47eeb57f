//! Who may serve a service's requests right now, in which order, and how
//! healthy that makes the route — decided once here, for the proxy's
//! failover loop and for `GET /v1/services/{service}/route`.
//!
//! Every provider of the service falls in one tier, tried in this order:
//!
//! 1. **primary** — the active provider, unless it is known dead or serves
//!    bad data;
//! 2. **fallback** — standby or active providers, trusted, not stopped by
//!    their budget, whose latest probe answered with good data (best total
//!    first);
//! 3. **last resort** — providers answering again after an outage
//!    (recovering, or failed but with healthy probes since) and untrusted
//!    ones that answer well: a working provider always beats a dead one;
//! 4. **degraded data** — with `degraded = "serve"` only, providers whose
//!    latest answer was stale, lagging or inconsistent; their answers
//!    carry an `x-sentinel-degraded` header;
//! 5. **dead** — the active provider when its probes are failing: tried
//!    last, because it may still answer a request or two.
//!
//! Never served: wrong data (another chain id, a failed business rule or
//! schema), a provider whose budget reached its stop step, one in testing.
//!
//! The route is **ok** when the primary leads, **degraded** when traffic
//! goes to anything else (with why), and **down** when nothing can serve.

use crate::books::Step;
use crate::config::Degraded;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::quality::FailReason;
use crate::state::ProviderState;
use crate::{Engine, ProviderId};
use serde::{Deserialize, Serialize};

/// A provider's place in the order of attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// The active provider, healthy or merely suspect.
    Primary,
    /// A healthy standby.
    Fallback,
    /// Answering again after an outage, or untrusted but answering.
    LastResort,
    /// Up, but its latest data was stale, lagging or inconsistent.
    DegradedData,
    /// The active provider, failing its probes.
    Dead,
}

/// One provider to try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Provider.
    pub provider: ProviderId,
    /// Its tier.
    pub tier: Tier,
    /// For degraded data: what is wrong with it.
    pub degraded: Option<FailReason>,
}

/// How well a service can be served now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The active provider leads and is healthy.
    Ok,
    /// Traffic goes elsewhere first, or the leader is suspect.
    Degraded,
    /// No provider can serve.
    Down,
}

/// The order of attempts for a service and its health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Providers to try, in order.
    pub candidates: Vec<Candidate>,
    /// The route's health.
    pub health: Health,
    /// Why, in words.
    pub why: String,
    /// Providers left out only because a quota or budget reached its stop
    /// step: when nothing else is left, the route is *limited*, not down.
    pub stopped: Vec<ProviderId>,
}

/// Data failures that may still be served as a last resort (the data is
/// right but old, or the vote could not confirm it); everything else is
/// wrong data.
pub fn servable_when_degraded(r: FailReason) -> bool {
    matches!(
        r,
        FailReason::Stale | FailReason::Lagging | FailReason::Inconsistent
    )
}

fn data_problem(ps: &ProviderState) -> Option<FailReason> {
    if ps.consecutive_bad == 0 {
        return None;
    }
    Some(ps.bad_reason.unwrap_or(FailReason::Inconsistent))
}

enum Class {
    Tier(Tier, Option<FailReason>),
    Never,
}

fn classify(ps: &ProviderState, active: bool, policy: Degraded) -> Class {
    if ps.step >= Step::Stop || matches!(ps.lifecycle, Lifecycle::Discovered | Lifecycle::Testing) {
        return Class::Never;
    }
    if let Some(r) = data_problem(ps) {
        return if servable_when_degraded(r)
            && policy == Degraded::Serve
            && ps.consecutive_failures == 0
        {
            Class::Tier(Tier::DegradedData, Some(r))
        } else {
            Class::Never
        };
    }
    let answering = ps.consecutive_failures == 0 && ps.last.as_ref().is_some_and(|l| l.healthy);
    if active {
        return if ps.lifecycle == Lifecycle::Failed && ps.consecutive_failures > 0 {
            Class::Tier(Tier::Dead, None)
        } else if ps.lifecycle == Lifecycle::Failed || ps.lifecycle == Lifecycle::Recovering {
            Class::Tier(Tier::LastResort, None)
        } else {
            Class::Tier(Tier::Primary, None)
        };
    }
    match ps.lifecycle {
        Lifecycle::Active | Lifecycle::Standby if ps.consecutive_failures == 0 => {
            if ps.trust > TrustLevel::Untrusted {
                Class::Tier(Tier::Fallback, None)
            } else {
                Class::Tier(Tier::LastResort, None)
            }
        }
        Lifecycle::Recovering | Lifecycle::Failed if answering && ps.consecutive_successes > 0 => {
            Class::Tier(Tier::LastResort, None)
        }
        _ => Class::Never,
    }
}

/// The plan for `service`; `None` if the service is unknown.
pub fn plan(engine: &Engine, service: &str) -> Option<Plan> {
    let svc = engine.registry().service(service)?;
    let st = engine.state();
    let active = st.services.get(service).and_then(|s| s.active.clone());
    let mut stopped = Vec::new();
    let mut ranked: Vec<(Tier, std::cmp::Reverse<u16>, ProviderId, Option<FailReason>)> = svc
        .providers
        .iter()
        .filter_map(|id| {
            let ps = st.providers.get(id)?;
            let is_active = active.as_ref() == Some(id);
            match classify(ps, is_active, svc.config.degraded) {
                Class::Never => {
                    let mut unstopped = ps.clone();
                    unstopped.step = Step::Normal;
                    if ps.step >= Step::Stop
                        && !matches!(
                            classify(&unstopped, is_active, svc.config.degraded),
                            Class::Never
                        )
                    {
                        stopped.push(id.clone());
                    }
                    None
                }
                Class::Tier(t, r) => {
                    let total = ps.card.map_or(0, |c| c.total.get());
                    Some((t, std::cmp::Reverse(total), id.clone(), r))
                }
            }
        })
        .collect();
    ranked.sort();
    let candidates: Vec<Candidate> = ranked
        .into_iter()
        .map(|(tier, _, provider, degraded)| Candidate {
            provider,
            tier,
            degraded,
        })
        .collect();
    let (health, why) = match candidates.first() {
        None if !stopped.is_empty() => (
            Health::Down,
            format!(
                "no provider can serve: {} reached the stop step of a quota or budget, the others cannot serve",
                stopped.iter().map(ProviderId::as_str).collect::<Vec<_>>().join(", ")
            ),
        ),
        None => (
            Health::Down,
            "no provider can serve: every one is down, serves wrong data, is out of budget or still in testing".to_string(),
        ),
        Some(c) => match c.tier {
            Tier::Primary => {
                let suspect = st
                    .providers
                    .get(&c.provider)
                    .is_some_and(|ps| ps.consecutive_failures > 0);
                if suspect {
                    (
                        Health::Degraded,
                        format!("{} failed its latest probe", c.provider),
                    )
                } else {
                    (Health::Ok, format!("{} is healthy", c.provider))
                }
            }
            Tier::Fallback => (
                Health::Degraded,
                format!(
                    "the active provider cannot serve; requests go to {} first",
                    c.provider
                ),
            ),
            Tier::LastResort => (
                Health::Degraded,
                format!("only {} answers, and it is still recovering", c.provider),
            ),
            Tier::DegradedData => (
                Health::Degraded,
                format!(
                    "only degraded data is left: {} ({})",
                    c.provider,
                    c.degraded.map_or("degraded", FailReason::as_str)
                ),
            ),
            Tier::Dead => (
                Health::Down,
                format!("{} is down and no other provider can serve", c.provider),
            ),
        },
    };
    Some(Plan {
        candidates,
        health,
        why,
        stopped,
    })
}
