//! Configuration through the public surface: a realistic config in TOML and
//! JSON, the documented defaults, unknown keys and type errors named by
//! path, every validation problem reported at once, and hostile input
//! that must produce errors, never a panic.

// Test code: unwrapping is how a test fails (the workspace warns on it
// outside `#[test]` functions, which includes this file's helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use sentinel_core::books::{Metric, Period};
use sentinel_core::config::{Config, ConfigError, Errors, Initial, Method};
use sentinel_core::engine::Engine;
use sentinel_core::state::State;
use sentinel_core::time::Span;
use sentinel_core::{Bps, Kind};

/// A syntactically valid sealed secret (`v1.<12-byte nonce>.<32 bytes>`);
/// configuration only parses it, it is never opened here.
const SEALED: &str = "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A realistic configuration that sets (almost) every key to a
/// non-default value.
fn full_toml() -> String {
    format!(
        r#"
[sentinel]
id = "cf-worker"
probe_budget_per_tick = 40
max_tick_gap = "3m"
allow_private_targets = false
history_limit = 300
footprint = {{ quotas = [{{ metric = "writes", limit = 1000, period = "day" }}] }}

[policy.weights]
uptime = 3500
data_quality = 2500
performance = 2000
cost = 1000
reliability = 1000

[policy.quality_weights]
schema = 2500
business = 3500
freshness = 2500
consistency = 1500

[policy.reputation]
full_confidence_samples = 120
prior_unknown = 4000
prior_configured = 8500

[policy.switching]
failure_threshold = 4
down_after = "45s"
latency_factor = 6
max_utilization = 8500
min_quality = 6500
min_performance = 5500
max_error_rate = 300
better_by = 2500
sustain = 2
min_dwell = "15m"
canary_timeout = "30s"
flap_penalty = 1200
flap_suppress = 2500
flap_reuse = 800
flap_half_life = "20m"

[policy.lifecycle]
testing_period = "12h"
promote_above = 7500
warmup_samples = 10
recovery_successes = 4
recovery_period = "5m"

[policy.trust]
verified_above = 9200
trusted_above = 8200
testing_above = 7200
attestation_max_age = "3d"

[budgets]
monthly_usd = {{ api = 5.0, evm-rpc = 12.5 }}

[ladder]
alert = 7500
prefer_free = 8500
scale_down = 9500
stop = 10000

[[service]]
id = "eth-mainnet"
kind = "evm-rpc"
description = "Ethereum mainnet reads"
probe_interval = "30s"
target_latency = "400ms"
evm = {{ chain_id = 1, max_block_age = "90s", max_lag_blocks = 4 }}

[[service.provider]]
id = "publicnode-eth"
name = "PublicNode"
endpoint = "https://ethereum-rpc.publicnode.com"
initial = "active"
prior = 9000
limits = {{ quotas = [{{ metric = "requests", limit = 100000, period = "day", reset_offset = "6h" }}] }}

[[service.provider]]
id = "drpc-eth"
name = "dRPC"
endpoint = "https://eth.drpc.org"
status_page = "https://status.drpc.org"
secret_headers = {{ authorization = "{SEALED}" }}
limits = {{ quotas = [{{ metric = "requests", limit = 10000000, period = "month" }}, {{ metric = "gas", limit = 5000000, period = "hour" }}] }}
cost = {{ per_request_usd = 0.0000004, per_compute_unit_usd = 0.000001, monthly_fixed_usd = 2.0, free_tier = {{ requests = 1000000, gb = 1.5, compute_units = 100 }}, monthly_budget_usd = 10.0, alert_threshold = 7000 }}

[[service.provider]]
id = "llamarpc-eth"
endpoint = "https://eth.llamarpc.com:443/v1"
initial = "testing"

[[service]]
id = "eth-usd"
kind = "api"
description = "ETH/USD spot price"
probe_interval = "1m"

[service.probe]
method = "GET"
path = "/v2/prices/ETH-USD/spot"
headers = {{ accept = "application/json" }}
expect_status = [200, 203]
timeout = "3s"
max_bytes = 65536

[service.probe.checks]
assertions = [
  {{ pointer = "/data/amount", min = 1, max = 1000000 }},
  {{ pointer = "/data/currency", equals = "USD" }},
  {{ pointer = "/data/base", regex = "^ETH$" }},
  {{ pointer = "/data/error", exists = false }},
]
schema = {{ type = "object", required = ["data"], properties = {{ data = {{ type = "object", required = ["amount"] }} }} }}
freshness = {{ pointer = "/data/ts", max_age = "5m", format = "rfc3339" }}
consistency = {{ pointer = "/data/amount", tolerance = 25.0 }}

[[service.provider]]
id = "coinbase-price"
name = "Coinbase"
endpoint = "https://api.coinbase.com"
initial = "active"

[[service.provider]]
id = "kraken-price"
endpoint = "https://api.kraken.com"
[service.provider.probe]
method = "POST"
path = "/0/public/Ticker"
body = '{{"pair":"ETHUSD"}}'
timeout = "4s"
[service.provider.probe.checks]
assertions = [{{ pointer = "/result/XETHZUSD/c/0", min = 1, max = 1000000 }}]
"#
    )
}

