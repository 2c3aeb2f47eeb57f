//! The tick, written once for every shell.
//!
//! A shell implements a [`Store`] over KV, DynamoDB or an embedded
//! database (the [`Prober`] is the shared [`crate::host::HostClient`] over
//! the shell's outbound HTTP) and calls the scheduled entry point
//! ([`crate::host::Host::scheduled`]), which runs [`Sentinel::tick`].
//! Everything else happens here:
//!
//! 0. on a store with a write budget, the pacing rule
//!    ([`crate::books::pace`]) decides whether this wake-up may do work
//!    that will commit; one that would run ahead of the allowance is
//!    skipped entirely — no probes, no write — and says so
//!    ([`TickReport::paced`], with the `next_wakeup` at which the next
//!    write is allowed);
//! 1. `plan(now)` → the probes due, within the probe budget;
//! 2. probes run concurrently (the prober enforces timeouts, size caps and
//!    the SSRF guard) and become observations through the core's checks;
//! 3. on a store whose writes are free, the observations are logged
//!    *before* they are applied (a write-ahead log: a crash after this
//!    point loses none of them);
//! 4. `ingest` and `decide`, with up to three canary rounds; committed
//!    alerts and switches go to the outbox ([`crate::outbox`]);
//! 5. one write: the state, the observations and the audit entries
//!    together ([`CommitBatch`]), conditional on the version loaded
//!    ([`Consistency`]). A wake-up that observed, recorded and decided
//!    nothing writes nothing.
//!
//! # Conflicts: rebase, never overwrite
//!
//! When another writer committed first (a CAS refusal, or with a
//! last-writer-wins store a changed version read just before writing),
//! the tick starts again from the winner's state and re-applies its own
//! inputs since its last commit — observations and events (proxy usage,
//! retries, deliveries), idempotent by their keys — then decides again on
//! the joined evidence. Nothing of either writer is lost, and the lost
//! attempt's actions were never committed, so no switch is applied twice
//! and no audit entry is written twice.
//!
//! The sentinel's own store writes are booked in its footprint in the
//! commit they belong to ([`crate::books::Metric::Writes`]).
//!
//! Opening a sentinel replays logged observations the state has not
//! absorbed yet, so a `kill -9` between steps 3 and 5 loses nothing.

use crate::action::{Action, Decision};
use crate::config::{Config, Errors, ProviderConfig};
use crate::encoded::EncodedState;
use crate::engine::{Engine, EngineError, Event, EventKind, IngestReport};
use crate::probe::{Observation, ProbeRequest, ProbeResult};
use crate::state::{State, StateError};
use crate::time::UnixMillis;
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

/// Whether a store can refuse a stale write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// The write is conditional on the version read (redb, DynamoDB): a
    /// stale writer gets [`Commit::Conflict`] and nothing is written.
    CompareAndSwap,
    /// The last write wins (Workers KV). The tick reads the version just
    /// before it writes and, when someone else wrote since it loaded,
    /// rebases its inputs on theirs first (see the module docs).
    LastWriterWins,
}

/// What a store can promise and afford.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Conditional writes or last-writer-wins.
    pub consistency: Consistency,
    /// Writes per day the store's plan allows (`None`: a local file,
    /// writes are free). A budgeted store gets at most one write per tick
    /// (state, new observations and audit entries together), and none for
    /// a wake-up that did nothing, and its wake-ups are paced to spread
    /// the budget over the day ([`crate::books::pace`]); an unbudgeted one
    /// also gets a write-ahead log of observations before they are
    /// applied.
    pub writes_per_day: Option<u32>,
}

impl Capabilities {
    /// Whether writes are counted against a budget.
    pub fn budgeted(&self) -> bool {
        self.writes_per_day.is_some()
    }
}

/// `config` with the store's daily write budget as a `writes` per `day`
/// quota of the sentinel's footprint, unless one is configured
/// ([`crate::books::with_store_budget`]): the footprint ledger then counts
/// the writes the pacing reads and the ladder alerts on. Applied by
/// [`Sentinel::open`]; a shell that builds engines of its own over the
/// same store (the host's submissions) applies it too, so every writer
/// keeps the counter.
pub fn config_for_store(mut config: Config, caps: Capabilities) -> Config {
    config.sentinel.footprint =
        crate::books::with_store_budget(&config.sentinel.footprint, caps.writes_per_day);
    config
}

/// What one commit writes, in one write.
#[derive(Clone, Copy, Debug)]
pub struct CommitBatch<'a> {
    /// The state, encoded in parts ([`EncodedState::to_bytes`] is
    /// `State::to_bytes()`): a store that can, writes only the parts that
    /// changed; others write the whole.
    pub state: &'a EncodedState,
    /// Observations applied since the last commit (the store keeps them
    /// for peers and for replay; an entry already written ahead may come
    /// again and must not be duplicated).
    pub observations: &'a [Observation],
    /// Audit entries to append.
    pub audit: &'a [AuditEntry],
    /// Observations taken before this time are absorbed by the state and
    /// no peer reads them any more: the store may drop them.
    pub keep_observations_since: UnixMillis,
    /// Per event source, the highest sequence number the state has
    /// absorbed: journaled events at or below it may be dropped.
    pub absorbed_events: &'a std::collections::BTreeMap<String, u64>,
}

