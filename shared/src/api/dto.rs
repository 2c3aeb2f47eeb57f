//! The response bodies of the HTTP API, and how each is built from the
//! engine.
//!
//! Field names are snake_case and stable: they are a contract with every
//! client (and with `openapi.json`). Conventions:
//! * times are a [`Timestamp`], both Unix milliseconds and RFC 3339;
//! * scores are a [`Score`], both basis points (an integer, what is signed
//!   and compared) and a percent string with two decimals (`"87.25"`);
//! * money is [`Money`], integer nano-USD and a decimal USD string;
//! * reasons are a [`ReasonDto`], the trigger's name and the reason itself
//!   as the core serializes it.
//!
//! The dashboard and the Prometheus metrics are built from these same
//! types, so the three views of the state cannot disagree.

use crate::books::{self, QuotaStatus, Step};
use crate::engine::ProviderSummary;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::probe::{Observation, Outcome};
use crate::reputation::Explanation;
use crate::state::{ActiveAlert, LastProbe, PendingSwitch, ProviderState, Severity, SwitchRecord};
use crate::switcher::Reason;
use crate::time::{rfc3339, UnixMillis, DAY, HOUR};
use crate::window::Counts;
use crate::{Bps, Engine, Kind, ProviderId, SentinelId, ServiceId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The error body: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// An error: a stable machine-readable code and a message for humans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable kebab-case code (`not-found`, `unauthorized`, …).
    pub code: String,
    /// What went wrong and, where possible, what to do.
    pub message: String,
    /// Code-specific details (for `invalid-provider`: every problem found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// One problem with a submitted provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Dotted path of the offending key.
    pub key: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// A moment, twice: Unix milliseconds and RFC 3339 UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: UnixMillis,
    /// The same moment as RFC 3339 UTC, millisecond precision.
    pub rfc3339: String,
}

impl Timestamp {
    /// The timestamp of `t`.
    pub fn at(t: UnixMillis) -> Timestamp {
        Timestamp {
            unix_ms: t,
            rfc3339: rfc3339(t),
        }
    }

    /// `None` for 0 (never), the timestamp otherwise.
    pub fn nonzero(t: UnixMillis) -> Option<Timestamp> {
        (t > 0).then(|| Timestamp::at(t))
    }
}

/// A score, twice: basis points and a percent string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Basis points, 0..=10000.
    pub bps: u16,
    /// Percent with two decimals, e.g. `"87.25"`.
    pub percent: String,
}

impl From<Bps> for Score {
    fn from(b: Bps) -> Score {
        Score {
            bps: b.get(),
            percent: b.to_string(),
        }
    }
}

/// An amount of money, twice: integer nano-USD and a decimal USD string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Nano-USD (10⁻⁹ USD).
    pub nano_usd: u64,
    /// The same in USD, exact, at least two decimals (`"12.50"`,
    /// `"0.0000004"`).
    pub usd: String,
}

impl Money {
    /// `nano` nano-USD.
    pub fn nano(nano: u64) -> Money {
        Money {
            nano_usd: nano,
            usd: usd_string(nano),
        }
    }
}

/// Exact decimal USD of `nano` nano-USD, at least two decimals.
pub fn usd_string(nano: u64) -> String {
    let whole = nano / books::cost::NANO_PER_USD;
    let frac = format!("{:09}", nano % books::cost::NANO_PER_USD);
    let trimmed = frac.trim_end_matches('0');
    let frac = if trimmed.len() < 2 {
        &frac[..2]
    } else {
        trimmed
    };
    format!("{whole}.{frac}")
}

/// Why a switch happened (or is pending).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReasonDto {
    /// The trigger's kebab-case name (`failed`, `latency`, …).
    pub trigger: String,
    /// The reason as the core records it, with its numbers, e.g.
    /// `{"failed":{"consecutive_failures":3,"down_for_ms":61000}}`.
    pub detail: serde_json::Value,
}

impl From<&Reason> for ReasonDto {
    fn from(r: &Reason) -> ReasonDto {
        ReasonDto {
            trigger: r.name().to_string(),
            detail: serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
        }
    }
}

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

/// One reputation component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentDto {
    /// `uptime`, `data_quality`, `performance`, `cost` or `reliability`.
    pub name: String,
    /// Its score; `null` when not applicable (no data of this kind), in
    /// which case its weight goes to the others.
    pub score: Option<Score>,
    /// Configured weight, basis points.
    pub weight_bps: u32,
    /// Weight after not-applicable components were taken out.
    pub effective_weight: Score,
    /// Change since the last decision, basis points.
    pub delta_bps: Option<i32>,
    /// The numbers it was computed from.
    pub inputs: BTreeMap<String, u64>,
}

