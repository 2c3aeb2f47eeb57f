//! The host layer: everything a shell would otherwise write again, behind
//! two entry points (the daphne pattern, `../DESIGN.md` "Written once").
//!
//! A shell — the local binary, the Cloudflare Worker, the AWS Lambda —
//! implements three small traits and wires:
//!
//! - a [`Store`] over its storage, declaring what it can promise
//!   ([`crate::tick::Capabilities`]);
//! - [`Outbound`] and [`Timer`] over its HTTP client and timer
//!   ([`outbound`]);
//!
//! and maps its runtime's events to the two entry points of [`Host`]:
//!
//! - [`Host::scheduled`] for a cron / schedule / loop wake-up: books the
//!   proxied usage and the webhook deliveries since the last tick, runs
//!   the shared tick ([`crate::tick::Sentinel::tick`]), logs its actions
//!   and publishes the new view;
//! - [`Host::handle`] for an HTTP request, in the `http` crate's types
//!   (hyper, lambda_http and workers-rs all speak them): routing and
//!   authentication ([`crate::api`]), submissions committed to the store,
//!   the proxy with per-request failover ([`crate::proxy`]) and its usage
//!   booking, `/v1/observations` from the store.
//!
//! and, off both paths, [`Host::deliver`] posts the alert outbox
//! ([`crate::outbox`]) to the webhooks.
//!
//! What stays in a shell: reading its secrets and its clock, the DNS
//! resolver (the only I/O part of the SSRF guard), reading a request body
//! up to [`MAX_BODY`], and its runtime's plumbing.

mod checks;
pub mod client;
mod convert;
mod deliver;
pub mod env;
pub mod guard;
pub mod headers;
pub mod kv;
pub mod limits;
pub mod outbound;

pub use checks::{auth_for, check_sealed, validate_webhooks};
pub use convert::{from_http, from_http_response, proxy_response, to_http, too_large};
pub use limits::{overloaded, ConnectionLimits, Overload};

pub use client::{HostClient, UPSTREAM_MAX_BYTES, USER_AGENT};
pub use outbound::{
    Outbound, OutboundError, OutboundRequest, OutboundResponse, RedirectPolicy, Timer,
};

use crate::action::Action;
use crate::api::{self, ApiContext, ApiRequest, ApiResponse, Auth, Routed, TokenDigest};
use crate::config::{Access, Config, Errors, ProviderConfig};
use crate::engine::{Engine, EventKind};
use crate::outbox::destination_id;
use crate::proxy::{self, gate::Reservations, ProxyPolicy, ProxyRequest, UsageTally};
use crate::tick::{Commit, CommitBatch, Consistency, Sentinel, Store, TickError, TickReport};
use crate::time::UnixMillis;
use crate::ServiceId;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

/// Largest request body accepted (API and proxy): 8 MiB. A shell stops
/// reading a body past it and answers [`too_large`].
pub const MAX_BODY: usize = 8 << 20;
/// Time allowed per webhook attempt. Long enough that a slow receiver is
/// not given up on (and paged again) while it is still processing.
pub const WEBHOOK_TIMEOUT_MS: u64 = 10_000;

/// The sentinel the host layer stands for: a tick driver over the shell's
/// store and the shared client.
pub type HostSentinel<S, O, T> = Sentinel<S, HostClient<O, T>>;

