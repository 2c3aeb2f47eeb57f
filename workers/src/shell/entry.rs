//! The two event handlers. They only convert types, read the environment
//! and the clock (`Date::now`), open the shared host over the Worker's
//! store and `fetch`, and call its entry points.

use super::ledger::{self, LedgerClient};
use super::outbound::{DelayTimer, FetchOutbound};
use super::store::{WorkerKv, WorkerStore};
use crate::settings::{self, Plan, Secrets, SettingsError};
use futures_util::StreamExt;
use sentinel_core::config::Config;
use sentinel_core::engine::{Event, EventKind, UsageTarget};
use sentinel_core::host::kv::KvStore;
use sentinel_core::host::{self, Host, HostClient, HostOptions, MAX_BODY};
use sentinel_core::proxy::ProxyPolicy;
use sentinel_core::time::UnixMillis;
use std::cell::RefCell;
use worker::{event, Context, Date, Env, HttpRequest, Response, ScheduleContext, ScheduledEvent};

type WorkerHost = Host<WorkerStore, FetchOutbound, DelayTimer>;

fn now_ms() -> UnixMillis {
    Date::now().as_millis()
}

thread_local! {
    /// The parsed config of this isolate, by the text it was parsed from
    /// (parsing costs ~0.7 ms of the 10 ms CPU budget; an isolate serves
    /// many invocations).
    static CONFIG: RefCell<Option<(String, Config)>> = const { RefCell::new(None) };
    /// Nonces of peer requests this isolate has seen (replay protection
    /// across the invocations it serves).
    static PEER_NONCES: std::sync::Arc<std::sync::Mutex<sentinel_core::peer::auth::NonceWindow>> =
        std::sync::Arc::default();
    /// When this isolate's anchoring driver looks at the chain again.
    static ANCHOR_MEMORY: std::sync::Arc<std::sync::Mutex<sentinel_core::chain::driver::Memory>> =
        std::sync::Arc::default();
}

/// Why the Worker cannot serve.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("binding: {0}")]
    Binding(String),
    #[error("the state cannot be opened: {0}")]
    Open(String),
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| var(env, name))
}

async fn config(env: &Env, kv: &worker::kv::KvStore, plan: Plan) -> Result<Config, StartError> {
    let (text, source_name) = match var(env, settings::CONFIG_VAR).filter(|t| !t.trim().is_empty())
    {
        Some(t) => (t, "the SENTINEL_CONFIG var"),
        None => match kv
            .get(settings::CONFIG_KEY)
            .text()
            .await
            .map_err(|e| StartError::Binding(e.to_string()))?
        {
            Some(t) => (t, "the KV key config/sentinel.toml"),
            None => (
                settings::BUILTIN_CONFIG.to_string(),
                "the built-in sentinel.toml",
            ),
        },
    };
    let key = format!("{plan:?}\n{text}");
    if let Some(c) = CONFIG.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, c)| c.clone())
    }) {
        return Ok(c);
    }
    let parsed = settings::parse_config(&text, source_name, plan)?;
    CONFIG.with(|c| *c.borrow_mut() = Some((key, parsed.clone())));
    Ok(parsed)
}

/// Opens the host over the Worker's bindings.
async fn open(
    env: &Env,
    now: UnixMillis,
    for_tick: bool,
) -> Result<
    (
        WorkerHost,
        host::HostSentinel<WorkerStore, FetchOutbound, DelayTimer>,
    ),
    StartError,
> {
    let kv = env
        .kv(settings::KV_BINDING)
        .map_err(|e| StartError::Binding(format!("KV namespace `SENTINEL`: {e}")))?;
    let plan = Plan::from_env(|k| var(env, k))?;
    let config = config(env, &kv, plan).await?;
    let secrets = Secrets::from_env(|k| secret(env, k))?;
    let ledger = match LedgerClient::of(env, config.sentinel.id.as_str()) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::error!(error = %e, "no usage journal (Durable Object `LEDGER`): proxied usage is not booked");
            None
        }
    };
    let store = WorkerStore {
        kv: KvStore::new(WorkerKv(kv))
            .with_writes_per_day(u32::try_from(plan.kv_writes_per_day).unwrap_or(u32::MAX)),
        ledger,
        read_journal: for_tick,
    };
    let client = HostClient::new(FetchOutbound, DelayTimer, secrets.key.clone());
    let opts = HostOptions {
        token: secrets.token,
        webhooks: secrets.webhooks,
        policy: ProxyPolicy::default(),
        probe_budget: settings::PROBE_BUDGET,
        proxy_tokens: secrets.proxy_tokens,
        peer_secrets: sentinel_core::peer::secrets_from(&config, |k| secret(env, k))
            .map_err(StartError::Binding)?,
        peer_nonces: PEER_NONCES.with(|n| n.clone()),
        // `wrangler secret put SENTINEL_CHAIN_KEY`, when `[chain]` is set.
        anchor: sentinel_core::chain::Anchor::from_config(&config, |k| secret(env, k))
            .map_err(|e| StartError::Binding(e.to_string()))?,
        anchor_memory: ANCHOR_MEMORY.with(|m| m.clone()),
        // The built-in catalog: a Worker reads no local file.
        catalog: None,
    };
    Host::open(config, store, client, opts, now)
        .await
        .map_err(|e| StartError::Open(e.to_string()))
}

