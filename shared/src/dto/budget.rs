//! The `budget` tag (`GET /v1/budget`): quotas, month cost and usage of
//! every provider, and the sentinel's own footprint.

use super::common::{Money, Score, Timestamp};
use crate::books::{self, QuotaStatus, Step};
use crate::time::UnixMillis;
use crate::{Engine, ProviderId, SentinelId, ServiceId};
use serde::{Deserialize, Serialize};

/// One quota or the monthly money budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaDto {
    /// `quota` or `budget`.
    pub source: books::Source,
    /// What is counted.
    pub metric: books::Metric,
    /// Over which period.
    pub period: books::Period,
    /// The limit (nano-USD for the budget).
    pub limit: u64,
    /// Used this period.
    pub used: u64,
    /// `used / limit`.
    pub utilization: Score,
    /// Usage projected at the period's end from the burn rate.
    pub projected_used: u64,
    /// `projected_used / limit`.
    pub projected: Score,
    /// When the period ends and the counter resets.
    pub period_end: Timestamp,
    /// When the limit is reached at the current burn rate, if before the
    /// period ends.
    pub exhausts_at: Option<Timestamp>,
    /// An alert threshold replacing the ladder's, for this status.
    pub alert_at: Option<Score>,
}

impl From<&QuotaStatus> for QuotaDto {
    fn from(q: &QuotaStatus) -> QuotaDto {
        QuotaDto {
            source: q.source,
            metric: q.metric,
            period: q.period,
            limit: q.limit,
            used: q.used,
            utilization: q.utilization.into(),
            projected_used: q.projected_used,
            projected: q.projected.into(),
            period_end: Timestamp::at(q.period_end),
            exhausts_at: q.exhausts_at.map(Timestamp::at),
            alert_at: q.alert_at.map(Score::from),
        }
    }
}

/// This month's cost so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthCost {
    /// Fixed fee plus variable cost.
    pub total: Money,
    /// Priced usage beyond the free tier, and recorded bills.
    pub variable: Money,
    /// The monthly fixed fee (committed, not burned).
    pub fixed: Money,
}

impl MonthCost {
    /// From the variable and fixed parts.
    pub fn new(variable: u64, fixed: u64) -> MonthCost {
        MonthCost {
            total: Money::nano(variable.saturating_add(fixed)),
            variable: Money::nano(variable),
            fixed: Money::nano(fixed),
        }
    }
}

/// A provider's month cost, its ledger read as of `now`.
pub fn month_cost(engine: &Engine, id: &ProviderId, now: UnixMillis) -> MonthCost {
    let (Some(rt), Some(ps)) = (
        engine.registry().provider(id.as_str()),
        engine.state().providers.get(id),
    ) else {
        return MonthCost::new(0, 0);
    };
    let mut ledger = ps.ledger.clone();
    ledger.roll(now, &rt.config.limits);
    MonthCost::new(ledger.cost_nano, rt.rates.monthly_fixed_nano)
}

/// A provider's budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderBudget {
    /// Provider.
    pub id: ProviderId,
    /// Its service.
    pub service: ServiceId,
    /// Budget ladder step.
    pub step: Step,
    /// This month's cost.
    pub cost_month: MonthCost,
    /// This month's usage: probes and proxied traffic together.
    pub usage_month: UsageMonth,
    /// Quotas and the money budget.
    pub quotas: Vec<QuotaDto>,
}

/// Month-to-date usage of a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageMonth {
    /// Requests, writes and invocations.
    pub requests: u64,
    /// Egress and storage bytes.
    pub bytes: u64,
    /// Compute units and gas.
    pub compute_units: u64,
}

/// The sentinel's own footprint (store writes, invocations, gas).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FootprintDto {
    /// The sentinel.
    pub sentinel: SentinelId,
    /// Its ladder step.
    pub step: Step,
    /// Its own cost this month.
    pub cost_month: MonthCost,
    /// Its quotas.
    pub quotas: Vec<QuotaDto>,
}

impl FootprintDto {
    /// The footprint now.
    pub fn build(engine: &Engine, now: UnixMillis) -> FootprintDto {
        let st = engine.state();
        let mut ledger = st.footprint.clone();
        ledger.roll(now, &engine.config().sentinel.footprint);
        FootprintDto {
            sentinel: engine.config().sentinel.id.clone(),
            step: st.footprint_step,
            cost_month: MonthCost::new(ledger.cost_nano, 0),
            quotas: engine
                .footprint_status(now)
                .iter()
                .map(QuotaDto::from)
                .collect(),
        }
    }
}

/// `GET /v1/budget`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// When computed.
    pub generated_at: Timestamp,
    /// Every provider, by service then id.
    pub providers: Vec<ProviderBudget>,
    /// The sentinel itself.
    pub sentinel: FootprintDto,
    /// Sum of every provider's month cost.
    pub total_cost_month: Money,
}

impl BudgetReport {
    /// Builds the report.
    pub fn build(engine: &Engine, now: UnixMillis) -> BudgetReport {
        let providers: Vec<ProviderBudget> = engine
            .registry()
            .services()
            .flat_map(|s| s.providers.iter())
            .filter_map(|id| {
                let rt = engine.registry().provider(id.as_str())?;
                let ps = engine.state().providers.get(id)?;
                Some(ProviderBudget {
                    id: id.clone(),
                    service: rt.service.clone(),
                    step: ps.step,
                    cost_month: month_cost(engine, id, now),
                    usage_month: UsageMonth {
                        requests: ps.ledger.requests,
                        bytes: ps.ledger.bytes,
                        compute_units: ps.ledger.compute_units,
                    },
                    quotas: engine
                        .budget_status(id, now)
                        .iter()
                        .map(QuotaDto::from)
                        .collect(),
                })
            })
            .collect();
        let total = providers
            .iter()
            .map(|p| p.cost_month.total.nano_usd)
            .fold(0u64, u64::saturating_add);
        BudgetReport {
            generated_at: Timestamp::at(now),
            providers,
            sentinel: FootprintDto::build(engine, now),
            total_cost_month: Money::nano(total),
        }
    }
}
