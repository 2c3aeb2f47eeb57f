//! The `peers` tag: this sentinel's peers (`GET /v1/peers`), and each
//! vantage's view of one provider with the quorum's verdict (in
//! `GET /v1/providers/{id}`). See [`crate::peer`].

use super::common::Timestamp;
use crate::peer::Verdict;
use crate::time::UnixMillis;
use crate::{Engine, ProviderId, SentinelId};
use serde::{Deserialize, Serialize};

/// One vantage's view of a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageDto {
    /// The sentinel.
    pub sentinel: SentinelId,
    /// Whether it is the sentinel answering.
    #[serde(rename = "self")]
    pub own: bool,
    /// Whether it can be heard now (always, for this one).
    pub reachable: bool,
    /// `up`, `down` or `unknown` (nothing seen yet).
    pub status: String,
    /// When it probed it last.
    pub at: Option<Timestamp>,
    /// How it failed, when it did (`refused`, `timeout`, `http-503`…).
    pub cause: Option<String>,
}

/// The quorum's verdict on a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumDto {
    /// `healthy`, `confirmed`, `local-only`, `waiting`, `alone` or
    /// `isolated`.
    pub verdict: String,
    /// The verdict in words.
    pub sentence: String,
}

/// Every vantage's view of `id`, this sentinel first.
pub fn vantages(engine: &Engine, id: &ProviderId) -> Vec<VantageDto> {
    engine
        .vantages(id)
        .into_iter()
        .map(|v| VantageDto {
            sentinel: v.sentinel,
            own: v.own,
            reachable: v.reachable,
            status: match v.up {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            }
            .into(),
            at: v.at.map(Timestamp::at),
            cause: v.cause,
        })
        .collect()
}

/// The quorum's verdict on `id`.
pub fn quorum(engine: &Engine, id: &ProviderId) -> QuorumDto {
    let verdict = engine.verdict(id);
    let peers = engine.config().peers.len();
    let sentence = match verdict {
        Verdict::Healthy if peers == 0 => {
            "not failing; this sentinel has no peers, so it decides alone".to_string()
        }
        Verdict::Healthy => "not failing from this sentinel".to_string(),
        Verdict::Confirmed if peers == 0 => "failing; a single sentinel decides alone".into(),
        Verdict::Confirmed => "failing, and the peers that can see it agree: acted on".into(),
        Verdict::LocalOnly => "failing from this sentinel only: a peer sees it answer, so it is not failed nor switched away from".into(),
        Verdict::Waiting => "failing from this sentinel; waiting (at most two probe intervals) for a peer to probe it".into(),
        Verdict::Alone => "failing, and no peer can confirm or deny it (down, or not probing it): acted on alone".into(),
        Verdict::Isolated => "failing, but this sentinel reaches none of its peers and few providers: it suspects its own network and does not act".into(),
    };
    QuorumDto {
        verdict: verdict.name().into(),
        sentence,
    }
}

/// One peer, as `GET /v1/peers` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerDto {
    /// Its sentinel id.
    pub id: SentinelId,
    /// Its base URL.
    pub url: String,
    /// `up`, `down` (failed `peer_down_after` checks in a row) or
    /// `unknown` (not checked yet, or failing fewer times).
    pub status: String,
    /// Its last good health check.
    pub last_ok: Option<Timestamp>,
    /// Since when it fails, while it does.
    pub down_since: Option<Timestamp>,
    /// Why its last check failed, while it does.
    pub cause: Option<String>,
    /// Health-check uptime over the checks made, in percent (`null`: none
    /// yet).
    pub uptime: Option<String>,
    /// Round-trip time of its last good check, ms.
    pub latency_ms: u32,
    /// When its observations were last read.
    pub last_read: Option<Timestamp>,
    /// Why the last read failed, while it does.
    pub read_error: Option<String>,
    /// Observations read from it so far.
    pub observations_read: u64,
    /// Providers it has a view of.
    pub providers_seen: usize,
}

/// `GET /v1/peers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerList {
    /// The sentinel answering.
    pub sentinel: SentinelId,
    /// Whether it suspects its own network ([`Verdict::Isolated`]).
    pub isolated: bool,
    /// Its configured peers.
    pub peers: Vec<PeerDto>,
}

impl PeerList {
    /// Builds the list.
    pub fn build(engine: &Engine, _now: UnixMillis) -> PeerList {
        let st = &engine.state().peering;
        let after = engine.config().quorum.peer_down_after;
        let peers = engine
            .config()
            .peers
            .iter()
            .map(|cfg| {
                let p = st.peers.get(&cfg.id).cloned().unwrap_or_default();
                let status = if p.is_down(after) {
                    "down"
                } else if p.is_up() {
                    "up"
                } else {
                    "unknown"
                };
                PeerDto {
                    id: cfg.id.clone(),
                    url: cfg.url.clone(),
                    status: status.into(),
                    last_ok: p.health.last_ok.map(Timestamp::at),
                    down_since: p.health.down_since.map(Timestamp::at),
                    cause: p.health.cause.clone(),
                    uptime: (p.health.checks > 0).then(|| {
                        let bp = p.health.ok.saturating_mul(10_000) / p.health.checks;
                        format!("{}.{:02}", bp / 100, bp % 100)
                    }),
                    latency_ms: p.health.latency_ms,
                    last_read: p.last_read.map(Timestamp::at),
                    read_error: p.read_error.clone(),
                    observations_read: p.observations_read,
                    providers_seen: p.views.len(),
                }
            })
            .collect();
        PeerList {
            sentinel: engine.config().sentinel.id.clone(),
            isolated: st.isolated,
            peers,
        }
    }
}
