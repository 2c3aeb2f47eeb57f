//! The usage journal: a SQLite-backed Durable Object that collects what
//! fetch invocations book between ticks (proxied usage, the invocation
//! itself), and the client the store uses to reach it.
//!
//! Why a Durable Object: a Worker invocation cannot keep anything until
//! the next tick, and one KV write per request would spend the whole
//! 1,000-writes-a-day budget in minutes. A Durable Object is one
//! single-threaded instance with transactional storage (free plan:
//! SQLite-backed classes), so appends from every isolate are serialized
//! and numbered without a race.
//!
//! Protocol (JSON over the stub's `fetch`, never reachable from outside):
//! - `POST /append` with `[Event]`: each is stored under the next number
//!   of the `ledger` source (the numbers are the Durable Object's, so
//!   they increase in arrival order whatever isolate sent them);
//! - `GET /events`: what is stored, oldest first (at most
//!   [`READ_LIMIT`]; the rest waits for the next tick);
//! - `POST /absorbed` with `{source: seq}`: drops what the committed
//!   state has absorbed (the commit's `absorbed_events`);
//! - `POST /claim` with `{keys: [(notice, destination)], now, until}`:
//!   grants each alert delivery to one invocation until `until` (the
//!   compare-and-swap KV lacks: two overlapping ticks both see a new
//!   notice in the committed outbox, and only one may post it).
//!
//! A tick reads the journal when it opens, books it, and acknowledges it
//! only after its KV commit: an append that lands between the read and
//! the acknowledgement has a higher number and is kept; a tick that dies
//! before committing acknowledges nothing, and the next tick books the
//! same events (idempotent by their numbers).

use sentinel_core::engine::Event;
use std::collections::BTreeMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

/// The source name of journaled events.
pub const SOURCE: &str = "ledger";
/// Events returned by one read.
pub const READ_LIMIT: usize = 10_000;
const SEQ_KEY: &str = "seq";
const CLAIM_PREFIX: &str = "c/";
const DAY_MS: u64 = 86_400_000;

/// A claim of alert deliveries (`POST /claim`).
#[derive(serde::Serialize, serde::Deserialize)]
struct Claim {
    keys: Vec<(u64, u64)>,
    now: u64,
    until: u64,
}
const PREFIX: &str = "e/";

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

fn key(seq: u64) -> String {
    format!("{PREFIX}{seq:020}")
}

/// The Durable Object.
#[durable_object]
pub struct Ledger {
    state: State,
}

impl DurableObject for Ledger {
    fn new(state: State, _env: Env) -> Self {
        Ledger { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let storage = self.state.storage();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/append") => {
                // Parsed from the text, not by JavaScript's JSON: sequence
                // numbers pass 2^53.
                let events: Vec<Event> = match serde_json::from_str(&req.text().await?) {
                    Ok(e) => e,
                    Err(e) => return Response::error(format!("bad events: {e}"), 400),
                };
                let mut seq: u64 = storage.get(SEQ_KEY).await?.unwrap_or(0);
                for mut e in events {
                    seq += 1;
                    e.source = SOURCE.to_string();
                    e.seq = seq;
                    // Stored as JSON text: numbers stay exact.
                    let text = serde_json::to_string(&e)
                        .map_err(|e| worker::Error::RustError(e.to_string()))?;
                    storage.put(&key(seq), text).await?;
                }
                storage.put(SEQ_KEY, seq).await?;
                Response::from_json(&seq)
            }
            (Method::Get, "/events") => {
                let map = storage
                    .list_with_options(worker::ListOptions::new().prefix(PREFIX).limit(READ_LIMIT))
                    .await?;
                let mut out: Vec<Event> = Vec::new();
                for entry in map.values() {
                    let value = entry?;
                    match value
                        .as_string()
                        .and_then(|t| serde_json::from_str(&t).ok())
                    {
                        Some(e) => out.push(e),
                        None => {
                            tracing::warn!("the usage journal holds an unreadable entry; skipped")
                        }
                    }
                }
                Response::from_json(&out)
            }
            (Method::Post, "/absorbed") => {
                let marks: BTreeMap<String, u64> = match serde_json::from_str(&req.text().await?) {
                    Ok(m) => m,
                    Err(e) => return Response::error(format!("bad watermarks: {e}"), 400),
                };
                let Some(&upto) = marks.get(SOURCE) else {
                    return Response::from_json(&0u32);
                };
                let map = storage
                    .list_with_options(
                        worker::ListOptions::new()
                            .prefix(PREFIX)
                            .end(&key(upto.saturating_add(1))),
                    )
                    .await?;
                let keys: Vec<String> = map
                    .keys()
                    .into_iter()
                    .filter_map(|k| k.ok().and_then(|k| k.as_string()))
                    .collect();
                let n = keys.len();
                for chunk in keys.chunks(128) {
                    storage.delete_multiple(chunk.to_vec()).await?;
                }
                Response::from_json(&n)
            }
            (Method::Post, "/claim") => {
                let claim: Claim = match serde_json::from_str(&req.text().await?) {
                    Ok(c) => c,
                    Err(e) => return Response::error(format!("bad claim: {e}"), 400),
                };
                // One request at a time reaches this object, and its
                // storage calls hold other events back (input gates): the
                // check and the put below cannot interleave with another
                // claim's.
                let mut granted = Vec::with_capacity(claim.keys.len());
                for (notice, destination) in &claim.keys {
                    let k = format!("{CLAIM_PREFIX}{notice}/{destination}");
                    let held: Option<String> = storage.get(&k).await?;
                    let held_until = held.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                    let ok = held_until <= claim.now;
                    if ok {
                        storage.put(&k, claim.until.to_string()).await?;
                    }
                    granted.push(ok);
                }
                // Claims lapse; forget those a day past their end.
                let old = storage
                    .list_with_options(worker::ListOptions::new().prefix(CLAIM_PREFIX).limit(256))
                    .await?;
                let mut stale = Vec::new();
                for k in old.keys() {
                    let Some(k) = k.ok().and_then(|k| k.as_string()) else {
                        continue;
                    };
                    let until: Option<String> = storage.get(&k).await?;
                    if until
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|u| u.saturating_add(DAY_MS) < claim.now)
                    {
                        stale.push(k);
                    }
                }
                if !stale.is_empty() {
                    storage.delete_multiple(stale).await?;
                }
                Response::from_json(&granted)
            }
            _ => Response::error("not found", 404),
        }
    }
}

