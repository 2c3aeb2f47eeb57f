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
