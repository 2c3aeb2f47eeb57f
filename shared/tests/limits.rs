#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 13 through the host layer (the in-memory store and a scripted
//! network): quotas are a hard stop at request time and traffic leaves a
//! provider before it; a 429's Retry-After is honoured; a hung provider
//! costs one request, not every request; a write that never left may go
//! elsewhere; the caller's credentials never reach a provider, and a
//! service whose providers carry the operator's credentials needs a token;
//! WebSocket upgrades are refused plainly; JSON-RPC callers get JSON-RPC
//! errors.

mod common;

use common::{block, request, start, Answer, Net, NoWait};
use sentinel_core::config::Config;
use sentinel_core::host::{
    Host, HostClient, HostOptions, OutboundError, OutboundRequest, OutboundResponse,
};
use sentinel_core::sim::MemoryStore;
use sentinel_core::time::SECOND;
use std::cell::RefCell;
use std::rc::Rc;

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut h = http::HeaderMap::new();
    for (k, v) in headers {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    Ok(OutboundResponse {
        status,
        headers: h,
        body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        truncated: false,
        latency_ms: 3,
    })
}

fn health(req: &OutboundRequest) -> Option<Answer> {
    (req.url.path() == "/health").then(|| {
        answer(
            200,
            &[],
            &format!(r#"{{"status":"ok","updated_at":{}}}"#, start() / 1000),
        )
    })
}

fn config(a_limits: &str, extra_service: &str, a_extra: &str) -> Config {
    let text = format!(
        r#"
[sentinel]
id = "limits"
allow_private_targets = true

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"
{extra_service}

[service.probe]
path = "/health"
timeout = "2s"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"
{a_limits}
{a_extra}

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"

[[service.provider]]
id = "c"
endpoint = "http://127.0.0.1:9003"
"#
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn open(
    cfg: Config,
    net: &Net,
    opts: HostOptions,
    key: Option<sentinel_core::secret::SecretKey>,
) -> (
    Host<&'static MemoryStore, Net, NoWait>,
    sentinel_core::host::HostSentinel<&'static MemoryStore, Net, NoWait>,
) {
    let client = HostClient::new(net.clone(), NoWait, key);
    // One store per test, alive for the test process.
    let store: &'static MemoryStore = Box::leak(Box::default());
    let (host, mut sentinel) = block(Host::open(cfg, store, client, opts, start())).unwrap();
    block(host.scheduled(&mut sentinel, &|| start())).unwrap();
    (host, sentinel)
}

#[test]
fn a_quota_is_a_hard_stop_and_traffic_leaves_before_it() {
    let net = Net::new(|req| health(req).unwrap_or_else(|| answer(200, &[], "{}")));
    let limit = 200u64;
    let cfg = config(
        &format!(
            r#"limits = {{ quotas = [{{ metric = "requests", limit = {limit}, period = "day" }}] }}"#
        ),
        "",
        "",
    );
    let (host, mut sentinel) = open(cfg, &net, HostOptions::default(), None);
    let probes = net
        .sent
        .borrow()
        .iter()
        .filter(|r| r.url.port_u16() == Some(9001))
        .count() as u64;
    let mut left_at = None;
    // Far more requests than the quota, with a tick in the middle.
    for i in 0..600u64 {
        if i == 300 {
            let t = start() + SECOND;
            block(host.scheduled(&mut sentinel, &|| t)).unwrap();
        }
        let r = block(host.handle(
            request("GET", "/proxy/prices/v1/x", &[], b""),
            start() + SECOND,
        ));
        assert_eq!(r.status(), 200, "b and c have room");
        if left_at.is_none() && r.headers()["x-sentinel-provider"] != "a" {
            left_at = Some(net.proxied_to(9001) as u64 + probes);
        }
    }
    let used_a = net
        .sent
        .borrow()
        .iter()
        .filter(|r| r.url.port_u16() == Some(9001))
        .count() as u64;
    assert!(
        used_a <= limit,
        "a got {used_a} requests against a {limit}/day quota"
    );
    let left = left_at.expect("traffic left a");
    assert!(
        left * 100 <= limit * 90,
        "traffic left a at {left} of {limit} ({}%)",
        left * 100 / limit
    );
}

#[test]
fn a_429_is_honoured_until_retry_after_and_failed_over() {
    let throttling = Rc::new(RefCell::new(true));
    let t2 = throttling.clone();
    let net = Net::new(move |req| {
        health(req).unwrap_or_else(|| {
            if req.url.port_u16() == Some(9001) && *t2.borrow() {
                answer(429, &[("retry-after", "60")], "slow down")
            } else {
                answer(200, &[], "{}")
            }
        })
    });
    let (host, _s) = open(config("", "", ""), &net, HostOptions::default(), None);
    let get = |t: u64| block(host.handle(request("GET", "/proxy/prices/v1/x", &[], b""), t));
    let r = get(start());
    assert_eq!(r.status(), 200, "failed over like a 503");
    assert_ne!(r.headers()["x-sentinel-provider"], "a");
    let before = net.proxied_to(9001);
    for k in 1..=10 {
        let r = get(start() + k * SECOND);
        assert_eq!(r.status(), 200);
    }
    assert_eq!(net.proxied_to(9001), before, "a is left alone for its 60 s");
    *throttling.borrow_mut() = false;
    let r = get(start() + 61 * SECOND);
    assert_eq!(
        r.headers()["x-sentinel-provider"],
        "a",
        "and asked again after"
    );
}

#[test]
fn a_hung_provider_costs_one_request_its_timeout_not_every_request() {
    let net = Net::new(|req| {
        health(req).unwrap_or_else(|| {
            if req.url.port_u16() == Some(9001) {
                Err(OutboundError::Timeout)
            } else {
                answer(200, &[], "{}")
            }
        })
    });
    let (host, _s) = open(config("", "", ""), &net, HostOptions::default(), None);
    for k in 0..5 {
        let r = block(host.handle(
            request("GET", "/proxy/prices/v1/x", &[], b""),
            start() + k * 100,
        ));
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        net.proxied_to(9001),
        1,
        "after one timeout a is tried last for a while"
    );
    // The attempt timeout comes from a's own latency (3 ms probes): the
    // floor of 1 s, not the 10 s cap.
    let first_to_a = net
        .sent
        .borrow()
        .iter()
        .find(|r| r.url.port_u16() == Some(9001) && r.url.path() != "/health")
        .map(|r| r.timeout_ms)
        .unwrap();
    assert_eq!(first_to_a, 1_000);
}

#[test]
fn a_write_that_never_left_goes_elsewhere_and_one_that_may_have_does_not() {
    for (error, tries) in [
        (OutboundError::Connect("refused".into()), 2),
        (OutboundError::Timeout, 1),
        (OutboundError::Reset("reset".into()), 1),
    ] {
        let e = error.clone();
        let net = Net::new(move |req| {
            health(req).unwrap_or_else(|| {
                if req.url.port_u16() == Some(9001) {
                    Err(e.clone())
                } else {
                    answer(201, &[], "{}")
                }
            })
        });
        let (host, _s) = open(config("", "", ""), &net, HostOptions::default(), None);
        let r = block(host.handle(
            request("POST", "/proxy/prices/v1/orders", &[], br#"{"order":1}"#),
            start(),
        ));
        let sent = net.proxied_to(9001) + net.proxied_to(9002) + net.proxied_to(9003);
        assert_eq!(sent, tries, "{error:?}");
        assert_eq!(r.status() == 201, tries == 2, "{error:?}");
    }
}

#[test]
fn the_callers_credentials_never_reach_a_provider() {
    let net = Net::new(|req| health(req).unwrap_or_else(|| answer(200, &[], "{}")));
    let opts = HostOptions {
        token: Some("admin-secret".into()),
        ..HostOptions::default()
    };
    let (host, _s) = open(config("", "", ""), &net, opts, None);
    let r = block(host.handle(
        request(
            "GET",
            "/proxy/prices/v1/x",
            &[
                ("authorization", "Bearer admin-secret"),
                ("cookie", "session=1"),
                ("x-sentinel-debug", "1"),
                ("x-api-key", "the-clients-own"),
            ],
            b"",
        ),
        start(),
    ));
    assert_eq!(
        r.status(),
        200,
        "a service without sealed credentials is public"
    );
    let sent = net.sent.borrow().last().cloned().unwrap();
    for h in ["authorization", "cookie", "x-sentinel-debug"] {
        assert!(sent.headers.get(h).is_none(), "{h} was forwarded");
    }
    assert_eq!(sent.headers["x-api-key"], "the-clients-own");
}

struct FixedRng(u8);
impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        u32::from(self.0)
    }
    fn next_u64(&mut self) -> u64 {
        u64::from(self.0)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(self.0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(self.0);
        Ok(())
    }
}
impl rand_core::CryptoRng for FixedRng {}

#[test]
fn a_service_spending_the_operators_credentials_needs_a_proxy_token() {
    use sentinel_core::secret::{seal, SecretKey};
    let key = SecretKey::from_bytes([7; 32]);
    let aad = sentinel_core::probe::secret_header_aad(
        &sentinel_core::ProviderId::new("a").unwrap(),
        "x-api-key",
    );
    let sealed = seal(&key, &aad, "operator-key", &mut FixedRng(3)).unwrap();
    let cfg = config(
        "",
        "",
        &format!(
            "secret_headers = {{ \"x-api-key\" = \"{}\" }}",
            sealed.encode()
        ),
    );
    let net = Net::new(|req| health(req).unwrap_or_else(|| answer(200, &[], "{}")));
    let opts = HostOptions {
        token: Some("admin-secret".into()),
        proxy_tokens: vec!["client-token".into()],
        ..HostOptions::default()
    };
    let (host, _s) = open(cfg, &net, opts, Some(key));
    let get = |auth: Option<&str>| {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        block(host.handle(request("GET", "/proxy/prices/v1/x", &h, b""), start()))
    };
    let r = get(None);
    assert_eq!(
        r.status(),
        401,
        "anonymous callers do not spend the operator's key"
    );
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(get(Some("Bearer wrong")).status(), 401);
    let before = net.sent.borrow().len();
    assert_eq!(net.sent.borrow().len(), before, "nothing was sent for them");
    let r = get(Some("Bearer client-token"));
    assert_eq!(r.status(), 200);
    let sent = net.sent.borrow().last().cloned().unwrap();
    assert_eq!(
        sent.headers["x-api-key"], "operator-key",
        "the sealed header is added"
    );
    assert!(
        sent.headers.get("authorization").is_none(),
        "the proxy token is not"
    );
    assert_eq!(get(Some("Bearer admin-secret")).status(), 200);
}

#[test]
fn websocket_upgrades_are_refused_plainly() {
    let net = Net::new(|req| health(req).unwrap_or_else(|| answer(200, &[], "{}")));
    let (host, _s) = open(config("", "", ""), &net, HostOptions::default(), None);
    let before = net.sent.borrow().len();
    let r = block(host.handle(
        request(
            "GET",
            "/proxy/prices/ws",
            &[("connection", "Upgrade"), ("upgrade", "websocket")],
            b"",
        ),
        start(),
    ));
    assert_eq!(r.status(), 501);
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["error"]["code"], "upgrade-not-supported");
    assert_eq!(net.sent.borrow().len(), before, "nothing forwarded");
}

#[test]
fn json_rpc_callers_get_json_rpc_errors_when_nothing_may_serve() {
    let net = Net::new(|req| {
        health(req).unwrap_or_else(|| answer(429, &[("retry-after", "30")], "slow down"))
    });
    let (host, _s) = open(config("", "", ""), &net, HostOptions::default(), None);
    let call = br#"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","id":"b","method":"eth_chainId"}]"#;
    // First: every provider answers 429 (the last answer is handed back).
    let r = block(host.handle(request("POST", "/proxy/prices/", &[], call), start()));
    assert_eq!(r.status(), 429);
    // Then: all three are set aside until their Retry-After.
    let r = block(host.handle(
        request("POST", "/proxy/prices/", &[], call),
        start() + SECOND,
    ));
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "29");
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    let errs = body.as_array().expect("one error per call");
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["id"], 1);
    assert_eq!(errs[1]["id"], "b");
    assert_eq!(errs[0]["error"]["code"], -32005);
    assert_eq!(errs[0]["jsonrpc"], "2.0");
}
