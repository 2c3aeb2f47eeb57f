#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
use super::test_server::{refused_port, serve, Reply, Request};
use super::*;
use sentinel_core::config::Method;
use sentinel_core::host::{headers, RedirectPolicy};
use sentinel_core::probe::{secret_header_aad, ProbeFailure, ProbeRequest, Purpose};
use sentinel_core::proxy::{ProxyRequest, Target, Upstream, UpstreamError};
use sentinel_core::secret::{self, SealedSecret};
use sentinel_core::tick::Prober;
use sentinel_core::{ProviderId, ServiceId};
use std::sync::Mutex;

const GUARDED: RedirectPolicy = RedirectPolicy {
    allow_private: false,
    same_origin_only: false,
    follow: true,
};

const SECRET: &str = "Bearer sk-live-top-secret-1234";

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes([b; 32])
}

fn sealed(k: &SecretKey, provider: &str, header: &str, plain: &str) -> SealedSecret {
    let aad = secret_header_aad(&ProviderId::new(provider).unwrap(), header);
    secret::seal(k, &aad, plain, &mut rand_core::OsRng).unwrap()
}

fn probe(url: String) -> ProbeRequest {
    ProbeRequest {
        provider: ProviderId::new("p1").unwrap(),
        service: ServiceId::new("svc").unwrap(),
        purpose: Purpose::Scheduled,
        method: Method::Get,
        url,
        headers: vec![("accept".into(), "application/json".into())],
        secret_headers: Vec::new(),
        body: None,
        timeout_ms: 2_000,
        max_bytes: 64 * 1024,
        allow_private: true,
    }
}

/// A GET for the shell's outbound alone.
fn outbound_get(url: String, redirects: RedirectPolicy) -> OutboundRequest {
    OutboundRequest {
        method: http::Method::GET,
        url: url.parse().unwrap(),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        timeout_ms: 2_000,
        max_bytes: 64 * 1024,
        redirects,
        fresh_connection: false,
    }
}

