//! What the Worker reads from its environment, and the limits of the
//! platform it lives on. Pure: tested natively.
//!
//! | name | kind | what |
//! |---|---|---|
//! | `SENTINEL` | KV binding | the state ([`sentinel_core::host::kv`]) and, optionally, the config |
//! | `LEDGER` | Durable Object binding | the usage journal ([`crate`] docs) |
//! | `SENTINEL_CONFIG` | var | the config (TOML); Cloudflare caps a var at 5 KB |
//! | `SENTINEL_TOKEN` | secret | the admin token (mutating routes, `/v1/observations`) |
//! | `SENTINEL_PROXY_TOKENS` | secret | proxy tokens, comma-separated |
//! | `SENTINEL_KEY` | secret | the AEAD key sealing provider credentials (base64 or 64 hex digits) |
//! | `SENTINEL_WEBHOOK` | secret | alert webhook URLs, comma-separated (they embed tokens) |
//!
//! The config comes from the first of: the `SENTINEL_CONFIG` var, the KV
//! key [`CONFIG_KEY`] (`wrangler kv key put --binding SENTINEL
//! config/sentinel.toml --path sentinel.toml`: no size limit that
//! matters), and the `sentinel.toml` the Worker was built with.

use sentinel_core::books::spec::{Metric, Period, Quota};
use sentinel_core::config::{Config, Errors};
use sentinel_core::secret::SecretKey;

/// The KV namespace binding.
pub const KV_BINDING: &str = "SENTINEL";
/// The Durable Object binding of the usage journal.
pub const LEDGER_BINDING: &str = "LEDGER";
/// The var holding the config.
pub const CONFIG_VAR: &str = "SENTINEL_CONFIG";
/// The KV key holding the config when the var does not.
pub const CONFIG_KEY: &str = "config/sentinel.toml";
/// The config built into the Worker (the repository's `sentinel.toml`).
pub const BUILTIN_CONFIG: &str = include_str!("../../sentinel.toml");

/// Cloudflare's free plan, as published
/// (developers.cloudflare.com/workers/platform/limits, read 2026-11-29).
pub mod free_plan {
    /// Requests a day (fetch and scheduled invocations together).
    pub const REQUESTS_PER_DAY: u64 = 100_000;
    /// Subrequests (outbound `fetch`) per invocation.
    pub const SUBREQUESTS_PER_INVOCATION: u32 = 50;
    /// KV writes a day.
    pub const KV_WRITES_PER_DAY: u64 = 1_000;
    /// KV reads a day.
    pub const KV_READS_PER_DAY: u64 = 100_000;
    /// CPU time per invocation, in ms.
    pub const CPU_MS_PER_INVOCATION: u64 = 10;
}

/// Probes one tick may send: the free plan's 50 subrequests per
/// invocation, less room for the canary rounds a decision may ask for
/// (they are probes too), the webhook deliveries after the tick and the
/// anchoring step (at most three JSON-RPC requests, plus one co-signing
/// request per peer).
/// Probes beyond it stay due and run at the next tick, routed providers
/// first ([`sentinel_core::engine::Engine::plan`]).
pub const PROBE_BUDGET: u32 = 31;

/// Errors in the Worker's settings. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config is invalid (every error, each with its key).
    #[error("the config from {source_name} is invalid:\n{errors}")]
    Config {
        /// Where it came from.
        source_name: &'static str,
        /// What is wrong.
        errors: Errors,
    },
    /// A var is not what it should be.
    #[error("{name}: {reason}")]
    Var {
        /// The var.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// `SENTINEL_KEY` is not a key.
    #[error("SENTINEL_KEY: {0}")]
    Key(String),
}

/// The secrets the Worker reads (never logged: `Debug` redacts them).
#[derive(Clone, Default)]
pub struct Secrets {
    /// Admin token.
    pub token: Option<String>,
    /// Proxy tokens.
    pub proxy_tokens: Vec<String>,
    /// The credential key.
    pub key: Option<SecretKey>,
    /// Webhook URLs.
    pub webhooks: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("proxy_tokens", &self.proxy_tokens.len())
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("webhooks", &self.webhooks.len())
            .finish()
    }
}

