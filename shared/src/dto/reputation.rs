//! A provider's reputation as its detail shows it: the total, how much
//! history backs it, and every component with its inputs and what moved.

use super::common::{Score, Timestamp};
use crate::reputation::Explanation;
use crate::Bps;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reputation component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentDto {
    /// `uptime`, `data_quality`, `performance`, `cost` or `reliability`.
    pub name: String,
    /// Its score; `null` when not applicable (no data of this kind), in
    /// which case its weight goes to the others.
    pub score: Option<Score>,
    /// Configured weight, basis points.
    pub weight_bps: u32,
    /// Weight after not-applicable components were taken out.
    pub effective_weight: Score,
    /// Change since the reference snapshot, basis points.
    pub delta_bps: Option<i32>,
    /// The numbers it was computed from.
    pub inputs: BTreeMap<String, u64>,
}

/// A reputation with every component and what moved it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReputationDto {
    /// The total decisions use: `raw·confidence + prior·(1 − confidence)`.
    pub total: Score,
    /// The weighted total before shrinkage toward the prior.
    pub raw_total: Option<Score>,
    /// How much history backs the score.
    pub confidence: Score,
    /// What the total is shrunk toward while confidence is low.
    pub prior: Score,
    /// The total at the reference snapshot (one to two hours back).
    pub previous_total: Option<Score>,
    /// When that snapshot was taken.
    pub compared_with: Option<Timestamp>,
    /// Change of the total since then, basis points.
    pub total_delta_bps: Option<i32>,
    /// The component that moved the most since then.
    pub moved_most: Option<String>,
    /// Each component, in a fixed order.
    pub components: Vec<ComponentDto>,
}

impl ReputationDto {
    /// From an explanation and the snapshot it compared with (when, its
    /// total).
    pub fn from_explanation(
        e: &Explanation,
        previous: Option<(crate::time::UnixMillis, Bps)>,
    ) -> ReputationDto {
        ReputationDto {
            total: e.total.into(),
            raw_total: e.raw_total.map(Score::from),
            confidence: e.confidence.into(),
            prior: e.prior.into(),
            previous_total: previous.map(|(_, t)| Score::from(t)),
            compared_with: previous.map(|(at, _)| Timestamp::at(at)),
            total_delta_bps: e.total_delta,
            moved_most: e.moved_most.clone(),
            components: e
                .components
                .iter()
                .map(|c| ComponentDto {
                    name: c.name.clone(),
                    score: c.score.map(Score::from),
                    weight_bps: c.weight,
                    effective_weight: c.effective_weight.into(),
                    delta_bps: c.delta,
                    inputs: c.inputs.clone(),
                })
                .collect(),
        }
    }
}
