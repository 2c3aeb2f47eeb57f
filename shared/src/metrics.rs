//! Prometheus metrics: the state rendered in the text exposition format,
//! version 0.0.4 (`GET /metrics`).
//!
//! Every family has `# HELP` and `# TYPE` lines followed by its samples.
//! Scores are integers in basis points, like everywhere in the core.
//! Label values are escaped per the format (`\` → `\\`, `"` → `\"`,
//! newline → `\n`); ids are already label-safe, but display names and
//! messages are not.
//!
//! **Lean per provider.** `/metrics` is the one answer that is inherently
//! per provider, so each provider has a fixed, small set of series (at
//! most 17 plus one per configured quota), labels are ids only (no names,
//! endpoints or messages), and nothing per provider grows with time or
//! traffic. What is per provider (labels `provider`, `service`):
//! `sentinel_provider_score_bps` (`component` = uptime, data_quality,
//! performance, cost, reliability, total; a component without data has no
//! sample), `sentinel_provider_confidence_bps`, `sentinel_provider_up`,
//! `sentinel_provider_lifecycle` (one sample, the current stage in the
//! `lifecycle` label), `sentinel_provider_trust_level` (0 untrusted … 3
//! verified), `sentinel_provider_consecutive_failures`,
//! `sentinel_provider_latency_ms` (`quantile` 0.5, 0.95, 0.99),
//! `sentinel_provider_utilization_bps` (`source`, `metric`, `period`: one
//! per configured quota or budget), `sentinel_provider_budget_step` (0
//! normal … 4 stop), `sentinel_provider_cost_month_usd`, and from the
//! schedule `sentinel_provider_probe_lag_seconds` and
//! `sentinel_provider_probe_interval_seconds` (the real interval). Which
//! provider a service routes to is `sentinel_service_active` (one sample
//! per service), not a per-provider series.
//!
//! Per service: `sentinel_service_active`, `sentinel_service_providers`
//! (`status` = up, down, unknown: counts, for alerting on a fleet without
//! per-provider queries) and the counter `sentinel_switches_total`. For
//! the sentinel: `sentinel_build_info`, `sentinel_state_revision`,
//! `sentinel_last_decide_timestamp_seconds`, `sentinel_alerts_firing`
//! (`severity`), `sentinel_footprint_utilization_bps`,
//! `sentinel_footprint_budget_step`, `sentinel_footprint_cost_month_usd`,
//! `sentinel_probe_budget`, `sentinel_probes_deferred` and
//! `sentinel_alert_outbox_pending`.
//!
//! **Bounded memory.** Each provider's summary is built once, reduced to
//! a compact row of numbers (ids borrowed from the registry) and dropped;
//! the families are then written straight into one `String` allocated at
//! about its final size, without keeping every sample's labels around.

use crate::books::{QuotaStatus, Step};
use crate::dto::{self, usd_string};
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::state::Severity;
use crate::time::UnixMillis;
use crate::{Engine, ProviderId, ServiceId};
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

/// Writes one metric family: the `# HELP` and `# TYPE` lines, then its
/// samples as they come.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(
        out: &'a mut String,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
    ) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn push(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn source_name(q: &QuotaStatus) -> &'static str {
    match q.source {
        crate::books::Source::Quota => "quota",
        crate::books::Source::Budget => "budget",
    }
}

