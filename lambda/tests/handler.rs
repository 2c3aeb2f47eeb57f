#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::disallowed_methods
)]
//! The handler as a plain function, with constructed events: a Function
//! URL request, an EventBridge scheduled event, an event it does not
//! handle. State in moto's DynamoDB server (started here; skipped, or
//! failed under `SENTINEL_E2E_REQUIRE`, when moto is not installed).

mod common;

use common::{client, moto, Moto};
use lambda_http::Body;
use sentinel_lambda::app::App;
use sentinel_lambda::settings::Settings;
use sentinel_lambda::store::DynamoStore;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

const CONFIG: &str = r#"
[sentinel]
id = "handler"
allow_private_targets = true

[[service]]
id = "s"
kind = "api"
probe_interval = "30s"
[service.probe]
path = "/"
timeout = "1s"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9"
initial = "active"
"#;

async fn app(m: &Moto) -> App {
    let client = client(m);
    DynamoStore::create_table(&client, "t").await.unwrap();
    let settings = Settings::from_env(
        |k| match k {
            "SENTINEL_TABLE" => Some("t".into()),
            "SENTINEL_CONFIG" => Some(CONFIG.into()),
            "SENTINEL_TOKEN" => Some("admin-token-0123456789".into()),
            _ => None,
        },
        |_| Err(std::io::Error::other("no files")),
    )
    .unwrap();
    App::new(settings, client, now_ms).unwrap()
}

fn text(b: &Body) -> String {
    match b {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn a_scheduled_event_ticks_and_a_function_url_request_reads_the_result() {
    let Some(m) = moto().await else { return };
    let app = app(&m).await;
    let event = serde_json::json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    });
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let resp = app.handle(req).await;
    assert_eq!(resp.status(), 200, "{}", text(resp.body()));
    let summary: serde_json::Value = serde_json::from_str(&text(resp.body())).unwrap();
    assert_eq!(summary["probes"], 1, "{summary}");
    assert!(summary["version"].as_u64().unwrap() >= 1, "{summary}");

    let url_event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/providers/a",
        "rawQueryString": "",
        "headers": {"host": "x.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x",
            "http": {"method": "GET", "path": "/v1/providers/a", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "29/Nov/2026:12:00:00 +0000", "timeEpoch": 1795953600000u64
        },
        "isBase64Encoded": false
    });
    let req = lambda_http::request::from_str(&url_event.to_string()).unwrap();
    let resp = app.handle(req).await;
    assert_eq!(resp.status(), 200, "{}", text(resp.body()));
    let p: serde_json::Value = serde_json::from_str(&text(resp.body())).unwrap();
    // Port 9 refuses: the tick saw it.
    assert_eq!(p["id"], "a", "{p}");
    assert_ne!(
        p["status"], "unknown",
        "the tick's probe is in the state: {p}"
    );
}

#[tokio::test]
async fn an_event_it_does_not_handle_is_refused_in_words() {
    let Some(m) = moto().await else { return };
    let app = app(&m).await;
    let req =
        lambda_http::request::from_str(r#"{"Records": [{"eventSource": "aws:sqs"}]}"#).unwrap();
    let resp = app.handle(req).await;
    assert_eq!(resp.status(), 400);
    assert!(
        text(resp.body()).contains("unknown-event"),
        "{}",
        text(resp.body())
    );
}
