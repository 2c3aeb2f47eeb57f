//! The local shell's HTTP client: probes ([`Prober`]) and proxied requests
//! ([`Upstream`]) over reqwest with rustls.
//!
//! Every request is bounded and guarded:
//! - a 3 s connect timeout and a total timeout (the probe's, or the proxy
//!   attempt's) from connecting to the end of the body;
//! - bodies are read incrementally and capped: a probe stops at
//!   `max_bytes` and reports `truncated`; a proxied answer over
//!   [`UPSTREAM_MAX_BYTES`] is an error;
//! - the SSRF guard ([`crate::guard`]): [`guard::check_url`] before the
//!   request, the [`GuardedResolver`] on every name the client resolves,
//!   and the redirect policy on every hop;
//! - at most [`MAX_REDIRECTS`] redirects, never from https to http, and a
//!   request that carries opened credentials follows only same-origin
//!   redirects (reqwest drops `Authorization` on a cross-origin hop, but
//!   not a custom `x-api-key`);
//! - no environment proxies: the guard must judge the target itself, and
//!   a probe measures the provider, not a proxy.
//!
//! Sealed credential headers are opened with the client's [`SecretKey`]
//! right before sending and marked sensitive; no error message or `Debug`
//! output contains their clear text.
//!
//! The policies differ per request (guarded or not, carrying credentials
//! or not) but reqwest fixes them per client, so four clients are built
//! up front; they share nothing but are cheap (connection pools fill
//! lazily).

use crate::guard::{self, GuardError, GuardedResolver};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect::{Attempt, Policy};
use reqwest::Url;
use sentinel_core::config::Method;
use sentinel_core::probe::{
    secret_header_aad, ProbeFailure, ProbeRequest, ProbeResponse, ProbeResult,
};
use sentinel_core::proxy::{ProxyRequest, Target, Upstream, UpstreamError, UpstreamResponse};
use sentinel_core::secret::{self, SealedSecret, SecretKey, Sensitive};
use sentinel_core::tick::Prober;
use sentinel_core::ProviderId;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("bookkeeper-sentinel/", env!("CARGO_PKG_VERSION"));
/// Time allowed to establish a connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Most redirects followed per request.
pub const MAX_REDIRECTS: usize = 3;
/// Largest proxied answer, in bytes (16 MiB).
pub const UPSTREAM_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// reqwest refused the configuration (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Why a redirect was not followed (besides the guard).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Too many hops.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    /// https → http.
    #[error("refused a redirect from https to http")]
    Downgrade,
    /// Credentials would go to another origin.
    #[error("refused a redirect to another origin ({0}): the request carries credentials")]
    CrossOrigin(String),
}

/// Whether one redirect hop may be followed: `previous` are the URLs
/// requested so far (the first is the original), `next` the new one.
pub fn redirect_verdict(
    previous: &[Url],
    next: &Url,
    allow_private: bool,
    same_origin_only: bool,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if previous.len() > MAX_REDIRECTS {
        return Err(Box::new(RedirectError::TooMany));
    }
    if let Err(e) = guard::check_parsed(next, allow_private) {
        // Boxed as itself, so `guard::find_in_chain` can downcast it.
        return Err(Box::new(e));
    }
    if let Some(last) = previous.last() {
        if last.scheme() == "https" && next.scheme() != "https" {
            return Err(Box::new(RedirectError::Downgrade));
        }
    }
    if same_origin_only {
        if let Some(first) = previous.first() {
            if first.origin() != next.origin() {
                return Err(Box::new(RedirectError::CrossOrigin(
                    next.origin().ascii_serialization(),
                )));
            }
        }
    }
    Ok(())
}

fn redirect_policy(allow_private: bool, same_origin_only: bool) -> Policy {
    Policy::custom(move |attempt: Attempt| {
        match redirect_verdict(
            attempt.previous(),
            attempt.url(),
            allow_private,
            same_origin_only,
        ) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    })
}

fn build_client(allow_private: bool, same_origin_only: bool) -> Result<reqwest::Client, HttpError> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .no_proxy()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(redirect_policy(allow_private, same_origin_only));
    if !allow_private {
        b = b.dns_resolver(Arc::new(GuardedResolver));
    }
    b.build().map_err(|e| HttpError::Build(error_chain(&e)))
}