/// What `/metrics` keeps of one provider: numbers, and its ids borrowed.
struct Row<'a> {
    id: &'a ProviderId,
    service: &'a ServiceId,
    scores: [(&'static str, Option<u16>); 6],
    confidence: u16,
    up: bool,
    lifecycle: Lifecycle,
    trust: TrustLevel,
    failures: u32,
    latency: [(&'static str, Option<u64>); 3],
    budget: Vec<QuotaStatus>,
    step: Step,
    cost_usd: String,
}

fn rows(engine: &Engine, now: UnixMillis) -> Vec<Row<'_>> {
    let st = engine.state();
    let mut rows = Vec::with_capacity(engine.registry().providers().count());
    for svc in engine.registry().services() {
        for id in &svc.providers {
            let Some(s) = engine.summary(id, now) else {
                continue;
            };
            let r = &s.reputation;
            let [u, d, p, c, l] = r.components().map(|(n, c)| (n, c.score.map(|v| v.get())));
            let ps = st.providers.get(id);
            let q = |bps| ps.and_then(|ps| ps.latency.quantile(bps));
            rows.push(Row {
                id,
                service: &svc.config.id,
                scores: [u, d, p, c, l, ("total", Some(r.total.get()))],
                confidence: r.confidence.get(),
                up: s.last.as_ref().is_some_and(|l| l.healthy),
                lifecycle: s.lifecycle,
                trust: s.trust,
                failures: s.consecutive_failures,
                latency: [("0.5", q(5000)), ("0.95", q(9500)), ("0.99", q(9900))],
                budget: s.budget,
                step: s.step,
                cost_usd: dto::month_cost(engine, id, now).total.usd,
            });
        }
    }
    rows
}

/// Renders the metrics at `now`.
pub fn render(engine: &Engine, now: UnixMillis) -> String {
    let st = engine.state();
    let sentinel = engine.config().sentinel.id.to_string();
    let rows = rows(engine, now);
    let mut out = String::with_capacity(8192 + rows.len() * 2048);
    let o = &mut out;

    let sched = &st.schedule;
    Family::new(
        o,
        "sentinel_probe_budget",
        "gauge",
        "Probes one tick may send (the shell's capability, capped by probe_budget_per_tick).",
    )
    .push(&[], engine.probe_budget());
    Family::new(
        o,
        "sentinel_probes_deferred",
        "gauge",
        "Probes due but deferred by the probe budget at the last tick.",
    )
    .push(&[], sched.deferred);
    let seconds = |ms: u64| format!("{}.{:03}", ms / 1000, ms % 1000);
    let mut f = Family::new(
        o,
        "sentinel_provider_probe_lag_seconds",
        "gauge",
        "How late the provider's last scheduled probe was sent, past its due time.",
    );
    for (id, ms) in &sched.lag_ms {
        f.push(&[("provider", id.as_str())], seconds(*ms));
    }
    let mut f = Family::new(
        o,
        "sentinel_provider_probe_interval_seconds",
        "gauge",
        "The real interval between the provider's last two scheduled probes.",
    );
    for (id, ms) in &sched.interval_ms {
        f.push(&[("provider", id.as_str())], seconds(*ms));
    }
    Family::new(
        o,
        "sentinel_alert_outbox_pending",
        "gauge",
        "Alert notices waiting for at least one webhook.",
    )
    .push(&[], st.outbox.len());
    Family::new(
        o,
        "sentinel_build_info",
        "gauge",
        "Build version and sentinel id (always 1).",
    )
    .push(
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("sentinel", sentinel.as_str()),
        ],
        1,
    );
    Family::new(
        o,
        "sentinel_state_revision",
        "gauge",
        "State revision, incremented on every decision.",
    )
    .push(&[], st.revision);
    Family::new(
        o,
        "sentinel_last_decide_timestamp_seconds",
        "gauge",
        "Unix time of the last decision (0: none yet).",
    )
    .push(&[], seconds(st.last_decide));

    let mut f = Family::new(
        o,
        "sentinel_provider_score_bps",
        "gauge",
        "Reputation component or total in basis points (0..10000); no sample when a component has no data.",
    );
    for r in &rows {
        for (component, v) in r.scores {
            if let Some(v) = v {
                f.push(
                    &[
                        ("provider", r.id.as_str()),
                        ("service", r.service.as_str()),
                        ("component", component),
                    ],
                    v,
                );
            }
        }
    }
    // The gauges with one sample a provider and the provider's labels only.
    type Gauge = fn(&Row<'_>) -> String;
    let gauges: [(&'static str, &'static str, Gauge); 5] = [
        (
            "sentinel_provider_confidence_bps",
            "How much history backs the score, basis points.",
            |r| r.confidence.to_string(),
        ),
        (
            "sentinel_provider_up",
            "1 if the last probe was healthy, 0 otherwise (or never probed).",
            |r| u8::from(r.up).to_string(),
        ),
        (
            "sentinel_provider_trust_level",
            "Trust level: 0 untrusted, 1 testing, 2 trusted, 3 verified.",
            |r| trust_number(r.trust).to_string(),
        ),
        (
            "sentinel_provider_consecutive_failures",
            "Consecutive failed probes.",
            |r| r.failures.to_string(),
        ),
        (
            "sentinel_provider_budget_step",
            "Budget ladder step: 0 normal, 1 alert, 2 prefer-free, 3 scale-down, 4 stop.",
            |r| step_number(r.step).to_string(),
        ),
    ];
    for (name, help, value) in gauges {
        let mut f = Family::new(o, name, "gauge", help);
        for r in &rows {
            f.push(
                &[("provider", r.id.as_str()), ("service", r.service.as_str())],
                value(r),
            );
        }
    }
    let mut f = Family::new(
        o,
        "sentinel_provider_lifecycle",
        "gauge",
        "The provider's current lifecycle stage (label `lifecycle`; always 1).",
    );
    for r in &rows {
        f.push(
            &[
                ("provider", r.id.as_str()),
                ("service", r.service.as_str()),
                ("lifecycle", r.lifecycle.as_str()),
            ],
            1,
        );
    }
    let mut f = Family::new(
        o,
        "sentinel_provider_latency_ms",
        "gauge",
        "Probe latency quantiles in milliseconds (decaying histogram).",
    );
    for r in &rows {
        for (q, v) in r.latency {
            if let Some(v) = v {
                f.push(
                    &[
                        ("provider", r.id.as_str()),
                        ("service", r.service.as_str()),
                        ("quantile", q),
                    ],
                    v,
                );
            }
        }
    }
    let mut f = Family::new(
        o,
        "sentinel_provider_utilization_bps",
        "gauge",
        "Quota or budget utilization in basis points.",
    );
    for r in &rows {
        for q in &r.budget {
            f.push(
                &[
                    ("provider", r.id.as_str()),
                    ("service", r.service.as_str()),
                    ("source", source_name(q)),
                    ("metric", q.metric.as_str()),
                    ("period", q.period.as_str()),
                ],
                q.utilization.get(),
            );
        }
    }
    let mut f = Family::new(
        o,
        "sentinel_provider_cost_month_usd",
        "gauge",
        "Cost this month in USD (fixed fee plus variable cost).",
    );
    for r in &rows {
        f.push(
            &[("provider", r.id.as_str()), ("service", r.service.as_str())],
            &r.cost_usd,
        );
    }

    let mut f = Family::new(
        o,
        "sentinel_service_active",
        "gauge",
        "1 for the provider a service routes to.",
    );
    for svc in engine.registry().services() {
        let ss = st.services.get(&svc.config.id);
        if let Some(a) = ss.and_then(|s| s.active.as_ref()) {
            f.push(
                &[
                    ("service", svc.config.id.as_str()),
                    ("provider", a.as_str()),
                ],
                1,
            );
        }
    }
    let mut f = Family::new(
        o,
        "sentinel_service_providers",
        "gauge",
        "The service's providers by status of their last probe (up, down, unknown: never probed, throttled: 429, bad-data: answered with data failing a check).",
    );
    for svc in engine.registry().services() {
        let mut counts = [0usize; dto::Status::ALL.len()];
        for id in &svc.providers {
            if let Some(ps) = st.providers.get(id) {
                let s = dto::Status::of_state(ps);
                if let Some(i) = dto::Status::ALL.iter().position(|x| *x == s) {
                    counts[i] += 1;
                }
            }
        }
        for (status, n) in dto::Status::ALL.iter().zip(counts) {
            f.push(
                &[
                    ("service", svc.config.id.as_str()),
                    ("status", status.as_str()),
                ],
                n,
            );
        }
    }
    let mut f = Family::new(
        o,
        "sentinel_switches_total",
        "counter",
        "Switches of the service's active provider.",
    );
    for svc in engine.registry().services() {
        let ss = st.services.get(&svc.config.id);
        f.push(
            &[("service", svc.config.id.as_str())],
            ss.map_or(0, |s| s.switches),
        );
    }

    let mut f = Family::new(
        o,
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
        f.push(&[("severity", name)], n);
    }

    let mut f = Family::new(
        o,
        "sentinel_footprint_utilization_bps",
        "gauge",
        "The sentinel's own quota utilization (store writes, invocations, gas) in basis points.",
    );
    for q in engine.footprint_status(now) {
        f.push(
            &[
                ("source", source_name(&q)),
                ("metric", q.metric.as_str()),
                ("period", q.period.as_str()),
            ],
            q.utilization.get(),
        );
    }
    Family::new(
        o,
        "sentinel_footprint_budget_step",
        "gauge",
        "The sentinel's own ladder step: 0 normal … 4 stop.",
    )
    .push(&[], step_number(st.footprint_step));
    Family::new(
        o,
        "sentinel_footprint_cost_month_usd",
        "gauge",
        "The sentinel's own cost this month in USD.",
    )
    .push(
        &[],
        usd_string(
            dto::FootprintDto::build(engine, now)
                .cost_month
                .total
                .nano_usd,
        ),
    );
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
        for (id, ps) in &s.engine.state().providers {
            assert!(text.contains(&format!(
                "sentinel_provider_lifecycle{{provider=\"{id}\",service=\"prices\",lifecycle=\"{}\"}} 1",
                ps.lifecycle.as_str()
            )));
        }
        assert!(text.contains("sentinel_alerts_firing{severity=\"critical\"}"));
    }

    #[test]
    fn each_provider_has_a_small_fixed_set_of_series() {
        let s = scenario();
        let text = render(&s.engine, s.now);
        let of = |p: &str| {
            text.lines()
                .filter(|l| l.contains(&format!("provider=\"{p}\"")))
                .filter(|l| !l.starts_with("sentinel_service_active"))
                .count()
        };
        // b has no quota; a has one.
        assert!(of("b") <= 17, "{} series for b", of("b"));
        assert!(of("a") <= 18, "{} series for a", of("a"));
        assert_eq!(
            text.matches("sentinel_provider_lifecycle{provider=\"b\"")
                .count(),
            1,
            "one lifecycle sample, the current stage"
        );
        assert!(!text.contains("sentinel_provider_routed"));
        let counts: u64 = text
            .lines()
            .filter(|l| l.starts_with("sentinel_service_providers{service=\"prices\""))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(counts, 2, "both providers counted once");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut out = String::new();
        Family::new(&mut out, "x", "gauge", "h").push(&[("name", "q\"\n\\")], 1);
        let line = out.lines().nth(2).unwrap();
        assert!(sample_ok(line), "{line}");
    }
}
