#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The router through the public API: every endpoint over a small
//! simulated scenario, hostile paths and methods, authentication, the
//! submission handshake, the proxy hand-off, and the bodies read back into
//! the shared `api::dto` types.

use sentinel_core::api::dto;
use sentinel_core::api::{
    route, submit_response, ApiContext, ApiRequest, ApiResponse, Auth, Routed, HTML, JSON,
    MAX_PATH, MAX_QUERY, PROMETHEUS,
};
use sentinel_core::config::{Config, ProviderConfig};
use sentinel_core::dashboard;
use sentinel_core::probe::Observation;
use sentinel_core::sim::{Fault, Scenario, SimProvider};
use sentinel_core::time::{days_from_civil, DAY, HOUR, MINUTE};
use sentinel_core::{ProviderId, ServiceId, UnixMillis};
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
    sentinel_core::sim::observation(ProviderId::new(provider).unwrap(), at)
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
        Some(JSON),
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
    for p in v["providers"].as_array().unwrap() {
        for c in [
            "uptime",
            "data_quality",
            "performance",
            "cost",
            "reliability",
        ] {
            let score = &p["components"][c];
            assert!(score.is_null() || score["bps"].is_u64(), "{c}: {p}");
        }
        assert!(
            p["components"]["uptime"]["bps"].is_u64(),
            "probed: uptime known"
        );
    }
    assert_eq!(
        (v["matched"].as_u64(), v["next"].is_null()),
        (Some(3), true)
    );
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
    // The record it would sign this epoch, and the evidence its hash
    // commits to: keccak256 of the served bytes is the record's hash, and
    // the bytes decode to the served report.
    let d = &v["error"]["details"];
    let record: dto::RecordDto = serde_json::from_value(d["record"].clone()).unwrap();
    let evidence: dto::EvidenceDto = serde_json::from_value(d["evidence"].clone()).unwrap();
    let bytes: Vec<u8> = (1..evidence.bytes.len() / 2)
        .map(|i| u8::from_str_radix(&evidence.bytes[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let hash: String = sentinel_core::attest::keccak256(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(record.evidence_hash, format!("0x{hash}"));
    assert_eq!(bytes, evidence.report.to_bytes());
    assert_eq!(record.score_bps, evidence.report.total);
    assert_eq!(record.provider.as_str(), "b");
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
            Routed::Discover { .. } | Routed::Veto { .. } => {
                panic!("no token, no discovery")
            }
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
    assert_eq!(m.get_header("content-type"), Some(PROMETHEUS));
    assert!(m
        .body_text()
        .contains("sentinel_service_active{service=\"prices\""));
    let d = f.get("/");
    assert_eq!(d.status, 200);
    assert_eq!(d.get_header("content-type"), Some(HTML));
    assert!(d
        .get_header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'")));
    assert!(d.body_text().contains("data-provider=\"a\""));
    let j = body(&f.get("/dashboard.json"));
    assert!(j["fragments"]["providers"].is_string());
    let o = body(&f.get("/openapi.json"));
    assert_eq!(o["openapi"], "3.0.3");
}

/// Reads a JSON body into the shared type a client would use.
fn read<T: serde::de::DeserializeOwned>(r: &ApiResponse) -> T {
    assert_eq!(r.get_header("content-type"), Some(JSON));
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body_text()))
}

#[test]
fn the_provider_list_reads_back_into_the_shared_type() {
    let f = Fixture::new();
    let list: dto::ProviderList = read(&f.get("/v1/providers"));
    assert_eq!(list, dto::ProviderList::build(&f.s.engine, f.s.now));
    assert_eq!(list.count, 3);
    let a = &list.providers[0];
    assert_eq!((a.id.as_str(), a.name.as_str()), ("a", "Provider A"));
    assert!(a.last_probe.is_some());
}

#[test]
fn every_json_body_reads_back_into_its_shared_type() {
    let f = Fixture::new();
    let (engine, now) = (&f.s.engine, f.s.now);
    let health: dto::Health = read(&f.get("/healthz"));
    assert_eq!(health, dto::Health::build(engine, now));
    let a = ProviderId::new("a").unwrap();
    let detail: dto::ProviderDetail = read(&f.get("/v1/providers/a"));
    assert_eq!(Some(detail), dto::ProviderDetail::build(engine, &a, now));
    let prices = ServiceId::new("prices").unwrap();
    let route: dto::RouteDto = read(&f.get("/v1/services/prices/route"));
    assert_eq!(Some(route), dto::RouteDto::build(engine, &prices));
    let switches: dto::SwitchList = read(&f.get("/v1/switches"));
    assert_eq!(switches, dto::SwitchList::build(engine, 100));
    let budget: dto::BudgetReport = read(&f.get("/v1/budget"));
    assert_eq!(budget, dto::BudgetReport::build(engine, now));
    let obs: dto::ObservationList =
        read(&f.call(&authed(ApiRequest::new("GET", "/v1/observations"), TOKEN)));
    assert_eq!(obs.observations, f.obs);

    let err: dto::ErrorEnvelope = read(&f.get("/v1/attestations/b"));
    assert_eq!(err.error.code, "not-attested");
    let details: dto::NotAttested = serde_json::from_value(err.error.details.unwrap()).unwrap();
    assert_eq!(details.provider.as_str(), "b");
    let missing: dto::ErrorEnvelope = read(&f.get("/v1/providers/zzz"));
    assert_eq!(
        (missing.error.code.as_str(), missing.error.details),
        ("not-found", None)
    );
}

/// `services` services of `per` API providers each, every third one in an
/// outage from the start, probed every 30 s and ticked every 15 s for
/// `minutes` (as the tick bench does: `run_until` would tick on every
/// wake-up).
fn fleet(services: usize, per: usize, minutes: u64) -> Scenario {
    use std::fmt::Write as _;
    let n = services * per;
    let budget = n * 2 + 10;
    let mut t = format!(
        "[sentinel]\nid = \"fleet\"\nallow_private_targets = true\nprobe_budget_per_tick = {budget}\n"
    );
    for s in 0..services {
        let _ = write!(
            t,
            "\n[[service]]\nid = \"svc-{s:03}\"\nkind = \"api\"\nprobe_interval = \"30s\"\n"
        );
        for i in s * per..(s + 1) * per {
            let initial = if i % per == 0 {
                "initial = \"active\"\n"
            } else {
                ""
            };
            let _ = write!(
                t,
                "\n[[service.provider]]\nid = \"p{i:04}\"\nendpoint = \"http://127.0.0.1:9000\"\n{initial}"
            );
        }
    }
    let mut s = Scenario::new(Config::from_toml(&t).unwrap(), start(), 5).unwrap();
    s.engine
        .sentinel_mut()
        .set_probe_budget(u32::try_from(budget).unwrap());
    for i in (0..n).step_by(3) {
        s.set(
            &format!("p{i:04}"),
            SimProvider::default().fault(start(), start() + DAY, Fault::Outage),
        );
    }
    let until = start() + minutes * MINUTE;
    while s.now < until {
        s.tick();
        s.now += 15_000;
    }
    s
}

fn get_in(s: &Scenario, path: &str) -> ApiResponse {
    let ctx = ApiContext {
        engine: &s.engine,
        now: s.now,
        recent_observations: &[],
    };
    match route(&ApiRequest::new("GET", path), &ctx, &Auth::Deny) {
        Routed::Response(r) => r,
        other => panic!("{path}: {other:?}"),
    }
}

/// Walks every page of `/v1/providers?{filters}` with `limit`: the ids in
/// order, checking `matched` and `count` on the way.
fn walk(s: &Scenario, filters: &str, limit: usize) -> Vec<dto::ProviderItem> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut q = format!("limit={limit}");
        if !filters.is_empty() {
            q = format!("{filters}&{q}");
        }
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let r = get_in(s, &format!("/v1/providers?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.body_text());
        let page: dto::ProviderList = read(&r);
        assert_eq!(page.count, page.providers.len());
        assert!(page.count <= limit);
        assert_eq!(page.limit, limit);
        out.extend(page.providers);
        assert!(
            page.next.is_none() || page.count == limit,
            "a short page must be the last"
        );
        match page.next {
            None => {
                assert_eq!(page.matched, out.len(), "{q}: matched");
                return out;
            }
            Some(n) => cursor = Some(n),
        }
    }
    panic!("pages never ended");
}

#[test]
fn provider_pages_cover_every_provider_exactly_once_with_filters() {
    let s = fleet(4, 7, 3);
    let engine = &s.engine;
    let all: Vec<dto::ProviderItem> = engine
        .registry()
        .providers()
        .filter_map(|p| engine.summary(&p.config.id, s.now))
        .map(|sum| dto::ProviderItem::from_summary(&sum))
        .collect();
    assert_eq!(all.len(), 28);
    let statuses: std::collections::BTreeSet<_> = all.iter().map(|p| p.status.as_str()).collect();
    assert!(statuses.len() >= 2, "the fleet has up and down providers");
    type Pred = Box<dyn Fn(&dto::ProviderItem) -> bool>;
    let cases: Vec<(&str, Pred)> = vec![
        ("", Box::new(|_| true)),
        (
            "service=svc-002",
            Box::new(|p| p.service.as_str() == "svc-002"),
        ),
        ("status=down", Box::new(|p| p.status == dto::Status::Down)),
        ("status=up", Box::new(|p| p.status == dto::Status::Up)),
        (
            "status=unknown",
            Box::new(|p| p.status == dto::Status::Unknown),
        ),
        ("routed=true", Box::new(|p| p.routed)),
        ("routed=false", Box::new(|p| !p.routed)),
        (
            "lifecycle=standby",
            Box::new(|p| p.lifecycle.as_str() == "standby"),
        ),
        (
            "service=svc-001&status=up&routed=false",
            Box::new(|p| {
                p.service.as_str() == "svc-001" && p.status == dto::Status::Up && !p.routed
            }),
        ),
    ];
    for (filters, pred) in &cases {
        let mut want: Vec<(String, String)> = all
            .iter()
            .filter(|p| pred(p))
            .map(|p| (p.service.to_string(), p.id.to_string()))
            .collect();
        want.sort();
        for limit in [1, 3, 7, 100, 500] {
            let got: Vec<(String, String)> = walk(&s, filters, limit)
                .iter()
                .map(|p| (p.service.to_string(), p.id.to_string()))
                .collect();
            assert_eq!(got, want, "filters `{filters}`, limit {limit}");
        }
    }
    // Every item is the provider's own summary, components included.
    for p in walk(&s, "", 10) {
        let own = all.iter().find(|a| a.id == p.id).unwrap();
        assert_eq!(&p, own);
        assert!(p.components.uptime.is_some());
    }
}

#[test]
fn bad_provider_queries_are_refused_naming_the_parameter() {
    let f = Fixture::new();
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("status=sideways", "status"),
        ("lifecycle=zombie", "lifecycle"),
        ("routed=yes", "routed"),
        ("service=nope", "service"),
        ("service=Not_OK", "service"),
        ("cursor=garbage", "cursor"),
        ("cursor=prices:Not_OK", "cursor"),
        ("status=up&status=down", "status"),
        ("colour=red", "colour"),
        ("limit=%zz", "query string"),
    ] {
        for path in ["/v1/providers", "/dashboard/providers"] {
            let r = f.get(&format!("{path}?{query}"));
            assert_eq!(r.status, 400, "{path}?{query}: {}", r.body_text());
            let v = body(&r);
            assert_eq!(v["error"]["code"], "bad-request", "{query}");
            let msg = v["error"]["message"].as_str().unwrap();
            let named = if param == "query string" {
                msg.contains(param)
            } else {
                msg.contains(&format!("`{param}`"))
            };
            assert!(named, "{path}?{query}: {msg}");
        }
    }
    // Good values pass.
    for ok in [
        "limit=500",
        "service=prices&status=up&lifecycle=active&routed=true",
        "cursor=prices:a",
    ] {
        assert_eq!(f.get(&format!("/v1/providers?{ok}")).status, 200, "{ok}");
    }
}

#[test]
fn provider_detail_on_demand_is_served_and_escaped() {
    let mut f = Fixture::new();
    // A submitted provider's name is untrusted text.
    let mut p = provider_json("evil");
    p["name"] = json!("<img src=x onerror=alert(1)>");
    let req = authed(post(&json!({ "service": "prices", "provider": p })), TOKEN);
    let Routed::Submit { service, provider } = f.routed(&req) else {
        panic!("not a submission");
    };
    let now = f.s.now;
    f.s.engine.submit(now, &service, provider).unwrap();
    for path in [
        "/dashboard/providers/evil/card",
        "/dashboard/providers/evil",
        "/dashboard/providers",
    ] {
        let r = f.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.get_header("content-type"), Some(HTML));
        assert!(r
            .get_header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")));
        let html = r.body_text();
        assert!(html.contains("data-provider=\"evil\""), "{path}");
        assert!(!html.contains("<img"), "{path}: unescaped name");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{path}"
        );
    }
    let card = f.get("/dashboard/providers/a/card").body_text();
    for c in [
        "uptime",
        "data_quality",
        "performance",
        "cost",
        "reliability",
    ] {
        assert!(card.contains(&format!("data-component=\"{c}\"")), "{c}");
    }
    assert!(card.contains("class=\"quota\""), "a has a quota");
    assert!(card.contains("<figure class=\"uptime daily\">"));
    let missing = f.get("/dashboard/providers/zzz/card");
    assert_eq!(missing.status, 404);
    assert!(missing.body_text().contains("No provider <code>zzz</code>"));
    assert_eq!(f.get("/dashboard/providers/zzz").status, 404);
    assert_eq!(
        code(&f.get("/dashboard/providers/Not_OK/card")),
        "invalid-id"
    );
    assert_eq!(code(&f.get("/dashboard/providers/a/card/x")), "not-found");
    // The summary page links to the card rather than carrying it.
    let page = f.get("/").body_text();
    assert!(page.contains("href=\"#provider=evil\""));
    assert!(!page.contains("data-component"));
}

