//! The router: a pure function from a plain request and the engine to a
//! response, or to the one thing the shell must do itself (proxy a
//! request, apply a submission).
//!
//! Paths are matched segment by segment after percent-decoding; a segment
//! that decodes to `.`, `..`, or anything containing `/`, `\` or a control
//! character is refused with `400 bad-path` before any lookup, and ids are
//! checked against the id grammar (`400 invalid-id`), so nothing hostile
//! reaches a map lookup, a log line or an upstream URL. Unknown paths give
//! `404 not-found`, a wrong method on a known path `405` with `allow`.
//! `HEAD` is answered like `GET`, without the body.

use super::auth::Auth;
use super::dto::{self, ErrorDetail, NotAttested, ObservationList, SubmitAccepted};
use super::request::{ApiRequest, ApiResponse, PROMETHEUS};
use crate::config::{Errors, ProviderConfig};
use crate::lifecycle::Lifecycle;
use crate::probe::Observation;
use crate::time::UnixMillis;
use crate::{Engine, ProviderId, ServiceId};
use serde::Deserialize;

/// Longest raw path accepted (`414` beyond).
pub const MAX_PATH: usize = 2048;
/// Longest raw query accepted (`414` beyond).
pub const MAX_QUERY: usize = 4096;
/// Default and maximum of `GET /v1/switches?limit=`.
pub const SWITCHES_LIMIT: (usize, usize) = (100, 500);
/// Maximum of `GET /v1/observations?limit=` (and its default).
pub const OBSERVATIONS_LIMIT: usize = 1000;

/// What a request is routed against.
#[derive(Clone, Copy, Debug)]
pub struct ApiContext<'a> {
    /// The engine (configuration, registry, state).
    pub engine: &'a Engine,
    /// The shell's clock.
    pub now: UnixMillis,
    /// This sentinel's recent observations, oldest first (not part of the
    /// core state; the shell keeps them), for `GET /v1/observations`.
    pub recent_observations: &'a [Observation],
}

/// The router's verdict.
// One value per request, matched at once: boxing the submission would only
// add an allocation (and change the shells' pattern).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Routed {
    /// Send this response.
    Response(ApiResponse),
    /// Forward the request to the service's providers with the shared
    /// failover loop ([`crate::proxy::forward`]).
    Proxy {
        /// The service (known to the registry).
        service: ServiceId,
        /// The path after `/proxy/{service}`, still percent-encoded, always
        /// starting with `/`, with `?query` when there is one.
        rest: String,
    },
    /// Apply a submission: `engine.submit(now, &service, provider)`, save
    /// the state, and answer with [`submit_response`]. The caller is
    /// authenticated, the service exists and the id is not taken (as of
    /// this engine).
    Submit {
        /// The service (known to the registry).
        service: ServiceId,
        /// The provider as submitted.
        provider: ProviderConfig,
    },
}

/// The answer to a submission once the shell applied it: `201` with the
/// provider's location, or `422 invalid-provider` listing every problem.
pub fn submit_response(result: Result<(), Errors>, id: &ProviderId) -> ApiResponse {
    match result {
        Ok(()) => {
            let location = format!("/v1/providers/{id}");
            ApiResponse::json(
                201,
                &SubmitAccepted {
                    id: id.clone(),
                    lifecycle: Lifecycle::Discovered,
                    location: location.clone(),
                    message: format!(
                        "provider `{id}` accepted: it is probed through its testing period before it can be routed to"
                    ),
                },
            )
            .header("location", location)
        }
        Err(errs) => invalid_provider(id.as_str(), &errs),
    }
}

fn invalid_provider(id: &str, errs: &Errors) -> ApiResponse {
    let details: Vec<ErrorDetail> = errs
        .0
        .iter()
        .map(|e| ErrorDetail {
            key: e.key.clone(),
            value: e.value.clone(),
            message: e.message.clone(),
        })
        .collect();
    let first = errs
        .0
        .first()
        .map_or_else(String::new, |e| format!(": {e}"));
    let message = format!(
        "provider `{}` was rejected ({} problem{}){first}",
        clip(id),
        details.len(),
        if details.len() == 1 { "" } else { "s" },
    );
    ApiResponse::error_with(
        422,
        "invalid-provider",
        &message,
        serde_json::to_value(details).unwrap_or_default(),
    )
}

/// A known route.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Endpoint {
    Dashboard,
    DashboardJson,
    Healthz,
    Metrics,
    OpenApi,
    Providers,
    Provider(String),
    ServiceRoute(String),
    Switches,
    Budget,
    Attestation(String),
    Observations,
    Proxy { service: String, rest: String },
}

const READ: &[&str] = &["GET", "HEAD"];
const READ_WRITE: &[&str] = &["GET", "HEAD", "POST"];

impl Endpoint {
    /// Methods allowed; `None` for any.
    fn allowed(&self) -> Option<&'static [&'static str]> {
        match self {
            Endpoint::Proxy { .. } => None,
            Endpoint::Providers => Some(READ_WRITE),
            _ => Some(READ),
        }
    }
}

