//! What the operator configures: quotas, prices, budgets and the ladder.
//!
//! These are plain configuration types (TOML or JSON), each rejecting
//! unknown keys and each with a `validate` that reports every problem under
//! its dotted key (`services[0].providers[1].limits.quotas[2].limit`).
//!
//! Money is written in US dollars as floats because that is how price lists
//! read (`per_request_usd = 0.0000004`), but floats are never used past
//! loading: [`CostModel::compile`] converts each amount once, with
//! `(usd × 1e9).round()`, into integer nano-USD ([`Rates`]), and everything
//! that is summed, compared or signed afterwards is integer arithmetic, so a
//! wasm32 Worker and an x86_64 Lambda reach the same numbers.
//!
//! Defaults:
//! - quotas: none; a quota's `reset_offset` is 0 (periods start at the UTC
//!   minute, hour, midnight or first of the month);
//! - cost model: everything free (all prices 0, no free tier, no budget),
//!   budget alert at 80 %;
//! - ladder: the seed design's 80 % alert, 90 % prefer free, 95 % scale
//!   down, 100 % stop.

use super::money::{gb_to_bytes, usd_to_nano, Rates, Usage};
use crate::errors::{join, Errors};
use crate::time::{Span, DAY, HOUR, MINUTE};
use crate::{Bps, Kind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest amount of money (in USD) any price, budget or fee may be: one
/// billion dollars, 10^18 nano-USD, comfortably inside `u64`.
pub const MAX_USD: f64 = 1e9;

/// Largest free-tier allowance in GB (10^9 GB = 10^18 bytes).
pub const MAX_FREE_GB: f64 = 1e9;

/// What a quota counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// API requests (priced per request).
    Requests,
    /// Bytes sent out (priced per GB).
    EgressBytes,
    /// Provider-defined compute units: GB-seconds, CPU-ms, … (priced per
    /// compute unit).
    ComputeUnits,
    /// Bytes written to storage (priced per GB).
    StorageBytes,
    /// Store writes, e.g. KV or DynamoDB writes (priced per request).
    Writes,
    /// Function invocations (priced per request).
    Invocations,
    /// EVM gas (priced per compute unit).
    Gas,
    /// Money itself, in nano-USD: every priced usage adds its cost here,
    /// and a shell may record a bill directly.
    CostNanoUsd,
    /// Store reads, e.g. KV or DynamoDB reads (priced per request). Added
    /// after the others: the state stores a metric by its position.
    Reads,
}

impl Metric {
    /// The kebab-case name used in configs, labels and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::EgressBytes => "egress-bytes",
            Metric::ComputeUnits => "compute-units",
            Metric::StorageBytes => "storage-bytes",
            Metric::Writes => "writes",
            Metric::Invocations => "invocations",
            Metric::Gas => "gas",
            Metric::CostNanoUsd => "cost-nano-usd",
            Metric::Reads => "reads",
        }
    }
}

/// Which priced group each metric falls into (see [`money`](super::money)).
impl Usage {
    /// Adds `amount` of `metric` to its group (saturating); `cost-nano-usd`
    /// is no usage and is ignored.
    pub fn add(&mut self, metric: Metric, amount: u64) {
        let field = match metric {
            Metric::Requests | Metric::Writes | Metric::Invocations | Metric::Reads => {
                &mut self.requests
            }
            Metric::EgressBytes | Metric::StorageBytes => &mut self.bytes,
            Metric::ComputeUnits | Metric::Gas => &mut self.compute_units,
            Metric::CostNanoUsd => return,
        };
        *field = field.saturating_add(amount);
    }
}

/// The calendar period over which a quota counts, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Period {
    /// A UTC minute (rate limits).
    Minute,
    /// A UTC hour.
    Hour,
    /// A UTC day, from midnight.
    Day,
    /// A UTC calendar month, from the first at midnight.
    Month,
}

impl Period {
    /// The shortest this period can be: 60 s, 1 h, 1 d, or 28 days for a
    /// month. A reset offset must be shorter than this.
    pub const fn min_len(self) -> Span {
        match self {
            Period::Minute => Span(MINUTE),
            Period::Hour => Span(HOUR),
            Period::Day => Span(DAY),
            Period::Month => Span(28 * DAY),
        }
    }

    /// The kebab-case name used in configs, labels and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
        }
    }
}

/// One limit: at most `limit` of `metric` per `period`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// What is counted.
    pub metric: Metric,
    /// How much is allowed per period (must be > 0).
    pub limit: u64,
    /// The period, a UTC calendar period.
    pub period: Period,
    /// Shift of the period boundaries after the UTC calendar boundary: a
    /// daily quota that resets at 06:00 UTC has `"6h"`, a monthly billing
    /// cycle starting on the 15th has `"14d"`. Must be shorter than the
    /// period (than 28 days for a month). Default 0.
    #[serde(default)]
    pub reset_offset: Span,
}

