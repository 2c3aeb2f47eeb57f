//! The bookkeeper: usage, cost and limits of every provider, and of the
//! sentinel itself.
//!
//! The flow, one concept per module:
//!
//! 0. [`money`] — the leaf the others build on: integer nano-USD, the
//!    compiled cost model ([`Rates`]) and the month's [`Usage`] it prices.
//! 1. [`spec`] — what the operator configures: [`Limits`] (quotas of a
//!    [`Metric`] per UTC [`Period`], with reset offsets), a [`CostModel`]
//!    (prices, monthly free tier, monthly budget), [`Budgets`] per provider
//!    kind and the [`Ladder`] (80 / 90 / 95 / 100 %). Dollar floats are
//!    compiled once into integer nano-USD [`Rates`].
//! 2. [`period`] — the UTC window `[start, end)` of each period, shifted by
//!    the reset offset (Dec→Jan and leap Februaries included).
//! 3. [`ledger`] — the [`Ledger`] counts usage per quota period and
//!    month-to-date totals and cost; it rolls periods, prices usage against
//!    the free tier, and merges replicas deterministically.
//! 4. [`ladder`] — [`status`] gives utilization and the burn-rate projection
//!    of every quota and of the money budget; [`step`] picks the ladder step
//!    (acting before the limit: a projected exhaustion alerts), and
//!    [`kind_budget_step`] does the same for per-kind budgets.
//! 5. [`cost`] — the marginal cost of a request, free-tier headroom and
//!    the cost component of the reputation ([`cost_score`]).
//! 6. [`pace`] — the proactive half for the sentinel's own store writes:
//!    a linear allowance (GCRA-style) that skips wake-ups running ahead of
//!    a budgeted store's daily writes ([`Pace`]).
//!
//! Everything is integer arithmetic on `u64`/`u128` with explicit rounding,
//! so every target computes the same steps and scores.

pub mod cost;
pub mod ladder;
pub mod ledger;
pub mod money;
pub mod pace;
pub mod period;
pub mod spec;

pub use cost::{cost_score, free_headroom, marginal_cost_per_request_nano};
pub use ladder::{kind_budget_step, status, step, QuotaStatus, Reason, Source, Step, Trigger};
pub use ledger::{Counter, Ledger};
pub use money::{usd_to_nano, Rates, Usage};
pub use pace::{with_store_budget, Pace, Verdict};
pub use period::Window;
pub use spec::{Budgets, CostModel, FreeTier, Ladder, Limits, Metric, Period, Quota};
