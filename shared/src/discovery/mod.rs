//! Discovery: finding providers in the catalog, trying them, and
//! onboarding those that pass into the testing phase.
//!
//! The seed's onboarding process, step by step, and where each happens:
//!
//! 1. **Discover** ([`Engine::discovery_candidates`]): the catalog's
//!    entries that fit a service — same kind, same chain for an EVM
//!    service that names one, every capability the service requires, the
//!    values of the endpoint's template given — less those already
//!    configured (by id or endpoint), vetoed by a person, excluded by the
//!    configuration, or rejected less than `retry_after` ago. The best
//!    priors first, at most `max_trials`, and none while `max_testing`
//!    discovered providers of the service are still being tested. Every
//!    entry left out that could have fit says why.
//! 2. **Test** ([`Engine::discovery_trial`]): each candidate is added to a
//!    *copy* of the engine exactly as a submission would be, so it gets the
//!    service's probe and checks (its own path or body from the catalog),
//!    and probed once by the shell, through the same prober as every
//!    probe (timeouts, size caps, the SSRF guard).
//! 3. **Score** ([`Engine::conclude_discovery`]): the answer is ingested
//!    by the copy, so it is judged by the same code as any answer: the
//!    health of the probe, the schema, business and freshness checks, and
//!    the cross-provider consistency against the service's current
//!    providers (a candidate on another chain, or with another value,
//!    disagrees with the majority). The initial reputation follows from
//!    that one sample: the catalog's prior, barely moved, with its
//!    confidence (one sample of `full_confidence_samples`) beside it.
//! 4. **Onboard**: a candidate that passed is submitted to the real engine
//!    (`Discovered` → `Testing` at the next decision), remembered as
//!    onboarded by discovery, and audited; one that failed is remembered
//!    with its reason and tried again after `retry_after`.
//! 5. **Test for 24 hours, promote above 70**: the lifecycle's testing
//!    phase (`[policy.lifecycle]`), as for any submission.
//!
//! A person sees all of it (`GET /v1/discovery`, the audit log) and can
//! veto an onboarded provider (`POST /v1/discovery/veto`): it is removed
//! and never onboarded again.
//!
//! Discovery costs probes: a run in the tick uses only what the tick's
//! probe budget has left after the due probes, and its outcome rides in
//! the tick's one commit, so it adds no store write.

pub mod catalog;

pub use catalog::{Catalog, CatalogEntry};

use crate::config::{Initial, ProviderConfig, ServiceDiscovery};
use crate::engine::Engine;
use crate::lifecycle::Lifecycle;
use crate::probe::{Observation, ProbeRequest, Purpose};
use crate::time::UnixMillis;
use crate::{Bps, Kind, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Trials kept in the state's record.
pub const LOG_KEEP: usize = 50;

/// One candidate's trial, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Trial {
    /// When.
    pub at: UnixMillis,
    /// The service it was tried for.
    pub service: ServiceId,
    /// The catalog entry (the provider id it gets).
    pub candidate: ProviderId,
    /// What came of it.
    pub outcome: TrialOutcome,
}

/// What came of a trial. (Externally tagged: the state's encoding is not
/// self-describing; the API shows a [`TrialView`].)
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TrialOutcome {
    /// Passed and onboarded into testing.
    Onboarded {
        /// Its initial reputation total.
        total: Bps,
        /// The confidence in it (few samples: low).
        confidence: Bps,
        /// The trial probe's latency.
        latency_ms: u32,
    },
    /// Failed; tried again after `retry_after`.
    Rejected {
        /// Why, in words.
        reason: String,
    },
    /// Removed by a person; never onboarded again.
    Vetoed,
}

impl TrialOutcome {
    /// `onboarded`, `rejected` or `vetoed`.
    pub fn name(&self) -> &'static str {
        match self {
            TrialOutcome::Onboarded { .. } => "onboarded",
            TrialOutcome::Rejected { .. } => "rejected",
            TrialOutcome::Vetoed => "vetoed",
        }
    }
}

