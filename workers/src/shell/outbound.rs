//! [`Outbound`] and [`Timer`] over the Workers runtime: `fetch` with
//! `redirect: "manual"` (every hop is judged by the core's
//! [`guard::redirect_verdict`]), one `AbortController` per hop raced
//! against a `Delay` for the whole exchange (headers and body), and the
//! body read from its stream up to the cap.
//!
//! What the runtime decides, not us: name resolution (the guard checks
//! the URL's literal host; Cloudflare's edge cannot reach private
//! addresses in production anyway) and connection reuse (each `fetch` is
//! the runtime's; `fresh_connection` cannot be asked for).

use crate::fetch_error::{classify, Stage};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use sentinel_core::host::guard;
use sentinel_core::host::{Outbound, OutboundError, OutboundRequest, OutboundResponse, Timer};
use std::time::Duration;
use worker::{AbortController, Date, Delay, Fetch, Headers, Method, RequestInit, RequestRedirect};

/// The runtime's `fetch`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FetchOutbound;

/// The runtime's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct DelayTimer;

impl Timer for DelayTimer {
    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// One hop's answer, before redirects are judged.
struct Hop {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
    truncated: bool,
}

fn js_headers(h: &http::HeaderMap) -> Result<Headers, OutboundError> {
    let out = Headers::new();
    for (k, v) in h {
        let v = v
            .to_str()
            .map_err(|_| OutboundError::Protocol(format!("header `{k}` is not text")))?;
        out.append(k.as_str(), v)
            .map_err(|e| OutboundError::Protocol(format!("header `{k}`: {e}")))?;
    }
    Ok(out)
}

async fn hop(
    method: &http::Method,
    url: &url::Url,
    headers: &http::HeaderMap,
    body: &[u8],
    timeout_ms: u64,
    max_bytes: u64,
) -> Result<Hop, OutboundError> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let mut init = RequestInit::new();
    init.with_method(Method::from(method.as_str().to_string()))
        .with_headers(js_headers(headers)?)
        .with_redirect(RequestRedirect::Manual);
    if !body.is_empty() {
        let array = worker::js_sys::Uint8Array::from(body);
        init.with_body(Some(array.into()));
    }
    let request = worker::Request::new_with_init(url.as_str(), &init)
        .map_err(|e| classify(&e.to_string(), Stage::Connect))?;
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    // The signal is moved in: aborting consumes the controller.
    let exchange = async move {
        let mut resp = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| classify(&e.to_string(), Stage::Connect))?;
        let status = resp.status_code();
        let mut headers = http::HeaderMap::new();
        for (k, v) in resp.headers().entries() {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(&v),
            ) {
                headers.append(k, v);
            }
        }
        let mut body: Vec<u8> = Vec::new();
        let mut truncated = false;
        if let Ok(mut stream) = resp.stream() {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| classify(&e.to_string(), Stage::Body))?;
                let room = cap.saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    // Dropping the stream cancels the rest.
                    break;
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok::<_, OutboundError>(Hop {
            status,
            headers,
            body,
            truncated,
        })
    };
    let timer = Delay::from(Duration::from_millis(timeout_ms.max(1)));
    match select(Box::pin(exchange), timer).await {
        Either::Left((result, _)) => result,
        Either::Right(((), pending)) => {
            controller.abort();
            drop(pending);
            Err(OutboundError::Timeout)
        }
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

impl Outbound for FetchOutbound {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let started = now_ms();
        if !matches!(req.url.scheme_str(), Some("http" | "https")) {
            return Err(OutboundError::Protocol(
                "a Worker cannot open PostgreSQL or Redis connections: probe this provider from the local sentinel or the Lambda, or through its HTTP API".into(),
            ));
        }
        let first = url::Url::parse(&req.url.to_string())
            .map_err(|e| OutboundError::Protocol(format!("invalid URL: {e}")))?;
        let mut hops: Vec<url::Url> = vec![first];
        let mut method = req.method.clone();
        let mut body = req.body.clone();
        loop {
            let spent = now_ms().saturating_sub(started);
            let left = req.timeout_ms.saturating_sub(spent);
            if left == 0 {
                return Err(OutboundError::Timeout);
            }
            let Some(url) = hops.last().cloned() else {
                return Err(OutboundError::Protocol("no URL to send to".into()));
            };
            let h = hop(&method, &url, &req.headers, &body, left, req.max_bytes).await?;
            let location = h
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match location {
                Some(loc) if req.redirects.follow && is_redirect(h.status) => {
                    let next = url
                        .join(&loc)
                        .map_err(|e| OutboundError::Redirect(format!("bad location: {e}")))?;
                    guard::redirect_verdict(
                        &hops,
                        &next,
                        req.redirects.allow_private,
                        req.redirects.same_origin_only,
                    )
                    .map_err(|e| match e {
                        guard::RedirectError::Guard(g) => OutboundError::Blocked(g.to_string()),
                        other => OutboundError::Redirect(other.to_string()),
                    })?;
                    // As browsers do: 303 (and 301/302 after a POST) turn
                    // into a GET without a body; 307/308 keep both.
                    if h.status == 303
                        || (matches!(h.status, 301 | 302) && method == http::Method::POST)
                    {
                        method = http::Method::GET;
                        body = bytes::Bytes::new();
                    }
                    hops.push(next);
                }
                _ => {
                    return Ok(OutboundResponse {
                        status: h.status,
                        headers: h.headers,
                        body: h.body.into(),
                        truncated: h.truncated,
                        latency_ms: now_ms().saturating_sub(started),
                    })
                }
            }
        }
    }
}
