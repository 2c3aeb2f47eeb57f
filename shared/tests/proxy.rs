#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shared proxy failover loop against a scripted upstream.

mod common;

use common::{api_config, evm_config, start};
use sentinel_core::proxy::{
    forward, retryable, stamp, ProxyPolicy, ProxyRequest, Target, Upstream, UpstreamError,
    UpstreamResponse, UsageTally,
};
use sentinel_core::sim::Scenario;
use sentinel_core::ServiceId;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls a future to completion on this thread (bounded).
fn block<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete");
}

/// Yields `n` times before completing: a stand-in for time passing.
struct Yield(u32);
impl Future for Yield {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Clone)]
enum Script {
    Status(u16, u32),
    Refused,
    Timeout,
}

#[derive(Default)]
struct Fake {
    script: BTreeMap<String, Script>,
    calls: RefCell<Vec<String>>,
}

impl Upstream for Fake {
    async fn send(
        &self,
        t: &Target,
        req: &ProxyRequest,
        _timeout: u64,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.calls.borrow_mut().push(t.provider.to_string());
        match self
            .script
            .get(t.provider.as_str())
            .cloned()
            .unwrap_or(Script::Status(200, 0))
        {
            Script::Status(s, delay) => {
                Yield(delay).await;
                Ok(UpstreamResponse {
                    status: s,
                    headers: http::HeaderMap::new(),
                    // JSON for JSON-RPC calls: the proxy checks answers.
                    body: if req.method == http::Method::POST {
                        format!(r#"{{"jsonrpc":"2.0","id":0,"from":"{}"}}"#, t.provider)
                    } else {
                        format!("from {}", t.provider)
                    }
                    .into_bytes()
                    .into(),
                })
            }
            Script::Refused => Err(UpstreamError::Connect("refused".into())),
            Script::Timeout => Err(UpstreamError::Timeout),
        }
    }
    async fn sleep(&self, _ms: u64) {
        Yield(5).await
    }
}

fn warmed() -> Scenario {
    let mut s = Scenario::new(api_config(""), start(), 1).unwrap();
    s.run_until(start() + 10 * 60_000);
    s
}

fn get() -> ProxyRequest {
    ProxyRequest {
        method: http::Method::GET,
        path_and_query: "/v1/price?x=1".into(),
        ..ProxyRequest::default()
    }
}

#[test]
fn fails_over_past_dead_and_overloaded_providers() {
    let s = warmed();
    let fake = Fake {
        script: [
            ("a".to_string(), Script::Refused),
            ("b".to_string(), Script::Status(503, 0)),
        ]
        .into(),
        ..Fake::default()
    };
    let svc = ServiceId::new("prices").unwrap();
    let out = block(forward(
        &s.engine,
        &svc,
        &get(),
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    let resp = out.response.clone().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(String::from_utf8(resp.body.to_vec()).unwrap(), "from c");
    assert_eq!(
        *fake.calls.borrow(),
        vec!["a", "b", "c"],
        "active first, then the rest best first"
    );
    assert!(out.attempts[2].used);
    // Bookkeeping: a request per provider tried, retries for the 2nd and 3rd.
    let mut tally = UsageTally::default();
    tally.add(&out);
    tally.add(&out);
    let mut seq = 0;
    let ev = stamp(tally.drain(), "proxy", &mut seq, s.now);
    assert!(tally.is_empty());
    // Two requests counted against each of the three providers.
    let requests: u64 = ev
        .iter()
        .filter_map(|e| match &e.kind {
            sentinel_core::engine::EventKind::Usage {
                metric: sentinel_core::books::Metric::Requests,
                amount,
                ..
            } => Some(*amount),
            _ => None,
        })
        .sum();
    assert_eq!(requests, 6);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e.kind, sentinel_core::engine::EventKind::Retry { .. }))
            .count(),
        2
    );
    assert!(ev.iter().any(|e| matches!(&e.kind, sentinel_core::engine::EventKind::Retry { provider, ok: 2, failed: 0 } if provider.as_str() == "c")));
    assert!(ev.iter().any(|e| matches!(&e.kind, sentinel_core::engine::EventKind::Retry { provider, ok: 0, failed: 2 } if provider.as_str() == "b")));
    assert_eq!(seq, ev.len() as u64);
}

