//! The `providers` tag: the list (`GET /v1/providers`), one provider's
//! detail (`GET /v1/providers/{id}`) and the answer to a submission
//! (`POST /v1/providers`).
//!
//! The list is paginated and filtered ([`ProviderQuery`]): providers are
//! ordered by service id then provider id, a page holds at most
//! [`PROVIDERS_LIMIT`]`.1` items, and `next` is the opaque cursor of the
//! page after it (`service:provider`, the last item's key, so a page is
//! stable while providers are added). Selecting a page is cheap — the
//! filters (`service`, `status`, `lifecycle`, `routed`) read only the
//! registry and the stored state — and only the providers on the page get
//! their summary built (the reputation, computed on demand, is the
//! expensive part), so the cost and size of an answer grow with `limit`,
//! not with the number of providers.

use super::budget::{month_cost, MonthCost, QuotaDto};
use super::common::{ReasonDto, Score, Timestamp};
use super::history::{HistoryDto, LatencyDto};
use super::reputation::ReputationDto;
use crate::books::Step;
use crate::engine::ProviderSummary;
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::probe::Outcome;
use crate::reputation::Reputation;
use crate::state::{LastProbe, ProviderState};
use crate::time::UnixMillis;
use crate::{Bps, Engine, Kind, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};

/// How a provider's last probe went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The last probe was healthy.
    Up,
    /// The last probe got no usable answer (refused, reset, hang, 5xx…).
    Down,
    /// Never probed yet.
    Unknown,
    /// The last probe was answered with 429 Too Many Requests: up, but
    /// refusing the sentinel (a quota).
    Throttled,
    /// The last probe was answered, but its data failed a check (stale,
    /// wrong, inconsistent with the other providers).
    BadData,
}

impl Status {
    /// From the last probe.
    pub fn of(last: Option<&LastProbe>) -> Status {
        match last {
            Some(l) if l.healthy => Status::Up,
            Some(l) if l.outcome == Outcome::Throttled => Status::Throttled,
            Some(l) if l.outcome.is_up() => Status::BadData,
            Some(_) => Status::Down,
            None => Status::Unknown,
        }
    }

    /// The status the list and the detail show for a provider's stored
    /// state (the same as [`Status::of`] its last probe): what the
    /// `status=` filter and the dashboard's counts read without building
    /// the provider's summary.
    pub fn of_state(ps: &ProviderState) -> Status {
        Status::of(ps.last.as_ref())
    }

    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Unknown => "unknown",
            Status::Throttled => "throttled",
            Status::BadData => "bad-data",
        }
    }

    /// Every status, in order.
    pub const ALL: [Status; 5] = [
        Status::Up,
        Status::Down,
        Status::Unknown,
        Status::Throttled,
        Status::BadData,
    ];

    /// From its kebab-case name.
    pub fn named(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Every lifecycle stage, in order.
pub const LIFECYCLES: [Lifecycle; 6] = [
    Lifecycle::Discovered,
    Lifecycle::Testing,
    Lifecycle::Active,
    Lifecycle::Standby,
    Lifecycle::Failed,
    Lifecycle::Recovering,
];

/// A lifecycle stage from its kebab-case name.
pub fn lifecycle_named(s: &str) -> Option<Lifecycle> {
    LIFECYCLES.into_iter().find(|l| l.as_str() == s)
}

/// A probe outcome as a short name (see [`Outcome::name`]).
pub fn outcome_name(o: Outcome) -> String {
    o.name()
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

/// The five reputation component scores of a provider (`null`: not
/// applicable, no data of this kind; its weight goes to the others).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentScores {
    /// Probe success over 30 days, recent days weighted more.
    pub uptime: Option<Score>,
    /// Schema, business rules, freshness and consistency.
    pub data_quality: Option<Score>,
    /// Latency against target, timeouts.
    pub performance: Option<Score>,
    /// Cost against the cheapest alternative, free-tier headroom.
    pub cost: Option<Score>,
    /// Errors, retry success, incidents.
    pub reliability: Option<Score>,
}

impl ComponentScores {
    /// From a reputation.
    pub fn of(r: &Reputation) -> ComponentScores {
        let s = |c: &crate::reputation::Component| c.score.map(Score::from);
        ComponentScores {
            uptime: s(&r.uptime),
            data_quality: s(&r.data_quality),
            performance: s(&r.performance),
            cost: s(&r.cost),
            reliability: s(&r.reliability),
        }
    }

    /// `(name, score)` in the fixed order of the reputation.
    pub fn iter(&self) -> [(&'static str, Option<&Score>); 5] {
        [
            ("uptime", self.uptime.as_ref()),
            ("data_quality", self.data_quality.as_ref()),
            ("performance", self.performance.as_ref()),
            ("cost", self.cost.as_ref()),
            ("reliability", self.reliability.as_ref()),
        ]
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
    /// How its last probe went.
    pub status: Status,
    /// What is wrong now, in words (`null` when healthy): "answered 429
    /// Too Many Requests 3 times in a row (HTTP 429 Too Many Requests;
    /// Retry-After 60 s)".
    pub problem: Option<String>,
    /// Lifecycle stage.
    pub lifecycle: Lifecycle,
    /// In that stage since.
    pub lifecycle_since: Timestamp,
    /// Trust level.
    pub trust: TrustLevel,
    /// The reputation total decisions use.
    pub total: Score,
    /// Every reputation component's score.
    pub components: ComponentScores,
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
            problem: s.problem.clone(),
            lifecycle: s.lifecycle,
            lifecycle_since: Timestamp::at(s.lifecycle_since),
            trust: s.trust,
            total: s.reputation.total.into(),
            components: ComponentScores::of(&s.reputation),
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

/// Default and maximum of `GET /v1/providers?limit=`.
pub const PROVIDERS_LIMIT: (usize, usize) = (100, 500);

/// Where a page starts: strictly after this provider, in the order of the
/// list (service id, then provider id). Written `service:provider`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// The service of the last provider seen.
    pub service: ServiceId,
    /// The last provider seen.
    pub provider: ProviderId,
}

impl Cursor {
    /// The cursor as it is written in `next` and read from `cursor=`.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.service, self.provider)
    }

    /// Reads a cursor written by [`Cursor::encode`]; `None` if it is not one.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (svc, id) = s.split_once(':')?;
        Some(Cursor {
            service: ServiceId::new(svc).ok()?,
            provider: ProviderId::new(id).ok()?,
        })
    }
}

/// The filters and the page of `GET /v1/providers` (and of the
/// dashboard's provider pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderQuery {
    /// Only this service's providers.
    pub service: Option<ServiceId>,
    /// Only providers with this status.
    pub status: Option<Status>,
    /// Only providers in this lifecycle stage.
    pub lifecycle: Option<Lifecycle>,
    /// Only the providers their service routes to (`true`) or the others.
    pub routed: Option<bool>,
    /// Start after this provider.
    pub after: Option<Cursor>,
    /// At most this many.
    pub limit: usize,
}

