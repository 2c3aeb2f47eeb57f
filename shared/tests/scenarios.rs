#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Scenario tests: days of simulated time against synthetic providers with
//! scripted faults, asserting which switches, alerts and ladder steps
//! happen, when, and which do not. Every step is the shipped
//! `Sentinel::tick` over the in-memory store (see `sim::Scenario`).

mod common;

use common::{api_config, evm_config, start};
use sentinel_core::action::Action;
use sentinel_core::books::Step;
use sentinel_core::lifecycle::Lifecycle;
use sentinel_core::sim::{Burn, Fault, MemoryStore, Scenario, SimError, SimProvider};
use sentinel_core::tick::TickError;
use sentinel_core::time::{HOUR, MINUTE, SECOND};
use sentinel_core::{ProviderId, State};

fn jittery() -> SimProvider {
    SimProvider {
        base_latency_ms: 40,
        jitter_ms: 60,
        noise_5xx_bps: 30,
        ..SimProvider::default()
    }
}

fn scenario(seed: u64) -> Scenario {
    let mut s = Scenario::new(api_config(""), start(), seed).unwrap();
    for id in ["a", "b", "c"] {
        s.set(id, jittery());
    }
    s
}

#[test]
fn a_healthy_but_jittery_day_causes_no_switch() {
    for seed in [1, 2, 3] {
        let mut s = scenario(seed);
        s.run_until(start() + 24 * HOUR);
        assert_eq!(s.switches(), vec![], "seed {seed}");
        assert_eq!(s.active("prices").as_deref(), Some("a"));
        let critical: Vec<_> = s
            .alerts()
            .into_iter()
            .filter(|(_, k, f)| *f && !k.starts_with("budget"))
            .collect();
        assert_eq!(critical, vec![], "seed {seed}: no alert on a healthy day");
        // Probes actually ran: 3 providers every ~30 s for a day.
        assert!(
            s.probes > 3 * 2 * 60 * 24 * 9 / 10,
            "only {} probes",
            s.probes
        );
    }
}

#[test]
fn an_outage_of_the_active_provider_switches_within_two_probe_intervals() {
    let onset = start() + 2 * HOUR + 7 * SECOND;
    let mut s = scenario(7);
    s.set(
        "a",
        jittery().fault(onset, onset + 30 * MINUTE, Fault::Outage),
    );
    s.run_until(onset + 2 * HOUR);
    let sw = s.switches();
    assert_eq!(sw.len(), 1, "{sw:?}");
    let (at, rec) = &sw[0];
    assert_eq!(rec.from.as_ref().map(ProviderId::as_str), Some("a"));
    assert_eq!(rec.reason.name(), "failed");
    assert!(
        *at > onset && *at - onset <= 60 * SECOND,
        "switched {} ms after onset",
        at - onset
    );
    // The failed provider is alerted on and resolves after it recovers.
    let alerts = s.alerts();
    assert!(alerts.iter().any(|(_, k, f)| k == "provider-down:a" && *f));
    assert!(alerts
        .iter()
        .any(|(t, k, f)| k == "provider-down:a" && !*f && *t > onset + 30 * MINUTE));
    // It recovered through `recovering` to `standby`, and traffic stayed put.
    let a = &s.engine.state().providers["a"];
    assert_eq!(a.lifecycle, Lifecycle::Standby);
    assert_ne!(s.active("prices").as_deref(), Some("a"));
}

fn first_switch_reason(s: &Scenario) -> Option<(u64, String)> {
    s.switches()
        .first()
        .map(|(t, r)| (*t, r.reason.name().to_string()))
}

#[test]
fn a_slow_provider_is_left_for_latency_after_the_dwell_time() {
    let onset = start() + 3 * HOUR;
    let mut s = scenario(11);
    s.set(
        "a",
        jittery().fault(onset, onset + 3 * HOUR, Fault::Slow { extra_ms: 1500 }),
    );
    s.run_until(onset + 3 * HOUR);
    let (at, reason) = first_switch_reason(&s).expect("a switch");
    assert_eq!(reason, "latency");
    assert!(at - onset <= 5 * MINUTE, "took {} s", (at - onset) / 1000);
    assert_eq!(s.switches().len(), 1, "no flapping: {:?}", s.switches());
}

