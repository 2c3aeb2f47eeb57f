//! Local providers for the demo and the end-to-end tests: real HTTP
//! servers on 127.0.0.1 whose behaviour can be switched at run time
//! (outage, slowness, 5xx, 429, stale or wrong data), and anvil nodes as
//! EVM JSON-RPC providers when anvil is installed.
//!
//! An outage closes the listening socket, so clients see a refused
//! connection, as with a real dead host; recovery binds the same port
//! again.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How a local API provider behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers promptly with good data.
    Healthy,
    /// Refuses connections.
    Outage,
    /// Answers `ms` later.
    Slow(u64),
    /// Answers 503 to every request.
    Errors,
    /// Answers 429 to every request.
    Throttled,
    /// Answers with data that stopped updating.
    Stale,
    /// Answers with wrong data (`status` is not "ok").
    Wrong,
}

#[derive(Debug)]
struct Inner {
    mode: Mode,
    stale_at: u64,
    task: Option<JoinHandle<()>>,
    /// Bumped on an outage: open connections close (clients pool them).
    generation: tokio::sync::watch::Sender<u64>,
}

/// A local API provider.
#[derive(Debug, Clone)]
pub struct FakeApi {
    /// Its name (returned in every answer).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    /// Requests served.
    pub served: Arc<AtomicU64>,
}

