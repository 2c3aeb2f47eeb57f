//! The engine's persistent state: compact, versioned, mergeable.
//!
//! Per provider a few hundred bytes to a few KiB: sparse rolling windows
//! (24 hourly + 30 daily buckets), a sparse latency histogram, quality
//! tallies, counters, its ledger, lifecycle and flap state. Per service the
//! active provider and the switch guard rails. Plus the bounded switch
//! history and the set of firing alerts.
//!
//! [`State::to_bytes`] writes a 4-byte magic, a format version and the
//! postcard encoding (varints, no field names): what a Worker stores in one
//! KV value per tick. JSON (serde) is available for export and debugging.
//!
//! [`State::merge`] joins two replicas deterministically: per provider and
//! per service the replica that has seen more (the higher watermark, ties
//! broken by the encoded bytes) wins, histories are unioned. Being a maximum
//! over a total order, the merge is commutative, associative and idempotent.

use crate::books::{Ledger, Step};
use crate::flap::Flap;
use crate::histogram::LatencyHistogram;
use crate::incident::Incident;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::probe::{Outcome, Purpose};
use crate::quality::{Facts, FailReason, QualityTally};
use crate::reputation::ScoreCard;
use crate::switcher::Reason;
use crate::time::UnixMillis;
use crate::timeline::Point;
use crate::window::{Bucket, Counts, Ring};
use crate::{Bps, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Version of the encoded state; bump on any incompatible change.
pub const STATE_VERSION: u16 = 7;
pub(crate) const MAGIC: &[u8; 4] = b"BKS\0";

mod legacy;

/// Errors reading an encoded state.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// Not a sentinel state.
    #[error("not a sentinel state (bad magic)")]
    BadMagic,
    /// Written by another format version.
    #[error("state format version {found} is not supported (this build reads {STATE_VERSION})")]
    Version {
        /// The version found.
        found: u16,
    },
    /// Corrupt or truncated.
    #[error("state is corrupt: {0}")]
    Corrupt(String),
}

impl Bucket for QualityTally {
    fn join(&mut self, other: &Self) {
        for (mine, theirs) in [
            (&mut self.schema, &other.schema),
            (&mut self.business, &other.business),
            (&mut self.freshness, &other.freshness),
            (&mut self.consistency, &other.consistency),
        ] {
            if theirs.total > mine.total {
                *mine = *theirs;
            }
        }
    }
}

/// Reliability events per day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReliabilityCounts {
    /// Proxy retries on this provider that succeeded.
    pub retries_ok: u32,
    /// Proxy retries on this provider.
    pub retries: u32,
    /// Data-loss incidents reported.
    pub data_loss: u32,
    /// Security incidents reported.
    pub security: u32,
}

impl Bucket for ReliabilityCounts {
    fn join(&mut self, o: &Self) {
        self.retries_ok = self.retries_ok.max(o.retries_ok);
        self.retries = self.retries.max(o.retries);
        self.data_loss = self.data_loss.max(o.data_loss);
        self.security = self.security.max(o.security);
    }
}

/// A downtime incident: from the first failed probe to the first success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downtime {
    /// First failed probe.
    pub start: UnixMillis,
    /// First successful probe after it (`None`: still down).
    pub end: Option<UnixMillis>,
}

/// The last probe of a provider, for the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastProbe {
    /// When.
    pub at: UnixMillis,
    /// Outcome class.
    pub outcome: Outcome,
    /// Latency in ms.
    pub latency_ms: u32,
    /// Whether it was healthy (answered and passed its checks).
    pub healthy: bool,
    /// First problem, if any.
    pub detail: Option<String>,
}

