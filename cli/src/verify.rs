//! `sentinel verify`: whether a provider's on-chain attestation holds,
//! checked by anyone, trusting neither this sentinel's API nor its store.
//!
//! 1. The chain is read over plain JSON-RPC: `eth_chainId`,
//!    `SentinelTrust.latest(keccak256(id))` and `isVerified(…)` by
//!    `eth_call`, and the newest `Attested` event of the provider by
//!    `eth_getLogs` (the event carries the evidence hash; storage keeps
//!    only what queries need).
//! 2. With `--sentinel URL`, the evidence report is fetched from
//!    `GET /v1/attestations/{id}`: its canonical bytes must hash (keccak256)
//!    to the event's evidence hash, and the report's total must be the
//!    score on chain. A report for another epoch than the anchored one
//!    cannot be checked, and is said to be so: asked to check the
//!    evidence, `verify` does not say an attestation holds without it.
//!
//! The answer is one plain sentence per check and a verdict: `holds` or
//! `does not hold`, with why.

use sentinel_core::api::dto::{EvidenceDto, RecordDto};
use sentinel_core::attest::keccak256;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// Time allowed per request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Blocks searched back for the provider's newest `Attested` event.
const LOG_RANGE: u64 = 100_000;

/// Errors that stop a check before it can conclude.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// An argument is not usable.
    #[error("{0}")]
    Arg(String),
    /// The RPC or the sentinel did not answer as expected.
    #[error("{0}")]
    Remote(String),
}

/// What to check.
#[derive(Clone, Debug)]
pub struct VerifyArgs {
    /// Provider id.
    pub provider: String,
    /// EVM JSON-RPC URL.
    pub rpc: String,
    /// Contract address (0x…).
    pub contract: String,
    /// A sentinel's API to fetch the evidence from.
    pub sentinel: Option<String>,
    /// The score `isVerified` is asked for (basis points).
    pub min_score: u16,
    /// The age `isVerified` is asked for (seconds).
    pub max_age_s: u64,
}

/// The outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the attestation holds.
    pub holds: bool,
    /// One line per check.
    pub lines: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().strip_prefix("0x").unwrap_or(s.trim());
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

fn selector(sig: &str) -> [u8; 4] {
    let h = keccak256(sig);
    [h[0], h[1], h[2], h[3]]
}

fn u64_of(w: &[u8]) -> Option<u64> {
    if w.len() != 32 || w[..24].iter().any(|b| *b != 0) {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&w[24..]);
    Some(u64::from_be_bytes(b))
}

struct Rpc {
    http: reqwest::Client,
    url: String,
}

impl Rpc {
    async fn call(&self, method: &str, params: Value) -> Result<Value, VerifyError> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                VerifyError::Remote(format!("the RPC at {} does not answer: {e}", self.url))
            })?;
        let bytes = resp.bytes().await.map_err(|e| {
            VerifyError::Remote(format!("the RPC's answer to {method} broke off: {e}"))
        })?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            VerifyError::Remote(format!("the RPC's answer to {method} is not JSON: {e}"))
        })?;
        if let Some(err) = v.get("error") {
            return Err(VerifyError::Remote(format!(
                "the RPC refused {method}: {err}"
            )));
        }
        v.get("result").cloned().ok_or_else(|| {
            VerifyError::Remote(format!("the RPC's answer to {method} has no result"))
        })
    }

    async fn eth_call(&self, to: &str, data: &[u8]) -> Result<Vec<u8>, VerifyError> {
        let r = self
            .call(
                "eth_call",
                json!([{ "to": to, "data": hex(data) }, "latest"]),
            )
            .await?;
        r.as_str()
            .and_then(unhex)
            .ok_or_else(|| VerifyError::Remote("eth_call returned no hex data".into()))
    }
}