impl Quota {
    /// Records every problem of this quota under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        errs.check(
            self.limit > 0,
            &join(key, "limit"),
            self.limit,
            "a quota's limit must be greater than 0 (remove the quota for no limit)",
        );
        let max = self.period.min_len();
        if self.reset_offset >= max {
            errs.push(
                &join(key, "reset_offset"),
                self.reset_offset,
                format!(
                    "must be shorter than the {} period ({max}), e.g. \"6h\" for a daily reset at 06:00 UTC",
                    self.period.as_str()
                ),
            );
        }
    }
}

/// The quotas of one provider (or of the sentinel's own footprint).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The quotas; at most one per (metric, period).
    #[serde(default)]
    pub quotas: Vec<Quota>,
}

impl Limits {
    /// The quota counting `metric` per `period`, if any.
    pub fn quota(&self, metric: Metric, period: Period) -> Option<&Quota> {
        self.quotas
            .iter()
            .find(|q| q.metric == metric && q.period == period)
    }

    /// Records every problem of these limits under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        for (i, q) in self.quotas.iter().enumerate() {
            let qkey = join(key, &format!("quotas[{i}]"));
            q.validate(&qkey, errs);
            if let Some(j) = self.quotas[..i]
                .iter()
                .position(|p| p.metric == q.metric && p.period == q.period)
            {
                errs.push_key(
                    &qkey,
                    format!(
                        "duplicate quota: quotas[{j}] already limits {} per {}",
                        q.metric.as_str(),
                        q.period.as_str()
                    ),
                );
            }
        }
    }
}

/// A monthly free tier (UTC calendar month). Usage up to these amounts
/// costs nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeTier {
    /// Free requests (and writes and invocations) per month.
    #[serde(default)]
    pub requests: u64,
    /// Free gigabytes (10^9 bytes) of egress and storage per month.
    #[serde(default)]
    pub gb: f64,
    /// Free compute units (and gas) per month.
    #[serde(default)]
    pub compute_units: u64,
}

/// A provider's prices, free tier and monthly budget, in US dollars.
///
/// See [`Rates`] for the compiled integer form and for which metric each
/// price applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    /// Price of one request, write or invocation beyond the free tier.
    #[serde(default)]
    pub per_request_usd: f64,
    /// Price of one GB (10^9 bytes) of egress or storage beyond the free
    /// tier.
    #[serde(default)]
    pub per_gb_usd: f64,
    /// Price of one compute unit (or unit of gas) beyond the free tier.
    #[serde(default)]
    pub per_compute_unit_usd: f64,
    /// A fixed fee per month (a plan), committed at the start of the month.
    #[serde(default)]
    pub monthly_fixed_usd: f64,
    /// The monthly free tier.
    #[serde(default)]
    pub free_tier: FreeTier,
    /// What this provider may cost per month, fixed fee included. `None`:
    /// no money budget (its quotas still apply). `Some(0.0)`: it must never
    /// cost anything.
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
    /// Utilization of the money budget at which to alert. Default 80.00 %
    /// (the seed's `alertThreshold`); it replaces the ladder's alert rung
    /// for this budget only.
    #[serde(default = "default_alert_threshold")]
    pub alert_threshold: Bps,
}

fn default_alert_threshold() -> Bps {
    Bps::new(8000)
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            per_request_usd: 0.0,
            per_gb_usd: 0.0,
            per_compute_unit_usd: 0.0,
            monthly_fixed_usd: 0.0,
            free_tier: FreeTier::default(),
            monthly_budget_usd: None,
            alert_threshold: default_alert_threshold(),
        }
    }
}

/// Checks that `v` is a usable amount of money: finite, non-negative, at
/// most [`MAX_USD`], and (when it is a price) not so small that it rounds to
/// zero nano-USD.
fn check_usd(v: f64, key: &str, is_price: bool, errs: &mut Errors) {
    if !v.is_finite() || v < 0.0 {
        errs.push(
            key,
            v,
            "must be a finite, non-negative amount of US dollars",
        );
    } else if v > MAX_USD {
        errs.push(key, v, format!("must be at most {MAX_USD} US dollars"));
    } else if is_price && v > 0.0 && usd_to_nano(v) == 0 {
        errs.push(
            key,
            v,
            "is below 1 nano-USD (1e-9), the ledger's precision, and would round to free",
        );
    }
}

