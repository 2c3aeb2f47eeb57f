#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Webhook alerts end to end: real providers and real webhook receivers
//! on 127.0.0.1, the real sentinel.

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{FakeApi, Mode};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

fn opts(dir: &std::path::Path, webhooks: Vec<String>) -> RunOptions {
    RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        key: None,
        token: Some("t".into()),
        webhooks,
        stop_after: Some(Duration::from_secs(60)),
        ready: None,
        stop: None,
        observer: None,
        hedge: false,
    }
}

#[tokio::test]
async fn webhook_urls_are_validated_at_startup() {
    let apis = vec![FakeApi::spawn("a").await.unwrap()];
    let text = api_config_text(&apis, 5, "").replace(
        "allow_private_targets = true",
        "allow_private_targets = false",
    );
    let cfg = sentinel_core::config::Config::from_toml(&text).unwrap();
    for bad in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/hook",
        "file:///etc/passwd",
        "notaurl",
        "",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = runner::run(cfg.clone(), opts(dir.path(), vec![bad.to_string()]))
            .await
            .expect_err(bad);
        let msg = err.to_string();
        assert!(msg.contains("webhook #1"), "{bad}: {msg}");
    }
}

/// A receiver that takes 5 s to answer does not delay the switch and gets
/// every notice once; a receiver that answers 500 for a while gets every
/// notice once it recovers, with the same idempotency keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_failing_receivers_get_every_alert_once_without_delaying_the_tick() {
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
    ];
    let slow = receiver(Duration::from_secs(5), Arc::new(|| 200)).await;
    let started = Instant::now();
    let failing_until = started + Duration::from_secs(14);
    let flaky = receiver(
        Duration::ZERO,
        Arc::new(move || {
            if Instant::now() < failing_until {
                500
            } else {
                200
            }
        }),
    )
    .await;
    let interval = 3;
    let cfg = api_config(&apis, interval, "");
    let dir = tempfile::tempdir().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let mut o = opts(
        dir.path(),
        vec![
            format!("http://{}/hook/T0K3N", slow.addr),
            format!("http://{}/api/webhooks/1/x", flaky.addr),
        ],
    );
    o.ready = Some(ready_tx);
    o.stop = Some(stop_rx);
    let a = apis[0].clone();
    let (s2, f2) = (slow.clone(), flaky.clone());
    let workload = async move {
        let addr = ready_rx.await.unwrap();
        let base = format!("http://{addr}");
        let c = client();
        tokio::time::sleep(Duration::from_secs(4)).await;
        a.set(Mode::Outage).await.unwrap();
        let onset = Instant::now();
        let mut switched = None;
        for _ in 0..200 {
            if active(&c, &base, "prices").await.is_some_and(|p| p != "a") {
                switched = Some(onset.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Wait until both receivers have what the slow one has, bounded.
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let (s, f) = (s2.got.lock().unwrap().len(), f2.got.lock().unwrap().len());
            if (s >= 2 && f >= s) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = stop_tx.send(());
        switched
    };
    let (run, switched) = tokio::join!(runner::run(cfg, o), workload);
    run.unwrap();
    let took = switched.expect("switched away from the dead provider");
    assert!(
        took <= Duration::from_secs(2 * interval + 2),
        "the slow webhook delayed the switch: {took:?}"
    );
    let slow_got = slow.got.lock().unwrap().clone();
    let flaky_got = flaky.got.lock().unwrap().clone();
    let count = |v: &[(String, String)]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for (k, _) in v {
            *m.entry(k.clone()).or_default() += 1;
        }
        m
    };
    let (sc, fc) = (count(&slow_got), count(&flaky_got));
    assert!(
        slow_got.iter().any(|(_, t)| t.starts_with("FIRING")),
        "{slow_got:?}"
    );
    assert!(
        slow_got.iter().any(|(_, t)| t.starts_with("SWITCHED")),
        "a switch is an event of its own: {slow_got:?}"
    );
    assert!(sc.values().all(|n| *n == 1), "paged twice: {sc:?}");
    assert!(fc.values().all(|n| *n == 1), "paged twice: {fc:?}");
    for k in sc.keys() {
        assert!(!k.is_empty());
        assert!(
            fc.contains_key(k),
            "{k} lost for the failing receiver: {fc:?}"
        );
    }
}
