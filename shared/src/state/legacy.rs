//! States written by earlier format versions, read once and converted.
//!
//! postcard is not self-describing: a struct is its fields in order, an
//! enum its variant index and fields. So every type whose layout changed
//! keeps its old shape here, and `From` moves it to the current one.
//!
//! - **Version 1** had no outbox, schedule, event-source ages or latency
//!   window.
//! - **Version 2** had no incidents, timeline, score snapshots, failing
//!   data reason or failure-cause streak per provider, no fork per
//!   service, and `failed` reasons without their cause.
//! - **Version 6** had no discovery record nor status pages.
//! - **Version 3** had no applied-keys window per provider (only the
//!   watermark: an observation older than it was dropped even when it
//!   had never been applied).

use super::{
    ActiveAlert, Downtime, LastProbe, Notice, ProviderState, ReliabilityCounts, Schedule,
    ServiceState, State, Submitted, SwitchRecord, STATE_VERSION,
};
use crate::books::{Ledger, Step};
use crate::flap::Flap;
use crate::histogram::LatencyHistogram;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::probe::Purpose;
use crate::quality::{Facts, QualityTally};
use crate::reputation::ScoreCard;
use crate::switcher::Reason;
use crate::time::UnixMillis;
use crate::window::{Counts, Ring};
use crate::{Bps, ProviderId, ServiceId};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};

/// The switch reasons of version 2: `Failed` without its cause.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum ReasonV2 {
    Initial,
    Failed {
        consecutive_failures: u32,
        down_for_ms: u64,
    },
    BudgetExhausted {
        utilization: Bps,
    },
    Untrusted {
        total: Bps,
    },
    BadData {
        consecutive: u32,
        check: String,
    },
    Latency {
        recent_ms: u64,
        baseline_ms: u64,
        factor: u32,
    },
    Utilization {
        utilization: Bps,
        max: Bps,
    },
    DataQuality {
        score: Bps,
        min: Bps,
    },
    Performance {
        score: Bps,
        min: Bps,
    },
    ErrorRate {
        rate: Bps,
        max: Bps,
    },
    BetterAlternative {
        current: Bps,
        candidate: Bps,
    },
}

