//! The keep-alive HTTP/1 connections of one thread, by origin: what
//! proxied requests and webhooks are sent on.
//!
//! hyper-util's pooled client did this before, and its checkout was about
//! a fifth of the instructions of a proxied request (hashing the pool key
//! under a lock, cloning the authority, converting the request to origin
//! form, moving the request future through its layers: BENCHMARKS.md
//! § What changed in the proxy). This pool is a map from origin to idle
//! `hyper::client::conn::http1` senders behind an uncontended lock (the
//! pools are per thread, see the crate docs):
//!
//! - **checkout** pops the most recently used idle sender of the origin
//!   that is still open, ready and idle for less than
//!   [`POOL_IDLE_TIMEOUT`]; anything else popped on the way is dropped
//!   (which closes its connection);
//! - **a reused connection the server closed meanwhile** refuses the
//!   request before writing it (`try_send_request` hands it back), and the
//!   request is sent once more on a new connection, as hyper-util's pool
//!   does: a provider's short keep-alive timeout never fails a request;
//! - **a new connection** comes from the same connector as every client
//!   here (the guarded resolver, `TCP_NODELAY`, the connect timeout,
//!   rustls), offering HTTP/1.1 only in ALPN;
//! - **give back** ([`H1Pool::put`]) happens only after the answer's body
//!   was read to its end: a connection whose answer was cut (a truncated
//!   body) or failed is dropped, not reused. At most
//!   [`MAX_IDLE_PER_ORIGIN`] idle connections are kept per origin and
//!   [`MAX_ORIGINS`] origins per thread.

use crate::{classify, GuardedResolver, POOL_IDLE_TIMEOUT};
use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use sentinel_core::host::OutboundError;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tower_service::Service;

/// Most idle connections kept per origin.
pub const MAX_IDLE_PER_ORIGIN: usize = 64;
/// Most origins with idle connections kept per thread (past it, origins
/// without a live idle connection are forgotten).
pub const MAX_ORIGINS: usize = 1_024;

/// What makes new connections.
pub(crate) type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;
type Sender = SendRequest<Full<Bytes>>;
type Key = (Scheme, Authority);
type Idle = HashMap<Key, Vec<(Sender, Instant)>>;

/// One thread's keep-alive connections (under one guard policy).
pub(crate) struct H1Pool {
    connector: Connector,
    idle: Mutex<Idle>,
}

/// A connection checked out for one exchange: give it back with
/// [`H1Pool::put`] once the answer's body is read, or drop it.
pub(crate) struct Lease {
    key: Key,
    sender: Sender,
}

#[allow(clippy::disallowed_methods)] // the shell's own monotonic clock
fn monotonic() -> Instant {
    Instant::now()
}

fn fresh(s: &Sender, at: Instant, now: Instant) -> bool {
    !s.is_closed() && now.saturating_duration_since(at) < POOL_IDLE_TIMEOUT
}

impl H1Pool {
    pub(crate) fn new(connector: Connector) -> H1Pool {
        H1Pool {
            connector,
            idle: Mutex::new(Idle::new()),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        match self.idle.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Sends `req` (its URI absolute) on an idle connection to its origin,
    /// or on a new one; see the module docs.
    pub(crate) async fn send(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), OutboundError> {
        let uri = req.uri().clone();
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned())
        else {
            return Err(OutboundError::Protocol("the URL has no host".into()));
        };
        // Origin form, and the Host header from the authority (without
        // user information, which never goes on the wire).
        let pq = uri.path_and_query().map_or("/", |p| p.as_str());
        *req.uri_mut() = http::Uri::try_from(pq)
            .map_err(|e| OutboundError::Protocol(format!("invalid URL: {e}")))?;
        if !req.headers().contains_key(HOST) {
            let host = authority
                .as_str()
                .rsplit_once('@')
                .map_or(authority.as_str(), |(_, h)| h);
            let value = HeaderValue::from_str(host)
                .map_err(|_| OutboundError::Protocol("invalid host".into()))?;
            req.headers_mut().insert(HOST, value);
        }
        let key = (scheme, authority);
        // A connection given back is ready once its task has seen the end
        // of the last answer: wait for that (or learn it closed).
        let reused = match self.checkout(&key) {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        if let Some(mut sender) = reused {
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, Lease { key, sender })),
                Err(mut e) => match e.take_message() {
                    // Never written: the connection closed while idle.
                    Some(back) => req = back,
                    None => return Err(classify(&e.into_error(), false)),
                },
            }
        }
        let mut sender = self.connect(&uri).await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| classify(&e, false))?;
        Ok((resp, Lease { key, sender }))
    }

    fn checkout(&self, key: &Key) -> Option<Sender> {
        let now = monotonic();
        let mut idle = self.idle();
        let list = idle.get_mut(key)?;
        while let Some((s, at)) = list.pop() {
            if fresh(&s, at, now) {
                return Some(s);
            }
        }
        None
    }

    async fn connect(&self, uri: &http::Uri) -> Result<Sender, OutboundError> {
        let io = self
            .connector
            .clone()
            .call(uri.clone())
            .await
            .map_err(|e| classify(&*e, true))?;
        let (sender, conn) = http1::handshake(io).await.map_err(|e| classify(&e, true))?;
        // The connection runs as a task of this thread's runtime until
        // its sender is dropped or the server closes it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Gives a connection back once its answer was read to the end.
    pub(crate) fn put(&self, lease: Lease) {
        if lease.sender.is_closed() {
            return;
        }
        let now = monotonic();
        let mut idle = self.idle();
        if idle.len() >= MAX_ORIGINS && !idle.contains_key(&lease.key) {
            idle.retain(|_, list| {
                list.retain(|(s, at)| fresh(s, *at, now));
                !list.is_empty()
            });
            if idle.len() >= MAX_ORIGINS {
                return;
            }
        }
        let list = idle.entry(lease.key).or_default();
        list.retain(|(s, at)| fresh(s, *at, now));
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push((lease.sender, now));
        }
    }
}
