//! The Lambda's handler: one function for the Function URL and the
//! EventBridge schedule (lambda_http with `pass_through`: a scheduled
//! event arrives as a request whose context is `PassThrough` and whose
//! body is the event). A plain async function over the shared host, so
//! it is tested with constructed events.
//!
//! Every invocation opens the host over the table (one consistent read of
//! the state), so any instance serves the latest committed state; a
//! request journals what it booked (proxied usage, the invocation, its
//! GB-milliseconds, its reads) before it answers (a Lambda is frozen once
//! it has answered); a tick books the journal, runs through
//! `Host::scheduled`, delivers alerts (each claimed by a conditional put,
//! so two instances never post one twice) and commits.

use crate::settings::{self, Settings, SettingsError};
use crate::store::DynamoStore;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use sentinel_core::books::spec::Metric;
use sentinel_core::config::Config;
use sentinel_core::engine::{Event, EventKind, UsageTarget};
use sentinel_core::host::{self, Host, HostOptions, HostSentinel, MAX_BODY};
use sentinel_core::proxy::ProxyPolicy;
use sentinel_core::time::UnixMillis;
use sentinel_native::{NativeClient, NativeOutbound, TokioTimer};
use std::sync::Arc;

type Store = Arc<DynamoStore>;
type LambdaHost = Host<Store, NativeOutbound, TokioTimer>;

/// The journal source of what invocations book.
pub const SOURCE: &str = "lambda";

/// Why an invocation cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Settings or config.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A peer's shared secret, or the chain key, is missing or unusable.
    #[error("{0}")]
    Peers(String),
    /// The state cannot be opened or committed.
    #[error("the state cannot be opened: {0}")]
    Open(String),
    /// The HTTP client cannot be built.
    #[error("the HTTP client cannot be built: {0}")]
    Client(String),
}