/// The same configuration written as JSON.
fn full_json() -> String {
    format!(
        r#"{{
  "sentinel": {{
    "id": "cf-worker", "probe_budget_per_tick": 40, "max_tick_gap": "3m",
    "allow_private_targets": false, "history_limit": 300,
    "footprint": {{ "quotas": [{{ "metric": "writes", "limit": 1000, "period": "day" }}] }}
  }},
  "policy": {{
    "weights": {{ "uptime": 3500, "data_quality": 2500, "performance": 2000, "cost": 1000, "reliability": 1000 }},
    "quality_weights": {{ "schema": 2500, "business": 3500, "freshness": 2500, "consistency": 1500 }},
    "reputation": {{ "full_confidence_samples": 120, "prior_unknown": 4000, "prior_configured": 8500 }},
    "switching": {{
      "failure_threshold": 4, "down_after": "45s", "latency_factor": 6, "max_utilization": 8500,
      "min_quality": 6500, "min_performance": 5500, "max_error_rate": 300, "better_by": 2500,
      "sustain": 2, "min_dwell": "15m", "canary_timeout": "30s", "flap_penalty": 1200,
      "flap_suppress": 2500, "flap_reuse": 800, "flap_half_life": "20m"
    }},
    "lifecycle": {{ "testing_period": "12h", "promote_above": 7500, "warmup_samples": 10,
                    "recovery_successes": 4, "recovery_period": "5m" }},
    "trust": {{ "verified_above": 9200, "trusted_above": 8200, "testing_above": 7200,
                "attestation_max_age": "3d" }}
  }},
  "budgets": {{ "monthly_usd": {{ "api": 5.0, "evm-rpc": 12.5 }} }},
  "ladder": {{ "alert": 7500, "prefer_free": 8500, "scale_down": 9500, "stop": 10000 }},
  "service": [
    {{
      "id": "eth-mainnet", "kind": "evm-rpc", "description": "Ethereum mainnet reads",
      "probe_interval": "30s", "target_latency": "400ms",
      "evm": {{ "chain_id": 1, "max_block_age": "90s", "max_lag_blocks": 4 }},
      "provider": [
        {{ "id": "publicnode-eth", "name": "PublicNode", "endpoint": "https://ethereum-rpc.publicnode.com",
           "initial": "active", "prior": 9000,
           "limits": {{ "quotas": [{{ "metric": "requests", "limit": 100000, "period": "day", "reset_offset": "6h" }}] }} }},
        {{ "id": "drpc-eth", "name": "dRPC", "endpoint": "https://eth.drpc.org",
           "status_page": "https://status.drpc.org",
           "secret_headers": {{ "authorization": "{SEALED}" }},
           "limits": {{ "quotas": [{{ "metric": "requests", "limit": 10000000, "period": "month" }},
                                  {{ "metric": "gas", "limit": 5000000, "period": "hour" }}] }},
           "cost": {{ "per_request_usd": 0.0000004, "per_compute_unit_usd": 0.000001, "monthly_fixed_usd": 2.0,
                     "free_tier": {{ "requests": 1000000, "gb": 1.5, "compute_units": 100 }},
                     "monthly_budget_usd": 10.0, "alert_threshold": 7000 }} }},
        {{ "id": "llamarpc-eth", "endpoint": "https://eth.llamarpc.com:443/v1", "initial": "testing" }}
      ]
    }},
    {{
      "id": "eth-usd", "kind": "api", "description": "ETH/USD spot price", "probe_interval": "1m",
      "probe": {{
        "method": "GET", "path": "/v2/prices/ETH-USD/spot", "headers": {{ "accept": "application/json" }},
        "expect_status": [200, 203], "timeout": "3s", "max_bytes": 65536,
        "checks": {{
          "assertions": [
            {{ "pointer": "/data/amount", "min": 1, "max": 1000000 }},
            {{ "pointer": "/data/currency", "equals": "USD" }},
            {{ "pointer": "/data/base", "regex": "^ETH$" }},
            {{ "pointer": "/data/error", "exists": false }}
          ],
          "schema": {{ "type": "object", "required": ["data"],
                      "properties": {{ "data": {{ "type": "object", "required": ["amount"] }} }} }},
          "freshness": {{ "pointer": "/data/ts", "max_age": "5m", "format": "rfc3339" }},
          "consistency": {{ "pointer": "/data/amount", "tolerance": 25.0 }}
        }}
      }},
      "provider": [
        {{ "id": "coinbase-price", "name": "Coinbase", "endpoint": "https://api.coinbase.com", "initial": "active" }},
        {{ "id": "kraken-price", "endpoint": "https://api.kraken.com",
           "probe": {{ "method": "POST", "path": "/0/public/Ticker", "body": "{{\"pair\":\"ETHUSD\"}}", "timeout": "4s",
                      "checks": {{ "assertions": [{{ "pointer": "/result/XETHZUSD/c/0", "min": 1, "max": 1000000 }}] }} }} }}
      ]
    }}
  ]
}}"#
    )
}

/// The smallest valid configuration: one API service with one provider.
const MINIMAL: &str = r#"
[sentinel]
id = "x"

[[service]]
id = "s"
kind = "api"

[[service.provider]]
id = "p"
endpoint = "https://example.com"
"#;

fn keys(e: &Errors) -> Vec<&str> {
    e.0.iter().map(|c| c.key.as_str()).collect()
}

/// The one error of a configuration that fails to parse.
fn parse_err(text: &str) -> ConfigError {
    let e = Config::from_toml(text).expect_err("should not parse");
    assert_eq!(e.0.len(), 1, "a parse error is reported alone: {e}");
    e.0[0].clone()
}

fn json_err(text: &str) -> ConfigError {
    let e = Config::from_json(text).expect_err("should not parse");
    assert_eq!(e.0.len(), 1, "a parse error is reported alone: {e}");
    e.0[0].clone()
}