/// A reputation with every component and what moved it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReputationDto {
    /// The total decisions use: `raw·confidence + prior·(1 − confidence)`.
    pub total: Score,
    /// The weighted total before shrinkage toward the prior.
    pub raw_total: Option<Score>,
    /// How much history backs the score.
    pub confidence: Score,
    /// What the total is shrunk toward while confidence is low.
    pub prior: Score,
    /// The total at the last decision.
    pub previous_total: Option<Score>,
    /// Change of the total since the last decision, basis points.
    pub total_delta_bps: Option<i32>,
    /// The component that moved the most since the last decision.
    pub moved_most: Option<String>,
    /// Each component, in a fixed order.
    pub components: Vec<ComponentDto>,
}

impl ReputationDto {
    /// From an explanation and the previous total.
    pub fn from_explanation(e: &Explanation, previous_total: Option<Bps>) -> ReputationDto {
        ReputationDto {
            total: e.total.into(),
            raw_total: e.raw_total.map(Score::from),
            confidence: e.confidence.into(),
            prior: e.prior.into(),
            previous_total: previous_total.map(Score::from),
            total_delta_bps: e.total_delta,
            moved_most: e.moved_most.clone(),
            components: e
                .components
                .iter()
                .map(|c| ComponentDto {
                    name: c.name.clone(),
                    score: c.score.map(Score::from),
                    weight_bps: c.weight,
                    effective_weight: c.effective_weight.into(),
                    delta_bps: c.delta,
                    inputs: c.inputs.clone(),
                })
                .collect(),
        }
    }
}

/// One quota or the monthly money budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaDto {
    /// `quota` or `budget`.
    pub source: books::Source,
    /// What is counted.
    pub metric: books::Metric,
    /// Over which period.
    pub period: books::Period,
    /// The limit (nano-USD for the budget).
    pub limit: u64,
    /// Used this period.
    pub used: u64,
    /// `used / limit`.
    pub utilization: Score,
    /// Usage projected at the period's end from the burn rate.
    pub projected_used: u64,
    /// `projected_used / limit`.
    pub projected: Score,
    /// When the period ends and the counter resets.
    pub period_end: Timestamp,
    /// When the limit is reached at the current burn rate, if before the
    /// period ends.
    pub exhausts_at: Option<Timestamp>,
    /// An alert threshold replacing the ladder's, for this status.
    pub alert_at: Option<Score>,
}

impl From<&QuotaStatus> for QuotaDto {
    fn from(q: &QuotaStatus) -> QuotaDto {
        QuotaDto {
            source: q.source,
            metric: q.metric,
            period: q.period,
            limit: q.limit,
            used: q.used,
            utilization: q.utilization.into(),
            projected_used: q.projected_used,
            projected: q.projected.into(),
            period_end: Timestamp::at(q.period_end),
            exhausts_at: q.exhausts_at.map(Timestamp::at),
            alert_at: q.alert_at.map(Score::from),
        }
    }
}

/// This month's cost so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthCost {
    /// Fixed fee plus variable cost.
    pub total: Money,
    /// Priced usage beyond the free tier, and recorded bills.
    pub variable: Money,
    /// The monthly fixed fee (committed, not burned).
    pub fixed: Money,
}

impl MonthCost {
    /// From the variable and fixed parts.
    pub fn new(variable: u64, fixed: u64) -> MonthCost {
        MonthCost {
            total: Money::nano(variable.saturating_add(fixed)),
            variable: Money::nano(variable),
            fixed: Money::nano(fixed),
        }
    }
}

/// A provider's month cost, its ledger read as of `now`.
pub fn month_cost(engine: &Engine, id: &ProviderId, now: UnixMillis) -> MonthCost {
    let (Some(rt), Some(ps)) = (
        engine.registry().provider(id.as_str()),
        engine.state().providers.get(id),
    ) else {
        return MonthCost::new(0, 0);
    };
    let mut ledger = ps.ledger.clone();
    ledger.roll(now, &rt.config.limits);
    MonthCost::new(ledger.cost_nano, rt.rates.monthly_fixed_nano)
}

/// Latency from the provider's decaying histogram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyDto {
    /// Median, ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<u64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<u64>,
    /// Samples in the histogram (decayed).
    pub samples: u32,
    /// Recent latency (fast moving average), ms.
    pub recent_ms: u32,
    /// The service's latency target, ms.
    pub target_ms: u64,
}

