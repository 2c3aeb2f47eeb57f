//! `sentinel verify`: whether a provider's on-chain attestation holds,
//! checked by anyone, trusting neither this sentinel's API nor its store.
//!
//! 1. The chain is read through alloy (not the core's own encoders: the
//!    verifier should not share code with what signed the records it
//!    checks): `eth_chainId`, `SentinelTrust.latest(keccak256(id))` and
//!    `isVerified(…)` by `eth_call`, and the newest `Attested` event of
//!    the provider by `eth_getLogs` (the event carries the evidence hash;
//!    storage keeps only what queries need).
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
use serde_json::Value;
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

alloy::sol! {
    /// What `verify` reads of `SentinelTrust` (contracts/src/SentinelTrust.sol).
    #[sol(rpc)]
    interface ISentinelTrust {
        function latest(bytes32 provider) external view
            returns (uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bool revoked);
        function isVerified(bytes32 provider, uint16 minScore, uint64 maxAge) external view returns (bool);
        event Attested(bytes32 indexed provider, uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bytes32 evidence);
    }
}

fn remote(what: &str, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Remote(format!("{what}: {e}"))
}

/// Runs the checks.
pub async fn verify(args: &VerifyArgs) -> Result<Verdict, VerifyError> {
    use alloy::primitives::{Address, B256};
    use alloy::providers::{Provider, ProviderBuilder};
    use alloy::rpc::types::{BlockNumberOrTag, Filter};
    use alloy::sol_types::SolEvent;

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
    let address = Address::from_slice(&contract);
    let url = args
        .rpc
        .parse()
        .map_err(|e| VerifyError::Arg(format!("`{}` is not an RPC URL: {e}", args.rpc)))?;
    let chain = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(url);
    let trust_contract = ISentinelTrust::new(address, &chain);
    let provider = keccak256(id.as_str());
    let word = B256::from(provider);
    let mut lines = Vec::new();
    let chain_id = tokio::time::timeout(TIMEOUT, chain.get_chain_id())
        .await
        .map_err(|_| VerifyError::Remote(format!("the RPC at {} does not answer", args.rpc)))?
        .map_err(|e| remote(&format!("the RPC at {} does not answer", args.rpc), e))?;
    lines.push(format!(
        "chain {chain_id} · contract {to} · provider {id} = {}",
        hex(&provider)
    ));

    let latest = tokio::time::timeout(TIMEOUT, trust_contract.latest(word).call())
        .await
        .map_err(|_| VerifyError::Remote("latest() did not answer in time".into()))?
        .map_err(|e| {
            remote(
                &format!("latest() at {to} (is it a SentinelTrust contract?)"),
                e,
            )
        })?;
    if latest.epoch == 0 {
        lines.push(format!("no record of {id} on chain"));
        return Ok(Verdict {
            holds: false,
            lines,
        });
    }
    let score = u64::from(latest.score);
    lines.push(format!(
        "on chain: score {score} bps, trust {}, epoch {}, valid until {} (Unix s){}",
        latest.trust,
        latest.epoch,
        latest.expiry,
        if latest.revoked { ", REVOKED" } else { "" }
    ));

    let verified = tokio::time::timeout(
        TIMEOUT,
        trust_contract
            .isVerified(word, args.min_score, args.max_age_s)
            .call(),
    )
    .await
    .map_err(|_| VerifyError::Remote("isVerified() did not answer in time".into()))?
    .map_err(|e| remote("isVerified()", e))?;
    lines.push(format!(
        "isVerified(min score {}, max age {} s): {verified}",
        args.min_score, args.max_age_s
    ));
    let mut holds = verified;

    // The newest Attested event of this provider: its evidence hash.
    let head = tokio::time::timeout(TIMEOUT, chain.get_block_number())
        .await
        .map_err(|_| VerifyError::Remote("eth_blockNumber did not answer in time".into()))?
        .map_err(|e| remote("eth_blockNumber", e))?;
    let filter = Filter::new()
        .address(address)
        .event_signature(ISentinelTrust::Attested::SIGNATURE_HASH)
        .topic1(word)
        .from_block(head.saturating_sub(LOG_RANGE))
        .to_block(BlockNumberOrTag::Latest);
    let logs = tokio::time::timeout(TIMEOUT, chain.get_logs(&filter))
        .await
        .map_err(|_| VerifyError::Remote("eth_getLogs did not answer in time".into()))?
        .map_err(|e| remote("eth_getLogs", e))?;
    let event = logs.iter().rev().find_map(|l| {
        l.log_decode::<ISentinelTrust::Attested>()
            .ok()
            .map(|d| d.inner.data)
    });
    let Some(event) = event else {
        lines.push(format!(
            "no Attested event of {id} in the last {LOG_RANGE} blocks"
        ));
        return Ok(Verdict {
            holds: false,
            lines,
        });
    };
    let ev_epoch = event.epoch;
    let evidence_hash: &[u8] = event.evidence.as_slice();
    lines.push(format!(
        "anchored evidence hash {} (epoch {ev_epoch})",
        hex(evidence_hash)
    ));

    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| VerifyError::Remote(e.to_string()))?;
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
