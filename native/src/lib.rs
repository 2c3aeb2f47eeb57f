//! The native I/O of Bookkeeper Sentinel, shared by the local binary and
//! the AWS Lambda: the core's [`Outbound`] over hyper's client (rustls),
//! the DNS-checking resolver of the SSRF guard, and [`Timer`] over tokio.
//!
//! Everything a request needs decided — the URL guard, opened credentials,
//! the timeout, the size cap, the redirect policy — arrives decided in the
//! [`OutboundRequest`] (see [`sentinel_core::host::outbound`]); this crate
//! only carries it out:
//!
//! - a 3 s connect timeout and the request's total timeout from connecting
//!   to the end of the body;
//! - the body read frame by frame and cut at `max_bytes` (`truncated`);
//! - redirects (301, 302, 303, 307, 308) followed here, hop by hop, each
//!   judged by the core's [`guard::redirect_verdict`] (301–303 turn a
//!   request other than GET and HEAD into a bodiless GET, as browsers and
//!   reqwest do; a hop to another origin drops `authorization`, `cookie`
//!   and every header marked sensitive);
//! - [`GuardedResolver`] on every name a client resolves (with private
//!   targets allowed it still refuses metadata and link-local addresses);
//! - no environment proxies, `TCP_NODELAY` on every connection.
//!
//! It is hyper with hyper-rustls, not reqwest: the proxy sends every
//! request through here, and reqwest's layers (its own request type, a
//! `Url` parse, a redirect and a retry service, header copies) cost about
//! a fifth of the proxy's CPU per request (BENCHMARKS.md § What changed in
//! the proxy). Probes go through hyper-util's client with no idle
//! connection kept (a fresh one per probe, HTTP/1.1 or HTTP/2 by ALPN);
//! proxied requests and webhooks through this crate's own keep-alive
//! HTTP/1 pool (the `pool` module).
//!
//! **Pools are per thread.** A pooled connection is a task on the runtime
//! that opened it; a request on another thread's connection wakes that
//! thread twice per exchange. The local server runs one single-threaded
//! runtime per core (as nginx runs one worker process per core), so each
//! thread keeps its own pools ([`NativeOutbound`] builds them lazily, per
//! instance and thread), and a proxied request never leaves the thread
//! that accepted it.

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer as HyperTimer};
use sentinel_core::host::guard::{self, GuardError, RedirectError};
use sentinel_core::host::{
    HostClient, Outbound, OutboundError, OutboundRequest, OutboundResponse, Timer, USER_AGENT,
};
use sentinel_core::secret::SecretKey;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Time allowed to establish a connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an idle pooled connection is kept.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The TLS configuration was refused (no usable protocol version).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The shared client over hyper and tokio: what the local binary and the
/// Lambda hand to the core.
pub type NativeClient = HostClient<NativeOutbound, TokioTimer>;

/// Builds the shared client; `key` opens sealed credential headers.
pub fn client(key: Option<SecretKey>) -> Result<NativeClient, NativeError> {
    Ok(HostClient::new(NativeOutbound::new()?, TokioTimer, key))
}

/// The tokio timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A DNS resolver that refuses names resolving to refused addresses
/// ([`guard::check_resolved`]): the addresses checked are the ones the
/// client then connects to, which closes the DNS-rebinding gap. Every
/// client has one: with private targets allowed it still refuses cloud
/// metadata and link-local addresses. (Address literals never reach a
/// resolver; the core's [`guard::check_url`] judges them.)
#[derive(Clone, Copy, Debug, Default)]
pub struct GuardedResolver {
    /// Whether private and loopback addresses pass.
    pub allow_private: bool,
}

/// A resolution in progress.
pub type Resolving = Pin<
    Box<
        dyn Future<
                Output = Result<
                    std::vec::IntoIter<SocketAddr>,
                    Box<dyn std::error::Error + Send + Sync>,
                >,
            > + Send,
    >,
>;

impl GuardedResolver {
    /// Resolves `host` and checks every address.
    pub fn resolve(&self, host: String) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            guard::check_resolved(&host, &addrs, allow_private)?;
            Ok(addrs.into_iter())
        })
    }
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Resolving;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        self.resolve(name.as_str().to_string())
    }
}

/// A client that keeps no connection: every request opens its own.
type FreshClient = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

/// The pools of one [`NativeOutbound`] on one thread, each indexed by
/// `allow_private`: probes open a fresh connection every time (HTTP/1.1
/// or HTTP/2 by ALPN); everything else goes through the thread's
/// keep-alive HTTP/1 pool (`pool`).
struct ThreadPools {
    fresh: [FreshClient; 2],
    kept: [pool::H1Pool; 2],
}

type Pools = Arc<ThreadPools>;

