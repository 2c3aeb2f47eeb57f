//! The one outbound HTTP seam: every request the sentinel makes — probes,
//! proxied requests, webhooks — goes through [`Outbound::send`], and every
//! wait through [`Timer::sleep`].
//!
//! A shell implements the two traits over its runtime (hyper and tokio
//! natively, `Fetch` and a JS timer in a Worker) and does nothing else with
//! a request: by the time an [`OutboundRequest`] reaches it, the core has
//! checked the URL against the SSRF guard ([`super::guard`]), opened the
//! sealed credential headers and marked them sensitive, and set the
//! timeout, the size cap and the redirect policy. The shell must:
//!
//! - give up after `timeout_ms` in total (connect, headers and body) and
//!   report [`OutboundError::Timeout`];
//! - read at most `max_bytes` of the body and set `truncated` when there
//!   was more (and stop reading);
//! - follow redirects only as [`RedirectPolicy`] and
//!   [`super::guard::redirect_verdict`] allow, and refuse names that
//!   resolve to non-public addresses unless `allow_private`
//!   ([`super::guard::check_addrs`]);
//! - open a new connection when `fresh_connection` is set (probes), and
//!   may reuse pooled ones otherwise;
//! - never use an environment proxy (the guard must judge the target, and
//!   a probe measures the provider, not a proxy);
//! - measure `latency_ms` with a monotonic clock, from send to the end of
//!   the body.

use std::fmt;
use std::future::Future;

/// How redirects are followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RedirectPolicy {
    /// Whether private targets are allowed (on every hop).
    pub allow_private: bool,
    /// Whether only same-origin hops are followed (the request carries
    /// opened credentials).
    pub same_origin_only: bool,
    /// Whether redirects are followed at all (webhooks: never).
    pub follow: bool,
}

/// A request for the shell to send.
#[derive(Clone)]
pub struct OutboundRequest {
    /// Method.
    pub method: http::Method,
    /// The URL, already checked by the guard. An `http::Uri`, which the
    /// shells' clients take as it is (a shell that follows a redirect
    /// parses it as a WHATWG URL then, for the guard's verdict on the hop).
    pub url: http::Uri,
    /// Headers; credential values are marked sensitive.
    pub headers: http::HeaderMap,
    /// Body (empty: none).
    pub body: bytes::Bytes,
    /// Total time allowed, in ms.
    pub timeout_ms: u64,
    /// Largest body to read.
    pub max_bytes: u64,
    /// Redirect policy.
    pub redirects: RedirectPolicy,
    /// Open a new connection for this request rather than reuse a pooled
    /// one: a health check must see what a new client sees (a listener
    /// that stopped accepting is down even while its old keep-alive
    /// connections are still served), as HAProxy's checks do.
    pub fresh_connection: bool,
}

impl fmt::Debug for OutboundRequest {
    /// Sensitive header values and the body are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let shown = if v.is_sensitive() {
                    "<redacted>"
                } else {
                    v.to_str().unwrap_or("<binary>")
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &self.url.to_string())
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("timeout_ms", &self.timeout_ms)
            .field("max_bytes", &self.max_bytes)
            .field("redirects", &self.redirects)
            .field("fresh_connection", &self.fresh_connection)
            .finish()
    }
}

/// What came back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body, at most `max_bytes`.
    pub body: bytes::Bytes,
    /// Whether there was more than `max_bytes`.
    pub truncated: bool,
    /// Time from send to the end of the body, in ms.
    pub latency_ms: u64,
}

/// Why nothing came back. Messages never contain the URL (it may carry an
/// API key) nor credential values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The timeout elapsed.
    #[error("no answer in time")]
    Timeout,
    /// Connection refused, DNS failure.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection was reset or closed before the answer was complete.
    #[error("reset: {0}")]
    Reset(String),
    /// TLS handshake or certificate failure.
    #[error("tls: {0}")]
    Tls(String),
    /// Refused by the SSRF guard (before sending, on a redirect hop or at
    /// name resolution).
    #[error("blocked: {0}")]
    Blocked(String),
    /// A redirect the policy refused (too many, downgrade, cross-origin).
    #[error("redirect: {0}")]
    Redirect(String),
    /// Anything else (invalid header, malformed response…).
    #[error("protocol: {0}")]
    Protocol(String),
}

/// Sends requests; the shell's HTTP client. See the module docs for what
/// an implementation must guarantee.
pub trait Outbound {
    /// Sends one request.
    fn send(
        &self,
        req: OutboundRequest,
    ) -> impl Future<Output = Result<OutboundResponse, OutboundError>>;
}

/// Waits; the shell's timer (tokio, a JS `setTimeout`, a virtual clock).
pub trait Timer {
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

impl<T: Outbound + ?Sized> Outbound for std::sync::Arc<T> {
    fn send(
        &self,
        req: OutboundRequest,
    ) -> impl Future<Output = Result<OutboundResponse, OutboundError>> {
        (**self).send(req)
    }
}

impl<T: Timer + ?Sized> Timer for std::sync::Arc<T> {
    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        (**self).sleep(ms)
    }
}
