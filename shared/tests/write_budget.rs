#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sentinel paces its own writes to a budgeted store
//! (`sentinel_core::books::pace`): a simulated day on Workers KV's free
//! plan (1,000 writes a day) stays under the budget at a 1- and a 2-minute
//! cron, an outage at noon is still switched away from within minutes,
//! the footprint alert still fires when something else spends the budget,
//! and an unbudgeted store is not paced at all.

mod common;

use common::start;
use futures_util::FutureExt;
use sentinel_core::action::Action;
use sentinel_core::books::Metric;
use sentinel_core::config::Config;
use sentinel_core::engine::{EventKind, UsageTarget};
use sentinel_core::host::kv::{KvStore, MemoryKv};
use sentinel_core::sim::{Fault, MemoryStore, SimProber, SimProvider};
use sentinel_core::tick::{Prober, Sentinel, Store};
use sentinel_core::time::{DAY, HOUR, MINUTE};
use sentinel_core::{ProviderId, State};

const SERVICES: usize = 5;
const PER_SERVICE: usize = 10;

fn block<F: std::future::Future>(f: F) -> F::Output {
    f.now_or_never().expect("fake store and prober never wait")
}

/// 50 providers in 5 services (`s{i}p0` active in each), probed every
/// 60 s.
fn config() -> Config {
    let mut text = String::from("[sentinel]\nid = \"paced\"\nallow_private_targets = true\n");
    for s in 0..SERVICES {
        text.push_str(&format!(
            "\n[[service]]\nid = \"s{s}\"\nkind = \"api\"\nprobe_interval = \"60s\"\n[service.probe]\npath = \"/\"\n"
        ));
        for p in 0..PER_SERVICE {
            text.push_str(&format!(
                "\n[[service.provider]]\nid = \"s{s}p{p}\"\nendpoint = \"http://127.0.0.1:{}\"\n{}\n",
                9000 + s * PER_SERVICE + p,
                if p == 0 { "initial = \"active\"" } else { "" }
            ));
        }
    }
    Config::from_toml(&text).unwrap()
}

/// What one simulated day did.
#[derive(Debug, Default)]
struct Day {
    wakeups: u64,
    paced: u64,
    kv_writes: u64,
    booked: u64,
    /// Seconds from the noon outage to the switch away from `s0p0`.
    switch_after: Option<u64>,
    footprint_alerts: u64,
    /// Every alert key that fired.
    fired: std::collections::BTreeSet<String>,
}

fn tick<S: Store, P: Prober>(
    s: &mut Sentinel<S, P>,
    now: &std::rc::Rc<std::cell::Cell<u64>>,
) -> sentinel_core::tick::TickReport {
    let t = now.clone();
    let c = move || t.get();
    block(s.tick(&c)).unwrap()
}

/// A day of wake-ups every `cron` on `KvStore<MemoryKv>` (1,000 writes a
/// day); `s0p0`, the active provider of `s0`, is down from 12:00:30 to
/// 13:00:30.
fn kv_day(cron: u64) -> Day {
    let kv = MemoryKv::default();
    let store = KvStore::new(kv.clone());
    let prober = SimProber::new(start(), 11);
    let onset = start() + 12 * HOUR + 30 * sentinel_core::time::SECOND;
    prober.providers.borrow_mut().insert(
        ProviderId::new("s0p0").unwrap(),
        SimProvider::default().fault(onset, onset + HOUR, Fault::Outage),
    );
    let now = prober.now.clone();
    let mut s = block(Sentinel::open(config(), store, prober, start())).unwrap();
    // Room for every provider in one tick (a Worker's paid plan): this
    // measures the write budget, not the subrequest limit.
    s.set_probe_budget(100);
    let mut day = Day::default();
    let mut t = start();
    while t < start() + DAY {
        now.set(t);
        let before = kv.writes();
        let r = tick(&mut s, &now);
        day.wakeups += 1;
        assert!(kv.writes() - before <= 1, "more than one put in a wake-up");
        if r.paced {
            day.paced += 1;
            assert_eq!(r.probes, 0, "a paced wake-up sends no probe");
            assert_eq!(kv.writes(), before, "a paced wake-up writes nothing");
            assert!(r.next_wakeup > t, "a paced wake-up names a later time");
        }
        for a in &r.actions {
            match a {
                Action::Switch { record }
                    if record.service.as_str() == "s0"
                        && record.from.as_ref().map(|p| p.as_str()) == Some("s0p0")
                        && day.switch_after.is_none() =>
                {
                    day.switch_after = Some((t - onset) / 1_000);
                }
                Action::Alert {
                    key, firing: true, ..
                } => {
                    day.footprint_alerts += u64::from(key == "footprint");
                    day.fired.insert(key.clone());
                }
                _ => {}
            }
        }
        t += cron;
    }
    day.kv_writes = kv.writes();
    let stored = State::from_bytes(&block(s.store().load()).unwrap().unwrap().bytes).unwrap();
    day.booked = stored
        .footprint
        .counter(Metric::Writes, sentinel_core::books::Period::Day)
        .map_or(0, |c| c.used);
    day
}