#[test]
fn a_full_realistic_config_parses_the_same_from_toml_and_json() {
    let toml = Config::from_toml(&full_toml()).unwrap_or_else(|e| panic!("{e}"));
    let json = Config::from_json(&full_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(toml, json);
    assert_eq!(
        Config::from_named("sentinel.json", &full_json()).unwrap(),
        toml
    );
    assert_eq!(
        Config::from_named("sentinel.toml", &full_toml()).unwrap(),
        toml
    );

    // Spot checks that the values landed where they were written.
    let c = &toml;
    assert_eq!(c.sentinel.id.as_str(), "cf-worker");
    assert_eq!(c.sentinel.probe_budget_per_tick, Some(40));
    assert_eq!(c.sentinel.max_tick_gap, Span::mins(3));
    assert_eq!(c.sentinel.footprint.quotas[0].metric, Metric::Writes);
    assert_eq!(c.policy.weights.uptime, 3500);
    assert_eq!(c.policy.switching.canary_timeout, Span::secs(30));
    assert_eq!(c.policy.switching.flap_reuse, 800);
    assert_eq!(c.policy.trust.attestation_max_age, Span::days(3));
    assert_eq!(c.budgets.monthly_usd[&Kind::EvmRpc], 12.5);
    assert_eq!(c.ladder.alert, Bps::new(7500));
    assert_eq!(c.services.len(), 2);
    let eth = c.service("eth-mainnet").unwrap();
    assert_eq!(eth.kind, Kind::EvmRpc);
    assert_eq!(eth.latency_target(), Span::ms(400));
    assert_eq!(eth.evm.as_ref().unwrap().max_lag_blocks, 4);
    let (_, drpc) = c.provider("drpc-eth").unwrap();
    assert_eq!(drpc.secret_headers.len(), 1);
    assert_eq!(drpc.limits.quotas[1].period, Period::Hour);
    assert_eq!(drpc.cost.compile().per_request_nano, 400);
    assert_eq!(drpc.cost.alert_threshold, Bps::new(7000));
    let (_, pn) = c.provider("publicnode-eth").unwrap();
    assert_eq!(pn.initial, Initial::Active);
    assert_eq!(pn.prior, Some(Bps::new(9000)));
    assert_eq!(pn.limits.quotas[0].reset_offset, Span::hours(6));
    let (usd, kraken) = c.provider("kraken-price").unwrap();
    assert_eq!(usd.probe.as_ref().unwrap().checks.assertions.len(), 4);
    let kp = kraken.probe.as_ref().unwrap();
    assert_eq!(kp.method, Method::Post);
    assert_eq!(kp.body.as_deref(), Some(r#"{"pair":"ETHUSD"}"#));
    assert_eq!(c.providers().count(), 5);

    // It serializes and reads back unchanged, and builds an engine.
    let back = Config::from_json(&serde_json::to_string_pretty(c).unwrap()).unwrap();
    assert_eq!(&back, c);
    Engine::new(toml, State::default(), common::start()).unwrap();
}

#[test]
fn every_default_is_the_documented_seed_default() {
    let c = Config::from_toml(MINIMAL).unwrap();
    let json = Config::from_json(
        r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api",
            "provider":[{"id":"p","endpoint":"https://example.com"}]}]}"#,
    )
    .unwrap();
    assert_eq!(c, json);

    let w = c.policy.weights;
    assert_eq!(
        [
            w.uptime,
            w.data_quality,
            w.performance,
            w.cost,
            w.reliability
        ],
        [3000, 2500, 2000, 1500, 1000]
    );
    let sw = c.policy.switching;
    assert_eq!(sw.failure_threshold, 3);
    assert_eq!(sw.down_after, Span::secs(30));
    assert_eq!(sw.latency_factor, 5);
    assert_eq!(sw.max_utilization, Bps::new(8000));
    assert_eq!(sw.min_quality, Bps::new(7000));
    assert_eq!(sw.min_performance, Bps::new(6000));
    assert_eq!(sw.max_error_rate, Bps::new(500));
    assert_eq!(sw.better_by, Bps::new(2000));
    let lc = c.policy.lifecycle;
    assert_eq!(lc.testing_period, Span::hours(24));
    assert_eq!(lc.promote_above, Bps::new(7000));
    let t = c.policy.trust;
    assert_eq!(
        (t.verified_above, t.trusted_above, t.testing_above),
        (Bps::new(9000), Bps::new(8000), Bps::new(7000))
    );
    let l = &c.ladder;
    assert_eq!(
        [l.alert, l.prefer_free, l.scale_down, l.stop],
        [
            Bps::new(8000),
            Bps::new(9000),
            Bps::new(9500),
            Bps::new(10_000)
        ]
    );
    assert_eq!(c.sentinel.probe_budget_per_tick, None);
    assert_eq!(c.services[0].probe_interval, Span::secs(30));

    // The rest of the documented defaults.
    assert_eq!(c.sentinel.max_tick_gap, Span::mins(2));
    assert_eq!(c.sentinel.history_limit, 500);
    assert!(!c.sentinel.allow_private_targets);
    assert_eq!(sw.sustain, 3);
    assert_eq!(sw.min_dwell, Span::mins(10));
    assert_eq!(sw.canary_timeout, Span::secs(60));
    assert_eq!(
        (sw.flap_penalty, sw.flap_suppress, sw.flap_reuse),
        (1000, 2000, 750)
    );
    assert_eq!(sw.flap_half_life, Span::mins(15));
    assert_eq!(lc.warmup_samples, 20);
    assert_eq!(lc.recovery_successes, 5);
    assert_eq!(lc.recovery_period, Span::mins(10));
    assert_eq!(t.attestation_max_age, Span::days(7));
    let r = c.policy.reputation;
    assert_eq!(r.full_confidence_samples, 200);
    assert_eq!(
        (r.prior_unknown, r.prior_configured),
        (Bps::new(5000), Bps::new(8000))
    );
    let p = &c.services[0].providers[0];
    assert_eq!(p.initial, Initial::Standby);
    assert_eq!(p.prior, None);
    assert_eq!(p.cost.alert_threshold, Bps::new(8000));
    assert_eq!(c.services[0].latency_target(), Span::ms(200));
    let probe = sentinel_core::config::effective_probe(&c.services[0], p);
    assert_eq!(probe.timeout, Span::secs(5));
    assert_eq!(probe.max_bytes, 1 << 20);
    assert_eq!(probe.method, Method::Get);

    // Parsed defaults and `Default` agree.
    assert_eq!(c.policy, sentinel_core::config::Policy::default());
    assert_eq!(c.ladder, sentinel_core::books::Ladder::default());
}

