//! One anchoring step per wake-up, after the tick, over the shell's
//! prober (the same HTTP seam as the probes: SSRF guard, timeouts, size
//! caps). Every shell runs this same code.
//!
//! A step does one of two things:
//!
//! - **Settle** the transaction in flight: one JSON-RPC batch asks for the
//!   receipt of every version sent, the key's mined nonce and the current
//!   fees, and broadcasts the newest version again (idempotent: a node
//!   answers "already known"; a transaction a node dropped — evicted from
//!   its pool, lost with a restarted node — is sent again with its own
//!   nonce). A receipt settles it: the gas is booked in the sentinel's own
//!   footprint and the records with their evidence are kept as anchored.
//!   A mined nonce with no receipt of ours means another transaction of
//!   this key took it: the pending one is dropped and the chain is read
//!   again. Unmined after `replace_after`, it is replaced with 12.5 %
//!   higher fees (what nodes require of a replacement), same nonce, up to
//!   the fee cap.
//! - **Propose** when nothing is in flight: read what the contract holds
//!   for every provider (one batch), plan ([`crate::Engine::anchor_plan`]),
//!   gather a quorum of signatures ([`super::cosign`]), check the call
//!   with `eth_estimateGas` (a record another sentinel anchored first
//!   reverts there, for free, not on chain), sign with the pending nonce,
//!   **store the transaction, then broadcast it**. A crash in between
//!   leaves a stored transaction the next step broadcasts; an unreachable
//!   endpoint leaves it stored too. An epoch is never anchored twice: the
//!   plan reads the chain, the contract refuses a stale epoch, and one
//!   transaction is in flight at a time.
//!
//! Who proposes: the sentinel with the smallest id among itself and the
//! peers not known to be down (a peer not heard from yet counts: a
//! sentinel that just started defers rather than races). The others read
//! the chain and co-sign — and propose only once the same thing has been
//! due for [`FOLLOWER_GRACE_MS`] here (the proposer is up but cannot
//! anchor: its endpoint is dead, its key has no funds). Two proposers
//! never race the same thing: a sentinel that co-signed something does
//! not propose it while the other sends it, a sentinel sending it refuses
//! to co-sign it for another, and two proposing at once settle it by id
//! ([`cosign::Claims`]); the contract refuses a stale epoch in any case,
//! and `eth_estimateGas` runs against the pending block, so a duplicate
//! is caught before it is paid for.
//!
//! Gas is booked as the sentinel's own `gas` usage, so the ladder applies:
//! at *scale down* only revocations and records about to expire are
//! anchored (halving the gas: records live two epochs), at *stop* nothing.
//!
//! A check that found nothing to do, or a failure already reported, writes
//! nothing; a process remembers when to look again ([`Memory`]).

use super::rpc::{self, Call, RpcError};
use super::state::{Anchored, Attempt, Pending, PendingKind};
use super::{abi, cosign, hex0x, tx::Eip1559, Anchor};
use crate::anchor::OnChain;
use crate::attest::{epoch_of, Evidence, EPOCH_MS};
use crate::books::{ladder::Step, Metric};
use crate::config::Method;
use crate::engine::{EventKind, UsageTarget};
use crate::probe::{ProbeRequest, Purpose};
use crate::tick::{Prober, Sentinel, Store, TickError};
use crate::time::UnixMillis;
use crate::{ProviderId, ServiceId};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Time allowed for each JSON-RPC request.
pub const RPC_TIMEOUT_MS: u64 = 10_000;
/// How long something has been due here before a sentinel that is not
/// the proposer proposes it itself.
pub const FOLLOWER_GRACE_MS: u64 = 15 * 60_000;
/// Gas added to the estimate (the estimate is exact for the state it ran
/// on; a block between estimate and inclusion can change a slot from
/// empty to set, not the reverse, so the margin is small).
const GAS_MARGIN: u64 = 20_000;

/// What a process remembers between steps (not stored).
#[derive(Clone, Debug, Default)]
pub struct Memory {
    /// No step before (unless a revocation is due here).
    pub not_before: UnixMillis,
    /// No step at all before (after a failure).
    pub failed_until: UnixMillis,
    /// Whether a revocation due here may cut the wait short (not while
    /// another sentinel is the one to propose it).
    pub may_hurry: bool,
    /// Who is sending what (shared with the co-signing route).
    pub claims: std::sync::Arc<std::sync::Mutex<cosign::Claims>>,
}

/// How long to wait after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Step again at the next wake-up.
    Now,
    /// A failure: wait `retry_after`.
    Retry,
    /// Nothing due: wait up to `recheck`, or until this instant if
    /// sooner (the next epoch).
    Recheck(UnixMillis),
}

/// What a step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Not due yet.
    NotDue,
    /// Another sentinel proposes this epoch.
    NotProposer(String),
    /// An attempt, as recorded.
    Attempt(Attempt),
}

struct Fees {
    base: u128,
    tip: u128,
}

