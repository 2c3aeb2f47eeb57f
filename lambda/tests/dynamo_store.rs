#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::disallowed_methods
)]
//! The DynamoDB store against moto's DynamoDB server (PyPI `moto[server]`,
//! started here on 127.0.0.1): the store contract every shell's store
//! meets, two overlapping ticks, and the state of 1,000 providers spread
//! over items that each stay far below DynamoDB's 400 KB.

mod common;

use common::{client, moto, Moto};
use sentinel_core::action::Action;
use sentinel_core::sim::SimProber;
use sentinel_core::tick::{Sentinel, Store};
use sentinel_lambda::store::DynamoStore;

async fn store(m: &Moto, table: &str, sentinel: &str) -> DynamoStore {
    let client = client(m);
    DynamoStore::create_table(&client, table).await.unwrap();
    DynamoStore::new(client, table, sentinel)
}

#[tokio::test]
async fn the_dynamodb_store_meets_the_store_contract() {
    let Some(m) = moto().await else { return };
    let s = store(&m, "contract", "c").await;
    sentinel_core::sim::conformance::run(&s).await.unwrap();
}

fn config(providers: usize) -> sentinel_core::config::Config {
    let mut t = String::from("[sentinel]\nid = \"big\"\nallow_private_targets = true\n");
    for p in 0..providers {
        if p % 10 == 0 {
            t.push_str(&format!(
                "\n[[service]]\nid = \"s{}\"\nkind = \"api\"\nprobe_interval = \"30s\"\n[service.probe]\npath = \"/health\"\n[service.probe.checks]\nassertions = [{{ pointer = \"/status\", equals = \"ok\" }}]\n",
                p / 10
            ));
        }
        t.push_str(&format!(
            "\n[[service.provider]]\nid = \"p{p:04}\"\nendpoint = \"http://127.0.0.1:{}\"\n",
            9000 + p
        ));
    }
    sentinel_core::config::Config::from_toml(&t).unwrap()
}

#[tokio::test]
async fn a_thousand_providers_fit_in_items_far_below_the_limit() {
    use sentinel_core::encoded::EncodedState;
    use sentinel_core::tick::{Commit, CommitBatch};
    let Some(m) = moto().await else { return };
    let s = store(&m, "big", "big").await;
    // A day of history built in memory (a tick every hour fills each
    // provider's hourly buckets and histograms), then written once.
    let start =
        sentinel_core::time::days_from_civil(2026, 11, 29) as u64 * sentinel_core::time::DAY;
    let memory = sentinel_core::sim::MemoryStore::default();
    let prober = SimProber::new(start, 3);
    let mut sentinel = Sentinel::open(config(1_000), &memory, prober, start)
        .await
        .unwrap();
    sentinel.set_probe_budget(2_000);
    for _ in 0..26 {
        let now = sentinel.prober().now.get();
        let clock = move || now;
        sentinel.tick(&clock).await.unwrap();
        sentinel.prober().now.set(now + sentinel_core::time::HOUR);
    }
    let state = sentinel.engine().state();
    let encoded = EncodedState::of(state);
    let none = std::collections::BTreeMap::new();
    let batch = CommitBatch {
        state: &encoded,
        observations: &[],
        audit: &[],
        keep_observations_since: 0,
        absorbed_events: &none,
    };
    assert_eq!(
        s.commit(None, &batch).await.unwrap(),
        Commit::Committed { version: 1 }
    );
    let stored = s.load().await.unwrap().unwrap();
    assert_eq!(stored.bytes, state.to_bytes(), "the state reads back whole");
    let (largest, which) = s.largest_state_item().await.unwrap();
    eprintln!(
        "1,000 providers: state {} B, largest item {largest} B ({which})",
        stored.bytes.len()
    );
    assert!(
        stored.bytes.len() > 400_000,
        "a state past one item's limit"
    );
    // The head carries the state's per-provider tail maps (latency window,
    // applied keys: ~150 B a provider): well under the 400 KB limit at
    // 1,000 providers.
    assert!(largest < 250_000, "largest item {largest} B ({which})");
}

