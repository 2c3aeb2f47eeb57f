//! Probes: what the core asks a shell to send, what the shell reports back,
//! and how a raw response becomes an [`Observation`].
//!
//! The shells only move bytes: they send a [`ProbeRequest`] with its
//! timeout and size cap, and hand back a [`ProbeResult`]. Classifying the
//! outcome and checking the body is done here, once, so the Worker, the
//! Lambda and the local binary judge a response identically.

use crate::config::Method;
use crate::quality::{self, Check, CompiledChecks, Facts, Verdict};
use crate::secret::{self, SealedSecret, SecretError, SecretKey, Sensitive};
use crate::time::UnixMillis;
use crate::{ProviderId, ServiceId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a probe was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// The regular health probe.
    Scheduled,
    /// A fresh check of a switch candidate before traffic moves to it.
    Canary,
    /// A read of the provider's status page ([`crate::statuspage`]); it
    /// never becomes an observation.
    StatusPage,
}

/// A request the shell must send.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// Provider probed.
    pub provider: ProviderId,
    /// Its service.
    pub service: ServiceId,
    /// Why.
    pub purpose: Purpose,
    /// HTTP method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Plain headers.
    pub headers: Vec<(String, String)>,
    /// Headers whose values are sealed; open them with
    /// [`ProbeRequest::open_secret_headers`] right before sending.
    pub secret_headers: Vec<(String, SealedSecret)>,
    /// Body to send.
    pub body: Option<Vec<u8>>,
    /// Total time allowed, in ms.
    pub timeout_ms: u64,
    /// Largest body to read; beyond it the probe fails as too large.
    pub max_bytes: u64,
    /// Whether private, loopback and link-local targets are allowed.
    pub allow_private: bool,
}

impl fmt::Debug for ProbeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeRequest")
            .field("provider", &self.provider)
            .field("purpose", &self.purpose)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("secret_headers", &self.secret_headers.len())
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

/// The additional data bound into a sealed header's AEAD tag: a sealed
/// value only opens for the provider and header it was sealed for.
pub fn secret_header_aad(provider: &ProviderId, header: &str) -> String {
    format!("provider:{provider}:header:{}", header.to_ascii_lowercase())
}

impl ProbeRequest {
    /// Opens the sealed headers with the runtime's key.
    pub fn open_secret_headers(
        &self,
        key: &SecretKey,
    ) -> Result<Vec<(String, Sensitive)>, SecretError> {
        self.secret_headers
            .iter()
            .map(|(name, sealed)| {
                let aad = secret_header_aad(&self.provider, name);
                secret::open(key, &aad, sealed).map(|v| (name.clone(), v))
            })
            .collect()
    }
}

/// A response as the shell received it (body capped at `max_bytes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResponse {
    /// HTTP status.
    pub status: u16,
    /// Time from send to the end of the body, in ms.
    pub latency_ms: u64,
    /// The body, at most `max_bytes`.
    pub body: Vec<u8>,
    /// Whether the body was longer than `max_bytes`.
    pub truncated: bool,
    /// The `Retry-After` header of a 429 or 503, in seconds (delta-seconds
    /// form; an HTTP date is converted by the shell or left out).
    pub retry_after_s: Option<u64>,
    /// The `x-sentinel-signature` header: a peer sentinel's proof that it
    /// wrote this answer ([`crate::peer::auth`]); `None` for others.
    pub signature: Option<String>,
}

/// Why no response came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeFailure {
    /// The timeout elapsed.
    Timeout,
    /// Connection refused, DNS failure.
    Connect(String),
    /// The connection was reset or closed before the answer was complete.
    Reset(String),
    /// TLS handshake or certificate failure.
    Tls(String),
    /// The target address is private, loopback or link-local and the
    /// config does not allow it (SSRF guard).
    Blocked(String),
    /// Anything else (malformed response, redirect loop…).
    Protocol(String),
}

