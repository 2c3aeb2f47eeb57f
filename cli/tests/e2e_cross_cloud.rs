#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Cross-cloud quorum, end to end, on both clouds' local emulators: the
//! Worker (`wrangler dev`, sentinel `cf`) and the Lambda (`cargo lambda
//! watch` over moto's DynamoDB, sentinel `aws`) each list the other as
//! their `[[peer]]`, share `SENTINEL_PEER_SECRET`, and probe the same
//! three providers on 127.0.0.1; ticks are driven in rounds (the Worker's
//! `/__scheduled`, then the Lambda's scheduled invocation).
//!
//! - Each reads the other (`GET /v1/peers`: up, observations read): the
//!   Worker reaches the Lambda's function URL under its path prefix and
//!   the signature over `/v1/observations` is accepted both ways.
//! - The active provider failing from `cf` only is held on both sides
//!   (`local-only` on `cf`, `vantage:<provider>`), never switched away
//!   from.
//! - Failing for both, both switch, to the same provider.
//!
//! It prints the figures of the closing note (`FIGURE` lines, run with
//! `--no-capture`): rounds and seconds from the global outage to each
//! side's switch; the Worker's own requests per tick due to the peer
//! (its footprint's `requests`, probes subtracted) and its KV writes per
//! tick with the peer and, in the same idle rounds, of a Worker without
//! one.
//!
//! Needs wrangler, the built Worker (`bash workers/build.sh`), moto and
//! cargo-lambda (`bash .ci/tools`); skips without them unless
//! `SENTINEL_E2E_REQUIRE` is set. Only 127.0.0.1; every wait is bounded;
//! every child process group is killed when its guard drops.

mod clouds;
mod support;

use clouds::{Lambda, Worker};
use sentinel_cli::testbed::{FakeApi, Mode};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::*;

/// The secret both sentinels share (`SENTINEL_PEER_SECRET`).
const SECRET: &str = "e2e-cross-cloud-peer-secret-0123456789abcdef";
/// The API token (`SENTINEL_TOKEN`).
const TOKEN: &str = "e2e-cross-cloud-token";
/// The providers' probe interval, in seconds.
const INTERVAL_S: u64 = 2;
/// `[policy.switching] down_after` in `support::api_config_text`, seconds.
const DOWN_AFTER_S: u64 = 5;
/// The one service.
const SERVICE: &str = "prices";
/// Pause between rounds.
const PAUSE: Duration = Duration::from_millis(300);
/// Idle rounds measured for the write and request figures.
const IDLE_ROUNDS: usize = 10;

/// The config of sentinel `id` over `apis` (the first active), listing
/// `peer` (id, base URL) if any. The footprint gets a `requests` quota so
/// that `GET /v1/budget` shows the sentinel's own requests (probes and
/// peer requests).
fn config_text(id: &str, apis: &[FakeApi], peer: Option<(&str, &str)>) -> String {
    let base = api_config_text(apis, INTERVAL_S, "");
    let mut t = base.clone();
    for (from, to) in [
        ("id = \"e2e\"\n".to_string(), format!("id = \"{id}\"\n")),
        (
            "max_tick_gap = \"1s\"\n".to_string(),
            "max_tick_gap = \"1s\"\nfootprint = { quotas = [{ metric = \"requests\", limit = 100000000, period = \"day\" }] }\n"
                .to_string(),
        ),
    ] {
        assert!(
            t.contains(&from),
            "support::api_config_text changed: no {from} in\n{base}"
        );
        t = t.replacen(&from, &to, 1);
    }
    let down_after = format!("down_after = \"{DOWN_AFTER_S}s\"");
    assert!(
        t.contains(&down_after),
        "support::api_config_text changed: no {down_after} in\n{base}"
    );
    if let Some((peer, url)) = peer {
        t.push_str(&format!(
            "\n[[peer]]\nid = \"{peer}\"\nurl = \"{url}\"\n\n[quorum]\npeer_down_after = 2\n"
        ));
    }
    t
}

/// `GET url` as JSON, or a panic naming it.
async fn json(c: &reqwest::Client, url: &str) -> Value {
    match get(c, url).await {
        Some((200, body)) => {
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
        }
        other => panic!("GET {url}: {other:?}"),
    }
}

