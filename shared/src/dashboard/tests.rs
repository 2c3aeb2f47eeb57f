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

const HOSTILE: &str = "<script>alert('x')</script>";
const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;";

fn assert_clean(html: &str) {
    assert!(!html.contains("<script>alert"), "unescaped name");
    assert!(!html.contains("http-equiv"));
    assert!(!html.contains("https://"), "no external resources");
    assert!(
        !html.contains(" style=\""),
        "no inline style attributes (CSP)"
    );
}

#[test]
fn summary_shows_every_provider_of_a_small_sentinel_and_escapes_names() {
    let s = scenario(HOSTILE);
    let html = render(&s.engine, s.now);
    for id in ["a", "b"] {
        assert!(html.contains(&format!("data-provider=\"{id}\"")), "{id}");
        assert!(html.contains(&format!("href=\"#provider={id}\"")), "{id}");
    }
    assert_clean(&html);
    assert!(html.contains(HOSTILE_ESCAPED));
    assert!(html.contains("Prices &lt;b&gt;&amp;&lt;/b&gt; quotes"));
    assert!(html.contains("data-service=\"prices\""));
    assert!(html.contains("class=\"switch\""), "the outage switched");
    assert_eq!(html.matches("<script>").count(), 1, "only our own script");
    assert!(
        !html.contains("data-component"),
        "no card is rendered before one is opened"
    );
    assert!(html.contains("id=\"detail-panel\" hidden"));
}

#[test]
fn the_card_on_demand_has_every_section_and_is_escaped() {
    let s = scenario(HOSTILE);
    let a = ProviderId::new("a").unwrap();
    let card = provider_card(&s.engine, &a, s.now).unwrap();
    assert_clean(&card);
    assert!(card.contains(HOSTILE_ESCAPED));
    assert!(card.starts_with("<article class=\"card provider detail\" data-provider=\"a\""));
    for c in [
        "uptime",
        "data_quality",
        "performance",
        "cost",
        "reliability",
    ] {
        assert!(card.contains(&format!("data-component=\"{c}\"")), "{c}");
    }
    for part in [
        "reputation",
        "budget",
        "latency",
        "history",
        "incidents",
        "probe",
    ] {
        assert!(
            card.contains(&format!("<section class=\"part {part}\">")),
            "{part}"
        );
    }
    assert!(card.contains("<svg"));
    assert!(card.contains("href=\"dashboard/providers/a\""));
    let page = provider_page(&s.engine, &a, s.now).unwrap();
    assert_clean(&page);
    assert!(page.contains(&card[..card.find("</article>").unwrap()]));
    assert!(page.contains(&format!("<style>{STYLE}</style>")));
    let zzz = ProviderId::new("zzz").unwrap();
    assert!(provider_card(&s.engine, &zzz, s.now).is_none());
    assert!(provider_page(&s.engine, &zzz, s.now).is_none());
}

#[test]
fn data_carries_fragments_matching_the_page() {
    let s = scenario("Provider A");
    let d = serde_json::to_value(data(&s.engine, s.now)).unwrap();
    let html = render(&s.engine, s.now);
    let frags = d["fragments"].as_object().unwrap();
    assert_eq!(frags.len(), Summary::FRAGMENTS.len());
    for (k, _) in Summary::FRAGMENTS {
        let f = frags[k].as_str().unwrap();
        assert!(html.contains(&format!("id=\"{k}\">{f}<")), "{k}");
    }
    assert_eq!(d["providers"].as_array().unwrap().len(), 2);
    assert_eq!(d["totals"]["providers"]["providers"], 2);
    assert_eq!(d["services"][0]["service"], "prices");
    assert!(d["services"][0]["active"].is_string());
    assert!(d["switches"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_provider_pages_page_and_filter() {
    let s = scenario(HOSTILE);
    let q = ProviderQuery {
        limit: 1,
        ..ProviderQuery::default()
    };
    let first = providers_page(&s.engine, s.now, &q);
    assert_clean(&first);
    assert!(first.contains(HOSTILE_ESCAPED));
    assert!(first.contains("data-provider=\"a\"") && !first.contains("data-provider=\"b\""));
    assert!(first.contains("href=\"providers?limit=1&amp;cursor=prices:a\""));
    assert!(first.contains("data-component=\"reliability\""));
    let q = ProviderQuery {
        after: crate::dto::Cursor::decode("prices:a"),
        ..q
    };
    let second = providers_page(&s.engine, s.now, &q);
    assert!(second.contains("data-provider=\"b\"") && !second.contains("data-provider=\"a\""));
    assert!(!second.contains("rel=\"next\""));
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

#[test]
fn a_card_shows_each_vantage_and_the_quorum_and_the_header_the_peers() {
    let start = days_from_civil(2026, 11, 2) as u64 * DAY;
    let cfg = Config::from_toml(
        r#"
[sentinel]
id = "cf"
allow_private_targets = true

[[peer]]
id = "aws"
url = "http://127.0.0.1:9"

[[service]]
id = "prices"
kind = "api"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"
"#,
    )
    .unwrap();
    cfg.validate().unwrap();
    let mut e = crate::Engine::new(cfg, crate::State::default(), start).unwrap();
    let a = ProviderId::new("a").unwrap();
    let aws = crate::SentinelId::new("aws").unwrap();
    let seen = crate::probe::Observation {
        provider: a.clone(),
        at: start,
        purpose: crate::probe::Purpose::Scheduled,
        outcome: crate::probe::Outcome::Timeout,
        latency_ms: 0,
        bytes: 0,
        verdict: Default::default(),
        facts: Default::default(),
        detail: None,
    };
    e.note_peer_check(&aws, start, Ok(3));
    e.absorb_peer(
        &aws,
        start,
        &crate::peer::exchange::Published {
            sentinel: Some(aws.clone()),
            observations: vec![seen],
            routes: Default::default(),
        },
    );
    e.decide(start);
    let card = provider_card(&e, &a, start).unwrap();
    assert_clean(&card);
    assert!(card.contains("<section class=\"part vantages\">"), "{card}");
    assert!(card.contains("data-vantage=\"cf\""));
    assert!(
        card.contains("data-vantage=\"aws\" data-status=\"down\""),
        "{card}"
    );
    assert!(card.contains("badge verdict healthy"));
    let html = render(&e, start);
    assert!(
        html.contains("data-peer=\"aws\""),
        "the header names the peer"
    );
}
