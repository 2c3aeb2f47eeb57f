//! Checks that serde cannot express: ranges, relations between keys and
//! uniqueness. Every problem is collected with its key and value.

use super::{join, Config, Errors, Initial, Method, ProbeSpec, ServiceConfig};
use crate::Kind;
use std::collections::BTreeSet;

impl Config {
    /// Validates the whole configuration, returning every problem found.
    pub fn validate(&self) -> Result<(), Errors> {
        let mut e = Errors::default();
        let s = &self.sentinel;
        e.check(
            s.probe_budget_per_tick.is_none_or(|b| b >= 1),
            "sentinel.probe_budget_per_tick",
            s.probe_budget_per_tick.unwrap_or(0),
            "must be at least 1",
        );
        e.check(
            s.max_tick_gap.as_ms() >= 1_000,
            "sentinel.max_tick_gap",
            s.max_tick_gap,
            "must be at least 1s",
        );
        e.check(
            s.history_limit >= 1,
            "sentinel.history_limit",
            s.history_limit,
            "must be at least 1",
        );
        s.footprint.validate("sentinel.footprint", &mut e);
        self.validate_policy(&mut e);
        self.budgets.validate("budgets", &mut e);
        self.ladder.validate("ladder", &mut e);

        let mut service_ids = BTreeSet::new();
        let mut provider_ids = BTreeSet::new();
        for svc in &self.services {
            let key = format!("service.{}", svc.id);
            if !service_ids.insert(svc.id.clone()) {
                e.push(&join(&key, "id"), svc.id.as_str(), "duplicate service id");
            }
            validate_service(svc, &key, &mut e);
            for p in &svc.providers {
                if !provider_ids.insert(p.id.clone()) {
                    e.push(
                        &format!("{key}.provider.{}.id", p.id),
                        p.id.as_str(),
                        "duplicate provider id (ids are unique across all services)",
                    );
                }
            }
        }
        self.validate_peers(&mut e);
        if e.is_empty() {
            Ok(())
        } else {
            Err(e)
        }
    }

