//! Bearer-token authentication of mutating routes and `/v1/observations`.
//!
//! The sentinel keeps only the SHA-256 digest of its token, never the token
//! itself, so there is nothing to leak through `Debug`, a log line or a
//! response. A presented token is hashed and the two 32-byte digests are
//! compared in constant time (every byte is looked at, whatever differs),
//! which also hides the token's length.

use super::request::{ApiRequest, ApiResponse};
use sha2::{Digest, Sha256};
use std::fmt;

/// Who may call the authenticated routes.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Everyone: no token needed. Only for local demos and tests.
    Open,
    /// Callers presenting `authorization: Bearer <token>` with this token
    /// (kept as its SHA-256 digest; build it with [`Auth::bearer`]).
    Bearer(TokenDigest),
    /// No one: no token is configured, so the authenticated routes are
    /// disabled (read-only routes still work).
    Deny,
}

/// The SHA-256 digest of an API token. Its `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Constant-time equality of two digests.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Open => f.write_str("Open"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Deny => f.write_str("Deny"),
        }
    }
}

impl Auth {
    /// Bearer authentication with `token`; an empty token denies everyone
    /// rather than accepting an empty credential.
    pub fn bearer(token: &str) -> Auth {
        if token.is_empty() {
            Auth::Deny
        } else {
            Auth::Bearer(TokenDigest::of(token))
        }
    }

    /// Checks `req`: `Ok(())` when allowed, otherwise the 401 or 403 JSON
    /// error to send.
    pub fn check(&self, req: &ApiRequest) -> Result<(), ApiResponse> {
        self.check_authorization(req.header("authorization"))
    }

    /// [`Auth::check`] on the value of the `authorization` header alone.
    pub fn check_authorization(&self, value: Option<&str>) -> Result<(), ApiResponse> {
        let expected = match self {
            Auth::Open => return Ok(()),
            Auth::Deny => return Err(ApiResponse::error(
                403,
                "forbidden",
                "this sentinel has no API token configured, so authenticated routes are disabled",
            )),
            Auth::Bearer(d) => d,
        };
        let Some(value) = value else {
            return Err(unauthorized(
                "this route needs `authorization: Bearer <token>`",
            ));
        };
        let value = value.trim();
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => {
                return Err(unauthorized(
                    "the authorization header must use the Bearer scheme",
                ))
            }
        };
        if token.is_empty() {
            return Err(unauthorized("the bearer token is empty"));
        }
        if expected.matches(&TokenDigest::of(token)) {
            Ok(())
        } else {
            Err(ApiResponse::error(
                403,
                "forbidden",
                "the bearer token is not valid for this sentinel",
            ))
        }
    }
}

fn unauthorized(message: &str) -> ApiResponse {
    ApiResponse::error(401, "unauthorized", message)
        .header("www-authenticate", "Bearer realm=\"bookkeeper-sentinel\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(v: Option<&str>) -> ApiRequest {
        let mut r = ApiRequest::new("GET", "/v1/observations");
        if let Some(v) = v {
            r.headers.push(("Authorization".into(), v.into()));
        }
        r
    }

    #[test]
    fn bearer_tokens_are_checked() {
        let a = Auth::bearer("s3cret-token");
        assert!(a.check(&with_auth(Some("Bearer s3cret-token"))).is_ok());
        assert!(a.check(&with_auth(Some("bearer  s3cret-token "))).is_ok());
        let missing = a.check(&with_auth(None)).unwrap_err();
        assert_eq!(missing.status, 401);
        assert!(missing
            .get_header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")));
        assert_eq!(
            a.check(&with_auth(Some("Basic czNjcmV0")))
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(a.check(&with_auth(Some("Bearer"))).unwrap_err().status, 401);
        let wrong = a
            .check(&with_auth(Some("Bearer s3cret-tokem")))
            .unwrap_err();
        assert_eq!(wrong.status, 403);
        assert!(!wrong.body_text().contains("s3cret"));
        assert_eq!(
            Auth::Deny
                .check(&with_auth(Some("Bearer x")))
                .unwrap_err()
                .status,
            403
        );
        assert!(Auth::Open.check(&with_auth(None)).is_ok());
        assert_eq!(Auth::bearer(""), Auth::Deny);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let a = Auth::bearer("s3cret-token");
        let dbg = format!("{a:?}");
        assert_eq!(dbg, "Bearer(<redacted>)");
    }
}