impl LatencyDto {
    /// Of a provider's state, against `target_ms`.
    pub fn of(ps: &ProviderState, target_ms: u64) -> LatencyDto {
        LatencyDto {
            p50_ms: ps.latency.quantile(5000),
            p95_ms: ps.latency.quantile(9500),
            p99_ms: ps.latency.quantile(9900),
            samples: ps.latency.count(),
            recent_ms: ps.recent_latency_ms,
            target_ms,
        }
    }
}

/// Probe outcomes in one hourly or daily bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowBucket {
    /// Age in buckets (0 = the current hour or day).
    pub age: u32,
    /// Start of the bucket.
    pub start: Timestamp,
    /// Successful probes.
    pub ok: u32,
    /// Failed probes (errors, unexpected statuses).
    pub error: u32,
    /// Timed-out probes.
    pub timeout: u32,
    /// Throttled probes (HTTP 429).
    pub throttled: u32,
    /// Share of successful probes; `null` without probes.
    pub uptime: Option<Score>,
}

/// Uptime history: every bucket of the rolling windows, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDto {
    /// 30 daily buckets, oldest first.
    pub daily: Vec<WindowBucket>,
    /// 24 hourly buckets, oldest first.
    pub hourly: Vec<WindowBucket>,
}

fn dense(
    ring: &crate::window::Ring<Counts>,
    now: UnixMillis,
    width: u64,
    len: u32,
) -> Vec<WindowBucket> {
    let mut by_age: BTreeMap<u32, Counts> = BTreeMap::new();
    for (age, c) in ring.iter_aged(now, width, len) {
        by_age.entry(age).or_default().add(c);
    }
    let current = now / width.max(1) * width.max(1);
    (0..len)
        .rev()
        .map(|age| {
            let c = by_age.get(&age).copied().unwrap_or_default();
            WindowBucket {
                age,
                start: Timestamp::at(current.saturating_sub(u64::from(age) * width)),
                ok: c.ok,
                error: c.error,
                timeout: c.timeout,
                throttled: c.throttled,
                uptime: Bps::ratio(u64::from(c.ok), c.total()).map(Score::from),
            }
        })
        .collect()
}

impl HistoryDto {
    /// Of a provider's state.
    pub fn of(ps: &ProviderState, now: UnixMillis) -> HistoryDto {
        HistoryDto {
            daily: dense(&ps.daily, now, DAY, 30),
            hourly: dense(&ps.hourly, now, HOUR, 24),
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

/// The verdict of a pending switch's canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CanaryState {
    /// Not observed yet.
    Pending,
    /// Healthy: the switch completes at the next decision.
    Passed,
    /// Unhealthy: the switch is dropped.
    Failed,
}

/// A switch waiting for its canary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingDto {
    /// Candidate.
    pub to: ProviderId,
    /// Why.
    pub reason: ReasonDto,
    /// When proposed.
    pub proposed_at: Timestamp,
    /// Given up after.
    pub deadline: Timestamp,
    /// The canary's verdict.
    pub canary: CanaryState,
}

impl From<&PendingSwitch> for PendingDto {
    fn from(p: &PendingSwitch) -> PendingDto {
        PendingDto {
            to: p.to.clone(),
            reason: (&p.reason).into(),
            proposed_at: Timestamp::at(p.proposed_at),
            deadline: Timestamp::at(p.deadline),
            canary: match p.canary {
                None => CanaryState::Pending,
                Some(true) => CanaryState::Passed,
                Some(false) => CanaryState::Failed,
            },
        }
    }
}

/// `GET /v1/services/{service}/route`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteDto {
    /// Service.
    pub service: ServiceId,
    /// Its kind.
    pub kind: Kind,
    /// Free text from the config.
    pub description: String,
    /// The provider traffic goes to (`null`: none is usable).
    pub active: Option<ProviderId>,
    /// Its display name.
    pub active_name: Option<String>,
    /// Its endpoint.
    pub endpoint: Option<String>,
    /// Routed there since.
    pub since: Timestamp,
    /// Why it became active (`null` for the configured initial provider).
    pub reason: Option<ReasonDto>,
    /// Switches so far.
    pub switches: u64,
    /// A switch waiting for its canary.
    pub pending: Option<PendingDto>,
    /// Where to send traffic through the sentinel's failover proxy.
    pub proxy_path: String,
    /// The service's providers, in order.
    pub providers: Vec<ProviderId>,
}

