//! Local providers for the demo and the end-to-end tests: real HTTP
//! servers on 127.0.0.1 whose behaviour can be switched at run time
//! (outage, slowness, 5xx, 429, stale or wrong data), and anvil nodes as
//! EVM JSON-RPC providers when anvil is installed.
//!
//! An outage closes the listening socket, so clients see a refused
//! connection, as with a real dead host; recovery binds the same port
//! again.
//!
//! A mode can also be set for one vantage only ([`FakeApi::set_for_vantage`]):
//! requests carrying `x-sentinel-vantage: <sentinel id>` (every probe a
//! sentinel sends does) get that mode's behaviour, others the global one.
//! A socket cannot be closed for one client, so an outage for one vantage
//! drops each of its connections without an answer instead.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
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
    /// Modes for one vantage only (the `x-sentinel-vantage` header), with
    /// when a stale one stopped updating.
    vantages: HashMap<String, (Mode, u64)>,
}

/// The header carrying the id of the sentinel that sent a probe.
pub const VANTAGE_HEADER: &str = "x-sentinel-vantage";

/// Why a connection is dropped without an answer (an outage for one
/// vantage): hyper closes a connection whose service fails.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outage for this vantage: connection dropped")
    }
}

impl std::error::Error for Dropped {}

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
                vantages: HashMap::new(),
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
                        async move { me.answer(req).await }
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

    /// The mode for requests from `vantage` only, if one is set.
    pub fn vantage_mode(&self, vantage: &str) -> Option<Mode> {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.vantages.get(vantage).map(|(m, _)| m.clone()))
    }

    /// Sets (`Some`) or clears (`None`) the mode of requests carrying
    /// `x-sentinel-vantage: <vantage>`; other requests keep the global
    /// mode. An [`Mode::Outage`] for one vantage drops its connections
    /// without an answer (the socket stays open for the others). While the
    /// whole API is in an outage nobody is answered, whatever is set here.
    pub async fn set_for_vantage(&self, vantage: &str, mode: Option<Mode>) -> std::io::Result<()> {
        let mut i = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        match mode {
            None => {
                i.vantages.remove(vantage);
            }
            Some(mode) => {
                let stale_at = match i.vantages.get(vantage) {
                    Some((Mode::Stale, at)) if mode == Mode::Stale => *at,
                    _ => unix_now(),
                };
                i.vantages.insert(vantage.to_string(), (mode, stale_at));
            }
        }
        Ok(())
    }

    async fn answer(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
        self.served.fetch_add(1, Ordering::Relaxed);
        let vantage = req
            .headers()
            .get(VANTAGE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (mode, stale_at) = self
            .inner
            .lock()
            .map(|i| {
                vantage
                    .as_deref()
                    .and_then(|v| i.vantages.get(v).cloned())
                    .unwrap_or((i.mode.clone(), i.stale_at))
            })
            .unwrap_or((Mode::Healthy, 0));
        if mode == Mode::Outage {
            // Only reachable for a vantage's outage: a global one closed
            // the socket.
            return Err(Dropped);
        }
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
        Ok(resp)
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn probe(c: &reqwest::Client, api: &FakeApi, vantage: Option<&str>) -> Option<u16> {
        let mut r = c.get(format!("{}/health", api.url()));
        if let Some(v) = vantage {
            r = r.header(VANTAGE_HEADER, v);
        }
        r.send().await.ok().map(|r| r.status().as_u16())
    }

    #[tokio::test]
    async fn a_mode_for_one_vantage_leaves_the_others_alone() {
        let api = FakeApi::spawn("p").await.unwrap();
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        api.set_for_vantage("a", Some(Mode::Errors)).await.unwrap();
        assert_eq!(probe(&c, &api, Some("a")).await, Some(503));
        assert_eq!(probe(&c, &api, Some("b")).await, Some(200));
        assert_eq!(probe(&c, &api, None).await, Some(200));
        assert_eq!(api.vantage_mode("a"), Some(Mode::Errors));

        // An outage for one vantage drops its connections unanswered.
        api.set_for_vantage("a", Some(Mode::Outage)).await.unwrap();
        assert_eq!(probe(&c, &api, Some("a")).await, None);
        assert_eq!(probe(&c, &api, Some("b")).await, Some(200));

        // Cleared: the global mode again, for everyone.
        api.set_for_vantage("a", None).await.unwrap();
        api.set(Mode::Throttled).await.unwrap();
        assert_eq!(probe(&c, &api, Some("a")).await, Some(429));
        assert_eq!(probe(&c, &api, Some("b")).await, Some(429));
        assert_eq!(api.vantage_mode("a"), None);
    }

    #[tokio::test]
    async fn wrong_data_for_one_vantage_is_wrong_for_it_only() {
        let api = FakeApi::spawn("p").await.unwrap();
        let c = reqwest::Client::new();
        api.set_for_vantage("b", Some(Mode::Wrong)).await.unwrap();
        let body = |v: &'static str| {
            let c = c.clone();
            let url = format!("{}/health", api.url());
            async move {
                let r = c.get(url).header(VANTAGE_HEADER, v).send().await.unwrap();
                serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap()).unwrap()
            }
        };
        assert_eq!(body("b").await["status"], "degraded");
        assert_eq!(body("a").await["status"], "ok");
    }
}
