#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Shared helpers for the core's integration tests.
#![allow(dead_code)]

use sentinel_core::config::Config;
use sentinel_core::time::{days_from_civil, DAY};
use sentinel_core::UnixMillis;

/// 2026-11-02T00:00:00Z: early in a month, so monthly quotas start fresh.
pub fn start() -> UnixMillis {
    days_from_civil(2026, 11, 2) as u64 * DAY
}

/// Three API providers of one service (`a` active), freshness and
/// business checks on, a consistency field.
pub fn api_config(extra_provider_toml: &str) -> Config {
    let text = format!(
        r#"
[sentinel]
id = "sim"
allow_private_targets = true

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/health"
timeout = "2s"
[service.probe.checks]
assertions = [{{ pointer = "/status", equals = "ok" }}, {{ pointer = "/value", min = 0, max = 100 }}]
freshness = {{ pointer = "/updated_at", max_age = "5m", format = "unix-seconds" }}
consistency = {{ pointer = "/value" }}
schema = {{ type = "object", required = ["status", "value", "updated_at"] }}

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"

[[service.provider]]
id = "c"
endpoint = "http://127.0.0.1:9003"
{extra_provider_toml}
"#
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
}

/// Three EVM RPC providers of chain 1 (`e1` active).
pub fn evm_config() -> Config {
    let text = r#"
[sentinel]
id = "sim"
allow_private_targets = true

[[service]]
id = "eth"
kind = "evm-rpc"
probe_interval = "30s"
evm = { chain_id = 1, max_block_age = "60s", max_lag_blocks = 3 }

[[service.provider]]
id = "e1"
endpoint = "http://127.0.0.1:8545"
initial = "active"

[[service.provider]]
id = "e2"
endpoint = "http://127.0.0.1:8546"

[[service.provider]]
id = "e3"
endpoint = "http://127.0.0.1:8547"
"#;
    Config::from_toml(text).unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
}

/// A scripted network for the host layer's tests: every answer chosen by
/// the test, every request remembered.
#[derive(Clone)]
pub struct Net {
    /// Requests sent, in order.
    pub sent: std::rc::Rc<std::cell::RefCell<Vec<sentinel_core::host::OutboundRequest>>>,
    answer: std::rc::Rc<dyn Fn(&sentinel_core::host::OutboundRequest) -> Answer>,
}

/// What the scripted network answers.
pub type Answer = Result<sentinel_core::host::OutboundResponse, sentinel_core::host::OutboundError>;

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("sent", &self.sent.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Net {
    /// A network answering with `answer`.
    pub fn new(answer: impl Fn(&sentinel_core::host::OutboundRequest) -> Answer + 'static) -> Net {
        Net {
            sent: std::rc::Rc::default(),
            answer: std::rc::Rc::new(answer),
        }
    }

    /// Proxied requests sent to the provider on `port` (probes excluded).
    pub fn proxied_to(&self, port: u16) -> usize {
        self.sent
            .borrow()
            .iter()
            .filter(|r| r.url.port_u16() == Some(port) && r.url.path() != "/health")
            .count()
    }
}

impl sentinel_core::host::Outbound for Net {
    async fn send(&self, req: sentinel_core::host::OutboundRequest) -> Answer {
        let a = (self.answer)(&req);
        self.sent.borrow_mut().push(req);
        a
    }
}

/// A timer that never waits.
#[derive(Clone, Debug)]
pub struct NoWait;

impl sentinel_core::host::Timer for NoWait {
    async fn sleep(&self, _ms: u64) {}
}

/// Runs a future the fakes never make wait.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    futures_util::FutureExt::now_or_never(f).expect("fakes never wait")
}

/// An HTTP request for the host's entry point.
pub fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Request<bytes::Bytes> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(bytes::Bytes::copy_from_slice(body)).unwrap()
}