/// Runs one step (see the module docs).
pub async fn step<S: Store, P: Prober, C: Fn() -> UnixMillis + ?Sized>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    memory: &mut Memory,
    clock: &C,
) -> Result<StepOutcome, TickError<S::Error>> {
    let now = clock();
    let due = now >= memory.not_before
        || (memory.may_hurry
            && now >= memory.failed_until
            && revocation_due(sentinel, anchor, now));
    if !due {
        return Ok(StepOutcome::NotDue);
    }
    let pending = sentinel.engine().state().anchoring.pending.clone();
    let (attempt, wait) = match pending {
        Some(p) => settle(sentinel, anchor, p, &memory.claims, clock).await?,
        None => match propose(sentinel, anchor, &memory.claims, clock).await? {
            Proposed::NotProposer(who, until) => {
                memory.not_before = until;
                memory.may_hurry = false;
                return Ok(StepOutcome::NotProposer(who));
            }
            Proposed::Done(a, wait) => (a, wait),
        },
    };
    let after = clock();
    let cfg = &anchor.config;
    memory.may_hurry = true;
    match wait {
        Wait::Now => {
            memory.not_before = after;
            memory.failed_until = 0;
        }
        Wait::Retry => {
            memory.not_before = after.saturating_add(cfg.retry_after.as_ms());
            memory.failed_until = memory.not_before;
        }
        Wait::Recheck(until) => {
            memory.not_before = after
                .saturating_add(cfg.recheck.as_ms())
                .min(until.max(after));
            memory.failed_until = 0;
        }
    }
    if attempt.ok {
        tracing::info!(what = %attempt.what, "anchoring");
    } else {
        tracing::warn!(what = %attempt.what, "anchoring");
    }
    let unchanged = sentinel
        .engine()
        .state()
        .anchoring
        .last
        .as_ref()
        .is_some_and(|l| l.ok == attempt.ok && l.what == attempt.what);
    if !unchanged {
        let a = attempt.clone();
        sentinel
            .change(clock(), |e| e.anchoring_mut().last = Some(a.clone()))
            .await?;
    }
    Ok(StepOutcome::Attempt(attempt))
}

/// Whether this sentinel sees a provider it anchored that it would
/// revoke now (failed, fallen below `min_trust`, or below the level it
/// anchored): looked at without waiting for the next read of the chain.
fn revocation_due<S: Store, P: Prober>(
    sentinel: &Sentinel<S, P>,
    anchor: &Anchor,
    now: UnixMillis,
) -> bool {
    let engine = sentinel.engine();
    engine.state().anchoring.anchored.iter().any(|(id, a)| {
        a.record.expiry_s.saturating_mul(1000) > now
            && cosign::judge_revoke(
                engine,
                anchor.config.min_trust,
                anchor.config.tolerance_bps,
                id,
                Some(a.record.trust),
                epoch_of(now),
                now,
            )
            .is_ok()
    })
}

fn attempt(at: UnixMillis, ok: bool, what: impl Into<String>) -> Attempt {
    Attempt {
        at,
        ok,
        what: what.into(),
    }
}

/// Sends `calls` to the endpoint in one batch.
async fn rpc<S: Store, P: Prober>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    calls: &[Call],
    now: UnixMillis,
) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
    let req = ProbeRequest {
        provider: ProviderId::new("chain").map_err(|e| RpcError::Malformed(e.to_string()))?,
        service: ServiceId::new("chain").map_err(|e| RpcError::Malformed(e.to_string()))?,
        purpose: Purpose::Scheduled,
        method: Method::Post,
        url: anchor.config.rpc.clone(),
        headers: vec![("content-type".into(), "application/json".into())],
        secret_headers: Vec::new(),
        body: Some(rpc::batch_body(calls)),
        timeout_ms: RPC_TIMEOUT_MS,
        max_bytes: rpc::MAX_ANSWER_BYTES,
        allow_private: sentinel.config().sentinel.allow_private_targets,
    };
    let result = sentinel.prober().probe(&req).await;
    sentinel.record_kinds(
        now,
        vec![EventKind::Usage {
            target: UsageTarget::Sentinel,
            metric: Metric::Requests,
            amount: 1,
        }],
    );
    match result {
        Ok(r) if r.truncated => Err(RpcError::Malformed("the answer is too large".into())),
        Ok(r) if r.status == 200 => rpc::parse_batch(calls, &r.body),
        Ok(r) => Err(RpcError::Http(r.status)),
        Err(f) => Err(RpcError::Unreachable(crate::probe::failure_name(&f))),
    }
}

fn fees(block: &Result<Value, RpcError>, tip: &Result<Value, RpcError>) -> Result<Fees, RpcError> {
    let block = block.as_ref().map_err(Clone::clone)?;
    let base = rpc::quantity(&block["baseFeePerGas"])?;
    // A node without the method: one gwei, the common default tip.
    let tip = tip
        .as_ref()
        .ok()
        .and_then(|t| rpc::quantity(t).ok())
        .unwrap_or(1_000_000_000);
    Ok(Fees { base, tip })
}

fn cap(anchor: &Anchor) -> u128 {
    u128::from(anchor.config.max_fee_gwei) * 1_000_000_000
}

fn gwei(wei: u128) -> String {
    let whole = wei / 1_000_000_000;
    let frac = (wei % 1_000_000_000) / 10_000_000;
    format!("{whole}.{frac:02} gwei")
}

struct Receipt {
    success: bool,
    gas_used: u64,
    price: u128,
    block: u64,
}