#[test]
fn a_5xx_burst_is_a_failure_and_429s_are_throttling() {
    for (seed, fault, want) in [
        (
            3,
            Fault::Burst5xx { rate_bps: 9_000 },
            ["failed", "error-rate"],
        ),
        (4, Fault::Throttle, ["throttled", "throttled"]),
    ] {
        let onset = start() + HOUR;
        let mut s = scenario(seed);
        s.set(
            "a",
            jittery().fault(onset, onset + 20 * MINUTE, fault.clone()),
        );
        s.run_until(onset + 10 * MINUTE);
        if fault == Fault::Throttle {
            // Issue 12: a provider answering 429 is up and refusing us — a
            // quota signal with its own name, never "down".
            let a = &s.engine.state().providers["a"];
            assert_ne!(a.lifecycle, Lifecycle::Failed, "429s are not an outage");
            let alerts = s.alerts();
            assert!(alerts.iter().any(|(_, k, f)| k == "throttled:a" && *f));
            assert!(!alerts.iter().any(|(_, k, _)| k == "provider-down:a"));
            let sentence = sentinel_core::words::sentence(&s.switches()[0].1.reason, "a");
            assert!(
                sentence.starts_with("a answered 429 Too Many Requests"),
                "{sentence}"
            );
            // And it is not probed faster for it (that would spend more of
            // the quota it says is gone): no more often than a healthy one.
            let requests = |id: &str| s.engine.state().providers[id].ledger.requests;
            assert!(
                requests("a") <= requests("c") + 2,
                "a was probed {} times, c {}",
                requests("a"),
                requests("c")
            );
        }
        s.run_until(onset + HOUR);
        let (at, reason) =
            first_switch_reason(&s).unwrap_or_else(|| panic!("{fault:?}: no switch"));
        assert!(want.contains(&reason.as_str()), "{fault:?}: {reason}");
        assert!(
            at - onset <= 2 * MINUTE,
            "{fault:?}: took {} s",
            (at - onset) / 1000
        );
    }
}

#[test]
fn stale_wrong_and_inconsistent_data_move_traffic() {
    for (seed, fault, check) in [
        (5, Fault::Stale, "freshness"),
        (6, Fault::Wrong, "business"),
        (8, Fault::Inconsistent, "consistency"),
    ] {
        let onset = start() + HOUR;
        let mut s = scenario(seed);
        s.set("a", jittery().fault(onset, onset + 2 * HOUR, fault.clone()));
        s.run_until(onset + 2 * HOUR);
        let sw = s.switches();
        assert!(!sw.is_empty(), "{fault:?}: no switch");
        let (at, rec) = &sw[0];
        assert_eq!(
            rec.reason.name(),
            "bad-data",
            "{fault:?} {} s after onset: {rec:?}",
            at.saturating_sub(onset) / 1000
        );
        let sentinel_core::switcher::Reason::BadData { check: c, .. } = &rec.reason else {
            unreachable!()
        };
        assert_eq!(c, check, "{fault:?}");
        // Stale data is only detectable once it is older than max_age (5 m).
        let bound = if fault == Fault::Stale {
            8 * MINUTE
        } else {
            2 * MINUTE
        };
        assert!(
            at - onset <= bound,
            "{fault:?}: took {} s",
            (at - onset) / 1000
        );
    }
}

#[test]
fn evm_stale_and_wrong_chain_are_caught() {
    for (fault, check) in [(Fault::Stale, "freshness"), (Fault::Wrong, "business")] {
        let onset = start() + HOUR;
        let mut s = Scenario::new(evm_config(), start(), 21).unwrap();
        s.set(
            "e1",
            SimProvider::default().fault(onset, onset + 2 * HOUR, fault.clone()),
        );
        s.run_until(onset + HOUR);
        let sw = s.switches();
        assert_eq!(sw.len(), 1, "{fault:?}: {sw:?}");
        let sentinel_core::switcher::Reason::BadData { check: c, .. } = &sw[0].1.reason else {
            panic!("{:?}", sw[0].1.reason)
        };
        assert_eq!(c, check);
    }
}