#[test]
fn unknown_keys_are_rejected_at_every_level_with_their_path() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("top", format!("bogus = 1\n{MINIMAL}"), "bogus"),
        (
            "sentinel",
            MINIMAL.replace("id = \"x\"", "id = \"x\"\nbogus = 1"),
            "sentinel.bogus",
        ),
        (
            "sentinel.footprint",
            MINIMAL.replace("id = \"x\"", "id = \"x\"\nfootprint = { bogus = 1 }"),
            "sentinel.footprint.bogus",
        ),
        (
            "policy",
            format!("{MINIMAL}\n[policy]\nbogus = 1\n"),
            "policy.bogus",
        ),
        (
            "policy.weights",
            format!("{MINIMAL}\n[policy.weights]\nbogus = 1\n"),
            "policy.weights.bogus",
        ),
        (
            "policy.quality_weights",
            format!("{MINIMAL}\n[policy.quality_weights]\nbogus = 1\n"),
            "policy.quality_weights.bogus",
        ),
        (
            "policy.reputation",
            format!("{MINIMAL}\n[policy.reputation]\nbogus = 1\n"),
            "policy.reputation.bogus",
        ),
        (
            "policy.switching",
            format!("{MINIMAL}\n[policy.switching]\nbogus = 1\n"),
            "policy.switching.bogus",
        ),
        (
            "policy.lifecycle",
            format!("{MINIMAL}\n[policy.lifecycle]\nbogus = 1\n"),
            "policy.lifecycle.bogus",
        ),
        (
            "policy.trust",
            format!("{MINIMAL}\n[policy.trust]\nbogus = 1\n"),
            "policy.trust.bogus",
        ),
        (
            "budgets",
            format!("{MINIMAL}\n[budgets]\nbogus = 1\n"),
            "budgets.bogus",
        ),
        (
            "ladder",
            format!("{MINIMAL}\n[ladder]\nbogus = 1\n"),
            "ladder.bogus",
        ),
        (
            "service",
            MINIMAL.replace("kind = \"api\"", "kind = \"api\"\nbogus = 1"),
            "service[0].bogus",
        ),
        (
            "service.evm",
            MINIMAL.replace("kind = \"api\"", "kind = \"evm-rpc\"\nevm = { chainid = 1 }"),
            "service[0].evm.chainid",
        ),
        (
            "service.probe",
            MINIMAL.replace("kind = \"api\"", "kind = \"api\"\nprobe = { bogus = 1 }"),
            "service[0].probe.bogus",
        ),
        (
            "provider",
            format!("{MINIMAL}bogus = 1\n"),
            "service[0].provider[0].bogus",
        ),
        (
            "provider.probe",
            format!("{MINIMAL}probe = {{ bogus = 1 }}\n"),
            "service[0].provider[0].probe.bogus",
        ),
        (
            "probe.checks",
            format!("{MINIMAL}probe = {{ checks = {{ bogus = 1 }} }}\n"),
            "service[0].provider[0].probe.checks.bogus",
        ),
        (
            "checks.assertions[]",
            format!(
                "{MINIMAL}probe = {{ checks = {{ assertions = [{{ pointer = \"/a\", exist = true }}] }} }}\n"
            ),
            "service[0].provider[0].probe.checks.assertions[0].exist",
        ),
        (
            "checks.schema",
            format!("{MINIMAL}probe = {{ checks = {{ schema = {{ typ = \"object\" }} }} }}\n"),
            "service[0].provider[0].probe.checks.schema.typ",
        ),
        (
            "checks.freshness",
            format!(
                "{MINIMAL}probe = {{ checks = {{ freshness = {{ pointer = \"/t\", max_age = \"1m\", maxage = 1 }} }} }}\n"
            ),
            "service[0].provider[0].probe.checks.freshness.maxage",
        ),
        (
            "limits",
            format!("{MINIMAL}limits = {{ bogus = 1 }}\n"),
            "service[0].provider[0].limits.bogus",
        ),
        (
            "limits.quotas[]",
            format!(
                "{MINIMAL}limits = {{ quotas = [{{ metric = \"requests\", limit = 1, period = \"day\", every = 1 }}] }}\n"
            ),
            "service[0].provider[0].limits.quotas[0].every",
        ),
        (
            "cost",
            format!("{MINIMAL}cost = {{ bogus = 1 }}\n"),
            "service[0].provider[0].cost.bogus",
        ),
        (
            "cost.free_tier",
            format!("{MINIMAL}cost = {{ free_tier = {{ gigabytes = 1 }} }}\n"),
            "service[0].provider[0].cost.free_tier.gigabytes",
        ),
    ];
    for (level, text, key) in &cases {
        let e = parse_err(text);
        assert_eq!(e.key, *key, "{level}: {e}");
        assert!(
            e.message.contains("unknown field"),
            "{level}: {}",
            e.message
        );
        assert!(e.message.contains("(line "), "{level}: {}", e.message);
    }

    // The same in JSON.
    let json = [
        (r#"{"sentinel":{"id":"x"},"bogus":1}"#, "bogus"),
        (r#"{"sentinel":{"id":"x","bogus":1}}"#, "sentinel.bogus"),
        (
            r#"{"sentinel":{"id":"x"},"policy":{"switching":{"bogus":1}}}"#,
            "policy.switching.bogus",
        ),
        (
            r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api","bogus":1}]}"#,
            "service[0].bogus",
        ),
        (
            r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api","provider":[
                {"id":"p","endpoint":"https://e.com","probe":{"checks":{"bogus":1}}}]}]}"#,
            "service[0].provider[0].probe.checks.bogus",
        ),
        (
            r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api","provider":[
                {"id":"p","endpoint":"https://e.com","cost":{"bogus":1}}]}]}"#,
            "service[0].provider[0].cost.bogus",
        ),
    ];
    for (text, key) in json {
        let e = json_err(text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }
}

