//! The request target: the raw path, percent-decoded segment by segment
//! and checked for traversal and control characters, becomes an
//! [`Endpoint`].

use super::refusals::clip;
use super::MAX_PATH;
use crate::api::request::ApiResponse;

/// A known route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    Dashboard,
    DashboardJson,
    /// The dashboard's paginated, filtered provider list.
    DashboardProviders,
    /// One provider's page on the dashboard.
    DashboardProvider(String),
    /// One provider's card, the fragment the dashboard loads on demand.
    DashboardProviderCard(String),
    /// One service's page: its 24-hour timeline and its providers.
    DashboardService(String),
    Healthz,
    Metrics,
    OpenApi,
    Providers,
    Provider(String),
    ServiceRoute(String),
    Switches,
    Budget,
    Attestation(String),
    Observations,
    /// This sentinel's peers.
    Peers,
    /// Discovery: its record (`GET`), a run now (`POST`).
    Discovery,
    /// A person's veto of a discovered provider.
    DiscoveryVeto,
    Proxy {
        service: String,
        rest: String,
    },
}

const READ: &[&str] = &["GET", "HEAD"];
const READ_WRITE: &[&str] = &["GET", "HEAD", "POST"];
const WRITE: &[&str] = &["POST"];
/// What the proxy forwards: the methods of a REST or JSON-RPC call, the
/// ones the OpenAPI document lists. Not `TRACE` (an upstream that echoes
/// the request would hand the client the credentials the sentinel adds to
/// it), not `CONNECT`, not extension methods: `405`.
pub(crate) const PROXIED: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

impl Endpoint {
    /// Methods allowed; `None` for any.
    pub(super) fn allowed(&self) -> Option<&'static [&'static str]> {
        match self {
            Endpoint::Proxy { .. } => Some(PROXIED),
            Endpoint::Providers | Endpoint::Discovery => Some(READ_WRITE),
            Endpoint::DiscoveryVeto => Some(WRITE),
            _ => Some(READ),
        }
    }
}

/// Percent-decodes `s` to bytes; a `%` not followed by two hex digits is
/// an error.
pub(super) fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
            match (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                _ => return Err("has a `%` that is not followed by two hex digits".into()),
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn bad_path(message: &str) -> ApiResponse {
    ApiResponse::error(400, "bad-path", message)
}

/// Decodes one path segment and refuses traversal and control characters.
fn segment(raw: &str) -> Result<String, ApiResponse> {
    let bytes = percent_decode(raw)
        .map_err(|e| bad_path(&format!("the path segment `{}` {e}", clip(raw))))?;
    let s = String::from_utf8(bytes).map_err(|_| {
        bad_path(&format!(
            "the path segment `{}` is not valid UTF-8 once percent-decoded",
            clip(raw)
        ))
    })?;
    if s == "." || s == ".." {
        return Err(bad_path("`.` and `..` path segments are not allowed"));
    }
    if s.contains(['/', '\\']) {
        return Err(bad_path(&format!(
            "the path segment `{}` decodes to a value containing `/` or `\\`; path traversal is not allowed",
            clip(raw)
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(bad_path(&format!(
            "the path segment `{}` decodes to control characters",
            clip(raw)
        )));
    }
    Ok(s)
}

/// Parses the raw path into an endpoint; `Ok(None)` when no route matches.
pub(super) fn parse_path(path: &str) -> Result<Option<Endpoint>, ApiResponse> {
    if path.len() > MAX_PATH {
        return Err(ApiResponse::error(
            414,
            "uri-too-long",
            &format!("paths are limited to {MAX_PATH} bytes"),
        ));
    }
    if !path.starts_with('/') {
        return Err(bad_path("the path must start with `/`"));
    }
    if path
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || !b.is_ascii() || b == b'#')
    {
        return Err(bad_path(
            "the path contains characters that must be percent-encoded",
        ));
    }
    if path == "/" {
        return Ok(Some(Endpoint::Dashboard));
    }
    let raw: Vec<&str> = path[1..].split('/').collect();
    let first = segment(raw.first().copied().unwrap_or_default())?;
    if first == "proxy" {
        let Some(svc_raw) = raw.get(1).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let service = segment(svc_raw)?;
        let offset = 1 + raw[0].len() + 1 + svc_raw.len();
        let rest = path.get(offset..).unwrap_or_default();
        for seg in rest.split('/') {
            let bytes = percent_decode(seg)
                .map_err(|e| bad_path(&format!("the path segment `{}` {e}", clip(seg))))?;
            if bytes == b"." || bytes == b".." {
                return Err(bad_path(
                    "`.` and `..` path segments are not allowed in proxied paths",
                ));
            }
        }
        return Ok(Some(Endpoint::Proxy {
            service,
            rest: rest.to_string(),
        }));
    }
    let mut segs = vec![first];
    for r in &raw[1..] {
        segs.push(segment(r)?);
    }
    if segs.iter().any(String::is_empty) {
        return Ok(None);
    }
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    Ok(match s.as_slice() {
        ["healthz"] => Some(Endpoint::Healthz),
        ["metrics"] => Some(Endpoint::Metrics),
        ["dashboard.json"] => Some(Endpoint::DashboardJson),
        ["dashboard", "providers"] => Some(Endpoint::DashboardProviders),
        ["dashboard", "providers", id] => Some(Endpoint::DashboardProvider((*id).to_string())),
        ["dashboard", "providers", id, "card"] => {
            Some(Endpoint::DashboardProviderCard((*id).to_string()))
        }
        ["dashboard", "services", id] => Some(Endpoint::DashboardService((*id).to_string())),
        ["openapi.json"] => Some(Endpoint::OpenApi),
        ["v1", "providers"] => Some(Endpoint::Providers),
        ["v1", "providers", id] => Some(Endpoint::Provider((*id).to_string())),
        ["v1", "services", svc, "route"] => Some(Endpoint::ServiceRoute((*svc).to_string())),
        ["v1", "switches"] => Some(Endpoint::Switches),
        ["v1", "budget"] => Some(Endpoint::Budget),
        ["v1", "attestations", id] => Some(Endpoint::Attestation((*id).to_string())),
        ["v1", "observations"] => Some(Endpoint::Observations),
        ["v1", "peers"] => Some(Endpoint::Peers),
        ["v1", "discovery"] => Some(Endpoint::Discovery),
        ["v1", "discovery", "veto"] => Some(Endpoint::DiscoveryVeto),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_forwards_the_documented_methods_only() {
        let e = parse_path("/proxy/prices/v1/x").unwrap().unwrap();
        let allowed = e.allowed().unwrap();
        for m in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            assert!(allowed.contains(&m), "{m}");
        }
        for m in ["TRACE", "CONNECT", "PROPFIND", "get"] {
            assert!(!allowed.contains(&m), "{m}");
        }
    }
}
