//! What to anchor on chain this epoch, and what to revoke (sans-IO).
//!
//! A shell reads the contract's `latest(provider)` for the providers it
//! knows ([`OnChain`]), asks [`crate::Engine::anchor_plan`], signs the
//! batch digest of [`AnchorPlan::records`] and the revocation digests
//! ([`crate::attest::Domain`]), and submits. The chain is the record of
//! what was anchored, so the plan is idempotent across restarts and
//! across sentinels: a provider whose record for this epoch is on chain
//! already is not planned again (the contract would refuse it as stale,
//! after spending gas to find out).
//!
//! - A provider is attested when its record claims at least `min_trust`
//!   (default 2, trusted) and it is in service (active, standby or
//!   recovering: a provider in testing has not earned a claim yet).
//! - A provider with a live record on chain (not revoked, not expired, at
//!   or above `min_trust`) is revoked when it fell below `min_trust` or
//!   failed, or — within the record's own epoch, which cannot be anchored
//!   again — when it no longer earns the level the record claims even with
//!   `margin_bps` in its favour (a hysteresis: a score hovering at a
//!   threshold is not revoked and re-anchored every hour). A degraded
//!   provider must not keep its level until its record expires; from the
//!   next epoch, its new record replaces the old one.
//! - A chain record from a later epoch than this sentinel's clock says
//!   (a skewed clock here) is left alone.
//! - At most `max_batch` records are planned (gas per transaction); the
//!   rest wait for the next plan, lowest provider ids first.

use crate::attest::{epoch_of, Record};
use crate::lifecycle::Lifecycle;
use crate::time::UnixMillis;
use crate::ProviderId;
use std::collections::BTreeMap;

/// A provider's latest record as the contract returns it
/// (`latest(bytes32)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OnChain {
    /// Score, basis points.
    pub score_bps: u16,
    /// Trust level (0–3).
    pub trust: u8,
    /// Epoch (hours).
    pub epoch: u64,
    /// Valid until, Unix seconds.
    pub expiry_s: u64,
    /// Revoked.
    pub revoked: bool,
}

impl OnChain {
    fn live(&self, now: UnixMillis, min_trust: u8) -> bool {
        self.epoch > 0 && !self.revoked && self.expiry_s > now / 1000 && self.trust >= min_trust
    }
}

/// What to do this epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnchorPlan {
    /// The epoch.
    pub epoch: u64,
    /// Records to anchor, in one batch.
    pub records: Vec<Record>,
    /// Providers to revoke (each at this epoch).
    pub revocations: Vec<ProviderId>,
    /// Eligible records left for a later plan (beyond `max_batch`).
    pub deferred: usize,
}

