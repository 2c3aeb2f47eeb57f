//! Peers in the engine: their checks and observations in, the quorum's
//! verdicts and the route reconciliation out (see [`crate::peer`]).

use super::Engine;
use crate::action::{Action, Decision};
use crate::books::Metric;
use crate::lifecycle::Lifecycle;
use crate::peer::exchange::Published;
use crate::peer::quorum::{self, Case, Verdict, Votes};
use crate::peer::{PeerRoute, PeerState};
use crate::state::Severity;
use crate::switcher::Reason;
use crate::time::UnixMillis;
use crate::{ProviderId, SentinelId, ServiceId};
use std::collections::BTreeMap;

/// One vantage's view of a provider, for the API and the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vantage {
    /// The sentinel.
    pub sentinel: SentinelId,
    /// Whether it is this one.
    pub own: bool,
    /// Whether it can be heard (always, for this one).
    pub reachable: bool,
    /// What it saw last: `Some(true)` up, `Some(false)` down, `None`
    /// nothing yet.
    pub up: Option<bool>,
    /// When.
    pub at: Option<UnixMillis>,
    /// How it failed.
    pub cause: Option<String>,
}

impl Engine {
    fn peer_entry(&mut self, peer: &SentinelId) -> Option<&mut PeerState> {
        if !self.config.peers.iter().any(|p| &p.id == peer) {
            return None;
        }
        Some(self.state.peering.peers.entry(peer.clone()).or_default())
    }

    fn book_peer_request(&mut self, now: UnixMillis) {
        self.state.footprint.record(
            now,
            &self.config.sentinel.footprint,
            &crate::books::Rates::default(),
            Metric::Requests,
            1,
        );
    }

    /// Records a health check of `peer` (see
    /// [`crate::peer::exchange::health_result`]); booked as a request of
    /// the sentinel's own.
    pub fn note_peer_check(
        &mut self,
        peer: &SentinelId,
        at: UnixMillis,
        result: Result<u32, String>,
    ) {
        self.book_peer_request(at);
        if let Some(p) = self.peer_entry(peer) {
            p.checked(at, result);
        }
    }

    /// Applies what `peer` published; returns how many observations were
    /// new.
    pub fn absorb_peer(&mut self, peer: &SentinelId, at: UnixMillis, published: &Published) -> u64 {
        self.book_peer_request(at);
        let registry = self.registry.clone();
        let known_p = |id: &ProviderId| registry.provider(id.as_str()).is_some();
        let known_s = |id: &ServiceId| registry.service(id.as_str()).is_some();
        match self.peer_entry(peer) {
            Some(p) => p.absorb(
                at,
                &published.observations,
                &published.routes,
                known_p,
                known_s,
            ),
            None => 0,
        }
    }

    /// Records a failed read of `peer`'s observations.
    pub fn note_peer_read_error(&mut self, peer: &SentinelId, at: UnixMillis, why: String) {
        self.book_peer_request(at);
        if let Some(p) = self.peer_entry(peer) {
            p.read_error = Some(why);
        }
    }

    /// This sentinel's routes, as it publishes them to its peers.
    pub fn published_routes(&self) -> BTreeMap<ServiceId, PeerRoute> {
        self.state
            .services
            .iter()
            .filter_map(|(id, s)| {
                s.active.as_ref().map(|a| {
                    (
                        id.clone(),
                        PeerRoute {
                            active: a.clone(),
                            since: s.since,
                        },
                    )
                })
            })
            .collect()
    }

    /// The quorum's verdict on `id` at the last decision.
    pub fn verdict(&self, id: &ProviderId) -> Verdict {
        self.state
            .peering
            .verdicts
            .get(id)
            .copied()
            .unwrap_or(Verdict::Healthy)
    }

    /// Whether the quorum holds back a failure of `id`.
    pub(crate) fn held(&self, id: &ProviderId) -> bool {
        self.verdict(id).holds()
    }

    /// Every vantage's view of `id`: this sentinel first, then its peers.
    pub fn vantages(&self, id: &ProviderId) -> Vec<Vantage> {
        let mut out = Vec::new();
        if let Some(ps) = self.state.providers.get(id) {
            out.push(Vantage {
                sentinel: self.config.sentinel.id.clone(),
                own: true,
                reachable: true,
                up: ps.last.as_ref().map(|l| l.outcome.is_up()),
                at: ps.last.as_ref().map(|l| l.at),
                cause: ps
                    .last
                    .as_ref()
                    .filter(|l| !l.outcome.is_up())
                    .map(|l| l.outcome.name()),
            });
        }
        let after = self.config.quorum.peer_down_after;
        for cfg in &self.config.peers {
            let p = self.state.peering.peers.get(&cfg.id);
            let view = p.and_then(|p| p.views.get(id));
            out.push(Vantage {
                sentinel: cfg.id.clone(),
                own: false,
                reachable: p.is_some_and(|p| !p.is_down(after) && p.last_read.is_some()),
                up: view.map(|v| v.up),
                at: view.map(|v| v.at),
                cause: view.filter(|v| !v.up).map(|v| v.outcome.name()),
            });
        }
        out
    }

