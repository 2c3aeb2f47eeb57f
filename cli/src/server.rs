//! The HTTP server: hyper in, the shared request entry point
//! ([`sentinel_core::host::Host::handle`]) out. It reads the body up to
//! the shared cap, converts types, and defends the listener; nothing else.
//!
//! The defence is the mechanism behind the policy of
//! [`sentinel_core::host::limits`] (the numbers, the environment variables
//! that change them, the `503 overloaded` answer), against clients that
//! hold connections open without finishing requests — slowloris
//! (R. Hansen, 2009) and its slow-body and slow-read variants:
//!
//! - **admission** ([`Gate`]): before a connection is handed to hyper it
//!   must fit under the global cap and its client's cap (an IPv4 address
//!   or an IPv6 /64). One that does not is written the ready-made `503`
//!   and closed, without a task of hyper's; the close is *lingering*
//!   (write, half-close, drain what the client sent for up to a second,
//!   as Apache httpd's `lingering_close` does) so the client reads the
//!   answer instead of a reset, and at most [`REFUSING`] such closes run
//!   at once (past that: one non-blocking write and an immediate close).
//!   An admitted connection holds its [`Permit`] until its task ends.
//! - **header timeout**: hyper's `header_read_timeout` (with its tokio
//!   timer) closes a connection whose request head is not complete within
//!   the timeout from when the server started waiting for it — also an
//!   idle keep-alive connection waiting for its next request.
//! - **idle timeout** ([`IdleIo`]): no byte read or written for the idle
//!   timeout while no request is in the handler closes the connection (a
//!   body that stalls, an answer nobody reads). A request in the handler
//!   — a proxied call failing over across slow providers — is never cut.
//! - **body timeout**: the whole body must arrive within it, else `408`.
//!
//! The accept loop itself never waits on a client: accepting, admitting
//! and spawning are all it does, so `/healthz` on a fresh connection is
//! answered at once however many slow connections are held.
//!
//! **One single-threaded runtime per core** ([`Servers`]), each accepting
//! from the same listener, as nginx runs one worker process per core: a
//! connection, its requests and the upstream connections its proxied
//! requests use (the native client pools per thread) all live on the
//! thread that accepted it, so an exchange never wakes another thread.
//! With one multi-threaded runtime, the server task and the upstream
//! connection task woke each other across threads on every request
//! (BENCHMARKS.md § What would improve the sentinel's numbers). The
//! admission caps are shared by every thread.

use crate::clock::now_ms;
use crate::store::RedbStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer as HyperTimer};
use sentinel_core::api::ApiResponse;
use sentinel_core::host::limits::{self, client_key, ConnectionLimits, Overload};
use sentinel_core::host::{self, Host, MAX_BODY};
use sentinel_native::{NativeOutbound, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// The host as the local shell instantiates it.
pub type LocalHost = Host<Arc<RedbStore>, NativeOutbound, TokioTimer>;

/// Most refused connections closed lingeringly at once.
pub const REFUSING: usize = 1_024;
/// How long a refused connection is drained before it is closed.
const LINGER: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// Admission of connections under the global and per-client caps.
#[derive(Debug)]
pub struct Gate {
    max_connections: usize,
    max_client_connections: usize,
    counts: Mutex<Counts>,
}

/// An admitted connection's place under the caps, given back on drop.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    client: IpAddr,
}

impl Gate {
    /// A gate for `limits`' caps.
    pub fn new(limits: &ConnectionLimits) -> Arc<Gate> {
        Arc::new(Gate {
            max_connections: limits.max_connections,
            max_client_connections: limits.max_client_connections,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Admits a connection from `peer`, or says which cap it hits.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Permit, Overload> {
        let client = client_key(peer);
        let mut c = lock(&self.counts);
        if c.total >= self.max_connections {
            return Err(Overload::Server {
                limit: self.max_connections,
            });
        }
        let n = c.per_client.entry(client).or_insert(0);
        if *n >= self.max_client_connections {
            return Err(Overload::Client {
                limit: self.max_client_connections,
            });
        }
        *n += 1;
        c.total += 1;
        Ok(Permit {
            gate: self.clone(),
            client,
        })
    }

    /// Connections admitted and not yet ended.
    pub fn open(&self) -> usize {
        lock(&self.counts).total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = lock(&self.gate.counts);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_client.remove(&self.client);
            }
        }
    }
}

/// A connection that fails with `TimedOut` once nothing was read or
/// written for `idle` while `busy` (requests in the handler) is zero.
/// The timer is re-armed lazily: progress only records the time.
#[derive(Debug)]
pub struct IdleIo<I> {
    inner: I,
    idle: Duration,
    last: Instant,
    sleep: Pin<Box<Sleep>>,
    busy: Arc<AtomicUsize>,
}

impl<I> IdleIo<I> {
    /// Wraps `inner`.
    pub fn new(inner: I, idle: Duration, busy: Arc<AtomicUsize>) -> Self {
        let now = Instant::now();
        IdleIo {
            inner,
            idle,
            last: now,
            sleep: Box::pin(tokio::time::sleep_until(now + idle)),
            busy,
        }
    }

