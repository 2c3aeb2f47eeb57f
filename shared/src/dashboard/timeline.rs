//! A service's last 24 hours as one self-contained SVG
//! (`GET /dashboard/services/{service}`): per provider its lowest
//! reputation total (upper band) and its p95 latency (lower band) per half
//! hour, with the switches of the service as vertical markers and each
//! provider's incidents shaded, so a glance tells what happened and when.
//!
//! Drawn from stored state only (the 48 points of [`crate::timeline`],
//! the incident list, the switch history), with attributes and classes,
//! no inline style or script: the page runs under the dashboard's strict
//! CSP. Half hours without data are left empty — nothing is invented.
//! The size is bounded: at most [`PROVIDERS_DRAWN`] providers, 48 points
//! each, [`crate::incident::MAX_INCIDENTS`] incidents each and the
//! switches kept in the history.

use super::html::{escape, push_escaped};
use crate::dto::{self, TimelinePointDto};
use crate::incident::IncidentCause;
use crate::time::UnixMillis;
use crate::timeline::{POINTS, WIDTH};
use crate::{Engine, ServiceId};
use std::fmt::Write;

/// Providers drawn per service, the routed one and the best first.
pub const PROVIDERS_DRAWN: usize = 12;

const W: u64 = 720;
const LEFT: u64 = 48;
const SCORE_H: u64 = 90;
const GAP: u64 = 18;
const LAT_H: u64 = 70;

/// x of time `t` in a window of 24 h ending at `now`.
fn x(t: UnixMillis, from: UnixMillis, span: u64) -> u64 {
    LEFT + t.saturating_sub(from).min(span) * (W - LEFT) / span.max(1)
}

/// The polyline segments of the points (a gap in the data breaks the line).
fn segments(points: &[(UnixMillis, u64)], step: u64) -> Vec<Vec<(UnixMillis, u64)>> {
    let mut out: Vec<Vec<(UnixMillis, u64)>> = Vec::new();
    for &(t, v) in points {
        match out.last_mut() {
            Some(seg) if seg.last().is_some_and(|(pt, _)| t - pt <= step) => seg.push((t, v)),
            _ => out.push(vec![(t, v)]),
        }
    }
    out
}