impl Default for ProviderQuery {
    fn default() -> ProviderQuery {
        ProviderQuery {
            service: None,
            status: None,
            lifecycle: None,
            routed: None,
            after: None,
            limit: PROVIDERS_LIMIT.0,
        }
    }
}

/// A page of provider ids: what [`ProviderQuery::select`] picked, before
/// any summary is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The providers on the page, in order.
    pub ids: Vec<ProviderId>,
    /// Providers matching the filters, on every page.
    pub matched: usize,
    /// The cursor of the next page, when there is one.
    pub next: Option<Cursor>,
}

impl ProviderQuery {
    /// Whether the provider passes the filters (not the cursor). Reads
    /// only the registry and the stored state.
    fn admits(&self, engine: &Engine, service: &ServiceId, id: &ProviderId) -> bool {
        let Some(ps) = engine.state().providers.get(id) else {
            return false;
        };
        if self.status.is_some_and(|s| s != Status::of_state(ps))
            || self.lifecycle.is_some_and(|l| l != ps.lifecycle)
        {
            return false;
        }
        match self.routed {
            None => true,
            Some(want) => {
                let routed = engine
                    .state()
                    .services
                    .get(service)
                    .is_some_and(|s| s.active.as_ref() == Some(id));
                routed == want
            }
        }
    }

    /// Picks the page: every provider is visited once (ids and a few
    /// stored fields, no summary), the page keeps at most `limit` ids.
    pub fn select(&self, engine: &Engine) -> Page {
        let mut page = Page {
            ids: Vec::with_capacity(self.limit.min(PROVIDERS_LIMIT.1)),
            matched: 0,
            next: None,
        };
        let mut last: Option<Cursor> = None;
        let mut more = false;
        let mut sorted: Vec<&ProviderId> = Vec::new();
        for svc in engine.registry().services() {
            let sid = &svc.config.id;
            if self.service.as_ref().is_some_and(|s| s != sid) {
                continue;
            }
            sorted.clear();
            sorted.extend(svc.providers.iter());
            sorted.sort_unstable();
            for id in sorted.iter().copied() {
                if !self.admits(engine, sid, id) {
                    continue;
                }
                page.matched += 1;
                let past_cursor = self
                    .after
                    .as_ref()
                    .is_none_or(|a| (sid, id) > (&a.service, &a.provider));
                if !past_cursor {
                    continue;
                }
                if page.ids.len() < self.limit {
                    page.ids.push(id.clone());
                    last = Some(Cursor {
                        service: sid.clone(),
                        provider: id.clone(),
                    });
                } else {
                    more = true;
                }
            }
        }
        if more {
            page.next = last;
        }
        page
    }
}

