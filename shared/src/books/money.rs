//! Money in integers: nano-USD, the compiled cost model ([`Rates`]) and
//! the month's usage it prices.
//!
//! [`Rates`] is a `CostModel` compiled once into integer nano-USD
//! (1 nano-USD = 10⁻⁹ USD, so `u64` holds up to about 18 billion
//! dollars). Each price applies to a group of metrics; a
//! provider normally reports one metric of each group:
//!
//! | price            | metrics                                   | free tier pool  |
//! |------------------|-------------------------------------------|-----------------|
//! | per request      | `requests`, `writes`, `invocations`       | `requests`      |
//! | per GB (10⁹ B)   | `egress-bytes`, `storage-bytes`           | `gb`            |
//! | per compute unit | `compute-units`, `gas`                    | `compute_units` |
//! | —                | `cost-nano-usd` (a bill, added as is)     | —               |
//!
//! **Pricing is a function of the month's totals**, not of single events:
//! the variable cost of a month is
//!
//! ```text
//! price(total, free, unit) = max(total − free, 0) × unit        (requests, compute units)
//! price(bytes, free, per_gb) = ⌈max(bytes − free, 0) × per_gb / 10⁹⌉
//! ```
//!
//! and the ledger adds `price(after) − price(before)` on every record. Byte
//! prices are thus rounded once over the month instead of once per event
//! (a thousand 1 KB responses at $0.09/GB cost the same as one 1 MB
//! response, not a thousand roundings), rounded up so spend is never
//! under-counted, and the free tier is crossed exactly where it ends.
//!
//! The fixed monthly fee is committed at the start of the month: it counts
//! toward the money budget in full from the 1st, and is not extrapolated.
//!
//! This module is the leaf of the books: it uses no other part of them, so
//! the configuration (`spec`), the ledger, the ladder and the cost score
//! all build on it. Which metric falls into which group is decided by
//! [`Usage::add`], which lives beside the metrics in `spec`.

use crate::Bps;
use serde::{Deserialize, Serialize};

/// Nano-USD in one US dollar.
pub const NANO_PER_USD: u64 = 1_000_000_000;

/// Bytes in one GB as providers bill it (decimal, 10⁹).
pub const BYTES_PER_GB: u64 = 1_000_000_000;

/// Converts US dollars to nano-USD with `(usd × 1e9).round()`; negative,
/// NaN and infinite amounts give 0, amounts above `u64::MAX` nano saturate.
/// This is the only place money passes through a float.
pub fn usd_to_nano(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        // `as` saturates at u64::MAX; IEEE multiplication and `round` are
        // exact and identical on wasm32 and native.
        (usd * 1e9).round() as u64
    } else {
        0
    }
}

/// Converts GB (10⁹ bytes) to bytes, rounding like [`usd_to_nano`].
pub fn gb_to_bytes(gb: f64) -> u64 {
    usd_to_nano(gb)
}

/// A cost model in integers: what the ledger prices usage with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// Nano-USD per request, write or invocation beyond the free tier.
    pub per_request_nano: u64,
    /// Nano-USD per GB (10⁹ bytes) of egress or storage beyond the free tier.
    pub per_gb_nano: u64,
    /// Nano-USD per compute unit (or gas) beyond the free tier.
    pub per_compute_unit_nano: u64,
    /// Fixed nano-USD per month.
    pub monthly_fixed_nano: u64,
    /// Free requests per month.
    pub free_requests: u64,
    /// Free bytes per month.
    pub free_bytes: u64,
    /// Free compute units per month.
    pub free_compute_units: u64,
    /// The monthly money budget in nano-USD (fixed fee included), if any.
    pub budget_nano: Option<u64>,
    /// Budget utilization at which to alert.
    pub alert_threshold: Bps,
}

/// Month-to-date usage in the three priced groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requests, writes and invocations.
    pub requests: u64,
    /// Egress and storage bytes.
    pub bytes: u64,
    /// Compute units and gas.
    pub compute_units: u64,
}

impl Rates {
    /// The variable cost, in nano-USD, of a month with `usage` (free tier
    /// deducted, fixed fee not included). Monotone in each field; saturates
    /// at `u64::MAX`.
    pub fn variable_cost(&self, usage: Usage) -> u64 {
        let req = u128::from(usage.requests.saturating_sub(self.free_requests))
            * u128::from(self.per_request_nano);
        let cu = u128::from(usage.compute_units.saturating_sub(self.free_compute_units))
            * u128::from(self.per_compute_unit_nano);
        let bytes =
            u128::from(usage.bytes.saturating_sub(self.free_bytes)) * u128::from(self.per_gb_nano);
        let gb = bytes.div_ceil(u128::from(BYTES_PER_GB));
        u64::try_from(req.saturating_add(cu).saturating_add(gb)).unwrap_or(u64::MAX)
    }

    /// Whether any usage can cost money (a price is set).
    pub const fn is_priced(&self) -> bool {
        self.per_request_nano > 0 || self.per_gb_nano > 0 || self.per_compute_unit_nano > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn conversion() {
        assert_eq!(usd_to_nano(0.0000004), 400);
        assert_eq!(usd_to_nano(0.09), 90_000_000);
        assert_eq!(usd_to_nano(1.0), NANO_PER_USD);
        assert_eq!(usd_to_nano(-1.0), 0);
        assert_eq!(usd_to_nano(f64::NAN), 0);
        assert_eq!(usd_to_nano(1e30), u64::MAX);
    }

    proptest! {
        #[test]
        fn variable_cost_monotone(r in 0u64..1u64 << 40, b in 0u64..1u64 << 50, c in 0u64..1u64 << 40,
                                  dr in 0u64..1000, db in 0u64..1_000_000, dc in 0u64..1000,
                                  pr in 0u64..10_000, pg in 0u64..1_000_000_000, pc in 0u64..10_000) {
            let rates = Rates { per_request_nano: pr, per_gb_nano: pg, per_compute_unit_nano: pc,
                                free_requests: 1000, free_bytes: 1 << 30, ..Rates::default() };
            let a = rates.variable_cost(Usage { requests: r, bytes: b, compute_units: c });
            let z = rates.variable_cost(Usage { requests: r + dr, bytes: b + db, compute_units: c + dc });
            prop_assert!(z >= a);
        }
    }
}
