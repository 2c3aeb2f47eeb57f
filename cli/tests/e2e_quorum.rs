#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Cross-sentinel quorum, end to end: two `sentinel run` processes (the
//! built binary, ids `a` and `b`, each listing the other as a `[[peer]]`)
//! over the same three local providers.
//!
//! - A provider failing from one vantage only is held, not switched away
//!   from, and the sentinel that sees it fail says so (`vantage:<provider>`).
//! - A provider failing for both is switched away from promptly (the time
//!   is printed next to that of a single sentinel without peers).
//! - With its peer killed, a sentinel acts alone and says so
//!   (`peer-down:<peer>`, verdict `alone`, audited); the restarted peer
//!   adopts the route decided meanwhile (`reconciled`).
//! - `/v1/observations` refuses forged, replayed, stale, unsigned and
//!   unknown-peer requests.
//!
//! Every wait is bounded; every process is killed when its guard drops.

mod support;

use sentinel_cli::testbed::{free_port, FakeApi, Mode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// The secret both sentinels of the pair share (`SENTINEL_PEER_SECRET`).
const SECRET: &str = "e2e-quorum-peer-secret-0123456789abcdef";
/// The API token (`SENTINEL_TOKEN`).
const TOKEN: &str = "e2e-quorum-token";
/// The providers' probe interval, in seconds.
const INTERVAL_S: u64 = 1;
/// `[policy.switching] down_after`, in seconds.
const DOWN_AFTER_S: u64 = 3;
/// The one service.
const SERVICE: &str = "prices";

/// The config of sentinel `id` over `apis` (the first active), listing
/// `peers` (id, port on 127.0.0.1).
fn config_text(id: &str, apis: &[FakeApi], peers: &[(&str, u16)]) -> String {
    let base = api_config_text(apis, INTERVAL_S, "");
    let mut t = base.clone();
    for (from, to) in [
        ("id = \"e2e\"".to_string(), format!("id = \"{id}\"")),
        (
            "down_after = \"5s\"".to_string(),
            format!("down_after = \"{DOWN_AFTER_S}s\""),
        ),
        (
            "min_dwell = \"5s\"".to_string(),
            "min_dwell = \"2s\"".to_string(),
        ),
        (
            "canary_timeout = \"3s\"".to_string(),
            "canary_timeout = \"2s\"".to_string(),
        ),
    ] {
        assert!(
            t.contains(&from),
            "support::api_config_text changed: no {from} in\n{base}"
        );
        t = t.replacen(&from, &to, 1);
    }
    for (peer, port) in peers {
        t.push_str(&format!(
            "\n[[peer]]\nid = \"{peer}\"\nurl = \"http://127.0.0.1:{port}\"\n"
        ));
    }
    if !peers.is_empty() {
        t.push_str("\n[quorum]\npeer_down_after = 2\n");
    }
    t
}

/// A `sentinel run` process of the built binary, killed when dropped.
struct Sentinel {
    id: String,
    port: u16,
    base: String,
    config: PathBuf,
    data: PathBuf,
    child: Option<Child>,
}

impl Sentinel {
    /// Writes its config into `dir` and starts it on `port`.
    fn start_new(dir: &Path, id: &str, port: u16, config_text: &str) -> Sentinel {
        let config = dir.join(format!("{id}.toml"));
        std::fs::write(&config, config_text).unwrap();
        let mut s = Sentinel {
            id: id.to_string(),
            port,
            base: format!("http://127.0.0.1:{port}"),
            config,
            data: dir.join(format!("data-{id}")),
            child: None,
        };
        s.start();
        s
    }

    /// Starts (again) on its port and data directory.
    fn start(&mut self) {
        assert!(self.child.is_none(), "sentinel {} already runs", self.id);
        let child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
            .args(["run", "--config"])
            .arg(&self.config)
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--data"])
            .arg(&self.data)
            .env("SENTINEL_LOG", "warn")
            .env("SENTINEL_TOKEN", TOKEN)
            .env("SENTINEL_PEER_SECRET", SECRET)
            .env_remove("SENTINEL_PEER_SECRET_A")
            .env_remove("SENTINEL_PEER_SECRET_B")
            .env_remove("SENTINEL_WEBHOOK")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sentinel");
        self.child = Some(child);
    }

    /// `kill -9`, and waits for it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Panics if the process has exited (a config error, a crash).
    fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("sentinel {} exited: {status}", self.id);
            }
        }
    }

    /// Waits (bounded) until it answers `/healthz`.
    async fn wait_up(&mut self, c: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.assert_running();
            if get(c, &format!("{}/healthz", self.base))
                .await
                .is_some_and(|(s, _)| s == 200)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sentinel {} did not answer /healthz within 20 s",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its active provider of the service.
    async fn route(&self, c: &reqwest::Client) -> Option<String> {
        active(c, &self.base, SERVICE).await
    }

    /// `GET /v1/providers/{id}`.
    async fn provider(&self, c: &reqwest::Client, id: &str) -> Value {
        get_json(c, &format!("{}/v1/providers/{id}", self.base))
            .await
            .unwrap_or_else(|| panic!("GET /v1/providers/{id} on {}", self.id))
    }

    /// The firing alerts' keys.
    async fn alerts(&self, c: &reqwest::Client) -> Vec<String> {
        alert_keys(c, &self.base)
            .await
            .unwrap_or_else(|| panic!("GET /dashboard.json on {}", self.id))
    }

    /// `GET /v1/switches`' records.
    async fn switches(&self, c: &reqwest::Client) -> Vec<Value> {
        let v = get_json(c, &format!("{}/v1/switches", self.base))
            .await
            .unwrap_or_else(|| panic!("GET /v1/switches on {}", self.id));
        v.get("switches")
            .or(Some(&v))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| panic!("no switches array on {}: {v}", self.id))
    }

    /// `GET /v1/peers`.
    async fn peers(&self, c: &reqwest::Client) -> Option<Value> {
        get_json(c, &format!("{}/v1/peers", self.base)).await
    }

    /// The audit log of its store, each action as JSON. Only once stopped
    /// (the store is held by the running process).
    fn audit_actions(&self) -> Vec<Value> {
        assert!(self.child.is_none(), "stop sentinel {} first", self.id);
        let store = sentinel_cli::store::RedbStore::open(self.data.join("sentinel.redb"))
            .unwrap_or_else(|e| panic!("open the store of {}: {e}", self.id));
        let n = usize::try_from(store.audit_len().unwrap()).unwrap();
        store
            .audit_tail(n)
            .unwrap()
            .iter()
            .map(|e| serde_json::to_value(&e.action).unwrap())
            .collect()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 200 ms until it gives a value; panics after `secs`
/// with what `f` saw last (its `Err`).
async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = match f().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out ({secs} s) waiting for {what}; last seen:\n{seen}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a sentinel says now, for a failure message: its route, alerts,
/// peers, providers (status, lifecycle, quorum verdict) and switches.
async fn snapshot(s: &Sentinel, c: &reqwest::Client) -> String {
    let providers = get_json(c, &format!("{}/v1/providers", s.base))
        .await
        .and_then(|v| {
            v["providers"].as_array().map(|ps| {
                ps.iter()
                    .map(|p| format!("{} {} {}", p["id"], p["status"], p["lifecycle"]))
                    .collect::<Vec<_>>()
            })
        });
    let mut verdicts = Vec::new();
    for id in ["p1", "p2", "p3"] {
        if let Some(d) = get_json(c, &format!("{}/v1/providers/{id}", s.base)).await {
            verdicts.push(format!("{id}: {}", d["quorum"]));
        }
    }
    let switches = get_json(c, &format!("{}/v1/switches", s.base)).await;
    format!(
        "sentinel {}: route {:?}; alerts {:?}; peers {}; providers {providers:?}; quorum {verdicts:?}; switches {}",
        s.id,
        s.route(c).await,
        alert_keys(c, &s.base).await,
        s.peers(c).await.unwrap_or_default(),
        switches.unwrap_or_default()
    )
}

/// `Ok(())` if `cond`, else what `s` says now.
async fn ok_if(cond: bool, s: &Sentinel, c: &reqwest::Client) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(snapshot(s, c).await)
    }
}

