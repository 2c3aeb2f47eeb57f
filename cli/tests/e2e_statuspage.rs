#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Status pages end to end: a Statuspage-compatible server on 127.0.0.1
//! (`/api/v2/summary.json`) for the active provider. "All operational"
//! changes nothing; a declared incident lowers the provider's reliability
//! (an input of the explanation says by how much) while it is unresolved;
//! a maintenance window starting in a few minutes moves the route before
//! our own probes would see anything fail.

mod support;

use sentinel_cli::testbed::FakeApi;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A status page whose summary the test sets; counts its reads.
struct StatusPage {
    url: String,
    body: Arc<Mutex<String>>,
    reads: Arc<std::sync::atomic::AtomicU64>,
}

async fn status_page() -> StatusPage {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = Arc::new(Mutex::new(summary(
        "none",
        "All Systems Operational",
        "",
        "",
    )));
    let reads = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (b, r) = (body.clone(), reads.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (b, r) = (b.clone(), r.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 16_384 {
                    match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&got).to_string();
                let (status, text) = if head.starts_with("GET /api/v2/summary.json ") {
                    r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ("200 OK", b.lock().unwrap().clone())
                } else {
                    ("404 Not Found", "{}".to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    StatusPage { url, body, reads }
}

fn summary(indicator: &str, description: &str, incidents: &str, maintenances: &str) -> String {
    format!(
        r#"{{"page": {{"id": "t", "name": "Test", "url": "http://127.0.0.1", "updated_at": "2026-11-29T00:00:00.000Z"}},
           "components": [{{"id": "c", "name": "API", "status": "operational"}}],
           "incidents": [{incidents}], "scheduled_maintenances": [{maintenances}],
           "status": {{"indicator": "{indicator}", "description": "{description}"}}}}"#
    )
}

fn rfc3339_in(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    sentinel_core::time::rfc3339((now + secs * 1000) as u64)
}

fn input(detail: &serde_json::Value, component: &str, name: &str) -> Option<u64> {
    detail["reputation"]["components"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == component)?["inputs"][name]
        .as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_incident_costs_reliability_and_a_maintenance_moves_the_route() {
    let page = status_page().await;
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sentinel.toml");
    let mut text = api_config_text(&apis, 1, "");
    text = text.replacen(
        "max_tick_gap = \"1s\"",
        "max_tick_gap = \"1s\"\nstatus_page_interval = \"1s\"",
        1,
    );
    // The active provider publishes a status page.
    text = text.replacen(
        "initial = \"active\"\n",
        &format!("initial = \"active\"\nstatus_page = \"{}\"\n", page.url),
        1,
    );
    std::fs::write(&cfg, &text).unwrap();
    let (_sentinel, base) = start_sentinel(&cfg, &dir.path().join("data"), 120, &[]).await;
    let c = client();
    let wait = |what: &'static str, secs: u64| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        move || assert!(Instant::now() < deadline, "timed out waiting for {what}")
    };

    // Operational: read, and nothing moves.
    let check = wait("the first read", 20);
    let detail = loop {
        let d = get_json(&c, &format!("{base}/v1/providers/a"))
            .await
            .unwrap_or_default();
        if d["declared"]["indicator"] == "none" {
            break d;
        }
        check();
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        input(&detail, "reliability", "declared_penalty_bps"),
        Some(0),
        "{detail}"
    );
    assert_eq!(active(&c, &base, "prices").await.as_deref(), Some("a"));

    // A minor incident: reliability pays 10 % of itself, the route stays.
    *page.body.lock().unwrap() = summary(
        "minor",
        "Minor Service Outage",
        &format!(
            r#"{{"name": "Elevated latency", "impact": "minor", "status": "investigating", "created_at": "{}"}}"#,
            rfc3339_in(-60)
        ),
        "",
    );
    let check = wait("the incident", 20);
    let detail = loop {
        let d = get_json(&c, &format!("{base}/v1/providers/a"))
            .await
            .unwrap_or_default();
        if input(&d, "reliability", "declared_penalty_bps") == Some(1_000) {
            break d;
        }
        check();
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let incidents = detail["declared"]["incidents"].to_string();
    assert!(incidents.contains("Elevated latency"), "{detail}");
    // And on the dashboard's card of the provider.
    let (status, card) = get(&c, &format!("{base}/dashboard/providers/a/card"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        card.contains("data-declared=\"incident\"") && card.contains("Elevated latency"),
        "{card}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        active(&c, &base, "prices").await.as_deref(),
        Some("a"),
        "a minor incident moves no traffic"
    );

    // A maintenance in five minutes: traffic moves now, before it starts.
    let reads_before = page.reads.load(std::sync::atomic::Ordering::Relaxed);
    *page.body.lock().unwrap() = summary(
        "none",
        "All Systems Operational",
        "",
        &format!(
            r#"{{"name": "Database upgrade", "impact": "maintenance", "status": "scheduled", "scheduled_for": "{}", "scheduled_until": "{}"}}"#,
            rfc3339_in(300),
            rfc3339_in(3_600)
        ),
    );
    let check = wait("the switch ahead of the maintenance", 40);
    loop {
        if active(&c, &base, "prices").await.as_deref() == Some("b") {
            break;
        }
        check();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let route = get_json(&c, &format!("{base}/v1/services/prices/route"))
        .await
        .unwrap();
    assert!(route.to_string().contains("status-page"), "{route}");
    assert!(route.to_string().contains("Database upgrade"), "{route}");
    assert!(page.reads.load(std::sync::atomic::Ordering::Relaxed) > reads_before);
    // Our own probes never failed: the page moved the route.
    let a = get_json(&c, &format!("{base}/v1/providers/a"))
        .await
        .unwrap();
    assert_eq!(a["consecutive_failures"], 0, "{a}");
}