/// A trial as the API shows it: flat, with its time in RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialView {
    /// When (RFC 3339).
    pub at: String,
    /// The service.
    pub service: ServiceId,
    /// The catalog entry.
    pub candidate: ProviderId,
    /// `onboarded`, `rejected` or `vetoed`.
    pub outcome: String,
    /// Onboarded: its initial reputation total (basis points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Bps>,
    /// Onboarded: the confidence in that total (basis points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Bps>,
    /// Onboarded: the trial probe's latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u32>,
    /// Rejected: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&Trial> for TrialView {
    fn from(t: &Trial) -> TrialView {
        let mut v = TrialView {
            at: crate::time::rfc3339(t.at),
            service: t.service.clone(),
            candidate: t.candidate.clone(),
            outcome: t.outcome.name().into(),
            total: None,
            confidence: None,
            latency_ms: None,
            reason: None,
        };
        match &t.outcome {
            TrialOutcome::Onboarded {
                total,
                confidence,
                latency_ms,
            } => {
                v.total = Some(*total);
                v.confidence = Some(*confidence);
                v.latency_ms = Some(*latency_ms);
            }
            TrialOutcome::Rejected { reason } => v.reason = Some(reason.clone()),
            TrialOutcome::Vetoed => {}
        }
        v
    }
}

/// What discovery remembers (part of the state).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryState {
    /// The latest trials, oldest first (at most [`LOG_KEEP`]).
    pub log: VecDeque<Trial>,
    /// Providers discovery onboarded (a veto applies to these).
    pub onboarded: BTreeSet<ProviderId>,
    /// Catalog ids a person vetoed: never onboarded again.
    pub vetoed: BTreeSet<ProviderId>,
    /// When a rejected candidate may be tried again.
    pub retry_at: BTreeMap<ProviderId, UnixMillis>,
    /// When each service was last discovered for.
    pub last_run: BTreeMap<ServiceId, UnixMillis>,
}

impl DiscoveryState {
    /// Joins two replicas: sets and logs by union, times by maximum.
    pub fn merge(&self, other: &DiscoveryState) -> DiscoveryState {
        let mut log: Vec<Trial> = self.log.iter().chain(&other.log).cloned().collect();
        log.sort();
        log.dedup();
        let skip = log.len().saturating_sub(LOG_KEEP);
        let mut retry_at = self.retry_at.clone();
        for (k, v) in &other.retry_at {
            let e = retry_at.entry(k.clone()).or_insert(*v);
            *e = (*e).max(*v);
        }
        let mut last_run = self.last_run.clone();
        for (k, v) in &other.last_run {
            let e = last_run.entry(k.clone()).or_insert(*v);
            *e = (*e).max(*v);
        }
        DiscoveryState {
            log: log.into_iter().skip(skip).collect(),
            onboarded: self.onboarded.union(&other.onboarded).cloned().collect(),
            vetoed: self.vetoed.union(&other.vetoed).cloned().collect(),
            retry_at,
            last_run,
        }
    }

    fn record(&mut self, t: Trial) {
        self.log.push_back(t);
        while self.log.len() > LOG_KEEP {
            self.log.pop_front();
        }
    }
}

/// The candidates of one run for one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// The service.
    pub service: Option<ServiceId>,
    /// Candidates to try, as the provider each would become.
    pub chosen: Vec<ProviderConfig>,
    /// Entries that could have fit, and why they are not tried.
    pub skipped: Vec<(ProviderId, String)>,
}

/// Errors of a discovery request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoveryError {
    /// No such service.
    #[error("no such service: {0}")]
    UnknownService(String),
    /// Not a provider discovery onboarded.
    #[error("{0} was not onboarded by discovery (remove a configured provider from the configuration instead)")]
    NotDiscovered(String),
}

/// A catalog entry as the provider it would become for a service.
fn provider_of(e: &CatalogEntry, endpoint: String) -> ProviderConfig {
    ProviderConfig {
        id: e.id.clone(),
        name: e.name.clone(),
        endpoint,
        status_page: e.status_page.clone(),
        probe: e.probe.clone(),
        secret_headers: BTreeMap::new(),
        limits: e.free_tier.limits.clone(),
        cost: e.free_tier.cost.clone(),
        initial: Initial::Testing,
        prior: Some(e.prior),
    }
}

