//! `sentinel demo`: the whole system on one machine in a few minutes.
//!
//! Starts three local HTTP API providers of a `prices` service and, when
//! anvil is installed, three anvil nodes of an `eth` service (plus one on
//! the wrong chain), then plays a scripted timeline of faults against them
//! while the sentinel runs with its dashboard, API and proxy served. The
//! terminal shows each probe round, every score change that matters and
//! every switch, alert and budget step as it happens.

// The demo and the CLI talk to a person on the terminal.
#![allow(clippy::print_stdout)]

use crate::runner::{self, RunOptions};
use crate::testbed::{find_anvil, Anvil, FakeApi, Mode};
use sentinel_core::action::Action;
use sentinel_core::config::Config;
use sentinel_core::engine::Engine;
use sentinel_core::tick::TickReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;
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
evm = { chain_id = 31337, max_block_age = "6s", max_lag_blocks = 3 }
"#,
        );
        for (i, (id, url)) in evm.iter().enumerate() {
            let initial = if i == 0 { "active" } else { "standby" };
            let _ = write!(t, "\n[[service.provider]]\nid = \"{id}\"\nendpoint = \"{url}\"\ninitial = \"{initial}\"\n");
        }
    }
    Config::from_toml(&t).map_err(|e| DemoError::Config(e.to_string()))
}

struct Step {
    at: u64,
    what: &'static str,
}

const TIMELINE: &[Step] = &[
    Step {
        at: 20,
        what: "prices-a goes down",
    },
    Step {
        at: 45,
        what: "eth-1 (anvil) is killed",
    },
    Step {
        at: 60,
        what: "prices-a comes back",
    },
    Step {
        at: 70,
        what: "prices-b slows down by 1.5 s",
    },
    Step {
        at: 110,
        what: "eth-2 stops mining (stale head)",
    },
    Step {
        at: 120,
        what: "prices-c serves stale data",
    },
    Step {
        at: 150,
        what: "prices-b recovers; proxy traffic burns prices quotas",
    },
    Step {
        at: 200,
        what: "prices-c serves wrong data",
    },
    Step {
        at: 240,
        what: "timeline complete: everything keeps running",
    },
];

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
    let timeline = tokio::spawn(play(
        apis.clone(),
        nodes,
        started,
        ready_rx,
        proxied.clone(),
    ));
    let mut display = Display::new(started, proxied);
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

async fn play(
    apis: Vec<FakeApi>,
    mut nodes: Vec<Anvil>,
    started: Instant,
    ready: tokio::sync::oneshot::Receiver<SocketAddr>,
    proxied: Arc<AtomicU64>,
) {
    let Ok(addr) = ready.await else { return };
    let wait_until = |s: u64| {
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            started + Duration::from_secs(s),
        ))
    };
    let mut load: Option<tokio::task::JoinHandle<()>> = None;
    for step in TIMELINE {
        wait_until(step.at).await;
        println!("\x1b[1;35m▶ t+{:>3}s  {}\x1b[0m", step.at, step.what);
        let r = match step.at {
            20 => apis[0].set(Mode::Outage).await,
            45 => {
                if let Some(n) = nodes.first_mut() {
                    n.kill().await;
                }
                Ok(())
            }
            60 => apis[0].set(Mode::Healthy).await,
            70 => apis[1].set(Mode::Slow(1500)).await,
            110 => match nodes.get(1) {
                Some(n) => n.stop_mining().await.map(|_| ()),
                None => Ok(()),
            },
            120 => apis[2].set(Mode::Stale).await,
            150 => {
                let r = apis[1].set(Mode::Healthy).await;
                let p = proxied.clone();
                load = Some(tokio::spawn(burn(addr, p)));
                r
            }
            200 => apis[2].set(Mode::Wrong).await,
            _ => Ok(()),
        };
        if let Err(e) = r {
            println!("  (fault injection failed: {e})");
        }
    }
    if let Some(l) = load {
        let _ = l.await;
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
}

impl Display {
    fn new(started: Instant, proxied: Arc<AtomicU64>) -> Self {
        Display {
            started,
            last_cards: BTreeMap::new(),
            ticks: 0,
            proxied,
        }
    }

    fn show(&mut self, report: &TickReport, engine: &Engine) {
        self.ticks += 1;
        let t = self.started.elapsed().as_secs();
        for a in &report.actions {
            match a {
                Action::Switch { record } => println!(
                    "\x1b[1;33m⇄ t+{t:>3}s  SWITCH {}: {} → {}  ({})\x1b[0m",
                    record.service,
                    record.from.as_ref().map_or("-", |p| p.as_str()),
                    record.to,
                    sentinel_core::words::sentence(
                        &record.reason,
                        record.from.as_ref().map_or("the service", |p| p.as_str())
                    )
                ),
                Action::Alert {
                    key,
                    message,
                    firing: true,
                    severity,
                } => println!("\x1b[31m! t+{t:>3}s  ALERT [{severity:?}] {key}: {message}\x1b[0m"),
                Action::Alert {
                    key, firing: false, ..
                } => println!("\x1b[32m✓ t+{t:>3}s  resolved {key}\x1b[0m"),
                Action::BudgetStep {
                    target, from, to, ..
                } => println!("\x1b[36m$ t+{t:>3}s  budget {target}: {from:?} → {to:?}\x1b[0m"),
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
                let dot = if up {
                    "\x1b[32m●\x1b[0m"
                } else {
                    "\x1b[31m●\x1b[0m"
                };
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
        let total = TIMELINE.last().map_or(1, |s| s.at);
        let done = (t.min(total) * 20 / total) as usize;
        let _ = write!(line, "  [{}{}]", "#".repeat(done), "-".repeat(20 - done));
        println!("{line}");
    }
}
