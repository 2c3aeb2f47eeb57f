#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The host layer's two entry points over the in-memory store and a
//! scripted network (the real network, server and webhooks are exercised
//! end to end by the local shell's tests; here every answer is chosen).

mod common;

use common::{api_config, block, request, start, Answer, Net, NoWait};
use sentinel_core::host::{
    validate_webhooks, Host, HostClient, HostOptions, OutboundError, OutboundRequest,
    OutboundResponse, MAX_BODY,
};
use sentinel_core::sim::MemoryStore;
use sentinel_core::time::SECOND;
use std::cell::Cell;
use std::rc::Rc;

fn ok(body: &str) -> Answer {
    let mut headers = http::HeaderMap::new();
    headers.insert("connection", "keep-alive".parse().unwrap());
    headers.insert("keep-alive", "timeout=5".parse().unwrap());
    headers.insert("x-upstream", "yes".parse().unwrap());
    Ok(OutboundResponse {
        status: 200,
        headers,
        body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        truncated: false,
        latency_ms: 3,
    })
}

fn healthy(req: &OutboundRequest) -> Answer {
    if req.url.path() == "/health" {
        let now = start() / 1000;
        ok(&format!(
            r#"{{"status":"ok","value":42,"updated_at":{now}}}"#
        ))
    } else {
        ok("upstream body")
    }
}

fn json(resp: &http::Response<bytes::Bytes>) -> serde_json::Value {
    serde_json::from_slice(resp.body()).unwrap()
}

#[test]
fn the_http_entry_point_routes_proxies_books_and_submits() {
    let store = MemoryStore::default();
    let net = Net::new(healthy);
    let client = HostClient::new(net.clone(), NoWait, None);
    let opts = HostOptions {
        token: Some("tok".into()),
        ..HostOptions::default()
    };
    let now = Cell::new(start());
    let clock = || now.get();
    let (host, mut sentinel) =
        block(Host::open(api_config(""), &store, client, opts, start())).unwrap();
    block(host.scheduled(&mut sentinel, &clock)).unwrap();

    let r = block(host.handle(request("GET", "/healthz", &[], b""), start()));
    assert_eq!(r.status(), 200);

    // A proxied request: the upstream answer without hop-by-hop headers,
    // with who answered.
    let r = block(host.handle(
        request(
            "GET",
            "/proxy/prices/v1/price?x=1",
            &[("connection", "x-drop"), ("x-drop", "1")],
            b"",
        ),
        start(),
    ));
    assert_eq!(r.status(), 200);
    assert_eq!(&r.body()[..], b"upstream body");
    assert!(r.headers().get("keep-alive").is_none());
    assert!(r.headers().get("connection").is_none());
    assert_eq!(r.headers()["x-upstream"], "yes");
    assert_eq!(r.headers()["x-sentinel-provider"], "a");
    let last = net.sent.borrow().last().cloned().unwrap();
    assert_eq!(last.url.to_string(), "http://127.0.0.1:9001/v1/price?x=1");
    assert!(
        last.headers.get("x-drop").is_none(),
        "a header named by Connection is not forwarded"
    );

    // Errors: unknown service, a body over the cap.
    let r = block(host.handle(request("GET", "/proxy/nope/x", &[], b""), start()));
    assert_eq!(r.status(), 404);
    let big = vec![b'x'; MAX_BODY + 1];
    let r = block(host.handle(request("POST", "/proxy/prices/x", &[], &big), start()));
    assert_eq!(r.status(), 413);
    assert_eq!(json(&r)["error"]["code"], "payload-too-large");

    // The proxied request is booked at the next tick.
    let before = sentinel.engine().state().providers["a"].ledger.requests;
    now.set(start() + SECOND);
    block(host.scheduled(&mut sentinel, &clock)).unwrap();
    let after = sentinel.engine().state().providers["a"].ledger.requests;
    assert!(after > before, "{before} → {after}");

    // Submissions: refused without the token, committed and visible at
    // once with it, and kept by the next tick (which rebases on them).
    let body =
        br#"{"service":"prices","provider":{"id":"newcomer","endpoint":"http://127.0.0.1:9009"}}"#;
    let ct = ("content-type", "application/json");
    let r = block(host.handle(request("POST", "/v1/providers", &[ct], body), start()));
    assert_eq!(r.status(), 401);
    let auth = ("authorization", "Bearer tok");
    let r = block(host.handle(request("POST", "/v1/providers", &[ct, auth], body), start()));
    assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
    let r = block(host.handle(request("GET", "/v1/providers/newcomer", &[], b""), start()));
    assert_eq!(r.status(), 200);
    now.set(start() + 2 * SECOND);
    block(host.scheduled(&mut sentinel, &clock)).unwrap();
    assert!(sentinel.engine().registry().provider("newcomer").is_some());
    let r = block(host.handle(request("GET", "/v1/providers/newcomer", &[], b""), start()));
    assert_eq!(r.status(), 200);
}