#[test]
fn the_dashboard_and_a_page_stay_small_at_a_thousand_providers() {
    let s = fleet(100, 10, 2);
    let down = s
        .engine
        .state()
        .providers
        .values()
        .filter(|p| dto::Status::of_state(p) == dto::Status::Down)
        .count();
    assert!(down > 300, "a third of the fleet is down ({down})");
    let page = get_in(&s, "/");
    assert_eq!(page.status, 200);
    let size = page.body.len();
    assert!(size < 200_000, "/ is {size} bytes at 1,000 providers");
    let html = page.body_text();
    assert!(
        html.contains("<b>1000</b> providers"),
        "the counts cover every provider"
    );
    assert!(
        html.matches("<tr data-provider=").count() <= dashboard::PROVIDERS_SHOWN,
        "a bounded provider list"
    );
    let json = get_in(&s, "/dashboard.json");
    assert!(
        json.body.len() < 400_000,
        "/dashboard.json is {} bytes",
        json.body.len()
    );
    let list = get_in(&s, "/v1/providers?limit=100");
    let l: dto::ProviderList = read(&list);
    assert_eq!((l.count, l.matched), (100, 1000));
    assert!(
        list.body.len() < 200_000,
        "a page of 100 is {} bytes",
        list.body.len()
    );
    let browse = get_in(&s, "/dashboard/providers?limit=100");
    assert!(browse.body.len() < 200_000);
    let card = get_in(&s, "/dashboard/providers/p0003/card");
    assert_eq!(card.status, 200);
    assert!(
        card.body.len() < 30_000,
        "a card is {} bytes",
        card.body.len()
    );
    // /metrics is per provider by nature: a small fixed set of series each.
    let metrics = get_in(&s, "/metrics").body_text();
    let p7 = metrics
        .lines()
        .filter(|l| l.contains("provider=\"p0007\""))
        .count();
    assert!(p7 <= 17, "{p7} series for one provider");
}

