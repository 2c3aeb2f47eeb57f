//! The scenario driver: a virtual clock, synthetic providers with a seeded
//! fault injector, and the tick loop every shell runs, so days of simulated
//! time run in seconds and every switch, alert and ladder step can be
//! asserted with its time. Available with the `test-utils` feature.

pub mod conformance;
mod fakes;
mod provider;
mod rng;

pub use fakes::{MemoryStore, SimProber, FOREIGN_SOURCE};
pub use provider::{Fault, SimProvider};
pub use rng::SimRng;

use crate::action::Action;
use crate::books::Metric;
use crate::config::Config;
use crate::engine::{Engine, Event, EventKind, UsageTarget};
use crate::probe::ProbeRequest;
use crate::state::State;
use crate::time::{UnixMillis, SECOND};
use crate::ProviderId;
use std::collections::BTreeMap;

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

/// A running scenario.
#[derive(Debug)]
pub struct Scenario {
    /// The engine under test.
    pub engine: Engine,
    /// The virtual clock.
    pub now: UnixMillis,
    /// Synthetic providers by id.
    pub providers: BTreeMap<ProviderId, SimProvider>,
    /// Usage burns.
    pub burns: Vec<Burn>,
    /// The seeded RNG.
    pub rng: SimRng,
    /// Every action so far.
    pub log: Vec<Logged>,
    /// Ticks run.
    pub ticks: u64,
    /// Probes sent.
    pub probes: u64,
    last_burn: UnixMillis,
    event_seq: u64,
}

impl Scenario {
    /// A scenario starting at `start` with a fresh state.
    pub fn new(
        config: Config,
        start: UnixMillis,
        seed: u64,
    ) -> Result<Scenario, crate::engine::EngineError> {
        let engine = Engine::new(config, State::default(), start)?;
        let providers = engine
            .registry()
            .providers()
            .map(|p| (p.config.id.clone(), SimProvider::default()))
            .collect();
        Ok(Scenario {
            engine,
            now: start,
            providers,
            burns: Vec::new(),
            rng: SimRng::seed(seed),
            log: Vec::new(),
            ticks: 0,
            probes: 0,
            last_burn: start,
            event_seq: 0,
        })
    }

    /// Replaces the synthetic behaviour of a provider.
    pub fn set(&mut self, id: &str, p: SimProvider) {
        if let Ok(id) = ProviderId::new(id) {
            self.providers.insert(id, p);
        }
    }

    fn run_probes(&mut self, reqs: &[ProbeRequest]) -> Vec<crate::probe::Observation> {
        let now = self.now;
        reqs.iter()
            .filter_map(|req| {
                self.probes += 1;
                let sim = self
                    .providers
                    .get(&req.provider)
                    .cloned()
                    .unwrap_or_default();
                let result = sim.respond(req, now, &mut self.rng);
                self.engine.observe(req, now, result)
            })
            .collect()
    }

    /// Runs one tick at the current time: plan, probe, ingest, decide and
    /// up to three canary rounds.
    pub fn tick(&mut self) {
        self.ticks += 1;
        self.apply_burns();
        let plan = self.engine.plan(self.now);
        let obs = self.run_probes(&plan.probes);
        self.engine.ingest(self.now, &obs);
        let mut d = self.engine.decide(self.now);
        for _ in 0..3 {
            self.log.extend(d.actions.drain(..).map(|action| Logged {
                at: self.now,
                action,
            }));
            if d.canaries.is_empty() {
                break;
            }
            let obs = self.run_probes(&d.canaries);
            self.engine.ingest(self.now, &obs);
            d = self.engine.decide(self.now);
        }
        self.log.extend(d.actions.drain(..).map(|action| Logged {
            at: self.now,
            action,
        }));
    }

    fn apply_burns(&mut self) {
        let (from, to) = (self.last_burn, self.now);
        self.last_burn = to;
        let mut events = Vec::new();
        for b in &self.burns {
            let start = from.max(b.from);
            let end = to.min(b.until);
            if end > start {
                let amount = b.per_second.saturating_mul((end - start) / SECOND);
                self.event_seq += 1;
                events.push(Event {
                    source: "sim".into(),
                    seq: self.event_seq,
                    at: end,
                    kind: EventKind::Usage {
                        target: UsageTarget::Provider(b.provider.clone()),
                        metric: b.metric,
                        amount,
                    },
                });
            }
        }
        if !events.is_empty() {
            self.engine.record(self.now, &events);
        }
    }

    /// Runs ticks on the engine's wake-ups until `until` (bounded: at most
    /// one tick per simulated second).
    pub fn run_until(&mut self, until: UnixMillis) {
        while self.now < until {
            self.tick();
            let next = self.engine.next_wakeup(self.now).max(self.now + SECOND);
            self.now = next.min(until.max(self.now + SECOND));
        }
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
