//! The scenario driver: a virtual clock, synthetic providers with a seeded
//! fault injector, and the shipped tick, so days of simulated time run in
//! seconds and every switch, alert and ladder step can be asserted with
//! its time. Available with the `test-utils` feature.
//!
//! # How a scenario runs
//!
//! A [`Scenario`] is a [`Sentinel`] over the in-memory fakes — a
//! [`MemoryStore`] (compare-and-swap, unbudgeted: like the local redb
//! store, unless built [`Scenario::with_store`]) and a [`SimProber`] over
//! the scenario's [`SimProvider`]s — driven the way a shell drives it.
//! There is no second loop here: every step is one
//! [`Sentinel::tick`], the code every shell ships (plan within the probe
//! budget, concurrent probes, the write-ahead log, ingest, decide with up
//! to three canary rounds, the outbox, one commit, a rebase on conflict,
//! no write for an idle wake-up). One step:
//!
//! 1. the usage [`Burn`]s since the last step are booked through
//!    [`Sentinel::record_kinds`], as the shells book proxied usage before
//!    a scheduled tick;
//! 2. the virtual clock (the prober's shared `now`) is set to
//!    [`Scenario::now`], and the scenario's providers and RNG are lent to
//!    the prober for the tick;
//! 3. `sentinel.tick(&clock)` runs to completion: the fakes never wait, so
//!    its future is ready at the first poll
//!    ([`FutureExt::now_or_never`]); if it ever were not, the step fails
//!    with [`SimError::Pending`] instead of blocking or panicking;
//! 4. the committed actions of its [`TickReport`] are appended to
//!    [`Scenario::log`] with the tick's time, and its probes counted.
//!
//! [`Scenario::run_until`] repeats that, jumping the clock to the report's
//! `next_wakeup` (at least one simulated second later) until the end.
//!
//! The engine is read through [`Scenario::engine`], which dereferences to
//! the sentinel's engine (read-only). Whatever changes it goes through
//! the sentinel, as in a shell: [`SimSentinel::submit`],
//! [`SimSentinel::record`], or [`SimSentinel::sentinel_mut`].
//! [`Scenario::restart`] drops the sentinel and opens a new one on its
//! store, as a restarted process (or a Worker, on every invocation) would.
//!
//! The `try_` methods return a [`SimError`]; their short forms
//! ([`Scenario::tick`], [`Scenario::run_until`], [`SimSentinel::submit`])
//! are for tests and panic with that error instead, which with these
//! fakes only happens when a test injects more conflicts than the tick
//! retries.

pub mod conformance;
mod fakes;
mod provider;
mod rng;

pub use fakes::{MemoryStore, SimProber, FOREIGN_SOURCE};
pub use provider::{Fault, SimProvider};
pub use rng::SimRng;

use crate::action::Action;
use crate::books::Metric;
use crate::config::{Config, Errors, ProviderConfig};
use crate::engine::{Engine, Event, EventKind, IngestReport, UsageTarget};
use crate::tick::{Sentinel, Store as _, TickError, TickReport};
use crate::time::{UnixMillis, SECOND};
use crate::{ProviderId, ServiceId};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;

/// A steady usage burn on a provider (requests per simulated second), as
/// the proxy would report it.
#[derive(Clone, Debug)]
pub struct Burn {
    /// Provider.
    pub provider: ProviderId,
    /// Metric burned.
    pub metric: Metric,
    /// Amount per second.
    pub per_second: u64,
    /// From when.
    pub from: UnixMillis,
    /// Until when.
    pub until: UnixMillis,
}

/// One logged action with its time.
#[derive(Clone, Debug, PartialEq)]
pub struct Logged {
    /// When it happened.
    pub at: UnixMillis,
    /// What.
    pub action: Action,
}

