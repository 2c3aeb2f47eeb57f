#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The engine's contracts through its public surface: idempotent ingest,
//! compact versioned state, deterministic merge, crash-and-resume
//! equivalence, the probe budget, onboarding, and typed config errors.

mod common;

use common::{api_config, evm_config, start};
use proptest::prelude::*;
use sentinel_core::config::Config;
use sentinel_core::engine::{Engine, Event, EventKind, IncidentKind, UsageTarget};
use sentinel_core::lifecycle::Lifecycle;
use sentinel_core::probe::{Outcome, Purpose};
use sentinel_core::sim::{Fault, Scenario, SimProvider};
use sentinel_core::state::{State, StateError};
use sentinel_core::time::{HOUR, MINUTE, SECOND};
use sentinel_core::{ProviderId, ServiceId};

fn pid(s: &str) -> ProviderId {
    ProviderId::new(s).unwrap()
}

fn run(seed: u64, hours: u64) -> Scenario {
    let mut s = Scenario::new(api_config(""), start(), seed).unwrap();
    s.set(
        "a",
        SimProvider::default().fault(start() + HOUR, start() + HOUR + 10 * MINUTE, Fault::Outage),
    );
    s.run_until(start() + hours * HOUR);
    s
}

#[test]
fn ingesting_the_same_observations_twice_changes_nothing() {
    let s = run(1, 1);
    // The engine's own contract, on a copy of the one the sentinel built
    // (the sentinel ingests only what its own tick observed).
    let mut engine = Engine::clone(&s.engine);
    let now = s.now + 31 * SECOND;
    let plan = engine.plan(now);
    assert!(!plan.probes.is_empty());
    let mut rng = sentinel_core::sim::SimRng::seed(3);
    let obs: Vec<_> = plan
        .probes
        .iter()
        .filter_map(|r| engine.observe(r, now, SimProvider::default().respond(r, now, &mut rng)))
        .collect();
    let first = engine.ingest(now, &obs);
    assert_eq!(first.applied as usize, obs.len());
    let before = engine.state().clone();
    let again = engine.ingest(now, &obs);
    assert_eq!(again.applied, 0);
    assert_eq!(again.duplicates as usize, obs.len());
    assert_eq!(engine.state(), &before);
}

#[test]
fn bad_inputs_are_reported_not_dropped_silently() {
    let mut s = run(2, 1);
    let req = s
        .engine
        .probe_request(&pid("b"), Purpose::Scheduled)
        .unwrap();
    let ok = |at| {
        s.engine
            .observe(
                &req,
                at,
                SimProvider::default().respond(&req, at, &mut sentinel_core::sim::SimRng::seed(1)),
            )
            .unwrap()
    };
    let future = ok(s.now + HOUR);
    let ancient = ok(s.now - 2 * 24 * HOUR);
    let mut stranger = ok(s.now);
    stranger.provider = pid("nobody");
    // Observations reach the engine only through the sentinel's own
    // probes: fed bad ones directly, a copy of its engine reports them.
    let mut engine = Engine::clone(&s.engine);
    let before = engine.state().clone();
    let r = engine.ingest(s.now, &[future, ancient, stranger]);
    assert_eq!(r.applied, 0);
    assert_eq!(r.rejected.len(), 3, "{r:?}");
    assert!(r.rejected.iter().any(|x| x.why.contains("future")));
    assert!(r.rejected.iter().any(|x| x.why.contains("older")));
    assert!(r.rejected.iter().any(|x| x.why.contains("unknown")));
    assert_eq!(engine.state(), &before, "nothing partially applied");

    let ev = |seq, kind| Event {
        source: "proxy".into(),
        seq,
        at: s.now,
        kind,
    };
    let r = s.engine.record(
        s.now,
        &[
            ev(
                1,
                EventKind::Retry {
                    provider: pid("b"),
                    ok: 1,
                    failed: 0,
                },
            ),
            ev(
                1,
                EventKind::Retry {
                    provider: pid("b"),
                    ok: 1,
                    failed: 0,
                },
            ),
            ev(
                2,
                EventKind::Incident {
                    provider: pid("ghost"),
                    kind: IncidentKind::Security,
                },
            ),
            ev(
                3,
                EventKind::Usage {
                    target: UsageTarget::Sentinel,
                    metric: sentinel_core::books::Metric::Writes,
                    amount: 1,
                },
            ),
        ],
    );
    assert_eq!(
        (r.applied, r.duplicates, r.rejected.len()),
        (2, 1, 1),
        "{r:?}"
    );
}