#[test]
fn an_inconsistent_standby_is_never_chosen() {
    let onset = start() + HOUR;
    let mut s = Scenario::new(evm_config(), start(), 22).unwrap();
    // e2 reports a different hash for the same height: a fork or a lie.
    s.set(
        "e2",
        SimProvider::default().fault(start(), start() + 10 * HOUR, Fault::Inconsistent),
    );
    s.set(
        "e1",
        SimProvider::default().fault(onset, onset + HOUR, Fault::Outage),
    );
    s.run_until(onset + HOUR);
    let sw = s.switches();
    assert!(!sw.is_empty());
    assert_eq!(sw[0].1.to.as_str(), "e3", "{sw:?}");
}

#[test]
fn quota_burn_climbs_the_ladder_before_the_limit_and_moves_traffic() {
    let extra = "";
    let mut cfg = api_config(extra);
    // `a` has a free tier of 100k requests a day.
    let toml = r#"quotas = [{ metric = "requests", limit = 100000, period = "day" }]"#;
    cfg.services[0].providers[0].limits = toml::from_str(toml).unwrap();
    let mut s = Scenario::new(cfg, start(), 9).unwrap();
    for id in ["a", "b", "c"] {
        s.set(id, jittery());
    }
    // 2 requests a second: 100k in under 14 h.
    s.burns.push(Burn {
        provider: ProviderId::new("a").unwrap(),
        metric: sentinel_core::books::Metric::Requests,
        per_second: 2,
        from: start(),
        until: start() + 24 * HOUR,
    });
    s.run_until(start() + 23 * HOUR);
    let steps: Vec<(u64, Step)> = s
        .log
        .iter()
        .filter_map(|l| match &l.action {
            Action::BudgetStep { target, to, .. } if target == "a" => Some((l.at, *to)),
            _ => None,
        })
        .collect();
    let order: Vec<Step> = steps.iter().map(|(_, s)| *s).collect();
    // A projection-based alert comes first, well before 80 % is used.
    assert_eq!(order.first(), Some(&Step::Alert), "{steps:?}");
    assert!(
        order.contains(&Step::PreferFree)
            && order.contains(&Step::ScaleDown)
            && order.contains(&Step::Stop),
        "{steps:?}"
    );
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "monotone within the day: {steps:?}"
    );
    // Traffic left `a` for utilization once it passed 80 %, before it was stopped.
    let (at, rec) = s.switches().first().cloned().expect("a switch");
    assert_eq!(rec.reason.name(), "utilization");
    let stop_at = steps
        .iter()
        .find(|(_, s)| *s == Step::Stop)
        .map(|(t, _)| *t)
        .unwrap();
    assert!(at < stop_at, "switched at {at}, stopped at {stop_at}");
    assert!(s.alerts().iter().any(|(_, k, f)| k == "budget:a" && *f));
}

#[test]
fn repeated_failures_are_damped_not_flapped() {
    // `a` and `b` both fail on and off; `c` stays healthy. The sentinel
    // should end up on `c` and stay, not bounce between a and b.
    let mut s = scenario(13);
    let mut a = jittery();
    let mut b = jittery();
    for k in 0..6u64 {
        let t = start() + HOUR + k * 40 * MINUTE;
        a = a.fault(t, t + 5 * MINUTE, Fault::Outage);
        b = b.fault(t + 20 * MINUTE, t + 25 * MINUTE, Fault::Outage);
    }
    s.set("a", a);
    s.set("b", b);
    s.run_until(start() + 8 * HOUR);
    let sw = s.switches();
    assert!(sw.len() <= 3, "flapping: {sw:?}");
    assert_eq!(s.active("prices").as_deref(), Some("c"));
}

#[test]
fn the_same_seed_gives_the_same_story() {
    let run = |seed| {
        let mut s = scenario(seed);
        s.set(
            "a",
            jittery().fault(start() + HOUR, start() + 2 * HOUR, Fault::Outage),
        );
        s.run_until(start() + 6 * HOUR);
        (s.log, s.engine.state().to_bytes())
    };
    assert_eq!(run(42), run(42));
}

