#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Databases probed in their own protocol: a real PostgreSQL and a real
//! Redis (Debian's packages), started by the test in temporary
//! directories on 127.0.0.1. A query's first row and a Redis reply are
//! checked like any answer; a slow query times out; a wrong value is bad
//! data; a stopped server is down (connection refused); a database
//! service is watched, not proxied.

mod support;

use sentinel_cli::testbed::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pg_bin() -> Option<PathBuf> {
    let dir = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    let mut versions: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL tool, as `nobody` when we are root (initdb refuses
/// root).
fn pg(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    cmd.args(args).output().expect("run a PostgreSQL tool")
}

/// A throwaway PostgreSQL server; stopped when dropped.
struct Postgres {
    bin: PathBuf,
    data: String,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Postgres {
    fn start(bin: PathBuf) -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_string_lossy().into_owned();
        if is_root() {
            assert!(Command::new("chown")
                .args(["nobody", &root])
                .status()
                .unwrap()
                .success());
        }
        let data = format!("{root}/data");
        let out = pg(
            &bin,
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres"],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port().unwrap();
        let opts = format!("-k {root} -p {port} -h 127.0.0.1");
        let log = format!("{root}/log");
        let out = pg(
            &bin,
            "pg_ctl",
            &[
                "-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "30", "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Postgres {
            bin,
            data,
            port,
            _dir: dir,
        }
    }

    fn stop(&self) {
        let _ = pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A throwaway Redis server; killed when dropped.
struct Redis(Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn redis_cmd(port: u16, args: &[&str]) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(out.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn provider(c: &reqwest::Client, base: &str, id: &str) -> serde_json::Value {
    get_json(c, &format!("{base}/v1/providers/{id}"))
        .await
        .unwrap_or_default()
}

async fn until(
    c: &reqwest::Client,
    base: &str,
    id: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = provider(c, base, id).await;
        if ok(&p) {
            return p;
        }
        assert!(Instant::now() < deadline, "{id}: never {what}: {p}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_redis_are_probed_in_their_own_protocols() {
    let (Some(bin), Some(redis_server)) = (pg_bin(), find_in_path("redis-server")) else {
        return missing(
            "postgresql and redis-server (Debian packages; bash .ci/run installs them)",
        );
    };
    let db = Postgres::start(bin);
    let rport = free_port().unwrap();
    let rdir = tempfile::tempdir().unwrap();
    let redis = Redis(
        Command::new(redis_server)
            .args([
                "--port",
                &rport.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(rdir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        rport,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", redis.1))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "redis did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(redis_cmd(redis.1, &["SET", "health", "ok"])
        .await
        .starts_with("+OK"));

    let pg_url = format!("postgres://127.0.0.1:{}/postgres?user=postgres", db.port);
    let config = format!(
        r#"[sentinel]
id = "e2e-db"
allow_private_targets = true
max_tick_gap = "1s"

[[service]]
id = "pg"
kind = "database"
probe_interval = "1s"
[service.probe]
body = "SELECT 1 AS ok, current_database() AS db"
timeout = "1s"
[service.probe.checks]
assertions = [{{ pointer = "/row/ok", min = 1, max = 1 }}, {{ pointer = "/row/db", equals = "postgres" }}]

[[service.provider]]
id = "pg-a"
endpoint = "{pg_url}"
initial = "active"

[[service.provider]]
id = "pg-slow"
endpoint = "{pg_url}"
[service.provider.probe]
body = "SELECT pg_sleep(3), 1 AS ok"
timeout = "1s"

[[service]]
id = "cache"
kind = "database"
probe_interval = "1s"
[service.probe]
body = "GET health"
timeout = "1s"
[service.probe.checks]
assertions = [{{ pointer = "/reply", equals = "ok" }}]

[[service.provider]]
id = "redis-a"
endpoint = "redis://127.0.0.1:{rport}"
initial = "active"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sentinel.toml");
    std::fs::write(&cfg, config).unwrap();
    let (_sentinel, base) = start_sentinel(&cfg, &dir.path().join("data"), 120, &[]).await;
    let c = client();

    // Answered and checked.
    let p = until(&c, &base, "pg-a", "healthy", |p| p["status"] == "up").await;
    assert_eq!(p["last_probe"]["outcome"], "ok", "{p}");
    let r = until(&c, &base, "redis-a", "healthy", |p| p["status"] == "up").await;
    assert_eq!(r["last_probe"]["outcome"], "ok", "{r}");

    // A slow query times out.
    let slow = until(&c, &base, "pg-slow", "timed out", |p| {
        p["last_probe"]["outcome"] == "timeout"
    })
    .await;
    assert!(
        slow["consecutive_failures"].as_u64().unwrap_or(0) >= 1,
        "{slow}"
    );

    // A wrong value is bad data, with the check that failed.
    assert!(redis_cmd(redis.1, &["SET", "health", "degraded"])
        .await
        .starts_with("+OK"));
    let bad = until(&c, &base, "redis-a", "bad data", |p| {
        p["status"] == "bad-data"
    })
    .await;
    assert!(bad.to_string().contains("business"), "{bad}");

    // A database service is watched, not proxied.
    let r = c
        .post(format!("{base}/proxy/pg/"))
        .body("DROP TABLE x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 501);
    assert!(r.text().await.unwrap().contains("not-proxied"));

    // A stopped server is down: the connection is refused.
    db.stop();
    let down = until(&c, &base, "pg-a", "down", |p| {
        p["last_probe"]["outcome"] == "refused"
    })
    .await;
    assert!(
        down["consecutive_failures"].as_u64().unwrap_or(0) >= 1,
        "{down}"
    );
}
