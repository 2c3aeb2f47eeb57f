//! The dashboard (`GET /`): one self-contained HTML page, no external
//! resources, that works offline.
//!
//! The page is rendered here from the same DTOs as the API, as a fixed
//! frame around a few fragments (`meta`, `alerts`, `services`,
//! `providers`, `switches`, `footprint`). A small inline script fetches
//! `dashboard.json` every few seconds ([`data`]: the structured data plus
//! the same fragments, rendered and escaped here) and swaps the fragments
//! in, so escaping lives in one place, in Rust. It skips refreshes while
//! the tab is hidden (each refresh is a request against the shell's
//! quota). When a fetch fails it marks the page stale and backs off; once
//! the sentinel answers again, or when the build changed or `fetch` is
//! unavailable, it reloads the whole page (no `<meta http-equiv="refresh">`).
//!
//! Every piece of text is HTML-escaped (provider names come from
//! configuration and from submissions). Charts are inline SVG drawn with
//! attributes and classes only, so the page runs under a strict
//! [`content_security_policy`] that allows exactly its own script and
//! style by hash. Stable hooks for browser tests: `data-provider="{id}"`
//! on each provider card, `class="switch"` on each switch,
//! `data-service`, `data-component`, `data-alert`.

use crate::books::Ladder;
use crate::dto::{
    self, usd_string, AlertDto, FootprintDto, HistoryDto, LatencyDto, ProviderDetail, QuotaDto,
    RouteDto, SwitchDto, SwitchList, WindowBucket,
};
use crate::time::{rfc3339, UnixMillis};
use crate::{Bps, Engine};
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Switches shown on the dashboard.
pub const RECENT_SWITCHES: usize = 20;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1d2330;--muted:#667085;--card:#fff;--line:#d9dde4;--ok:#2e9d57;--warn:#d99a1e;--bad:#d1453b;--none:#c5cad3;--accent:#3b6fd8}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e6e8ec;--muted:#98a2b3;--card:#1d2128;--line:#30353f;--none:#3a404b;--accent:#7ea6f5}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:.5rem 1.5rem;padding:1rem 1.5rem;border-bottom:1px solid var(--line)}
header.top h1{font-size:1.25rem;margin:0}
main{padding:1rem 1.5rem;display:grid;gap:1.5rem}
h2{font-size:1rem;margin:0 0 .5rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
h3{font-size:1rem;margin:0}
small,.muted{color:var(--muted)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.9rem 1rem}
.card header{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin-bottom:.5rem}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;border:1px solid var(--line);font-size:12px}
.badge.up{border-color:var(--ok);color:var(--ok)}
.badge.down{border-color:var(--bad);color:var(--bad)}
.badge.routed{background:var(--accent);border-color:var(--accent);color:#fff}
.total{font-size:1.6rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{padding:.15rem .3rem;text-align:left;font-weight:normal;border-bottom:1px solid var(--line)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:var(--ok)}.neg{color:var(--bad)}
svg{display:block;max-width:100%}
svg .ok{fill:var(--ok)}svg .warn{fill:var(--warn)}svg .bad{fill:var(--bad)}svg .none{fill:var(--none)}svg .track{fill:var(--line)}
svg .target{stroke:var(--fg);stroke-dasharray:3 2}svg text{fill:var(--muted);font-size:10px}
figure{margin:.5rem 0}figcaption{font-size:12px;color:var(--muted)}
.quota{display:flex;gap:.5rem;align-items:center;font-size:12px}
ul.list{list-style:none;margin:0;padding:0}
ul.list li{padding:.35rem 0;border-bottom:1px solid var(--line)}
.alert.critical{color:var(--bad)}.alert.warning{color:var(--warn)}
.conn{margin-left:auto;font-size:12px}.conn.lost{color:var(--bad)}
"#;

const SCRIPT: &str = r#"
(function () {
  'use strict';
  var base = 5000, delay = base, failures = 0;
  var root = document.documentElement;
  var conn = document.getElementById('conn');
  function later() { setTimeout(refresh, delay); }
  function refresh() {
    if (document.hidden) { later(); return; }
    if (!window.fetch) { location.reload(); return; }
    fetch('dashboard.json', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (d) {
        if (failures > 0 || !d.fragments || d.version !== root.getAttribute('data-version')) {
          location.reload();
          return;
        }
        Object.keys(d.fragments).forEach(function (k) {
          var el = document.getElementById(k);
          if (el && el.innerHTML !== d.fragments[k]) { el.innerHTML = d.fragments[k]; }
        });
        conn.textContent = '';
        conn.className = 'conn';
        delay = base;
        later();
      })
      .catch(function () {
        failures += 1;
        conn.textContent = 'connection lost, retrying';
        conn.className = 'conn lost';
        delay = Math.min(60000, base * Math.pow(2, failures));
        later();
      });
  }
  later();
})();
"#;

fn csp_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The `content-security-policy` to serve the page with: nothing external,
/// only this page's own script and style (by hash), fetches to itself.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// Everything the page shows, gathered once.
#[derive(Debug, Serialize)]
struct Model {
    sentinel: String,
    version: &'static str,
    revision: u64,
    generated_at: dto::Timestamp,
    last_decide: Option<dto::Timestamp>,
    services: Vec<RouteDto>,
    providers: Vec<ProviderDetail>,
    switches: Vec<SwitchDto>,
    alerts: Vec<AlertDto>,
    footprint: FootprintDto,
    #[serde(skip)]
    ladder: Ladder,
    #[serde(skip)]
    now: UnixMillis,
}

impl Model {
    fn build(engine: &Engine, now: UnixMillis) -> Model {
        let st = engine.state();
        Model {
            sentinel: engine.config().sentinel.id.to_string(),
            version: env!("CARGO_PKG_VERSION"),
            revision: st.revision,
            generated_at: dto::Timestamp::at(now),
            last_decide: dto::Timestamp::nonzero(st.last_decide),
            services: engine
                .registry()
                .services()
                .filter_map(|s| RouteDto::build(engine, &s.config.id))
                .collect(),
            providers: dto::summaries(engine, now)
                .iter()
                .filter_map(|s| ProviderDetail::build(engine, &s.id, now))
                .collect(),
            switches: SwitchList::build(engine, RECENT_SWITCHES).switches,
            alerts: dto::alerts(engine),
            footprint: FootprintDto::build(engine, now),
            ladder: engine.config().ladder.clone(),
            now,
        }
    }

    fn fragments(&self) -> Vec<(&'static str, String)> {
        vec![
            ("meta", self.meta()),
            ("alerts", self.alerts()),
            ("services", self.services()),
            ("providers", self.providers()),
            ("switches", self.switches()),
            ("footprint", self.footprint()),
        ]
    }

    fn name_of(&self, id: &str) -> String {
        self.providers
            .iter()
            .find(|p| p.summary.id.as_str() == id)
            .map_or_else(|| id.to_string(), |p| p.summary.name.clone())
    }

    fn meta(&self) -> String {
        format!(
            "sentinel <b>{}</b> · v{} · revision {} · last decision {} · updated <time datetime=\"{}\">{}</time>",
            escape(&self.sentinel),
            escape(self.version),
            self.revision,
            self.last_decide
                .as_ref()
                .map_or_else(|| "none yet".to_string(), |t| ago(self.now, t.unix_ms)),
            escape(&self.generated_at.rfc3339),
            escape(&self.generated_at.rfc3339),
        )
    }

    fn alerts(&self) -> String {
        if self.alerts.is_empty() {
            return "<p class=\"muted\">No alerts firing.</p>".into();
        }
        let mut out = String::from("<ul class=\"list\">");
        for a in &self.alerts {
            let sev = match a.severity {
                crate::state::Severity::Info => "info",
                crate::state::Severity::Warning => "warning",
                crate::state::Severity::Critical => "critical",
            };
            let _ = write!(
                out,
                "<li class=\"alert {sev}\" data-alert=\"{}\"><b>{sev}</b> {} <small>since {}</small></li>",
                escape(&a.key),
                escape(&a.message),
                escape(&ago(self.now, a.since.unix_ms)),
            );
        }
        out.push_str("</ul>");
        out
    }

    fn services(&self) -> String {
        let mut out = String::from("<div class=\"grid\">");
        for s in &self.services {
            let _ = write!(
                out,
                "<article class=\"card service\" data-service=\"{}\"><header><h3>{}</h3><span class=\"badge\">{}</span></header>",
                escape(s.service.as_str()),
                escape(s.service.as_str()),
                escape(s.kind.as_str()),
            );
            if !s.description.is_empty() {
                let _ = write!(out, "<p class=\"muted\">{}</p>", escape(&s.description));
            }
            match &s.active {
                Some(a) => {
                    let _ = write!(
                        out,
                        "<p>Active: <b data-active=\"{}\">{}</b> <small>{}</small><br>since <time datetime=\"{}\">{}</time> · {}</p>",
                        escape(a.as_str()),
                        escape(&self.name_of(a.as_str())),
                        escape(s.endpoint.as_deref().unwrap_or_default()),
                        escape(&s.since.rfc3339),
                        escape(&ago(self.now, s.since.unix_ms)),
                        s.reason.as_ref().map_or_else(
                            || "configured as the initial provider".to_string(),
                            |r| format!("because <b>{}</b> <code>{}</code>", escape(&r.trigger), escape(&r.detail.to_string())),
                        ),
                    );
                }
                None => out.push_str("<p class=\"neg\">No usable provider.</p>"),
            }
            if let Some(p) = &s.pending {
                let _ = write!(
                    out,
                    "<p class=\"pending\">Pending switch to <b>{}</b> ({}), canary {}</p>",
                    escape(p.to.as_str()),
                    escape(&p.reason.trigger),
                    match p.canary {
                        dto::CanaryState::Pending => "pending",
                        dto::CanaryState::Passed => "passed",
                        dto::CanaryState::Failed => "failed",
                    },
                );
            }
            let _ = write!(
                out,
                "<small>{} switch{} · proxy <code>{}</code></small></article>",
                s.switches,
                if s.switches == 1 { "" } else { "es" },
                escape(&s.proxy_path)
            );
        }
        out.push_str("</div>");
        out
    }

    fn providers(&self) -> String {
        let mut out = String::from("<div class=\"grid\">");
        for p in &self.providers {
            self.provider(&mut out, p);
        }
        out.push_str("</div>");
        out
    }

    fn provider(&self, out: &mut String, p: &ProviderDetail) {
        let s = &p.summary;
        let status = s.status.as_str();
        let _ = write!(
            out,
            "<article class=\"card provider\" data-provider=\"{id}\" data-service=\"{svc}\" data-status=\"{status}\" data-lifecycle=\"{lc}\" data-trust=\"{tr}\">\
             <header><h3>{name}</h3><small>{id} · {svc}</small>\
             <span class=\"badge {status}\">{status}</span><span class=\"badge\">{lc}</span><span class=\"badge\">{tr}</span>{routed}</header>",
            id = escape(s.id.as_str()),
            svc = escape(s.service.as_str()),
            name = escape(&s.name),
            lc = s.lifecycle.as_str(),
            tr = s.trust.as_str(),
            routed = if s.routed { "<span class=\"badge routed\">routed</span>" } else { "" },
        );
        let r = &p.reputation;
        let _ = write!(
            out,
            "<div><span class=\"total\" data-total=\"{}\">{}</span> total · confidence {}%{}</div>",
            r.total.bps,
            escape(&r.total.percent),
            escape(&r.confidence.percent),
            r.total_delta_bps
                .filter(|d| *d != 0)
                .map_or_else(String::new, |d| format!(" · {}", delta(d))),
        );
        out.push_str("<table class=\"components\"><tbody>");
        for c in &r.components {
            let _ = write!(
                out,
                "<tr data-component=\"{n}\"><th>{n}</th><td class=\"num\">{}</td><td class=\"num\"><small>×{}</small></td><td class=\"num\">{}</td></tr>",
                c.score.as_ref().map_or_else(|| "n/a".to_string(), |s| escape(&s.percent)),
                escape(&Bps::new(c.weight_bps).to_string()),
                c.delta_bps.map_or_else(String::new, delta),
                n = escape(&c.name),
            );
        }
        out.push_str("</tbody></table>");
        if !p.budget.is_empty() {
            let _ = write!(
                out,
                "<div class=\"quotas\" data-step=\"{}\">",
                s.step.as_str()
            );
            for q in &p.budget {
                self.quota(out, q);
            }
            let _ = write!(
                out,
                "<small>budget step {} · this month ${}</small></div>",
                s.step.as_str(),
                escape(&p.cost_month.total.usd)
            );
        }
        history_svg(out, &p.history);
        latency_svg(out, &p.latency);
        match &s.last_probe {
            Some(l) => {
                let _ = write!(
                    out,
                    "<p class=\"last\"><small>last probe {} · {} · {} ms{}</small></p>",
                    escape(&ago(self.now, l.at.unix_ms)),
                    escape(&l.outcome),
                    l.latency_ms,
                    l.detail
                        .as_ref()
                        .map_or_else(String::new, |d| format!(" · {}", escape(d))),
                );
            }
            None => out.push_str("<p class=\"last\"><small>not probed yet</small></p>"),
        }
        out.push_str("</article>");
    }

    fn quota(&self, out: &mut String, q: &QuotaDto) {
        let u = q.utilization.bps;
        let class = if u32::from(u) >= u32::from(self.ladder.scale_down.get()) {
            "bad"
        } else if u32::from(u) >= u32::from(self.ladder.alert.get()) {
            "warn"
        } else {
            "ok"
        };
        let w = u32::from(u) * 120 / 10_000;
        let (label, used, limit) = match q.source {
            crate::books::Source::Budget => (
                format!("budget/{}", q.period.as_str()),
                format!("${}", usd_string(q.used)),
                format!("${}", usd_string(q.limit)),
            ),
            crate::books::Source::Quota => (
                format!("{}/{}", q.metric.as_str(), q.period.as_str()),
                q.used.to_string(),
                q.limit.to_string(),
            ),
        };
        let _ = write!(
            out,
            "<div class=\"quota\" data-metric=\"{m}\" data-period=\"{p}\"><span>{label}</span>\
             <svg width=\"120\" height=\"8\" viewBox=\"0 0 120 8\" role=\"img\" aria-label=\"{pct}% used\">\
             <rect class=\"track\" width=\"120\" height=\"8\" rx=\"2\"/><rect class=\"{class}\" width=\"{w}\" height=\"8\" rx=\"2\"/></svg>\
             <span>{pct}% <small>({used} of {limit})</small></span></div>",
            m = q.metric.as_str(),
            p = q.period.as_str(),
            pct = escape(&q.utilization.percent),
        );
    }

    fn switches(&self) -> String {
        if self.switches.is_empty() {
            return "<p class=\"muted\">No switches yet.</p>".into();
        }
        let mut out = String::from("<ul class=\"list\">");
        for w in &self.switches {
            let from = w.from.as_ref().map_or("", |f| f.as_str());
            let _ = write!(
                out,
                "<li class=\"switch\" data-seq=\"{}\" data-service=\"{}\" data-from=\"{}\" data-to=\"{}\" data-trigger=\"{}\">\
                 <time datetime=\"{}\">{}</time> <b>{}</b>: {} → <b>{}</b> — {} <code>{}</code></li>",
                w.seq,
                escape(w.service.as_str()),
                escape(from),
                escape(w.to.as_str()),
                escape(&w.reason.trigger),
                escape(&w.at.rfc3339),
                escape(&ago(self.now, w.at.unix_ms)),
                escape(w.service.as_str()),
                if from.is_empty() { "(none)".to_string() } else { escape(from) },
                escape(w.to.as_str()),
                escape(&w.reason.trigger),
                escape(&w.reason.detail.to_string()),
            );
        }
        out.push_str("</ul>");
        out
    }

    fn footprint(&self) -> String {
        let f = &self.footprint;
        let mut out = format!(
            "<div class=\"card\" data-footprint=\"{}\"><p>step {} · own cost this month ${}</p>",
            escape(f.sentinel.as_str()),
            f.step.as_str(),
            escape(&f.cost_month.total.usd)
        );
        if f.quotas.is_empty() {
            out.push_str("<p class=\"muted\">No footprint quotas configured.</p>");
        }
        for q in &f.quotas {
            self.quota(&mut out, q);
        }
        out.push_str("</div>");
        out
    }
}

fn delta(d: i32) -> String {
    if d == 0 {
        return String::new();
    }
    let class = if d >= 0 { "pos" } else { "neg" };
    let sign = if d >= 0 { "+" } else { "−" };
    let a = d.unsigned_abs();
    format!(
        "<span class=\"{class}\">{sign}{}.{:02}</span>",
        a / 100,
        a % 100
    )
}

/// "3 min ago", "in 2 h", from `now`.
fn ago(now: UnixMillis, t: UnixMillis) -> String {
    let (d, future) = if t > now {
        (t - now, true)
    } else {
        (now - t, false)
    };
    let secs = d / 1000;
    let span = if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else if secs < 86_400 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} d", secs / 86_400)
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn bucket_class(b: &WindowBucket) -> &'static str {
    match &b.uptime {
        None => "none",
        Some(s) if s.bps >= 9900 => "ok",
        Some(s) if s.bps >= 9000 => "warn",
        Some(_) => "bad",
    }
}

fn bars(out: &mut String, buckets: &[WindowBucket], caption: &str, kind: &str) {
    const H: u32 = 28;
    const W: u32 = 9;
    let width = buckets.len() as u32 * W;
    let _ = write!(
        out,
        "<figure class=\"uptime {kind}\"><svg width=\"{width}\" height=\"{H}\" viewBox=\"0 0 {width} {H}\" role=\"img\" aria-label=\"{}\">",
        escape(caption)
    );
    for (i, b) in buckets.iter().enumerate() {
        let h = b
            .uptime
            .as_ref()
            .map_or(H, |s| (u32::from(s.bps) * H / 10_000).max(2));
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{}: {}</title></rect>",
            bucket_class(b),
            i as u32 * W,
            H - h,
            W - 2,
            escape(&rfc3339(b.start.unix_ms)),
            b.uptime.as_ref().map_or_else(
                || "no probes".to_string(),
                |s| format!("{}% of {} probes", escape(&s.percent), b.ok + b.error + b.timeout + b.throttled)
            ),
        );
    }
    let _ = write!(
        out,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

fn history_svg(out: &mut String, h: &HistoryDto) {
    bars(out, &h.daily, "uptime, last 30 days", "daily");
    bars(out, &h.hourly, "uptime, last 24 hours", "hourly");
}

fn latency_svg(out: &mut String, l: &LatencyDto) {
    let qs = [("p50", l.p50_ms), ("p95", l.p95_ms), ("p99", l.p99_ms)];
    if qs.iter().all(|(_, v)| v.is_none()) {
        out.push_str("<p class=\"latency muted\"><small>no latency measured yet</small></p>");
        return;
    }
    let max = qs
        .iter()
        .filter_map(|(_, v)| *v)
        .chain([l.target_ms])
        .max()
        .unwrap_or(1)
        .max(1);
    let scale = |v: u64| -> u64 { v.min(max) * 200 / max };
    let _ = write!(
        out,
        "<figure class=\"latency\"><svg width=\"280\" height=\"54\" viewBox=\"0 0 280 54\" role=\"img\" aria-label=\"latency quantiles\">"
    );
    for (i, (name, v)) in qs.iter().enumerate() {
        let y = i as u64 * 16 + 2;
        let v = v.unwrap_or(0);
        let class = if v <= l.target_ms { "ok" } else { "warn" };
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\">{name}</text><rect class=\"{class}\" x=\"30\" y=\"{y}\" width=\"{}\" height=\"12\"/><text x=\"{}\" y=\"{}\">{v} ms</text>",
            y + 10,
            scale(v),
            34 + scale(v),
            y + 10,
        );
    }
    let tx = 30 + scale(l.target_ms);
    let _ = write!(
        out,
        "<line class=\"target\" x1=\"{tx}\" y1=\"0\" x2=\"{tx}\" y2=\"50\"/></svg><figcaption>latency · target {} ms · recent {} ms</figcaption></figure>",
        l.target_ms, l.recent_ms
    );
}

/// The data the dashboard refreshes from (`GET /dashboard.json`): the
/// sentinel, its services' routes, every provider's detail (reputation,
/// budget, uptime history, latency), recent switches, firing alerts, the
/// footprint, and `fragments`, the page's changing parts as escaped HTML.
pub fn data(engine: &Engine, now: UnixMillis) -> serde_json::Value {
    let model = Model::build(engine, now);
    let mut v = serde_json::to_value(&model).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        let fragments: serde_json::Map<String, serde_json::Value> = model
            .fragments()
            .into_iter()
            .map(|(k, html)| (k.to_string(), serde_json::Value::String(html)))
            .collect();
        o.insert("fragments".into(), serde_json::Value::Object(fragments));
    }
    v
}

