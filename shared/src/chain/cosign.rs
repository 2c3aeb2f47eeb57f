//! Co-signing: how the sentinel that submits a batch gathers its peers'
//! signatures, and how a peer decides to give one.
//!
//! The contract counts distinct authorised signatures over one digest, so
//! the sentinels must sign the *same* records. Two vantages never measure
//! exactly the same latencies, so their scores differ by a little; the
//! proposer's records are put to each peer, and a peer signs the batch
//! only if, for every record, its own view agrees:
//!
//! - the domain (chain id, contract) is its own;
//! - the epoch is its current one or the one before (a request made just
//!   before the hour turned), and the expiry is that epoch's;
//! - the provider is in service here (active, standby or recovering);
//! - its own score for that epoch is within `tolerance_bps` of the
//!   proposed one, and the trust level claimed is the one the proposed
//!   score earns under its own policy — a peer never vouches for a level
//!   the score does not earn, whoever proposes it.
//!
//! A revocation is co-signed when this sentinel would revoke too (the
//! provider failed here or its record falls below `min_trust`).
//!
//! A peer that disagrees answers `409` naming each record it refuses and
//! why; the proposer drops those and asks again, so one disputed
//! provider does not hold back the others. Requests are authenticated
//! with the peers' shared secret ([`crate::peer::auth`]); the answer is
//! a signature anyone can check (it must recover to the signer it
//! names), so it needs no further authentication.

use crate::api::ApiResponse;
use crate::attest::{epoch_of, recover, Record, EPOCH_MS};
use crate::config::{Method, PeerConfig};
use crate::lifecycle::Lifecycle;
use crate::peer::auth::{self, PeerSecret, RequestParts};
use crate::probe::{ProbeRequest, ProbeResult};
use crate::time::UnixMillis;
use crate::{Engine, ProviderId, SentinelId};
use serde::{Deserialize, Serialize};

/// The co-signing route.
pub const COSIGN_PATH: &str = "/v1/attestations/cosign";
/// Largest co-signing answer read.
const MAX_ANSWER: u64 = 256 << 10;

/// What a peer is asked to sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosignRequest {
    /// The chain's id.
    pub chain_id: u64,
    /// The contract (`0x…`).
    pub contract: String,
    /// What.
    pub ask: Ask,
}

/// The thing to sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Ask {
    /// A batch of records (the digest of [`crate::attest::Domain::batch_digest`]).
    Batch {
        /// The records.
        records: Vec<Record>,
    },
    /// A revocation ([`crate::attest::Domain::revoke_digest`]).
    Revoke {
        /// The provider.
        provider: ProviderId,
        /// From this epoch.
        epoch: u64,
        /// The level the record revoked claims on chain, when it is
        /// revoked for having degraded below it (not signed: it tells the
        /// co-signer what to judge).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<u8>,
    },
}

/// A signature given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Given {
    /// The signer's address (`0x…`).
    pub signer: String,
    /// `r ‖ s ‖ v`, `0x` and 130 hex digits.
    pub signature: String,
}

/// One record refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The provider.
    pub provider: ProviderId,
    /// Why, in a sentence.
    pub why: String,
}

/// What came of asking a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Signed: the signer's address and the signature.
    Signed([u8; 20], [u8; 65]),
    /// These records are refused (sign the batch without them).
    Refused(Vec<Refused>),
    /// No usable answer (down, unauthorised, a bad signature…).
    Failed(String),
}

/// What an [`Ask`] is about: two asks with the same key would race on
/// chain (the second reverts after paying for it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// The records of an epoch.
    Batch(u64),
    /// A provider's revocation.
    Revoke(ProviderId),
}

/// Who is sending what, as this sentinel knows: what it is proposing
/// itself right now, and what it co-signed for a peer lately (that peer
/// is sending it: proposing the same here would race it). Shared by the
/// anchoring driver and the co-signing route of one process.
#[derive(Debug, Default)]
pub struct Claims {
    proposing: Option<Key>,
    yielded: Vec<(Key, SentinelId, UnixMillis)>,
    due: Option<(Key, UnixMillis)>,
    nonce_gone: Option<u64>,
}

