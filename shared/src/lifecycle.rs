//! Lifecycle and trust.
//!
//! ```text
//!  discovered ──► testing ──(24 h, reputation stayed > 70)──► standby ◄──► active
//!                    ▲  └──(fell to ≤ 70: testing restarts)        │          │
//!                    └──────────────┘                              ▼          ▼
//!                                      standby ◄── recovering ◄── failed ◄────┘
//!                            (healthy for recovery_period) (N successes)
//! ```
//! Trust levels come from the decision total (seed): Verified above 90 with a
//! valid on-chain attestation, Trusted above 80, Testing above 70,
//! Untrusted otherwise. Untrusted providers are never routed to.

use crate::config::TrustPolicy;
use crate::time::UnixMillis;
use crate::Bps;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a provider is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    /// Known (submitted, found in a catalog) but not yet probed.
    Discovered,
    /// Being probed through the testing period; not routed to.
    Testing,
    /// The provider its service routes to.
    Active,
    /// Healthy and ready to take over.
    Standby,
    /// Down or failing; probed less often until it recovers.
    Failed,
    /// Answering again; must stay healthy for the recovery period.
    Recovering,
}

impl Lifecycle {
    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Discovered => "discovered",
            Lifecycle::Testing => "testing",
            Lifecycle::Active => "active",
            Lifecycle::Standby => "standby",
            Lifecycle::Failed => "failed",
            Lifecycle::Recovering => "recovering",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a provider is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustLevel {
    /// Below the testing threshold: never routed to.
    Untrusted,
    /// Above 70.
    Testing,
    /// Above 80.
    Trusted,
    /// Above 90 and attested on chain.
    Verified,
}

impl TrustLevel {
    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TrustLevel::Untrusted => "untrusted",
            TrustLevel::Testing => "testing",
            TrustLevel::Trusted => "trusted",
            TrustLevel::Verified => "verified",
        }
    }
}

impl fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trust level of a provider whose decision total is `total`, attested
/// on chain until `attested_until` (if ever).
pub fn trust_level(
    total: Bps,
    attested_until: Option<UnixMillis>,
    now: UnixMillis,
    p: &TrustPolicy,
) -> TrustLevel {
    let attested = attested_until.is_some_and(|until| until > now);
    if total > p.verified_above && attested {
        TrustLevel::Verified
    } else if total > p.trusted_above {
        TrustLevel::Trusted
    } else if total > p.testing_above {
        TrustLevel::Testing
    } else {
        TrustLevel::Untrusted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_thresholds_are_strict() {
        let p = TrustPolicy::default();
        assert_eq!(
            trust_level(Bps::new(7000), None, 0, &p),
            TrustLevel::Untrusted
        );
        assert_eq!(
            trust_level(Bps::new(7001), None, 0, &p),
            TrustLevel::Testing
        );
        assert_eq!(
            trust_level(Bps::new(8001), None, 0, &p),
            TrustLevel::Trusted
        );
        assert_eq!(
            trust_level(Bps::new(9500), None, 0, &p),
            TrustLevel::Trusted
        );
        assert_eq!(
            trust_level(Bps::new(9500), Some(10), 5, &p),
            TrustLevel::Verified
        );
        assert_eq!(
            trust_level(Bps::new(9500), Some(10), 10, &p),
            TrustLevel::Trusted,
            "expired"
        );
    }
}