impl From<ReasonV2> for Reason {
    fn from(r: ReasonV2) -> Reason {
        match r {
            ReasonV2::Initial => Reason::Initial,
            ReasonV2::Failed {
                consecutive_failures,
                down_for_ms,
            } => Reason::Failed {
                consecutive_failures,
                down_for_ms,
                cause: None,
            },
            ReasonV2::BudgetExhausted { utilization } => Reason::BudgetExhausted { utilization },
            ReasonV2::Untrusted { total } => Reason::Untrusted { total },
            ReasonV2::BadData { consecutive, check } => Reason::BadData { consecutive, check },
            ReasonV2::Latency {
                recent_ms,
                baseline_ms,
                factor,
            } => Reason::Latency {
                recent_ms,
                baseline_ms,
                factor,
            },
            ReasonV2::Utilization { utilization, max } => Reason::Utilization { utilization, max },
            ReasonV2::DataQuality { score, min } => Reason::DataQuality { score, min },
            ReasonV2::Performance { score, min } => Reason::Performance { score, min },
            ReasonV2::ErrorRate { rate, max } => Reason::ErrorRate { rate, max },
            ReasonV2::BetterAlternative { current, candidate } => {
                Reason::BetterAlternative { current, candidate }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct PendingSwitchV2 {
    to: ProviderId,
    reason: ReasonV2,
    proposed_at: UnixMillis,
    deadline: UnixMillis,
    canary: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct ServiceStateV2 {
    active: Option<ProviderId>,
    since: UnixMillis,
    reason: Option<ReasonV2>,
    switches: u64,
    pending: Option<PendingSwitchV2>,
    streak: Option<(String, u32)>,
    consistency: BTreeMap<ProviderId, bool>,
}

impl From<ServiceStateV2> for ServiceState {
    fn from(s: ServiceStateV2) -> ServiceState {
        ServiceState {
            active: s.active,
            since: s.since,
            reason: s.reason.map(Reason::from),
            switches: s.switches,
            pending: s.pending.map(|p| super::PendingSwitch {
                to: p.to,
                reason: p.reason.into(),
                proposed_at: p.proposed_at,
                deadline: p.deadline,
                canary: p.canary,
            }),
            streak: s.streak,
            consistency: s.consistency,
            fork: None,
            chain_stale_since: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SwitchRecordV2 {
    seq: u64,
    at: UnixMillis,
    service: ServiceId,
    from: Option<ProviderId>,
    to: ProviderId,
    reason: ReasonV2,
}

impl From<SwitchRecordV2> for SwitchRecord {
    fn from(r: SwitchRecordV2) -> SwitchRecord {
        SwitchRecord {
            seq: r.seq,
            at: r.at,
            service: r.service,
            from: r.from,
            to: r.to,
            reason: r.reason.into(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ProviderStateV2 {
    service: ServiceId,
    lifecycle: Lifecycle,
    lifecycle_since: UnixMillis,
    trust: TrustLevel,
    watermark: Option<(UnixMillis, Purpose)>,
    next_due: UnixMillis,
    consecutive_failures: u32,
    consecutive_successes: u32,
    down_since: Option<UnixMillis>,
    hourly: Ring<Counts>,
    daily: Ring<Counts>,
    quality: Ring<QualityTally>,
    reliability: Ring<ReliabilityCounts>,
    latency: LatencyHistogram,
    recent_latency_ms: u32,
    recent_failures: u64,
    recent_probes: u8,
    downtimes: VecDeque<Downtime>,
    ledger: Ledger,
    step: Step,
    flap: Flap,
    card: Option<ScoreCard>,
    testing_min: Option<Bps>,
    attested_until: Option<UnixMillis>,
    last: Option<LastProbe>,
    canary_block_until: UnixMillis,
    consecutive_bad: u32,
    bad_check: Option<String>,
    facts: Option<(UnixMillis, Facts)>,
}

impl From<ProviderStateV2> for ProviderState {
    fn from(p: ProviderStateV2) -> ProviderState {
        let mut out = ProviderState::new(p.service, p.lifecycle, p.lifecycle_since);
        out.trust = p.trust;
        out.watermark = p.watermark;
        out.next_due = p.next_due;
        out.consecutive_failures = p.consecutive_failures;
        out.consecutive_successes = p.consecutive_successes;
        out.down_since = p.down_since;
        out.hourly = p.hourly;
        out.daily = p.daily;
        out.quality = p.quality;
        out.reliability = p.reliability;
        out.latency = p.latency;
        out.recent_latency_ms = p.recent_latency_ms;
        out.recent_failures = p.recent_failures;
        out.recent_probes = p.recent_probes;
        out.downtimes = p.downtimes;
        out.ledger = p.ledger;
        out.step = p.step;
        out.flap = p.flap;
        out.card = p.card;
        out.testing_min = p.testing_min;
        out.attested_until = p.attested_until;
        out.last = p.last;
        out.canary_block_until = p.canary_block_until;
        out.consecutive_bad = p.consecutive_bad;
        out.bad_check = p.bad_check;
        out.facts = p.facts;
        out
    }
}

/// Format version 2.
#[derive(Deserialize)]
pub(super) struct StateV2 {
    version: u16,
    revision: u64,
    last_decide: UnixMillis,
    providers: BTreeMap<ProviderId, ProviderStateV2>,
    services: BTreeMap<ServiceId, ServiceStateV2>,
    history: VecDeque<SwitchRecordV2>,
    switch_seq: u64,
    alerts: BTreeMap<String, ActiveAlert>,
    footprint: Ledger,
    footprint_step: Step,
    usage_watermarks: BTreeMap<String, u64>,
    submitted: Vec<Submitted>,
    outbox: Vec<Notice>,
    notice_seq: u64,
    schedule: Schedule,
    usage_seen: BTreeMap<String, UnixMillis>,
    recent_latency: BTreeMap<ProviderId, crate::recent::RecentLatency>,
}

impl From<StateV2> for State {
    fn from(v: StateV2) -> State {
        let _ = v.version;
        State {
            version: STATE_VERSION,
            revision: v.revision,
            last_decide: v.last_decide,
            providers: v
                .providers
                .into_iter()
                .map(|(k, p)| (k, p.into()))
                .collect(),
            services: v.services.into_iter().map(|(k, s)| (k, s.into())).collect(),
            history: v.history.into_iter().map(SwitchRecord::from).collect(),
            switch_seq: v.switch_seq,
            alerts: v.alerts,
            footprint: v.footprint,
            footprint_step: v.footprint_step,
            usage_watermarks: v.usage_watermarks,
            submitted: v.submitted,
            outbox: v.outbox,
            notice_seq: v.notice_seq,
            schedule: v.schedule,
            usage_seen: v.usage_seen,
            recent_latency: v.recent_latency,
            applied: BTreeMap::new(),
            peering: Default::default(),
            anchoring: Default::default(),
            discovery: Default::default(),
            status_pages: Default::default(),
        }
        .with_applied_from_watermarks()
    }
}

/// Format version 3: the current layout without `applied`.
#[derive(Deserialize)]
pub(super) struct StateV3 {
    version: u16,
    revision: u64,
    last_decide: UnixMillis,
    providers: BTreeMap<ProviderId, ProviderState>,
    services: BTreeMap<ServiceId, ServiceState>,
    history: VecDeque<SwitchRecord>,
    switch_seq: u64,
    alerts: BTreeMap<String, ActiveAlert>,
    footprint: Ledger,
    footprint_step: Step,
    usage_watermarks: BTreeMap<String, u64>,
    submitted: Vec<Submitted>,
    outbox: Vec<Notice>,
    notice_seq: u64,
    schedule: Schedule,
    usage_seen: BTreeMap<String, UnixMillis>,
    recent_latency: BTreeMap<ProviderId, crate::recent::RecentLatency>,
}

impl From<StateV3> for State {
    fn from(v: StateV3) -> State {
        let _ = v.version;
        State {
            version: STATE_VERSION,
            revision: v.revision,
            last_decide: v.last_decide,
            providers: v.providers,
            services: v.services,
            history: v.history,
            switch_seq: v.switch_seq,
            alerts: v.alerts,
            footprint: v.footprint,
            footprint_step: v.footprint_step,
            usage_watermarks: v.usage_watermarks,
            submitted: v.submitted,
            outbox: v.outbox,
            notice_seq: v.notice_seq,
            schedule: v.schedule,
            usage_seen: v.usage_seen,
            recent_latency: v.recent_latency,
            applied: BTreeMap::new(),
            peering: Default::default(),
            anchoring: Default::default(),
            discovery: Default::default(),
            status_pages: Default::default(),
        }
        .with_applied_from_watermarks()
    }
}

impl State {
    /// An older state knew only each provider's watermark: it is the one
    /// applied key known, so nothing older is applied again.
    fn with_applied_from_watermarks(mut self) -> State {
        self.applied = self
            .providers
            .iter()
            .filter_map(|(id, p)| {
                p.watermark.map(|w| {
                    let a = super::Applied {
                        floor: Some(w),
                        keys: Vec::new(),
                    };
                    (id.clone(), a)
                })
            })
            .collect();
        self
    }
}

/// Format version 1 (before the outbox).
#[derive(Deserialize)]
pub(super) struct StateV1 {
    version: u16,
    revision: u64,
    last_decide: UnixMillis,
    providers: BTreeMap<ProviderId, ProviderStateV2>,
    services: BTreeMap<ServiceId, ServiceStateV2>,
    history: VecDeque<SwitchRecordV2>,
    switch_seq: u64,
    alerts: BTreeMap<String, ActiveAlert>,
    footprint: Ledger,
    footprint_step: Step,
    usage_watermarks: BTreeMap<String, u64>,
    submitted: Vec<Submitted>,
}

impl From<StateV1> for StateV2 {
    fn from(v: StateV1) -> StateV2 {
        let _ = v.version;
        StateV2 {
            version: 2,
            revision: v.revision,
            last_decide: v.last_decide,
            providers: v.providers,
            services: v.services,
            history: v.history,
            switch_seq: v.switch_seq,
            alerts: v.alerts,
            footprint: v.footprint,
            footprint_step: v.footprint_step,
            usage_watermarks: v.usage_watermarks,
            submitted: v.submitted,
            outbox: Vec::new(),
            notice_seq: 0,
            schedule: Schedule::default(),
            usage_seen: BTreeMap::new(),
            recent_latency: BTreeMap::new(),
        }
    }
}

/// Format version 4: the current layout without `peering`.
#[derive(Deserialize)]
pub(super) struct StateV4 {
    version: u16,
    revision: u64,
    last_decide: UnixMillis,
    providers: BTreeMap<ProviderId, ProviderState>,
    services: BTreeMap<ServiceId, ServiceState>,
    history: VecDeque<SwitchRecord>,
    switch_seq: u64,
    alerts: BTreeMap<String, ActiveAlert>,
    footprint: Ledger,
    footprint_step: Step,
    usage_watermarks: BTreeMap<String, u64>,
    submitted: Vec<Submitted>,
    outbox: Vec<Notice>,
    notice_seq: u64,
    schedule: Schedule,
    usage_seen: BTreeMap<String, UnixMillis>,
    recent_latency: BTreeMap<ProviderId, crate::recent::RecentLatency>,
    applied: BTreeMap<ProviderId, super::Applied>,
}

impl From<StateV4> for State {
    fn from(v: StateV4) -> State {
        let _ = v.version;
        State {
            version: STATE_VERSION,
            revision: v.revision,
            last_decide: v.last_decide,
            providers: v.providers,
            services: v.services,
            history: v.history,
            switch_seq: v.switch_seq,
            alerts: v.alerts,
            footprint: v.footprint,
            footprint_step: v.footprint_step,
            usage_watermarks: v.usage_watermarks,
            submitted: v.submitted,
            outbox: v.outbox,
            notice_seq: v.notice_seq,
            schedule: v.schedule,
            usage_seen: v.usage_seen,
            recent_latency: v.recent_latency,
            applied: v.applied,
            peering: Default::default(),
            anchoring: Default::default(),
            discovery: Default::default(),
            status_pages: Default::default(),
        }
    }
}

/// Format version 5: the current layout without `anchoring`.
#[derive(Deserialize)]
pub(super) struct StateV5 {
    version: u16,
    revision: u64,
    last_decide: UnixMillis,
    providers: BTreeMap<ProviderId, ProviderState>,
    services: BTreeMap<ServiceId, ServiceState>,
    history: VecDeque<SwitchRecord>,
    switch_seq: u64,
    alerts: BTreeMap<String, ActiveAlert>,
    footprint: Ledger,
    footprint_step: Step,
    usage_watermarks: BTreeMap<String, u64>,
    submitted: Vec<Submitted>,
    outbox: Vec<Notice>,
    notice_seq: u64,
    schedule: Schedule,
    usage_seen: BTreeMap<String, UnixMillis>,
    recent_latency: BTreeMap<ProviderId, crate::recent::RecentLatency>,
    applied: BTreeMap<ProviderId, super::Applied>,
    peering: crate::peer::Peering,
}

impl From<StateV5> for State {
    fn from(v: StateV5) -> State {
        let _ = v.version;
        State {
            version: STATE_VERSION,
            revision: v.revision,
            last_decide: v.last_decide,
            providers: v.providers,
            services: v.services,
            history: v.history,
            switch_seq: v.switch_seq,
            alerts: v.alerts,
            footprint: v.footprint,
            footprint_step: v.footprint_step,
            usage_watermarks: v.usage_watermarks,
            submitted: v.submitted,
            outbox: v.outbox,
            notice_seq: v.notice_seq,
            schedule: v.schedule,
            usage_seen: v.usage_seen,
            recent_latency: v.recent_latency,
            applied: v.applied,
            peering: v.peering,
            anchoring: Default::default(),
            discovery: Default::default(),
            status_pages: Default::default(),
        }
    }
}

/// Format version 6: the current layout without `discovery`.
#[derive(Deserialize)]
pub(super) struct StateV6 {
    version: u16,
    revision: u64,
    last_decide: UnixMillis,
    providers: BTreeMap<ProviderId, ProviderState>,
    services: BTreeMap<ServiceId, ServiceState>,
    history: VecDeque<SwitchRecord>,
    switch_seq: u64,
    alerts: BTreeMap<String, ActiveAlert>,
    footprint: Ledger,
    footprint_step: Step,
    usage_watermarks: BTreeMap<String, u64>,
    submitted: Vec<Submitted>,
    outbox: Vec<Notice>,
    notice_seq: u64,
    schedule: Schedule,
    usage_seen: BTreeMap<String, UnixMillis>,
    recent_latency: BTreeMap<ProviderId, crate::recent::RecentLatency>,
    applied: BTreeMap<ProviderId, super::Applied>,
    peering: crate::peer::Peering,
    anchoring: crate::chain::Anchoring,
}

impl From<StateV6> for State {
    fn from(v: StateV6) -> State {
        let _ = v.version;
        State {
            version: STATE_VERSION,
            revision: v.revision,
            last_decide: v.last_decide,
            providers: v.providers,
            services: v.services,
            history: v.history,
            switch_seq: v.switch_seq,
            alerts: v.alerts,
            footprint: v.footprint,
            footprint_step: v.footprint_step,
            usage_watermarks: v.usage_watermarks,
            submitted: v.submitted,
            outbox: v.outbox,
            notice_seq: v.notice_seq,
            schedule: v.schedule,
            usage_seen: v.usage_seen,
            recent_latency: v.recent_latency,
            applied: v.applied,
            peering: v.peering,
            anchoring: v.anchoring,
            discovery: Default::default(),
            status_pages: Default::default(),
        }
    }
}
