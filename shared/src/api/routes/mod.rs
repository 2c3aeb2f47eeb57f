//! The router: a pure function from a plain request and the engine to a
//! response, or to the one thing the shell must do itself (proxy a
//! request, apply a submission).
//!
//! Paths are matched segment by segment after percent-decoding; a segment
//! that decodes to `.`, `..`, or anything containing `/`, `\` or a control
//! character is refused with `400 bad-path` before any lookup, and ids are
//! checked against the id grammar (`400 invalid-id`), so nothing hostile
//! reaches a map lookup, a log line or an upstream URL. Unknown paths give
//! `404 not-found`, a wrong method on a known path `405` with `allow`.
//! `HEAD` is answered like `GET`, without the body. The proxy forwards
//! the seven methods its OpenAPI operations list ([`PROXIED`]); `TRACE`,
//! `CONNECT` and extension methods are `405` before any upstream sees them.
//!
//! This module matches and dispatches; the request target is parsed in
//! `path` and `query`, the shared refusals are in `refusals`, and the
//! handlers with more to do than build a body have a file of their OpenAPI
//! tag: `providers` (submissions), `sentinel` (observations) and `trust`
//! (attestations). The bodies themselves are [`dto`](super::dto).
//!
//! `GET /v1/providers` and the dashboard's provider pages
//! (`GET /dashboard/providers`) read the same filters and page
//! (`query::provider_query`): a bad, unknown or repeated parameter is a
//! `400 bad-request` whose message names it. The dashboard's pages and
//! fragments are all served with its strict content security policy.

mod discovery;
mod path;
mod providers;
mod query;
mod refusals;
mod sentinel;
mod trust;

pub use discovery::{not_discovered, DiscoveryView, OnboardedView, ServiceDiscoveryView};
pub(crate) use path::PROXIED;
pub use providers::submit_response;

use super::auth::Auth;
use super::request::{ApiRequest, ApiResponse, JSON, PROMETHEUS};
use crate::config::ProviderConfig;
use crate::dto;
use crate::probe::Observation;
use crate::time::UnixMillis;
use crate::{Engine, ServiceId};
use path::{parse_path, Endpoint};
use providers::submit;
use query::{provider_query, query_limit};
use refusals::{clip, not_found, provider_id, service_id, unknown_provider, unknown_service};
use sentinel::observations;
use trust::attestation;

/// Longest raw path accepted (`414` beyond).
pub const MAX_PATH: usize = 2048;
/// Longest raw query accepted (`414` beyond).
pub const MAX_QUERY: usize = 4096;
/// Default and maximum of `GET /v1/switches?limit=`.
pub const SWITCHES_LIMIT: (usize, usize) = (100, 500);
/// Maximum of `GET /v1/observations?limit=` (and its default).
pub const OBSERVATIONS_LIMIT: usize = 1000;

/// What a request is routed against.
#[derive(Clone, Copy, Debug)]
pub struct ApiContext<'a> {
    /// The engine (configuration, registry, state).
    pub engine: &'a Engine,
    /// The shell's clock.
    pub now: UnixMillis,
    /// This sentinel's recent observations, oldest first (not part of the
    /// core state; the shell keeps them), for `GET /v1/observations`.
    pub recent_observations: &'a [Observation],
}

/// The router's verdict.
// One value per request, matched at once: boxing the submission would only
// add an allocation (and change the shells' pattern).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Routed {
    /// Send this response.
    Response(ApiResponse),
    /// Forward the request to the service's providers with the shared
    /// failover loop ([`crate::proxy::forward`]).
    Proxy {
        /// The service (known to the registry).
        service: ServiceId,
        /// The path after `/proxy/{service}`, still percent-encoded, always
        /// starting with `/`, with `?query` when there is one.
        rest: String,
    },
    /// Apply a submission: `engine.submit(now, &service, provider)`, save
    /// the state, and answer with [`submit_response`]. The caller is
    /// authenticated, the service exists and the id is not taken (as of
    /// this engine).
    Submit {
        /// The service (known to the registry).
        service: ServiceId,
        /// The provider as submitted.
        provider: ProviderConfig,
    },
    /// Run discovery for the service now ([`crate::discovery`]) and
    /// answer with its report. The caller is authenticated and the
    /// service is configured.
    Discover {
        /// The service.
        service: ServiceId,
    },
    /// Veto a provider discovery onboarded: remove it and never onboard
    /// it again. The caller is authenticated and the provider is one
    /// discovery onboarded (as of this engine).
    Veto {
        /// The provider.
        provider: crate::ProviderId,
    },
}

/// Routes `req`. Never panics, whatever the request.
pub fn route(req: &ApiRequest, ctx: &ApiContext<'_>, auth: &Auth) -> Routed {
    let endpoint = match parse_path(&req.path) {
        Ok(Some(e)) => e,
        Ok(None) => return Routed::Response(not_found(&req.path)),
        Err(resp) => return Routed::Response(resp),
    };
    if req.query.len() > MAX_QUERY {
        return Routed::Response(ApiResponse::error(
            414,
            "uri-too-long",
            &format!("the query string is limited to {MAX_QUERY} bytes"),
        ));
    }
    if let Some(allowed) = endpoint.allowed() {
        if !allowed.contains(&req.method.as_str()) {
            let allow = allowed.join(", ");
            return Routed::Response(
                ApiResponse::error(
                    405,
                    "method-not-allowed",
                    &format!(
                        "{} is not allowed on this path; allowed: {allow}",
                        clip(&req.method)
                    ),
                )
                .header("allow", allow),
            );
        }
    }
    let head = req.method == "HEAD";
    let routed = dispatch(endpoint, req, ctx, auth);
    match routed {
        Routed::Response(mut r) if head => {
            r.body.clear();
            Routed::Response(r)
        }
        other => other,
    }
}