#[test]
fn type_errors_name_the_key() {
    let svc = |line: &str| MINIMAL.replace("kind = \"api\"", &format!("kind = \"api\"\n{line}"));
    let prov = |line: &str| format!("{MINIMAL}{line}\n");
    let cases: Vec<(String, &str)> = vec![
        (
            MINIMAL.replace("id = \"x\"", "id = \"x\"\nprobe_budget_per_tick = \"many\""),
            "sentinel.probe_budget_per_tick",
        ),
        (
            MINIMAL.replace("id = \"x\"", "id = \"x\"\nallow_private_targets = \"yes\""),
            "sentinel.allow_private_targets",
        ),
        (
            MINIMAL.replace("id = \"x\"", "id = \"Not An Id\""),
            "sentinel.id",
        ),
        (
            format!("{MINIMAL}\n[policy.weights]\nuptime = -1\n"),
            "policy.weights.uptime",
        ),
        (
            format!("{MINIMAL}\n[policy.switching]\nmin_quality = 10001\n"),
            "policy.switching.min_quality",
        ),
        (
            format!("{MINIMAL}\n[policy.lifecycle]\ntesting_period = \"a day\"\n"),
            "policy.lifecycle.testing_period",
        ),
        (
            format!("{MINIMAL}\n[budgets]\nmonthly_usd = {{ mainframe = 1.0 }}\n"),
            "budgets.monthly_usd",
        ),
        (
            MINIMAL.replace("kind = \"api\"", "kind = \"mainframe\""),
            "service[0].kind",
        ),
        (svc("probe_interval = true"), "service[0].probe_interval"),
        (svc("target_latency = [1]"), "service[0].target_latency"),
        (
            MINIMAL.replace("endpoint = \"https://example.com\"", "endpoint = 5"),
            "service[0].provider[0].endpoint",
        ),
        (
            prov("initial = \"primary\""),
            "service[0].provider[0].initial",
        ),
        (prov("prior = 20000"), "service[0].provider[0].prior"),
        (
            prov("probe = { method = \"PATCH\" }"),
            "service[0].provider[0].probe.method",
        ),
        (
            prov("probe = { timeout = true }"),
            "service[0].provider[0].probe.timeout",
        ),
        (
            prov("probe = { expect_status = [70000] }"),
            "service[0].provider[0].probe.expect_status[0]",
        ),
        (
            prov("probe = { headers = { accept = 1 } }"),
            "service[0].provider[0].probe.headers.accept",
        ),
        (
            prov("secret_headers = { authorization = \"Bearer hunter2\" }"),
            "service[0].provider[0].secret_headers.authorization",
        ),
        (
            prov("limits = { quotas = [{ metric = \"requests\", limit = \"lots\", period = \"day\" }] }"),
            "service[0].provider[0].limits.quotas[0].limit",
        ),
        (
            prov("limits = { quotas = [{ metric = \"requests\", limit = 1, period = \"fortnight\" }] }"),
            "service[0].provider[0].limits.quotas[0].period",
        ),
        (
            prov("cost = { per_request_usd = \"free\" }"),
            "service[0].provider[0].cost.per_request_usd",
        ),
        (
            prov("probe = { checks = { freshness = { pointer = \"/t\", max_age = \"1m\", format = \"unix-nanos\" } } }"),
            "service[0].provider[0].probe.checks.freshness.format",
        ),
    ];
    for (text, key) in &cases {
        let e = parse_err(text);
        assert_eq!(e.key, *key, "{e}\n--- in ---\n{text}");
        assert!(!e.message.is_empty());
    }
    // A sealed-secret error never quotes the clear text it was given.
    let e = parse_err(&prov(
        "secret_headers = { authorization = \"Bearer hunter2\" }",
    ));
    assert!(!e.to_string().contains("hunter2"), "{e}");

    // JSON names keys the same way.
    let e = json_err(
        r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api","provider":[
            {"id":"p","endpoint":"https://e.com","probe":{"timeout":true}}]}]}"#,
    );
    assert_eq!(e.key, "service[0].provider[0].probe.timeout");
    let e = json_err(r#"{"sentinel":{"id":"x","probe_budget_per_tick":-3}}"#);
    assert_eq!(e.key, "sentinel.probe_budget_per_tick");
    let e = json_err(r#"{"service":[]}"#);
    assert_eq!(e.key, "(document)");
    assert!(e.message.contains("sentinel"), "{e}");
}

/// One configuration with eleven distinct mistakes.
const MISTAKES: &str = r#"
[sentinel]
id = "x"

[policy.weights]        # sums to 9000
uptime = 3000
data_quality = 2500
performance = 2000
cost = 1500
reliability = 0

[policy.switching]
flap_suppress = 2000
flap_reuse = 2000       # must be below flap_suppress

[[service]]
id = "api"
kind = "api"
probe_interval = "10s"
evm = { chain_id = 1 }  # evm checks on an api service

[service.probe]
timeout = "20s"         # longer than probe_interval
[service.probe.checks]
assertions = [{ pointer = "/v", regex = "(unclosed" }]

[[service.provider]]
id = "one"
endpoint = "ftp://example.com"
initial = "active"

[[service.provider]]
id = "two"
endpoint = "https://user:pw@example.com"
initial = "active"      # a second active provider
limits = { quotas = [{ metric = "requests", limit = 0, period = "day" }] }

[[service]]
id = "other"
kind = "api"

[[service.provider]]
id = "one"              # already a provider of `api`
endpoint = "https://example.org"

[[service]]
id = "empty"            # no provider
kind = "storage"
"#;

#[test]
fn validate_reports_every_mistake_at_once() {
    let e = Config::from_toml(MISTAKES).unwrap_err();
    let expected: &[(&str, &str)] = &[
        ("policy.weights", "sum to 10000"),
        ("policy.switching.flap_reuse", "below flap_suppress"),
        ("service.api.evm", "evm-rpc"),
        ("service.api.probe.timeout", "probe_interval"),
        (
            "service.api.probe.checks.assertions[0].regex",
            "invalid regex",
        ),
        ("service.api.provider.one.endpoint", "http:// or https://"),
        ("service.api.provider.two.endpoint", "credentials"),
        ("service.api.provider", "at most one provider"),
        (
            "service.api.provider.two.limits.quotas[0].limit",
            "greater than 0",
        ),
        ("service.other.provider.one.id", "duplicate provider id"),
        ("service.empty.provider", "at least one provider"),
    ];
    for (key, msg) in expected {
        assert!(
            e.0.iter().any(|c| c.key == *key && c.message.contains(msg)),
            "missing `{key}` ({msg}) in:\n{e}"
        );
    }
    assert_eq!(
        e.0.len(),
        expected.len(),
        "exactly one error per mistake, got:\n{e:#?}"
    );
    // Values are quoted where there is one.
    let value_of = |key: &str| {
        e.0.iter()
            .find(|c| c.key == key)
            .and_then(|c| c.value.clone())
    };
    assert_eq!(value_of("policy.weights").as_deref(), Some("9000"));
    assert_eq!(
        value_of("service.api.probe.timeout").as_deref(),
        Some("20s")
    );
    assert_eq!(
        value_of("service.api.provider.one.endpoint").as_deref(),
        Some("\"ftp://example.com\"")
    );
    // The display lists them all (a regex error spans several lines).
    let shown = e.to_string();
    for c in &e.0 {
        assert!(shown.contains(&c.to_string()), "{shown}");
    }

    // The same mistakes through JSON give the same errors; `validate` on
    // the parsed model gives them too.
    let mut cfg = Config::from_toml(MINIMAL).unwrap();
    cfg.policy.weights.reliability = 0;
    cfg.services[0].providers.clear();
    assert_eq!(
        keys(&cfg.validate().unwrap_err()),
        ["policy.weights", "service.s.provider"]
    );
}

#[test]
fn weights_that_overflow_are_rejected_not_wrapped() {
    // 4294967295 + 10001 wraps to 10000 in u32 arithmetic.
    let text = format!(
        "{MINIMAL}\n[policy.weights]\nuptime = 4294967295\ndata_quality = 10001\n\
         performance = 0\ncost = 0\nreliability = 0\n"
    );
    let e = Config::from_toml(&text).unwrap_err();
    assert_eq!(keys(&e), ["policy.weights"], "{e}");
    assert_eq!(e.0[0].value.as_deref(), Some("4294977296"));
    let text = format!(
        "{MINIMAL}\n[policy.quality_weights]\nschema = 4294967295\nbusiness = 10001\n\
         freshness = 0\nconsistency = 0\n"
    );
    let e = Config::from_toml(&text).unwrap_err();
    assert_eq!(keys(&e), ["policy.quality_weights"], "{e}");
}

#[test]
fn a_config_that_validates_builds_an_engine() {
    // API checks next to `evm` on an EVM service: the engine refuses them,
    // so validation must too, at the key where they were written.
    let text = r#"
[sentinel]
id = "x"
[[service]]
id = "eth"
kind = "evm-rpc"
evm = { chain_id = 1 }
[service.probe]
method = "POST"
[service.probe.checks]
assertions = [{ pointer = "/0/result", equals = "0x1" }]
[[service.provider]]
id = "p"
endpoint = "https://e.com"
[[service.provider]]
id = "q"
endpoint = "https://f.com"
probe = { method = "POST", checks = { freshness = { pointer = "/t", max_age = "1m" } } }
"#;
    let e = Config::from_toml(text).unwrap_err();
    assert_eq!(
        keys(&e),
        [
            "service.eth.probe.checks",
            "service.eth.provider.q.probe.checks"
        ],
        "{e}"
    );
    // Without `evm`, an evm-rpc service may use API checks.
    let ok = text.replace("evm = { chain_id = 1 }\n", "");
    let cfg = Config::from_toml(&ok).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(cfg, State::default(), common::start()).unwrap();
    // And the scenario configs build engines as well.
    Engine::new(common::evm_config(), State::default(), common::start()).unwrap();
    Engine::new(common::api_config(""), State::default(), common::start()).unwrap();
}

#[test]
fn a_secret_header_may_not_repeat_an_inherited_probe_header() {
    let text = format!(
        "{}\n[service.probe]\nheaders = {{ Authorization = \"Bearer x\" }}\n{}secret_headers = {{ authorization = \"{SEALED}\" }}\n",
        &MINIMAL[..MINIMAL.find("[[service.provider]]").unwrap()],
        &MINIMAL[MINIMAL.find("[[service.provider]]").unwrap()..],
    );
    let e = Config::from_toml(&text).unwrap_err();
    assert_eq!(keys(&e), ["service.s.provider.p.secret_headers"], "{e}");
    assert!(e.0[0].message.contains("both"), "{e}");
}

#[test]
fn hostile_inputs_give_errors_not_panics() {
    // Empty and blank documents.
    for text in ["", " ", "\n\n", "# only a comment\n", "\u{feff}"] {
        let e = parse_err(text);
        assert_eq!(e.key, "(document)", "{text:?}: {e}");
    }
    for text in ["", " ", "null", "[]", "{}", "\"x\"", "1e999999"] {
        assert!(Config::from_json(text).is_err(), "{text:?}");
    }

    // Deep nesting, 10,000 levels, every way TOML and JSON can nest.
    let n = 10_000;
    let deep = [
        format!("[{}]\n", vec!["a"; n].join(".")),
        format!("{MINIMAL}\n[policy.{}]\n", vec!["a"; n].join(".")),
        format!("{} = 1\n", vec!["a"; n].join(".")),
        format!("x = {}1{}\n", "{a=".repeat(n), "}".repeat(n)),
        format!("x = {}1{}\n", "[".repeat(n), "]".repeat(n)),
        format!(
            "{MINIMAL}[service.provider.probe.checks.schema]\n{}.type = \"object\"\n",
            vec!["items"; n].join(".")
        ),
        format!(
            "{MINIMAL}[service.provider.probe.checks.schema]\n{}.type = \"object\"\n",
            vec!["properties.a"; n / 2].join(".")
        ),
        format!("{}\n", "[[a]]\n".repeat(n)),
    ];
    for text in &deep {
        assert!(Config::from_toml(text).is_err());
    }
    let deep_json = [
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
        [
            r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api","provider":[{"id":"p","#,
            r#""endpoint":"https://e.com","probe":{"checks":{"schema":"#,
            &"{\"items\":".repeat(n),
            "{}",
            &"}".repeat(n),
            "}}}]}]}",
        ]
        .concat(),
    ];
    for text in &deep_json {
        assert!(Config::from_json(text).is_err());
    }
    // A schema nested deeper than allowed but within the parser's limits is
    // a validation error naming the key.
    let text = format!(
        "{MINIMAL}[service.provider.probe.checks.schema]\n{}.type = \"object\"\n",
        vec!["items"; 40].join(".")
    );
    let e = Config::from_toml(&text).unwrap_err();
    assert!(
        e.0.iter().any(|c| c
            .key
            .starts_with("service.s.provider.p.probe.checks.schema.items")),
        "{e}"
    );

    // Huge and negative numbers, and nonsense durations.
    let s = |line: &str| MINIMAL.replace("id = \"x\"", &format!("id = \"x\"\n{line}"));
    let prov = |line: &str| format!("{MINIMAL}{line}\n");
    let cases: Vec<(String, &str)> = vec![
        (
            s("probe_budget_per_tick = 99999999999999999999999"),
            "(document)",
        ),
        (
            s("probe_budget_per_tick = 4294967296"),
            "sentinel.probe_budget_per_tick",
        ),
        (s("history_limit = -1"), "sentinel.history_limit"),
        (s("max_tick_gap = \"-5s\""), "sentinel.max_tick_gap"),
        (s("max_tick_gap = -5"), "sentinel.max_tick_gap"),
        (s("max_tick_gap = \"5 parsecs\""), "sentinel.max_tick_gap"),
        (s("max_tick_gap = \"5.5s\""), "sentinel.max_tick_gap"),
        (s("max_tick_gap = \"\""), "sentinel.max_tick_gap"),
        (s("max_tick_gap = \"s\""), "sentinel.max_tick_gap"),
        (
            s("max_tick_gap = \"99999999999999999999s\""),
            "sentinel.max_tick_gap",
        ),
        (
            s("max_tick_gap = \"18446744073709551615d\""),
            "sentinel.max_tick_gap",
        ),
        (s("max_tick_gap = 1.5"), "sentinel.max_tick_gap"),
        (
            prov("probe = { max_bytes = 9223372036854775807 }"),
            "service.s.provider.p.probe.max_bytes",
        ),
        (
            prov("probe = { timeout = \"18446744073709551615ms\" }"),
            "service.s.provider.p.probe.timeout",
        ),
        (
            prov("cost = { per_request_usd = 1e308 }"),
            "service.s.provider.p.cost.per_request_usd",
        ),
        (
            prov("cost = { per_request_usd = inf }"),
            "service.s.provider.p.cost.per_request_usd",
        ),
        (
            prov("cost = { per_request_usd = nan }"),
            "service.s.provider.p.cost.per_request_usd",
        ),
        (
            prov("cost = { per_request_usd = -0.5 }"),
            "service.s.provider.p.cost.per_request_usd",
        ),
        (
            prov("cost = { free_tier = { gb = 1e300 } }"),
            "service.s.provider.p.cost.free_tier.gb",
        ),
        (
            prov("limits = { quotas = [{ metric = \"requests\", limit = -1, period = \"day\" }] }"),
            "service[0].provider[0].limits.quotas[0].limit",
        ),
        (
            prov("limits = { quotas = [{ metric = \"requests\", limit = 1, period = \"day\", reset_offset = \"9999d\" }] }"),
            "service.s.provider.p.limits.quotas[0].reset_offset",
        ),
        (
            prov("probe = { checks = { assertions = [{ pointer = \"/a\", min = nan }] } }"),
            "service.s.provider.p.probe.checks.assertions[0].min",
        ),
    ];
    for (text, key) in &cases {
        let e = Config::from_toml(text).expect_err(text);
        assert!(
            e.0.iter().any(|c| c.key == *key),
            "expected `{key}` in:\n{e}\n--- in ---\n{text}"
        );
        let _ = e.to_string();
    }
    // Huge but valid numbers are accepted.
    let big = prov(
        "limits = { quotas = [{ metric = \"requests\", limit = 9223372036854775807, period = \"month\" }] }",
    );
    Config::from_toml(&big).unwrap_or_else(|e| panic!("{e}"));

    // Random bytes, seeded (xorshift), read as text.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in 0..500usize {
        let bytes: Vec<u8> = (0..len * 3)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        assert!(Config::from_toml(&text).is_err());
        assert!(Config::from_json(&text).is_err());
        // …and appended to a valid config.
        let _ = Config::from_toml(&format!("{MINIMAL}{text}"));
    }
}