/// Where a shell keeps the state, the observation log and the audit log.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The store's error.
    type Error: std::error::Error + 'static;
    /// What it can promise and afford.
    fn capabilities(&self) -> Capabilities;
    /// The latest committed state, if any.
    fn load(&self) -> impl Future<Output = Result<Option<Stored>, Self::Error>>;
    /// Durably logs observations before they are applied (called only
    /// when the store is not budgeted).
    fn log_observations(
        &self,
        obs: &[Observation],
    ) -> impl Future<Output = Result<(), Self::Error>>;
    /// Logged observations taken at or after `since`, oldest first, at
    /// most the newest `limit`.
    fn observations_since(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Observation>, Self::Error>>;
    /// Writes the batch in one write. With [`Consistency::CompareAndSwap`]
    /// only if the stored version is still `expected` (`None`: nothing
    /// stored yet); with [`Consistency::LastWriterWins`] unconditionally.
    fn commit(
        &self,
        expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> impl Future<Output = Result<Commit, Self::Error>>;
    /// Durably appends events recorded between ticks (proxied usage), so a
    /// `kill -9` loses at most the batch being written. A store that
    /// cannot afford the writes keeps the default, which persists nothing
    /// (the events then ride in the next commit).
    fn journal(&self, events: &[Event]) -> impl Future<Output = Result<(), Self::Error>> {
        let _ = events;
        async { Ok(()) }
    }
    /// Journaled events not yet dropped by a commit, any order.
    fn journaled(&self) -> impl Future<Output = Result<Vec<Event>, Self::Error>> {
        async { Ok(Vec::new()) }
    }
    /// Claims the alert deliveries `(notice, destination)` for this
    /// instance until `until` and says which were granted. Where instances
    /// of a shell overlap (two Worker invocations, two Lambda instances),
    /// each delivery must be granted to one of them, or a receiver gets an
    /// alert twice. The default grants all: a single process, whose host
    /// remembers its own attempts.
    fn claim_deliveries(
        &self,
        keys: &[(u64, u64)],
        now: UnixMillis,
        until: UnixMillis,
    ) -> impl Future<Output = Result<Vec<bool>, Self::Error>> {
        let _ = (now, until);
        let granted = vec![true; keys.len()];
        async move { Ok(granted) }
    }
}

/// A shared reference to a store, or an `Arc` of one, is that store (the
/// host's request side and its tick driver share one).
macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<T: Store + ?Sized> Store for $ty {
            type Error = T::Error;
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn load(&self) -> impl Future<Output = Result<Option<Stored>, Self::Error>> {
                (**self).load()
            }
            fn log_observations(
                &self,
                obs: &[Observation],
            ) -> impl Future<Output = Result<(), Self::Error>> {
                (**self).log_observations(obs)
            }
            fn observations_since(
                &self,
                since: UnixMillis,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<Observation>, Self::Error>> {
                (**self).observations_since(since, limit)
            }
            fn commit(
                &self,
                expected: Option<u64>,
                batch: &CommitBatch<'_>,
            ) -> impl Future<Output = Result<Commit, Self::Error>> {
                (**self).commit(expected, batch)
            }
            fn journal(&self, events: &[Event]) -> impl Future<Output = Result<(), Self::Error>> {
                (**self).journal(events)
            }
            fn journaled(&self) -> impl Future<Output = Result<Vec<Event>, Self::Error>> {
                (**self).journaled()
            }
            fn claim_deliveries(
                &self,
                keys: &[(u64, u64)],
                now: UnixMillis,
                until: UnixMillis,
            ) -> impl Future<Output = Result<Vec<bool>, Self::Error>> {
                (**self).claim_deliveries(keys, now, until)
            }
        }
    )*};
}
forward_store!(&T, std::sync::Arc<T>);

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
    /// The committed state's version (unchanged when nothing was written).
    pub version: u64,
    /// Store writes this tick made (write-ahead log and commit).
    pub writes: u32,
    /// Conflicts resolved on the way.
    pub conflicts: u32,
    /// When the next tick is due (for a paced wake-up: when the next
    /// write is allowed, or the next probe is due if that is later).
    pub next_wakeup: UnixMillis,
    /// Peers checked (and read) this tick.
    pub peers: u32,
    /// Skipped by the pacing rule of a budgeted store
    /// ([`crate::books::pace`]): no probes were sent and nothing was
    /// written.
    pub paced: bool,
}

/// How long observations stay in the store's log after the state absorbed
/// them, for a peer sentinel to read (10 minutes).
pub const PEER_WINDOW: u64 = 10 * crate::time::MINUTE;

