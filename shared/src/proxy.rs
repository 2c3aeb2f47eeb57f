//! The proxy's failover loop, written once for every shell.
//!
//! `ANY /proxy/{service}/{path}` forwards to the service's active provider
//! and, per request, fails over to the next best on connect errors,
//! timeouts, 5xx and 429 — for requests that are safe to repeat: idempotent
//! methods (GET, HEAD, OPTIONS, PUT, DELETE) and JSON-RPC calls whose
//! methods are all reads (`eth_call`, `eth_getBalance`, …; never
//! `eth_sendRawTransaction`). A request that is not safe to repeat gets
//! exactly one attempt.
//!
//! Order of attempts: [`crate::route::plan`] — the active provider, the
//! healthy standbys best first, then providers answering again after an
//! outage as a last resort, then (with `degraded = "serve"`) providers
//! whose data is stale or disagrees, marked with an `x-sentinel-degraded`
//! header. Providers serving wrong data are never tried. With hedging on,
//! when the first attempt has not answered within the active provider's
//! p95 latency, the second candidate is asked too and the first good
//! answer wins (Dean & Barroso, "The Tail at Scale", 2013) — bounded to
//! one extra request.
//!
//! Every answer is checked where the service's data checks apply to it
//! ([`validate`]): a refused answer is retried on the next provider like a
//! 5xx and counted as bad data.
//!
//! Every attempt is reported, so the shell can book the usage against each
//! provider and feed retry outcomes to reliability.

use crate::books::Metric;
use crate::engine::{Engine, Event, EventKind, UsageTarget};
use crate::quality::FailReason;
use crate::route::{Candidate, Tier};
use crate::secret::SealedSecret;
use crate::time::UnixMillis;
use crate::{ProviderId, ServiceId};
use bytes::Bytes;
use futures_util::future::{select, Either};
use gate::{Gate, Mark};
use std::future::Future;
use std::pin::pin;

pub mod gate;
pub mod validate;

/// A request to forward. Headers and body are the `http` crate's and
/// `bytes`' types, as the shells receive them: forwarding a request to
/// several providers clones reference counts, never the body.
#[derive(Clone, Debug, Default)]
pub struct ProxyRequest {
    /// Method.
    pub method: http::Method,
    /// Path and query after `/proxy/{service}`, starting with `/` (or empty).
    pub path_and_query: String,
    /// Headers to forward (hop-by-hop headers and the caller's own
    /// credentials already removed: [`crate::host::headers::strip_request`]).
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// An upstream answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpstreamResponse {
    /// Status.
    pub status: u16,
    /// Headers (hop-by-hop headers removed).
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Why an upstream gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// Could not connect.
    Connect(String),
    /// No answer in time.
    Timeout,
    /// Refused by the SSRF guard.
    Blocked(String),
    /// Anything else.
    Other(String),
}

/// Where to send an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Provider.
    pub provider: ProviderId,
    /// Full URL: endpoint joined with the request's path and query.
    pub url: String,
    /// Sealed headers to add (open them with the runtime's key).
    pub secret_headers: Vec<(String, SealedSecret)>,
    /// Whether private targets are allowed.
    pub allow_private: bool,
}

/// Sends one attempt; the shell's HTTP client.
pub trait Upstream {
    /// Sends `req` to `target` within `timeout_ms`. The proxy boxes the
    /// future (an attempt's state is kilobytes; the request's own future
    /// stays small, which saves copying it around).
    fn send(
        &self,
        target: &Target,
        req: &ProxyRequest,
        timeout_ms: u64,
    ) -> impl Future<Output = Result<UpstreamResponse, UpstreamError>>;
    /// Waits `ms` (for hedging).
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// Proxy policy. Defaults: 3 attempts; per attempt 4 × the provider's
/// p99 latency, at least 1 s and at most 10 s; hedging as each service
/// says (`[service.proxy] hedge`, on by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyPolicy {
    /// Most attempts per request.
    pub max_attempts: u32,
    /// The longest an attempt may take (the cap of the adaptive timeout).
    pub attempt_timeout_ms: u64,
    /// The shortest per-attempt timeout.
    pub min_attempt_timeout_ms: u64,
    /// The adaptive timeout is this many times the provider's p99.
    pub timeout_p99_factor: u64,
    /// Hedge every service's safe requests, whatever the service says.
    pub hedge: bool,
    /// Smallest hedging delay.
    pub hedge_min_ms: u64,
}

