//! How big the local store grows in a simulated day, and what a restart
//! costs (issue 11: "the store's size after a simulated day with 1,000
//! providers", goal ≤ 50 MB).
//!
//! ```text
//! cargo run --release -p sentinel-cli --example store_day -- --providers 1000 --hours 24
//! ```
//!
//! Builds a configuration of N API providers (`--providers`, default 1,000)
//! in services of ten, probed every 30 s, with a probe budget (the shell's
//! and the configured cap) large enough that every due probe runs in the
//! tick it is due. The endpoints are on 127.0.0.1 and never contacted: a
//! [`SimProber`] answers on a virtual clock (healthy providers with a
//! little jitter and 5xx noise). The shared tick ([`Sentinel::tick`]) runs
//! over a real [`RedbStore`] in a temporary directory (or `--dir DIR`, kept
//! afterwards), the clock jumping to each report's `next_wakeup` (at least
//! one second later), for `--hours` hours (default 24). The futures
//! complete synchronously (the store and the prober never wait).
//!
//! Printed every simulated hour (`--every MINUTES`): ticks, observations
//! committed in total, the size of `sentinel.redb` (and the largest it was
//! since the last line), the entries of the observation and audit logs,
//! the encoded state, the mean wall time of a tick, and wall time so far.
//!
//! At the end: the final file size; a restart in this process
//! ([`Sentinel::open`] again: load and replay) with its time, the peak RSS
//! (`VmHWM`) before and after it (reset just before it where the kernel
//! allows, so the second figure is the restart's own peak) and the file
//! size after it; the same restart in a fresh process; and redb's own
//! accounting of the file (allocated pages, and per table the bytes stored,
//! the B-tree overhead and the unused space in its pages) and its size once
//! compacted (on a copy).
//!
//! A day of 1,000 providers is about 84,000 ticks, each with two fsync'd
//! redb transactions (the write-ahead log and the commit): about 20
//! minutes on a 2-core machine. `--hours 12` halves that.

use futures_util::FutureExt;
use redb::{ReadableTableMetadata, TableHandle};
use sentinel_cli::store::RedbStore;
use sentinel_core::config::Config;
use sentinel_core::sim::{SimProber, SimProvider};
use sentinel_core::tick::Sentinel;
use sentinel_core::time::{days_from_civil, DAY, HOUR, MINUTE, SECOND};
use sentinel_core::UnixMillis;
use std::error::Error;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Res<T> = Result<T, Box<dyn Error>>;

/// Providers per service.
const PER_SERVICE: usize = 10;
/// Seed of the synthetic providers.
const SEED: u64 = 0x5e17_11e1;
/// The store's file name in the data directory (as the sentinel names it).
const FILE: &str = "sentinel.redb";
/// Argument that makes the process only measure a restart (the fresh
/// process of the last step).
const RESTART_ONLY: &str = "--restart-only";

/// Prints a line to stdout (a closed pipe is an error, not a panic).
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

struct Args {
    providers: usize,
    hours: u64,
    every_minutes: u64,
    dir: Option<PathBuf>,
    restart_only: Option<PathBuf>,
    /// The virtual time of the fresh-process restart.
    now: Option<UnixMillis>,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        providers: 1_000,
        hours: 24,
        every_minutes: 60,
        dir: None,
        restart_only: None,
        now: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--providers" => args.providers = value()?.parse()?,
            "--hours" => args.hours = value()?.parse()?,
            "--every" => args.every_minutes = value()?.parse()?,
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            RESTART_ONLY => args.restart_only = Some(PathBuf::from(value()?)),
            "--now" => args.now = Some(value()?.parse()?),
            "-h" | "--help" => {
                out!(
                    "usage: store_day [--providers N (1000)] [--hours H (24)] \
                     [--every MINUTES (60)] [--dir DIR]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.providers == 0 {
        return Err("--providers must be at least 1".into());
    }
    Ok(args)
}

/// 2026-11-02T00:00:00Z, early in a month so quotas start fresh.
fn start() -> UnixMillis {
    u64::try_from(days_from_civil(2026, 11, 2)).unwrap_or(0) * DAY
}

/// The probe budget per tick, for the shell ([`Sentinel::set_probe_budget`])
/// and as the operator's cap (`sentinel.probe_budget_per_tick`): the
/// planner holds a tenth back for canaries, so `2n + 10` lets every
/// provider be probed in one tick, whatever falls due together.
fn probe_budget(n: usize) -> u32 {
    u32::try_from(n * 2 + 10).unwrap_or(u32::MAX)
}

/// `n` API providers in services of ten on 127.0.0.1, each service probing
/// a JSON health document with schema, business, freshness and consistency
/// checks every 30 s.
fn config(n: usize) -> Res<Config> {
    let mut t = String::new();
    let budget = probe_budget(n);
    write!(
        t,
        "[sentinel]\nid = \"store-day\"\nprobe_budget_per_tick = {budget}\nallow_private_targets = true\n"
    )?;
    for s in 0..n.div_ceil(PER_SERVICE) {
        write!(
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
        )?;
        for i in s * PER_SERVICE..((s + 1) * PER_SERVICE).min(n) {
            let initial = if i % PER_SERVICE == 0 {
                "initial = \"active\"\n"
            } else {
                ""
            };
            write!(
                t,
                "\n[[service.provider]]\nid = \"p{i}\"\nendpoint = \"http://127.0.0.1:9/p{i}\"\n{initial}"
            )?;
        }
    }
    Config::from_toml(&t).map_err(|e| format!("generated config is invalid:\n{e}").into())
}

/// A prober at `now` whose providers are healthy, with realistic jitter
/// and a little 5xx noise.
fn prober(config: &Config, now: UnixMillis) -> SimProber {
    let prober = SimProber::new(now, SEED);
    {
        let mut providers = prober.providers.borrow_mut();
        for svc in &config.services {
            for p in &svc.providers {
                providers.insert(
                    p.id.clone(),
                    SimProvider {
                        base_latency_ms: 40,
                        jitter_ms: 60,
                        noise_5xx_bps: 30,
                        ..SimProvider::default()
                    },
                );
            }
        }
    }
    prober
}

/// Runs a future that never waits (the store and the prober are
/// synchronous underneath).
fn sync<F: Future>(f: F) -> Res<F::Output> {
    f.now_or_never()
        .ok_or_else(|| "a future did not complete synchronously".into())
}

/// Wall time: what the benchmark measures (the core itself never reads a
/// clock; the simulation runs on the prober's virtual one).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Instant {
    Instant::now()
}