/// What the operator configured for this host besides the config file,
/// and what the shell can do.
#[derive(Clone)]
pub struct HostOptions {
    /// Bearer token for mutating routes and `/v1/observations` (`None` or
    /// empty: those routes are refused).
    pub token: Option<String>,
    /// Webhook URLs for alerts (Slack- or Discord-compatible).
    pub webhooks: Vec<String>,
    /// Proxy policy.
    pub policy: ProxyPolicy,
    /// How many probes the shell can run in one tick (a Worker: ~50
    /// subrequests per invocation; natively, a few hundred at once).
    pub probe_budget: u32,
    /// Tokens that open the proxy route of services with `access =
    /// "token"` (the admin token does too); distinct from the admin token,
    /// so clients can be given proxy access without admin rights.
    pub proxy_tokens: Vec<String>,
    /// The secrets shared with the configured peers
    /// ([`crate::peer::secrets_from`]): they sign this sentinel's reads
    /// of its peers and authenticate its peers' reads of it.
    pub peer_secrets: Vec<(crate::SentinelId, crate::peer::PeerSecret)>,
    /// The nonces of peer requests seen lately (replay protection). A
    /// shell that opens a host per invocation (a Lambda, a Worker) keeps
    /// one window for its instance and passes it to each.
    pub peer_nonces: Arc<Mutex<crate::peer::auth::NonceWindow>>,
    /// Anchoring on chain (`[chain]` with its key,
    /// [`crate::chain::Anchor::from_config`]); `None`: not anchored.
    pub anchor: Option<crate::chain::Anchor>,
    /// When the anchoring driver looks again: a shell that opens a host
    /// per invocation keeps one for its instance, like `peer_nonces`.
    pub anchor_memory: Arc<Mutex<crate::chain::driver::Memory>>,
    /// The catalog discovery reads; `None`: the built-in one.
    pub catalog: Option<Arc<crate::discovery::Catalog>>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            token: None,
            webhooks: Vec::new(),
            policy: ProxyPolicy::default(),
            probe_budget: crate::engine::DEFAULT_PROBE_BUDGET,
            proxy_tokens: Vec::new(),
            peer_secrets: Vec::new(),
            peer_nonces: Arc::default(),
            anchor: None,
            anchor_memory: Arc::default(),
            catalog: None,
        }
    }
}

impl std::fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("webhooks", &self.webhooks.len())
            .field("policy", &self.policy)
            .field("peer_secrets", &self.peer_secrets.len())
            .finish()
    }
}

/// Errors of the host layer.
#[derive(Debug, thiserror::Error)]
pub enum HostError<E: std::error::Error + 'static> {
    /// The tick (store, state or config) failed.
    #[error(transparent)]
    Tick(#[from] TickError<E>),
    /// A webhook URL is refused.
    #[error("webhook #{index} is not usable: {reason}")]
    Webhook {
        /// 1-based position in the list.
        index: usize,
        /// Why (without the URL, which embeds its token).
        reason: String,
    },
}

/// Logs an action the way every shell does.
pub fn log_action(a: &Action) {
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
        Action::NoticeExpired { id, key, why } => {
            tracing::warn!(id, %key, "alert notice dropped undelivered: {why}")
        }
        other => tracing::info!(action = ?other, "action"),
    }
}

/// A webhook destination.
#[derive(Clone)]
struct Webhook {
    url: String,
    id: u64,
}

/// Proxied usage between ticks: folded per provider, stamped into events
/// (under this one lock, so sequence numbers reach the books in order),
/// journaled, booked at the next tick.
#[derive(Debug, Default)]
struct Usage {
    tally: UsageTally,
    source: String,
    seq: u64,
    pending: Vec<crate::engine::Event>,
}

impl Usage {
    /// Stamps what is folded into `pending`; returns the new events.
    fn stamp(&mut self, now: UnixMillis) -> Vec<crate::engine::Event> {
        let kinds = self.tally.drain();
        let events = proxy::stamp(kinds, &self.source, &mut self.seq, now);
        self.pending.extend(events.iter().cloned());
        events
    }
}

/// What the HTTP side reads: the engine as of the last commit.
#[derive(Debug)]
pub struct View {
    /// The engine.
    pub engine: Engine,
    /// The committed version it reflects.
    pub version: Option<u64>,
}

