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

/// The filters and page of `GET /v1/providers` (and of the dashboard's
/// provider list): `service`, `status`, `lifecycle`, `routed`, `cursor`
/// and `limit`. Every refusal is a `400 bad-request` naming the parameter;
/// a parameter given twice or one this route does not know is refused
/// too (a typo must not silently widen the answer).
pub(super) fn provider_query(
    query: &str,
    engine: &crate::Engine,
) -> Result<crate::dto::ProviderQuery, ApiResponse> {
    use crate::dto::{lifecycle_named, Cursor, ProviderQuery, Status, PROVIDERS_LIMIT};
    const KNOWN: [&str; 6] = [
        "service",
        "status",
        "lifecycle",
        "routed",
        "cursor",
        "limit",
    ];
    let mut q = ProviderQuery::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for (k, v) in query_params(query)? {
        let Some(name) = KNOWN.iter().copied().find(|n| *n == k) else {
            return Err(bad_query(&format!(
                "unknown query parameter `{}`; this route takes {}",
                clip(&k),
                KNOWN.map(|n| format!("`{n}`")).join(", ")
            )));
        };
        if seen.contains(&name) {
            return Err(bad_query(&format!("`{name}` is given more than once")));
        }
        seen.push(name);
        match name {
            "service" => match crate::ServiceId::new(v.as_str()) {
                Ok(s) if engine.registry().service(&s).is_some() => q.service = Some(s),
                _ => {
                    return Err(bad_query(&format!(
                        "`service`: no service `{}` is configured",
                        clip(&v)
                    )))
                }
            },
            "status" => {
                q.status = Some(Status::named(&v).ok_or_else(|| {
                    bad_query(&format!(
                        "`status` must be one of `up`, `down`, `unknown`, not `{}`",
                        clip(&v)
                    ))
                })?);
            }
            "lifecycle" => {
                q.lifecycle = Some(lifecycle_named(&v).ok_or_else(|| {
                    bad_query(&format!(
                        "`lifecycle` must be one of {}, not `{}`",
                        crate::dto::LIFECYCLES
                            .map(|l| format!("`{}`", l.as_str()))
                            .join(", "),
                        clip(&v)
                    ))
                })?);
            }
            "routed" => {
                q.routed = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(bad_query(&format!(
                            "`routed` must be `true` or `false`, not `{}`",
                            clip(&v)
                        )))
                    }
                });
            }
            "cursor" => {
                q.after = Some(Cursor::decode(&v).ok_or_else(|| {
                    bad_query(&format!(
                        "`cursor` must be the `next` of a previous page (`service:provider`), not `{}`",
                        clip(&v)
                    ))
                })?);
            }
            _ => q.limit = parse_limit(&v, PROVIDERS_LIMIT.1)?,
        }
    }
    Ok(q)
}