fn receipt(v: &Value) -> Result<Receipt, RpcError> {
    Ok(Receipt {
        success: rpc::quantity(&v["status"])? == 1,
        gas_used: rpc::quantity_u64(&v["gasUsed"])?,
        price: rpc::quantity(&v["effectiveGasPrice"]).unwrap_or(0),
        block: rpc::quantity_u64(&v["blockNumber"])?,
    })
}

/// Whether a node's refusal of a broadcast means it has (or had) it.
fn known(e: &RpcError) -> bool {
    match e {
        RpcError::Node { message, .. } => {
            let m = message.to_ascii_lowercase();
            m.contains("already known")
                || m.contains("known transaction")
                || m.contains("nonce too low")
        }
        _ => false,
    }
}

async fn settle<S: Store, P: Prober, C: Fn() -> UnixMillis + ?Sized>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    p: Pending,
    claims: &std::sync::Mutex<cosign::Claims>,
    clock: &C,
) -> Result<(Attempt, Wait), TickError<S::Error>> {
    let now = clock();
    let from = hex0x(&anchor.signer.address());
    let mut calls: Vec<Call> = p
        .hashes
        .iter()
        .map(|h| Call::new("eth_getTransactionReceipt", json!([hex0x(h)])))
        .collect();
    let n = calls.len();
    calls.push(Call::new(
        "eth_getTransactionCount",
        json!([from, "latest"]),
    ));
    calls.push(Call::new("eth_getBlockByNumber", json!(["latest", false])));
    calls.push(Call::new("eth_maxPriorityFeePerGas", json!([])));
    calls.push(Call::new("eth_sendRawTransaction", json!([hex0x(&p.raw)])));
    let what = p.kind.describe();
    let answers = match rpc(sentinel, anchor, &calls, now).await {
        Ok(a) => a,
        Err(e) => {
            return Ok((
                attempt(now, false, format!("{what}: pending, not confirmed: {e}")),
                Wait::Retry,
            ))
        }
    };
    for (i, a) in answers[..n].iter().enumerate() {
        let Ok(v) = a else { continue };
        if v.is_null() {
            continue;
        }
        let r = match receipt(v) {
            Ok(r) => r,
            Err(e) => return Ok((attempt(now, false, format!("{what}: {e}")), Wait::Retry)),
        };
        let hash = p.hashes[i];
        let cancelled = p.cancels.contains(&hash);
        let a = if cancelled {
            attempt(
                now,
                false,
                format!(
                    "{what}: cancelled, its records having expired unmined (nonce {} freed in block {}, {} gas), tx {}; the chain is read again",
                    p.nonce,
                    r.block,
                    r.gas_used,
                    hex0x(&hash)
                ),
            )
        } else if r.success {
            attempt(
                now,
                true,
                format!(
                    "{what}: landed in block {} ({} gas at {}), tx {}",
                    r.block,
                    r.gas_used,
                    gwei(r.price),
                    hex0x(&hash)
                ),
            )
        } else {
            attempt(
                now,
                false,
                format!(
                    "{what}: reverted in block {} ({} gas spent), tx {}; the chain is read again",
                    r.block,
                    r.gas_used,
                    hex0x(&hash)
                ),
            )
        };
        sentinel.record_kinds(
            now,
            vec![EventKind::Usage {
                target: UsageTarget::Sentinel,
                metric: Metric::Gas,
                amount: r.gas_used,
            }],
        );
        let kind = p.kind.clone();
        let last = a.clone();
        sentinel
            .change(now, |e| {
                let st = e.anchoring_mut();
                st.pending = None;
                st.gas_used = st.gas_used.saturating_add(r.gas_used);
                st.wei_spent = st
                    .wei_spent
                    .saturating_add(u128::from(r.gas_used).saturating_mul(r.price));
                st.last = Some(last.clone());
                if !r.success || cancelled {
                    return;
                }
                st.landed += 1;
                match &kind {
                    PendingKind::Batch { records, evidence } => {
                        for rec in records.iter().filter(|r| r.trust == 3) {
                            e.set_attested(&rec.provider, Some(rec.expiry_s.saturating_mul(1000)));
                        }
                        let st = e.anchoring_mut();
                        for (rec, ev) in records.iter().zip(evidence) {
                            st.anchored.insert(
                                rec.provider.clone(),
                                Anchored {
                                    record: rec.clone(),
                                    evidence: ev.clone(),
                                    tx: hash,
                                    block: r.block,
                                    at: now,
                                },
                            );
                        }
                    }
                    PendingKind::Revoke { provider, .. } => {
                        st.anchored.remove(provider);
                        e.set_attested(provider, None);
                    }
                }
            })
            .await?;
        return Ok((a, Wait::Now));
    }
    let mined = match answers[n].clone().and_then(|v| rpc::quantity_u64(&v)) {
        Ok(m) => m,
        Err(e) => {
            return Ok((
                attempt(now, false, format!("{what}: pending: {e}")),
                Wait::Retry,
            ))
        }
    };
    let gone = mined > p.nonce;
    let seen_before = claims
        .lock()
        .map(|mut c| c.nonce_gone(gone.then_some(p.nonce)))
        .unwrap_or(true);
    if gone {
        // A receipt the node could not give (geth while it indexes, a
        // lagging backend behind a load balancer) is no proof that
        // another transaction took the nonce: ask again.
        if let Some(Err(e)) = answers[..n].iter().find(|a| a.is_err()) {
            return Ok((
                attempt(
                    now,
                    false,
                    format!(
                        "{what}: nonce {} is used; cannot read the receipt: {e}",
                        p.nonce
                    ),
                ),
                Wait::Retry,
            ));
        }
        // Behind a load balancer, the count and the receipts may come
        // from different backends: a fresh count with a receipt not
        // indexed yet looks like a foreign transaction. Believe it when
        // two steps in a row say so.
        if !seen_before {
            return Ok((
                attempt(
                    now,
                    true,
                    format!(
                        "{what}: nonce {} is used and no receipt of ours is seen yet; asking again",
                        p.nonce
                    ),
                ),
                Wait::Retry,
            ));
        }
        let a = attempt(
            now,
            false,
            format!(
                "{what}: nonce {} was used by another transaction of this key; the chain is read again",
                p.nonce
            ),
        );
        let last = a.clone();
        sentinel
            .change(now, |e| {
                let st = e.anchoring_mut();
                st.pending = None;
                st.last = Some(last.clone());
            })
            .await?;
        return Ok((a, Wait::Now));
    }
    let broadcast = &answers[n + 3];
    // A batch whose records all expired would revert if mined: cancel it
    // (same nonce, higher fees, nothing sent to this sentinel itself).
    let expired = match &p.kind {
        PendingKind::Batch { records, .. } => {
            !records.is_empty()
                && records
                    .iter()
                    .all(|r| r.expiry_s.saturating_mul(1000) <= now)
        }
        PendingKind::Revoke { .. } => false,
    };
    let cancel_now = expired && !p.cancelling();
    if !cancel_now && now.saturating_sub(p.signed_at) < anchor.config.replace_after.as_ms() {
        let a = match broadcast {
            Ok(_) => attempt(
                now,
                true,
                format!("{what}: sent (nonce {}), waiting to be mined", p.nonce),
            ),
            Err(e) if known(e) => attempt(
                now,
                true,
                format!("{what}: sent (nonce {}), waiting to be mined", p.nonce),
            ),
            Err(e) => attempt(
                now,
                false,
                format!("{what}: the node does not take it: {e}"),
            ),
        };
        return Ok((a, Wait::Now));
    }
    // Unmined for `replace_after`: the same nonce with higher fees.
    let f = match fees(&answers[n + 1], &answers[n + 2]) {
        Ok(f) => f,
        Err(e) => {
            return Ok((
                attempt(now, false, format!("{what}: pending: {e}")),
                Wait::Retry,
            ))
        }
    };
    let bump = |x: u128| x.saturating_mul(9) / 8 + 1;
    let tip = bump(p.priority_fee).max(f.tip);
    let max_fee = bump(p.max_fee).max(f.base.saturating_mul(2).saturating_add(tip));
    if max_fee > cap(anchor) {
        return Ok((
            attempt(
                now,
                false,
                format!(
                    "{what}: unmined; replacing it would pay {} per gas, above the cap of {} gwei",
                    gwei(max_fee),
                    anchor.config.max_fee_gwei
                ),
            ),
            Wait::Retry,
        ));
    }
    let cancel = cancel_now || p.cancelling();
    let tx = if cancel {
        Eip1559 {
            chain_id: anchor.domain.chain_id,
            nonce: p.nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit: 21_000,
            to: anchor.signer.address(),
            value: 0,
            input: Vec::new(),
        }
    } else {
        Eip1559 {
            chain_id: anchor.domain.chain_id,
            nonce: p.nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit: p.gas_limit,
            to: anchor.domain.contract,
            value: 0,
            input: p.input.clone(),
        }
    };
    let signed = match tx.sign(&anchor.signer) {
        Ok(s) => s,
        Err(e) => {
            return Ok((
                attempt(now, false, format!("{what}: cannot sign: {e}")),
                Wait::Retry,
            ))
        }
    };
    let mut next = p.clone();
    next.max_fee = max_fee;
    next.priority_fee = tip;
    next.raw = signed.raw.clone();
    next.push_version(signed.hash, cancel);
    next.signed_at = now;
    let a = match store_then_send(sentinel, anchor, &next, clock).await? {
        Sent::Taken => attempt(
            now,
            true,
            format!(
                "{what}: {} with {} per gas (nonce {})",
                if cancel {
                    "its records expired unmined: cancelled"
                } else {
                    "replaced"
                },
                gwei(max_fee),
                p.nonce
            ),
        ),
        Sent::Unreachable(e) | Sent::Refused(e) => attempt(
            now,
            false,
            format!("{what}: the replacement was not taken: {e}"),
        ),
    };
    Ok((a, Wait::Now))
}

