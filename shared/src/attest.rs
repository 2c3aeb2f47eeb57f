//! Attestation records: what a sentinel signs about a provider for one
//! epoch, derived only from the evidence in its state, in integers, and
//! their EIP-712 digests (EIP-712: "Typed structured data hashing and
//! signing") as the `SentinelTrust` contract (`contracts/`) checks them.
//!
//! Two sentinels holding the same evidence derive byte-identical records
//! (no float, no clock read, no sentinel id in them), so each can sign
//! the same batch digest and the contract counts their signatures toward
//! its quorum (`../DESIGN.md` sections 7 and 9).
//!
//! A record is `(provider, score in basis points, trust level, epoch,
//! expiry, evidence hash)`:
//!
//! - `provider` is `keccak256(id)`;
//! - the **epoch** is the hour (`now / 3_600_000`): the score is the
//!   reputation computed at the epoch's start, so every moment of the hour
//!   derives the same record from the same state;
//! - the **expiry** is the end of the epoch after next (two hours of
//!   validity: a record is refreshed every hour, and one missed refresh
//!   does not leave a verified provider unattested);
//! - the **evidence hash** is keccak256 over the canonical encoding
//!   (postcard) of the provider, the epoch and each component's score and
//!   integer inputs: the report behind the score, which the API serves so
//!   anyone can recompute it.
//!
//! The typed data, byte for byte as the contract hashes it:
//!
//! ```text
//! EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
//!   name "BookkeeperSentinel", version "1"
//! Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)
//! Batch(Record[] records)Record(...)     hashStruct = keccak256(typehash ‖ keccak256(‖ hashStruct(record_i)))
//! Revoke(bytes32 provider,uint64 epoch)
//! digest = keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct)
//! ```
//!
//! Signatures are secp256k1 ECDSA over the digest (RFC 6979 deterministic
//! nonces, so native and wasm32 sign byte-identically), `r ‖ s ‖ v` with
//! low `s` and `v` ∈ {27, 28}.

use crate::lifecycle::TrustLevel;
use crate::reputation::{Component, Reputation};
use crate::time::{UnixMillis, HOUR};
use crate::ProviderId;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

/// keccak256.
pub fn keccak256(data: impl AsRef<[u8]>) -> [u8; 32] {
    Keccak256::digest(data.as_ref()).into()
}

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
    /// keccak256 of the evidence report.
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
                c.inputs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
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

    /// keccak256 of [`Evidence::to_bytes`].
    pub fn hash(&self) -> [u8; 32] {
        keccak256(self.to_bytes())
    }
}

pub(crate) fn trust_code(t: TrustLevel) -> u8 {
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

    /// `keccak256(id)`, the record's `provider` word.
    pub fn provider_hash(&self) -> [u8; 32] {
        keccak256(self.provider.as_str())
    }

    /// The six 32-byte words of the record's data, as `abi.encode`
    /// lays out `(bytes32 provider, uint16 score, uint8 trust, uint64
    /// epoch, uint64 expiry, bytes32 evidence)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 * 32);
        out.extend_from_slice(&self.provider_hash());
        for v in [
            u64::from(self.score_bps),
            u64::from(self.trust),
            self.epoch,
            self.expiry_s,
        ] {
            out.extend_from_slice(&word(v));
        }
        out.extend_from_slice(&self.evidence);
        out
    }

    /// Its EIP-712 `hashStruct`.
    pub fn hash_struct(&self) -> [u8; 32] {
        let mut data = Vec::with_capacity(7 * 32);
        data.extend_from_slice(&keccak256(RECORD_TYPE));
        data.extend_from_slice(&self.encode());
        keccak256(data)
    }
}

/// The record type, as the contract declares it.
pub const RECORD_TYPE: &str =
    "Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)";
/// The batch type (with the record type it references appended).
pub const BATCH_TYPE: &str = "Batch(Record[] records)Record(bytes32 provider,uint16 score,uint8 trust,uint64 epoch,uint64 expiry,bytes32 evidence)";
/// The revocation type.
pub const REVOKE_TYPE: &str = "Revoke(bytes32 provider,uint64 epoch)";
const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/// The domain's name.
pub const DOMAIN_NAME: &str = "BookkeeperSentinel";
/// The domain's version.
pub const DOMAIN_VERSION: &str = "1";

fn word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// The EIP-712 domain of one deployed contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// The chain's id.
    pub chain_id: u64,
    /// The contract's address.
    pub contract: [u8; 20],
}

impl Domain {
    /// The domain separator.
    pub fn separator(&self) -> [u8; 32] {
        let mut data = Vec::with_capacity(5 * 32);
        data.extend_from_slice(&keccak256(DOMAIN_TYPE));
        data.extend_from_slice(&keccak256(DOMAIN_NAME));
        data.extend_from_slice(&keccak256(DOMAIN_VERSION));
        data.extend_from_slice(&word(self.chain_id));
        data.extend_from_slice(&[0u8; 12]);
        data.extend_from_slice(&self.contract);
        keccak256(data)
    }