impl RouteDto {
    /// Builds the route of `service`, `None` if unknown.
    pub fn build(engine: &Engine, service: &ServiceId) -> Option<RouteDto> {
        let svc = engine.registry().service(service.as_str())?;
        let st = engine.state().services.get(service);
        let active = st.and_then(|s| s.active.clone());
        let rt = active
            .as_ref()
            .and_then(|a| engine.registry().provider(a.as_str()));
        Some(RouteDto {
            service: service.clone(),
            kind: svc.config.kind,
            description: svc.config.description.clone(),
            active_name: rt.map(|r| {
                if r.config.name.is_empty() {
                    r.config.id.to_string()
                } else {
                    r.config.name.clone()
                }
            }),
            endpoint: rt.map(|r| r.config.endpoint.clone()),
            active,
            since: Timestamp::at(st.map_or(0, |s| s.since)),
            reason: st.and_then(|s| s.reason.as_ref()).map(ReasonDto::from),
            switches: st.map_or(0, |s| s.switches),
            pending: st.and_then(|s| s.pending.as_ref()).map(PendingDto::from),
            proxy_path: format!("/proxy/{service}/"),
            providers: svc.providers.clone(),
        })
    }
}

/// One completed switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwitchDto {
    /// Global sequence number.
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// Service.
    pub service: ServiceId,
    /// Previous provider.
    pub from: Option<ProviderId>,
    /// New provider.
    pub to: ProviderId,
    /// Why.
    pub reason: ReasonDto,
}

impl From<&SwitchRecord> for SwitchDto {
    fn from(r: &SwitchRecord) -> SwitchDto {
        SwitchDto {
            seq: r.seq,
            at: Timestamp::at(r.at),
            service: r.service.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            reason: (&r.reason).into(),
        }
    }
}

/// `GET /v1/switches`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwitchList {
    /// Switches returned.
    pub count: usize,
    /// Switches kept in the (bounded) history.
    pub recorded: usize,
    /// The limit applied.
    pub limit: usize,
    /// Newest first.
    pub switches: Vec<SwitchDto>,
}

impl SwitchList {
    /// The newest `limit` switches.
    pub fn build(engine: &Engine, limit: usize) -> SwitchList {
        let history = &engine.state().history;
        let switches: Vec<SwitchDto> = history
            .iter()
            .rev()
            .take(limit)
            .map(SwitchDto::from)
            .collect();
        SwitchList {
            count: switches.len(),
            recorded: history.len(),
            limit,
            switches,
        }
    }
}

/// A provider's budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderBudget {
    /// Provider.
    pub id: ProviderId,
    /// Its service.
    pub service: ServiceId,
    /// Budget ladder step.
    pub step: Step,
    /// This month's cost.
    pub cost_month: MonthCost,
    /// This month's usage: probes and proxied traffic together.
    pub usage_month: UsageMonth,
    /// Quotas and the money budget.
    pub quotas: Vec<QuotaDto>,
}

/// Month-to-date usage of a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageMonth {
    /// Requests, writes and invocations.
    pub requests: u64,
    /// Egress and storage bytes.
    pub bytes: u64,
    /// Compute units and gas.
    pub compute_units: u64,
}

/// The sentinel's own footprint (store writes, invocations, gas).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FootprintDto {
    /// The sentinel.
    pub sentinel: SentinelId,
    /// Its ladder step.
    pub step: Step,
    /// Its own cost this month.
    pub cost_month: MonthCost,
    /// Its quotas.
    pub quotas: Vec<QuotaDto>,
}

impl FootprintDto {
    /// The footprint now.
    pub fn build(engine: &Engine, now: UnixMillis) -> FootprintDto {
        let st = engine.state();
        let mut ledger = st.footprint.clone();
        ledger.roll(now, &engine.config().sentinel.footprint);
        FootprintDto {
            sentinel: engine.config().sentinel.id.clone(),
            step: st.footprint_step,
            cost_month: MonthCost::new(ledger.cost_nano, 0),
            quotas: engine
                .footprint_status(now)
                .iter()
                .map(QuotaDto::from)
                .collect(),
        }
    }
}

/// `GET /v1/budget`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// When computed.
    pub generated_at: Timestamp,
    /// Every provider, by service then id.
    pub providers: Vec<ProviderBudget>,
    /// The sentinel itself.
    pub sentinel: FootprintDto,
    /// Sum of every provider's month cost.
    pub total_cost_month: Money,
}