/// Everything the engine remembers about one provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderState {
    /// The provider's service.
    pub service: ServiceId,
    /// Lifecycle stage.
    pub lifecycle: Lifecycle,
    /// Since when.
    pub lifecycle_since: UnixMillis,
    /// Trust level at the last decision.
    pub trust: TrustLevel,
    /// Key of the latest ingested observation (idempotence watermark).
    pub watermark: Option<(UnixMillis, Purpose)>,
    /// When the next scheduled probe is due.
    pub next_due: UnixMillis,
    /// Consecutive unhealthy probes.
    pub consecutive_failures: u32,
    /// Consecutive healthy probes.
    pub consecutive_successes: u32,
    /// First failed probe of the current outage.
    pub down_since: Option<UnixMillis>,
    /// Hourly outcome counts, 24 buckets.
    pub hourly: Ring<Counts>,
    /// Daily outcome counts, 30 buckets.
    pub daily: Ring<Counts>,
    /// Hourly data-quality tallies, 24 buckets.
    pub quality: Ring<QualityTally>,
    /// Daily reliability events, 30 buckets.
    pub reliability: Ring<ReliabilityCounts>,
    /// Decaying latency histogram (the baseline).
    pub latency: LatencyHistogram,
    /// Fast EWMA of latency (α = 1/4), the "recent" latency.
    pub recent_latency_ms: u32,
    /// The last 64 probes as a bit set, newest in bit 0: 1 = failed. The
    /// error-rate trigger reads it, so an outage that ended an hour ago no
    /// longer counts against a provider that has answered 64 times since.
    pub recent_failures: u64,
    /// How many of those 64 bits hold probes (0..=64).
    pub recent_probes: u8,
    /// Recent downtime incidents (at most 10).
    pub downtimes: VecDeque<Downtime>,
    /// Usage and cost.
    pub ledger: Ledger,
    /// Budget ladder step at the last decision.
    pub step: Step,
    /// Flap damping.
    pub flap: Flap,
    /// Scores at the last decision (for "what moved").
    pub card: Option<ScoreCard>,
    /// Lowest raw total seen during the current testing period (after
    /// warm-up).
    pub testing_min: Option<Bps>,
    /// On-chain attestation valid until.
    pub attested_until: Option<UnixMillis>,
    /// The last probe.
    pub last: Option<LastProbe>,
    /// Canary failures (a failed canary keeps a candidate out until then).
    pub canary_block_until: UnixMillis,
    /// Consecutive answers that failed a data check.
    pub consecutive_bad: u32,
    /// The check that failed last.
    pub bad_check: Option<String>,
    /// The latest facts (block head, consistency field) and when.
    pub facts: Option<(UnixMillis, Facts)>,
    /// Why the last failing data check failed (`stale`, `wrong-chain`,
    /// `inconsistent`, …): what the proxy may still serve and what never.
    pub bad_reason: Option<FailReason>,
    /// Incidents, oldest first ([`crate::incident`]).
    pub incidents: VecDeque<Incident>,
    /// The last 24 hours, per half hour ([`crate::timeline`]).
    pub timeline: Ring<Point>,
    /// Hourly snapshots of the scores (at most two, oldest first): the
    /// explanation's "what moved" compares against the older one, one to
    /// two hours back, not against the decision that just wrote it.
    pub card_ref: Vec<(UnixMillis, ScoreCard)>,
    /// How the latest failed probe failed, and how many failures in a row
    /// failed that same way (a run of 429s is throttling, not an outage).
    pub streak_cause: Option<(Outcome, u32)>,
}

impl ProviderState {
    /// A fresh provider state.
    pub fn new(service: ServiceId, lifecycle: Lifecycle, now: UnixMillis) -> Self {
        ProviderState {
            service,
            lifecycle,
            lifecycle_since: now,
            trust: TrustLevel::Testing,
            watermark: None,
            next_due: 0,
            consecutive_failures: 0,
            consecutive_successes: 0,
            down_since: None,
            hourly: Ring::default(),
            daily: Ring::default(),
            quality: Ring::default(),
            reliability: Ring::default(),
            latency: LatencyHistogram::default(),
            recent_latency_ms: 0,
            recent_failures: 0,
            recent_probes: 0,
            downtimes: VecDeque::new(),
            ledger: Ledger::default(),
            step: Step::Normal,
            flap: Flap::default(),
            card: None,
            testing_min: None,
            attested_until: None,
            last: None,
            canary_block_until: 0,
            consecutive_bad: 0,
            bad_check: None,
            facts: None,
            bad_reason: None,
            incidents: VecDeque::new(),
            timeline: Ring::default(),
            card_ref: Vec::new(),
            streak_cause: None,
        }
    }

    fn freshness_key(&self) -> (Option<(UnixMillis, Purpose)>, UnixMillis) {
        (self.watermark, self.lifecycle_since)
    }
}

/// A switch proposed and waiting for its canary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSwitch {
    /// Candidate.
    pub to: ProviderId,
    /// Why.
    pub reason: Reason,
    /// When proposed.
    pub proposed_at: UnixMillis,
    /// Give up waiting for the canary after this.
    pub deadline: UnixMillis,
    /// The canary's verdict once observed: healthy or not.
    pub canary: Option<bool>,
}

