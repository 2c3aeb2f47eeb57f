//! What the Lambda reads from its environment, and the AWS free tier it
//! books its own footprint against. Pure: tested without AWS.
//!
//! | variable | what |
//! |---|---|
//! | `SENTINEL_TABLE` | the DynamoDB table (required) |
//! | `SENTINEL_CONFIG` | the config (TOML text); else `SENTINEL_CONFIG_FILE` (a path in the deployment package); else the built-in `sentinel.toml` |
//! | `SENTINEL_TOKEN` | the admin token (mutating routes, `/v1/observations`) |
//! | `SENTINEL_PROXY_TOKENS` | proxy tokens, comma-separated |
//! | `SENTINEL_KEY` | the AEAD key sealing provider credentials (base64 or 64 hex digits) |
//! | `SENTINEL_WEBHOOK` | alert webhook URLs, comma-separated |
//! | `SENTINEL_SCHEDULE_MINUTES` or `SENTINEL_SCHEDULE_SECONDS` | the EventBridge schedule's period (default 2 minutes, as the template) |
//! | `SENTINEL_INVOCATIONS_PER_MONTH`, `SENTINEL_GB_SECONDS_PER_MONTH`, `SENTINEL_DDB_READS_PER_MONTH`, `SENTINEL_DDB_WRITES_PER_MONTH` | the plan (default: the free tier) |
//!
//! Secrets may come from the function's environment (encrypted at rest by
//! Lambda) or, with the template's optional parameter, from Secrets
//! Manager through the environment.

use sentinel_core::books::spec::{Metric, Period, Quota};
use sentinel_core::config::{Config, Errors};
use sentinel_core::host::env;
use sentinel_core::secret::SecretKey;

/// The config built into the binary.
pub const BUILTIN_CONFIG: &str = include_str!("../../sentinel.toml");

/// The AWS free tier, as published (aws.amazon.com/free, read
/// 2026-11-29): Lambda 1 million requests and 400,000 GB-seconds a month;
/// DynamoDB 25 provisioned read and write capacity units (one a second
/// each: 64.8 million a month).
pub mod free_tier {
    /// Lambda invocations a month.
    pub const INVOCATIONS_PER_MONTH: u64 = 1_000_000;
    /// Lambda GB-seconds a month.
    pub const GB_SECONDS_PER_MONTH: u64 = 400_000;
    /// DynamoDB reads a month (25 RCU).
    pub const DDB_READS_PER_MONTH: u64 = 25 * 2_592_000;
    /// DynamoDB writes a month (25 WCU).
    pub const DDB_WRITES_PER_MONTH: u64 = 25 * 2_592_000;
}

/// Probes one tick may send: a Lambda has no subrequest cap, so as many
/// as the local binary.
pub const PROBE_BUDGET: u32 = 512;

/// Errors in the Lambda's settings. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A variable is missing or wrong.
    #[error("{name}: {reason}")]
    Var {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The config is invalid (every error, with its key).
    #[error("the config from {source_name} is invalid:\n{errors}")]
    Config {
        /// Where it came from.
        source_name: String,
        /// What is wrong.
        errors: Errors,
    },
}

/// Everything the environment says.
#[derive(Clone)]
pub struct Settings {
    /// The table.
    pub table: String,
    /// The config text and where it came from.
    pub config: (String, String),
    /// Admin token.
    pub token: Option<String>,
    /// Proxy tokens.
    pub proxy_tokens: Vec<String>,
    /// Credential key.
    pub key: Option<SecretKey>,
    /// Webhook URLs.
    pub webhooks: Vec<String>,
    /// The schedule's period, in ms.
    pub schedule_ms: u64,
    /// The plan's monthly limits.
    pub plan: Plan,
    /// The function's memory, in MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`),
    /// for its GB-seconds.
    pub memory_mb: u64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("table", &self.table)
            .field("config", &self.config.1)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("proxy_tokens", &self.proxy_tokens.len())
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("webhooks", &self.webhooks.len())
            .field("schedule_ms", &self.schedule_ms)
            .field("plan", &self.plan)
            .finish()
    }
}

/// Monthly limits the sentinel's own footprint is booked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Invocations.
    pub invocations: u64,
    /// GB-seconds.
    pub gb_seconds: u64,
    /// DynamoDB reads.
    pub reads: u64,
    /// DynamoDB writes.
    pub writes: u64,
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, SettingsError> {
    sentinel_core::host::env::positive(get(name), default)
        .map_err(|reason| SettingsError::Var { name, reason })
}