struct Clients {
    guarded: reqwest::Client,
    guarded_credentials: reqwest::Client,
    open: reqwest::Client,
    open_credentials: reqwest::Client,
}

struct Inner {
    clients: Clients,
    key: Option<SecretKey>,
    upstream_max_bytes: u64,
}

/// The shell's HTTP client; cheap to clone (shared pools).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("user_agent", &USER_AGENT)
            .field("key", &self.inner.key.as_ref().map(|_| "<redacted>"))
            .field("upstream_max_bytes", &self.inner.upstream_max_bytes)
            .finish()
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

/// Classifies a reqwest error. The URL is stripped from the message (it
/// may carry an API key in its path or query).
fn failure(e: reqwest::Error) -> ProbeFailure {
    if let Some(g) = guard::find_in_chain(&e) {
        return if g.is_blocked() {
            ProbeFailure::Blocked(g.to_string())
        } else {
            ProbeFailure::Protocol(g.to_string())
        };
    }
    if e.is_timeout() {
        return ProbeFailure::Timeout;
    }
    let (is_connect, is_redirect) = (e.is_connect(), e.is_redirect());
    let e = e.without_url();
    let msg = error_chain(&e);
    let lower = msg.to_ascii_lowercase();
    let tls = TLS_HINTS.iter().any(|h| lower.contains(h));
    if is_redirect {
        ProbeFailure::Protocol(msg)
    } else if tls {
        ProbeFailure::Tls(msg)
    } else if is_connect {
        ProbeFailure::Connect(msg)
    } else {
        ProbeFailure::Protocol(msg)
    }
}

fn guard_failure(e: GuardError) -> ProbeFailure {
    if e.is_blocked() {
        ProbeFailure::Blocked(e.to_string())
    } else {
        ProbeFailure::Protocol(e.to_string())
    }
}

fn to_upstream(f: ProbeFailure) -> UpstreamError {
    match f {
        ProbeFailure::Timeout => UpstreamError::Timeout,
        ProbeFailure::Connect(m) => UpstreamError::Connect(m),
        ProbeFailure::Tls(m) => UpstreamError::Connect(format!("tls: {m}")),
        ProbeFailure::Blocked(m) => UpstreamError::Blocked(m),
        ProbeFailure::Protocol(m) => UpstreamError::Other(m),
    }
}

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
            // Dropping the response closes the connection: nothing more
            // is read.
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

fn header_map(
    plain: &[(String, String)],
    secret: &[(String, Sensitive)],
) -> Result<HeaderMap, ProbeFailure> {
    let mut map = HeaderMap::new();
    for (k, v) in plain {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| ProbeFailure::Protocol(format!("invalid header name `{k}`")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| ProbeFailure::Protocol(format!("invalid value for header `{k}`")))?;
        map.append(name, value);
    }
    for (k, v) in secret {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| ProbeFailure::Protocol(format!("invalid header name `{k}`")))?;
        let mut value = HeaderValue::from_str(v.expose()).map_err(|_| {
            ProbeFailure::Protocol(format!(
                "credential for header `{k}` is not a valid header value"
            ))
        })?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    Ok(map)
}

fn total_timeout(ms: u64) -> Duration {
    Duration::from_millis(ms.max(1))
}

impl HttpClient {
    /// Builds the client; `key` opens sealed credential headers (without
    /// one, a request that needs a credential fails as a protocol error).
    pub fn new(key: Option<SecretKey>) -> Result<HttpClient, HttpError> {
        Ok(HttpClient {
            inner: Arc::new(Inner {
                clients: Clients {
                    guarded: build_client(false, false)?,
                    guarded_credentials: build_client(false, true)?,
                    open: build_client(true, false)?,
                    open_credentials: build_client(true, true)?,
                },
                key,
                upstream_max_bytes: UPSTREAM_MAX_BYTES,
            }),
        })
    }