impl Default for ProxyPolicy {
    fn default() -> Self {
        ProxyPolicy {
            max_attempts: 3,
            attempt_timeout_ms: 10_000,
            min_attempt_timeout_ms: 1_000,
            timeout_p99_factor: 4,
            hedge: false,
            hedge_min_ms: 50,
        }
    }
}

/// The time allowed to one attempt on `provider`: `factor ×` its p99
/// latency (from its probes), within `[min, cap]`; the cap when nothing
/// was measured yet. A hung provider then costs a request about a second,
/// not the full cap, while a provider that is slow by nature keeps the
/// time it needs.
pub fn attempt_timeout(engine: &Engine, provider: &ProviderId, policy: &ProxyPolicy) -> u64 {
    let cap = policy.attempt_timeout_ms.max(1);
    engine
        .state()
        .providers
        .get(provider)
        .and_then(|p| p.latency.quantile(9900))
        .map_or(cap, |p99| {
            p99.saturating_mul(policy.timeout_p99_factor.max(1))
                .clamp(policy.min_attempt_timeout_ms.min(cap), cap)
        })
}

/// One attempt and how it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Provider tried.
    pub provider: ProviderId,
    /// Status, when it answered.
    pub status: Option<u16>,
    /// Error, when it did not.
    pub error: Option<String>,
    /// Bytes received.
    pub bytes: u64,
    /// Whether this attempt's answer was returned to the client.
    pub used: bool,
    /// Whether it was a hedge.
    pub hedge: bool,
    /// The answer failed per-request validation ([`validate`]): the
    /// failed check's category and why.
    pub refused: Option<(&'static str, FailReason)>,
}

/// The result of forwarding one request.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyOutcome {
    /// What the client gets: an upstream answer, or why there is none.
    pub response: Result<UpstreamResponse, ProxyError>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// Every reservation the gate granted (one per attempt sent, hedges
    /// included, even one cancelled unanswered): the shell settles them
    /// ([`gate::Reservations::settle`]).
    pub reserved: Vec<ProviderId>,
}

/// Why the proxy has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// No such service.
    #[error("no service `{0}`")]
    UnknownService(String),
    /// No provider can take the request.
    #[error("no provider of `{0}` can take requests")]
    NoProvider(String),
    /// Every answer failed validation and none may be served.
    #[error("no provider gave a valid answer: {0}")]
    BadData(String),
    /// Every provider that could serve is out of quota or asked to be left
    /// alone (429): nothing was sent.
    #[error("every provider of `{service}` is at its quota or throttling the sentinel{}", retry_after_s.map(|s| format!("; retry in {s} s")).unwrap_or_default())]
    Limited {
        /// The service.
        service: String,
        /// When the earliest throttle ends, if that is why.
        retry_after_s: Option<u64>,
    },
    /// Every attempt failed.
    #[error("all {attempts} attempts failed; last: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
}

/// JSON-RPC methods that only read, and so are safe to repeat.
const READ_METHODS: &[&str] = &[
    "eth_chainId",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBalance",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_getTransactionCount",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_call",
    "eth_estimateGas",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_getLogs",
    "eth_syncing",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockReceipts",
    "eth_getProof",
    "net_version",
    "net_listening",
    "web3_clientVersion",
];

/// Whether a request may be sent again after a failure.
pub fn retryable(req: &ProxyRequest) -> bool {
    use http::Method;
    match req.method {
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE => true,
        Method::POST => jsonrpc_reads_only(&req.body),
        _ => false,
    }
}

fn jsonrpc_reads_only(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let is_read = |call: &serde_json::Value| {
        call.get("method")
            .and_then(|m| m.as_str())
            .is_some_and(|m| READ_METHODS.contains(&m))
    };
    match &v {
        serde_json::Value::Array(calls) => !calls.is_empty() && calls.iter().all(is_read),
        call => is_read(call),
    }
}

