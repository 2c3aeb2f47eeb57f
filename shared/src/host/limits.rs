//! Connection limits for a shell that serves HTTP on its own listener (the
//! local binary; a Worker or a Lambda sits behind its platform's front
//! end and has no connections of its own): the policy — the numbers, the
//! environment variables that change them, who counts as one client, and
//! the `503 overloaded` answer — written once here; the mechanism (the
//! accept loop, the timers) stays in the shell (`cli/src/server.rs`).
//!
//! Why each limit exists:
//!
//! - **header timeout** ([`HEADER_TIMEOUT_MS`]): a client that opens a
//!   connection and sends its request head a byte at a time, or never
//!   finishes it, holds a connection (a task, a file descriptor, buffers)
//!   for as long as the server waits — the *slowloris* attack (R. Hansen,
//!   2009; CVE-2007-6750 for Apache httpd, whose `mod_reqtimeout` is the
//!   same remedy). The head must be complete within the timeout from the
//!   moment the server starts waiting for it, which also bounds how long
//!   a keep-alive connection may sit idle between requests.
//! - **idle timeout** ([`IDLE_TIMEOUT_MS`]): no byte in either direction
//!   for this long while no request is being handled — a body that stops
//!   arriving mid-way, an answer the client stops reading (the
//!   "slow read" and "slow POST" variants) — closes the connection.
//! - **body timeout** ([`BODY_TIMEOUT_MS`]): the whole request body (at
//!   most [`super::MAX_BODY`]) must arrive within it, so a body trickled
//!   one byte per idle period cannot hold a connection either.
//! - **connection cap** ([`MAX_CONNECTIONS`]): above it a new connection
//!   gets [`overloaded`] at once and is closed, so a flood costs the
//!   server a write and a close per connection instead of a task, and the
//!   process stays under its file-descriptor limit.
//! - **per-client cap** ([`MAX_CLIENT_CONNECTIONS`]): one client (an IPv4
//!   address, or an IPv6 /64 — what one host or one subscriber usually
//!   has, [`client_key`]) cannot take the whole global cap, so other
//!   clients — the dashboard, `/healthz` checks, the applications using
//!   the proxy — still get in.
//!
//! Each number can be changed through the environment
//! ([`ConnectionLimits::from_vars`]): `SENTINEL_MAX_CONNECTIONS`,
//! `SENTINEL_MAX_CLIENT_CONNECTIONS`, `SENTINEL_HEADER_TIMEOUT_MS`,
//! `SENTINEL_IDLE_TIMEOUT_MS`, `SENTINEL_BODY_TIMEOUT_MS`.

use crate::api::ApiResponse;
use core::net::{IpAddr, Ipv6Addr};

/// Most connections served at once, by default.
pub const MAX_CONNECTIONS: usize = 4_096;
/// Most connections served at once for one client ([`client_key`]), by
/// default.
pub const MAX_CLIENT_CONNECTIONS: usize = 256;
/// Time allowed for a complete request head, by default: 10 s.
pub const HEADER_TIMEOUT_MS: u64 = 10_000;
/// Time a connection may go without a byte either way while no request is
/// being handled, by default: 30 s.
pub const IDLE_TIMEOUT_MS: u64 = 30_000;
/// Time allowed for a whole request body, by default: 60 s.
pub const BODY_TIMEOUT_MS: u64 = 60_000;

/// Environment variable overriding [`MAX_CONNECTIONS`].
pub const ENV_MAX_CONNECTIONS: &str = "SENTINEL_MAX_CONNECTIONS";
/// Environment variable overriding [`MAX_CLIENT_CONNECTIONS`].
pub const ENV_MAX_CLIENT_CONNECTIONS: &str = "SENTINEL_MAX_CLIENT_CONNECTIONS";
/// Environment variable overriding [`HEADER_TIMEOUT_MS`] (milliseconds).
pub const ENV_HEADER_TIMEOUT_MS: &str = "SENTINEL_HEADER_TIMEOUT_MS";
/// Environment variable overriding [`IDLE_TIMEOUT_MS`] (milliseconds).
pub const ENV_IDLE_TIMEOUT_MS: &str = "SENTINEL_IDLE_TIMEOUT_MS";
/// Environment variable overriding [`BODY_TIMEOUT_MS`] (milliseconds).
pub const ENV_BODY_TIMEOUT_MS: &str = "SENTINEL_BODY_TIMEOUT_MS";

/// The error code of the overload answer.
pub const OVERLOADED: &str = "overloaded";

/// The connection limits a shell applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections served at once for one client.
    pub max_client_connections: usize,
    /// Time allowed for a complete request head (ms).
    pub header_timeout_ms: u64,
    /// Time without a byte either way while no request is handled (ms).
    pub idle_timeout_ms: u64,
    /// Time allowed for a whole request body (ms).
    pub body_timeout_ms: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: MAX_CONNECTIONS,
            max_client_connections: MAX_CLIENT_CONNECTIONS,
            header_timeout_ms: HEADER_TIMEOUT_MS,
            idle_timeout_ms: IDLE_TIMEOUT_MS,
            body_timeout_ms: BODY_TIMEOUT_MS,
        }
    }
}

/// A limit variable that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct LimitsError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// Why it is refused.
    pub reason: &'static str,
}

fn parse(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
) -> Result<u64, LimitsError> {
    let Some(value) = get(var) else {
        return Ok(default);
    };
    let t = value.trim();
    if t.is_empty() {
        return Ok(default);
    }
    match t.replace('_', "").parse::<u64>() {
        Ok(0) => Err(LimitsError {
            var,
            value,
            reason: "must be at least 1",
        }),
        Ok(n) => Ok(n),
        Err(_) => Err(LimitsError {
            var,
            value,
            reason: "must be a whole number",
        }),
    }
}