#[test]
fn a_day_on_workers_kv_stays_under_its_write_budget_and_still_switches() {
    let one = kv_day(MINUTE);
    let two = kv_day(2 * MINUTE);
    for (cron, d) in [(1, &one), (2, &two)] {
        eprintln!(
            "{cron}-minute cron: {} wake-ups, {} paced, {} KV writes in the day ({} booked in the footprint), s0p0 down at 12:00:30 switched away after {:?} s, footprint alerts {}, alerts fired {:?}",
            d.wakeups, d.paced, d.kv_writes, d.booked, d.switch_after, d.footprint_alerts, d.fired
        );
    }
    // Unpaced, a 1-minute cron would commit 1,440 times.
    assert_eq!(one.wakeups, 1_440);
    assert!(one.kv_writes < 1_000, "{one:?}");
    // The budget is spread over the day, not burnt by the afternoon:
    // 75 % of it, plus the burst and what the outage's re-checks took
    // from the reserve.
    assert!(
        (700..=770).contains(&one.kv_writes),
        "paced to 75 %: {one:?}"
    );
    assert!(one.paced >= 600, "{one:?}");
    // Every write is booked in the footprint's daily counter (the writes
    // after the last one booked: none, the booking rides in its commit).
    assert_eq!(one.booked, one.kv_writes, "{one:?}");
    // A 2-minute cron is under the allowance: never paced, one write per
    // wake-up with probes due.
    assert_eq!(two.wakeups, 720);
    assert!(two.kv_writes <= 720, "{two:?}");
    assert!(two.kv_writes >= 700, "{two:?}");
    // The paced day still switches away from the outage within minutes
    // (unpaced, at a 1-minute cron: 3 failed probes a minute apart).
    let after = one.switch_after.expect("the outage was switched away from");
    assert!(after <= 3 * 60, "switched {after} s after the outage");
    let after = two.switch_after.expect("the outage was switched away from");
    assert!(after <= 4 * 60, "switched {after} s after the outage");
    // Paced to 75 %, the footprint ladder (80 %) stays quiet.
    assert_eq!(one.footprint_alerts, 0);
    assert_eq!(two.footprint_alerts, 0);
}

/// When something besides the paced ticks spends the budget (say 800
/// writes by other means), the next wake-up still goes to commit the
/// footprint alert, and the ones after it are paced.
#[test]
fn the_footprint_alert_still_fires_when_the_budget_runs_low() {
    let kv = MemoryKv::default();
    let prober = SimProber::new(start(), 12);
    let now = prober.now.clone();
    let mut s = block(Sentinel::open(
        config(),
        KvStore::new(kv.clone()),
        prober,
        start(),
    ))
    .unwrap();
    s.set_probe_budget(100);
    let mut t = start();
    for _ in 0..10 {
        now.set(t);
        tick(&mut s, &now);
        t += MINUTE;
    }
    // Another writer's usage, booked like the shells book theirs.
    s.record_kinds(
        t,
        vec![EventKind::Usage {
            target: UsageTarget::Sentinel,
            metric: Metric::Writes,
            amount: 800,
        }],
    );
    now.set(t);
    let r = tick(&mut s, &now);
    assert!(!r.paced, "the ladder's news goes through: {r:?}");
    assert!(
        r.actions.iter().any(|a| matches!(
            a,
            Action::Alert { key, firing: true, .. } if key == "footprint"
        )),
        "{:?}",
        r.actions
    );
    // Then the day is paced to its end (800+ is past the 75 % cap).
    t += MINUTE;
    now.set(t);
    let r = tick(&mut s, &now);
    assert!(r.paced);
    assert_eq!(r.next_wakeup, start() + DAY);
}

/// The local store (compare-and-swap, no budget) is not paced: two hours
/// of a 1-minute cron, every wake-up probes and commits.
#[test]
fn an_unbudgeted_store_is_not_paced() {
    let store = MemoryStore::default();
    let prober = SimProber::new(start(), 13);
    let now = prober.now.clone();
    let mut s = block(Sentinel::open(config(), &store, prober, start())).unwrap();
    s.set_probe_budget(100);
    let mut t = start();
    let (mut paced, mut probes) = (0, 0);
    while t < start() + 2 * HOUR {
        now.set(t);
        let r = tick(&mut s, &now);
        paced += u32::from(r.paced);
        probes += u32::from(r.probes > 0);
        t += MINUTE;
    }
    assert_eq!(paced, 0);
    assert_eq!(probes, 120);
    // And no writes quota appears in its footprint.
    assert!(s
        .engine()
        .config()
        .sentinel
        .footprint
        .quota(Metric::Writes, sentinel_core::books::Period::Day)
        .is_none());
}