impl Settings {
    /// Reads the settings through `get` (the process environment) and
    /// `read_file` (for `SENTINEL_CONFIG_FILE`).
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&str) -> std::io::Result<String>,
    ) -> Result<Self, SettingsError> {
        let table = get("SENTINEL_TABLE")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or(SettingsError::Var {
                name: "SENTINEL_TABLE",
                reason: "not set: the DynamoDB table the state lives in".into(),
            })?;
        let config = match (
            get("SENTINEL_CONFIG").filter(|t| !t.trim().is_empty()),
            get("SENTINEL_CONFIG_FILE").filter(|t| !t.trim().is_empty()),
        ) {
            (Some(text), _) => (text, "the SENTINEL_CONFIG variable".to_string()),
            (None, Some(path)) => (
                read_file(&path).map_err(|e| SettingsError::Var {
                    name: "SENTINEL_CONFIG_FILE",
                    reason: format!("cannot read `{path}`: {e}"),
                })?,
                format!("`{path}`"),
            ),
            (None, None) => (
                BUILTIN_CONFIG.to_string(),
                "the built-in sentinel.toml".to_string(),
            ),
        };
        let key = env::secret_key(get("SENTINEL_KEY")).map_err(|reason| SettingsError::Var {
            name: "SENTINEL_KEY",
            reason,
        })?;
        Ok(Settings {
            table,
            config,
            token: env::text(get("SENTINEL_TOKEN")),
            proxy_tokens: env::list(get("SENTINEL_PROXY_TOKENS")),
            key,
            webhooks: env::list(get("SENTINEL_WEBHOOK")),
            schedule_ms: match get("SENTINEL_SCHEDULE_MINUTES") {
                Some(_) => number(&get, "SENTINEL_SCHEDULE_MINUTES", 2)? * 60_000,
                None => number(&get, "SENTINEL_SCHEDULE_SECONDS", 120)? * 1000,
            },
            plan: Plan {
                invocations: number(
                    &get,
                    "SENTINEL_INVOCATIONS_PER_MONTH",
                    free_tier::INVOCATIONS_PER_MONTH,
                )?,
                gb_seconds: number(
                    &get,
                    "SENTINEL_GB_SECONDS_PER_MONTH",
                    free_tier::GB_SECONDS_PER_MONTH,
                )?,
                reads: number(
                    &get,
                    "SENTINEL_DDB_READS_PER_MONTH",
                    free_tier::DDB_READS_PER_MONTH,
                )?,
                writes: number(
                    &get,
                    "SENTINEL_DDB_WRITES_PER_MONTH",
                    free_tier::DDB_WRITES_PER_MONTH,
                )?,
            },
            memory_mb: number(&get, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128)?,
        })
    }

    /// The parsed config, with the footprint booked against the plan.
    pub fn parse_config(&self) -> Result<Config, SettingsError> {
        let mut config =
            Config::from_toml(&self.config.0).map_err(|errors| SettingsError::Config {
                source_name: self.config.1.clone(),
                errors,
            })?;
        apply_plan(&mut config, self.plan);
        Ok(config)
    }
}

/// Sets the footprint's monthly quotas to the plan's: invocations,
/// GB-seconds (booked as `compute-units` in GB-milliseconds, so the limit
/// is ×1,000), DynamoDB reads and writes. A `writes` quota per day in the
/// config (the local store's) is replaced.
pub fn apply_plan(config: &mut Config, plan: Plan) {
    let quotas = &mut config.sentinel.footprint.quotas;
    quotas.retain(|q| {
        !matches!(
            q.metric,
            Metric::Writes | Metric::Reads | Metric::Invocations | Metric::ComputeUnits
        )
    });
    for (metric, limit) in [
        (Metric::Invocations, plan.invocations),
        (Metric::ComputeUnits, plan.gb_seconds.saturating_mul(1_000)),
        (Metric::Reads, plan.reads),
        (Metric::Writes, plan.writes),
    ] {
        quotas.push(Quota {
            metric,
            limit,
            period: Period::Month,
            reset_offset: Default::default(),
        });
    }
}

/// GB-milliseconds of an invocation of `ms` with `memory_mb` of memory,
/// rounded up (AWS bills by the millisecond).
pub fn gb_ms(ms: u64, memory_mb: u64) -> u64 {
    (ms.max(1) * memory_mb).div_ceil(1024)
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

    fn no_file(_: &str) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))
    }

    #[test]
    fn the_table_is_required_and_the_rest_has_defaults() {
        let e = Settings::from_env(env(&[]), no_file).unwrap_err();
        assert!(e.to_string().contains("SENTINEL_TABLE"), "{e}");
        let s = Settings::from_env(env(&[("SENTINEL_TABLE", "t")]), no_file).unwrap();
        assert_eq!(s.schedule_ms, 120_000);
        assert_eq!(s.plan.invocations, 1_000_000);
        assert!(s.config.1.contains("built-in"));
        let c = s.parse_config().unwrap();
        let q = |m: Metric| {
            c.sentinel
                .footprint
                .quotas
                .iter()
                .find(|q| q.metric == m)
                .map(|q| (q.limit, q.period))
        };
        assert_eq!(q(Metric::Invocations), Some((1_000_000, Period::Month)));
        assert_eq!(q(Metric::ComputeUnits), Some((400_000_000, Period::Month)));
        assert_eq!(q(Metric::Writes).map(|x| x.1), Some(Period::Month));
    }

    #[test]
    fn a_config_file_that_is_missing_is_named() {
        let e = Settings::from_env(
            env(&[
                ("SENTINEL_TABLE", "t"),
                ("SENTINEL_CONFIG_FILE", "/nope.toml"),
            ]),
            no_file,
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nope.toml"), "{e}");
    }

    #[test]
    fn secrets_are_never_shown_and_a_bad_key_is_not_echoed() {
        let s = Settings::from_env(
            env(&[
                ("SENTINEL_TABLE", "t"),
                ("SENTINEL_TOKEN", "admin-secret"),
                ("SENTINEL_PROXY_TOKENS", "p1,p2"),
            ]),
            no_file,
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("admin-secret") && !shown.contains("p1"),
            "{shown}"
        );
        let e = Settings::from_env(
            env(&[("SENTINEL_TABLE", "t"), ("SENTINEL_KEY", "not-a-key-value")]),
            no_file,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("not-a-key-value"), "{e}");
    }

    #[test]
    fn gb_seconds_are_rounded_up() {
        assert_eq!(gb_ms(1000, 1024), 1000);
        assert_eq!(gb_ms(1, 128), 1);
        assert_eq!(gb_ms(100, 128), 13);
    }
}