    fn digest(&self, hash_struct: [u8; 32]) -> [u8; 32] {
        let mut data = Vec::with_capacity(66);
        data.extend_from_slice(&[0x19, 0x01]);
        data.extend_from_slice(&self.separator());
        data.extend_from_slice(&hash_struct);
        keccak256(data)
    }

    /// The digest the sentinels sign for a batch of records.
    pub fn batch_digest(&self, records: &[Record]) -> [u8; 32] {
        let mut hashes = Vec::with_capacity(records.len() * 32);
        for r in records {
            hashes.extend_from_slice(&r.hash_struct());
        }
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(&keccak256(BATCH_TYPE));
        data.extend_from_slice(&keccak256(hashes));
        self.digest(keccak256(data))
    }

    /// The digest the sentinels sign to revoke `provider` from `epoch`.
    pub fn revoke_digest(&self, provider: &ProviderId, epoch: u64) -> [u8; 32] {
        let mut data = Vec::with_capacity(96);
        data.extend_from_slice(&keccak256(REVOKE_TYPE));
        data.extend_from_slice(&keccak256(provider.as_str()));
        data.extend_from_slice(&word(epoch));
        self.digest(keccak256(data))
    }
}

/// Why a key or a signature is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key is not a valid secp256k1 secret key.
    #[error(
        "not a secp256k1 secret key (32 bytes, 64 hex digits, nonzero and below the curve order)"
    )]
    BadKey,
    /// Signing failed.
    #[error("signing failed")]
    Sign,
    /// The signature does not recover.
    #[error("the signature is malformed or does not recover a signer")]
    BadSignature,
}

/// A sentinel's signing key (secp256k1). Prints as `<redacted>`.
#[derive(Clone)]
pub struct Signer(k256::ecdsa::SigningKey);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", hex(&self.address()))
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

impl Signer {
    /// A signer from 32 secret bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Signer, SignError> {
        k256::ecdsa::SigningKey::from_bytes(bytes.into())
            .map(Signer)
            .map_err(|_| SignError::BadKey)
    }

    /// A signer from 64 hex digits (an optional `0x` first).
    pub fn from_hex(s: &str) -> Result<Signer, SignError> {
        let s = s.trim();
        let s = s.strip_prefix("0x").unwrap_or(s);
        if s.len() != 64 {
            return Err(SignError::BadKey);
        }
        let mut b = [0u8; 32];
        for (i, out) in b.iter_mut().enumerate() {
            *out = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or(SignError::BadKey)?, 16)
                .map_err(|_| SignError::BadKey)?;
        }
        Signer::from_bytes(&b)
    }

    /// Its Ethereum address.
    pub fn address(&self) -> [u8; 20] {
        address_of(self.0.verifying_key())
    }

    /// Signs `digest`: `r ‖ s ‖ v`, low `s`, `v` ∈ {27, 28}.
    pub fn sign(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignError> {
        let (sig, rec) = self
            .0
            .sign_prehash_recoverable(digest)
            .map_err(|_| SignError::Sign)?;
        let (sig, rec) = match sig.normalize_s() {
            Some(low) => (
                low,
                k256::ecdsa::RecoveryId::new(!rec.is_y_odd(), rec.is_x_reduced()),
            ),
            None => (sig, rec),
        };
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + rec.to_byte();
        Ok(out)
    }
}

fn address_of(key: &k256::ecdsa::VerifyingKey) -> [u8; 20] {
    let point = key.to_encoded_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&hash[12..]);
    a
}

/// The address that signed `digest` with `signature` (`r ‖ s ‖ v`, `v` ∈
/// {27, 28}).
pub fn recover(digest: &[u8; 32], signature: &[u8; 65]) -> Result<[u8; 20], SignError> {
    let sig = k256::ecdsa::Signature::from_slice(&signature[..64])
        .map_err(|_| SignError::BadSignature)?;
    let v = signature[64]
        .checked_sub(27)
        .and_then(k256::ecdsa::RecoveryId::from_byte)
        .ok_or(SignError::BadSignature)?;
    let key = k256::ecdsa::VerifyingKey::recover_from_prehash(digest, &sig, v)
        .map_err(|_| SignError::BadSignature)?;
    Ok(address_of(&key))
}

impl crate::Engine {
    /// The record this sentinel would sign for `id` in the epoch of
    /// `now`: the reputation at the epoch's start, from the state's
    /// evidence only. Its trust level is the one the score claims —
    /// `verified` above `policy.trust.verified_above` — since the record
    /// *is* the on-chain attestation that level needs (the state's own
    /// level waits for the chain to confirm it).
    pub fn attestation_record(&self, id: &ProviderId, now: UnixMillis) -> Option<Record> {
        let epoch = epoch_of(now);
        let at = epoch.saturating_mul(EPOCH_MS);
        let rep = self.reputation(id, at)?;
        self.state().providers.get(id)?;
        let trust = crate::lifecycle::trust_level(
            rep.total,
            Some(u64::MAX),
            at,
            &self.config().policy.trust,
        );
        Some(Record::new(id, epoch, &rep, trust))
    }