#[test]
fn every_attempt_failing_is_a_502() {
    let store = MemoryStore::default();
    let net = Net::new(|req| {
        if req.url.path() == "/health" {
            healthy(req)
        } else {
            Err(OutboundError::Connect("refused".into()))
        }
    });
    let client = HostClient::new(net, NoWait, None);
    let (host, mut sentinel) = block(Host::open(
        api_config(""),
        &store,
        client,
        HostOptions::default(),
        start(),
    ))
    .unwrap();
    block(host.scheduled(&mut sentinel, &|| start())).unwrap();
    let r = block(host.handle(request("GET", "/proxy/prices/v1/price", &[], b""), start()));
    assert_eq!(r.status(), 502);
    assert_eq!(json(&r)["error"]["code"], "upstream-unavailable");
}

#[test]
fn webhook_urls_are_checked_like_probe_targets() {
    for (bad, why) in [
        ("file:///etc/passwd", "scheme"),
        ("", "invalid"),
        ("notaurl", "invalid"),
        ("http://169.254.169.254/latest", "metadata"),
        ("http://10.0.0.8/hook", "private"),
    ] {
        let urls = vec![
            "https://hooks.slack.com/services/T/B/X".to_string(),
            bad.to_string(),
        ];
        let (index, reason) = validate_webhooks(&urls, false).unwrap_err();
        assert_eq!(index, 2, "{bad}");
        assert!(reason.contains(why), "{bad}: {reason}");
    }
    assert!(validate_webhooks(&["http://127.0.0.1:9/h".to_string()], true).is_ok());
    // Open refuses them with their position, never their URL.
    let store = MemoryStore::default();
    let client = HostClient::new(Net::new(healthy), NoWait, None);
    let opts = HostOptions {
        webhooks: vec!["http://169.254.169.254/T0K3N".into()],
        ..HostOptions::default()
    };
    let mut cfg = api_config("");
    cfg.sentinel.allow_private_targets = false;
    let err = block(Host::open(cfg, &store, client, opts, start())).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("webhook #1") && !msg.contains("T0K3N"),
        "{msg}"
    );
}

