//! The summary the dashboard opens with (`GET /` and `GET /dashboard.json`):
//! per service its route — the active provider, whether the route is
//! healthy, what is wrong — with counts, the firing alerts, a bounded list
//! of providers (not healthy first), the recent switches and the
//! sentinel's own footprint.
//!
//! Its size does not grow with the number of providers: every provider
//! is visited once for the counts, reading only the registry and the
//! stored state (no reputation, no history), and only bounded lists are
//! kept — at most [`SERVICES_SHOWN`] services (those with a problem
//! first) with [`PROBLEMS_PER_SERVICE`] unhealthy providers each,
//! [`PROVIDERS_SHOWN`] providers, [`ALERTS_SHOWN`] alerts and
//! [`RECENT_SWITCHES`] switches. One reputation is computed per service
//! shown, its active provider's. Everything else is on demand: a
//! provider's card, and the paginated provider pages.
//!
//! A provider is *not healthy* when its status is `down` or its
//! lifecycle `failed` (the status is the one the API gives,
//! [`Status::of_state`]). A route is `down` without an active provider or
//! when the active one is not healthy, `degraded` while the active one is
//! unprobed or a switch waits for its canary, `ok` otherwise.

use super::html::{ago, clip, escape, push_escaped};
use crate::books::Ladder;
use crate::dto::{
    self, AlertDto, FootprintDto, PendingDto, ReasonDto, Score, Status, SwitchDto, SwitchList,
    Timestamp,
};
use crate::lifecycle::Lifecycle;
use crate::state::Severity;
use crate::time::UnixMillis;
use crate::{Engine, Kind, ProviderId, ServiceId};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Services listed, those with a problem first.
pub const SERVICES_SHOWN: usize = 100;
/// Unhealthy providers named on a service's line.
pub const PROBLEMS_PER_SERVICE: usize = 3;
/// Providers listed: not healthy first, then routed, then the others.
pub const PROVIDERS_SHOWN: usize = 50;
/// Alerts listed, most severe first.
pub const ALERTS_SHOWN: usize = 50;
/// Switches listed, newest first.
pub const RECENT_SWITCHES: usize = 20;
/// Characters of a probe's detail shown in a line.
const DETAIL_CHARS: usize = 120;

/// How a service's route is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteHealth {
    /// Routed to a healthy provider.
    Ok,
    /// Routed, but the active provider is unprobed or a switch is pending.
    Degraded,
    /// No active provider, or it is not healthy.
    Down,
}

impl RouteHealth {
    const fn as_str(self) -> &'static str {
        match self {
            RouteHealth::Ok => "ok",
            RouteHealth::Degraded => "degraded",
            RouteHealth::Down => "down",
        }
    }
}

/// Providers by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// All of them.
    pub providers: usize,
    /// Last probe healthy.
    pub up: usize,
    /// Last probe failed.
    pub down: usize,
    /// Never probed.
    pub unknown: usize,
    /// Answered 429.
    pub throttled: usize,
    /// Answered with data failing a check.
    pub bad_data: usize,
    /// Not up (down, throttled, bad data) or in the `failed` lifecycle
    /// stage.
    pub unhealthy: usize,
}

impl Counts {
    fn add(&mut self, status: Status, lifecycle: Lifecycle) {
        self.providers += 1;
        match status {
            Status::Up => self.up += 1,
            Status::Down => self.down += 1,
            Status::Unknown => self.unknown += 1,
            Status::Throttled => self.throttled += 1,
            Status::BadData => self.bad_data += 1,
        }
        if unhealthy(status, lifecycle) {
            self.unhealthy += 1;
        }
    }

    fn merge(&mut self, o: &Counts) {
        self.providers += o.providers;
        self.up += o.up;
        self.down += o.down;
        self.unknown += o.unknown;
        self.throttled += o.throttled;
        self.bad_data += o.bad_data;
        self.unhealthy += o.unhealthy;
    }
}

fn unhealthy(status: Status, lifecycle: Lifecycle) -> bool {
    matches!(status, Status::Down | Status::Throttled | Status::BadData)
        || lifecycle == Lifecycle::Failed
}