#[test]
fn state_round_trips_compactly_and_rejects_garbage() {
    let s = run(3, 26);
    let st = s.engine.state();
    let bytes = st.to_bytes();
    let back = State::from_bytes(&bytes).unwrap();
    assert_eq!(&back, st);
    let json = serde_json::to_string(st).unwrap();
    let per_provider = bytes.len() / st.providers.len();
    eprintln!(
        "state: {} bytes binary, {} bytes JSON, {per_provider} bytes per provider",
        bytes.len(),
        json.len()
    );
    assert!(
        per_provider < 4096,
        "a few KiB per provider at most, got {per_provider}"
    );
    assert_eq!(State::from_bytes(b"nope"), Err(StateError::BadMagic));
    let mut other_version = bytes.clone();
    other_version[4] = 99;
    assert!(matches!(
        State::from_bytes(&other_version),
        Err(StateError::Version { found: 99 })
    ));
    assert!(matches!(
        State::from_bytes(&bytes[..bytes.len() / 2]),
        Err(StateError::Corrupt(_))
    ));
}

#[test]
fn evm_state_with_facts_round_trips() {
    let mut s = Scenario::new(evm_config(), start(), 4).unwrap();
    s.run_until(start() + 10 * MINUTE);
    let st = s.engine.state();
    assert!(st.providers.values().all(|p| p.facts.is_some()));
    assert_eq!(&State::from_bytes(&st.to_bytes()).unwrap(), st);
}

#[test]
fn a_crash_and_resume_from_saved_state_tells_the_same_story() {
    let uninterrupted = run(5, 4);
    // Same run, but the sentinel is torn down and opened again on its
    // store every 10 minutes, as a shell that restarts (or a Worker, every
    // tick) would.
    let mut s = Scenario::new(api_config(""), start(), 5).unwrap();
    s.set(
        "a",
        SimProvider::default().fault(start() + HOUR, start() + HOUR + 10 * MINUTE, Fault::Outage),
    );
    let mut t = start();
    while t < start() + 4 * HOUR {
        t += 10 * MINUTE;
        s.run_until(t.min(start() + 4 * HOUR));
        let version = s.sentinel().version();
        s.restart().unwrap();
        assert_eq!(s.sentinel().version(), version);
    }
    assert_eq!(s.switches(), uninterrupted.switches());
    // The score timeline and the hourly score snapshots sample the total
    // at decisions, whose moments a restart shifts by the time to the next
    // probe; everything counted from observations must be identical.
    let unsampled = |st: &State| {
        let mut p = st.providers.clone();
        for ps in p.values_mut() {
            ps.card_ref.clear();
            ps.timeline = Default::default();
        }
        p
    };
    assert_eq!(
        unsampled(s.engine.state()),
        unsampled(uninterrupted.engine.state())
    );
}

#[test]
fn merge_is_commutative_associative_and_idempotent() {
    let a = run(6, 2).engine.state().clone();
    let b = run(7, 3).engine.state().clone();
    let c = run(8, 1).engine.state().clone();
    assert_eq!(a.merge(&b), b.merge(&a));
    assert_eq!(a.merge(&b).merge(&c), a.merge(&b.merge(&c)));
    assert_eq!(a.merge(&a), a);
    // The replica that saw more wins per provider.
    let m = a.merge(&b);
    assert_eq!(m.providers["a"].watermark, b.providers["a"].watermark);
}