/// Three providers `p1` (active), `p2`, `p3`.
async fn providers() -> Vec<FakeApi> {
    let mut apis = Vec::new();
    for name in ["p1", "p2", "p3"] {
        apis.push(FakeApi::spawn(name).await.unwrap());
    }
    apis
}

/// Two free ports, distinct.
fn two_ports() -> (u16, u16) {
    let a = free_port().unwrap();
    loop {
        let b = free_port().unwrap();
        if b != a {
            return (a, b);
        }
    }
}

/// The entry of `sentinel` in a provider's `vantages`.
fn vantage<'v>(detail: &'v Value, sentinel: &str) -> Option<&'v Value> {
    detail["vantages"]
        .as_array()?
        .iter()
        .find(|v| v["sentinel"] == sentinel)
}

/// Whether every peer of the sentinel is `up` and some of its
/// observations have been read.
async fn peers_up(s: &Sentinel, c: &reqwest::Client) -> bool {
    let Some(v) = s.peers(c).await else {
        return false;
    };
    v["peers"].as_array().is_some_and(|ps| {
        !ps.is_empty()
            && ps
                .iter()
                .all(|p| p["status"] == "up" && p["observations_read"].as_u64().unwrap_or(0) > 0)
    })
}

/// Whether every provider has been probed and answered well.
async fn all_probed_up(s: &Sentinel, c: &reqwest::Client) -> bool {
    let Some(v) = get_json(c, &format!("{}/v1/providers", s.base)).await else {
        return false;
    };
    v["providers"].as_array().is_some_and(|ps| {
        ps.len() == 3
            && ps
                .iter()
                .all(|p| p["status"] == "up" && !p["last_probe"].is_null())
    })
}

