#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shared tick against the in-memory store and simulated providers:
//! write-ahead observations, conditional commits with conflict recovery,
//! and replay after a crash.

mod common;

use common::{api_config, start};
use futures_util::FutureExt;
use sentinel_core::action::Action;
use sentinel_core::sim::{Fault, MemoryStore, SimProber, SimProvider};
use sentinel_core::tick::Sentinel;
use sentinel_core::time::{MINUTE, SECOND};
use sentinel_core::{ProviderId, State};

/// The tick's futures complete without a runtime when the store and
/// prober are synchronous fakes.
fn block<F: std::future::Future>(f: F) -> F::Output {
    f.now_or_never().expect("fake store and prober never wait")
}

fn clock(p: &SimProber) -> impl Fn() -> u64 {
    let t = p.now.clone();
    move || t.get()
}

#[test]
fn ticks_commit_state_and_audit_and_switch_once() {
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 1);
    let onset = start() + 5 * MINUTE;
    prober.providers.borrow_mut().insert(
        ProviderId::new("a").unwrap(),
        SimProvider::default().fault(onset, onset + 30 * MINUTE, Fault::Outage),
    );
    let mut s = block(Sentinel::open(api_config(""), store, prober, start())).unwrap();
    let mut switches = 0;
    for _ in 0..200 {
        let now = s.prober().now.get();
        let r = {
            let c = clock(s.prober());
            block(s.tick(&c))
        }
        .unwrap();
        switches += r
            .actions
            .iter()
            .filter(|a| matches!(a, Action::Switch { .. }))
            .count();
        let next = r.next_wakeup.max(now + SECOND);
        s.prober().now.set(next);
        if next > onset + 10 * MINUTE {
            break;
        }
    }
    assert_eq!(switches, 1);
    let audit = s.store().audit.borrow();
    assert_eq!(
        audit
            .iter()
            .filter(|e| matches!(e.action, Action::Switch { .. }))
            .count(),
        1
    );
    let stored = State::from_bytes(&s.store().state.borrow().as_ref().unwrap().bytes).unwrap();
    assert_ne!(
        stored.services["prices"]
            .active
            .as_ref()
            .map(|p| p.as_str()),
        Some("a")
    );
    assert!(!s.store().observations.borrow().is_empty());
}

#[test]
fn a_conflicting_commit_is_redone_not_doubled() {
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 2);
    let mut s = block(Sentinel::open(api_config(""), store, prober, start())).unwrap();
    let first = {
        let c = clock(s.prober());
        block(s.tick(&c))
    }
    .unwrap();
    s.store().conflicts_to_inject.set(2);
    s.prober().now.set(first.next_wakeup);
    let r = {
        let c = clock(s.prober());
        block(s.tick(&c))
    }
    .unwrap();
    assert_eq!(r.conflicts, 2);
    // The re-ingested observations were applied exactly once.
    let stored = State::from_bytes(&s.store().state.borrow().as_ref().unwrap().bytes).unwrap();
    let a = &stored.providers["a"];
    let probes: u64 = a
        .daily
        .sum(s.prober().now.get(), sentinel_core::time::DAY, 30)
        .total();
    assert_eq!(probes, 2, "one probe per tick, no double counting");
    s.store().conflicts_to_inject.set(10);
    s.prober().now.set(r.next_wakeup);
    assert!(
        {
            let c = clock(s.prober());
            block(s.tick(&c))
        }
        .is_err(),
        "gives up, loudly, when contention persists"
    );
}

#[test]
fn observations_logged_before_a_crash_are_replayed() {
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 3);
    let mut s = block(Sentinel::open(api_config(""), store, prober, start())).unwrap();
    {
        let c = clock(s.prober());
        block(s.tick(&c))
    }
    .unwrap();
    // The next tick's probes are logged, then the process dies before the
    // commit: simulate by logging observations directly.
    let store = MemoryStore::default();
    *store.state.borrow_mut() = s.store().state.borrow().clone();
    store
        .observations
        .borrow_mut()
        .extend(s.store().observations.borrow().iter().cloned());
    let mut late: Vec<_> = s.store().observations.borrow().clone();
    for o in &mut late {
        o.at += 31 * SECOND;
    }
    store.observations.borrow_mut().extend(late.clone());
    let prober = SimProber::new(start() + 40 * SECOND, 3);
    let reopened = block(Sentinel::open(
        api_config(""),
        store,
        prober,
        start() + 40 * SECOND,
    ))
    .unwrap();
    let a = &reopened.engine().state().providers["a"];
    assert_eq!(
        a.watermark.map(|w| w.0),
        late.iter()
            .find(|o| o.provider.as_str() == "a")
            .map(|o| o.at)
    );
}