#[test]
fn an_old_outage_does_not_bar_a_recovered_provider() {
    // `a` was down for 10 minutes an hour ago and has answered ever since;
    // when `b` slows down and `c` is gone, `a` must be taken back.
    let mut s = scenario(17);
    s.set(
        "a",
        jittery().fault(start() + HOUR, start() + HOUR + 10 * MINUTE, Fault::Outage),
    );
    s.set(
        "c",
        jittery().fault(
            start() + HOUR + 30 * MINUTE,
            start() + 5 * HOUR,
            Fault::Outage,
        ),
    );
    let slow_from = start() + 2 * HOUR;
    s.set(
        "b",
        jittery().fault(
            slow_from,
            start() + 5 * HOUR,
            Fault::Slow { extra_ms: 1500 },
        ),
    );
    s.run_until(start() + 3 * HOUR);
    let sw = s.switches();
    let back: Vec<_> = sw.iter().filter(|(t, _)| *t >= slow_from).collect();
    assert_eq!(back.len(), 1, "{sw:?}");
    assert_eq!(back[0].1.to.as_str(), "a");
    assert_eq!(back[0].1.reason.name(), "latency");
}

#[test]
fn a_scenario_is_the_shipped_tick_and_its_store() {
    // Every step is `Sentinel::tick`: what the scenario logs is what the
    // tick committed to the store's audit log, the store holds the state
    // the engine has, and a budgeted store is written at most once a tick.
    let onset = start() + HOUR;
    let run = |store: MemoryStore| {
        let mut s = Scenario::with_store(api_config(""), start(), 7, store).unwrap();
        for id in ["a", "b", "c"] {
            s.set(id, jittery());
        }
        s.set(
            "a",
            jittery().fault(onset, onset + 30 * MINUTE, Fault::Outage),
        );
        s.run_until(onset + HOUR);
        s
    };
    // The KV-like store's budget is raised past what the scenario can
    // spend: this is about last-writer-wins against compare-and-swap, and
    // a store's pacing (tests/write_budget.rs) would change the story.
    let kv_like = || {
        MemoryStore::with(sentinel_core::tick::Capabilities {
            writes_per_day: Some(1_000_000),
            ..MemoryStore::kv_like().caps
        })
    };
    for s in [run(MemoryStore::default()), run(kv_like())] {
        let store = s.sentinel().store();
        let audit: Vec<_> = store
            .audit
            .borrow()
            .iter()
            .map(|e| (e.at, e.action.clone()))
            .collect();
        let logged: Vec<_> = s.log.iter().map(|l| (l.at, l.action.clone())).collect();
        assert_eq!(audit, logged);
        assert_eq!(s.switches().len(), 1, "{:?}", s.switches());
        let stored = store.state.borrow().clone().unwrap();
        assert_eq!(Some(stored.version), s.sentinel().version());
        let committed = State::from_bytes(&stored.bytes).unwrap();
        assert_eq!(committed.providers, s.engine.state().providers);
        assert_eq!(committed.services, s.engine.state().services);
        let writes = store.writes.get();
        if store.caps.budgeted() {
            assert!(writes <= s.ticks, "{writes} writes in {} ticks", s.ticks);
        } else {
            assert!(writes > s.ticks, "a write-ahead log and a commit a tick");
        }
    }
    // The store changes nothing of the story.
    let (cas, kv) = (run(MemoryStore::default()), run(kv_like()));
    assert_eq!(cas.log, kv.log);
    assert_eq!(cas.engine.state().providers, kv.engine.state().providers);
}

#[test]
fn a_failing_tick_is_an_error_and_keeps_the_providers() {
    let mut s = scenario(3);
    s.run_until(start() + 10 * MINUTE);
    // More conflicting writers than the tick retries: it gives up, and
    // the scenario says so instead of panicking.
    s.sentinel().store().conflicts_to_inject.set(10);
    let err = s.try_run_until(start() + 20 * MINUTE).unwrap_err();
    assert!(
        matches!(err, SimError::Tick(TickError::Contended(_))),
        "{err}"
    );
    assert_eq!(
        s.providers.len(),
        3,
        "the providers are back from the prober"
    );
    // Once the other writers are quiet, it goes on from their state.
    s.sentinel().store().conflicts_to_inject.set(0);
    s.try_run_until(start() + 30 * MINUTE).unwrap();
    assert_eq!(s.active("prices").as_deref(), Some("a"));
}