/// Errors reaching the journal.
#[derive(Debug, thiserror::Error)]
#[error("usage journal: {0}")]
pub struct LedgerError(pub String);

fn err(e: impl std::fmt::Display) -> LedgerError {
    LedgerError(e.to_string())
}

/// The client: one named instance per sentinel id.
#[derive(Clone, Debug)]
pub struct LedgerClient {
    stub: std::rc::Rc<worker::Stub>,
}

impl LedgerClient {
    /// The ledger of sentinel `id` in `env`, if the binding exists.
    pub fn of(env: &Env, id: &str) -> Result<Self, LedgerError> {
        let ns = env
            .durable_object(crate::settings::LEDGER_BINDING)
            .map_err(err)?;
        let stub = ns.get_by_name(id).map_err(err)?;
        Ok(LedgerClient {
            stub: std::rc::Rc::new(stub),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<String, LedgerError> {
        let mut init = RequestInit::new();
        init.with_method(method);
        if let Some(b) = body {
            init.with_body(Some(b.into()));
        }
        let req = Request::new_with_init(&format!("https://ledger{path}"), &init).map_err(err)?;
        let mut resp = self.stub.fetch_with_request(req).await.map_err(err)?;
        let text = resp.text().await.map_err(err)?;
        if resp.status_code() != 200 {
            return Err(LedgerError(format!(
                "{path}: {} {text}",
                resp.status_code()
            )));
        }
        Ok(text)
    }

    /// Appends events.
    pub async fn append(&self, events: &[Event]) -> Result<(), LedgerError> {
        if events.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_string(events).map_err(err)?;
        self.call(Method::Post, "/append", Some(body))
            .await
            .map(|_| ())
    }

    /// What is journaled, oldest first.
    pub async fn events(&self) -> Result<Vec<Event>, LedgerError> {
        let text = self.call(Method::Get, "/events", None).await?;
        serde_json::from_str(&text).map_err(err)
    }

    /// Claims deliveries; which were granted.
    pub async fn claim(
        &self,
        keys: &[(u64, u64)],
        now: u64,
        until: u64,
    ) -> Result<Vec<bool>, LedgerError> {
        let body = serde_json::to_string(&Claim {
            keys: keys.to_vec(),
            now,
            until,
        })
        .map_err(err)?;
        let text = self.call(Method::Post, "/claim", Some(body)).await?;
        serde_json::from_str(&text).map_err(err)
    }

    /// Drops what the state absorbed.
    pub async fn absorbed(&self, marks: &BTreeMap<String, u64>) -> Result<(), LedgerError> {
        if !marks.contains_key(SOURCE) {
            return Ok(());
        }
        let body = serde_json::to_string(marks).map_err(err)?;
        self.call(Method::Post, "/absorbed", Some(body))
            .await
            .map(|_| ())
    }
}