#[allow(clippy::disallowed_methods)] // test providers have their own clock
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl FakeApi {
    /// Starts a provider on an ephemeral port of 127.0.0.1.
    pub async fn spawn(name: &str) -> std::io::Result<FakeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let api = FakeApi {
            name: name.to_string(),
            addr,
            inner: Arc::new(Mutex::new(Inner {
                mode: Mode::Healthy,
                stale_at: 0,
                task: None,
                generation: tokio::sync::watch::Sender::new(0),
            })),
            served: Arc::new(AtomicU64::new(0)),
        };
        api.start_serving(listener);
        Ok(api)
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.inner
            .lock()
            .map(|i| i.mode.clone())
            .unwrap_or(Mode::Healthy)
    }

    fn start_serving(&self, listener: TcpListener) {
        let me = self.clone();
        let Ok(generation) = self.inner.lock().map(|i| i.generation.subscribe()) else {
            return;
        };
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let me = me.clone();
                let mut gen = generation.clone();
                gen.mark_unchanged();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let me = me.clone();
                        async move { Ok::<_, std::convert::Infallible>(me.answer(req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = gen.changed() => {} // outage: drop the connection
                    }
                });
            }
        });
        if let Ok(mut i) = self.inner.lock() {
            if let Some(old) = i.task.replace(task) {
                old.abort();
            }
        }
    }

    /// Switches behaviour. Entering an outage closes the socket; leaving
    /// it binds the same port again.
    pub async fn set(&self, mode: Mode) -> std::io::Result<()> {
        let was_out = {
            let mut i = self
                .inner
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?;
            let was_out = i.mode == Mode::Outage;
            if mode == Mode::Stale && i.mode != Mode::Stale {
                i.stale_at = unix_now();
            }
            i.mode = mode.clone();
            if mode == Mode::Outage {
                if let Some(t) = i.task.take() {
                    t.abort();
                }
                i.generation.send_modify(|g| *g += 1);
            }
            was_out
        };
        if was_out && mode != Mode::Outage {
            // The old socket may take a moment to be released.
            let mut last = None;
            for _ in 0..50 {
                match TcpListener::bind(self.addr).await {
                    Ok(l) => {
                        self.start_serving(l);
                        return Ok(());
                    }
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            return Err(last.unwrap_or_else(|| std::io::Error::other("rebind failed")));
        }
        Ok(())
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        self.served.fetch_add(1, Ordering::Relaxed);
        let (mode, stale_at) = self
            .inner
            .lock()
            .map(|i| (i.mode.clone(), i.stale_at))
            .unwrap_or((Mode::Healthy, 0));
        if let Mode::Slow(ms) = mode {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let status = match mode {
            Mode::Errors => 503,
            Mode::Throttled => 429,
            _ => 200,
        };
        let updated = if mode == Mode::Stale {
            stale_at
        } else {
            unix_now()
        };
        let ok = if mode == Mode::Wrong {
            "degraded"
        } else {
            "ok"
        };
        let body = match req.uri().path() {
            "/health" => format!(
                r#"{{"status":"{ok}","value":42,"updated_at":{updated},"provider":"{}"}}"#,
                self.name
            ),
            path => format!(
                r#"{{"provider":"{}","path":"{path}","price":42.0,"updated_at":{updated}}}"#,
                self.name
            ),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        resp.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// Finds the anvil binary: `$ANVIL`, then `PATH`, then the npm package
/// `@foundry-rs/anvil` in `./node_modules` or the repository's.
pub fn find_anvil() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ANVIL").map(PathBuf::from) {
        if p.is_file() {
            return Some(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("anvil");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let roots = [
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")),
    ];
    for root in roots.into_iter().flatten() {
        let p = root.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// A running anvil node.
#[derive(Debug)]
pub struct Anvil {
    /// Its JSON-RPC port on 127.0.0.1.
    pub port: u16,
    /// Its chain id.
    pub chain_id: u64,
    child: Option<tokio::process::Child>,
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Anvil {
    /// Starts anvil on a free port with a block every `block_time` seconds
    /// and a genesis no other node shares, and waits (bounded, 10 s) until
    /// it answers.
    pub async fn spawn(
        bin: &std::path::Path,
        chain_id: u64,
        block_time: u64,
    ) -> std::io::Result<Anvil> {
        // A port found free may be taken by another test's node before
        // this one binds it; the node that then answers is not ours. Each
        // node has its own dev balance, so the answer tells: retry.
        for _ in 0..5 {
            if let Some(node) = Anvil::try_spawn(bin, chain_id, block_time).await? {
                return Ok(node);
            }
        }
        Err(std::io::Error::other(
            "anvil did not start on a port of its own in 5 tries",
        ))
    }

    async fn try_spawn(
        bin: &std::path::Path,
        chain_id: u64,
        block_time: u64,
    ) -> std::io::Result<Option<Anvil>> {
        let port = free_port()?;
        let balance_eth = 10_000 + u64::from(port);
        let child = tokio::process::Command::new(bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--chain-id",
                &chain_id.to_string(),
                "--block-time",
                &block_time.to_string(),
                // A genesis of its own (the dev accounts' balance differs
                // per node): two nodes started in the same second would
                // otherwise mine identical blocks and outvote a third in
                // the consistency check, as if it had forked.
                "--balance",
                &balance_eth.to_string(),
                "--silent",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut node = Anvil {
            port,
            chain_id,
            child: Some(child),
        };
        let ours = format!("{:#x}", u128::from(balance_eth) * 1_000_000_000_000_000_000);
        for _ in 0..100 {
            let exited = node
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                return Ok(None);
            }
            if let Ok(answer) = node
                .rpc(
                    "eth_getBalance",
                    r#"["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","latest"]"#,
                )
                .await
            {
                if answer.contains(&format!("\"{ours}\"")) {
                    return Ok(Some(node));
                }
                if answer.contains("result") {
                    // Another node answers on this port.
                    return Ok(None);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(std::io::Error::other("anvil did not start within 10 s"))
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A raw JSON-RPC call (for fault injection: `evm_setIntervalMining`).
    pub async fn rpc(&self, method: &str, params: &str) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let req = format!("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        s.write_all(req.as_bytes()).await?;
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
            .await
            .map_err(|_| std::io::Error::other("rpc timeout"))??;
        Ok(out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    }

    /// Stops mining: the head stops advancing (stale data).
    pub async fn stop_mining(&self) -> std::io::Result<()> {
        self.rpc("evm_setIntervalMining", "[0]").await?;
        self.rpc("evm_setAutomine", "[false]").await.map(|_| ())
    }

    /// Kills the node (an outage).
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }
}