/// The dashboard page at `now`.
pub fn render(engine: &Engine, now: UnixMillis) -> String {
    let model = Model::build(engine, now);
    let mut f = model.fragments().into_iter();
    let mut next = || f.next().map(|(_, h)| h).unwrap_or_default();
    let (meta, alerts, services, providers, switches, footprint) =
        (next(), next(), next(), next(), next(), next());
    format!(
        "<!doctype html>\n<html lang=\"en\" data-version=\"{version}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>Bookkeeper Sentinel · {sentinel}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header class=\"top\"><h1>Bookkeeper Sentinel</h1><span id=\"meta\">{meta}</span><span id=\"conn\" class=\"conn\"></span></header>\n\
         <main>\n\
         <section><h2>Alerts</h2><div id=\"alerts\">{alerts}</div></section>\n\
         <section><h2>Services</h2><div id=\"services\">{services}</div></section>\n\
         <section><h2>Providers</h2><div id=\"providers\">{providers}</div></section>\n\
         <section><h2>Recent switches</h2><div id=\"switches\">{switches}</div></section>\n\
         <section><h2>Sentinel footprint</h2><div id=\"footprint\">{footprint}</div></section>\n\
         </main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        version = escape(model.version),
        sentinel = escape(&model.sentinel),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::sim::{Fault, Scenario, SimProvider};
    use crate::time::{days_from_civil, DAY, HOUR};

    fn scenario(name: &str) -> Scenario {
        let start = days_from_civil(2026, 11, 2) as u64 * DAY;
        let cfg = Config::from_toml(&format!(
            r#"
[sentinel]
id = "dash"
allow_private_targets = true

[[service]]
id = "prices"
kind = "api"
description = "Prices <b>&</b> quotes"

[[service.provider]]
id = "a"
name = {name:?}
endpoint = "http://127.0.0.1:9001"
initial = "active"
limits = {{ quotas = [{{ metric = "requests", limit = 1000, period = "day" }}] }}

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"
"#
        ))
        .unwrap();
        let mut s = Scenario::new(cfg, start, 3).unwrap();
        s.set(
            "a",
            SimProvider::default().fault(start + HOUR, start + 2 * HOUR, Fault::Outage),
        );
        s.run_until(start + 3 * HOUR);
        s
    }

    #[test]
    fn shows_every_provider_and_escapes_names() {
        let s = scenario("<script>alert('x')</script>");
        let html = render(&s.engine, s.now);
        for id in ["a", "b"] {
            assert!(html.contains(&format!("data-provider=\"{id}\"")), "{id}");
        }
        assert!(!html.contains("<script>alert"), "unescaped name");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("Prices &lt;b&gt;&amp;&lt;/b&gt; quotes"));
        assert!(html.contains("<svg"));
        assert!(html.contains("class=\"switch\""), "the outage switched");
        assert_eq!(html.matches("<script>").count(), 1, "only our own script");
        assert!(!html.contains("http-equiv"));
        assert!(!html.contains("https://"), "no external resources");
        assert!(
            !html.contains(" style=\""),
            "no inline style attributes (CSP)"
        );
    }

    #[test]
    fn data_carries_fragments_matching_the_page() {
        let s = scenario("Provider A");
        let d = data(&s.engine, s.now);
        let html = render(&s.engine, s.now);
        let frags = d["fragments"].as_object().unwrap();
        for k in [
            "meta",
            "alerts",
            "services",
            "providers",
            "switches",
            "footprint",
        ] {
            let f = frags[k].as_str().unwrap();
            assert!(html.contains(&format!("id=\"{k}\">{f}<")), "{k}");
        }
        assert_eq!(d["providers"].as_array().unwrap().len(), 2);
        assert_eq!(
            d["providers"][0]["history"]["daily"]
                .as_array()
                .unwrap()
                .len(),
            30
        );
        assert_eq!(
            d["providers"][0]["history"]["hourly"]
                .as_array()
                .unwrap()
                .len(),
            24
        );
        assert!(d["switches"].as_array().is_some_and(|s| !s.is_empty()));
        assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn csp_hashes_the_inline_script_and_style() {
        let csp = content_security_policy();
        assert!(csp.contains(&csp_hash(SCRIPT)) && csp.contains(&csp_hash(STYLE)));
        assert!(!csp.contains("unsafe-inline"));
        let html = render(
            &Engine::new(
                crate::config::Config::from_toml("[sentinel]\nid = \"x\"\n").unwrap(),
                crate::State::default(),
                0,
            )
            .unwrap(),
            0,
        );
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
    }
}