fn unavailable(e: &StartError) -> worker::Result<Response> {
    tracing::error!(error = %e, "cannot serve");
    let body = serde_json::json!({
        "error": "unavailable",
        "message": format!("the sentinel cannot serve: {e}"),
    });
    Ok(Response::from_json(&body)?.with_status(503))
}

/// Reads the body up to [`MAX_BODY`]; `None` when it is larger.
async fn body_of(body: worker::Body) -> worker::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut stream = body;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > MAX_BODY {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

fn to_worker(resp: http::Response<bytes::Bytes>) -> worker::Result<Response> {
    let (parts, body) = resp.into_parts();
    let headers = worker::Headers::new();
    for (k, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            headers.append(k.as_str(), v)?;
        }
    }
    Ok(Response::from_bytes(body.into())?
        .with_status(parts.status.as_u16())
        .with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: HttpRequest, env: Env, ctx: Context) -> worker::Result<Response> {
    let now = now_ms();
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let body = match declared {
        Some(n) if n > MAX_BODY => None,
        _ => body_of(body).await?,
    };
    let Some(body) = body else {
        return to_worker(host::to_http(host::too_large()));
    };
    let (host, _sentinel) = match open(&env, now, false).await {
        Ok(h) => h,
        Err(e) => return unavailable(&e),
    };
    let resp = host
        .handle(http::Request::from_parts(parts, body.into()), now)
        .await;
    // Book this invocation and whatever the proxy used, in the journal,
    // after the answer has gone out.
    ctx.wait_until(async move {
        use sentinel_core::books::spec::Metric;
        let own = |metric: Metric, amount: u64| Event {
            source: ledger::SOURCE.to_string(),
            seq: 0,
            at: now,
            kind: EventKind::Usage {
                target: UsageTarget::Sentinel,
                metric,
                amount,
            },
        };
        // Opening read the state and the observation log: two KV reads.
        let footprint = [own(Metric::Invocations, 1), own(Metric::Reads, 2)];
        if let Err(e) = sentinel_core::tick::Store::journal(host.store(), &footprint).await {
            tracing::warn!(error = %e, "could not book this invocation");
        }
        if let Err(e) = host.flush_usage(now).await {
            tracing::error!(error = %e, "could not journal proxied usage: it is not booked");
        }
    });
    to_worker(resp)
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = now_ms();
    let (host, mut sentinel) = match open(&env, now, true).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, cron = %event.cron(), "tick not run");
            return;
        }
    };
    // A probe due between two cron firings waits for the next one: that
    // lateness is the schedule's, not the sentinel falling behind.
    sentinel.set_wake_period(settings::cron_period_ms(&event.cron()).unwrap_or(0));
    sentinel.count_invocation();
    match host.scheduled(&mut sentinel, &now_ms).await {
        Ok(report) => tracing::info!(
            probes = report.probes,
            deferred = report.deferred,
            writes = report.writes,
            version = report.version,
            actions = report.actions.len(),
            "tick"
        ),
        Err(e) => {
            tracing::error!(error = %e, "tick failed");
            return;
        }
    }
    // Alerts go out now rather than a cron interval later; what was
    // delivered is committed at once (an extra write, only when there was
    // something to deliver), so no other invocation delivers it again.
    if host.deliver(now_ms()).await > 0 {
        if let Err(e) = host.save(&mut sentinel, now_ms()).await {
            tracing::warn!(error = %e, "deliveries not committed: they are retried");
        }
    }
}
