//! Checking a proxied answer before the client gets it.
//!
//! The seed asks for quality validation on every request; probes alone let
//! stale, wrong and skewed answers through for a few probe intervals
//! before the switch. Where a service's checks apply to a proxied answer,
//! the answer is checked, and a failing one is retried on the next
//! provider (when the request is safe to repeat) and counted as bad data:
//!
//! - **EVM JSON-RPC** (a single call or a batch): `eth_chainId` must be the
//!   configured chain (`wrong-chain`); the block number of
//!   `eth_blockNumber` and of `eth_getBlockByNumber("latest")` must be
//!   within `max_lag_blocks` of the best head the service's providers
//!   reported at their last probes (`lagging`) — the probes are at most an
//!   interval old, so the true head can only be higher; and the latest
//!   block must be younger than `max_block_age` (`stale`), unless the
//!   whole chain is not moving (then every provider is equally old, see
//!   `chain_stale_since`). Other methods pass untouched.
//! - **API services**: a `GET` of the path the service is probed on is
//!   judged by the same schema, assertions and freshness checks as the
//!   probe.
//!
//! Only `2xx` answers are judged (an error answer is already failed over).
//! The cost is one JSON parse of the request and, when it names a checked
//! method or path, one of the answer; see BENCHMARKS.md.

use super::{ProxyRequest, UpstreamResponse};
use crate::quality::{self, quantity, Check, FailReason};
use crate::time::UnixMillis;
use crate::{Engine, ProviderId};
use serde_json::Value;
use std::collections::BTreeMap;

/// Why an answer was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The failed check's category (`business`, `freshness`, `consistency`, `schema`).
    pub category: &'static str,
    /// The reason.
    pub reason: FailReason,
    /// For people.
    pub detail: String,
}

fn refuse(category: &'static str, reason: FailReason, detail: String) -> Option<Refused> {
    Some(Refused {
        category,
        reason,
        detail,
    })
}

/// Judges `resp`, the answer of `provider` to `req`; `None` when it passes
/// or nothing applies.
pub fn judge(
    engine: &Engine,
    provider: &ProviderId,
    req: &ProxyRequest,
    resp: &UpstreamResponse,
    now: UnixMillis,
) -> Option<Refused> {
    if !(200..300).contains(&resp.status) {
        return None;
    }
    let rt = engine.registry().provider(provider.as_str())?;
    let svc = engine.registry().service(&rt.service)?;
    if let Some(evm) = svc.config.evm.as_ref() {
        if req.method != http::Method::POST {
            return None;
        }
        return judge_evm(engine, &rt.service, evm, req, resp, now);
    }
    if rt.checks.is_empty() || req.method != http::Method::GET {
        return None;
    }
    let path = req.path_and_query.split('?').next().unwrap_or_default();
    let probed = rt.probe.path.split('?').next().unwrap_or_default();
    if path.trim_end_matches('/') != probed.trim_end_matches('/') {
        return None;
    }
    let ev = quality::evaluate(&rt.checks, &resp.body, now);
    let v = ev.verdict;
    [
        ("schema", v.schema),
        ("business", v.business),
        ("freshness", v.freshness),
    ]
    .into_iter()
    .find_map(|(cat, c)| match c {
        Check::Fail(r) => Some(Refused {
            category: cat,
            reason: r,
            detail: ev.detail.clone().unwrap_or_else(|| r.to_string()),
        }),
        _ => None,
    })
}

/// What the checked methods of a JSON-RPC request are, by call id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Checked {
    ChainId,
    BlockNumber,
    LatestBlock,
}

fn checked(call: &Value) -> Option<(String, Checked)> {
    let id = call.get("id")?.to_string();
    let method = call.get("method")?.as_str()?;
    let kind = match method {
        "eth_chainId" => Checked::ChainId,
        "eth_blockNumber" => Checked::BlockNumber,
        "eth_getBlockByNumber"
            if call
                .get("params")
                .and_then(|p| p.get(0))
                .and_then(Value::as_str)
                == Some("latest") =>
        {
            Checked::LatestBlock
        }
        _ => return None,
    };
    Some((id, kind))
}