/// Runs the checks.
pub async fn verify(args: &VerifyArgs) -> Result<Verdict, VerifyError> {
    let id = sentinel_core::ProviderId::new(args.provider.clone())
        .map_err(|e| VerifyError::Arg(format!("provider id: {e}")))?;
    let contract = unhex(&args.contract)
        .filter(|b| b.len() == 20)
        .ok_or_else(|| {
            VerifyError::Arg(format!(
                "`{}` is not a contract address (0x and 40 hex digits)",
                args.contract
            ))
        })?;
    let to = hex(&contract);
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| VerifyError::Remote(e.to_string()))?;
    let rpc = Rpc {
        http: http.clone(),
        url: args.rpc.clone(),
    };
    let provider = keccak256(id.as_str());
    let mut lines = Vec::new();
    let chain = rpc.call("eth_chainId", json!([])).await?;
    lines.push(format!(
        "chain {} · contract {to} · provider {id} = {}",
        chain.as_str().unwrap_or("?"),
        hex(&provider)
    ));

    // latest(bytes32) → (uint16, uint8, uint64, uint64, bool)
    let mut data = selector("latest(bytes32)").to_vec();
    data.extend_from_slice(&provider);
    let out = rpc.eth_call(&to, &data).await?;
    let words: Vec<Option<u64>> = out.chunks(32).map(u64_of).collect();
    let [Some(score), Some(trust), Some(epoch), Some(expiry), Some(revoked)] = words[..] else {
        return Err(VerifyError::Remote(format!(
            "latest() returned {} bytes, not five words: is {to} a SentinelTrust contract?",
            out.len()
        )));
    };
    if epoch == 0 {
        lines.push(format!("no record of {id} on chain"));
        return Ok(Verdict {
            holds: false,
            lines,
        });
    }
    lines.push(format!(
        "on chain: score {score} bps, trust {trust}, epoch {epoch}, valid until {expiry} (Unix s){}",
        if revoked != 0 { ", REVOKED" } else { "" }
    ));

    let mut data = selector("isVerified(bytes32,uint16,uint64)").to_vec();
    data.extend_from_slice(&provider);
    data.extend_from_slice(&word(u64::from(args.min_score)));
    data.extend_from_slice(&word(args.max_age_s));
    let verified = rpc
        .eth_call(&to, &data)
        .await?
        .chunks(32)
        .next()
        .and_then(u64_of)
        == Some(1);
    lines.push(format!(
        "isVerified(min score {}, max age {} s): {verified}",
        args.min_score, args.max_age_s
    ));
    let mut holds = verified;

    // The newest Attested event of this provider: its evidence hash.
    let topic = hex(&keccak256(
        "Attested(bytes32,uint16,uint8,uint64,uint64,bytes32)",
    ));
    let head = rpc
        .call("eth_blockNumber", json!([]))
        .await?
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let logs = rpc
        .call(
            "eth_getLogs",
            json!([{ "address": to, "fromBlock": format!("0x{:x}", head.saturating_sub(LOG_RANGE)), "toBlock": "latest", "topics": [topic, hex(&provider)] }]),
        )
        .await?;
    let event = logs
        .as_array()
        .and_then(|l| {
            l.iter()
                .rev()
                .find_map(|e| e.get("data")?.as_str().and_then(unhex))
        })
        .filter(|d| d.len() == 5 * 32);
    let Some(event) = event else {
        lines.push(format!(
            "no Attested event of {id} in the last {LOG_RANGE} blocks"
        ));
        return Ok(Verdict {
            holds: false,
            lines,
        });
    };
    let ev_epoch = u64_of(&event[64..96]).unwrap_or(0);
    let evidence_hash = &event[128..160];
    lines.push(format!(
        "anchored evidence hash {} (epoch {ev_epoch})",
        hex(evidence_hash)
    ));

    if let Some(base) = &args.sentinel {
        let url = format!("{}/v1/attestations/{id}", base.trim_end_matches('/'));
        let v = http
            .get(&url)
            .send()
            .await
            .map_err(|e| {
                VerifyError::Remote(format!("the sentinel at {base} does not answer: {e}"))
            })?
            .bytes()
            .await
            .map_err(|e| VerifyError::Remote(format!("{url}: the answer broke off: {e}")))?;
        let v: Value = serde_json::from_slice(&v)
            .map_err(|e| VerifyError::Remote(format!("{url} did not answer JSON: {e}")))?;
        // A sentinel that anchored the record serves it under `anchored`
        // with the evidence frozen when it landed; otherwise the record
        // it would sign now (in `error.details` of a 404).
        let details = v
            .get("anchored")
            .or_else(|| v.pointer("/error/details"))
            .unwrap_or(&v);
        let record: Option<RecordDto> = serde_json::from_value(details["record"].clone()).ok();
        let evidence: Option<EvidenceDto> =
            serde_json::from_value(details["evidence"].clone()).ok();
        match (record, evidence) {
            (Some(r), Some(e)) if r.epoch == ev_epoch => {
                let bytes = unhex(&e.bytes).unwrap_or_default();
                let ok_hash = keccak256(&bytes)[..] == *evidence_hash;
                let ok_bytes = bytes == e.report.to_bytes();
                let ok_score = u64::from(e.report.total) == score;
                lines.push(format!(
                    "evidence from {base}: keccak256 of its bytes {} the anchored hash; the report {} its bytes; its total {} bps {} the score on chain",
                    if ok_hash { "equals" } else { "DIFFERS FROM" },
                    if ok_bytes { "decodes to" } else { "DOES NOT MATCH" },
                    e.report.total,
                    if ok_score { "equals" } else { "DIFFERS FROM" },
                ));
                holds &= ok_hash && ok_bytes && ok_score;
            }
            (Some(r), Some(_)) => {
                lines.push(format!(
                    "the sentinel serves the evidence of epoch {}, not of the anchored epoch {ev_epoch}: the evidence cannot be checked",
                    r.epoch
                ));
                holds = false;
            }
            _ => {
                lines.push(format!(
                    "{url} serves no record and evidence: the evidence cannot be checked"
                ));
                holds = false;
            }
        }
    }
    lines.push(if holds {
        format!("{id}: the attestation holds")
    } else {
        format!("{id}: the attestation does not hold")
    });
    Ok(Verdict { holds, lines })
}