fn same_endpoint(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

impl Engine {
    /// The candidates of `catalog` for `service` at `now`; see the module
    /// docs. `settings` is the service's `[service.discovery]` (its
    /// default when it has none and a person asked).
    pub fn discovery_candidates(
        &self,
        catalog: &Catalog,
        service: &ServiceId,
        now: UnixMillis,
    ) -> Result<Selection, DiscoveryError> {
        let svc = self
            .config()
            .service(service.as_str())
            .ok_or_else(|| DiscoveryError::UnknownService(service.to_string()))?;
        let settings = svc
            .discovery
            .clone()
            .unwrap_or_else(ServiceDiscovery::default);
        let ds = &self.config().discovery;
        let state = &self.state().discovery;
        let mut sel = Selection {
            service: Some(service.clone()),
            ..Selection::default()
        };
        let testing = self
            .state()
            .providers
            .iter()
            .filter(|(id, ps)| {
                ps.service == *service
                    && state.onboarded.contains(*id)
                    && matches!(ps.lifecycle, Lifecycle::Discovered | Lifecycle::Testing)
            })
            .count();
        let want_chain = svc.evm.as_ref().and_then(|e| e.chain_id);
        let mut fits: Vec<(&CatalogEntry, String)> = Vec::new();
        for e in &catalog.providers {
            if e.kind != svc.kind {
                continue;
            }
            let skip = |why: String| (e.id.clone(), why);
            if let (Kind::EvmRpc, Some(want), Some(got)) = (svc.kind, want_chain, e.chain_id) {
                if want != got {
                    continue; // another chain: not a candidate at all
                }
            }
            if let Some(missing) = settings
                .require
                .iter()
                .find(|c| !e.capabilities.contains(c))
            {
                sel.skipped
                    .push(skip(format!("lacks the required capability `{missing}`")));
                continue;
            }
            if state.vetoed.contains(&e.id) {
                sel.skipped.push(skip("vetoed by a person".into()));
                continue;
            }
            if settings.exclude.contains(&e.id) {
                sel.skipped
                    .push(skip("excluded by [service.discovery] exclude".into()));
                continue;
            }
            if let Some(p) = self.registry().provider(&e.id) {
                if p.service != *service {
                    sel.skipped
                        .push(skip(format!("already a provider of service {}", p.service)));
                }
                continue; // already here: nothing to say
            }
            let endpoint = match e.endpoint_with(&settings.params) {
                Ok(u) => u,
                Err(why) => {
                    sel.skipped.push(skip(format!("its endpoint {why}")));
                    continue;
                }
            };
            if let Some(p) = svc
                .providers
                .iter()
                .find(|p| same_endpoint(&p.endpoint, &endpoint))
            {
                sel.skipped
                    .push(skip(format!("its endpoint is already provider {}", p.id)));
                continue;
            }
            if let Some(at) = state.retry_at.get(&e.id).filter(|at| **at > now) {
                sel.skipped.push(skip(format!(
                    "failed its last trial; tried again in {}",
                    crate::words::duration(at.saturating_sub(now))
                )));
                continue;
            }
            fits.push((e, endpoint));
        }
        fits.sort_by(|(a, _), (b, _)| b.prior.cmp(&a.prior).then_with(|| a.id.cmp(&b.id)));
        let room = (ds.max_testing as usize).saturating_sub(testing);
        let take = room.min(ds.max_trials as usize);
        for (i, (e, endpoint)) in fits.into_iter().enumerate() {
            if i < take {
                sel.chosen.push(provider_of(e, endpoint));
            } else if room == 0 {
                sel.skipped.push((
                    e.id.clone(),
                    format!("{testing} discovered provider(s) of this service are still being tested (max_testing)"),
                ));
            } else {
                sel.skipped
                    .push((e.id.clone(), "left for a later run (max_trials)".into()));
            }
        }
        Ok(sel)
    }

    /// A copy of this engine with the chosen candidates submitted, and the
    /// probe requests that try them (one each). A candidate the copy
    /// refuses (its probe does not fit the service) is rejected with the
    /// reason, returned beside.
    pub fn discovery_trial(
        &self,
        now: UnixMillis,
        selection: &Selection,
    ) -> (Engine, Vec<ProbeRequest>, Vec<(ProviderId, String)>) {
        let mut trial = self.clone();
        let mut reqs = Vec::new();
        let mut refused = Vec::new();
        let Some(service) = &selection.service else {
            return (trial, reqs, refused);
        };
        for p in &selection.chosen {
            match trial.submit(now, service, p.clone()) {
                Ok(()) => {
                    if let Some(r) = trial.probe_request(&p.id, Purpose::Canary) {
                        reqs.push(r);
                    }
                }
                Err(errs) => {
                    refused.push((p.id.clone(), format!("does not fit the service: {errs}")))
                }
            }
        }
        (trial, reqs, refused)
    }

    /// Judges the trial's observations (ingested by `trial`, the copy from
    /// [`Engine::discovery_trial`]), onboards the candidates that passed
    /// into this engine, and records every outcome. Returns the trials.
    pub fn conclude_discovery(
        &mut self,
        now: UnixMillis,
        selection: &Selection,
        mut trial: Engine,
        observations: &[Observation],
        refused: Vec<(ProviderId, String)>,
    ) -> Vec<Trial> {
        let Some(service) = selection.service.clone() else {
            return Vec::new();
        };
        trial.ingest(now, observations);
        self.book_own_requests(now, observations.len() as u64);
        let retry = self.config().discovery.retry_after.as_ms();
        let mut out = Vec::new();
        for p in &selection.chosen {
            let outcome = match refused.iter().find(|(id, _)| *id == p.id) {
                Some((_, why)) => TrialOutcome::Rejected {
                    reason: why.clone(),
                },
                None => judge(&trial, &p.id, now),
            };
            let outcome = match outcome {
                TrialOutcome::Onboarded { .. } => match self.submit(now, &service, p.clone()) {
                    Ok(()) => outcome,
                    Err(errs) => TrialOutcome::Rejected {
                        reason: format!("could not be added: {errs}"),
                    },
                },
                other => other,
            };
            let ds = &mut self.state_mut_discovery();
            match &outcome {
                TrialOutcome::Onboarded { .. } => {
                    ds.onboarded.insert(p.id.clone());
                    ds.retry_at.remove(&p.id);
                }
                _ => {
                    ds.retry_at.insert(p.id.clone(), now.saturating_add(retry));
                }
            }
            let t = Trial {
                at: now,
                service: service.clone(),
                candidate: p.id.clone(),
                outcome,
            };
            ds.record(t.clone());
            out.push(t);
        }
        self.state_mut_discovery().last_run.insert(service, now);
        out
    }

    /// Removes a provider discovery onboarded, and never onboards it
    /// again (a person's veto).
    pub fn veto_discovered(
        &mut self,
        now: UnixMillis,
        id: &ProviderId,
    ) -> Result<Trial, DiscoveryError> {
        if !self.state().discovery.onboarded.contains(id) {
            return Err(DiscoveryError::NotDiscovered(id.to_string()));
        }
        let service = self
            .state()
            .submitted
            .iter()
            .find(|s| s.id == *id)
            .map(|s| s.service.clone())
            .ok_or_else(|| DiscoveryError::NotDiscovered(id.to_string()))?;
        self.withdraw(now, id);
        let ds = self.state_mut_discovery();
        ds.onboarded.remove(id);
        ds.vetoed.insert(id.clone());
        let t = Trial {
            at: now,
            service,
            candidate: id.clone(),
            outcome: TrialOutcome::Vetoed,
        };
        ds.record(t.clone());
        Ok(t)
    }
}

/// The verdict on one candidate, from the copy that ingested its answer.
fn judge(trial: &Engine, id: &ProviderId, now: UnixMillis) -> TrialOutcome {
    let Some(ps) = trial.state().providers.get(id) else {
        return TrialOutcome::Rejected {
            reason: "was not probed".into(),
        };
    };
    let Some(last) = &ps.last else {
        return TrialOutcome::Rejected {
            reason: "was not probed (no answer was taken)".into(),
        };
    };
    let detail = last
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    if !last.outcome.is_up() {
        return TrialOutcome::Rejected {
            reason: format!("it {}{detail}", last.outcome.phrase()),
        };
    }
    if ps.consecutive_bad > 0 {
        let check = ps.bad_check.clone().unwrap_or_default();
        let why = ps.bad_reason.map(|r| format!(": {r}")).unwrap_or_default();
        return TrialOutcome::Rejected {
            reason: format!("its answer failed the {check} check{why}{detail}"),
        };
    }
    match trial.reputation(id, now) {
        Some(rep) => TrialOutcome::Onboarded {
            total: rep.total,
            confidence: rep.confidence,
            latency_ms: last.latency_ms,
        },
        None => TrialOutcome::Rejected {
            reason: "could not be scored".into(),
        },
    }
}

/// The built-in catalog, parsed once per process.
pub fn builtin() -> std::sync::Arc<Catalog> {
    static BUILTIN: std::sync::OnceLock<std::sync::Arc<Catalog>> = std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| match Catalog::builtin() {
            Ok(c) => std::sync::Arc::new(c),
            Err(e) => {
                // A test parses the shipped file; this cannot happen in a
                // build that passed it.
                tracing::error!(error = %e, "the built-in catalog is invalid: discovery finds nothing");
                std::sync::Arc::new(Catalog::empty())
            }
        })
        .clone()
}

