#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The redb store meets the same contract as every other shell's store.

use futures_util::FutureExt;
use sentinel_core::action::Action;

#[tokio::test]
async fn the_redb_store_meets_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = sentinel_cli::store::RedbStore::open(dir.path().join("s.redb")).unwrap();
    sentinel_core::sim::conformance::run(&store).await.unwrap();
}

#[test]
fn overlapping_ticks_on_redb_lose_nothing_and_switch_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sentinel_cli::store::RedbStore::open(dir.path().join("s.redb")).unwrap();
    sentinel_core::sim::conformance::overlapping_ticks(&store)
        .now_or_never()
        .expect("redb never waits")
        .unwrap();
    let audit = store.audit_tail(10_000).unwrap();
    for (i, a) in audit.iter().enumerate() {
        assert!(!audit[..i].contains(a), "audit entry written twice: {a:?}");
    }
    assert_eq!(
        audit
            .iter()
            .filter(|e| matches!(e.action, Action::Switch { .. }))
            .count(),
        1
    );
}
