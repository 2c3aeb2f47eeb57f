//! Authenticating what two sentinels say to each other.
//!
//! A sentinel reads its peer's observations (`GET /v1/observations`) at
//! every tick. Both hold one shared secret (a platform secret:
//! `SENTINEL_PEER_SECRET_<ID>` or `SENTINEL_PEER_SECRET`), and both
//! directions are authenticated with HMAC-SHA-256 (RFC 2104):
//!
//! - **the request** carries the caller's id, a timestamp, a 128-bit nonce
//!   and a MAC over all of them, the method, the path and query, and the
//!   SHA-256 of the body:
//!
//!   ```text
//!   x-sentinel-peer:      a
//!   x-sentinel-timestamp: 1764420000000
//!   x-sentinel-nonce:     9f2c…(32 hex)
//!   x-sentinel-signature: v1=<hex HMAC-SHA-256(secret, string to sign)>
//!
//!   string to sign = "bookkeeper-sentinel/v1/request\n" method "\n" path "\n"
//!                    query "\n" caller "\n" timestamp "\n" nonce "\n"
//!                    hex(SHA-256(body))
//!   ```
//!
//!   The server refuses a timestamp more than [`SKEW_MS`] away from its
//!   clock and a nonce it has seen within that window ([`NonceWindow`]),
//!   so a captured request cannot be replayed: not later (the timestamp),
//!   not now (the nonce). The window is per process; a shell with several
//!   instances (a Lambda's) could accept one replay per instance within
//!   the two minutes, which would only repeat an answer the attacker
//!   already saw and cannot read (the answer is bound to the nonce below).
//! - **the answer** carries `x-sentinel-signature: v1=<hex MAC>` over
//!   `"bookkeeper-sentinel/v1/response\n" nonce "\n" status "\n"
//!   hex(SHA-256(body))`, so a reader accepts only observations its peer
//!   wrote for this very request: nothing on the path between them can
//!   forge or swap them.
//!
//! MACs are compared in constant time ([`hmac::Mac::verify_slice`]).
//! Nothing here reads a clock or draws randomness: `now` and the nonce
//! come in ([`derive_nonce`] makes one from the secret, so it cannot be
//! predicted by anyone without it).

use crate::secret::Sensitive;
use crate::time::{UnixMillis, MINUTE};
use crate::SentinelId;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The caller's sentinel id.
pub const H_PEER: &str = "x-sentinel-peer";
/// Unix milliseconds when the request was signed.
pub const H_TIMESTAMP: &str = "x-sentinel-timestamp";
/// 32 hex digits, unique per request.
pub const H_NONCE: &str = "x-sentinel-nonce";
/// `v1=<64 hex digits>`.
pub const H_SIGNATURE: &str = "x-sentinel-signature";
/// How far a request's timestamp may be from the server's clock (2 min):
/// clouds keep their clocks within a second of each other; the margin
/// covers a slow network, not a replay.
pub const SKEW_MS: u64 = 2 * MINUTE;
/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Most nonces remembered at once (within [`SKEW_MS`]): far above two
/// sentinels' one request per tick; beyond it requests are refused
/// rather than remembered less (fail closed).
pub const NONCE_CAPACITY: usize = 4096;

/// A shared secret of a pair of sentinels. Prints as `<redacted>`.
#[derive(Clone)]
pub struct PeerSecret(std::sync::Arc<Sensitive>);

impl fmt::Debug for PeerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerSecret(<redacted>)")
    }
}

impl PeerSecret {
    /// Wraps a secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &str) -> Result<PeerSecret, String> {
        let s = secret.trim();
        if s.len() < MIN_SECRET_LEN {
            return Err(format!(
                "a peer secret must be at least {MIN_SECRET_LEN} bytes (got {}); make one with `openssl rand -hex 32`",
                s.len()
            ));
        }
        Ok(PeerSecret(std::sync::Arc::new(Sensitive::new(s))))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        match HmacSha256::new_from_slice(self.0.expose().as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable_mac(),
        }
    }
}