/// Everything the engine remembers about one service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// The provider traffic goes to.
    pub active: Option<ProviderId>,
    /// Since when.
    pub since: UnixMillis,
    /// Why it became active.
    pub reason: Option<Reason>,
    /// Number of switches so far (orders replicas in a merge).
    pub switches: u64,
    /// A switch waiting for its canary.
    pub pending: Option<PendingSwitch>,
    /// The non-critical trigger seen at the last decisions, and how many
    /// decisions in a row (hysteresis).
    pub streak: Option<(String, u32)>,
    /// Latest cross-provider consistency verdicts, per provider.
    pub consistency: BTreeMap<ProviderId, bool>,
    /// A chain fork seen between its providers and not yet healed.
    pub fork: Option<Fork>,
    /// Since when every provider's latest block has been too old (the
    /// chain itself is not moving); `None` when not.
    pub chain_stale_since: Option<UnixMillis>,
}

/// Providers of one service reported different blocks at the same height.
/// Open until the providers that disagreed are seen agreeing again at a
/// later height; a witness going quiet does not heal it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fork {
    /// The block number where they disagreed.
    pub number: u64,
    /// When it was first seen.
    pub since: UnixMillis,
    /// Each provider's block hash at that number.
    pub hashes: BTreeMap<ProviderId, String>,
    /// The hash held by strictly more providers than any other, if any.
    pub majority: Option<String>,
}

impl Fork {
    /// Whether `id` is on a losing side (there is a majority and `id`
    /// reported another hash).
    pub fn is_minority(&self, id: &ProviderId) -> bool {
        match (&self.majority, self.hashes.get(id)) {
            (Some(m), Some(h)) => m != h,
            _ => false,
        }
    }
}

impl ServiceState {
    /// A service with `active` routed from `now`.
    pub fn new(active: Option<ProviderId>, now: UnixMillis) -> Self {
        ServiceState {
            active,
            since: now,
            reason: None,
            switches: 0,
            pending: None,
            streak: None,
            consistency: BTreeMap::new(),
            fork: None,
            chain_stale_since: None,
        }
    }
}

/// One completed switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRecord {
    /// Global sequence number of the switch (idempotence key for shells).
    pub seq: u64,
    /// When.
    pub at: UnixMillis,
    /// Service.
    pub service: ServiceId,
    /// Previous provider.
    pub from: Option<ProviderId>,
    /// New provider.
    pub to: ProviderId,
    /// Why.
    pub reason: Reason,
}

/// Severity of an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Needs attention soon.
    Warning,
    /// Needs attention now.
    Critical,
}

/// An alert that is firing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveAlert {
    /// Severity.
    pub severity: Severity,
    /// Since when.
    pub since: UnixMillis,
    /// What is wrong.
    pub message: String,
}

/// A provider submitted at run time (not in the configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    /// Its service.
    pub service: ServiceId,
    /// Its id.
    pub id: ProviderId,
    /// Its configuration as JSON, validated on submission. (Text, because
    /// configuration types are self-describing and the binary state
    /// encoding is not.)
    pub provider_json: String,
    /// When it was submitted.
    pub at: UnixMillis,
}

/// One notification waiting for its destinations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Sequence number, unique per state.
    pub id: u64,
    /// The alert key (`provider-down:a`) or `switch:<service>`.
    pub key: String,
    /// Severity.
    pub severity: Severity,
    /// The text, as posted.
    pub text: String,
    /// When it was enqueued.
    pub created: UnixMillis,
    /// Failed attempts so far (over all destinations).
    pub attempts: u32,
    /// Not before this time (backoff).
    pub next_attempt: UnixMillis,
    /// Destinations (URL digests) that accepted it.
    pub delivered: Vec<u64>,
}

/// Joins two replicas' outboxes: by id, time and key, the one that has seen more
/// (delivered destinations unioned, attempts and backoff the larger).
pub fn merge_notices(a: &[Notice], b: &[Notice]) -> Vec<Notice> {
    type Key = (u64, UnixMillis, String);
    let mut by_id: std::collections::BTreeMap<Key, Notice> = std::collections::BTreeMap::new();
    for n in a.iter().chain(b) {
        let k = (n.id, n.created, n.key.clone());
        match by_id.get_mut(&k) {
            None => {
                by_id.insert(k, n.clone());
            }
            Some(m) => {
                for d in &n.delivered {
                    if !m.delivered.contains(d) {
                        m.delivered.push(*d);
                    }
                }
                m.delivered.sort_unstable();
                m.attempts = m.attempts.max(n.attempts);
                m.next_attempt = m.next_attempt.max(n.next_attempt);
            }
        }
    }
    by_id.into_values().collect()
}

