//! The tick, written once for every shell.
//!
//! A shell implements two small traits — a [`Store`] over KV, DynamoDB or
//! an embedded database, and a [`Prober`] over Fetch or an HTTP client —
//! and calls [`Sentinel::tick`] from its cron handler or loop. Everything
//! else happens here:
//!
//! 1. `plan(now)` → the probes due, within the probe budget;
//! 2. probes run concurrently (the prober enforces timeouts, size caps and
//!    the SSRF guard) and become observations through the core's checks;
//! 3. the observations are logged to the store *before* they are applied
//!    (a write-ahead log: a crash after this point loses none of them);
//! 4. `ingest` and `decide`, with up to three canary rounds;
//! 5. the state and the audit entries are committed together, conditional
//!    on the version loaded. On a conflict (another tick committed first)
//!    the state is reloaded, this tick's observations re-ingested
//!    (idempotent), the decision re-made and committed again — the
//!    actions of the lost attempt were never committed, so no switch is
//!    ever applied twice.
//!
//! Opening a sentinel replays logged observations newer than the saved
//! state, so a `kill -9` between steps 3 and 5 loses nothing.

use crate::action::{Action, Decision};
use crate::config::{Config, Errors, ProviderConfig};
use crate::engine::{Engine, EngineError, IngestReport};
use crate::probe::{Observation, ProbeRequest, ProbeResult};
use crate::state::{State, StateError};
use crate::time::{UnixMillis, DAY};
use crate::ServiceId;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A committed state and the version it was committed as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// `State::to_bytes()`.
    pub bytes: Vec<u8>,
    /// Version for the next conditional write.
    pub version: u64,
}

/// Result of a conditional commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// Written; the new version.
    Committed {
        /// New version.
        version: u64,
    },
    /// Someone else committed first: nothing was written.
    Conflict,
}

/// One audit-log entry: an action and when it was committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub at: UnixMillis,
    /// The state revision it belongs to.
    pub revision: u64,
    /// What.
    pub action: Action,
}

/// Where a shell keeps the state, the observation log and the audit log.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The store's error.
    type Error: std::error::Error + 'static;
    /// The latest committed state, if any.
    fn load(&self) -> impl Future<Output = Result<Option<Stored>, Self::Error>>;
    /// Durably logs observations before they are applied. A store that
    /// cannot afford the writes (a Worker's KV budget) may keep them in
    /// memory and say so.
    fn log_observations(
        &self,
        obs: &[Observation],
    ) -> impl Future<Output = Result<(), Self::Error>>;
    /// Logged observations taken at or after `since`, oldest first.
    fn observations_since(
        &self,
        since: UnixMillis,
    ) -> impl Future<Output = Result<Vec<Observation>, Self::Error>>;
    /// Atomically writes the state if the stored version is still
    /// `expected` (`None`: nothing stored yet) and appends the audit
    /// entries.
    fn commit(
        &self,
        expected: Option<u64>,
        state: &[u8],
        audit: &[AuditEntry],
    ) -> impl Future<Output = Result<Commit, Self::Error>>;
}

/// Sends probes. The shell enforces the request's timeout and size cap,
/// opens its secret headers, and refuses private targets unless
/// `allow_private` (the SSRF guard).
pub trait Prober {
    /// Sends one probe.
    fn probe(&self, req: &ProbeRequest) -> impl Future<Output = ProbeResult>;
}