/// Why a scenario step failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A future of the sentinel did not complete at its first poll. The
    /// in-memory store and the simulated prober never wait, so this is a
    /// bug in the fakes or in the tick, not something to wait out.
    #[error("the sentinel's {0} did not complete at once, though the in-memory fakes never wait")]
    Pending(&'static str),
    /// The sentinel failed (an invalid configuration, or conflicts a test
    /// injected that the tick gave up on).
    #[error(transparent)]
    Tick(#[from] TickError<Infallible>),
}

/// Runs a future of the sentinel over the in-memory fakes, which is ready
/// at its first poll.
fn ready<T>(what: &'static str, fut: impl Future<Output = T>) -> Result<T, SimError> {
    fut.now_or_never().ok_or(SimError::Pending(what))
}

/// The sentinel a [`Scenario`] drives: the shipped [`Sentinel`] over the
/// in-memory store and the simulated prober.
///
/// It dereferences to the sentinel's [`Engine`] (read-only), so
/// `scenario.engine.state()` and the other views read what the shipped
/// tick built. It has no mutable access to the engine: changes go through
/// the sentinel ([`SimSentinel::submit`], [`SimSentinel::record`],
/// [`SimSentinel::sentinel_mut`]) and are committed like a shell's.
#[derive(Debug)]
pub struct SimSentinel(Sentinel<MemoryStore, SimProber>);

impl std::ops::Deref for SimSentinel {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.0.engine()
    }
}

impl SimSentinel {
    /// The sentinel: its store (committed state, observation and audit
    /// logs, write count), its prober and its committed version.
    pub fn sentinel(&self) -> &Sentinel<MemoryStore, SimProber> {
        &self.0
    }

    /// The sentinel, to change it the way a shell does.
    pub fn sentinel_mut(&mut self) -> &mut Sentinel<MemoryStore, SimProber> {
        &mut self.0
    }

    /// Submits a provider through the sentinel ([`Sentinel::submit`]: the
    /// `POST /v1/providers` route), committed at once. The inner result is
    /// the validation's.
    pub fn try_submit(
        &mut self,
        now: UnixMillis,
        service: &ServiceId,
        provider: ProviderConfig,
    ) -> Result<Result<(), Errors>, SimError> {
        Ok(ready("submit", self.0.submit(now, service, provider))??)
    }

    /// [`SimSentinel::try_submit`] for tests: the validation's result.
    ///
    /// # Panics
    ///
    /// When the sentinel fails to commit (see [`SimError`]).
    #[track_caller]
    pub fn submit(
        &mut self,
        now: UnixMillis,
        service: &ServiceId,
        provider: ProviderConfig,
    ) -> Result<(), Errors> {
        self.try_submit(now, service, provider)
            .unwrap_or_else(|e| panic!("scenario: {e}"))
    }

    /// Records events through the sentinel ([`Sentinel::record`]): applied
    /// now, committed with the next tick.
    pub fn record(&mut self, now: UnixMillis, events: &[Event]) -> IngestReport {
        self.0.record(now, events)
    }
}

/// A healthy scheduled observation of `provider` at `at` (42 ms, 10
/// bytes, nothing checked): for tests of stores and routes.
pub fn observation(provider: crate::ProviderId, at: UnixMillis) -> crate::probe::Observation {
    crate::probe::Observation {
        provider,
        at,
        purpose: crate::probe::Purpose::Scheduled,
        outcome: crate::probe::Outcome::Ok,
        latency_ms: 42,
        bytes: 10,
        verdict: crate::quality::Verdict::default(),
        facts: crate::quality::Facts::default(),
        detail: None,
    }
}

/// A running scenario: the shipped tick on a virtual clock (see the
/// module docs).
#[derive(Debug)]
pub struct Scenario {
    /// The sentinel under test; it dereferences to its engine.
    pub engine: SimSentinel,
    /// The virtual clock: the time of the next step.
    pub now: UnixMillis,
    /// Synthetic providers by id (lent to the prober during a tick;
    /// unknown ids answer as `SimProvider::default()`).
    pub providers: BTreeMap<ProviderId, SimProvider>,
    /// Usage burns.
    pub burns: Vec<Burn>,
    /// The seeded RNG of the synthetic providers (lent to the prober
    /// during a tick).
    pub rng: SimRng,
    /// Every committed action so far, with the time of its tick.
    pub log: Vec<Logged>,
    /// Ticks run.
    pub ticks: u64,
    /// Probes sent (scheduled and canary).
    pub probes: u64,
    last_burn: UnixMillis,
}