#[cold]
fn unreachable_mac() -> HmacSha256 {
    // `new_from_slice` only refuses key lengths for fixed-key MACs; HMAC
    // has none. Keep a valid (useless) MAC rather than a panic path.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// Why a peer request or answer was refused. Messages name the problem,
/// never the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A header is missing or malformed.
    #[error("peer authentication: {0}")]
    Malformed(String),
    /// The caller is not a configured peer (or has no secret here).
    #[error("peer authentication: `{0}` is not a peer of this sentinel")]
    UnknownPeer(String),
    /// The timestamp is outside the window.
    #[error("peer authentication: the timestamp is {0} ms away from this sentinel's clock (at most 120000): clocks apart, or a replay")]
    Skew(u64),
    /// The nonce was used before within the window.
    #[error("peer authentication: this nonce was used before (a replay)")]
    Replay,
    /// The MAC does not match.
    #[error("peer authentication: the signature does not match (another secret, or the request was changed)")]
    BadSignature,
    /// Too many requests to remember their nonces.
    #[error("peer authentication: too many peer requests in the last two minutes")]
    Busy,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn body_digest(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// What a request's MAC covers.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path, without the query.
    pub path: &'a str,
    /// Query, without `?` (empty when none).
    pub query: &'a str,
    /// Body.
    pub body: &'a [u8],
}

fn request_string(
    parts: &RequestParts<'_>,
    caller: &str,
    timestamp: UnixMillis,
    nonce: &str,
) -> String {
    format!(
        "bookkeeper-sentinel/v1/request\n{}\n{}\n{}\n{caller}\n{timestamp}\n{nonce}\n{}",
        parts.method,
        parts.path,
        parts.query,
        body_digest(parts.body)
    )
}

/// A nonce for a request signed at `now`: 16 bytes of the MAC of the
/// caller, `now` and a per-process `counter` (unique per request of this
/// process; `now` differs across restarts), as 32 hex digits.
pub fn derive_nonce(
    secret: &PeerSecret,
    caller: &SentinelId,
    now: UnixMillis,
    counter: u64,
) -> String {
    let mut m = secret.mac();
    m.update(format!("bookkeeper-sentinel/v1/nonce\n{caller}\n{now}\n{counter}").as_bytes());
    let out = m.finalize().into_bytes();
    hex(&out[..16])
}

/// The headers that authenticate a request from `caller`.
pub fn sign_request(
    secret: &PeerSecret,
    caller: &SentinelId,
    parts: &RequestParts<'_>,
    now: UnixMillis,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut m = secret.mac();
    m.update(request_string(parts, caller.as_str(), now, nonce).as_bytes());
    let sig = hex(&m.finalize().into_bytes());
    vec![
        (H_PEER.into(), caller.to_string()),
        (H_TIMESTAMP.into(), now.to_string()),
        (H_NONCE.into(), nonce.to_string()),
        (H_SIGNATURE.into(), format!("v1={sig}")),
    ]
}

fn parse_signature(v: &str) -> Result<Vec<u8>, Refusal> {
    v.trim()
        .strip_prefix("v1=")
        .and_then(unhex)
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            Refusal::Malformed(format!("`{H_SIGNATURE}` must be `v1=` and 64 hex digits"))
        })
}

/// Nonces seen within the last [`SKEW_MS`] (a replay cache).
#[derive(Debug, Default)]
pub struct NonceWindow {
    seen: BTreeSet<(UnixMillis, String)>,
}

impl NonceWindow {
    fn prune(&mut self, now: UnixMillis) {
        let cut = now.saturating_sub(SKEW_MS);
        while let Some(first) = self.seen.first() {
            if first.0 >= cut {
                break;
            }
            self.seen.pop_first();
        }
    }

