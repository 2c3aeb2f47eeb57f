//! The engine: `plan` → probes, `ingest` → observations, `decide` →
//! actions, `next_wakeup`.
//!
//! A tick, as every shell runs it:
//!
//! ```text
//! let plan = engine.plan(now);                 // probes due, within the budget
//! let obs  = run(plan.probes);                 // shell I/O, concurrently
//! engine.ingest(now, &obs);                    // windows, scores, quality
//! let mut d = engine.decide(now);              // actions + canaries
//! for _ in 0..3 { if d.canaries.is_empty() { break }
//!     engine.ingest(now, &run(d.canaries)); d = engine.decide(now); }
//! save(engine.state()); sleep_until(engine.next_wakeup(now));
//! ```
//!
//! The engine is deterministic: the same configuration, state and inputs
//! give the same outputs on every machine. Ingesting an observation twice
//! changes nothing (a per-provider watermark), and events carry a
//! per-source sequence number for the same reason.

mod decide;
mod ingest;
mod peers;
mod plan;
mod registry;
mod status;
mod views;

pub use ingest::{
    Event, EventKind, IncidentKind, IngestReport, Rejected, UsageTarget, MAX_FUTURE_SKEW,
};
pub use peers::Vantage;
pub use plan::Plan;
pub use registry::{join_url, ProviderRuntime, Registry, ServiceRuntime};
pub use views::ProviderSummary;

use crate::config::{Config, Errors, ProviderConfig};
use crate::lifecycle::Lifecycle;
use crate::state::{ProviderState, ServiceState, State, Submitted};
use crate::time::UnixMillis;
use crate::{ProviderId, ServiceId};

/// Errors building an engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration is invalid.
    #[error("invalid configuration:\n{0}")]
    Config(#[from] Errors),
}

/// The sans-IO sentinel engine.
#[derive(Debug, Clone)]
pub struct Engine {
    config: Config,
    registry: Registry,
    state: State,
    shell_probe_budget: u32,
    /// How often the shell wakes at most (a cron's period), in ms; 0 when
    /// it wakes when probes are due.
    wake_period_ms: u64,
}

/// The probe budget of a shell that has not said what it can do: a
/// free-plan Cloudflare Worker's ~50 subrequests per invocation, the
/// smallest of the shells.
pub const DEFAULT_PROBE_BUDGET: u32 = 50;

impl Engine {
    /// Builds an engine from a validated configuration and a stored state
    /// (or `State::default()`), reconciling the two: providers new in the
    /// config start where their `initial` says, providers gone from it are
    /// dropped from the state.
    pub fn new(config: Config, mut state: State, now: UnixMillis) -> Result<Engine, EngineError> {
        config.validate()?;
        let registry = Registry::build(&config, &state.submitted)?;
        reconcile(&config, &registry, &mut state, now);
        Ok(Engine {
            config,
            registry,
            state,
            shell_probe_budget: DEFAULT_PROBE_BUDGET,
            wake_period_ms: 0,
        })
    }

    /// Sets how often the shell wakes (a Worker's or a Lambda's cron
    /// period): a probe due between two wake-ups waits for the next one,
    /// so lateness up to this period is the schedule's, not a sign of
    /// falling behind (`schedule-behind`).
    pub fn set_wake_period(&mut self, ms: u64) {
        self.wake_period_ms = ms;
    }

    /// The shell's wake-up period (0: it wakes when probes are due).
    pub fn wake_period(&self) -> u64 {
        self.wake_period_ms
    }

    /// Sets what the shell can probe in one tick (its capability).
    pub fn set_probe_budget(&mut self, shell: u32) {
        self.shell_probe_budget = shell.max(1);
    }

    /// The effective probe budget per tick: the shell's capability, capped
    /// by the operator's `probe_budget_per_tick` when set.
    pub fn probe_budget(&self) -> u32 {
        let cap = self
            .config
            .sentinel
            .probe_budget_per_tick
            .unwrap_or(u32::MAX);
        self.shell_probe_budget.min(cap).max(1)
    }

