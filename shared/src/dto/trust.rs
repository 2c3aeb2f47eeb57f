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
}
