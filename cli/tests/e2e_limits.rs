#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Slowloris against `sentinel run` on 127.0.0.1: thousands of
//! connections that send part of a request line and then nothing.
//! `/healthz` on a fresh connection still answers within a second while
//! they are held, connections past the per-client cap get the `503
//! overloaded` body at once, and the header timeout closes the slow ones.
//! Prints the sentinel's memory (VmRSS) and the `/healthz` latency.

mod support;

use sentinel_cli::testbed::{free_port, FakeApi};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Slow connections held at most.
const SLOW: usize = 3_000;
/// Connections opened past the hold: `ROOM` fit under the per-client
/// cap, the rest are refused.
const EXTRA: usize = 40;
const ROOM: usize = 20;
/// The header timeout for this test: short, but long enough that the
/// hold is still complete after opening it on a busy 2-core machine.
const HEADER_TIMEOUT: Duration = Duration::from_secs(15);
const PARTIAL: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// The soft and hard open-file limits of this process.
fn nofile() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("");
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match nums.as_slice() {
        [soft, hard, ..] => (*soft, *hard),
        _ => (1024, 1024),
    }
}

/// How many slow connections this machine affords: both processes
/// need one descriptor per connection plus a margin. The soft limit is
/// raised to the hard one with `prlimit` when it is too low (the child
/// inherits it).
fn affordable() -> usize {
    let margin = 300 + EXTRA as u64;
    let (soft, hard) = nofile();
    if soft < SLOW as u64 + margin && hard > soft {
        let _ = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={hard}:{hard}"))
            .status();
    }
    let (soft, _) = nofile();
    (soft.saturating_sub(margin) as usize).min(SLOW)
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `GET /healthz` on a fresh connection: (status, body, time taken).
async fn healthz(port: u16) -> (u16, String, Duration) {
    let t = Instant::now();
    let fut = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let out = tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .expect("/healthz within 5 s")
        .expect("/healthz answered");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body, t.elapsed())
}

async fn open_slow(port: u16, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let batch = futures_util::future::join_all(chunk.iter().map(|_| async {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
            s.write_all(PARTIAL).await?;
            Ok::<_, std::io::Error>(s)
        }))
        .await;
        for s in batch {
            out.push(s.expect("connect"));
        }
    }
    out
}

/// What a held connection gets within `wait`: `None` (nothing yet), or
/// what was read before the server closed it.
async fn outcome(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.is_ok().then_some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_do_not_starve_healthz() {
    let slow = affordable();
    assert!(
        slow >= 500,
        "too few file descriptors for this test ({slow})"
    );
    let apis = vec![FakeApi::spawn("a").await.unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sentinel.toml");
    std::fs::write(&cfg, api_config_text(&apis, 5, "")).unwrap();
    let port = free_port().unwrap();
    let per_client = slow + ROOM;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .args(["--stop-after", "120"])
        .env("SENTINEL_LOG", "warn")
        .env("SENTINEL_MAX_CONNECTIONS", (per_client + 100).to_string())
        .env("SENTINEL_MAX_CLIENT_CONNECTIONS", per_client.to_string())
        .env(
            "SENTINEL_HEADER_TIMEOUT_MS",
            HEADER_TIMEOUT.as_millis().to_string(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sentinel");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = tokio::time::timeout(Duration::from_secs(1), async {
            TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await
        .unwrap_or(false);
        if up && healthz(port).await.0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "sentinel did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_idle = vm_rss_kib(pid);

    // The hold.
    let t0 = Instant::now();
    let mut held = open_slow(port, slow).await;
    let opened_in = t0.elapsed();
    assert!(
        opened_in < HEADER_TIMEOUT - Duration::from_secs(5),
        "opening {slow} connections took {opened_in:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_hold = vm_rss_kib(pid);
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let (status, body, took) = healthz(port).await;
        assert_eq!(status, 200, "{body}");
        latencies.push(took);
    }
    latencies.sort();
    let worst = latencies[latencies.len() - 1];
    assert!(
        worst < Duration::from_secs(1),
        "/healthz took {worst:?} during the hold"
    );
    // The hold is still in place: none of it was answered or closed.
    for s in held.iter_mut().take(50) {
        assert_eq!(outcome(s, Duration::from_millis(2)).await, None);
    }

    // Past the per-client cap: an immediate 503 with the JSON body.
    let mut extra = open_slow(port, EXTRA).await;
    let results = futures_util::future::join_all(
        extra
            .iter_mut()
            .map(|s| outcome(s, Duration::from_millis(1500))),
    )
    .await;
    let refused: Vec<String> = results
        .iter()
        .flatten()
        .map(|b| String::from_utf8_lossy(b).to_string())
        .collect();
    assert!(
        (EXTRA - ROOM..=EXTRA - ROOM + 2).contains(&refused.len()),
        "{} of {EXTRA} refused past a cap with room for {ROOM}",
        refused.len()
    );
    for text in &refused {
        assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
        let body = text.split_once("\r\n\r\n").unwrap().1;
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "overloaded", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("this client has"),
            "{v}"
        );
    }
    // With this client's cap full, its /healthz is refused too — at once.
    let (status, body, took) = healthz(port).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_secs(1));
    drop(extra);

    // The header timeout closes the slow connections, not before it.
    let closing = futures_util::future::join_all(
        held.iter_mut()
            .map(|s| async { outcome(s, HEADER_TIMEOUT + Duration::from_secs(6)).await }),
    )
    .await;
    let closed_after = t0.elapsed();
    let still_open = closing.iter().filter(|c| c.is_none()).count();
    assert_eq!(still_open, 0, "slow connections left open");
    assert!(
        closed_after >= HEADER_TIMEOUT,
        "closed after {closed_after:?}, before the header timeout"
    );
    assert!(
        closing
            .iter()
            .flatten()
            .all(|b| b.is_empty() || b.starts_with(b"HTTP/1.1 408")),
        "a slow connection was answered"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, after) = healthz(port).await;
    assert_eq!(status, 200);
    let rss_after = vm_rss_kib(pid);
    eprintln!(
        "slowloris: {slow} slow connections opened in {opened_in:?}; VmRSS idle {rss_idle} KiB, \
         holding {rss_hold} KiB (+{} B per connection), after {rss_after} KiB; \
         /healthz during the hold: median {:?}, worst {worst:?} (20 requests); after: {after:?}; \
         slow connections closed by {closed_after:?}",
        (rss_hold.saturating_sub(rss_idle) * 1024) / slow as u64,
        latencies[latencies.len() / 2],
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
