//! What using a provider costs now: the marginal cost of a request, the
//! free-tier headroom, and the cost component of the reputation.
//!
//! The month's prices themselves are [`Rates`] (see [`money`](super::money)):
//! this module reads them against a provider's [`Ledger`].

use super::ledger::Ledger;
use super::period;
use crate::time::UnixMillis;
use crate::Bps;

// The money types lived here before they became a leaf module of their own;
// their old paths still resolve.
pub use super::money::{gb_to_bytes, usd_to_nano, Rates, Usage, BYTES_PER_GB, NANO_PER_USD};

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
    }
}
