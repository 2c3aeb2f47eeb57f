//! Attestation records: what a sentinel would sign about a provider for
//! one epoch, derived only from the evidence in its state, in integers.
//!
//! Two sentinels holding the same evidence derive byte-identical records
//! (no float, no clock read, no sentinel id in them), so each can sign
//! the same record and a contract can count their signatures toward a
//! quorum (`../DESIGN.md` sections 7 and 9).
//!
//! A record is `(provider, score in basis points, trust level, epoch,
//! expiry, evidence hash)`:
//!
//! - the **epoch** is the hour (`now / 3_600_000`): the score is the
//!   reputation computed at the epoch's start, so every moment of the hour
//!   derives the same record from the same state;
//! - the **expiry** is the end of the epoch after next (two hours of
//!   validity: a record is refreshed every hour, and one missed refresh
//!   does not leave a verified provider unattested);
//! - the **evidence hash** is SHA-256 over the canonical encoding (postcard)
//!   of the provider, the epoch and each component's score and integer
//!   inputs: the report behind the score, which the API serves so anyone
//!   can recompute it.
//!
//! [`Record::encode`] is the canonical byte form: six 32-byte big-endian
//! words, as Solidity's `abi.encode` lays out `(bytes32 providerHash,
//! uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bytes32
//! evidence)`.

use crate::lifecycle::TrustLevel;
use crate::reputation::{Component, Reputation};
use crate::time::{UnixMillis, HOUR};
use crate::ProviderId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of an epoch (one hour).
pub const EPOCH_MS: u64 = HOUR;

/// The epoch of `now`.
pub fn epoch_of(now: UnixMillis) -> u64 {
    now / EPOCH_MS
}

/// One attestation record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The provider.
    pub provider: ProviderId,
    /// Its reputation total at the epoch's start, basis points.
    pub score_bps: u16,
    /// Its trust level (0 untrusted, 1 testing, 2 trusted, 3 verified).
    pub trust: u8,
    /// The epoch (hours since the Unix epoch).
    pub epoch: u64,
    /// Valid until (Unix seconds).
    pub expiry_s: u64,
    /// SHA-256 of the evidence report.
    pub evidence: [u8; 32],
}

/// One component of the evidence: name, score in basis points (`None`:
/// no data) and the integer inputs it was computed from.
pub type ComponentEvidence = (String, Option<u16>, Vec<(String, u64)>);

/// The evidence behind a record, as hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The provider.
    pub provider: ProviderId,
    /// The epoch.
    pub epoch: u64,
    /// Per component (uptime, data quality, performance, cost,
    /// reliability): its score in basis points (`None`: no data) and the
    /// integer inputs it was computed from.
    pub components: Vec<ComponentEvidence>,
    /// The decision total and its confidence, basis points.
    pub total: u16,
    /// Confidence, basis points.
    pub confidence: u16,
}

impl Evidence {
    /// The evidence of `rep` for `provider` in `epoch`.
    pub fn of(provider: &ProviderId, epoch: u64, rep: &Reputation) -> Evidence {
        let comp = |name: &str, c: &Component| {
            (
                name.to_string(),
                c.score.map(|s| s.get()),
                c.inputs.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            )
        };
        Evidence {
            provider: provider.clone(),
            epoch,
            components: vec![
                comp("uptime", &rep.uptime),
                comp("data_quality", &rep.data_quality),
                comp("performance", &rep.performance),
                comp("cost", &rep.cost),
                comp("reliability", &rep.reliability),
            ],
            total: rep.total.get(),
            confidence: rep.confidence.get(),
        }
    }

    /// Its canonical bytes (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// SHA-256 of [`Evidence::to_bytes`].
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }
}

fn trust_code(t: TrustLevel) -> u8 {
    match t {
        TrustLevel::Untrusted => 0,
        TrustLevel::Testing => 1,
        TrustLevel::Trusted => 2,
        TrustLevel::Verified => 3,
    }
}

impl Record {
    /// The record of `rep` (computed at the epoch's start) with `trust`.
    pub fn new(provider: &ProviderId, epoch: u64, rep: &Reputation, trust: TrustLevel) -> Record {
        let evidence = Evidence::of(provider, epoch, rep);
        Record {
            provider: provider.clone(),
            score_bps: rep.total.get(),
            trust: trust_code(trust),
            epoch,
            expiry_s: (epoch + 2).saturating_mul(EPOCH_MS) / 1000,
            evidence: evidence.hash(),
        }
    }

    /// Six 32-byte big-endian words (see the module docs); the provider
    /// word is SHA-256 of its id.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 * 32);
        out.extend_from_slice(&Sha256::digest(self.provider.as_str().as_bytes()));
        for v in [
            u64::from(self.score_bps),
            u64::from(self.trust),
            self.epoch,
            self.expiry_s,
        ] {
            out.extend_from_slice(&[0u8; 24]);
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.evidence);
        out
    }
}

impl crate::Engine {
    /// The record this sentinel would sign for `id` in the epoch of
    /// `now`: the reputation at the epoch's start, from the state's
    /// evidence only.
    pub fn attestation_record(&self, id: &ProviderId, now: UnixMillis) -> Option<Record> {
        let epoch = epoch_of(now);
        let at = epoch.saturating_mul(EPOCH_MS);
        let rep = self.reputation(id, at)?;
        let trust = crate::lifecycle::trust_level(
            rep.total,
            self.state().providers.get(id)?.attested_until,
            at,
            &self.config().policy.trust,
        );
        Some(Record::new(id, epoch, &rep, trust))
    }
}
