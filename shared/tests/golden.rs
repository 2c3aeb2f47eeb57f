//! Golden vectors: fixed, seeded scenarios and hand-made scoring inputs
//! whose results are checked in under `tests/golden/*.json`, so any change
//! to scoring, lifecycle, trust or switching shows up as a diff of one
//! obvious file. The scenarios run the shipped tick (`Sentinel::tick` over
//! the in-memory store, driven by `sim::Scenario`), so a change to the
//! tick itself shows up here too.
//!
//! A mismatch fails with the JSON paths that differ. After an intended
//! change, regenerate the files and review the diff:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p sentinel-core --test golden
//! ```

// Test code: unwrapping is how a test fails (the workspace warns on it
// outside `#[test]` functions, which includes this file's helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{api_config, evm_config, start};
use sentinel_core::config::{Config, Policy};
use sentinel_core::reputation::{score, Inputs};
use sentinel_core::sim::{Fault, Scenario, SimProvider};
use sentinel_core::time::{HOUR, MINUTE};
use sentinel_core::window::Counts;
use sentinel_core::Bps;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(format!("{name}.json"))
}

/// Up to `limit` differences between `want` and `got`, as JSON pointers.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || want == got {
        return;
    }
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}/{k}");
                match b.get(k) {
                    Some(vb) => diff(&p, va, vb, out, limit),
                    None => out.push(format!("{p}: expected {va}, missing now")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(format!("{path}/{k}: new, now {vb}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}/{i}"), va, vb, out, limit);
            }
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: expected {} elements, now {}",
                    a.len(),
                    b.len()
                ));
            }
        }
        _ => out.push(format!(
            "{}: expected {want}, now {got}",
            path_or_root(path)
        )),
    }
    out.truncate(limit);
}

