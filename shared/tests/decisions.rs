#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 12: the decisions users saw go wrong, each as a scenario over the
//! shipped tick (see `sim::Scenario`): a dead route after a total outage,
//! lag hidden behind a chain-wide staleness, forks (detected, kept until
//! healed, a tie keeps the route), and only good data in the proxy's
//! order of attempts.

mod common;

use common::{api_config, start};
use sentinel_core::config::Config;
use sentinel_core::lifecycle::Lifecycle;
use sentinel_core::route::{self, Health, Tier};
use sentinel_core::sim::{Fault, Scenario, SimProvider};
use sentinel_core::time::{HOUR, MINUTE, SECOND};

fn evm(n: usize, evm_line: &str, extra_service: &str) -> Config {
    let mut text = format!(
        r#"
[sentinel]
id = "sim"
allow_private_targets = true

[[service]]
id = "eth"
kind = "evm-rpc"
probe_interval = "30s"
evm = {evm_line}
{extra_service}
"#
    );
    for i in 1..=n {
        text.push_str(&format!(
            "\n[[service.provider]]\nid = \"e{i}\"\nendpoint = \"http://127.0.0.1:{}\"\n{}\n",
            8544 + i,
            if i == 1 { "initial = \"active\"" } else { "" }
        ));
    }
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_tiers(s: &Scenario, svc: &str) -> Vec<(String, Tier)> {
    route::plan(&s.engine, svc)
        .unwrap()
        .candidates
        .into_iter()
        .map(|c| (c.provider.to_string(), c.tier))
        .collect()
}

#[test]
fn after_a_total_outage_the_first_provider_back_is_routed_at_once() {
    let down = start() + HOUR;
    let back = down + 20 * MINUTE;
    let mut s = Scenario::new(api_config(""), start(), 31).unwrap();
    s.set(
        "a",
        SimProvider::default().fault(down, back + 3 * HOUR, Fault::Outage),
    );
    s.set("b", SimProvider::default().fault(down, back, Fault::Outage));
    s.set(
        "c",
        SimProvider::default().fault(down, back + 3 * HOUR, Fault::Outage),
    );
    s.run_until(back - MINUTE);
    let plan = route::plan(&s.engine, "prices").unwrap();
    assert_eq!(plan.health, Health::Down, "{plan:?}");
    assert!(
        plan.candidates.iter().all(|c| c.tier == Tier::Dead),
        "only the dead active provider is left to try: {plan:?}"
    );

    // b answers again: within seconds it is the first the proxy tries,
    // and the route moves to it well before its 10-minute recovery period.
    s.run_until(back + 15 * SECOND);
    let first = plan_tiers(&s, "prices").first().cloned();
    assert!(
        matches!(&first, Some((p, Tier::LastResort | Tier::Primary)) if p == "b"),
        "the proxy tries a provider that answers again before the dead one: {first:?}"
    );
    s.run_until(back + 2 * MINUTE);
    let switches = s.switches();
    let (at, rec) = switches.last().unwrap();
    assert_eq!(rec.to.as_str(), "b", "{switches:?}");
    assert!(
        *at >= back && *at - back <= 60 * SECOND,
        "routed {} s after b came back",
        (*at - back) / 1000
    );
    assert_eq!(s.active("prices").as_deref(), Some("b"));
    let plan = route::plan(&s.engine, "prices").unwrap();
    assert_eq!(plan.candidates[0].provider.as_str(), "b");
    assert_ne!(plan.health, Health::Down, "{plan:?}");
}

#[test]
fn lag_is_caught_when_every_head_fails_the_absolute_freshness_check() {
    // A 1 s max_block_age against 12 s blocks: every provider's latest
    // block is "stale" all the time, as on a dev chain.
    let onset = start() + HOUR;
    let cfg = evm(
        3,
        r#"{ chain_id = 1, max_block_age = "1s", max_lag_blocks = 3 }"#,
        "",
    );
    let mut s = Scenario::new(cfg, start(), 32).unwrap();
    s.set(
        "e1",
        SimProvider::default().fault(onset, onset + 3 * HOUR, Fault::Stale),
    );
    s.run_until(onset - MINUTE);
    assert_eq!(s.switches(), vec![], "a chain-wide staleness blames nobody");
    let alerts = s.alerts();
    assert!(
        alerts.iter().any(|(_, k, f)| k == "stale-chain:eth" && *f),
        "{alerts:?}"
    );
    assert!(
        !alerts.iter().any(|(_, k, _)| k.starts_with("bad-data:")),
        "{alerts:?}"
    );

    // e1 freezes: 4 blocks (48 s) later it lags by more than 3 and is left.
    s.run_until(onset + 5 * MINUTE);
    let sw = s.switches();
    assert_eq!(sw.len(), 1, "{sw:?}");
    assert_eq!(sw[0].1.reason.name(), "bad-data", "{sw:?}");
    assert!(
        sw[0].0 - onset <= 3 * MINUTE,
        "took {} s",
        (sw[0].0 - onset) / 1000
    );
    assert!(["e2", "e3"].contains(&sw[0].1.to.as_str()), "{sw:?}");
    let blamed: Vec<_> = s
        .alerts()
        .into_iter()
        .filter(|(_, k, f)| *f && (k == "bad-data:e2" || k == "bad-data:e3"))
        .collect();
    assert_eq!(
        blamed,
        vec![],
        "the nodes that follow the chain are never blamed"
    );
}

#[test]
fn a_fork_between_two_nodes_is_alerted_and_keeps_the_route() {
    let onset = start() + HOUR;
    let mut s = Scenario::new(evm(2, r#"{ chain_id = 1 }"#, ""), start(), 33).unwrap();
    s.set(
        "e2",
        SimProvider::default().fault(onset, onset + HOUR, Fault::Inconsistent),
    );
    s.run_until(onset + 10 * MINUTE);
    let alerts = s.alerts();
    assert!(
        alerts
            .iter()
            .any(|(t, k, f)| k == "fork:eth" && *f && *t - onset <= MINUTE),
        "{alerts:?}"
    );
    assert_eq!(
        s.switches(),
        vec![],
        "one against one: nobody can tell who is right"
    );
    assert_eq!(s.active("eth").as_deref(), Some("e1"));
    let fork = s.engine.state().services["eth"].fork.clone().unwrap();
    assert_eq!(fork.majority, None);
    assert_eq!(fork.hashes.len(), 2);
    // Healed once both report the same block again.
    s.run_until(onset + HOUR + 5 * MINUTE);
    assert!(s.engine.state().services["eth"].fork.is_none());
    assert!(s
        .alerts()
        .iter()
        .any(|(t, k, f)| k == "fork:eth" && !*f && *t >= onset + HOUR));
}

#[test]
fn a_minority_fork_is_left_and_stays_out_when_a_witness_dies() {
    let onset = start() + HOUR;
    let mut s = Scenario::new(evm(3, r#"{ chain_id = 1 }"#, ""), start(), 34).unwrap();
    // The active node forks off; e2 and e3 agree.
    s.set(
        "e1",
        SimProvider::default().fault(onset, onset + 2 * HOUR, Fault::Inconsistent),
    );
    // Later e3, one of the two witnesses, dies.
    s.set(
        "e3",
        SimProvider::default().fault(onset + 20 * MINUTE, onset + 2 * HOUR, Fault::Outage),
    );
    s.run_until(onset + 15 * MINUTE);
    assert_eq!(s.active("eth").as_deref(), Some("e2"), "{:?}", s.switches());
    s.run_until(onset + HOUR);
    // The fork is still known: e1 is still on the minority side, so it is
    // neither routed to nor served, and the alert still fires.
    let st = &s.engine.state().services["eth"];
    assert!(
        st.fork.as_ref().is_some_and(|f| f.majority.is_some()),
        "{:?}",
        st.fork
    );
    assert_eq!(s.active("eth").as_deref(), Some("e2"));
    assert!(
        !plan_tiers(&s, "eth").iter().any(|(p, _)| p == "e1"),
        "the forked node is never served: {:?}",
        plan_tiers(&s, "eth")
    );
    let fork_resolved_early = s
        .alerts()
        .iter()
        .any(|(t, k, f)| k == "fork:eth" && !*f && *t < onset + HOUR);
    assert!(!fork_resolved_early, "a witness dying does not heal a fork");
    assert_ne!(
        s.engine.state().providers["e1"].lifecycle,
        Lifecycle::Active
    );
}

#[test]
fn stale_and_wrong_providers_leave_the_order_of_attempts_unless_degraded_is_served() {
    let onset = start() + HOUR;
    for (policy, serves_stale) in [("refuse", false), ("serve", true)] {
        let cfg = evm(
            3,
            r#"{ chain_id = 1, max_block_age = "60s", max_lag_blocks = 3 }"#,
            &format!("degraded = \"{policy}\""),
        );
        let mut s = Scenario::new(cfg, start(), 35).unwrap();
        s.set(
            "e2",
            SimProvider::default().fault(onset, onset + HOUR, Fault::Wrong),
        );
        s.set(
            "e3",
            SimProvider::default().fault(onset, onset + HOUR, Fault::Stale),
        );
        s.set(
            "e1",
            SimProvider::default().fault(onset + 5 * MINUTE, onset + HOUR, Fault::Outage),
        );
        s.run_until(onset + 10 * MINUTE);
        let tiers = plan_tiers(&s, "eth");
        assert!(
            !tiers.iter().any(|(p, _)| p == "e2"),
            "{policy}: another chain is never served: {tiers:?}"
        );
        let stale = tiers.iter().find(|(p, _)| p == "e3");
        assert_eq!(
            stale.map(|(_, t)| *t),
            serves_stale.then_some(Tier::DegradedData),
            "{policy}: {tiers:?}"
        );
    }
}
