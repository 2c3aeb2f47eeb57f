//! Cost of one engine tick and size of the stored state, by fleet size.
//!
//! `cargo bench -p sentinel-core --features test-utils --bench tick`
//! (add `-- --quick` for a fast pass, or a filter such as `-- tick/engine`).
//!
//! * `tick/scenario/N`: one full [`Scenario::tick`] — the shipped
//!   `Sentinel::tick` (plan, synthetic probes, observe, write-ahead log,
//!   ingest, decide, one commit of the encoded state) over the in-memory
//!   store — for N API providers, on a sentinel warmed up by two simulated
//!   hours of ticks (every 15 s) so windows, histograms and quality
//!   tallies are populated, at a moment when every provider is due (all N
//!   probes run). Each iteration starts from a fork of the same warmed
//!   scenario (a sentinel opened on a copy of its store), so every
//!   iteration does the same work.
//! * `tick/engine/N`: the engine's part of that tick without the
//!   synthetic providers and the store: the responses are canned in
//!   advance, so this is the core's own share (plan + observe + ingest +
//!   decide).
//! * `state/to_bytes/N`, `state/from_bytes/N`: encoding and decoding the
//!   state after 26 simulated hours. The first run also prints the encoded
//!   size per provider, and the postcard and JSON sizes, to stderr.
//!
//! Simulations are built lazily, only for the benchmarks the filter keeps.

// Benchmarks may panic on setup errors.
#![allow(clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use sentinel_core::config::Config;
use sentinel_core::probe::ProbeResult;
use sentinel_core::sim::{Scenario, SimProvider, SimRng};
use sentinel_core::time::{days_from_civil, DAY, HOUR, SECOND};
use sentinel_core::{Engine, State, UnixMillis};
use std::cell::OnceCell;
use std::fmt::Write as _;
use std::time::Duration;

/// Fleet sizes measured.
const SIZES: [usize; 3] = [10, 100, 1_000];
/// Providers per service.
const PER_SERVICE: usize = 10;
/// Tick period of the simulations.
const STEP: UnixMillis = 15 * SECOND;
/// Seed of the fault injector.
const SEED: u64 = 0x5e17_11e1;

/// 2026-11-02T00:00:00Z, early in a month so quotas start fresh.
fn start() -> UnixMillis {
    days_from_civil(2026, 11, 2) as u64 * DAY
}

/// The probe budget per tick for `n` providers, as the shell's capability
/// and the operator's cap: large enough that every due provider is probed
/// in one tick.
fn probe_budget(n: usize) -> u32 {
    u32::try_from(n * 2 + 10).unwrap_or(u32::MAX)
}

/// `n` API providers in services of ten, each service probing a JSON
/// health document with schema, business, freshness and consistency
/// checks, within [`probe_budget`].
fn config(n: usize) -> Config {
    let mut t = String::new();
    let budget = probe_budget(n);
    let _ = write!(
        t,
        "[sentinel]\nid = \"bench\"\nprobe_budget_per_tick = {budget}\n\n"
    );
    for s in 0..n.div_ceil(PER_SERVICE) {
        let _ = write!(
            t,
            r#"
[[service]]
id = "svc-{s}"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/health"
timeout = "2s"
[service.probe.checks]
assertions = [{{ pointer = "/status", equals = "ok" }}, {{ pointer = "/value", min = 0, max = 100 }}]
freshness = {{ pointer = "/updated_at", max_age = "5m", format = "unix-seconds" }}
consistency = {{ pointer = "/value" }}
schema = {{ type = "object", required = ["status", "value", "updated_at"] }}
"#
        );
        for i in s * PER_SERVICE..((s + 1) * PER_SERVICE).min(n) {
            let initial = if i % PER_SERVICE == 0 {
                "initial = \"active\"\n"
            } else {
                ""
            };
            let _ = write!(
                t,
                "\n[[service.provider]]\nid = \"p{i}\"\nendpoint = \"https://p{i}.example\"\n{initial}"
            );
        }
    }
    Config::from_toml(&t).unwrap_or_else(|e| panic!("bench config invalid:\n{e}"))
}

/// A healthy provider with realistic jitter and a little 5xx noise.
fn jittery() -> SimProvider {
    SimProvider {
        base_latency_ms: 40,
        jitter_ms: 60,
        noise_5xx_bps: 30,
        ..SimProvider::default()
    }
}