/// Routes `req`. Never panics, whatever the request.
pub fn route(req: &ApiRequest, ctx: &ApiContext<'_>, auth: &Auth) -> Routed {
    let endpoint = match parse_path(&req.path) {
        Ok(Some(e)) => e,
        Ok(None) => return Routed::Response(not_found(&req.path)),
        Err(resp) => return Routed::Response(resp),
    };
    if req.query.len() > MAX_QUERY {
        return Routed::Response(ApiResponse::error(
            414,
            "uri-too-long",
            &format!("the query string is limited to {MAX_QUERY} bytes"),
        ));
    }
    if let Some(allowed) = endpoint.allowed() {
        if !allowed.contains(&req.method.as_str()) {
            let allow = allowed.join(", ");
            return Routed::Response(
                ApiResponse::error(
                    405,
                    "method-not-allowed",
                    &format!(
                        "{} is not allowed on this path; allowed: {allow}",
                        clip(&req.method)
                    ),
                )
                .header("allow", allow),
            );
        }
    }
    let head = req.method == "HEAD";
    let routed = dispatch(endpoint, req, ctx, auth);
    match routed {
        Routed::Response(mut r) if head => {
            r.body.clear();
            Routed::Response(r)
        }
        other => other,
    }
}

fn dispatch(endpoint: Endpoint, req: &ApiRequest, ctx: &ApiContext<'_>, auth: &Auth) -> Routed {
    let (engine, now) = (ctx.engine, ctx.now);
    let resp = match endpoint {
        Endpoint::Dashboard => ApiResponse::html(200, crate::dashboard::render(engine, now))
            .header(
                "content-security-policy",
                crate::dashboard::content_security_policy(),
            )
            .header("referrer-policy", "no-referrer"),
        Endpoint::DashboardJson => ApiResponse::json(200, &crate::dashboard::data(engine, now)),
        Endpoint::Healthz => ApiResponse::json(200, &dto::Health::build(engine, now)),
        Endpoint::Metrics => ApiResponse::with_body(
            200,
            PROMETHEUS,
            crate::metrics::render(engine, now).into_bytes(),
        ),
        Endpoint::OpenApi => ApiResponse::with_body(
            200,
            super::request::JSON,
            super::openapi::openapi_json().into_bytes(),
        ),
        Endpoint::Providers if req.method == "POST" => return submit(req, engine, auth),
        Endpoint::Providers => ApiResponse::json(200, &dto::ProviderList::build(engine, now)),
        Endpoint::Provider(id) => match provider_id(&id) {
            Err(r) => r,
            Ok(pid) => match dto::ProviderDetail::build(engine, &pid, now) {
                Some(d) => ApiResponse::json(200, &d),
                None => unknown_provider(&pid),
            },
        },
        Endpoint::ServiceRoute(s) => match service_id(&s) {
            Err(r) => r,
            Ok(sid) => match dto::RouteDto::build(engine, &sid) {
                Some(d) => ApiResponse::json(200, &d),
                None => unknown_service(&sid),
            },
        },
        Endpoint::Switches => match query_limit(&req.query, SWITCHES_LIMIT.0, SWITCHES_LIMIT.1) {
            Err(r) => r,
            Ok(limit) => ApiResponse::json(200, &dto::SwitchList::build(engine, limit)),
        },
        Endpoint::Budget => ApiResponse::json(200, &dto::BudgetReport::build(engine, now)),
        Endpoint::Attestation(id) => match provider_id(&id) {
            Err(r) => r,
            Ok(pid) => attestation(engine, &pid, now),
        },
        Endpoint::Observations => match auth.check(req) {
            Err(r) => r,
            Ok(()) => observations(req, ctx),
        },
        Endpoint::Proxy { service, rest } => match service_id(&service) {
            Err(r) => r,
            Ok(sid) if engine.registry().service(sid.as_str()).is_none() => unknown_service(&sid),
            Ok(sid) => {
                let mut rest = if rest.is_empty() {
                    "/".to_string()
                } else {
                    rest
                };
                if !req.query.is_empty() {
                    rest.push('?');
                    rest.push_str(&req.query);
                }
                return Routed::Proxy { service: sid, rest };
            }
        },
    };
    Routed::Response(resp)
}

// ---------------------------------------------------------------- handlers

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    service: String,
    provider: serde_json::Value,
}

const SUBMIT_SHAPE: &str =
    r#"expected {"service": "<service id>", "provider": {<provider configuration>}}"#;