    /// The same client with another cap on proxied answers.
    pub fn with_upstream_max_bytes(self, cap: u64) -> HttpClient {
        let inner = Inner {
            clients: Clients {
                guarded: self.inner.clients.guarded.clone(),
                guarded_credentials: self.inner.clients.guarded_credentials.clone(),
                open: self.inner.clients.open.clone(),
                open_credentials: self.inner.clients.open_credentials.clone(),
            },
            key: self.inner.key.clone(),
            upstream_max_bytes: cap,
        };
        HttpClient {
            inner: Arc::new(inner),
        }
    }

    fn client(&self, allow_private: bool, credentials: bool) -> &reqwest::Client {
        let c = &self.inner.clients;
        match (allow_private, credentials) {
            (false, false) => &c.guarded,
            (false, true) => &c.guarded_credentials,
            (true, false) => &c.open,
            (true, true) => &c.open_credentials,
        }
    }

    /// Opens sealed headers for `provider`. Errors name the header and
    /// the problem, never the material.
    fn open_secrets(
        &self,
        provider: &ProviderId,
        sealed: &[(String, SealedSecret)],
    ) -> Result<Vec<(String, Sensitive)>, ProbeFailure> {
        if sealed.is_empty() {
            return Ok(Vec::new());
        }
        let Some(key) = self.inner.key.as_ref() else {
            return Err(ProbeFailure::Protocol(format!(
                "credential for header `{}` is sealed but no secret key is configured",
                sealed[0].0
            )));
        };
        sealed
            .iter()
            .map(|(name, s)| {
                secret::open(key, &secret_header_aad(provider, name), s)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| {
                        ProbeFailure::Protocol(format!("credential for header `{name}`: {e}"))
                    })
            })
            .collect()
    }

    async fn send_probe(&self, req: &ProbeRequest) -> ProbeResult {
        let url = Url::parse(&req.url)
            .map_err(|e| ProbeFailure::Protocol(format!("invalid URL: {e}")))?;
        guard::check_parsed(&url, req.allow_private).map_err(guard_failure)?;
        let secrets = self.open_secrets(&req.provider, &req.secret_headers)?;
        let headers = header_map(&req.headers, &secrets)?;
        drop(secrets);
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
        };
        let total = total_timeout(req.timeout_ms);
        let mut rb = self
            .client(req.allow_private, !req.secret_headers.is_empty())
            .request(method, url)
            .headers(headers)
            .timeout(total);
        if let Some(body) = &req.body {
            rb = rb.body(body.clone());
        }
        // The shell owns the clock; latency is a monotonic duration.
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        let exchange = async {
            let resp = rb.send().await.map_err(failure)?;
            let status = resp.status().as_u16();
            let (body, truncated) = read_capped(resp, req.max_bytes).await.map_err(failure)?;
            Ok(ProbeResponse {
                status,
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                body,
                truncated,
            })
        };
        match tokio::time::timeout(total, exchange).await {
            Ok(r) => r,
            Err(_) => Err(ProbeFailure::Timeout),
        }
    }

    async fn send_upstream(
        &self,
        target: &Target,
        req: &ProxyRequest,
        timeout_ms: u64,
    ) -> Result<UpstreamResponse, ProbeFailure> {
        let url = Url::parse(&target.url)
            .map_err(|e| ProbeFailure::Protocol(format!("invalid URL: {e}")))?;
        guard::check_parsed(&url, target.allow_private).map_err(guard_failure)?;
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| ProbeFailure::Protocol(format!("invalid method `{}`", req.method)))?;
        let secrets = self.open_secrets(&target.provider, &target.secret_headers)?;
        let headers = header_map(&forwardable_headers(&req.headers), &secrets)?;
        drop(secrets);
        let total = total_timeout(timeout_ms);
        let mut rb = self
            .client(target.allow_private, !target.secret_headers.is_empty())
            .request(method, url)
            .headers(headers)
            .timeout(total);
        if !req.body.is_empty() {
            rb = rb.body(req.body.clone());
        }
        let cap = self.inner.upstream_max_bytes;
        let exchange = async {
            let resp = rb.send().await.map_err(failure)?;
            let status = resp.status().as_u16();
            let all: Vec<(String, String)> = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let headers = forwardable_headers(&all);
            let (body, truncated) = read_capped(resp, cap).await.map_err(failure)?;
            if truncated {
                return Err(ProbeFailure::Protocol(format!(
                    "answer larger than {cap} bytes"
                )));
            }
            Ok(UpstreamResponse {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(total, exchange).await {
            Ok(r) => r,
            Err(_) => Err(ProbeFailure::Timeout),
        }
    }
}

impl Prober for HttpClient {
    async fn probe(&self, req: &ProbeRequest) -> ProbeResult {
        self.send_probe(req).await
    }
}

impl Upstream for HttpClient {
    async fn send(
        &self,
        target: &Target,
        req: &ProxyRequest,
        timeout_ms: u64,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.send_upstream(target, req, timeout_ms)
            .await
            .map_err(to_upstream)
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: one request per
/// connection, answered by a handler.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod test_server {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A received request.
    #[derive(Clone, Debug)]
    pub struct Request {
        pub method: String,
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Request {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// An answer.
    #[derive(Clone, Debug)]
    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
        pub delay: Duration,
    }

    impl Reply {
        pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
            Reply {
                status,
                headers: Vec::new(),
                body: body.into(),
                delay: Duration::ZERO,
            }
        }
        pub fn header(mut self, k: &str, v: &str) -> Reply {
            self.headers.push((k.into(), v.into()));
            self
        }
        pub fn delay(mut self, d: Duration) -> Reply {
            self.delay = d;
            self
        }
    }

    pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

    async fn read_request(s: &mut tokio::net::TcpStream) -> Option<Request> {
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        let head_end = loop {
            let n = s.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_string();
        let path = first.next()?.to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < len {
            let n = s.read(&mut tmp).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&tmp[..n]);
        }
        Some(Request {
            method,
            path,
            headers,
            body,
        })
    }

    /// Serves `handler` on 127.0.0.1 until the task is aborted.
    pub async fn serve(handler: Handler) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let h = handler.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut s).await else {
                        return;
                    };
                    let reply = h(req);
                    tokio::time::sleep(reply.delay).await;
                    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
                    for (k, v) in &reply.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str(&format!(
                        "content-length: {}\r\nconnection: close\r\n\r\n",
                        reply.body.len()
                    ));
                    if s.write_all(head.as_bytes()).await.is_ok() {
                        let _ = s.write_all(&reply.body).await;
                    }
                    let _ = s.shutdown().await;
                });
            }
        });
        (addr, task)
    }

    /// A port nothing listens on.
    pub async fn refused_port() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
