//! `sentinel demo`: the whole system on one machine in a few minutes.
//!
//! Starts three local HTTP API providers of a `prices` service and, when
//! anvil is installed, three anvil nodes of an `eth` service (plus one on
//! the wrong chain), then plays a scripted timeline of faults against them
//! while the sentinel runs with its dashboard, API and proxy served. The
//! terminal shows each probe round, every score change that matters and
//! every switch, alert and budget step as it happens.
//!
//! It colours its lines only when stdout is a terminal and `NO_COLOR` is
//! not set ([`use_colour`]): piped into a file or a CI log, it prints
//! plain text. And it narrates only what happened: a fault is announced
//! after it was injected, naming the provider it hit, and a step whose
//! provider does not exist (the anvil nodes, when anvil is missing) is not
//! announced at all.

// The demo and the CLI talk to a person on the terminal.
#![allow(clippy::print_stdout)]

use crate::runner::{self, RunOptions};
use crate::testbed::{find_anvil, Anvil, FakeApi, Mode};
use sentinel_core::action::Action;
use sentinel_core::config::Config;
use sentinel_core::engine::Engine;
use sentinel_core::tick::TickReport;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Demo options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Listener for the dashboard, API and proxy.
    pub listen: SocketAddr,
    /// Stop after this long (default: until Ctrl-C).
    pub duration: Option<Duration>,
    /// Store directory (default: a fresh temporary one).
    pub data: Option<PathBuf>,
    /// Start anvil nodes when anvil is installed.
    pub anvil: bool,
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A local provider could not start.
    #[error("cannot start a local provider: {0}")]
    Io(#[from] std::io::Error),
    /// The generated configuration is invalid (a bug).
    #[error("demo configuration: {0}")]
    Config(String),
    /// The sentinel failed.
    #[error(transparent)]
    Run(#[from] runner::RunError),
}

/// The demo's configuration: fast intervals so minutes of demo show what
/// hours of production would.
pub fn config(apis: &[FakeApi], evm: &[(String, String)]) -> Result<Config, DemoError> {
    let mut t = String::from(
        r#"[sentinel]
id = "demo"
allow_private_targets = true
max_tick_gap = "2s"

[policy.switching]
down_after = "5s"
min_dwell = "20s"
canary_timeout = "5s"
flap_half_life = "1m"

[policy.lifecycle]
testing_period = "1m"
recovery_period = "15s"

[policy.reputation]
full_confidence_samples = 30

[[service]]
id = "prices"
kind = "api"
description = "A price API served by three local providers"
probe_interval = "2s"
target_latency = "200ms"

[service.probe]
path = "/health"
timeout = "2s"

[service.probe.checks]
assertions = [{ pointer = "/status", equals = "ok" }, { pointer = "/value", min = 0, max = 1000 }]
schema = { type = "object", required = ["status", "value", "updated_at"] }
freshness = { pointer = "/updated_at", max_age = "10s", format = "unix-seconds" }
consistency = { pointer = "/value" }
"#,
    );
    for (i, api) in apis.iter().enumerate() {
        let initial = if i == 0 { "active" } else { "standby" };
        let _ = write!(
            t,
            r#"
[[service.provider]]
id = "{}"
name = "Local API {}"
endpoint = "{}"
initial = "{initial}"
limits = {{ quotas = [{{ metric = "requests", limit = 1500, period = "minute" }}, {{ metric = "requests", limit = 100000, period = "day" }}] }}
cost = {{ per_request_usd = 0.000001, free_tier = {{ requests = 10000 }} }}
"#,
            api.name,
            api.name.to_uppercase(),
            api.url()
        );
    }
    if !evm.is_empty() {
        t.push_str(
            r#"
[[service]]
id = "eth"
kind = "evm-rpc"
description = "A local EVM chain served by anvil nodes"
probe_interval = "2s"
# The demo's anvil nodes are independent chains under one chain id (each
# mines its own blocks): compare their chain ids and heights, not hashes.
evm = { chain_id = 31337, max_block_age = "6s", max_lag_blocks = 3, compare_hashes = false }
"#,
        );
        for (i, (id, url)) in evm.iter().enumerate() {
            let initial = if i == 0 { "active" } else { "standby" };
            let _ = write!(t, "\n[[service.provider]]\nid = \"{id}\"\nendpoint = \"{url}\"\ninitial = \"{initial}\"\n");
        }
    }
    Config::from_toml(&t).map_err(|e| DemoError::Config(e.to_string()))
}

/// Whether to colour output: only on a terminal, and only when
/// `NO_COLOR` is unset or empty (<https://no-color.org>).
pub fn use_colour(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
struct Paint {
    on: bool,
}

impl Paint {
    /// For stdout, as [`use_colour`] decides.
    fn stdout() -> Paint {
        Paint {
            on: use_colour(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ),
        }
    }

    /// `text` in the SGR style `code` (`1;35`, `31`…), when colouring.
    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The seconds at which the timeline acts; see [`play`].
const TIMELINE: &[u64] = &[20, 45, 60, 70, 110, 120, 150, 200, 240];

/// Runs the demo.
pub async fn run(opts: DemoOptions) -> Result<(), DemoError> {
    let apis = vec![
        FakeApi::spawn("prices-a").await?,
        FakeApi::spawn("prices-b").await?,
        FakeApi::spawn("prices-c").await?,
    ];
    let mut nodes: Vec<Anvil> = Vec::new();
    if opts.anvil {
        match find_anvil() {
            Some(bin) => {
                for chain in [31337, 31337, 31337, 31338] {
                    match Anvil::spawn(&bin, chain, 1).await {
                        Ok(n) => nodes.push(n),
                        Err(e) => println!("  (anvil did not start: {e}; continuing without it)"),
                    }
                }
            }
            None => println!("  (anvil not found: the eth service is skipped; `npm install @foundry-rs/anvil` to add it)"),
        }
    }
    let evm: Vec<(String, String)> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                if n.chain_id == 31337 {
                    format!("eth-{}", i + 1)
                } else {
                    "eth-wrong-chain".to_string()
                },
                n.url(),
            )
        })
        .collect();
    let cfg = config(&apis, &evm)?;
    let data = match &opts.data {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("sentinel-demo-{}", std::process::id())),
    };
    println!("Bookkeeper Sentinel demo");
    println!("  dashboard  http://{}/", opts.listen);
    println!("  proxy      http://{}/proxy/prices/v1/price", opts.listen);
    println!("  metrics    http://{}/metrics", opts.listen);
    println!("  store      {}", data.display());
    for a in &apis {
        println!("  provider   {:<16} {}", a.name, a.url());
    }
    for (id, url) in &evm {
        println!("  provider   {id:<16} {url} (anvil)");
    }
    println!();

    let started = Instant::now();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let proxied = Arc::new(AtomicU64::new(0));
    let paint = Paint::stdout();
    let nodes: Vec<(String, Anvil)> = evm.iter().map(|(id, _)| id.clone()).zip(nodes).collect();
    let timeline = tokio::spawn(play(
        apis.clone(),
        nodes,
        started,
        ready_rx,
        proxied.clone(),
        paint,
    ));
    let mut display = Display::new(started, proxied, paint);
    let run_opts = RunOptions {
        listen: opts.listen,
        data_dir: data,
        key: None,
        token: Some("demo-token".into()),
        webhooks: Vec::new(),
        stop_after: opts.duration,
        ready: Some(ready_tx),
        stop: None,
        observer: Some(Box::new(move |report, engine| display.show(report, engine))),
        hedge: false,
    };
    let result = runner::run(cfg, run_opts).await;
    timeline.abort();
    result?;
    println!("demo finished after {} s", started.elapsed().as_secs());
    Ok(())
}