/// Whether an answer should be retried elsewhere.
fn retry_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// The providers to try for `service`, best first (see [`crate::route`]).
pub fn candidates(engine: &Engine, service: &str, now: UnixMillis) -> Option<Vec<ProviderId>> {
    let _ = now;
    crate::route::plan(engine, service)
        .map(|p| p.candidates.into_iter().map(|c| c.provider).collect())
}

fn target(engine: &Engine, id: &ProviderId, req: &ProxyRequest) -> Option<Target> {
    let rt = engine.registry().provider(id.as_str())?;
    Some(Target {
        provider: id.clone(),
        url: crate::engine::join_url(&rt.config.endpoint, &req.path_and_query),
        secret_headers: rt
            .config
            .secret_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        allow_private: engine.config().sentinel.allow_private_targets,
    })
}

fn record(
    attempts: &mut Vec<Attempt>,
    provider: &ProviderId,
    r: &Result<UpstreamResponse, UpstreamError>,
    hedge: bool,
) {
    attempts.push(Attempt {
        provider: provider.clone(),
        status: r.as_ref().ok().map(|x| x.status),
        error: r.as_ref().err().map(|e| format!("{e:?}")),
        bytes: r.as_ref().map_or(0, |x| x.body.len() as u64),
        used: false,
        hedge,
        refused: None,
    });
}

fn good(r: &Result<UpstreamResponse, UpstreamError>) -> bool {
    matches!(r, Ok(x) if !retry_status(x.status))
}

/// Forwards `req` to `service` with no admission state (every attempt
/// admitted, nothing remembered): tests and tools. Shells use
/// [`forward_gated`] with their [`gate::Reservations`].
pub async fn forward<U: Upstream>(
    engine: &Engine,
    service: &ServiceId,
    req: &ProxyRequest,
    upstream: &U,
    policy: &ProxyPolicy,
    now: UnixMillis,
) -> ProxyOutcome {
    forward_gated(engine, service, req, upstream, policy, &gate::Open, now).await
}

/// A candidate as the loop sees it.
struct Slot {
    c: Candidate,
    budget: Option<gate::Budget>,
    near: bool,
}