/// What a probe returned.
pub type ProbeResult = Result<ProbeResponse, ProbeFailure>;

/// The class of a probe's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// An accepted status.
    Ok,
    /// An unexpected HTTP status (5xx, 404, …).
    Status(u16),
    /// HTTP 429: the provider is up but refuses us.
    Throttled,
    /// No answer in time.
    Timeout,
    /// Could not connect: refused (or a failed name lookup). Named
    /// `refused` in JSON, as in [`Outcome::name`].
    #[serde(rename = "refused")]
    Connect,
    /// The body exceeded the size cap.
    TooLarge,
    /// Refused by the SSRF guard.
    Blocked,
    /// TLS or protocol failure.
    Protocol,
    /// The connection was reset or closed mid-answer. (Last, so states and
    /// observations written before it was added still decode.)
    Reset,
}

impl Outcome {
    /// Whether the provider answered usefully.
    pub fn is_up(self) -> bool {
        self == Outcome::Ok
    }

    /// A short kebab-case name: `ok`, `http-503`, `throttled`, `timeout`,
    /// `refused`, `reset`, `too-large`, `blocked`, `protocol`.
    pub fn name(self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Status(s) => format!("http-{s}"),
            Outcome::Throttled => "throttled".into(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Connect => "refused".into(),
            Outcome::Reset => "reset".into(),
            Outcome::TooLarge => "too-large".into(),
            Outcome::Blocked => "blocked".into(),
            Outcome::Protocol => "protocol".into(),
        }
    }

    /// What the provider did, as a phrase for sentences: "answered 429
    /// Too Many Requests", "did not answer in time", …
    pub fn phrase(self) -> String {
        match self {
            Outcome::Ok => "answered".into(),
            Outcome::Status(s) => format!("answered HTTP {s}{}", status_text(s)),
            Outcome::Throttled => "answered 429 Too Many Requests".into(),
            Outcome::Timeout => "did not answer in time (a hang)".into(),
            Outcome::Connect => "refused the connection".into(),
            Outcome::Reset => "reset the connection mid-answer".into(),
            Outcome::TooLarge => "sent a body over the size cap".into(),
            Outcome::Blocked => "resolved to an address the SSRF guard blocks".into(),
            Outcome::Protocol => "broke the HTTP or TLS protocol".into(),
        }
    }
}

fn status_text(s: u16) -> &'static str {
    match s {
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        504 => " Gateway Timeout",
        404 => " Not Found",
        403 => " Forbidden",
        401 => " Unauthorized",
        _ => "",
    }
}

/// The `Retry-After` seconds [`observe`] wrote into a 429's detail, if any.
/// (The detail is the observation's one free-text field; the number is
/// written and read here only, in one fixed form.)
pub fn retry_after_of(detail: Option<&str>) -> Option<u64> {
    let rest = detail?.split_once(RETRY_AFTER)?.1;
    rest.split_whitespace().next()?.parse().ok()
}

const RETRY_AFTER: &str = "; Retry-After ";

/// The core's record of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Provider probed.
    pub provider: ProviderId,
    /// When the probe was sent (the shell's clock).
    pub at: UnixMillis,
    /// Why.
    pub purpose: Purpose,
    /// Outcome class.
    pub outcome: Outcome,
    /// Round-trip time in ms (0 when nothing came back).
    pub latency_ms: u32,
    /// Body bytes received.
    pub bytes: u64,
    /// Body checks.
    pub verdict: Verdict,
    /// Facts for the cross-provider consistency check.
    pub facts: Facts,
    /// The first problem, for humans.
    pub detail: Option<String>,
}

impl Observation {
    /// Whether the observation counts as healthy for switching: the
    /// provider answered and no body check failed.
    pub fn is_healthy(&self) -> bool {
        self.outcome.is_up()
            && ![
                self.verdict.schema,
                self.verdict.business,
                self.verdict.freshness,
            ]
            .iter()
            .any(|c| matches!(c, Check::Fail(_)))
    }

