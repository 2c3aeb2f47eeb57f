#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! An outage of the active provider, end to end: real providers on
//! 127.0.0.1, the real sentinel (store, prober, server, proxy), a client
//! hammering the proxy throughout.

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{FakeApi, Mode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_switches_within_two_probe_intervals_and_no_proxied_request_fails() {
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
        FakeApi::spawn("c").await.unwrap(),
    ];
    let interval = 6;
    let cfg = api_config(&apis, interval, "");
    let dir = tempfile::tempdir().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        key: None,
        token: Some("t".into()),
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(40)),
        ready: Some(ready_tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let failures = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let f2 = failures.clone();
    let ok2 = ok.clone();
    let a = apis[0].clone();
    let workload = async move {
        let addr = ready_rx.await.unwrap();
        let base = format!("http://{addr}");
        let c = client();
        // Warm up: let the sentinel score everyone once.
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(active(&c, &base, "prices").await.as_deref(), Some("a"));
        let onset = Instant::now();
        let mut switched_after = None;
        let mut outage = false;
        // 20 s of traffic at ~100 requests/s, bounded.
        for i in 0..2000u32 {
            if i == 100 {
                a.set(Mode::Outage).await.unwrap();
                outage = true;
            }
            match get(&c, &format!("{base}/proxy/prices/v1/price")).await {
                Some((200, _)) => ok2.fetch_add(1, Ordering::Relaxed),
                other => {
                    eprintln!("failed request {i}: {other:?}");
                    f2.fetch_add(1, Ordering::Relaxed)
                }
            };
            if outage
                && switched_after.is_none()
                && i % 20 == 0
                && active(&c, &base, "prices").await.is_some_and(|p| p != "a")
            {
                switched_after = Some(onset.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(());
        switched_after
    };
    let (run, switched_after) = tokio::join!(runner::run(cfg, opts), workload);
    run.unwrap();
    let failed = failures.load(Ordering::Relaxed);
    assert_eq!(
        failed,
        0,
        "{failed} proxied requests failed ({} ok)",
        ok.load(Ordering::Relaxed)
    );
    let took = switched_after.expect("the sentinel switched away from the dead provider");
    // The outage began ~1 s after `onset` (request 100 at ~10 ms each).
    assert!(
        took <= Duration::from_secs(2 * interval + 1),
        "switch took {took:?}"
    );
}