/// One run's inputs, kept until they are committed: on a conflicting
/// commit the run is applied again to the winner's state (its
/// observations are data, so nothing is probed twice).
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// The candidates.
    pub selection: Selection,
    /// Their trial answers.
    pub observations: Vec<Observation>,
    /// Candidates the trial copy refused, with why.
    pub refused: Vec<(ProviderId, String)>,
}

impl Run {
    /// Applies the run to `engine`: judges the answers on a fresh trial
    /// copy of it, onboards what passed, records every trial.
    pub fn apply(&self, engine: &mut Engine, now: UnixMillis) -> Vec<Trial> {
        let (trial, _, mut refused) = engine.discovery_trial(now, &self.selection);
        for r in &self.refused {
            if !refused.iter().any(|(id, _)| *id == r.0) {
                refused.push(r.clone());
            }
        }
        engine.conclude_discovery(now, &self.selection, trial, &self.observations, refused)
    }
}

/// The audit entry of a trial.
pub fn action_of(t: &Trial) -> crate::Action {
    let detail = match &t.outcome {
        TrialOutcome::Onboarded {
            total,
            confidence,
            latency_ms,
        } => format!(
            "onboarded into testing: initial total {total} at confidence {confidence} % (one sample), answered in {latency_ms} ms"
        ),
        TrialOutcome::Rejected { reason } => format!("rejected: {reason}"),
        TrialOutcome::Vetoed => "vetoed by a person: removed, and never onboarded again".into(),
    };
    crate::Action::Discovery {
        service: t.service.clone(),
        candidate: t.candidate.clone(),
        outcome: t.outcome.name().into(),
        detail,
    }
}

