#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! The Cloudflare Worker end to end, on the real runtime: `wrangler dev`
//! (workerd from the npm registry) with local KV and Durable Objects
//! persisted to a temporary folder, started and stopped here; ticks
//! triggered through `/__scheduled`; real providers on 127.0.0.1 failing
//! on cue. The Worker must be built first (`bash workers/build.sh`;
//! `.ci/test` does it).

mod chain;
mod clouds;
mod support;

use clouds::{Waits, Worker};
use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{free_port, FakeApi, Mode};
use sentinel_core::host::kv::{Kv, KvStore, BUNDLE_KEY};
use sentinel_core::state::State;
use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

/// The bounds this test waits with: 90 s for wrangler to answer
/// (`/healthz` polled every 200 ms), 30 s for a scheduled run.
const WAITS: Waits = Waits {
    ready: Duration::from_secs(90),
    poll: Duration::from_millis(200),
    tick: Duration::from_secs(30),
};

/// Starts `wrangler dev` (script `sentinel-e2e`) in `dir` (persisting to
/// `dir/state`) on a free port and waits until `/healthz` answers.
async fn start(dir: &Path, config: &str, secrets: &[(&str, &str)]) -> Worker {
    let port = free_port().unwrap();
    Worker::start_waiting(dir, "sentinel-e2e", port, config, secrets, WAITS).await
}

/// A KV holding one value: the bytes wrangler read, decoded by the same
/// code the Worker writes with.
struct Snapshot(Vec<u8>);

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Kv for Snapshot {
    type Error = Never;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Never> {
        Ok((key == BUNDLE_KEY).then(|| self.0.clone()))
    }
    async fn put(&self, _key: &str, _value: Vec<u8>) -> Result<(), Never> {
        Ok(())
    }
}

/// The state and the audit's switch count from the bundle in KV.
async fn decode(bundle: Vec<u8>) -> (State, Vec<String>) {
    use sentinel_core::tick::Store;
    let store = KvStore::new(Snapshot(bundle));
    let stored = store.load().await.unwrap().expect("a bundle");
    let state = State::from_bytes(&stored.bytes).unwrap();
    let audit: Vec<String> = store
        .audit()
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    (state, audit)
}

fn switches_in(audit: &[String]) -> usize {
    audit
        .iter()
        .filter(|e| e.contains("\"switch\"") || e.contains("\"Switch\""))
        .count()
}

async fn switch_count(base: &str) -> u64 {
    get_json(&client(), &format!("{base}/v1/switches"))
        .await
        .expect("switches")["count"]
        .as_u64()
        .unwrap()
}