/// How a broadcast went.
enum Sent {
    /// The node took it (or already had it).
    Taken,
    /// The endpoint did not answer: the stored transaction is sent again
    /// at the next step.
    Unreachable(RpcError),
    /// The node refused it.
    Refused(RpcError),
}

/// Stores `pending` as the transaction in flight, **then** broadcasts its
/// newest version: from the moment it is stored, a crash leaves bytes
/// the next step sends again, never a second transaction for the nonce.
async fn store_then_send<S: Store, P: Prober, C: Fn() -> UnixMillis + ?Sized>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    pending: &Pending,
    clock: &C,
) -> Result<Sent, TickError<S::Error>> {
    sentinel
        .change(clock(), |e| {
            e.anchoring_mut().pending = Some(pending.clone())
        })
        .await?;
    let sent = rpc(
        sentinel,
        anchor,
        &[Call::new(
            "eth_sendRawTransaction",
            json!([hex0x(&pending.raw)]),
        )],
        clock(),
    )
    .await
    .map(|mut v| v.remove(0));
    Ok(match sent {
        Ok(Ok(_)) => Sent::Taken,
        Ok(Err(e)) if known(&e) => Sent::Taken,
        Ok(Err(e)) => Sent::Refused(e),
        Err(e) => Sent::Unreachable(e),
    })
}