/// A scenario of `n` providers after `hours` simulated hours, ticked every
/// 15 s as a cron-driven shell would. (`Scenario::run_until` ticks on every
/// wake-up instead; services are phased apart, so with a hundred services
/// that is a tick nearly every simulated second, each deciding over the
/// whole fleet, and a simulated day of 1,000 providers takes minutes.)
/// Every provider is still probed once per 30 s interval: it is due on its
/// service's grid at least 15 s after its last probe.
///
/// The in-memory store's observation log is emptied after every tick:
/// nothing here reads it back (no peer, and a fork replays nothing), and
/// its duplicate check is a linear scan, which over ten minutes of a
/// thousand providers' observations would cost more than the tick itself.
fn simulate(n: usize, hours: u64) -> Scenario {
    let mut s = Scenario::new(config(n), start(), SEED).expect("scenario");
    s.engine.sentinel_mut().set_probe_budget(probe_budget(n));
    let ids: Vec<String> = s.providers.keys().map(|id| id.to_string()).collect();
    for id in &ids {
        s.set(id, jittery());
    }
    let until = start() + hours * HOUR;
    while s.now < until {
        s.tick();
        s.engine
            .sentinel()
            .store()
            .observations
            .borrow_mut()
            .clear();
        s.now += STEP;
    }
    s
}

/// A warmed scenario and the first time at which every provider is due.
struct Warm {
    scenario: Scenario,
    due: UnixMillis,
}

fn warm(n: usize) -> Warm {
    let scenario = simulate(n, 2);
    let due = scenario
        .engine
        .state()
        .providers
        .values()
        .map(|p| p.next_due)
        .max()
        .expect("providers")
        .max(scenario.now);
    let planned = scenario.engine.plan(due).probes.len();
    assert_eq!(planned, n, "every provider must be due at {due}");
    Warm { scenario, due }
}

/// The warm scenario, forked (a new sentinel opened on a copy of its
/// store) and set to its due time.
fn fork(w: &Warm) -> Scenario {
    let mut s = w.scenario.fork().expect("fork");
    s.now = w.due;
    s
}

fn bench_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let cell: OnceCell<Warm> = OnceCell::new();
        group.bench_function(format!("scenario/{n}"), |b| {
            let w = cell.get_or_init(|| warm(n));
            b.iter_batched(
                || fork(w),
                |mut s| {
                    s.tick();
                    assert!(s.probes as usize >= n);
                    s
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_function(format!("engine/{n}"), |b| {
            let w = cell.get_or_init(|| warm(n));
            let plan = w.scenario.engine.plan(w.due);
            let mut rng = SimRng::seed(SEED);
            let results: Vec<ProbeResult> = plan
                .probes
                .iter()
                .map(|req| {
                    w.scenario
                        .providers
                        .get(&req.provider)
                        .cloned()
                        .unwrap_or_default()
                        .respond(req, w.due, &mut rng)
                })
                .collect();
            b.iter_batched(
                || (Engine::clone(&w.scenario.engine), results.clone()),
                |(mut engine, results)| {
                    let plan = engine.plan(w.due);
                    let obs: Vec<_> = plan
                        .probes
                        .iter()
                        .zip(results)
                        .filter_map(|(req, res)| engine.observe(req, w.due, res))
                        .collect();
                    let report = engine.ingest(w.due, &obs);
                    let decision = engine.decide(w.due);
                    black_box((report, decision));
                    engine
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// Prints the encoded size of a state of `n` providers.
fn report_size(n: usize, hours: u64, state: &State) {
    let bytes = state.to_bytes().len();
    let json = serde_json::to_vec(state).map_or(0, |v| v.len());
    eprintln!(
        "state after {hours} simulated hours, {n} providers: {bytes} bytes postcard \
         ({} bytes/provider), {json} bytes JSON ({} bytes/provider, {:.1}x)",
        bytes / n,
        json / n,
        json as f64 / bytes.max(1) as f64,
    );
}

fn bench_state(c: &mut Criterion) {
    let mut group = c.benchmark_group("state");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    const HOURS: u64 = 26;
    for n in SIZES {
        let cell: OnceCell<State> = OnceCell::new();
        let state = || {
            cell.get_or_init(|| {
                let s = simulate(n, HOURS).engine.state().clone();
                report_size(n, HOURS, &s);
                s
            })
        };
        group.bench_function(format!("to_bytes/{n}"), |b| {
            let s = state();
            b.iter(|| black_box(s.to_bytes()));
        });
        group.bench_function(format!("from_bytes/{n}"), |b| {
            let bytes = state().to_bytes();
            b.iter(|| black_box(State::from_bytes(&bytes).expect("decodes")));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_tick, bench_state);
criterion_main!(benches);