/// The shared host: see the module docs. Request handling takes `&self`,
/// so a multi-threaded shell serves from many tasks at once; the tick
/// driver ([`HostSentinel`]) is owned by the shell's loop.
pub struct Host<S, O, T> {
    config: Config,
    store: S,
    client: HostClient<O, T>,
    auth: Auth,
    policy: ProxyPolicy,
    webhooks: Vec<Webhook>,
    view: RwLock<Arc<View>>,
    usage: Mutex<Usage>,
    deliveries: Mutex<Vec<EventKind>>,
    /// Admission of proxied attempts: quota reservations and marks.
    gate: Reservations,
    /// Digests of the proxy tokens.
    proxy_tokens: Vec<TokenDigest>,
    /// Deliveries made but not committed yet: (notice, destination) → not
    /// before (a success: forever, until the commit drops the notice).
    attempted: Mutex<BTreeMap<(u64, u64), UnixMillis>>,
    /// Secrets shared with the peers.
    peer_secrets: Vec<(crate::SentinelId, crate::peer::PeerSecret)>,
    /// Nonces of peer requests seen lately (replay protection).
    nonces: Arc<Mutex<crate::peer::auth::NonceWindow>>,
    /// Anchoring settings and key.
    anchor: Option<crate::chain::Anchor>,
    /// When the anchoring driver looks again.
    anchor_memory: Arc<Mutex<crate::chain::driver::Memory>>,
    /// The catalog discovery reads.
    catalog: Arc<crate::discovery::Catalog>,
}