impl BudgetReport {
    /// Builds the report.
    pub fn build(engine: &Engine, now: UnixMillis) -> BudgetReport {
        let providers: Vec<ProviderBudget> = engine
            .registry()
            .services()
            .flat_map(|s| s.providers.iter())
            .filter_map(|id| {
                let rt = engine.registry().provider(id.as_str())?;
                let ps = engine.state().providers.get(id)?;
                Some(ProviderBudget {
                    id: id.clone(),
                    service: rt.service.clone(),
                    step: ps.step,
                    cost_month: month_cost(engine, id, now),
                    usage_month: UsageMonth {
                        requests: ps.ledger.requests,
                        bytes: ps.ledger.bytes,
                        compute_units: ps.ledger.compute_units,
                    },
                    quotas: engine
                        .budget_status(id, now)
                        .iter()
                        .map(QuotaDto::from)
                        .collect(),
                })
            })
            .collect();
        let total = providers
            .iter()
            .map(|p| p.cost_month.total.nano_usd)
            .fold(0u64, u64::saturating_add);
        BudgetReport {
            generated_at: Timestamp::at(now),
            providers,
            sentinel: FootprintDto::build(engine, now),
            total_cost_month: Money::nano(total),
        }
    }
}

/// An alert that is firing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDto {
    /// Stable key (what the alert is about).
    pub key: String,
    /// Severity.
    pub severity: Severity,
    /// Firing since.
    pub since: Timestamp,
    /// What is wrong.
    pub message: String,
}

/// Every firing alert, most severe first, then oldest first.
pub fn alerts(engine: &Engine) -> Vec<AlertDto> {
    let mut out: Vec<AlertDto> = engine
        .state()
        .alerts
        .iter()
        .map(|(k, a): (&String, &ActiveAlert)| AlertDto {
            key: k.clone(),
            severity: a.severity,
            since: Timestamp::at(a.since),
            message: a.message.clone(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.since.unix_ms.cmp(&b.since.unix_ms))
            .then(a.key.cmp(&b.key))
    });
    out
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` when the sentinel answers.
    pub status: String,
    /// The build's version.
    pub version: String,
    /// Which sentinel answered.
    pub sentinel: SentinelId,
    /// State revision (incremented on every decision).
    pub revision: u64,
    /// The last decision (`null`: none yet).
    pub last_decide: Option<Timestamp>,
    /// The sentinel's clock.
    pub now: Timestamp,
    /// Services configured.
    pub services: usize,
    /// Providers known.
    pub providers: usize,
    /// Alerts firing.
    pub alerts_firing: usize,
}

impl Health {
    /// Builds the health report.
    pub fn build(engine: &Engine, now: UnixMillis) -> Health {
        let st = engine.state();
        Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sentinel: engine.config().sentinel.id.clone(),
            revision: st.revision,
            last_decide: Timestamp::nonzero(st.last_decide),
            now: Timestamp::at(now),
            services: engine.registry().services().count(),
            providers: engine.registry().providers().count(),
            alerts_firing: st.alerts.len(),
        }
    }
}

/// `GET /v1/observations`: what this sentinel saw, for its peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservationList {
    /// The sentinel that made them.
    pub sentinel: SentinelId,
    /// When served.
    pub generated_at: Timestamp,
    /// Observations returned.
    pub count: usize,
    /// Oldest first, in the core's own encoding (a peer deserializes them
    /// as `sentinel_core::probe::Observation`).
    pub observations: Vec<Observation>,
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

/// `404 not-attested` details of `GET /v1/attestations/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotAttested {
    /// The provider.
    pub provider: ProviderId,
    /// Its trust level.
    pub trust: TrustLevel,
    /// Its reputation total.
    pub total: Score,
    /// How much history backs it.
    pub confidence: Score,
    /// On-chain attestation valid until, if one was ever recorded.
    pub attested_until: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_scores_render_exactly() {
        assert_eq!(usd_string(0), "0.00");
        assert_eq!(usd_string(400), "0.0000004");
        assert_eq!(usd_string(12_500_000_000), "12.50");
        assert_eq!(usd_string(1_234_567_891), "1.234567891");
        assert_eq!(usd_string(u64::MAX), "18446744073.709551615");
        let s = Score::from(Bps::new(8725));
        assert_eq!((s.bps, s.percent.as_str()), (8725, "87.25"));
        let t = Timestamp::at(0);
        assert_eq!(t.rfc3339, "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::nonzero(0), None);
    }

    #[test]
    fn reasons_carry_their_trigger_and_numbers() {
        let r = ReasonDto::from(&Reason::Failed {
            consecutive_failures: 3,
            down_for_ms: 61_000,
        });
        assert_eq!(r.trigger, "failed");
        assert_eq!(r.detail["failed"]["consecutive_failures"], 3);
        assert_eq!(ReasonDto::from(&Reason::Initial).detail, "initial");
    }
}
