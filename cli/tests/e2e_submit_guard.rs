#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! `POST /v1/providers` on the `sentinel` binary refuses a cloud metadata
//! or link-local endpoint with `422 invalid-provider` — even with private
//! targets allowed — and nothing is stored or probed; a good submission
//! next to it is probed, which shows the check would see a probe.

mod support;

use sentinel_cli::testbed::{free_port, FakeApi};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const TOKEN: &str = "e2e-guard-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_endpoints_are_refused_at_submission_and_never_probed() {
    let apis = vec![FakeApi::spawn("a").await.unwrap()];
    let newcomer = FakeApi::spawn("newcomer").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sentinel.toml");
    // allow_private_targets = true (the fake APIs are on 127.0.0.1): the
    // harder case, metadata and link-local stay refused.
    std::fs::write(&cfg, api_config_text(&apis, 1, "")).unwrap();
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .args(["--stop-after", "60"])
        .env("SENTINEL_TOKEN", TOKEN)
        .env("SENTINEL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sentinel");
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&c, &format!("{base}/healthz")).await.map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "sentinel did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let submit = |id: &str, endpoint: &str| {
        let body = serde_json::json!({
            "service": "prices",
            "provider": { "id": id, "endpoint": endpoint }
        });
        c.post(format!("{base}/v1/providers"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    for (id, endpoint) in [
        ("meta", "http://169.254.169.254/"),
        ("meta6", "http://[fe80::1]/"),
        ("gcp", "http://metadata.google.internal/computeMetadata/v1/"),
    ] {
        let r = submit(id, endpoint).await.unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(status, 422, "{endpoint}: {v}");
        assert_eq!(v["error"]["code"], "invalid-provider", "{v}");
        assert_eq!(v["error"]["details"][0]["key"], "provider.endpoint", "{v}");
        let msg = v["error"]["details"][0]["message"].as_str().unwrap();
        assert!(msg.contains("not even with allow_private_targets"), "{msg}");
    }
    let r = submit("newcomer", &newcomer.url()).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // A few probe rounds (1 s interval).
    let observed =
        |v: &serde_json::Value, id: &str| v.to_string().contains(&format!("\"provider\":\"{id}\""));
    let deadline = Instant::now() + Duration::from_secs(20);
    let obs = loop {
        let r = c
            .get(format!("{base}/v1/observations"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        if observed(&v, "newcomer") {
            break v;
        }
        assert!(Instant::now() < deadline, "the good submission is probed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for id in ["meta", "meta6", "gcp"] {
        assert!(!observed(&obs, id), "{id} was probed");
        let (s, _) = get(&c, &format!("{base}/v1/providers/{id}")).await.unwrap();
        assert_eq!(s, 404, "{id} was stored");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
