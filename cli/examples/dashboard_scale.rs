//! What the dashboard and the API cost at scale (issue 12: "with 1,000
//! providers `/` is 8.7 MB … four clients at a time took the process from
//! 130 MB to 894 MB").
//!
//! ```text
//! cargo run --release -p sentinel-cli --example dashboard_scale -- --providers 1000,3000
//! ```
//!
//! For each fleet size N (`--providers`, default `1000,3000`): N API
//! providers in services of ten (`--per-service`), probed every 30 s by
//! the simulated sentinel ticked every 15 s for `--minutes` simulated
//! minutes (default 10), every seventh provider in an outage from the
//! start so that there is something wrong to show. Then, through the
//! router exactly as a shell calls it ([`api::route`]):
//!
//! * size and wall time (median and worst of `--runs`, default 15) of
//!   `GET /`, `/dashboard.json`, `/v1/providers?limit=100` (and `limit=500`),
//!   `/dashboard/providers?limit=100`, one provider's card and `/metrics`;
//! * peak memory while four clients load the dashboard at once: four
//!   threads each render `/` and `/dashboard.json` `--rounds` times
//!   (default 10) over the same engine; the process's peak RSS (`VmHWM`)
//!   is reset just before (Linux ≥ 4.0) and read after, next to the RSS
//!   before and after (memory a big answer took and never gave back shows
//!   as a higher RSS after).

use sentinel_core::api::{self, ApiContext, ApiRequest, Auth, Routed};
use sentinel_core::config::Config;
use sentinel_core::sim::{Fault, Scenario, SimProvider};
use sentinel_core::time::{days_from_civil, DAY, MINUTE, SECOND};
use sentinel_core::{Engine, UnixMillis};
use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn Error>>;

/// Seed of the synthetic providers.
const SEED: u64 = 0x5e17_11e1;
/// Concurrent dashboard clients.
const CLIENTS: usize = 4;

macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

struct Args {
    providers: Vec<usize>,
    per_service: usize,
    minutes: u64,
    runs: usize,
    rounds: usize,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        providers: vec![1000, 3000],
        per_service: 10,
        minutes: 10,
        runs: 15,
        rounds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--providers" => {
                args.providers = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--per-service" => args.per_service = value()?.parse()?,
            "--minutes" => args.minutes = value()?.parse()?,
            "--runs" => args.runs = value()?.parse()?,
            "--rounds" => args.rounds = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if args.providers.contains(&0) || args.per_service == 0 || args.runs == 0 {
        return Err("--providers, --per-service and --runs must be positive".into());
    }
    Ok(args)
}

/// Wall time (the core never reads a clock).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Instant {
    Instant::now()
}

fn start() -> UnixMillis {
    days_from_civil(2026, 11, 2) as u64 * DAY
}

fn config(n: usize, per: usize) -> Res<Config> {
    let budget = n * 2 + 10;
    let mut t = format!("[sentinel]\nid = \"scale\"\nprobe_budget_per_tick = {budget}\n");
    for s in 0..n.div_ceil(per) {
        let _ = write!(
            t,
            "\n[[service]]\nid = \"svc-{s}\"\nkind = \"api\"\nprobe_interval = \"30s\"\n\
             [service.probe]\npath = \"/health\"\ntimeout = \"2s\"\n"
        );
        for i in s * per..((s + 1) * per).min(n) {
            let initial = if i % per == 0 {
                "initial = \"active\"\n"
            } else {
                ""
            };
            let _ = write!(
                t,
                "\n[[service.provider]]\nid = \"p{i}\"\nname = \"Provider {i}\"\nendpoint = \"https://p{i}.example\"\n\
                 limits = {{ quotas = [{{ metric = \"requests\", limit = 100000, period = \"day\" }}] }}\n{initial}"
            );
        }
    }
    Ok(Config::from_toml(&t).map_err(|e| format!("config invalid:\n{e}"))?)
}

fn simulate(n: usize, per: usize, minutes: u64) -> Res<Scenario> {
    let mut s = Scenario::new(config(n, per)?, start(), SEED)?;
    s.engine
        .sentinel_mut()
        .set_probe_budget(u32::try_from(n * 2 + 10)?);
    for i in 0..n {
        let p = SimProvider {
            base_latency_ms: 40,
            jitter_ms: 60,
            noise_5xx_bps: 30,
            ..SimProvider::default()
        };
        let p = if i % 7 == 3 {
            p.fault(start(), start() + DAY, Fault::Outage)
        } else {
            p
        };
        s.set(&format!("p{i}"), p);
    }
    let until = start() + minutes * MINUTE;
    while s.now < until {
        s.tick();
        s.engine
            .sentinel()
            .store()
            .observations
            .borrow_mut()
            .clear();
        s.now += 15 * SECOND;
    }
    Ok(s)
}

/// `GET path`: its status and body size.
fn get(engine: &Engine, now: UnixMillis, path: &str) -> (u16, usize) {
    let ctx = ApiContext {
        engine,
        now,
        recent_observations: &[],
    };
    match api::route(&ApiRequest::new("GET", path), &ctx, &Auth::Deny) {
        Routed::Response(r) => (r.status, r.body.len()),
        _ => (0, 0),
    }
}

/// A `kB` field of `/proc/self/status`, in MB.
fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb as f64 * 1024.0 / 1e6)
}

fn bytes(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.2} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} kB", n as f64 / 1e3)
    }
}

fn main() -> Res<()> {
    let args = parse_args()?;
    for &n in &args.providers {
        let t = wall_clock();
        let s = simulate(n, args.per_service, args.minutes)?;
        let engine: &Engine = &s.engine;
        let now = s.now;
        out!(
            "\n## {n} providers ({} services, {} simulated minutes, built in {:.1} s)",
            n.div_ceil(args.per_service),
            args.minutes,
            t.elapsed().as_secs_f64()
        );
        out!("| request | status | size | median | worst |");
        out!("|---|---|---|---|---|");
        for path in [
            "/",
            "/dashboard.json",
            "/v1/providers?limit=100",
            "/v1/providers?limit=500",
            "/v1/providers?status=down&limit=100",
            "/dashboard/providers?limit=100",
            "/dashboard/providers/p3/card",
            "/metrics",
        ] {
            let mut times = Vec::with_capacity(args.runs);
            let mut last = (0, 0);
            for _ in 0..args.runs {
                let t = wall_clock();
                last = get(engine, now, path);
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            out!(
                "| `{path}` | {} | {} | {:.1} ms | {:.1} ms |",
                last.0,
                bytes(last.1),
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
        let rss_before = proc_status_mb("VmRSS:").unwrap_or(0.0);
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let t = wall_clock();
        std::thread::scope(|sc| {
            for _ in 0..CLIENTS {
                sc.spawn(|| {
                    for _ in 0..args.rounds {
                        get(engine, now, "/");
                        get(engine, now, "/dashboard.json");
                    }
                });
            }
        });
        let took = t.elapsed().as_secs_f64();
        let peak = proc_status_mb("VmHWM:").unwrap_or(0.0);
        let rss_after = proc_status_mb("VmRSS:").unwrap_or(0.0);
        out!(
            "{CLIENTS} clients × {} rounds of `/` + `/dashboard.json`: {:.2} s; RSS {rss_before:.1} MB before, \
             peak {peak:.1} MB{}, {rss_after:.1} MB after",
            args.rounds,
            took,
            if reset {
                " (peak reset just before)"
            } else {
                " (peak of the whole process: clear_refs refused)"
            }
        );
    }
    Ok(())
}
