#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! The AWS Lambda end to end, on the local emulators: `cargo lambda watch`
//! (cargo-lambda from PyPI) runs the `sentinel-lambda` binary, moto's
//! DynamoDB server (PyPI) holds the table, both started here on
//! 127.0.0.1; scheduled invocations are EventBridge events posted to the
//! emulator's invoke API; real providers on 127.0.0.1 fail on cue.

mod chain;
mod clouds;
mod support;

use clouds::Lambda;
use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{free_port, FakeApi, Mode};
use sentinel_core::action::Action;
use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

/// moto, the table, and `cargo lambda watch` running the function (in
/// `dir`, on a free port) with `config` and the API token `token`; `None`
/// (and says why) without moto or cargo-lambda.
async fn start(dir: &Path, config: &str, token: &str) -> Option<Lambda> {
    if !clouds::lambda_available() {
        return None;
    }
    let port = free_port().unwrap();
    Some(Lambda::start(dir, port, config, &[("SENTINEL_TOKEN", token)]).await)
}

async fn switch_count(base: &str) -> u64 {
    get_json(&client(), &format!("{base}/v1/switches"))
        .await
        .expect("switches")["count"]
        .as_u64()
        .unwrap()
}

/// The Lambda anchors as the local binary and the Worker do: it signs
/// with `SENTINEL_CHAIN_KEY` and sends to anvil on 127.0.0.1 — the record
/// lands once, `isVerified` holds, the gas is booked in its footprint,
/// and later scheduled invocations in the same epoch send nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_anchors_its_records() {
    if !clouds::lambda_available() {
        return;
    }
    let Some((node, signer, contract)) = chain::solo_chain().await else {
        return;
    };
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let base = api_config_text(&[a.clone(), b.clone()], 2, "");
    let config = chain::anchoring_config(&base, &node.url(), &contract);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let env = [
        ("SENTINEL_TOKEN", "admin-e2e"),
        ("SENTINEL_CHAIN_KEY", chain::KEYS[1]),
    ];
    let l = Lambda::start(dir.path(), port, &config, &env).await;
    let c = client();
    let started = Instant::now();
    let mut anchored = None;
    let mut ticks = 0;
    for _ in 0..30 {
        l.tick().await;
        ticks += 1;
        if let Some(v) = get_json(&c, &format!("{}/v1/attestations/a", l.base)).await {
            anchored = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let Some(anchored) = anchored else {
        let last = get(&c, &format!("{}/v1/attestations/a", l.base)).await;
        panic!("nothing anchored in {ticks} ticks: {last:?}\n{}", l.tail());
    };
    eprintln!(
        "lambda: anchored after {ticks} ticks, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let epoch =
        chain::assert_anchored(&c, &l.base, &anchored, &node.url(), &contract, &signer).await;
    let from = chain::hex(&signer.address());
    for _ in 0..3 {
        l.tick().await;
    }
    chain::assert_one_transaction(&node, &from, epoch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_ticks_switches_books_and_keeps_its_state_in_dynamodb() {
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let config = api_config_text(&[a.clone(), b.clone()], 2, "");
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = start(dir.path(), &config, "admin-e2e").await else {
        return;
    };
    let c = client();

    let first = l.tick_on(l.port).await;
    assert!(
        first["probes"].as_u64().unwrap_or(0) >= 2,
        "{first}\n{}",
        l.tail()
    );
    let providers = get_json(&c, &format!("{}/v1/providers", l.base))
        .await
        .unwrap();
    let up: Vec<_> = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        up,
        [("a".into(), "up".into()), ("b".into(), "up".into())],
        "{providers}"
    );

    // Proxied requests from concurrent invocations, booked in full.
    let sends = (0..20).map(|_| {
        let c = c.clone();
        let url = format!("{}/proxy/prices/health", l.base);
        async move { get(&c, &url).await.map(|(s, _)| s) }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    l.tick_on(l.port).await;
    let budget = get_json(&c, &format!("{}/v1/budget", l.base))
        .await
        .unwrap();
    let used = budget["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "a")
        .map(|p| p["usage_month"]["requests"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(used >= 20, "every proxied request is booked on a: {budget}");
    let invocations = budget["sentinel"]["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["metric"] == "invocations")
        .map(|q| q["used"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(
        invocations >= 22,
        "the Lambda books its own invocations: {budget}"
    );

    // a goes down: two instances tick at once, until the route moves.
    let (_second, port2) = l.second().await;
    a.set(Mode::Outage).await.unwrap();
    let started = Instant::now();
    let mut conflicts = 0;
    let mut moved = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (x, y) = tokio::join!(l.tick_on(l.port), l.tick_on(port2));
        conflicts += x["conflicts"].as_u64().unwrap_or(0) + y["conflicts"].as_u64().unwrap_or(0);
        if active(&c, &l.base, "prices").await.as_deref() == Some("b") {
            moved = Some(started.elapsed());
            break;
        }
    }
    let moved = moved.unwrap_or_else(|| panic!("no switch in 40 s:\n{}", l.tail()));
    eprintln!(
        "lambda: switched a → b {:.1} s after the outage; conditional-write conflicts {conflicts}",
        moved.as_secs_f64()
    );
    for _ in 0..3 {
        let (x, y) = tokio::join!(l.tick_on(l.port), l.tick_on(port2));
        conflicts += x["conflicts"].as_u64().unwrap_or(0) + y["conflicts"].as_u64().unwrap_or(0);
    }
    assert!(
        conflicts >= 1,
        "two instances at once met a conditional-write conflict"
    );
    assert_eq!(
        switch_count(&l.base).await,
        1,
        "one switch, not one per tick"
    );
    let audit = l.store("e2e").audit(10_000).await.unwrap();
    for (i, x) in audit.iter().enumerate() {
        assert!(!audit[..i].contains(x), "audit entry written twice: {x:?}");
    }
    assert_eq!(
        audit
            .iter()
            .filter(|e| matches!(e.action, Action::Switch { .. }))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_answers_as_the_local_sentinel_does() {
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let x = FakeApi::spawn("x").await.unwrap();
    let apis = [a.clone(), b.clone(), x.clone()];
    let text = api_config_text(&apis, 2, "");
    let config = api_config(&apis, 2, "");
    let ldir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = start(dir.path(), &text, "admin-e2e").await else {
        return;
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: ldir.path().to_path_buf(),
        key: None,
        token: None,
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(120)),
        ready: Some(ready_tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let base_l = l.base.clone();
    let scenario = async move {
        let addr = ready_rx.await.unwrap();
        let local = format!("http://{addr}");
        let c = client();
        for _ in 0..3 {
            l.tick_on(l.port).await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        a.set(Mode::Wrong).await.unwrap();
        x.set(Mode::Outage).await.unwrap();
        let mut both = false;
        for _ in 0..45 {
            l.tick_on(l.port).await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
            if active(&c, &base_l, "prices").await.as_deref() == Some("b")
                && active(&c, &local, "prices").await.as_deref() == Some("b")
            {
                both = true;
                break;
            }
        }
        for _ in 0..4 {
            l.tick_on(l.port).await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        let (pl, pn) = (
            parity_projection(&base_l).await,
            parity_projection(&local).await,
        );
        let _ = stop_tx.send(());
        (both, pl, pn, l)
    };
    let (run, (both, pl, pn, _l)) = tokio::join!(runner::run(config, opts), scenario);
    run.unwrap();
    assert!(both, "both switched to b: lambda {pl:#}\nlocal {pn:#}");
    assert_eq!(pl, pn, "the Lambda and the local sentinel say the same");
}