/// What one read of the chain found.
struct ChainRead {
    chain_id: u64,
    quorum: u64,
    nonce: u64,
    fees: Fees,
    records: BTreeMap<ProviderId, OnChain>,
    /// Each provider's `indexOf` (0: not registered yet).
    indices: BTreeMap<ProviderId, u32>,
}

/// Index of the first `latest` answer in the read batch.
const HEAD: usize = 5;

fn read_chain(
    answers: &[Result<Value, RpcError>],
    providers: &[ProviderId],
    to: &str,
) -> Result<ChainRead, String> {
    let q = |i: usize| -> Result<&Value, String> { answers[i].as_ref().map_err(|e| e.to_string()) };
    let chain_id = rpc::quantity_u64(q(0)?).map_err(|e| e.to_string())?;
    let quorum_word = rpc::data(q(1)?).map_err(|e| e.to_string())?;
    let quorum = match quorum_word.as_slice() {
        [zeros @ .., last] if quorum_word.len() == 32 && zeros.iter().all(|b| *b == 0) => {
            u64::from(*last)
        }
        _ => {
            return Err(format!(
                "{to} does not answer quorum() as a SentinelTrust contract does (is the address right?)"
            ))
        }
    };
    let nonce = rpc::quantity_u64(q(2)?).map_err(|e| e.to_string())?;
    let fees = fees(&answers[3], &answers[4]).map_err(|e| e.to_string())?;
    let mut records = BTreeMap::new();
    for (i, p) in providers.iter().enumerate() {
        let ret = rpc::data(q(HEAD + i)?).map_err(|e| e.to_string())?;
        let on = abi::decode_latest(&ret).map_err(|e| format!("latest({p}): {e}"))?;
        records.insert(p.clone(), on);
    }
    let mut indices = BTreeMap::new();
    for (i, p) in providers.iter().enumerate() {
        let ret = rpc::data(q(HEAD + providers.len() + i)?).map_err(|e| e.to_string())?;
        let index = abi::decode_index(&ret).map_err(|e| format!("indexOf({p}): {e}"))?;
        indices.insert(p.clone(), index);
    }
    Ok(ChainRead {
        chain_id,
        quorum,
        nonce,
        fees,
        records,
        indices,
    })
}

enum Proposed {
    NotProposer(String, UnixMillis),
    Done(Attempt, Wait),
}

/// Whether peer `id` is known to be down (a peer not checked yet is not:
/// a sentinel that just started defers to a proposer it has not heard
/// from rather than race it).
fn peer_down<S: Store, P: Prober>(sentinel: &Sentinel<S, P>, id: &crate::SentinelId) -> bool {
    let after = sentinel.config().quorum.peer_down_after;
    sentinel
        .engine()
        .state()
        .peering
        .peers
        .get(id)
        .is_some_and(|s| s.is_down(after))
}

/// Who proposes at `now` (see the module docs).
fn proposer<S: Store, P: Prober>(sentinel: &Sentinel<S, P>) -> crate::SentinelId {
    let me = sentinel.config().sentinel.id.clone();
    sentinel
        .config()
        .peers
        .iter()
        .filter(|p| sentinel.peer_secret(&p.id).is_some())
        .filter(|p| !peer_down(sentinel, &p.id))
        .map(|p| p.id.clone())
        .chain(std::iter::once(me))
        .min()
        .unwrap_or_else(|| sentinel.config().sentinel.id.clone())
}

async fn propose<S: Store, P: Prober, C: Fn() -> UnixMillis + ?Sized>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    claims: &std::sync::Mutex<cosign::Claims>,
    clock: &C,
) -> Result<Proposed, TickError<S::Error>> {
    let result = propose_inner(sentinel, anchor, claims, clock).await;
    if let Ok(mut c) = claims.lock() {
        c.set_proposing(None);
    }
    result
}

