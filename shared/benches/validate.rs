//! Cost of checking a proxied answer ([`sentinel_core::proxy::validate`]).
//!
//! `cargo bench -p sentinel-core --features test-utils --bench validate`
//!
//! * `validate/evm/block_number`: one `eth_blockNumber` call and its answer;
//! * `validate/evm/latest_block`: `eth_getBlockByNumber("latest")` with a
//!   realistic block object (transaction hashes, ~6 KB);
//! * `validate/evm/unchecked`: `eth_getBalance`, which no check applies
//!   to (only the request is parsed);
//! * `validate/api/probe_path`: a `GET` of an API service's probed path,
//!   judged by its schema, assertions and freshness.

#![allow(clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sentinel_core::config::Config;
use sentinel_core::proxy::validate::judge;
use sentinel_core::proxy::{ProxyRequest, UpstreamResponse};
use sentinel_core::sim::Scenario;
use sentinel_core::time::{days_from_civil, DAY, MINUTE};
use sentinel_core::ProviderId;

fn start() -> u64 {
    days_from_civil(2026, 11, 2) as u64 * DAY
}

fn evm() -> Scenario {
    let cfg = Config::from_toml(
        r#"
[sentinel]
id = "bench"
allow_private_targets = true
[[service]]
id = "eth"
kind = "evm-rpc"
evm = { chain_id = 1 }
[[service.provider]]
id = "e1"
endpoint = "http://127.0.0.1:8545"
initial = "active"
[[service.provider]]
id = "e2"
endpoint = "http://127.0.0.1:8546"
"#,
    )
    .expect("config");
    let mut s = Scenario::new(cfg, start(), 1).expect("scenario");
    s.run_until(start() + 5 * MINUTE);
    s
}

fn api() -> Scenario {
    let cfg = Config::from_toml(
        r#"
[sentinel]
id = "bench"
allow_private_targets = true
[[service]]
id = "prices"
kind = "api"
[service.probe]
path = "/health"
[service.probe.checks]
assertions = [{ pointer = "/status", equals = "ok" }, { pointer = "/value", min = 0, max = 100 }]
freshness = { pointer = "/updated_at", max_age = "5m", format = "unix-seconds" }
schema = { type = "object", required = ["status", "value", "updated_at"] }
[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"
"#,
    )
    .expect("config");
    let mut s = Scenario::new(cfg, start(), 1).expect("scenario");
    s.run_until(start() + 5 * MINUTE);
    s
}

fn post(body: String) -> ProxyRequest {
    ProxyRequest {
        method: http::Method::POST,
        path_and_query: "/".into(),
        headers: http::HeaderMap::new(),
        body: body.into_bytes().into(),
    }
}

fn answer(body: String) -> UpstreamResponse {
    UpstreamResponse {
        status: 200,
        headers: http::HeaderMap::new(),
        body: body.into_bytes().into(),
    }
}

fn bench(c: &mut Criterion) {
    let s = evm();
    let head = s.now / 12_000;
    let e1 = ProviderId::new("e1").expect("id");
    let mut g = c.benchmark_group("validate");
    let req = post(r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#.into());
    let resp = answer(format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":"0x{head:x}"}}"#
    ));
    assert!(judge(&s.engine, &e1, &req, &resp, s.now).is_none());
    g.bench_function("evm/block_number", |b| {
        b.iter(|| judge(&s.engine, &e1, black_box(&req), black_box(&resp), s.now))
    });
    let txs: Vec<String> = (0..90).map(|i| format!("\"0x{i:064x}\"")).collect();
    let req = post(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]}"#
            .into(),
    );
    let resp = answer(format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"number":"0x{head:x}","hash":"0x{:064x}","timestamp":"0x{:x}","transactions":[{}]}}}}"#,
        head,
        head * 12,
        txs.join(",")
    ));
    assert!(judge(&s.engine, &e1, &req, &resp, s.now).is_none());
    g.bench_function("evm/latest_block", |b| {
        b.iter(|| judge(&s.engine, &e1, black_box(&req), black_box(&resp), s.now))
    });
    let req = post(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000000000","latest"]}"#
            .into(),
    );
    let resp = answer(r#"{"jsonrpc":"2.0","id":1,"result":"0x0"}"#.into());
    g.bench_function("evm/unchecked", |b| {
        b.iter(|| judge(&s.engine, &e1, black_box(&req), black_box(&resp), s.now))
    });

    let s = api();
    let a = ProviderId::new("a").expect("id");
    let req = ProxyRequest {
        method: http::Method::GET,
        path_and_query: "/health".into(),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
    };
    let resp = answer(format!(
        r#"{{"status":"ok","value":42,"updated_at":{}}}"#,
        s.now / 1000
    ));
    assert!(judge(&s.engine, &a, &req, &resp, s.now).is_none());
    g.bench_function("api/probe_path", |b| {
        b.iter(|| judge(&s.engine, &a, black_box(&req), black_box(&resp), s.now))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