mod tests {
    use super::test_server::{refused_port, serve, Reply, Request};
    use super::*;
    use sentinel_core::probe::Purpose;
    use sentinel_core::ServiceId;
    use std::sync::Mutex;

    const SECRET: &str = "Bearer sk-live-top-secret-1234";

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32])
    }

    fn sealed(k: &SecretKey, provider: &str, header: &str, plain: &str) -> SealedSecret {
        let aad = secret_header_aad(&ProviderId::new(provider).unwrap(), header);
        secret::seal(k, &aad, plain, &mut rand_core::OsRng).unwrap()
    }

    fn probe(url: String) -> ProbeRequest {
        ProbeRequest {
            provider: ProviderId::new("p1").unwrap(),
            service: ServiceId::new("svc").unwrap(),
            purpose: Purpose::Scheduled,
            method: Method::Get,
            url,
            headers: vec![("accept".into(), "application/json".into())],
            secret_headers: Vec::new(),
            body: None,
            timeout_ms: 2_000,
            max_bytes: 64 * 1024,
            allow_private: true,
        }
    }

    fn echo() -> super::test_server::Handler {
        Arc::new(|r: Request| {
            let mut out = format!("{} {}\n", r.method, r.path);
            for (k, v) in &r.headers {
                out.push_str(&format!("{k}: {v}\n"));
            }
            out.push('\n');
            let mut body = out.into_bytes();
            body.extend_from_slice(&r.body);
            Reply::new(200, body).header("x-served-by", "echo")
        })
    }

    #[tokio::test]
    async fn ok_with_body() {
        let (addr, srv) = serve(echo()).await;
        let client = HttpClient::new(None).unwrap();
        let mut req = probe(format!("http://{addr}/health?x=1"));
        req.method = Method::Post;
        req.body = Some(b"{\"q\":1}".to_vec());
        let resp = client.probe(&req).await.unwrap();
        assert_eq!(resp.status, 200);
        assert!(!resp.truncated);
        let text = String::from_utf8(resp.body).unwrap();
        assert!(text.starts_with("POST /health?x=1\n"), "{text}");
        assert!(
            text.contains(&format!("user-agent: {USER_AGENT}")),
            "{text}"
        );
        assert!(text.contains("accept: application/json"), "{text}");
        assert!(text.ends_with("{\"q\":1}"), "{text}");
        assert!(resp.latency_ms < 2_000);
        srv.abort();
    }

    #[tokio::test]
    async fn slow_server_times_out() {
        let (addr, srv) = serve(Arc::new(|_| {
            Reply::new(200, "late").delay(Duration::from_secs(5))
        }))
        .await;
        let client = HttpClient::new(None).unwrap();
        let mut req = probe(format!("http://{addr}/"));
        req.timeout_ms = 300;
        let t = Instant::now();
        assert_eq!(client.probe(&req).await, Err(ProbeFailure::Timeout));
        assert!(
            t.elapsed() < Duration::from_millis(2_000),
            "{:?}",
            t.elapsed()
        );
        srv.abort();
    }

    #[tokio::test]
    async fn refused_port_is_connect() {
        let port = refused_port().await;
        let client = HttpClient::new(None).unwrap();
        let url = format!("http://127.0.0.1:{port}/secret-path?apikey=abc123");
        match client.probe(&probe(url)).await {
            Err(ProbeFailure::Connect(m)) => {
                assert!(!m.contains("abc123"), "the URL leaked into {m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn oversized_body_is_truncated() {
        let (addr, srv) = serve(Arc::new(|r: Request| {
            let n = if r.path == "/big" { 1_000_000 } else { 1_000 };
            Reply::new(200, vec![b'x'; n])
        }))
        .await;
        let client = HttpClient::new(None).unwrap();
        let mut req = probe(format!("http://{addr}/big"));
        req.max_bytes = 1_000;
        let resp = client.probe(&req).await.unwrap();
        assert!(resp.truncated);
        assert_eq!(resp.body.len(), 1_000);
        // Exactly at the cap is not truncated.
        req.url = format!("http://{addr}/exact");
        let resp = client.probe(&req).await.unwrap();
        assert!(!resp.truncated);
        assert_eq!(resp.body.len(), 1_000);
        srv.abort();
    }

    #[tokio::test]
    async fn error_statuses_pass_through() {
        let (addr, srv) = serve(Arc::new(|r: Request| {
            let status = r.path.trim_start_matches('/').parse().unwrap();
            Reply::new(status, "nope").header("retry-after", "1")
        }))
        .await;
        let client = HttpClient::new(None).unwrap();
        for status in [429u16, 503, 500, 404] {
            let resp = client
                .probe(&probe(format!("http://{addr}/{status}")))
                .await
                .unwrap();
            assert_eq!(resp.status, status);
            assert_eq!(resp.body, b"nope");
        }
        srv.abort();
    }

    #[tokio::test]
    async fn guard_refuses_private_targets() {
        let (addr, srv) = serve(echo()).await;
        let client = HttpClient::new(None).unwrap();
        let port = addr.port();
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ] {
            let mut req = probe(url.clone());
            req.allow_private = false;
            match client.probe(&req).await {
                Err(ProbeFailure::Blocked(m)) => assert!(m.contains("not allowed"), "{m}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        let mut req = probe(format!("http://127.0.0.1:{port}/"));
        req.allow_private = true;
        assert_eq!(client.probe(&req).await.unwrap().status, 200);
        // Scheme.
        let mut req = probe("file:///etc/passwd".into());
        req.allow_private = true;
        assert!(matches!(
            client.probe(&req).await,
            Err(ProbeFailure::Blocked(_))
        ));
        srv.abort();
    }

    #[tokio::test]
    async fn guarded_resolver_refuses_names_of_private_addresses() {
        // The resolver alone (check_url lets ordinary names through):
        // a guarded reqwest client as HttpClient builds it, but asked
        // directly for a name that resolves to loopback.
        let (addr, srv) = serve(echo()).await;
        let c = build_client(false, false).unwrap();
        // `localhost.` with a trailing dot still resolves on most systems;
        // use the resolver directly on `localhost` to be independent of it.
        let err = c
            .get(format!("http://localhost:{}/", addr.port()))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(failure(err), ProbeFailure::Blocked(_)));
        srv.abort();
    }

    #[tokio::test]
    async fn redirects_are_checked_per_hop() {
        let hits = Arc::new(Mutex::new(Vec::<String>::new()));
        let (b, srv_b) = serve(echo()).await;
        let h2 = hits.clone();
        let (a, srv_a) = serve(Arc::new(move |r: Request| {
            h2.lock().unwrap().push(r.path.clone());
            match r.path.as_str() {
                "/to-private" => Reply::new(302, "").header("location", "http://10.0.0.1/admin"),
                "/to-metadata" => Reply::new(302, "").header("location", "http://169.254.169.254/"),
                "/to-b" => Reply::new(302, "").header("location", &format!("http://{b}/landed")),
                "/same" => Reply::new(301, "").header("location", "/final"),
                "/final" => Reply::new(200, "final"),
                "/loop" => Reply::new(302, "").header("location", "/loop"),
                p => Reply::new(404, p.to_string()),
            }
        }))
        .await;
        // A client whose redirect policy is guarded but whose first hop
        // is not (the first hop is 127.0.0.1, which the guard refuses
        // before any redirect could happen).
        let policy_only = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirect_policy(false, false))
            .build()
            .unwrap();
        for path in ["/to-private", "/to-metadata", "/to-b"] {
            let err = policy_only
                .get(format!("http://{a}{path}"))
                .send()
                .await
                .unwrap_err();
            match failure(err) {
                ProbeFailure::Blocked(m) => assert!(m.contains("not allowed"), "{m}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        // Allowed when private targets are.
        let client = HttpClient::new(Some(key(1))).unwrap();
        let resp = client
            .probe(&probe(format!("http://{a}/to-b")))
            .await
            .unwrap();
        assert!(String::from_utf8(resp.body)
            .unwrap()
            .starts_with("GET /landed"));
        let resp = client
            .probe(&probe(format!("http://{a}/same")))
            .await
            .unwrap();
        assert_eq!(resp.body, b"final");
        // At most three hops.
        match client.probe(&probe(format!("http://{a}/loop"))).await {
            Err(ProbeFailure::Protocol(m)) => assert!(m.contains("redirects"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            hits.lock()
                .unwrap()
                .iter()
                .filter(|p| *p == "/loop")
                .count(),
            4
        );
        // With credentials: same-origin hops only.
        let mut req = probe(format!("http://{a}/to-b"));
        req.secret_headers = vec![(
            "x-api-key".into(),
            sealed(&key(1), "p1", "x-api-key", SECRET),
        )];
        match client.probe(&req).await {
            Err(ProbeFailure::Protocol(m)) => {
                assert!(m.contains("another origin") && !m.contains(SECRET), "{m}")
            }
            other => panic!("{other:?}"),
        }
        req.url = format!("http://{a}/same");
        assert_eq!(client.probe(&req).await.unwrap().body, b"final");
        srv_a.abort();
        srv_b.abort();
    }

    #[test]
    fn redirect_rules() {
        let u = |s: &str| Url::parse(s).unwrap();
        let ok =
            |prev: &[Url], next: &str, same: bool| redirect_verdict(prev, &u(next), false, same);
        assert!(ok(&[u("https://a.example/")], "https://b.example/x", false).is_ok());
        let e = ok(&[u("https://a.example/")], "http://a.example/x", false).unwrap_err();
        assert!(e.to_string().contains("https to http"), "{e}");
        assert!(ok(&[u("http://a.example/")], "https://a.example/x", false).is_ok());
        let three: Vec<Url> = (0..3)
            .map(|i| u(&format!("https://a.example/{i}")))
            .collect();
        assert!(ok(&three, "https://a.example/3", false).is_ok());
        let four: Vec<Url> = (0..4)
            .map(|i| u(&format!("https://a.example/{i}")))
            .collect();
        assert!(ok(&four, "https://a.example/4", false)
            .unwrap_err()
            .to_string()
            .contains("more than 3"));
        assert!(ok(&[u("https://a.example/")], "https://a.example:8443/", true).is_err());
        assert!(ok(&[u("https://a.example/")], "https://a.example/other", true).is_ok());
        assert!(ok(&[u("https://a.example/")], "https://127.0.0.1/", false).is_err());
        assert!(ok(&[u("https://a.example/")], "ftp://a.example/", false).is_err());
    }

    #[tokio::test]
    async fn tls_to_a_plain_server_is_tls() {
        use tokio::io::AsyncWriteExt;
        // A plain-text server that answers anything at once.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let srv = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            }
        });
        let client = HttpClient::new(None).unwrap();
        let r = client.probe(&probe(format!("https://{addr}/"))).await;
        assert!(matches!(r, Err(ProbeFailure::Tls(_))), "{r:?}");
        srv.abort();
    }

    #[tokio::test]
    async fn secret_headers_are_opened_and_never_shown() {
        let (addr, srv) = serve(echo()).await;
        let k = key(7);
        let client = HttpClient::new(Some(k.clone())).unwrap();
        let mut req = probe(format!("http://{addr}/"));
        req.secret_headers = vec![(
            "Authorization".into(),
            sealed(&k, "p1", "authorization", SECRET),
        )];
        let resp = client.probe(&req).await.unwrap();
        let text = String::from_utf8(resp.body).unwrap();
        assert!(text.contains(&format!("authorization: {SECRET}")), "{text}");
        for shown in [format!("{client:?}"), format!("{req:?}")] {
            assert!(
                !shown.contains("sk-live") && !shown.contains(SECRET),
                "{shown}"
            );
        }
        // Wrong key, moved to another provider, or no key: a credential
        // error without the secret.
        let other = HttpClient::new(Some(key(8))).unwrap();
        let mut moved = req.clone();
        moved.provider = ProviderId::new("p2").unwrap();
        let nokey = HttpClient::new(None).unwrap();
        for r in [
            other.probe(&req).await,
            client.probe(&moved).await,
            nokey.probe(&req).await,
        ] {
            match r {
                Err(ProbeFailure::Protocol(m)) => {
                    assert!(m.contains("credential") && !m.contains("sk-live"), "{m}");
                    assert!(!format!("{m:?}").contains(SECRET));
                }
                other => panic!("{other:?}"),
            }
        }
        srv.abort();
    }

    fn target(url: String, allow_private: bool) -> Target {
        Target {
            provider: ProviderId::new("p1").unwrap(),
            url,
            secret_headers: Vec::new(),
            allow_private,
        }
    }

    #[tokio::test]
    async fn upstream_forwards_and_strips_hop_by_hop() {
        let (addr, srv) = serve(Arc::new(|r: Request| {
            let echo = format!(
                "{} {} conn={:?} te={:?} up={:?} pa={:?} x-custom={:?} x-drop={:?} key={:?} body={}",
                r.method,
                r.path,
                r.header("connection"),
                r.header("te"),
                r.header("upgrade"),
                r.header("proxy-authorization"),
                r.header("x-custom"),
                r.header("x-drop"),
                r.header("x-api-key"),
                String::from_utf8_lossy(&r.body)
            );
            Reply::new(201, echo)
                .header("keep-alive", "timeout=5")
                .header("proxy-authenticate", "Basic")
                .header("x-upstream", "yes")
        }))
        .await;
        let k = key(3);
        let client = HttpClient::new(Some(k.clone())).unwrap();
        let mut t = target(format!("http://{addr}/rpc?a=b"), true);
        t.secret_headers = vec![("x-api-key".into(), sealed(&k, "p1", "x-api-key", SECRET))];
        let req = ProxyRequest {
            method: "PATCH".into(),
            path_and_query: "/rpc?a=b".into(),
            headers: vec![
                ("Connection".into(), "keep-alive, X-Drop".into()),
                ("TE".into(), "trailers".into()),
                ("Upgrade".into(), "websocket".into()),
                ("Proxy-Authorization".into(), "Basic Zm9v".into()),
                ("Host".into(), "evil.example".into()),
                ("Content-Length".into(), "999".into()),
                ("X-Custom".into(), "kept".into()),
                ("X-Drop".into(), "named by connection".into()),
            ],
            body: b"hello".to_vec(),
        };
        let resp = client.send(&t, &req, 2_000).await.unwrap();
        assert_eq!(resp.status, 201);
        let text = String::from_utf8(resp.body).unwrap();
        assert!(text.starts_with("PATCH /rpc?a=b "), "{text}");
        assert!(
            text.contains("te=None up=None pa=None x-custom=Some(\"kept\") x-drop=None"),
            "{text}"
        );
        assert!(text.contains(&format!("key=Some(\"{SECRET}\")")), "{text}");
        assert!(text.ends_with("body=hello"), "{text}");
        let names: Vec<&str> = resp.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"x-upstream"), "{names:?}");
        for h in [
            "keep-alive",
            "proxy-authenticate",
            "connection",
            "content-length",
        ] {
            assert!(!names.contains(&h), "{h} in {names:?}");
        }
        // The answer cap.
        let small = client.clone().with_upstream_max_bytes(10);
        let plain = target(format!("http://{addr}/"), true);
        let get = ProxyRequest {
            method: "GET".into(),
            ..ProxyRequest::default()
        };
        match small.send(&plain, &get, 2_000).await {
            Err(UpstreamError::Other(m)) => assert!(m.contains("larger than 10"), "{m}"),
            other => panic!("{other:?}"),
        }
        srv.abort();
    }

    #[tokio::test]
    async fn upstream_errors() {
        let (addr, srv) = serve(Arc::new(|r: Request| {
            if r.path == "/slow" {
                Reply::new(200, "").delay(Duration::from_secs(5))
            } else {
                Reply::new(503, "busy")
            }
        }))
        .await;
        let client = HttpClient::new(None).unwrap();
        let get = ProxyRequest {
            method: "GET".into(),
            ..ProxyRequest::default()
        };
        let port = refused_port().await;
        let r = client
            .send(
                &target(format!("http://127.0.0.1:{port}/"), true),
                &get,
                1_000,
            )
            .await;
        assert!(matches!(r, Err(UpstreamError::Connect(_))), "{r:?}");
        let r = client
            .send(&target(format!("http://{addr}/slow"), true), &get, 200)
            .await;
        assert_eq!(r, Err(UpstreamError::Timeout));
        let r = client
            .send(&target(format!("http://{addr}/"), false), &get, 1_000)
            .await;
        assert!(matches!(r, Err(UpstreamError::Blocked(_))), "{r:?}");
        let r = client
            .send(&target(format!("http://{addr}/"), true), &get, 1_000)
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, b"busy".as_slice()));
        let bad = ProxyRequest {
            method: "BAD METHOD".into(),
            ..ProxyRequest::default()
        };
        let r = client
            .send(&target(format!("http://{addr}/"), true), &bad, 1_000)
            .await;
        assert!(matches!(r, Err(UpstreamError::Other(_))), "{r:?}");
        client.sleep(1).await;
        srv.abort();
    }

    /// The server forwards from spawned tasks and the tick may run on a
    /// multi-threaded runtime: the futures must be `Send`.
    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let client = HttpClient::new(None).unwrap();
        let req = probe("http://example.invalid/".into());
        let t = target("http://example.invalid/".into(), false);
        let p = ProxyRequest::default();
        assert_send(&client.probe(&req));
        assert_send(&client.send(&t, &p, 1));
        assert_send(&client.sleep(1));
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::RedbStore::open(dir.path().join("s.redb")).unwrap();
        use sentinel_core::tick::Store as _;
        assert_send(&store.load());
        assert_send(&store.commit(None, b"", &[]));
        let n = crate::notify::Notifier::new(Vec::new());
        let alert = sentinel_core::action::Action::Alert {
            key: "k".into(),
            severity: sentinel_core::state::Severity::Info,
            message: "m".into(),
            firing: true,
        };
        assert_send(&n.send(&alert));
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
}
