//! Per-service proxy settings (`[service.proxy]`).
//!
//! - `access`: who may send requests through `/proxy/{service}/…`.
//!   `"public"`: anyone; `"token"`: callers presenting a proxy token (or
//!   the admin token) as `authorization: Bearer …`. The default, `"auto"`,
//!   is `"token"` when any provider of the service carries sealed
//!   credentials (an anonymous caller must not spend the operator's API
//!   keys) and `"public"` otherwise.
//! - `hedge`: ask a second provider when the first has not answered within
//!   its p95, for requests that are safe to repeat (default on; Dean &
//!   Barroso, "The Tail at Scale", 2013).

use serde::{Deserialize, Serialize};

/// Who may use a service's proxy route.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// `token` when a provider carries sealed credentials, else `public`.
    #[default]
    Auto,
    /// Anyone.
    Public,
    /// A proxy token or the admin token.
    Token,
}

/// `[service.proxy]`; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySettings {
    /// Who may use the proxy route. Default `auto`.
    #[serde(default)]
    pub access: Access,
    /// Hedge requests that are safe to repeat. Default `true`.
    #[serde(default = "yes")]
    pub hedge: bool,
}

fn yes() -> bool {
    true
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            access: Access::Auto,
            hedge: true,
        }
    }
}
