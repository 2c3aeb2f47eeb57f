//! The dashboard: self-contained HTML pages, no external resources, that
//! work offline — summary first, details on demand.
//!
//! * `GET /` opens with the summary ([`summary`]): per service its route
//!   (the active provider, whether the route is healthy, what is wrong)
//!   with counts, the firing alerts, a bounded list of providers (not
//!   healthy first), the recent switches and the footprint. Its size and
//!   cost do not grow with the number of providers beyond one short line
//!   per service shown (at most [`SERVICES_SHOWN`]): 1,000 or 3,000
//!   providers give a page of the same order as ten.
//! * A provider's card — every reputation component, budget, latency,
//!   uptime history, downtimes ([`detail`]) — is built only when a person
//!   opens it: the summary's links set `#provider=ID`, and the page
//!   script fetches `GET /dashboard/providers/{id}/card` (an escaped HTML
//!   fragment) into the detail panel, refreshing it while it stays open.
//!   `GET /dashboard/providers/{id}` is the same card as a page of its own.
//! * `GET /dashboard/providers` pages through every provider with the
//!   filters and cursor of `GET /v1/providers` ([`browse`]).
//! * `GET /dashboard.json` is the summary's data plus `fragments`, the
//!   page's changing parts rendered and escaped here; the inline script
//!   fetches it every few seconds and swaps the fragments in, so escaping
//!   lives in one place, in Rust. It skips refreshes while the tab is
//!   hidden, and when a fetch fails it marks the page stale and backs off;
//!   once the sentinel answers again, or when the build changed or `fetch`
//!   is unavailable, it reloads the whole page.
//!
//! Each answer is written into one `String` allocated once at about its
//! final size; no per-provider DTO is built for providers that are not
//! shown, so the memory a request takes is bounded like its answer.
//!
//! Every piece of text is HTML-escaped (provider names come from
//! configuration and from submissions). Charts are inline SVG drawn with
//! attributes and classes only, so the pages run under a strict
//! [`content_security_policy`] that allows exactly their own script and
//! style by hash. Stable hooks for browser tests: `data-provider="{id}"`
//! on each provider row and card, `class="switch"` on each switch,
//! `data-service` on each service line, `data-component` on each
//! reputation component of a card, `data-alert` on each alert.

mod assets;
mod browse;
mod detail;
mod html;
mod summary;

pub use detail::DOWNTIMES_SHOWN;
pub use html::escape;
pub use summary::{
    Counts, ProviderLine, RouteHealth, ServiceLine, Totals, ALERTS_SHOWN, PROBLEMS_PER_SERVICE,
    PROVIDERS_SHOWN, RECENT_SWITCHES, SERVICES_SHOWN,
};

use crate::dto::{ProviderDetail, ProviderQuery};
use crate::time::UnixMillis;
use crate::{Engine, ProviderId};
use assets::{SCRIPT, STYLE};
use base64::Engine as _;
use html::{head, push_escaped};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use summary::Summary;

fn csp_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The `content-security-policy` to serve the pages with: nothing
/// external, only the dashboard's own script and style (by hash), fetches
/// to itself.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// The body of `GET /dashboard.json`: the summary (the sentinel, totals,
/// the bounded service, provider, alert and switch lists, the footprint)
/// and `fragments`, the page's changing parts as escaped HTML, by element
/// id.
#[derive(Debug, Serialize)]
pub struct Data {
    #[serde(flatten)]
    summary: Summary,
    fragments: BTreeMap<&'static str, String>,
}

/// The data the dashboard refreshes from (`GET /dashboard.json`).
pub fn data(engine: &Engine, now: UnixMillis) -> Data {
    let summary = Summary::build(engine, now);
    let fragments = Summary::FRAGMENTS
        .iter()
        .map(|(id, write)| {
            let mut html = String::new();
            write(&summary, &mut html);
            (*id, html)
        })
        .collect();
    Data { summary, fragments }
}

