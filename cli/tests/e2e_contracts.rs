#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! The contracts, checked by the tools that define them, against a real
//! `sentinel run` (the built binary) on 127.0.0.1:
//!
//! - `promtool check metrics` on `GET /metrics` must exit 0: the text
//!   parses, and every name, `# HELP` and `# TYPE` passes Prometheus' lint
//!   (`_total` on counters only, base units, `quantile` only on summaries).
//! - `schemathesis run` on `GET /openapi.json` must exit 0: every answer of
//!   every documented operation, with generated and mutated inputs, has a
//!   documented status, content type and schema, and none is a server
//!   error. The proxy's operations may answer `502`/`503` (no provider can
//!   answer: documented as the sentinel's own), and only those.
//!
//! The fleet is built so that both tools see every kind of series and
//! answer: a service `prices` whose active provider is a tiny local server
//! answering `/health` with good data and everything else with a `404` of
//! its own JSON shape (the proxied `404` the issue was about), a healthy
//! standby, a provider that refuses connections, quotas and a budget; and a
//! service `quotes` whose only provider is down, so alerts fire and its
//! proxy answers `503`. Both tools are bounded in time; the whole test
//! takes about 20 s (schemathesis is cut off at 60 s).
//!
//! promtool comes from Debian's `prometheus`, schemathesis from PyPI into
//! the virtualenv `.ci/tools` makes (`~/.cache/bookkeeper-sentinel/venv`,
//! or `$SENTINEL_VENV`); either missing skips the test, or fails it under
//! `SENTINEL_E2E_REQUIRE=1`.

mod support;

use sentinel_cli::testbed::{free_port, FakeApi, Mode};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "contracts-token";