    fn validate_peers(&self, e: &mut Errors) {
        let mut ids = BTreeSet::new();
        for p in &self.peers {
            let key = format!("peer.{}", p.id);
            e.check(
                p.id != self.sentinel.id,
                &join(&key, "id"),
                p.id.as_str(),
                "a sentinel cannot be its own peer (give each its own [sentinel] id)",
            );
            e.check(
                ids.insert(p.id.clone()),
                &join(&key, "id"),
                p.id.as_str(),
                "duplicate peer id",
            );
            let ok = url::Url::parse(&p.url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            e.check(
                ok,
                &join(&key, "url"),
                &p.url,
                "must be an http(s) base URL without query or fragment",
            );
        }
        if let Some(c) = &self.chain {
            c.validate(e);
        }
        let q = &self.quorum;
        e.check(
            (1..=100).contains(&q.peer_down_after),
            "quorum.peer_down_after",
            q.peer_down_after,
            "must be 1 to 100",
        );
        e.check(
            (1..=100).contains(&q.isolation_share),
            "quorum.isolation_share",
            q.isolation_share,
            "must be a percentage, 1 to 100",
        );
    }

    fn validate_policy(&self, e: &mut Errors) {
        let p = &self.policy;
        let w = &p.weights;
        // Summed in u64: each weight is a u32 from the file, and a u32 sum
        // could overflow (a panic in debug builds, and in release a wrap
        // that lets e.g. 4294967295 + 10001 pass as 10000).
        let sum: u64 = [
            w.uptime,
            w.data_quality,
            w.performance,
            w.cost,
            w.reliability,
        ]
        .iter()
        .map(|&v| u64::from(v))
        .sum();
        e.check(
            sum == 10_000,
            "policy.weights",
            sum,
            "the five weights must sum to 10000 basis points",
        );
        let q = &p.quality_weights;
        let qsum: u64 = [q.schema, q.business, q.freshness, q.consistency]
            .iter()
            .map(|&v| u64::from(v))
            .sum();
        e.check(
            qsum == 10_000,
            "policy.quality_weights",
            qsum,
            "the four weights must sum to 10000 basis points",
        );
        let r = &p.reputation;
        e.check(
            r.full_confidence_samples >= 1,
            "policy.reputation.full_confidence_samples",
            r.full_confidence_samples,
            "must be at least 1",
        );
        let sw = &p.switching;
        e.check(
            sw.failure_threshold >= 1,
            "policy.switching.failure_threshold",
            sw.failure_threshold,
            "must be at least 1",
        );
        e.check(
            sw.latency_factor >= 2,
            "policy.switching.latency_factor",
            sw.latency_factor,
            "must be at least 2 (a lower factor switches on noise)",
        );
        e.check(
            sw.sustain >= 1,
            "policy.switching.sustain",
            sw.sustain,
            "must be at least 1",
        );
        e.check(
            sw.canary_timeout.as_ms() > 0,
            "policy.switching.canary_timeout",
            sw.canary_timeout,
            "must be more than 0",
        );
        e.check(
            sw.flap_half_life.as_ms() > 0,
            "policy.switching.flap_half_life",
            sw.flap_half_life,
            "must be more than 0",
        );
        e.check(
            sw.flap_reuse < sw.flap_suppress,
            "policy.switching.flap_reuse",
            sw.flap_reuse,
            "must be below flap_suppress",
        );
        e.check(
            sw.flap_penalty > 0,
            "policy.switching.flap_penalty",
            sw.flap_penalty,
            "must be more than 0",
        );
        let lc = &p.lifecycle;
        e.check(
            lc.recovery_successes >= 1,
            "policy.lifecycle.recovery_successes",
            lc.recovery_successes,
            "must be at least 1",
        );
        let t = &p.trust;
        e.check(
            t.testing_above <= t.trusted_above && t.trusted_above <= t.verified_above,
            "policy.trust",
            (t.testing_above, t.trusted_above, t.verified_above),
            "thresholds must satisfy testing_above <= trusted_above <= verified_above",
        );
    }
}

fn validate_service(svc: &ServiceConfig, key: &str, e: &mut Errors) {
    e.check(
        !svc.providers.is_empty(),
        &join(key, "provider"),
        0,
        "a service needs at least one provider",
    );
    e.check(
        svc.kind != Kind::Sentinel,
        &join(key, "kind"),
        svc.kind,
        "`sentinel` is reserved for the sentinel's own footprint",
    );
    e.check(
        svc.probe_interval.as_ms() >= 1_000,
        &join(key, "probe_interval"),
        svc.probe_interval,
        "must be at least 1s",
    );
    if let Some(t) = svc.target_latency {
        e.check(
            t.as_ms() > 0,
            &join(key, "target_latency"),
            t,
            "must be more than 0",
        );
    }
    match (&svc.evm, svc.kind) {
        (Some(evm), Kind::EvmRpc) => evm.validate(&join(key, "evm"), e),
        (Some(_), kind) => e.push(
            &join(key, "evm"),
            kind,
            "evm checks apply only to kind = \"evm-rpc\"",
        ),
        (None, _) => {}
    }
    if let Some(p) = &svc.probe {
        validate_probe(p, svc, &join(key, "probe"), e);
    }
    let actives = svc
        .providers
        .iter()
        .filter(|p| p.initial == Initial::Active)
        .count();
    e.check(
        actives <= 1,
        &join(key, "provider"),
        actives,
        "at most one provider per service may start as `initial = \"active\"`",
    );
    for p in &svc.providers {
        let pk = format!("{key}.provider.{}", p.id);
        if let Err(msg) = check_endpoint(&p.endpoint) {
            e.push(&join(&pk, "endpoint"), &p.endpoint, msg);
        }
        if let Some(sp) = &p.status_page {
            if let Err(msg) = check_endpoint(sp) {
                e.push(&join(&pk, "status_page"), sp, msg);
            }
        }
        if let Some(probe) = &p.probe {
            validate_probe(probe, svc, &join(&pk, "probe"), e);
        }
        // The headers actually sent are those of the effective probe: the
        // provider's own, else the service's.
        if let Some(probe) = p.probe.as_ref().or(svc.probe.as_ref()) {
            for h in p.secret_headers.keys() {
                if probe.headers.keys().any(|k| k.eq_ignore_ascii_case(h)) {
                    e.push(
                        &join(&pk, "secret_headers"),
                        h,
                        "header is set both in probe.headers and secret_headers",
                    );
                }
            }
        }
        for h in p.secret_headers.keys() {
            if !is_header_name(h) {
                e.push(
                    &join(&pk, "secret_headers"),
                    h,
                    "not a valid HTTP header name",
                );
            }
        }
        p.limits.validate(&join(&pk, "limits"), e);
        p.cost.validate(&join(&pk, "cost"), e);
    }
}

fn validate_probe(p: &ProbeSpec, svc: &ServiceConfig, key: &str, e: &mut Errors) {
    if p.api.is_some() && p.body.is_some() {
        e.push_key(
            &join(key, "body"),
            "an `api` probe builds its own body: put the SQL or command in `query`",
        );
    }
    if p.api.is_none() && p.query.is_some() {
        e.push_key(
            &join(key, "query"),
            "`query` needs an `api` (postgrest, upstash-redis, libsql, neon-sql); a database probed in its own protocol (postgres://, redis://) takes its query in `body`",
        );
    }
    e.check(
        p.timeout.as_ms() > 0,
        &join(key, "timeout"),
        p.timeout,
        "must be more than 0",
    );
    e.check(
        p.timeout <= svc.probe_interval,
        &join(key, "timeout"),
        p.timeout,
        "must not exceed the service's probe_interval (left out, it is 5s or the interval, whichever is shorter)",
    );
    e.check(
        (1..=(64 << 20)).contains(&p.max_bytes),
        &join(key, "max_bytes"),
        p.max_bytes,
        "must be between 1 and 67108864 (64 MiB)",
    );
    for s in &p.expect_status {
        e.check(
            (100..=599).contains(s),
            &join(key, "expect_status"),
            s,
            "not an HTTP status code",
        );
    }
    for h in p.headers.keys() {
        e.check(
            is_header_name(h),
            &join(key, "headers"),
            h,
            "not a valid HTTP header name",
        );
    }
    for (h, v) in &p.headers {
        e.check(
            !v.contains(['\r', '\n']),
            &join(key, &format!("headers.{h}")),
            v,
            "header values may not contain line breaks",
        );
    }
    e.check(
        !(p.path.contains(['\r', '\n', ' ', '#'])),
        &join(key, "path"),
        &p.path,
        "may not contain spaces, line breaks or '#'",
    );
    let has_body_checks = !p.checks.assertions.is_empty()
        || p.checks.schema.is_some()
        || p.checks.freshness.is_some()
        || p.checks.consistency.is_some();
    if p.method == Method::Head && has_body_checks {
        e.push(
            &join(key, "method"),
            "HEAD",
            "a HEAD response has no body to check",
        );
    }
    p.checks.validate(&join(key, "checks"), e);
    // The engine checks an EVM provider with `evm` only and refuses API
    // checks next to it (`CompiledChecks::new`); report that here, so a
    // config that validates also builds an engine.
    if svc.kind == Kind::EvmRpc && svc.evm.is_some() && !p.checks.is_empty() {
        e.push_key(
            &join(key, "checks"),
            "an EVM provider is checked by `evm` (chain id, block age, lag); \
             assertions, schema, freshness and consistency do not apply to its JSON-RPC batch",
        );
    }
}

/// Endpoints probed in their database's own protocol (the native shells,
/// `sentinel_native::db`); their probe's `body` is the query.
pub const DB_SCHEMES: &[&str] = &["postgres://", "postgresql://", "redis://", "rediss://"];

/// Whether `endpoint` is probed in a database's own protocol.
pub fn is_db_endpoint(endpoint: &str) -> bool {
    DB_SCHEMES.iter().any(|p| endpoint.starts_with(p))
}

/// Whether `s` is a usable `http(s)://host[:port][/path]` URL (or a
/// database URL, [`DB_SCHEMES`]): what a probe or the proxy can be pointed
/// at. The shells resolve and guard the address itself (SSRF); this
/// catches typos early.
pub fn check_endpoint(s: &str) -> Result<(), String> {
    let rest = ["https://", "http://"]
        .iter()
        .chain(DB_SCHEMES)
        .find_map(|p| s.strip_prefix(p))
        .ok_or_else(|| {
            "must start with http:// or https:// (or postgres://, postgresql://, redis://, rediss:// for a database probed in its own protocol)".to_string()
        })?;
    if s.contains(|c: char| c.is_whitespace() || c.is_control()) || s.contains('#') {
        return Err("may not contain whitespace, control characters or '#'".into());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; use secret_headers".into());
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, port)| {
            if port.parse::<u16>().is_ok() {
                h
            } else {
                ""
            }
        })
    };
    if host.is_empty() {
        return Err("has no host (or an invalid port)".into());
    }
    Ok(())
}

