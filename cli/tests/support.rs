#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Helpers for the end-to-end tests: real providers on 127.0.0.1, a real
//! sentinel (in-process or the built binary), a plain HTTP client.
#![allow(dead_code)]

use sentinel_cli::testbed::FakeApi;
use sentinel_core::config::Config;
use std::fmt::Write as _;
use std::time::Duration;

/// Whether tools that the CI installs (anvil, cast, chromium) must be
/// present: under `.ci/test` a missing tool fails the test instead of
/// skipping it.
pub fn require_tools() -> bool {
    std::env::var_os("SENTINEL_E2E_REQUIRE").is_some()
}

/// Skips (or, under CI, fails) a test whose tool is missing.
pub fn missing(tool: &str) {
    if require_tools() {
        panic!("{tool} is required under SENTINEL_E2E_REQUIRE (bash .ci/run installs it)");
    }
    eprintln!("SKIPPED: {tool} not installed (bash .ci/run installs it)");
}

/// A config of one `prices` API service over `apis` (the first active),
/// probed every `interval_s` seconds, plus extra TOML.
pub fn api_config(apis: &[FakeApi], interval_s: u64, extra: &str) -> Config {
    let t = api_config_text(apis, interval_s, extra);
    Config::from_toml(&t).unwrap_or_else(|e| panic!("{e}\n{t}"))
}

/// The text of [`api_config`].
pub fn api_config_text(apis: &[FakeApi], interval_s: u64, extra: &str) -> String {
    let mut t = format!(
        r#"[sentinel]
id = "e2e"
allow_private_targets = true
max_tick_gap = "1s"

[policy.switching]
down_after = "5s"
min_dwell = "5s"
canary_timeout = "3s"

[[service]]
id = "prices"
kind = "api"
probe_interval = "{interval_s}s"
target_latency = "200ms"

[service.probe]
path = "/health"
timeout = "1s"

[service.probe.checks]
assertions = [{{ pointer = "/status", equals = "ok" }}]
freshness = {{ pointer = "/updated_at", max_age = "10s", format = "unix-seconds" }}
{extra}
"#
    );
    for (i, a) in apis.iter().enumerate() {
        let initial = if i == 0 { "active" } else { "standby" };
        let _ = write!(
            t,
            "\n[[service.provider]]\nid = \"{}\"\nendpoint = \"{}\"\ninitial = \"{initial}\"\n",
            a.name,
            a.url()
        );
    }
    t
}

/// GET returning (status, body).
pub async fn get(client: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let r = client.get(url).send().await.ok()?;
    let s = r.status().as_u16();
    Some((s, r.text().await.ok()?))
}

/// GET as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let (s, body) = get(client, url).await?;
    (s == 200)
        .then(|| serde_json::from_str(&body).ok())
        .flatten()
}

/// A client with a short timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// The active provider of `service` per the API.
pub async fn active(client: &reqwest::Client, base: &str, service: &str) -> Option<String> {
    let v = get_json(client, &format!("{base}/v1/services/{service}/route")).await?;
    v.pointer("/provider")
        .or_else(|| v.pointer("/active/id"))
        .or_else(|| v.pointer("/active"))
        .and_then(|x| x.as_str())
        .map(str::to_string)
}

/// Finds a Foundry tool from the npm package (`@foundry-rs/<tool>`) or PATH.
pub fn find_tool(tool: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = root.join(format!(
        "node_modules/@foundry-rs/{tool}-linux-amd64/bin/{tool}"
    ));
    if p.is_file() {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// Finds Chromium.
pub fn find_chromium() -> Option<std::path::PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

/// A config of one `eth` EVM service over anvil URLs (the first active).
/// Separate anvil nodes are separate chains that started a few blocks apart,
/// so the lag tolerance is generous: freshness and chain id are what these
/// tests exercise.
///
/// Nor are they replicas of one chain: two started in the same second mine
/// identical empty blocks, one started a second later does not, so their
/// hashes at a height agree or not by the machine's load. Hashes are
/// therefore not compared (as in the demo); the chain-id vote and the lag
/// are. Forks on a real shared chain are covered by the core's scenarios.
pub fn evm_config(urls: &[String], interval_s: u64, chain_id: Option<u64>) -> Config {
    let chain = chain_id.map_or(String::new(), |c| format!("chain_id = {c}, "));
    let mut t = format!(
        r#"[sentinel]
id = "e2e-evm"
allow_private_targets = true
max_tick_gap = "1s"

[policy.switching]
down_after = "5s"
min_dwell = "5s"
canary_timeout = "3s"

[[service]]
id = "eth"
kind = "evm-rpc"
probe_interval = "{interval_s}s"
evm = {{ {chain}max_block_age = "5s", max_lag_blocks = 60, compare_hashes = false }}
"#
    );
    for (i, u) in urls.iter().enumerate() {
        let initial = if i == 0 { "active" } else { "standby" };
        let _ = write!(
            t,
            "\n[[service.provider]]\nid = \"n{}\"\nendpoint = \"{u}\"\ninitial = \"{initial}\"\n",
            i + 1
        );
    }
    Config::from_toml(&t).unwrap_or_else(|e| panic!("{e}\n{t}"))
}

/// The virtualenv `.ci/tools` installs Python tools into (schemathesis):
/// `$SENTINEL_VENV`, by default `~/.cache/bookkeeper-sentinel/venv`.
pub fn venv() -> Option<std::path::PathBuf> {
    std::env::var_os("SENTINEL_VENV")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::Path::new(&h).join(".cache/bookkeeper-sentinel/venv"))
        })
}

