//! In-memory fakes of the shell traits, for tests of the shared tick and
//! for shells' own tests: a [`MemoryStore`] (with injectable write
//! conflicts and crashes) and a [`SimProber`] over synthetic providers.

use super::{SimProvider, SimRng};
use crate::probe::{Observation, ProbeRequest, ProbeResult};
use crate::tick::{AuditEntry, Commit, Prober, Store, Stored};
use crate::time::UnixMillis;
use crate::ProviderId;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::rc::Rc;

/// A store in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// The committed state.
    pub state: RefCell<Option<Stored>>,
    /// The observation log.
    pub observations: RefCell<Vec<Observation>>,
    /// The audit log.
    pub audit: RefCell<Vec<AuditEntry>>,
    /// Commits to refuse with a conflict before accepting again (another
    /// writer "wins" that many times; its state is whatever is stored).
    pub conflicts_to_inject: Cell<u32>,
}

impl Store for MemoryStore {
    type Error = Infallible;
    async fn load(&self) -> Result<Option<Stored>, Infallible> {
        Ok(self.state.borrow().clone())
    }
    async fn log_observations(&self, obs: &[Observation]) -> Result<(), Infallible> {
        self.observations.borrow_mut().extend(obs.iter().cloned());
        Ok(())
    }
    async fn observations_since(&self, since: UnixMillis) -> Result<Vec<Observation>, Infallible> {
        Ok(self
            .observations
            .borrow()
            .iter()
            .filter(|o| o.at >= since)
            .cloned()
            .collect())
    }
    async fn commit(
        &self,
        expected: Option<u64>,
        state: &[u8],
        audit: &[AuditEntry],
    ) -> Result<Commit, Infallible> {
        if self.conflicts_to_inject.get() > 0 {
            self.conflicts_to_inject
                .set(self.conflicts_to_inject.get() - 1);
            // Another writer bumps the version without changing the state.
            let mut st = self.state.borrow_mut();
            let bumped = st.as_ref().map_or(1, |s| s.version + 1);
            let bytes = st
                .as_ref()
                .map(|s| s.bytes.clone())
                .unwrap_or_else(|| crate::State::default().to_bytes());
            *st = Some(Stored {
                bytes,
                version: bumped,
            });
            return Ok(Commit::Conflict);
        }
        let mut st = self.state.borrow_mut();
        let current = st.as_ref().map(|s| s.version);
        if current != expected {
            return Ok(Commit::Conflict);
        }
        let version = current.map_or(1, |v| v + 1);
        *st = Some(Stored {
            bytes: state.to_vec(),
            version,
        });
        self.audit.borrow_mut().extend(audit.iter().cloned());
        Ok(Commit::Committed { version })
    }
}

/// A prober over synthetic providers, on a shared virtual clock.
#[derive(Debug)]
pub struct SimProber {
    /// Providers by id (unknown ids answer as `SimProvider::default()`).
    pub providers: RefCell<BTreeMap<ProviderId, SimProvider>>,
    /// The virtual clock (shared with the test's clock closure).
    pub now: Rc<Cell<UnixMillis>>,
    /// The seeded RNG.
    pub rng: RefCell<SimRng>,
}

impl SimProber {
    /// A prober at `now` with `seed`.
    pub fn new(now: UnixMillis, seed: u64) -> Self {
        SimProber {
            providers: RefCell::new(BTreeMap::new()),
            now: Rc::new(Cell::new(now)),
            rng: RefCell::new(SimRng::seed(seed)),
        }
    }
}

impl Prober for SimProber {
    async fn probe(&self, req: &ProbeRequest) -> ProbeResult {
        let sim = self
            .providers
            .borrow()
            .get(&req.provider)
            .cloned()
            .unwrap_or_default();
        sim.respond(req, self.now.get(), &mut self.rng.borrow_mut())
    }
}
