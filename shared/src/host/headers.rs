//! Which headers cross the proxy: hop-by-hop headers (RFC 9110 §7.6.1)
//! and those a `Connection` header names are never forwarded, in either
//! direction; `host` and `content-length` are set by the client itself.
//!
//! The proxy works on [`http::HeaderMap`]s, whose names are already
//! lowercase: the filters below compare without allocating and remove in
//! place, since they run on every proxied request.

use http::HeaderMap;

/// Whether a header is hop-by-hop (or set by the client itself) and so
/// must not be forwarded: `connection`, `keep-alive`, `proxy-*`, `te`,
/// `trailer(s)`, `transfer-encoding`, `upgrade`, `host`, `content-length`.
/// Case-insensitive.
pub fn is_hop_by_hop(name: &str) -> bool {
    const NAMES: [&str; 9] = [
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
        || name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
}

/// Whether a header carries the *caller's* credentials or the sentinel's
/// own signals, which must never reach a provider: `authorization` (it may
/// hold the sentinel's own API token), `cookie`, `proxy-authorization` and
/// `x-sentinel-*`. A provider's credentials are the operator's sealed
/// headers, added by the sentinel itself. Case-insensitive.
pub fn is_callers_own(name: &str) -> bool {
    ["authorization", "cookie", "proxy-authorization"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
        || name
            .get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-sentinel-"))
}

/// [`is_hop_by_hop`] for a name already in lowercase, as every name in a
/// [`HeaderMap`] is.
fn hop_by_hop_lower(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "trailers"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    ) || name.starts_with("proxy-")
}

/// Removes the headers not worth forwarding: hop-by-hop headers and those
/// the `Connection` header names.
pub fn strip_hop_by_hop(map: &mut HeaderMap) {
    if let Some(connection) = map.get(http::header::CONNECTION) {
        let named: Vec<http::HeaderName> = std::iter::once(connection)
            .chain(map.get_all(http::header::CONNECTION).iter().skip(1))
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| http::HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for n in named {
            map.remove(n);
        }
    }
    if map.keys().any(|k| hop_by_hop_lower(k.as_str())) {
        let drop: Vec<http::HeaderName> = map
            .keys()
            .filter(|k| hop_by_hop_lower(k.as_str()))
            .cloned()
            .collect();
        for n in drop {
            map.remove(n);
        }
    }
}

/// Removes what a client's request must not carry to a provider: what
/// [`strip_hop_by_hop`] removes and the caller's own credentials
/// ([`is_callers_own`]).
pub fn strip_request(map: &mut HeaderMap) {
    strip_hop_by_hop(map);
    let own = |k: &str| {
        matches!(k, "authorization" | "cookie" | "proxy-authorization")
            || k.starts_with("x-sentinel-")
    };
    if map.keys().any(|k| own(k.as_str())) {
        let drop: Vec<http::HeaderName> = map.keys().filter(|k| own(k.as_str())).cloned().collect();
        for n in drop {
            map.remove(n);
        }
    }
}

/// A header map of `pairs` (pairs whose name or value is not valid are
/// left out), for the core's plain request type.
pub fn map_of(pairs: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

/// The pairs of a header map (values that are not text are dropped), for
/// the core's plain request and response types.
pub fn pairs(map: &HeaderMap) -> Vec<(String, String)> {
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

    fn map(h: &[(&str, &str)]) -> HeaderMap {
        map_of(
            &h.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    fn names(m: &HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        n.sort_unstable();
        n
    }

    #[test]
    fn the_callers_credentials_never_cross() {
        let mut m = map(&[
            ("Authorization", "Bearer admin-token"),
            ("cookie", "session=1"),
            ("X-Sentinel-Provider", "a"),
            ("x-api-key", "client-key"),
            ("accept", "application/json"),
        ]);
        strip_request(&mut m);
        assert_eq!(names(&m), ["accept", "x-api-key"]);
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
            "proxy",
            "t",
        ] {
            assert!(!is_hop_by_hop(h), "{h}");
        }
        assert!(is_callers_own("X-SENTINEL-anything") && !is_callers_own("x-sentinel"));
    }

    #[test]
    fn connection_named_headers_are_dropped() {
        let mut m = map(&[
            ("Connection", "keep-alive, X-Drop"),
            ("X-Drop", "named"),
            ("X-Keep", "kept"),
            ("TE", "trailers"),
            ("content-length", "3"),
        ]);
        strip_hop_by_hop(&mut m);
        assert_eq!(names(&m), ["x-keep"]);
        assert_eq!(m["x-keep"], "kept");
    }
}
