//! The HTTP server: maps hyper requests to the core's plain API requests,
//! and performs what the shared router hands back — proxying through the
//! shared failover loop, and submissions through the run loop.

use crate::http::HttpClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sentinel_core::api::{self, ApiRequest, ApiResponse, Routed};
use sentinel_core::config::{Errors, ProviderConfig};
use sentinel_core::engine::{Engine, EventKind};
use sentinel_core::probe::Observation;
use sentinel_core::proxy::{self, ProxyPolicy, ProxyRequest};
use sentinel_core::ServiceId;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Largest request body accepted (API and proxy).
pub const MAX_BODY: usize = 8 << 20;

/// A mutation for the run loop.
#[derive(Debug)]
pub enum Command {
    /// A provider submission.
    Submit {
        /// Service.
        service: ServiceId,
        /// The provider.
        provider: Box<ProviderConfig>,
        /// Where the result goes.
        reply: oneshot::Sender<Result<(), Errors>>,
    },
}

/// What the server reads: the engine as of the last tick or command.
#[derive(Debug)]
pub struct Snapshot {
    /// The engine.
    pub engine: Engine,
    /// The latest observations (for `/v1/observations`).
    pub recent: Vec<Observation>,
}

/// State shared by the server's tasks.
#[derive(Debug)]
pub struct Shared {
    snapshot: RwLock<Arc<Snapshot>>,
    tx: mpsc::Sender<Command>,
    client: HttpClient,
    auth: api::Auth,
    policy: ProxyPolicy,
    /// Proxied usage since the last tick, folded per provider; the run
    /// loop drains it into the books before each tick.
    pub usage: std::sync::Mutex<proxy::UsageTally>,
}

const RECENT: usize = 500;

impl Shared {
    /// Shared state around a first snapshot.
    pub fn new(
        engine: Engine,
        recent: Vec<Observation>,
        tx: mpsc::Sender<Command>,
        client: HttpClient,
        token: Option<String>,
        policy: ProxyPolicy,
    ) -> Self {
        let auth = match token {
            Some(t) if !t.is_empty() => api::Auth::bearer(&t),
            _ => api::Auth::Deny,
        };
        Shared {
            snapshot: RwLock::new(Arc::new(Snapshot { engine, recent })),
            tx,
            client,
            auth,
            policy,
            usage: std::sync::Mutex::new(proxy::UsageTally::default()),
        }
    }

    /// Takes the proxied usage folded since the last call.
    pub fn take_usage(&self) -> Vec<EventKind> {
        match self.usage.lock() {
            Ok(mut t) => t.drain(),
            Err(poisoned) => poisoned.into_inner().drain(),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Publishes a new engine (and new observations, if any).
    pub fn publish(&self, engine: Engine, new_obs: Option<&[Observation]>) {
        let old = self.snapshot();
        let mut recent = old.recent.clone();
        if let Some(obs) = new_obs {
            recent.extend(obs.iter().cloned());
            let excess = recent.len().saturating_sub(RECENT);
            recent.drain(..excess);
        }
        let next = Arc::new(Snapshot { engine, recent });
        match self.snapshot.write() {
            Ok(mut s) => *s = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}

/// Accepts connections until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &shared).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

fn to_hyper(r: ApiResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(r.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            return to_hyper(ApiResponse::error(
                413,
                "payload-too-large",
                &format!("request bodies are limited to {MAX_BODY} bytes"),
            ))
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let api_req = ApiRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let snap = shared.snapshot();
    let now = crate::runner::now_ms();
    let routed = api::route(
        &api_req,
        &api::ApiContext {
            engine: &snap.engine,
            now,
            recent_observations: &snap.recent,
        },
        &shared.auth,
    );
    match routed {
        Routed::Response(r) => to_hyper(r),
        Routed::Proxy { service, rest } => {
            proxy_request(shared, &snap, service, rest, api_req, now).await
        }
        Routed::Submit { service, provider } => {
            let id = provider.id.clone();
            let (reply, rx) = oneshot::channel();
            if shared
                .tx
                .send(Command::Submit {
                    service,
                    provider: Box::new(provider),
                    reply,
                })
                .await
                .is_err()
            {
                return to_hyper(ApiResponse::error(
                    503,
                    "shutting-down",
                    "the sentinel is stopping",
                ));
            }
            match tokio::time::timeout(Duration::from_secs(30), rx).await {
                Ok(Ok(result)) => to_hyper(api::submit_response(result, &id)),
                _ => to_hyper(ApiResponse::error(
                    503,
                    "busy",
                    "the submission was not applied in time; retry",
                )),
            }
        }
    }
}

async fn proxy_request(
    shared: &Shared,
    snap: &Snapshot,
    service: ServiceId,
    rest: String,
    req: ApiRequest,
    now: u64,
) -> Response<Full<Bytes>> {
    let preq = ProxyRequest {
        method: req.method,
        path_and_query: rest,
        headers: crate::http::forwardable_headers(&req.headers),
        body: req.body,
    };
    let outcome = proxy::forward(
        &snap.engine,
        &service,
        &preq,
        &shared.client,
        &shared.policy,
        now,
    )
    .await;
    match shared.usage.lock() {
        Ok(mut t) => t.add(&outcome),
        Err(poisoned) => poisoned.into_inner().add(&outcome),
    }
    let used = outcome
        .attempts
        .iter()
        .find(|a| a.used)
        .map(|a| a.provider.to_string());
    match outcome.response {
        Ok(up) => {
            let mut r = ApiResponse {
                status: up.status,
                headers: up.headers,
                body: up.body,
            };
            r.headers.retain(|(k, _)| !crate::http::is_hop_by_hop(k));
            if let Some(p) = used {
                r.headers.push(("x-sentinel-provider".into(), p));
            }
            r.headers.push((
                "x-sentinel-attempts".into(),
                outcome.attempts.len().to_string(),
            ));
            to_hyper(r)
        }
        Err(e) => {
            let status = match e {
                proxy::ProxyError::UnknownService(_) => 404,
                proxy::ProxyError::NoProvider(_) => 503,
                proxy::ProxyError::Exhausted { .. } => 502,
            };
            to_hyper(ApiResponse::error(
                status,
                "upstream-unavailable",
                &e.to_string(),
            ))
        }
    }
}
