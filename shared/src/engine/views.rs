//! Derived views of a provider: its reputation, budget status and the
//! summary the switcher and the API read. Computed on demand from state,
//! never stored twice.

use super::Engine;
use crate::books::{self, QuotaStatus, Step};
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::quality::QualityTally;
use crate::reputation::{self, Reputation};
use crate::state::ProviderState;
use crate::switcher::View;
use crate::time::{UnixMillis, DAY, HOUR};
use crate::{Bps, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};

/// Everything the API and dashboard show about a provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderSummary {
    /// Id.
    pub id: ProviderId,
    /// Display name.
    pub name: String,
    /// Service.
    pub service: ServiceId,
    /// Kind.
    pub kind: crate::Kind,
    /// Endpoint.
    pub endpoint: String,
    /// Whether its service routes to it.
    pub routed: bool,
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Since.
    pub lifecycle_since: UnixMillis,
    /// Trust level.
    pub trust: TrustLevel,
    /// Reputation with its components.
    pub reputation: Reputation,
    /// Budget ladder step.
    pub step: Step,
    /// Quotas and budget.
    pub budget: Vec<QuotaStatus>,
    /// Month-to-date cost, nano-USD.
    pub cost_month_nano: u64,
    /// Consecutive failed probes.
    pub consecutive_failures: u32,
    /// The last probe.
    pub last: Option<crate::state::LastProbe>,
    /// What is wrong now, in words ([`crate::words::problem`]).
    pub problem: Option<String>,
}

impl Engine {
    fn quality_over(&self, ps: &ProviderState, now: UnixMillis, hours: u32) -> Option<Bps> {
        let mut t = QualityTally::default();
        for (_, b) in ps.quality.iter_aged(now, HOUR, hours) {
            t.merge(b);
        }
        t.score(&self.config.policy.quality_weights)
    }

    /// The cost component for every provider of a service: each provider's
    /// marginal price per 1,000 requests against the cheapest one's.
    fn cost_scores(&self, service: &ServiceId, now: UnixMillis) -> Vec<(ProviderId, Bps)> {
        let Some(svc) = self.registry.service(service.as_str()) else {
            return Vec::new();
        };
        let prices: Vec<(ProviderId, u64, Bps)> = svc
            .providers
            .iter()
            .filter_map(|id| {
                let rt = self.registry.provider(id.as_str())?;
                let ps = self.state.providers.get(id)?;
                let per_1k = books::marginal_cost_per_request_nano(&rt.rates, &ps.ledger, now)
                    .saturating_mul(1000);
                Some((
                    id.clone(),
                    per_1k,
                    books::free_headroom(&rt.rates, &ps.ledger),
                ))
            })
            .collect();
        let cheapest = prices.iter().map(|(_, p, _)| *p).min().unwrap_or(0);
        prices
            .into_iter()
            .map(|(id, own, head)| (id, books::cost_score(own, cheapest, head)))
            .collect()
    }

    /// A provider's reputation now.
    pub fn reputation(&self, id: &ProviderId, now: UnixMillis) -> Option<Reputation> {
        let rt = self.registry.provider(id.as_str())?;
        let costs = self.cost_scores(&rt.service, now);
        self.reputation_with(id, now, &costs)
    }

    /// The reputation of every provider in `ids` now: the cost scores of
    /// each service are computed once, not once per provider (each is a
    /// pass over the service's books).
    pub(crate) fn reputations(
        &self,
        ids: &[ProviderId],
        now: UnixMillis,
    ) -> Vec<(ProviderId, Reputation)> {
        let mut costs: std::collections::BTreeMap<&ServiceId, Vec<(ProviderId, Bps)>> =
            std::collections::BTreeMap::new();
        ids.iter()
            .filter_map(|id| {
                let rt = self.registry.provider(id.as_str())?;
                let c = costs
                    .entry(&rt.service)
                    .or_insert_with(|| self.cost_scores(&rt.service, now));
                Some((id.clone(), self.reputation_with(id, now, c)?))
            })
            .collect()
    }

    fn reputation_with(
        &self,
        id: &ProviderId,
        now: UnixMillis,
        costs: &[(ProviderId, Bps)],
    ) -> Option<Reputation> {
        let rt = self.registry.provider(id.as_str())?;
        let ps = self.state.providers.get(id)?;
        let svc = self.registry.service(&rt.service)?;
        let cost = costs
            .iter()
            .find(|(p, _)| p == id)
            .map_or(Bps::MAX, |(_, c)| *c);
        let daily: Vec<_> = ps
            .daily
            .iter_aged(now, DAY, 30)
            .map(|(age, c)| (age, *c))
            .collect();
        let samples = daily.iter().map(|(_, c)| c.total()).sum();
        let mut rel = crate::state::ReliabilityCounts::default();
        for (_, b) in ps.reliability.iter_aged(now, DAY, 30) {
            rel.retries_ok += b.retries_ok;
            rel.retries += b.retries;
            rel.data_loss += b.data_loss;
            rel.security += b.security;
        }
        let latency = match (
            ps.latency.quantile(5000),
            ps.latency.quantile(9500),
            ps.latency.quantile(9900),
        ) {
            (Some(a), Some(b), Some(c)) => Some([a, b, c]),
            _ => None,
        };
        let inputs = reputation::Inputs {
            daily,
            last_24h: ps.hourly.sum(now, HOUR, 24),
            latency,
            target_ms: svc.config.latency_target().as_ms(),
            quality: self.quality_over(ps, now, 24),
            cost,
            retries: (u64::from(rel.retries_ok), u64::from(rel.retries)),
            incidents: (rel.data_loss, rel.security),
            declared: self.declared(id, now).map_or(0, |d| d.penalty()),
            samples,
            prior: rt.prior,
        };
        Some(reputation::score(&inputs, &self.config.policy))
    }

