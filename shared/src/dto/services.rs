//! The `services` tag: a service's route (`GET
//! /v1/services/{service}/route`), with any switch waiting for its canary,
//! and the switch history (`GET /v1/switches`).

use super::common::{ReasonDto, Timestamp};
use crate::state::{PendingSwitch, SwitchRecord};
use crate::{Engine, Kind, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};

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
    /// `ok`: the active provider serves and is healthy; `degraded`:
    /// requests go elsewhere first, or the active provider is suspect;
    /// `down`: no provider can serve ([`crate::route`]).
    pub health: crate::route::Health,
    /// Why, in words.
    pub health_detail: String,
    /// The providers the proxy tries now, in order (the first serves).
    pub serving: Vec<ProviderId>,
    /// The service's providers, in order.
    pub providers: Vec<ProviderId>,
}

impl RouteDto {
    /// Builds the route of `service`, `None` if unknown.
    pub fn build(engine: &Engine, service: &ServiceId) -> Option<RouteDto> {
        let svc = engine.registry().service(service.as_str())?;
        let plan = crate::route::plan(engine, service.as_str())?;
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
            active: active.clone(),
            since: Timestamp::at(st.map_or(0, |s| s.since)),
            reason: st.and_then(|s| s.reason.as_ref()).map(|r| {
                // About the provider traffic left, as the last switch
                // to the active provider recorded it.
                let from = engine
                    .state()
                    .history
                    .iter()
                    .rev()
                    .find(|h| &h.service == service && Some(&h.to) == active.as_ref())
                    .and_then(|h| h.from.as_ref())
                    .map_or_else(|| service.to_string(), |f| f.to_string());
                ReasonDto::about(r, &from)
            }),
            switches: st.map_or(0, |s| s.switches),
            pending: st.and_then(|s| s.pending.as_ref()).map(PendingDto::from),
            proxy_path: format!("/proxy/{service}/"),
            health: plan.health,
            health_detail: plan.why,
            serving: plan.candidates.into_iter().map(|c| c.provider).collect(),
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
        let subject = r
            .from
            .as_ref()
            .map_or_else(|| r.service.to_string(), |f| f.to_string());
        SwitchDto {
            seq: r.seq,
            at: Timestamp::at(r.at),
            service: r.service.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            reason: ReasonDto::about(&r.reason, &subject),
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