impl Claims {
    /// The peer this sentinel co-signed `key` for, until its time is up.
    pub fn yielded_to(&self, key: &Key, now: UnixMillis) -> Option<&SentinelId> {
        self.yielded
            .iter()
            .find(|(k, _, until)| k == key && *until > now)
            .map(|(_, who, _)| who)
    }

    /// Since when `key` has been seen due here (from now, if it is new).
    pub fn due_since(&mut self, key: Key, now: UnixMillis) -> UnixMillis {
        match &self.due {
            Some((k, since)) if *k == key => *since,
            _ => {
                self.due = Some((key, now));
                now
            }
        }
    }

    /// Notes that the chain says the pending nonce is used with no
    /// receipt of ours; `true` when it said so at the previous step too
    /// (`None`: it did not say so now).
    pub fn nonce_gone(&mut self, nonce: Option<u64>) -> bool {
        let again = nonce.is_some() && self.nonce_gone == nonce;
        self.nonce_gone = nonce;
        again
    }

    /// Marks `key` as proposed here (`None`: done).
    pub fn set_proposing(&mut self, key: Option<Key>) {
        self.proposing = key;
    }

    fn yield_to(&mut self, key: Key, who: SentinelId, until: UnixMillis, now: UnixMillis) {
        self.yielded.retain(|(k, _, u)| *u > now && *k != key);
        self.yielded.push((key, who, until));
    }
}

impl Ask {
    /// A short description.
    pub fn describe(&self) -> String {
        match self {
            Ask::Batch { records } => format!(
                "{} record(s) of epoch {}",
                records.len(),
                records.first().map_or(0, |r| r.epoch)
            ),
            Ask::Revoke {
                provider, epoch, ..
            } => format!("revoking {provider} from epoch {epoch}"),
        }
    }

    /// What it is about.
    pub fn key(&self) -> Key {
        match self {
            Ask::Batch { records } => Key::Batch(records.first().map_or(0, |r| r.epoch)),
            Ask::Revoke { provider, .. } => Key::Revoke(provider.clone()),
        }
    }

    /// The digest to sign under `domain`.
    pub fn digest(&self, domain: &crate::attest::Domain) -> [u8; 32] {
        match self {
            Ask::Batch { records } => domain.batch_digest(records),
            Ask::Revoke {
                provider, epoch, ..
            } => domain.revoke_digest(provider, *epoch),
        }
    }
}

/// The signed `POST {peer}/v1/attestations/cosign` request, and its nonce.
pub fn request(
    peer: &PeerConfig,
    caller: &SentinelId,
    secret: &PeerSecret,
    body: &CosignRequest,
    now: UnixMillis,
    counter: u64,
    allow_private: bool,
) -> Option<ProbeRequest> {
    let body = serde_json::to_vec(body).ok()?;
    let nonce = auth::derive_nonce(secret, caller, now, counter);
    let parts = RequestParts {
        method: "POST",
        path: COSIGN_PATH,
        query: "",
        body: &body,
    };
    let base = crate::peer::exchange::base(&peer.url);
    let mut r = crate::peer::exchange::request(
        peer,
        format!("{base}{COSIGN_PATH}"),
        MAX_ANSWER,
        allow_private,
    )?;
    r.method = Method::Post;
    r.headers = auth::sign_request(secret, caller, &parts, now, &nonce);
    r.headers
        .push(("content-type".into(), "application/json".into()));
    r.body = Some(body);
    Some(r)
}

