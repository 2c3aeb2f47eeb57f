//! In-memory fakes of the shell traits, for tests of the shared tick and
//! for shells' own tests: a [`MemoryStore`] (compare-and-swap or
//! last-writer-wins, with a write budget, injectable foreign writes and a
//! write counter) and a [`SimProber`] over synthetic providers.

use super::{SimProvider, SimRng};
use crate::engine::Event;
use crate::probe::{Observation, ProbeRequest, ProbeResult};
use crate::tick::{
    AuditEntry, Capabilities, Commit, CommitBatch, Consistency, Prober, Store, Stored,
};
use crate::time::UnixMillis;
use crate::ProviderId;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::rc::Rc;

/// The event source a foreign writer leaves in the state it writes, so a
/// test can tell a merge (it survives) from an overwrite (it is gone).
pub const FOREIGN_SOURCE: &str = "foreign-writer";

/// A store in memory.
#[derive(Debug)]
pub struct MemoryStore {
    /// What it promises.
    pub caps: Capabilities,
    /// The committed state.
    pub state: RefCell<Option<Stored>>,
    /// The observation log.
    pub observations: RefCell<Vec<Observation>>,
    /// The audit log.
    pub audit: RefCell<Vec<AuditEntry>>,
    /// Commits preceded by a foreign writer's commit: another writer
    /// "wins" that many times, writing a *different* state (the stored one
    /// with a [`FOREIGN_SOURCE`] watermark bumped).
    pub conflicts_to_inject: Cell<u32>,
    /// Writes made (write-ahead logs, journal appends and commits).
    pub writes: Cell<u64>,
    /// Reads of the observation log.
    pub log_reads: Cell<u64>,
    /// The event journal (kept only when the store is unbudgeted).
    pub journal: RefCell<Vec<Event>>,
}

impl Default for MemoryStore {
    /// Compare-and-swap, unbudgeted: like the local redb store.
    fn default() -> Self {
        MemoryStore::with(Capabilities {
            consistency: Consistency::CompareAndSwap,
            writes_per_day: None,
        })
    }
}

impl MemoryStore {
    /// A store with these capabilities.
    pub fn with(caps: Capabilities) -> Self {
        MemoryStore {
            caps,
            state: RefCell::new(None),
            observations: RefCell::new(Vec::new()),
            audit: RefCell::new(Vec::new()),
            conflicts_to_inject: Cell::new(0),
            writes: Cell::new(0),
            log_reads: Cell::new(0),
            journal: RefCell::new(Vec::new()),
        }
    }

    /// Last-writer-wins with a budget of 1,000 writes a day: like Workers
    /// KV on the free plan.
    pub fn kv_like() -> Self {
        MemoryStore::with(Capabilities {
            consistency: Consistency::LastWriterWins,
            writes_per_day: Some(1_000),
        })
    }

    /// Another writer commits a different state now.
    pub fn foreign_write(&self) {
        let mut st = self.state.borrow_mut();
        let mut state = st
            .as_ref()
            .and_then(|s| crate::State::from_bytes(&s.bytes).ok())
            .unwrap_or_default();
        let version = st.as_ref().map_or(1, |s| s.version + 1);
        state
            .usage_watermarks
            .insert(FOREIGN_SOURCE.to_string(), version);
        *st = Some(Stored {
            bytes: state.to_bytes(),
            version,
        });
        self.writes.set(self.writes.get() + 1);
    }

    fn append(&self, obs: &[Observation]) {
        let Some(oldest) = obs.iter().map(|o| o.at).min() else {
            return;
        };
        let mut log = self.observations.borrow_mut();
        // The log is sorted by time: only its tail can hold a duplicate.
        let from = log.partition_point(|l| l.at < oldest);
        let mut seen: std::collections::BTreeSet<(ProviderId, UnixMillis, crate::probe::Purpose)> =
            log[from..]
                .iter()
                .map(|l| (l.provider.clone(), l.at, l.purpose))
                .collect();
        for o in obs {
            if seen.insert((o.provider.clone(), o.at, o.purpose)) {
                log.push(o.clone());
            }
        }
        log.sort_by_key(|o| o.at);
    }
}

impl Store for MemoryStore {
    type Error = Infallible;
    fn capabilities(&self) -> Capabilities {
        self.caps
    }
    async fn load(&self) -> Result<Option<Stored>, Infallible> {
        Ok(self.state.borrow().clone())
    }
    async fn log_observations(&self, obs: &[Observation]) -> Result<(), Infallible> {
        self.append(obs);
        self.writes.set(self.writes.get() + 1);
        Ok(())
    }
    async fn observations_since(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Observation>, Infallible> {
        self.log_reads.set(self.log_reads.get() + 1);
        let log = self.observations.borrow();
        let matching: Vec<Observation> = log.iter().filter(|o| o.at >= since).cloned().collect();
        let skip = matching.len().saturating_sub(limit);
        Ok(matching.into_iter().skip(skip).collect())
    }
    async fn commit(
        &self,
        expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, Infallible> {
        if self.conflicts_to_inject.get() > 0 {
            self.conflicts_to_inject
                .set(self.conflicts_to_inject.get() - 1);
            self.foreign_write();
            if self.caps.consistency == Consistency::CompareAndSwap {
                return Ok(Commit::Conflict);
            }
        }
        let current = self.state.borrow().as_ref().map(|s| s.version);
        if self.caps.consistency == Consistency::CompareAndSwap && current != expected {
            return Ok(Commit::Conflict);
        }
        let version = current.map_or(1, |v| v + 1);
        *self.state.borrow_mut() = Some(Stored {
            bytes: batch.state.to_bytes(),
            version,
        });
        self.append(batch.observations);
        self.observations
            .borrow_mut()
            .retain(|o| o.at >= batch.keep_observations_since);
        self.audit.borrow_mut().extend(batch.audit.iter().cloned());
        self.journal.borrow_mut().retain(|e| {
            batch
                .absorbed_events
                .get(&e.source)
                .is_none_or(|w| e.seq > *w)
        });
        self.writes.set(self.writes.get() + 1);
        Ok(Commit::Committed { version })
    }
    async fn journal(&self, events: &[Event]) -> Result<(), Infallible> {
        if self.caps.budgeted() || events.is_empty() {
            return Ok(());
        }
        let mut j = self.journal.borrow_mut();
        for e in events {
            if !j.iter().any(|x| x.source == e.source && x.seq == e.seq) {
                j.push(e.clone());
            }
        }
        self.writes.set(self.writes.get() + 1);
        Ok(())
    }
    async fn journaled(&self) -> Result<Vec<Event>, Infallible> {
        Ok(self.journal.borrow().clone())
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