impl CostModel {
    /// Converts the dollar amounts, once, into the integer [`Rates`] the
    /// ledger and the ladder compute with. Invalid amounts (negative, NaN)
    /// become 0; `validate` reports them first.
    pub fn compile(&self) -> Rates {
        Rates {
            per_request_nano: usd_to_nano(self.per_request_usd),
            per_gb_nano: usd_to_nano(self.per_gb_usd),
            per_compute_unit_nano: usd_to_nano(self.per_compute_unit_usd),
            monthly_fixed_nano: usd_to_nano(self.monthly_fixed_usd),
            free_requests: self.free_tier.requests,
            free_bytes: gb_to_bytes(self.free_tier.gb),
            free_compute_units: self.free_tier.compute_units,
            budget_nano: self.monthly_budget_usd.map(usd_to_nano),
            alert_threshold: self.alert_threshold,
        }
    }

    /// Records every problem of this cost model under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        check_usd(
            self.per_request_usd,
            &join(key, "per_request_usd"),
            true,
            errs,
        );
        check_usd(self.per_gb_usd, &join(key, "per_gb_usd"), true, errs);
        check_usd(
            self.per_compute_unit_usd,
            &join(key, "per_compute_unit_usd"),
            true,
            errs,
        );
        check_usd(
            self.monthly_fixed_usd,
            &join(key, "monthly_fixed_usd"),
            false,
            errs,
        );
        let gb = self.free_tier.gb;
        if !gb.is_finite() || !(0.0..=MAX_FREE_GB).contains(&gb) {
            errs.push(
                &join(&join(key, "free_tier"), "gb"),
                gb,
                format!("must be a finite number of GB between 0 and {MAX_FREE_GB}"),
            );
        }
        if let Some(b) = self.monthly_budget_usd {
            let bkey = join(key, "monthly_budget_usd");
            check_usd(b, &bkey, false, errs);
            let fixed = usd_to_nano(self.monthly_fixed_usd);
            if b.is_finite() && b >= 0.0 && usd_to_nano(b) < fixed {
                errs.push(
                    &bkey,
                    b,
                    format!(
                        "is below the monthly fixed fee ({} USD): the budget would be exhausted on the 1st",
                        self.monthly_fixed_usd
                    ),
                );
            }
        }
        errs.check(
            self.alert_threshold > Bps::ZERO,
            &join(key, "alert_threshold"),
            self.alert_threshold,
            "must be between 1 and 10000 basis points",
        );
    }
}

/// Monthly budgets per provider kind: the sum of what all providers of a
/// kind may cost per month (the seed's "budgets per provider type").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// US dollars per month, by kind. Kinds not listed have no budget.
    #[serde(default)]
    pub monthly_usd: BTreeMap<Kind, f64>,
}

impl Budgets {
    /// The budgets compiled to nano-USD.
    pub fn compile(&self) -> BTreeMap<Kind, u64> {
        self.monthly_usd
            .iter()
            .map(|(k, v)| (*k, usd_to_nano(*v)))
            .collect()
    }

    /// Records every problem of these budgets under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        let mkey = join(key, "monthly_usd");
        for (kind, usd) in &self.monthly_usd {
            check_usd(*usd, &join(&mkey, kind.as_str()), false, errs);
        }
    }
}

/// The ladder of steps taken as a quota or budget fills up, in basis points
/// of its limit (seed: 80 %, 90 %, 95 %, 100 %). See
/// [`step`](super::ladder::step).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    /// Alert. Default 80.00 %.
    #[serde(default = "defaults::alert")]
    pub alert: Bps,
    /// Prefer providers with free headroom. Default 90.00 %.
    #[serde(default = "defaults::prefer_free")]
    pub prefer_free: Bps,
    /// Scale down: fewer probes, shed optional traffic. Default 95.00 %.
    #[serde(default = "defaults::scale_down")]
    pub scale_down: Bps,
    /// Stop using the provider. Default 100.00 %.
    #[serde(default = "defaults::stop")]
    pub stop: Bps,
}

mod defaults {
    use crate::Bps;
    pub fn alert() -> Bps {
        Bps::new(8000)
    }
    pub fn prefer_free() -> Bps {
        Bps::new(9000)
    }
    pub fn scale_down() -> Bps {
        Bps::new(9500)
    }
    pub fn stop() -> Bps {
        Bps::new(10_000)
    }
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder {
            alert: defaults::alert(),
            prefer_free: defaults::prefer_free(),
            scale_down: defaults::scale_down(),
            stop: defaults::stop(),
        }
    }
}

