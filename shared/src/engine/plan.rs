//! Planning: which probes are due, within the per-tick probe budget.
//!
//! A tick probes at most [`Engine::probe_budget`] providers: the shell's
//! capability (a free-plan Cloudflare Worker may make about 50
//! subrequests per invocation; the local binary a few hundred at once),
//! capped by the operator's `probe_budget_per_tick`. A tenth of the
//! budget (at least one) is held back for the canary probes a decision may ask for. Due probes are ordered by
//! priority: the providers services are routed to first, then those
//! failing (a confirmation of an outage matters more than a routine check),
//! then the most overdue; ties by id. What does not fit stays due and is
//! more overdue at the next tick, so nothing starves. A provider whose
//! request quota is used up is not probed until its period rolls over.

use super::Engine;
use crate::lifecycle::Lifecycle;
use crate::probe::{ProbeRequest, Purpose};
use crate::time::UnixMillis;
use crate::ProviderId;

/// The probes of one tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Probes to send now.
    pub probes: Vec<ProbeRequest>,
    /// Probes that were due but did not fit the budget.
    pub deferred: u32,
}

impl Engine {
    /// The probes due at `now`, within the budget.
    pub fn plan(&self, now: UnixMillis) -> Plan {
        // Each peer costs two requests a tick (its health and its
        // observations), taken from the same budget.
        let budget = (self.probe_budget() as usize)
            .saturating_sub(2 * self.config.peers.len())
            .max(1);
        let reserve = if budget > 1 { (budget / 10).max(1) } else { 0 };
        let mut due: Vec<(u8, u8, std::cmp::Reverse<u64>, &ProviderId)> = Vec::new();
        for (id, ps) in &self.state.providers {
            if ps.next_due > now {
                continue;
            }
            // A probe is a request the provider counts: none once a
            // request quota is used up (the 100 % stop holds for probes
            // too); they resume when its period rolls over.
            if ps.step >= crate::books::Step::Stop
                && crate::proxy::gate::request_budget(self, id, now).is_some_and(|b| b.left == 0)
            {
                continue;
            }
            let routed = self
                .state
                .services
                .get(&ps.service)
                .is_some_and(|s| s.active.as_ref() == Some(id));
            let failing = ps.consecutive_failures > 0 || ps.consecutive_bad > 0;
            let lifecycle_rank = match ps.lifecycle {
                Lifecycle::Failed => 1,
                _ => 0,
            };
            due.push((
                u8::from(!routed),
                u8::from(!failing) + lifecycle_rank,
                std::cmp::Reverse(now - ps.next_due),
                id,
            ));
        }
        due.sort();
        let take = budget.saturating_sub(reserve);
        let deferred = due.len().saturating_sub(take) as u32;
        let probes = due
            .into_iter()
            .take(take)
            .filter_map(|(_, _, _, id)| self.probe_request(id, Purpose::Scheduled))
            .collect();
        Plan { probes, deferred }
    }

    /// The request that probes `id`.
    pub fn probe_request(&self, id: &ProviderId, purpose: Purpose) -> Option<ProbeRequest> {
        let rt = self.registry.provider(id.as_str())?;
        let mut headers: Vec<(String, String)> = rt
            .probe
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if rt.body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        // Which sentinel asks: lets a provider (and the tests' fault
        // injection) tell the vantages apart.
        headers.push((
            crate::peer::VANTAGE_HEADER.into(),
            self.config.sentinel.id.to_string(),
        ));
        Some(ProbeRequest {
            provider: id.clone(),
            service: rt.service.clone(),
            purpose,
            method: rt.probe.method,
            url: rt.url.clone(),
            headers,
            secret_headers: rt
                .config
                .secret_headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body: rt.body.clone(),
            timeout_ms: rt.probe.timeout.as_ms(),
            max_bytes: rt.probe.max_bytes,
            allow_private: self.config.sentinel.allow_private_targets,
        })
    }

    /// Turns what the shell got back for `req` into an observation (the
    /// provider's checks and accepted statuses applied). `None` when the
    /// provider is unknown (removed while the probe was in flight).
    pub fn observe(
        &self,
        req: &ProbeRequest,
        at: UnixMillis,
        result: crate::probe::ProbeResult,
    ) -> Option<crate::probe::Observation> {
        let rt = self.registry.provider(&req.provider)?;
        Some(crate::probe::observe(
            req,
            &rt.checks,
            &rt.probe.expect_status,
            at,
            result,
        ))
    }

    /// When the engine next needs a tick: the earliest due probe, pending
    /// canary deadline, end of a testing or recovery period, or flap
    /// suppression end, but never later than `max_tick_gap` after `now`.
    pub fn next_wakeup(&self, now: UnixMillis) -> UnixMillis {
        let cap = now.saturating_add(self.config.sentinel.max_tick_gap.as_ms());
        let policy = &self.config.policy;
        let mut t = cap;
        for ps in self.state.providers.values() {
            t = t.min(ps.next_due);
            match ps.lifecycle {
                Lifecycle::Testing => {
                    t = t.min(
                        ps.lifecycle_since
                            .saturating_add(policy.lifecycle.testing_period.as_ms()),
                    )
                }
                Lifecycle::Recovering => {
                    t = t.min(
                        ps.lifecycle_since
                            .saturating_add(policy.lifecycle.recovery_period.as_ms()),
                    )
                }
                Lifecycle::Discovered => t = now,
                _ => {}
            }
            if let Some(r) = ps.flap.reuse_at(&policy.switching) {
                t = t.min(r);
            }
        }
        for s in self.state.services.values() {
            if let Some(p) = &s.pending {
                t = t.min(p.deadline);
            }
        }
        t.max(now)
    }
}