impl ConnectionLimits {
    /// The defaults, overridden by the variables `get` returns (the shell
    /// passes `|k| std::env::var(k).ok()`); unset or empty variables keep
    /// their default, anything but a positive whole number is an error
    /// naming the variable. A per-client cap above the global one is
    /// lowered to it.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, LimitsError> {
        let d = ConnectionLimits::default();
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let max_connections = to_usize(parse(&get, ENV_MAX_CONNECTIONS, d.max_connections as u64)?);
        let max_client_connections = to_usize(parse(
            &get,
            ENV_MAX_CLIENT_CONNECTIONS,
            d.max_client_connections as u64,
        )?)
        .min(max_connections);
        Ok(ConnectionLimits {
            max_connections,
            max_client_connections,
            header_timeout_ms: parse(&get, ENV_HEADER_TIMEOUT_MS, d.header_timeout_ms)?,
            idle_timeout_ms: parse(&get, ENV_IDLE_TIMEOUT_MS, d.idle_timeout_ms)?,
            body_timeout_ms: parse(&get, ENV_BODY_TIMEOUT_MS, d.body_timeout_ms)?,
        })
    }
}

/// Which cap a refused connection hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overload {
    /// The server serves [`ConnectionLimits::max_connections`] already.
    Server {
        /// The cap.
        limit: usize,
    },
    /// This client has [`ConnectionLimits::max_client_connections`] open.
    Client {
        /// The cap.
        limit: usize,
    },
}

/// Who counts as one client for the per-client cap: an IPv4 address
/// (also when written IPv4-mapped), or the /64 of an IPv6 address — one
/// host usually holds a whole /64, so counting single IPv6 addresses
/// would let it open 2^64 × the cap.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The answer to a connection refused by a cap: `503` with
/// `{"error":{"code":"overloaded","message":…}}`, `retry-after: 1` and
/// `connection: close`.
pub fn overloaded(why: Overload) -> ApiResponse {
    let message = match why {
        Overload::Server { limit } => format!(
            "the sentinel is serving its maximum of {limit} connections; retry in a moment"
        ),
        Overload::Client { limit } => format!(
            "this client has {limit} connections open, the most one client may hold; close some and retry"
        ),
    };
    ApiResponse::error(503, OVERLOADED, &message)
        .header("retry-after", "1")
        .header("connection", "close")
}

/// The answer to a request whose body did not arrive within the body
/// timeout: `408` with `{"error":{"code":"request-timeout",…}}` and
/// `connection: close`.
pub fn body_timed_out(timeout_ms: u64) -> ApiResponse {
    ApiResponse::error(
        408,
        "request-timeout",
        &format!("the request body did not arrive within {timeout_ms} ms"),
    )
    .header("connection", "close")
}

/// [`overloaded`] as the bytes of an HTTP/1.1 answer, for a shell that
/// writes it on a connection it does not hand to its HTTP stack.
pub fn overloaded_http1(why: Overload) -> Vec<u8> {
    let r = overloaded(why);
    let mut head = String::from("HTTP/1.1 503 Service Unavailable\r\n");
    for (k, v) in &r.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", r.body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(&r.body);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(
            ConnectionLimits::from_vars(vars(&[])).unwrap(),
            ConnectionLimits::default()
        );
        let l = ConnectionLimits::from_vars(vars(&[
            (ENV_MAX_CONNECTIONS, "10_000"),
            (ENV_MAX_CLIENT_CONNECTIONS, " 300 "),
            (ENV_HEADER_TIMEOUT_MS, "2500"),
            (ENV_IDLE_TIMEOUT_MS, ""),
            (ENV_BODY_TIMEOUT_MS, "1000"),
        ]))
        .unwrap();
        assert_eq!(
            l,
            ConnectionLimits {
                max_connections: 10_000,
                max_client_connections: 300,
                header_timeout_ms: 2_500,
                idle_timeout_ms: IDLE_TIMEOUT_MS,
                body_timeout_ms: 1_000,
            }
        );
        let l = ConnectionLimits::from_vars(vars(&[
            (ENV_MAX_CONNECTIONS, "100"),
            (ENV_MAX_CLIENT_CONNECTIONS, "500"),
        ]))
        .unwrap();
        assert_eq!(l.max_client_connections, 100);
        for (var, bad) in [
            (ENV_MAX_CONNECTIONS, "0"),
            (ENV_MAX_CLIENT_CONNECTIONS, "-1"),
            (ENV_HEADER_TIMEOUT_MS, "10s"),
        ] {
            let e = ConnectionLimits::from_vars(vars(&[(var, bad)])).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn clients_are_addresses_or_ipv6_slash_64s() {
        let k = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(k("203.0.113.7"), "203.0.113.7");
        assert_eq!(k("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(k("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(k("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::");
        assert_ne!(k("2001:db8:1:3::1"), k("2001:db8:1:2::1"));
    }

    #[test]
    fn the_overload_answer() {
        for why in [
            Overload::Server { limit: 4096 },
            Overload::Client { limit: 256 },
        ] {
            let r = overloaded(why);
            assert_eq!(r.status, 503);
            assert_eq!(r.get_header("connection"), Some("close"));
            assert_eq!(r.get_header("retry-after"), Some("1"));
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["error"]["code"], OVERLOADED);
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("connections"));
            let raw = String::from_utf8(overloaded_http1(why)).unwrap();
            assert!(
                raw.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
                "{raw}"
            );
            let (head, body) = raw.split_once("\r\n\r\n").unwrap();
            assert!(head.contains(&format!("content-length: {}", body.len())));
            assert!(head.contains("content-type: application/json"), "{head}");
            assert_eq!(body.as_bytes(), r.body.as_slice());
        }
    }
}