fn is_header_name(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl crate::config::ChainConfig {
    fn validate(&self, e: &mut Errors) {
        let ok = url::Url::parse(&self.rpc)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        e.check(ok, "chain.rpc", &self.rpc, "must be an http(s) URL");
        e.check(
            self.chain_id > 0,
            "chain.chain_id",
            self.chain_id,
            "must be above 0",
        );
        e.check(
            crate::chain::parse_address(&self.contract).is_some(),
            "chain.contract",
            &self.contract,
            "must be 0x followed by 40 hex digits",
        );
        e.check(
            (1..=3).contains(&self.min_trust),
            "chain.min_trust",
            self.min_trust,
            "must be 1 (testing), 2 (trusted) or 3 (verified)",
        );
        e.check(
            (1..=crate::chain::MAX_BATCH).contains(&self.max_batch),
            "chain.max_batch",
            self.max_batch,
            "must be 1 to 1024 (the contract's batch limit)",
        );
        e.check(
            (1..=1_000_000).contains(&self.max_fee_gwei),
            "chain.max_fee_gwei",
            self.max_fee_gwei,
            "must be 1 to 1000000",
        );
        e.check(
            self.tolerance_bps <= 10_000,
            "chain.tolerance_bps",
            self.tolerance_bps,
            "must be 0 to 10000",
        );
        e.check(
            (1_000..=3_600_000).contains(&self.retry_after.as_ms()),
            "chain.retry_after",
            self.retry_after,
            "must be 1s to 1h",
        );
        e.check(
            (1_000..=3_600_000).contains(&self.recheck.as_ms()),
            "chain.recheck",
            self.recheck,
            "must be 1s to 1h (records are due every hour)",
        );
        e.check(
            self.replace_after.as_ms() >= 10_000,
            "chain.replace_after",
            self.replace_after,
            "must be at least 10s",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn endpoints() {
        for ok in [
            "https://eth.llamarpc.com",
            "http://127.0.0.1:8545/",
            "https://[::1]:80/x?y=1",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ftp://x",
            "https://",
            "https://user:pw@host/",
            "https://h:99999",
            "https://a b",
            "https://h/#x",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }
}
