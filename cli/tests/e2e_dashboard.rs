#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! The dashboard in headless Chromium: the summary loads and shows the
//! providers (a small fleet fits its bounded list) and a switch; opening a
//! provider (`#provider=ID`) loads its card on demand, with every
//! reputation component; the provider pages list every provider; and a
//! screenshot of the summary with a card open is taken
//! (`target/tmp/dashboard.png`).

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{FakeApi, Mode};
use std::time::Duration;
use support::*;

fn chromium(
    bin: &std::path::Path,
    profile: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_providers_and_a_switch_in_chromium() {
    let Some(bin) = find_chromium() else {
        return missing("chromium (apt-get install chromium)");
    };
    let apis = vec![
        FakeApi::spawn("alpha").await.unwrap(),
        FakeApi::spawn("beta").await.unwrap(),
        FakeApi::spawn("gamma").await.unwrap(),
    ];
    let cfg = api_config(&apis, 2, "");
    let dir = tempfile::tempdir().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        key: None,
        token: None,
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(120)),
        ready: Some(ready_tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let profile = dir.path().join("chromium");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let a = apis[0].clone();
    let workload = async move {
        let addr = ready_rx.await.unwrap();
        let base = format!("http://{addr}");
        let c = client();
        tokio::time::sleep(Duration::from_secs(4)).await;
        a.set(Mode::Outage).await.unwrap();
        for _ in 0..100 {
            if active(&c, &base, "prices")
                .await
                .is_some_and(|p| p != "alpha")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let dump = |url: String| {
            let (bin, profile) = (bin.clone(), profile.clone());
            tokio::task::spawn_blocking(move || {
                chromium(
                    &bin,
                    &profile,
                    &["--virtual-time-budget=3000", "--dump-dom", &url],
                )
            })
        };
        let dom = dump(format!("{base}/")).await.unwrap();
        let card = dump(format!("{base}/#provider=beta")).await.unwrap();
        let pages = dump(format!("{base}/dashboard/providers")).await.unwrap();
        let url = format!("{base}/#provider=alpha");
        let shot2 = shot.clone();
        let png = tokio::task::spawn_blocking(move || {
            chromium(
                &bin,
                &profile,
                &[
                    "--window-size=1400,2200",
                    "--virtual-time-budget=3000",
                    &format!("--screenshot={}", shot2.display()),
                    &url,
                ],
            )
        })
        .await
        .unwrap();
        let _ = stop_tx.send(());
        (dom, card, pages, png, shot)
    };
    let (run, (dom, card, pages, png, shot)) = tokio::join!(runner::run(cfg, opts), workload);
    run.unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    for id in ["alpha", "beta", "gamma"] {
        assert!(
            html.contains(&format!("data-provider=\"{id}\"")),
            "provider {id} missing from the rendered dashboard"
        );
    }
    assert!(html.contains("class=\"switch"), "no switch shown");
    assert!(html.contains("data-service=\"prices\""), "no service line");
    assert!(
        !html.contains("data-component="),
        "no provider card is rendered before one is opened"
    );

    // Opening a provider loads its card into the detail panel.
    let html = String::from_utf8_lossy(&card.stdout);
    assert!(card.status.success());
    let detail = html
        .split("id=\"detail\"")
        .nth(1)
        .expect("the detail panel");
    assert!(
        detail.contains("data-provider=\"beta\""),
        "beta's card was not loaded on demand"
    );
    for c in [
        "uptime",
        "data_quality",
        "performance",
        "cost",
        "reliability",
    ] {
        assert!(
            detail.contains(&format!("data-component=\"{c}\"")),
            "component {c} missing from the card"
        );
    }

    // The provider pages list every provider with its components.
    let html = String::from_utf8_lossy(&pages.stdout);
    for id in ["alpha", "beta", "gamma"] {
        assert!(html.contains(&format!("data-provider=\"{id}\"")), "{id}");
    }
    assert!(html.contains("data-component=\"uptime\""));
    assert!(
        png.status.success(),
        "screenshot failed: {}",
        String::from_utf8_lossy(&png.stderr)
    );
    let meta = std::fs::metadata(&shot).expect("screenshot written");
    assert!(meta.len() > 10_000, "screenshot is suspiciously small");
    eprintln!("dashboard screenshot: {}", shot.display());
}
