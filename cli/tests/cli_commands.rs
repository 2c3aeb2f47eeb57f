#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `sentinel` binary's small commands, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

fn sentinel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
}

/// Seals `value` for `provider`'s `header` with `sentinel seal`, returning
/// the sealed string it prints.
fn seal_with_cli(key: &std::path::Path, provider: &str, header: &str, value: &str) -> String {
    let mut child = sentinel()
        .args(["seal", "--key-file"])
        .arg(key)
        .args(["--provider", provider, "--header", header])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{value}\n").as_bytes())
        .unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    out.lines()
        .find(|l| l.starts_with(header))
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn check_accepts_the_default_config() {
    let out = sentinel()
        .args([
            "check",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../sentinel.toml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
}

#[test]
fn check_prints_every_error_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[sentinel]
id = "x"
[policy.switching]
flap_reuse = 5000
[[service]]
id = "s"
kind = "api"
probe_interval = "30s"
[[service.provider]]
id = "a"
endpoint = "ftp://nope"
[service.provider.probe]
timeout = "1m"
"#,
    )
    .unwrap();
    let out = sentinel()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "policy.switching.flap_reuse",
        "service.s.provider.a.endpoint",
        "service.s.provider.a.probe.timeout",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }
    // A typo'd key is named too.
    std::fs::write(&path, "[sentinel]\nid = \"x\"\nprobe_budget = 3\n").unwrap();
    let out = sentinel()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("probe_budget"));
}

#[test]
fn status_without_a_running_sentinel_says_so() {
    let port = sentinel_cli::testbed::free_port().unwrap();
    let out = sentinel()
        .args(["status", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sentinel answering"));
}

#[test]
fn keygen_and_seal_produce_a_credential_the_core_can_open() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(sentinel()
        .args(["keygen", "--out"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    assert!(
        !sentinel()
            .args(["keygen", "--out"])
            .arg(&key)
            .status()
            .unwrap()
            .success(),
        "never overwrites a key"
    );
    let mut child = sentinel()
        .args(["seal", "--key-file"])
        .arg(&key)
        .args(["--provider", "supabase", "--header", "apikey"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cr3t-token\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("s3cr3t"), "clear text leaked");
    let sealed: String = text
        .lines()
        .find(|l| l.starts_with("apikey"))
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string();
    let k = sentinel_core::secret::SecretKey::from_base64(
        std::fs::read_to_string(&key).unwrap().trim(),
    )
    .unwrap();
    let s: sentinel_core::secret::SealedSecret = sealed.parse().unwrap();
    let id = sentinel_core::ProviderId::new("supabase").unwrap();
    let opened = sentinel_core::secret::open(
        &k,
        &sentinel_core::probe::secret_header_aad(&id, "apikey"),
        &s,
    )
    .unwrap();
    assert_eq!(opened.expose(), "s3cr3t-token");
}

/// `check --key-file` opens every sealed credential: a wrong key, a value
/// moved to another provider and a tampered value are config errors with
/// their keys; the right key passes; a key readable by others is warned
/// about.
#[test]
fn check_with_a_key_file_opens_every_sealed_credential() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let other = dir.path().join("other");
    for k in [&key, &other] {
        assert!(sentinel()
            .args(["keygen", "--out"])
            .arg(k)
            .status()
            .unwrap()
            .success());
    }
    let for_a = seal_with_cli(&key, "a", "x-api-key", "tok-123");
    let for_b = seal_with_cli(&key, "b", "x-api-key", "tok-123");
    let config = |a: &str, b: &str| {
        format!(
            r#"[sentinel]
id = "x"
[[service]]
id = "s"
kind = "api"
[[service.provider]]
id = "a"
endpoint = "https://a.example"
initial = "active"
secret_headers = {{ x-api-key = "{a}" }}
[[service.provider]]
id = "b"
endpoint = "https://b.example"
secret_headers = {{ x-api-key = "{b}" }}
"#
        )
    };
    let path = dir.path().join("s.toml");
    let run = |cfg: &str, k: &std::path::Path| {
        std::fs::write(&path, cfg).unwrap();
        sentinel()
            .args(["check", "--config"])
            .arg(&path)
            .arg("--key-file")
            .arg(k)
            .output()
            .unwrap()
    };
    let ok = run(&config(&for_a, &for_b), &key);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!String::from_utf8_lossy(&ok.stderr).contains("warning"));
    // The wrong key: both fail, each named.
    let wrong = run(&config(&for_a, &for_b), &other);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    for k in [
        "service.s.provider.a.secret_headers.x-api-key",
        "service.s.provider.b.secret_headers.x-api-key",
    ] {
        assert!(err.contains(k), "{k} not in {err}");
    }
    // Moved: a's value given to b.
    let moved = run(&config(&for_a, &for_a), &key);
    let err = String::from_utf8_lossy(&moved.stderr);
    assert!(!moved.status.success());
    assert!(
        err.contains("provider.b.secret_headers") && !err.contains("provider.a."),
        "{err}"
    );
    // Tampered: one character of the ciphertext changed.
    let mut t: Vec<char> = for_b.chars().collect();
    let i = t.len() - 3;
    t[i] = if t[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = t.into_iter().collect();
    let bad = run(&config(&for_a, &tampered), &key);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("provider.b.secret_headers"));
    // A key file readable by others: a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loose = run(&config(&for_a, &for_b), &key);
        assert!(loose.status.success());
        assert!(String::from_utf8_lossy(&loose.stderr).contains("readable by others"));
    }
}

/// `run` refuses to start when a sealed credential does not open, naming
/// it, instead of paging the provider as "down" later.
#[test]
fn run_refuses_credentials_that_do_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let (key, other) = (dir.path().join("k"), dir.path().join("o"));
    for k in [&key, &other] {
        assert!(sentinel()
            .args(["keygen", "--out"])
            .arg(k)
            .status()
            .unwrap()
            .success());
    }
    let sealed = seal_with_cli(&key, "a", "x-api-key", "tok");
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sentinel]\nid = \"x\"\n[[service]]\nid = \"s\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"https://a.example\"\ninitial = \"active\"\nsecret_headers = {{ x-api-key = \"{sealed}\" }}\n"
        ),
    )
    .unwrap();
    for key_args in [
        vec!["--key-file".to_string(), other.display().to_string()],
        vec![],
    ] {
        let out = sentinel()
            .args(["run", "--config"])
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0", "--stop-after", "5", "--data"])
            .arg(dir.path().join("data"))
            .args(&key_args)
            .env_remove("SENTINEL_KEY_FILE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key_args:?}: {err}");
        assert!(
            err.contains("service.s.provider.a.secret_headers.x-api-key"),
            "{err}"
        );
    }
}