/// Errors of the shared tick.
#[derive(Debug, thiserror::Error)]
pub enum TickError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[source] E),
    /// The stored state could not be read.
    #[error("stored state: {0}")]
    State(#[from] StateError),
    /// The configuration is invalid.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Conflicting writers kept winning.
    #[error("gave up after {0} conflicting commits")]
    Contended(u32),
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TickReport {
    /// When it started.
    pub at: UnixMillis,
    /// Probes sent (scheduled and canary).
    pub probes: u32,
    /// Probes that were due but did not fit the budget.
    pub deferred: u32,
    /// The observations made.
    pub observations: Vec<Observation>,
    /// What ingest said about them.
    pub ingest: IngestReport,
    /// The committed actions.
    pub actions: Vec<Action>,
    /// The committed state's version.
    pub version: u64,
    /// Conflicts resolved on the way.
    pub conflicts: u32,
    /// When the next tick is due.
    pub next_wakeup: UnixMillis,
}

/// A sentinel: the engine plus the shell's store and prober.
#[derive(Debug)]
pub struct Sentinel<S, P> {
    config: Config,
    engine: Engine,
    version: Option<u64>,
    store: S,
    prober: P,
}

const MAX_ATTEMPTS: u32 = 3;

impl<S: Store, P: Prober> Sentinel<S, P> {
    /// Loads the state from the store (or starts fresh), replays logged
    /// observations newer than it, and is ready to tick.
    pub async fn open(
        config: Config,
        store: S,
        prober: P,
        now: UnixMillis,
    ) -> Result<Self, TickError<S::Error>> {
        let (state, version) = match store.load().await.map_err(TickError::Store)? {
            Some(s) => (State::from_bytes(&s.bytes)?, Some(s.version)),
            None => (State::default(), None),
        };
        let replay_from = state
            .last_decide
            .saturating_sub(DAY)
            .max(now.saturating_sub(DAY));
        let mut engine = Engine::new(config.clone(), state, now)?;
        let logged = store
            .observations_since(replay_from)
            .await
            .map_err(TickError::Store)?;
        if !logged.is_empty() {
            engine.ingest(now, &logged);
        }
        Ok(Sentinel {
            config,
            engine,
            version,
            store,
            prober,
        })
    }

    /// The engine (read-only: the API renders from it).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The prober.
    pub fn prober(&self) -> &P {
        &self.prober
    }

    /// The committed version.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    async fn run_probes(
        &self,
        reqs: &[ProbeRequest],
        clock: &dyn Fn() -> UnixMillis,
    ) -> Vec<Observation> {
        let futs = reqs.iter().map(|req| async move {
            let at = clock();
            let result = self.prober.probe(req).await;
            self.engine.observe(req, at, result)
        });
        join_all(futs).await.into_iter().flatten().collect()
    }

    /// Runs one tick; see the module docs.
    pub async fn tick(
        &mut self,
        clock: &dyn Fn() -> UnixMillis,
    ) -> Result<TickReport, TickError<S::Error>> {
        let at = clock();
        let plan = self.engine.plan(at);
        let mut report = TickReport {
            at,
            deferred: plan.deferred,
            ..TickReport::default()
        };
        let mut observations = self.run_probes(&plan.probes, clock).await;
        report.probes = plan.probes.len() as u32;
        self.store
            .log_observations(&observations)
            .await
            .map_err(TickError::Store)?;
        report.ingest = self.engine.ingest(clock(), &observations);

        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut actions = Vec::new();
            let mut d: Decision = self.engine.decide(clock());
            for _ in 0..3 {
                actions.append(&mut d.actions);
                if d.canaries.is_empty() {
                    break;
                }
                let canary_obs = self.run_probes(&d.canaries, clock).await;
                report.probes += d.canaries.len() as u32;
                self.store
                    .log_observations(&canary_obs)
                    .await
                    .map_err(TickError::Store)?;
                self.engine.ingest(clock(), &canary_obs);
                observations.extend(canary_obs);
                d = self.engine.decide(clock());
            }
            actions.append(&mut d.actions);
            let revision = self.engine.state().revision;
            let now = clock();
            let audit: Vec<AuditEntry> = actions
                .iter()
                .map(|a| AuditEntry {
                    at: now,
                    revision,
                    action: a.clone(),
                })
                .collect();
            let bytes = self.engine.state().to_bytes();
            match self
                .store
                .commit(self.version, &bytes, &audit)
                .await
                .map_err(TickError::Store)?
            {
                Commit::Committed { version } => {
                    self.version = Some(version);
                    report.version = version;
                    report.actions = actions;
                    report.observations = observations;
                    report.next_wakeup = self.engine.next_wakeup(clock());
                    return Ok(report);
                }
                Commit::Conflict if attempt < MAX_ATTEMPTS => {
                    report.conflicts += 1;
                    self.reload(clock()).await?;
                    self.engine.ingest(clock(), &observations);
                }
                Commit::Conflict => return Err(TickError::Contended(attempt)),
            }
        }
    }

    async fn reload(&mut self, now: UnixMillis) -> Result<(), TickError<S::Error>> {
        let (state, version) = match self.store.load().await.map_err(TickError::Store)? {
            Some(s) => (State::from_bytes(&s.bytes)?, Some(s.version)),
            None => (State::default(), None),
        };
        self.engine = Engine::new(self.config.clone(), state, now)?;
        self.version = version;
        Ok(())
    }

    /// Applies `change` to the engine and commits the state with no
    /// actions; on a conflict, reloads the winner's state and applies
    /// `change` again. `change` may refuse (the caller's error, returned
    /// as is, nothing committed).
    async fn change_and_commit<E>(
        &mut self,
        now: UnixMillis,
        mut change: impl FnMut(&mut Engine) -> Result<(), E>,
    ) -> Result<Result<u64, E>, TickError<S::Error>> {
        for _ in 0..MAX_ATTEMPTS {
            if let Err(e) = change(&mut self.engine) {
                return Ok(Err(e));
            }
            let bytes = self.engine.state().to_bytes();
            match self
                .store
                .commit(self.version, &bytes, &[])
                .await
                .map_err(TickError::Store)?
            {
                Commit::Committed { version } => {
                    self.version = Some(version);
                    return Ok(Ok(version));
                }
                Commit::Conflict => self.reload(now).await?,
            }
        }
        Err(TickError::Contended(MAX_ATTEMPTS))
    }

    /// Submits a provider (the `POST /v1/providers` route) and commits it
    /// at once, retrying on a conflict.
    pub async fn submit(
        &mut self,
        now: UnixMillis,
        service: &ServiceId,
        provider: ProviderConfig,
    ) -> Result<Result<(), Errors>, TickError<S::Error>> {
        let done = self
            .change_and_commit(now, |engine| engine.submit(now, service, provider.clone()))
            .await?;
        Ok(done.map(|_| ()))
    }

    /// Commits the current state (events recorded since the last tick) with
    /// no actions, retrying on a conflict. For a clean shutdown.
    pub async fn save(&mut self, now: UnixMillis) -> Result<u64, TickError<S::Error>> {
        match self
            .change_and_commit(now, |_| Ok::<(), std::convert::Infallible>(()))
            .await?
        {
            Ok(version) => Ok(version),
            Err(never) => match never {},
        }
    }

    /// Applies events (proxy usage, retries) to the engine; they are
    /// committed with the next tick. Returns what was applied.
    pub fn record(&mut self, now: UnixMillis, events: &[crate::engine::Event]) -> IngestReport {
        self.engine.record(now, events)
    }
}