    fn progress(&mut self) {
        self.last = Instant::now();
    }

    /// Called when the inner I/O is pending: an error once idle too long.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
            let now = Instant::now();
            let due = self.last + self.idle;
            if self.busy.load(Ordering::Acquire) > 0 {
                self.last = now;
                self.sleep.as_mut().reset(now + self.idle);
            } else if due > now {
                self.sleep.as_mut().reset(due);
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for IdleIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.progress();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.check(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for IdleIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.check(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => match this.check(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Counts a request in the handler while alive.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(n: &Arc<AtomicUsize>) -> Busy {
        n.fetch_add(1, Ordering::AcqRel);
        Busy(n.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What every connection task shares.
struct Shared {
    host: Arc<LocalHost>,
    limits: ConnectionLimits,
    gate: Arc<Gate>,
    refusing: Arc<Semaphore>,
    refused_server: Bytes,
    refused_client: Bytes,
    last_warned: AtomicU64,
}

/// The server's threads, each a single-threaded runtime accepting from
/// the same listener (see the module docs). Stop them with
/// [`Servers::stop`]; dropping them without stopping leaves them serving.
#[derive(Debug)]
pub struct Servers {
    stop: tokio::sync::watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// How long a stopping server thread waits for its blocking tasks (name
/// lookups in flight).
const STOP_GRACE: Duration = Duration::from_secs(1);

impl Servers {
    /// Starts `threads` server threads (at least one) on `listener` under
    /// `limits`.
    pub fn start(
        listener: std::net::TcpListener,
        host: Arc<LocalHost>,
        limits: ConnectionLimits,
        threads: usize,
    ) -> io::Result<Servers> {
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared::new(host, limits));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let listener = listener.try_clone()?;
            let shared = shared.clone();
            let mut stopped = stopped.clone();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let thread = std::thread::Builder::new()
                .name(format!("sentinel-http-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        let listener = match TcpListener::from_std(listener) {
                            Ok(l) => l,
                            Err(e) => {
                                tracing::error!(error = %e, "a server thread cannot use the listener");
                                return;
                            }
                        };
                        tokio::select! {
                            () = accept_loop(listener, shared) => {}
                            _ = stopped.wait_for(|s| *s) => {}
                        }
                    });
                    rt.shutdown_timeout(STOP_GRACE);
                })?;
            handles.push(thread);
        }
        Ok(Servers {
            stop,
            threads: handles,
        })
    }

    /// Stops accepting, drops every connection and waits for the threads.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a server thread panicked");
            }
        }
    }
}

impl Shared {
    fn new(host: Arc<LocalHost>, limits: ConnectionLimits) -> Shared {
        Shared {
            host,
            limits,
            gate: Gate::new(&limits),
            refusing: Arc::new(Semaphore::new(REFUSING)),
            refused_server: Bytes::from(limits::overloaded_http1(Overload::Server {
                limit: limits.max_connections,
            })),
            refused_client: Bytes::from(limits::overloaded_http1(Overload::Client {
                limit: limits.max_client_connections,
            })),
            last_warned: AtomicU64::new(0),
        }
    }
}

/// Accepts connections on this thread's runtime until stopped.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match shared.gate.admit(peer.ip()) {
            Ok(permit) => {
                tokio::spawn(connection(stream, shared.clone(), permit));
            }
            Err(why) => refuse(stream, why, &shared),
        }
    }
}