/// A sentinel: the engine plus the shell's store and prober.
#[derive(Debug)]
pub struct Sentinel<S, P> {
    config: Config,
    engine: Engine,
    version: Option<u64>,
    store: S,
    prober: P,
    /// Inputs applied since the last commit, re-applied on top of a
    /// winning writer's state after a conflict.
    pending_observations: Vec<Observation>,
    pending_events: Vec<Event>,
    /// Outbox destinations (webhook URL digests).
    destinations: Vec<u64>,
    /// What the shell can probe per tick.
    probe_budget: u32,
    /// The shell's wake-up period (ms; 0: wakes when probes are due).
    wake_period: u64,
    /// Store writes not yet booked in the footprint.
    unbooked_writes: u64,
    /// Store reads and invocations (as the shell counts them) not yet
    /// booked (probes are booked by the engine as they are observed, one
    /// `requests` each): they ride in the next commit, and a wake-up that
    /// commits nothing never writes for them.
    unbooked_reads: u64,
    unbooked_invocations: u64,
    /// Store writes of the tick in progress.
    tick_writes: u32,
    /// Own events' sequence numbers.
    seq: u64,
    source: String,
    /// The secrets shared with the configured peers.
    peer_secrets: Vec<(crate::SentinelId, crate::peer::PeerSecret)>,
    /// Requests signed so far (part of each nonce).
    peer_counter: u64,
    /// Peer news applied since the last commit (re-applied after a
    /// conflict, like observations).
    pending_peer: Vec<PeerNews>,
    /// The catalog discovery reads (the built-in one unless set).
    catalog: Option<std::sync::Arc<crate::discovery::Catalog>>,
    /// Discovery runs applied since the last commit (applied again after
    /// a conflict) and their audit entries.
    pending_discovery: Vec<(UnixMillis, crate::discovery::Run)>,
    discovery_actions: Vec<Action>,
}

/// What one tick learned from one peer.
#[derive(Clone, Debug)]
struct PeerNews {
    peer: crate::SentinelId,
    at: UnixMillis,
    health: Result<u32, String>,
    read: Option<Result<crate::peer::exchange::Published, String>>,
}

/// Applies peer news; returns whether it changed what decisions read (a
/// peer's up/down state, its view of a provider, its routes, a read
/// failing or recovering). News that only moves timestamps and counters
/// is not worth a store write of its own: it is taken again next tick.
fn apply_peer_news(engine: &mut Engine, news: &[PeerNews]) -> bool {
    let before = peer_projection(engine);
    for n in news {
        engine.note_peer_check(&n.peer, n.at, n.health.clone());
        match &n.read {
            Some(Ok(p)) => {
                engine.absorb_peer(&n.peer, n.at, p);
            }
            Some(Err(e)) => engine.note_peer_read_error(&n.peer, n.at, e.clone()),
            None => {}
        }
    }
    peer_projection(engine) != before
}

type PeerProjection = Vec<(
    crate::SentinelId,
    (u32, bool, bool),
    Vec<(crate::ProviderId, bool, Option<UnixMillis>)>,
    Vec<(crate::ServiceId, crate::peer::PeerRoute)>,
)>;

fn peer_projection(engine: &Engine) -> PeerProjection {
    let after = engine.config().quorum.peer_down_after;
    engine
        .state()
        .peering
        .peers
        .iter()
        .map(|(id, p)| {
            (
                id.clone(),
                (
                    p.health.consecutive_failures.min(after),
                    p.is_up(),
                    p.read_error.is_some(),
                ),
                p.views
                    .iter()
                    .map(|(k, v)| (k.clone(), v.up, v.failing_since))
                    .collect(),
                p.routes
                    .iter()
                    .map(|(k, r)| (k.clone(), r.clone()))
                    .collect(),
            )
        })
        .collect()
}

const MAX_ATTEMPTS: u32 = 3;

/// Whether a wake-up at `now` is urgent for the pacing rule: a provider
/// failing (or answering bad data) but not yet given up on is due for its
/// re-check, or a switch is pending its canary. A 429 streak is not (its
/// re-checks are not hurried either).
fn urgent(engine: &Engine, now: UnixMillis) -> bool {
    let st = engine.state();
    st.services.values().any(|s| s.pending.is_some())
        || st.providers.values().any(|p| {
            p.next_due <= now
                && (p.consecutive_failures > 0 || p.consecutive_bad > 0)
                && p.lifecycle != crate::lifecycle::Lifecycle::Failed
                && !matches!(p.streak_cause, Some((crate::probe::Outcome::Throttled, _)))
        })
}

/// The engine, replayed: loads `stored` (or starts fresh) and applies
/// logged observations newer than the oldest provider watermark.
fn engine_of(
    config: &Config,
    stored: Option<&Stored>,
    now: UnixMillis,
) -> Result<Engine, TickError<std::convert::Infallible>> {
    let state = match stored {
        Some(s) => State::from_bytes(&s.bytes)?,
        None => State::default(),
    };
    Ok(Engine::new(config.clone(), state, now)?)
}

