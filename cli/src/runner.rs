//! The run loop: ticks on the core's wake-ups, serves the HTTP API, applies
//! submissions and proxy usage between ticks, and on Ctrl-C (or SIGTERM)
//! finishes the tick in flight and saves.
//!
//! The tick runs on the main task; the HTTP server's tasks never wait for
//! it. They read an immutable snapshot of the engine (an `Arc<Engine>`
//! swapped after every tick and command) and send mutations — provider
//! submissions, proxy usage — to the loop through a channel. So the API and
//! the proxy stay responsive while probes are in flight.

use crate::http::HttpClient;
use crate::notify::Notifier;
use crate::server::{self, Command, Shared};
use crate::store::RedbStore;
use sentinel_core::action::Action;
use sentinel_core::config::Config;
use sentinel_core::engine::{Engine, Event, EventKind, UsageTarget};
use sentinel_core::probe::Observation;
use sentinel_core::secret::SecretKey;
use sentinel_core::tick::{Sentinel, TickError, TickReport};
use sentinel_core::UnixMillis;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// The wall clock in Unix milliseconds: the only clock in the process.
#[allow(clippy::disallowed_methods)] // the shell owns the clock; the core never reads one
pub fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Errors of the run loop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A tick failed for good.
    #[error("tick: {0}")]
    Tick(#[from] TickError<crate::store::StoreError>),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(String),
}

/// Called after every committed tick (the demo and `run --verbose` print
/// from it).
pub type Observer = Box<dyn FnMut(&TickReport, &Engine)>;

/// How to run.
pub struct RunOptions {
    /// HTTP listener.
    pub listen: SocketAddr,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// Key that opens sealed credentials.
    pub key: Option<SecretKey>,
    /// Bearer token for mutating routes (`None`: they are refused).
    pub token: Option<String>,
    /// Webhook URLs for alerts.
    pub webhooks: Vec<String>,
    /// Stop by itself after this long (tests, benchmarks, the demo).
    pub stop_after: Option<Duration>,
    /// Told the bound address once listening.
    pub ready: Option<oneshot::Sender<SocketAddr>>,
    /// Stops the loop (like Ctrl-C) when it fires or its sender is dropped.
    pub stop: Option<oneshot::Receiver<()>>,
    /// Per-tick callback.
    pub observer: Option<Observer>,
    /// Proxy hedging: ask the next provider too when the active one has
    /// not answered within its p95 latency.
    pub hedge: bool,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("webhooks", &self.webhooks.len())
            .finish_non_exhaustive()
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs the sentinel until stopped.
pub async fn run(config: Config, mut opts: RunOptions) -> Result<(), RunError> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(|e| RunError::Store(crate::store::StoreError::Io(e.to_string())))?;
    let store = RedbStore::open(opts.data_dir.join("sentinel.redb"))?;
    let client = HttpClient::new(opts.key.clone()).map_err(|e| RunError::Http(e.to_string()))?;
    let mut sentinel = Sentinel::open(config.clone(), store, client.clone(), now_ms()).await?;
    let recent: Vec<Observation> = sentinel.store().observations_tail(500).unwrap_or_default();
    let (tx, mut rx) = mpsc::channel::<Command>(4096);
    let policy = sentinel_core::proxy::ProxyPolicy {
        hedge: opts.hedge,
        ..Default::default()
    };
    let shared = Arc::new(Shared::new(
        sentinel.engine().clone(),
        recent,
        tx,
        client,
        opts.token.clone(),
        policy,
    ));
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Bind {
        addr: opts.listen,
        source,
    })?;
    tracing::info!(%addr, sentinel = %config.sentinel.id, "listening");
    if let Some(ready) = opts.ready.take() {
        let _ = ready.send(addr);
    }
    let server = tokio::spawn(server::serve(listener, shared.clone()));
    let notifier = Notifier::new(opts.webhooks.clone())
        .with_dedup_file(opts.data_dir.join("alerts-sent.json"));
    let deadline = opts.stop_after.map(|d| tokio::time::Instant::now() + d);
    let external = opts.stop.take();
    let stop = async move {
        match external {
            Some(rx) => {
                tokio::select! {
                    _ = shutdown_signal() => {}
                    _ = rx => {}
                }
            }
            None => shutdown_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut next = now_ms();
    loop {
        let wait = Duration::from_millis(next.saturating_sub(now_ms()));
        let until_deadline =
            deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            biased;
            _ = &mut stop => {
                tracing::info!("stopping: saving state");
                break;
            }
            _ = tokio::time::sleep(until_deadline.unwrap_or(Duration::MAX)), if until_deadline.is_some() => {
                tracing::info!("stop-after reached: saving state");
                break;
            }
            cmd = rx.recv() => {
                if let Some(cmd) = cmd {
                    // A submission changes the registry: publish at once.
                    apply(&mut sentinel, cmd).await;
                    shared.publish(sentinel.engine().clone(), None);
                }
            }
            _ = tokio::time::sleep(wait) => {
                // Book the proxied usage first so the tick sees it.
                record_usage(&mut sentinel, &shared);
                match sentinel.tick(&now_ms).await {
                    Ok(report) => {
                        // The sentinel's own footprint: one observation-log
                        // write and one state commit per tick.
                        let own = Event { source: "local".into(), seq: next_seq(), at: now_ms(), kind: EventKind::Usage { target: UsageTarget::Sentinel, metric: sentinel_core::books::Metric::Writes, amount: 2 } };
                        sentinel.record(now_ms(), &[own]);
                        next = report.next_wakeup.max(now_ms() + 200);
                        for a in &report.actions {
                            log_action(a);
                            if matches!(a, Action::Alert { .. }) {
                                notifier.send(a).await;
                            }
                        }
                        shared.publish(sentinel.engine().clone(), Some(&report.observations));
                        if let Some(obs) = opts.observer.as_mut() {
                            obs(&report, sentinel.engine());
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "tick failed; retrying in 5 s");
                        next = now_ms() + 5_000;
                    }
                }
            }
        }
    }
    while let Ok(cmd) = rx.try_recv() {
        apply(&mut sentinel, cmd).await;
    }
    record_usage(&mut sentinel, &shared);
    let v = sentinel.save(now_ms()).await?;
    tracing::info!(version = v, "state saved");
    server.abort();
    Ok(())
}