impl crate::Engine {
    /// The plan at `now`, given what the chain holds (see the module
    /// docs).
    pub fn anchor_plan(
        &self,
        now: UnixMillis,
        chain: &BTreeMap<ProviderId, OnChain>,
        min_trust: u8,
        max_batch: usize,
        margin_bps: u16,
    ) -> AnchorPlan {
        let epoch = epoch_of(now);
        let mut plan = AnchorPlan {
            epoch,
            ..AnchorPlan::default()
        };
        for (id, ps) in &self.state().providers {
            let on_chain = chain.get(id).copied().unwrap_or_default();
            if on_chain.epoch > epoch {
                continue;
            }
            let in_service = matches!(
                ps.lifecycle,
                Lifecycle::Active | Lifecycle::Standby | Lifecycle::Recovering
            );
            let record = self
                .attestation_record(id, now)
                .filter(|r| in_service && r.trust >= min_trust);
            match record {
                Some(r) if on_chain.epoch < epoch => {
                    if plan.records.len() < max_batch {
                        plan.records.push(r);
                    } else {
                        plan.deferred += 1;
                    }
                }
                Some(r)
                    if on_chain.live(now, min_trust)
                        && self.trust_claim(r.score_bps.saturating_add(margin_bps).min(10_000))
                            < on_chain.trust =>
                {
                    plan.revocations.push(id.clone())
                }
                Some(_) => {}
                None if on_chain.live(now, min_trust) => plan.revocations.push(id.clone()),
                None => {}
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::time::DAY;

    fn engine(now: UnixMillis) -> crate::Engine {
        let cfg = Config::from_toml(
            "[sentinel]\nid = \"s\"\nallow_private_targets = true\n[policy.trust]\nverified_above = 5000\ntrusted_above = 4000\ntesting_above = 3000\n[[service]]\nid = \"svc\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:1\"\ninitial = \"active\"\n[[service.provider]]\nid = \"b\"\nendpoint = \"http://127.0.0.1:2\"\n[[service.provider]]\nid = \"c\"\nendpoint = \"http://127.0.0.1:3\"\n",
        )
        .unwrap();
        let mut e = crate::Engine::new(cfg, crate::State::default(), now).unwrap();
        e.decide(now);
        e
    }

    fn id(s: &str) -> ProviderId {
        ProviderId::new(s).unwrap()
    }

    /// What the contract would hold after the plan landed.
    fn land(chain: &mut BTreeMap<ProviderId, OnChain>, plan: &AnchorPlan) {
        for r in &plan.records {
            chain.insert(
                r.provider.clone(),
                OnChain {
                    score_bps: r.score_bps,
                    trust: r.trust,
                    epoch: r.epoch,
                    expiry_s: r.expiry_s,
                    revoked: false,
                },
            );
        }
        for p in &plan.revocations {
            if let Some(c) = chain.get_mut(p) {
                c.revoked = true;
                c.epoch = plan.epoch;
            }
        }
    }

    #[test]
    fn an_epoch_is_planned_once_and_a_landed_plan_leaves_nothing_to_do() {
        let now = 20_000 * DAY;
        let e = engine(now);
        let mut chain = BTreeMap::new();
        let plan = e.anchor_plan(now, &chain, 2, 100, 500);
        let ids: Vec<&str> = plan.records.iter().map(|r| r.provider.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(plan.revocations.is_empty());
        land(&mut chain, &plan);
        // Again in the same epoch (a restart, another sentinel): nothing.
        let again = e.anchor_plan(now + 1_000, &chain, 2, 100, 500);
        assert!(
            again.records.is_empty() && again.revocations.is_empty(),
            "{again:?}"
        );
        // The next epoch: all again.
        let next = e.anchor_plan(now + crate::attest::EPOCH_MS, &chain, 2, 100, 500);
        assert_eq!(next.records.len(), 3);
        // A batch cap defers the rest.
        let capped = e.anchor_plan(now + crate::attest::EPOCH_MS, &chain, 2, 2, 500);
        assert_eq!((capped.records.len(), capped.deferred), (2, 1));
    }

    #[test]
    fn a_provider_below_the_level_it_holds_this_epoch_is_revoked_with_a_margin() {
        let now = 20_000 * DAY;
        let cfg = Config::from_toml(
            "[sentinel]\nid = \"s\"\nallow_private_targets = true\n[policy.trust]\nverified_above = 9000\ntrusted_above = 4000\ntesting_above = 3000\n[[service]]\nid = \"svc\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:1\"\ninitial = \"active\"\n",
        )
        .unwrap();
        let mut e = crate::Engine::new(cfg, crate::State::default(), now).unwrap();
        e.decide(now);
        let own = e.attestation_record(&id("a"), now).unwrap();
        assert_eq!(own.trust, 2, "the prior earns trusted here: {own:?}");
        // Another sentinel anchored it verified this epoch.
        let epoch = crate::attest::epoch_of(now);
        let chain = BTreeMap::from([(
            id("a"),
            OnChain {
                score_bps: 9_100,
                trust: 3,
                epoch,
                expiry_s: own.expiry_s,
                revoked: false,
            },
        )]);
        let gap = 9_001 - own.score_bps;
        let tight = e.anchor_plan(now, &chain, 2, 100, gap - 1);
        assert_eq!(tight.revocations, vec![id("a")], "{tight:?}");
        let lenient = e.anchor_plan(now, &chain, 2, 100, gap);
        assert!(lenient.revocations.is_empty(), "{lenient:?}");
        // Next epoch: replaced by its own record, not revoked.
        let next = e.anchor_plan(now + crate::attest::EPOCH_MS, &chain, 2, 100, 0);
        assert!(next.revocations.is_empty());
        assert_eq!(next.records.len(), 1);
    }

    #[test]
    fn a_provider_that_fails_or_degrades_is_revoked_and_a_future_record_left_alone() {
        let now = 20_000 * DAY;
        let mut e = engine(now);
        let mut chain = BTreeMap::new();
        let first = e.anchor_plan(now, &chain, 2, 100, 500);
        land(&mut chain, &first);
        // b fails.
        let later = now + crate::attest::EPOCH_MS;
        if let Some(ps) = e.state_mut().providers.get_mut(&id("b")) {
            ps.lifecycle = Lifecycle::Failed;
        }
        // c's record on chain is from an epoch ahead of this clock.
        chain.get_mut(&id("c")).unwrap().epoch = crate::attest::epoch_of(later) + 5;
        let plan = e.anchor_plan(later, &chain, 2, 100, 500);
        assert_eq!(plan.revocations, vec![id("b")]);
        let ids: Vec<&str> = plan.records.iter().map(|r| r.provider.as_str()).collect();
        assert_eq!(ids, ["a"]);
        land(&mut chain, &plan);
        // Revoked once; not again.
        let again = e.anchor_plan(later + 1_000, &chain, 2, 100, 500);
        assert!(again.revocations.is_empty(), "{again:?}");
        // Asking for verified only: nothing below it is anchored, and a
        // provider never anchored is not revoked.
        let strict = e.anchor_plan(
            later + crate::attest::EPOCH_MS,
            &BTreeMap::new(),
            3,
            100,
            500,
        );
        assert!(strict.records.iter().all(|r| r.trust == 3));
        assert!(strict.revocations.is_empty());
    }
}