fn jitter_config() -> sentinel_core::config::Config {
    sentinel_core::config::Config::from_toml(
        r#"
[sentinel]
id = "jitter"
allow_private_targets = true

[[service]]
id = "prices"
kind = "api"
probe_interval = "10s"
target_latency = "200ms"

[service.probe]
path = "/health"
timeout = "5s"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"

[[service.provider]]
id = "c"
endpoint = "http://127.0.0.1:9003"
"#,
    )
    .unwrap()
}

/// Issue 12: harmless jitter (answers uniformly in 0–300 ms, mean 150 ms,
/// under the 200 ms target) after an hour at a 1 ms loopback baseline
/// never switches, over 24 simulated hours on three seeds; a real slowdown
/// (2 s answers) still switches for latency within a minute.
#[test]
fn harmless_jitter_never_switches_and_a_real_slowdown_does_within_a_minute() {
    use sentinel_core::time::{HOUR, MINUTE};
    let jittery = SimProvider {
        base_latency_ms: 0,
        jitter_ms: 300,
        ..SimProvider::default()
    };
    let loopback = SimProvider {
        base_latency_ms: 1,
        jitter_ms: 0,
        ..SimProvider::default()
    };
    for seed in [1, 2, 3] {
        let mut s = Scenario::new(jitter_config(), start(), seed).unwrap();
        for id in ["a", "b", "c"] {
            s.set(id, loopback.clone());
        }
        s.run_until(start() + HOUR);
        for id in ["a", "b", "c"] {
            s.set(id, jittery.clone());
        }
        s.run_until(start() + 25 * HOUR);
        let switches = s.switches();
        assert!(
            switches.is_empty(),
            "seed {seed}: {} switches, first {:?}",
            switches.len(),
            switches
                .first()
                .map(|(at, r)| ((at - start()) / 1000, r.reason.name()))
        );

        // Now a real slowdown of the active provider.
        let onset = s.now;
        s.set(
            "a",
            jittery
                .clone()
                .fault(onset, onset + HOUR, Fault::Slow { extra_ms: 2_000 }),
        );
        s.run_until(onset + 2 * MINUTE);
        let (at, record) = s
            .switches()
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("seed {seed}: no switch after a 2 s slowdown"));
        assert_eq!(record.reason.name(), "latency", "seed {seed}");
        assert!(
            at - onset <= MINUTE,
            "seed {seed}: switched {} s after the slowdown",
            (at - onset) / 1000
        );
    }
}

/// Issue 13: a burn fast enough to cross 90 % within the 10-minute dwell
/// moves traffic at the `prefer free` step, as urgently as an outage,
/// before the provider is stopped at 100 %.
#[test]
fn budget_pressure_moves_traffic_before_the_stop_without_waiting_for_the_dwell() {
    let mut cfg = api_config("");
    let toml = r#"quotas = [{ metric = "requests", limit = 100000, period = "day" }]"#;
    cfg.services[0].providers[0].limits = toml::from_str(toml).unwrap();
    let mut s = Scenario::new(cfg, start(), 12).unwrap();
    for id in ["a", "b", "c"] {
        s.set(id, jittery());
    }
    // 300 requests a second: 100k in under six minutes, well inside the
    // 10-minute dwell on the initial provider.
    s.burns.push(Burn {
        provider: ProviderId::new("a").unwrap(),
        metric: sentinel_core::books::Metric::Requests,
        per_second: 300,
        from: start(),
        until: start() + HOUR,
    });
    s.run_until(start() + 10 * MINUTE);
    let (at, rec) = s.switches().first().cloned().expect("a switch");
    assert_eq!(rec.reason.name(), "budget-pressure", "{rec:?}");
    assert!(at < start() + 10 * MINUTE, "within the dwell");
    let stopped = s.log.iter().find_map(|l| match &l.action {
        Action::BudgetStep { target, to, .. } if target == "a" && *to == Step::Stop => Some(l.at),
        _ => None,
    });
    assert!(
        stopped.is_none_or(|t| at < t),
        "switched at {at}, stopped at {stopped:?}"
    );
}