fn file_size(path: &Path) -> Res<u64> {
    Ok(std::fs::metadata(path)?.len())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in MB.
fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb as f64 * 1024.0 / 1e6)
}

fn rss_text() -> String {
    match (proc_status_mb("VmHWM:"), proc_status_mb("VmRSS:")) {
        (Some(hwm), Some(rss)) => format!("peak RSS (VmHWM) {hwm:.1} MB, current RSS {rss:.1} MB"),
        _ => "RSS unknown (no /proc/self/status)".into(),
    }
}

/// Resets the process's peak RSS to the current RSS (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Opens the store and a sentinel on it (load + replay), timed.
fn restart(config: &Config, path: &Path, now: UnixMillis) -> Res<(f64, usize, u64)> {
    let t = wall_clock();
    let store = RedbStore::open(path)?;
    let sentinel = sync(Sentinel::open(
        config.clone(),
        &store,
        prober(config, now),
        now,
    ))??;
    let secs = t.elapsed().as_secs_f64();
    let state = sentinel.engine().state().to_bytes().len();
    let logged = store.observations_len()?;
    Ok((secs, state, logged))
}

/// The fresh-process half: measure one restart and print it.
fn restart_only(args: &Args, path: &Path) -> Res<()> {
    let config = config(args.providers)?;
    let before = rss_text();
    let now = args.now.unwrap_or(start() + args.hours * HOUR);
    let (secs, state, logged) = restart(&config, path, now)?;
    out!(
        "  fresh process: Sentinel::open took {secs:.3} s (state {state} B, {logged} observations \
         in the log); before it {before}; after it {}",
        rss_text()
    );
    Ok(())
}

/// redb's own accounting of the file, and its size once compacted (on a
/// copy, so the store itself is untouched).
fn redb_report(path: &Path) -> Res<()> {
    {
        let db = redb::Database::open(path)?;
        let tx = db.begin_write()?;
        let s = tx.stats()?;
        let page = s.page_size() as u64;
        out!(
            "  redb: {} pages of {page} B allocated ({:.2} MB of the file; the rest is free), \
             stored {:.2} MB, B-trees {:.2} MB, unused (free pages and slack) {:.2} MB, \
             tree height {}",
            s.allocated_pages(),
            mb(s.allocated_pages() * page),
            mb(s.stored_bytes()),
            mb(s.metadata_bytes()),
            mb(s.fragmented_bytes()),
            s.tree_height()
        );
        tx.abort()?;
        let rx = db.begin_read()?;
        for handle in rx.list_tables()? {
            let name = handle.name().to_string();
            let table = rx.open_untyped_table(handle)?;
            let ts = table.stats()?;
            let (stored, meta, free) = (
                ts.stored_bytes(),
                ts.metadata_bytes(),
                ts.fragmented_bytes(),
            );
            out!(
                "  table {name:>16}: {:>7} entries in {:>4} pages, {:.2} MB = stored {:.2} \
                 + B-tree {:.2} + unused in pages {:.2}",
                table.len()?,
                ts.leaf_pages() + ts.branch_pages(),
                mb(stored + meta + free),
                mb(stored),
                mb(meta),
                mb(free)
            );
        }
    }
    let copy = path.with_extension("compacted.redb");
    std::fs::copy(path, &copy)?;
    let mut db = redb::Database::open(&copy)?;
    let t = wall_clock();
    while db.compact()? {}
    let secs = t.elapsed().as_secs_f64();
    drop(db);
    out!(
        "  compacted copy: {:.2} MB (compaction took {secs:.2} s)",
        mb(file_size(&copy)?)
    );
    std::fs::remove_file(&copy)?;
    Ok(())
}