/// Where to cut, and what to splice in, to damage a valid configuration.
fn splice(text: &str, at: prop::sample::Index, cut: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let i = at.index(chars.len() + 1);
    let j = (i + cut).min(chars.len());
    chars[..i]
        .iter()
        .chain(insert.chars().collect::<Vec<_>>().iter())
        .chain(chars[j..].iter())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Config::from_toml(&text);
        let _ = Config::from_json(&text);
    }

    #[test]
    fn never_panics_on_toml_shaped_text(text in "[\\[\\]{}=\"'.,:/a-z0-9 \\n#_-]{0,300}") {
        let _ = Config::from_toml(&text);
    }

    #[test]
    fn never_panics_on_a_damaged_config(
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in "[\\[\\]{}=\"'.,:0-9a-z \\n-]{0,12}",
        json in any::<bool>(),
    ) {
        let (text, damaged) = if json {
            let t = full_json();
            let d = splice(&t, at, cut, &insert);
            (t, Config::from_json(&d))
        } else {
            let t = full_toml();
            let d = splice(&t, at, cut, &insert);
            (t, Config::from_toml(&d))
        };
        prop_assert!(!text.is_empty());
        if let Err(e) = damaged {
            // Every error names a key and says what is wrong.
            for c in &e.0 {
                prop_assert!(!c.key.is_empty());
                prop_assert!(!c.message.is_empty());
            }
        }
    }
}

