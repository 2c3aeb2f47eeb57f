//! `/v1/discovery`: what discovery did (`GET`), a run now for one service
//! (`POST ?service=`), and a person's veto of a provider it onboarded
//! (`POST /v1/discovery/veto?provider=`). Running and vetoing need the
//! store and the prober, so the router hands them to the host
//! ([`Routed::Discover`], [`Routed::Veto`]) once the caller is
//! authenticated and the request is well formed.

use super::query::query_params;
use super::refusals::{provider_id, service_id, unknown_service};
use super::Routed;
use crate::api::auth::Auth;
use crate::api::request::{ApiRequest, ApiResponse};
use crate::discovery::TrialView;
use crate::lifecycle::Lifecycle;
use crate::time::{rfc3339, UnixMillis};
use crate::{Engine, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};

/// `GET /v1/discovery`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryView {
    /// Whether the tick discovers by itself (`[discovery] enabled`).
    pub enabled: bool,
    /// How often a service is discovered for, in seconds.
    pub interval_s: u64,
    /// Candidates tried per run.
    pub max_trials: u32,
    /// Discovered providers in testing per service before it stops.
    pub max_testing: u32,
    /// Seconds before a rejected candidate is tried again.
    pub retry_after_s: u64,
    /// Per service: whether it has `[service.discovery]`, and its last run.
    pub services: Vec<ServiceDiscoveryView>,
    /// Providers discovery onboarded, with where they are now.
    pub onboarded: Vec<OnboardedView>,
    /// Catalog ids a person vetoed.
    pub vetoed: Vec<ProviderId>,
    /// The latest trials, newest first.
    pub trials: Vec<TrialView>,
}

/// One service's discovery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceDiscoveryView {
    /// The service.
    pub id: ServiceId,
    /// Whether the tick discovers for it (`[service.discovery]`).
    pub configured: bool,
    /// Its last run (RFC 3339), if any.
    pub last_run: Option<String>,
}

/// A provider discovery onboarded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnboardedView {
    /// The provider.
    pub id: ProviderId,
    /// Its lifecycle now (`None`: no longer in the state).
    pub lifecycle: Option<Lifecycle>,
    /// What `POST /v1/discovery/veto?provider=` would remove.
    pub veto: String,
}

impl DiscoveryView {
    /// The view of `engine`.
    pub fn build(engine: &Engine, _now: UnixMillis) -> DiscoveryView {
        let c = &engine.config().discovery;
        let st = &engine.state().discovery;
        DiscoveryView {
            enabled: c.enabled,
            interval_s: c.interval.as_ms() / 1000,
            max_trials: c.max_trials,
            max_testing: c.max_testing,
            retry_after_s: c.retry_after.as_ms() / 1000,
            services: engine
                .config()
                .services
                .iter()
                .map(|s| ServiceDiscoveryView {
                    id: s.id.clone(),
                    configured: s.discovery.is_some(),
                    last_run: st.last_run.get(&s.id).map(|t| rfc3339(*t)),
                })
                .collect(),
            onboarded: st
                .onboarded
                .iter()
                .map(|id| OnboardedView {
                    id: id.clone(),
                    lifecycle: engine.state().providers.get(id).map(|p| p.lifecycle),
                    veto: format!("/v1/discovery/veto?provider={id}"),
                })
                .collect(),
            vetoed: st.vetoed.iter().cloned().collect(),
            trials: st.log.iter().rev().map(TrialView::from).collect(),
        }
    }
}

/// The one value of `key` in the query, required.
fn one(query: &str, key: &str) -> Result<String, ApiResponse> {
    let params = query_params(query)?;
    let mut found = params.into_iter().filter(|(k, _)| k == key);
    match (found.next(), found.next()) {
        (Some((_, v)), None) => Ok(v),
        (None, _) => Err(ApiResponse::error(
            400,
            "bad-request",
            &format!("`?{key}=` is required"),
        )),
        (Some(_), Some(_)) => Err(ApiResponse::error(
            400,
            "bad-request",
            &format!("`?{key}=` is given twice"),
        )),
    }
}

/// `POST /v1/discovery?service=`.
pub(super) fn run(req: &ApiRequest, engine: &Engine, auth: &Auth) -> Routed {
    if let Err(r) = auth.check(req) {
        return Routed::Response(r);
    }
    let service = match one(&req.query, "service").and_then(|s| service_id(&s)) {
        Ok(s) => s,
        Err(r) => return Routed::Response(r),
    };
    if engine.config().service(service.as_str()).is_none() {
        return Routed::Response(unknown_service(&service));
    }
    Routed::Discover { service }
}

/// `POST /v1/discovery/veto?provider=`.
pub(super) fn veto(req: &ApiRequest, engine: &Engine, auth: &Auth) -> Routed {
    if let Err(r) = auth.check(req) {
        return Routed::Response(r);
    }
    let provider = match one(&req.query, "provider").and_then(|s| provider_id(&s)) {
        Ok(p) => p,
        Err(r) => return Routed::Response(r),
    };
    if !engine.state().discovery.onboarded.contains(&provider) {
        return Routed::Response(not_discovered(&provider));
    }
    Routed::Veto { provider }
}

/// `409`: not a provider discovery onboarded.
pub fn not_discovered(id: &ProviderId) -> ApiResponse {
    ApiResponse::error(
        409,
        "not-discovered",
        &format!("`{id}` was not onboarded by discovery: only those can be vetoed (remove a configured provider from the configuration)"),
    )
}