/// `sentinel run`, killed when dropped.
struct Sentinel(Child);

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &Path, data: &Path, port: u16) -> Sentinel {
    Sentinel(
        Command::new(env!("CARGO_BIN_EXE_sentinel"))
            .args(["run", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .env("SENTINEL_TOKEN", TOKEN)
            .env("SENTINEL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sentinel"),
    )
}

#[allow(clippy::disallowed_methods)] // the upstream has its own clock
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A tiny HTTP/1.1 provider: `/health` answers good data; every other
/// path, whatever the method, a `404` in the provider's own JSON shape
/// (not the sentinel's error shape). One request per connection.
async fn upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                let head_end = loop {
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i;
                    }
                    if buf.len() > 64 * 1024 {
                        return;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + 4 + len.min(1 << 20) {
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("");
                let target = first.next().unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/");
                let (status, body) = if path == "/health" {
                    (
                        "200 OK",
                        format!(r#"{{"status":"ok","updated_at":{}}}"#, unix_now()),
                    )
                } else {
                    ("404 Not Found", r#"{"detail":"no such thing here"}"#.into())
                };
                let body = if method == "HEAD" { "" } else { &body };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

fn config(local: SocketAddr, spare: &FakeApi, down: &FakeApi, gone: &FakeApi) -> String {
    format!(
        r#"[sentinel]
id = "e2e-contracts"
allow_private_targets = true
max_tick_gap = "1s"
footprint = {{ quotas = [{{ metric = "writes", limit = 200000, period = "day" }}] }}

[budgets]
monthly_usd = {{ api = 5.0 }}

[policy.switching]
down_after = "2s"
min_dwell = "5s"
canary_timeout = "3s"

[[service]]
id = "prices"
kind = "api"
probe_interval = "1s"
target_latency = "200ms"

[service.probe]
path = "/health"
timeout = "1s"

[service.probe.checks]
assertions = [{{ pointer = "/status", equals = "ok" }}]

[[service.provider]]
id = "local"
endpoint = "http://{local}"
initial = "active"
limits = {{ quotas = [{{ metric = "requests", limit = 1000000, period = "day" }}] }}

[[service.provider]]
id = "spare"
endpoint = "{}"
initial = "standby"
limits = {{ quotas = [{{ metric = "requests", limit = 5000000, period = "month" }}] }}

[[service.provider]]
id = "down"
endpoint = "{}"
initial = "standby"

[[service]]
id = "quotes"
kind = "api"
probe_interval = "1s"

[service.probe]
path = "/health"
timeout = "1s"

[[service.provider]]
id = "gone"
endpoint = "{}"
initial = "active"
"#,
        spare.url(),
        down.url(),
        gone.url()
    )
}

/// The schemathesis configuration: the proxy's own `502`/`503` (no
/// provider can answer) are documented answers, not server errors.
const SCHEMATHESIS_TOML: &str = r#"
[[operations]]
include-tag = "proxy"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502", "503"]
"#;

const CHECKS: &str = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance";

/// Runs a tool with a deadline; `None` when it overran (then it is killed).
async fn run_bounded(
    mut cmd: tokio::process::Command,
    stdin: Option<Vec<u8>>,
    limit: Duration,
) -> Option<std::process::Output> {
    cmd.kill_on_drop(true)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start tool");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(&input).await.expect("write stdin");
        drop(pipe);
    }
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .ok()
        .map(|r| r.expect("tool output"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_and_schemathesis_pass_on_a_running_sentinel() {
    let Some(promtool) = find_in_path("promtool") else {
        return missing("promtool (apt-get install prometheus)");
    };
    let Some(schemathesis) = find_python_tool("schemathesis") else {
        return missing("schemathesis (pip install schemathesis, see .ci/tools)");
    };
    let t0 = Instant::now();
    let local = upstream().await;
    let spare = FakeApi::spawn("spare").await.unwrap();
    let down = FakeApi::spawn("down").await.unwrap();
    let gone = FakeApi::spawn("gone").await.unwrap();
    down.set(Mode::Outage).await.unwrap();
    gone.set(Mode::Outage).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sentinel.toml");
    std::fs::write(&cfg, config(local, &spare, &down, &gone)).unwrap();
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let _sentinel = start(&cfg, &dir.path().join("data"), port);
    let c = client();

    // Wait for ticks: latencies recorded, the dead provider seen down,
    // alerts firing.
    let deadline = Instant::now() + Duration::from_secs(25);
    let metrics = loop {
        if let Some((200, text)) = get(&c, &format!("{base}/metrics")).await {
            let ready = text.contains("sentinel_provider_latency_seconds_count{provider=\"local\"")
                && text.contains("sentinel_provider_up{provider=\"down\",service=\"prices\"} 0")
                && !text.contains("sentinel_alerts_firing{severity=\"critical\"} 0");
            if ready {
                break text;
            }
            assert!(
                Instant::now() < deadline,
                "the sentinel did not tick as expected in 25 s:\n{text}"
            );
        } else {
            assert!(Instant::now() < deadline, "the sentinel did not start");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // A proxied 404 is the upstream's, passed through.
    let r = c
        .get(format!("{base}/proxy/prices/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers().contains_key("x-sentinel-attempts"));
    assert!(r.text().await.unwrap().contains("no such thing here"));

    // promtool: parse and lint.
    let mut cmd = tokio::process::Command::new(&promtool);
    cmd.args(["check", "metrics"]);
    let out = run_bounded(
        cmd,
        Some(metrics.clone().into_bytes()),
        Duration::from_secs(20),
    )
    .await
    .expect("promtool took more than 20 s");
    assert!(
        out.status.success(),
        "promtool check metrics exited {:?}:\n{}{}\n--- /metrics ---\n{metrics}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // schemathesis: every documented operation, bounded.
    let st_cfg = dir.path().join("schemathesis.toml");
    std::fs::write(&st_cfg, SCHEMATHESIS_TOML).unwrap();
    let work = dir.path().join("schemathesis");
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = tokio::process::Command::new(&schemathesis);
    cmd.current_dir(&work)
        .arg("--config-file")
        .arg(&st_cfg)
        .args(["run", &format!("{base}/openapi.json")])
        .args(["-n", "50", "--checks", CHECKS])
        .args(["--request-timeout", "10", "--no-color"])
        .args(["--generation-database", "none"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
    let out = run_bounded(cmd, None, Duration::from_secs(60))
        .await
        .expect("schemathesis took more than 60 s");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis exited {:?}:\n{stdout}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" generated, ") || l.starts_with("Seed:"))
        .map(str::trim)
        .collect();
    eprintln!(
        "promtool: ok; schemathesis: {}; {:.1} s in all",
        summary.join(" | "),
        t0.elapsed().as_secs_f64()
    );
}