#[test]
fn unsafe_requests_get_exactly_one_attempt() {
    let s = warmed();
    let fake = Fake {
        script: [("a".to_string(), Script::Timeout)].into(),
        ..Fake::default()
    };
    let post = ProxyRequest {
        method: http::Method::POST,
        body: br#"{"order":1}"#.to_vec().into(),
        ..get()
    };
    let out = block(forward(
        &s.engine,
        &ServiceId::new("prices").unwrap(),
        &post,
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert!(out.response.is_err());
    assert_eq!(fake.calls.borrow().len(), 1);
}

#[test]
fn json_rpc_reads_are_retried_and_writes_are_not() {
    let read = ProxyRequest {
        method: http::Method::POST,
        body: br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#
            .to_vec()
            .into(),
        ..get()
    };
    let batch = ProxyRequest { body: br#"[{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}]"#.to_vec().into(), ..read.clone() };
    let write = ProxyRequest {
        body: br#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}"#
            .to_vec()
            .into(),
        ..read.clone()
    };
    let mixed = ProxyRequest {
        body: br#"[{"method":"eth_call"},{"method":"eth_sendRawTransaction"}]"#
            .to_vec()
            .into(),
        ..read.clone()
    };
    assert!(retryable(&read) && retryable(&batch));
    assert!(!retryable(&write) && !retryable(&mixed));
    assert!(!retryable(&ProxyRequest {
        body: b"not json".to_vec().into(),
        ..read.clone()
    }));

    let mut s = Scenario::new(evm_config(), start(), 2).unwrap();
    s.run_until(start() + 5 * 60_000);
    let fake = Fake {
        script: [("e1".to_string(), Script::Refused)].into(),
        ..Fake::default()
    };
    let out = block(forward(
        &s.engine,
        &ServiceId::new("eth").unwrap(),
        &read,
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert_eq!(out.response.unwrap().status, 200);
    assert_eq!(fake.calls.borrow().len(), 2);
}

#[test]
fn all_failing_returns_the_last_answer_or_a_clear_error() {
    let s = warmed();
    let fake = Fake {
        script: [
            ("a".to_string(), Script::Refused),
            ("b".to_string(), Script::Refused),
            ("c".to_string(), Script::Status(429, 0)),
        ]
        .into(),
        ..Fake::default()
    };
    let out = block(forward(
        &s.engine,
        &ServiceId::new("prices").unwrap(),
        &get(),
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert_eq!(
        out.response.unwrap().status,
        429,
        "the upstream's own 429 reaches the client"
    );
    let out = block(forward(
        &s.engine,
        &ServiceId::new("nope").unwrap(),
        &get(),
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert!(matches!(
        out.response,
        Err(sentinel_core::proxy::ProxyError::UnknownService(_))
    ));
}

#[test]
fn hedging_takes_the_faster_answer() {
    let s = warmed();
    let fake = Fake {
        script: [
            ("a".to_string(), Script::Status(200, 1000)),
            ("b".to_string(), Script::Status(200, 0)),
        ]
        .into(),
        ..Fake::default()
    };
    let policy = ProxyPolicy {
        hedge: true,
        ..ProxyPolicy::default()
    };
    let out = block(forward(
        &s.engine,
        &ServiceId::new("prices").unwrap(),
        &get(),
        &fake,
        &policy,
        s.now,
    ));
    assert_eq!(
        String::from_utf8(out.response.unwrap().body.to_vec()).unwrap(),
        "from b"
    );
    assert!(out
        .attempts
        .iter()
        .any(|a| a.hedge && a.provider.as_str() == "b"));
    // Hedging is on by default for requests safe to repeat…
    let out = block(forward(
        &s.engine,
        &ServiceId::new("prices").unwrap(),
        &get(),
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert_eq!(
        String::from_utf8(out.response.unwrap().body.to_vec()).unwrap(),
        "from b"
    );
    // …and a service can turn it off: then the slow one answers.
    let mut cfg = api_config("");
    cfg.services[0].proxy.hedge = false;
    let mut s = Scenario::new(cfg, start(), 1).unwrap();
    s.run_until(start() + 10 * 60_000);
    let out = block(forward(
        &s.engine,
        &ServiceId::new("prices").unwrap(),
        &get(),
        &fake,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert_eq!(
        String::from_utf8(out.response.unwrap().body.to_vec()).unwrap(),
        "from a"
    );
}

/// An EVM upstream whose nodes answer JSON-RPC with their own chain id and
/// head.
struct Rpc {
    nodes: BTreeMap<String, (u64, u64, u64)>, // chain id, head number, head timestamp (s)
    calls: RefCell<Vec<String>>,
}

impl Upstream for Rpc {
    async fn send(
        &self,
        t: &Target,
        req: &ProxyRequest,
        _timeout: u64,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.calls.borrow_mut().push(t.provider.to_string());
        let (chain, head, ts) = self.nodes[t.provider.as_str()];
        let call: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let result = match call["method"].as_str().unwrap() {
            "eth_chainId" => serde_json::json!(format!("0x{chain:x}")),
            "eth_blockNumber" => serde_json::json!(format!("0x{head:x}")),
            _ => {
                serde_json::json!({"number": format!("0x{head:x}"), "timestamp": format!("0x{ts:x}"), "hash": "0x00"})
            }
        };
        let body = serde_json::json!({"jsonrpc": "2.0", "id": call["id"], "result": result});
        Ok(UpstreamResponse {
            status: 200,
            headers: http::HeaderMap::new(),
            body: body.to_string().into_bytes().into(),
        })
    }
    async fn sleep(&self, _ms: u64) {}
}

/// Issue 12: an answer the service's checks refuse (another chain, a head
/// far behind, an old latest block) is retried on the next provider and
/// booked as bad data; a request no check applies to passes untouched.
#[test]
fn proxied_answers_are_checked_and_bad_ones_retried() {
    let mut s = Scenario::new(evm_config(), start(), 3).unwrap();
    s.run_until(start() + 5 * 60_000);
    let head = s.now / 12_000; // the synthetic chain's head now
    let ts = head * 12;
    let rpc = |e1: (u64, u64, u64)| Rpc {
        nodes: [
            ("e1".to_string(), e1),
            ("e2".to_string(), (1, head, ts)),
            ("e3".to_string(), (1, head, ts)),
        ]
        .into(),
        calls: RefCell::new(vec![]),
    };
    let call = |method: &str, params: &str| ProxyRequest {
        method: http::Method::POST,
        body: format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{params}}}"#)
            .into_bytes()
            .into(),
        ..get()
    };
    let eth = ServiceId::new("eth").unwrap();
    for (e1, req, check) in [
        ((5, head, ts), call("eth_chainId", "[]"), "business"),
        (
            (1, head - 20, ts),
            call("eth_blockNumber", "[]"),
            "consistency",
        ),
        (
            (1, head, ts - 3_600),
            call("eth_getBlockByNumber", r#"["latest",false]"#),
            "freshness",
        ),
    ] {
        let up = rpc(e1);
        let out = block(forward(
            &s.engine,
            &eth,
            &req,
            &up,
            &ProxyPolicy::default(),
            s.now,
        ));
        assert_eq!(*up.calls.borrow(), ["e1", "e2"], "{check}");
        let resp = out.response.clone().expect("the next provider's answer");
        assert_eq!(resp.status, 200);
        assert!(
            out.attempts[0].refused.is_some_and(|(c, _)| c == check),
            "{:?}",
            out.attempts
        );
        assert!(out.attempts[1].used);
        let mut tally = UsageTally::default();
        tally.add(&out);
        let events = tally.drain();
        assert!(
            events.iter().any(|e| matches!(e, sentinel_core::engine::EventKind::BadAnswers { provider, check: c, count: 1 } if provider.as_str() == "e1" && c == check)),
            "{events:?}"
        );
    }
    // Nothing checkable: e1's answer passes as it is.
    let up = rpc((5, head - 20, ts));
    let out = block(forward(
        &s.engine,
        &eth,
        &call("eth_getBalance", r#"["0x00","latest"]"#),
        &up,
        &ProxyPolicy::default(),
        s.now,
    ));
    assert_eq!(*up.calls.borrow(), ["e1"]);
    assert!(out.response.is_ok());
}