/// Issue 13: independent mistakes of a syntactically valid document — type
/// errors and validation errors, in different tables — all come out of one
/// read, each with its key and line.
#[test]
fn independent_type_and_value_errors_are_reported_in_one_run() {
    let text = r#"
[sentinel]
id = "x"
max_tick_gap = 2                # no unit

[policy.switching]
sustain = "three"               # not a number

[[service]]
id = "api"
kind = "mainframe"              # no such kind

[[service.provider]]
id = "a"
endpoint = "https://a.example"
prior = "high"                  # not basis points

[[service]]
id = "db"
kind = "database"

[[service.provider]]
id = "b"
endpoint = "ftp://b.example"    # a validation error, beside the type errors
"#;
    let e = Config::from_toml(text).unwrap_err();
    let expected = [
        ("sentinel.max_tick_gap", "has no unit", 4),
        ("policy.switching.sustain", "invalid type", 7),
        ("service[0].kind", "unknown variant", 11),
        ("service[0].provider[0].prior", "invalid type", 16),
        ("service.db.provider.b.endpoint", "http:// or https://", 0),
    ];
    for (key, msg, line) in expected {
        let c =
            e.0.iter()
                .find(|c| c.key == key)
                .unwrap_or_else(|| panic!("missing `{key}` in:\n{e}"));
        assert!(c.message.contains(msg), "{key}: {c}");
        if line > 0 {
            assert!(c.message.ends_with(&format!("(line {line})")), "{key}: {c}");
        }
    }
    assert_eq!(e.0.len(), expected.len(), "one error per mistake:\n{e}");

    // The same mistakes in JSON.
    let json = r#"{
  "sentinel": { "id": "x", "max_tick_gap": 2 },
  "policy": { "switching": { "sustain": "three" } },
  "service": [
    { "id": "api", "kind": "mainframe",
      "provider": [{ "id": "a", "endpoint": "https://a.example", "prior": "high" }] },
    { "id": "db", "kind": "database",
      "provider": [{ "id": "b", "endpoint": "ftp://b.example" }] }
  ]
}"#;
    let j = Config::from_json(json).unwrap_err();
    let mut got = keys(&j);
    got.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|(k, _, _)| *k).collect();
    want.sort_unstable();
    assert_eq!(got, want, "{j}");
}

/// Issue 13: a bad value hides nothing else of its own table, and a cut
/// value's default does not show up as a second, invented error.
#[test]
fn a_bad_value_hides_nothing_and_invents_nothing() {
    let text =
        format!("{MINIMAL}probe = {{ timeout = 2, max_bytes = \"lots\", method = \"PATCH\" }}\n");
    let e = Config::from_toml(&text).unwrap_err();
    let mut got = keys(&e);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "service[0].provider[0].probe.max_bytes",
            "service[0].provider[0].probe.method",
            "service[0].provider[0].probe.timeout",
        ],
        "{e}"
    );
    // A required key that is wrong is reported once, not again as missing.
    let e =
        Config::from_toml(&MINIMAL.replace("endpoint = \"https://example.com\"", "endpoint = 5"))
            .unwrap_err();
    assert_eq!(keys(&e), ["service[0].provider[0].endpoint"], "{e}");
    // A flap_suppress that cannot be read is not compared with flap_reuse.
    let e = Config::from_toml(&format!(
        "{MINIMAL}\n[policy.switching]\nflap_suppress = \"high\"\nflap_reuse = 5000\n"
    ))
    .unwrap_err();
    assert_eq!(keys(&e), ["policy.switching.flap_suppress"], "{e}");
    // A duplicate key in JSON is still refused (a tree would keep the last).
    let e = json_err(r#"{"sentinel":{"id":"x","id":"y"}}"#);
    assert!(e.message.contains("duplicate"), "{e}");
}