    /// Nonces remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// A request's authentication headers, as found.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presented<'a> {
    /// `x-sentinel-peer`.
    pub peer: Option<&'a str>,
    /// `x-sentinel-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `x-sentinel-nonce`.
    pub nonce: Option<&'a str>,
    /// `x-sentinel-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> Presented<'a> {
    /// Finds the headers in a list (names compared case-insensitively).
    pub fn find(headers: &'a [(String, String)]) -> Presented<'a> {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        Presented {
            peer: get(H_PEER),
            timestamp: get(H_TIMESTAMP),
            nonce: get(H_NONCE),
            signature: get(H_SIGNATURE),
        }
    }

    /// Whether the request tries peer authentication at all.
    pub fn any(&self) -> bool {
        self.peer.is_some() || self.signature.is_some()
    }
}

/// A verified request: who sent it and the nonce its answer is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The peer.
    pub peer: SentinelId,
    /// The request's nonce.
    pub nonce: String,
}

/// Checks a request's authentication at `now`; remembers its nonce when
/// it passes (and only then: a forged request cannot fill the window).
pub fn verify_request(
    presented: &Presented<'_>,
    parts: &RequestParts<'_>,
    now: UnixMillis,
    secret_of: impl Fn(&str) -> Option<PeerSecret>,
    window: &mut NonceWindow,
) -> Result<Verified, Refusal> {
    let missing = |h: &str| Refusal::Malformed(format!("the `{h}` header is missing"));
    let peer = presented.peer.ok_or_else(|| missing(H_PEER))?.trim();
    let ts = presented
        .timestamp
        .ok_or_else(|| missing(H_TIMESTAMP))?
        .trim();
    let nonce = presented.nonce.ok_or_else(|| missing(H_NONCE))?.trim();
    let sig = parse_signature(presented.signature.ok_or_else(|| missing(H_SIGNATURE))?)?;
    let ts: UnixMillis = ts
        .parse()
        .map_err(|_| Refusal::Malformed(format!("`{H_TIMESTAMP}` must be Unix milliseconds")))?;
    if nonce.len() < 16 || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refusal::Malformed(format!(
            "`{H_NONCE}` must be 16 to 64 hex digits"
        )));
    }
    let id = SentinelId::new(peer).map_err(|_| Refusal::UnknownPeer(clip(peer)))?;
    let secret = secret_of(id.as_str()).ok_or_else(|| Refusal::UnknownPeer(id.to_string()))?;
    let skew = ts.abs_diff(now);
    if skew > SKEW_MS {
        return Err(Refusal::Skew(skew));
    }
    let mut m = secret.mac();
    m.update(request_string(parts, id.as_str(), ts, nonce).as_bytes());
    m.verify_slice(&sig).map_err(|_| Refusal::BadSignature)?;
    window.prune(now);
    let key = (ts, nonce.to_ascii_lowercase());
    if window.seen.iter().any(|(_, n)| *n == key.1) {
        return Err(Refusal::Replay);
    }
    if window.seen.len() >= NONCE_CAPACITY {
        return Err(Refusal::Busy);
    }
    window.seen.insert(key);
    Ok(Verified {
        peer: id,
        nonce: nonce.to_string(),
    })
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

fn response_string(nonce: &str, status: u16, body: &[u8]) -> String {
    format!(
        "bookkeeper-sentinel/v1/response\n{nonce}\n{status}\n{}",
        body_digest(body)
    )
}

/// The `x-sentinel-signature` value of an answer to the request with
/// `nonce`.
pub fn sign_response(secret: &PeerSecret, nonce: &str, status: u16, body: &[u8]) -> String {
    let mut m = secret.mac();
    m.update(response_string(nonce, status, body).as_bytes());
    format!("v1={}", hex(&m.finalize().into_bytes()))
}

