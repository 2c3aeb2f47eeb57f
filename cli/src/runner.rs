//! The run loop: ticks on the core's wake-ups through the shared
//! scheduled entry point, serves HTTP through the shared request entry
//! point, delivers the alert outbox off both paths, and on Ctrl-C (or
//! SIGTERM) finishes the tick in flight and saves.
//!
//! The tick runs on the main task; the server's tasks never wait for it
//! (they read the host's published view), and neither does delivery.

pub use crate::clock::now_ms;
use crate::server::LocalHost;
use crate::store::{RedbStore, StoreError};
use sentinel_core::config::Config;
use sentinel_core::engine::Engine;
use sentinel_core::host::limits::LimitsError;
use sentinel_core::host::{ConnectionLimits, Host, HostError, HostOptions, HostSentinel};
use sentinel_core::proxy::ProxyPolicy;
use sentinel_core::secret::SecretKey;
use sentinel_core::tick::{TickError, TickReport};
use sentinel_core::UnixMillis;
use sentinel_native::{NativeOutbound, TokioTimer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

type LocalSentinel = HostSentinel<Arc<RedbStore>, NativeOutbound, TokioTimer>;

/// Probes the local binary runs at once in one tick: enough for a few
/// thousand providers on 30 s intervals, few enough to stay well under the
/// process's file-descriptor limit. What does not fit is deferred to the
/// next tick (at once), counted and alerted on.
pub const PROBE_BUDGET: u32 = 512;

/// Errors of the run loop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Opening or a tick failed for good.
    #[error("{0}")]
    Host(#[from] HostError<StoreError>),
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
    Http(#[from] sentinel_native::NativeError),
    /// A connection-limit variable (`SENTINEL_MAX_CONNECTIONS`, …) is not
    /// usable.
    #[error("connection limits: {0}")]
    Limits(#[from] LimitsError),
    /// A peer's shared secret is missing or unusable.
    #[error("{0}")]
    Peers(String),
    /// `[chain]` is configured and its key is missing or unusable.
    #[error(transparent)]
    Anchor(#[from] sentinel_core::chain::AnchorSetupError),
    /// `[discovery] catalog` names a file that cannot be read or is not
    /// a valid catalog.
    #[error("discovery catalog {path}: {reason}")]
    Catalog {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The catalog `[discovery] catalog` names (a path the configuration's
/// loader made absolute), or `None` for the built-in one.
pub fn load_catalog(
    config: &sentinel_core::config::Config,
) -> Result<Option<Arc<sentinel_core::discovery::Catalog>>, RunError> {
    let Some(path) = &config.discovery.catalog else {
        return Ok(None);
    };
    let err = |reason: String| RunError::Catalog {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let catalog = sentinel_core::discovery::Catalog::parse(&text)
        .map_err(|e| err(format!("invalid:\n{e}")))?;
    Ok(Some(Arc::new(catalog)))
}

impl From<TickError<StoreError>> for RunError {
    fn from(e: TickError<StoreError>) -> Self {
        RunError::Host(HostError::Tick(e))
    }
}

/// Called after every committed tick (the demo prints from it).
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
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Delivers the outbox every second and journals proxied usage every
/// 200 ms, off the tick's path.
async fn background(host: Arc<LocalHost>) {
    let deliver = async {
        loop {
            host.deliver(now_ms()).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let journal = async {
        loop {
            if let Err(e) = host.flush_usage(now_ms()).await {
                tracing::warn!(error = %e, "cannot journal proxied usage; it is booked at the next tick");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::join!(deliver, journal);
}

/// The number of server threads: `SENTINEL_WORKER_THREADS` when it is a
/// positive number, else one per core.
pub fn server_threads(var: impl Fn(&str) -> Option<String>) -> usize {
    var("SENTINEL_WORKER_THREADS")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs the sentinel until stopped.
///
/// The server's connection limits come from the environment
/// (`SENTINEL_MAX_CONNECTIONS`, `SENTINEL_MAX_CLIENT_CONNECTIONS`,
/// `SENTINEL_HEADER_TIMEOUT_MS`, `SENTINEL_IDLE_TIMEOUT_MS`,
/// `SENTINEL_BODY_TIMEOUT_MS`; see [`sentinel_core::host::limits`]).
pub async fn run(config: Config, mut opts: RunOptions) -> Result<(), RunError> {
    let limits = ConnectionLimits::from_vars(|k| std::env::var(k).ok())?;
    let store = Arc::new(RedbStore::open(opts.data_dir.join("sentinel.redb"))?);
    let client = sentinel_native::client(opts.key.clone())?;
    let host_opts = HostOptions {
        token: opts.token.clone(),
        webhooks: opts.webhooks.clone(),
        policy: ProxyPolicy {
            hedge: opts.hedge,
            ..ProxyPolicy::default()
        },
        probe_budget: PROBE_BUDGET,
        // Tokens for services whose proxy route needs one, comma-separated
        // (a secret, like the admin token: from the environment).
        proxy_tokens: sentinel_core::host::env::list(std::env::var("SENTINEL_PROXY_TOKENS").ok()),
        // Secrets shared with the `[[peer]]` sentinels
        // (`SENTINEL_PEER_SECRET_<ID>` or `SENTINEL_PEER_SECRET`).
        peer_secrets: sentinel_core::peer::secrets_from(&config, |k| std::env::var(k).ok())
            .map_err(RunError::Peers)?,
        // The key that signs attestation records and pays for their
        // transactions (`SENTINEL_CHAIN_KEY`), when `[chain]` is set.
        anchor: sentinel_core::chain::Anchor::from_config(&config, |k| std::env::var(k).ok())?,
        catalog: load_catalog(&config)?,
        ..HostOptions::default()
    };
    let (host, mut sentinel) = Host::open(config, store, client, host_opts, now_ms()).await?;
    let host = Arc::new(host);
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
    tracing::info!(%addr, "listening");
    if let Some(ready) = opts.ready.take() {
        let _ = ready.send(addr);
    }
    tracing::info!(
        max_connections = limits.max_connections,
        max_client_connections = limits.max_client_connections,
        header_timeout_ms = limits.header_timeout_ms,
        idle_timeout_ms = limits.idle_timeout_ms,
        "connection limits"
    );
    let threads = server_threads(|k| std::env::var(k).ok());
    tracing::info!(threads, "server threads");
    let listener = listener.into_std().map_err(|source| RunError::Bind {
        addr: opts.listen,
        source,
    })?;
    let servers = crate::server::Servers::start(listener, host.clone(), limits, threads).map_err(
        |source| RunError::Bind {
            addr: opts.listen,
            source,
        },
    )?;
    let delivery = tokio::spawn(background(host.clone()));
    let deadline = opts.stop_after.map(|d| tokio::time::Instant::now() + d);
    let external = opts.stop.take();
    let stop = async move {
        match external {
            Some(rx) => tokio::select! {
                _ = shutdown_signal() => {}
                _ = rx => {}
            },
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
            _ = tokio::time::sleep(wait) => {
                next = tick(&host, &mut sentinel, &mut opts.observer).await;
            }
        }
    }
    delivery.abort();
    let v = host.save(&mut sentinel, now_ms()).await?;
    tracing::info!(version = v, "state saved");
    // Joining the server threads blocks; not on the runtime's own thread.
    if tokio::task::spawn_blocking(move || servers.stop())
        .await
        .is_err()
    {
        tracing::error!("the server threads did not stop cleanly");
    }
    Ok(())
}

async fn tick(
    host: &LocalHost,
    sentinel: &mut LocalSentinel,
    observer: &mut Option<Observer>,
) -> UnixMillis {
    match host.scheduled(sentinel, &now_ms).await {
        Ok(report) => {
            if let Some(obs) = observer.as_mut() {
                obs(&report, sentinel.engine());
            }
            report.next_wakeup.max(now_ms() + 200)
        }
        Err(e) => {
            tracing::error!(error = %e, "tick failed; retrying in 5 s");
            now_ms() + 5_000
        }
    }
}
