#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The redb store meets the same contract as every other shell's store.

#[tokio::test]
async fn the_redb_store_meets_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = sentinel_cli::store::RedbStore::open(dir.path().join("s.redb")).unwrap();
    sentinel_core::sim::conformance::run(&store).await.unwrap();
}
