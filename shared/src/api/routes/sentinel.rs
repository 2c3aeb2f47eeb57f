//! The `sentinel` tag's one handler with a query: `GET /v1/observations`,
//! this sentinel's recent observations for its peer.

use super::query::{parse_limit, query_params};
use super::refusals::{bad_query, clip};
use super::{ApiContext, OBSERVATIONS_LIMIT};
use crate::api::request::{ApiRequest, ApiResponse};
use crate::dto::{ObservationList, Timestamp};
use crate::probe::Observation;
use crate::time::UnixMillis;

pub(super) fn observations(req: &ApiRequest, ctx: &ApiContext<'_>) -> ApiResponse {
    let params = match query_params(&req.query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut since: Option<UnixMillis> = None;
    let mut limit = OBSERVATIONS_LIMIT;
    for (k, v) in &params {
        match k.as_str() {
            "since" => match v.parse::<u64>() {
                Ok(t) => since = Some(t),
                Err(_) => {
                    return bad_query(&format!(
                        "`since` must be Unix milliseconds, not `{}`",
                        clip(v)
                    ))
                }
            },
            "limit" => match parse_limit(v, OBSERVATIONS_LIMIT) {
                Ok(l) => limit = l,
                Err(r) => return r,
            },
            _ => {}
        }
    }
    let matching: Vec<&Observation> = ctx
        .recent_observations
        .iter()
        .filter(|o| since.is_none_or(|s| o.at > s))
        .collect();
    let skip = matching.len().saturating_sub(limit);
    let observations: Vec<Observation> = matching.into_iter().skip(skip).cloned().collect();
    ApiResponse::json(
        200,
        &ObservationList {
            sentinel: ctx.engine.config().sentinel.id.clone(),
            generated_at: Timestamp::at(ctx.now),
            count: observations.len(),
            observations,
            routes: ctx.engine.published_routes(),
        },
    )
}