fn lift<E: std::error::Error + 'static>(e: TickError<std::convert::Infallible>) -> TickError<E> {
    match e {
        TickError::State(s) => TickError::State(s),
        TickError::Engine(e) => TickError::Engine(e),
        TickError::Contended(n) => TickError::Contended(n),
        TickError::Store(never) => match never {},
    }
}

impl<S: Store, P: Prober> Sentinel<S, P> {
    /// Loads the state from the store (or starts fresh), replays logged
    /// observations the state has not absorbed yet (newer than the oldest
    /// provider watermark), and is ready to tick. Events this sentinel
    /// records are stamped with `source` = the sentinel id and sequence
    /// numbers starting above `now << 16`, so a restarted process never
    /// reuses one.
    pub async fn open(
        config: Config,
        store: S,
        prober: P,
        now: UnixMillis,
    ) -> Result<Self, TickError<S::Error>> {
        let config = config_for_store(config, store.capabilities());
        let stored = store.load().await.map_err(TickError::Store)?;
        let mut engine = engine_of(&config, stored.as_ref(), now).map_err(lift)?;
        let replay_from = engine
            .state()
            .providers
            .values()
            .map(|p| p.watermark.map_or(0, |w| w.0))
            .min()
            .unwrap_or(0);
        let logged = store
            .observations_since(replay_from, usize::MAX)
            .await
            .map_err(TickError::Store)?;
        // Only what the state has not absorbed is pending: the log also
        // holds what it did absorb (kept for peers), and counting that
        // as new would make every freshly opened sentinel — a Worker's or
        // a Lambda's, one per invocation — commit on an idle wake-up.
        let applied = &engine.state().applied;
        let logged: Vec<Observation> = logged
            .into_iter()
            .filter(|o| {
                !applied
                    .get(&o.provider)
                    .is_some_and(|a| a.contains(o.key()))
            })
            .collect();
        if !logged.is_empty() {
            engine.ingest(now, &logged);
        }
        // Events journaled since the last commit (proxied usage before a
        // crash): applied again, idempotently by their sequence numbers.
        let journaled = store.journaled().await.map_err(TickError::Store)?;
        if !journaled.is_empty() {
            engine.record(now, &journaled);
        }
        let source = config.sentinel.id.to_string();
        Ok(Sentinel {
            config,
            engine,
            version: stored.map(|s| s.version),
            store,
            prober,
            pending_observations: logged,
            pending_events: journaled,
            destinations: Vec::new(),
            probe_budget: crate::engine::DEFAULT_PROBE_BUDGET,
            wake_period: 0,
            unbooked_writes: 0,
            // The load and the observation log read above.
            unbooked_reads: 2,
            unbooked_invocations: 0,
            tick_writes: 0,
            seq: now << 16,
            source,
            peer_secrets: Vec::new(),
            peer_counter: 0,
            pending_peer: Vec::new(),
            catalog: None,
            pending_discovery: Vec::new(),
            discovery_actions: Vec::new(),
        })
    }

    /// Sets the secrets shared with the configured peers
    /// ([`crate::peer::secrets_from`]); a peer without one is checked but
    /// its observations are not read.
    pub fn set_peer_secrets(&mut self, secrets: Vec<(crate::SentinelId, crate::peer::PeerSecret)>) {
        self.peer_secrets = secrets;
    }

    /// Checks every peer and reads its observations, concurrently.
    async fn exchange_peers<C: Fn() -> UnixMillis + ?Sized>(&mut self, clock: &C) -> Vec<PeerNews> {
        use crate::peer::exchange;
        let me = self.config.sentinel.id.clone();
        let allow = self.config.sentinel.allow_private_targets;
        let mut jobs = Vec::new();
        for cfg in &self.config.peers {
            let Some(health) = exchange::health_request(cfg, &me, allow) else {
                continue;
            };
            let cursor = self
                .engine
                .state()
                .peering
                .peers
                .get(&cfg.id)
                .map_or(0, |p| p.cursor);
            let secret = self
                .peer_secrets
                .iter()
                .find(|(id, _)| id == &cfg.id)
                .map(|(_, s)| s.clone());
            self.peer_counter = self.peer_counter.wrapping_add(1);
            let read = secret.as_ref().and_then(|s| {
                exchange::observations_request(
                    cfg,
                    &me,
                    s,
                    cursor,
                    clock(),
                    self.peer_counter,
                    allow,
                )
            });
            jobs.push((cfg.id.clone(), health, read, secret));
        }
        let prober = &self.prober;
        let futs = jobs
            .into_iter()
            .map(|(peer, health, read, secret)| async move {
                let at = clock();
                let check = async { exchange::health_result(&prober.probe(&health).await) };
                let fetch = async {
                    match (read, secret) {
                        (Some((req, nonce)), Some(secret)) => {
                            let r = prober.probe(&req).await;
                            Some(exchange::observations_result(&r, &peer, &secret, &nonce))
                        }
                        _ => None,
                    }
                };
                let (health, read) = futures_util::future::join(check, fetch).await;
                PeerNews {
                    peer,
                    at,
                    health,
                    read,
                }
            });
        join_all(futs).await
    }