/// Plays the timeline, announcing each fault once it is injected, with the
/// name of the provider it hit; a step without its provider is skipped.
async fn play(
    apis: Vec<FakeApi>,
    mut nodes: Vec<(String, Anvil)>,
    started: Instant,
    ready: tokio::sync::oneshot::Receiver<SocketAddr>,
    proxied: Arc<AtomicU64>,
    paint: Paint,
) {
    let Ok(addr) = ready.await else { return };
    let wait_until = |s: u64| {
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            started + Duration::from_secs(s),
        ))
    };
    let mut load: Option<tokio::task::JoinHandle<()>> = None;
    let api = |i: usize| apis.get(i).map(|a| a.name.clone()).unwrap_or_default();
    for &at in TIMELINE {
        wait_until(at).await;
        // What happened, or why it did not; `None` when the step's
        // provider is not part of this demo.
        let done: Option<Result<String, String>> = match at {
            20 => Some(
                set(&apis, 0, Mode::Outage)
                    .await
                    .map(|()| format!("{} goes down", api(0))),
            ),
            45 => match nodes.first_mut() {
                Some((id, n)) => {
                    n.kill().await;
                    Some(Ok(format!("{id} (anvil) is killed")))
                }
                None => None,
            },
            60 => Some(
                set(&apis, 0, Mode::Healthy)
                    .await
                    .map(|()| format!("{} comes back", api(0))),
            ),
            70 => Some(
                set(&apis, 1, Mode::Slow(1500))
                    .await
                    .map(|()| format!("{} slows down by 1.5 s", api(1))),
            ),
            110 => match nodes.get(1) {
                Some((id, n)) => Some(
                    n.stop_mining()
                        .await
                        .map(|_| format!("{id} (anvil) stops mining (stale head)"))
                        .map_err(|e| e.to_string()),
                ),
                None => None,
            },
            120 => Some(
                set(&apis, 2, Mode::Stale)
                    .await
                    .map(|()| format!("{} serves stale data", api(2))),
            ),
            150 => {
                let r = set(&apis, 1, Mode::Healthy).await;
                load = Some(tokio::spawn(burn(addr, proxied.clone())));
                Some(Ok(match r {
                    Ok(()) => format!("{} recovers; proxy traffic burns prices quotas", api(1)),
                    Err(e) => format!(
                        "proxy traffic burns prices quotas ({} did not recover: {e})",
                        api(1)
                    ),
                }))
            }
            200 => Some(
                set(&apis, 2, Mode::Wrong)
                    .await
                    .map(|()| format!("{} serves wrong data", api(2))),
            ),
            _ => Some(Ok("timeline complete: everything keeps running".to_string())),
        };
        match done {
            Some(Ok(what)) => println!("{}", paint.paint("1;35", &format!("▶ t+{at:>3}s  {what}"))),
            Some(Err(e)) => println!("  t+{at:>3}s  (fault injection failed: {e})"),
            None => {}
        }
    }
    if let Some(l) = load {
        let _ = l.await;
    }
}

