#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! `kill -9` of `sentinel run` in the middle of its work, then a restart:
//! history, scores and the active route survive; no switch is applied
//! twice.

mod support;

use sentinel_cli::testbed::{free_port, FakeApi, Mode};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn start(config: &std::path::Path, data: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["run", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("SENTINEL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sentinel")
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_keeps_history_scores_and_route() {
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
        FakeApi::spawn("c").await.unwrap(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("sentinel.toml");
    std::fs::write(&cfg_path, api_config_text(&apis, 2, "")).unwrap();
    let data = dir.path().join("data");
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = client();

    let mut child = start(&cfg_path, &data, port);
    wait_for("healthz", 20, async || {
        get(&c, &format!("{base}/healthz"))
            .await
            .filter(|(s, _)| *s == 200)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    apis[0].set(Mode::Outage).await.unwrap();
    let switches = wait_for("a switch", 30, async || {
        let v = get_json(&c, &format!("{base}/v1/switches")).await?;
        let arr = v
            .get("switches")
            .or(Some(&v))
            .and_then(|x| x.as_array())
            .cloned()?;
        (!arr.is_empty()).then_some(arr)
    })
    .await;
    let route_before = active(&c, &base, "prices").await.unwrap();
    assert_ne!(route_before, "a");
    // Let a few more ticks commit, then kill -9 in the middle of whatever
    // it is doing.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let mut child = start(&cfg_path, &data, port);
    wait_for("healthz after restart", 20, async || {
        get(&c, &format!("{base}/healthz"))
            .await
            .filter(|(s, _)| *s == 200)
    })
    .await;
    let after = get_json(&c, &format!("{base}/v1/switches")).await.unwrap();
    let after = after
        .get("switches")
        .or(Some(&after))
        .and_then(|x| x.as_array())
        .cloned()
        .unwrap();
    assert!(after.len() >= switches.len(), "history lost: {after:?}");
    assert_eq!(
        after.iter().rev().take(switches.len()).count(),
        switches.len()
    );
    assert_eq!(
        active(&c, &base, "prices").await.unwrap(),
        route_before,
        "route survived"
    );
    let p = get_json(&c, &format!("{base}/v1/providers/{route_before}"))
        .await
        .unwrap();
    let text = p.to_string();
    assert!(
        text.contains("uptime") && text.contains("total"),
        "scores survived: {text}"
    );
    // `sentinel status` shows the same table the dashboard does.
    let status = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["status", "--url", &base])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        table.contains(&route_before) && table.contains('*') && table.contains("failed"),
        "{table}"
    );
    // Nothing re-applies: a few ticks later, still exactly as many switches.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = get_json(&c, &format!("{base}/v1/switches")).await.unwrap();
    let later = later
        .get("switches")
        .or(Some(&later))
        .and_then(|x| x.as_array())
        .cloned()
        .unwrap();
    assert_eq!(
        later.len(),
        after.len(),
        "a switch was applied twice: {later:?}"
    );
    // Ctrl-C (SIGINT) finishes the tick in flight, saves and exits cleanly.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no clean exit within 15 s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit after Ctrl-C: {status}");
    // And the saved state opens again.
    let mut child = start(&cfg_path, &data, port);
    wait_for("healthz after a clean stop", 20, async || {
        get(&c, &format!("{base}/healthz"))
            .await
            .filter(|(s, _)| *s == 200)
    })
    .await;
    assert_eq!(active(&c, &base, "prices").await.unwrap(), route_before);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Proxied usage survives `kill -9`: it is journaled every 200 ms between
/// ticks, and the restarted sentinel books it — here with ticks a minute
/// apart, so no tick could have booked it before the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_proxy_load_loses_no_booked_usage() {
    let apis = vec![
        FakeApi::spawn("a").await.unwrap(),
        FakeApi::spawn("b").await.unwrap(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("sentinel.toml");
    let text = api_config_text(&apis, 60, "")
        .replace("max_tick_gap = \"1s\"", "max_tick_gap = \"60s\"")
        .replace("max_age = \"10s\"", "max_age = \"120s\"");
    std::fs::write(&cfg_path, text).unwrap();
    let data = dir.path().join("data");
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let requests_of_a = async |c: &reqwest::Client| -> Option<u64> {
        let v = get_json(c, &format!("{base}/v1/budget")).await?;
        v["providers"].as_array()?.iter().find(|p| p["id"] == "a")?["usage_month"]["requests"]
            .as_u64()
    };

    let mut child = start(&cfg_path, &data, port);
    wait_for("healthz", 20, async || {
        get(&c, &format!("{base}/healthz"))
            .await
            .filter(|(s, _)| *s == 200)
    })
    .await;
    // The first tick probed everyone; the next is a minute away.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = requests_of_a(&c).await.unwrap();
    let n = 300u64;
    for _ in 0..n {
        let (s, _) = get(&c, &format!("{base}/proxy/prices/v1/price"))
            .await
            .unwrap();
        assert_eq!(s, 200);
    }
    // Not booked yet: no tick has run since.
    assert_eq!(requests_of_a(&c).await.unwrap(), before);
    tokio::time::sleep(Duration::from_millis(600)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let mut child = start(&cfg_path, &data, port);
    let after = wait_for("usage booked after restart", 20, async || {
        requests_of_a(&c).await.filter(|r| *r >= before + n)
    })
    .await;
    // Booked once: the 300 proxied requests plus at most a couple of probes.
    assert!(after <= before + n + 3, "before {before}, after {after}");
    child.kill().unwrap();
    child.wait().unwrap();
}