    /// The idempotence key: an observation with a key at or below a
    /// provider's watermark has been ingested already.
    pub fn key(&self) -> (UnixMillis, Purpose) {
        (self.at, self.purpose)
    }
}

const NOT_CHECKED: Verdict = Verdict {
    schema: Check::NotApplicable,
    business: Check::NotApplicable,
    freshness: Check::NotApplicable,
};

fn bounded(mut s: String) -> String {
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Turns what the shell got back into an observation.
pub fn observe(
    req: &ProbeRequest,
    checks: &CompiledChecks,
    expect_status: &[u16],
    at: UnixMillis,
    result: ProbeResult,
) -> Observation {
    let mut obs = Observation {
        provider: req.provider.clone(),
        at,
        purpose: req.purpose,
        outcome: Outcome::Ok,
        latency_ms: 0,
        bytes: 0,
        verdict: NOT_CHECKED,
        facts: Facts::default(),
        detail: None,
    };
    match result {
        Err(f) => {
            let (outcome, detail) = match f {
                ProbeFailure::Timeout => (
                    Outcome::Timeout,
                    format!("no answer within {} ms", req.timeout_ms),
                ),
                ProbeFailure::Connect(d) => (Outcome::Connect, format!("connect: {d}")),
                ProbeFailure::Reset(d) => (Outcome::Reset, format!("connection reset: {d}")),
                ProbeFailure::Tls(d) => (Outcome::Protocol, format!("tls: {d}")),
                ProbeFailure::Blocked(d) => {
                    (Outcome::Blocked, format!("blocked by the SSRF guard: {d}"))
                }
                ProbeFailure::Protocol(d) => (Outcome::Protocol, format!("protocol: {d}")),
            };
            obs.outcome = outcome;
            obs.latency_ms = if outcome == Outcome::Timeout {
                u32::try_from(req.timeout_ms).unwrap_or(u32::MAX)
            } else {
                0
            };
            obs.detail = Some(bounded(detail));
        }
        Ok(resp) => {
            obs.latency_ms = u32::try_from(resp.latency_ms).unwrap_or(u32::MAX);
            obs.bytes = resp.body.len() as u64;
            let accepted = if expect_status.is_empty() {
                (200..300).contains(&resp.status)
            } else {
                expect_status.contains(&resp.status)
            };
            if resp.status == 429 {
                obs.outcome = Outcome::Throttled;
                obs.detail = Some(match resp.retry_after_s {
                    Some(s) => format!("HTTP 429 Too Many Requests{RETRY_AFTER}{s} s"),
                    None => "HTTP 429 Too Many Requests".into(),
                });
            } else if !accepted {
                obs.outcome = Outcome::Status(resp.status);
                obs.detail = Some(format!("unexpected HTTP status {}", resp.status));
            } else if resp.truncated {
                obs.outcome = Outcome::TooLarge;
                obs.detail = Some(format!("body larger than {} bytes", req.max_bytes));
            } else if req.method != Method::Head {
                let ev = quality::evaluate(checks, &resp.body, at);
                obs.verdict = ev.verdict;
                obs.facts = ev.facts;
                obs.detail = ev.detail.map(bounded);
            }
        }
    }
    obs
}

/// A failure's short name and detail, for people (`timeout`,
/// `refused: …`, `reset: …`).
pub fn failure_name(f: &ProbeFailure) -> String {
    match f {
        ProbeFailure::Timeout => "timeout".into(),
        ProbeFailure::Connect(d) => format!("refused: {d}"),
        ProbeFailure::Reset(d) => format!("reset: {d}"),
        ProbeFailure::Tls(d) => format!("tls: {d}"),
        ProbeFailure::Blocked(d) => format!("blocked by the SSRF guard: {d}"),
        ProbeFailure::Protocol(d) => format!("protocol: {d}"),
    }
}
