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
/// an hour of healthy ticks every 30 s, with a budget this hour cannot
/// reach (pacing to the budget is tests/write_budget.rs).
#[test]
fn a_budgeted_store_gets_one_write_per_tick_and_none_when_idle() {
    let store = MemoryStore::with(sentinel_core::tick::Capabilities {
        writes_per_day: Some(100_000),
        ..MemoryStore::kv_like().caps
    });
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
    // Its store reads are booked too, in the next commit: the open's two,
    // a load per wake-up (idle ones included) and one more before each
    // last-writer-wins write; only what came after the last commit waits.
    let booked = stored.footprint.requests - probes;
    let reads = 2 * ticks + idle_wakeups;
    assert!(
        (writes + reads..=writes + reads + 2).contains(&booked),
        "booked {booked}: {writes} writes and about {reads} reads"
    );
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
    // (probe budget, the shell's wake-up period if it says it, expected).
    // A shell waking every 60 s (a cron) probes a 30 s service up to 60 s
    // late: when it says its period, that is the schedule, not falling
    // behind; when it does not, the lateness is all the sentinel can see.
    for (budget, cron, behind) in [
        (10u32, None, true),
        (100, None, false),
        (100, Some(60 * SECOND), false),
        (10, Some(60 * SECOND), true),
    ] {
        let store = MemoryStore::default();
        let prober = SimProber::new(start(), 6);
        let mut s = block(Sentinel::open(cfg.clone(), &store, prober, start())).unwrap();
        s.set_probe_budget(budget);
        if let Some(p) = cron {
            s.set_wake_period(p);
        }
        let wakes_every_minute = budget == 10 || cron.is_some();
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
            let next = if wakes_every_minute {
                now + 60 * SECOND
            } else {
                r.next_wakeup.max(now + SECOND)
            };
            s.prober().now.set(next);
        }
        let metrics = sentinel_core::metrics::render(s.engine(), s.prober().now.get());
        assert_eq!(fired, behind, "budget {budget}, wake period {cron:?}");
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
        if wakes_every_minute {
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

/// Event sources that come and go (one per Lambda instance) do not grow
/// the state: a source silent for the two-day event window is forgotten,
/// and an event older than the window is refused, not applied twice.
#[test]
fn event_sources_that_come_and_go_stay_bounded() {
    use sentinel_core::books::Metric;
    use sentinel_core::engine::{Event, EventKind, UsageTarget};
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 7);
    let mut s = block(Sentinel::open(api_config(""), &store, prober, start())).unwrap();
    let ev = |source: String, seq: u64, at: u64| Event {
        source,
        seq,
        at,
        kind: EventKind::Usage {
            target: UsageTarget::Provider(ProviderId::new("a").unwrap()),
            metric: Metric::Requests,
            amount: 1,
        },
    };
    for i in 0..200 {
        let r = s.record(start(), &[ev(format!("lambda-{i}"), 1, start())]);
        assert_eq!(r.applied, 1);
    }
    assert!(s.engine().state().usage_watermarks.len() >= 200);
    let later = start() + 3 * sentinel_core::time::DAY;
    let r = s.record(later, &[ev("lambda-new".into(), 1, later)]);
    assert_eq!(r.applied, 1);
    let st = s.engine().state();
    assert!(
        st.usage_watermarks.len() <= 2 && st.usage_seen.len() <= 2,
        "{:?}",
        st.usage_watermarks.keys().collect::<Vec<_>>()
    );
    // A replay of a forgotten source's old event is refused, not re-applied.
    let r = s.record(later, &[ev("lambda-7".into(), 1, start())]);
    assert_eq!((r.applied, r.rejected.len()), (0, 1), "{r:?}");
}

/// Proxied usage journaled between ticks survives a crash: a sentinel
/// reopened on the store books it, once.
#[test]
fn journaled_usage_survives_a_crash_and_is_booked_once() {
    use sentinel_core::books::Metric;
    use sentinel_core::engine::{EventKind, UsageTarget};
    use sentinel_core::tick::Store;
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 8);
    let mut s = block(Sentinel::open(api_config(""), &store, prober, start())).unwrap();
    {
        let c = clock(s.prober());
        block(s.tick(&c)).unwrap();
    }
    let before = State::from_bytes(&store.state.borrow().as_ref().unwrap().bytes)
        .unwrap()
        .providers["a"]
        .ledger
        .requests;
    let events = sentinel_core::proxy::stamp(
        vec![EventKind::Usage {
            target: UsageTarget::Provider(ProviderId::new("a").unwrap()),
            metric: Metric::Requests,
            amount: 500,
        }],
        "sim/proxy",
        &mut 0,
        start() + SECOND,
    );
    block(store.journal(&events)).unwrap();
    drop(s); // kill -9: nothing else is written
    let prober = SimProber::new(start() + 2 * SECOND, 8);
    let mut s = block(Sentinel::open(
        api_config(""),
        &store,
        prober,
        start() + 2 * SECOND,
    ))
    .unwrap();
    for _ in 0..2 {
        let c = clock(s.prober());
        block(s.tick(&c)).unwrap();
        let now = s.prober().now.get();
        s.prober().now.set(now + 31 * SECOND);
    }
    let after = State::from_bytes(&store.state.borrow().as_ref().unwrap().bytes).unwrap();
    let requests = after.providers["a"].ledger.requests;
    // 500 proxied, plus this run's probes of `a` (at most 2).
    assert!(
        (before + 500..=before + 502).contains(&requests),
        "before {before}, after {requests}"
    );
    assert!(
        store.journal.borrow().is_empty(),
        "the commit dropped what it absorbed"
    );
    // Reopening again books nothing twice.
    let prober = SimProber::new(start() + 70 * SECOND, 8);
    let s = block(Sentinel::open(
        api_config(""),
        &store,
        prober,
        start() + 70 * SECOND,
    ))
    .unwrap();
    assert_eq!(s.engine().state().providers["a"].ledger.requests, requests);
}