fn main() -> Res<()> {
    let args = parse_args()?;
    if let Some(path) = &args.restart_only {
        return restart_only(&args, path);
    }
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let path = dir.join(FILE);
    if path.exists() {
        return Err(format!("{} exists; give an empty --dir", path.display()).into());
    }
    let n = args.providers;
    let config = config(n)?;
    let t0 = start();
    let until = t0 + args.hours * HOUR;
    out!(
        "store_day: {n} providers in {} services, probe interval 30 s, {} simulated hours, store {}",
        n.div_ceil(PER_SERVICE),
        args.hours,
        path.display()
    );

    let wall = wall_clock();
    let store = RedbStore::open(&path)?;
    let prober = prober(&config, t0);
    let clock_cell = prober.now.clone();
    let clock = move || clock_cell.get();
    let now = prober.now.clone();
    let mut sentinel = sync(Sentinel::open(config.clone(), &store, prober, t0))??;
    sentinel.set_probe_budget(probe_budget(n));

    out!(
        "{:>6} {:>7} {:>10} {:>8} {:>8} {:>7} {:>9} {:>6} {:>8} {:>8}",
        "time",
        "ticks",
        "observed",
        "file MB",
        "max MB",
        "log",
        "state B",
        "audit",
        "tick ms",
        "wall s"
    );
    let every = args.every_minutes.max(1) * MINUTE;
    let (mut ticks, mut observed, mut actions, mut deferred) = (0u64, 0u64, 0u64, 0u64);
    // Largest file seen overall (and when), and within the current row.
    let (mut max_file, mut max_at, mut row_max) = (0u64, t0, 0u64);
    let mut row_ticks = 0u64;
    let mut row_wall = wall_clock();
    let mut next_report = t0 + every;
    while now.get() < until {
        let report = sync(sentinel.tick(&clock))??;
        ticks += 1;
        row_ticks += 1;
        observed += report.observations.len() as u64;
        actions += report.actions.len() as u64;
        deferred += u64::from(report.deferred);
        let size = file_size(&path)?;
        row_max = row_max.max(size);
        if size > max_file {
            (max_file, max_at) = (size, now.get());
        }
        let next = report.next_wakeup.max(now.get() + SECOND);
        now.set(next);
        if next >= next_report || next >= until {
            let minutes = (next - t0) / MINUTE;
            out!(
                "{:>3}:{:02} {ticks:>7} {observed:>10} {:>8.2} {:>8.2} {:>7} {:>9} {:>6} {:>8.1} {:>8.1}",
                minutes / 60,
                minutes % 60,
                mb(size),
                mb(row_max),
                store.observations_len()?,
                sentinel.engine().state().to_bytes().len(),
                store.audit_len()?,
                row_wall.elapsed().as_secs_f64() * 1e3 / row_ticks.max(1) as f64,
                wall.elapsed().as_secs_f64()
            );
            (row_ticks, row_max) = (0, 0);
            row_wall = wall_clock();
            while next_report <= next {
                next_report += every;
            }
        }
    }
    let end = now.get();
    let final_size = file_size(&path)?;
    out!(
        "\nafter {:.2} simulated hours: {ticks} ticks, {observed} observations, {actions} actions, \
         {deferred} probes deferred, {:.1} s wall",
        (end - t0) as f64 / HOUR as f64,
        wall.elapsed().as_secs_f64()
    );
    out!(
        "final file size: {:.2} MB (largest seen {:.2} MB, at {:.2} h; goal ≤ 50 MB)",
        mb(final_size),
        mb(max_file),
        (max_at - t0) as f64 / HOUR as f64
    );
    drop(sentinel);
    drop(store);
    out!("file size after closing: {:.2} MB", mb(file_size(&path)?));

    out!("restart in this process:");
    out!("  before: {}", rss_text());
    let reset = reset_peak_rss();
    let (secs, state, logged) = restart(&config, &path, end)?;
    out!(
        "  Sentinel::open (load + replay) took {secs:.3} s; state {state} B, \
         {logged} observations in the log"
    );
    out!(
        "  after: {}{}",
        rss_text(),
        if reset {
            " (peak reset just before the restart)"
        } else {
            " (peak could not be reset: it includes the simulation)"
        }
    );
    out!(
        "  file size after the reopen: {:.2} MB",
        mb(file_size(&path)?)
    );

    out!("restart in a fresh process:");
    let child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--providers",
            &n.to_string(),
            "--now",
            &end.to_string(),
            RESTART_ONLY,
        ])
        .arg(&path)
        .output()?;
    std::io::stdout().lock().write_all(&child.stdout)?;
    if !child.status.success() {
        return Err(format!(
            "the fresh-process restart failed: {}",
            String::from_utf8_lossy(&child.stderr)
        )
        .into());
    }

    out!("where the bytes are:");
    redb_report(&path)?;
    Ok(())
}