fn judge_evm(
    engine: &Engine,
    service: &crate::ServiceId,
    evm: &quality::EvmChecks,
    req: &ProxyRequest,
    resp: &UpstreamResponse,
    now: UnixMillis,
) -> Option<Refused> {
    let request: Value = serde_json::from_slice(&req.body).ok()?;
    let calls: BTreeMap<String, Checked> = match &request {
        Value::Array(cs) => cs.iter().filter_map(checked).collect(),
        c => checked(c).into_iter().collect(),
    };
    if calls.is_empty() {
        return None;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(&resp.body) else {
        return refuse(
            "schema",
            FailReason::NotJson,
            "the JSON-RPC answer is not JSON".into(),
        );
    };
    let answers: Vec<&Value> = match &answer {
        Value::Array(a) => a.iter().collect(),
        a => vec![a],
    };
    let best = best_head(engine, service, now);
    let chain_moving = engine
        .state()
        .services
        .get(service)
        .is_none_or(|s| s.chain_stale_since.is_none());
    for a in answers {
        let Some(kind) = a.get("id").and_then(|id| calls.get(&id.to_string())) else {
            continue;
        };
        let Some(result) = a.get("result") else {
            continue; // an error object is the client's to read
        };
        match kind {
            Checked::ChainId => {
                if let (Some(want), Some(got)) = (evm.chain_id, quantity(result)) {
                    if want != got {
                        return refuse(
                            "business",
                            FailReason::WrongChain,
                            format!("eth_chainId answered {got}, expected {want}"),
                        );
                    }
                }
            }
            Checked::BlockNumber => {
                if let Some(r) = lag(quantity(result), best, evm) {
                    return Some(r);
                }
            }
            Checked::LatestBlock => {
                let number = result.get("number").and_then(quantity);
                if let Some(r) = lag(number, best, evm) {
                    return Some(r);
                }
                let ts = result.get("timestamp").and_then(quantity);
                if let (Some(ts), true) = (ts, chain_moving) {
                    let (c, d) =
                        quality::age_check(ts.saturating_mul(1000), now, evm.max_block_age);
                    if let Check::Fail(r) = c {
                        return refuse(
                            "freshness",
                            r,
                            format!(
                                "latest block {}: {}",
                                number.unwrap_or_default(),
                                d.unwrap_or_default()
                            ),
                        );
                    }
                }
            }
        }
    }
    None
}

fn lag(number: Option<u64>, best: Option<u64>, evm: &quality::EvmChecks) -> Option<Refused> {
    let (n, b) = (number?, best?);
    (b.saturating_sub(n) > evm.max_lag_blocks).then(|| Refused {
        category: "consistency",
        reason: FailReason::Lagging,
        detail: format!(
            "block {n} is {} behind the best head {b} the providers reported",
            b - n
        ),
    })
}

/// The highest head the service's providers reported within the last
/// two probe intervals, on the configured (or plurality) chain.
fn best_head(engine: &Engine, service: &crate::ServiceId, now: UnixMillis) -> Option<u64> {
    let svc = engine.registry().service(service.as_str())?;
    let window = svc.config.probe_interval.as_ms().saturating_mul(2);
    let want = svc.config.evm.as_ref().and_then(|e| e.chain_id);
    svc.providers
        .iter()
        .filter_map(|p| engine.state().providers.get(p))
        .filter_map(|ps| ps.facts.as_ref())
        .filter(|(at, _)| at.saturating_add(window) >= now)
        .filter_map(|(_, f)| f.evm.as_ref())
        .filter(|h| want.is_none_or(|w| w == h.chain_id))
        .map(|h| h.number)
        .max()
}