impl Secrets {
    /// Reads the secrets through `get` (the Worker's `env.secret`, or
    /// `.dev.vars` locally). Empty values count as unset.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        use sentinel_core::host::env;
        Ok(Secrets {
            token: env::text(get("SENTINEL_TOKEN")),
            proxy_tokens: env::list(get("SENTINEL_PROXY_TOKENS")),
            key: env::secret_key(get("SENTINEL_KEY")).map_err(SettingsError::Key)?,
            webhooks: env::list(get("SENTINEL_WEBHOOK")),
        })
    }
}

/// The plan the Worker runs on: its daily limits, from the vars
/// `SENTINEL_KV_WRITES_PER_DAY` and `SENTINEL_REQUESTS_PER_DAY` (a paid
/// plan raises them) and `SENTINEL_KV_READS_PER_DAY`, by default the free
/// plan's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// KV writes a day.
    pub kv_writes_per_day: u64,
    /// Requests (invocations) a day.
    pub requests_per_day: u64,
    /// KV reads a day.
    pub kv_reads_per_day: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            kv_writes_per_day: free_plan::KV_WRITES_PER_DAY,
            requests_per_day: free_plan::REQUESTS_PER_DAY,
            kv_reads_per_day: free_plan::KV_READS_PER_DAY,
        }
    }
}

impl Plan {
    /// Reads the plan's vars; unset means the free plan.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let num = |name: &'static str, default: u64| -> Result<u64, SettingsError> {
            sentinel_core::host::env::positive(get(name), default)
                .map_err(|reason| SettingsError::Var { name, reason })
        };
        Ok(Plan {
            kv_writes_per_day: num("SENTINEL_KV_WRITES_PER_DAY", free_plan::KV_WRITES_PER_DAY)?,
            requests_per_day: num("SENTINEL_REQUESTS_PER_DAY", free_plan::REQUESTS_PER_DAY)?,
            kv_reads_per_day: num("SENTINEL_KV_READS_PER_DAY", free_plan::KV_READS_PER_DAY)?,
        })
    }
}

/// Parses the Worker's config and books the sentinel's own footprint
/// against `plan` ([`apply_plan`]).
pub fn parse_config(
    text: &str,
    source_name: &'static str,
    plan: Plan,
) -> Result<Config, SettingsError> {
    let mut config = Config::from_toml(text).map_err(|errors| SettingsError::Config {
        source_name,
        errors,
    })?;
    apply_plan(&mut config, plan);
    Ok(config)
}

/// Sets the footprint's daily quotas of store writes, store reads and
/// invocations to the plan's: the store here is KV, so a `writes` quota in the config
/// (written for the local binary's embedded store) does not apply, and
/// the plan's limit is what Cloudflare enforces. Other footprint quotas
/// are kept. The sentinel's own writes and invocations are booked against
/// these, and its ladder alerts and scales down before the plan refuses.
pub fn apply_plan(config: &mut Config, plan: Plan) {
    let quotas = &mut config.sentinel.footprint.quotas;
    for (metric, limit) in [
        (Metric::Writes, plan.kv_writes_per_day),
        (Metric::Invocations, plan.requests_per_day),
        (Metric::Reads, plan.kv_reads_per_day),
    ] {
        quotas.retain(|q| !(q.metric == metric && q.period == Period::Day));
        quotas.push(Quota {
            metric,
            limit,
            period: Period::Day,
            reset_offset: Default::default(),
        });
    }
}