/// Issue 12: probes alone eating a quota are flagged (a 2 s interval is
/// 43,200 requests a day against a 6,000/day free tier), with the
/// interval that fixes it; the config is still valid.
#[test]
fn check_warns_when_probes_alone_would_eat_a_quota() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hungry.toml");
    std::fs::write(
        &path,
        r#"
[sentinel]
id = "x"
[[service]]
id = "prices"
kind = "api"
probe_interval = "2s"
[[service.provider]]
id = "a"
endpoint = "https://a.example"
limits = { quotas = [{ metric = "requests", limit = 6000, period = "day" }] }
"#,
    )
    .unwrap();
    let out = sentinel()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: service.prices.provider.a.limits.quotas[0]: probes alone send 43,200 requests a day"),
        "{text}"
    );
    assert!(text.contains("at least 144s"), "{text}");
}

/// Runs `sentinel check` on `text`, returning (success, stdout, stderr).
fn check(text: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = sentinel()
        .args(["check", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .env_remove("SENTINEL_KEY_FILE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 13: three independent mistakes — two wrong types and a wrong
/// value — come out of one `check`, each with its key.
#[test]
fn check_reports_independent_mistakes_in_one_run() {
    let (ok, _, err) = check(
        r#"
[sentinel]
id = "x"
history_limit = "many"

[[service]]
id = "s"
kind = "api"

[[service.provider]]
id = "a"
endpoint = "https://a.example"
initial = "primary"

[[service.provider]]
id = "b"
endpoint = "ftp://b.example"
"#,
        &[],
    );
    assert!(!ok);
    for key in [
        "sentinel.history_limit",
        "service[0].provider[0].initial",
        "service.s.provider.b.endpoint",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }
    assert!(err.contains(": 3 error(s)"), "{err}");
}

/// Issue 13: a 10 MB value is echoed clipped, with its size.
#[test]
fn check_clips_a_huge_value() {
    let huge = "x".repeat(10 << 20);
    let (ok, _, err) = check(
        &format!(
            "[sentinel]\nid = \"x\"\n[[service]]\nid = \"s\"\nkind = \"{huge}\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"ftp://{huge}\"\n"
        ),
        &[],
    );
    assert!(!ok);
    assert!(err.len() < 4_000, "{} bytes of errors", err.len());
    assert!(err.contains(&"x".repeat(100)), "{err}");
    assert!(err.contains(" bytes)"), "{err}");
}

/// Issue 13: `timeout = 2` is refused, naming the key and the units.
#[test]
fn check_refuses_a_duration_without_a_unit() {
    let (ok, _, err) = check(
        "[sentinel]\nid = \"x\"\n[[service]]\nid = \"s\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"https://a.example\"\nprobe = { timeout = 2 }\n",
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("service[0].provider[0].probe.timeout"),
        "{err}"
    );
    assert!(err.contains("write \"2s\" or \"2000ms\""), "{err}");
}

/// Issue 13: a `[service.probe]` block without `timeout` under a 1 s
/// interval is valid: the default shrinks to the interval.
#[test]
fn check_accepts_a_probe_block_without_timeout_under_a_short_interval() {
    let (ok, out, err) = check(
        "[sentinel]\nid = \"x\"\n[[service]]\nid = \"s\"\nkind = \"api\"\nprobe_interval = \"1s\"\n[service.probe]\npath = \"/health\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"https://a.example\"\n",
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains(": ok ("), "{out}");
}

/// Issue 13: user errors print as plain messages, never a Rust
/// backtrace, even with `RUST_BACKTRACE=1`.
#[test]
fn errors_print_no_backtrace() {
    let bad = "[sentinel]\nid = \"x\"\nhistory_limit = \"many\"\n";
    for env in [
        [("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "1")],
        [("RUST_BACKTRACE", "full"), ("RUST_LIB_BACKTRACE", "full")],
    ] {
        let (ok, _, err) = check(bad, &env);
        assert!(!ok);
        assert!(err.contains("sentinel.history_limit"), "{err}");
        assert!(!err.contains("stack backtrace"), "{err}");
        assert!(!err.contains("Stack backtrace"), "{err}");
        assert!(err.lines().all(|l| l.starts_with("error: ")), "{err}");
    }
    // `run` with a bad config, likewise.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, bad).unwrap();
    let out = sentinel()
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("sentinel.history_limit"), "{err}");
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");
}

/// Issue 13: a second `run` on a store in use names the process that
/// holds it (and gives no advice to move the store); the first removes
/// its record when it stops cleanly.
#[test]
fn a_second_run_names_the_process_holding_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("s.toml");
    let dead = sentinel_cli::testbed::free_port().unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[sentinel]\nid = \"x\"\nallow_private_targets = true\n[[service]]\nid = \"s\"\nkind = \"api\"\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:{dead}\"\ninitial = \"active\"\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let run = |stop_after: &str| {
        let mut c = sentinel();
        c.args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--stop-after",
            stop_after,
            "--config",
        ])
        .arg(&cfg)
        .arg("--data")
        .arg(&data)
        .env_remove("SENTINEL_KEY_FILE")
        .env("SENTINEL_LOG", "error")
        .env("RUST_BACKTRACE", "1");
        c
    };
    let mut first = run("8")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let record = data.join("sentinel.pid");
    // Up to 30 s for the first run to open its store.
    for i in 0.. {
        if record.exists() {
            break;
        }
        assert!(i < 600, "no holder record");
        assert!(first.try_wait().unwrap().is_none(), "the first run stopped");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = run("1").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let still_running = first.try_wait().unwrap().is_none();
    if !still_running {
        panic!("the first run stopped too early; the second said: {err}");
    }
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "in use by `sentinel run` (pid {}, started ",
            first.id()
        )),
        "{err}"
    );
    assert!(!err.contains("aside"), "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    // A clean stop removes the record.
    assert!(first.wait().unwrap().success());
    assert!(!record.exists(), "the record outlived the run");
}