/// The dashboard page (`GET /`) at `now`.
pub fn render(engine: &Engine, now: UnixMillis) -> String {
    let s = Summary::build(engine, now);
    let mut out = String::with_capacity(s.estimated_len());
    let title = format!("Bookkeeper Sentinel · {}", s.sentinel);
    head(&mut out, s.version, &title);
    let fragment = |out: &mut String, id: &str| {
        if let Some((_, write)) = Summary::FRAGMENTS.iter().find(|(k, _)| *k == id) {
            write(&s, out);
        }
    };
    out.push_str("<header class=\"top\"><h1>Bookkeeper Sentinel</h1><span id=\"meta\">");
    fragment(&mut out, "meta");
    out.push_str("</span><span id=\"conn\" class=\"conn\"></span></header>\n<main>\n<section><div id=\"totals\">");
    fragment(&mut out, "totals");
    out.push_str(
        "</div></section>\n<section id=\"detail-panel\" hidden><h2>Provider · <a href=\"#\">close</a></h2><div id=\"detail\"></div></section>\n",
    );
    for (id, title) in [
        ("alerts", "Alerts"),
        ("services", "Services"),
        ("providers", "Providers"),
        ("switches", "Recent switches"),
        ("footprint", "Sentinel footprint"),
    ] {
        out.push_str("<section><h2>");
        out.push_str(title);
        out.push_str("</h2><div id=\"");
        out.push_str(id);
        out.push_str("\">");
        fragment(&mut out, id);
        out.push_str("</div></section>\n");
    }
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// Writes `id`'s card into `out`; `false` if there is no such provider.
fn write_card(out: &mut String, engine: &Engine, id: &ProviderId, now: UnixMillis) -> bool {
    let Some(d) = ProviderDetail::build(engine, id, now) else {
        return false;
    };
    detail::card(
        out,
        &detail::Card {
            detail: &d,
            ladder: &engine.config().ladder,
            now,
        },
    );
    true
}

/// A provider's card as the dashboard loads it on demand
/// (`GET /dashboard/providers/{id}/card`): the escaped fragment, with
/// links (relative to `/`) to its page and its JSON. `None` if unknown.
pub fn provider_card(engine: &Engine, id: &ProviderId, now: UnixMillis) -> Option<String> {
    let mut out = String::with_capacity(12 * 1024);
    if !write_card(&mut out, engine, id, now) {
        return None;
    }
    let id = escape(id.as_str());
    out.push_str(&format!(
        "<p><small><a href=\"dashboard/providers/{id}\">open as a page</a> · <a href=\"v1/providers/{id}\">JSON</a></small></p>"
    ));
    Some(out)
}

/// The fragment answered for a card of an unknown provider.
pub fn no_such_provider(id: &ProviderId) -> String {
    format!(
        "<p class=\"muted\">No provider <code>{}</code>.</p>",
        escape(id.as_str())
    )
}

/// A provider's own page (`GET /dashboard/providers/{id}`). `None` if
/// unknown.
pub fn provider_page(engine: &Engine, id: &ProviderId, now: UnixMillis) -> Option<String> {
    let mut out = String::with_capacity(20 * 1024);
    let sentinel = engine.config().sentinel.id.to_string();
    head(
        &mut out,
        env!("CARGO_PKG_VERSION"),
        &format!("{id} · Bookkeeper Sentinel · {sentinel}"),
    );
    out.push_str("<header class=\"top\"><h1>");
    push_escaped(&mut out, id.as_str());
    let eid = escape(id.as_str());
    out.push_str(&format!(
        "</h1><span><a href=\"../../\">dashboard</a> · <a href=\"../providers\">all providers</a> · <a href=\"../../v1/providers/{eid}\">JSON</a></span></header>\n<main>\n"
    ));
    if !write_card(&mut out, engine, id, now) {
        return None;
    }
    out.push_str("\n</main>\n</body>\n</html>\n");
    Some(out)
}

/// A service's page (`GET /dashboard/services/{id}`): its route and its
/// 24-hour timeline ([`timeline`]). `None` if unknown.
pub fn service_page(engine: &Engine, id: &crate::ServiceId, now: UnixMillis) -> Option<String> {
    let route = crate::dto::RouteDto::build(engine, id)?;
    let mut out = String::with_capacity(32 * 1024);
    let sentinel = engine.config().sentinel.id.to_string();
    head(
        &mut out,
        env!("CARGO_PKG_VERSION"),
        &format!("{id} · Bookkeeper Sentinel · {sentinel}"),
    );
    let eid = escape(id.as_str());
    out.push_str("<header class=\"top\"><h1>");
    push_escaped(&mut out, id.as_str());
    out.push_str(&format!(
        "</h1><span><a href=\"../../\">dashboard</a> · <a href=\"../providers?service={eid}\">its providers</a> · <a href=\"../../v1/services/{eid}/route\">route JSON</a></span></header>\n<main>\n<section class=\"card\" data-service=\"{eid}\"><h2>Route</h2><p>"
    ));
    let health = match route.health {
        crate::route::Health::Ok => "ok",
        crate::route::Health::Degraded => "degraded",
        crate::route::Health::Down => "down",
    };
    out.push_str(&format!(
        "<span class=\"badge {health}\" data-health=\"{health}\">{health}</span> "
    ));
    push_escaped(&mut out, &route.health_detail);
    if let Some(r) = &route.reason {
        out.push_str("<br><small>why it is routed here: ");
        push_escaped(&mut out, &r.sentence);
        out.push_str("</small>");
    }
    out.push_str("</p></section>\n<section class=\"card\"><h2>Last 24 hours</h2>");
    timeline::figure(&mut out, engine, id, now);
    out.push_str("</section>\n</main>\n</body>\n</html>\n");
    Some(out)
}

/// A page of the dashboard's provider list (`GET /dashboard/providers`).
pub fn providers_page(engine: &Engine, now: UnixMillis, q: &ProviderQuery) -> String {
    browse::page(engine, now, q)
}

mod timeline;

#[cfg(test)]
mod tests;
