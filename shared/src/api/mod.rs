//! The HTTP API (DESIGN §8), written once for every shell.
//!
//! A shell maps its runtime's request to an [`ApiRequest`], calls
//! [`route`] with the engine, its clock and its recent observations, and
//! then does what the [`Routed`] verdict says:
//!
//! ```text
//! match api::route(&req, &ApiContext { engine, now, recent_observations }, &auth) {
//!     Routed::Response(r)                => send(r),
//!     Routed::Proxy { service, rest }    => send(proxy::forward(…).await …),
//!     Routed::Submit { service, provider } => {
//!         let id = provider.id.clone();
//!         let result = engine.submit(now, &service, provider); /* then save */
//!         send(api::submit_response(result, &id))
//!     }
//! }
//! ```
//!
//! Everything else — routing, percent-decoding and path checks, JSON
//! errors, authentication, the response bodies ([`dto`]), the OpenAPI
//! document, the dashboard ([`crate::dashboard`]) and the metrics
//! ([`crate::metrics`]) — is decided here, so the Worker, the Lambda and
//! the local binary answer identically.

mod auth;
pub mod dto;
mod openapi;
mod request;
mod routes;

pub use auth::{Auth, TokenDigest};
pub use openapi::{openapi, openapi_json};
pub use request::{ApiRequest, ApiResponse, HTML, JSON, PROMETHEUS, TEXT};
pub use routes::{
    not_discovered, route, submit_response, ApiContext, DiscoveryView, OnboardedView, Routed,
    ServiceDiscoveryView, MAX_PATH, MAX_QUERY, OBSERVATIONS_LIMIT, SWITCHES_LIMIT,
};
