//! The refusals the handlers share: `404` for what is not there, `400`
//! for ids and queries that are not well formed. Untrusted text is
//! [`clip`]ped before it goes into a message.

use crate::api::request::ApiResponse;
use crate::{ProviderId, ServiceId};

/// At most 80 characters of untrusted text, for messages.
pub(super) fn clip(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(80).collect();
        out.push('…');
        out
    }
}

pub(super) fn not_found(path: &str) -> ApiResponse {
    ApiResponse::error(
        404,
        "not-found",
        &format!(
            "no route for `{}`; see /openapi.json for the API",
            clip(path)
        ),
    )
}

pub(super) fn unknown_provider(id: &ProviderId) -> ApiResponse {
    ApiResponse::error(404, "not-found", &format!("no provider `{id}`"))
}

pub(super) fn unknown_service(id: &ServiceId) -> ApiResponse {
    ApiResponse::error(
        404,
        "unknown-service",
        &format!("no service `{id}` is configured"),
    )
}

pub(super) fn bad_query(message: &str) -> ApiResponse {
    ApiResponse::error(400, "bad-request", message)
}

fn invalid_id(what: &str, s: &str) -> ApiResponse {
    let why = if s.is_empty() || s.len() > 64 {
        "ids are 1 to 64 characters long"
    } else {
        "ids start with a lowercase letter or digit and contain only a-z, 0-9, '.', '_' or '-'"
    };
    ApiResponse::error(
        400,
        "invalid-id",
        &format!("`{}` is not a valid {what} id: {why}", clip(s)),
    )
}

pub(super) fn provider_id(s: &str) -> Result<ProviderId, ApiResponse> {
    ProviderId::new(s).map_err(|_| invalid_id("provider", s))
}

pub(super) fn service_id(s: &str) -> Result<ServiceId, ApiResponse> {
    ServiceId::new(s).map_err(|_| invalid_id("service", s))
}