    /// Notes what a plan deferred (for the metrics and the
    /// `schedule-behind` alert).
    pub fn note_plan(&mut self, deferred: u32) {
        let s = &mut self.state.schedule;
        s.deferred = deferred;
        s.deferred_ticks = if deferred > 0 {
            s.deferred_ticks.saturating_add(1)
        } else {
            0
        };
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The compiled registry (configured and submitted providers).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The state, to save.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state, to change in a test.
    #[cfg(test)]
    pub(crate) fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Sets (or clears) how long `id` is attested on chain, as the chain
    /// says (the anchoring driver's reads and receipts). Returns whether
    /// it changed.
    pub(crate) fn set_attested(&mut self, id: &ProviderId, until: Option<UnixMillis>) -> bool {
        match self.state.providers.get_mut(id) {
            Some(ps) if ps.attested_until != until => {
                ps.attested_until = until;
                true
            }
            _ => false,
        }
    }

    /// The anchoring state, for the anchoring driver ([`crate::chain`]);
    /// every change counts as an update (orders replicas in a merge).
    pub(crate) fn anchoring_mut(&mut self) -> &mut crate::chain::Anchoring {
        self.state.anchoring.updates += 1;
        &mut self.state.anchoring
    }

    /// Discovery's record, to change ([`crate::discovery`]).
    pub(crate) fn state_mut_discovery(&mut self) -> &mut crate::discovery::DiscoveryState {
        &mut self.state.discovery
    }

    /// Books `n` requests the sentinel itself made (trial probes) in its
    /// own footprint.
    pub(crate) fn book_own_requests(&mut self, now: UnixMillis, n: u64) {
        if n > 0 {
            self.state.footprint.record(
                now,
                &self.config.sentinel.footprint,
                &crate::books::Rates::default(),
                crate::books::Metric::Requests,
                n,
            );
        }
    }

    /// Withdraws a submitted provider: it leaves the registry and the
    /// state (a service routed to it routes again at the next decision).
    pub(crate) fn withdraw(&mut self, now: UnixMillis, id: &ProviderId) {
        let mut submitted = self.state.submitted.clone();
        submitted.retain(|s| s.id != *id);
        // Fewer submissions than a registry already built from: the
        // rest built before, so they build again.
        if let Ok(registry) = Registry::build(&self.config, &submitted) {
            self.state.submitted = submitted;
            self.registry = registry;
            reconcile(&self.config, &self.registry, &mut self.state, now);
        }
    }

    /// Consumes the engine, returning its state.
    pub fn into_state(self) -> State {
        self.state
    }

    /// Submits a new provider to a service (the `POST /v1/providers`
    /// route): validated like configuration, it enters as `discovered` and
    /// goes through testing before it can be routed to.
    pub fn submit(
        &mut self,
        now: UnixMillis,
        service: &ServiceId,
        provider: ProviderConfig,
    ) -> Result<(), Errors> {
        let mut errs = Errors::default();
        if self.registry.provider(&provider.id).is_some() {
            errs.push(
                "provider.id",
                provider.id.as_str(),
                "a provider with this id exists already",
            );
            return Err(errs);
        }
        if self.config.service(service.as_str()).is_none() {
            errs.push("service", service.as_str(), "no such service");
            return Err(errs);
        }
        let mut trial = self.config.clone();
        if let Some(s) = trial.services.iter_mut().find(|s| s.id == *service) {
            let mut p = provider.clone();
            p.initial = crate::config::Initial::Testing;
            s.providers.push(p);
        }
        trial.validate()?;
        let provider_json = serde_json::to_string(&provider).map_err(|e| {
            let mut errs = Errors::default();
            errs.push_key("provider", format!("cannot be stored: {e}"));
            errs
        })?;
        let entry = Submitted {
            service: service.clone(),
            id: provider.id.clone(),
            provider_json,
            at: now,
        };
        let mut submitted = self.state.submitted.clone();
        submitted.push(entry);
        let registry = Registry::build(&self.config, &submitted)?;
        self.state.submitted = submitted;
        self.registry = registry;
        reconcile(&self.config, &self.registry, &mut self.state, now);
        Ok(())
    }
}

impl Engine {
    /// Puts the notices of committed `actions` in the outbox and settles
    /// it against `destinations` (URL digests): delivered notices leave,
    /// expired ones leave with an action saying so (returned). With no
    /// destination, nothing is enqueued.
    pub fn enqueue_notices(
        &mut self,
        now: UnixMillis,
        actions: &[crate::Action],
        destinations: &[u64],
    ) -> Vec<crate::Action> {
        let st = &mut self.state;
        let mut out = Vec::new();
        if !destinations.is_empty() {
            out = crate::outbox::enqueue(&mut st.outbox, &mut st.notice_seq, now, actions);
        }
        out.extend(crate::outbox::settle(&mut st.outbox, destinations, now));
        out
    }
}

fn reconcile(config: &Config, registry: &Registry, state: &mut State, now: UnixMillis) {
    state
        .providers
        .retain(|id, _| registry.provider(id.as_str()).is_some());
    state
        .schedule
        .retain(|id| registry.provider(id.as_str()).is_some());
    state
        .recent_latency
        .retain(|id, _| registry.provider(id.as_str()).is_some());
    state.status_pages.retain(|id, _| {
        registry
            .provider(id.as_str())
            .is_some_and(|p| p.config.status_page.is_some())
    });
    for p in registry.providers() {
        let initial = match p.submitted {
            true => Lifecycle::Discovered,
            false => match p.config.initial {
                crate::config::Initial::Active => Lifecycle::Active,
                crate::config::Initial::Standby => Lifecycle::Standby,
                crate::config::Initial::Testing => Lifecycle::Testing,
            },
        };
        let entry = state
            .providers
            .entry(p.config.id.clone())
            .or_insert_with(|| ProviderState::new(p.service.clone(), initial, now));
        entry.service = p.service.clone();
    }
    state
        .services
        .retain(|id, _| config.service(id.as_str()).is_some());
    for svc in &config.services {
        let initial_active: Option<ProviderId> = svc
            .providers
            .iter()
            .find(|p| p.initial == crate::config::Initial::Active)
            .map(|p| p.id.clone());
        let s = state
            .services
            .entry(svc.id.clone())
            .or_insert_with(|| ServiceState::new(initial_active, now));
        if let Some(a) = &s.active {
            let still_here = state.providers.get(a).is_some_and(|p| p.service == svc.id);
            if !still_here {
                s.active = None;
            }
        }
        if let Some(pending) = &s.pending {
            if !state.providers.contains_key(&pending.to) {
                s.pending = None;
            }
        }
    }
}