#[test]
fn the_memory_store_meets_the_store_contract() {
    block(sentinel_core::sim::conformance::run(&MemoryStore::default())).unwrap();
}

#[test]
fn a_kv_like_store_meets_the_store_contract() {
    block(sentinel_core::sim::conformance::run(&MemoryStore::kv_like())).unwrap();
}

#[test]
fn overlapping_ticks_lose_nothing_and_switch_once_on_every_capability() {
    for store in [MemoryStore::default(), MemoryStore::kv_like()] {
        block(sentinel_core::sim::conformance::overlapping_ticks(&store))
            .unwrap_or_else(|e| panic!("{:?}: {e}", store.caps));
        // No audit entry twice.
        let audit = store.audit.borrow();
        for (i, a) in audit.iter().enumerate() {
            assert!(
                !audit[..i].contains(a),
                "{:?}: audit entry written twice: {a:?}",
                store.caps
            );
        }
        assert_eq!(
            audit
                .iter()
                .filter(|e| matches!(e.action, Action::Switch { .. }))
                .count(),
            1,
            "{:?}",
            store.caps
        );
    }
}

/// A conflict rebases this sentinel's inputs on the winner's state: the
/// foreign writer's change survives (merge, not overwrite), and usage
/// recorded before the conflict is still booked.
#[test]
fn a_conflict_merges_the_winner_and_keeps_recorded_usage() {
    use sentinel_core::books::Metric;
    use sentinel_core::engine::{EventKind, UsageTarget};
    use sentinel_core::sim::FOREIGN_SOURCE;
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 4);
    let mut s = block(Sentinel::open(api_config(""), &store, prober, start())).unwrap();
    s.record_kinds(
        start(),
        vec![EventKind::Usage {
            target: UsageTarget::Provider(ProviderId::new("a").unwrap()),
            metric: Metric::Requests,
            amount: 1234,
        }],
    );
    store.conflicts_to_inject.set(1);
    let r = {
        let c = clock(s.prober());
        block(s.tick(&c))
    }
    .unwrap();
    assert_eq!(r.conflicts, 1);
    let stored = State::from_bytes(&store.state.borrow().as_ref().unwrap().bytes).unwrap();
    assert!(
        stored.usage_watermarks.contains_key(FOREIGN_SOURCE),
        "the winner's write was overwritten"
    );
    let used = stored.providers["a"].ledger.requests;
    assert!(used >= 1234, "recorded usage lost in the conflict: {used}");
}

