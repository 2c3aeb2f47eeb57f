#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 12, "explained in words": what moved a score, incidents kept
//! after recovery, a status and a sentence per cause, the route's health,
//! and the service timeline — through the API's types and the dashboard.

mod common;

use common::{api_config, start};
use sentinel_core::api::dto::{ProviderDetail, ProviderList, RouteDto, Status};
use sentinel_core::route::Health;
use sentinel_core::sim::{Fault, Scenario, SimProvider};
use sentinel_core::time::{HOUR, MINUTE};
use sentinel_core::{ProviderId, ServiceId};

fn detail(s: &Scenario, id: &str) -> ProviderDetail {
    ProviderDetail::build(&s.engine, &ProviderId::new(id).unwrap(), s.now).unwrap()
}

#[test]
fn after_an_outage_the_explanation_says_what_moved_and_the_incident_stays() {
    let onset = start() + 3 * HOUR;
    let mut s = Scenario::new(api_config(""), start(), 41).unwrap();
    s.set(
        "b",
        SimProvider::default().fault(onset, onset + 20 * MINUTE, Fault::Outage),
    );
    s.run_until(onset + 40 * MINUTE);
    let d = detail(&s, "b");
    let r = &d.reputation;
    assert!(r.compared_with.is_some(), "{r:?}");
    let delta = r.total_delta_bps.unwrap();
    assert!(delta < -100, "the outage shows as a drop: {delta}");
    let moved = r.moved_most.as_deref().expect("a component moved");
    assert!(
        ["uptime", "reliability"].contains(&moved),
        "{moved}: {:?}",
        r.components
    );
    let c = r.components.iter().find(|c| c.name == moved).unwrap();
    assert!(c.delta_bps.unwrap() < 0, "{c:?}");

    // The outage is an incident with its cause, times and evidence, kept
    // after b recovered.
    assert_eq!(d.summary.status, Status::Up);
    let inc = d.incidents.last().expect("the outage");
    assert_eq!((inc.cause.as_str(), inc.kind.as_str()), ("refused", "down"));
    assert!(inc.end.is_some());
    let dur = inc.duration_ms;
    assert!(
        (19 * MINUTE..=21 * MINUTE).contains(&dur),
        "{} s",
        dur / 1000
    );
    assert!(inc.evidence.contains("refused"), "{}", inc.evidence);
    // The timeline has the half hours of data, its lowest total in the
    // outage's half hour below the others.
    assert!(d.timeline.len() >= 6, "{}", d.timeline.len());
    let lowest = d
        .timeline
        .iter()
        .filter_map(|p| p.lowest_total.as_ref().map(|s| s.bps))
        .min()
        .unwrap();
    assert!(lowest < 9_000, "{lowest}");
}

#[test]
fn each_cause_has_its_status_and_sentence() {
    let onset = start() + HOUR;
    let d = "[[service.provider]]\nid = \"d\"\nendpoint = \"http://127.0.0.1:9004\"\n";
    let mut s = Scenario::new(api_config(d), start(), 42).unwrap();
    s.set(
        "b",
        SimProvider::default().fault(onset, onset + HOUR, Fault::Throttle),
    );
    s.set(
        "c",
        SimProvider::default().fault(onset, onset + HOUR, Fault::Inconsistent),
    );
    s.run_until(onset + 5 * MINUTE);
    let list = ProviderList::build(&s.engine, s.now);
    let item = |id: &str| list.providers.iter().find(|p| p.id.as_str() == id).unwrap();
    assert_eq!(item("a").status, Status::Up);
    assert_eq!(item("a").problem, None);
    assert_eq!(item("b").status, Status::Throttled);
    let b = item("b").problem.clone().unwrap();
    assert!(b.starts_with("answered 429 Too Many Requests"), "{b}");
    // c answers, but disagrees with a and d: it is shown as bad data,
    // with why.
    assert_eq!(item("c").status, Status::BadData);
    let c = item("c").problem.clone().unwrap();
    assert!(c.contains("disagreed with the other providers"), "{c}");
    let d = detail(&s, "c");
    let inc = d.incidents.last().unwrap();
    assert_eq!(
        (inc.kind.as_str(), inc.cause.as_str()),
        ("bad-data", "inconsistent")
    );
}

#[test]
fn the_route_says_when_it_is_degraded_or_down() {
    let onset = start() + HOUR;
    let mut s = Scenario::new(api_config(""), start(), 43).unwrap();
    let prices = ServiceId::new("prices").unwrap();
    s.run_until(onset);
    let r = RouteDto::build(&s.engine, &prices).unwrap();
    assert_eq!(r.health, Health::Ok);
    assert_eq!(r.serving.first().map(|p| p.as_str()), Some("a"));
    for id in ["a", "b", "c"] {
        s.set(
            id,
            SimProvider::default().fault(onset, onset + HOUR, Fault::Outage),
        );
    }
    s.run_until(onset + 5 * MINUTE);
    let r = RouteDto::build(&s.engine, &prices).unwrap();
    assert_eq!(r.health, Health::Down, "{r:?}");
    assert!(r.health_detail.contains("down"), "{}", r.health_detail);
}

#[test]
fn the_service_page_draws_the_last_24_hours() {
    let onset = start() + 3 * HOUR;
    let mut s = Scenario::new(api_config(""), start(), 44).unwrap();
    s.set(
        "a",
        SimProvider::default().fault(onset, onset + 30 * MINUTE, Fault::Outage),
    );
    s.run_until(onset + 2 * HOUR);
    let page = sentinel_core::dashboard::service_page(
        &s.engine,
        &ServiceId::new("prices").unwrap(),
        s.now,
    )
    .unwrap();
    assert!(page.contains("<figure class=\"timeline\" data-service=\"prices\">"));
    for id in ["a", "b", "c"] {
        assert!(
            page.contains(&format!("data-provider=\"{id}\" points=\"")),
            "{id} has its lines"
        );
    }
    assert!(
        page.contains("<line class=\"switch\""),
        "the switch is marked"
    );
    assert!(
        page.contains("<rect class=\"incident down"),
        "the outage is shaded"
    );
    assert!(!page.contains("<script"), "a static page");
    assert!(sentinel_core::dashboard::service_page(
        &s.engine,
        &ServiceId::new("nope").unwrap(),
        s.now
    )
    .is_none());
}