/// An alert goes to every webhook once, with the same idempotency key; a
/// failing webhook is retried after its backoff, not at once; the outbox
/// empties once every webhook has it.
#[test]
fn alerts_are_delivered_once_per_webhook_and_retried_after_backoff() {
    let store = MemoryStore::default();
    let failing = Rc::new(Cell::new(true));
    let f = failing.clone();
    let net = Net::new(move |req| {
        if req.method == http::Method::POST {
            if req.url.host() == Some("hooks-b.example") && f.get() {
                return Ok(OutboundResponse {
                    status: 500,
                    ..OutboundResponse::default()
                });
            }
            return Ok(OutboundResponse {
                status: 200,
                ..OutboundResponse::default()
            });
        }
        if req.url.port_u16() == Some(9001) {
            return Err(OutboundError::Connect("refused".into()));
        }
        healthy(req)
    });
    let client = HostClient::new(net.clone(), NoWait, None);
    let opts = HostOptions {
        webhooks: vec![
            "https://hooks-a.example/T0K3N".into(),
            "https://hooks-b.example/x".into(),
        ],
        ..HostOptions::default()
    };
    let (host, mut sentinel) =
        block(Host::open(api_config(""), &store, client, opts, start())).unwrap();
    let now = Cell::new(start());
    let clock = || now.get();
    let mut fired_at = None;
    for _ in 0..60 {
        let r = block(host.scheduled(&mut sentinel, &clock)).unwrap();
        if r.actions
            .iter()
            .any(|a| matches!(a, sentinel_core::Action::Alert { firing: true, .. }))
        {
            fired_at = Some(now.get());
            break;
        }
        now.set(r.next_wakeup.max(now.get() + SECOND));
    }
    let t = fired_at.expect("the outage of `a` raised an alert");
    let posts = |net: &Net| -> Vec<(String, String)> {
        net.sent
            .borrow()
            .iter()
            .filter(|r| r.method == http::Method::POST)
            .map(|r| {
                (
                    r.url.host().unwrap_or_default().to_string(),
                    r.headers["idempotency-key"].to_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let sent = block(host.deliver(t));
    assert!(sent >= 2, "{sent}");
    let first = posts(&net);
    // Not again before the results are booked, nor within the backoff.
    assert_eq!(block(host.deliver(t)), 0);
    now.set(t + SECOND);
    block(host.scheduled(&mut sentinel, &clock)).unwrap();
    assert_eq!(
        block(host.deliver(t + SECOND)),
        0,
        "the failed one waits its backoff"
    );
    assert!(!sentinel.engine().state().outbox.is_empty());
    // The failing webhook recovers; after the backoff it gets the same
    // notices with the same keys, and nobody gets anything twice.
    failing.set(false);
    let later = t + 30 * SECOND;
    assert!(block(host.deliver(later)) >= 1);
    now.set(later + SECOND);
    block(host.scheduled(&mut sentinel, &clock)).unwrap();
    let all = posts(&net);
    let ok_a: Vec<&(String, String)> = all.iter().filter(|(h, _)| h == "hooks-a.example").collect();
    let to_b: Vec<&String> = all
        .iter()
        .filter(|(h, _)| h == "hooks-b.example")
        .map(|(_, k)| k)
        .collect();
    for (_, key) in first.iter().filter(|(h, _)| h == "hooks-a.example") {
        assert_eq!(
            ok_a.iter().filter(|(_, k)| k == key).count(),
            1,
            "{key} twice to a"
        );
        assert!(to_b.contains(&key), "{key} never reached b");
    }
    assert!(
        sentinel
            .engine()
            .state()
            .outbox
            .iter()
            .all(|n| n.created > t),
        "delivered notices leave the outbox"
    );
}

/// `/v1/observations` authenticates before it reads the log: a request
/// without a valid token or peer signature costs the store nothing (on a
/// Worker, no KV read), and a peer's signed read is answered and signed.
#[test]
fn observation_reads_authenticate_before_they_touch_the_store() {
    use sentinel_core::peer::auth::{self, PeerSecret, RequestParts};
    let store = MemoryStore::default();
    let net = Net::new(healthy);
    let client = HostClient::new(net.clone(), NoWait, None);
    let secret = PeerSecret::new("a-secret-of-thirty-two-bytes-123").unwrap();
    let peer = sentinel_core::SentinelId::new("b").unwrap();
    let mut cfg = api_config("");
    cfg.peers.push(sentinel_core::config::PeerConfig {
        id: peer.clone(),
        url: "http://127.0.0.1:1".into(),
    });
    let opts = HostOptions {
        token: Some("tok".into()),
        peer_secrets: vec![(peer.clone(), secret.clone())],
        ..HostOptions::default()
    };
    let (host, _sentinel) = block(Host::open(cfg, &store, client, opts, start())).unwrap();
    let before = store.log_reads.get();
    let get = |headers: Vec<(String, String)>| {
        let mut b = http::Request::builder().uri("/v1/observations?since=0");
        for (k, v) in headers {
            b = b.header(k, v);
        }
        block(host.handle(b.body(bytes::Bytes::new()).unwrap(), start()))
    };
    assert_eq!(get(vec![]).status(), 401);
    assert_eq!(
        get(vec![("authorization".into(), "Bearer nope".into())]).status(),
        403
    );
    let forged = auth::sign_request(
        &PeerSecret::new("another-secret-entirely-32-bytes").unwrap(),
        &peer,
        &RequestParts {
            method: "GET",
            path: "/v1/observations",
            query: "since=0",
            body: b"",
        },
        start(),
        "00112233445566778899aabbccddeeff",
    );
    assert_eq!(get(forged).status(), 401);
    assert_eq!(
        store.log_reads.get(),
        before,
        "refused requests read nothing"
    );
    let nonce = "0123456789abcdef0123456789abcdef";
    let signed = auth::sign_request(
        &secret,
        &peer,
        &RequestParts {
            method: "GET",
            path: "/v1/observations",
            query: "since=0",
            body: b"",
        },
        start(),
        nonce,
    );
    let ok = get(signed.clone());
    assert_eq!(ok.status(), 200);
    let sig = ok
        .headers()
        .get(auth::H_SIGNATURE)
        .and_then(|v| v.to_str().ok());
    assert!(auth::verify_response(&secret, nonce, 200, ok.body(), sig).is_ok());
    assert_eq!(get(signed).status(), 401, "a replay is refused");
    assert_eq!(store.log_reads.get(), before + 1);
    assert_eq!(
        get(vec![("authorization".into(), "Bearer tok".into())]).status(),
        200
    );
}