/// Issue 13: the demo, piped, prints no ANSI escapes.
#[test]
fn demo_piped_prints_no_colour() {
    let port = sentinel_cli::testbed::free_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = sentinel()
        .args(["demo", "--no-anvil", "--duration", "5", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("round"), "no probe round shown:\n{stdout}");
    assert!(!out.stdout.contains(&0x1b), "{stdout}");
    assert!(!out.stderr.contains(&0x1b));
}

/// A peer's config is checked like the rest (its own id refused, a bad
/// URL named), and `check` warns when this environment has no shared
/// secret for it; `run` refuses to start without one, naming the variable.
#[test]
fn peers_are_checked_and_a_missing_secret_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../sentinel.toml")).unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!("{base}\n[[peer]]\nid = \"local\"\nurl = \"ftp://x\"\n"),
    )
    .unwrap();
    let out = sentinel()
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("peer.local.id") && err.contains("its own peer"),
        "{err}"
    );
    assert!(err.contains("peer.local.url"), "{err}");

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!("{base}\n[[peer]]\nid = \"aws-lambda\"\nurl = \"https://example.invalid\"\n"),
    )
    .unwrap();
    let out = sentinel()
        .args(["check", "--config"])
        .arg(&good)
        .env_remove("SENTINEL_PEER_SECRET")
        .env_remove("SENTINEL_PEER_SECRET_AWS_LAMBDA")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SENTINEL_PEER_SECRET_AWS_LAMBDA"), "{text}");
    let run = sentinel()
        .args(["run", "--config"])
        .arg(&good)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .env_remove("SENTINEL_PEER_SECRET")
        .env_remove("SENTINEL_PEER_SECRET_AWS_LAMBDA")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("SENTINEL_PEER_SECRET_AWS_LAMBDA"), "{err}");
    let short = sentinel()
        .args(["run", "--config"])
        .arg(&good)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .env("SENTINEL_PEER_SECRET", "short")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16 bytes"));
}