/// The period of a cron expression that fires at a fixed interval, in ms:
/// `* * * * *` and `*/N * * * *` (every N minutes), `M * * * *` (hourly),
/// `M */N * * *` (every N hours); `None` for anything else (the sentinel
/// then judges probe lateness against the probe interval alone).
pub fn cron_period_ms(expr: &str) -> Option<u64> {
    const MINUTE: u64 = 60_000;
    let f: Vec<&str> = expr.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = f.as_slice() else {
        return None;
    };
    if [dom, month, dow].iter().any(|x| **x != "*") {
        return None;
    }
    let every = |field: &str| -> Option<u64> {
        match field {
            "*" => Some(1),
            f => f.strip_prefix("*/")?.parse::<u64>().ok().filter(|n| *n > 0),
        }
    };
    let fixed = |field: &str| field.parse::<u64>().is_ok();
    match (every(minute), every(hour)) {
        (Some(n), Some(1)) if *hour == "*" => Some(n * MINUTE),
        (None, Some(n)) if fixed(minute) => Some(n * 60 * MINUTE),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_built_in_config_is_valid_and_gets_the_free_plan_footprint() {
        let c = parse_config(
            BUILTIN_CONFIG,
            "the built-in sentinel.toml",
            Plan::default(),
        )
        .unwrap();
        let q = &c.sentinel.footprint.quotas;
        // sentinel.toml's writes quota is the local store's: KV's replaces it.
        let writes: Vec<_> = q.iter().filter(|q| q.metric == Metric::Writes).collect();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].limit, 1_000);
        assert!(q
            .iter()
            .any(|q| q.metric == Metric::Invocations && q.limit == 100_000));
        assert!(q
            .iter()
            .any(|q| q.metric == Metric::Reads && q.limit == 100_000));
    }

    #[test]
    fn a_config_without_footprint_gets_the_kv_write_limit() {
        let text = "[sentinel]\nid = \"w\"\n\n[[service]]\nid = \"s\"\nkind = \"api\"\nprobe_interval = \"60s\"\n\n[[service.provider]]\nid = \"a\"\nendpoint = \"https://a.example\"\n";
        let c = parse_config(text, "test", Plan::default()).unwrap();
        assert!(c
            .sentinel
            .footprint
            .quotas
            .iter()
            .any(|q| q.metric == Metric::Writes && q.limit == 1_000 && q.period == Period::Day));
    }

    #[test]
    fn a_bad_config_names_its_source_and_key() {
        let e = parse_config(
            "[sentinel]\nid = 3\n",
            "the SENTINEL_CONFIG var",
            Plan::default(),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("SENTINEL_CONFIG var"), "{s}");
        assert!(s.contains("sentinel.id") || s.contains("id"), "{s}");
    }

    #[test]
    fn a_paid_plan_raises_the_limits_and_a_bad_number_is_refused() {
        let p = Plan::from_env(env(&[("SENTINEL_KV_WRITES_PER_DAY", "1_000_000")])).unwrap();
        assert_eq!(p.kv_writes_per_day, 1_000_000);
        assert_eq!(p.requests_per_day, 100_000);
        let e = Plan::from_env(env(&[("SENTINEL_REQUESTS_PER_DAY", "lots")])).unwrap_err();
        assert!(e.to_string().contains("SENTINEL_REQUESTS_PER_DAY"), "{e}");
        assert!(Plan::from_env(env(&[("SENTINEL_KV_WRITES_PER_DAY", "0")])).is_err());
    }

    #[test]
    fn cron_periods() {
        assert_eq!(cron_period_ms("*/2 * * * *"), Some(120_000));
        assert_eq!(cron_period_ms("* * * * *"), Some(60_000));
        assert_eq!(cron_period_ms("15 * * * *"), Some(3_600_000));
        assert_eq!(cron_period_ms("0 */6 * * *"), Some(6 * 3_600_000));
        assert_eq!(cron_period_ms("0 12 * * MON"), None);
        assert_eq!(cron_period_ms("*/0 * * * *"), None);
        assert_eq!(cron_period_ms("nonsense"), None);
    }

    #[test]
    fn secrets_are_read_trimmed_and_never_shown() {
        let key = "00".repeat(32);
        let s = Secrets::from_env(env(&[
            ("SENTINEL_TOKEN", " admin-secret "),
            ("SENTINEL_PROXY_TOKENS", "p1, p2,,"),
            ("SENTINEL_KEY", &key),
            ("SENTINEL_WEBHOOK", "https://hooks.example/a"),
        ]))
        .unwrap();
        assert_eq!(s.token.as_deref(), Some("admin-secret"));
        assert_eq!(s.proxy_tokens, ["p1", "p2"]);
        assert!(s.key.is_some());
        assert_eq!(s.webhooks.len(), 1);
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("admin-secret") && !shown.contains("p1"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_key_is_refused_without_echoing_it() {
        let e = Secrets::from_env(env(&[("SENTINEL_KEY", "not-a-key-at-all")])).unwrap_err();
        assert!(!e.to_string().contains("not-a-key-at-all"), "{e}");
        let none = Secrets::from_env(env(&[("SENTINEL_TOKEN", "  ")])).unwrap();
        assert!(none.token.is_none() && none.key.is_none());
    }
}
