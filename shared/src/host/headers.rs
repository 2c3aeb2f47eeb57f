//! Which headers cross the proxy: hop-by-hop headers (RFC 9110 §7.6.1)
//! and those a `Connection` header names are never forwarded, in either
//! direction; `host` and `content-length` are set by the client itself.

/// Whether a header is hop-by-hop (or set by the client itself) and so
/// must not be forwarded: `connection`, `keep-alive`, `proxy-*`, `te`,
/// `trailer(s)`, `transfer-encoding`, `upgrade`, `host`, `content-length`.
pub fn is_hop_by_hop(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "trailers"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    ) || n.starts_with("proxy-")
}

/// Whether a header carries the *caller's* credentials or the sentinel's
/// own signals, which must never reach a provider: `authorization` (it may
/// hold the sentinel's own API token), `cookie`, `proxy-authorization` and
/// `x-sentinel-*`. A provider's credentials are the operator's sealed
/// headers, added by the sentinel itself.
pub fn is_callers_own(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "cookie" | "proxy-authorization"
    ) || n.starts_with("x-sentinel-")
}

/// The headers of a client's request worth forwarding: without hop-by-hop
/// headers, those the `Connection` header names, and the caller's own
/// credentials ([`is_callers_own`]).
pub fn forwardable_request_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    forwardable_headers(headers)
        .into_iter()
        .filter(|(k, _)| !is_callers_own(k))
        .collect()
}

/// The headers worth forwarding: without hop-by-hop headers and without
/// those the `Connection` header names.
pub fn forwardable_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let named: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .filter(|t| !t.is_empty())
        .collect();
    headers
        .iter()
        .filter(|(k, _)| !is_hop_by_hop(k) && !named.contains(&k.to_ascii_lowercase()))
        .cloned()
        .collect()
}

/// The pairs of a header map (values that are not text are dropped), for
/// the core's plain request and response types.
pub fn pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_credentials_never_cross() {
        let kept = forwardable_request_headers(&[
            ("Authorization".into(), "Bearer admin-token".into()),
            ("cookie".into(), "session=1".into()),
            ("X-Sentinel-Provider".into(), "a".into()),
            ("x-api-key".into(), "client-key".into()),
            ("accept".into(), "application/json".into()),
        ]);
        let names: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["x-api-key", "accept"]);
    }

    #[test]
    fn hop_by_hop_names() {
        for h in [
            "Connection",
            "keep-alive",
            "Proxy-Authorization",
            "proxy-connection",
            "TE",
            "Trailer",
            "Transfer-Encoding",
            "Upgrade",
            "Host",
        ] {
            assert!(is_hop_by_hop(h), "{h}");
        }
        for h in [
            "authorization",
            "content-type",
            "x-api-key",
            "accept-encoding",
        ] {
            assert!(!is_hop_by_hop(h), "{h}");
        }
    }

    #[test]
    fn connection_named_headers_are_dropped() {
        let h = |k: &str, v: &str| (k.to_string(), v.to_string());
        let kept = forwardable_headers(&[
            h("Connection", "keep-alive, X-Drop"),
            h("X-Drop", "named"),
            h("X-Keep", "kept"),
            h("TE", "trailers"),
        ]);
        assert_eq!(kept, vec![h("X-Keep", "kept")]);
    }
}
