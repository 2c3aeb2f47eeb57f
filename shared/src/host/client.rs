//! The sentinel's HTTP client, written once: probes ([`Prober`]), proxied
//! attempts ([`Upstream`]) and webhooks ([`HostClient::post_json`]) become
//! [`OutboundRequest`]s for the shell's [`Outbound`].
//!
//! Before a request reaches the shell, this layer
//! - checks the URL with the SSRF guard ([`guard::check_url`]): only http
//!   and https, no literal private address unless allowed (the shell's
//!   resolver checks names);
//! - opens sealed credential headers with the runtime's [`SecretKey`]
//!   right before sending and marks them sensitive; errors name the header
//!   and the problem, never the material;
//! - sets the timeout, the size cap and the redirect policy (same-origin
//!   only when credentials are attached), and asks for a fresh connection
//!   for every probe (a health check must see what a new client sees).
//!
//! and afterwards turns the shell's answer into the core's types: a probe
//! failure class, an upstream error, or a proxied answer without
//! hop-by-hop headers (an answer over [`UPSTREAM_MAX_BYTES`] is an error,
//! never a silently cut body).

use super::guard::{self, GuardError};
use super::headers::strip_hop_by_hop;
use super::outbound::{
    Outbound, OutboundError, OutboundRequest, OutboundResponse, RedirectPolicy, Timer,
};
use crate::config::Method;
use crate::probe::{secret_header_aad, ProbeFailure, ProbeRequest, ProbeResponse, ProbeResult};
use crate::proxy::{ProxyRequest, Target, Upstream, UpstreamError, UpstreamResponse};
use crate::secret::{self, SealedSecret, SecretKey};
use crate::tick::Prober;
use crate::ProviderId;
use http::header::{HeaderName, HeaderValue};
use std::fmt;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("bookkeeper-sentinel/", env!("CARGO_PKG_VERSION"));
/// Largest proxied answer, in bytes (16 MiB).
pub const UPSTREAM_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Largest webhook answer read (the body is only logged).
const WEBHOOK_MAX_BYTES: u64 = 4 * 1024;

/// The client: the shell's outbound seam and timer, and the key that opens
/// sealed credentials. Cheap to clone when `O` and `T` are.
#[derive(Clone)]
pub struct HostClient<O, T> {
    outbound: O,
    timer: T,
    key: Option<SecretKey>,
    upstream_max_bytes: u64,
}

impl<O, T> fmt::Debug for HostClient<O, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostClient")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("upstream_max_bytes", &self.upstream_max_bytes)
            .finish_non_exhaustive()
    }
}

fn guard_failure(e: &GuardError) -> OutboundError {
    if e.is_blocked() {
        OutboundError::Blocked(e.to_string())
    } else {
        OutboundError::Protocol(e.to_string())
    }
}

impl From<OutboundError> for ProbeFailure {
    fn from(e: OutboundError) -> ProbeFailure {
        match e {
            OutboundError::Timeout => ProbeFailure::Timeout,
            OutboundError::Connect(m) => ProbeFailure::Connect(m),
            OutboundError::Reset(m) => ProbeFailure::Reset(m),
            OutboundError::Tls(m) => ProbeFailure::Tls(m),
            OutboundError::Blocked(m) => ProbeFailure::Blocked(m),
            OutboundError::Redirect(m) | OutboundError::Protocol(m) => ProbeFailure::Protocol(m),
        }
    }
}

impl From<OutboundError> for UpstreamError {
    fn from(e: OutboundError) -> UpstreamError {
        match e {
            OutboundError::Timeout => UpstreamError::Timeout,
            OutboundError::Connect(m) => UpstreamError::Connect(m),
            OutboundError::Reset(m) => UpstreamError::Other(format!("reset: {m}")),
            OutboundError::Tls(m) => UpstreamError::Connect(format!("tls: {m}")),
            OutboundError::Blocked(m) => UpstreamError::Blocked(m),
            OutboundError::Redirect(m) | OutboundError::Protocol(m) => UpstreamError::Other(m),
        }
    }
}

fn header_map(plain: &[(String, String)]) -> Result<http::HeaderMap, OutboundError> {
    let mut map = http::HeaderMap::new();
    for (k, v) in plain {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| OutboundError::Protocol(format!("invalid header name `{k}`")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| OutboundError::Protocol(format!("invalid value for header `{k}`")))?;
        map.append(name, value);
    }
    Ok(map)
}