fn connector(tls: &rustls::ClientConfig, allow_private: bool, h2: bool) -> pool::Connector {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver { allow_private });
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1();
    if h2 {
        b.enable_http2().wrap_connector(http)
    } else {
        b.wrap_connector(http)
    }
}

fn fresh_client(tls: &rustls::ClientConfig, allow_private: bool) -> FreshClient {
    let mut b = Client::builder(TokioExecutor::new());
    b.pool_timer(HyperTimer::new()).pool_max_idle_per_host(0);
    b.build(connector(tls, allow_private, true))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's pools of every live [`NativeOutbound`], by its id.
    static POOLS: RefCell<Vec<(u64, std::sync::Weak<Shared>, Pools)>> =
        const { RefCell::new(Vec::new()) };
}

/// What the clones of one [`NativeOutbound`] share.
struct Shared {
    id: u64,
    tls: rustls::ClientConfig,
}

/// The core's [`Outbound`] over hyper-util's client with rustls; cheap to
/// clone (clones share their pools).
#[derive(Clone)]
pub struct NativeOutbound {
    shared: Arc<Shared>,
}

impl fmt::Debug for NativeOutbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeOutbound")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl NativeOutbound {
    /// A client with the Mozilla root certificates (webpki-roots) and
    /// rustls' ring provider; pools are opened lazily.
    pub fn new() -> Result<NativeOutbound, NativeError> {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| NativeError::Build(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        Ok(NativeOutbound {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                tls,
            }),
        })
    }

    /// This thread's pools (opened on first use; entries of dropped
    /// clients are pruned then).
    fn pools(&self) -> Pools {
        POOLS.with(|cell| {
            let mut all = cell.borrow_mut();
            if let Some((_, _, p)) = all.iter().find(|(id, _, _)| *id == self.shared.id) {
                return p.clone();
            }
            all.retain(|(_, w, _)| w.strong_count() > 0);
            let tls = &self.shared.tls;
            let p: Pools = Arc::new(ThreadPools {
                fresh: [fresh_client(tls, false), fresh_client(tls, true)],
                kept: [
                    pool::H1Pool::new(connector(tls, false, false)),
                    pool::H1Pool::new(connector(tls, true, false)),
                ],
            });
            all.push((self.shared.id, Arc::downgrade(&self.shared), p.clone()));
            p
        })
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

/// Classifies a client error by its chain: the guard's refusals, resets,
/// TLS failures, connection failures (a connect timeout included: nothing
/// was sent), anything else. The messages carry no URL.
pub fn classify(e: &(dyn std::error::Error + 'static), connect: bool) -> OutboundError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
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
            ) && !connect
            {
                return OutboundError::Reset(io.to_string());
            }
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return OutboundError::Reset(h.to_string());
            }
        }
        cur = err.source();
    }
    let msg = error_chain(e);
    let lower = msg.to_ascii_lowercase();
    if TLS_HINTS.iter().any(|h| lower.contains(h)) {
        OutboundError::Tls(msg)
    } else if connect {
        OutboundError::Connect(msg)
    } else if RESET_HINTS.iter().any(|h| lower.contains(h)) {
        OutboundError::Reset(msg)
    } else {
        OutboundError::Protocol(msg)
    }
}

fn redirect_error(e: RedirectError) -> OutboundError {
    match e {
        RedirectError::Guard(g) if g.is_blocked() => OutboundError::Blocked(g.to_string()),
        other => OutboundError::Redirect(other.to_string()),
    }
}

/// Reads at most `cap` bytes of the body; `true` when there was more. A
/// body of one frame (the common case) is taken as it is, without a copy.
async fn read_capped(
    mut body: hyper::body::Incoming,
    cap: u64,
    hint: u64,
) -> Result<(Bytes, bool), hyper::Error> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    // The first frame is kept as it is; later ones are appended to a copy.
    let mut first: Option<Bytes> = None;
    let mut out: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame?.into_data() else {
            continue; // trailers
        };
        let have = first.as_ref().map_or(0, Bytes::len) + out.len();
        let room = cap.saturating_sub(have);
        let over = data.len() > room;
        if over {
            data.truncate(room);
        }
        match &first {
            None => first = Some(data),
            Some(f) => {
                if out.is_empty() {
                    out.reserve(usize::try_from(hint).unwrap_or(0).min(cap).min(1 << 20));
                    out.extend_from_slice(f);
                }
                out.extend_from_slice(&data);
            }
        }
        if over {
            // Dropping the body closes the connection.
            let body = if out.is_empty() {
                first.unwrap_or_default()
            } else {
                out.into()
            };
            return Ok((body, true));
        }
    }
    let body = if out.is_empty() {
        first.unwrap_or_default()
    } else {
        out.into()
    };
    Ok((body, false))
}

