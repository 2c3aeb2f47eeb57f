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