/// How well the probe schedule keeps up: what the shell's probe budget
/// deferred, and per provider how late its last scheduled probe ran and
/// the real interval between its last two.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Probes due but deferred by the last plan.
    pub deferred: u32,
    /// Consecutive ticks that deferred probes.
    pub deferred_ticks: u32,
    /// When each provider's last scheduled probe was sent.
    pub last_scheduled: BTreeMap<ProviderId, UnixMillis>,
    /// How late it was sent, in ms past its due time.
    pub lag_ms: BTreeMap<ProviderId, u64>,
    /// The real interval between its last two scheduled probes, in ms.
    pub interval_ms: BTreeMap<ProviderId, u64>,
}

impl Schedule {
    /// Joins two replicas: per provider, the one that probed last.
    fn merge(&self, other: &Schedule) -> Schedule {
        let mut out = Schedule {
            deferred: self.deferred.max(other.deferred),
            deferred_ticks: self.deferred_ticks.max(other.deferred_ticks),
            ..Schedule::default()
        };
        for (id, at) in self.last_scheduled.iter().chain(&other.last_scheduled) {
            let from = if other.last_scheduled.get(id) >= self.last_scheduled.get(id) {
                other
            } else {
                self
            };
            out.last_scheduled
                .insert(id.clone(), *at.max(&from.last_scheduled[id]));
            if let Some(l) = from.lag_ms.get(id) {
                out.lag_ms.insert(id.clone(), *l);
            }
            if let Some(i) = from.interval_ms.get(id) {
                out.interval_ms.insert(id.clone(), *i);
            }
        }
        out
    }

    /// Forgets providers that are gone.
    pub fn retain(&mut self, keep: impl Fn(&ProviderId) -> bool) {
        self.last_scheduled.retain(|id, _| keep(id));
        self.lag_ms.retain(|id, _| keep(id));
        self.interval_ms.retain(|id, _| keep(id));
    }
}

/// The whole engine state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    pub version: u16,
    /// Incremented on every decision; shells use it for conditional writes.
    pub revision: u64,
    /// Time of the last decision.
    pub last_decide: UnixMillis,
    /// Providers.
    pub providers: BTreeMap<ProviderId, ProviderState>,
    /// Services.
    pub services: BTreeMap<ServiceId, ServiceState>,
    /// Switch history, oldest first, bounded.
    pub history: VecDeque<SwitchRecord>,
    /// Sequence number of the last switch.
    pub switch_seq: u64,
    /// Firing alerts by key.
    pub alerts: BTreeMap<String, ActiveAlert>,
    /// The sentinel's own footprint.
    pub footprint: Ledger,
    /// Ladder step of the footprint.
    pub footprint_step: Step,
    /// Highest event sequence seen per source (idempotence).
    pub usage_watermarks: BTreeMap<String, u64>,
    /// Providers submitted at run time.
    pub submitted: Vec<Submitted>,
    /// Notifications waiting for their webhooks (see `crate::outbox`).
    pub outbox: Vec<Notice>,
    /// Sequence number of the last notice.
    pub notice_seq: u64,
    /// How well the probe schedule keeps up.
    pub schedule: Schedule,
    /// When each event source last reported (its watermark is forgotten
    /// once it has been silent for the event window, so sources that come
    /// and go — one per Lambda instance — stay bounded).
    pub usage_seen: BTreeMap<String, UnixMillis>,
    /// Each provider's latest answers, for the latency trigger
    /// ([`crate::recent`]).
    pub recent_latency: BTreeMap<ProviderId, crate::recent::RecentLatency>,
    /// Each provider's applied observation keys ([`Applied`]): an
    /// observation older than the watermark that is not among them was
    /// never applied (another instance's, taken a moment before, arriving
    /// after a commit) and is applied late rather than dropped.
    pub applied: BTreeMap<ProviderId, Applied>,
    /// Peer sentinels: their health, their view of each provider, their
    /// routes, and the quorum's verdicts ([`crate::peer`]).
    pub peering: crate::peer::Peering,
    /// Anchoring on chain: the transaction in flight and each provider's
    /// last anchored record with its evidence ([`crate::chain::state`]).
    pub anchoring: crate::chain::Anchoring,
    /// What discovery tried, onboarded and was told not to
    /// ([`crate::discovery`]).
    pub discovery: crate::discovery::DiscoveryState,
    /// What each provider's status page declared, when last read
    /// ([`crate::statuspage`]).
    pub status_pages: BTreeMap<ProviderId, crate::statuspage::PageState>,
}