/// What a discovery run did, as the API answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The service.
    pub service: ServiceId,
    /// Each candidate tried, with what came of it.
    pub trials: Vec<TrialView>,
    /// Catalog entries that could have fit, and why they were not tried.
    pub skipped: Vec<Skipped>,
}

/// A catalog entry not tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The entry.
    pub candidate: ProviderId,
    /// Why.
    pub reason: String,
}

impl Report {
    /// The report of `trials` from `selection`.
    pub fn of(service: ServiceId, selection: &Selection, trials: Vec<Trial>) -> Report {
        Report {
            service,
            trials: trials.iter().map(TrialView::from).collect(),
            skipped: selection
                .skipped
                .iter()
                .map(|(candidate, reason)| Skipped {
                    candidate: candidate.clone(),
                    reason: reason.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::State;

    const T0: UnixMillis = 1_795_000_000_000;

    fn engine(extra: &str) -> Engine {
        let t = format!(
            r#"
[sentinel]
id = "t"
allow_private_targets = true
[discovery]
max_trials = 2
max_testing = 3
{extra}
[[service]]
id = "eth"
kind = "evm-rpc"
evm = {{ chain_id = 1 }}
[service.discovery]
require = ["archive"]
exclude = ["excluded"]
[[service.provider]]
id = "mine"
endpoint = "http://127.0.0.1:1/"
initial = "active"
"#
        );
        let cfg = Config::from_toml(&t).unwrap_or_else(|e| panic!("{e}"));
        Engine::new(cfg, State::default(), T0).unwrap()
    }

    fn rpc(id: &str, chain: u64, caps: &str, prior: u16, endpoint: &str) -> String {
        format!(
            r#"{{"id": "{id}", "name": "{id}", "kind": "evm-rpc", "chain_id": {chain}, "endpoint": "{endpoint}",
               "capabilities": [{caps}], "free_tier": {{"summary": "s", "source": {{"url": "https://x.example", "read": "2026-01-01"}}}}, "prior": {prior}}}"#
        )
    }

    fn catalog(entries: &[String]) -> Catalog {
        let t = format!(
            r#"{{"version": 1, "updated": "2026-11-29", "providers": [{}]}}"#,
            entries.join(",")
        );
        Catalog::parse(&t).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn candidates_fit_the_service_and_say_why_not() {
        let e = engine("");
        let c = catalog(&[
            rpc("best", 1, r#""archive""#, 9000, "http://127.0.0.1:2"),
            rpc("second", 1, r#""archive""#, 8000, "http://127.0.0.1:3"),
            rpc("third", 1, r#""archive""#, 7000, "http://127.0.0.1:4"),
            rpc("other-chain", 5, r#""archive""#, 9999, "http://127.0.0.1:5"),
            rpc("no-archive", 1, "", 9999, "http://127.0.0.1:6"),
            rpc("excluded", 1, r#""archive""#, 9999, "http://127.0.0.1:7"),
            rpc("dup", 1, r#""archive""#, 9999, "http://127.0.0.1:1"),
        ]);
        let eth = ServiceId::new("eth").unwrap();
        let s = e.discovery_candidates(&c, &eth, T0).unwrap();
        let chosen: Vec<&str> = s.chosen.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(chosen, ["best", "second"], "best priors first, max_trials");
        let why = |id: &str| {
            s.skipped
                .iter()
                .find(|(p, _)| p.as_str() == id)
                .map(|(_, w)| w.clone())
                .unwrap_or_default()
        };
        assert!(why("third").contains("max_trials"));
        assert!(why("no-archive").contains("`archive`"));
        assert!(why("excluded").contains("exclude"));
        assert!(why("dup").contains("already provider mine"));
        assert_eq!(why("other-chain"), "", "another chain is not a candidate");
        assert_eq!(s.chosen[0].initial, Initial::Testing);
        assert_eq!(s.chosen[0].prior, Some(Bps::new(9000)));
        assert!(matches!(
            e.discovery_candidates(&c, &ServiceId::new("nope").unwrap(), T0),
            Err(DiscoveryError::UnknownService(_))
        ));
    }

    #[test]
    fn rejected_vetoed_and_testing_limits_hold() {
        let mut e = engine("retry_after = \"1h\"");
        let c = catalog(&[
            rpc("a", 1, r#""archive""#, 9000, "http://127.0.0.1:2"),
            rpc("b", 1, r#""archive""#, 8000, "http://127.0.0.1:3"),
        ]);
        let eth = ServiceId::new("eth").unwrap();
        let s = e.discovery_candidates(&c, &eth, T0).unwrap();
        // No answers at all: both rejected ("was not probed").
        let (trial, reqs, refused) = e.discovery_trial(T0, &s);
        assert_eq!(reqs.len(), 2);
        let trials = e.conclude_discovery(T0, &s, trial, &[], refused);
        assert!(trials
            .iter()
            .all(|t| matches!(&t.outcome, TrialOutcome::Rejected { reason } if reason.contains("not probed"))));
        assert!(e.registry().provider("a").is_none());
        // Within retry_after: not tried; after it: tried again.
        let s = e.discovery_candidates(&c, &eth, T0 + 1_000).unwrap();
        assert!(s.chosen.is_empty(), "{:?}", s.skipped);
        let s = e.discovery_candidates(&c, &eth, T0 + 3_600_001).unwrap();
        assert_eq!(s.chosen.len(), 2);
        // Only a provider discovery onboarded can be vetoed.
        let mine = ProviderId::new("mine").unwrap();
        assert!(matches!(
            e.veto_discovered(T0, &mine),
            Err(DiscoveryError::NotDiscovered(_))
        ));
        assert_eq!(e.state().discovery.log.len(), 2);
        assert_eq!(e.state().discovery.last_run.get(&eth).copied(), Some(T0));
    }

    #[test]
    fn the_record_merges_as_a_join() {
        let t = |at: UnixMillis, id: &str| Trial {
            at,
            service: ServiceId::new("s").unwrap(),
            candidate: ProviderId::new(id).unwrap(),
            outcome: TrialOutcome::Vetoed,
        };
        let mut a = DiscoveryState::default();
        a.record(t(1, "x"));
        a.vetoed.insert(ProviderId::new("x").unwrap());
        a.retry_at.insert(ProviderId::new("y").unwrap(), 5);
        let mut b = DiscoveryState::default();
        b.record(t(2, "y"));
        b.retry_at.insert(ProviderId::new("y").unwrap(), 9);
        b.last_run.insert(ServiceId::new("s").unwrap(), 3);
        let ab = a.merge(&b);
        assert_eq!(ab, b.merge(&a));
        assert_eq!(ab.merge(&ab), ab);
        assert_eq!(ab.merge(&a), ab);
        assert_eq!(ab.log.len(), 2);
        assert_eq!(ab.retry_at[&ProviderId::new("y").unwrap()], 9);
        let mut big = DiscoveryState::default();
        for i in 0..(LOG_KEEP as u64 + 10) {
            big.record(t(i, "z"));
        }
        assert_eq!(big.merge(&a).log.len(), LOG_KEEP);
    }
}
