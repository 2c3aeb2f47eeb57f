//! The seam's conversions: the `http` crate's request and response (which
//! hyper, lambda_http and workers-rs all speak) to and from the core's
//! plain types, the body cap's answer, and a proxied request's answer.

use super::{headers, MAX_BODY};
use crate::api::{ApiRequest, ApiResponse};
use crate::proxy::{ProxyError, ProxyOutcome};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};

/// The `413` answer to a body over [`MAX_BODY`].
pub fn too_large() -> ApiResponse {
    ApiResponse::error(
        413,
        "payload-too-large",
        &format!("request bodies are limited to {MAX_BODY} bytes"),
    )
}

/// Converts the core's response to the `http` crate's.
pub fn to_http(r: ApiResponse) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from(r.body));
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
pub fn from_http(req: http::Request<Bytes>) -> ApiRequest {
    let (parts, body) = req.into_parts();
    ApiRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: headers::pairs(&parts.headers),
        body: body.into(),
    }
}

/// Converts the `http` crate's response to the core's.
pub fn from_http_response(resp: http::Response<Bytes>) -> ApiResponse {
    let (parts, body) = resp.into_parts();
    ApiResponse {
        status: parts.status.as_u16(),
        headers: headers::pairs(&parts.headers),
        body: body.into(),
    }
}

/// The client's answer to a proxied request: the upstream answer without
/// hop-by-hop headers, with `x-sentinel-provider` (who answered) and
/// `x-sentinel-attempts`; or, when there is none, an error — `404` unknown
/// service, `503` no provider can take the request (with `Retry-After`
/// when every provider throttles), `502` every attempt failed or every
/// answer was invalid. For a JSON-RPC request (`body` is a call or a
/// batch) the error is a JSON-RPC error object per call (EIP-1474 codes:
/// -32005 limit exceeded, -32002 resource unavailable), which wallets and
/// libraries such as ethers.js and cast read; otherwise the API's JSON
/// error.
pub fn proxy_response(outcome: ProxyOutcome, request_body: &[u8]) -> http::Response<Bytes> {
    match outcome.response {
        Ok(up) => {
            let mut r = http::Response::new(up.body);
            *r.status_mut() =
                http::StatusCode::from_u16(up.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
            *r.headers_mut() = up.headers;
            let h = r.headers_mut();
            headers::strip_hop_by_hop(h);
            if let Some(a) = outcome.attempts.iter().find(|a| a.used) {
                if let Ok(v) = HeaderValue::from_str(a.provider.as_str()) {
                    h.insert(HeaderName::from_static("x-sentinel-provider"), v);
                }
            }
            h.insert(
                HeaderName::from_static("x-sentinel-attempts"),
                HeaderValue::from(outcome.attempts.len()),
            );
            r
        }
        Err(e) => {
            let (status, code) = match e {
                ProxyError::UnknownService(_) => (404, "unknown-service"),
                ProxyError::NoProvider(_) => (503, "upstream-unavailable"),
                ProxyError::Limited { .. } => (503, "upstream-limited"),
                ProxyError::Exhausted { .. } => (502, "upstream-unavailable"),
                ProxyError::BadData(_) => (502, "upstream-bad-data"),
            };
            let retry_after = match &e {
                ProxyError::Limited { retry_after_s, .. } => *retry_after_s,
                _ => None,
            };
            let mut r = match jsonrpc_error(request_body, &e, code) {
                Some(body) => ApiResponse::with_body(status, "application/json", body),
                None => ApiResponse::error(status, code, &e.to_string()),
            };
            if let Some(s) = retry_after {
                r.headers.push(("retry-after".into(), s.max(1).to_string()));
            }
            to_http(r)
        }
    }
}

/// The JSON-RPC error answer to `body`, if it is a JSON-RPC call or batch:
/// one error object per call, each with the call's id.
fn jsonrpc_error(body: &[u8], e: &ProxyError, code: &str) -> Option<Vec<u8>> {
    use serde_json::{json, Value};
    let req: Value = serde_json::from_slice(body).ok()?;
    let rpc_code = match e {
        ProxyError::Limited { .. } => -32005,
        _ => -32002,
    };
    let one = |call: &Value| -> Option<Value> {
        call.get("jsonrpc")?;
        call.get("method")?;
        Some(json!({
            "jsonrpc": "2.0",
            "id": call.get("id").cloned().unwrap_or(Value::Null),
            "error": { "code": rpc_code, "message": e.to_string(), "data": { "sentinel": code } },
        }))
    };
    let answer = match &req {
        Value::Array(calls) if !calls.is_empty() => {
            Value::Array(calls.iter().map(one).collect::<Option<Vec<_>>>()?)
        }
        call => one(call)?,
    };
    serde_json::to_vec(&answer).ok()
}