/// A fixture over public endpoints with private targets allowed or not.
fn guarded(allow_private: bool) -> Fixture {
    let cfg = Config::from_toml(&format!(
        r#"
[sentinel]
id = "guard-test"
allow_private_targets = {allow_private}

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/health"

[[service.provider]]
id = "a"
endpoint = "https://a.example.com"
initial = "active"
"#
    ))
    .unwrap();
    let mut s = Scenario::new(cfg, start(), 3).unwrap();
    s.run_until(start() + MINUTE);
    Fixture {
        s,
        obs: Vec::new(),
        auth: Auth::bearer(TOKEN),
    }
}

fn submit(f: &Fixture, provider: Value) -> Routed {
    f.routed(&authed(
        post(&json!({ "service": "prices", "provider": provider })),
        TOKEN,
    ))
}

/// The refusal of a submission by the SSRF guard: 422 `invalid-provider`
/// naming `key`, with the guard's reason.
fn assert_refused(f: &Fixture, provider: Value, key: &str, why: &str) {
    let shown = provider.to_string();
    let r = match submit(f, provider) {
        Routed::Response(r) => r,
        other => panic!("{shown} was accepted: {other:?}"),
    };
    assert_eq!(
        (r.status, code(&r).as_str()),
        (422, "invalid-provider"),
        "{shown}"
    );
    let v = body(&r);
    let details = v["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{v}");
    assert_eq!(details[0]["key"], key, "{v}");
    let msg = details[0]["message"].as_str().unwrap();
    assert!(msg.contains(why), "{shown}: {msg}");
    assert!(v["error"]["message"].as_str().unwrap().contains(key), "{v}");
}