    /// Quotas and budget of a provider now.
    pub fn budget_status(&self, id: &ProviderId, now: UnixMillis) -> Vec<QuotaStatus> {
        let (Some(rt), Some(ps)) = (
            self.registry.provider(id.as_str()),
            self.state.providers.get(id),
        ) else {
            return Vec::new();
        };
        books::status(&ps.ledger, now, &rt.config.limits, &rt.rates)
    }

    /// The sentinel's own footprint now.
    pub fn footprint_status(&self, now: UnixMillis) -> Vec<QuotaStatus> {
        books::status(
            &self.state.footprint,
            now,
            &self.config.sentinel.footprint,
            &books::Rates::default(),
        )
    }

    /// What the switcher sees of a provider.
    pub(crate) fn view(&self, id: &ProviderId, now: UnixMillis, rep: &Reputation) -> Option<View> {
        let rt = self.registry.provider(id.as_str())?;
        let ps = self.state.providers.get(id)?;
        let svc = self.registry.service(&rt.service)?;
        // Error rate over the last (up to) 64 probes.
        let probes = u64::from(ps.recent_probes);
        let mask = if probes >= 64 {
            u64::MAX
        } else {
            (1u64 << probes) - 1
        };
        let errors = u64::from((ps.recent_failures & mask).count_ones());
        // A failure the peers' quorum holds back does not count against
        // the provider here (see `crate::peer`).
        let held = self.held(id);
        let errors = if held { 0 } else { errors };
        let statuses = books::status(&ps.ledger, now, &rt.config.limits, &rt.rates);
        let utilization = statuses
            .iter()
            .map(|s| s.utilization)
            .max()
            .unwrap_or(Bps::ZERO);
        Some(View {
            id: id.clone(),
            lifecycle: ps.lifecycle,
            trust: ps.trust,
            total: rep.total,
            confidence: rep.confidence,
            recent_quality: self.quality_over(ps, now, 2),
            performance: rep.performance.score,
            consecutive_failures: if held { 0 } else { ps.consecutive_failures },
            consecutive_bad: (ps.consecutive_bad, ps.bad_check.clone()),
            down_for_ms: ps
                .down_since
                .filter(|_| !held)
                .map(|d| now.saturating_sub(d)),
            error_rate: (Bps::ratio(errors, probes), probes),
            errors,
            recent_latency_ms: u64::from(ps.recent_latency_ms),
            window_latency_ms: self.state.recent_latency.get(id).and_then(|r| {
                let interval = svc.config.probe_interval.as_ms();
                r.median_within(now, interval.saturating_mul(3).max(60_000))
                    .map(|(m, _)| m)
            }),
            baseline: (ps.latency.quantile(5000), ps.latency.count()),
            target_ms: svc.config.latency_target().as_ms(),
            utilization,
            step: ps.step,
            free_headroom: books::free_headroom(&rt.rates, &ps.ledger),
            suppressed: ps.flap.suppressed,
            canary_blocked: ps.canary_block_until > now,
            last_healthy: ps.last.as_ref().is_some_and(|l| l.healthy),
            consecutive_successes: ps.consecutive_successes,
            streak_cause: ps.streak_cause,
            retry_after_s: ps
                .last
                .as_ref()
                .and_then(|l| crate::probe::retry_after_of(l.detail.as_deref())),
            declared: self.declared(id, now).and_then(|d| {
                use crate::statuspage::Impact;
                if let Some((m, in_ms)) = d.maintenance_near(now) {
                    let when = if in_ms == 0 {
                        "under way".to_string()
                    } else {
                        format!("starting in {}", crate::words::duration(in_ms))
                    };
                    return Some((format!("maintenance \"{}\" {when}", m.name), Some(in_ms)));
                }
                d.incidents
                    .iter()
                    .find(|i| matches!(i.impact, Impact::Major | Impact::Critical))
                    .map(|i| {
                        (
                            format!("{} incident \"{}\" ({})", i.impact.name(), i.name, i.status),
                            None,
                        )
                    })
            }),
        })
    }

    /// The summary the API and dashboard show.
    pub fn summary(&self, id: &ProviderId, now: UnixMillis) -> Option<ProviderSummary> {
        let rt = self.registry.provider(id.as_str())?;
        let ps = self.state.providers.get(id)?;
        let svc = self.registry.service(&rt.service)?;
        Some(ProviderSummary {
            id: id.clone(),
            name: if rt.config.name.is_empty() {
                id.to_string()
            } else {
                rt.config.name.clone()
            },
            service: rt.service.clone(),
            kind: svc.config.kind,
            endpoint: rt.config.endpoint.clone(),
            routed: self
                .state
                .services
                .get(&rt.service)
                .is_some_and(|s| s.active.as_ref() == Some(id)),
            lifecycle: ps.lifecycle,
            lifecycle_since: ps.lifecycle_since,
            trust: ps.trust,
            reputation: self.reputation(id, now)?,
            step: ps.step,
            budget: self.budget_status(id, now),
            cost_month_nano: ps.ledger.cost_nano,
            consecutive_failures: ps.consecutive_failures,
            last: ps.last.clone(),
            problem: crate::words::problem(ps),
        })
    }
}