    /// Sets the outbox destinations (webhook URL digests,
    /// [`crate::outbox::destination_id`]): committed alerts and switches
    /// are enqueued for them.
    pub fn set_destinations(&mut self, destinations: Vec<u64>) {
        self.destinations = destinations;
    }

    /// Sets what the shell can probe in one tick (its capability; the
    /// operator's `probe_budget_per_tick` may cap it further).
    pub fn set_probe_budget(&mut self, budget: u32) {
        self.probe_budget = budget;
        self.engine.set_probe_budget(budget);
    }

    /// Sets how often the shell wakes at most (its cron's period, in ms;
    /// see [`Engine::set_wake_period`]).
    pub fn set_wake_period(&mut self, ms: u64) {
        self.wake_period = ms;
        self.engine.set_wake_period(ms);
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

    /// Sets the catalog discovery reads (the built-in one otherwise).
    pub fn set_catalog(&mut self, catalog: std::sync::Arc<crate::discovery::Catalog>) {
        self.catalog = Some(catalog);
    }

    /// The catalog discovery reads.
    pub fn catalog(&self) -> std::sync::Arc<crate::discovery::Catalog> {
        self.catalog
            .clone()
            .unwrap_or_else(crate::discovery::builtin)
    }

    /// Periodic discovery (`[discovery] enabled`): for each service with a
    /// `[service.discovery]` table whose last run is `interval` old, tries
    /// catalog candidates with the probes this tick's budget has left
    /// after the `used` due ones. The outcome rides in this tick's commit.
    /// Returns the probes spent.
    async fn discover_due<C: Fn() -> UnixMillis + ?Sized>(
        &mut self,
        used: usize,
        clock: &C,
    ) -> u32 {
        let ds = &self.config.discovery;
        if !ds.enabled {
            return 0;
        }
        let interval = ds.interval.as_ms();
        let mut spare = (self.engine.probe_budget() as usize).saturating_sub(used);
        let due: Vec<ServiceId> = self
            .config
            .services
            .iter()
            .filter(|s| s.discovery.is_some())
            .filter(|s| {
                let last = self.engine.state().discovery.last_run.get(&s.id).copied();
                last.is_none_or(|l| clock().saturating_sub(l) >= interval)
            })
            .map(|s| s.id.clone())
            .collect();
        let catalog = self.catalog();
        let mut spent = 0u32;
        for service in due {
            if spare == 0 {
                break;
            }
            let now = clock();
            let Ok(mut selection) = self.engine.discovery_candidates(&catalog, &service, now)
            else {
                continue;
            };
            selection.chosen.truncate(spare);
            if selection.chosen.is_empty() {
                continue; // nothing to try: no probe, no write
            }
            let (trial, reqs, refused) = self.engine.discovery_trial(now, &selection);
            spare = spare.saturating_sub(reqs.len());
            spent += reqs.len() as u32;
            let prober = &self.prober;
            let futs = reqs.iter().map(|req| {
                let trial = &trial;
                async move {
                    let at = clock();
                    let result = prober.probe(req).await;
                    trial.observe(req, at, result)
                }
            });
            let observations: Vec<Observation> =
                join_all(futs).await.into_iter().flatten().collect();
            let run = crate::discovery::Run {
                selection,
                observations,
                refused,
            };
            let at = clock();
            let trials = run.apply(&mut self.engine, at);
            for t in &trials {
                tracing::info!(service = %t.service, candidate = %t.candidate, outcome = t.outcome.name(), "discovery");
            }
            self.discovery_actions
                .extend(trials.iter().map(crate::discovery::action_of));
            self.pending_discovery.push((at, run));
        }
        spent
    }

    /// Reads the status pages due ([`crate::statuspage`]) with the probes
    /// this tick's budget has left after the `used` ones. Returns the
    /// reads made.
    async fn read_status_pages<C: Fn() -> UnixMillis + ?Sized>(
        &mut self,
        used: usize,
        clock: &C,
    ) -> u32 {
        let spare = (self.engine.probe_budget() as usize).saturating_sub(used);
        if spare == 0 {
            return 0;
        }
        // Providers of one company share its page: each page is read once
        // per tick, and its answer goes to every provider that names it.
        let due = self.engine.status_reads_due(clock(), usize::MAX);
        let mut pages: Vec<&ProbeRequest> = Vec::new();
        for r in &due {
            if pages.len() < spare && !pages.iter().any(|p| p.url == r.url) {
                pages.push(r);
            }
        }
        if pages.is_empty() {
            return 0;
        }
        let prober = &self.prober;
        let results = join_all(pages.iter().map(|r| prober.probe(r))).await;
        let now = clock();
        self.engine.book_own_requests(now, pages.len() as u64);
        for (page, result) in pages.iter().zip(results) {
            for r in due.iter().filter(|r| r.url == page.url) {
                if self.engine.absorb_status(now, &r.provider, result.clone()) {
                    tracing::info!(provider = %r.provider, "its status page declares something new");
                }
            }
        }
        pages.len() as u32
    }

    async fn run_probes<C: Fn() -> UnixMillis + ?Sized>(
        &self,
        reqs: &[ProbeRequest],
        clock: &C,
    ) -> Vec<Observation> {
        let futs = reqs.iter().map(|req| async move {
            let at = clock();
            let result = self.prober.probe(req).await;
            self.engine.observe(req, at, result)
        });
        join_all(futs).await.into_iter().flatten().collect()
    }

    async fn write_ahead(&mut self, obs: &[Observation]) -> Result<(), TickError<S::Error>> {
        if obs.is_empty() || self.store.capabilities().budgeted() {
            return Ok(());
        }
        self.store
            .log_observations(obs)
            .await
            .map_err(TickError::Store)?;
        self.unbooked_writes += 1;
        self.tick_writes += 1;
        Ok(())
    }

    /// Books the store writes made so far, and the commit about to be
    /// made, in the sentinel's own footprint (so the booking rides in the
    /// commit it counts, and an idle wake-up books nothing).
    ///
    /// Its reads and the invocations the shell counted
    /// ([`Sentinel::count_invocation`]) ride in the same commit; a wake-up
    /// that commits nothing keeps them for the next commit of this
    /// process (a Worker's isolate may not live that long: it loses at
    /// most one read and one invocation per idle wake-up).
    fn book_writes(&mut self, now: UnixMillis) {
        use crate::books::Metric;
        let usage = |metric: Metric, amount: u64| crate::engine::EventKind::Usage {
            target: crate::engine::UsageTarget::Sentinel,
            metric,
            amount,
        };
        let mut kinds = vec![usage(
            Metric::Writes,
            std::mem::take(&mut self.unbooked_writes) + 1,
        )];
        for (metric, amount) in [
            (Metric::Reads, std::mem::take(&mut self.unbooked_reads)),
            (
                Metric::Invocations,
                std::mem::take(&mut self.unbooked_invocations),
            ),
        ] {
            if amount > 0 {
                kinds.push(usage(metric, amount));
            }
        }
        self.record_kinds(now, kinds);
    }

    /// Counts one invocation of the shell (a Worker's or a Lambda's
    /// scheduled event) in the sentinel's own footprint, booked with the
    /// next commit.
    pub fn count_invocation(&mut self) {
        self.unbooked_invocations += 1;
    }

    /// The pacing rule of a budgeted store (see [`crate::books::pace`]):
    /// `Some(when the next write is allowed)` when this wake-up must be
    /// skipped, `None` when it may go (always, for an unbudgeted store).
    /// Urgent wake-ups (an unconfirmed failure due for its re-check, a
    /// pending switch) may run the reserve further ahead; a wake-up whose
    /// commit would carry the footprint ladder's news (its step changed:
    /// an alert to raise or clear) goes whenever the limit itself is not
    /// reached, so pacing never silences the footprint alert.
    fn paced(&self, now: UnixMillis) -> Option<UnixMillis> {
        use crate::books::{self, Pace, Verdict};
        if !self.store.capabilities().budgeted() {
            return None;
        }
        let limits = &self.config.sentinel.footprint;
        let footprint = &self.engine.state().footprint;
        let pace = Pace::for_ladder(&self.config.ladder);
        let verdict = pace.verdict(footprint, limits, now, urgent(&self.engine, now));
        let Verdict::Wait { until } = verdict else {
            return None;
        };
        let statuses = books::status(footprint, now, limits, &books::Rates::default());
        let (step, _) = books::step(&statuses, &self.config.ladder);
        if step != self.engine.state().footprint_step {
            // Up to the limit itself: a pace with the whole limit as its
            // target and burst.
            let whole = Pace {
                target: crate::Bps::MAX,
                burst: crate::Bps::MAX,
                reserve: crate::Bps::ZERO,
            };
            if whole.verdict(footprint, limits, now, false).go() {
                return None;
            }
        }
        Some(until)
    }

    /// Runs one tick; see the module docs. `clock` is any clock (a
    /// `&dyn Fn`, a closure, or a `fn` pointer: with a `Sync` clock and
    /// `Send` store and prober the tick's future is `Send`, as a
    /// multi-threaded runtime such as Lambda's requires).
    pub async fn tick<C: Fn() -> UnixMillis + ?Sized>(
        &mut self,
        clock: &C,
    ) -> Result<TickReport, TickError<S::Error>> {
        let at = clock();
        self.tick_writes = 0;
        // Catch up with writes made since (a submission, another instance).
        let stored = self.store.load().await.map_err(TickError::Store)?;
        self.unbooked_reads += 1;
        if stored.as_ref().map(|s| s.version) != self.version {
            self.rebase_on(stored, at)?;
        }
        if let Some(until) = self.paced(at) {
            tracing::debug!(
                at,
                next_write = until,
                "wake-up skipped: its commit would run ahead of the store's write allowance"
            );
            return Ok(TickReport {
                at,
                version: self.version.unwrap_or(0),
                next_wakeup: until.max(self.engine.next_wakeup(at)),
                paced: true,
                ..TickReport::default()
            });
        }
        let plan = self.engine.plan(at);
        self.engine.note_plan(plan.deferred);
        let mut report = TickReport {
            at,
            deferred: plan.deferred,
            version: self.version.unwrap_or(0),
            ..TickReport::default()
        };
        let news = if self.config.peers.is_empty() {
            Vec::new()
        } else {
            self.exchange_peers(clock).await
        };
        let observations = self.run_probes(&plan.probes, clock).await;
        report.probes = plan.probes.len() as u32;
        self.write_ahead(&observations).await?;
        report.ingest = self.engine.ingest(clock(), &observations);
        // After this tick's answers are in: a candidate is compared with
        // what the service's providers say now.
        let discovered = self.discover_due(plan.probes.len(), clock).await;
        let status_reads = self
            .read_status_pages(plan.probes.len() + discovered as usize, clock)
            .await;
        report.probes += discovered + status_reads;
        self.pending_observations.extend(observations);
        for n in &news {
            if let Some(Err(e)) = &n.read {
                tracing::warn!(peer = %n.peer, error = %e, "cannot read the peer's observations");
            }
        }
        let peer_changed = apply_peer_news(&mut self.engine, &news);
        report.peers = news.len() as u32;
        self.pending_peer.extend(news);

        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut actions = self.discovery_actions.clone();
            let mut d: Decision = self.engine.decide(clock());
            for _ in 0..3 {
                actions.append(&mut d.actions);
                if d.canaries.is_empty() {
                    break;
                }
                let canary_obs = self.run_probes(&d.canaries, clock).await;
                report.probes += d.canaries.len() as u32;
                self.write_ahead(&canary_obs).await?;
                self.engine.ingest(clock(), &canary_obs);
                self.pending_observations.extend(canary_obs);
                d = self.engine.decide(clock());
            }
            actions.append(&mut d.actions);
            let now = clock();
            let settled = self
                .engine
                .enqueue_notices(now, &actions, &self.destinations);
            actions.extend(settled);
            // A wake-up that observed, recorded and decided nothing writes
            // nothing: what time alone moves is derived again next time.
            // The sentinel's own footprint (its invocations and reads,
            // journaled by the requests that made them — a peer's reads
            // among them) waits for the next commit: the journal keeps
            // it until one absorbs it, and it moves no decision.
            let own_only = self.pending_events.iter().all(|e| {
                matches!(
                    e.kind,
                    EventKind::Usage {
                        target: crate::engine::UsageTarget::Sentinel,
                        ..
                    }
                )
            });
            // A status page read is kept (its time, what it said), or the
            // next wake-up would read it again.
            let idle = self.pending_observations.is_empty()
                && own_only
                && !peer_changed
                && status_reads == 0
                && actions.is_empty();
            if idle {
                // Peer news that changed nothing decisions read is not
                // kept for a rebase either (taken again next tick).
                self.pending_peer.clear();
                report.next_wakeup = self.engine.next_wakeup(now);
                report.writes = self.tick_writes;
                return Ok(report);
            }
            match self.commit(now, &actions).await? {
                Some(version) => {
                    report.version = version;
                    report.actions = actions;
                    report.observations = std::mem::take(&mut self.pending_observations);
                    self.pending_events.clear();
                    self.pending_peer.clear();
                    self.pending_discovery.clear();
                    self.discovery_actions.clear();
                    report.writes = self.tick_writes;
                    report.next_wakeup = self.engine.next_wakeup(clock());
                    return Ok(report);
                }
                None if attempt < MAX_ATTEMPTS => {
                    report.conflicts += 1;
                    self.rebase(clock()).await?;
                }
                None => return Err(TickError::Contended(attempt)),
            }
        }
    }