/// Reads a peer's answer to a request for `digest`.
pub fn outcome(result: &ProbeResult, digest: &[u8; 32]) -> Outcome {
    let r = match result {
        Ok(r) => r,
        Err(f) => return Outcome::Failed(crate::probe::failure_name(f)),
    };
    match r.status {
        200 => {
            let Ok(g) = serde_json::from_slice::<Given>(&r.body) else {
                return Outcome::Failed("its answer is not a signature".into());
            };
            let sig = g
                .signature
                .strip_prefix("0x")
                .and_then(super::from_hex)
                .and_then(|b| <[u8; 65]>::try_from(b).ok());
            let claimed = super::parse_address(&g.signer);
            match (sig, claimed) {
                (Some(sig), Some(claimed)) => match recover(digest, &sig) {
                    Ok(addr) if addr == claimed => Outcome::Signed(addr, sig),
                    Ok(_) => Outcome::Failed(
                        "its signature is not by the signer it names, or not over this batch"
                            .into(),
                    ),
                    Err(e) => Outcome::Failed(format!("its signature is unusable: {e}")),
                },
                _ => Outcome::Failed("its answer is not a signature".into()),
            }
        }
        409 => {
            #[derive(Deserialize)]
            struct Body {
                refused: Vec<Refused>,
            }
            match serde_json::from_slice::<Body>(&r.body) {
                Ok(b) if !b.refused.is_empty() => Outcome::Refused(b.refused),
                _ => Outcome::Failed("it refused without naming a record".into()),
            }
        }
        s => {
            let msg = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_default();
            Outcome::Failed(format!("http-{s} {msg}").trim().to_string())
        }
    }
}

/// This sentinel's judgement of one proposed record (see the module
/// docs): `Err(why)` when it would not sign it.
pub fn judge_record(
    engine: &Engine,
    tolerance_bps: u16,
    min_trust: u8,
    r: &Record,
    now: UnixMillis,
) -> Result<(), String> {
    let epoch = epoch_of(now);
    if r.epoch != epoch && r.epoch + 1 != epoch {
        return Err(format!(
            "epoch {} is not this sentinel's ({epoch}) nor the one before",
            r.epoch
        ));
    }
    if r.expiry_s != (r.epoch + 2).saturating_mul(EPOCH_MS) / 1000 {
        return Err(format!("expiry {} is not epoch {}'s", r.expiry_s, r.epoch));
    }
    in_service(engine, &r.provider)?;
    let own = engine
        .attestation_record(&r.provider, r.epoch.saturating_mul(EPOCH_MS))
        .ok_or_else(|| "this sentinel has no reputation for it yet".to_string())?;
    let gap = own.score_bps.abs_diff(r.score_bps);
    if gap > tolerance_bps {
        return Err(format!(
            "score {} is {gap} bps from this sentinel's {} (tolerance {tolerance_bps})",
            r.score_bps, own.score_bps
        ));
    }
    let earned = engine.trust_claim(r.score_bps);
    if r.trust != earned || r.trust < min_trust {
        return Err(format!(
            "trust {} is not what score {} earns here ({earned}, at least {min_trust} to anchor)",
            r.trust, r.score_bps
        ));
    }
    Ok(())
}

fn in_service(engine: &Engine, id: &ProviderId) -> Result<(), String> {
    match engine.state().providers.get(id).map(|p| p.lifecycle) {
        Some(Lifecycle::Active | Lifecycle::Standby | Lifecycle::Recovering) => Ok(()),
        Some(other) => Err(format!("it is {} here", other.as_str())),
        None => Err("this sentinel does not know it".into()),
    }
}

/// Whether this sentinel would revoke `provider` (see the module docs):
/// failed here, below `min_trust`, or — when the record revoked claims
/// `level` — no longer earning that level even with `margin_bps` in its
/// favour.
pub fn judge_revoke(
    engine: &Engine,
    min_trust: u8,
    margin_bps: u16,
    provider: &ProviderId,
    level: Option<u8>,
    epoch: u64,
    now: UnixMillis,
) -> Result<(), String> {
    let current = epoch_of(now);
    if epoch != current && epoch + 1 != current {
        return Err(format!("epoch {epoch} is not this sentinel's ({current})"));
    }
    if !engine.state().providers.contains_key(provider) {
        return Err("this sentinel does not know it".into());
    }
    let failing = in_service(engine, provider).is_err();
    let own = engine.attestation_record(provider, now);
    let below = own.as_ref().is_none_or(|r| r.trust < min_trust);
    let degraded = level.is_some_and(|l| {
        own.as_ref().is_some_and(|r| {
            let lenient = r.score_bps.saturating_add(margin_bps).min(10_000);
            engine.trust_claim(lenient) < l
        })
    });
    if failing || below || degraded {
        Ok(())
    } else {
        Err("it is in service here and still earns its level".into())
    }
}