fn path_or_root(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

/// Compares `got` with the checked-in `tests/golden/{name}.json`, or
/// rewrites that file when `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, got: &Value) {
    let path = golden_path(name);
    let text = serde_json::to_string_pretty(got).unwrap() + "\n";
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        // Straight to stderr, past the test harness's output capture, so
        // the rewrite is visible without `--nocapture`.
        let _ = writeln!(
            std::io::stderr(),
            "UPDATE_GOLDEN=1: rewrote {} — review the diff before committing",
            path.display()
        );
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}\n\
             generate it with: UPDATE_GOLDEN=1 cargo test -p sentinel-core --test golden",
            path.display()
        )
    });
    let want: Value = serde_json::from_str(&stored)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
    if &want != got {
        let mut diffs = Vec::new();
        diff("", &want, got, &mut diffs, 25);
        panic!(
            "{} no longer matches ({} difference(s) shown, JSON paths):\n  {}\n\n\
             If the change is intended, regenerate and review the diff:\n  \
             UPDATE_GOLDEN=1 cargo test -p sentinel-core --test golden\n  \
             git diff {}",
            path.display(),
            diffs.len(),
            diffs.join("\n  "),
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------
// Scenarios

/// The providers of the scenario tests: 40–100 ms, 0.3 % background 5xx.
fn jittery() -> SimProvider {
    SimProvider {
        base_latency_ms: 40,
        jitter_ms: 60,
        noise_5xx_bps: 30,
        ..SimProvider::default()
    }
}

/// How long every scenario runs.
const RUN: u64 = 6 * HOUR;

/// Runs `s` for [`RUN`] and records every provider and every switch.
fn record(name: &str, seed: u64, faults: &[(&str, u64, u64, Fault)], mut s: Scenario) -> Value {
    let t0 = start();
    s.run_until(t0 + RUN);
    let now = s.now;
    let mut providers = serde_json::Map::new();
    for (id, ps) in &s.engine.state().providers {
        let rep = s.engine.reputation(id, now).expect("a configured provider");
        providers.insert(
            id.to_string(),
            json!({
                "lifecycle": ps.lifecycle,
                "trust": ps.trust,
                "reputation": rep,
            }),
        );
    }
    let switches: Vec<Value> = s
        .switches()
        .iter()
        .map(|(at, r)| {
            json!({
                "at_ms": at - t0,
                "service": r.service,
                "from": r.from,
                "to": r.to,
                "reason": r.reason.name(),
            })
        })
        .collect();
    json!({
        "scenario": name,
        "seed": seed,
        "duration_ms": RUN,
        "faults": faults
            .iter()
            .map(|(p, from, until, f)| json!({
                "provider": p, "from_ms": from, "until_ms": until, "fault": format!("{f:?}")
            }))
            .collect::<Vec<_>>(),
        "ticks": s.ticks,
        "probes": s.probes,
        "providers": providers,
        "switches": switches,
    })
}

/// Builds a scenario whose providers all behave like `base`, with `faults`
/// as `(provider, from offset ms, until offset ms, fault)`.
fn scenario(
    config: Config,
    seed: u64,
    base: fn() -> SimProvider,
    faults: &[(&str, u64, u64, Fault)],
) -> Scenario {
    let t0 = start();
    let mut s = Scenario::new(config, t0, seed).unwrap();
    let ids: Vec<String> = s.providers.keys().map(|p| p.to_string()).collect();
    for id in ids {
        let mut p = base();
        for (who, from, until, f) in faults {
            if *who == id {
                p = p.fault(t0 + from, t0 + until, f.clone());
            }
        }
        s.set(&id, p);
    }
    s
}

fn run_golden(
    name: &str,
    config: Config,
    seed: u64,
    base: fn() -> SimProvider,
    faults: &[(&str, u64, u64, Fault)],
) {
    let got = record(name, seed, faults, scenario(config, seed, base, faults));
    check_golden(name, &got);
}

/// Three API providers: a 10-minute outage of the active one, later a slow
/// hour on another, then 40 minutes of stale data on the third.
#[test]
fn golden_api_outage_slow_stale() {
    run_golden(
        "api_outage_slow_stale",
        api_config(""),
        42,
        jittery,
        &[
            ("a", HOUR, HOUR + 10 * MINUTE, Fault::Outage),
            ("b", 2 * HOUR, 3 * HOUR, Fault::Slow { extra_ms: 1_200 }),
            ("c", 4 * HOUR, 4 * HOUR + 40 * MINUTE, Fault::Stale),
        ],
    );
}

/// Three EVM providers: the active one serves a stale head for half an
/// hour, another is down for 10 minutes, the third has a 5xx burst.
#[test]
fn golden_evm_stale_outage_burst() {
    run_golden(
        "evm_stale_outage_burst",
        evm_config(),
        7,
        SimProvider::default,
        &[
            ("e1", HOUR, HOUR + 30 * MINUTE, Fault::Stale),
            ("e2", 3 * HOUR, 3 * HOUR + 10 * MINUTE, Fault::Outage),
            (
                "e3",
                4 * HOUR,
                4 * HOUR + 20 * MINUTE,
                Fault::Burst5xx { rate_bps: 5_000 },
            ),
        ],
    );
}

// ---------------------------------------------------------------------------
// Pure scoring vectors

fn counts(ok: u32, error: u32, timeout: u32, throttled: u32) -> Counts {
    Counts {
        ok,
        error,
        timeout,
        throttled,
    }
}

/// A fully healthy provider with `n` probes today.
fn healthy(n: u32) -> Inputs {
    Inputs {
        daily: vec![(0, counts(n, 0, 0, 0))],
        last_24h: counts(n, 0, 0, 0),
        latency: Some([60, 120, 180]),
        target_ms: 200,
        quality: Some(Bps::MAX),
        cost: Bps::MAX,
        retries: (0, 0),
        incidents: (0, 0),
        declared: 0,
        samples: u64::from(n),
        prior: Bps::new(5000),
    }
}

fn score_cases() -> Vec<(&'static str, Inputs)> {
    vec![
        (
            "new provider, no probes yet: exactly its prior",
            Inputs {
                daily: Vec::new(),
                last_24h: Counts::default(),
                latency: None,
                quality: None,
                cost: Bps::MAX,
                samples: 0,
                ..healthy(0)
            },
        ),
        (
            "configured provider after 3 perfect probes: close to its prior 80.00",
            Inputs {
                prior: Bps::new(8000),
                ..healthy(3)
            },
        ),
        ("healthy with full confidence", healthy(400)),
        (
            "50% uptime: half the probes fail (connect errors and timeouts)",
            Inputs {
                daily: vec![(0, counts(200, 100, 100, 0))],
                last_24h: counts(200, 100, 100, 0),
                samples: 400,
                ..healthy(0)
            },
        ),
        (
            "slow: p50 900 ms, p95 2.5 s, p99 6 s against a 200 ms target",
            Inputs {
                latency: Some([900, 2_500, 6_000]),
                ..healthy(400)
            },
        ),
        (
            "incidents: one data-loss and one security incident",
            Inputs {
                incidents: (1, 1),
                ..healthy(400)
            },
        ),
        (
            "nothing checked: data quality not applicable, its weight redistributed",
            Inputs {
                quality: None,
                daily: vec![(0, counts(380, 20, 0, 0))],
                last_24h: counts(380, 20, 0, 0),
                ..healthy(400)
            },
        ),
        (
            "old outage 20 days ago, healthy since: recent days weigh more",
            Inputs {
                daily: vec![(20, counts(0, 500, 0, 0)), (0, counts(500, 0, 0, 0))],
                last_24h: counts(500, 0, 0, 0),
                samples: 1_000,
                ..healthy(0)
            },
        ),
        (
            "expensive and throttled, half its retries succeed, 80% data quality",
            Inputs {
                daily: vec![(1, counts(300, 0, 0, 50)), (0, counts(300, 0, 0, 50))],
                last_24h: counts(300, 0, 0, 50),
                quality: Some(Bps::new(8000)),
                cost: Bps::new(3000),
                retries: (5, 10),
                samples: 700,
                ..healthy(0)
            },
        ),
        (
            "every probe times out",
            Inputs {
                daily: vec![(0, counts(0, 0, 300, 0))],
                last_24h: counts(0, 0, 300, 0),
                latency: None,
                quality: None,
                samples: 300,
                ..healthy(0)
            },
        ),
    ]
}

fn inputs_json(i: &Inputs) -> Value {
    json!({
        "daily": i.daily.iter().map(|(age, c)| json!({ "age_days": age, "counts": c })).collect::<Vec<_>>(),
        "last_24h": i.last_24h,
        "latency_ms": i.latency,
        "target_ms": i.target_ms,
        "quality": i.quality,
        "cost": i.cost,
        "retries": { "ok": i.retries.0, "made": i.retries.1 },
        "incidents": { "data_loss": i.incidents.0, "security": i.incidents.1 },
        "samples": i.samples,
        "prior": i.prior,
    })
}

#[test]
fn golden_reputation_score_vectors() {
    let policy = Policy::default();
    let cases: Vec<Value> = score_cases()
        .iter()
        .map(|(name, i)| {
            json!({
                "case": name,
                "inputs": inputs_json(i),
                "reputation": score(i, &policy),
            })
        })
        .collect();
    // Sanity anchors, independent of the stored file.
    let first = score(&score_cases()[0].1, &policy);
    assert_eq!(first.total, Bps::new(5000), "a new provider is its prior");
    assert_eq!(
        score(&score_cases()[3].1, &policy).uptime.score,
        Some(Bps::new(5000))
    );
    check_golden(
        "reputation_score",
        &json!({ "policy": "default (seed weights 3000/2500/2000/1500/1000)", "cases": cases }),
    );
}

#[test]
fn the_diff_hint_names_the_paths_that_changed() {
    let want = json!({"a": {"b": [1, 2, 3], "c": "x"}, "gone": 1});
    let got = json!({"a": {"b": [1, 5], "c": "x"}, "new": 2});
    let mut out = Vec::new();
    diff("", &want, &got, &mut out, 10);
    assert_eq!(
        out,
        [
            "/a/b/1: expected 2, now 5",
            "/a/b: expected 3 elements, now 2",
            "/gone: expected 1, missing now",
            "/new: new, now 2",
        ]
    );
}