impl<O: Outbound, T: Timer> HostClient<O, T> {
    /// A client over the shell's `outbound` and `timer`; `key` opens sealed
    /// credential headers (without one, a request that needs a credential
    /// fails with a clear error and is not sent).
    pub fn new(outbound: O, timer: T, key: Option<SecretKey>) -> Self {
        HostClient {
            outbound,
            timer,
            key,
            upstream_max_bytes: UPSTREAM_MAX_BYTES,
        }
    }

    /// The same client with another cap on proxied answers.
    pub fn with_upstream_max_bytes(mut self, cap: u64) -> Self {
        self.upstream_max_bytes = cap;
        self
    }

    /// The shell's outbound seam.
    pub fn outbound(&self) -> &O {
        &self.outbound
    }

    /// The shell's timer.
    pub fn timer(&self) -> &T {
        &self.timer
    }

    /// Adds the opened credentials of `provider` to `map`.
    fn add_secrets(
        &self,
        provider: &ProviderId,
        sealed: &[(String, SealedSecret)],
        map: &mut http::HeaderMap,
    ) -> Result<(), OutboundError> {
        if sealed.is_empty() {
            return Ok(());
        }
        let Some(key) = self.key.as_ref() else {
            return Err(OutboundError::Protocol(format!(
                "credential for header `{}` is sealed but no secret key is configured",
                sealed[0].0
            )));
        };
        for (name, s) in sealed {
            let opened = secret::open(key, &secret_header_aad(provider, name), s).map_err(|e| {
                OutboundError::Protocol(format!("credential for header `{name}`: {e}"))
            })?;
            let hn = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| OutboundError::Protocol(format!("invalid header name `{name}`")))?;
            let mut value = HeaderValue::from_str(opened.expose()).map_err(|_| {
                OutboundError::Protocol(format!(
                    "credential for header `{name}` is not a valid header value"
                ))
            })?;
            value.set_sensitive(true);
            map.insert(hn, value);
        }
        Ok(())
    }

    /// Parses `url` (as a WHATWG URL, which is how the guard reads hosts),
    /// checks it with the guard, and hands it on as the `http::Uri` of its
    /// normalised form.
    fn checked_url(url: &str, allow_private: bool) -> Result<http::Uri, OutboundError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| guard_failure(&GuardError::InvalidUrl(e.to_string())))?;
        guard::check_parsed(&parsed, allow_private).map_err(|e| guard_failure(&e))?;
        http::Uri::try_from(parsed.as_str())
            .map_err(|e| OutboundError::Protocol(format!("invalid URL: {e}")))
    }

    /// [`HostClient::checked_url`] for a proxied request: the URL is taken
    /// as an `http::Uri` as it is (the client's own path, which the shell's
    /// server already parsed as one), and the guard's verdict on its scheme
    /// and authority, which depends on nothing else, is remembered per
    /// thread ([`guard::Verdicts`]): the WHATWG parse runs once per
    /// provider, not once per request.
    ///
    /// A URL `http::Uri` does not take as it is (an endpoint with a
    /// non-ASCII host or characters a WHATWG parser would percent-encode)
    /// goes the long way, [`HostClient::checked_url`], and is sent in its
    /// normalised form.
    fn checked_upstream_url(url: &str, allow_private: bool) -> Result<http::Uri, OutboundError> {
        let Ok(uri) = http::Uri::try_from(url) else {
            return Self::checked_url(url, allow_private);
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(guard_failure(&GuardError::InvalidUrl("no host".into())));
        };
        guard::Verdicts::judge(scheme, authority.as_str(), allow_private)
            .map_err(|e| guard_failure(&e))?;
        Ok(uri)
    }

    /// Sends one probe; see [`Prober`].
    pub async fn send_probe(&self, req: &ProbeRequest) -> ProbeResult {
        let url = Self::checked_url(&req.url, req.allow_private)?;
        let mut headers = header_map(&req.headers)?;
        self.add_secrets(&req.provider, &req.secret_headers, &mut headers)?;
        let method = match req.method {
            Method::Get => http::Method::GET,
            Method::Head => http::Method::HEAD,
            Method::Post => http::Method::POST,
        };
        let out = OutboundRequest {
            method,
            url,
            headers,
            body: req.body.clone().map(bytes::Bytes::from).unwrap_or_default(),
            timeout_ms: req.timeout_ms.max(1),
            max_bytes: req.max_bytes,
            redirects: RedirectPolicy {
                allow_private: req.allow_private,
                same_origin_only: !req.secret_headers.is_empty(),
                follow: true,
            },
            fresh_connection: true,
        };
        let resp = self.outbound.send(out).await?;
        Ok(ProbeResponse {
            status: resp.status,
            latency_ms: resp.latency_ms,
            body: resp.body.into(),
            truncated: resp.truncated,
            retry_after_s: retry_after(&resp.headers),
            signature: resp
                .headers
                .get(crate::peer::auth::H_SIGNATURE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        })
    }

    /// Sends one proxied attempt; see [`Upstream`].
    pub async fn send_upstream(
        &self,
        target: &Target,
        req: &ProxyRequest,
        timeout_ms: u64,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let url = Self::checked_upstream_url(&target.url, target.allow_private)?;
        let mut headers = req.headers.clone();
        self.add_secrets(&target.provider, &target.secret_headers, &mut headers)?;
        let out = OutboundRequest {
            method: req.method.clone(),
            url,
            headers,
            body: req.body.clone(),
            timeout_ms: timeout_ms.max(1),
            max_bytes: self.upstream_max_bytes,
            redirects: RedirectPolicy {
                allow_private: target.allow_private,
                same_origin_only: !target.secret_headers.is_empty(),
                follow: true,
            },
            fresh_connection: false,
        };
        let resp: OutboundResponse = self.outbound.send(out).await?;
        if resp.truncated {
            return Err(UpstreamError::Other(format!(
                "the answer is larger than {} bytes",
                self.upstream_max_bytes
            )));
        }
        let mut headers = resp.headers;
        strip_hop_by_hop(&mut headers);
        Ok(UpstreamResponse {
            status: resp.status,
            headers,
            body: resp.body,
        })
    }

    /// POSTs a JSON body (a webhook): no redirects, the given timeout, and
    /// the guard unless `allow_private`. Returns the status.
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        extra: &[(String, String)],
        timeout_ms: u64,
        allow_private: bool,
    ) -> Result<u16, OutboundError> {
        let url = Self::checked_url(url, allow_private)?;
        let mut headers = header_map(extra)?;
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let out = OutboundRequest {
            method: http::Method::POST,
            url,
            headers,
            body: body.into(),
            timeout_ms: timeout_ms.max(1),
            max_bytes: WEBHOOK_MAX_BYTES,
            redirects: RedirectPolicy {
                allow_private,
                same_origin_only: true,
                follow: false,
            },
            fresh_connection: false,
        };
        Ok(self.outbound.send(out).await?.status)
    }
}