impl<S, O, T> std::fmt::Debug for Host<S, O, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("sentinel", &self.config.sentinel.id)
            .field("auth", &self.auth)
            .field("webhooks", &self.webhooks.len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl<S, O, T> Host<S, O, T>
where
    S: Store + Clone,
    O: Outbound + Clone,
    T: Timer + Clone,
{
    /// Opens the store, replays what the state has not absorbed, checks
    /// the webhooks, and returns the host with its tick driver.
    pub async fn open(
        config: Config,
        store: S,
        client: HostClient<O, T>,
        opts: HostOptions,
        now: UnixMillis,
    ) -> Result<(Self, HostSentinel<S, O, T>), HostError<S::Error>> {
        validate_webhooks(&opts.webhooks, config.sentinel.allow_private_targets)
            .map_err(|(index, reason)| HostError::Webhook { index, reason })?;
        // The store's write budget as a footprint quota, for the host's
        // own engines (submissions) as for the tick's.
        let config = crate::tick::config_for_store(config, store.capabilities());
        let webhooks: Vec<Webhook> = opts
            .webhooks
            .iter()
            .map(|u| Webhook {
                url: u.clone(),
                id: destination_id(u),
            })
            .collect();
        let mut sentinel =
            Sentinel::open(config.clone(), store.clone(), client.clone(), now).await?;
        sentinel.set_destinations(webhooks.iter().map(|w| w.id).collect());
        sentinel.set_probe_budget(opts.probe_budget);
        sentinel.set_peer_secrets(opts.peer_secrets.clone());
        let catalog = opts
            .catalog
            .clone()
            .unwrap_or_else(crate::discovery::builtin);
        sentinel.set_catalog(catalog.clone());
        let view = View {
            engine: sentinel.engine().clone(),
            version: sentinel.version(),
        };
        let host = Host {
            config: config.clone(),
            store,
            client,
            auth: auth_for(opts.token.as_deref()),
            policy: opts.policy,
            webhooks,
            view: RwLock::new(Arc::new(view)),
            usage: Mutex::new(Usage {
                source: format!("{}/proxy", config.sentinel.id),
                seq: now << 16,
                ..Usage::default()
            }),
            deliveries: Mutex::new(Vec::new()),
            gate: Reservations::default(),
            proxy_tokens: opts
                .proxy_tokens
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| TokenDigest::of(t))
                .collect(),
            attempted: Mutex::new(BTreeMap::new()),
            peer_secrets: opts.peer_secrets,
            nonces: opts.peer_nonces,
            anchor: opts.anchor,
            anchor_memory: opts.anchor_memory,
            catalog,
        };
        Ok((host, sentinel))
    }

    /// The current view (the engine as of the last commit).
    pub fn view(&self) -> Arc<View> {
        match self.view.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The client.
    pub fn client(&self) -> &HostClient<O, T> {
        &self.client
    }

    fn publish(&self, engine: Engine, version: Option<u64>) {
        let next = Arc::new(View { engine, version });
        match self.view.write() {
            Ok(mut v) => *v = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// Books what happened since the last tick (proxied usage, webhook
    /// deliveries) into the tick driver.
    pub fn book(&self, sentinel: &mut HostSentinel<S, O, T>, now: UnixMillis) {
        let usage = {
            let mut u = lock(&self.usage);
            u.stamp(now);
            // Under the usage lock: every settled reservation is in what
            // this booking takes.
            self.gate.booking();
            std::mem::take(&mut u.pending)
        };
        let mut report = sentinel.record(now, &usage);
        let deliveries = std::mem::take(&mut *lock(&self.deliveries));
        let r = sentinel.record_kinds(now, deliveries);
        report.rejected.extend(r.rejected);
        if !report.rejected.is_empty() {
            tracing::warn!(rejected = ?report.rejected, "events rejected");
        }
    }

    /// Journals the proxied usage folded since the last call as one batch
    /// ([`Store::journal`]: the local store's own table, the Worker's
    /// Durable Object; a store without a journal keeps the default, which
    /// writes nothing), so a `kill -9` loses at most the usage of the
    /// batch in flight (the local shell flushes every 200 ms, a Worker
    /// after each request). The events are booked at the next tick either
    /// way. Cheap when nothing was proxied.
    pub async fn flush_usage(&self, now: UnixMillis) -> Result<usize, S::Error> {
        let events = lock(&self.usage).stamp(now);
        if events.is_empty() {
            return Ok(0);
        }
        self.store.journal(&events).await?;
        Ok(events.len())
    }

    /// The scheduled entry point: books usage and deliveries, catches up
    /// with writes made by the HTTP side or another instance, runs one
    /// tick, logs its actions and publishes the view.
    pub async fn scheduled<C: Fn() -> UnixMillis + ?Sized>(
        &self,
        sentinel: &mut HostSentinel<S, O, T>,
        clock: &C,
    ) -> Result<TickReport, TickError<S::Error>> {
        self.book(sentinel, clock());
        let report = sentinel.tick(clock).await?;
        for a in &report.actions {
            log_action(a);
        }
        if report.deferred > 0 {
            tracing::warn!(
                deferred = report.deferred,
                "probes were due but did not fit this tick's probe budget"
            );
        }
        self.publish(sentinel.engine().clone(), sentinel.version());
        self.gate.booked();
        if let Some(anchor) = &self.anchor {
            let mut memory = lock(&self.anchor_memory).clone();
            let stepped = crate::chain::driver::step(sentinel, anchor, &mut memory, clock).await;
            *lock(&self.anchor_memory) = memory;
            match stepped {
                Ok(crate::chain::driver::StepOutcome::NotDue) => {}
                Ok(outcome) => {
                    tracing::debug!(?outcome, "anchoring step");
                    self.publish(sentinel.engine().clone(), sentinel.version());
                }
                Err(e) => {
                    tracing::error!(error = %e, "the anchoring step could not store its state")
                }
            }
        }
        // Forget attempts the committed outbox no longer needs.
        let live: Vec<u64> = sentinel
            .engine()
            .state()
            .outbox
            .iter()
            .map(|n| n.id)
            .collect();
        lock(&self.attempted).retain(|(id, _), _| live.contains(id));
        Ok(report)
    }

    /// Books what is pending and commits it now (a clean shutdown, or an
    /// ephemeral shell after [`Host::deliver`]).
    pub async fn save(
        &self,
        sentinel: &mut HostSentinel<S, O, T>,
        now: UnixMillis,
    ) -> Result<u64, TickError<S::Error>> {
        self.book(sentinel, now);
        let v = sentinel.save(now).await?;
        self.publish(sentinel.engine().clone(), sentinel.version());
        self.gate.booked();
        Ok(v)
    }

    /// The HTTP entry point. A proxied request (`/proxy/…`) stays in the
    /// `http` types from the shell to the provider and back (its headers
    /// and body are never converted, its body never copied); every other
    /// route goes through [`Host::handle_api`].
    pub async fn handle(
        &self,
        req: http::Request<Bytes>,
        now: UnixMillis,
    ) -> http::Response<Bytes> {
        if req.body().len() > MAX_BODY {
            return to_http(too_large());
        }
        if req.uri().path().starts_with("/proxy/") {
            let view = self.view();
            // The router judges the path, the method and the service as for
            // any request; a proxy route needs nothing else from it.
            let head = ApiRequest {
                method: req.method().as_str().to_string(),
                path: req.uri().path().to_string(),
                query: req.uri().query().unwrap_or("").to_string(),
                headers: Vec::new(),
                body: Vec::new(),
            };
            let ctx = ApiContext {
                engine: &view.engine,
                now,
                recent_observations: &[],
            };
            return match api::route(&head, &ctx, &self.auth) {
                Routed::Proxy { service, rest } => {
                    let (parts, body) = req.into_parts();
                    self.proxy(&view.engine, service, rest, parts, body, now)
                        .await
                }
                Routed::Response(r) => to_http(r),
                // Not a proxy path after all (the router decides).
                Routed::Submit { .. } | Routed::Discover { .. } | Routed::Veto { .. } => {
                    to_http(self.handle_api(from_http(req), now).await)
                }
            };
        }
        to_http(self.handle_api(from_http(req), now).await)
    }

    /// Forwards a proxied request (already routed) and books its usage.
    async fn proxy(
        &self,
        engine: &Engine,
        service: ServiceId,
        rest: String,
        parts: http::request::Parts,
        body: Bytes,
        now: UnixMillis,
    ) -> http::Response<Bytes> {
        let header = |name: http::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if let Err(refused) = self.proxy_allowed(
            engine,
            &service,
            parts.headers.contains_key(http::header::UPGRADE),
            header(http::header::AUTHORIZATION),
        ) {
            return to_http(refused);
        }
        let mut headers = parts.headers;
        headers::strip_request(&mut headers);
        let preq = ProxyRequest {
            method: parts.method,
            path_and_query: rest,
            headers,
            body,
        };
        let outcome = proxy::forward_gated(
            engine,
            &service,
            &preq,
            &self.client,
            &self.policy,
            &self.gate,
            now,
        )
        .await;
        {
            let mut u = lock(&self.usage);
            u.tally.add(&outcome);
            self.gate.settle(&outcome.reserved);
        }
        proxy_response(outcome, &preq.body)
    }

    /// [`Host::handle`] on the core's plain request type.
    pub async fn handle_api(&self, req: ApiRequest, now: UnixMillis) -> ApiResponse {
        if req.body.len() > MAX_BODY {
            return too_large();
        }
        let view = self.view();
        if req.path == "/v1/observations" && matches!(req.method.as_str(), "GET" | "HEAD") {
            return self.observations(&req, &view.engine, now).await;
        }
        if req.path == crate::chain::cosign::COSIGN_PATH && req.method == "POST" {
            return self.cosign(&req, &view.engine, now);
        }
        let ctx = ApiContext {
            engine: &view.engine,
            now,
            recent_observations: &[],
        };
        match api::route(&req, &ctx, &self.auth) {
            Routed::Response(r) => r,
            Routed::Proxy { service, rest } => {
                // The plain request type: convert, forward as `handle` does.
                let mut parts = http::Request::new(()).into_parts().0;
                match http::Method::from_bytes(req.method.as_bytes()) {
                    Ok(m) => parts.method = m,
                    Err(_) => return ApiResponse::error(400, "bad-request", "invalid method"),
                }
                parts.headers = headers::map_of(&req.headers);
                let resp = self
                    .proxy(
                        &view.engine,
                        service,
                        rest,
                        parts,
                        Bytes::from(req.body),
                        now,
                    )
                    .await;
                from_http_response(resp)
            }
            Routed::Discover { service } => match self.discover(now, &service).await {
                Ok(Ok(report)) => ApiResponse::json(200, &report),
                Ok(Err(e)) => ApiResponse::error(404, "unknown-service", &e.to_string()),
                Err(e) => {
                    tracing::error!(error = %e, "discovery could not be committed");
                    ApiResponse::error(
                        503,
                        "store-unavailable",
                        &format!("discovery could not be committed: {e}; retry"),
                    )
                }
            },
            Routed::Veto { provider } => match self.veto(now, &provider).await {
                Ok(Ok(trial)) => ApiResponse::json(200, &crate::discovery::TrialView::from(&trial)),
                Ok(Err(_)) => api::not_discovered(&provider),
                Err(e) => {
                    tracing::error!(error = %e, "the veto could not be committed");
                    ApiResponse::error(
                        503,
                        "store-unavailable",
                        &format!("the veto could not be committed: {e}; retry"),
                    )
                }
            },
            Routed::Submit { service, provider } => {
                let id = provider.id.clone();
                match self.submit(now, &service, provider).await {
                    Ok(result) => api::submit_response(result, &id),
                    Err(e) => {
                        tracing::error!(error = %e, "submission could not be committed");
                        let mut errs = Errors::default();
                        errs.push_key("store", format!("could not commit: {e}"));
                        api::submit_response(Err(errs), &id)
                    }
                }
            }
        }
    }

    /// `GET /v1/observations`: the caller is authenticated first — a peer
    /// by its signature (a refusal is a `401` naming why), a person by the
    /// bearer token — so an unauthenticated request costs no store read;
    /// then the log is read and a peer's answer is signed for its nonce.
    async fn observations(
        &self,
        req: &ApiRequest,
        engine: &Engine,
        now: UnixMillis,
    ) -> ApiResponse {
        use crate::peer::auth;
        let presented = auth::Presented::find(&req.headers);
        let peer = if presented.any() {
            match self.verify_peer(req, &presented, now) {
                Ok(v) => Some(v),
                Err(refused) => return refused,
            }
        } else {
            if let Err(refused) = self.auth.check(req) {
                return refused;
            }
            None
        };
        let recent = match self
            .store
            .observations_since(0, api::OBSERVATIONS_LIMIT)
            .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the observation log");
                return ApiResponse::error(
                    503,
                    "store-unavailable",
                    "the observation log cannot be read right now; retry",
                );
            }
        };
        let ctx = ApiContext {
            engine,
            now,
            recent_observations: &recent,
        };
        let resp = match api::route(req, &ctx, &Auth::Open) {
            Routed::Response(r) => r,
            // `/v1/observations` only ever routes to a response.
            _ => ApiResponse::error(500, "internal", "unexpected route"),
        };
        match peer.and_then(|v| self.peer_secret(v.peer.as_str()).map(|s| (v, s))) {
            Some((v, secret)) => {
                let sig = auth::sign_response(&secret, &v.nonce, resp.status, &resp.body);
                resp.header(auth::H_SIGNATURE, sig)
            }
            None => resp,
        }
    }

    /// `POST /v1/attestations/cosign`: a peer (only a peer: its signature
    /// is the authentication) asks this sentinel to co-sign
    /// ([`crate::chain::cosign`]).
    fn cosign(&self, req: &ApiRequest, engine: &Engine, now: UnixMillis) -> ApiResponse {
        use crate::peer::auth;
        let presented = auth::Presented::find(&req.headers);
        if !presented.any() {
            return ApiResponse::error(
                401,
                "unauthorized",
                "only a peer sentinel may ask for a co-signature: the request must carry its x-sentinel-* signature",
            );
        }
        let caller = match self.verify_peer(req, &presented, now) {
            Ok(v) => v.peer,
            Err(refused) => return refused,
        };
        let Some(anchor) = &self.anchor else {
            return ApiResponse::error(
                409,
                "not-anchoring",
                "this sentinel has no [chain] configured (or no SENTINEL_CHAIN_KEY): it signs no records",
            );
        };
        let claims = lock(&self.anchor_memory).claims.clone();
        let resp = crate::chain::cosign::answer(engine, anchor, &caller, &claims, &req.body, now);
        tracing::info!(
            peer = presented.peer.unwrap_or("-"),
            status = resp.status,
            "co-signing request answered"
        );
        resp
    }

    /// Checks a peer's request signature (timestamp, nonce window, MAC):
    /// the caller, or the `401` that names why not.
    fn verify_peer(
        &self,
        req: &ApiRequest,
        presented: &crate::peer::auth::Presented<'_>,
        now: UnixMillis,
    ) -> Result<crate::peer::auth::Verified, ApiResponse> {
        use crate::peer::auth;
        let parts = auth::RequestParts {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            body: &req.body,
        };
        let verified = {
            let mut window = lock(&self.nonces);
            auth::verify_request(
                presented,
                &parts,
                now,
                |id| self.peer_secret(id),
                &mut window,
            )
        };
        verified.map_err(|refusal| {
            tracing::warn!(peer = presented.peer.unwrap_or("-"), path = %req.path, %refusal, "peer request refused");
            ApiResponse::error(401, "unauthorized", &refusal.to_string())
        })
    }

    fn peer_secret(&self, id: &str) -> Option<crate::peer::PeerSecret> {
        self.peer_secrets
            .iter()
            .find(|(p, _)| p.as_str() == id)
            .map(|(_, s)| s.clone())
    }

    /// Whether `req` may use `service`'s proxy route: a WebSocket upgrade is
    /// refused with `501` (the proxy forwards plain HTTP only, and a
    /// stripped `Upgrade` header would earn the client a misleading 400
    /// from the provider); a service whose access is `token` (explicitly,
    /// or by default because a provider carries sealed credentials) needs
    /// a proxy token or the admin token.
    fn proxy_allowed(
        &self,
        engine: &crate::Engine,
        service: &crate::ServiceId,
        upgrade: bool,
        authorization: Option<&str>,
    ) -> Result<(), ApiResponse> {
        if upgrade {
            return Err(ApiResponse::error(
                501,
                "upgrade-not-supported",
                "the proxy forwards plain HTTP requests; WebSocket and other upgrades are not proxied: connect to the provider directly",
            ));
        }
        let Some(svc) = engine.registry().service(service.as_str()) else {
            return Ok(());
        };
        // A database probed in its own protocol is watched, not proxied:
        // an HTTP request's body must never become its query.
        if svc.providers.iter().any(|id| {
            engine
                .registry()
                .provider(id)
                .is_some_and(|p| crate::config::is_db_endpoint(&p.config.endpoint))
        }) {
            return Err(ApiResponse::error(
                501,
                "not-proxied",
                "this service's providers are databases probed in their own protocol (PostgreSQL, Redis): the sentinel watches and routes them (GET /v1/services/{service}/route), it does not proxy them; connect to the routed provider directly",
            ));
        }
        let token_required = match svc.config.proxy.access {
            Access::Public => false,
            Access::Token => true,
            // Configured and submitted providers alike.
            Access::Auto => svc.providers.iter().any(|id| {
                engine
                    .registry()
                    .provider(id.as_str())
                    .is_some_and(|p| !p.config.secret_headers.is_empty())
            }),
        };
        if !token_required {
            return Ok(());
        }
        let presented = authorization
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| TokenDigest::of(t.trim()));
        let by_proxy_token = presented
            .as_ref()
            .is_some_and(|d| self.proxy_tokens.iter().any(|t| t.matches(d)));
        if by_proxy_token
            || (presented.is_some() && self.auth.check_authorization(authorization).is_ok())
        {
            return Ok(());
        }
        Err(ApiResponse::error(
            401,
            "unauthorized",
            &format!(
                "the proxy route of `{service}` needs a proxy token: send `authorization: Bearer <token>` (its providers carry the operator's credentials, or its access is \"token\")"
            ),
        )
        .header("www-authenticate", "Bearer"))
    }

    /// Applies a submission to the stored state and commits it (a writer
    /// of its own: the tick rebases on it), then publishes it.
    async fn submit(
        &self,
        now: UnixMillis,
        service: &ServiceId,
        provider: ProviderConfig,
    ) -> Result<Result<(), Errors>, TickError<S::Error>> {
        self.change(
            now,
            |engine| engine.submit(now, service, provider.clone()),
            |_| Vec::new(),
        )
        .await
    }

    /// The catalog discovery reads.
    pub fn catalog(&self) -> Arc<crate::discovery::Catalog> {
        self.catalog.clone()
    }

    /// Runs discovery for `service` now (`POST /v1/discovery`): picks the
    /// catalog's candidates, probes each once through the host's client,
    /// onboards those that pass, and commits the outcome with its audit
    /// entries. `Ok(Err(_))`: an unknown service.
    pub async fn discover(
        &self,
        now: UnixMillis,
        service: &ServiceId,
    ) -> Result<
        Result<crate::discovery::Report, crate::discovery::DiscoveryError>,
        TickError<S::Error>,
    > {
        use crate::tick::Prober;
        let (engine, _) = self.load_engine(now).await?;
        let selection = match engine.discovery_candidates(&self.catalog, service, now) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        if selection.chosen.is_empty() {
            // Nothing to try: nothing probed, nothing written.
            return Ok(Ok(crate::discovery::Report::of(
                service.clone(),
                &selection,
                Vec::new(),
            )));
        }
        let (trial, reqs, refused) = engine.discovery_trial(now, &selection);
        let results =
            futures_util::future::join_all(reqs.iter().map(|r| self.client.probe(r))).await;
        let observations = reqs
            .iter()
            .zip(results)
            .filter_map(|(r, res)| trial.observe(r, now, res))
            .collect();
        let run = crate::discovery::Run {
            selection,
            observations,
            refused,
        };
        let trials = self
            .change(
                now,
                |engine| Ok::<_, std::convert::Infallible>(run.apply(engine, now)),
                |trials| trials.iter().map(crate::discovery::action_of).collect(),
            )
            .await?;
        Ok(Ok(match trials {
            Ok(t) => crate::discovery::Report::of(service.clone(), &run.selection, t),
            Err(never) => match never {},
        }))
    }

    /// A person's veto of a provider discovery onboarded: it is removed
    /// and never onboarded again; committed with its audit entry.
    pub async fn veto(
        &self,
        now: UnixMillis,
        provider: &crate::ProviderId,
    ) -> Result<
        Result<crate::discovery::Trial, crate::discovery::DiscoveryError>,
        TickError<S::Error>,
    > {
        self.change(
            now,
            |engine| engine.veto_discovered(now, provider),
            |t| vec![crate::discovery::action_of(t)],
        )
        .await
    }

    /// The committed state as an engine, and its version.
    async fn load_engine(
        &self,
        now: UnixMillis,
    ) -> Result<(Engine, Option<u64>), TickError<S::Error>> {
        let stored = self.store.load().await.map_err(TickError::Store)?;
        let state = match &stored {
            Some(s) => crate::State::from_bytes(&s.bytes)?,
            None => crate::State::default(),
        };
        let engine = Engine::new(self.config.clone(), state, now)?;
        Ok((engine, stored.map(|s| s.version)))
    }

    /// Applies `change` to the committed state and commits it with the
    /// audit entries `audit` makes of its result, conditionally on the
    /// version loaded; on a conflict, loads again and applies `change`
    /// again (at most three times). `change` may refuse: its error is
    /// returned and nothing is written.
    async fn change<R, E>(
        &self,
        now: UnixMillis,
        mut change: impl FnMut(&mut Engine) -> Result<R, E>,
        audit: impl Fn(&R) -> Vec<Action>,
    ) -> Result<Result<R, E>, TickError<S::Error>> {
        for _ in 0..3 {
            let (mut engine, expected) = self.load_engine(now).await?;
            let result = match change(&mut engine) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let revision = engine.state().revision;
            let entries: Vec<crate::tick::AuditEntry> = audit(&result)
                .into_iter()
                .map(|action| {
                    log_action(&action);
                    crate::tick::AuditEntry {
                        at: now,
                        revision,
                        action,
                    }
                })
                .collect();
            let encoded = crate::encoded::EncodedState::of(engine.state());
            let batch = CommitBatch {
                state: &encoded,
                observations: &[],
                audit: &entries,
                keep_observations_since: 0,
                absorbed_events: &engine.state().usage_watermarks,
            };
            if self.store.capabilities().consistency == Consistency::LastWriterWins {
                let again = self.store.load().await.map_err(TickError::Store)?;
                if again.map(|s| s.version) != expected {
                    continue;
                }
            }
            match self
                .store
                .commit(expected, &batch)
                .await
                .map_err(TickError::Store)?
            {
                Commit::Committed { version } => {
                    self.publish(engine, Some(version));
                    return Ok(Ok(result));
                }
                Commit::Conflict => continue,
            }
        }
        Err(TickError::Contended(3))
    }
}