/// The state in parts joins into exactly `State::to_bytes`, for a
/// scenario's state and for provider counts whose length prefix takes one
/// and two bytes.
#[test]
fn the_state_in_parts_joins_into_its_whole_encoding() {
    use sentinel_core::encoded::EncodedState;
    use sentinel_core::lifecycle::Lifecycle;
    use sentinel_core::state::ProviderState;
    let mut s = sentinel_core::sim::Scenario::new(api_config(""), start(), 9).unwrap();
    s.run_until(start() + 2 * sentinel_core::time::HOUR);
    let state = s.engine.state().clone();
    let enc = EncodedState::of(&state);
    assert_eq!(enc.providers.len(), state.providers.len());
    assert_eq!(enc.to_bytes(), state.to_bytes());
    for n in [0usize, 1, 127, 128, 130] {
        let mut st = state.clone();
        st.providers.clear();
        for i in 0..n {
            let ps = ProviderState::new(
                sentinel_core::ServiceId::new("prices").unwrap(),
                Lifecycle::Standby,
                start() + i as u64,
            );
            st.providers
                .insert(ProviderId::new(format!("p{i:03}")).unwrap(), ps);
        }
        let bytes = EncodedState::of(&st).to_bytes();
        assert_eq!(bytes, st.to_bytes(), "{n} providers");
        assert_eq!(State::from_bytes(&bytes).unwrap(), st);
    }
    assert_eq!(EncodedState::opaque(b"x".to_vec()).to_bytes(), b"x");
}

/// The sentinel books its own store reads and the invocations its shell
/// counted in the commit they belong to (never a write of their own), and
/// the probes it sent as they are observed.
#[test]
fn own_reads_probes_and_invocations_ride_in_the_commit() {
    use sentinel_core::books::Metric;
    let mut cfg = api_config("");
    for metric in [
        Metric::Reads,
        Metric::Requests,
        Metric::Invocations,
        Metric::Writes,
    ] {
        cfg.sentinel
            .footprint
            .quotas
            .push(sentinel_core::books::spec::Quota {
                metric,
                limit: 1_000_000,
                period: sentinel_core::books::spec::Period::Day,
                reset_offset: Default::default(),
            });
    }
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 9);
    let mut s = block(Sentinel::open(cfg, &store, prober, start())).unwrap();
    let mut probes = 0u64;
    let mut ticks = 0u64;
    let mut writes = 0u64;
    for _ in 0..10 {
        s.count_invocation();
        let r = {
            let c = clock(s.prober());
            block(s.tick(&c))
        }
        .unwrap();
        probes += u64::from(r.probes);
        writes += u64::from(r.writes);
        ticks += 1;
        let now = s.prober().now.get();
        s.prober().now.set(now + 60 * SECOND);
    }
    assert!(probes >= 30, "three providers probed every tick: {probes}");
    let now = s.prober().now.get();
    let used = |m: Metric| {
        s.engine()
            .footprint_status(now)
            .iter()
            .find(|q| q.metric == m)
            .map(|q| q.used)
            .unwrap()
    };
    // Each commit books what happened up to it: everything but what the
    // last tick did after its own commit began.
    assert_eq!(used(Metric::Writes), writes);
    assert_eq!(used(Metric::Requests), probes);
    assert_eq!(used(Metric::Invocations), ticks);
    // The open (state and log) and one load per tick.
    assert_eq!(used(Metric::Reads), 2 + ticks);
    // This store is unbudgeted: the observations' write-ahead log and the
    // commit, and nothing more for the booking.
    assert_eq!(writes, 2 * ticks, "no extra write for the booking");
}

/// A shell that opens a new sentinel for every wake-up (a Worker's
/// isolate, a Lambda invocation) writes nothing on a wake-up with nothing
/// due: the observations the log still holds for peers were absorbed
/// already, and are not replayed as new.
#[test]
fn a_sentinel_opened_per_wake_up_writes_nothing_when_idle() {
    for caps in [MemoryStore::kv_like().caps, MemoryStore::default().caps] {
        let store = MemoryStore::with(caps);
        let mut idle_writes = 0;
        let mut idle_wakeups = 0;
        let mut now = start();
        let end = start() + 20 * sentinel_core::time::MINUTE;
        while now < end {
            let prober = SimProber::new(now, 9);
            let mut s = block(Sentinel::open(api_config(""), &store, prober, now)).unwrap();
            let before = store.writes.get();
            let r = {
                let c = clock(s.prober());
                block(s.tick(&c))
            }
            .unwrap();
            if r.probes == 0 {
                idle_wakeups += 1;
                idle_writes += store.writes.get() - before;
            }
            // Wake every 5 s, as a cron faster than the probe interval.
            now += 5 * SECOND;
        }
        eprintln!("{caps:?}: {idle_wakeups} idle wake-ups, {idle_writes} writes");
        assert!(idle_wakeups >= 100, "{idle_wakeups}");
        assert_eq!(idle_writes, 0, "{caps:?}");
    }
}