impl Scenario {
    /// A scenario starting at `start` with a fresh state, on a
    /// compare-and-swap store whose writes are free (like the local redb
    /// store).
    pub fn new(config: Config, start: UnixMillis, seed: u64) -> Result<Scenario, SimError> {
        Scenario::with_store(config, start, seed, MemoryStore::default())
    }

    /// A scenario starting at `start` on `store` (for example
    /// [`MemoryStore::kv_like`]: last-writer-wins with a write budget, so
    /// no write-ahead log and one write per tick). A store that holds a
    /// state already is opened like a shell opens it.
    pub fn with_store(
        config: Config,
        start: UnixMillis,
        seed: u64,
        store: MemoryStore,
    ) -> Result<Scenario, SimError> {
        let prober = SimProber::new(start, seed);
        let sentinel = ready("open", Sentinel::open(config, store, prober, start))??;
        let providers = sentinel
            .engine()
            .registry()
            .providers()
            .map(|p| (p.config.id.clone(), SimProvider::default()))
            .collect();
        Ok(Scenario {
            engine: SimSentinel(sentinel),
            now: start,
            providers,
            burns: Vec::new(),
            rng: SimRng::seed(seed),
            log: Vec::new(),
            ticks: 0,
            probes: 0,
            last_burn: start,
        })
    }

    /// Replaces the synthetic behaviour of a provider.
    pub fn set(&mut self, id: &str, p: SimProvider) {
        if let Ok(id) = ProviderId::new(id) {
            self.providers.insert(id, p);
        }
    }

    /// The sentinel under test.
    pub fn sentinel(&self) -> &Sentinel<MemoryStore, SimProber> {
        self.engine.sentinel()
    }

    /// Runs one [`Sentinel::tick`] at [`Scenario::now`] (see the module
    /// docs) and returns its report. The clock does not move.
    pub fn try_tick(&mut self) -> Result<TickReport, SimError> {
        self.ticks += 1;
        self.book_burns();
        let prober = self.engine.0.prober();
        prober.now.set(self.now);
        let clock = {
            let now = prober.now.clone();
            move || now.get()
        };
        // Lend the providers and the RNG to the prober, and take them back
        // whatever the tick did.
        std::mem::swap(&mut self.providers, &mut *prober.providers.borrow_mut());
        std::mem::swap(&mut self.rng, &mut *prober.rng.borrow_mut());
        let result = ready("tick", self.engine.0.tick(&clock));
        let prober = self.engine.0.prober();
        std::mem::swap(&mut self.providers, &mut *prober.providers.borrow_mut());
        std::mem::swap(&mut self.rng, &mut *prober.rng.borrow_mut());
        let report = result??;
        self.probes += u64::from(report.probes);
        self.log.extend(report.actions.iter().map(|action| Logged {
            at: report.at,
            action: action.clone(),
        }));
        Ok(report)
    }

    /// [`Scenario::try_tick`] for tests.
    ///
    /// # Panics
    ///
    /// When the tick fails (see [`SimError`]).
    #[track_caller]
    pub fn tick(&mut self) -> TickReport {
        self.try_tick()
            .unwrap_or_else(|e| panic!("scenario tick at {}: {e}", self.now))
    }

    /// Books the burns since the last step through the sentinel, stamped
    /// with its source and sequence numbers, as a shell books proxied
    /// usage before a scheduled tick.
    fn book_burns(&mut self) {
        let (from, to) = (self.last_burn, self.now);
        self.last_burn = to;
        let kinds: Vec<EventKind> = self
            .burns
            .iter()
            .filter_map(|b| {
                let start = from.max(b.from);
                let end = to.min(b.until);
                (end > start).then(|| EventKind::Usage {
                    target: UsageTarget::Provider(b.provider.clone()),
                    metric: b.metric,
                    amount: b.per_second.saturating_mul((end - start) / SECOND),
                })
            })
            .collect();
        self.engine.0.record_kinds(self.now, kinds);
    }