/// A budgeted store (KV-like) is written at most once per tick, never
/// ahead of the commit, and not at all by a wake-up that did nothing. Over
/// an hour of healthy ticks every 30 s.
#[test]
fn a_budgeted_store_gets_one_write_per_tick_and_none_when_idle() {
    let store = MemoryStore::kv_like();
    let prober = SimProber::new(start(), 5);
    let mut s = block(Sentinel::open(api_config(""), &store, prober, start())).unwrap();
    let (mut ticks, mut idle_wakeups, mut idle_writes) = (0u64, 0u64, 0u64);
    let end = start() + sentinel_core::time::HOUR;
    while s.prober().now.get() < end {
        let before = store.writes.get();
        let r = {
            let c = clock(s.prober());
            block(s.tick(&c))
        }
        .unwrap();
        ticks += 1;
        assert!(
            store.writes.get() - before <= 1,
            "more than one write in a tick"
        );
        assert_eq!(r.writes as u64, store.writes.get() - before);
        // A wake-up between due probes: nothing to do, nothing written.
        let now = s.prober().now.get();
        if r.next_wakeup > now + 2 * SECOND {
            s.prober().now.set(now + SECOND);
            let before = store.writes.get();
            let idle = {
                let c = clock(s.prober());
                block(s.tick(&c))
            }
            .unwrap();
            idle_wakeups += 1;
            idle_writes += store.writes.get() - before;
            assert_eq!(idle.probes, 0);
        }
        s.prober().now.set(r.next_wakeup.max(now + SECOND));
    }
    let writes = store.writes.get();
    eprintln!(
        "{ticks} ticks, {writes} writes, {idle_wakeups} idle wake-ups, {idle_writes} idle writes"
    );
    assert!(ticks >= 100, "{ticks}");
    assert!(writes <= ticks);
    assert!(idle_wakeups >= 100);
    assert_eq!(idle_writes, 0);
    // The writes are booked in the sentinel's own footprint.
    let stored = State::from_bytes(&store.state.borrow().as_ref().unwrap().bytes).unwrap();
    // The footprint counts the sentinel's probes (one request each) and
    // its store writes.
    let probes: u64 = stored
        .providers
        .values()
        .map(|p| {
            p.hourly
                .sum(
                    end + sentinel_core::time::HOUR,
                    sentinel_core::time::HOUR,
                    24,
                )
                .total()
        })
        .sum();
    let booked = stored.footprint.requests - probes;
    assert_eq!(booked, writes, "booked {booked}, made {writes}");
}

/// A shell that cannot keep up (a cron-driven shell waking once a minute
/// with a budget of 10 probes per tick, for 40 providers every 30 s): the
/// deferred probes and the real interval show in the metrics, and the
/// `schedule-behind` alert fires — while a shell that wakes when probes
/// are due, with room for them, raises nothing.
#[test]
fn a_schedule_that_falls_behind_is_measured_and_alerted() {
    let mut text = String::from(
        "[sentinel]\nid = \"behind\"\nallow_private_targets = true\n\n[[service]]\nid = \"s\"\nkind = \"api\"\nprobe_interval = \"30s\"\n[service.probe]\npath = \"/\"\n",
    );
    for i in 0..40 {
        text.push_str(&format!(
            "\n[[service.provider]]\nid = \"p{i}\"\nendpoint = \"http://127.0.0.1:{}\"\n{}\n",
            9000 + i,
            if i == 0 { "initial = \"active\"" } else { "" }
        ));
    }
    let cfg = sentinel_core::config::Config::from_toml(&text).unwrap();
    for (budget, behind) in [(10u32, true), (100, false)] {
        let store = MemoryStore::default();
        let prober = SimProber::new(start(), 6);
        let mut s = block(Sentinel::open(cfg.clone(), &store, prober, start())).unwrap();
        s.set_probe_budget(budget);
        let mut fired = false;
        for _ in 0..60 {
            let r = {
                let c = clock(s.prober());
                block(s.tick(&c))
            }
            .unwrap();
            fired |= r.actions.iter().any(
                |a| matches!(a, Action::Alert { key, firing: true, .. } if key == "schedule-behind"),
            );
            let now = s.prober().now.get();
            let next = if behind {
                now + 60 * SECOND
            } else {
                r.next_wakeup.max(now + SECOND)
            };
            s.prober().now.set(next);
        }
        let metrics = sentinel_core::metrics::render(s.engine(), s.prober().now.get());
        assert_eq!(fired, behind, "budget {budget}");
        let line = |name: &str| {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} missing"))
                .to_string()
        };
        assert_eq!(
            line("sentinel_probe_budget "),
            format!("sentinel_probe_budget {budget}")
        );
        let worst_interval = metrics
            .lines()
            .filter(|l| l.starts_with("sentinel_provider_probe_interval_seconds{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(0.0, f64::max);
        if behind {
            assert!(worst_interval > 45.0, "real interval {worst_interval}");
        } else {
            assert!(worst_interval <= 31.0, "real interval {worst_interval}");
            assert_eq!(
                line("sentinel_probes_deferred "),
                "sentinel_probes_deferred 0"
            );
        }
    }
}