/// Forwards `req` to `service`; see the module docs and [`gate`].
pub async fn forward_gated<U: Upstream, G: Gate + ?Sized>(
    engine: &Engine,
    service: &ServiceId,
    req: &ProxyRequest,
    upstream: &U,
    policy: &ProxyPolicy,
    gate: &G,
    now: UnixMillis,
) -> ProxyOutcome {
    let mut attempts = Vec::new();
    let Some(plan) = crate::route::plan(engine, service.as_str()) else {
        return ProxyOutcome {
            response: Err(ProxyError::UnknownService(service.to_string())),
            attempts,
            reserved: Vec::new(),
        };
    };
    if plan.candidates.is_empty() {
        // Out of quota is not out of service: say which.
        let response = if plan.stopped.is_empty() {
            Err(ProxyError::NoProvider(service.to_string()))
        } else {
            Err(ProxyError::Limited {
                service: service.to_string(),
                retry_after_s: None,
            })
        };
        return ProxyOutcome {
            response,
            attempts,
            reserved: Vec::new(),
        };
    }
    let mut reserved: Vec<ProviderId> = Vec::new();
    let svc = engine.registry().service(service.as_str());
    let can_retry = retryable(req);
    let hedge_on = can_retry && (policy.hedge || svc.is_some_and(|s| s.config.proxy.hedge));
    let serve_degraded = svc.is_some_and(|s| s.config.degraded == crate::config::Degraded::Serve);
    let prefer_free = u32::from(engine.config().ladder.prefer_free.get());

    // Admission: skip providers out of quota or throttling us; order the
    // rest: healthy with headroom, near their quota, recently failing,
    // then degraded data and the dead active provider, as planned.
    let mut throttled_until: Option<UnixMillis> = None;
    let mut slots: Vec<(u8, Slot)> = Vec::new();
    for c in plan.candidates {
        let mark = gate.marked(&c.provider, now);
        if let Some((Mark::Throttled, until)) = mark {
            throttled_until = Some(throttled_until.map_or(until, |t| t.min(until)));
            continue;
        }
        let budget = gate::request_budget(engine, &c.provider, now);
        let pending = gate.pending(&c.provider);
        if budget.is_some_and(|b| pending >= b.admissible()) {
            continue;
        }
        let near = budget.is_some_and(|b| b.projected_bps(pending) >= prefer_free);
        let class = match c.tier {
            Tier::DegradedData => 3,
            Tier::Dead => 4,
            _ if mark.is_some() => 2,
            _ if near => 1,
            _ => 0,
        };
        slots.push((class, Slot { c, budget, near }));
    }
    slots.sort_by_key(|(class, _)| *class);
    let order: Vec<Slot> = slots.into_iter().map(|(_, s)| s).collect();
    if order.is_empty() {
        return ProxyOutcome {
            response: Err(ProxyError::Limited {
                service: service.to_string(),
                retry_after_s: throttled_until.map(|t| t.saturating_sub(now).div_ceil(1000)),
            }),
            attempts,
            reserved,
        };
    }

    let max = policy.max_attempts.max(1) as usize;
    let mut last: Option<Result<UpstreamResponse, UpstreamError>> = None;
    // The best refused answer that may still be served (stale, lagging or
    // inconsistent, with `degraded = "serve"`): (attempt index, answer, reason).
    let mut fallback: Option<(usize, UpstreamResponse, FailReason)> = None;
    let mut refusal: Option<String> = None;
    let mut limited = false;
    let mut i = 0;
    while i < order.len() && attempts.len() < max {
        let slot = &order[i];
        let id = &slot.c.provider;
        // A retry never lands on a provider near its own quota.
        if !attempts.is_empty() && slot.near {
            limited = true;
            i += 1;
            continue;
        }
        let Some(t) = target(engine, id, req) else {
            i += 1;
            continue;
        };
        if !gate.try_reserve(id, slot.budget) {
            limited = true;
            i += 1;
            continue;
        }
        reserved.push(id.clone());
        let timeout = attempt_timeout(engine, id, policy);
        let hedge_to = if hedge_on && attempts.len() + 1 < max {
            order
                .get(i + 1)
                .filter(|h| !h.near && h.c.tier < Tier::DegradedData)
                .and_then(|h| target(engine, &h.c.provider, req).map(|t| (t, h.budget)))
        } else {
            None
        };
        let (from, result) = match hedge_to {
            None => {
                let r = Box::pin(upstream.send(&t, req, timeout)).await;
                record(&mut attempts, id, &r, false);
                (id.clone(), r)
            }
            Some((h, h_budget)) => {
                let delay = engine
                    .state()
                    .providers
                    .get(id)
                    .and_then(|p| p.latency.quantile(9500))
                    .unwrap_or(timeout)
                    .max(policy.hedge_min_ms);
                let first = Box::pin(upstream.send(&t, req, timeout));
                let timer = pin!(upstream.sleep(delay));
                match select(first, timer).await {
                    Either::Left((r, _)) => {
                        record(&mut attempts, id, &r, false);
                        (id.clone(), r)
                    }
                    Either::Right(((), first)) if !gate.try_reserve(&h.provider, h_budget) => {
                        // No room for a hedge: wait for the first.
                        let r = first.await;
                        record(&mut attempts, id, &r, false);
                        (id.clone(), r)
                    }
                    Either::Right(((), first)) => {
                        // Too slow: ask the next candidate as well.
                        reserved.push(h.provider.clone());
                        let h_timeout = attempt_timeout(engine, &h.provider, policy);
                        let second = Box::pin(upstream.send(&h, req, h_timeout));
                        match select(first, second).await {
                            Either::Left((r, _second)) if good(&r) => {
                                // The hedge is dropped unpolled: cancelled.
                                record(&mut attempts, id, &r, false);
                                (id.clone(), r)
                            }
                            Either::Left((r, second)) => {
                                record(&mut attempts, id, &r, false);
                                note_failure(gate, id, &r, now);
                                let r2 = second.await;
                                record(&mut attempts, &h.provider, &r2, true);
                                i += 1;
                                (h.provider.clone(), r2)
                            }
                            Either::Right((r2, _first)) if good(&r2) => {
                                record(&mut attempts, &h.provider, &r2, true);
                                i += 1;
                                (h.provider.clone(), r2)
                            }
                            Either::Right((r2, first)) => {
                                record(&mut attempts, &h.provider, &r2, true);
                                note_failure(gate, &h.provider, &r2, now);
                                let r = first.await;
                                record(&mut attempts, id, &r, false);
                                i += 1;
                                (id.clone(), r)
                            }
                        }
                    }
                }
            }
        };
        note_failure(gate, &from, &result, now);
        if let Ok(resp) = &result {
            if !retry_status(resp.status) {
                if let Some(bad) = validate::judge(engine, &from, req, resp, now) {
                    let n = mark(&mut attempts, &from, Some((bad.category, bad.reason)));
                    refusal = Some(format!("{from}: {}", bad.detail));
                    let keep = serve_degraded
                        && crate::route::servable_when_degraded(bad.reason)
                        && fallback.is_none();
                    if keep {
                        if let Some(n) = n {
                            fallback = Some((n, resp.clone(), bad.reason));
                        }
                    }
                    if !can_retry {
                        break;
                    }
                    i += 1;
                    continue;
                }
            }
        }
        if good(&result) {
            let degraded = order
                .iter()
                .find(|s| s.c.provider == from)
                .and_then(|s| s.c.degraded);
            if let Some(n) = mark(&mut attempts, &from, None) {
                attempts[n].used = true;
            }
            let response = result
                .map(|mut r| {
                    if let Some(d) = degraded {
                        r.headers
                            .insert(DEGRADED_HEADER, http::HeaderValue::from_static(d.as_str()));
                    }
                    r
                })
                .map_err(|_| ProxyError::NoProvider(service.to_string()));
            return ProxyOutcome {
                response,
                attempts,
                reserved,
            };
        }
        // A request that is not safe to repeat goes elsewhere only when it
        // provably never left: the connection was refused or blocked.
        let never_sent = matches!(
            result,
            Err(UpstreamError::Connect(_) | UpstreamError::Blocked(_))
        );
        last = Some(result);
        if !can_retry && !never_sent {
            break;
        }
        i += 1;
    }
    if let Some((n, mut resp, reason)) = fallback {
        // Only degraded data is left, and the service allows serving it.
        if let Some(a) = attempts.get_mut(n) {
            a.used = true;
        }
        resp.headers.insert(
            DEGRADED_HEADER,
            http::HeaderValue::from_static(reason.as_str()),
        );
        return ProxyOutcome {
            response: Ok(resp),
            attempts,
            reserved,
        };
    }
    if let Some(why) = refusal {
        if !matches!(last, Some(Ok(_))) {
            return ProxyOutcome {
                response: Err(ProxyError::BadData(why)),
                attempts,
                reserved,
            };
        }
    }
    if attempts.is_empty() && limited {
        return ProxyOutcome {
            response: Err(ProxyError::Limited {
                service: service.to_string(),
                retry_after_s: throttled_until.map(|t| t.saturating_sub(now).div_ceil(1000)),
            }),
            attempts,
            reserved,
        };
    }
    // Nothing good: hand back the last upstream answer if there was one
    // (a 503 or 429 is more useful to a client than our own error).
    let n = attempts.len() as u32;
    match last {
        Some(Ok(resp)) => {
            if let Some(a) = attempts.iter_mut().rev().find(|a| a.refused.is_none()) {
                a.used = true;
            }
            ProxyOutcome {
                response: Ok(resp),
                attempts,
                reserved,
            }
        }
        Some(Err(e)) => ProxyOutcome {
            response: Err(ProxyError::Exhausted {
                attempts: n,
                last: format!("{e:?}"),
            }),
            attempts,
            reserved,
        },
        None => ProxyOutcome {
            response: Err(ProxyError::NoProvider(service.to_string())),
            attempts,
            reserved,
        },
    }
}

