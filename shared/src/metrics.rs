//! Prometheus metrics: the state rendered in the text exposition format,
//! version 0.0.4 (`GET /metrics`).
//!
//! Every family has `# HELP` and `# TYPE` lines followed by its samples.
//! Scores are integers in basis points, like everywhere in the core.
//! Label values are escaped per the format (`\` → `\\`, `"` → `\"`,
//! newline → `\n`); ids are already label-safe, but display names and
//! messages are not.
//!
//! Per provider (labels `provider`, `service`): `sentinel_provider_score_bps`
//! (`component` = uptime, data_quality, performance, cost, reliability,
//! total; a component without data has no sample),
//! `sentinel_provider_confidence_bps`, `sentinel_provider_up`,
//! `sentinel_provider_routed`, `sentinel_provider_lifecycle` (one sample per
//! stage, 1 for the current one), `sentinel_provider_trust_level` (0
//! untrusted … 3 verified), `sentinel_provider_consecutive_failures`,
//! `sentinel_provider_latency_ms` (`quantile` 0.5, 0.95, 0.99),
//! `sentinel_provider_utilization_bps` (`source`, `metric`, `period`),
//! `sentinel_provider_budget_step` (0 normal … 4 stop),
//! `sentinel_provider_cost_month_usd`. Per service: `sentinel_service_active`
//! and the counter `sentinel_switches_total`. For the sentinel:
//! `sentinel_build_info`, `sentinel_state_revision`,
//! `sentinel_last_decide_timestamp_seconds`, `sentinel_alerts_firing`
//! (`severity`), `sentinel_footprint_utilization_bps`,
//! `sentinel_footprint_budget_step`, `sentinel_footprint_cost_month_usd`.
//! The schedule: `sentinel_probe_budget`, `sentinel_probes_deferred`, and
//! per provider `sentinel_provider_probe_lag_seconds` and
//! `sentinel_provider_probe_interval_seconds` (the real interval); the
//! webhooks: `sentinel_alert_outbox_pending`.

use crate::books::{QuotaStatus, Step};
use crate::dto::{self, usd_string};
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::state::Severity;
use crate::time::UnixMillis;
use crate::Engine;
use std::fmt::Write;

/// A ladder step as a number: 0 normal, 1 alert, 2 prefer-free,
/// 3 scale-down, 4 stop.
pub const fn step_number(s: Step) -> u8 {
    match s {
        Step::Normal => 0,
        Step::Alert => 1,
        Step::PreferFree => 2,
        Step::ScaleDown => 3,
        Step::Stop => 4,
    }
}

/// A trust level as a number: 0 untrusted, 1 testing, 2 trusted,
/// 3 verified.
pub const fn trust_number(t: TrustLevel) -> u8 {
    match t {
        TrustLevel::Untrusted => 0,
        TrustLevel::Testing => 1,
        TrustLevel::Trusted => 2,
        TrustLevel::Verified => 3,
    }
}

const LIFECYCLES: [Lifecycle; 6] = [
    Lifecycle::Discovered,
    Lifecycle::Testing,
    Lifecycle::Active,
    Lifecycle::Standby,
    Lifecycle::Failed,
    Lifecycle::Recovering,
];

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One metric family.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: impl ToString) {
        self.samples.push((labels, value.to_string()));
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
}