/// `GET /v1/providers/{id}`.
async fn provider(c: &reqwest::Client, base: &str, id: &str) -> Value {
    json(c, &format!("{base}/v1/providers/{id}")).await
}

/// The entry of `sentinel` in a provider's `vantages`.
fn vantage<'v>(detail: &'v Value, sentinel: &str) -> Option<&'v Value> {
    detail["vantages"]
        .as_array()?
        .iter()
        .find(|v| v["sentinel"] == sentinel)
}

/// The entry of peer `other` in `GET /v1/peers`, with the whole answer.
async fn peer_entry(c: &reqwest::Client, base: &str, other: &str) -> (Option<Value>, Value) {
    let all = json(c, &format!("{base}/v1/peers")).await;
    let entry = all["peers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == other))
        .cloned();
    (entry, all)
}

/// Whether `other` is up on the sentinel at `base`, read, without error.
async fn peer_read_ok(c: &reqwest::Client, base: &str, other: &str) -> bool {
    let (entry, _) = peer_entry(c, base, other).await;
    entry.is_some_and(|p| {
        p["status"] == "up"
            && p["observations_read"].as_u64().unwrap_or(0) > 0
            && p["read_error"].is_null()
    })
}

/// Whether every provider was probed and is up.
async fn all_up(c: &reqwest::Client, base: &str) -> bool {
    let v = json(c, &format!("{base}/v1/providers")).await;
    v["providers"].as_array().is_some_and(|ps| {
        ps.len() == 3
            && ps
                .iter()
                .all(|p| p["status"] == "up" && !p["last_probe"].is_null())
    })
}

/// The sentinel's own `used` today per metric (`requests`, `invocations`,
/// `writes`, `reads`), per `GET /v1/budget` (one fetch invocation).
async fn own_used(c: &reqwest::Client, base: &str) -> std::collections::BTreeMap<String, u64> {
    let b = json(c, &format!("{base}/v1/budget")).await;
    b["sentinel"]["quotas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|q| q["period"] == "day")
        .filter_map(|q| Some((q["metric"].as_str()?.to_string(), q["used"].as_u64()?)))
        .collect()
}

/// `after - before` of `metric`.
fn delta(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    metric: &str,
) -> Option<u64> {
    Some(after.get(metric)?.saturating_sub(*before.get(metric)?))
}

/// `GET /v1/switches`' records.
async fn switches(c: &reqwest::Client, base: &str) -> Vec<Value> {
    json(c, &format!("{base}/v1/switches")).await["switches"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Per-tick figures from a Worker's `tick` log lines.
#[derive(Debug, Default)]
struct TickTotals {
    ticks: usize,
    writes: u64,
    probes: u64,
    /// Ticks that wrote, and the probes they sent (what their commit booked).
    committed: usize,
    committed_probes: u64,
    /// Ticks without a probe due: peer news (if any) only.
    no_probe: usize,
    no_probe_writes: u64,
}

fn totals(lines: &[std::collections::BTreeMap<String, u64>]) -> TickTotals {
    let mut t = TickTotals::default();
    for l in lines {
        let (probes, writes) = (
            l.get("probes").copied().unwrap_or(0),
            l.get("writes").copied().unwrap_or(0),
        );
        t.ticks += 1;
        t.writes += writes;
        t.probes += probes;
        if writes > 0 {
            t.committed += 1;
            t.committed_probes += probes;
        }
        if probes == 0 {
            t.no_probe += 1;
            t.no_probe_writes += writes;
        }
    }
    t
}

#[allow(clippy::cast_precision_loss)]
fn per(n: u64, d: usize) -> f64 {
    if d == 0 {
        f64::NAN
    } else {
        n as f64 / d as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_and_the_lambda_probe_each_other_and_agree_before_they_act() {
    if !clouds::available() {
        return;
    }
    // First declared, last dropped: the processes are killed before their
    // folders go.
    let dir = tempfile::tempdir().unwrap();
    let mut apis = Vec::new();
    for name in ["p1", "p2", "p3"] {
        apis.push(FakeApi::spawn(name).await.unwrap());
    }
    let ports = clouds::ports(3);
    let cf_url = format!("http://127.0.0.1:{}", ports[0]);
    let aws_url = clouds::lambda_base(ports[2]);
    let secrets = [("SENTINEL_TOKEN", TOKEN), ("SENTINEL_PEER_SECRET", SECRET)];
    let cf = Worker::start(
        &dir.path().join("cf"),
        "sentinel-e2e-cross-cf",
        ports[0],
        &config_text("cf", &apis, Some(("aws", &aws_url))),
        &secrets,
    )
    .await;
    // The same Worker without a peer, ticked in the idle rounds: the
    // baseline of the write and request figures.
    let solo = Worker::start(
        &dir.path().join("solo"),
        "sentinel-e2e-cross-solo",
        ports[1],
        &config_text("solo", &apis, None),
        &secrets[..1],
    )
    .await;
    let started = Instant::now();
    let aws = Lambda::start(
        &dir.path().join("aws"),
        ports[2],
        &config_text("aws", &apis, Some(("cf", &cf_url))),
        &secrets,
    )
    .await;
    eprintln!(
        "the Lambda served after {:.0} s (compile included)",
        started.elapsed().as_secs_f64()
    );
    let c = client();
    let (cfb, awsb) = (cf.base.clone(), aws.base.clone());
    let diag = async |c: &reqwest::Client| {
        format!(
            "cf /v1/peers: {:?}\naws /v1/peers: {:?}\n--- wrangler (cf) ---\n{}\n--- cargo lambda watch (aws) ---\n{}",
            get(c, &format!("{cfb}/v1/peers")).await,
            get(c, &format!("{awsb}/v1/peers")).await,
            cf.tail(),
            aws.tail()
        )
    };

    // Warm-up: rounds until each reads the other, every provider was
    // probed up from both, and both route p1.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut warm = 0;
    loop {
        cf.tick().await;
        solo.tick().await;
        aws.tick().await;
        warm += 1;
        if peer_read_ok(&c, &cf.base, "aws").await
            && peer_read_ok(&c, &aws.base, "cf").await
            && all_up(&c, &cf.base).await
            && all_up(&c, &aws.base).await
            && active(&c, &cf.base, SERVICE).await.as_deref() == Some("p1")
            && active(&c, &aws.base, SERVICE).await.as_deref() == Some("p1")
        {
            break;
        }
        assert!(
            Instant::now() < deadline && warm < 60,
            "after {warm} rounds the two do not read each other (or a provider is not up):\n{}",
            diag(&c).await
        );
        tokio::time::sleep(PAUSE).await;
    }
    eprintln!("warm after {warm} rounds");
    for (base, other) in [(&cf.base, "aws"), (&aws.base, "cf")] {
        let (entry, all) = peer_entry(&c, base, other).await;
        let entry = entry.unwrap();
        eprintln!("{base}/v1/peers: {all}");
        assert_eq!(entry["status"], "up", "{all}");
        assert!(entry["observations_read"].as_u64().unwrap() > 0, "{all}");
        assert!(entry["read_error"].is_null(), "{all}");
        assert_eq!(all["isolated"], false, "{all}");
        let alerts = alert_keys(&c, base).await.unwrap();
        assert!(
            !alerts
                .iter()
                .any(|k| k.starts_with("peer-") || k == "isolated" || k.starts_with("vantage:")),
            "alerts on {base}: {alerts:?}"
        );
    }

    // Idle rounds: what the peer costs the Worker, next to the same
    // Worker without one.
    // A settling tick on both Workers first books what came before (the
    // test's own reads of cf, the Lambda's last reads); a closing one
    // after books the last idle round's: between the two budget reads
    // (one fetch each, on both), each Worker's extra is its peer's.
    cf.tick().await;
    solo.tick().await;
    let cf_own0 = own_used(&c, &cf.base).await;
    let solo_own0 = own_used(&c, &solo.base).await;
    let (cf_lines0, solo_lines0) = (cf.tick_lines().len(), solo.tick_lines().len());
    let mut aws_idle = Vec::new();
    for _ in 0..IDLE_ROUNDS {
        cf.tick().await;
        solo.tick().await;
        aws_idle.push(aws.tick().await);
        tokio::time::sleep(PAUSE).await;
    }
    cf.tick().await;
    solo.tick().await;
    // Console lines may trail the scheduled handler's answer.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cf_own1 = own_used(&c, &cf.base).await;
    let solo_own1 = own_used(&c, &solo.base).await;
    let (cf_lines, solo_lines) = (cf.tick_lines(), solo.tick_lines());
    let cf_idle = totals(&cf_lines[cf_lines0.min(cf_lines.len())..]);
    let solo_idle = totals(&solo_lines[solo_lines0.min(solo_lines.len())..]);
    eprintln!("idle: cf {cf_idle:?}\nidle: solo {solo_idle:?}");
    solo.stop().await;

    // p1 fails from cf only (503 to probes carrying x-sentinel-vantage: cf).
    apis[0]
        .set_for_vantage("cf", Some(Mode::Errors))
        .await
        .unwrap();
    let onset = Instant::now();
    let watch = Duration::from_secs(DOWN_AFTER_S + 5 * INTERVAL_S + 2);
    let mut rounds = 0;
    let mut local_only_at = None;
    while rounds < 8 || onset.elapsed() < watch {
        assert!(
            rounds < 60,
            "60 rounds and the vantage-only phase did not end"
        );
        cf.tick().await;
        aws.tick().await;
        rounds += 1;
        for (who, base) in [("cf", &cf.base), ("aws", &aws.base)] {
            assert_eq!(
                active(&c, base, SERVICE).await.as_deref(),
                Some("p1"),
                "{who} switched away from p1 in round {rounds} ({:?}) of a failure seen from cf only; switches: {:?}\n{}",
                onset.elapsed(),
                switches(&c, base).await,
                diag(&c).await
            );
            let d = provider(&c, base, "p1").await;
            assert_ne!(d["lifecycle"], "failed", "{who} declared p1 failed: {d}");
        }
        let d = provider(&c, &cf.base, "p1").await;
        if local_only_at.is_none() && d["quorum"]["verdict"] == "local-only" {
            local_only_at = Some((rounds, onset.elapsed()));
        }
        tokio::time::sleep(PAUSE).await;
    }
    eprintln!(
        "cf said local-only at (round, time) {local_only_at:?}; watched {rounds} rounds, {:.1} s",
        onset.elapsed().as_secs_f64()
    );
    // On cf: failing from here, up from aws, held.
    let d = provider(&c, &cf.base, "p1").await;
    assert!(
        d["consecutive_failures"].as_u64().unwrap_or(0) >= 3,
        "the Worker's probes of p1 should fail (x-sentinel-vantage: cf): {d}"
    );
    assert_eq!(d["quorum"]["verdict"], "local-only", "{d}");
    let from_aws = vantage(&d, "aws").unwrap_or_else(|| panic!("no vantage aws on cf: {d}"));
    assert_eq!(from_aws["status"], "up", "{d}");
    assert_eq!(from_aws["reachable"], true, "{d}");
    let from_cf = vantage(&d, "cf").unwrap_or_else(|| panic!("no vantage cf on cf: {d}"));
    assert_eq!(from_cf["self"], true, "{d}");
    assert_eq!(from_cf["status"], "down", "{d}");
    assert_eq!(d["routed"], true, "{d}");
    let alerts = alert_keys(&c, &cf.base).await.unwrap();
    assert!(
        alerts.iter().any(|k| k == "vantage:p1"),
        "alerts on cf: {alerts:?}"
    );
    // On aws: up from here, down from cf; nothing to say, nothing moved.
    let d = provider(&c, &aws.base, "p1").await;
    assert_eq!(d["consecutive_failures"], 0, "{d}");
    assert_eq!(d["quorum"]["verdict"], "healthy", "{d}");
    let from_cf = vantage(&d, "cf").unwrap_or_else(|| panic!("no vantage cf on aws: {d}"));
    assert_eq!(from_cf["status"], "down", "{d}");
    let alerts = alert_keys(&c, &aws.base).await.unwrap();
    assert!(
        !alerts.iter().any(|k| k == "vantage:p1"),
        "alerts on aws: {alerts:?}"
    );
    for base in [&cf.base, &aws.base] {
        let sw = switches(&c, base).await;
        assert!(sw.is_empty(), "switches on {base}: {sw:?}");
    }

    // p1 fails for both: both switch. cf (failing since the phase before)
    // as soon as aws's observations confirm it; aws by its own decision,
    // or by adopting cf's later one before its own down_after is up.
    apis[0].set(Mode::Outage).await.unwrap();
    apis[0].set_for_vantage("cf", None).await.unwrap();
    let onset = Instant::now();
    let mut cf_moved: Option<(u32, Duration)> = None;
    let mut aws_moved: Option<(u32, Duration)> = None;
    let mut round = 0u32;
    while cf_moved.is_none() || aws_moved.is_none() {
        assert!(
            round < 60 && onset.elapsed() < Duration::from_secs(180),
            "not both switched away from p1 in {round} rounds ({:?}): cf {cf_moved:?}, aws {aws_moved:?}\ncf p1: {}\naws p1: {}\n{}",
            onset.elapsed(),
            provider(&c, &cf.base, "p1").await,
            provider(&c, &aws.base, "p1").await,
            diag(&c).await
        );
        round += 1;
        cf.tick().await;
        if cf_moved.is_none()
            && active(&c, &cf.base, SERVICE)
                .await
                .is_some_and(|r| r != "p1")
        {
            cf_moved = Some((round, onset.elapsed()));
        }
        aws.tick().await;
        if aws_moved.is_none()
            && active(&c, &aws.base, SERVICE)
                .await
                .is_some_and(|r| r != "p1")
        {
            aws_moved = Some((round, onset.elapsed()));
        }
        tokio::time::sleep(PAUSE).await;
    }
    // Both to the same provider (at once, or after reconciling).
    let mut routes = (None, None);
    for _ in 0..10 {
        routes = (
            active(&c, &cf.base, SERVICE).await,
            active(&c, &aws.base, SERVICE).await,
        );
        if routes.0.is_some() && routes.0 == routes.1 {
            break;
        }
        cf.tick().await;
        aws.tick().await;
        tokio::time::sleep(PAUSE).await;
    }
    assert!(
        routes.0.is_some() && routes.0 == routes.1,
        "cf and aws route differently after 10 more rounds: {routes:?}"
    );
    let same = routes.0.unwrap();
    assert_ne!(same, "p1");
    // Each switch from p1: its own decision (`failed`), or the other's
    // adopted (`reconciled`, when the other decided later and p1 has not
    // failed here yet); none back to p1, and each ends on the same one.
    let mut how = Vec::new();
    for (who, base) in [("cf", &cf.base), ("aws", &aws.base)] {
        let sw = switches(&c, base).await;
        let first = sw
            .iter()
            .find(|s| s["from"] == "p1")
            .unwrap_or_else(|| panic!("no switch from p1 on {who}: {sw:?}"));
        let trigger = first["reason"]["trigger"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(
            trigger == "failed" || trigger == "reconciled",
            "switch from p1 on {who}: {first}"
        );
        assert!(
            !sw.iter().any(|s| s["to"] == "p1"),
            "a switch back to p1 on {who}: {sw:?}"
        );
        assert_eq!(
            sw.last().map(|s| s["to"].clone()),
            Some(Value::from(same.as_str())),
            "{who}: {sw:?}"
        );
        how.push(format!(
            "{who}: {} switch(es), the first {trigger}",
            sw.len()
        ));
    }
    // And in a few more rounds each has p1 failed itself, confirmed by the
    // other's vantage.
    let mut settled = 0;
    for (who, other, base) in [("cf", "aws", &cf.base), ("aws", "cf", &aws.base)] {
        loop {
            let d = provider(&c, base, "p1").await;
            let v = vantage(&d, other).cloned();
            if d["lifecycle"] == "failed"
                && d["quorum"]["verdict"] == "confirmed"
                && v.as_ref().is_some_and(|v| v["status"] == "down")
            {
                break;
            }
            assert!(
                settled < 30,
                "after {settled} more rounds p1 is not failed and confirmed on {who}: {d}"
            );
            settled += 1;
            cf.tick().await;
            aws.tick().await;
            tokio::time::sleep(PAUSE).await;
        }
    }
    for base in [&cf.base, &aws.base] {
        assert_eq!(
            active(&c, base, SERVICE).await.as_deref(),
            Some(same.as_str())
        );
    }

    // The figures.
    let (cr, ct) = cf_moved.unwrap();
    let (ar, at) = aws_moved.unwrap();
    eprintln!(
        "FIGURE global outage to switch: Worker (cf) in round {cr} ({:.1} s), Lambda (aws) in round {ar} ({:.1} s); both on {same} ({}); p1 failed and confirmed on both {settled} rounds later (probe interval {INTERVAL_S} s, down_after {DOWN_AFTER_S} s; a round = Worker tick then Lambda tick, {} ms apart)",
        ct.as_secs_f64(),
        at.as_secs_f64(),
        how.join("; "),
        PAUSE.as_millis()
    );
    match (
        delta(&cf_own0, &cf_own1, "requests"),
        delta(&solo_own0, &solo_own1, "requests"),
    ) {
        (Some(cf_req), Some(solo_req)) if cf_idle.ticks > 0 && solo_idle.ticks > 0 => {
            let cf_extra = cf_req.saturating_sub(cf_idle.committed_probes);
            let solo_extra = solo_req.saturating_sub(solo_idle.committed_probes);
            eprintln!(
                "FIGURE Worker own requests over {IDLE_ROUNDS} idle rounds and a closing tick (footprint `requests`, booked by committed ticks): with the peer {cf_req} ({} probes in {} committed ticks: {:.2} peer requests per committed tick); without {solo_req} ({} probes in {} committed ticks: {:.2} extra per committed tick)",
                cf_idle.committed_probes,
                cf_idle.committed,
                per(cf_extra, cf_idle.committed),
                solo_idle.committed_probes,
                solo_idle.committed,
                per(solo_extra, solo_idle.committed),
            );
        }
        other => eprintln!(
            "FIGURE Worker own requests: not visible (footprint deltas {other:?}, tick lines cf {}, solo {})",
            cf_idle.ticks, solo_idle.ticks
        ),
    }
    let extra = |metric: &str| {
        Some(
            delta(&cf_own0, &cf_own1, metric)?
                .saturating_sub(delta(&solo_own0, &solo_own1, metric)?),
        )
    };
    eprintln!(
        "FIGURE Worker invocations and KV reads booked because of the peer over {IDLE_ROUNDS} idle rounds ({} Lambda ticks, each reading the Worker's /healthz and /v1/observations): {:?} invocations, {:?} KV reads (with the peer {:?} and {:?}, without {:?} and {:?})",
        aws_idle.len(),
        extra("invocations"),
        extra("reads"),
        delta(&cf_own0, &cf_own1, "invocations"),
        delta(&cf_own0, &cf_own1, "reads"),
        delta(&solo_own0, &solo_own1, "invocations"),
        delta(&solo_own0, &solo_own1, "reads"),
    );
    eprintln!(
        "FIGURE Worker KV writes over {IDLE_ROUNDS} idle rounds and a closing tick (tick log lines): with the peer {} writes in {} ticks ({:.2}/tick; {} ticks without a probe due wrote {}); without {} writes in {} ticks ({:.2}/tick; {} ticks without a probe due wrote {})",
        cf_idle.writes,
        cf_idle.ticks,
        per(cf_idle.writes, cf_idle.ticks),
        cf_idle.no_probe,
        cf_idle.no_probe_writes,
        solo_idle.writes,
        solo_idle.ticks,
        per(solo_idle.writes, solo_idle.ticks),
        solo_idle.no_probe,
        solo_idle.no_probe_writes,
    );
    let aws_writes: u64 = aws_idle
        .iter()
        .map(|s| s["writes"].as_u64().unwrap_or(0))
        .sum();
    let aws_probes: u64 = aws_idle
        .iter()
        .map(|s| s["probes"].as_u64().unwrap_or(0))
        .sum();
    let aws_no_probe: Vec<u64> = aws_idle
        .iter()
        .filter(|s| s["probes"].as_u64() == Some(0))
        .map(|s| s["writes"].as_u64().unwrap_or(0))
        .collect();
    eprintln!(
        "FIGURE Lambda (with the peer) over the same idle rounds: {aws_writes} store writes in {} ticks, {aws_probes} probes; ticks without a probe due wrote {aws_no_probe:?}",
        aws_idle.len()
    );
    cf.stop().await;
    drop(aws);
}
