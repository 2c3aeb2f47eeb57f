//! The `providers` tag's one write: `POST /v1/providers`, checked here
//! and handed to the shell as [`Routed::Submit`], and the answer once the
//! shell applied it ([`submit_response`]).
//!
//! A submitted endpoint — and the probe URL it makes with the effective
//! probe's path — must pass the SSRF guard ([`crate::host::guard`]) under
//! the running configuration before anything is stored: a cloud metadata
//! or link-local target never, a private or loopback one only with
//! `allow_private_targets`. The check is by name only (no DNS in the
//! core); a public name that resolves to a refused address is still
//! caught at probe time by the shell's resolver.

use super::refusals::clip;
use super::Routed;
use crate::api::auth::Auth;
use crate::api::request::{ApiRequest, ApiResponse};
use crate::config::{Errors, ProviderConfig};
use crate::dto::{ErrorDetail, SubmitAccepted};
use crate::engine::join_url;
use crate::host::guard;
use crate::lifecycle::Lifecycle;
use crate::{Engine, ProviderId, ServiceId};
use serde::Deserialize;

/// The answer to a submission once the shell applied it: `201` with the
/// provider's location, or `422 invalid-provider` listing every problem.
pub fn submit_response(result: Result<(), Errors>, id: &ProviderId) -> ApiResponse {
    match result {
        Ok(()) => {
            let location = format!("/v1/providers/{id}");
            ApiResponse::json(
                201,
                &SubmitAccepted {
                    id: id.clone(),
                    lifecycle: Lifecycle::Discovered,
                    location: location.clone(),
                    message: format!(
                        "provider `{id}` accepted: it is probed through its testing period before it can be routed to"
                    ),
                },
            )
            .header("location", location)
        }
        Err(errs) => invalid_provider(id.as_str(), &errs),
    }
}

fn invalid_provider(id: &str, errs: &Errors) -> ApiResponse {
    let details: Vec<ErrorDetail> = errs
        .0
        .iter()
        .map(|e| ErrorDetail {
            key: e.key.clone(),
            value: e.value.clone(),
            message: e.message.clone(),
        })
        .collect();
    let first = errs
        .0
        .first()
        .map_or_else(String::new, |e| format!(": {e}"));
    let message = format!(
        "provider `{}` was rejected ({} problem{}){first}",
        clip(id),
        details.len(),
        if details.len() == 1 { "" } else { "s" },
    );
    ApiResponse::error_with(
        422,
        "invalid-provider",
        &message,
        serde_json::to_value(details).unwrap_or_default(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    service: String,
    provider: serde_json::Value,
}

const SUBMIT_SHAPE: &str =
    r#"expected {"service": "<service id>", "provider": {<provider configuration>}}"#;

pub(super) fn submit(req: &ApiRequest, engine: &Engine, auth: &Auth) -> Routed {
    if let Err(r) = auth.check(req) {
        return Routed::Response(r);
    }
    if let Some(ct) = req.header("content-type") {
        if !ct.to_ascii_lowercase().contains("json") {
            return Routed::Response(ApiResponse::error(
                415,
                "unsupported-media-type",
                "the body must be JSON (content-type: application/json)",
            ));
        }
    }
    let body: SubmitBody = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return Routed::Response(ApiResponse::error(
                400,
                "bad-request",
                &format!("the body is not valid: {e}; {SUBMIT_SHAPE}"),
            ))
        }
    };
    let service = match ServiceId::new(body.service.as_str()) {
        Ok(s) if engine.config().service(s.as_str()).is_some() => s,
        _ => {
            return Routed::Response(ApiResponse::error(
                404,
                "unknown-service",
                &format!("no service `{}` is configured", clip(&body.service)),
            ))
        }
    };
    let provider: ProviderConfig = match serde_path_to_error::deserialize(body.provider) {
        Ok(p) => p,
        Err(e) => {
            let path = e.path().to_string();
            let key = if path.is_empty() || path == "." {
                "provider".to_string()
            } else {
                format!("provider.{path}")
            };
            let mut errs = Errors::default();
            errs.push_key(&key, e.into_inner().to_string());
            return Routed::Response(invalid_provider("(unnamed)", &errs));
        }
    };
    if engine.registry().provider(&provider.id).is_some() {
        return Routed::Response(ApiResponse::error(
            409,
            "conflict",
            &format!("a provider with id `{}` exists already", provider.id),
        ));
    }
    let errs = guard_errors(&provider, &service, engine);
    if !errs.0.is_empty() {
        return Routed::Response(invalid_provider(provider.id.as_str(), &errs));
    }
    Routed::Submit { service, provider }
}

/// The SSRF guard on what a submission would make the sentinel request:
/// the endpoint (key `provider.endpoint`) and, when the endpoint passes,
/// the probe URL it forms with the effective probe's path (key
/// `provider.probe.path` when the submission carries its own probe, else
/// `provider.endpoint`: the service's path joined to this endpoint).
/// Malformed URLs are left to the configuration's validation, which
/// names every problem at once.
fn guard_errors(provider: &ProviderConfig, service: &ServiceId, engine: &Engine) -> Errors {
    let allow_private = engine.config().sentinel.allow_private_targets;
    let mut errs = Errors::default();
    let refused = |url: &str| match guard::check_url(url, allow_private) {
        Err(e) if e.is_blocked() => Some(e),
        _ => None,
    };
    if let Some(e) = refused(&provider.endpoint) {
        errs.push("provider.endpoint", &provider.endpoint, e.to_string());
        return errs;
    }
    let (path, key) = match &provider.probe {
        Some(p) => (p.path.as_str(), "provider.probe.path"),
        None => (
            engine
                .config()
                .service(service.as_str())
                .and_then(|s| s.probe.as_ref())
                .map_or("", |p| p.path.as_str()),
            "provider.endpoint",
        ),
    };
    if !path.is_empty() {
        let url = join_url(&provider.endpoint, path);
        if let Some(e) = refused(&url) {
            errs.push(key, path, format!("the probe URL {}: {e}", clip(&url)));
        }
    }
    errs
}
