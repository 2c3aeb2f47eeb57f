//! The `providers` tag: the list (`GET /v1/providers`), one provider's
//! detail (`GET /v1/providers/{id}`) and the answer to a submission
//! (`POST /v1/providers`).

use super::budget::{month_cost, MonthCost, QuotaDto};
use super::common::{ReasonDto, Score, Timestamp};
use super::history::{HistoryDto, LatencyDto};
use super::reputation::ReputationDto;
use crate::books::Step;
use crate::engine::ProviderSummary;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::probe::Outcome;
use crate::state::LastProbe;
use crate::time::UnixMillis;
use crate::{Bps, Engine, Kind, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};

/// Whether a provider answered its last probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The last probe was healthy.
    Up,
    /// The last probe failed or its data failed a check.
    Down,
    /// Never probed yet.
    Unknown,
}

impl Status {
    /// From the last probe.
    pub fn of(last: Option<&LastProbe>) -> Status {
        match last {
            Some(l) if l.healthy => Status::Up,
            Some(_) => Status::Down,
            None => Status::Unknown,
        }
    }

    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Unknown => "unknown",
        }
    }
}

/// A probe outcome as a short name: `ok`, `http-503`, `throttled`,
/// `timeout`, `connect`, `too-large`, `blocked`, `protocol`.
pub fn outcome_name(o: Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Status(s) => format!("http-{s}"),
        Outcome::Throttled => "throttled".into(),
        Outcome::Timeout => "timeout".into(),
        Outcome::Connect => "connect".into(),
        Outcome::TooLarge => "too-large".into(),
        Outcome::Blocked => "blocked".into(),
        Outcome::Protocol => "protocol".into(),
    }
}

/// The last probe of a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastProbeDto {
    /// When it was sent.
    pub at: Timestamp,
    /// Outcome (see [`outcome_name`]).
    pub outcome: String,
    /// The HTTP status, for an unexpected one.
    pub http_status: Option<u16>,
    /// Whether it answered and passed its checks.
    pub healthy: bool,
    /// Round-trip time.
    pub latency_ms: u32,
    /// The first problem, if any.
    pub detail: Option<String>,
}

impl From<&LastProbe> for LastProbeDto {
    fn from(l: &LastProbe) -> LastProbeDto {
        LastProbeDto {
            at: Timestamp::at(l.at),
            outcome: outcome_name(l.outcome),
            http_status: match l.outcome {
                Outcome::Status(s) => Some(s),
                Outcome::Throttled => Some(429),
                _ => None,
            },
            healthy: l.healthy,
            latency_ms: l.latency_ms,
            detail: l.detail.clone(),
        }
    }
}

/// A provider in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderItem {
    /// Id.
    pub id: ProviderId,
    /// Display name (the id when none is configured).
    pub name: String,
    /// Its service.
    pub service: ServiceId,
    /// The service's kind.
    pub kind: Kind,
    /// Base URL.
    pub endpoint: String,
    /// Whether its service routes to it now.
    pub routed: bool,
    /// Up or down by its last probe.
    pub status: Status,
    /// Lifecycle stage.
    pub lifecycle: Lifecycle,
    /// In that stage since.
    pub lifecycle_since: Timestamp,
    /// Trust level.
    pub trust: TrustLevel,
    /// The reputation total decisions use.
    pub total: Score,
    /// How much history backs it.
    pub confidence: Score,
    /// Budget ladder step.
    pub step: Step,
    /// Highest quota or budget utilization.
    pub max_utilization: Score,
    /// Consecutive failed probes.
    pub consecutive_failures: u32,
    /// The last probe.
    pub last_probe: Option<LastProbeDto>,
}

impl ProviderItem {
    /// From a provider summary.
    pub fn from_summary(s: &ProviderSummary) -> ProviderItem {
        ProviderItem {
            id: s.id.clone(),
            name: s.name.clone(),
            service: s.service.clone(),
            kind: s.kind,
            endpoint: s.endpoint.clone(),
            routed: s.routed,
            status: Status::of(s.last.as_ref()),
            lifecycle: s.lifecycle,
            lifecycle_since: Timestamp::at(s.lifecycle_since),
            trust: s.trust,
            total: s.reputation.total.into(),
            confidence: s.reputation.confidence.into(),
            step: s.step,
            max_utilization: s
                .budget
                .iter()
                .map(|q| q.utilization)
                .max()
                .unwrap_or(Bps::ZERO)
                .into(),
            consecutive_failures: s.consecutive_failures,
            last_probe: s.last.as_ref().map(LastProbeDto::from),
        }
    }
}