/// Sequence numbers for events this process records: they start above
/// any earlier run's (the start time, shifted) and only grow.
static EVENT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn next_seq() -> u64 {
    let _ = EVENT_SEQ.compare_exchange(
        0,
        now_ms() << 16,
        std::sync::atomic::Ordering::SeqCst,
        std::sync::atomic::Ordering::SeqCst,
    );
    EVENT_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
}

fn record_usage(sentinel: &mut Sentinel<RedbStore, HttpClient>, shared: &Shared) {
    let kinds = shared.take_usage();
    if kinds.is_empty() {
        return;
    }
    let now = now_ms();
    let events: Vec<Event> = kinds
        .into_iter()
        .map(|kind| Event {
            source: "local".into(),
            seq: next_seq(),
            at: now,
            kind,
        })
        .collect();
    let r = sentinel.record(now, &events);
    if !r.rejected.is_empty() {
        tracing::warn!(rejected = ?r.rejected, "usage events rejected");
    }
}

async fn apply(sentinel: &mut Sentinel<RedbStore, HttpClient>, cmd: Command) {
    match cmd {
        Command::Submit {
            service,
            provider,
            reply,
        } => {
            let result = match sentinel.submit(now_ms(), &service, *provider).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "submission could not be committed");
                    let mut errs = sentinel_core::config::Errors::default();
                    errs.push_key("store", format!("could not commit: {e}"));
                    Err(errs)
                }
            };
            let _ = reply.send(result);
        }
    }
}

fn log_action(a: &Action) {
    match a {
        Action::Switch { record } => tracing::warn!(
            service = %record.service,
            from = record.from.as_ref().map_or("-", |p| p.as_str()),
            to = %record.to,
            reason = record.reason.name(),
            "switched"
        ),
        Action::Alert {
            key,
            severity,
            message,
            firing,
        } => tracing::warn!(%key, ?severity, firing, "{message}"),
        other => tracing::info!(action = ?other, "action"),
    }
}
