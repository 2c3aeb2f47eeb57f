//! Advice on a valid configuration: settings that work but will hurt.
//!
//! Today one rule, because users hit it: **probes that eat a quota**. A
//! probe is a request the provider counts, so a 2 s probe interval sends
//! 43,200 requests a day — seven times a 6,000/day free tier before a
//! single user request. For every request quota of every provider, the
//! probes alone (at the service's interval, counting the minute, hour, day
//! or 28-day month they fall in) are compared with the limit: at
//! [`WARN_SHARE`] or more, `sentinel check` warns and says which interval
//! keeps the probes at that share.

use super::model::Config;
use crate::books::{Metric, Period};

/// Share of a quota the probes alone may take before a warning: 10 %.
pub const WARN_SHARE_PERCENT: u64 = 10;

/// A warning about a valid configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advice {
    /// The key it is about.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for Advice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

fn period_secs(p: Period) -> u64 {
    match p {
        Period::Minute => 60,
        Period::Hour => 3_600,
        Period::Day => 86_400,
        Period::Month => 28 * 86_400,
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Config {
    /// Advice on this configuration (see the module docs).
    pub fn advice(&self) -> Vec<Advice> {
        let mut out = Vec::new();
        for svc in &self.services {
            let interval_ms = svc.probe_interval.as_ms().max(1);
            for p in &svc.providers {
                for (i, q) in p.limits.quotas.iter().enumerate() {
                    if q.metric != Metric::Requests || q.limit == 0 {
                        continue;
                    }
                    let secs = period_secs(q.period);
                    let probes = (secs * 1000).div_ceil(interval_ms);
                    if probes.saturating_mul(100) < q.limit.saturating_mul(WARN_SHARE_PERCENT) {
                        continue;
                    }
                    let share = probes.saturating_mul(100) / q.limit;
                    // The interval at which probes take WARN_SHARE of it.
                    let budget = (q.limit * WARN_SHARE_PERCENT / 100).max(1);
                    let needed_s = (secs).div_ceil(budget);
                    out.push(Advice {
                        key: format!(
                            "service.{}.provider.{}.limits.quotas[{i}]",
                            svc.id, p.id
                        ),
                        message: format!(
                            "probes alone send {} requests a {} at the {} probe interval: {share}% of this {}/{} quota before any user request; set probe_interval to at least {}s to keep them under {WARN_SHARE_PERCENT}%",
                            thousands(probes),
                            q.period.as_str(),
                            svc.probe_interval,
                            thousands(q.limit),
                            q.period.as_str(),
                            needed_s,
                        ),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(interval: &str, quota: &str) -> Config {
        Config::from_toml(&format!(
            r#"
[sentinel]
id = "t"

[[service]]
id = "prices"
kind = "api"
probe_interval = "{interval}"

[[service.provider]]
id = "a"
endpoint = "https://a.example"
limits = {{ quotas = [{quota}] }}
"#
        ))
        .unwrap()
    }

    #[test]
    fn a_fast_probe_against_a_small_quota_is_flagged_with_a_fix() {
        let a = cfg(
            "2s",
            r#"{ metric = "requests", limit = 6000, period = "day" }"#,
        )
        .advice();
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].key, "service.prices.provider.a.limits.quotas[0]");
        assert!(
            a[0].message.contains("43,200 requests a day"),
            "{}",
            a[0].message
        );
        assert!(a[0].message.contains("720%"), "{}", a[0].message);
        assert!(a[0].message.contains("at least 144s"), "{}", a[0].message);
        // At 144 s the probes send 600 a day: exactly 10 %, still flagged;
        // at 150 s they are under.
        assert_eq!(
            cfg(
                "144s",
                r#"{ metric = "requests", limit = 6000, period = "day" }"#
            )
            .advice()
            .len(),
            1
        );
        assert!(cfg(
            "150s",
            r#"{ metric = "requests", limit = 6000, period = "day" }"#
        )
        .advice()
        .is_empty());
    }

    #[test]
    fn other_metrics_and_roomy_quotas_are_fine() {
        assert!(cfg(
            "30s",
            r#"{ metric = "requests", limit = 100000, period = "day" }"#
        )
        .advice()
        .is_empty());
        assert!(cfg(
            "1s",
            r#"{ metric = "egress-bytes", limit = 1000, period = "day" }"#
        )
        .advice()
        .is_empty());
        let minute = cfg(
            "1s",
            r#"{ metric = "requests", limit = 100, period = "minute" }"#,
        )
        .advice();
        assert_eq!(minute.len(), 1, "60 of 100 a minute");
    }
}
