//! Integer prices, the free tier, and the cost component of the reputation.
//!
//! [`Rates`] is a [`CostModel`](super::CostModel) compiled once into
//! integer nano-USD (1 nano-USD = 10⁻⁹ USD, so `u64` holds up to about
//! 18 billion dollars). Each price applies to a group of metrics; a
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

use super::ledger::Ledger;
use super::period;
use super::spec::Metric;
use crate::time::UnixMillis;
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

impl Usage {
    /// Adds `amount` of `metric` to its group (saturating); `cost-nano-usd`
    /// is no usage and is ignored.
    pub fn add(&mut self, metric: Metric, amount: u64) {
        let field = match metric {
            Metric::Requests | Metric::Writes | Metric::Invocations => &mut self.requests,
            Metric::EgressBytes | Metric::StorageBytes => &mut self.bytes,
            Metric::ComputeUnits | Metric::Gas => &mut self.compute_units,
            Metric::CostNanoUsd => return,
        };
        *field = field.saturating_add(amount);
    }
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

/// What the next request costs, in nano-USD: 0 while the month's free
/// requests are not used up, the per-request price after. A ledger from an
/// earlier month counts as a fresh month (its free tier has reset).
pub fn marginal_cost_per_request_nano(rates: &Rates, ledger: &Ledger, now: UnixMillis) -> u64 {
    let used = if period::month(now).start > ledger.month_start {
        0
    } else {
        ledger.requests
    };
    if used < rates.free_requests {
        0
    } else {
        rates.per_request_nano
    }
}

/// The fraction of the free tier still unused this month: the minimum over
/// the pools the free tier has (requests, bytes, compute units), since the
/// first pool to run out is where paying starts. `0` when there is no free
/// tier. Reads the ledger as is: [`roll`](Ledger::roll) it to `now` first.
pub fn free_headroom(rates: &Rates, ledger: &Ledger) -> Bps {
    [
        (rates.free_requests, ledger.requests),
        (rates.free_bytes, ledger.bytes),
        (rates.free_compute_units, ledger.compute_units),
    ]
    .into_iter()
    .filter(|(free, _)| *free > 0)
    .map(|(free, used)| Bps::ratio_or(free.saturating_sub(used), free, Bps::ZERO))
    .min()
    .unwrap_or(Bps::ZERO)
}

/// The cost component of a provider's reputation, 0..=10 000.
///
/// ```text
/// base  = cheapest / own            (10 000 when own = 0 or own ≤ cheapest)
/// score = base + (10 000 − base) × headroom
/// ```
///
/// `own_nano_per_1k` and `cheapest_nano_per_1k` are prices of 1000 requests
/// (per 1000 so that sub-nano prices still differ), the cheapest over the
/// service's eligible alternatives. The ratio (not the difference) makes
/// the score scale-free: twice the cheapest price scores 50 whether that is
/// $0.20 or $20 per million, the way the seed's "cost per request against
/// the cheapest alternative" reads. A free provider scores 100, and a
/// cheaper-than-cheapest one (a stale `cheapest`) is capped at 100.
///
/// Free headroom counts in the provider's favour because while it lasts the
/// next request really costs nothing: with `headroom` of the free tier left
/// the score moves that fraction of the way from the list-price score to
/// 100. A full free tier scores 100 whatever the list price; an exhausted
/// one scores the list price. The blend is monotone in every argument
/// (cheaper or more headroom never scores lower) and stays in range.
pub fn cost_score(own_nano_per_1k: u64, cheapest_nano_per_1k: u64, headroom: Bps) -> Bps {
    let base = if own_nano_per_1k == 0 {
        Bps::MAX
    } else {
        Bps::ratio_or(cheapest_nano_per_1k, own_nano_per_1k, Bps::MAX)
    };
    Bps::MAX.blend(base, headroom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::spec::{CostModel, FreeTier};
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

    #[test]
    fn free_tier_then_paid() {
        let rates = CostModel {
            per_request_usd: 0.000001, // 1000 nano
            per_gb_usd: 0.09,
            free_tier: FreeTier {
                requests: 100,
                gb: 1.0,
                compute_units: 0,
            },
            ..CostModel::default()
        }
        .compile();
        let u = |requests, bytes| Usage {
            requests,
            bytes,
            compute_units: 0,
        };
        assert_eq!(rates.variable_cost(u(100, 0)), 0);
        assert_eq!(rates.variable_cost(u(101, 0)), 1000);
        assert_eq!(rates.variable_cost(u(150, 0)), 50_000);
        assert_eq!(rates.variable_cost(u(0, BYTES_PER_GB)), 0);
        // 1 byte over the free GB costs ⌈0.09 nano⌉ = 1 nano.
        assert_eq!(rates.variable_cost(u(0, BYTES_PER_GB + 1)), 1);
        assert_eq!(rates.variable_cost(u(0, 3 * BYTES_PER_GB)), 180_000_000);
    }

    #[test]
    fn cost_scores() {
        assert_eq!(cost_score(100, 100, Bps::ZERO), Bps::MAX);
        assert_eq!(cost_score(200, 100, Bps::ZERO), Bps::new(5000));
        assert_eq!(cost_score(400, 100, Bps::ZERO), Bps::new(2500));
        assert_eq!(cost_score(0, 0, Bps::ZERO), Bps::MAX);
        assert_eq!(cost_score(100, 0, Bps::ZERO), Bps::ZERO);
        assert_eq!(cost_score(50, 100, Bps::ZERO), Bps::MAX);
        // Half the free tier left: halfway from 25 to 100.
        assert_eq!(cost_score(400, 100, Bps::new(5000)), Bps::new(6250));
        assert_eq!(cost_score(400, 100, Bps::MAX), Bps::MAX);
    }

    proptest! {
        #[test]
        fn cost_score_monotone(own in 1u64..1_000_000, extra in 0u64..1_000_000,
                               cheapest in 0u64..1_000_000, h in 0u32..=10_000, dh in 0u32..10_000) {
            let h = Bps::new(h);
            let s = cost_score(own, cheapest, h);
            prop_assert!(s <= Bps::MAX);
            prop_assert!(cost_score(own + extra, cheapest, h) <= s);
            prop_assert!(cost_score(own, cheapest, Bps::new(u32::from(h.get()) + dh)) >= s);
        }

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