/// Sets the mode of the `i`th local API.
async fn set(apis: &[FakeApi], i: usize, mode: Mode) -> Result<(), String> {
    match apis.get(i) {
        Some(a) => a.set(mode).await.map_err(|e| e.to_string()),
        None => Err(format!("no local API #{i}")),
    }
}

/// Sends proxied traffic for a while (bounded: 60 s at ~40 requests/s).
async fn burn(addr: SocketAddr, proxied: Arc<AtomicU64>) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return;
    };
    let url = format!("http://{addr}/proxy/prices/v1/price");
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    for _ in 0..2400 {
        tick.tick().await;
        let c = client.clone();
        let u = url.clone();
        let p = proxied.clone();
        tokio::spawn(async move {
            if let Ok(r) = c.get(&u).send().await {
                if r.status().is_success() {
                    p.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

struct Display {
    started: Instant,
    last_cards: BTreeMap<String, sentinel_core::reputation::ScoreCard>,
    ticks: u64,
    proxied: Arc<AtomicU64>,
    paint: Paint,
}

impl Display {
    fn new(started: Instant, proxied: Arc<AtomicU64>, paint: Paint) -> Self {
        Display {
            started,
            last_cards: BTreeMap::new(),
            ticks: 0,
            proxied,
            paint,
        }
    }

    fn show(&mut self, report: &TickReport, engine: &Engine) {
        self.ticks += 1;
        let t = self.started.elapsed().as_secs();
        let paint = self.paint;
        for a in &report.actions {
            match a {
                Action::Switch { record } => println!(
                    "{}",
                    paint.paint(
                        "1;33",
                        &format!(
                            "⇄ t+{t:>3}s  SWITCH {}: {} → {}  ({})",
                            record.service,
                            record.from.as_ref().map_or("-", |p| p.as_str()),
                            record.to,
                            sentinel_core::words::sentence(
                                &record.reason,
                                record.from.as_ref().map_or("the service", |p| p.as_str())
                            )
                        )
                    )
                ),
                Action::Alert {
                    key,
                    message,
                    firing: true,
                    severity,
                } => println!(
                    "{}",
                    paint.paint(
                        "31",
                        &format!("! t+{t:>3}s  ALERT [{severity:?}] {key}: {message}")
                    )
                ),
                Action::Alert {
                    key, firing: false, ..
                } => println!(
                    "{}",
                    paint.paint("32", &format!("✓ t+{t:>3}s  resolved {key}"))
                ),
                Action::BudgetStep {
                    target, from, to, ..
                } => println!(
                    "{}",
                    paint.paint(
                        "36",
                        &format!("$ t+{t:>3}s  budget {target}: {from:?} → {to:?}")
                    )
                ),
                Action::Lifecycle {
                    provider,
                    from,
                    to,
                    why,
                } => println!("  t+{t:>3}s  {provider}: {from} → {to} ({why})"),
                Action::SwitchAborted {
                    service,
                    candidate,
                    why,
                } => println!("  t+{t:>3}s  {service}: switch to {candidate} aborted ({why})"),
                _ => {}
            }
        }
        if report.probes == 0 {
            return;
        }
        let mut line = format!(
            "· t+{t:>3}s  round {:>3}  {} probes",
            self.ticks, report.probes
        );
        let now = report.at;
        for svc in engine.registry().services() {
            let active = engine
                .state()
                .services
                .get(&svc.config.id)
                .and_then(|s| s.active.clone());
            let _ = write!(line, "  │ {}:", svc.config.id);
            for id in &svc.providers {
                let Some(rep) = engine.reputation(id, now) else {
                    continue;
                };
                let ps = &engine.state().providers[id];
                let up = ps.last.as_ref().is_some_and(|l| l.healthy);
                let mark = if active.as_ref() == Some(id) { "*" } else { "" };
                let dot = paint.paint(if up { "32" } else { "31" }, "●");
                let _ = write!(line, " {dot}{id}{mark} {}", rep.total);
                let prev = self.last_cards.insert(id.to_string(), rep.card());
                if let Some(p) = prev {
                    let d = rep.total.delta(p.total);
                    if d.abs() >= 300 {
                        let e = rep.explain(Some(&p));
                        println!(
                            "  t+{t:>3}s  score {id}: {} → {} ({} moved most)",
                            p.total,
                            rep.total,
                            e.moved_most.unwrap_or_else(|| "confidence".into())
                        );
                    }
                }
            }
        }
        let proxied = self.proxied.load(Ordering::Relaxed);
        if proxied > 0 {
            let _ = write!(line, "  │ proxied {proxied}");
        }
        let total = TIMELINE.last().copied().unwrap_or(1);
        let done = (t.min(total) * 20 / total) as usize;
        let _ = write!(line, "  [{}{}]", "#".repeat(done), "-".repeat(20 - done));
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new("1"))));
        assert_eq!(Paint { on: false }.paint("31", "x"), "x");
        assert_eq!(Paint { on: true }.paint("31", "x"), "\x1b[31mx\x1b[0m");
    }
}
