//! The seam's conversions: the `http` crate's request and response (which
//! hyper, lambda_http and workers-rs all speak) to and from the core's
//! plain types, the body cap's answer, and a proxied request's answer.

use super::{headers, MAX_BODY};
use crate::api::{ApiRequest, ApiResponse};
use crate::proxy::{ProxyError, ProxyOutcome};

/// The `413` answer to a body over [`MAX_BODY`].
pub fn too_large() -> ApiResponse {
    ApiResponse::error(
        413,
        "payload-too-large",
        &format!("request bodies are limited to {MAX_BODY} bytes"),
    )
}

/// Converts the core's response to the `http` crate's.
pub fn to_http(r: ApiResponse) -> http::Response<Vec<u8>> {
    let mut resp = http::Response::new(r.body);
    *resp.status_mut() =
        http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

/// Converts the `http` crate's request to the core's.
pub fn from_http(req: http::Request<Vec<u8>>) -> ApiRequest {
    let (parts, body) = req.into_parts();
    ApiRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: headers::pairs(&parts.headers),
        body,
    }
}

/// The client's answer to a proxied request: the upstream answer without
/// hop-by-hop headers, with `x-sentinel-provider` (who answered) and
/// `x-sentinel-attempts`; or a JSON error — `404` unknown service, `503`
/// no provider can take requests, `502` every attempt failed.
pub fn proxy_response(outcome: ProxyOutcome) -> ApiResponse {
    let used = outcome
        .attempts
        .iter()
        .find(|a| a.used)
        .map(|a| a.provider.to_string());
    match outcome.response {
        Ok(up) => {
            let mut r = ApiResponse {
                status: up.status,
                headers: up.headers,
                body: up.body,
            };
            r.headers.retain(|(k, _)| !headers::is_hop_by_hop(k));
            if let Some(p) = used {
                r.headers.push(("x-sentinel-provider".into(), p));
            }
            r.headers.push((
                "x-sentinel-attempts".into(),
                outcome.attempts.len().to_string(),
            ));
            r
        }
        Err(e) => {
            let status = match e {
                ProxyError::UnknownService(_) => 404,
                ProxyError::NoProvider(_) => 503,
                ProxyError::Exhausted { .. } | ProxyError::BadData(_) => 502,
            };
            ApiResponse::error(status, "upstream-unavailable", &e.to_string())
        }
    }
}