/// Two Lambda instances ticking at once on one table, ten rounds, the
/// active provider down: both load the same version, one commit wins, the
/// other is refused, rebases and commits. Returns the store and the
/// conflicts seen.
async fn race(m: &Moto, table: &str) -> (DynamoStore, u32, bool, u64) {
    use sentinel_core::sim::{Fault, SimProvider};
    let s = store(m, table, table).await;
    let t0 = sentinel_core::time::days_from_civil(2026, 11, 29) as u64 * sentinel_core::time::DAY;
    let cfg = sentinel_core::config::Config::from_toml(
        "[sentinel]\nid = \"race\"\nallow_private_targets = true\n\n[policy.switching]\ndown_after = \"5s\"\nmin_dwell = \"5s\"\n\n[[service]]\nid = \"s\"\nkind = \"api\"\nprobe_interval = \"2s\"\n[service.probe]\npath = \"/\"\n\n[[service.provider]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:9001\"\ninitial = \"active\"\n\n[[service.provider]]\nid = \"b\"\nendpoint = \"http://127.0.0.1:9002\"\n",
    )
    .unwrap();
    let down = |p: &SimProber| {
        p.providers.borrow_mut().insert(
            sentinel_core::ProviderId::new("a").unwrap(),
            SimProvider::default().fault(0, u64::MAX, Fault::Outage),
        );
    };
    let mut switched = false;
    let mut conflicts = 0;
    for round in 0..10u64 {
        let now = t0 + round * 3_000;
        let (pa, pb) = (
            SimProber::new(now, 2 * round),
            SimProber::new(now, 2 * round + 1),
        );
        down(&pa);
        down(&pb);
        let mut a = Sentinel::open(cfg.clone(), &s, pa, now).await.unwrap();
        let mut b = Sentinel::open(cfg.clone(), &s, pb, now).await.unwrap();
        let (ca, cb) = (move || now, move || now + 1);
        let (ra, rb) = tokio::join!(a.tick(&ca), b.tick(&cb));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        conflicts += ra.conflicts + rb.conflicts;
        switched |= ra
            .actions
            .iter()
            .chain(&rb.actions)
            .any(|x| matches!(x, Action::Switch { .. }));
    }
    (s, conflicts, switched, t0)
}

#[tokio::test]
async fn two_ticks_at_once_conflict_and_switch_once() {
    let Some(m) = moto().await else { return };
    let (s, conflicts, switched, _) = race(&m, "race").await;
    assert!(switched, "a down active provider is left");
    assert!(
        conflicts >= 1,
        "ticks at once met a conditional-write conflict"
    );
    let audit = s.audit(10_000).await.unwrap();
    for (i, x) in audit.iter().enumerate() {
        assert!(!audit[..i].contains(x), "audit entry written twice: {x:?}");
    }
    let switches = audit
        .iter()
        .filter(|e| matches!(e.action, Action::Switch { .. }))
        .count();
    assert_eq!(switches, 1, "one switch: {audit:#?}");
}

/// Every observation either instance logged is counted in the state,
/// once: when the instance with the later probe commits first, the
/// other's rebase applies its slightly older observations late (the core
/// keeps each provider's applied keys, not one watermark). Failed before
/// that: the older ones were taken for duplicates and dropped.
#[tokio::test]
async fn two_ticks_at_once_lose_no_observation() {
    let Some(m) = moto().await else { return };
    let (s, _, _, t0) = race(&m, "race-obs").await;
    let logged = s.observations_since(0, usize::MAX).await.unwrap().len();
    let stored = s.load().await.unwrap().unwrap();
    let state = sentinel_core::State::from_bytes(&stored.bytes).unwrap();
    let counted: u64 = state
        .providers
        .values()
        .map(|p| {
            p.hourly
                .sum(
                    t0 + sentinel_core::time::HOUR,
                    sentinel_core::time::HOUR,
                    24,
                )
                .total()
        })
        .sum();
    assert_eq!(
        counted as usize, logged,
        "every logged observation is counted once"
    );
}

/// The figures: query pages and items written per tick with 100
/// providers (every one due each tick).
#[tokio::test]
async fn reads_and_writes_per_tick_at_100_providers() {
    let Some(m) = moto().await else { return };
    let s = store(&m, "per-tick", "per-tick").await;
    let start =
        sentinel_core::time::days_from_civil(2026, 11, 29) as u64 * sentinel_core::time::DAY;
    let prober = SimProber::new(start, 5);
    let mut sentinel = Sentinel::open(config(100), &s, prober, start)
        .await
        .unwrap();
    sentinel.set_probe_budget(1_000);
    let mut per = Vec::new();
    for _ in 0..5 {
        let before = s.calls();
        let now = sentinel.prober().now.get();
        let clock = move || now;
        let r = sentinel.tick(&clock).await.unwrap();
        let after = s.calls();
        per.push((r.probes, after.0 - before.0, after.1 - before.1));
        sentinel.prober().now.set(now + 60_000);
    }
    eprintln!("100 providers, per tick (probes, query pages, items written): {per:?}");
    for (probes, pages, items) in &per[1..] {
        assert!(*probes >= 100, "{per:?}");
        // Load (head, groups), the observation log and the journal are
        // read; the commit reads the head's group versions and prunes.
        assert!(*pages <= 12, "{per:?}");
        // 100 observations (written ahead once, not again at the
        // commit), the head, the changed groups, the audit.
        assert!(*items <= 100 + 66 + 1, "{per:?}");
    }
}