/// An HTML answer of the dashboard, with its strict policy.
fn page(status: u16, html: String) -> ApiResponse {
    ApiResponse::html(status, html)
        .header(
            "content-security-policy",
            crate::dashboard::content_security_policy(),
        )
        .header("referrer-policy", "no-referrer")
}

fn dispatch(endpoint: Endpoint, req: &ApiRequest, ctx: &ApiContext<'_>, auth: &Auth) -> Routed {
    let (engine, now) = (ctx.engine, ctx.now);
    let resp = match endpoint {
        Endpoint::Dashboard => page(200, crate::dashboard::render(engine, now)),
        Endpoint::DashboardJson => ApiResponse::json(200, &crate::dashboard::data(engine, now)),
        Endpoint::DashboardProviders => match provider_query(&req.query, engine) {
            Err(r) => r,
            Ok(q) => page(200, crate::dashboard::providers_page(engine, now, &q)),
        },
        Endpoint::DashboardProvider(id) => match provider_id(&id) {
            Err(r) => r,
            Ok(pid) => match crate::dashboard::provider_page(engine, &pid, now) {
                Some(html) => page(200, html),
                None => unknown_provider(&pid),
            },
        },
        Endpoint::DashboardProviderCard(id) => match provider_id(&id) {
            Err(r) => r,
            Ok(pid) => match crate::dashboard::provider_card(engine, &pid, now) {
                Some(html) => page(200, html),
                None => page(404, crate::dashboard::no_such_provider(&pid)),
            },
        },
        Endpoint::DashboardService(id) => match service_id(&id) {
            Err(r) => r,
            Ok(sid) => match crate::dashboard::service_page(engine, &sid, now) {
                Some(html) => page(200, html),
                None => unknown_service(&sid),
            },
        },
        Endpoint::Healthz => ApiResponse::json(200, &dto::Health::build(engine, now)),
        Endpoint::Metrics => ApiResponse::with_body(
            200,
            PROMETHEUS,
            crate::metrics::render(engine, now).into_bytes(),
        ),
        Endpoint::OpenApi => {
            ApiResponse::with_body(200, JSON, super::openapi::OPENAPI_JSON.as_bytes().to_vec())
        }
        Endpoint::Providers if req.method == "POST" => return submit(req, engine, auth),
        Endpoint::Providers => match provider_query(&req.query, engine) {
            Err(r) => r,
            Ok(q) => ApiResponse::json(200, &dto::ProviderList::page(engine, now, &q)),
        },
        Endpoint::Provider(id) => match provider_id(&id) {
            Err(r) => r,
            Ok(pid) => match dto::ProviderDetail::build(engine, &pid, now) {
                Some(d) => ApiResponse::json(200, &d),
                None => unknown_provider(&pid),
            },
        },
        Endpoint::ServiceRoute(s) => match service_id(&s) {
            Err(r) => r,
            Ok(sid) => match dto::RouteDto::build(engine, &sid) {
                Some(d) => ApiResponse::json(200, &d),
                None => unknown_service(&sid),
            },
        },
        Endpoint::Switches => match query_limit(&req.query, SWITCHES_LIMIT.0, SWITCHES_LIMIT.1) {
            Err(r) => r,
            Ok(limit) => ApiResponse::json(200, &dto::SwitchList::build(engine, limit)),
        },
        Endpoint::Budget => ApiResponse::json(200, &dto::BudgetReport::build(engine, now)),
        Endpoint::Peers => ApiResponse::json(200, &dto::PeerList::build(engine, now)),
        Endpoint::Discovery if req.method == "POST" => return discovery::run(req, engine, auth),
        Endpoint::Discovery => ApiResponse::json(200, &DiscoveryView::build(engine, now)),
        Endpoint::DiscoveryVeto => return discovery::veto(req, engine, auth),
        Endpoint::Attestation(id) => match provider_id(&id) {
            Err(r) => r,
            Ok(pid) => attestation(engine, &pid, now),
        },
        Endpoint::Observations => match auth.check(req) {
            Err(r) => r,
            Ok(()) => observations(req, ctx),
        },
        Endpoint::Proxy { service, rest } => match service_id(&service) {
            Err(r) => r,
            Ok(sid) if engine.registry().service(&sid).is_none() => unknown_service(&sid),
            Ok(sid) => {
                let mut rest = if rest.is_empty() {
                    "/".to_string()
                } else {
                    rest
                };
                if !req.query.is_empty() {
                    rest.push('?');
                    rest.push_str(&req.query);
                }
                return Routed::Proxy { service: sid, rest };
            }
        },
    };
    Routed::Response(resp)
}