/// Finds a Python tool: in [`venv`], then `~/.local/bin` (pip `--user`),
/// then `PATH`.
pub fn find_python_tool(tool: &str) -> Option<std::path::PathBuf> {
    let venv = venv().map(|v| v.join("bin").join(tool));
    let user =
        std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/bin").join(tool));
    venv.into_iter()
        .chain(user)
        .find(|p| p.is_file())
        .or_else(|| find_in_path(tool))
}

/// Finds an executable on `PATH`.
pub fn find_in_path(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// A webhook receiver: records each POST's idempotency key and text, and
/// answers after `delay` with the status `status()` gives at that moment.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    pub addr: std::net::SocketAddr,
}

pub async fn receiver(
    delay: Duration,
    status: std::sync::Arc<dyn Fn() -> u16 + Send + Sync>,
) -> Receiver {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let g = g.clone();
            let status = status.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut tmp).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                let key = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("idempotency-key:")
                            .map(|v| v.trim().to_string())
                    })
                    .unwrap_or_default();
                let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
                let code = status();
                if code == 200 {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    g.lock()
                        .unwrap()
                        .push((key, v["text"].as_str().unwrap().to_string()));
                }
                tokio::time::sleep(delay).await;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    Receiver { got, addr }
}

/// What the shells must agree on for one scenario (the parity tests of the
/// Worker and the Lambda against the local sentinel): who is up, routed
/// and in which lifecycle, with the problem in words (without its counts
/// and the transport's own error text: a JavaScript `fetch` and reqwest
/// word a refused port apart); which switches and why; what the route
/// says. Timestamps and scores are left out: they depend on timing.
pub async fn parity_projection(base: &str) -> serde_json::Value {
    let c = client();
    let providers = get_json(&c, &format!("{base}/v1/providers")).await.unwrap();
    let switches = get_json(&c, &format!("{base}/v1/switches")).await.unwrap();
    let route = get_json(&c, &format!("{base}/v1/services/prices/route"))
        .await
        .unwrap();
    let words = |p: &serde_json::Value| {
        p.as_str().map(|s| {
            s.split(" (")
                .next()
                .unwrap_or_default()
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect::<String>()
        })
    };
    let ps: Vec<_> = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            serde_json::json!([
                p["id"],
                p["status"],
                p["routed"],
                p["lifecycle"],
                words(&p["problem"])
            ])
        })
        .collect();
    let ss: Vec<_> = switches["switches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            // A wrong answer trips `bad-data` (consecutive bad answers) or
            // `data-quality` (the score) first depending on the cadence of
            // ticks, which differs between a scheduled function and the
            // local loop: both say "the data was bad".
            let trigger = match s["reason"]["trigger"].as_str() {
                Some("bad-data" | "data-quality") => "data",
                Some(other) => other,
                None => "",
            };
            serde_json::json!([s["service"], s["from"], s["to"], trigger])
        })
        .collect();
    serde_json::json!({
        "providers": ps,
        "switches": ss,
        "route": [route["active"], route["health"], route["serving"]],
    })
}

/// The keys of the alerts firing on the sentinel at `base`, per
/// `GET /dashboard.json` (`alerts`: `[{key, severity, since, message}]`).
pub async fn alert_keys(client: &reqwest::Client, base: &str) -> Option<Vec<String>> {
    let v = get_json(client, &format!("{base}/dashboard.json")).await?;
    Some(
        v["alerts"]
            .as_array()?
            .iter()
            .filter_map(|a| a["key"].as_str().map(str::to_string))
            .collect(),
    )
}

/// A `sentinel run` child process, killed when dropped.
#[derive(Debug)]
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the built `sentinel run` on 127.0.0.1:`port` with `config`, its
/// store in `data`, stopping by itself after `stop_after_s`; `env` pairs
/// are set (the log is at `warn`), and waits (bounded, 20 s) until
/// `/healthz` answers. Returns the process and its base URL.
pub async fn start_sentinel(
    config: &std::path::Path,
    data: &std::path::Path,
    stop_after_s: u64,
    env: &[(&str, &str)],
) -> (Running, String) {
    let port = sentinel_cli::testbed::free_port().expect("a free port");
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel"));
    cmd.args(["run", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .args(["--stop-after", &stop_after_s.to_string()])
        .env("SENTINEL_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let running = Running(cmd.spawn().expect("start sentinel"));
    let c = client();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while get(&c, &format!("{base}/healthz")).await.map(|r| r.0) != Some(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "sentinel did not come up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (running, base)
}