fn echo() -> super::test_server::Handler {
    Arc::new(|r: Request| {
        let mut out = format!("{} {}\n", r.method, r.path);
        for (k, v) in &r.headers {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out.push('\n');
        let mut body = out.into_bytes();
        body.extend_from_slice(&r.body);
        Reply::new(200, body).header("x-served-by", "echo")
    })
}

#[tokio::test]
async fn ok_with_body() {
    let (addr, srv) = serve(echo()).await;
    let client = crate::client(None).unwrap();
    let mut req = probe(format!("http://{addr}/health?x=1"));
    req.method = Method::Post;
    req.body = Some(b"{\"q\":1}".to_vec());
    let resp = client.probe(&req).await.unwrap();
    assert_eq!(resp.status, 200);
    assert!(!resp.truncated);
    let text = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(text.starts_with("POST /health?x=1\n"), "{text}");
    assert!(
        text.contains(&format!("user-agent: {USER_AGENT}")),
        "{text}"
    );
    assert!(text.contains("accept: application/json"), "{text}");
    assert!(text.ends_with("{\"q\":1}"), "{text}");
    assert!(resp.latency_ms < 2_000);
    srv.abort();
}

#[tokio::test]
async fn slow_server_times_out() {
    let (addr, srv) = serve(Arc::new(|_| {
        Reply::new(200, "late").delay(Duration::from_secs(5))
    }))
    .await;
    let client = crate::client(None).unwrap();
    let mut req = probe(format!("http://{addr}/"));
    req.timeout_ms = 300;
    let t = Instant::now();
    assert_eq!(client.probe(&req).await, Err(ProbeFailure::Timeout));
    assert!(
        t.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        t.elapsed()
    );
    srv.abort();
}

#[tokio::test]
async fn refused_port_is_connect() {
    let port = refused_port().await;
    let client = crate::client(None).unwrap();
    let url = format!("http://127.0.0.1:{port}/secret-path?apikey=abc123");
    match client.probe(&probe(url)).await {
        Err(ProbeFailure::Connect(m)) => {
            assert!(!m.contains("abc123"), "the URL leaked into {m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn oversized_body_is_truncated() {
    let (addr, srv) = serve(Arc::new(|r: Request| {
        let n = if r.path == "/big" { 1_000_000 } else { 1_000 };
        Reply::new(200, vec![b'x'; n])
    }))
    .await;
    let client = crate::client(None).unwrap();
    let mut req = probe(format!("http://{addr}/big"));
    req.max_bytes = 1_000;
    let resp = client.probe(&req).await.unwrap();
    assert!(resp.truncated);
    assert_eq!(resp.body.len(), 1_000);
    // Exactly at the cap is not truncated.
    req.url = format!("http://{addr}/exact");
    let resp = client.probe(&req).await.unwrap();
    assert!(!resp.truncated);
    assert_eq!(resp.body.len(), 1_000);
    srv.abort();
}

#[tokio::test]
async fn error_statuses_pass_through() {
    let (addr, srv) = serve(Arc::new(|r: Request| {
        let status = r.path.trim_start_matches('/').parse().unwrap();
        Reply::new(status, "nope").header("retry-after", "1")
    }))
    .await;
    let client = crate::client(None).unwrap();
    for status in [429u16, 503, 500, 404] {
        let resp = client
            .probe(&probe(format!("http://{addr}/{status}")))
            .await
            .unwrap();
        assert_eq!(resp.status, status);
        assert_eq!(resp.body, b"nope");
    }
    srv.abort();
}

#[tokio::test]
async fn guard_refuses_private_targets() {
    let (addr, srv) = serve(echo()).await;
    let client = crate::client(None).unwrap();
    let port = addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let mut req = probe(url.clone());
        req.allow_private = false;
        match client.probe(&req).await {
            Err(ProbeFailure::Blocked(m)) => assert!(m.contains("not allowed"), "{m}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    let mut req = probe(format!("http://127.0.0.1:{port}/"));
    req.allow_private = true;
    assert_eq!(client.probe(&req).await.unwrap().status, 200);
    // Scheme.
    let mut req = probe("file:///etc/passwd".into());
    req.allow_private = true;
    assert!(matches!(
        client.probe(&req).await,
        Err(ProbeFailure::Blocked(_))
    ));
    srv.abort();
}

#[tokio::test]
async fn guarded_resolver_refuses_names_of_private_addresses() {
    // The resolver alone (check_url lets ordinary names through): the
    // shell's outbound asked directly for a name that resolves to
    // loopback, under a policy that refuses private targets.
    let (addr, srv) = serve(echo()).await;
    let out = NativeOutbound::new().unwrap();
    let err = out
        .send(outbound_get(
            format!("http://localhost:{}/", addr.port()),
            GUARDED,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Blocked(_)), "{err:?}");
    srv.abort();
}

#[tokio::test]
async fn redirects_are_checked_per_hop() {
    let hits = Arc::new(Mutex::new(Vec::<String>::new()));
    let (b, srv_b) = serve(echo()).await;
    let h2 = hits.clone();
    let (a, srv_a) = serve(Arc::new(move |r: Request| {
        h2.lock().unwrap().push(r.path.clone());
        match r.path.as_str() {
            "/to-private" => Reply::new(302, "").header("location", "http://10.0.0.1/admin"),
            "/to-metadata" => Reply::new(302, "").header("location", "http://169.254.169.254/"),
            "/to-b" => Reply::new(302, "").header("location", &format!("http://{b}/landed")),
            "/same" => Reply::new(301, "").header("location", "/final"),
            "/final" => Reply::new(200, "final"),
            "/loop" => Reply::new(302, "").header("location", "/loop"),
            p => Reply::new(404, p.to_string()),
        }
    }))
    .await;
    // The shell's outbound under a guarded redirect policy, asked
    // directly (the core's URL check, which refuses the 127.0.0.1 of the
    // first hop, is not on this path): every hop is judged.
    let out = NativeOutbound::new().unwrap();
    for path in ["/to-private", "/to-metadata", "/to-b"] {
        match out
            .send(outbound_get(format!("http://{a}{path}"), GUARDED))
            .await
        {
            Err(OutboundError::Blocked(m)) => assert!(m.contains("not allowed"), "{m}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    // Allowed when private targets are.
    let client = crate::client(Some(key(1))).unwrap();
    let resp = client
        .probe(&probe(format!("http://{a}/to-b")))
        .await
        .unwrap();
    assert!(String::from_utf8(resp.body.to_vec())
        .unwrap()
        .starts_with("GET /landed"));
    let resp = client
        .probe(&probe(format!("http://{a}/same")))
        .await
        .unwrap();
    assert_eq!(resp.body, b"final");
    // At most three hops.
    match client.probe(&probe(format!("http://{a}/loop"))).await {
        Err(ProbeFailure::Protocol(m)) => assert!(m.contains("redirects"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        hits.lock()
            .unwrap()
            .iter()
            .filter(|p| *p == "/loop")
            .count(),
        4
    );
    // With credentials: same-origin hops only.
    let mut req = probe(format!("http://{a}/to-b"));
    req.secret_headers = vec![(
        "x-api-key".into(),
        sealed(&key(1), "p1", "x-api-key", SECRET),
    )];
    match client.probe(&req).await {
        Err(ProbeFailure::Protocol(m)) => {
            assert!(m.contains("another origin") && !m.contains(SECRET), "{m}")
        }
        other => panic!("{other:?}"),
    }
    req.url = format!("http://{a}/same");
    assert_eq!(client.probe(&req).await.unwrap().body, b"final");
    srv_a.abort();
    srv_b.abort();
}

#[tokio::test]
async fn tls_to_a_plain_server_is_tls() {
    use tokio::io::AsyncWriteExt;
    // A plain-text server that answers anything at once.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let srv = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            let _ = s.shutdown().await;
        }
    });
    let client = crate::client(None).unwrap();
    let r = client.probe(&probe(format!("https://{addr}/"))).await;
    assert!(matches!(r, Err(ProbeFailure::Tls(_))), "{r:?}");
    srv.abort();
}

#[tokio::test]
async fn secret_headers_are_opened_and_never_shown() {
    let (addr, srv) = serve(echo()).await;
    let k = key(7);
    let client = crate::client(Some(k.clone())).unwrap();
    let mut req = probe(format!("http://{addr}/"));
    req.secret_headers = vec![(
        "Authorization".into(),
        sealed(&k, "p1", "authorization", SECRET),
    )];
    let resp = client.probe(&req).await.unwrap();
    let text = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(text.contains(&format!("authorization: {SECRET}")), "{text}");
    for shown in [format!("{client:?}"), format!("{req:?}")] {
        assert!(
            !shown.contains("sk-live") && !shown.contains(SECRET),
            "{shown}"
        );
    }
    // Wrong key, moved to another provider, or no key: a credential
    // error without the secret.
    let other = crate::client(Some(key(8))).unwrap();
    let mut moved = req.clone();
    moved.provider = ProviderId::new("p2").unwrap();
    let nokey = crate::client(None).unwrap();
    for r in [
        other.probe(&req).await,
        client.probe(&moved).await,
        nokey.probe(&req).await,
    ] {
        match r {
            Err(ProbeFailure::Protocol(m)) => {
                assert!(m.contains("credential") && !m.contains("sk-live"), "{m}");
                assert!(!format!("{m:?}").contains(SECRET));
            }
            other => panic!("{other:?}"),
        }
    }
    srv.abort();
}

fn target(url: String, allow_private: bool) -> Target {
    Target {
        provider: ProviderId::new("p1").unwrap(),
        url,
        secret_headers: Vec::new(),
        allow_private,
    }
}

#[tokio::test]
async fn upstream_forwards_and_strips_hop_by_hop() {
    let (addr, srv) = serve(Arc::new(|r: Request| {
        let echo = format!(
            "{} {} conn={:?} te={:?} up={:?} pa={:?} x-custom={:?} x-drop={:?} key={:?} body={}",
            r.method,
            r.path,
            r.header("connection"),
            r.header("te"),
            r.header("upgrade"),
            r.header("proxy-authorization"),
            r.header("x-custom"),
            r.header("x-drop"),
            r.header("x-api-key"),
            String::from_utf8_lossy(&r.body)
        );
        Reply::new(201, echo)
            .header("keep-alive", "timeout=5")
            .header("proxy-authenticate", "Basic")
            .header("x-upstream", "yes")
    }))
    .await;
    let k = key(3);
    let client = crate::client(Some(k.clone())).unwrap();
    let mut t = target(format!("http://{addr}/rpc?a=b"), true);
    t.secret_headers = vec![("x-api-key".into(), sealed(&k, "p1", "x-api-key", SECRET))];
    // The client's headers as the host passes them on (stripped once,
    // where the request enters: `Host::handle`).
    let mut headers = headers::map_of(&[
        ("Connection".into(), "keep-alive, X-Drop".into()),
        ("TE".into(), "trailers".into()),
        ("Upgrade".into(), "websocket".into()),
        ("Proxy-Authorization".into(), "Basic Zm9v".into()),
        ("Host".into(), "evil.example".into()),
        ("Content-Length".into(), "999".into()),
        ("X-Custom".into(), "kept".into()),
        ("X-Drop".into(), "named by connection".into()),
    ]);
    headers::strip_request(&mut headers);
    let req = ProxyRequest {
        method: http::Method::PATCH,
        path_and_query: "/rpc?a=b".into(),
        headers,
        body: bytes::Bytes::from_static(b"hello"),
    };
    let resp = client.send(&t, &req, 2_000).await.unwrap();
    assert_eq!(resp.status, 201);
    let text = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(text.starts_with("PATCH /rpc?a=b "), "{text}");
    assert!(
        text.contains("te=None up=None pa=None x-custom=Some(\"kept\") x-drop=None"),
        "{text}"
    );
    assert!(text.contains(&format!("key=Some(\"{SECRET}\")")), "{text}");
    assert!(text.ends_with("body=hello"), "{text}");
    let names: Vec<&str> = resp.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert!(names.contains(&"x-upstream"), "{names:?}");
    for h in [
        "keep-alive",
        "proxy-authenticate",
        "connection",
        "content-length",
    ] {
        assert!(!names.contains(&h), "{h} in {names:?}");
    }
    // The answer cap.
    let small = client.clone().with_upstream_max_bytes(10);
    let plain = target(format!("http://{addr}/"), true);
    let get = ProxyRequest {
        method: http::Method::GET,
        ..ProxyRequest::default()
    };
    match small.send(&plain, &get, 2_000).await {
        Err(UpstreamError::Other(m)) => assert!(m.contains("larger than 10"), "{m}"),
        other => panic!("{other:?}"),
    }
    srv.abort();
}

#[tokio::test]
async fn upstream_errors() {
    let (addr, srv) = serve(Arc::new(|r: Request| {
        if r.path == "/slow" {
            Reply::new(200, "").delay(Duration::from_secs(5))
        } else {
            Reply::new(503, "busy")
        }
    }))
    .await;
    let client = crate::client(None).unwrap();
    let get = ProxyRequest {
        method: http::Method::GET,
        ..ProxyRequest::default()
    };
    let port = refused_port().await;
    let r = client
        .send(
            &target(format!("http://127.0.0.1:{port}/"), true),
            &get,
            1_000,
        )
        .await;
    assert!(matches!(r, Err(UpstreamError::Connect(_))), "{r:?}");
    let r = client
        .send(&target(format!("http://{addr}/slow"), true), &get, 200)
        .await;
    assert_eq!(r, Err(UpstreamError::Timeout));
    let r = client
        .send(&target(format!("http://{addr}/"), false), &get, 1_000)
        .await;
    assert!(matches!(r, Err(UpstreamError::Blocked(_))), "{r:?}");
    let r = client
        .send(&target(format!("http://{addr}/"), true), &get, 1_000)
        .await
        .unwrap();
    assert_eq!((r.status, &r.body[..]), (503, &b"busy"[..]));
    client.sleep(1).await;
    srv.abort();
}

/// The server forwards from spawned tasks and the tick may run on a
/// multi-threaded runtime: the futures must be `Send`.
#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let client = crate::client(None).unwrap();
    let req = probe("http://example.invalid/".into());
    let t = target("http://example.invalid/".into(), false);
    let p = ProxyRequest::default();
    assert_send(&client.probe(&req));
    assert_send(&Upstream::send(&client, &t, &p, 1));
    assert_send(&Upstream::sleep(&client, 1));
    assert_send(&client.post_json("http://example.invalid/", Vec::new(), &[], 1, false));
}

/// Issue 12: a provider whose listener closed (new connections refused,
/// old keep-alive ones still served) is down for probes at once, as for
/// every new client, while proxied requests may still use a live pooled
/// connection.
#[tokio::test]
async fn probes_open_a_fresh_connection_every_time() {
    // A keep-alive server whose listener closes (the abort below) while
    // the connections it accepted keep answering.
    let (addr, _, accept) = counting_server(None, 2).await;
    let client = crate::client(None).unwrap();
    let req = probe(format!("http://{addr}/"));
    let t = target(format!("http://{addr}/"), true);
    let get = ProxyRequest {
        method: http::Method::GET,
        ..ProxyRequest::default()
    };
    assert_eq!(client.probe(&req).await.unwrap().body, b"xx");
    assert_eq!(
        Upstream::send(&client, &t, &get, 2_000)
            .await
            .unwrap()
            .status,
        200
    );
    // The listener closes: nothing new is accepted.
    accept.abort();
    let _ = accept.await;
    for _ in 0..3 {
        let r = client.probe(&req).await;
        assert!(matches!(r, Err(ProbeFailure::Connect(_))), "{r:?}");
    }
    // The pooled connection of the proxy still answers (what old clients
    // see); the probe reports what new ones see.
    assert_eq!(
        Upstream::send(&client, &t, &get, 2_000)
            .await
            .unwrap()
            .status,
        200
    );
}

/// Issue 12: a peer that closes the connection mid-answer (or at once,
/// after reading the request) is a reset, told apart from a refused
/// connection and from a hang.
#[tokio::test]
async fn a_connection_closed_mid_answer_is_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = tokio::spawn(async move {
        for half in [true, false] {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            if half {
                // Promise 100 bytes, send 5, hang up.
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello")
                    .await;
            }
            // Dropping the socket closes it (with unread data: a RST).
            drop(s);
        }
    });
    let client = crate::client(None).unwrap();
    for _ in 0..2 {
        match client.probe(&probe(format!("http://{addr}/"))).await {
            Err(ProbeFailure::Reset(_)) => {}
            other => panic!("expected a reset, got {other:?}"),
        }
    }
    srv.abort();
}

#[tokio::test]
async fn retry_after_of_a_429_reaches_the_probe_response() {
    let (addr, srv) = serve(Arc::new(|_r: Request| {
        Reply::new(429, "slow down").header("retry-after", "60")
    }))
    .await;
    let client = crate::client(None).unwrap();
    let resp = client
        .probe(&probe(format!("http://{addr}/")))
        .await
        .unwrap();
    assert_eq!((resp.status, resp.retry_after_s), (429, Some(60)));
    srv.abort();
}

#[tokio::test]
async fn metadata_and_link_local_stay_refused_with_private_targets_allowed() {
    let (addr, srv) = serve(echo()).await;
    let client = crate::client(None).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ] {
        let mut req = probe(url.to_string());
        req.allow_private = true;
        match client.probe(&req).await {
            Err(ProbeFailure::Blocked(m)) => {
                assert!(m.contains("not even with allow_private_targets"), "{m}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // The resolver every client now has lets loopback names through when
    // private targets are allowed.
    let mut req = probe(format!("http://localhost:{}/", addr.port()));
    req.allow_private = true;
    assert_eq!(client.probe(&req).await.unwrap().status, 200);
    srv.abort();
}

/// A keep-alive server (no `connection: close`) answering `body_len`
/// bytes to every request; with `close_after`, it hangs up that long after
/// each connection's first answer. It counts the connections it accepted;
/// aborting its task closes the listener while the connections it
/// accepted keep answering.
async fn counting_server(
    close_after: Option<Duration>,
    body_len: usize,
) -> (
    SocketAddr,
    Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let body = vec![b'x'; body_len];
                            let head =
                                format!("HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\n\r\n");
                            if s.write_all(head.as_bytes()).await.is_err()
                                || s.write_all(&body).await.is_err()
                            {
                                return;
                            }
                            if let Some(d) = close_after {
                                tokio::time::sleep(d).await;
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, accepted, task)
}

/// Issue 18: proxied requests reuse this thread's keep-alive connection;
/// a connection the provider closed while idle (a short keep-alive
/// timeout) costs no failed request; an answer cut at the cap is not
/// followed by a reuse of its connection.
#[tokio::test]
async fn the_keep_alive_pool_reuses_and_recovers() {
    use std::sync::atomic::Ordering;
    let client = crate::client(None).unwrap();
    let get = ProxyRequest {
        method: http::Method::GET,
        ..ProxyRequest::default()
    };
    // Reuse: five requests, one connection.
    let (addr, accepted, srv) = counting_server(None, 2).await;
    let t = target(format!("http://{addr}/"), true);
    for _ in 0..5 {
        assert_eq!(client.send(&t, &get, 2_000).await.unwrap().status, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    srv.abort();
    // The provider hangs up 20 ms after each answer: every later request
    // finds its pooled connection closed and goes out on a new one.
    let (addr, accepted, srv) = counting_server(Some(Duration::from_millis(20)), 2).await;
    let t = target(format!("http://{addr}/"), true);
    for _ in 0..3 {
        let r = client.send(&t, &get, 2_000).await;
        assert_eq!(r.map(|r| r.status), Ok(200));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    srv.abort();
    // An answer over the cap: its connection is not given back.
    let (addr, accepted, srv) = counting_server(None, 64).await;
    let t = target(format!("http://{addr}/"), true);
    let small = client.clone().with_upstream_max_bytes(10);
    for _ in 0..2 {
        assert!(matches!(
            small.send(&t, &get, 2_000).await,
            Err(UpstreamError::Other(_))
        ));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    srv.abort();
}
