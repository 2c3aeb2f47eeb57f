//! Two clouds, one view: peer sentinels and their quorum
//! (`../DESIGN.md` section 7).
//!
//! A sentinel on Cloudflare and one on AWS probe the same providers from
//! different networks. Each also checks its peers (`GET /healthz`) and
//! reads their recent observations (`GET /v1/observations`, authenticated
//! both ways: [`auth`]) at every tick, within its probe budget. From them
//! it keeps, per peer, the peer's own health (like a provider's: a streak,
//! an outage start, an uptime count) and each provider's latest state *as
//! seen from there* ([`view::VantageView`]), and the peer's routes.
//!
//! # The quorum
//!
//! A provider failing its probes here is declared failed — its lifecycle
//! moved to `failed`, traffic switched away — only when the vantages that
//! can see it agree ([`quorum::judge`]):
//!
//! - a peer that is up and probed the provider *after* this sentinel's
//!   failures began votes with what it saw: down agrees, up disagrees;
//! - a failure needs a strict majority of the voting vantages, this one
//!   included: with two sentinels, one seeing it up holds the decision
//!   (`local-only`: the problem is on this vantage's path, alerted as
//!   `vantage:<provider>`, and the provider is neither failed nor switched
//!   away from);
//! - a peer that has not probed it since waits the decision for at most
//!   two probe intervals (plus the cron period), then abstains;
//! - a peer that is down (its health check failed `peer_down_after` times
//!   in a row) abstains: the sentinel acts alone, alerts
//!   `peer-down:<peer>`, and audits each decision taken alone;
//! - with every peer down and most providers failing at once, the likelier
//!   explanation is this sentinel's own network: it alerts `isolated` and
//!   acts on none of it.
//!
//! This is the rule of multi-location checks (Amazon Route 53 health
//! checkers vote across regions before an endpoint is unhealthy; Cloudflare
//! Load Balancing monitors from several data centers): one vantage's bad
//! network never moves everyone's traffic. Bad data (wrong chain, failed
//! business rule) is not put to a vote: it is the provider's answer, not
//! the path to it.
//!
//! # Reconciling
//!
//! Each sentinel publishes its routes with its observations. A peer's
//! route decided later than ours (ties to the smaller sentinel id) is
//! adopted when its provider is not failing here: after a sentinel acted
//! alone while its peer was down, the returning peer takes its decision,
//! and both route the same way again. The rule is a deterministic
//! last-writer-wins join, so both ends converge whatever the order in
//! which they read each other.

pub mod auth;
pub mod exchange;
pub mod quorum;
pub mod view;

/// The header every probe carries: the id of the sentinel sending it.
pub const VANTAGE_HEADER: &str = "x-sentinel-vantage";

pub use auth::PeerSecret;
pub use quorum::Verdict;
pub use view::{PeerHealth, PeerRoute, PeerState, Peering, VantageView};

/// The environment variable holding the secret shared with peer `id`:
/// `SENTINEL_PEER_SECRET_<ID>` (upper case, every other character `_`).
/// `SENTINEL_PEER_SECRET` serves every peer without one of its own.
pub fn secret_var(id: &crate::SentinelId) -> String {
    let tail: String = id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SENTINEL_PEER_SECRET_{tail}")
}

/// The shared fallback variable, see [`secret_var`].
pub const SECRET_VAR: &str = "SENTINEL_PEER_SECRET";

/// Reads every configured peer's secret through `lookup` (an environment
/// or a platform's secret store). A peer without one is an error naming
/// the variables to set.
pub fn secrets_from(
    config: &crate::config::Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(crate::SentinelId, PeerSecret)>, String> {
    let mut out = Vec::new();
    for p in &config.peers {
        let own = secret_var(&p.id);
        let raw = lookup(&own)
            .filter(|s| !s.trim().is_empty())
            .or_else(|| lookup(SECRET_VAR).filter(|s| !s.trim().is_empty()))
            .ok_or_else(|| {
                format!(
                    "peer `{}` has no shared secret: set {own} (or {SECRET_VAR}) to the secret both sentinels share",
                    p.id
                )
            })?;
        let secret = PeerSecret::new(&raw).map_err(|e| format!("{own}: {e}"))?;
        out.push((p.id.clone(), secret));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables_are_named_after_the_peer() {
        let id = crate::SentinelId::new("aws-lambda.eu").unwrap();
        assert_eq!(secret_var(&id), "SENTINEL_PEER_SECRET_AWS_LAMBDA_EU");
    }
}
