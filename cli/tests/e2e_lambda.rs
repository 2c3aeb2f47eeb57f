#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! The AWS Lambda end to end, on the local emulators: `cargo lambda watch`
//! (cargo-lambda from PyPI) runs the `sentinel-lambda` binary, moto's
//! DynamoDB server (PyPI) holds the table, both started here on
//! 127.0.0.1; scheduled invocations are EventBridge events posted to the
//! emulator's invoke API; real providers on 127.0.0.1 fail on cue.

mod support;

use sentinel_cli::runner::{self, RunOptions};
use sentinel_cli::testbed::{free_port, FakeApi, Mode};
use sentinel_core::action::Action;
use sentinel_lambda::aws_sdk_dynamodb;
use sentinel_lambda::store::DynamoStore;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_bin(tool: &str) -> Option<PathBuf> {
    venv()
        .map(|v| v.join("bin").join(tool))
        .filter(|p| p.is_file())
        .or_else(|| find_in_path(tool))
}

/// A child process group, killed on drop.
struct Proc {
    child: Option<tokio::process::Child>,
    log: PathBuf,
}

impl Proc {
    fn kill(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(|c| c.id()) {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(cmd: &mut tokio::process::Command, log: PathBuf) -> Proc {
    let out = std::fs::File::create(&log).unwrap();
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("spawns");
    Proc {
        child: Some(child),
        log,
    }
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

/// moto, the table, and `cargo lambda watch` running the function (a
/// second watch is a second instance: the emulator, like Lambda, gives
/// one instance one invocation at a time).
struct Lambda {
    _moto: Proc,
    watch: Proc,
    port: u16,
    base: String,
    store: DynamoStore,
    env: Vec<(&'static str, String)>,
    env_file: PathBuf,
    dir: PathBuf,
}

/// `cargo lambda watch` on a free port with `env`.
fn watch(env: &[(&'static str, String)], env_file: &Path, log: &Path) -> (Proc, u16) {
    let cargo_lambda = venv_bin("cargo-lambda").expect("cargo-lambda");
    let port = free_port().unwrap();
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
    (spawn(&mut cmd, log.to_path_buf()), port)
}

const TABLE: &str = "sentinel";

impl Lambda {
    async fn start(dir: &Path, config: &str, token: &str) -> Option<Lambda> {
        let (Some(moto_bin), Some(_)) = (venv_bin("moto_server"), venv_bin("cargo-lambda")) else {
            missing("moto_server and cargo-lambda (PyPI; bash .ci/tools installs them)");
            return None;
        };
        let moto_port = free_port().unwrap();
        let moto = spawn(
            // One request at a time: moto's transactions are then
            // isolated as DynamoDB's are (tests/moto_serial.py).
            tokio::process::Command::new(moto_bin.with_file_name("python3"))
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/moto_serial.py"))
                .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]),
            dir.join("moto.log"),
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
        let env = [
            ("SENTINEL_TABLE", TABLE.to_string()),
            ("SENTINEL_CONFIG_FILE", cfg_path.display().to_string()),
            ("SENTINEL_TOKEN", token.to_string()),
            ("SENTINEL_SCHEDULE_SECONDS", "60".to_string()),
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ];
        let env_file = dir.join("lambda.env");
        std::fs::write(
            &env_file,
            env.iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect::<String>(),
        )
        .unwrap();
        let (watch, port) = watch(&env, &env_file, &dir.join("watch.log"));
        let l = Lambda {
            _moto: moto,
            watch,
            port,
            base: format!("http://127.0.0.1:{port}/lambda-url/sentinel-lambda"),
            store: DynamoStore::new(client, TABLE, "e2e"),
            env: env.to_vec(),
            env_file,
            dir: dir.to_path_buf(),
        };
        // The first request compiles the function (warm target dir: seconds;
        // cold: minutes).
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(900);
        while Instant::now() < deadline {
            if let Ok(r) = c.get(format!("{}/healthz", l.base)).send().await {
                if r.status().as_u16() == 200 {
                    return Some(l);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "cargo lambda watch did not serve /healthz:\n{}",
            l.watch.tail()
        );
    }

    /// A second instance of the function on the same table.
    async fn second(&self) -> (Proc, u16) {
        let (p, port) = watch(&self.env, &self.env_file, &self.dir.join("watch2.log"));
        let c = client();
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            let url = format!("http://127.0.0.1:{port}/lambda-url/sentinel-lambda/healthz");
            if let Some((200, _)) = get(&c, &url).await {
                return (p, port);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the second instance did not serve:\n{}", p.tail());
    }

    /// One EventBridge scheduled event, through the emulator's invoke API.
    async fn tick(&self) -> serde_json::Value {
        self.tick_on(self.port).await
    }

    /// The same on the instance listening on `port`.
    async fn tick_on(&self, port: u16) -> serde_json::Value {
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
            .expect("the invoke API answers");
        let text = r.text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("tick result is not JSON: {text}\n{}", self.watch.tail()));
        // lambda_http wraps the response: the summary is in its body.
        match v.get("body").and_then(|b| b.as_str()) {
            Some(body) => serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
            None => v,
        }
    }
}

async fn switch_count(base: &str) -> u64 {
    get_json(&client(), &format!("{base}/v1/switches"))
        .await
        .expect("switches")["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_ticks_switches_books_and_keeps_its_state_in_dynamodb() {
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let config = api_config_text(&[a.clone(), b.clone()], 2, "");
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = Lambda::start(dir.path(), &config, "admin-e2e").await else {
        return;
    };
    let c = client();

    let first = l.tick().await;
    assert!(
        first["probes"].as_u64().unwrap_or(0) >= 2,
        "{first}\n{}",
        l.watch.tail()
    );
    let providers = get_json(&c, &format!("{}/v1/providers", l.base))
        .await
        .unwrap();
    let up: Vec<_> = providers["providers"]
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
        up,
        [("a".into(), "up".into()), ("b".into(), "up".into())],
        "{providers}"
    );

    // Proxied requests from concurrent invocations, booked in full.
    let sends = (0..20).map(|_| {
        let c = c.clone();
        let url = format!("{}/proxy/prices/health", l.base);
        async move { get(&c, &url).await.map(|(s, _)| s) }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    l.tick().await;
    let budget = get_json(&c, &format!("{}/v1/budget", l.base))
        .await
        .unwrap();
    let used = budget["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "a")
        .map(|p| p["usage_month"]["requests"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(used >= 20, "every proxied request is booked on a: {budget}");
    let invocations = budget["sentinel"]["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["metric"] == "invocations")
        .map(|q| q["used"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(
        invocations >= 22,
        "the Lambda books its own invocations: {budget}"
    );

    // a goes down: two instances tick at once, until the route moves.
    let (_second, port2) = l.second().await;
    a.set(Mode::Outage).await.unwrap();
    let started = Instant::now();
    let mut conflicts = 0;
    let mut moved = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (x, y) = tokio::join!(l.tick(), l.tick_on(port2));
        conflicts += x["conflicts"].as_u64().unwrap_or(0) + y["conflicts"].as_u64().unwrap_or(0);
        if active(&c, &l.base, "prices").await.as_deref() == Some("b") {
            moved = Some(started.elapsed());
            break;
        }
    }
    let moved = moved.unwrap_or_else(|| panic!("no switch in 40 s:\n{}", l.watch.tail()));
    eprintln!(
        "lambda: switched a → b {:.1} s after the outage; conditional-write conflicts {conflicts}",
        moved.as_secs_f64()
    );
    for _ in 0..3 {
        let (x, y) = tokio::join!(l.tick(), l.tick_on(port2));
        conflicts += x["conflicts"].as_u64().unwrap_or(0) + y["conflicts"].as_u64().unwrap_or(0);
    }
    assert!(
        conflicts >= 1,
        "two instances at once met a conditional-write conflict"
    );
    assert_eq!(
        switch_count(&l.base).await,
        1,
        "one switch, not one per tick"
    );
    let audit = l.store.audit(10_000).await.unwrap();
    for (i, x) in audit.iter().enumerate() {
        assert!(!audit[..i].contains(x), "audit entry written twice: {x:?}");
    }
    assert_eq!(
        audit
            .iter()
            .filter(|e| matches!(e.action, Action::Switch { .. }))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_answers_as_the_local_sentinel_does() {
    let a = FakeApi::spawn("a").await.unwrap();
    let b = FakeApi::spawn("b").await.unwrap();
    let x = FakeApi::spawn("x").await.unwrap();
    let apis = [a.clone(), b.clone(), x.clone()];
    let text = api_config_text(&apis, 2, "");
    let config = api_config(&apis, 2, "");
    let ldir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(l) = Lambda::start(dir.path(), &text, "admin-e2e").await else {
        return;
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: ldir.path().to_path_buf(),
        key: None,
        token: None,
        webhooks: vec![],
        stop_after: Some(Duration::from_secs(120)),
        ready: Some(ready_tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let base_l = l.base.clone();
    let scenario = async move {
        let addr = ready_rx.await.unwrap();
        let local = format!("http://{addr}");
        let c = client();
        for _ in 0..3 {
            l.tick().await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        a.set(Mode::Wrong).await.unwrap();
        x.set(Mode::Outage).await.unwrap();
        let mut both = false;
        for _ in 0..45 {
            l.tick().await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
            if active(&c, &base_l, "prices").await.as_deref() == Some("b")
                && active(&c, &local, "prices").await.as_deref() == Some("b")
            {
                both = true;
                break;
            }
        }
        for _ in 0..4 {
            l.tick().await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        let (pl, pn) = (
            parity_projection(&base_l).await,
            parity_projection(&local).await,
        );
        let _ = stop_tx.send(());
        (both, pl, pn, l)
    };
    let (run, (both, pl, pn, _l)) = tokio::join!(runner::run(config, opts), scenario);
    run.unwrap();
    assert!(both, "both switched to b: lambda {pl:#}\nlocal {pn:#}");
    assert_eq!(pl, pn, "the Lambda and the local sentinel say the same");
}
