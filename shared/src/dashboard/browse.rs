//! The dashboard's provider pages (`GET /dashboard/providers`): every
//! provider, a page at a time, with the filters of `GET /v1/providers`
//! (the same [`ProviderQuery`], so the two agree on order and cursor).
//! Each row carries the reputation total and its five components; the
//! summaries are built for the rows of the page only. A row links to the
//! provider's own page (`dashboard/providers/{id}`).

use super::html::{ago, escape, head, push_escaped};
use crate::dto::{ProviderItem, ProviderList, ProviderQuery, Status, LIFECYCLES};
use crate::time::UnixMillis;
use crate::Engine;
use std::fmt::Write;

/// The query string of `q` with `cursor` replaced (ids and names need no
/// encoding: they are `[a-z0-9._:-]`).
fn query_of(q: &ProviderQuery, cursor: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(s) = &q.service {
        parts.push(format!("service={s}"));
    }
    if let Some(s) = q.status {
        parts.push(format!("status={}", s.as_str()));
    }
    if let Some(l) = q.lifecycle {
        parts.push(format!("lifecycle={}", l.as_str()));
    }
    if let Some(r) = q.routed {
        parts.push(format!("routed={r}"));
    }
    if q.limit != crate::dto::PROVIDERS_LIMIT.0 {
        parts.push(format!("limit={}", q.limit));
    }
    if let Some(c) = cursor {
        parts.push(format!("cursor={c}"));
    }
    parts.join("&")
}

fn filter_link(out: &mut String, q: &ProviderQuery, label: &str, f: impl Fn(&mut ProviderQuery)) {
    let mut q2 = ProviderQuery {
        after: None,
        ..q.clone()
    };
    f(&mut q2);
    let _ = write!(
        out,
        "<a href=\"providers?{}\">{}</a> ",
        escape(&query_of(&q2, None)),
        escape(label)
    );
}

fn row(out: &mut String, p: &ProviderItem, now: UnixMillis) {
    let id = escape(p.id.as_str());
    let status = p.status.as_str();
    let _ = write!(
        out,
        "<tr data-provider=\"{id}\" data-service=\"{svc}\" data-status=\"{status}\" data-lifecycle=\"{lc}\">\
         <th><a href=\"providers/{id}\">{name}</a> <small>{id}</small>{routed}</th><td>{svc}</td>\
         <td><span class=\"badge {status}\">{status}</span></td><td>{lc}</td><td>{tr}</td>\
         <td class=\"num\" data-total=\"{}\"><b>{}</b></td>",
        p.total.bps,
        escape(&p.total.percent),
        svc = escape(p.service.as_str()),
        name = escape(&p.name),
        lc = p.lifecycle.as_str(),
        tr = p.trust.as_str(),
        routed = if p.routed { " <span class=\"badge routed\">routed</span>" } else { "" },
    );
    for (name, score) in p.components.iter() {
        let _ = write!(
            out,
            "<td class=\"num\" data-component=\"{name}\">{}</td>",
            score.map_or_else(|| "n/a".to_string(), |s| escape(&s.percent))
        );
    }
    out.push_str("<td class=\"why\"><small>");
    match &p.last_probe {
        Some(l) => {
            let _ = write!(
                out,
                "{} · {} ms · {}",
                escape(&l.outcome),
                l.latency_ms,
                escape(&ago(now, l.at.unix_ms))
            );
        }
        None => out.push_str("not probed yet"),
    }
    out.push_str("</small></td></tr>");
}

/// The page of providers `q` selects.
pub(super) fn page(engine: &Engine, now: UnixMillis, q: &ProviderQuery) -> String {
    let list = ProviderList::page(engine, now, q);
    let mut out = String::with_capacity(12 * 1024 + list.providers.len() * 900);
    let sentinel = engine.config().sentinel.id.to_string();
    head(
        &mut out,
        env!("CARGO_PKG_VERSION"),
        &format!("Providers · Bookkeeper Sentinel · {sentinel}"),
    );
    out.push_str("<header class=\"top\"><h1>Providers</h1><span><a href=\"../\">dashboard</a> · sentinel <b>");
    push_escaped(&mut out, &sentinel);
    let _ = write!(
        out,
        "</b> · {} matching · {} on this page</span></header>\n<main>\n<section><nav class=\"pages\">",
        list.matched, list.count
    );
    filter_link(&mut out, q, "all", |q| {
        q.status = None;
        q.lifecycle = None;
        q.routed = None;
    });
    for s in Status::ALL {
        filter_link(&mut out, q, s.as_str(), |q| q.status = Some(s));
    }
    for l in LIFECYCLES {
        filter_link(&mut out, q, l.as_str(), |q| q.lifecycle = Some(l));
    }
    filter_link(&mut out, q, "routed", |q| q.routed = Some(true));
    if q.service.is_some() {
        filter_link(&mut out, q, "every service", |q| q.service = None);
    }
    out.push_str("</nav><table class=\"lines browse\"><thead><tr><th>provider</th><th>service</th><th>status</th>\
                  <th>lifecycle</th><th>trust</th><th>total</th>");
    for name in [
        "uptime",
        "data quality",
        "performance",
        "cost",
        "reliability",
    ] {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("<th>last probe</th></tr></thead><tbody>");
    for p in &list.providers {
        row(&mut out, p, now);
    }
    out.push_str("</tbody></table>");
    if list.providers.is_empty() {
        out.push_str("<p class=\"muted\">No provider matches.</p>");
    }
    out.push_str("<nav class=\"pages\">");
    if q.after.is_some() {
        let _ = write!(
            out,
            "<a href=\"providers?{}\">first page</a>",
            escape(&query_of(q, None))
        );
    }
    if let Some(next) = &list.next {
        let _ = write!(
            out,
            "<a rel=\"next\" href=\"providers?{}\">next page</a>",
            escape(&query_of(q, Some(next)))
        );
    }
    out.push_str("</nav></section>\n</main>\n</body>\n</html>\n");
    out
}
