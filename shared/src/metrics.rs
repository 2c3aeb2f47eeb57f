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
//! most 18 plus one per configured quota), labels are ids only (no names,
//! endpoints or messages), and nothing per provider grows with time or
//! traffic. What is per provider (labels `provider`, `service`):
//! `sentinel_provider_score_bps` (`component` = uptime, data_quality,
//! performance, cost, reliability, total; a component without data has no
//! sample), `sentinel_provider_confidence_bps`, `sentinel_provider_up`,
//! `sentinel_provider_lifecycle` (one sample, the current stage in the
//! `lifecycle` label), `sentinel_provider_trust_level` (0 untrusted … 3
//! verified), `sentinel_provider_consecutive_failures`,
//! `sentinel_provider_latency_seconds` (a summary, see below),
//! `sentinel_provider_utilization_bps` (`source`, `metric`, `period`: one
//! per configured quota or budget), `sentinel_provider_budget_step` (0
//! normal … 4 stop), `sentinel_provider_cost_month_usd`, and from the
//! schedule `sentinel_provider_probe_lag_seconds` and
//! `sentinel_provider_probe_interval_seconds` (the real interval). Which
//! provider a service routes to is `sentinel_service_active` (one sample
//! per service), not a per-provider series.
//!
//! **Latency is a summary, not a histogram.** The core keeps each
//! provider's probe latencies in a decaying log-bucket histogram
//! ([`crate::histogram`]): up to ~100 sparse buckets whose counts are
//! halved once 4,096 samples are in. Exposing it as a Prometheus
//! histogram would cost one series per bucket (or a coarse fixed `le`
//! set that still needs 8 to 10 series a provider, against the budget
//! above), and its buckets would not be the cumulative counters that
//! `histogram_quantile(rate(…))` assumes, since they are halved. So
//! `sentinel_provider_latency_seconds` is a `summary`, in the three series
//! the gauge it replaces had: the 0.95 quantile exactly as the API, the
//! dashboard and the hedging see it (the upper bound of the bucket it
//! falls in, converted from milliseconds to seconds, the base unit), and
//! `_sum` / `_count` of the same window, so `_sum / _count` is the
//! window's mean latency (each sample counted at its bucket's midpoint).
//! p50 and p99 are in the API (`GET /v1/providers/{id}`); two more series
//! for each of thousands of providers would break the budget above. Like a
//! client library's summary, the quantile describes a moving window;
//! unlike one, `_sum` and `_count` describe that window too and halve when
//! it decays, so they are not lifetime totals: divide them, do not
//! `rate()` them. A provider without a latency sample (never answered) has
//! no latency series.
//!
//! **Checked by promtool.** The names follow the Prometheus conventions
//! that `promtool check metrics` lints: base units spelled out (`seconds`,
//! never `ms`), `_total` on counters and only on counters, `quantile` only
//! on summaries, no type names in metric names, a `# HELP` on every
//! family. `cli/tests/e2e_contracts.rs` runs promtool on a running
//! sentinel's answer and fails on any finding.
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
use crate::histogram::{bucket_high, bucket_low, bucket_of, LatencyHistogram};
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
        self.push_suffixed("", labels, value);
    }

    /// A sample of the family under a suffixed name (a summary's `_sum`
    /// and `_count`).
    fn push_suffixed(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
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

/// A provider's latency summary, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Latency {
    /// p95 (the histogram's conservative bucket bound).
    quantiles: [(&'static str, u64); 1],
    /// Samples weighted into the decaying window.
    count: u64,
    /// Their sum, each at its bucket's midpoint.
    sum_ms: u64,
}

impl Latency {
    fn of(h: &LatencyHistogram) -> Option<Latency> {
        let q = |bps| h.quantile(bps);
        let (count, sum_ms) = window_count_sum(h);
        Some(Latency {
            quantiles: [("0.95", q(9500)?)],
            count,
            sum_ms,
        })
    }
}

/// The decaying window's sample count and latency sum in milliseconds
/// (each sample at the midpoint of its bucket).
///
/// The histogram exposes its quantile function but not its buckets, so the
/// buckets are read back from it: `quantile(q)` is a step function of `q`
/// whose steps are the occupied buckets' upper bounds, and the largest `q`
/// still on a step gives, through the histogram's rank rule
/// (`ceil(count × q / 10 000)`, at least 1), the cumulative count up to
/// that bucket. One binary search over `q` per occupied bucket: a few
/// hundred steps for a steady provider. Exact while the window holds fewer
/// than 10,000 samples (it holds at most about 8,200); beyond, a bucket
/// too small to own a basis point is counted with the next one.
fn window_count_sum(h: &LatencyHistogram) -> (u64, u64) {
    let n = u64::from(h.count());
    let rank = |q: u16| (n * u64::from(q)).div_ceil(10_000).max(1).min(n);
    let (mut sum, mut counted, mut q) = (0u64, 0u64, 0u16);
    while let Some(v) = h.quantile(q) {
        // The largest q whose quantile is still v.
        let (mut lo, mut hi) = (q, 10_000u16);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if h.quantile(mid) == Some(v) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let upto = rank(lo);
        let idx = bucket_of(v);
        let mid_ms = if idx == u8::MAX {
            bucket_low(idx)
        } else {
            bucket_low(idx) / 2 + bucket_high(idx) / 2
        };
        sum = sum.saturating_add(mid_ms.saturating_mul(upto.saturating_sub(counted)));
        counted = counted.max(upto);
        if lo >= 10_000 {
            break;
        }
        q = lo + 1;
    }
    (n, sum)
}

/// Milliseconds as seconds with three decimals.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
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
    latency: Option<Latency>,
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
            rows.push(Row {
                id,
                service: &svc.config.id,
                scores: [u, d, p, c, l, ("total", Some(r.total.get()))],
                confidence: r.confidence.get(),
                up: s.last.as_ref().is_some_and(|l| l.healthy),
                lifecycle: s.lifecycle,
                trust: s.trust,
                failures: s.consecutive_failures,
                latency: ps.and_then(|ps| Latency::of(&ps.latency)),
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
        "sentinel_provider_latency_seconds",
        "summary",
        "Probe latency over the provider's decaying window (the baseline): quantiles as the API reports them; _sum and _count are the window's and halve when it decays, so divide them for its mean, do not rate() them.",
    );
    for r in &rows {
        let Some(l) = &r.latency else {
            continue;
        };
        let ids = [("provider", r.id.as_str()), ("service", r.service.as_str())];
        for (q, v) in l.quantiles {
            f.push(&[ids[0], ids[1], ("quantile", q)], seconds(v));
        }
        f.push_suffixed("_sum", &ids, seconds(l.sum_ms));
        f.push_suffixed("_count", &ids, l.count);
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
    if engine.config().chain.is_some() {
        let a = &st.anchoring;
        Family::new(
            o,
            "sentinel_anchor_transactions_landed_total",
            "counter",
            "Anchoring transactions this sentinel sent that were mined (reverted ones included).",
        )
        .push(&[], a.landed);
        Family::new(
            o,
            "sentinel_anchor_gas_used_total",
            "counter",
            "Gas used by the anchoring transactions this sentinel sent.",
        )
        .push(&[], a.gas_used);
        Family::new(
            o,
            "sentinel_anchor_pending",
            "gauge",
            "1 while an anchoring transaction is sent and not yet mined.",
        )
        .push(&[], u8::from(a.pending.is_some()));
        Family::new(
            o,
            "sentinel_anchor_last_ok",
            "gauge",
            "1 if the last anchoring step went as it should, 0 if it failed (see /v1/attestations/{id} anchoring.last).",
        )
        .push(&[], u8::from(a.last.as_ref().is_none_or(|l| l.ok)));
        Family::new(
            o,
            "sentinel_anchor_records",
            "gauge",
            "Providers whose last record this sentinel saw land (not revoked since).",
        )
        .push(&[], a.anchored.len());
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
                assert!(
                    matches!(it.next(), Some("gauge" | "counter" | "summary")),
                    "{line}"
                );
            } else if line.starts_with("# HELP ") {
                continue;
            } else {
                assert!(sample_ok(line), "bad sample line: {line:?}");
                let name = line.split(['{', ' ']).next().unwrap();
                let family = ["_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                    .unwrap_or(name);
                assert!(typed.contains(family), "{name} has no TYPE line before it");
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
        assert!(text.contains("quantile=\"0.95\""));
        assert!(text.contains("# TYPE sentinel_provider_latency_seconds summary\n"));
        let count = |p: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "sentinel_provider_latency_seconds_count{{provider=\"{p}\""
                    ))
                })
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        };
        assert!(count("b").unwrap() > 0, "{text}");
        assert!(
            !text.contains("_ms{") && !text.contains("_ms "),
            "no abbreviated units"
        );
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
            text.lines()
                .filter(|l| l.starts_with("sentinel_provider_latency_seconds"))
                .filter(|l| l.contains("provider=\"b\""))
                .count(),
            3,
            "p95, _sum and _count"
        );
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
    fn the_window_sum_and_count_are_read_back_from_the_quantiles() {
        assert_eq!(window_count_sum(&LatencyHistogram::default()), (0, 0));
        let mid = |ms: u64| {
            let i = bucket_of(ms);
            bucket_low(i) / 2 + bucket_high(i) / 2
        };
        for samples in [
            vec![7u64],
            vec![0, 1, 2, 3, 3, 3],
            vec![12, 12, 13, 250, 251, 9000, 60_000],
            (0..4000u64).map(|i| (i * 7919) % 3000).collect(),
            (0..300u64)
                .map(|i| if i == 0 { 30_000 } else { 40 })
                .collect(),
        ] {
            let mut h = LatencyHistogram::default();
            for ms in &samples {
                h.record(*ms);
            }
            let want: u64 = samples.iter().map(|ms| mid(*ms)).sum();
            assert_eq!(
                window_count_sum(&h),
                (samples.len() as u64, want),
                "{samples:?}"
            );
        }
        // After a decay the count is the histogram's, and the mean stays put.
        let mut h = LatencyHistogram::default();
        for i in 0..=LatencyHistogram::CAP {
            h.record(100 + u64::from(i % 2) * 100);
        }
        let (n, sum) = window_count_sum(&h);
        assert_eq!(n, u64::from(h.count()));
        let mean = sum / n;
        assert!((mid(100)..=mid(200)).contains(&mean), "{mean}");
    }

    #[test]
    fn seconds_have_three_decimals() {
        assert_eq!(seconds(0), "0.000");
        assert_eq!(seconds(1234), "1.234");
        assert_eq!(seconds(5), "0.005");
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