fn utilization_labels(
    base: &[(&'static str, String)],
    q: &QuotaStatus,
) -> Vec<(&'static str, String)> {
    let mut l = base.to_vec();
    l.push((
        "source",
        match q.source {
            crate::books::Source::Quota => "quota".into(),
            crate::books::Source::Budget => "budget".into(),
        },
    ));
    l.push(("metric", q.metric.as_str().into()));
    l.push(("period", q.period.as_str().into()));
    l
}

/// Renders the metrics at `now`.
pub fn render(engine: &Engine, now: UnixMillis) -> String {
    let st = engine.state();
    let sentinel = engine.config().sentinel.id.to_string();

    let mut build = Family::new(
        "sentinel_build_info",
        "gauge",
        "Build version and sentinel id (always 1).",
    );
    build.push(
        vec![
            ("version", env!("CARGO_PKG_VERSION").into()),
            ("sentinel", sentinel),
        ],
        1,
    );
    let mut revision = Family::new(
        "sentinel_state_revision",
        "gauge",
        "State revision, incremented on every decision.",
    );
    revision.push(vec![], st.revision);
    let mut last_decide = Family::new(
        "sentinel_last_decide_timestamp_seconds",
        "gauge",
        "Unix time of the last decision (0: none yet).",
    );
    last_decide.push(
        vec![],
        format!("{}.{:03}", st.last_decide / 1000, st.last_decide % 1000),
    );

    let mut score = Family::new(
        "sentinel_provider_score_bps",
        "gauge",
        "Reputation component or total in basis points (0..10000); no sample when a component has no data.",
    );
    let mut confidence = Family::new(
        "sentinel_provider_confidence_bps",
        "gauge",
        "How much history backs the score, basis points.",
    );
    let mut up = Family::new(
        "sentinel_provider_up",
        "gauge",
        "1 if the last probe was healthy, 0 otherwise (or never probed).",
    );
    let mut routed = Family::new(
        "sentinel_provider_routed",
        "gauge",
        "1 if its service routes to the provider.",
    );
    let mut lifecycle = Family::new(
        "sentinel_provider_lifecycle",
        "gauge",
        "Lifecycle stage: 1 for the current one, 0 for the others.",
    );
    let mut trust = Family::new(
        "sentinel_provider_trust_level",
        "gauge",
        "Trust level: 0 untrusted, 1 testing, 2 trusted, 3 verified.",
    );
    let mut failures = Family::new(
        "sentinel_provider_consecutive_failures",
        "gauge",
        "Consecutive failed probes.",
    );
    let mut latency = Family::new(
        "sentinel_provider_latency_ms",
        "gauge",
        "Probe latency quantiles in milliseconds (decaying histogram).",
    );
    let mut utilization = Family::new(
        "sentinel_provider_utilization_bps",
        "gauge",
        "Quota or budget utilization in basis points.",
    );
    let mut step = Family::new(
        "sentinel_provider_budget_step",
        "gauge",
        "Budget ladder step: 0 normal, 1 alert, 2 prefer-free, 3 scale-down, 4 stop.",
    );
    let mut cost = Family::new(
        "sentinel_provider_cost_month_usd",
        "gauge",
        "Cost this month in USD (fixed fee plus variable cost).",
    );

    for s in dto::summaries(engine, now) {
        let base = vec![
            ("provider", s.id.to_string()),
            ("service", s.service.to_string()),
        ];
        let with = |k: &'static str, v: &str| {
            let mut l = base.clone();
            l.push((k, v.to_string()));
            l
        };
        for (name, c) in s.reputation.components() {
            if let Some(v) = c.score {
                score.push(with("component", name), v.get());
            }
        }
        score.push(with("component", "total"), s.reputation.total.get());
        confidence.push(base.clone(), s.reputation.confidence.get());
        up.push(
            base.clone(),
            u8::from(s.last.as_ref().is_some_and(|l| l.healthy)),
        );
        routed.push(base.clone(), u8::from(s.routed));
        for l in LIFECYCLES {
            lifecycle.push(with("lifecycle", l.as_str()), u8::from(l == s.lifecycle));
        }
        trust.push(base.clone(), trust_number(s.trust));
        failures.push(base.clone(), s.consecutive_failures);
        if let Some(ps) = st.providers.get(&s.id) {
            for (q, bps) in [("0.5", 5000), ("0.95", 9500), ("0.99", 9900)] {
                if let Some(v) = ps.latency.quantile(bps) {
                    latency.push(with("quantile", q), v);
                }
            }
        }
        for q in &s.budget {
            utilization.push(utilization_labels(&base, q), q.utilization.get());
        }
        step.push(base.clone(), step_number(s.step));
        cost.push(base.clone(), dto::month_cost(engine, &s.id, now).total.usd);
    }

    let mut active = Family::new(
        "sentinel_service_active",
        "gauge",
        "1 for the provider a service routes to.",
    );
    let mut switches = Family::new(
        "sentinel_switches_total",
        "counter",
        "Switches of the service's active provider.",
    );
    for svc in engine.registry().services() {
        let ss = st.services.get(&svc.config.id);
        if let Some(a) = ss.and_then(|s| s.active.as_ref()) {
            active.push(
                vec![
                    ("service", svc.config.id.to_string()),
                    ("provider", a.to_string()),
                ],
                1,
            );
        }
        switches.push(
            vec![("service", svc.config.id.to_string())],
            ss.map_or(0, |s| s.switches),
        );
    }

    let mut alerts = Family::new(
        "sentinel_alerts_firing",
        "gauge",
        "Alerts firing, by severity.",
    );
    for (sev, name) in [
        (Severity::Info, "info"),
        (Severity::Warning, "warning"),
        (Severity::Critical, "critical"),
    ] {
        let n = st.alerts.values().filter(|a| a.severity == sev).count();
        alerts.push(vec![("severity", name.into())], n);
    }

    let mut fp_util = Family::new(
        "sentinel_footprint_utilization_bps",
        "gauge",
        "The sentinel's own quota utilization (store writes, invocations, gas) in basis points.",
    );
    for q in engine.footprint_status(now) {
        fp_util.push(utilization_labels(&[], &q), q.utilization.get());
    }
    let mut fp_step = Family::new(
        "sentinel_footprint_budget_step",
        "gauge",
        "The sentinel's own ladder step: 0 normal … 4 stop.",
    );
    fp_step.push(vec![], step_number(st.footprint_step));
    let mut fp_cost = Family::new(
        "sentinel_footprint_cost_month_usd",
        "gauge",
        "The sentinel's own cost this month in USD.",
    );
    fp_cost.push(
        vec![],
        usd_string(
            dto::FootprintDto::build(engine, now)
                .cost_month
                .total
                .nano_usd,
        ),
    );

    let sched = &st.schedule;
    let mut budget = Family::new(
        "sentinel_probe_budget",
        "gauge",
        "Probes one tick may send (the shell's capability, capped by probe_budget_per_tick).",
    );
    budget.push(vec![], engine.probe_budget());
    let mut deferred = Family::new(
        "sentinel_probes_deferred",
        "gauge",
        "Probes due but deferred by the probe budget at the last tick.",
    );
    deferred.push(vec![], sched.deferred);
    let seconds = |ms: u64| format!("{}.{:03}", ms / 1000, ms % 1000);
    let mut lag = Family::new(
        "sentinel_provider_probe_lag_seconds",
        "gauge",
        "How late the provider's last scheduled probe was sent, past its due time.",
    );
    let mut real = Family::new(
        "sentinel_provider_probe_interval_seconds",
        "gauge",
        "The real interval between the provider's last two scheduled probes.",
    );
    for (id, ms) in &sched.lag_ms {
        lag.push(vec![("provider", id.to_string())], seconds(*ms));
    }
    for (id, ms) in &sched.interval_ms {
        real.push(vec![("provider", id.to_string())], seconds(*ms));
    }
    let mut outbox = Family::new(
        "sentinel_alert_outbox_pending",
        "gauge",
        "Alert notices waiting for at least one webhook.",
    );
    outbox.push(vec![], st.outbox.len());

    let mut out = String::with_capacity(8192);
    for f in [
        budget,
        deferred,
        lag,
        real,
        outbox,
        build,
        revision,
        last_decide,
        score,
        confidence,
        up,
        routed,
        lifecycle,
        trust,
        failures,
        latency,
        utilization,
        step,
        cost,
        active,
        switches,
        alerts,
        fp_util,
        fp_step,
        fp_cost,
    ] {
        f.write(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::sim::{Fault, Scenario, SimProvider};
    use crate::time::{days_from_civil, DAY, HOUR, MINUTE};

    fn scenario() -> Scenario {
        let start = days_from_civil(2026, 11, 2) as u64 * DAY;
        let cfg = Config::from_toml(
            r#"
[sentinel]
id = "metrics-test"
allow_private_targets = true
footprint = { quotas = [{ metric = "writes", limit = 1000, period = "day" }] }

[[service]]
id = "prices"
kind = "api"

[[service.provider]]
id = "a"
name = "Quote \" and \\ back\nslash"
endpoint = "http://127.0.0.1:9001"
initial = "active"
limits = { quotas = [{ metric = "requests", limit = 100000, period = "day" }] }

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"
"#,
        )
        .unwrap();
        let mut s = Scenario::new(cfg, start, 7).unwrap();
        s.set(
            "a",
            SimProvider::default().fault(start + HOUR, start + 2 * HOUR, Fault::Outage),
        );
        s.run_until(start + 3 * HOUR + 10 * MINUTE);
        s
    }

    /// `name{labels} value` with well-formed, escaped labels.
    fn sample_ok(line: &str) -> bool {
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(line.len());
        let (name, rest) = line.split_at(name_end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return false;
        }
        let rest = if let Some(r) = rest.strip_prefix('{') {
            // label="value" pairs with escapes, then '}'
            let mut chars = r.chars().peekable();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>();
                if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return false;
                }
                if chars.next() != Some('"') {
                    return false;
                }
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('\\' | '"' | 'n') => {}
                            _ => return false,
                        },
                        Some('"') => break,
                        Some('\n') | None => return false,
                        Some(_) => {}
                    }
                }
                match chars.next() {
                    Some(',') => continue,
                    Some('}') => break,
                    _ => return false,
                }
            }
            chars.collect::<String>()
        } else {
            rest.to_string()
        };
        let Some(value) = rest.strip_prefix(' ') else {
            return false;
        };
        value.parse::<f64>().is_ok()
    }

    #[test]
    fn every_line_parses_and_the_active_provider_is_there() {
        let s = scenario();
        let text = render(&s.engine, s.now);
        let mut typed = std::collections::BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split(' ');
                typed.insert(it.next().unwrap().to_string());
                assert!(matches!(it.next(), Some("gauge" | "counter")), "{line}");
            } else if line.starts_with("# HELP ") {
                continue;
            } else {
                assert!(sample_ok(line), "bad sample line: {line:?}");
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(typed.contains(name), "{name} has no TYPE line before it");
            }
        }
        let active = s.active("prices").unwrap();
        assert!(
            text.contains(&format!(
                "sentinel_service_active{{service=\"prices\",provider=\"{active}\"}} 1"
            )),
            "{text}"
        );
        assert!(text.contains("sentinel_switches_total{service=\"prices\"} "));
        assert!(text.contains("component=\"total\""));
        assert!(text.contains("quantile=\"0.99\""));
        assert!(text.contains("sentinel_provider_utilization_bps{provider=\"a\",service=\"prices\",source=\"quota\",metric=\"requests\",period=\"day\"}"));
        assert!(text.contains(
            "sentinel_footprint_utilization_bps{source=\"quota\",metric=\"writes\",period=\"day\"}"
        ));
        assert!(text.contains(
            "sentinel_provider_lifecycle{provider=\"b\",service=\"prices\",lifecycle=\"standby\"}"
        ));
        assert!(text.contains("sentinel_alerts_firing{severity=\"critical\"}"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut f = Family::new("x", "gauge", "h");
        f.push(vec![("name", "q\"\n\\".into())], 1);
        let mut out = String::new();
        f.write(&mut out);
        let line = out.lines().nth(2).unwrap();
        assert!(sample_ok(line), "{line}");
    }
}
