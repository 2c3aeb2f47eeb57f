//! What a sentinel keeps about its peers: each peer's health, its view of
//! every provider, and its routes. Bounded: one entry per configured peer,
//! per provider and per service known here.

use super::quorum::Verdict;
use crate::probe::{Observation, Outcome};
use crate::time::UnixMillis;
use crate::{ProviderId, SentinelId, ServiceId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything about peers, in the state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peering {
    /// Per configured peer.
    pub peers: BTreeMap<SentinelId, PeerState>,
    /// The quorum's verdict per provider at the last decision (only
    /// providers failing here; absent means healthy).
    pub verdicts: BTreeMap<ProviderId, Verdict>,
    /// Whether this sentinel suspected its own network at the last
    /// decision.
    pub isolated: bool,
}

impl Peering {
    /// Joins two replicas of one sentinel's peering (a rebase): per peer,
    /// the one that read or checked last; verdicts and isolation from the
    /// replica with the later peer news.
    pub fn merge(&self, other: &Peering) -> Peering {
        let mut out = self.clone();
        for (id, p) in &other.peers {
            match out.peers.get(id) {
                Some(mine) if mine.freshness() >= p.freshness() => {}
                _ => {
                    out.peers.insert(id.clone(), p.clone());
                }
            }
        }
        let newest = |p: &Peering| p.peers.values().map(PeerState::freshness).max();
        if newest(other) > newest(self) {
            out.verdicts = other.verdicts.clone();
            out.isolated = other.isolated;
        }
        out
    }
}

/// A peer's health, from its `/healthz`, kept like a provider's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerHealth {
    /// Consecutive failed checks.
    pub consecutive_failures: u32,
    /// Consecutive good checks.
    pub consecutive_successes: u32,
    /// Last check.
    pub last_check: UnixMillis,
    /// Last good check.
    pub last_ok: Option<UnixMillis>,
    /// First failed check of the current outage.
    pub down_since: Option<UnixMillis>,
    /// Why the last failed check failed.
    pub cause: Option<String>,
    /// Round-trip time of the last good check, ms.
    pub latency_ms: u32,
    /// Checks made.
    pub checks: u64,
    /// Good checks.
    pub ok: u64,
}

/// One provider as a peer saw it last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageView {
    /// When the peer's latest probe of it was sent.
    pub at: UnixMillis,
    /// Whether it answered (any status the probe accepts).
    pub up: bool,
    /// How it failed, when it did.
    pub outcome: Outcome,
    /// Since when it has been failing from there, while it is.
    pub failing_since: Option<UnixMillis>,
}

/// A peer's route for one service, as it published it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRoute {
    /// Its active provider.
    pub active: ProviderId,
    /// When it routed there.
    pub since: UnixMillis,
}

/// One peer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    /// Its health checks.
    pub health: PeerHealth,
    /// The newest observation time read from it (the next read asks for
    /// later ones).
    pub cursor: UnixMillis,
    /// When its observations were last read successfully.
    pub last_read: Option<UnixMillis>,
    /// Why the last read failed, while it does.
    pub read_error: Option<String>,
    /// Observations read from it so far.
    pub observations_read: u64,
    /// Its latest view of each provider known here.
    pub views: BTreeMap<ProviderId, VantageView>,
    /// Its routes, for services known here.
    pub routes: BTreeMap<ServiceId, PeerRoute>,
}

impl PeerState {
    fn freshness(&self) -> (UnixMillis, UnixMillis) {
        (self.health.last_check, self.last_read.unwrap_or(0))
    }

    /// Whether it counts as down: `after` failed checks in a row (or
    /// never a good one after that many checks).
    pub fn is_down(&self, after: u32) -> bool {
        self.health.consecutive_failures >= after.max(1)
    }

    /// Whether it answered its last check.
    pub fn is_up(&self) -> bool {
        self.health.last_ok.is_some() && self.health.consecutive_failures == 0
    }

    /// Records a health check at `at`: `Ok(latency)` or the failure's
    /// cause.
    pub fn checked(&mut self, at: UnixMillis, result: Result<u32, String>) {
        let h = &mut self.health;
        h.last_check = h.last_check.max(at);
        h.checks = h.checks.saturating_add(1);
        match result {
            Ok(latency) => {
                h.ok = h.ok.saturating_add(1);
                h.consecutive_failures = 0;
                h.consecutive_successes = h.consecutive_successes.saturating_add(1);
                h.last_ok = Some(h.last_ok.map_or(at, |l| l.max(at)));
                h.down_since = None;
                h.cause = None;
                h.latency_ms = latency;
            }
            Err(cause) => {
                h.consecutive_failures = h.consecutive_failures.saturating_add(1);
                h.consecutive_successes = 0;
                h.down_since.get_or_insert(at);
                h.cause = Some(cause);
            }
        }
    }

