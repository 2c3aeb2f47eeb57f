//! The query string: `application/x-www-form-urlencoded` pairs and the
//! `limit` parameter.

use super::path::percent_decode;
use super::refusals::{bad_query, clip};
use crate::api::request::ApiResponse;

pub(super) fn parse_limit(v: &str, max: usize) -> Result<usize, ApiResponse> {
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(bad_query(&format!(
            "`limit` must be an integer from 1 to {max}, not `{}`",
            clip(v)
        ))),
    }
}

pub(super) fn query_limit(query: &str, default: usize, max: usize) -> Result<usize, ApiResponse> {
    let mut limit = default;
    for (k, v) in query_params(query)? {
        if k == "limit" {
            limit = parse_limit(&v, max)?;
        }
    }
    Ok(limit)
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
pub(super) fn query_params(query: &str) -> Result<Vec<(String, String)>, ApiResponse> {
    let decode = |s: &str| -> Result<String, ApiResponse> {
        let bytes = percent_decode(&s.replace('+', " "))
            .map_err(|e| bad_query(&format!("the query string {e}")))?;
        String::from_utf8(bytes)
            .map_err(|_| bad_query("the query string is not UTF-8 once percent-decoded"))
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}