/// What every invocation shares: the parsed config, the settings, the
/// DynamoDB client and the HTTP client (kept across invocations of one
/// instance).
pub struct App {
    config: Config,
    settings: Settings,
    dynamo: aws_sdk_dynamodb::Client,
    client: NativeClient,
    clock: fn() -> UnixMillis,
    /// Secrets shared with the peers, and the nonces of their requests
    /// seen by this instance (replay protection across invocations).
    peer_secrets: Vec<(sentinel_core::SentinelId, sentinel_core::peer::PeerSecret)>,
    peer_nonces: Arc<std::sync::Mutex<sentinel_core::peer::auth::NonceWindow>>,
    /// Anchoring (`[chain]` and `SENTINEL_CHAIN_KEY`), and when this
    /// instance looks at the chain again.
    anchor: Option<sentinel_core::chain::Anchor>,
    anchor_memory: Arc<std::sync::Mutex<sentinel_core::chain::driver::Memory>>,
    seq: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("sentinel", &self.config.sentinel.id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What a scheduled invocation reports (the function's result, in the
/// Lambda's logs and to `cargo lambda invoke`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TickSummary {
    /// Probes sent.
    pub probes: u32,
    /// Probes due that did not fit.
    pub deferred: u32,
    /// Store writes.
    pub writes: u32,
    /// Conditional-write conflicts met (another instance committed first).
    pub conflicts: u32,
    /// The committed version.
    pub version: u64,
    /// Actions taken.
    pub actions: usize,
    /// Alert deliveries attempted.
    pub deliveries: usize,
}

impl App {
    /// The app over a DynamoDB client.
    pub fn new(
        settings: Settings,
        dynamo: aws_sdk_dynamodb::Client,
        clock: fn() -> UnixMillis,
    ) -> Result<App, AppError> {
        let config = settings.parse_config()?;
        let client = sentinel_native::client(settings.key.clone())
            .map_err(|e| AppError::Client(e.to_string()))?;
        let seq = std::sync::atomic::AtomicU64::new(clock() << 16);
        let peer_secrets = sentinel_core::peer::secrets_from(&config, |k| std::env::var(k).ok())
            .map_err(AppError::Peers)?;
        let anchor = sentinel_core::chain::Anchor::from_config(&config, |k| std::env::var(k).ok())
            .map_err(|e| AppError::Peers(e.to_string()))?;
        Ok(App {
            anchor,
            anchor_memory: Arc::default(),
            peer_secrets,
            peer_nonces: Arc::default(),
            config,
            settings,
            dynamo,
            client,
            clock,
            seq,
        })
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    async fn open(
        &self,
        now: UnixMillis,
        for_tick: bool,
    ) -> Result<(LambdaHost, HostSentinel<Store, NativeOutbound, TokioTimer>), AppError> {
        let store = Arc::new(
            DynamoStore::new(
                self.dynamo.clone(),
                &self.settings.table,
                self.config.sentinel.id.as_str(),
            )
            .reading_journal(for_tick),
        );
        let opts = HostOptions {
            token: self.settings.token.clone(),
            webhooks: self.settings.webhooks.clone(),
            policy: ProxyPolicy::default(),
            probe_budget: settings::PROBE_BUDGET,
            proxy_tokens: self.settings.proxy_tokens.clone(),
            peer_secrets: self.peer_secrets.clone(),
            peer_nonces: self.peer_nonces.clone(),
            anchor: self.anchor.clone(),
            anchor_memory: self.anchor_memory.clone(),
            // The built-in catalog: a Lambda reads no local file.
            catalog: None,
        };
        Host::open(self.config.clone(), store, self.client.clone(), opts, now)
            .await
            .map_err(|e| AppError::Open(e.to_string()))
    }

    fn own(&self, metric: Metric, amount: u64, at: UnixMillis) -> Event {
        Event {
            source: SOURCE.to_string(),
            seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            at,
            kind: EventKind::Usage {
                target: UsageTarget::Sentinel,
                metric,
                amount,
            },
        }
    }

    /// Journals an invocation's own footprint: itself, its GB-ms and its
    /// reads (the state's query, the observation log's and, for a tick,
    /// the journal's).
    async fn book_invocation(&self, host: &LambdaHost, started: UnixMillis, reads: u64) {
        let now = (self.clock)();
        let gb_ms = settings::gb_ms(now.saturating_sub(started), self.settings.memory_mb);
        let events = [
            self.own(Metric::Invocations, 1, now),
            self.own(Metric::ComputeUnits, gb_ms, now),
            self.own(Metric::Reads, reads, now),
        ];
        if let Err(e) = sentinel_core::tick::Store::journal(host.store(), &events).await {
            tracing::warn!(error = %e, "could not book this invocation");
        }
    }

    /// One scheduled tick.
    pub async fn tick(&self) -> Result<TickSummary, AppError> {
        let started = (self.clock)();
        let (host, mut sentinel) = self.open(started, true).await?;
        sentinel.set_wake_period(self.settings.schedule_ms);
        let clock = self.clock;
        let report = host
            .scheduled(&mut sentinel, &clock)
            .await
            .map_err(|e| AppError::Open(e.to_string()))?;
        let deliveries = host.deliver(clock()).await;
        if deliveries > 0 {
            if let Err(e) = host.save(&mut sentinel, clock()).await {
                tracing::warn!(error = %e, "deliveries not committed: they are retried");
            }
        }
        self.book_invocation(&host, started, 3).await;
        let summary = TickSummary {
            probes: report.probes,
            deferred: report.deferred,
            writes: report.writes,
            conflicts: report.conflicts,
            version: report.version,
            actions: report.actions.len(),
            deliveries,
        };
        tracing::info!(?summary, "tick");
        Ok(summary)
    }

    /// The handler: a scheduled event ticks; anything else is the HTTP API.
    /// Never fails: errors are answered (503 with the error's shape, or a
    /// failed tick's message in the event result).
    pub async fn handle(&self, req: Request) -> Response<Body> {
        if matches!(req.request_context_ref(), Some(RequestContext::PassThrough)) {
            return self.handle_event(req).await;
        }
        self.handle_http(req).await
    }

    async fn handle_event(&self, req: Request) -> Response<Body> {
        let body = body_bytes(req.into_body());
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let scheduled = event.get("source").and_then(|s| s.as_str()) == Some("aws.events")
            || event.get("detail-type").and_then(|s| s.as_str()) == Some("Scheduled Event");
        if !scheduled {
            return json(
                400,
                &serde_json::json!({"error": {"code": "unknown-event", "message": "only EventBridge scheduled events and Function URL requests are handled"}}),
            );
        }
        match self.tick().await {
            Ok(summary) => json(200, &summary),
            Err(e) => {
                tracing::error!(error = %e, "tick failed");
                json(
                    503,
                    &serde_json::json!({"error": {"code": "tick-failed", "message": e.to_string()}}),
                )
            }
        }
    }

    async fn handle_http(&self, req: Request) -> Response<Body> {
        let started = (self.clock)();
        let (parts, body) = req.into_parts();
        let body = body_bytes(body);
        if body.len() > MAX_BODY {
            return to_lambda(host::to_http(host::too_large()));
        }
        let (host, _sentinel) = match self.open(started, false).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot serve");
                return json(
                    503,
                    &serde_json::json!({"error": {"code": "unavailable", "message": format!("the sentinel cannot serve: {e}")}}),
                );
            }
        };
        let resp = host
            .handle(http::Request::from_parts(parts, body.into()), started)
            .await;
        // Before answering: a Lambda is frozen once it has.
        if let Err(e) = host.flush_usage((self.clock)()).await {
            tracing::error!(error = %e, "could not journal proxied usage: it is not booked");
        }
        self.book_invocation(&host, started, 2).await;
        to_lambda(resp)
    }
}

fn body_bytes(b: Body) -> Vec<u8> {
    match b {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    }
}

fn json<T: serde::Serialize>(status: u16, v: &T) -> Response<Body> {
    let body = serde_json::to_string(v).unwrap_or_default();
    let mut r = Response::new(Body::Text(body));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Text bodies stay text (readable in logs); anything else is binary
/// (lambda_http base64-encodes it for the Function URL).
fn to_lambda(resp: http::Response<bytes::Bytes>) -> Response<Body> {
    let (parts, body) = resp.into_parts();
    let body = match String::from_utf8(body.into()) {
        Ok(t) => Body::Text(t),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Response::from_parts(parts, body)
}