/// Applied observation keys kept per provider ([`State::applied`]): a few
/// probe intervals' worth, far longer than two instances' ticks overlap.
pub const APPLIED_KEEP: usize = 4;

/// Which of a provider's observations were applied: the newest
/// [`APPLIED_KEEP`] keys, and a floor at or below which every key counts
/// as applied (the newest key dropped from the list; for a state from
/// before this list, its watermark).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Everything at or below is applied.
    pub floor: Option<(UnixMillis, crate::probe::Purpose)>,
    /// Applied keys above the floor, oldest first.
    pub keys: Vec<(UnixMillis, crate::probe::Purpose)>,
}

impl Applied {
    /// Whether `key` was applied.
    pub fn contains(&self, key: (UnixMillis, crate::probe::Purpose)) -> bool {
        self.floor.is_some_and(|f| key <= f) || self.keys.binary_search(&key).is_ok()
    }

    /// Records `key` as applied, keeping the newest [`APPLIED_KEEP`].
    pub fn insert(&mut self, key: (UnixMillis, crate::probe::Purpose)) {
        if let Err(at) = self.keys.binary_search(&key) {
            self.keys.insert(at, key);
        }
        self.trim();
    }

    fn trim(&mut self) {
        let cut = self.keys.len().saturating_sub(APPLIED_KEEP);
        if cut > 0 {
            let dropped = self.keys[cut - 1];
            self.floor = self.floor.max(Some(dropped));
            self.keys.drain(..cut);
        }
        let floor = self.floor;
        self.keys.retain(|k| floor.is_none_or(|f| *k > f));
    }

    /// Both replicas' applied keys.
    pub fn merge(&self, other: &Applied) -> Applied {
        let mut keys: Vec<_> = self.keys.iter().chain(&other.keys).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        let mut out = Applied {
            floor: self.floor.max(other.floor),
            keys,
        };
        out.trim();
        out
    }
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            revision: 0,
            last_decide: 0,
            providers: BTreeMap::new(),
            services: BTreeMap::new(),
            history: VecDeque::new(),
            switch_seq: 0,
            alerts: BTreeMap::new(),
            footprint: Ledger::default(),
            footprint_step: Step::Normal,
            usage_watermarks: BTreeMap::new(),
            submitted: Vec::new(),
            outbox: Vec::new(),
            notice_seq: 0,
            schedule: Schedule::default(),
            usage_seen: BTreeMap::new(),
            recent_latency: BTreeMap::new(),
            applied: BTreeMap::new(),
            peering: crate::peer::Peering::default(),
            anchoring: crate::chain::Anchoring::default(),
            discovery: crate::discovery::DiscoveryState::default(),
            status_pages: BTreeMap::new(),
        }
    }
}

fn encoded<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap_or_default()
}

fn pick<'a, T: Serialize + PartialEq, K: Ord>(a: &'a T, b: &'a T, key: impl Fn(&T) -> K) -> &'a T {
    match key(a).cmp(&key(b)) {
        std::cmp::Ordering::Greater => a,
        std::cmp::Ordering::Less => b,
        std::cmp::Ordering::Equal => {
            if encoded(a) >= encoded(b) {
                a
            } else {
                b
            }
        }
    }
}