/// A provider in a list of the summary: what the stored state says, no
/// reputation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLine {
    /// Id.
    pub id: ProviderId,
    /// Display name.
    pub name: String,
    /// Its service.
    pub service: ServiceId,
    /// Up or down by its last probe.
    pub status: Status,
    /// Lifecycle stage.
    pub lifecycle: Lifecycle,
    /// Whether its service routes to it.
    pub routed: bool,
    /// Consecutive failed probes.
    pub consecutive_failures: u32,
    /// The last probe's outcome.
    pub last_outcome: Option<String>,
    /// When it was sent.
    pub last_at: Option<Timestamp>,
    /// Its first problem, clipped.
    pub last_detail: Option<String>,
    /// What is wrong now, in words ([`crate::words::problem`]), clipped.
    pub problem: Option<String>,
}

impl ProviderLine {
    fn build(engine: &Engine, id: &ProviderId) -> Option<ProviderLine> {
        let rt = engine.registry().provider(id.as_str())?;
        let ps = engine.state().providers.get(id)?;
        Some(ProviderLine {
            id: id.clone(),
            name: if rt.config.name.is_empty() {
                id.to_string()
            } else {
                rt.config.name.clone()
            },
            service: rt.service.clone(),
            status: Status::of_state(ps),
            lifecycle: ps.lifecycle,
            routed: routed(engine, &rt.service, id),
            consecutive_failures: ps.consecutive_failures,
            last_outcome: ps.last.as_ref().map(|l| dto::outcome_name(l.outcome)),
            last_at: ps.last.as_ref().map(|l| Timestamp::at(l.at)),
            last_detail: ps
                .last
                .as_ref()
                .and_then(|l| l.detail.as_deref())
                .map(|d| clip(d, DETAIL_CHARS)),
            problem: crate::words::problem(ps).map(|p| clip(&p, DETAIL_CHARS)),
        })
    }
}

fn routed(engine: &Engine, service: &ServiceId, id: &ProviderId) -> bool {
    engine
        .state()
        .services
        .get(service)
        .is_some_and(|s| s.active.as_ref() == Some(id))
}

/// One service's line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceLine {
    /// Service.
    pub service: ServiceId,
    /// Its kind.
    pub kind: Kind,
    /// Free text from the config.
    pub description: String,
    /// How its route is doing.
    pub health: RouteHealth,
    /// Why, in words.
    pub health_detail: String,
    /// The provider traffic goes to.
    pub active: Option<ProviderId>,
    /// Its display name.
    pub active_name: Option<String>,
    /// Its status.
    pub active_status: Option<Status>,
    /// Its reputation total.
    pub active_total: Option<Score>,
    /// Routed there since.
    pub since: Timestamp,
    /// Why it became active (`null`: the configured initial provider).
    pub reason: Option<ReasonDto>,
    /// A switch waiting for its canary.
    pub pending: Option<PendingDto>,
    /// Switches so far.
    pub switches: u64,
    /// Its providers by status.
    pub counts: Counts,
    /// The first unhealthy providers, by id.
    pub problems: Vec<ProviderLine>,
}

impl ServiceLine {
    fn has_problem(&self) -> bool {
        self.health != RouteHealth::Ok || self.counts.unhealthy > 0
    }
}

/// Counts over every service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Services configured.
    pub services: usize,
    /// Routes `ok`.
    pub routes_ok: usize,
    /// Routes `degraded`.
    pub routes_degraded: usize,
    /// Routes `down`.
    pub routes_down: usize,
    /// Every provider by status.
    pub providers: Counts,
    /// Alerts firing.
    pub alerts_firing: usize,
}

/// The summary.
#[derive(Debug, Serialize)]
pub(super) struct Summary {
    pub(super) sentinel: String,
    pub(super) version: &'static str,
    pub(super) revision: u64,
    pub(super) generated_at: Timestamp,
    pub(super) last_decide: Option<Timestamp>,
    pub(super) totals: Totals,
    /// At most [`SERVICES_SHOWN`], those with a problem first.
    pub(super) services: Vec<ServiceLine>,
    /// At most [`PROVIDERS_SHOWN`].
    pub(super) providers: Vec<ProviderLine>,
    /// At most [`ALERTS_SHOWN`].
    pub(super) alerts: Vec<AlertDto>,
    pub(super) switches: Vec<SwitchDto>,
    pub(super) footprint: FootprintDto,
    /// The peer sentinels (`GET /v1/peers`), and whether this one
    /// suspects its own network.
    pub(super) peers: Vec<crate::dto::PeerDto>,
    pub(super) isolated: bool,
    /// Anchoring on chain (`null`: no `[chain]`).
    pub(super) anchoring: Option<crate::dto::AnchoringDto>,
    #[serde(skip)]
    ladder: Ladder,
    #[serde(skip)]
    now: UnixMillis,
}