/// Writes the service's timeline figure; `false` if the service is unknown.
pub(super) fn figure(out: &mut String, engine: &Engine, svc: &ServiceId, now: UnixMillis) -> bool {
    let Some(rt) = engine.registry().service(svc.as_str()) else {
        return false;
    };
    let st = engine.state();
    let active = st.services.get(svc).and_then(|s| s.active.clone());
    let span = WIDTH * u64::from(POINTS);
    let from = (now / WIDTH + 1).saturating_mul(WIDTH).saturating_sub(span);
    let mut ids: Vec<_> = rt
        .providers
        .iter()
        .filter_map(|id| st.providers.get(id).map(|ps| (id, ps)))
        .collect();
    ids.sort_by_key(|(id, ps)| {
        (
            Some(*id) != active.as_ref(),
            std::cmp::Reverse(ps.card.map_or(0, |c| c.total.get())),
            (*id).clone(),
        )
    });
    ids.truncate(PROVIDERS_DRAWN);
    let series: Vec<_> = ids
        .iter()
        .map(|(id, ps)| ((*id).clone(), dto::timeline(ps, now), *ps))
        .collect();
    let max_lat = series
        .iter()
        .flat_map(|(_, pts, _)| pts.iter().filter_map(|p| p.p95_ms))
        .map(u64::from)
        .chain([rt.config.latency_target().as_ms()])
        .max()
        .unwrap_or(1)
        .max(1);
    let h = SCORE_H + GAP + LAT_H + 24;
    let _ = write!(
        out,
        "<figure class=\"timeline\" data-service=\"{s}\"><svg width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{s}: reputation total and p95 latency of each provider over the last 24 hours\">",
        s = escape(svc.as_str())
    );
    // Axes and labels.
    let lat_top = SCORE_H + GAP;
    let _ = write!(
        out,
        "<rect class=\"band\" x=\"{LEFT}\" y=\"0\" width=\"{}\" height=\"{SCORE_H}\"/>\
         <rect class=\"band\" x=\"{LEFT}\" y=\"{lat_top}\" width=\"{}\" height=\"{LAT_H}\"/>\
         <text x=\"0\" y=\"10\">100</text><text x=\"0\" y=\"{SCORE_H}\">0</text><text x=\"0\" y=\"{}\">score</text>\
         <text x=\"0\" y=\"{}\">{max_lat} ms</text><text x=\"0\" y=\"{}\">p95</text>",
        W - LEFT,
        W - LEFT,
        SCORE_H / 2,
        lat_top + 10,
        lat_top + LAT_H / 2,
    );
    for hours in [0u64, 6, 12, 18, 24] {
        let t = from + hours * 3_600_000;
        let tx = x(t, from, span);
        let _ = write!(
            out,
            "<line class=\"gridline\" x1=\"{tx}\" y1=\"0\" x2=\"{tx}\" y2=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            lat_top + LAT_H,
            tx.saturating_sub(12),
            lat_top + LAT_H + 16,
            if hours == 24 { "now".to_string() } else { format!("−{}h", 24 - hours) },
        );
    }
    // Incidents, shaded across both bands.
    for (i, (id, _, ps)) in series.iter().enumerate() {
        for inc in ps
            .incidents
            .iter()
            .filter(|inc| inc.end.unwrap_or(now) >= from)
        {
            let x1 = x(inc.start.max(from), from, span);
            let x2 = x(inc.end.unwrap_or(now), from, span).max(x1 + 1);
            let kind = match inc.cause {
                IncidentCause::BadData(_) => "bad-data",
                IncidentCause::Down(crate::probe::Outcome::Throttled) => "throttled",
                IncidentCause::Down(_) => "down",
            };
            let _ = write!(
                out,
                "<rect class=\"incident {kind} p{}\" x=\"{x1}\" y=\"0\" width=\"{}\" height=\"{}\"><title>{}: {} for {} ({})</title></rect>",
                i % 6,
                x2 - x1,
                lat_top + LAT_H,
                escape(id.as_str()),
                escape(&inc.cause.name()),
                escape(&crate::words::duration(inc.duration_ms(now))),
                escape(&inc.evidence),
            );
        }
    }
    // Lines.
    for (i, (id, pts, _)) in series.iter().enumerate() {
        let score: Vec<(UnixMillis, u64)> = pts
            .iter()
            .filter_map(|p: &TimelinePointDto| {
                p.lowest_total.as_ref().map(|s| {
                    (
                        p.at.unix_ms + WIDTH / 2,
                        SCORE_H - u64::from(s.bps) * SCORE_H / 10_000,
                    )
                })
            })
            .collect();
        let lat: Vec<(UnixMillis, u64)> = pts
            .iter()
            .filter_map(|p| {
                p.p95_ms.map(|v| {
                    let v = u64::from(v).min(max_lat);
                    (
                        p.at.unix_ms + WIDTH / 2,
                        lat_top + LAT_H - v * LAT_H / max_lat,
                    )
                })
            })
            .collect();
        for (band, pts) in [("score", &score), ("latency", &lat)] {
            for seg in segments(pts, WIDTH) {
                let _ = write!(
                    out,
                    "<polyline class=\"series p{} {band}\" data-provider=\"{}\" points=\"",
                    i % 6,
                    escape(id.as_str())
                );
                for (t, y) in &seg {
                    let _ = write!(out, "{},{} ", x(*t, from, span), y);
                }
                out.push_str("\"/>");
                if let [(t, y)] = seg.as_slice() {
                    let _ = write!(
                        out,
                        "<circle class=\"series p{} {band}\" cx=\"{}\" cy=\"{y}\" r=\"2\"/>",
                        i % 6,
                        x(*t, from, span)
                    );
                }
            }
        }
    }
    // Switches of the service.
    for sw in st
        .history
        .iter()
        .filter(|h| &h.service == svc && h.at >= from)
    {
        let sx = x(sw.at, from, span);
        let subject = sw
            .from
            .as_ref()
            .map_or_else(|| svc.to_string(), |f| f.to_string());
        let _ = write!(
            out,
            "<line class=\"switch\" x1=\"{sx}\" y1=\"0\" x2=\"{sx}\" y2=\"{}\"><title>switched to {}: {}</title></line>",
            lat_top + LAT_H,
            escape(sw.to.as_str()),
            escape(&crate::words::sentence(&sw.reason, &subject)),
        );
    }
    out.push_str("</svg><figcaption>");
    for (i, (id, _, _)) in series.iter().enumerate() {
        let _ = write!(out, "<span class=\"key p{}\">", i % 6);
        push_escaped(out, id.as_str());
        if Some(id) == active.as_ref() {
            out.push_str(" (routed)");
        }
        out.push_str("</span> ");
    }
    out.push_str("<span class=\"key switch\">switch</span> <span class=\"key incident\">incident</span></figcaption></figure>");
    true
}