/// `GET /v1/providers`: one page of providers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderList {
    /// When computed.
    pub generated_at: Timestamp,
    /// Providers on this page.
    pub count: usize,
    /// Providers matching the filters, on every page.
    pub matched: usize,
    /// The limit applied.
    pub limit: usize,
    /// The cursor of the next page (pass it as `cursor=`, with the same
    /// filters); `null` on the last page.
    pub next: Option<String>,
    /// The providers of this page, by service then id.
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
    /// The first page of every provider, with the default limit.
    pub fn build(engine: &Engine, now: UnixMillis) -> ProviderList {
        ProviderList::page(engine, now, &ProviderQuery::default())
    }

    /// The page `q` selects; summaries are built for its providers only.
    pub fn page(engine: &Engine, now: UnixMillis, q: &ProviderQuery) -> ProviderList {
        let page = q.select(engine);
        let providers: Vec<ProviderItem> = page
            .ids
            .iter()
            .filter_map(|id| engine.summary(id, now))
            .map(|s| ProviderItem::from_summary(&s))
            .collect();
        ProviderList {
            generated_at: Timestamp::at(now),
            count: providers.len(),
            matched: page.matched,
            limit: q.limit,
            next: page.next.as_ref().map(Cursor::encode),
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

/// One incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDto {
    /// The first unhealthy observation.
    pub start: Timestamp,
    /// The first healthy one after it (`null`: still open).
    pub end: Option<Timestamp>,
    /// How long (until now while open), ms.
    pub duration_ms: u64,
    /// The same for people: `45 s`, `12 min`.
    pub duration: String,
    /// Its cause: a probe outcome (`timeout`, `refused`, `reset`,
    /// `http-503`, `throttled`) or a failed data check (`stale`,
    /// `wrong-chain`, `lagging`, `inconsistent`, …).
    pub cause: String,
    /// Whether the provider answered (bad data, throttling) or not.
    pub kind: String,
    /// Unhealthy observations during it.
    pub probes: u32,
    /// The first observation's detail.
    pub evidence: String,
}

/// One half hour of a provider's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelinePointDto {
    /// Start of the half hour.
    pub at: Timestamp,
    /// The lowest decision total in it.
    pub lowest_total: Option<Score>,
    /// The 95th percentile latency of its answers, ms.
    pub p95_ms: Option<u32>,
    /// Answers in it.
    pub answers: u32,
}

/// A provider's incidents as the API shows them.
pub fn incidents(ps: &ProviderState, now: UnixMillis) -> Vec<IncidentDto> {
    use crate::incident::IncidentCause;
    ps.incidents
        .iter()
        .map(|i| IncidentDto {
            start: Timestamp::at(i.start),
            end: i.end.map(Timestamp::at),
            duration_ms: i.duration_ms(now),
            duration: crate::words::duration(i.duration_ms(now)),
            cause: i.cause.name(),
            kind: match i.cause {
                IncidentCause::Down(Outcome::Throttled) => "throttled",
                IncidentCause::Down(_) => "down",
                IncidentCause::BadData(_) => "bad-data",
            }
            .to_string(),
            probes: i.probes,
            evidence: i.evidence.clone(),
        })
        .collect()
}

/// A provider's timeline as the API shows it, oldest first.
pub fn timeline(ps: &ProviderState, now: UnixMillis) -> Vec<TimelinePointDto> {
    use crate::timeline::{POINTS, WIDTH};
    let current = now / WIDTH;
    let mut out: Vec<TimelinePointDto> = ps
        .timeline
        .iter_aged(now, WIDTH, POINTS)
        .map(|(age, p)| TimelinePointDto {
            at: Timestamp::at(current.saturating_sub(u64::from(age)) * WIDTH),
            lowest_total: p.lowest_total.map(Score::from),
            p95_ms: p.p95_ms(),
            answers: p.answers,
        })
        .collect();
    out.sort_by_key(|p| p.at.unix_ms);
    out
}

/// What a provider's status page declares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeclaredDto {
    /// When it was last asked.
    pub asked: Timestamp,
    /// When it was last read (`None`: never read successfully).
    pub read: Option<Timestamp>,
    /// Whether that read is recent enough to act on.
    pub current: bool,
    /// The page's indicator (`none`, `minor`, `major`, `critical`,
    /// `maintenance`).
    pub indicator: Option<String>,
    /// Its description ("All Systems Operational").
    pub description: Option<String>,
    /// Unresolved incidents: impact, status and title.
    pub incidents: Vec<String>,
    /// Upcoming or in-progress maintenances: title and window.
    pub maintenances: Vec<String>,
    /// Why the last read failed, if it did.
    pub error: Option<String>,
}