impl<O: Outbound, T: Timer> Prober for HostClient<O, T> {
    async fn probe(&self, req: &ProbeRequest) -> ProbeResult {
        self.send_probe(req).await
    }
}

impl<O: Outbound, T: Timer> Upstream for HostClient<O, T> {
    async fn send(
        &self,
        target: &Target,
        req: &ProxyRequest,
        timeout_ms: u64,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.send_upstream(target, req, timeout_ms).await
    }

    async fn sleep(&self, ms: u64) {
        self.timer.sleep(ms).await;
    }
}

/// `Retry-After` in its delta-seconds form (RFC 9110 §10.2.3); the
/// HTTP-date form is left out rather than guessed against a clock.
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    type Client = HostClient<NoOutbound, NoOutbound>;

    /// Nothing is sent in these tests.
    struct NoOutbound;

    impl Outbound for NoOutbound {
        async fn send(&self, _: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
            Err(OutboundError::Protocol("not in this test".into()))
        }
    }

    impl Timer for NoOutbound {
        async fn sleep(&self, _: u64) {}
    }

    #[test]
    fn upstream_urls_are_sent_as_they_are_or_normalised() {
        let uri = Client::checked_upstream_url("http://127.0.0.1:9001/v1/x?a=b", true).unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9001/v1/x?a=b");
        // What `http::Uri` refuses goes through the WHATWG parser.
        let uri = Client::checked_upstream_url("https://bücher.example/a b", false).unwrap();
        assert_eq!(uri.to_string(), "https://xn--bcher-kva.example/a%20b");
        // The guard judges both ways.
        for url in ["http://0x7f.1/x", "http://127.0.0.1/é"] {
            assert!(matches!(
                Client::checked_upstream_url(url, false),
                Err(OutboundError::Blocked(_))
            ));
        }
    }
}