fn submit(req: &ApiRequest, engine: &Engine, auth: &Auth) -> Routed {
    if let Err(r) = auth.check(req) {
        return Routed::Response(r);
    }
    if let Some(ct) = req.header("content-type") {
        if !ct.to_ascii_lowercase().contains("json") {
            return Routed::Response(ApiResponse::error(
                415,
                "unsupported-media-type",
                "the body must be JSON (content-type: application/json)",
            ));
        }
    }
    let body: SubmitBody = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return Routed::Response(ApiResponse::error(
                400,
                "bad-request",
                &format!("the body is not valid: {e}; {SUBMIT_SHAPE}"),
            ))
        }
    };
    let service = match ServiceId::new(body.service.as_str()) {
        Ok(s) if engine.config().service(s.as_str()).is_some() => s,
        _ => {
            return Routed::Response(ApiResponse::error(
                404,
                "unknown-service",
                &format!("no service `{}` is configured", clip(&body.service)),
            ))
        }
    };
    let provider: ProviderConfig = match serde_path_to_error::deserialize(body.provider) {
        Ok(p) => p,
        Err(e) => {
            let path = e.path().to_string();
            let key = if path.is_empty() || path == "." {
                "provider".to_string()
            } else {
                format!("provider.{path}")
            };
            let mut errs = Errors::default();
            errs.push_key(&key, e.into_inner().to_string());
            return Routed::Response(invalid_provider("(unnamed)", &errs));
        }
    };
    if engine.registry().provider(provider.id.as_str()).is_some() {
        return Routed::Response(ApiResponse::error(
            409,
            "conflict",
            &format!("a provider with id `{}` exists already", provider.id),
        ));
    }
    Routed::Submit { service, provider }
}

fn attestation(engine: &Engine, id: &ProviderId, now: UnixMillis) -> ApiResponse {
    let Some(s) = engine.summary(id, now) else {
        return unknown_provider(id);
    };
    let attested_until = engine
        .state()
        .providers
        .get(id)
        .and_then(|p| p.attested_until);
    let details = NotAttested {
        provider: id.clone(),
        trust: s.trust,
        total: s.reputation.total.into(),
        confidence: s.reputation.confidence.into(),
        attested_until: attested_until.map(dto::Timestamp::at),
    };
    let message = format!(
        "no attestation for provider `{id}`: on-chain attestation is not configured on this sentinel, \
         so no record has been anchored. Its current trust level is {} with a reputation of {} \
         (confidence {}); see /v1/providers/{id}",
        s.trust, s.reputation.total, s.reputation.confidence
    );
    ApiResponse::error_with(
        404,
        "not-attested",
        &message,
        serde_json::to_value(details).unwrap_or_default(),
    )
}

fn observations(req: &ApiRequest, ctx: &ApiContext<'_>) -> ApiResponse {
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
            generated_at: dto::Timestamp::at(ctx.now),
            count: observations.len(),
            observations,
        },
    )
}

// ----------------------------------------------------------------- helpers

/// At most 80 characters of untrusted text, for messages.
fn clip(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(80).collect();
        out.push('…');
        out
    }
}

fn not_found(path: &str) -> ApiResponse {
    ApiResponse::error(
        404,
        "not-found",
        &format!(
            "no route for `{}`; see /openapi.json for the API",
            clip(path)
        ),
    )
}

fn unknown_provider(id: &ProviderId) -> ApiResponse {
    ApiResponse::error(404, "not-found", &format!("no provider `{id}`"))
}

fn unknown_service(id: &ServiceId) -> ApiResponse {
    ApiResponse::error(
        404,
        "unknown-service",
        &format!("no service `{id}` is configured"),
    )
}

fn bad_query(message: &str) -> ApiResponse {
    ApiResponse::error(400, "bad-request", message)
}

fn invalid_id(what: &str, s: &str) -> ApiResponse {
    let why = if s.is_empty() || s.len() > 64 {
        "ids are 1 to 64 characters long"
    } else {
        "ids start with a lowercase letter or digit and contain only a-z, 0-9, '.', '_' or '-'"
    };
    ApiResponse::error(
        400,
        "invalid-id",
        &format!("`{}` is not a valid {what} id: {why}", clip(s)),
    )
}

fn provider_id(s: &str) -> Result<ProviderId, ApiResponse> {
    ProviderId::new(s).map_err(|_| invalid_id("provider", s))
}

fn service_id(s: &str) -> Result<ServiceId, ApiResponse> {
    ServiceId::new(s).map_err(|_| invalid_id("service", s))
}

fn parse_limit(v: &str, max: usize) -> Result<usize, ApiResponse> {
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(bad_query(&format!(
            "`limit` must be an integer from 1 to {max}, not `{}`",
            clip(v)
        ))),
    }
}

