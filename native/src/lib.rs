//! The native I/O of Bookkeeper Sentinel, shared by the local binary and
//! the AWS Lambda: the core's [`Outbound`] over reqwest (rustls), the
//! DNS-checking resolver of the SSRF guard, and [`Timer`] over tokio.
//!
//! Everything a request needs decided — the URL guard, opened credentials,
//! the timeout, the size cap, the redirect policy — arrives decided in the
//! [`OutboundRequest`] (see [`sentinel_core::host::outbound`]); this crate
//! only carries it out:
//!
//! - a 3 s connect timeout and the request's total timeout from connecting
//!   to the end of the body;
//! - the body read incrementally and cut at `max_bytes` (`truncated`);
//! - redirects judged hop by hop by the core's
//!   [`guard::redirect_verdict`];
//! - [`GuardedResolver`] on every name a client resolves (with private
//!   targets allowed it still refuses metadata and link-local addresses);
//! - no environment proxies.
//!
//! reqwest fixes the redirect policy and the resolver per client, so one
//! client is built per policy up front (pools fill lazily).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::{Attempt, Policy};
use sentinel_core::host::guard::{self, GuardError, RedirectError};
use sentinel_core::host::{
    HostClient, Outbound, OutboundError, OutboundRequest, OutboundResponse, RedirectPolicy, Timer,
    USER_AGENT,
};
use sentinel_core::secret::SecretKey;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time allowed to establish a connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// reqwest refused the configuration (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The shared client over reqwest and tokio: what the local binary and
/// the Lambda hand to the core.
pub type NativeClient = HostClient<ReqwestOutbound, TokioTimer>;

/// Builds the shared client; `key` opens sealed credential headers.
pub fn client(key: Option<SecretKey>) -> Result<NativeClient, NativeError> {
    Ok(HostClient::new(ReqwestOutbound::new()?, TokioTimer, key))
}

/// The tokio timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A reqwest DNS resolver that refuses names resolving to refused
/// addresses ([`guard::check_resolved`]): the addresses checked are the
/// ones the client then connects to, which closes the DNS-rebinding gap.
/// Every client has one: with private targets allowed it still refuses
/// cloud metadata and link-local addresses.
#[derive(Clone, Copy, Debug, Default)]
pub struct GuardedResolver {
    /// Whether private and loopback addresses pass.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            guard::check_resolved(&host, &addrs, allow_private)?;
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

fn redirect_policy(p: RedirectPolicy) -> Policy {
    if !p.follow {
        return Policy::none();
    }
    Policy::custom(move |attempt: Attempt| {
        match guard::redirect_verdict(
            attempt.previous(),
            attempt.url(),
            p.allow_private,
            p.same_origin_only,
        ) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    })
}

fn build(p: RedirectPolicy, fresh: bool) -> Result<reqwest::Client, NativeError> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .no_proxy()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(redirect_policy(p));
    if fresh {
        // No pool: every request opens its own connection.
        b = b.pool_max_idle_per_host(0);
    }
    b = b.dns_resolver(Arc::new(GuardedResolver {
        allow_private: p.allow_private,
    }));
    b.build().map_err(|e| NativeError::Build(error_chain(&e)))
}

/// The core's [`Outbound`] over reqwest; cheap to clone (shared pools).
#[derive(Clone)]
pub struct ReqwestOutbound {
    /// Indexed by `allow_private`, `same_origin_only`, `follow`,
    /// `fresh_connection`.
    clients: Arc<Vec<reqwest::Client>>,
}

impl fmt::Debug for ReqwestOutbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestOutbound").finish_non_exhaustive()
    }
}

fn index(p: RedirectPolicy, fresh: bool) -> usize {
    usize::from(p.allow_private)
        | usize::from(p.same_origin_only) << 1
        | usize::from(p.follow) << 2
        | usize::from(fresh) << 3
}