    /// One write of the state with `actions` as audit entries. `None`: a
    /// conflict (nothing written). With a last-writer-wins store, a
    /// changed version read just before the write counts as a conflict.
    async fn commit(
        &mut self,
        now: UnixMillis,
        actions: &[Action],
    ) -> Result<Option<u64>, TickError<S::Error>> {
        let caps = self.store.capabilities();
        if caps.consistency == Consistency::LastWriterWins {
            let current = self.store.load().await.map_err(TickError::Store)?;
            self.unbooked_reads += 1;
            if current.map(|s| s.version) != self.version {
                return Ok(None);
            }
        }
        self.book_writes(now);
        let revision = self.engine.state().revision;
        let audit: Vec<AuditEntry> = actions
            .iter()
            .map(|a| AuditEntry {
                at: now,
                revision,
                action: a.clone(),
            })
            .collect();
        let encoded = EncodedState::of(self.engine.state());
        let batch = CommitBatch {
            state: &encoded,
            observations: &self.pending_observations,
            audit: &audit,
            keep_observations_since: now.saturating_sub(PEER_WINDOW),
            absorbed_events: &self.engine.state().usage_watermarks,
        };
        let result = self
            .store
            .commit(self.version, &batch)
            .await
            .map_err(TickError::Store)?;
        self.tick_writes += 1;
        Ok(match result {
            Commit::Committed { version } => {
                self.version = Some(version);
                Some(version)
            }
            Commit::Conflict => None,
        })
    }

