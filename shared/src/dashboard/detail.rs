//! One provider's card: what the dashboard shows when a person opens a
//! provider (`GET /dashboard/providers/{id}/card`, loaded on demand by the
//! page script) and its own page (`GET /dashboard/providers/{id}`).
//!
//! The card is built from [`ProviderDetail`], the body of
//! `GET /v1/providers/{id}`, for this one provider only. It is a header
//! (name, id, service, status, lifecycle, trust) followed by
//! [`SECTIONS`], each a `<section class="part {name}">` written by one
//! function: a new view of a provider (its incidents, a 24 h timeline) is
//! one more function in that list. Every section is bounded: 30 daily and
//! 24 hourly buckets, three latency quantiles, the configured quotas, the
//! last [`DOWNTIMES_SHOWN`] downtimes.

use super::html::{ago, delta, escape, push_escaped};
use crate::books::Ladder;
use crate::dto::{usd_string, HistoryDto, LatencyDto, ProviderDetail, QuotaDto, WindowBucket};
use crate::time::{rfc3339, UnixMillis};
use crate::Bps;
use std::fmt::Write;

/// Downtimes listed on a card, the newest (kept for the API's
/// `downtimes`; the card lists incidents, which include them).
pub const DOWNTIMES_SHOWN: usize = 10;
/// Incidents listed on a card, the newest.
pub const INCIDENTS_SHOWN: usize = 20;

/// What a section is written from.
pub(super) struct Card<'a> {
    pub(super) detail: &'a ProviderDetail,
    pub(super) ladder: &'a Ladder,
    pub(super) now: UnixMillis,
}

