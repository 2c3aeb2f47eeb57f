//! What the sentinel keeps about anchoring between wake-ups (part of
//! [`crate::State`]).
//!
//! - At most one transaction is in flight ([`Pending`]). It is written to
//!   the store *before* it is broadcast: a crash between the two leaves a
//!   pending transaction that the next wake-up broadcasts again, byte for
//!   byte (same nonce, same hash), instead of signing a second one. Every
//!   version sent for its nonce is remembered (a replacement with higher
//!   fees has a new hash, and the earlier one may still be the one mined).
//! - Per provider, the last record seen landing ([`Anchored`]) with its
//!   evidence report frozen: the live record moves with the state all
//!   epoch, and the evidence a verifier recomputes must be the one whose
//!   hash is on chain.
//! - The last attempt's outcome ([`Attempt`]), written when it changes
//!   (a dead endpoint writes once, not at every wake-up).

use crate::attest::{Evidence, Record};
use crate::time::UnixMillis;
use crate::ProviderId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Versions of one pending transaction remembered (a replacement every
/// `replace_after`; past this, the oldest hash is forgotten).
pub const MAX_VERSIONS: usize = 8;

/// The anchoring state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchoring {
    /// The transaction in flight.
    pub pending: Option<Pending>,
    /// Per provider, the last record seen landing, with its evidence.
    pub anchored: BTreeMap<ProviderId, Anchored>,
    /// The last attempt.
    pub last: Option<Attempt>,
    /// Changes so far (orders replicas in a merge).
    pub updates: u64,
    /// Transactions landed.
    pub landed: u64,
    /// Gas they used.
    pub gas_used: u64,
    /// What they cost, in wei.
    pub wei_spent: u128,
}

/// A transaction sent (or about to be) and not yet settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// What it does.
    pub kind: PendingKind,
    /// Its nonce.
    pub nonce: u64,
    /// Its calldata.
    pub input: Vec<u8>,
    /// Gas limit.
    pub gas_limit: u64,
    /// Fee cap per gas of the newest version, wei.
    pub max_fee: u128,
    /// Priority fee per gas of the newest version, wei.
    pub priority_fee: u128,
    /// The newest version's signed bytes.
    pub raw: Vec<u8>,
    /// Hashes of every version sent, oldest first (the newest last; past
    /// [`MAX_VERSIONS`], the second oldest is forgotten, never the first).
    pub hashes: Vec<[u8; 32]>,
    /// The versions among them that cancel it (a transfer of nothing to
    /// this sentinel's own address at the same nonce): a batch still
    /// unmined when its records expired would only revert, paying for it.
    pub cancels: Vec<[u8; 32]>,
    /// When it was first signed.
    pub first_at: UnixMillis,
    /// When the newest version was signed.
    pub signed_at: UnixMillis,
}

impl Pending {
    /// The newest version's hash.
    pub fn hash(&self) -> [u8; 32] {
        self.hashes.last().copied().unwrap_or_default()
    }

    /// Whether the newest version cancels it.
    pub fn cancelling(&self) -> bool {
        self.hashes.last().is_some_and(|h| self.cancels.contains(h))
    }

    /// Records a new version (keeping the first and the newest ones).
    pub fn push_version(&mut self, hash: [u8; 32], cancel: bool) {
        self.hashes.push(hash);
        if cancel {
            self.cancels.push(hash);
        }
        if self.hashes.len() > MAX_VERSIONS {
            let gone = self.hashes.remove(1);
            self.cancels.retain(|h| *h != gone);
        }
    }
}

/// What a pending transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingKind {
    /// Anchors a batch of records.
    Batch {
        /// The records.
        records: Vec<Record>,
        /// The evidence behind each (same order), frozen.
        evidence: Vec<Evidence>,
    },
    /// Revokes a provider's record.
    Revoke {
        /// The provider.
        provider: ProviderId,
        /// From this epoch.
        epoch: u64,
    },
}

impl PendingKind {
    /// A short description for logs and the API.
    pub fn describe(&self) -> String {
        match self {
            PendingKind::Batch { records, .. } => format!(
                "anchor {} record{} of epoch {}",
                records.len(),
                if records.len() == 1 { "" } else { "s" },
                records.first().map_or(0, |r| r.epoch)
            ),
            PendingKind::Revoke { provider, epoch } => {
                format!("revoke {provider} from epoch {epoch}")
            }
        }
    }
}

/// A record seen landing on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchored {
    /// The record.
    pub record: Record,
    /// The evidence its hash commits to.
    pub evidence: Evidence,
    /// The transaction.
    pub tx: [u8; 32],
    /// Its block.
    pub block: u64,
    /// When the receipt was seen.
    pub at: UnixMillis,
}

/// The outcome of one anchoring step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When.
    pub at: UnixMillis,
    /// Whether it went as it should (a wait for co-signers or the next
    /// epoch is fine; an unreachable endpoint or a revert is not).
    pub ok: bool,
    /// What happened, in a sentence.
    pub what: String,
}

impl Anchoring {
    /// Joins two replicas: the one with more updates (ties: the larger
    /// encoding), with each provider's newest anchored record from either.
    pub fn merge(&self, other: &Anchoring) -> Anchoring {
        let key = |a: &Anchoring| (a.updates, postcard::to_allocvec(a).unwrap_or_default());
        let (win, lose) = if key(self) >= key(other) {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = win.clone();
        for (id, a) in &lose.anchored {
            let newer = out
                .anchored
                .get(id)
                .is_none_or(|b| (a.record.epoch, a.block) > (b.record.epoch, b.block));
            if newer {
                out.anchored.insert(id.clone(), a.clone());
            }
        }
        out
    }

    /// Keeps anchored records only for `known` providers.
    pub fn retain(&mut self, known: impl Fn(&ProviderId) -> bool) {
        self.anchored.retain(|id, _| known(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::config::Config;
    use crate::time::{DAY, MINUTE};

    fn alerts(d: &crate::Decision) -> Vec<(String, bool)> {
        d.actions
            .iter()
            .filter_map(|a| match a {
                Action::Alert { key, firing, .. } if key == "anchoring" => {
                    Some((key.clone(), *firing))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_failing_anchoring_alerts_after_ten_minutes_and_resolves() {
        let t0 = 20_000 * DAY;
        let cfg = Config::from_toml(
            "[sentinel]\nid = \"s\"\nallow_private_targets = true\n[chain]\nrpc = \"http://127.0.0.1:8545\"\nchain_id = 31337\ncontract = \"0x5fbdb2315678afecb367f032d93f642f64180aa3\"\n[[service]]\nid = \"svc\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:1\"\ninitial = \"active\"\n",
        )
        .unwrap();
        let mut e = crate::Engine::new(cfg, crate::State::default(), t0).unwrap();
        e.decide(t0);
        e.state_mut().anchoring.last = Some(Attempt {
            at: t0,
            ok: false,
            what: "cannot read the chain: unreachable".into(),
        });
        assert!(alerts(&e.decide(t0 + 5 * MINUTE)).is_empty());
        let fired = e.decide(t0 + 11 * MINUTE);
        assert_eq!(alerts(&fired), vec![("anchoring".to_string(), true)]);
        e.state_mut().anchoring.last = Some(Attempt {
            at: t0 + 12 * MINUTE,
            ok: true,
            what: "up to date".into(),
        });
        assert_eq!(
            alerts(&e.decide(t0 + 12 * MINUTE)),
            vec![("anchoring".to_string(), false)]
        );
    }
}
