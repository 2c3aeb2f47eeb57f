#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Discovery end to end: a test catalog of providers on 127.0.0.1 — some
//! good, some failing their checks, one refusing connections, one on
//! another chain — tried by the `sentinel` binary (`sentinel discover`)
//! and by the tick on its own (`[discovery] enabled`). The good ones are
//! onboarded into testing, the others are not, each with its reason; a
//! person's veto removes one and keeps it out.

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{find_anvil, Anvil, FakeApi, Mode};
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

const TOKEN: &str = "e2e-discovery-token";

fn entry(id: &str, kind: &str, endpoint: &str, extra: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "{id}", "kind": "{kind}", "endpoint": "{endpoint}", {extra}
           "free_tier": {{"summary": "test", "source": {{"url": "https://example.com/pricing", "read": "2026-11-01"}}}},
           "prior": 7000}}"#
    )
}

fn catalog(entries: &[String]) -> String {
    format!(
        r#"{{"version": 1, "updated": "2026-11-29", "providers": [{}]}}"#,
        entries.join(",\n")
    )
}

async fn json(c: &reqwest::Client, url: &str) -> serde_json::Value {
    get_json(c, url).await.unwrap_or(serde_json::Value::Null)
}

fn discover(base: &str, args: &[&str], token: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentinel"));
    cmd.arg("discover").args(args).args(["--url", base]);
    match token {
        Some(t) => cmd.env("SENTINEL_TOKEN", t),
        None => cmd.env_remove("SENTINEL_TOKEN"),
    };
    let out = cmd.output().expect("run sentinel discover");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().any(|w| w == id))
        .unwrap_or_else(|| panic!("no line for {id} in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_onboards_the_good_rejects_the_bad_and_respects_a_veto() {
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
    ];
    let good1 = FakeApi::spawn("good-1").await.unwrap();
    let good2 = FakeApi::spawn("good-2").await.unwrap();
    let wrong = FakeApi::spawn("wrong").await.unwrap();
    wrong.set(Mode::Wrong).await.unwrap();
    let stale = FakeApi::spawn("stale").await.unwrap();
    stale.set(Mode::Stale).await.unwrap();
    // Its data stops moving now; the service's freshness allows 10 s.
    let stale_since = Instant::now();
    let down = FakeApi::spawn("down").await.unwrap();
    down.set(Mode::Outage).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.json"),
        catalog(&[
            entry("good-1", "api", &good1.url(), ""),
            entry("good-2", "api", &good2.url(), ""),
            entry("wrong", "api", &wrong.url(), ""),
            entry("stale", "api", &stale.url(), ""),
            entry("down", "api", &down.url(), ""),
            entry("templated", "api", "http://{project}.example", ""),
            entry("a-bucket", "storage", "http://127.0.0.1:9/", ""),
            // Already configured, under its own id: not tried again.
            entry("same-endpoint", "api", &apis[1].url(), ""),
        ]),
    )
    .unwrap();
    let cfg = dir.path().join("sentinel.toml");
    let extra = "\n[discovery]\ncatalog = \"catalog.json\"\nmax_trials = 10\nmax_testing = 5\n";
    std::fs::write(&cfg, api_config_text(&apis, 1, "") + extra).unwrap();
    let (_sentinel, base) = start_sentinel(
        &cfg,
        &dir.path().join("data"),
        90,
        &[("SENTINEL_TOKEN", TOKEN)],
    )
    .await;
    let c = client();
    // Let the current providers answer first: consistency needs them.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Without the token: refused, nothing tried.
    let (ok, _, err) = discover(&base, &["--service", "prices"], None);
    assert!(!ok && err.contains("401"), "{err}");
    assert_eq!(good1.served.load(std::sync::atomic::Ordering::Relaxed), 0);
    // An unknown service: refused by name.
    let (ok, _, err) = discover(&base, &["--service", "nope"], Some(TOKEN));
    assert!(!ok && err.contains("nope"), "{err}");

    let fresh_until = stale_since + Duration::from_secs(11);
    tokio::time::sleep(fresh_until.saturating_duration_since(Instant::now())).await;
    let (ok, out, err) = discover(&base, &["--service", "prices"], Some(TOKEN));
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("2 onboarded into testing, 3 rejected"),
        "{out}"
    );
    for id in ["good-1", "good-2"] {
        let l = line(&out, id);
        assert!(l.contains("onboarded") && l.contains("confidence"), "{l}");
    }
    assert!(line(&out, "wrong").contains("business"), "{out}");
    assert!(line(&out, "stale").contains("freshness"), "{out}");
    assert!(line(&out, "down").contains("rejected"), "{out}");
    assert!(line(&out, "templated").contains("needs `project`"), "{out}");
    assert!(
        !out.contains("a-bucket"),
        "another kind is not a candidate:\n{out}"
    );
    assert!(
        line(&out, "same-endpoint").contains("already provider b"),
        "{out}"
    );

    // Onboarded into the registry, in testing; the rejected are not there.
    for id in ["good-1", "good-2"] {
        let p = json(&c, &format!("{base}/v1/providers/{id}")).await;
        let lc = p["lifecycle"].as_str().unwrap_or_default().to_string();
        assert!(lc == "discovered" || lc == "testing", "{id}: {p}");
    }
    for id in ["wrong", "stale", "down"] {
        let r = get(&c, &format!("{base}/v1/providers/{id}")).await.unwrap();
        assert_eq!(r.0, 404, "{id}");
    }
    let d = json(&c, &format!("{base}/v1/discovery")).await;
    let onboarded: Vec<&str> = d["onboarded"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(onboarded, ["good-1", "good-2"], "{d}");
    assert_eq!(d["trials"].as_array().unwrap().len(), 5, "{d}");
    // In the audit log too (the switches list carries switches only; the
    // providers' own pages carry their lifecycle).

    // A person vetoes good-2: gone, and never tried again.
    let (ok, out, err) = discover(&base, &["--veto", "good-2"], Some(TOKEN));
    assert!(ok && out.contains("vetoed"), "{out}\n{err}");
    let r = get(&c, &format!("{base}/v1/providers/good-2"))
        .await
        .unwrap();
    assert_eq!(r.0, 404);
    // Vetoing a configured provider is refused.
    let (ok, _, err) = discover(&base, &["--veto", "a"], Some(TOKEN));
    assert!(!ok && err.contains("409"), "{err}");

    let served = |a: &FakeApi| a.served.load(std::sync::atomic::Ordering::Relaxed);
    let (wrong_before, good2_before) = (served(&wrong), served(&good2));
    let (ok, out, err) = discover(&base, &["--service", "prices"], Some(TOKEN));
    assert!(ok, "{out}\n{err}");
    assert!(line(&out, "good-2").contains("vetoed by a person"), "{out}");
    assert!(line(&out, "wrong").contains("tried again in"), "{out}");
    assert_eq!(
        served(&wrong),
        wrong_before,
        "a rejected candidate is not probed again at once"
    );
    assert_eq!(
        served(&good2),
        good2_before,
        "a vetoed one is never probed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tick_discovers_by_itself_and_turns_away_another_chain() {
    let Some(anvil) = find_anvil() else {
        return missing("anvil (npm @foundry-rs/anvil)");
    };
    let mut nodes = Vec::new();
    for _ in 0..2 {
        nodes.push(Anvil::spawn(&anvil, 31337, 1).await.unwrap());
    }
    let same_chain = Anvil::spawn(&anvil, 31337, 1).await.unwrap();
    let other_chain = Anvil::spawn(&anvil, 1337, 1).await.unwrap();
    let urls: Vec<String> = nodes.iter().map(Anvil::url).collect();
    let dir = tempfile::tempdir().unwrap();
    let catalog_path = dir.path().join("catalog.json");
    std::fs::write(
        &catalog_path,
        catalog(&[
            entry(
                "same-chain",
                "evm-rpc",
                &same_chain.url(),
                r#""chain_id": 31337,"#,
            ),
            entry(
                "other-chain",
                "evm-rpc",
                &other_chain.url(),
                r#""chain_id": 1337,"#,
            ),
        ]),
    )
    .unwrap();
    // The service names no chain: the chain its providers agree on
    // decides, so the candidate on chain 1337 is tried and disagrees.
    let mut cfg = evm_config(&urls, 2, None);
    cfg.discovery.enabled = true;
    cfg.discovery.catalog = Some(catalog_path.to_string_lossy().into_owned());
    cfg.services[0].discovery = Some(Default::default());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        key: None,
        token: Some(TOKEN.into()),
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(90)),
        ready: Some(ready_tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let check = async move {
        let addr = ready_rx.await.unwrap();
        let base = format!("http://{addr}");
        let c = client();
        let deadline = Instant::now() + Duration::from_secs(40);
        let d = loop {
            let d = json(&c, &format!("{base}/v1/discovery")).await;
            if d["trials"].as_array().is_some_and(|t| t.len() >= 2) {
                break d;
            }
            assert!(Instant::now() < deadline, "no discovery in the tick: {d}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let outcome = |id: &str| {
            d["trials"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["candidate"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("no trial of {id}: {d}"))
        };
        assert_eq!(outcome("same-chain")["outcome"], "onboarded", "{d}");
        let other = outcome("other-chain");
        assert_eq!(other["outcome"], "rejected", "{d}");
        assert!(
            other["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("consistency"),
            "{other}"
        );
        assert!(d["services"][0]["last_run"].is_string(), "{d}");
        let p = json(&c, &format!("{base}/v1/providers/same-chain")).await;
        assert!(p["lifecycle"].is_string(), "{p}");
        let _ = stop_tx.send(());
    };
    let (run, ()) = tokio::join!(runner::run(cfg, opts), check);
    run.unwrap();
    drop(nodes);
}