/// `GET /v1/providers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderList {
    /// When computed.
    pub generated_at: Timestamp,
    /// Number of providers.
    pub count: usize,
    /// Every provider, by service then id.
    pub providers: Vec<ProviderItem>,
}

/// Every provider's summary, by service id then provider order.
pub fn summaries(engine: &Engine, now: UnixMillis) -> Vec<ProviderSummary> {
    engine
        .registry()
        .services()
        .flat_map(|s| s.providers.iter())
        .filter_map(|id| engine.summary(id, now))
        .collect()
}

impl ProviderList {
    /// Builds the list.
    pub fn build(engine: &Engine, now: UnixMillis) -> ProviderList {
        let providers: Vec<_> = summaries(engine, now)
            .iter()
            .map(ProviderItem::from_summary)
            .collect();
        ProviderList {
            generated_at: Timestamp::at(now),
            count: providers.len(),
            providers,
        }
    }
}

/// A downtime incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimeDto {
    /// First failed probe.
    pub start: Timestamp,
    /// First successful probe after it (`null`: still down).
    pub end: Option<Timestamp>,
    /// How long (until now while still down), ms.
    pub duration_ms: u64,
}

/// `GET /v1/providers/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderDetail {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: ProviderItem,
    /// A status page, if configured.
    pub status_page: Option<String>,
    /// Submitted at run time rather than configured.
    pub submitted: bool,
    /// Why it is routed (when it is): the reason its service switched to it.
    pub routed_because: Option<ReasonDto>,
    /// Every reputation component with its inputs, and what moved.
    pub reputation: ReputationDto,
    /// Quotas and the money budget.
    pub budget: Vec<QuotaDto>,
    /// This month's cost.
    pub cost_month: MonthCost,
    /// Latency quantiles.
    pub latency: LatencyDto,
    /// Uptime history.
    pub history: HistoryDto,
    /// Recent downtime incidents, oldest first.
    pub downtimes: Vec<DowntimeDto>,
    /// Flap damping: suppressed providers are not switched to.
    pub flap_suppressed: bool,
    /// Times penalised for flapping.
    pub flap_count: u32,
    /// On-chain attestation valid until, if any.
    pub attested_until: Option<Timestamp>,
    /// When its next scheduled probe is due.
    pub next_probe: Option<Timestamp>,
}

impl ProviderDetail {
    /// Builds the detail of `id`, `None` if unknown.
    pub fn build(engine: &Engine, id: &ProviderId, now: UnixMillis) -> Option<ProviderDetail> {
        let s = engine.summary(id, now)?;
        let rt = engine.registry().provider(id.as_str())?;
        let ps = engine.state().providers.get(id)?;
        let svc = engine.registry().service(rt.service.as_str())?;
        let explanation = s.reputation.explain(ps.card.as_ref());
        let routed_because = if s.routed {
            engine
                .state()
                .services
                .get(&s.service)
                .and_then(|st| st.reason.as_ref())
                .map(ReasonDto::from)
        } else {
            None
        };
        Some(ProviderDetail {
            summary: ProviderItem::from_summary(&s),
            status_page: rt.config.status_page.clone(),
            submitted: rt.submitted,
            routed_because,
            reputation: ReputationDto::from_explanation(
                &explanation,
                ps.card.as_ref().map(|c| c.total),
            ),
            budget: s.budget.iter().map(QuotaDto::from).collect(),
            cost_month: month_cost(engine, id, now),
            latency: LatencyDto::of(ps, svc.config.latency_target().as_ms()),
            history: HistoryDto::of(ps, now),
            downtimes: ps
                .downtimes
                .iter()
                .map(|d| DowntimeDto {
                    start: Timestamp::at(d.start),
                    end: d.end.map(Timestamp::at),
                    duration_ms: d.end.unwrap_or(now).saturating_sub(d.start),
                })
                .collect(),
            flap_suppressed: ps.flap.suppressed,
            flap_count: ps.flap.count,
            attested_until: ps.attested_until.map(Timestamp::at),
            next_probe: Timestamp::nonzero(ps.next_due),
        })
    }
}

/// `201` body of `POST /v1/providers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmitAccepted {
    /// The provider's id.
    pub id: ProviderId,
    /// Where it starts: `discovered`, then testing.
    pub lifecycle: Lifecycle,
    /// Where to follow it.
    pub location: String,
    /// What happens next.
    pub message: String,
}