/// A sentinel alone, without peers, warmed up.
async fn solo(dir: &Path, apis: &[FakeApi], c: &reqwest::Client) -> Sentinel {
    let mut s = Sentinel::start_new(
        dir,
        "solo",
        free_port().unwrap(),
        &config_text("solo", apis, &[]),
    );
    s.wait_up(c).await;
    wait_for(
        "the solo sentinel to probe every provider",
        20,
        async || ok_if(all_probed_up(&s, c).await, &s, c).await,
    )
    .await;
    s
}

/// The pair `a` and `b`, each the other's peer, over three providers.
struct Pair {
    a: Sentinel,
    b: Sentinel,
    apis: Vec<FakeApi>,
    c: reqwest::Client,
    // Last: the sentinels are killed before their directories go.
    _dir: tempfile::TempDir,
}

/// Starts the pair and waits (bounded) until each has probed every
/// provider, sees the other up and has read its observations, with no
/// alert firing and both routed to `p1`.
async fn pair() -> Pair {
    let apis = providers().await;
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = two_ports();
    let mut a = Sentinel::start_new(dir.path(), "a", pa, &config_text("a", &apis, &[("b", pb)]));
    let mut b = Sentinel::start_new(dir.path(), "b", pb, &config_text("b", &apis, &[("a", pa)]));
    let c = client();
    a.wait_up(&c).await;
    b.wait_up(&c).await;
    for s in [&a, &b] {
        wait_for(
            &format!(
                "sentinel {} to see its peer up, probe everyone, route p1, no alert",
                s.id
            ),
            20,
            async || {
                let ready = peers_up(s, &c).await
                    && all_probed_up(s, &c).await
                    && s.route(&c).await.as_deref() == Some("p1")
                    && s.alerts(&c).await.is_empty();
                ok_if(ready, s, &c).await
            },
        )
        .await;
    }
    Pair {
        a,
        b,
        apis,
        c,
        _dir: dir,
    }
}