    /// Ticks on the sentinel's wake-ups until `until`: after each tick the
    /// clock jumps to the report's `next_wakeup`, at least one simulated
    /// second later and at most to `until` (so at most one tick per
    /// simulated second).
    pub fn try_run_until(&mut self, until: UnixMillis) -> Result<(), SimError> {
        while self.now < until {
            let report = self.try_tick()?;
            let next = report.next_wakeup.max(self.now + SECOND);
            self.now = next.min(until.max(self.now + SECOND));
        }
        Ok(())
    }

    /// [`Scenario::try_run_until`] for tests.
    ///
    /// # Panics
    ///
    /// When a tick fails (see [`SimError`]).
    #[track_caller]
    pub fn run_until(&mut self, until: UnixMillis) {
        if let Err(e) = self.try_run_until(until) {
            panic!("scenario tick at {}: {e}", self.now);
        }
    }

    /// A copy of this scenario as a new process would see it: a sentinel
    /// opened on a copy of the store (the committed state, the observation,
    /// audit and event logs) with the same probe budget, and the same
    /// clock, providers, RNG, burns and log. What the sentinel had not
    /// committed is not copied, nor are outbox destinations set through
    /// [`SimSentinel::sentinel_mut`].
    pub fn fork(&self) -> Result<Scenario, SimError> {
        let old = self.engine.sentinel().store();
        let store = MemoryStore::with(old.capabilities());
        store.state.replace(old.state.borrow().clone());
        store
            .observations
            .replace(old.observations.borrow().clone());
        store.audit.replace(old.audit.borrow().clone());
        store.conflicts_to_inject.set(old.conflicts_to_inject.get());
        store.writes.set(old.writes.get());
        store.journal.replace(old.journal.borrow().clone());
        let prober = SimProber::new(self.now, 0);
        let mut sentinel = ready(
            "open",
            Sentinel::open(self.engine.config().clone(), store, prober, self.now),
        )??;
        // The shell's capability, as the old sentinel had it (the
        // effective budget: the capability under the operator's cap).
        sentinel.set_probe_budget(self.engine.probe_budget());
        Ok(Scenario {
            engine: SimSentinel(sentinel),
            now: self.now,
            providers: self.providers.clone(),
            burns: self.burns.clone(),
            rng: self.rng.clone(),
            log: self.log.clone(),
            ticks: self.ticks,
            probes: self.probes,
            last_burn: self.last_burn,
        })
    }

    /// Restarts the sentinel: it is dropped and a new one is opened on its
    /// store at [`Scenario::now`], replaying the logged observations its
    /// committed state has not absorbed, as a restarted shell (or a
    /// Worker, on every invocation) would.
    pub fn restart(&mut self) -> Result<(), SimError> {
        *self = self.fork()?;
        Ok(())
    }

    /// Completed switches so far, with their times.
    pub fn switches(&self) -> Vec<(UnixMillis, crate::state::SwitchRecord)> {
        self.log
            .iter()
            .filter_map(|l| match &l.action {
                Action::Switch { record } => Some((l.at, record.clone())),
                _ => None,
            })
            .collect()
    }

    /// Alerts fired so far: `(time, key, firing)`.
    pub fn alerts(&self) -> Vec<(UnixMillis, String, bool)> {
        self.log
            .iter()
            .filter_map(|l| match &l.action {
                Action::Alert { key, firing, .. } => Some((l.at, key.clone(), *firing)),
                _ => None,
            })
            .collect()
    }

    /// The active provider of a service.
    pub fn active(&self, service: &str) -> Option<String> {
        self.engine
            .state()
            .services
            .get(service)
            .and_then(|s| s.active.as_ref())
            .map(|p| p.to_string())
    }
}