impl ReqwestOutbound {
    /// Builds one client per redirect policy, pooled and not.
    pub fn new() -> Result<ReqwestOutbound, NativeError> {
        let clients = (0..16usize)
            .map(|i| {
                let p = RedirectPolicy {
                    allow_private: i & 1 != 0,
                    same_origin_only: i & 2 != 0,
                    follow: i & 4 != 0,
                };
                build(p, i & 8 != 0)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReqwestOutbound {
            clients: Arc::new(clients),
        })
    }

    /// The pooled client for a policy (tests use it to exercise one
    /// policy).
    pub fn client_for(&self, p: RedirectPolicy) -> &reqwest::Client {
        &self.clients[index(p, false)]
    }
}

/// Joins an error and its sources into one line, skipping repeats.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

const TLS_HINTS: &[&str] = &[
    "certificate",
    "tls",
    "handshake",
    "invalidcontenttype",
    "corrupt message",
    "unknownissuer",
    "rustls",
];

const RESET_HINTS: &[&str] = &[
    "connection reset",
    "connection closed before message completed",
    "incomplete message",
    "broken pipe",
];

/// Classifies a reqwest error. The URL is stripped from the message (it
/// may carry an API key in its path or query).
pub fn classify(e: reqwest::Error) -> OutboundError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cur {
        if let Some(g) = err.downcast_ref::<GuardError>() {
            return if g.is_blocked() {
                OutboundError::Blocked(g.to_string())
            } else {
                OutboundError::Protocol(g.to_string())
            };
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ) {
                return OutboundError::Reset(io.to_string());
            }
        }
        if let Some(r) = err.downcast_ref::<RedirectError>() {
            return match r {
                RedirectError::Guard(g) if g.is_blocked() => OutboundError::Blocked(g.to_string()),
                other => OutboundError::Redirect(other.to_string()),
            };
        }
        cur = err.source();
    }
    if e.is_timeout() {
        return OutboundError::Timeout;
    }
    let (is_connect, is_redirect) = (e.is_connect(), e.is_redirect());
    let e = e.without_url();
    let msg = error_chain(&e);
    let lower = msg.to_ascii_lowercase();
    if is_redirect {
        OutboundError::Redirect(msg)
    } else if TLS_HINTS.iter().any(|h| lower.contains(h)) {
        OutboundError::Tls(msg)
    } else if is_connect {
        OutboundError::Connect(msg)
    } else if RESET_HINTS.iter().any(|h| lower.contains(h)) {
        // hyper reports a peer that closed mid-answer as an incomplete
        // message, without an io::Error underneath.
        OutboundError::Reset(msg)
    } else {
        OutboundError::Protocol(msg)
    }
}

/// Reads at most `cap` bytes of the body; `true` when there was more.
async fn read_capped(
    mut resp: reqwest::Response,
    cap: u64,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let hint = resp.content_length().unwrap_or(0).min(cap).min(1 << 20);
    let mut body = Vec::with_capacity(hint as usize);
    while let Some(chunk) = resp.chunk().await? {
        let room = usize::try_from(cap.saturating_sub(body.len() as u64)).unwrap_or(usize::MAX);
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            // Dropping the response closes the connection.
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

impl Outbound for ReqwestOutbound {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let total = Duration::from_millis(req.timeout_ms.max(1));
        let mut rb = self.clients[index(req.redirects, req.fresh_connection)]
            .request(req.method, req.url)
            .headers(req.headers)
            .timeout(total);
        if !req.body.is_empty() {
            rb = rb.body(req.body);
        }
        let cap = req.max_bytes;
        // The shell owns the clock; latency is a monotonic duration.
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        let exchange = async {
            let resp = rb.send().await.map_err(classify)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let (body, truncated) = read_capped(resp, cap).await.map_err(classify)?;
            Ok(OutboundResponse {
                status,
                headers,
                body,
                truncated,
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
        };
        match tokio::time::timeout(total, exchange).await {
            Ok(r) => r,
            Err(_) => Err(OutboundError::Timeout),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;