/// Answers a co-signing request from peer `caller` (authenticated) with
/// this sentinel's signature, a `409` naming what it refuses, or a `400`.
/// A signature given is remembered in `claims`: the caller is sending it
/// for `replace_after`, and this sentinel does not propose the same
/// meanwhile. Two sentinels proposing the same at once: the smaller id
/// keeps its proposal and refuses; the other yields and signs.
pub fn answer(
    engine: &Engine,
    anchor: &super::Anchor,
    caller: &SentinelId,
    claims: &std::sync::Mutex<Claims>,
    body: &[u8],
    now: UnixMillis,
) -> ApiResponse {
    let req: CosignRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return ApiResponse::error(
                400,
                "bad-request",
                &format!("not a co-signing request: {e}"),
            )
        }
    };
    let contract = super::parse_address(&req.contract);
    if req.chain_id != anchor.domain.chain_id || contract != Some(anchor.domain.contract) {
        return ApiResponse::error(
            409,
            "wrong-domain",
            &format!(
                "this sentinel anchors on chain {} at {}, not chain {} at {}",
                anchor.domain.chain_id,
                super::hex0x(&anchor.domain.contract),
                req.chain_id,
                req.contract
            ),
        );
    }
    // Sending the same thing itself: two transactions would race, and
    // the second would revert after paying for it.
    if let Some(p) = &engine.state().anchoring.pending {
        let same = match (&p.kind, &req.ask) {
            (super::PendingKind::Batch { records: mine, .. }, Ask::Batch { records }) => {
                mine.first().map(|r| r.epoch) == records.first().map(|r| r.epoch)
            }
            (super::PendingKind::Revoke { provider: mine, .. }, Ask::Revoke { provider, .. }) => {
                mine == provider
            }
            _ => false,
        };
        if same {
            return ApiResponse::error(
                409,
                "already-sending",
                &format!(
                    "this sentinel is sending the same itself ({}, tx {}): asking again after it settles",
                    p.kind.describe(),
                    super::hex0x(&p.hash())
                ),
            );
        }
    }
    let key = req.ask.key();
    let me = &engine.config().sentinel.id;
    let proposing_too = claims
        .lock()
        .map(|c| c.proposing.as_ref() == Some(&key))
        .unwrap_or(false);
    if proposing_too && me < caller {
        return ApiResponse::error(
            409,
            "proposing-itself",
            "this sentinel is proposing the same right now (the smaller id proposes): asking again later",
        );
    }
    let cfg = &anchor.config;
    let refused: Vec<Refused> = match &req.ask {
        Ask::Batch { records } => {
            if records.is_empty() || records.len() > super::MAX_BATCH as usize {
                return ApiResponse::error(400, "bad-request", "a batch holds 1 to 1024 records");
            }
            let mut seen = std::collections::BTreeSet::new();
            records
                .iter()
                .filter_map(|r| {
                    let why = if seen.insert(&r.provider) {
                        judge_record(engine, cfg.tolerance_bps, cfg.min_trust, r, now).err()
                    } else {
                        Some("it is in the batch twice".into())
                    };
                    why.map(|why| Refused {
                        provider: r.provider.clone(),
                        why,
                    })
                })
                .collect()
        }
        Ask::Revoke {
            provider,
            epoch,
            level,
        } => judge_revoke(
            engine,
            cfg.min_trust,
            cfg.tolerance_bps,
            provider,
            *level,
            *epoch,
            now,
        )
        .err()
        .map(|why| Refused {
            provider: provider.clone(),
            why,
        })
        .into_iter()
        .collect(),
    };
    if !refused.is_empty() {
        let body = serde_json::json!({
            "error": {"code": "refused", "message": format!("{} of the records are not signed here", refused.len())},
            "refused": refused,
        });
        return ApiResponse::json(409, &body);
    }
    match anchor.signer.sign(&req.ask.digest(&anchor.domain)) {
        Ok(sig) => {
            if let Ok(mut c) = claims.lock() {
                c.yield_to(
                    key,
                    caller.clone(),
                    now.saturating_add(cfg.replace_after.as_ms()),
                    now,
                );
            }
            ApiResponse::json(
                200,
                &Given {
                    signer: super::hex0x(&anchor.signer.address()),
                    signature: super::hex0x(&sig),
                },
            )
        }
        Err(e) => ApiResponse::error(500, "internal", &format!("cannot sign: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::time::DAY;
    use std::sync::Mutex;

    const KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    const CONTRACT: &str = "0x5fbdb2315678afecb367f032d93f642f64180aa3";

    fn setup(id: &str) -> (Engine, super::super::Anchor, UnixMillis) {
        let now = 20_000 * DAY + 10 * 60_000;
        let cfg = Config::from_toml(&format!(
            "[sentinel]\nid = \"{id}\"\nallow_private_targets = true\n[policy.trust]\nverified_above = 5000\ntrusted_above = 4000\ntesting_above = 3000\n[chain]\nrpc = \"http://127.0.0.1:8545\"\nchain_id = 31337\ncontract = \"{CONTRACT}\"\n[[service]]\nid = \"svc\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:1\"\ninitial = \"active\"\n[[service.provider]]\nid = \"b\"\nendpoint = \"http://127.0.0.1:2\"\n"
        ))
        .unwrap();
        let anchor = super::super::Anchor::from_config(&cfg, |_| Some(KEY.into()))
            .unwrap()
            .unwrap();
        let mut e = Engine::new(cfg, crate::State::default(), now).unwrap();
        e.decide(now);
        (e, anchor, now)
    }

    fn body(records: Vec<Record>) -> Vec<u8> {
        serde_json::to_vec(&CosignRequest {
            chain_id: 31337,
            contract: CONTRACT.into(),
            ask: Ask::Batch { records },
        })
        .unwrap()
    }

    fn peer() -> SentinelId {
        SentinelId::new("z").unwrap()
    }

    fn id(s: &str) -> ProviderId {
        ProviderId::new(s).unwrap()
    }

    #[test]
    fn a_batch_this_sentinel_agrees_with_is_signed_and_remembered() {
        let (e, anchor, now) = setup("a-sentinel");
        let records: Vec<Record> = ["a", "b"]
            .iter()
            .map(|p| e.attestation_record(&id(p), now).unwrap())
            .collect();
        let claims = Mutex::new(Claims::default());
        let r = answer(&e, &anchor, &peer(), &claims, &body(records.clone()), now);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let result: crate::probe::ProbeResult = Ok(crate::probe::ProbeResponse {
            status: 200,
            latency_ms: 1,
            body: r.body.clone(),
            truncated: false,
            retry_after_s: None,
            signature: None,
        });
        let digest = anchor.domain.batch_digest(&records);
        match outcome(&result, &digest) {
            Outcome::Signed(addr, _) => assert_eq!(addr, anchor.signer.address()),
            other => panic!("{other:?}"),
        }
        // The same signature is no good for another batch.
        let other = anchor.domain.batch_digest(&records[..1]);
        assert!(matches!(outcome(&result, &other), Outcome::Failed(_)));
        // The caller is sending it: this sentinel does not propose it.
        let key = Ask::Batch { records }.key();
        assert_eq!(claims.lock().unwrap().yielded_to(&key, now), Some(&peer()));
    }

    #[test]
    fn records_this_sentinel_disagrees_with_are_refused_by_name() {
        let (e, anchor, now) = setup("a-sentinel");
        let good = e.attestation_record(&id("a"), now).unwrap();
        let claims = Mutex::new(Claims::default());
        let b = e.attestation_record(&id("b"), now).unwrap();
        let mut far = b.clone();
        far.score_bps = far.score_bps.saturating_sub(2_000);
        // A level its score does not earn (here: one below).
        let mut overclaim = b.clone();
        overclaim.trust = b.trust - 1;
        let mut old = b.clone();
        old.epoch -= 2;
        old.expiry_s = (old.epoch + 2) * 3600;
        let mut expiry = b.clone();
        expiry.expiry_s += 1;
        let mut unknown = b.clone();
        unknown.provider = id("nobody");
        for (bad, why) in [
            (far, "tolerance"),
            (overclaim, "earns"),
            (old, "epoch"),
            (expiry, "expiry"),
            (unknown, "does not know"),
        ] {
            let r = answer(
                &e,
                &anchor,
                &peer(),
                &claims,
                &body(vec![good.clone(), bad.clone()]),
                now,
            );
            assert_eq!(r.status, 409, "{why}");
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let refused = v["refused"].as_array().unwrap();
            assert_eq!(refused.len(), 1, "{v}");
            assert_eq!(refused[0]["provider"], bad.provider.as_str());
            assert!(refused[0]["why"].as_str().unwrap().contains(why), "{v}");
        }
        // Twice in one batch.
        let r = answer(
            &e,
            &anchor,
            &peer(),
            &claims,
            &body(vec![good.clone(), good.clone()]),
            now,
        );
        assert_eq!(r.status, 409);
        // Nothing was signed, so nothing is yielded.
        assert_eq!(
            claims
                .lock()
                .unwrap()
                .yielded_to(&Key::Batch(good.epoch), now),
            None
        );
    }

    #[test]
    fn a_wrong_domain_or_a_malformed_request_is_refused() {
        let (e, anchor, now) = setup("a-sentinel");
        let claims = Mutex::new(Claims::default());
        let rec = e.attestation_record(&id("a"), now).unwrap();
        let other_chain = serde_json::to_vec(&CosignRequest {
            chain_id: 1,
            contract: CONTRACT.into(),
            ask: Ask::Batch { records: vec![rec] },
        })
        .unwrap();
        assert_eq!(
            answer(&e, &anchor, &peer(), &claims, &other_chain, now).status,
            409
        );
        assert_eq!(
            answer(&e, &anchor, &peer(), &claims, b"{not json", now).status,
            400
        );
        assert_eq!(
            answer(&e, &anchor, &peer(), &claims, &body(Vec::new()), now).status,
            400
        );
    }

    #[test]
    fn a_revocation_is_signed_only_when_this_sentinel_would_revoke() {
        let (mut e, anchor, now) = setup("a-sentinel");
        let claims = Mutex::new(Claims::default());
        let ask = |p: &str| {
            serde_json::to_vec(&CosignRequest {
                chain_id: 31337,
                contract: CONTRACT.into(),
                ask: Ask::Revoke {
                    provider: id(p),
                    epoch: crate::attest::epoch_of(now),
                    level: None,
                },
            })
            .unwrap()
        };
        assert_eq!(
            answer(&e, &anchor, &peer(), &claims, &ask("a"), now).status,
            409
        );
        if let Some(ps) = e.state_mut().providers.get_mut(&id("a")) {
            ps.lifecycle = Lifecycle::Failed;
        }
        assert_eq!(
            answer(&e, &anchor, &peer(), &claims, &ask("a"), now).status,
            200
        );
    }

    #[test]
    fn two_proposing_at_once_settle_by_id() {
        let (e, anchor, now) = setup("a-sentinel");
        let records = vec![e.attestation_record(&id("a"), now).unwrap()];
        let key = Ask::Batch {
            records: records.clone(),
        }
        .key();
        let claims = Mutex::new(Claims::default());
        claims.lock().unwrap().set_proposing(Some(key.clone()));
        // "a-sentinel" < "z": it keeps its proposal.
        let r = answer(&e, &anchor, &peer(), &claims, &body(records.clone()), now);
        assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
        // Asked by a smaller id, it yields and signs.
        let first = SentinelId::new("a").unwrap();
        let r = answer(&e, &anchor, &first, &claims, &body(records), now);
        assert_eq!(r.status, 200);
        assert_eq!(claims.lock().unwrap().yielded_to(&key, now), Some(&first));
    }
}