/// The failure is seen from `a` only (its probes get 503, `b`'s are
/// answered): `a` holds the provider (not failed, not switched), says
/// `local-only` with `b`'s vantage up, and alerts `vantage:p1`; once it
/// recovers the alert clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_for_one_vantage_only_is_not_switched_away_from() {
    let p = pair().await;
    let (c, a, b) = (&p.c, &p.a, &p.b);
    p.apis[0]
        .set_for_vantage("a", Some(Mode::Errors))
        .await
        .unwrap();
    let onset = Instant::now();
    // Several probe intervals past down_after (and past the 2 intervals a
    // decision may wait for a peer's probe).
    let watch = Duration::from_secs(DOWN_AFTER_S + 5 * INTERVAL_S + 2);
    let mut local_only_after = None;
    while onset.elapsed() < watch {
        for s in [a, b] {
            assert_eq!(
                s.route(c).await.as_deref(),
                Some("p1"),
                "{} switched away from p1 {:?} after it began failing from a only; switches: {:?}",
                s.id,
                onset.elapsed(),
                s.switches(c).await
            );
        }
        let d = a.provider(c, "p1").await;
        assert_ne!(d["lifecycle"], "failed", "a declared p1 failed: {d}");
        if local_only_after.is_none() && d["quorum"]["verdict"] == "local-only" {
            local_only_after = Some(onset.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("a said local-only after {local_only_after:?}");

    // On a: failing from here, up from b, held.
    let d = a.provider(c, "p1").await;
    assert!(
        d["consecutive_failures"].as_u64().unwrap_or(0) >= 3,
        "a's probes of p1 should fail (x-sentinel-vantage: a): {d}"
    );
    assert_eq!(d["quorum"]["verdict"], "local-only", "{d}");
    assert!(
        d["quorum"]["sentence"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{d}"
    );
    let from_b = vantage(&d, "b").unwrap_or_else(|| panic!("no vantage b on a: {d}"));
    assert_eq!(from_b["status"], "up", "{d}");
    assert_eq!(from_b["reachable"], true, "{d}");
    assert_ne!(from_b["self"], true, "{d}");
    let from_a = vantage(&d, "a").unwrap_or_else(|| panic!("no vantage a on a: {d}"));
    assert_eq!(from_a["self"], true, "{d}");
    assert_eq!(from_a["status"], "down", "{d}");
    assert_eq!(from_a["cause"], "http-503", "{d}");
    assert_ne!(d["lifecycle"], "failed", "{d}");
    assert_eq!(d["routed"], true, "{d}");
    let alerts_a = a.alerts(c).await;
    assert!(
        alerts_a.iter().any(|k| k == "vantage:p1"),
        "alerts on a: {alerts_a:?}"
    );

    // On b: up from here, failing from a; no alert about it; nothing moved.
    let d = b.provider(c, "p1").await;
    assert_eq!(d["consecutive_failures"], 0, "{d}");
    assert_ne!(d["lifecycle"], "failed", "{d}");
    let from_a = vantage(&d, "a").unwrap_or_else(|| panic!("no vantage a on b: {d}"));
    assert_eq!(from_a["status"], "down", "{d}");
    let alerts_b = b.alerts(c).await;
    assert!(
        !alerts_b.iter().any(|k| k == "vantage:p1"),
        "alerts on b: {alerts_b:?}"
    );
    for s in [a, b] {
        let sw = s.switches(c).await;
        assert!(sw.is_empty(), "switches on {}: {sw:?}", s.id);
    }

    // It answers a again: the alert clears.
    p.apis[0].set_for_vantage("a", None).await.unwrap();
    wait_for("vantage:p1 to clear on a", 15, async || {
        ok_if(!a.alerts(c).await.iter().any(|k| k == "vantage:p1"), a, c).await
    })
    .await;
    assert_eq!(a.route(c).await.as_deref(), Some("p1"));
}

/// Polls the routes of `sentinels` every 100 ms until each has left `p1`;
/// the time from `onset` until the last one did.
async fn time_until_all_leave_p1(
    sentinels: &[&Sentinel],
    c: &reqwest::Client,
    onset: Instant,
    secs: u64,
) -> Duration {
    let mut left: Vec<Option<Duration>> = vec![None; sentinels.len()];
    let deadline = onset + Duration::from_secs(secs);
    while left.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "not every sentinel switched away from p1 within {secs} s: {left:?}"
        );
        for (s, l) in sentinels.iter().zip(left.iter_mut()) {
            if l.is_none() && s.route(c).await.is_some_and(|r| r != "p1") {
                *l = Some(onset.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    left.into_iter().flatten().max().unwrap_or_default()
}

/// An outage of the active provider seen by both: both leave it, in about
/// the time a sentinel alone takes plus at most the wait for the peer's
/// probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_for_both_is_switched_within_two_intervals() {
    // Failure needs down_after (3 s) or 3 failed probes at 1 s; the
    // decision may wait up to 2 probe intervals (+ one tick, 1 s) for the
    // peer's probe, which is read at the next tick (1 s); the route is
    // polled every 100 ms. 3 + 2 + 1 + 1 = 7 s; the bound leaves 5 s more
    // for a loaded 2-core machine running other tests.
    let bound = Duration::from_secs(DOWN_AFTER_S + 2 * INTERVAL_S + 2 + 5);
    let p = pair().await;
    let (c, a, b) = (&p.c, &p.a, &p.b);
    p.apis[0].set(Mode::Outage).await.unwrap();
    let onset = Instant::now();
    let with_quorum = time_until_all_leave_p1(&[a, b], c, onset, 30).await;

    // Both declared it failed, confirmed by the other.
    for s in [a, b] {
        let d = s.provider(c, "p1").await;
        assert_eq!(d["lifecycle"], "failed", "on {}: {d}", s.id);
        assert_eq!(d["quorum"]["verdict"], "confirmed", "on {}: {d}", s.id);
        let other = if s.id == "a" { "b" } else { "a" };
        let v = vantage(&d, other).unwrap_or_else(|| panic!("no vantage {other}: {d}"));
        assert_eq!(v["status"], "down", "on {}: {d}", s.id);
        assert_eq!(v["cause"], "refused", "on {}: {d}", s.id);
    }
    // And they agree on where to (at once, or after reconciling).
    wait_for("a and b to route to the same provider", 10, async || {
        let (ra, rb) = (a.route(c).await, b.route(c).await);
        if ra.is_some() && ra == rb {
            Ok(())
        } else {
            Err(format!(
                "{}\n{}",
                snapshot(a, c).await,
                snapshot(b, c).await
            ))
        }
    })
    .await;
    drop(p);

    // The same outage for a sentinel without peers.
    let apis = providers().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let s = solo(dir.path(), &apis, &c).await;
    assert_eq!(s.route(&c).await.as_deref(), Some("p1"));
    apis[0].set(Mode::Outage).await.unwrap();
    let onset = Instant::now();
    let alone = time_until_all_leave_p1(&[&s], &c, onset, 30).await;
    let d = s.provider(&c, "p1").await;
    assert_eq!(d["lifecycle"], "failed", "{d}");

    eprintln!(
        "FIGURE outage to switch: {:.1} s with quorum (both sentinels switched), {:.1} s for one sentinel without peers (probe interval {INTERVAL_S} s, down_after {DOWN_AFTER_S} s)",
        with_quorum.as_secs_f64(),
        alone.as_secs_f64()
    );
    assert!(
        with_quorum <= bound,
        "with quorum: {with_quorum:?} > {bound:?}"
    );
    // Alone: down_after + a tick + polling, with the same margin.
    let bound_alone = Duration::from_secs(DOWN_AFTER_S + 2 + 5);
    assert!(alone <= bound_alone, "alone: {alone:?} > {bound_alone:?}");
}

/// `b` killed: `a` says `peer-down:b`, then acts alone on an outage
/// (verdict `alone`, audited). `b` restarted on its data: it adopts the
/// route `a` decided meanwhile (`reconciled`), and the alert clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_sentinel_makes_the_other_act_alone_and_alert_then_they_reconcile() {
    let mut p = pair().await;
    let c = p.c.clone();
    p.b.kill();
    wait_for("peer-down:b on a", 15, async || {
        ok_if(
            p.a.alerts(&c).await.iter().any(|k| k == "peer-down:b"),
            &p.a,
            &c,
        )
        .await
    })
    .await;
    let peers = p.a.peers(&c).await.unwrap();
    let b_on_a = peers["peers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|x| x["id"] == "b"))
        .unwrap_or_else(|| panic!("no peer b on a: {peers}"));
    assert_eq!(b_on_a["status"], "down", "{peers}");
    assert_eq!(peers["sentinel"], "a", "{peers}");
    assert_eq!(peers["isolated"], false, "{peers}");
    assert_eq!(b_on_a["url"], p.b.base.as_str(), "{peers}");
    assert!(
        b_on_a["observations_read"].as_u64().unwrap_or(0) > 0,
        "a read b's observations before b was killed: {peers}"
    );

    // a acts alone.
    p.apis[0].set(Mode::Outage).await.unwrap();
    let onset = Instant::now();
    let new_route = wait_for("a to switch away from p1 alone", 20, async || {
        match p.a.route(&c).await.filter(|r| r != "p1") {
            Some(r) => Ok(r),
            None => Err(snapshot(&p.a, &c).await),
        }
    })
    .await;
    eprintln!(
        "a switched alone to {new_route} after {:?}",
        onset.elapsed()
    );
    let d = p.a.provider(&c, "p1").await;
    assert_eq!(d["lifecycle"], "failed", "{d}");
    assert_eq!(d["quorum"]["verdict"], "alone", "{d}");
    let sw = p.a.switches(&c).await;
    let last = sw
        .last()
        .unwrap_or_else(|| panic!("no switch on a: {sw:?}"));
    assert_eq!(last["from"], "p1", "{sw:?}");
    assert_eq!(last["to"], new_route.as_str(), "{sw:?}");
    assert!(p.a.alerts(&c).await.iter().any(|k| k == "peer-down:b"));

    // p1 answers again; b comes back on its data (routed to p1 there:
    // its first tick may have reconciled already).
    p.apis[0].set(Mode::Healthy).await.unwrap();
    p.b.start();
    p.b.wait_up(&c).await;
    let first_route_of_b = p.b.route(&c).await;
    eprintln!("b came back routed to {first_route_of_b:?}");
    wait_for("b to adopt a's route", 15, async || {
        if p.b.route(&c).await.as_deref() == Some(new_route.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "{}\n{}",
                snapshot(&p.a, &c).await,
                snapshot(&p.b, &c).await
            ))
        }
    })
    .await;
    let sw = p.b.switches(&c).await;
    assert!(
        sw.iter().any(|s| s["from"] == "p1"
            && s["to"] == new_route.as_str()
            && s["reason"]["trigger"] == "reconciled"),
        "no reconciled switch p1 -> {new_route} on b: {sw:?}"
    );
    wait_for("peer-down:b to clear on a", 15, async || {
        ok_if(
            !p.a.alerts(&c).await.iter().any(|k| k == "peer-down:b"),
            &p.a,
            &c,
        )
        .await
    })
    .await;
    // a kept its own decision.
    assert_eq!(p.a.route(&c).await.as_deref(), Some(new_route.as_str()));

    // The audit logs: a's decision taken alone, b's adoption.
    p.a.kill();
    p.b.kill();
    let is_quorum = |v: &Value, verdict: &str| v["action"] == "quorum" && v["verdict"] == verdict;
    let audit_a = p.a.audit_actions();
    assert!(
        audit_a.iter().any(|v| is_quorum(v, "alone")
            && v["provider"] == "p1"
            && v["absent"] == serde_json::json!(["b"])),
        "no Quorum action with verdict alone in a's audit: {audit_a:#?}"
    );
    assert!(
        audit_a.iter().any(|v| v["action"] == "lifecycle"
            && v["provider"] == "p1"
            && v["to"] == "failed"
            && v["why"]
                .as_str()
                .is_some_and(|w| w.contains("acting alone"))),
        "no lifecycle p1 -> failed \"acting alone\" in a's audit: {audit_a:#?}"
    );
    let audit_b = p.b.audit_actions();
    assert!(
        audit_b
            .iter()
            .any(|v| is_quorum(v, "reconciled") && v["provider"] == new_route.as_str()),
        "no Quorum action with verdict reconciled in b's audit: {audit_b:#?}"
    );
}

/// Unix milliseconds now.
fn now_ms() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(d.as_millis()).unwrap()
}

/// `GET url` with `headers`: status, the answer's `x-sentinel-signature`,
/// body.
async fn send(
    c: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
) -> (u16, Option<String>, String) {
    let mut r = c.get(url);
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let sig = r
        .headers()
        .get(sentinel_core::peer::auth::H_SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, sig, r.text().await.unwrap())
}

/// `/v1/observations` of `a` (peer `b` configured, not running) is read
/// with a request signed per `sentinel_core::peer::auth`: once. Replayed,
/// signed with another secret, 10 minutes old, unsigned, from an unknown
/// peer or altered after signing, it is refused with 401 `unauthorized`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_replayed_observation_requests_are_refused() {
    use sentinel_core::peer::auth::{self, PeerSecret, RequestParts};
    use sentinel_core::SentinelId;

    let apis = providers().await;
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = two_ports();
    let mut a = Sentinel::start_new(dir.path(), "a", pa, &config_text("a", &apis, &[("b", pb)]));
    let c = client();
    a.wait_up(&c).await;
    wait_for("a to route p1", 10, async || {
        ok_if(a.route(&c).await.as_deref() == Some("p1"), &a, &c).await
    })
    .await;

    let secret = PeerSecret::new(SECRET).unwrap();
    let wrong = PeerSecret::new("not-the-shared-secret-0123456789").unwrap();
    let b = SentinelId::new("b").unwrap();
    let stranger = SentinelId::new("c").unwrap();
    let parts = RequestParts {
        method: "GET",
        path: "/v1/observations",
        query: "since=0",
        body: b"",
    };
    let url = format!("{}/v1/observations?since=0", a.base);
    let mut counter = 0u64;
    let mut nonce = || {
        counter += 1;
        // Derived from another caller id: never one a real peer uses.
        auth::derive_nonce(
            &secret,
            &SentinelId::new("e2e-test").unwrap(),
            now_ms(),
            counter,
        )
    };
    let refused = |what: &str, (status, _, body): (u16, Option<String>, String)| {
        assert_eq!(status, 401, "{what}: {body}");
        let v: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
        assert_eq!(v["error"]["code"], "unauthorized", "{what}: {body}");
        eprintln!("{what}: 401 {}", v["error"]["message"]);
    };

    // Signed right: 200, and the answer is signed for this nonce.
    let n = nonce();
    let signed = auth::sign_request(&secret, &b, &parts, now_ms(), &n);
    let (status, sig, body) = send(&c, &url, &signed).await;
    assert_eq!(status, 200, "a correctly signed request: {body}");
    auth::verify_response(&secret, &n, 200, body.as_bytes(), sig.as_deref())
        .unwrap_or_else(|e| panic!("the answer's signature: {e} ({sig:?})"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["sentinel"], "a", "{body}");
    assert_eq!(v["routes"][SERVICE]["active"], "p1", "routes in {body}");
    assert!(v["routes"][SERVICE]["since"].is_u64(), "routes in {body}");

    // The same request again: a replay.
    refused("replayed (same nonce)", send(&c, &url, &signed).await);

    // Another secret.
    let h = auth::sign_request(&wrong, &b, &parts, now_ms(), &nonce());
    refused("signed with a wrong secret", send(&c, &url, &h).await);

    // Ten minutes old (beyond the 2-minute window).
    let h = auth::sign_request(&secret, &b, &parts, now_ms() - 10 * 60 * 1000, &nonce());
    refused("timestamp 10 minutes old", send(&c, &url, &h).await);

    // No signature.
    let h: Vec<(String, String)> = auth::sign_request(&secret, &b, &parts, now_ms(), &nonce())
        .into_iter()
        .filter(|(k, _)| k != auth::H_SIGNATURE)
        .collect();
    refused("no signature", send(&c, &url, &h).await);

    // A peer a does not know, with the right secret.
    let h = auth::sign_request(&secret, &stranger, &parts, now_ms(), &nonce());
    refused("unknown peer c", send(&c, &url, &h).await);

    // Signed for one query, sent with another.
    let h = auth::sign_request(&secret, &b, &parts, now_ms(), &nonce());
    refused(
        "query altered after signing",
        send(&c, &format!("{}/v1/observations?since=1", a.base), &h).await,
    );

    // Nothing at all.
    refused("no credentials", send(&c, &url, &[]).await);

    // People still read it with the API token.
    let bearer = [("authorization".to_string(), format!("Bearer {TOKEN}"))];
    let (status, _, body) = send(&c, &url, &bearer).await;
    assert_eq!(status, 200, "with the API token: {body}");
    a.kill();
}