async fn propose_inner<S: Store, P: Prober, C: Fn() -> UnixMillis + ?Sized>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    claims: &std::sync::Mutex<cosign::Claims>,
    clock: &C,
) -> Result<Proposed, TickError<S::Error>> {
    let now = clock();
    let epoch = epoch_of(now);
    let epoch_start = epoch.saturating_mul(EPOCH_MS);
    let next_epoch = epoch_start.saturating_add(EPOCH_MS);
    let step = sentinel.engine().state().footprint_step;
    if step >= Step::Stop {
        return Ok(Proposed::Done(
            attempt(
                now,
                false,
                "not anchoring: the sentinel's own budget is spent (footprint at its stop step)",
            ),
            Wait::Recheck(UnixMillis::MAX),
        ));
    }
    let from = hex0x(&anchor.signer.address());
    let to = hex0x(&anchor.domain.contract);
    let providers: Vec<ProviderId> = sentinel
        .engine()
        .state()
        .providers
        .keys()
        .cloned()
        .collect();
    let mut calls = vec![
        Call::new("eth_chainId", json!([])),
        Call::new(
            "eth_call",
            json!([{"to": to, "data": hex0x(&abi::selector("quorum()"))}, "latest"]),
        ),
        Call::new("eth_getTransactionCount", json!([from, "pending"])),
        Call::new("eth_getBlockByNumber", json!(["latest", false])),
        Call::new("eth_maxPriorityFeePerGas", json!([])),
    ];
    for p in &providers {
        calls.push(Call::new(
            "eth_call",
            json!([{"to": to, "data": hex0x(&abi::latest_calldata(p))}, "latest"]),
        ));
    }
    for p in &providers {
        calls.push(Call::new(
            "eth_call",
            json!([{"to": to, "data": hex0x(&abi::index_of_calldata(p))}, "latest"]),
        ));
    }
    let answers = match rpc(sentinel, anchor, &calls, now).await {
        Ok(a) => a,
        Err(e) => {
            return Ok(Proposed::Done(
                attempt(now, false, format!("cannot read the chain: {e}")),
                Wait::Retry,
            ))
        }
    };
    let read = read_chain(&answers, &providers, &to);
    let ChainRead {
        chain_id,
        quorum,
        nonce,
        fees: f,
        records: chain,
        indices,
    } = match read {
        Ok(r) => r,
        Err(e) => {
            return Ok(Proposed::Done(
                attempt(now, false, format!("cannot read the chain: {e}")),
                Wait::Retry,
            ))
        }
    };
    if chain_id != anchor.domain.chain_id {
        return Ok(Proposed::Done(
            attempt(
                now,
                false,
                format!(
                    "the endpoint is chain {chain_id}, the config says {}: nothing is signed",
                    anchor.domain.chain_id
                ),
            ),
            Wait::Recheck(UnixMillis::MAX),
        ));
    }
    if quorum == 0 {
        return Ok(Proposed::Done(
            attempt(
                now,
                false,
                format!("the contract at {to} has no quorum set (not deployed or not configured)"),
            ),
            Wait::Recheck(UnixMillis::MAX),
        ));
    }
    // What the chain says is what the state's trust level rests on (a
    // co-signer never sees the receipt; a revocation by others counts).
    let attested: Vec<(ProviderId, Option<UnixMillis>)> = chain
        .iter()
        .filter_map(|(p, on)| {
            let live = on.epoch > 0
                && !on.revoked
                && on.trust == 3
                && on.expiry_s.saturating_mul(1000) > now;
            let until = live.then(|| on.expiry_s.saturating_mul(1000));
            let have = sentinel.engine().state().providers.get(p)?.attested_until;
            (have != until && (live || have.is_some())).then(|| (p.clone(), until))
        })
        .collect();
    let revoked: Vec<ProviderId> = sentinel
        .engine()
        .state()
        .anchoring
        .anchored
        .iter()
        .filter(|(p, a)| {
            chain
                .get(*p)
                .is_some_and(|c| c.revoked && c.epoch >= a.record.epoch)
        })
        .map(|(p, _)| p.clone())
        .collect();
    if !attested.is_empty() || !revoked.is_empty() {
        sentinel
            .change(now, |e| {
                for (p, until) in &attested {
                    e.set_attested(p, *until);
                }
                if !revoked.is_empty() {
                    let st = e.anchoring_mut();
                    for p in &revoked {
                        st.anchored.remove(p);
                    }
                }
            })
            .await?;
    }
    let cfg = &anchor.config;
    let mut plan = sentinel.engine().anchor_plan(
        now,
        &chain,
        cfg.min_trust,
        cfg.max_batch as usize,
        cfg.tolerance_bps,
    );
    if step >= Step::ScaleDown {
        // Only what is about to lapse: a record lives two epochs.
        let soon = now / 1000 + EPOCH_MS / 1000;
        plan.records.retain(|r| {
            chain
                .get(&r.provider)
                .is_none_or(|c| c.revoked || c.expiry_s <= soon)
        });
    }
    // Registered providers first, in index order (neighbours share a
    // storage slot), then new ones (registered in this order).
    plan.records.sort_by_key(|r| {
        let i = indices.get(&r.provider).copied().unwrap_or(0);
        (i == 0, i)
    });
    let ask = if let Some(p) = plan.revocations.first() {
        cosign::Ask::Revoke {
            provider: p.clone(),
            epoch: plan.epoch,
            level: chain.get(p).map(|c| c.trust),
        }
    } else if !plan.records.is_empty() {
        cosign::Ask::Batch {
            records: plan.records.clone(),
        }
    } else {
        return Ok(Proposed::Done(
            attempt(now, true, "up to date: every record due is on chain"),
            Wait::Recheck(next_epoch.saturating_add(1_000)),
        ));
    };
    // Not the proposer: step in only once the proposer has had
    // FOLLOWER_GRACE_MS since this sentinel first saw the same thing due.
    let leader = proposer(sentinel);
    let me = sentinel.config().sentinel.id.clone();
    let since = claims
        .lock()
        .map(|mut c| c.due_since(ask.key(), now))
        .unwrap_or(now);
    if leader != me && now < since.saturating_add(FOLLOWER_GRACE_MS) {
        return Ok(Proposed::NotProposer(
            format!("{leader} proposes ({} is due)", ask.describe()),
            since
                .saturating_add(FOLLOWER_GRACE_MS)
                .min(now.saturating_add(cfg.recheck.as_ms())),
        ));
    }
    let yielded = |claims: &std::sync::Mutex<cosign::Claims>, key: &cosign::Key| {
        claims
            .lock()
            .ok()
            .and_then(|c| c.yielded_to(key, clock()).cloned())
    };
    let key = ask.key();
    if let Some(who) = yielded(claims, &key) {
        return Ok(Proposed::Done(
            attempt(now, true, format!("{who} is sending it (co-signed here)")),
            Wait::Retry,
        ));
    }
    if let Ok(mut c) = claims.lock() {
        c.set_proposing(Some(key.clone()));
    }
    let (ask, sigs, notes) = gather(sentinel, anchor, ask, quorum, clock).await;
    if (sigs.len() as u64) < quorum {
        let mut what = format!(
            "waiting for co-signers: {} of {quorum} signatures",
            sigs.len()
        );
        if !notes.is_empty() {
            what.push_str(&format!(" ({})", notes.join("; ")));
        }
        return Ok(Proposed::Done(attempt(now, false, what), Wait::Retry));
    }
    let mut sigs = sigs;
    sigs.sort_by_key(|(addr, _)| *addr);
    let raw_sigs: Vec<[u8; 65]> = sigs.iter().map(|(_, s)| *s).collect();
    let (input, kind) = match &ask {
        cosign::Ask::Batch { records } => {
            let mut evidence = Vec::with_capacity(records.len());
            for r in records {
                match sentinel.engine().attestation_evidence(&r.provider, now) {
                    Some(ev) if ev.hash() == r.evidence => evidence.push(ev),
                    _ => {
                        return Ok(Proposed::Done(
                            attempt(
                                now,
                                false,
                                format!(
                                    "the evidence of {} moved while signing; retrying",
                                    r.provider
                                ),
                            ),
                            Wait::Retry,
                        ))
                    }
                }
            }
            let hints: Vec<u32> = records
                .iter()
                .map(|r| indices.get(&r.provider).copied().unwrap_or(0))
                .collect();
            (
                abi::submit_indexed_calldata(records, &raw_sigs, &hints),
                PendingKind::Batch {
                    records: records.clone(),
                    evidence,
                },
            )
        }
        cosign::Ask::Revoke {
            provider, epoch, ..
        } => (
            abi::revoke_calldata(provider, *epoch, &raw_sigs),
            PendingKind::Revoke {
                provider: provider.clone(),
                epoch: *epoch,
            },
        ),
    };
    let what = kind.describe();
    let estimate = rpc(
        sentinel,
        anchor,
        // Against the pending block: a transaction of another sentinel
        // still in the pool that anchors the same epoch makes this one
        // revert here, for free, rather than on chain.
        &[Call::new(
            "eth_estimateGas",
            json!([{"from": from, "to": to, "data": hex0x(&input)}, "pending"]),
        )],
        clock(),
    )
    .await
    .map(|mut v| v.remove(0));
    let gas = match estimate {
        Ok(Ok(v)) => match rpc::quantity_u64(&v) {
            Ok(g) => g,
            Err(e) => {
                return Ok(Proposed::Done(
                    attempt(now, false, format!("{what}: {e}")),
                    Wait::Retry,
                ))
            }
        },
        Ok(Err(RpcError::Node { data: Some(d), .. })) => {
            let reason = d
                .strip_prefix("0x")
                .and_then(super::from_hex)
                .map_or_else(|| d.clone(), |b| abi::revert_reason(&b));
            return Ok(Proposed::Done(
                attempt(
                    now,
                    false,
                    format!("{what}: the contract refuses it: {reason}; nothing sent"),
                ),
                Wait::Recheck(UnixMillis::MAX),
            ));
        }
        Ok(Err(e)) | Err(e) => {
            return Ok(Proposed::Done(
                attempt(now, false, format!("{what}: cannot estimate its gas: {e}")),
                Wait::Retry,
            ))
        }
    };
    let tip = f.tip.min(cap(anchor));
    let max_fee = f
        .base
        .saturating_mul(2)
        .saturating_add(tip)
        .min(cap(anchor));
    if f.base.saturating_add(tip) > max_fee {
        return Ok(Proposed::Done(
            attempt(
                now,
                false,
                format!(
                    "{what}: waiting: the base fee {} is above the cap of {} gwei",
                    gwei(f.base),
                    cfg.max_fee_gwei
                ),
            ),
            Wait::Retry,
        ));
    }
    let tx = Eip1559 {
        chain_id: anchor.domain.chain_id,
        nonce,
        max_priority_fee_per_gas: tip,
        max_fee_per_gas: max_fee,
        gas_limit: gas.saturating_add(gas / 5).saturating_add(GAS_MARGIN),
        to: anchor.domain.contract,
        value: 0,
        input: input.clone(),
    };
    let signed = match tx.sign(&anchor.signer) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Proposed::Done(
                attempt(now, false, format!("{what}: cannot sign: {e}")),
                Wait::Retry,
            ))
        }
    };
    let pending = Pending {
        kind,
        nonce,
        input,
        gas_limit: tx.gas_limit,
        max_fee,
        priority_fee: tip,
        raw: signed.raw.clone(),
        hashes: vec![signed.hash],
        cancels: Vec::new(),
        first_at: now,
        signed_at: now,
    };
    if let Some(who) = yielded(claims, &key) {
        return Ok(Proposed::Done(
            attempt(now, true, format!("{who} is sending it (co-signed here)")),
            Wait::Retry,
        ));
    }
    let a = match store_then_send(sentinel, anchor, &pending, clock).await? {
        Sent::Taken => attempt(
            now,
            true,
            format!("{what}: sent, tx {} (nonce {nonce})", hex0x(&signed.hash)),
        ),
        Sent::Unreachable(e) => attempt(
            now,
            false,
            format!("{what}: stored, not broadcast yet ({e}); sent again next time"),
        ),
        Sent::Refused(e) => {
            // Refused outright (funds, fees): it will never be mined.
            let a = attempt(
                now,
                false,
                format!(
                    "{what}: the node refused it: {e} (nonce {nonce}, gas limit {}, up to {} per gas)",
                    tx.gas_limit,
                    gwei(max_fee)
                ),
            );
            sentinel
                .change(clock(), |e| e.anchoring_mut().pending = None)
                .await?;
            return Ok(Proposed::Done(a, Wait::Retry));
        }
    };
    Ok(Proposed::Done(a, Wait::Now))
}

