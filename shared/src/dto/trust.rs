//! The `trust` tag: what `GET /v1/attestations/{id}` tells while no
//! on-chain attestation is configured.

use super::common::{Score, Timestamp};
use crate::lifecycle::TrustLevel;
use crate::ProviderId;
use serde::{Deserialize, Serialize};

/// `404 not-attested` details of `GET /v1/attestations/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotAttested {
    /// The provider.
    pub provider: ProviderId,
    /// Its trust level.
    pub trust: TrustLevel,
    /// Its reputation total.
    pub total: Score,
    /// How much history backs it.
    pub confidence: Score,
    /// On-chain attestation valid until, if one was ever recorded.
    pub attested_until: Option<Timestamp>,
    /// The record this sentinel would sign for the current epoch
    /// ([`crate::attest`]), and the evidence behind it.
    pub record: Option<RecordDto>,
    /// The evidence report the record's `evidence_hash` commits to.
    pub evidence: Option<EvidenceDto>,
    /// How anchoring goes (`null`: no `[chain]` configured).
    pub anchoring: Option<AnchoringDto>,
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// An attestation record, as the contract stores and checks it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordDto {
    /// The provider id.
    pub provider: ProviderId,
    /// `keccak256(id)`: the record's `provider` word.
    pub provider_hash: String,
    /// Reputation total at the epoch's start, basis points.
    pub score_bps: u16,
    /// 0 untrusted, 1 testing, 2 trusted, 3 verified.
    pub trust: u8,
    /// Hours since the Unix epoch.
    pub epoch: u64,
    /// Valid until, Unix seconds.
    pub expiry: u64,
    /// keccak256 of the evidence report's canonical bytes.
    pub evidence_hash: String,
}

impl RecordDto {
    /// The DTO of `r`.
    pub fn of(r: &crate::attest::Record) -> RecordDto {
        RecordDto {
            provider: r.provider.clone(),
            provider_hash: hex(&r.provider_hash()),
            score_bps: r.score_bps,
            trust: r.trust,
            epoch: r.epoch,
            expiry: r.expiry_s,
            evidence_hash: hex(&r.evidence),
        }
    }
}

/// The evidence behind a record: what anyone needs to recompute its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceDto {
    /// The report (component scores and their integer inputs).
    pub report: crate::attest::Evidence,
    /// Its canonical bytes (postcard), hex: keccak256 of them is the
    /// record's `evidence_hash`.
    pub bytes: String,
}

impl EvidenceDto {
    /// The DTO of `e`.
    pub fn of(e: &crate::attest::Evidence) -> EvidenceDto {
        EvidenceDto {
            report: e.clone(),
            bytes: hex(&e.to_bytes()),
        }
    }
}

/// A record this sentinel saw land on chain, with the evidence its hash
/// commits to (frozen when it landed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnchoredDto {
    /// The record as anchored.
    pub record: RecordDto,
    /// Its evidence.
    pub evidence: EvidenceDto,
    /// The transaction (`0x…`).
    pub tx: String,
    /// Its block.
    pub block: u64,
    /// When this sentinel saw its receipt.
    pub seen: Timestamp,
}

impl AnchoredDto {
    /// The DTO of `a`.
    pub fn of(a: &crate::chain::Anchored) -> AnchoredDto {
        AnchoredDto {
            record: RecordDto::of(&a.record),
            evidence: EvidenceDto::of(&a.evidence),
            tx: hex(&a.tx),
            block: a.block,
            seen: Timestamp::at(a.at),
        }
    }
}

/// How anchoring goes on this sentinel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnchoringDto {
    /// The chain's id.
    pub chain_id: u64,
    /// The contract.
    pub contract: String,
    /// The transaction in flight: what it does and its hash.
    pub pending: Option<PendingTxDto>,
    /// The last attempt's outcome.
    pub last: Option<AttemptDto>,
    /// Transactions landed, the gas they used and their cost in wei.
    pub landed: u64,
    /// Gas used in all.
    pub gas_used: u64,
    /// Wei spent in all (a decimal string: it can exceed 2^53).
    pub wei_spent: String,
}

/// A transaction in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingTxDto {
    /// What it does.
    pub what: String,
    /// Its nonce.
    pub nonce: u64,
    /// The newest version's hash.
    pub tx: String,
    /// Versions sent (replacements with higher fees).
    pub versions: usize,
    /// When it was first signed.
    pub since: Timestamp,
}

/// The outcome of an anchoring step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptDto {
    /// When.
    pub at: Timestamp,
    /// Whether it went as it should.
    pub ok: bool,
    /// What happened.
    pub what: String,
}

impl AnchoringDto {
    /// The DTO of the engine's anchoring, if `[chain]` is configured.
    pub fn of(engine: &crate::Engine) -> Option<AnchoringDto> {
        let chain = engine.config().chain.as_ref()?;
        let st = &engine.state().anchoring;
        Some(AnchoringDto {
            chain_id: chain.chain_id,
            contract: chain.contract.clone(),
            pending: st.pending.as_ref().map(|p| PendingTxDto {
                what: p.kind.describe(),
                nonce: p.nonce,
                tx: hex(&p.hash()),
                versions: p.hashes.len(),
                since: Timestamp::at(p.first_at),
            }),
            last: st.last.as_ref().map(|a| AttemptDto {
                at: Timestamp::at(a.at),
                ok: a.ok,
                what: a.what.clone(),
            }),
            landed: st.landed,
            gas_used: st.gas_used,
            wei_spent: st.wei_spent.to_string(),
        })
    }
}

/// `GET /v1/attestations/{id}` when a record of the provider was
/// anchored by this sentinel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attestation {
    /// The provider.
    pub provider: ProviderId,
    /// Its trust level now.
    pub trust: TrustLevel,
    /// Its reputation total now.
    pub total: Score,
    /// The last record anchored, with its evidence and transaction.
    pub anchored: AnchoredDto,
    /// The record this sentinel would sign for the current epoch.
    pub record: Option<RecordDto>,
    /// Its evidence.
    pub evidence: Option<EvidenceDto>,
    /// How anchoring goes.
    pub anchoring: Option<AnchoringDto>,
}
