//! Probes of databases' HTTP APIs: what `[service.probe] api = …` and
//! `query = …` become. Each API's request and its own success signal:
//!
//! | `api` | request | success the probe checks |
//! |---|---|---|
//! | `postgrest` | `GET /rest/v1/{query}` (Supabase's prefix; set `path` for a bare PostgREST), `accept: application/json` | HTTP 200 with a JSON document |
//! | `upstash-redis` | `POST /` with the command as a JSON array (`["GET","health"]`; default `PING`) | `/result` present (an error is `{"error": …}`) |
//! | `libsql` | `POST /v2/pipeline` with `execute` of the SQL and `close` (Hrana over HTTP; default `SELECT 1`) | `/results/0/type` is `"ok"` |
//! | `neon-sql` | `POST /sql` with `{"query": SQL, "params": []}` (default `SELECT 1`) | `/rows` present |
//!
//! The service's own checks apply on top (a pointer into the rows, a
//! freshness of a timestamp column…). Credentials are the provider's
//! sealed `secret_headers` as the API wants them: `apikey` and
//! `authorization` for Supabase, `authorization: Bearer …` for Upstash and
//! Turso, `neon-connection-string` for Neon.

use super::{DbApi, Method, ProbeSpec};
use crate::quality::Assertion;

/// The request and checks an `api` probe stands for (a probe without
/// `api` is returned as it is).
pub fn expand(mut spec: ProbeSpec) -> ProbeSpec {
    let Some(api) = spec.api else {
        return spec;
    };
    let query = spec.query.clone().unwrap_or_default();
    let json = |spec: &mut ProbeSpec| {
        spec.headers
            .entry("content-type".into())
            .or_insert_with(|| "application/json".into());
    };
    let require = |spec: &mut ProbeSpec, pointer: &str, equals: Option<&str>| {
        spec.checks.assertions.push(Assertion {
            pointer: pointer.into(),
            equals: equals.map(|s| serde_json::Value::String(s.into())),
            min: None,
            max: None,
            regex: None,
            exists: equals.is_none().then_some(true),
        });
    };
    // JSON strings written by hand (serde_json's own escaping): smaller
    // code than `json!` trees, which the Worker's bundle pays for.
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let sql = if query.trim().is_empty() {
        "SELECT 1".to_string()
    } else {
        query.clone()
    };
    match api {
        DbApi::Postgrest => {
            spec.method = Method::Get;
            if spec.path.is_empty() {
                spec.path = format!("/rest/v1/{}", query.trim_start_matches('/'));
            }
            spec.headers
                .entry("accept".into())
                .or_insert_with(|| "application/json".into());
        }
        DbApi::UpstashRedis => {
            spec.method = Method::Post;
            if spec.path.is_empty() {
                spec.path = "/".into();
            }
            let words: Vec<&str> = if query.trim().is_empty() {
                vec!["PING"]
            } else {
                query.split_whitespace().collect()
            };
            let items: Vec<String> = words.iter().map(|w| quoted(w)).collect();
            spec.body = Some(format!("[{}]", items.join(",")));
            json(&mut spec);
            require(&mut spec, "/result", None);
        }
        DbApi::Libsql => {
            spec.method = Method::Post;
            if spec.path.is_empty() {
                spec.path = "/v2/pipeline".into();
            }
            spec.body = Some(format!(
                r#"{{"requests":[{{"type":"execute","stmt":{{"sql":{}}}}},{{"type":"close"}}]}}"#,
                quoted(&sql)
            ));
            json(&mut spec);
            require(&mut spec, "/results/0/type", Some("ok"));
        }
        DbApi::NeonSql => {
            spec.method = Method::Post;
            if spec.path.is_empty() {
                spec.path = "/sql".into();
            }
            spec.body = Some(format!(r#"{{"query":{},"params":[]}}"#, quoted(&sql)));
            json(&mut spec);
            require(&mut spec, "/rows", None);
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::probe::{ProbeResponse, Purpose};
    use crate::{Engine, ProviderId, State};

    fn engine(api: &str, query: &str) -> Engine {
        let t = format!(
            r#"
[sentinel]
id = "t"
allow_private_targets = true
[[service]]
id = "db"
kind = "database"
[service.probe]
api = "{api}"
query = "{query}"
[service.probe.checks]
assertions = [{{ pointer = "/results/0/response/result/rows/0/0/value", equals = "1" }}]
[[service.provider]]
id = "turso"
endpoint = "http://127.0.0.1:8080"
initial = "active"
"#
        );
        let cfg = Config::from_toml(&t).unwrap_or_else(|e| panic!("{e}"));
        Engine::new(cfg, State::default(), 1_795_000_000_000).unwrap()
    }

    fn answer(e: &Engine, body: &str) -> crate::quality::Verdict {
        let id = ProviderId::new("turso").unwrap();
        let req = e.probe_request(&id, Purpose::Scheduled).unwrap();
        let resp = ProbeResponse {
            status: 200,
            latency_ms: 3,
            body: body.as_bytes().to_vec(),
            truncated: false,
            retry_after_s: None,
            signature: None,
        };
        e.observe(&req, 1_795_000_000_000, Ok(resp))
            .unwrap()
            .verdict
    }

    #[test]
    fn a_libsql_probe_sends_a_pipeline_and_checks_its_result() {
        let e = engine("libsql", "SELECT 1");
        let id = ProviderId::new("turso").unwrap();
        let req = e.probe_request(&id, Purpose::Scheduled).unwrap();
        assert!(req.url.ends_with("/v2/pipeline"), "{}", req.url);
        let body: serde_json::Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["requests"][0]["stmt"]["sql"], "SELECT 1");
        let ok = r#"{"baton":null,"base_url":null,"results":[{"type":"ok","response":{"type":"execute","result":{"cols":[{"name":"1","decltype":null}],"rows":[[{"type":"integer","value":"1"}]],"affected_row_count":0,"last_insert_rowid":null}}},{"type":"ok","response":{"type":"close"}}]}"#;
        assert!(!answer(&e, ok).business.is_fail());
        let err = r#"{"baton":null,"base_url":null,"results":[{"type":"error","error":{"message":"no such table: x","code":"SQLITE_ERROR"}}]}"#;
        assert!(answer(&e, err).business.is_fail());
    }

    #[test]
    fn every_api_builds_its_request() {
        let cases = [
            (
                "postgrest",
                "health?select=ok&limit=1",
                "GET",
                "/rest/v1/health?select=ok&limit=1",
                None,
            ),
            (
                "upstash-redis",
                "GET health",
                "POST",
                "/",
                Some(r#"["GET","health"]"#),
            ),
            (
                "neon-sql",
                "SELECT now()",
                "POST",
                "/sql",
                Some(r#"{"params":[],"query":"SELECT now()"}"#),
            ),
        ];
        for (api, q, method, path, body) in cases {
            let e = engine(api, q);
            let req = e
                .probe_request(&ProviderId::new("turso").unwrap(), Purpose::Scheduled)
                .unwrap();
            assert_eq!(req.method.as_str(), method, "{api}");
            assert!(req.url.ends_with(path), "{api}: {}", req.url);
            if let Some(b) = body {
                let got: serde_json::Value =
                    serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
                let want: serde_json::Value = serde_json::from_str(b).unwrap();
                assert_eq!(got, want, "{api}");
            }
        }
    }

    #[test]
    fn an_api_probe_refuses_a_body_and_a_query_needs_an_api() {
        let bad = |probe: &str| {
            let t = format!(
                "[sentinel]\nid = \"t\"\n[[service]]\nid = \"db\"\nkind = \"database\"\n[service.probe]\n{probe}\n[[service.provider]]\nid = \"p\"\nendpoint = \"https://db.example.com\"\n"
            );
            Config::from_toml(&t).unwrap_err().to_string()
        };
        assert!(bad("api = \"libsql\"\nbody = \"x\"").contains("query"));
        assert!(bad("query = \"SELECT 1\"").contains("api"));
    }
}