/// Issue 13: an error echoes at most 120 characters of what was written,
/// and says how long the whole was.
#[test]
fn a_huge_value_is_echoed_clipped() {
    let huge = "a".repeat(10 << 20);
    let cases = [
        // A validation error quoting the value.
        MINIMAL.replace("https://example.com", &format!("ftp://{huge}")),
        // Type errors whose messages quote it.
        MINIMAL.replace("kind = \"api\"", &format!("kind = \"{huge}\"")),
        MINIMAL.replace(
            "id = \"x\"",
            &format!("id = \"x\"\nmax_tick_gap = \"{huge}\""),
        ),
        format!("{MINIMAL}probe = {{ path = \"/{huge} x\" }}\n"),
    ];
    for text in &cases {
        let e = Config::from_toml(text).unwrap_err();
        let shown = e.to_string();
        assert!(shown.len() < 2_000, "{} bytes shown", shown.len());
        assert!(shown.contains(&"a".repeat(100)), "{shown}");
        assert!(shown.contains("… ("), "{shown}");
        assert!(shown.contains(" bytes)"), "{shown}");
        for c in &e.0 {
            assert!(c.value.as_ref().is_none_or(|v| v.len() < 400), "{c}");
            assert!(c.message.len() < 2_000, "{c}");
        }
    }
    // Short values are echoed whole.
    let e = Config::from_toml(&MINIMAL.replace("https://example.com", "ftp://x")).unwrap_err();
    assert_eq!(e.0[0].value.as_deref(), Some("\"ftp://x\""));
}

/// Issue 13: a duration without a unit is refused, naming the key and
/// suggesting the units, in TOML and JSON alike.
#[test]
fn a_bare_integer_duration_is_refused_with_a_unit_suggestion() {
    let e = parse_err(&format!("{MINIMAL}probe = {{ timeout = 2 }}\n"));
    assert_eq!(e.key, "service[0].provider[0].probe.timeout");
    assert!(
        e.message
            .contains("`2` has no unit: write \"2s\" or \"2000ms\""),
        "{e}"
    );
    let e =
        parse_err(&MINIMAL.replace("kind = \"api\"", "kind = \"api\"\nprobe_interval = \"30\""));
    assert_eq!(e.key, "service[0].probe_interval");
    assert!(e.message.contains("has no unit"), "{e}");
    let e = json_err(r#"{"sentinel":{"id":"x"},"policy":{"switching":{"min_dwell":600}}}"#);
    assert_eq!(e.key, "policy.switching.min_dwell");
    assert!(
        e.message
            .contains("`600` has no unit: write \"600s\" or \"600000ms\""),
        "{e}"
    );
    // With a unit, the same values read.
    let c = Config::from_toml(&format!("{MINIMAL}probe = {{ timeout = \"2000ms\" }}\n")).unwrap();
    assert_eq!(
        c.services[0].providers[0].probe.as_ref().unwrap().timeout,
        Span::secs(2)
    );
}

/// Issue 13: a probe block that leaves `timeout` out never makes a short
/// probe interval invalid; an explicit timeout over it still does.
#[test]
fn a_default_timeout_fits_a_short_probe_interval() {
    let text = MINIMAL.replace(
        "kind = \"api\"",
        "kind = \"api\"\nprobe_interval = \"1s\"\nprobe = { path = \"/health\" }",
    );
    let c = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let (svc, p) = c.provider("p").unwrap();
    assert_eq!(
        sentinel_core::config::effective_probe(svc, p).timeout,
        Span::secs(1)
    );
    // A provider's own probe block too, in JSON as well.
    let json = r#"{"sentinel":{"id":"x"},"service":[{"id":"s","kind":"api","probe_interval":"2s",
        "provider":[{"id":"p","endpoint":"https://e.com","probe":{"path":"/up"}}]}]}"#;
    let c = Config::from_json(json).unwrap_or_else(|e| panic!("{e}"));
    let (svc, p) = c.provider("p").unwrap();
    assert_eq!(
        sentinel_core::config::effective_probe(svc, p).timeout,
        Span::secs(2)
    );
    // The default stays 5 s under a longer interval.
    let c = Config::from_toml(&format!("{MINIMAL}probe = {{ path = \"/up\" }}\n")).unwrap();
    let (svc, p) = c.provider("p").unwrap();
    assert_eq!(
        sentinel_core::config::effective_probe(svc, p).timeout,
        Span::secs(5)
    );
    // Explicit and too long: still an error.
    let e = Config::from_toml(&text.replace("path = \"/health\"", "timeout = \"5s\"")).unwrap_err();
    assert_eq!(keys(&e), ["service.s.probe.timeout"], "{e}");
}

#[test]
fn a_chain_section_is_checked_whole_and_its_defaults_documented() {
    let good = format!(
        "{MINIMAL}\n[chain]\nrpc = \"https://rpc.example\"\nchain_id = 8453\ncontract = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n"
    );
    let c = Config::from_toml(&good).unwrap();
    let chain = c.chain.as_ref().unwrap();
    assert_eq!(
        (
            chain.min_trust,
            chain.max_batch,
            chain.max_fee_gwei,
            chain.tolerance_bps
        ),
        (2, 100, 100, 500)
    );
    assert_eq!(
        (
            chain.replace_after.as_ms(),
            chain.retry_after.as_ms(),
            chain.recheck.as_ms()
        ),
        (180_000, 60_000, 600_000)
    );
    let bad = format!(
        "{MINIMAL}\n[chain]\nrpc = \"ftp://x\"\nchain_id = 0\ncontract = \"0x123\"\nmin_trust = 4\nmax_batch = 5000\nmax_fee_gwei = 0\ntolerance_bps = 20000\nreplace_after = \"1s\"\nretry_after = \"2h\"\nrecheck = \"0s\"\n"
    );
    let e = Config::from_toml(&bad).unwrap_err();
    let mut got = keys(&e);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "chain.chain_id",
            "chain.contract",
            "chain.max_batch",
            "chain.max_fee_gwei",
            "chain.min_trust",
            "chain.recheck",
            "chain.replace_after",
            "chain.retry_after",
            "chain.rpc",
            "chain.tolerance_bps",
        ],
        "{e}"
    );
    // The key is a secret, never the config.
    let e = Config::from_toml(&format!("{good}key = \"0xabc\"\n")).unwrap_err();
    assert!(e.to_string().contains("key"), "{e}");
}