impl State {
    /// Encodes the state: magic, version, postcard body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&STATE_VERSION.to_le_bytes());
        match postcard::to_extend(self, out) {
            Ok(v) => v,
            // Serializing plain data into a Vec cannot fail; keep the header.
            Err(_) => MAGIC
                .iter()
                .copied()
                .chain(STATE_VERSION.to_le_bytes())
                .collect(),
        }
    }

    /// Decodes a state written by [`State::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<State, StateError> {
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(StateError::BadMagic);
        }
        let found = u16::from_le_bytes([bytes[4], bytes[5]]);
        let corrupt = |e: postcard::Error| StateError::Corrupt(e.to_string());
        match found {
            STATE_VERSION => postcard::from_bytes(&bytes[6..]).map_err(corrupt),
            1 => postcard::from_bytes::<legacy::StateV1>(&bytes[6..])
                .map(|v1| State::from(legacy::StateV2::from(v1)))
                .map_err(corrupt),
            2 => postcard::from_bytes::<legacy::StateV2>(&bytes[6..])
                .map(State::from)
                .map_err(corrupt),
            3 => postcard::from_bytes::<legacy::StateV3>(&bytes[6..])
                .map(State::from)
                .map_err(corrupt),
            4 => postcard::from_bytes::<legacy::StateV4>(&bytes[6..])
                .map(State::from)
                .map_err(corrupt),
            5 => postcard::from_bytes::<legacy::StateV5>(&bytes[6..])
                .map(State::from)
                .map_err(corrupt),
            6 => postcard::from_bytes::<legacy::StateV6>(&bytes[6..])
                .map(State::from)
                .map_err(corrupt),
            _ => Err(StateError::Version { found }),
        }
    }

    /// Joins two replicas deterministically (see the module docs).
    pub fn merge(&self, other: &State) -> State {
        let mut out = State {
            version: STATE_VERSION,
            revision: self.revision.max(other.revision),
            last_decide: self.last_decide.max(other.last_decide),
            switch_seq: self.switch_seq.max(other.switch_seq),
            ..State::default()
        };
        for (id, p) in self.providers.iter().chain(other.providers.iter()) {
            let chosen = match out.providers.get(id) {
                Some(existing) => pick(existing, p, ProviderState::freshness_key).clone(),
                None => p.clone(),
            };
            out.providers.insert(id.clone(), chosen);
        }
        for (id, s) in self.services.iter().chain(other.services.iter()) {
            let chosen = match out.services.get(id) {
                Some(existing) => pick(existing, s, |s| (s.switches, s.since)).clone(),
                None => s.clone(),
            };
            out.services.insert(id.clone(), chosen);
        }
        let mut hist: BTreeMap<(u64, UnixMillis, ServiceId), SwitchRecord> = BTreeMap::new();
        for r in self.history.iter().chain(other.history.iter()) {
            let k = (r.seq, r.at, r.service.clone());
            let keep = match hist.get(&k) {
                Some(existing) => pick(existing, r, |_| 0u8).clone(),
                None => r.clone(),
            };
            hist.insert(k, keep);
        }
        let limit = self.history.len().max(other.history.len());
        let skip = hist.len().saturating_sub(limit);
        out.history = hist.into_values().skip(skip).collect();
        for (k, a) in self.alerts.iter().chain(other.alerts.iter()) {
            let chosen = match out.alerts.get(k) {
                Some(existing) => pick(existing, a, |a| std::cmp::Reverse(a.since)).clone(),
                None => a.clone(),
            };
            out.alerts.insert(k.clone(), chosen);
        }
        out.footprint = self.footprint.clone();
        out.footprint.merge(&other.footprint);
        out.footprint_step = self.footprint_step.max(other.footprint_step);
        for (src, seq) in self
            .usage_watermarks
            .iter()
            .chain(other.usage_watermarks.iter())
        {
            let e = out.usage_watermarks.entry(src.clone()).or_insert(0);
            *e = (*e).max(*seq);
        }
        for sub in self.submitted.iter().chain(other.submitted.iter()) {
            if !out.submitted.iter().any(|s| s.id == sub.id) {
                out.submitted.push(sub.clone());
            }
        }
        out.submitted
            .sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        out.outbox = merge_notices(&self.outbox, &other.outbox);
        out.notice_seq = self.notice_seq.max(other.notice_seq);
        out.schedule = self.schedule.merge(&other.schedule);
        for (id, r) in self.recent_latency.iter().chain(&other.recent_latency) {
            let chosen = match out.recent_latency.get(id) {
                Some(existing) => crate::recent::RecentLatency::newer(existing, r).clone(),
                None => r.clone(),
            };
            out.recent_latency.insert(id.clone(), chosen);
        }
        for (src, at) in self.usage_seen.iter().chain(other.usage_seen.iter()) {
            let e = out.usage_seen.entry(src.clone()).or_insert(0);
            *e = (*e).max(*at);
        }
        for (id, a) in self.applied.iter().chain(other.applied.iter()) {
            let merged = out
                .applied
                .get(id)
                .map_or_else(|| a.clone(), |e| e.merge(a));
            out.applied.insert(id.clone(), merged);
        }
        out.peering = self.peering.merge(&other.peering);
        out.anchoring = self.anchoring.merge(&other.anchoring);
        out.discovery = self.discovery.merge(&other.discovery);
        for (id, p) in self.status_pages.iter().chain(other.status_pages.iter()) {
            let merged = out
                .status_pages
                .get(id)
                .map_or_else(|| p.clone(), |e| e.merge(p));
            out.status_pages.insert(id.clone(), merged);
        }
        out
    }
}