    /// Another writer committed first: start from its state and apply
    /// this sentinel's own inputs since the last commit again
    /// (observations and events are idempotent by their keys, so what the
    /// winner already has is not counted twice, and nothing of ours is
    /// dropped). The decision is then made again on the joined evidence.
    async fn rebase(&mut self, now: UnixMillis) -> Result<(), TickError<S::Error>> {
        let stored = self.store.load().await.map_err(TickError::Store)?;
        self.unbooked_reads += 1;
        self.rebase_on(stored, now)
    }

    fn rebase_on(
        &mut self,
        stored: Option<Stored>,
        now: UnixMillis,
    ) -> Result<(), TickError<S::Error>> {
        self.engine = engine_of(&self.config, stored.as_ref(), now).map_err(lift)?;
        self.engine.set_probe_budget(self.probe_budget);
        self.engine.set_wake_period(self.wake_period);
        self.version = stored.map(|s| s.version);
        if !self.pending_observations.is_empty() {
            self.engine.ingest(now, &self.pending_observations);
        }
        if !self.pending_events.is_empty() {
            self.engine.record(now, &self.pending_events);
        }
        apply_peer_news(&mut self.engine, &self.pending_peer);
        self.discovery_actions.clear();
        for (at, run) in &self.pending_discovery {
            let trials = run.apply(&mut self.engine, *at);
            self.discovery_actions
                .extend(trials.iter().map(crate::discovery::action_of));
        }
        Ok(())
    }