/// Answers `503 overloaded` and closes (lingeringly when affordable).
fn refuse(stream: TcpStream, why: Overload, shared: &Shared) {
    let now = now_ms();
    let last = shared.last_warned.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 10_000
        && shared
            .last_warned
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            ?why,
            open = shared.gate.open(),
            "refusing connections: a connection cap is reached (503 overloaded)"
        );
    }
    let answer = match why {
        Overload::Server { .. } => shared.refused_server.clone(),
        Overload::Client { .. } => shared.refused_client.clone(),
    };
    match shared.refusing.clone().try_acquire_owned() {
        Ok(slot) => {
            tokio::spawn(async move {
                let _slot = slot;
                let mut stream = stream;
                let _ = tokio::time::timeout(LINGER, async {
                    stream.write_all(&answer).await?;
                    stream.shutdown().await?;
                    let mut sink = [0u8; 1024];
                    let mut drained = 0usize;
                    while drained < 64 * 1024 {
                        match stream.read(&mut sink).await? {
                            0 => break,
                            n => drained += n,
                        }
                    }
                    Ok::<(), io::Error>(())
                })
                .await;
            });
        }
        Err(_) => {
            // Too many lingering already: one non-blocking write on the
            // fresh socket (its send buffer is empty), then close.
            if let Ok(std) = stream.into_std() {
                use std::io::Write as _;
                let mut std = std;
                let _ = std.write(&answer);
            }
        }
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>, permit: Permit) {
    let _permit = permit;
    let limits = shared.limits;
    let busy = Arc::new(AtomicUsize::new(0));
    let io = IdleIo::new(
        stream,
        Duration::from_millis(limits.idle_timeout_ms),
        busy.clone(),
    );
    let host = shared.host.clone();
    // The request's future is boxed: hyper keeps one slot for it per
    // connection, sized to the future, for as long as the connection is
    // open. Boxed, an idle keep-alive connection holds a pointer instead
    // of the whole state of a proxied request (kilobytes).
    let svc = hyper::service::service_fn(move |req| {
        let host = host.clone();
        let busy = busy.clone();
        Box::pin(async move {
            Ok::<_, std::convert::Infallible>(handle(req, &host, &busy, &limits).await)
        })
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(HyperTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc)
        .await
    {
        tracing::debug!(error = %e, "connection ended");
    }
}

fn response(r: ApiResponse) -> Response<Full<Bytes>> {
    host::to_http(r).map(Full::new)
}

async fn handle(
    req: Request<Incoming>,
    host: &LocalHost,
    busy: &Arc<AtomicUsize>,
    limits: &ConnectionLimits,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let collected = tokio::time::timeout(
        Duration::from_millis(limits.body_timeout_ms),
        Limited::new(body, MAX_BODY).collect(),
    )
    .await;
    let bytes = match collected {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return response(host::too_large()),
        Err(_) => return response(limits::body_timed_out(limits.body_timeout_ms)),
    };
    // The body is in: the idle timeout stops applying until the answer
    // is ready.
    let _busy = Busy::new(busy);
    let req = Request::from_parts(parts, bytes);
    host.handle(req, now_ms()).await.map(Full::new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limits(max: usize, per: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max,
            max_client_connections: per,
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn the_gate_counts_per_client_and_in_total() {
        let gate = Gate::new(&limits(5, 3));
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::2".parse().unwrap(); // same /64
        let held: Vec<Permit> = (0..3).map(|_| gate.admit(a).unwrap()).collect();
        assert_eq!(gate.admit(a).unwrap_err(), Overload::Client { limit: 3 });
        let b1 = gate.admit(b).unwrap();
        let _b2 = gate.admit(b2).unwrap();
        assert_eq!(gate.open(), 5);
        assert_eq!(
            gate.admit("198.51.100.9".parse().unwrap()).unwrap_err(),
            Overload::Server { limit: 5 }
        );
        drop(b1);
        assert!(gate.admit(b).is_ok(), "a permit is given back on drop");
        drop(held);
        assert_eq!(gate.open(), 1);
        assert!(!lock(&gate.counts).per_client.contains_key(&a));
    }

    #[tokio::test]
    async fn idle_connections_time_out_unless_a_request_is_in_the_handler() {
        let idle = Duration::from_millis(300);
        let (mut client, server) = tokio::io::duplex(64);
        let busy = Arc::new(AtomicUsize::new(0));
        let mut io = IdleIo::new(server, idle, busy.clone());
        client.write_all(b"GET").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        // A request in the handler: reads may wait past the timeout.
        let guard = Busy::new(&busy);
        let waited = tokio::time::timeout(idle * 3, io.read(&mut buf)).await;
        assert!(waited.is_err(), "no idle error while busy");
        drop(guard);
        let start = Instant::now();
        let e = io.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() <= idle * 2, "{:?}", start.elapsed());
        // Progress re-arms it: a byte just before the timeout buys a
        // whole new period.
        let (mut c2, s2) = tokio::io::duplex(64);
        let mut io = IdleIo::new(s2, idle, busy);
        tokio::time::sleep(idle * 2 / 3).await;
        c2.write_all(b"x").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        let t = Instant::now();
        assert!(io.read(&mut buf).await.is_err());
        assert!(t.elapsed() >= idle * 2 / 3, "{:?}", t.elapsed());
    }
}