    /// Whether `id`'s failures here meet the failure rule (a run of 429s
    /// is not an outage).
    fn failing_here(&self, id: &ProviderId, now: UnixMillis) -> Option<UnixMillis> {
        let ps = self.state.providers.get(id)?;
        let sw = &self.config.policy.switching;
        let throttled = matches!(ps.streak_cause, Some((crate::probe::Outcome::Throttled, n)) if n >= ps.consecutive_failures);
        let since = ps.down_since?;
        let failing = ps.consecutive_failures >= sw.failure_threshold
            || now.saturating_sub(since) > sw.down_after.as_ms();
        (failing && !throttled && ps.consecutive_failures > 0).then_some(since)
    }

    /// The quorum step of a decision: peers' alerts, isolation, and a
    /// verdict per provider failing here (changes audited).
    pub(crate) fn decide_quorum(
        &mut self,
        now: UnixMillis,
        d: &mut Decision,
        firing: &mut BTreeMap<String, (Severity, String)>,
    ) {
        let configured: Vec<SentinelId> = self.config.peers.iter().map(|p| p.id.clone()).collect();
        self.state
            .peering
            .peers
            .retain(|id, _| configured.contains(id));
        if configured.is_empty() {
            self.state.peering.verdicts.clear();
            self.state.peering.isolated = false;
            return;
        }
        let registry = self.registry.clone();
        for id in &configured {
            let p = self.state.peering.peers.entry(id.clone()).or_default();
            p.retain(
                |x| registry.provider(x.as_str()).is_some(),
                |s| registry.service(s.as_str()).is_some(),
            );
        }
        let q = self.config.quorum;
        let me = self.config.sentinel.id.clone();
        let mut down = 0usize;
        for cfg in &self.config.peers {
            let Some(p) = self.state.peering.peers.get(&cfg.id) else {
                continue;
            };
            if p.is_down(q.peer_down_after) {
                down += 1;
                let since = p.health.down_since.unwrap_or(now);
                firing.insert(
                    format!("peer-down:{}", cfg.id),
                    (
                        Severity::Warning,
                        format!(
                            "peer sentinel {} has failed its last {} health checks ({}s, {}): {me} decides alone until it is back",
                            cfg.id,
                            p.health.consecutive_failures,
                            now.saturating_sub(since) / 1000,
                            p.health.cause.as_deref().unwrap_or("no answer"),
                        ),
                    ),
                );
            } else if let (Some(e), true) = (&p.read_error, p.is_up()) {
                firing.insert(
                    format!("peer-read:{}", cfg.id),
                    (
                        Severity::Warning,
                        format!(
                            "peer sentinel {} answers its health check but its observations cannot be read ({e}): check the shared secret and the peer's URL",
                            cfg.id
                        ),
                    ),
                );
            }
        }
        // Isolation: every peer down, and most providers failing at once.
        let (mut probed, mut failing) = (0usize, 0usize);
        for ps in self.state.providers.values() {
            if let Some(l) = &ps.last {
                probed += 1;
                if !l.outcome.is_up() {
                    failing += 1;
                }
            }
        }
        let isolated = quorum::isolated(configured.len(), down, failing, probed, q.isolation_share);
        if isolated {
            firing.insert(
                "isolated".into(),
                (
                    Severity::Critical,
                    format!(
                        "{me} reaches none of its peers and {failing} of {probed} providers fail from here: suspecting its own network, it acts on none of these failures"
                    ),
                ),
            );
        }
        self.state.peering.isolated = isolated;

        let ids: Vec<ProviderId> = self.state.providers.keys().cloned().collect();
        let mut verdicts = BTreeMap::new();
        for id in ids {
            let since = self.failing_here(&id, now);
            let interval = self
                .state
                .providers
                .get(&id)
                .and_then(|ps| self.registry.service(&ps.service))
                .map_or(30_000, |s| s.config.probe_interval.as_ms());
            let wait_ms = 2 * interval + self.wake_period_ms;
            let votes = match since {
                Some(since) => quorum::votes(
                    self.state.peering.peers.iter(),
                    since,
                    wait_ms,
                    q.peer_down_after,
                    |p| p.views.get(&id),
                ),
                None => Votes::default(),
            };
            let case = Case {
                failing: since.is_some(),
                since: since.unwrap_or(now),
                now,
                wait_ms,
                isolated,
            };
            let verdict = quorum::judge(&case, &votes, configured.len());
            let before = self.verdict(&id);
            let audited = |v: Verdict| v != Verdict::Waiting;
            if verdict != before
                && audited(verdict)
                && (audited(before) || verdict != Verdict::Healthy)
            {
                d.actions.push(Action::Quorum {
                    provider: id.clone(),
                    verdict: verdict.name().into(),
                    agree: votes.agree.clone(),
                    disagree: votes.disagree.clone(),
                    absent: votes.down.iter().chain(&votes.pending).cloned().collect(),
                });
            }
            if verdict == Verdict::LocalOnly {
                let cause = self
                    .state
                    .providers
                    .get(&id)
                    .and_then(|ps| ps.streak_cause)
                    .map_or_else(|| "failed probes".to_string(), |(o, _)| o.name());
                let from: Vec<&str> = votes.disagree.iter().map(SentinelId::as_str).collect();
                firing.insert(
                    format!("vantage:{id}"),
                    (
                        Severity::Warning,
                        format!(
                            "{id} fails from {me} ({cause}) but answers from {}: a problem on this sentinel's path, not the provider's; it is not switched away from",
                            from.join(", ")
                        ),
                    ),
                );
            }
            if verdict != Verdict::Healthy {
                verdicts.insert(id, verdict);
            }
        }
        self.state.peering.verdicts = verdicts;
    }