    /// Applies `change` to the engine and commits the state with no
    /// actions; on a conflict, rebases and applies `change` again.
    /// `change` may refuse (the caller's error, returned as is, nothing
    /// committed).
    async fn change_and_commit<E>(
        &mut self,
        now: UnixMillis,
        mut change: impl FnMut(&mut Engine) -> Result<(), E>,
    ) -> Result<Result<u64, E>, TickError<S::Error>> {
        for _ in 0..MAX_ATTEMPTS {
            if let Err(e) = change(&mut self.engine) {
                return Ok(Err(e));
            }
            if let Some(version) = self.commit(now, &self.discovery_actions.clone()).await? {
                self.pending_observations.clear();
                self.pending_events.clear();
                self.pending_peer.clear();
                self.pending_discovery.clear();
                self.discovery_actions.clear();
                return Ok(Ok(version));
            }
            self.rebase(now).await?;
        }
        Err(TickError::Contended(MAX_ATTEMPTS))
    }

    /// Applies `change` to the engine and commits it at once with no
    /// actions, retrying on a conflict (the anchoring driver's writes:
    /// a transaction is stored before it is broadcast).
    pub(crate) async fn change(
        &mut self,
        now: UnixMillis,
        mut change: impl FnMut(&mut Engine),
    ) -> Result<u64, TickError<S::Error>> {
        match self
            .change_and_commit(now, |e| {
                change(e);
                Ok::<(), std::convert::Infallible>(())
            })
            .await?
        {
            Ok(version) => Ok(version),
            Err(never) => match never {},
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The secret shared with peer `id`.
    pub fn peer_secret(&self, id: &crate::SentinelId) -> Option<crate::peer::PeerSecret> {
        self.peer_secrets
            .iter()
            .find(|(p, _)| p == id)
            .map(|(_, s)| s.clone())
    }

    /// A fresh counter for a signed peer request's nonce.
    pub(crate) fn next_peer_counter(&mut self) -> u64 {
        self.peer_counter = self.peer_counter.wrapping_add(1);
        self.peer_counter
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

    /// Applies events (proxy usage, retries, deliveries) to the engine;
    /// they are committed with the next tick (and re-applied on top of
    /// another writer's state after a conflict). Returns what was applied.
    pub fn record(&mut self, now: UnixMillis, events: &[Event]) -> IngestReport {
        let report = self.engine.record(now, events);
        self.pending_events.extend(events.iter().cloned());
        report
    }

    /// Stamps `kinds` with this sentinel's source and the next sequence
    /// numbers, and records them.
    pub fn record_kinds(&mut self, now: UnixMillis, kinds: Vec<EventKind>) -> IngestReport {
        if kinds.is_empty() {
            return IngestReport::default();
        }
        let events = crate::proxy::stamp(kinds, &self.source, &mut self.seq, now);
        self.record(now, &events)
    }
}