/// The Worker anchors as the local binary does: it signs in wasm (the
/// core's k256) and sends over its own `Fetch` to anvil on 127.0.0.1 — the
/// record lands once, `isVerified` holds, the gas is booked in its
/// footprint, and later wake-ups in the same epoch send nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_signs_in_wasm_and_anchors_over_fetch() {
    if !clouds::worker_available() {
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
    let secrets = [
        ("SENTINEL_TOKEN", "admin-e2e"),
        ("SENTINEL_CHAIN_KEY", chain::KEYS[1]),
    ];
    let w = start(dir.path(), &config, &secrets).await;
    let c = client();
    let mut anchored = None;
    for _ in 0..15 {
        w.tick().await;
        if let Some(v) = get_json(&c, &format!("{}/v1/attestations/a", w.base)).await {
            anchored = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let anchored = anchored.unwrap_or_else(|| panic!("nothing anchored:\n{}", w.tail()));
    let epoch =
        chain::assert_anchored(&c, &w.base, &anchored, &node.url(), &contract, &signer).await;
    let from = chain::hex(&signer.address());
    for _ in 0..3 {
        w.tick().await;
    }
    chain::assert_one_transaction(&node, &from, epoch).await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_ticks_switches_books_and_keeps_its_state_in_kv() {
    if !clouds::worker_available() {
        return;
    }
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let config = api_config_text(&[a.clone(), b.clone()], 2, "");
    let dir = tempfile::tempdir().unwrap();
    // A webhook receiver on 127.0.0.1 (the config allows private targets).
    let hook = receiver(Duration::ZERO, std::sync::Arc::new(|| 200)).await;
    let hook_url = format!("http://{}/hook", hook.addr);
    let secrets = [
        ("SENTINEL_TOKEN", "admin-e2e"),
        ("SENTINEL_WEBHOOK", hook_url.as_str()),
    ];
    let w = start(dir.path(), &config, &secrets).await;
    let c = client();

    // Both providers are probed by the first tick.
    w.tick().await;
    let providers = get_json(&c, &format!("{}/v1/providers", w.base))
        .await
        .unwrap();
    let statuses: Vec<(String, String)> = providers["providers"]
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
        statuses,
        [("a".into(), "up".into()), ("b".into(), "up".into())],
        "{providers}"
    );

    // Proxied requests are served and booked through the journal.
    for _ in 0..20 {
        let (s, body) = get(&c, &format!("{}/proxy/prices/health", w.base))
            .await
            .unwrap();
        assert_eq!(s, 200, "{body}");
    }
    // The journal is written after each answer (waitUntil); the next tick
    // books it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.tick().await;
    let budget = get_json(&c, &format!("{}/v1/budget", w.base))
        .await
        .unwrap();
    let used = |id: &str| {
        budget["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["usage_month"]["requests"].as_u64().unwrap_or(0))
            .unwrap_or(0)
    };
    // 20 proxied requests plus the probes.
    assert!(used("a") >= 20, "proxied usage booked on a: {budget}");
    assert!(used("b") < 20, "and not on b: {budget}");
    let own = |metric: &str| {
        budget["sentinel"]["quotas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["metric"] == metric && q["period"] == "day")
            .map(|q| (q["used"].as_u64().unwrap(), q["limit"].as_u64().unwrap()))
    };
    // The fetch invocations so far (the 20 proxied and the API reads).
    let (invocations, limit) = own("invocations").expect("an invocations quota");
    assert!(
        invocations >= 20,
        "the Worker books its own invocations: {budget}"
    );
    assert_eq!(limit, 100_000, "against the plan's requests a day");
    let (writes, _) = own("writes").expect("a writes quota");
    assert!(writes >= 2, "and its own KV writes: {budget}");
    let (reads, limit) = own("reads").expect("a reads quota");
    assert!(reads >= 40, "and its KV reads (2 per request): {budget}");
    assert_eq!(limit, 100_000);

    // a goes down: two overlapping ticks at a time until the route moves.
    a.set(Mode::Outage).await.unwrap();
    let started = Instant::now();
    let mut moved = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        tokio::join!(w.tick(), w.tick());
        if active(&c, &w.base, "prices").await.as_deref() == Some("b") {
            moved = Some(started.elapsed());
            break;
        }
    }
    let moved = moved.unwrap_or_else(|| panic!("no switch in 40 s:\n{}", w.tail()));
    eprintln!(
        "worker: switched a → b {:.1} s after the outage",
        moved.as_secs_f64()
    );
    for _ in 0..3 {
        tokio::join!(w.tick(), w.tick());
    }
    assert_eq!(
        switch_count(&w.base).await,
        1,
        "one switch, not one per tick"
    );
    // The alert went out after the tick that switched, once, though
    // several invocations ran since.
    let got = hook.got.lock().unwrap().clone();
    let switched: Vec<_> = got
        .iter()
        .filter(|(_, text)| text.starts_with("SWITCHED"))
        .collect();
    assert_eq!(switched.len(), 1, "the switch alert, once: {got:#?}");
    let mut keys: Vec<_> = got.iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), got.len(), "no notice twice: {got:#?}");

    // What KV holds: the state routes b, and the audit has the switch once.
    let bundle = w.kv_get(BUNDLE_KEY).await.expect("the bundle is in KV");
    let (state, audit) = decode(bundle).await;
    let svc = state.services.get("prices").expect("the service");
    assert_eq!(svc.active.as_ref().map(|p| p.as_str()), Some("b"));
    assert_eq!(switches_in(&audit), 1, "{audit:#?}");
    let mut unique = audit.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), audit.len(), "no audit entry twice");

    // A submission needs the token and lands in KV at once.
    let newcomer = FakeApi::spawn("newcomer").await.unwrap();
    let body = serde_json::json!({
        "service": "prices",
        "provider": { "id": "newcomer", "endpoint": newcomer.url() },
    });
    let post = |token: Option<&'static str>| {
        let mut r = reqwest::Client::new()
            .post(format!("{}/v1/providers", w.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(
        post(Some("admin-e2e")).await.unwrap().status().as_u16(),
        201
    );
    let submitted = get_json(&c, &format!("{}/v1/providers/newcomer", w.base)).await;
    assert!(
        submitted.is_some(),
        "the submitted provider is served from KV"
    );

    // A restart keeps everything.
    let revision = get_json(&c, &format!("{}/healthz", w.base)).await.unwrap()["revision"]
        .as_u64()
        .unwrap();
    w.stop().await;
    let w = start(dir.path(), &config, &secrets).await;
    assert_eq!(active(&c, &w.base, "prices").await.as_deref(), Some("b"));
    assert_eq!(switch_count(&w.base).await, 1);
    let after = get_json(&c, &format!("{}/healthz", w.base)).await.unwrap()["revision"]
        .as_u64()
        .unwrap();
    assert_eq!(after, revision, "the state survived the restart");
    assert!(
        get_json(&c, &format!("{}/v1/providers/newcomer", w.base))
            .await
            .is_some(),
        "and the submission with it"
    );
    w.stop().await;
}

fn local_opts(
    dir: &Path,
    ready: tokio::sync::oneshot::Sender<std::net::SocketAddr>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> RunOptions {
    RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        key: None,
        token: None,
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(120)),
        ready: Some(ready),
        stop: Some(stop),
        observer: None,
        hedge: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_answers_as_the_local_sentinel_does() {
    if !clouds::worker_available() {
        return;
    }
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let x = FakeApi::spawn("x").await.unwrap();
    let apis = [a.clone(), b.clone(), x.clone()];
    let text = api_config_text(&apis, 2, "");
    let config = api_config(&apis, 2, "");
    let wdir = tempfile::tempdir().unwrap();
    let ldir = tempfile::tempdir().unwrap();
    let w = start(wdir.path(), &text, &[]).await;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let base_w = w.base.clone();
    let scenario = async move {
        let addr = ready_rx.await.unwrap();
        let base_l = format!("http://{addr}");
        let c = client();
        // Warm up: both sentinels see three healthy providers.
        for _ in 0..3 {
            w.tick().await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        // The active provider serves wrong data, a standby goes down.
        a.set(Mode::Wrong).await.unwrap();
        x.set(Mode::Outage).await.unwrap();
        let mut both = false;
        for _ in 0..45 {
            w.tick().await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let lw = active(&c, &base_w, "prices").await;
            let ll = active(&c, &base_l, "prices").await;
            if lw.as_deref() == Some("b") && ll.as_deref() == Some("b") {
                both = true;
                break;
            }
        }
        // A few more rounds so both have judged the latest evidence.
        for _ in 0..4 {
            w.tick().await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        let (pw, pl) = (
            parity_projection(&base_w).await,
            parity_projection(&base_l).await,
        );
        let _ = stop_tx.send(());
        w.stop().await;
        (both, pw, pl)
    };
    let (run, (both, pw, pl)) = tokio::join!(
        runner::run(config, local_opts(ldir.path(), ready_tx, stop_rx)),
        scenario
    );
    run.unwrap();
    assert!(both, "both switched to b: worker {pw:#}\nlocal {pl:#}");
    assert_eq!(pw, pl, "the Worker and the local sentinel say the same");
}