#[test]
fn the_probe_budget_defers_without_starving() {
    let mut text = String::from("[sentinel]\nid = \"budget\"\nprobe_budget_per_tick = 10\n");
    for s in 0..6 {
        text.push_str(&format!("[[service]]\nid = \"s{s}\"\nkind = \"api\"\n"));
        for p in 0..5 {
            text.push_str(&format!("[[service.provider]]\nid = \"p{s}-{p}\"\nendpoint = \"https://p{s}-{p}.example\"\n"));
        }
    }
    let cfg = Config::from_toml(&text).unwrap();
    let mut sc = Scenario::new(cfg, start(), 9).unwrap();
    let first = sc.engine.plan(sc.now);
    assert_eq!(first.probes.len(), 9, "10 minus one held back for canaries");
    assert_eq!(first.deferred, 21);
    sc.run_until(start() + 10 * MINUTE);
    for (id, p) in &sc.engine.state().providers {
        assert!(p.last.is_some(), "{id} never probed");
    }
}

#[test]
fn a_submitted_provider_is_tested_then_promoted() {
    let mut s = Scenario::new(api_config(""), start(), 10).unwrap();
    let p: sentinel_core::config::ProviderConfig =
        toml::from_str("id = \"newcomer\"\nendpoint = \"https://newcomer.example\"").unwrap();
    s.engine
        .submit(start(), &ServiceId::new("prices").unwrap(), p.clone())
        .unwrap();
    assert!(
        s.engine
            .submit(start(), &ServiceId::new("prices").unwrap(), p)
            .is_err(),
        "duplicate id"
    );
    assert_eq!(
        s.engine.state().providers["newcomer"].lifecycle,
        Lifecycle::Discovered
    );
    s.run_until(start() + HOUR);
    assert_eq!(
        s.engine.state().providers["newcomer"].lifecycle,
        Lifecycle::Testing
    );
    s.run_until(start() + 25 * HOUR);
    assert_eq!(
        s.engine.state().providers["newcomer"].lifecycle,
        Lifecycle::Standby
    );
    // It survives a save and restore.
    let back = State::from_bytes(&s.engine.state().to_bytes()).unwrap();
    let e = Engine::new(api_config(""), back, s.now).unwrap();
    assert!(e.registry().provider("newcomer").is_some());
}

#[test]
fn a_failing_submission_does_not_graduate() {
    let mut s = Scenario::new(api_config(""), start(), 11).unwrap();
    let p: sentinel_core::config::ProviderConfig =
        toml::from_str("id = \"flaky\"\nendpoint = \"https://flaky.example\"").unwrap();
    s.engine
        .submit(start(), &ServiceId::new("prices").unwrap(), p)
        .unwrap();
    let mut flaky = SimProvider::default();
    for h in 0..25 {
        flaky = flaky.fault(
            start() + h * HOUR,
            start() + h * HOUR + 20 * MINUTE,
            Fault::Outage,
        );
    }
    s.set("flaky", flaky);
    s.run_until(start() + 25 * HOUR);
    assert_ne!(
        s.engine.state().providers["flaky"].lifecycle,
        Lifecycle::Standby
    );
    assert!(s.switches().iter().all(|(_, r)| r.to.as_str() != "flaky"));
}