impl DeclaredDto {
    fn of(p: &crate::statuspage::PageState, current: bool) -> DeclaredDto {
        let d = p.declared.as_ref();
        DeclaredDto {
            asked: Timestamp::at(p.asked),
            read: d.map(|d| Timestamp::at(d.at)),
            current,
            indicator: d.map(|d| d.indicator.name().to_string()),
            description: d.map(|d| d.description.clone()),
            incidents: d
                .map(|d| {
                    d.incidents
                        .iter()
                        .map(|i| format!("{} ({}): {}", i.impact.name(), i.status, i.name))
                        .collect()
                })
                .unwrap_or_default(),
            maintenances: d
                .map(|d| {
                    d.maintenances
                        .iter()
                        .map(|m| {
                            let end = m.ends.map_or_else(String::new, |e| {
                                format!(" to {}", crate::time::rfc3339(e))
                            });
                            format!(
                                "{} ({}): from {}{end}",
                                m.name,
                                m.status,
                                crate::time::rfc3339(m.starts)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            error: p.error.clone(),
        }
    }
}

/// `GET /v1/providers/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderDetail {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: ProviderItem,
    /// A status page, if configured.
    pub status_page: Option<String>,
    /// What that page declares, as last read ([`crate::statuspage`]);
    /// `None` before the first read.
    pub declared: Option<DeclaredDto>,
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
    /// Incidents of any cause (down, throttled, bad data), oldest first,
    /// kept after recovery ([`crate::incident`]).
    pub incidents: Vec<IncidentDto>,
    /// The last 24 hours per half hour: lowest total and p95 latency
    /// ([`crate::timeline`]); only half hours with data.
    pub timeline: Vec<TimelinePointDto>,
    /// Flap damping: suppressed providers are not switched to.
    pub flap_suppressed: bool,
    /// Times penalised for flapping.
    pub flap_count: u32,
    /// On-chain attestation valid until, if any.
    pub attested_until: Option<Timestamp>,
    /// When its next scheduled probe is due.
    pub next_probe: Option<Timestamp>,
    /// Each vantage's view of it: this sentinel first, then its peers
    /// ([`crate::peer`]).
    pub vantages: Vec<super::VantageDto>,
    /// The peers' quorum on it.
    pub quorum: super::QuorumDto,
}

impl ProviderDetail {
    /// Builds the detail of `id`, `None` if unknown.
    pub fn build(engine: &Engine, id: &ProviderId, now: UnixMillis) -> Option<ProviderDetail> {
        let s = engine.summary(id, now)?;
        let rt = engine.registry().provider(id.as_str())?;
        let ps = engine.state().providers.get(id)?;
        let svc = engine.registry().service(&rt.service)?;
        // "What moved" compares with the hourly snapshot one to two hours
        // back, not with the decision that just wrote the current card.
        let reference = crate::reputation::reference(&ps.card_ref);
        let explanation = s.reputation.explain(reference.map(|(_, c)| c));
        let routed_because = if s.routed {
            engine
                .state()
                .services
                .get(&s.service)
                .and_then(|st| st.reason.as_ref())
                .map(|r| {
                    let from = engine
                        .state()
                        .history
                        .iter()
                        .rev()
                        .find(|h| h.service == s.service && &h.to == id)
                        .and_then(|h| h.from.as_ref())
                        .map_or_else(|| s.service.to_string(), |f| f.to_string());
                    ReasonDto::about(r, &from)
                })
        } else {
            None
        };
        Some(ProviderDetail {
            summary: ProviderItem::from_summary(&s),
            status_page: rt.config.status_page.clone(),
            declared: engine
                .state()
                .status_pages
                .get(id)
                .filter(|p| p.asked > 0)
                .map(|p| DeclaredDto::of(p, engine.declared(id, now).is_some())),
            submitted: rt.submitted,
            routed_because,
            reputation: ReputationDto::from_explanation(
                &explanation,
                reference.map(|(at, c)| (*at, c.total)),
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
            incidents: incidents(ps, now),
            timeline: timeline(ps, now),
            flap_suppressed: ps.flap.suppressed,
            flap_count: ps.flap.count,
            attested_until: ps.attested_until.map(Timestamp::at),
            next_probe: Timestamp::nonzero(ps.next_due),
            vantages: super::vantages(engine, id),
            quorum: super::quorum(engine, id),
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