    /// Applies a batch of the peer's observations (any order; older than
    /// what is known per provider changes nothing) and its routes, keeping
    /// only providers and services `known` here. Returns how many
    /// observations were new.
    pub fn absorb(
        &mut self,
        at: UnixMillis,
        observations: &[Observation],
        routes: &BTreeMap<ServiceId, PeerRoute>,
        known_provider: impl Fn(&ProviderId) -> bool,
        known_service: impl Fn(&ServiceId) -> bool,
    ) -> u64 {
        let mut sorted: Vec<&Observation> = observations.iter().collect();
        sorted.sort_by_key(|o| (o.at, o.purpose));
        let mut fresh = 0u64;
        for o in sorted {
            self.cursor = self.cursor.max(o.at);
            if !known_provider(&o.provider) {
                continue;
            }
            let up = o.outcome.is_up();
            let prev = self.views.get(&o.provider);
            if prev.is_some_and(|v| v.at >= o.at) {
                continue;
            }
            let failing_since = if up {
                None
            } else {
                Some(prev.and_then(|v| v.failing_since).unwrap_or(o.at))
            };
            self.views.insert(
                o.provider.clone(),
                VantageView {
                    at: o.at,
                    up,
                    outcome: o.outcome,
                    failing_since,
                },
            );
            fresh += 1;
        }
        for (svc, r) in routes {
            if known_service(svc) && known_provider(&r.active) {
                self.routes.insert(svc.clone(), r.clone());
            }
        }
        self.observations_read = self.observations_read.saturating_add(fresh);
        self.last_read = Some(self.last_read.map_or(at, |l| l.max(at)));
        self.read_error = None;
        fresh
    }

    /// Forgets providers and services no longer known here.
    pub fn retain(
        &mut self,
        known_provider: impl Fn(&ProviderId) -> bool,
        known_service: impl Fn(&ServiceId) -> bool,
    ) {
        self.views.retain(|p, _| known_provider(p));
        self.routes.retain(|s, _| known_service(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Purpose;
    use crate::quality::{Facts, Verdict as Checks};

    fn obs(p: &str, at: u64, outcome: Outcome) -> Observation {
        Observation {
            provider: ProviderId::new(p).unwrap(),
            at,
            purpose: Purpose::Scheduled,
            outcome,
            latency_ms: 5,
            bytes: 0,
            verdict: Checks::default(),
            facts: Facts::default(),
            detail: None,
        }
    }

    #[test]
    fn views_keep_the_latest_and_the_start_of_a_failure() {
        let mut p = PeerState::default();
        let n = p.absorb(
            100,
            &[
                obs("x", 30, Outcome::Timeout),
                obs("x", 10, Outcome::Ok),
                obs("x", 20, Outcome::Connect),
                obs("gone", 20, Outcome::Ok),
            ],
            &BTreeMap::new(),
            |id| id.as_str() != "gone",
            |_| true,
        );
        assert_eq!(n, 3);
        let v = &p.views[&ProviderId::new("x").unwrap()];
        assert_eq!((v.at, v.up, v.failing_since), (30, false, Some(20)));
        assert_eq!(p.cursor, 30);
        // Older news changes nothing; a recovery clears the failure.
        p.absorb(
            110,
            &[obs("x", 25, Outcome::Ok)],
            &BTreeMap::new(),
            |_| true,
            |_| true,
        );
        assert!(!p.views[&ProviderId::new("x").unwrap()].up);
        p.absorb(
            120,
            &[obs("x", 40, Outcome::Ok)],
            &BTreeMap::new(),
            |_| true,
            |_| true,
        );
        let v = &p.views[&ProviderId::new("x").unwrap()];
        assert!(v.up && v.failing_since.is_none());
        assert_eq!(p.observations_read, 4);
    }

    #[test]
    fn health_is_a_streak() {
        let mut p = PeerState::default();
        assert!(!p.is_up() && !p.is_down(2));
        p.checked(10, Ok(4));
        assert!(p.is_up());
        p.checked(20, Err("refused".into()));
        assert!(!p.is_down(2));
        p.checked(30, Err("refused".into()));
        assert!(p.is_down(2));
        assert_eq!(p.health.down_since, Some(20));
        p.checked(40, Ok(3));
        assert!(p.is_up() && p.health.down_since.is_none());
        assert_eq!((p.health.checks, p.health.ok), (4, 2));
    }
}