/// Writes one section of the card.
type Section = fn(&mut String, &Card<'_>);

/// The card's sections, in order, by class name.
const SECTIONS: &[(&str, Section)] = &[
    ("reputation", reputation),
    ("budget", budget),
    ("latency", latency),
    ("history", history),
    ("incidents", incidents),
    ("declared", declared),
    ("vantages", vantages),
    ("probe", last_probe),
];

/// Writes the card (`<article class="card provider" data-provider=…>`).
pub(super) fn card(out: &mut String, c: &Card<'_>) {
    let s = &c.detail.summary;
    let status = s.status.as_str();
    let _ = write!(
        out,
        "<article class=\"card provider detail\" data-provider=\"{id}\" data-service=\"{svc}\" data-status=\"{status}\" data-lifecycle=\"{lc}\" data-trust=\"{tr}\">\
         <header><h3>{name}</h3><small>{id} · {svc}</small>\
         <span class=\"badge {status}\">{status}</span><span class=\"badge\">{lc}</span><span class=\"badge\">{tr}</span>{routed}</header>",
        id = escape(s.id.as_str()),
        svc = escape(s.service.as_str()),
        name = escape(&s.name),
        lc = s.lifecycle.as_str(),
        tr = s.trust.as_str(),
        routed = if s.routed { "<span class=\"badge routed\">routed</span>" } else { "" },
    );
    out.push_str("<p><small><code>");
    push_escaped(out, &s.endpoint);
    out.push_str("</code></small></p>");
    for (name, section) in SECTIONS {
        let _ = write!(out, "<section class=\"part {name}\">");
        section(out, c);
        out.push_str("</section>");
    }
    out.push_str("</article>");
}

fn reputation(out: &mut String, c: &Card<'_>) {
    let r = &c.detail.reputation;
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
    for comp in &r.components {
        let _ = write!(
            out,
            "<tr data-component=\"{n}\"><th>{n}</th><td class=\"num\">{}</td><td class=\"num\"><small>×{}</small></td><td class=\"num\">{}</td></tr>",
            comp.score.as_ref().map_or_else(|| "n/a".to_string(), |s| escape(&s.percent)),
            escape(&Bps::new(comp.weight_bps).to_string()),
            comp.delta_bps.map_or_else(String::new, delta),
            n = escape(&comp.name),
        );
    }
    out.push_str("</tbody></table>");
    if let Some(at) = &r.compared_with {
        let _ = write!(
            out,
            "<p><small>changes since {}{}</small></p>",
            escape(&ago(c.now, at.unix_ms)),
            r.moved_most
                .as_ref()
                .map_or_else(String::new, |m| format!(" · {} moved most", escape(m))),
        );
    }
    if let Some(why) = &c.detail.routed_because {
        out.push_str("<p><small>routed because <b>");
        push_escaped(out, &why.trigger);
        out.push_str("</b>: ");
        push_escaped(out, &why.sentence);
        out.push_str("</small></p>");
    }
}

fn budget(out: &mut String, c: &Card<'_>) {
    let p = c.detail;
    if p.budget.is_empty() {
        out.push_str("<p class=\"muted\"><small>no quotas or budget configured</small></p>");
        return;
    }
    let step = p.summary.step.as_str();
    let _ = write!(out, "<div class=\"quotas\" data-step=\"{step}\">");
    for q in &p.budget {
        quota(out, q, c.ladder);
    }
    let _ = write!(
        out,
        "<small>budget step {step} · this month ${}</small></div>",
        escape(&p.cost_month.total.usd)
    );
}

fn latency(out: &mut String, c: &Card<'_>) {
    latency_svg(out, &c.detail.latency);
}

fn history(out: &mut String, c: &Card<'_>) {
    let h: &HistoryDto = &c.detail.history;
    bars(out, &h.daily, "uptime, last 30 days", "daily");
    bars(out, &h.hourly, "uptime, last 24 hours", "hourly");
}

fn incidents(out: &mut String, c: &Card<'_>) {
    let d = &c.detail.incidents;
    let svc = escape(c.detail.summary.service.as_str());
    if d.is_empty() {
        let _ = write!(
            out,
            "<p class=\"muted\"><small>no incident recorded · <a href=\"dashboard/services/{svc}\">the service's last 24 hours</a></small></p>"
        );
        return;
    }
    let _ = write!(
        out,
        "<small>incidents ({}, newest first) · <a href=\"dashboard/services/{svc}\">the service's last 24 hours</a></small><ul class=\"list incidents\">",
        d.len()
    );
    for i in d.iter().rev().take(INCIDENTS_SHOWN) {
        let _ = write!(
            out,
            "<li data-incident=\"{kind}\"><span class=\"cause\">{cause}</span> · <time datetime=\"{}\">{}</time> · {}{} · {} probe{}<br><small>",
            escape(&i.start.rfc3339),
            escape(&ago(c.now, i.start.unix_ms)),
            escape(&i.duration),
            if i.end.is_none() { " so far, still open" } else { "" },
            i.probes,
            if i.probes == 1 { "" } else { "s" },
            kind = escape(&i.kind),
            cause = escape(&i.cause),
        );
        push_escaped(out, &i.evidence);
        out.push_str("</small></li>");
    }
    out.push_str("</ul>");
}

/// What the provider's own status page declares ([`crate::statuspage`]);
/// nothing without a status page.
fn declared(out: &mut String, c: &Card<'_>) {
    let Some(d) = &c.detail.declared else {
        return;
    };
    let indicator = d.indicator.as_deref().unwrap_or("unread");
    let _ = write!(
        out,
        "<small>its status page says <span class=\"badge declared {ind}\">{ind}</span> ",
        ind = escape(indicator),
    );
    push_escaped(out, d.description.as_deref().unwrap_or(""));
    if !d.current {
        out.push_str(" · <span class=\"muted\">not read lately: not acted on</span>");
    }
    if let Some(e) = &d.error {
        out.push_str(" · last read failed: ");
        push_escaped(out, e);
    }
    out.push_str("</small>");
    if d.incidents.is_empty() && d.maintenances.is_empty() {
        return;
    }
    out.push_str("<ul class=\"list declared\">");
    for (kind, items) in [("incident", &d.incidents), ("maintenance", &d.maintenances)] {
        for i in items.iter() {
            let _ = write!(out, "<li data-declared=\"{kind}\">{kind}: ");
            push_escaped(out, i);
            out.push_str("</li>");
        }
    }
    out.push_str("</ul>");
}

/// Each vantage's view (this sentinel and its peers) and the quorum's
/// verdict; nothing for a sentinel without peers.
fn vantages(out: &mut String, c: &Card<'_>) {
    let v = &c.detail.vantages;
    if v.len() < 2 {
        return;
    }
    let q = &c.detail.quorum;
    let _ = write!(
        out,
        "<small>seen from each sentinel · quorum <span class=\"badge verdict {verdict}\">{verdict}</span></small><ul class=\"list vantages\">",
        verdict = escape(&q.verdict),
    );
    for x in v {
        let _ = write!(
            out,
            "<li data-vantage=\"{id}\" data-status=\"{st}\"><span class=\"badge {st}\">{st}</span> {id}{own}{unreachable}",
            id = escape(x.sentinel.as_str()),
            st = escape(&x.status),
            own = if x.own { " (this sentinel)" } else { "" },
            unreachable = if x.reachable { "" } else { " · not reachable" },
        );
        if let Some(at) = &x.at {
            let _ = write!(out, " · <small>{}</small>", escape(&ago(c.now, at.unix_ms)));
        }
        if let Some(cause) = &x.cause {
            let _ = write!(out, " · <small>{}</small>", escape(cause));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul><p><small>");
    push_escaped(out, &q.sentence);
    out.push_str("</small></p>");
}

fn last_probe(out: &mut String, c: &Card<'_>) {
    match &c.detail.summary.last_probe {
        Some(l) => {
            let _ = write!(
                out,
                "<p class=\"last\"><small>last probe {} · {} · {} ms",
                escape(&ago(c.now, l.at.unix_ms)),
                escape(&l.outcome),
                l.latency_ms,
            );
            if let Some(d) = &l.detail {
                out.push_str(" · ");
                push_escaped(out, d);
            }
            out.push_str("</small></p>");
        }
        None => out.push_str("<p class=\"last\"><small>not probed yet</small></p>"),
    }
}

/// One quota or budget as a bar, coloured by the ladder.
pub(super) fn quota(out: &mut String, q: &QuotaDto, ladder: &Ladder) {
    let u = q.utilization.bps;
    let class = if u32::from(u) >= u32::from(ladder.scale_down.get()) {
        "bad"
    } else if u32::from(u) >= u32::from(ladder.alert.get()) {
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
        // Only real data: a slot without probes is left empty.
        let Some(up) = b.uptime.as_ref() else {
            continue;
        };
        let h = (u32::from(up.bps) * H / 10_000).max(2);
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{}: {}% of {} probes</title></rect>",
            bucket_class(b),
            i as u32 * W,
            H - h,
            W - 2,
            escape(&rfc3339(b.start.unix_ms)),
            escape(&up.percent),
            b.ok + b.error + b.timeout + b.throttled,
        );
    }
    let _ = write!(
        out,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(caption)
    );
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
    out.push_str(
        "<figure class=\"latency\"><svg width=\"280\" height=\"54\" viewBox=\"0 0 280 54\" role=\"img\" aria-label=\"latency quantiles\">",
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
