#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Proxied traffic counts toward each provider's usage in the books, and a
//! submitted provider enters testing, through the real server.

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::FakeApi;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_requests_are_booked_and_submissions_need_the_token() {
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
    ];
    let newcomer = FakeApi::spawn("newcomer").await.unwrap();
    let cfg = api_config(&apis, 1, "");
    let dir = tempfile::tempdir().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        key: None,
        token: Some("sekret".into()),
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(60)),
        ready: Some(ready_tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let newcomer_url = newcomer.url();
    let workload = async move {
        let addr = ready_rx.await.unwrap();
        let base = format!("http://{addr}");
        let c = client();
        tokio::time::sleep(Duration::from_secs(2)).await;
        for _ in 0..100 {
            let (s, _) = get(&c, &format!("{base}/proxy/prices/v1/price"))
                .await
                .unwrap();
            assert_eq!(s, 200);
        }
        // Usage is booked at the next tick.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let budget = get_json(&c, &format!("{base}/v1/budget")).await.unwrap();
        let usage = |id: &str| {
            budget["providers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == id)
                .unwrap()["usage_month"]["requests"]
                .as_u64()
                .unwrap()
        };
        let (a, b) = (usage("a"), usage("b"));
        // Submissions: no token → 401, wrong token → 403, right token → 201.
        let body = serde_json::json!({ "service": "prices", "provider": { "id": "newcomer", "endpoint": newcomer_url } });
        let post = |token: Option<&str>| {
            let mut r = c
                .post(format!("{base}/v1/providers"))
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let statuses = (
            post(None).await.unwrap().status().as_u16(),
            post(Some("nope")).await.unwrap().status().as_u16(),
            post(Some("sekret")).await.unwrap().status().as_u16(),
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let p = get_json(&c, &format!("{base}/v1/providers/newcomer"))
            .await
            .unwrap();
        let _ = stop_tx.send(());
        (a, b, statuses, p)
    };
    let (run, (a, b, statuses, p)) = tokio::join!(runner::run(cfg, opts), workload);
    run.unwrap();
    assert!(
        a >= 100,
        "the active provider's books show the proxied requests: {a}"
    );
    assert!(
        a >= b + 90,
        "only the provider that served them is charged: a={a} b={b}"
    );
    assert_eq!(statuses, (401, 403, 201));
    let lifecycle = p
        .pointer("/lifecycle")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        lifecycle == "testing" || lifecycle == "discovered",
        "a submission enters testing, not {lifecycle}"
    );
}