impl Ladder {
    /// Records every problem of this ladder under `key`: the rungs must be
    /// above 0 and strictly increasing.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        errs.check(
            self.alert > Bps::ZERO,
            &join(key, "alert"),
            self.alert,
            "must be above 0 basis points",
        );
        let rungs = [
            ("alert", self.alert),
            ("prefer_free", self.prefer_free),
            ("scale_down", self.scale_down),
            ("stop", self.stop),
        ];
        for w in rungs.windows(2) {
            let ((lo_name, lo), (hi_name, hi)) = (w[0], w[1]);
            if hi <= lo {
                errs.push(
                    &join(key, hi_name),
                    hi,
                    format!(
                        "must be greater than {lo_name} ({lo:?}): the rungs must increase strictly"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs_of(f: impl FnOnce(&mut Errors)) -> Vec<String> {
        let mut e = Errors::default();
        f(&mut e);
        e.0.iter().map(|c| c.key.clone()).collect()
    }

    #[test]
    fn parses_with_defaults() {
        let l: Limits = serde_json::from_str(
            r#"{"quotas":[{"metric":"requests","limit":100000,"period":"day","reset_offset":"6h"},
                          {"metric":"cost-nano-usd","limit":5,"period":"month"}]}"#,
        )
        .unwrap();
        assert_eq!(l.quotas[0].reset_offset, Span::hours(6));
        assert_eq!(l.quotas[1].reset_offset, Span(0));
        assert_eq!(l.quotas[1].metric, Metric::CostNanoUsd);
        let c: CostModel = serde_json::from_str(r#"{"per_request_usd":0.0000004}"#).unwrap();
        assert_eq!(c.alert_threshold, Bps::new(8000));
        assert_eq!(c.compile().per_request_nano, 400);
        let ladder: Ladder = serde_json::from_str(r#"{"alert":7000}"#).unwrap();
        assert_eq!(ladder.prefer_free, Bps::new(9000));
        assert_eq!(Ladder::default().stop, Bps::MAX);
        let b: Budgets = serde_json::from_str(r#"{"monthly_usd":{"evm-rpc":10.5}}"#).unwrap();
        assert_eq!(b.compile()[&Kind::EvmRpc], 10_500_000_000);
        assert!(serde_json::from_str::<Limits>(r#"{"quota":[]}"#).is_err());
        assert!(serde_json::from_str::<FreeTier>(r#"{"gigabytes":1}"#).is_err());
    }

    #[test]
    fn validation_names_keys() {
        let l = Limits {
            quotas: vec![
                Quota {
                    metric: Metric::Requests,
                    limit: 10,
                    period: Period::Day,
                    reset_offset: Span(0),
                },
                Quota {
                    metric: Metric::Requests,
                    limit: 0,
                    period: Period::Hour,
                    reset_offset: Span::hours(1),
                },
                Quota {
                    metric: Metric::Requests,
                    limit: 5,
                    period: Period::Day,
                    reset_offset: Span(0),
                },
                Quota {
                    metric: Metric::Gas,
                    limit: 5,
                    period: Period::Month,
                    reset_offset: Span::days(14),
                },
            ],
        };
        assert_eq!(
            errs_of(|e| l.validate("p.limits", e)),
            [
                "p.limits.quotas[1].limit",
                "p.limits.quotas[1].reset_offset",
                "p.limits.quotas[2]"
            ]
        );
        let c = CostModel {
            per_request_usd: -1.0,
            per_gb_usd: f64::NAN,
            per_compute_unit_usd: 1e-12,
            monthly_fixed_usd: 10.0,
            free_tier: FreeTier {
                gb: f64::INFINITY,
                ..FreeTier::default()
            },
            monthly_budget_usd: Some(5.0),
            alert_threshold: Bps::ZERO,
        };
        assert_eq!(
            errs_of(|e| c.validate("cost", e)),
            [
                "cost.per_request_usd",
                "cost.per_gb_usd",
                "cost.per_compute_unit_usd",
                "cost.free_tier.gb",
                "cost.monthly_budget_usd",
                "cost.alert_threshold"
            ]
        );
        assert!(errs_of(|e| CostModel::default().validate("c", e)).is_empty());
        let bad = Ladder {
            alert: Bps::new(9000),
            prefer_free: Bps::new(9000),
            scale_down: Bps::new(8000),
            stop: Bps::MAX,
        };
        assert_eq!(
            errs_of(|e| bad.validate("ladder", e)),
            ["ladder.prefer_free", "ladder.scale_down"]
        );
        assert!(errs_of(|e| Ladder::default().validate("ladder", e)).is_empty());
        let b = Budgets {
            monthly_usd: [(Kind::Api, -2.0)].into_iter().collect(),
        };
        assert_eq!(
            errs_of(|e| b.validate("budgets", e)),
            ["budgets.monthly_usd.api"]
        );
    }
}
