//! The plain request and response every shell maps its runtime's types to
//! and from.
//!
//! Nothing here knows about hyper, the Workers `Request` or a Lambda
//! function-URL event: a shell copies the method, the raw path, the raw
//! query, the headers and the body into an [`ApiRequest`], and copies an
//! [`ApiResponse`] back out.

use crate::dto::{ErrorBody, ErrorEnvelope};
use serde::Serialize;
use std::fmt;

/// Headers whose values are credentials: never printed.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

fn is_sensitive(name: &str) -> bool {
    SENSITIVE_HEADERS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// Prints headers with credential values redacted.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (k, v) in self.0 {
            if is_sensitive(k) {
                list.entry(&(k, "<redacted>"));
            } else {
                list.entry(&(k, v));
            }
        }
        list.finish()
    }
}

/// A request as the shell received it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ApiRequest {
    /// The method as sent (`GET`, `POST`, …; methods are case-sensitive).
    pub method: String,
    /// The raw, still percent-encoded path, starting with `/`, without the
    /// query.
    pub path: String,
    /// The raw query string, without the `?` (empty when there is none).
    pub query: String,
    /// Headers in arrival order; names are matched case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body (the shell caps its size).
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// A request with no headers and no body, for tests and internal calls.
    pub fn new(method: &str, path_and_query: &str) -> ApiRequest {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path_and_query, ""),
        };
        ApiRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for ApiRequest {
    /// Credentials (`authorization`, cookies, API keys) are redacted and
    /// the body is shown by its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A response for the shell to send.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `application/json`.
pub const JSON: &str = "application/json";
/// `text/plain; charset=utf-8`.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `text/html; charset=utf-8`.
pub const HTML: &str = "text/html; charset=utf-8";
/// The Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

impl ApiResponse {
    /// A response with `content-type`, `x-content-type-options: nosniff`
    /// and `cache-control: no-store` (everything here is live state).
    pub fn with_body(status: u16, content_type: &str, body: Vec<u8>) -> ApiResponse {
        ApiResponse {
            status,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("x-content-type-options".into(), "nosniff".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body,
        }
    }

    /// `value` as JSON. A value that cannot be serialized (it never
    /// happens with the DTOs here) gives a 500 JSON error.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> ApiResponse {
        match serde_json::to_vec(value) {
            Ok(body) => ApiResponse::with_body(status, JSON, body),
            Err(e) => ApiResponse::error(
                500,
                "internal",
                &format!("the response could not be encoded: {e}"),
            ),
        }
    }

    /// Plain text.
    pub fn text(status: u16, body: impl Into<String>) -> ApiResponse {
        ApiResponse::with_body(status, TEXT, body.into().into_bytes())
    }

    /// HTML.
    pub fn html(status: u16, body: impl Into<String>) -> ApiResponse {
        ApiResponse::with_body(status, HTML, body.into().into_bytes())
    }

    /// The JSON error `{"error":{"code":…,"message":…}}`.
    pub fn error(status: u16, code: &str, message: &str) -> ApiResponse {
        ApiResponse::error_body(
            status,
            ErrorBody {
                code: code.to_string(),
                message: message.to_string(),
                details: None,
            },
        )
    }

    /// A JSON error with code-specific `details`.
    pub fn error_with(
        status: u16,
        code: &str,
        message: &str,
        details: serde_json::Value,
    ) -> ApiResponse {
        ApiResponse::error_body(
            status,
            ErrorBody {
                code: code.to_string(),
                message: message.to_string(),
                details: Some(details),
            },
        )
    }

    fn error_body(status: u16, error: ErrorBody) -> ApiResponse {
        let body = serde_json::to_vec(&ErrorEnvelope { error }).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"error could not be encoded"}}"#.to_vec()
        });
        ApiResponse::with_body(status, JSON, body)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> ApiResponse {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for logs and tests.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_documented_shape() {
        let r = ApiResponse::error(404, "not-found", "no \"such\" thing");
        assert_eq!(r.status, 404);
        assert_eq!(r.get_header("Content-Type"), Some(JSON));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], "not-found");
        assert_eq!(v["error"]["message"], "no \"such\" thing");
        assert!(v["error"].get("details").is_none());
    }

    #[test]
    fn debug_redacts_credentials() {
        let mut r = ApiRequest::new("GET", "/v1/observations?x=1");
        assert_eq!(r.query, "x=1");
        r.headers
            .push(("Authorization".into(), "Bearer hunter2".into()));
        r.headers.push(("Cookie".into(), "s=hunter3".into()));
        r.headers.push(("accept".into(), "text/html".into()));
        let dbg = format!("{r:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("hunter3"),
            "{dbg}"
        );
        assert!(dbg.contains("text/html"));
        assert_eq!(r.header("AUTHORIZATION"), Some("Bearer hunter2"));
    }
}