#[test]
fn observations_classify_statuses() {
    let s = Scenario::new(api_config(""), start(), 12).unwrap();
    let req = s
        .engine
        .probe_request(&pid("a"), Purpose::Scheduled)
        .unwrap();
    let resp = |status: u16, body: &str| sentinel_core::probe::ProbeResponse {
        status,
        latency_ms: 12,
        body: body.as_bytes().to_vec(),
        truncated: false,
        retry_after_s: None,
        signature: None,
    };
    let at = start();
    let o = s.engine.observe(&req, at, Ok(resp(429, ""))).unwrap();
    assert_eq!(o.outcome, Outcome::Throttled);
    let o = s.engine.observe(&req, at, Ok(resp(503, ""))).unwrap();
    assert_eq!(o.outcome, Outcome::Status(503));
    let o = s
        .engine
        .observe(&req, at, Ok(resp(200, "<html>not json</html>")))
        .unwrap();
    assert_eq!(o.outcome, Outcome::Ok);
    assert!(!o.is_healthy(), "answered, but the data is unusable");
    let body = format!(r#"{{"status":"ok","value":5,"updated_at":{}}}"#, at / 1000);
    let o = s.engine.observe(&req, at, Ok(resp(200, &body))).unwrap();
    assert!(o.is_healthy(), "{o:?}");
    let o = s
        .engine
        .observe(&req, at, Err(sentinel_core::probe::ProbeFailure::Timeout))
        .unwrap();
    assert_eq!(o.outcome, Outcome::Timeout);
    let mut big = resp(200, &body);
    big.truncated = true;
    assert_eq!(
        s.engine.observe(&req, at, Ok(big)).unwrap().outcome,
        Outcome::TooLarge
    );
}

#[test]
fn next_wakeup_follows_the_schedule() {
    let mut s = Scenario::new(api_config(""), start(), 13).unwrap();
    assert_eq!(
        s.engine.next_wakeup(start()),
        start(),
        "everything is due at once"
    );
    s.tick();
    let next = s.engine.next_wakeup(s.now);
    assert!(
        next > s.now && next <= s.now + 32 * SECOND,
        "{}",
        next - s.now
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any interleaving of faults keeps every score in range and every
    /// route on a provider of the right service.
    #[test]
    fn scores_stay_in_range_under_random_faults(seed in 0u64..10_000, faults in proptest::collection::vec((0u64..6, 1u64..60, 0u8..7, 0usize..3), 0..6)) {
        let mut s = Scenario::new(api_config(""), start(), seed).unwrap();
        let ids = ["a", "b", "c"];
        let mut sims = [SimProvider::default(), SimProvider::default(), SimProvider::default()];
        for (h, mins, kind, who) in faults {
            let f = match kind { 0 => Fault::Outage, 1 => Fault::Slow { extra_ms: 900 }, 2 => Fault::Burst5xx { rate_bps: 5000 }, 3 => Fault::Throttle, 4 => Fault::Stale, 5 => Fault::Wrong, _ => Fault::Inconsistent };
            let t = start() + h * HOUR;
            sims[who] = sims[who].clone().fault(t, t + mins * MINUTE, f);
        }
        for (id, sim) in ids.iter().zip(sims) { s.set(id, sim); }
        s.run_until(start() + 6 * HOUR);
        for id in ids {
            let r = s.engine.reputation(&pid(id), s.now).unwrap();
            prop_assert!(r.total.get() <= 10_000);
            prop_assert!(r.confidence.get() <= 10_000);
        }
        let active = s.active("prices");
        prop_assert!(active.is_some());
        prop_assert!(ids.contains(&active.unwrap().as_str()));
    }
}

/// A state written by format version 2 (the build before incidents,
/// timelines and causes; `golden/state_v2.bin`, from a 2 h scenario with
/// an outage and a switch) still opens, with everything it had.
#[test]
fn a_format_2_state_opens_and_keeps_its_story() {
    let bytes = include_bytes!("golden/state_v2.bin");
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 2);
    let st = State::from_bytes(bytes).unwrap();
    assert_eq!(st.version, sentinel_core::state::STATE_VERSION);
    assert_eq!(
        st.providers.keys().map(|p| p.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let sw = st.history.back().expect("the outage's switch");
    assert_eq!(sw.from.as_ref().map(|p| p.as_str()), Some("a"));
    assert!(matches!(
        sw.reason,
        sentinel_core::switcher::Reason::Failed { cause: None, .. }
    ));
    let a = &st.providers["a"];
    assert_eq!(a.downtimes.len(), 1);
    assert!(a.incidents.is_empty() && a.card_ref.is_empty());
    assert!(a.latency.count() > 100);
    // And it is written back in the current format.
    assert_eq!(State::from_bytes(&st.to_bytes()).unwrap(), st);
}

/// A state written by format version 3 (before the applied-keys window)
/// opens with each provider's watermark as its one known applied key, so
/// nothing older is ever applied twice.
#[test]
fn a_format_3_state_opens_with_its_watermarks_as_applied_keys() {
    let mut st = State::from_bytes(include_bytes!("golden/state_v2.bin")).unwrap();
    st.applied.clear();
    // Version 3 is version 5 without the trailing applied map and peering
    // (all empty here: a zero length each, and `isolated` false).
    let mut v3 = st.to_bytes();
    assert_eq!(v3.split_off(v3.len() - 4), [0, 0, 0, 0]);
    v3[4..6].copy_from_slice(&3u16.to_le_bytes());
    let back = State::from_bytes(&v3).unwrap();
    for (id, p) in &back.providers {
        let a = back.applied.get(id).cloned().unwrap_or_default();
        assert_eq!(a.floor, p.watermark, "{id}");
        assert!(a.keys.is_empty(), "{id}");
    }
    assert_eq!(back.providers, st.providers);
}

/// A state written by format version 4 (before peers) opens with no peer
/// news and everything else as it was.
#[test]
fn a_format_4_state_opens_without_peers() {
    let st = State::from_bytes(include_bytes!("golden/state_v2.bin")).unwrap();
    assert!(st.peering.peers.is_empty());
    // Version 4 is version 5 without the trailing peering (empty: two
    // zero lengths and `isolated` false).
    let mut v4 = st.to_bytes();
    assert_eq!(v4.split_off(v4.len() - 3), [0, 0, 0]);
    v4[4..6].copy_from_slice(&4u16.to_le_bytes());
    let back = State::from_bytes(&v4).unwrap();
    assert_eq!(back, st);
    // A format 4 state cut short is an error, not a default.
    assert!(State::from_bytes(&v4[..v4.len() / 2]).is_err());
}

/// A state written by format version 6 (before discovery and status
/// pages) opens with neither and everything else as it was.
#[test]
fn a_format_6_state_opens_without_discovery_or_status_pages() {
    let st = State::from_bytes(include_bytes!("golden/state_v2.bin")).unwrap();
    assert_eq!(st.discovery, Default::default());
    // Version 6 is version 7 without the trailing discovery record and
    // status pages (empty: six zero lengths).
    let mut v6 = st.to_bytes();
    assert_eq!(v6.split_off(v6.len() - 6), [0, 0, 0, 0, 0, 0]);
    v6[4..6].copy_from_slice(&6u16.to_le_bytes());
    let back = State::from_bytes(&v6).unwrap();
    assert_eq!(back, st);
    assert!(State::from_bytes(&v6[..v6.len() / 2]).is_err());
}

/// An observation older than the watermark that was never applied (another
/// instance's, arriving after a newer one) counts once; one that was
/// applied does not count again.
#[test]
fn a_late_observation_counts_once() {
    let cfg = api_config("");
    let t0 = start();
    let mut e = sentinel_core::Engine::new(cfg, State::default(), t0).unwrap();
    let a = sentinel_core::ProviderId::new("a").unwrap();
    let obs = |at: u64| {
        let mut o = sentinel_core::sim::observation(a.clone(), at);
        o.purpose = Purpose::Scheduled;
        o
    };
    let count = |e: &sentinel_core::Engine| {
        e.state().providers[&a]
            .hourly
            .sum(t0 + 3_600_000, 3_600_000, 24)
            .total()
    };
    assert_eq!(e.ingest(t0 + 2_000, &[obs(t0 + 2_000)]).applied, 1);
    // Taken a second earlier by another instance, arriving now: applied.
    let r = e.ingest(t0 + 2_500, &[obs(t0 + 1_000)]);
    assert_eq!((r.applied, r.duplicates), (1, 0));
    assert_eq!(count(&e), 2);
    // Both again (a replay): duplicates.
    let r = e.ingest(t0 + 3_000, &[obs(t0 + 1_000), obs(t0 + 2_000)]);
    assert_eq!((r.applied, r.duplicates), (0, 2));
    assert_eq!(count(&e), 2);
    // The newer observation still decides the latest probe.
    assert_eq!(
        e.state().providers[&a].watermark.map(|w| w.0),
        Some(t0 + 2_000)
    );
}