/// Whether `status` is a redirect this client follows.
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The request for the next hop of a redirect (reqwest's and browsers'
/// rules): 301, 302 and 303 turn a request other than GET and HEAD into a
/// GET without a body; 307 and 308 keep method and body. A hop to another
/// origin drops the credentials.
fn follow(
    status: StatusCode,
    method: &mut Method,
    body: &mut Bytes,
    headers: &mut HeaderMap,
    cross_origin: bool,
) {
    if matches!(status.as_u16(), 301..=303) {
        if *method != Method::GET && *method != Method::HEAD {
            *method = Method::GET;
        }
        *body = Bytes::new();
        for h in [
            http::header::TRANSFER_ENCODING,
            http::header::CONTENT_ENCODING,
            http::header::CONTENT_TYPE,
            http::header::CONTENT_LENGTH,
        ] {
            headers.remove(h);
        }
    }
    if cross_origin {
        for h in [
            http::header::AUTHORIZATION,
            http::header::COOKIE,
            http::header::PROXY_AUTHORIZATION,
            http::header::WWW_AUTHENTICATE,
        ] {
            headers.remove(h);
        }
        let sensitive: Vec<http::HeaderName> = headers
            .iter()
            .filter(|(_, v)| v.is_sensitive())
            .map(|(k, _)| k.clone())
            .collect();
        for h in sensitive {
            headers.remove(h);
        }
    }
}

impl NativeOutbound {
    async fn exchange(
        &self,
        req: OutboundRequest,
        started: Instant,
    ) -> Result<OutboundResponse, OutboundError> {
        let pools = self.pools();
        let ap = usize::from(req.redirects.allow_private);
        let fresh = req.fresh_connection;
        let OutboundRequest {
            mut method,
            mut url,
            mut headers,
            body,
            max_bytes,
            redirects,
            ..
        } = req;
        if !headers.contains_key(http::header::USER_AGENT) {
            headers.insert(
                http::header::USER_AGENT,
                HeaderValue::from_static(USER_AGENT),
            );
        }
        let mut body = body;
        let mut visited: Vec<url::Url> = Vec::new();
        loop {
            let mut r = http::Request::new(Full::new(body.clone()));
            *r.method_mut() = method.clone();
            *r.uri_mut() = url.clone();
            *r.headers_mut() = headers.clone();
            let (resp, lease) = if fresh {
                let resp = pools.fresh[ap]
                    .request(r)
                    .await
                    .map_err(|e| classify(&e, e.is_connect()))?;
                (resp, None)
            } else {
                let (resp, lease) = pools.kept[ap].send(r).await?;
                (resp, Some(lease))
            };
            let status = resp.status();
            if redirects.follow && is_redirect(status) {
                if let Some(location) = resp.headers().get(LOCATION) {
                    // Redirects are judged on WHATWG URLs, as the guard reads them.
                    let here = url::Url::parse(&url.to_string())
                        .map_err(|e| OutboundError::Protocol(format!("invalid URL: {e}")))?;
                    let next = location
                        .to_str()
                        .ok()
                        .and_then(|l| here.join(l).ok())
                        .ok_or_else(|| {
                            OutboundError::Redirect("a redirect to an invalid location".into())
                        })?;
                    visited.push(here);
                    guard::redirect_verdict(
                        &visited,
                        &next,
                        redirects.allow_private,
                        redirects.same_origin_only,
                    )
                    .map_err(redirect_error)?;
                    let cross_origin = visited
                        .last()
                        .is_some_and(|prev| prev.origin() != next.origin());
                    follow(status, &mut method, &mut body, &mut headers, cross_origin);
                    url = http::Uri::try_from(next.as_str())
                        .map_err(|e| OutboundError::Redirect(format!("invalid location: {e}")))?;
                    // The unread answer is dropped with its connection.
                    drop(resp);
                    drop(lease);
                    continue;
                }
            }
            let (parts, incoming) = resp.into_parts();
            let hint = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let (body, truncated) = read_capped(incoming, max_bytes, hint)
                .await
                .map_err(|e| classify(&e, false))?;
            // Read to its end: the connection may serve the next request.
            if let (Some(lease), false) = (lease, truncated) {
                pools.kept[ap].put(lease);
            }
            return Ok(OutboundResponse {
                status: status.as_u16(),
                headers: parts.headers,
                body,
                truncated,
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
    }
}

impl Outbound for NativeOutbound {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let total = Duration::from_millis(req.timeout_ms.max(1));
        if req.url.scheme_str().is_some_and(db::is_db) {
            let allow_private = req.redirects.allow_private;
            return match tokio::time::timeout(
                total,
                db::probe(&req, &self.shared.tls, allow_private),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(OutboundError::Timeout),
            };
        }
        // The shell owns the clock; latency is a monotonic duration.
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        match tokio::time::timeout(total, self.exchange(req, started)).await {
            Ok(r) => r,
            Err(_) => Err(OutboundError::Timeout),
        }
    }
}

mod db;
mod pool;

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;