/// Writes one fragment of the page.
pub(super) type Fragment = fn(&Summary, &mut String);

/// Pushes `v` while `list` holds fewer than `max`.
fn push_bounded<T>(list: &mut Vec<T>, max: usize, v: T) {
    if list.len() < max {
        list.push(v);
    }
}

impl Summary {
    pub(super) fn build(engine: &Engine, now: UnixMillis) -> Summary {
        let st = engine.state();
        let mut totals = Totals::default();
        let mut services: Vec<ServiceLine> = Vec::new();
        // Candidates for the provider list, by rank, each bounded.
        let (mut bad, mut active, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        let mut sorted: Vec<&ProviderId> = Vec::new();
        for svc in engine.registry().services() {
            let sid = &svc.config.id;
            let ss = st.services.get(sid);
            let act = ss.and_then(|s| s.active.as_ref());
            let mut counts = Counts::default();
            let mut problems = Vec::new();
            sorted.clear();
            sorted.extend(svc.providers.iter());
            sorted.sort_unstable();
            for id in sorted.iter().copied() {
                let Some(ps) = st.providers.get(id) else {
                    continue;
                };
                let status = Status::of_state(ps);
                counts.add(status, ps.lifecycle);
                if unhealthy(status, ps.lifecycle) {
                    push_bounded(&mut problems, PROBLEMS_PER_SERVICE, id);
                    push_bounded(&mut bad, PROVIDERS_SHOWN, id);
                } else if act == Some(id) {
                    push_bounded(&mut active, PROVIDERS_SHOWN, id);
                } else {
                    push_bounded(&mut rest, PROVIDERS_SHOWN, id);
                }
            }
            let active_state = act.and_then(|a| st.providers.get(a));
            let active_status = active_state.map(Status::of_state);
            // The same verdict as the route API and the proxy's order of
            // attempts ([`crate::route`]); a pending switch is degraded.
            let plan = crate::route::plan(engine, sid.as_str());
            let health = match plan.as_ref().map(|p| p.health) {
                Some(crate::route::Health::Ok) if ss.is_some_and(|s| s.pending.is_none()) => {
                    RouteHealth::Ok
                }
                Some(crate::route::Health::Ok | crate::route::Health::Degraded) => {
                    RouteHealth::Degraded
                }
                _ => RouteHealth::Down,
            };
            let health_detail = plan.map(|p| p.why).unwrap_or_default();
            match health {
                RouteHealth::Ok => totals.routes_ok += 1,
                RouteHealth::Degraded => totals.routes_degraded += 1,
                RouteHealth::Down => totals.routes_down += 1,
            }
            totals.services += 1;
            totals.providers.merge(&counts);
            services.push(ServiceLine {
                service: sid.clone(),
                kind: svc.config.kind,
                description: svc.config.description.clone(),
                health,
                health_detail,
                active: act.cloned(),
                active_name: None,
                active_status,
                active_total: None,
                since: Timestamp::at(ss.map_or(0, |s| s.since)),
                reason: ss.and_then(|s| s.reason.as_ref()).map(ReasonDto::from),
                pending: ss.and_then(|s| s.pending.as_ref()).map(PendingDto::from),
                switches: ss.map_or(0, |s| s.switches),
                counts,
                problems: problems
                    .iter()
                    .filter_map(|id| ProviderLine::build(engine, id))
                    .collect(),
            });
        }
        // Problems first (stable: by id within each group), then bounded.
        services.sort_by_key(|s| !s.has_problem());
        services.truncate(SERVICES_SHOWN);
        for line in &mut services {
            if let Some(a) = &line.active {
                line.active_name = engine.registry().provider(a.as_str()).map(|r| {
                    if r.config.name.is_empty() {
                        a.to_string()
                    } else {
                        r.config.name.clone()
                    }
                });
                line.active_total = engine.reputation(a, now).map(|r| Score::from(r.total));
            }
        }
        let providers = bad
            .into_iter()
            .chain(active)
            .chain(rest)
            .take(PROVIDERS_SHOWN)
            .filter_map(|id| ProviderLine::build(engine, id))
            .collect();

        let mut firing: Vec<(&String, &crate::state::ActiveAlert)> = st.alerts.iter().collect();
        totals.alerts_firing = firing.len();
        firing.sort_by(|(ka, a), (kb, b)| {
            b.severity
                .cmp(&a.severity)
                .then(a.since.cmp(&b.since))
                .then(ka.cmp(kb))
        });
        let alerts = firing
            .into_iter()
            .take(ALERTS_SHOWN)
            .map(|(k, a)| AlertDto {
                key: k.clone(),
                severity: a.severity,
                since: Timestamp::at(a.since),
                message: a.message.clone(),
            })
            .collect();
        Summary {
            sentinel: engine.config().sentinel.id.to_string(),
            version: env!("CARGO_PKG_VERSION"),
            revision: st.revision,
            generated_at: Timestamp::at(now),
            last_decide: Timestamp::nonzero(st.last_decide),
            totals,
            services,
            providers,
            alerts,
            switches: SwitchList::build(engine, RECENT_SWITCHES).switches,
            footprint: FootprintDto::build(engine, now),
            peers: crate::dto::PeerList::build(engine, now).peers,
            isolated: st.peering.isolated,
            anchoring: crate::dto::AnchoringDto::of(engine),
            ladder: engine.config().ladder.clone(),
            now,
        }
    }

    /// A rough size of the page, to allocate it once.
    pub(super) fn estimated_len(&self) -> usize {
        16 * 1024
            + self.services.len() * 1200
            + self.providers.len() * 600
            + self.alerts.len() * 300
            + self.switches.len() * 500
    }

    /// The fragments the page is made of and `dashboard.json` carries, in
    /// page order: `(element id, writer)`.
    pub(super) const FRAGMENTS: [(&'static str, Fragment); 7] = [
        ("meta", Summary::meta),
        ("totals", Summary::totals),
        ("alerts", Summary::alerts),
        ("services", Summary::services),
        ("providers", Summary::providers),
        ("switches", Summary::switches),
        ("footprint", Summary::footprint),
    ];

    fn meta(&self, out: &mut String) {
        out.push_str("sentinel <b>");
        push_escaped(out, &self.sentinel);
        let _ = write!(
            out,
            "</b> · v{} · revision {} · last decision {} · updated <time datetime=\"{t}\">{t}</time>",
            escape(self.version),
            self.revision,
            self.last_decide
                .as_ref()
                .map_or_else(|| "none yet".to_string(), |t| ago(self.now, t.unix_ms)),
            t = escape(&self.generated_at.rfc3339),
        );
        if !self.peers.is_empty() {
            out.push_str(" · peers:");
            for p in &self.peers {
                let _ = write!(
                    out,
                    " <span class=\"badge {st}\" data-peer=\"{id}\">{id} {st}</span>",
                    id = escape(p.id.as_str()),
                    st = escape(&p.status),
                );
            }
            if self.isolated {
                out.push_str(" <span class=\"badge down\">isolated: acting on no failure</span>");
            }
        }
        if let Some(a) = &self.anchoring {
            let (class, word) = match (&a.pending, &a.last) {
                (Some(_), _) => ("degraded", "sending"),
                (None, Some(l)) if !l.ok => ("down", "failing"),
                (None, Some(_)) => ("up", "ok"),
                (None, None) => ("unknown", "not yet"),
            };
            let title = a.last.as_ref().map_or_else(String::new, |l| l.what.clone());
            let _ = write!(
                out,
                " · on chain {}: <span class=\"badge {class}\" data-anchoring=\"{word}\" title=\"{}\">{word}</span> ({} landed, {} gas)",
                a.chain_id,
                escape(&title),
                a.landed,
                a.gas_used,
            );
        }
    }

    fn totals(&self, out: &mut String) {
        let t = &self.totals;
        let p = &t.providers;
        let _ = write!(
            out,
            "<p class=\"counts\"><span><b>{}</b> services: {} ok, {} degraded, {} down</span>\
             <span><b>{}</b> providers: {} up, {} down, {} throttled, {} bad data, {} unknown</span>\
             <span class=\"{}\"><b>{}</b> not healthy</span><span><b>{}</b> alerts firing</span>\
             <a href=\"dashboard/providers\">all providers</a></p>",
            t.services,
            t.routes_ok,
            t.routes_degraded,
            t.routes_down,
            p.providers,
            p.up,
            p.down,
            p.throttled,
            p.bad_data,
            p.unknown,
            if p.unhealthy > 0 { "neg" } else { "pos" },
            p.unhealthy,
            t.alerts_firing,
        );
    }

    fn alerts(&self, out: &mut String) {
        if self.alerts.is_empty() {
            out.push_str("<p class=\"muted\">No alerts firing.</p>");
            return;
        }
        out.push_str("<ul class=\"list\">");
        for a in &self.alerts {
            let sev = match a.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Critical => "critical",
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
        more(
            out,
            self.totals.alerts_firing,
            self.alerts.len(),
            "alerts",
            None,
        );
    }

    fn services(&self, out: &mut String) {
        if self.services.is_empty() {
            out.push_str("<p class=\"muted\">No services configured.</p>");
            return;
        }
        out.push_str(
            "<table class=\"lines services\"><thead><tr><th>service</th><th>route</th><th>active provider</th>\
             <th>since</th><th>providers</th><th>not healthy</th></tr></thead><tbody>",
        );
        for s in &self.services {
            let svc = escape(s.service.as_str());
            let health = s.health.as_str();
            let _ = write!(
                out,
                "<tr class=\"service\" data-service=\"{svc}\" data-health=\"{health}\"><th><b>{svc}</b> <small>{}</small>",
                s.kind.as_str(),
            );
            if !s.description.is_empty() {
                out.push_str("<br><small class=\"muted\">");
                push_escaped(out, &s.description);
                out.push_str("</small>");
            }
            let _ = write!(
                out,
                "</th><td><a href=\"dashboard/services/{svc}\" title=\"{}\"><span class=\"badge {health}\">{health}</span></a></td><td>",
                escape(&s.health_detail)
            );
            match &s.active {
                Some(a) => {
                    let id = escape(a.as_str());
                    let _ = write!(
                        out,
                        "<a href=\"#provider={id}\" data-active=\"{id}\">{}</a>",
                        escape(s.active_name.as_deref().unwrap_or(a.as_str())),
                    );
                    if let Some(st) = s.active_status {
                        let _ = write!(out, " <span class=\"badge {0}\">{0}</span>", st.as_str());
                    }
                    if let Some(t) = &s.active_total {
                        let _ = write!(out, " <small>{}</small>", escape(&t.percent));
                    }
                }
                None => out.push_str("<span class=\"neg\">no usable provider</span>"),
            }
            if let Some(p) = &s.pending {
                let _ = write!(
                    out,
                    "<br><small class=\"pending\">switch pending to <b>{}</b> ({}), canary {}</small>",
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
                "</td><td><small><time datetime=\"{}\">{}</time>{}</small></td>\
                 <td class=\"num\">{} <small>({} up, {} down, {} unknown · {} switch{})</small></td><td class=\"why\">",
                escape(&s.since.rfc3339),
                escape(&ago(self.now, s.since.unix_ms)),
                s.reason.as_ref().map_or_else(String::new, |r| format!(" · {}", escape(&r.trigger))),
                s.counts.providers,
                s.counts.up,
                s.counts.down,
                s.counts.unknown,
                s.switches,
                if s.switches == 1 { "" } else { "es" },
            );
            if s.counts.unhealthy == 0 {
                out.push_str("<span class=\"muted\">none</span>");
            }
            for (i, p) in s.problems.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let id = escape(p.id.as_str());
                let _ = write!(
                    out,
                    "<a href=\"#provider={id}\" data-problem=\"{id}\">{}</a> <small>{} · {}</small>",
                    escape(&p.name),
                    p.status.as_str(),
                    p.lifecycle.as_str(),
                );
            }
            if s.counts.unhealthy > s.problems.len() {
                let _ = write!(
                    out,
                    " <a href=\"dashboard/providers?service={svc}\">and {} more</a>",
                    s.counts.unhealthy - s.problems.len()
                );
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table>");
        more(
            out,
            self.totals.services,
            self.services.len(),
            "services (all healthy)",
            Some("dashboard/providers?routed=true"),
        );
    }

    fn providers(&self, out: &mut String) {
        if self.providers.is_empty() {
            out.push_str("<p class=\"muted\">No providers.</p>");
            return;
        }
        let _ = write!(
            out,
            "<p><small>{} of {} providers: not healthy first, then routed; open one for its reputation, budget, latency and history · \
             <a href=\"dashboard/providers\">all providers</a></small></p>",
            self.providers.len(),
            self.totals.providers.providers,
        );
        out.push_str(
            "<table class=\"lines providers\"><thead><tr><th>provider</th><th>service</th><th>status</th>\
             <th>lifecycle</th><th>failures</th><th>last probe</th></tr></thead><tbody>",
        );
        for p in &self.providers {
            line(out, p, self.now);
        }
        out.push_str("</tbody></table>");
    }

    fn switches(&self, out: &mut String) {
        if self.switches.is_empty() {
            out.push_str("<p class=\"muted\">No switches yet.</p>");
            return;
        }
        out.push_str("<ul class=\"list\">");
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
                escape(&clip(&w.reason.detail.to_string(), 400)),
            );
        }
        out.push_str("</ul>");
    }

    fn footprint(&self, out: &mut String) {
        let f = &self.footprint;
        let _ = write!(
            out,
            "<div class=\"card\" data-footprint=\"{}\"><p>step {} · own cost this month ${}</p>",
            escape(f.sentinel.as_str()),
            f.step.as_str(),
            escape(&f.cost_month.total.usd)
        );
        if f.quotas.is_empty() {
            out.push_str("<p class=\"muted\">No footprint quotas configured.</p>");
        }
        for q in &f.quotas {
            super::detail::quota(out, q, &self.ladder);
        }
        out.push_str("</div>");
    }
}

/// "and N more …" under a bounded list.
fn more(out: &mut String, total: usize, shown: usize, what: &str, href: Option<&str>) {
    if total <= shown {
        return;
    }
    let _ = write!(
        out,
        "<p class=\"more\"><small>and {} more {what}",
        total - shown
    );
    if let Some(h) = href {
        let _ = write!(out, " · <a href=\"{h}\">see them</a>");
    }
    out.push_str("</small></p>");
}

/// A provider's row in a list (`data-provider`), opening its card.
pub(super) fn line(out: &mut String, p: &ProviderLine, now: UnixMillis) {
    let id = escape(p.id.as_str());
    let status = p.status.as_str();
    let _ = write!(
        out,
        "<tr data-provider=\"{id}\" data-service=\"{svc}\" data-status=\"{status}\" data-lifecycle=\"{lc}\">\
         <th><a href=\"#provider={id}\">{name}</a> <small>{id}</small>{routed}</th><td>{svc}</td>\
         <td><span class=\"badge {status}\">{status}</span></td><td>{lc}</td><td class=\"num\">{}</td><td class=\"why\"><small>",
        p.consecutive_failures,
        svc = escape(p.service.as_str()),
        name = escape(&p.name),
        lc = p.lifecycle.as_str(),
        routed = if p.routed { " <span class=\"badge routed\">routed</span>" } else { "" },
    );
    match (&p.last_outcome, &p.last_at, &p.problem) {
        (_, Some(at), Some(problem)) => {
            push_escaped(out, problem);
            let _ = write!(out, " · {}", escape(&ago(now, at.unix_ms)));
        }
        (Some(o), Some(at), None) => {
            let _ = write!(out, "{} · {}", escape(o), escape(&ago(now, at.unix_ms)));
            if let Some(d) = &p.last_detail {
                out.push_str(" · ");
                push_escaped(out, d);
            }
        }
        _ => out.push_str("not probed yet"),
    }
    out.push_str("</small></td></tr>");
}