#[test]
fn submissions_are_refused_by_the_ssrf_guard() {
    let strict = guarded(false);
    // The four targets of the report, with private targets off.
    for (endpoint, why) in [
        ("http://169.254.169.254", "metadata"),
        ("http://10.0.0.1", "private"),
        ("http://[::1]:8545", "loopback"),
        ("http://localhost:8080", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://printer.local/", ".local"),
        ("http://metadata.google.internal/", "metadata"),
    ] {
        assert_refused(
            &strict,
            json!({ "id": "d", "endpoint": endpoint }),
            "provider.endpoint",
            why,
        );
    }
    // Metadata and link-local stay refused with private targets on.
    let lax = guarded(true);
    for (endpoint, why) in [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fe80::1]", "link-local"),
        ("http://[fd00:ec2::254]", "metadata"),
    ] {
        assert_refused(
            &lax,
            json!({ "id": "d", "endpoint": endpoint }),
            "provider.endpoint",
            why,
        );
    }
    // A probe path cannot move the probe elsewhere: joined to the
    // endpoint it stays a path (the route checks the joined URL too).
    for f in [&strict, &lax] {
        let Routed::Submit { provider, .. } = submit(
            f,
            json!({ "id": "d", "endpoint": "https://rpc.example.com",
                    "probe": { "path": "@169.254.169.254/latest" } }),
        ) else {
            panic!("a path is a path");
        };
        let path = &provider.probe.as_ref().unwrap().path;
        let url = sentinel_core::engine::join_url(&provider.endpoint, path);
        assert_eq!(
            url::Url::parse(&url).unwrap().host_str(),
            Some("rpc.example.com")
        );
    }
    // Private targets pass with them allowed; public ones always.
    let Routed::Submit { provider, .. } = submit(
        &lax,
        json!({ "id": "d", "endpoint": "http://10.0.0.1:8545" }),
    ) else {
        panic!("a private endpoint passes with private targets allowed");
    };
    assert_eq!(provider.endpoint, "http://10.0.0.1:8545");
    for f in [&strict, &lax] {
        let Routed::Submit { service, provider } = submit(
            f,
            json!({ "id": "d", "endpoint": "https://rpc.example.com/v1",
                    "probe": { "path": "/health" } }),
        ) else {
            panic!("a public https endpoint is handed to the shell");
        };
        assert_eq!((service.as_str(), provider.id.as_str()), ("prices", "d"));
    }
}