fn query_limit(query: &str, default: usize, max: usize) -> Result<usize, ApiResponse> {
    let mut limit = default;
    for (k, v) in query_params(query)? {
        if k == "limit" {
            limit = parse_limit(&v, max)?;
        }
    }
    Ok(limit)
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
fn query_params(query: &str) -> Result<Vec<(String, String)>, ApiResponse> {
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

/// Percent-decodes `s` to bytes; a `%` not followed by two hex digits is
/// an error.
fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
            match (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                _ => return Err("has a `%` that is not followed by two hex digits".into()),
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn bad_path(message: &str) -> ApiResponse {
    ApiResponse::error(400, "bad-path", message)
}

/// Decodes one path segment and refuses traversal and control characters.
fn segment(raw: &str) -> Result<String, ApiResponse> {
    let bytes = percent_decode(raw)
        .map_err(|e| bad_path(&format!("the path segment `{}` {e}", clip(raw))))?;
    let s = String::from_utf8(bytes).map_err(|_| {
        bad_path(&format!(
            "the path segment `{}` is not valid UTF-8 once percent-decoded",
            clip(raw)
        ))
    })?;
    if s == "." || s == ".." {
        return Err(bad_path("`.` and `..` path segments are not allowed"));
    }
    if s.contains(['/', '\\']) {
        return Err(bad_path(&format!(
            "the path segment `{}` decodes to a value containing `/` or `\\`; path traversal is not allowed",
            clip(raw)
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(bad_path(&format!(
            "the path segment `{}` decodes to control characters",
            clip(raw)
        )));
    }
    Ok(s)
}

/// Parses the raw path into an endpoint; `Ok(None)` when no route matches.
fn parse_path(path: &str) -> Result<Option<Endpoint>, ApiResponse> {
    if path.len() > MAX_PATH {
        return Err(ApiResponse::error(
            414,
            "uri-too-long",
            &format!("paths are limited to {MAX_PATH} bytes"),
        ));
    }
    if !path.starts_with('/') {
        return Err(bad_path("the path must start with `/`"));
    }
    if path
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || !b.is_ascii() || b == b'#')
    {
        return Err(bad_path(
            "the path contains characters that must be percent-encoded",
        ));
    }
    if path == "/" {
        return Ok(Some(Endpoint::Dashboard));
    }
    let raw: Vec<&str> = path[1..].split('/').collect();
    let first = segment(raw.first().copied().unwrap_or_default())?;
    if first == "proxy" {
        let Some(svc_raw) = raw.get(1).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let service = segment(svc_raw)?;
        let offset = 1 + raw[0].len() + 1 + svc_raw.len();
        let rest = path.get(offset..).unwrap_or_default();
        for seg in rest.split('/') {
            let bytes = percent_decode(seg)
                .map_err(|e| bad_path(&format!("the path segment `{}` {e}", clip(seg))))?;
            if bytes == b"." || bytes == b".." {
                return Err(bad_path(
                    "`.` and `..` path segments are not allowed in proxied paths",
                ));
            }
        }
        return Ok(Some(Endpoint::Proxy {
            service,
            rest: rest.to_string(),
        }));
    }
    let mut segs = vec![first];
    for r in &raw[1..] {
        segs.push(segment(r)?);
    }
    if segs.iter().any(String::is_empty) {
        return Ok(None);
    }
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    Ok(match s.as_slice() {
        ["healthz"] => Some(Endpoint::Healthz),
        ["metrics"] => Some(Endpoint::Metrics),
        ["dashboard.json"] => Some(Endpoint::DashboardJson),
        ["openapi.json"] => Some(Endpoint::OpenApi),
        ["v1", "providers"] => Some(Endpoint::Providers),
        ["v1", "providers", id] => Some(Endpoint::Provider((*id).to_string())),
        ["v1", "services", svc, "route"] => Some(Endpoint::ServiceRoute((*svc).to_string())),
        ["v1", "switches"] => Some(Endpoint::Switches),
        ["v1", "budget"] => Some(Endpoint::Budget),
        ["v1", "attestations", id] => Some(Endpoint::Attestation((*id).to_string())),
        ["v1", "observations"] => Some(Endpoint::Observations),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::{Outcome, Purpose};
    use crate::quality::{Facts, Verdict};
    use crate::sim::{Fault, Scenario, SimProvider};
    use crate::time::{days_from_civil, DAY, HOUR, MINUTE};
    use serde_json::{json, Value};

    const TOKEN: &str = "test-token-5f1d9c";

    fn start() -> UnixMillis {
        days_from_civil(2026, 11, 2) as u64 * DAY
    }

    fn scenario() -> Scenario {
        let cfg = Config::from_toml(
            r#"
[sentinel]
id = "api-test"
allow_private_targets = true
footprint = { quotas = [{ metric = "writes", limit = 1000, period = "day" }] }

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/health"
[service.probe.checks]
assertions = [{ pointer = "/status", equals = "ok" }]

[[service.provider]]
id = "a"
name = "Provider A"
endpoint = "http://127.0.0.1:9001"
initial = "active"
limits = { quotas = [{ metric = "requests", limit = 100000, period = "day" }] }
cost = { per_request_usd = 0.000001, monthly_budget_usd = 10.0 }

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"

[[service.provider]]
id = "c"
endpoint = "http://127.0.0.1:9003"
"#,
        )
        .unwrap();
        let mut s = Scenario::new(cfg, start(), 11).unwrap();
        s.set(
            "a",
            SimProvider::default().fault(start() + HOUR, start() + 2 * HOUR, Fault::Outage),
        );
        s.run_until(start() + 3 * HOUR);
        s
    }

    fn observation(provider: &str, at: UnixMillis) -> Observation {
        Observation {
            provider: ProviderId::new(provider).unwrap(),
            at,
            purpose: Purpose::Scheduled,
            outcome: Outcome::Ok,
            latency_ms: 42,
            bytes: 10,
            verdict: Verdict::default(),
            facts: Facts::default(),
            detail: None,
        }
    }

    struct Fixture {
        s: Scenario,
        obs: Vec<Observation>,
        auth: Auth,
    }

    impl Fixture {
        fn new() -> Fixture {
            let s = scenario();
            let now = s.now;
            Fixture {
                obs: (0..5)
                    .map(|i| observation("b", now - 5 * MINUTE + i * MINUTE))
                    .collect(),
                s,
                auth: Auth::bearer(TOKEN),
            }
        }

        fn routed(&self, req: &ApiRequest) -> Routed {
            let ctx = ApiContext {
                engine: &self.s.engine,
                now: self.s.now,
                recent_observations: &self.obs,
            };
            route(req, &ctx, &self.auth)
        }

        fn call(&self, req: &ApiRequest) -> ApiResponse {
            match self.routed(req) {
                Routed::Response(r) => {
                    let text = r.body_text();
                    assert!(!text.contains(TOKEN), "token leaked");
                    assert!(r.headers.iter().all(|(_, v)| !v.contains(TOKEN)));
                    r
                }
                other => panic!("expected a response, got {other:?}"),
            }
        }

        fn get(&self, path: &str) -> ApiResponse {
            self.call(&ApiRequest::new("GET", path))
        }
    }

    fn body(r: &ApiResponse) -> Value {
        assert_eq!(
            r.get_header("content-type"),
            Some(crate::api::JSON),
            "{}",
            r.body_text()
        );
        serde_json::from_slice(&r.body).unwrap()
    }

    fn code(r: &ApiResponse) -> String {
        body(r)["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn authed(mut r: ApiRequest, token: &str) -> ApiRequest {
        r.headers
            .push(("authorization".into(), format!("Bearer {token}")));
        r
    }

    fn post(body: &Value) -> ApiRequest {
        let mut r = ApiRequest::new("POST", "/v1/providers");
        r.headers
            .push(("content-type".into(), "application/json".into()));
        r.body = serde_json::to_vec(body).unwrap();
        r
    }

    #[test]
    fn healthz_reports_version_and_revision() {
        let f = Fixture::new();
        let r = f.get("/healthz");
        assert_eq!(r.status, 200);
        let v = body(&r);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["sentinel"], "api-test");
        assert_eq!(v["revision"], f.s.engine.state().revision);
        assert!(v["last_decide"]["rfc3339"].as_str().unwrap().ends_with('Z'));
        let head = f.call(&ApiRequest::new("HEAD", "/healthz"));
        assert_eq!((head.status, head.body.len()), (200, 0));
    }

    #[test]
    fn providers_list_and_detail() {
        let f = Fixture::new();
        let v = body(&f.get("/v1/providers"));
        assert_eq!(v["count"], 3);
        let ids: Vec<_> = v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let routed: Vec<_> = v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["routed"] == true)
            .collect();
        assert_eq!(routed.len(), 1);

        let r = f.get("/v1/providers/a");
        assert_eq!(r.status, 200);
        let d = body(&r);
        assert_eq!(d["id"], "a");
        assert_eq!(d["name"], "Provider A");
        assert!(["up", "down"].contains(&d["status"].as_str().unwrap()));
        let total = &d["reputation"]["total"];
        assert!(total["bps"].is_u64());
        let pct = total["percent"].as_str().unwrap();
        assert_eq!(pct.split('.').nth(1).map(str::len), Some(2), "{pct}");
        let comps = d["reputation"]["components"].as_array().unwrap();
        let names: Vec<_> = comps.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "uptime",
                "data_quality",
                "performance",
                "cost",
                "reliability"
            ]
        );
        assert!(comps[0]["inputs"]["probes_30d"].as_u64().unwrap() > 0);
        assert!(d["reputation"].get("moved_most").is_some());
        assert!(d["reputation"]["previous_total"]["bps"].is_u64());
        assert_eq!(d["history"]["daily"].as_array().unwrap().len(), 30);
        assert_eq!(d["history"]["hourly"].as_array().unwrap().len(), 24);
        assert!(d["downtimes"].as_array().is_some_and(|a| !a.is_empty()));
        assert!(d["last_probe"]["at"]["unix_ms"].is_u64());
        let sources: Vec<_> = d["budget"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["quota", "budget"]);
        assert_eq!(d["cost_month"]["fixed"]["usd"], "0.00");

        let missing = f.get("/v1/providers/zzz");
        assert_eq!(
            (missing.status, code(&missing).as_str()),
            (404, "not-found")
        );
        let bad = f.get("/v1/providers/Not_OK");
        assert_eq!((bad.status, code(&bad).as_str()), (400, "invalid-id"));
        let long = f.get(&format!("/v1/providers/{}", "a".repeat(100)));
        assert_eq!((long.status, code(&long).as_str()), (400, "invalid-id"));
        assert!(body(&long)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 to 64"));
    }

    #[test]
    fn route_switches_and_budget() {
        let f = Fixture::new();
        let active = f.s.active("prices").unwrap();
        let v = body(&f.get("/v1/services/prices/route"));
        assert_eq!(v["active"], active.as_str());
        assert!(v["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        assert!(v["since"]["unix_ms"].as_u64().unwrap() > start());
        assert_eq!(
            v["reason"]["trigger"].as_str().is_some(),
            v["switches"] != 0
        );
        assert_eq!(v["proxy_path"], "/proxy/prices/");
        let missing = f.get("/v1/services/nope/route");
        assert_eq!(
            (missing.status, code(&missing).as_str()),
            (404, "unknown-service")
        );

        let v = body(&f.get("/v1/switches"));
        let sw = v["switches"].as_array().unwrap();
        assert!(!sw.is_empty(), "the outage made a switch");
        let seqs: Vec<u64> = sw.iter().map(|s| s["seq"].as_u64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] > w[1]),
            "newest first: {seqs:?}"
        );
        let first = &sw[0];
        assert!(first["reason"]["trigger"].is_string());
        assert!(first["reason"]["detail"].is_object() || first["reason"]["detail"].is_string());
        assert!(first["at"]["rfc3339"].is_string());
        let one = body(&f.get("/v1/switches?limit=1"));
        assert_eq!(
            (one["count"].as_u64(), one["limit"].as_u64()),
            (Some(1), Some(1))
        );
        for bad in ["0", "501", "abc", "-1", "1e3"] {
            let r = f.get(&format!("/v1/switches?limit={bad}"));
            assert_eq!((r.status, code(&r).as_str()), (400, "bad-request"), "{bad}");
        }
        assert_eq!(f.get("/v1/switches?limit=500&other=x").status, 200);

        let v = body(&f.get("/v1/budget"));
        assert_eq!(v["providers"].as_array().unwrap().len(), 3);
        assert_eq!(v["sentinel"]["sentinel"], "api-test");
        assert_eq!(v["sentinel"]["quotas"][0]["metric"], "writes");
        assert!(v["providers"][0]["cost_month"]["total"]["nano_usd"].is_u64());
        assert!(v["providers"][0]["step"].is_string());
    }

    #[test]
    fn attestations_are_not_configured_yet() {
        let f = Fixture::new();
        let r = f.get("/v1/attestations/b");
        assert_eq!((r.status, code(&r).as_str()), (404, "not-attested"));
        let v = body(&r);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("on-chain attestation is not configured"));
        assert_eq!(v["error"]["details"]["provider"], "b");
        assert!(v["error"]["details"]["trust"].is_string());
        assert!(v["error"]["details"]["total"]["bps"].is_u64());
        let r = f.get("/v1/attestations/nope");
        assert_eq!((r.status, code(&r).as_str()), (404, "not-found"));
    }

    #[test]
    fn observations_need_the_token() {
        let f = Fixture::new();
        let r = f.get("/v1/observations");
        assert_eq!((r.status, code(&r).as_str()), (401, "unauthorized"));
        assert!(r.get_header("www-authenticate").is_some());
        let r = f.call(&authed(ApiRequest::new("GET", "/v1/observations"), "nope"));
        assert_eq!((r.status, code(&r).as_str()), (403, "forbidden"));
        let r = f.call(&authed(ApiRequest::new("GET", "/v1/observations"), TOKEN));
        assert_eq!(r.status, 200);
        let v = body(&r);
        assert_eq!(v["count"], 5);
        assert_eq!(v["sentinel"], "api-test");
        let back: Vec<Observation> = serde_json::from_value(v["observations"].clone()).unwrap();
        assert_eq!(back, f.obs, "a peer reads them back as observations");
        let since = f.obs[2].at;
        let r = f.call(&authed(
            ApiRequest::new("GET", &format!("/v1/observations?since={since}&limit=1")),
            TOKEN,
        ));
        let v = body(&r);
        assert_eq!(v["count"], 1);
        assert_eq!(v["observations"][0]["at"], f.obs[4].at, "the newest");
        let r = f.call(&authed(
            ApiRequest::new("GET", "/v1/observations?since=yesterday"),
            TOKEN,
        ));
        assert_eq!(r.status, 400);
        let deny = Fixture {
            auth: Auth::Deny,
            ..Fixture::new()
        };
        let r = deny.call(&authed(ApiRequest::new("GET", "/v1/observations"), TOKEN));
        assert_eq!(r.status, 403);
    }

    fn provider_json(id: &str) -> Value {
        json!({ "id": id, "name": "New <one>", "endpoint": "http://127.0.0.1:9009" })
    }

    #[test]
    fn submissions_are_authenticated_and_validated() {
        let mut f = Fixture::new();
        let good = json!({ "service": "prices", "provider": provider_json("d") });
        let r = f.call(&post(&good));
        assert_eq!(r.status, 401);
        let r = f.call(&authed(post(&good), "wrong"));
        assert_eq!(r.status, 403);

        let mut malformed = authed(post(&good), TOKEN);
        malformed.body = b"{\"service\": \"prices\", ".to_vec();
        let r = f.call(&malformed);
        assert_eq!((r.status, code(&r).as_str()), (400, "bad-request"));
        assert!(body(&r)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("EOF"));
        let r = f.call(&authed(
            post(&json!({ "provider": provider_json("d") })),
            TOKEN,
        ));
        assert_eq!((r.status, code(&r).as_str()), (400, "bad-request"));
        let mut form = authed(post(&good), TOKEN);
        form.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        form.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        assert_eq!(f.call(&form).status, 415);

        let r = f.call(&authed(
            post(&json!({ "service": "nope", "provider": provider_json("d") })),
            TOKEN,
        ));
        assert_eq!((r.status, code(&r).as_str()), (404, "unknown-service"));

        let mut bad_field = provider_json("d");
        bad_field["limits"] =
            json!({ "quotas": [{ "metric": "requests", "limit": "lots", "period": "day" }] });
        let r = f.call(&authed(
            post(&json!({ "service": "prices", "provider": bad_field })),
            TOKEN,
        ));
        assert_eq!((r.status, code(&r).as_str()), (422, "invalid-provider"));
        let details = body(&r)["error"]["details"].clone();
        assert!(
            details[0]["key"]
                .as_str()
                .unwrap()
                .starts_with("provider.limits.quotas"),
            "{details}"
        );

        let r = f.call(&authed(
            post(&json!({ "service": "prices", "provider": provider_json("a") })),
            TOKEN,
        ));
        assert_eq!((r.status, code(&r).as_str()), (409, "conflict"));

        let Routed::Submit { service, provider } = f.routed(&authed(post(&good), TOKEN)) else {
            panic!("a valid submission is handed to the shell");
        };
        assert_eq!((service.as_str(), provider.id.as_str()), ("prices", "d"));
        let id = provider.id.clone();
        let now = f.s.now;
        let result = f.s.engine.submit(now, &service, provider);
        let r = submit_response(result, &id);
        assert_eq!(r.status, 201);
        assert_eq!(r.get_header("location"), Some("/v1/providers/d"));
        assert_eq!(body(&r)["lifecycle"], "discovered");
        let d = body(&f.get("/v1/providers/d"));
        assert_eq!(
            (d["lifecycle"].as_str(), d["submitted"].as_bool()),
            (Some("discovered"), Some(true))
        );

        let mut bad_endpoint = provider_json("e");
        bad_endpoint["endpoint"] = json!("ftp://nowhere");
        let bad: ProviderConfig = serde_json::from_value(bad_endpoint).unwrap();
        let result = f.s.engine.submit(now, &service, bad);
        let r = submit_response(result, &ProviderId::new("e").unwrap());
        assert_eq!((r.status, code(&r).as_str()), (422, "invalid-provider"));
        let v = body(&r);
        let details = v["error"]["details"].as_array().unwrap();
        assert!(!details.is_empty());
        for d in details {
            assert!(d["key"].is_string() && d["message"].is_string() && d.get("value").is_some());
        }
    }

    #[test]
    fn unknown_paths_and_methods() {
        let f = Fixture::new();
        for p in [
            "/nope",
            "/v1",
            "/v1/providers/",
            "/v1//providers",
            "/v1/providers/a/b",
            "/proxy",
            "/proxy/",
        ] {
            let r = f.get(p);
            assert_eq!((r.status, code(&r).as_str()), (404, "not-found"), "{p}");
        }
        let r = f.call(&ApiRequest::new("DELETE", "/v1/providers"));
        assert_eq!((r.status, code(&r).as_str()), (405, "method-not-allowed"));
        assert_eq!(r.get_header("allow"), Some("GET, HEAD, POST"));
        let r = f.call(&ApiRequest::new("POST", "/healthz"));
        assert_eq!(r.status, 405);
        assert_eq!(r.get_header("allow"), Some("GET, HEAD"));
        assert_eq!(f.call(&ApiRequest::new("get", "/healthz")).status, 405);
    }

    #[test]
    fn hostile_paths_get_clear_errors() {
        let f = Fixture::new();
        let cases: &[(&str, u16, &str)] = &[
            ("/v1/providers/..%2F..", 400, "bad-path"),
            ("/v1/providers/..%2f..%2fetc%2fpasswd", 400, "bad-path"),
            ("/v1/providers/%2e%2e", 400, "bad-path"),
            ("/v1/providers/..", 400, "bad-path"),
            ("/v1/../healthz", 400, "bad-path"),
            ("/v1/providers/a%5Cb", 400, "bad-path"),
            ("/v1/providers/%ff%fe", 400, "bad-path"),
            ("/v1/providers/%c3", 400, "bad-path"),
            ("/v1/providers/%zz", 400, "bad-path"),
            ("/v1/providers/%4", 400, "bad-path"),
            ("/v1/providers/a%00", 400, "bad-path"),
            ("/v1/providers/a b", 400, "bad-path"),
            ("v1/providers", 400, "bad-path"),
            ("", 400, "bad-path"),
            ("/v1/providers/%C3%A9", 400, "invalid-id"),
            ("/v1/services/%20/route", 400, "invalid-id"),
        ];
        for (path, status, c) in cases {
            let r = f.get(path);
            assert_eq!((r.status, code(&r).as_str()), (*status, *c), "{path}");
            let msg = body(&r)["error"]["message"].as_str().unwrap().to_string();
            assert!(!msg.is_empty() && msg.len() < 400, "{path}: {msg}");
        }
        let long = format!("/v1/providers/{}", "x".repeat(MAX_PATH));
        let r = f.get(&long);
        assert_eq!((r.status, code(&r).as_str()), (414, "uri-too-long"));
        assert!(r.body.len() < 300, "the path is not echoed back");
        let mut q = ApiRequest::new("GET", "/v1/switches");
        q.query = "a=".repeat(MAX_QUERY);
        assert_eq!(f.call(&q).status, 414);
        let r = f.get("/v1/switches?limit=%ff");
        assert_eq!(r.status, 400);
    }

    #[test]
    fn the_router_never_panics() {
        let f = Fixture::new();
        let alphabet: &[&str] = &[
            "/",
            "/",
            "v1",
            "providers",
            "proxy",
            "prices",
            "a",
            "%",
            "%2",
            "%2F",
            "%2e",
            ".",
            "..",
            "%ff",
            "%c3%a9",
            "é",
            "\u{0}",
            " ",
            "?",
            "#",
            "route",
            "services",
            "x".repeat(70).leak(),
        ];
        let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "", "GÉT"];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let mut path = String::new();
            for _ in 0..next(8) {
                path.push_str(alphabet[next(alphabet.len())]);
            }
            let mut req = ApiRequest::new(methods[next(methods.len())], "");
            req.path = path;
            req.query = alphabet[next(alphabet.len())].to_string();
            if next(2) == 0 {
                req.headers.push((
                    "authorization".into(),
                    alphabet[next(alphabet.len())].into(),
                ));
            }
            req.body = alphabet[next(alphabet.len())].as_bytes().to_vec();
            match f.routed(&req) {
                Routed::Response(r) => {
                    assert!((200..600).contains(&r.status));
                    if r.status >= 400 {
                        let _ = code(&r);
                    }
                }
                Routed::Proxy { service, rest } => {
                    assert_eq!(service.as_str(), "prices");
                    assert!(rest.starts_with('/'));
                }
                Routed::Submit { .. } => panic!("no token, no submission"),
            }
        }
    }

    #[test]
    fn proxy_requests_are_handed_to_the_shell() {
        let f = Fixture::new();
        let cases = [
            (
                "/proxy/prices/v1/price?pair=ETH-USD",
                "/v1/price?pair=ETH-USD",
            ),
            ("/proxy/prices", "/"),
            ("/proxy/prices/", "/"),
            ("/proxy/prices/a%2Fb/c%20d", "/a%2Fb/c%20d"),
            ("/proxy/pri%63es/x", "/x"),
        ];
        for (path, want) in cases {
            for method in ["GET", "POST", "PATCH"] {
                match f.routed(&ApiRequest::new(method, path)) {
                    Routed::Proxy { service, rest } => {
                        assert_eq!(
                            (service.as_str(), rest.as_str()),
                            ("prices", want),
                            "{path}"
                        );
                    }
                    other => panic!("{path}: {other:?}"),
                }
            }
        }
        let r = f.get("/proxy/nope/x");
        assert_eq!((r.status, code(&r).as_str()), (404, "unknown-service"));
        for hostile in [
            "/proxy/prices/../admin",
            "/proxy/prices/a/%2E%2e/b",
            "/proxy/prices/.",
            "/proxy/..%2f/x",
        ] {
            let r = f.get(hostile);
            assert_eq!(r.status, 400, "{hostile}");
        }
    }

    #[test]
    fn renderings_are_served() {
        let f = Fixture::new();
        let m = f.get("/metrics");
        assert_eq!(m.status, 200);
        assert_eq!(m.get_header("content-type"), Some(crate::api::PROMETHEUS));
        assert!(m
            .body_text()
            .contains("sentinel_service_active{service=\"prices\""));
        let d = f.get("/");
        assert_eq!(d.status, 200);
        assert_eq!(d.get_header("content-type"), Some(crate::api::HTML));
        assert!(d
            .get_header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")));
        assert!(d.body_text().contains("data-provider=\"a\""));
        let j = body(&f.get("/dashboard.json"));
        assert!(j["fragments"]["providers"].is_string());
        let o = body(&f.get("/openapi.json"));
        assert_eq!(o["openapi"], "3.0.3");
    }
}