/// Checks an answer's signature against the request's `nonce`.
pub fn verify_response(
    secret: &PeerSecret,
    nonce: &str,
    status: u16,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), Refusal> {
    let sig =
        parse_signature(signature.ok_or_else(|| {
            Refusal::Malformed(format!("the answer has no `{H_SIGNATURE}` header"))
        })?)?;
    let mut m = secret.mac();
    m.update(response_string(nonce, status, body).as_bytes());
    m.verify_slice(&sig).map_err(|_| Refusal::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> PeerSecret {
        PeerSecret::new("0123456789abcdef-shared").unwrap()
    }

    fn id(s: &str) -> SentinelId {
        SentinelId::new(s).unwrap()
    }

    const PARTS: RequestParts<'static> = RequestParts {
        method: "GET",
        path: "/v1/observations",
        query: "since=5",
        body: b"",
    };

    fn verify(
        headers: &[(String, String)],
        now: u64,
        w: &mut NonceWindow,
    ) -> Result<Verified, Refusal> {
        verify_request(
            &Presented::find(headers),
            &PARTS,
            now,
            |p| (p == "a").then(secret),
            w,
        )
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signed_request_passes_once() {
        let n = derive_nonce(&secret(), &id("a"), 1_000_000, 0);
        assert_eq!(n.len(), 32);
        let h = sign_request(&secret(), &id("a"), &PARTS, 1_000_000, &n);
        let mut w = NonceWindow::default();
        let v = verify(&h, 1_000_500, &mut w).unwrap();
        assert_eq!(v.peer, id("a"));
        assert_eq!(verify(&h, 1_000_600, &mut w), Err(Refusal::Replay));
        // After the window the timestamp refuses it instead.
        assert!(matches!(
            verify(&h, 1_000_000 + SKEW_MS + 1, &mut w),
            Err(Refusal::Skew(_))
        ));
    }

    #[test]
    fn forgeries_are_refused() {
        let n = derive_nonce(&secret(), &id("a"), 1_000_000, 1);
        let mut w = NonceWindow::default();
        let other = PeerSecret::new("another-secret-of-16").unwrap();
        let h = sign_request(&other, &id("a"), &PARTS, 1_000_000, &n);
        assert_eq!(verify(&h, 1_000_000, &mut w), Err(Refusal::BadSignature));
        let h = sign_request(&secret(), &id("b"), &PARTS, 1_000_000, &n);
        assert_eq!(
            verify(&h, 1_000_000, &mut w),
            Err(Refusal::UnknownPeer("b".into()))
        );
        let mut h = sign_request(&secret(), &id("a"), &PARTS, 1_000_000, &n);
        h[1].1 = "1000001".into();
        assert_eq!(verify(&h, 1_000_000, &mut w), Err(Refusal::BadSignature));
        let changed = RequestParts {
            query: "since=0",
            ..PARTS
        };
        let h = sign_request(&secret(), &id("a"), &changed, 1_000_000, &n);
        assert_eq!(verify(&h, 1_000_000, &mut w), Err(Refusal::BadSignature));
        assert!(matches!(
            verify(&[], 1_000_000, &mut w),
            Err(Refusal::Malformed(_))
        ));
        assert!(w.is_empty(), "refused requests leave no nonce behind");
    }

    #[test]
    fn answers_are_bound_to_their_request() {
        let s = secret();
        let sig = sign_response(&s, "00ff00ff00ff00ff", 200, b"{}");
        assert!(verify_response(&s, "00ff00ff00ff00ff", 200, b"{}", Some(&sig)).is_ok());
        assert_eq!(
            verify_response(&s, "00ff00ff00ff00fe", 200, b"{}", Some(&sig)),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify_response(&s, "00ff00ff00ff00ff", 200, b"{ }", Some(&sig)),
            Err(Refusal::BadSignature)
        );
        assert!(verify_response(&s, "00ff00ff00ff00ff", 200, b"{}", None).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(PeerSecret::new("short").is_err());
        assert!(format!("{:?}", secret()).contains("redacted"));
    }
}