    /// The trust level (0–3) a record with `score_bps` claims under this
    /// sentinel's policy (the attestation itself being what verified
    /// waits for).
    pub fn trust_claim(&self, score_bps: u16) -> u8 {
        trust_code(crate::lifecycle::trust_level(
            crate::score::Bps::new(u32::from(score_bps)),
            Some(u64::MAX),
            0,
            &self.config().policy.trust,
        ))
    }

    /// The evidence report behind [`crate::Engine::attestation_record`].
    pub fn attestation_evidence(&self, id: &ProviderId, now: UnixMillis) -> Option<Evidence> {
        let epoch = epoch_of(now);
        let rep = self.reputation(id, epoch.saturating_mul(EPOCH_MS))?;
        Some(Evidence::of(id, epoch, &rep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex32(s: &str) -> [u8; 32] {
        let s = s.trim_start_matches("0x");
        let mut b = [0u8; 32];
        for (i, out) in b.iter_mut().enumerate() {
            *out = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        b
    }

    fn domain() -> Domain {
        let mut contract = [0u8; 20];
        let a = "5FbDB2315678afecb367f032d93F642f64180aa3";
        for (i, out) in contract.iter_mut().enumerate() {
            *out = u8::from_str_radix(&a[2 * i..2 * i + 2], 16).unwrap();
        }
        Domain {
            chain_id: 31337,
            contract,
        }
    }

    fn record(id: &str, score: u16, trust: u8, evidence: &str) -> Record {
        Record {
            provider: ProviderId::new(id).unwrap(),
            score_bps: score,
            trust,
            epoch: 494_444,
            expiry_s: 1_780_007_200,
            evidence: keccak256(evidence),
        }
    }

    /// The contract's own fixed vectors (`contracts/test/Eip712.t.sol`,
    /// `test_fixedVectors`): the same bytes on both sides.
    #[test]
    fn digests_match_the_contracts_vectors() {
        let d = domain();
        assert_eq!(
            d.separator(),
            unhex32("8fa1d9baff96a9191941812ddbecff834d1cb7996a14df13cda441e13350dc61")
        );
        let r0 = record("example-provider-a", 9420, 3, "evidence-a");
        let r1 = record("example-provider-b", 7100, 1, "evidence-b");
        assert_eq!(
            r0.hash_struct(),
            unhex32("eb0ee4067b9b4d62c4c199c4d60532c1a27569b5f4ac50162b9e33387857f060")
        );
        assert_eq!(
            r1.hash_struct(),
            unhex32("e227d3b353a559574c9898172017fb59be49b26d3654e17fe5718caffc6aaf68")
        );
        assert_eq!(
            d.batch_digest(&[r0.clone(), r1]),
            unhex32("b6ec2a5dc99b148911f79e1a0997b67a93992b153dbb732c1a946bcb31cc7677")
        );
        assert_eq!(
            d.revoke_digest(&r0.provider, 494_444),
            unhex32("09dbc5b45da7b86cb2d143a33298d34ccbcf43534daa5dd9aebe3b6004787069")
        );
    }

    #[test]
    fn signatures_are_deterministic_low_s_and_recover() {
        // anvil's first test key.
        let s =
            Signer::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap();
        assert_eq!(
            hex(&s.address()),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        let digest = domain().batch_digest(&[record("x", 9000, 3, "e")]);
        let a = s.sign(&digest).unwrap();
        assert_eq!(a, s.sign(&digest).unwrap(), "RFC 6979: deterministic");
        assert!(matches!(a[64], 27 | 28));
        // Low s: s <= n/2.
        let half_n = unhex32("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
        assert!(a[32..64] <= half_n[..]);
        assert_eq!(recover(&digest, &a).unwrap(), s.address());
        let mut bad = a;
        bad[64] = 29;
        assert!(recover(&digest, &bad).is_err());
        assert!(Signer::from_hex("00").is_err());
        assert!(
            Signer::from_hex(&"0".repeat(64)).is_err(),
            "zero is not a key"
        );
        assert!(!format!("{s:?}").contains("ac0974"));
    }
}

#[cfg(test)]
mod engine_tests {
    use crate::config::Config;
    use crate::time::DAY;

    /// A record claims the level its score earns, `verified` included: it
    /// is the attestation that level waits for, so it cannot require one.
    #[test]
    fn a_record_claims_verified_before_any_attestation() {
        // Thresholds low enough that a newcomer's prior-shrunk total
        // (80 %) is above `verified_above`.
        let cfg = Config::from_toml(
            "[sentinel]\nid = \"s\"\nallow_private_targets = true\n[policy.trust]\nverified_above = 5000\ntrusted_above = 4000\ntesting_above = 3000\n[[service]]\nid = \"svc\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:1\"\ninitial = \"active\"\n",
        )
        .unwrap();
        let now = 20_000 * DAY;
        let mut e = crate::Engine::new(cfg, crate::State::default(), now).unwrap();
        e.decide(now);
        let id = crate::ProviderId::new("a").unwrap();
        let state_level = e.state().providers[&id].trust;
        assert_eq!(
            state_level,
            crate::lifecycle::TrustLevel::Trusted,
            "not attested yet"
        );
        let r = e.attestation_record(&id, now).unwrap();
        assert_eq!(r.trust, 3, "the record claims verified");
    }
}