/// Marks a provider after a bad attempt: a 429 sets it aside until its
/// `Retry-After`; a refused, reset or timed-out attempt demotes it for
/// [`gate::FAILING_MARK_MS`].
fn note_failure<G: Gate + ?Sized>(
    gate: &G,
    provider: &ProviderId,
    r: &Result<UpstreamResponse, UpstreamError>,
    now: UnixMillis,
) {
    match r {
        Ok(resp) if resp.status == 429 => {
            let wait = resp
                .headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(gate::THROTTLE_DEFAULT_MS, |s| {
                    s.saturating_mul(1000).min(gate::THROTTLE_MAX_MS)
                });
            gate.mark(provider, Mark::Throttled, now, now.saturating_add(wait));
        }
        Err(UpstreamError::Connect(_) | UpstreamError::Timeout | UpstreamError::Other(_)) => {
            gate.mark(
                provider,
                Mark::Failing,
                now,
                now.saturating_add(gate::FAILING_MARK_MS),
            );
        }
        _ => {}
    }
}

/// The header marking an answer served from degraded data: its value is
/// the problem (`stale`, `lagging`, `inconsistent`).
pub const DEGRADED_HEADER: &str = "x-sentinel-degraded";

/// Marks the latest answered attempt of `provider` as refused (or just
/// finds it), returning its index.
fn mark(
    attempts: &mut [Attempt],
    provider: &ProviderId,
    refused: Option<(&'static str, FailReason)>,
) -> Option<usize> {
    let n = attempts
        .iter()
        .rposition(|a| &a.provider == provider && a.status.is_some())?;
    if refused.is_some() {
        attempts[n].refused = refused;
    }
    Some(n)
}

/// The bookkeeping of forwarded requests, folded: per provider, requests
/// and bytes, and how many retries landed on it and succeeded. A busy proxy
/// adds every outcome here (cheap, no allocation per request once a
/// provider is known) and the shell drains it into a handful of events per
/// tick, rather than one event per request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageTally {
    requests: std::collections::BTreeMap<ProviderId, (u64, u64)>,
    retries: std::collections::BTreeMap<ProviderId, (u32, u32)>,
    refused: std::collections::BTreeMap<(ProviderId, &'static str), u32>,
}

impl UsageTally {
    /// Adds one forwarded request: one request and its bytes against every
    /// provider tried, and a retry outcome for every attempt after the
    /// first.
    pub fn add(&mut self, outcome: &ProxyOutcome) {
        for (n, a) in outcome.attempts.iter().enumerate() {
            let r = self.requests.entry(a.provider.clone()).or_default();
            r.0 = r.0.saturating_add(1);
            r.1 = r.1.saturating_add(a.bytes);
            if let Some((check, _)) = a.refused {
                let c = self.refused.entry((a.provider.clone(), check)).or_default();
                *c = c.saturating_add(1);
            }
            if n > 0 {
                let t = self.retries.entry(a.provider.clone()).or_default();
                if a.status.is_some_and(|s| !retry_status(s)) {
                    t.0 = t.0.saturating_add(1);
                } else {
                    t.1 = t.1.saturating_add(1);
                }
            }
        }
    }

    /// Whether nothing was added since the last drain.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.retries.is_empty() && self.refused.is_empty()
    }

    /// Takes everything added so far as events (without sequence numbers:
    /// the shell stamps them).
    pub fn drain(&mut self) -> Vec<EventKind> {
        let mut out = Vec::new();
        for (provider, (requests, bytes)) in std::mem::take(&mut self.requests) {
            out.push(EventKind::Usage {
                target: UsageTarget::Provider(provider.clone()),
                metric: Metric::Requests,
                amount: requests,
            });
            if bytes > 0 {
                out.push(EventKind::Usage {
                    target: UsageTarget::Provider(provider),
                    metric: Metric::EgressBytes,
                    amount: bytes,
                });
            }
        }
        for (provider, (ok, failed)) in std::mem::take(&mut self.retries) {
            out.push(EventKind::Retry {
                provider,
                ok,
                failed,
            });
        }
        for ((provider, check), count) in std::mem::take(&mut self.refused) {
            out.push(EventKind::BadAnswers {
                provider,
                check: check.to_string(),
                count,
            });
        }
        out
    }
}

/// Stamps events with a source and increasing sequence numbers.
pub fn stamp(kinds: Vec<EventKind>, source: &str, seq: &mut u64, at: UnixMillis) -> Vec<Event> {
    kinds
        .into_iter()
        .map(|kind| {
            *seq += 1;
            Event {
                source: source.to_string(),
                seq: *seq,
                at,
                kind,
            }
        })
        .collect()
}
