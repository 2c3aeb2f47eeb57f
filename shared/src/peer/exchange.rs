//! The two requests a tick sends each peer, and reading their answers.
//! Pure: the tick sends the requests through the shell's prober (timeouts,
//! size caps, the SSRF guard) and hands the results back here.

use super::auth::{self, PeerSecret, RequestParts};
use super::view::PeerRoute;
use crate::config::Method;
use crate::config::PeerConfig;
use crate::probe::{Observation, ProbeRequest, ProbeResult, Purpose};
use crate::time::UnixMillis;
use crate::{ProviderId, SentinelId, ServiceId};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Time allowed for each peer request (ms).
pub const PEER_TIMEOUT_MS: u64 = 5_000;
/// Largest observations answer read (4 MiB: a full page of 1,000
/// observations is about 400 kB).
pub const MAX_OBSERVATIONS_BYTES: u64 = 4 << 20;
const HEALTH_MAX_BYTES: u64 = 64 << 10;
const OBSERVATIONS_PATH: &str = "/v1/observations";

pub(crate) fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

pub(crate) fn request(
    peer: &PeerConfig,
    url: String,
    max_bytes: u64,
    allow_private: bool,
) -> Option<ProbeRequest> {
    Some(ProbeRequest {
        provider: ProviderId::new(peer.id.as_str()).ok()?,
        service: ServiceId::new("peers").ok()?,
        purpose: Purpose::Scheduled,
        method: Method::Get,
        url,
        headers: Vec::new(),
        secret_headers: Vec::new(),
        body: None,
        timeout_ms: PEER_TIMEOUT_MS,
        max_bytes,
        allow_private,
    })
}

/// `GET {peer}/healthz`.
pub fn health_request(
    peer: &PeerConfig,
    caller: &SentinelId,
    allow_private: bool,
) -> Option<ProbeRequest> {
    let mut r = request(
        peer,
        format!("{}/healthz", base(&peer.url)),
        HEALTH_MAX_BYTES,
        allow_private,
    )?;
    r.headers
        .push((super::VANTAGE_HEADER.into(), caller.to_string()));
    Some(r)
}

/// `GET {peer}/v1/observations?since={cursor}`, signed; returns the
/// request and the nonce its answer must be bound to.
pub fn observations_request(
    peer: &PeerConfig,
    caller: &SentinelId,
    secret: &PeerSecret,
    cursor: UnixMillis,
    now: UnixMillis,
    counter: u64,
    allow_private: bool,
) -> Option<(ProbeRequest, String)> {
    let base_url = base(&peer.url);
    // The endpoint's own path is signed, not the base URL's prefix: a
    // gateway in front of the peer (a Lambda function URL, a route
    // prefix) may strip it, and the peer checks what it serves.
    let path = OBSERVATIONS_PATH;
    let query = format!("since={cursor}");
    let nonce = auth::derive_nonce(secret, caller, now, counter);
    let parts = RequestParts {
        method: "GET",
        path,
        query: &query,
        body: b"",
    };
    let mut r = request(
        peer,
        format!("{base_url}{OBSERVATIONS_PATH}?{query}"),
        MAX_OBSERVATIONS_BYTES,
        allow_private,
    )?;
    r.headers = auth::sign_request(secret, caller, &parts, now, &nonce);
    Some((r, nonce))
}

/// A health check's result: `Ok(latency ms)` when the peer answered 200
/// as a sentinel, or why not.
pub fn health_result(result: &ProbeResult) -> Result<u32, String> {
    match result {
        Ok(r) if r.status == 200 => {
            #[derive(Deserialize)]
            struct Health {
                status: String,
            }
            match serde_json::from_slice::<Health>(&r.body) {
                Ok(h) if h.status == "ok" => Ok(u32::try_from(r.latency_ms).unwrap_or(u32::MAX)),
                _ => Err("its /healthz answer is not a sentinel's".into()),
            }
        }
        Ok(r) => Err(format!("http-{}", r.status)),
        Err(f) => Err(crate::probe::failure_name(f)),
    }
}

/// What a peer published.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Published {
    /// Who wrote it.
    pub sentinel: Option<SentinelId>,
    /// Its observations.
    pub observations: Vec<Observation>,
    /// Its routes.
    pub routes: BTreeMap<ServiceId, PeerRoute>,
}

/// Reads an observations answer: its signature must be the peer's, for
/// this request's `nonce`, and its body the documented list.
pub fn observations_result(
    result: &ProbeResult,
    peer: &SentinelId,
    secret: &PeerSecret,
    nonce: &str,
) -> Result<Published, String> {
    let r = match result {
        Ok(r) => r,
        Err(f) => return Err(crate::probe::failure_name(f)),
    };
    if r.status != 200 {
        let why = serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        return Err(format!(
            "http-{}{}{why}",
            r.status,
            if why.is_empty() { "" } else { ": " }
        ));
    }
    if r.truncated {
        return Err(format!(
            "the answer is larger than {MAX_OBSERVATIONS_BYTES} bytes"
        ));
    }
    auth::verify_response(secret, nonce, r.status, &r.body, r.signature.as_deref())
        .map_err(|e| e.to_string())?;
    #[derive(Deserialize)]
    struct List {
        sentinel: SentinelId,
        observations: Vec<Observation>,
        #[serde(default)]
        routes: BTreeMap<ServiceId, PeerRoute>,
    }
    let list: List = serde_json::from_slice(&r.body)
        .map_err(|e| format!("the observations answer does not parse: {e}"))?;
    if &list.sentinel != peer {
        return Err(format!(
            "the answer is signed for this peer but says it comes from `{}`: check the peer's URL and [sentinel] id",
            list.sentinel
        ));
    }
    Ok(Published {
        sentinel: Some(list.sentinel),
        observations: list.observations,
        routes: list.routes,
    })
}