    /// The note a failure decision carries about its quorum.
    pub(crate) fn quorum_note(&self, id: &ProviderId) -> String {
        if self.config.peers.is_empty() {
            return String::new();
        }
        match self.verdict(id) {
            Verdict::Confirmed => {
                let by: Vec<String> = self
                    .vantages(id)
                    .into_iter()
                    .filter(|v| !v.own && v.up == Some(false))
                    .map(|v| v.sentinel.to_string())
                    .collect();
                format!(" (confirmed from {})", by.join(", "))
            }
            Verdict::Alone => " (acting alone: no peer could confirm or deny)".into(),
            _ => String::new(),
        }
    }

    /// Adopts peers' later routes (see the module docs of
    /// [`crate::peer`]): a peer that is up routed a service to a provider
    /// that is not failing here, later than this sentinel last decided
    /// (ties to the smaller sentinel id).
    pub(crate) fn reconcile_routes(&mut self, now: UnixMillis, d: &mut Decision) {
        if self.config.peers.is_empty() {
            return;
        }
        let after = self.config.quorum.peer_down_after;
        let me = self.config.sentinel.id.clone();
        let services: Vec<ServiceId> = self.state.services.keys().cloned().collect();
        for svc in services {
            let Some(st) = self.state.services.get(&svc) else {
                continue;
            };
            if st.pending.is_some() {
                continue;
            }
            let mut best: Option<(UnixMillis, SentinelId, PeerRoute)> = None;
            for (peer, p) in &self.state.peering.peers {
                if p.is_down(after) {
                    continue;
                }
                let Some(r) = p.routes.get(&svc) else {
                    continue;
                };
                // A route from the future (a skewed clock) is not later.
                if r.since > now.saturating_add(crate::engine::MAX_FUTURE_SKEW) {
                    continue;
                }
                let later = match &best {
                    None => true,
                    Some((t, id, _)) => {
                        (r.since, std::cmp::Reverse(peer)) > (*t, std::cmp::Reverse(id))
                    }
                };
                if later {
                    best = Some((r.since, peer.clone(), r.clone()));
                }
            }
            let Some((since, peer, route)) = best else {
                continue;
            };
            if st.active.as_ref() == Some(&route.active) {
                continue;
            }
            let wins = since > st.since || (since == st.since && peer < me);
            if !wins {
                continue;
            }
            let Some(ps) = self.state.providers.get(&route.active) else {
                continue;
            };
            if ps.service != svc
                || ps.lifecycle == Lifecycle::Failed
                || ps.consecutive_failures >= self.config.policy.switching.failure_threshold
            {
                continue;
            }
            let reason = Reason::Reconciled { peer: peer.clone() };
            let Some((from, record)) = self.route_to(now, &svc, &route.active, since, reason)
            else {
                continue;
            };
            if let Some(from) = &from {
                if let Some(ps) = self.state.providers.get_mut(from) {
                    if ps.lifecycle == Lifecycle::Active {
                        d.actions.push(Action::Lifecycle {
                            provider: from.clone(),
                            from: ps.lifecycle,
                            to: Lifecycle::Standby,
                            why: format!("peer {peer} routes elsewhere (reconciled)"),
                        });
                        ps.lifecycle = Lifecycle::Standby;
                        ps.lifecycle_since = now;
                    }
                }
            }
            if let Some(ps) = self.state.providers.get_mut(&route.active) {
                if matches!(ps.lifecycle, Lifecycle::Standby | Lifecycle::Recovering) {
                    d.actions.push(Action::Lifecycle {
                        provider: route.active.clone(),
                        from: ps.lifecycle,
                        to: Lifecycle::Active,
                        why: format!("routed by peer {peer} (reconciled)"),
                    });
                    ps.lifecycle = Lifecycle::Active;
                    ps.lifecycle_since = now;
                }
            }
            d.actions.push(Action::Quorum {
                provider: route.active.clone(),
                verdict: "reconciled".into(),
                agree: vec![peer],
                disagree: Vec::new(),
                absent: Vec::new(),
            });
            d.actions.push(Action::Switch { record });
        }
    }
}