type Signatures = Vec<([u8; 20], [u8; 65])>;

/// This sentinel's signature and its peers', for `ask` (see
/// [`super::cosign`]): a batch some peer refuses records of is asked
/// again without them, once.
async fn gather<S: Store, P: Prober, C: Fn() -> UnixMillis + ?Sized>(
    sentinel: &mut Sentinel<S, P>,
    anchor: &Anchor,
    mut ask: cosign::Ask,
    quorum: u64,
    clock: &C,
) -> (cosign::Ask, Signatures, Vec<String>) {
    let me = sentinel.config().sentinel.id.clone();
    let allow = sentinel.config().sentinel.allow_private_targets;
    let mut notes = Vec::new();
    for round in 0..2 {
        notes.clear();
        let digest = ask.digest(&anchor.domain);
        let mut sigs: Signatures = Vec::new();
        match anchor.signer.sign(&digest) {
            Ok(s) => sigs.push((anchor.signer.address(), s)),
            Err(e) => {
                notes.push(format!("this sentinel cannot sign: {e}"));
                return (ask, sigs, notes);
            }
        }
        if quorum <= 1 {
            return (ask, sigs, notes);
        }
        let body = cosign::CosignRequest {
            chain_id: anchor.domain.chain_id,
            contract: hex0x(&anchor.domain.contract),
            ask: ask.clone(),
        };
        let mut jobs = Vec::new();
        for peer in sentinel.config().peers.clone() {
            if peer_down(sentinel, &peer.id) {
                notes.push(format!("{} is down", peer.id));
                continue;
            }
            let Some(secret) = sentinel.peer_secret(&peer.id) else {
                continue;
            };
            let counter = sentinel.next_peer_counter();
            if let Some(req) = cosign::request(&peer, &me, &secret, &body, clock(), counter, allow)
            {
                jobs.push((peer.id.clone(), req));
            }
        }
        let prober = sentinel.prober();
        let results =
            futures_util::future::join_all(jobs.iter().map(|(_, req)| prober.probe(req))).await;
        let mut refused = Vec::new();
        for ((peer, _), result) in jobs.iter().zip(&results) {
            match cosign::outcome(result, &digest) {
                cosign::Outcome::Signed(addr, sig) => {
                    if !sigs.iter().any(|(a, _)| *a == addr) {
                        sigs.push((addr, sig));
                    }
                }
                cosign::Outcome::Refused(r) => {
                    for x in &r {
                        notes.push(format!("{peer} refuses {}: {}", x.provider, x.why));
                    }
                    refused.extend(r.into_iter().map(|x| x.provider));
                }
                cosign::Outcome::Failed(why) => notes.push(format!("{peer}: {why}")),
            }
        }
        let enough = sigs.len() as u64 >= quorum;
        match &mut ask {
            cosign::Ask::Batch { records } if !enough && !refused.is_empty() && round == 0 => {
                records.retain(|r| !refused.contains(&r.provider));
                if records.is_empty() {
                    return (ask, Vec::new(), notes);
                }
            }
            _ => return (ask, sigs, notes),
        }
    }
    (ask, Vec::new(), notes)
}

/// The evidence frozen for an anchored record, if this sentinel anchored
/// `id`'s latest record.
pub fn anchored_evidence(engine: &crate::Engine, id: &ProviderId) -> Option<(Anchored, Evidence)> {
    let a = engine.state().anchoring.anchored.get(id)?;
    Some((a.clone(), a.evidence.clone()))
}
