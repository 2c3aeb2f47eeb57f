//! A conformance suite for [`Store`] implementations: every shell's store
//! (the in-memory fake, the local redb store, and later KV and DynamoDB)
//! runs the same checks of the contract the shared tick relies on.

use crate::probe::{Observation, Outcome, Purpose};
use crate::quality::{Facts, Verdict};
use crate::tick::{AuditEntry, Commit, Store};
use crate::time::UnixMillis;
use crate::ProviderId;

/// What failed, in words.
pub type Failure = String;

fn obs(provider: &str, at: UnixMillis) -> Result<Observation, Failure> {
    Ok(Observation {
        provider: ProviderId::new(provider).map_err(|e| e.to_string())?,
        at,
        purpose: Purpose::Scheduled,
        outcome: Outcome::Ok,
        latency_ms: 12,
        bytes: 34,
        verdict: Verdict::default(),
        facts: Facts::default(),
        detail: Some("ok".into()),
    })
}

fn check(cond: bool, what: &str) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

/// Runs the contract against an *empty* store.
pub async fn run<S: Store>(store: &S) -> Result<(), Failure> {
    let e = |err: S::Error| err.to_string();
    check(
        store.load().await.map_err(e)?.is_none(),
        "an empty store loads nothing",
    )?;

    // Conditional writes.
    let v1 = match store.commit(None, b"state-1", &[]).await.map_err(e)? {
        Commit::Committed { version } => version,
        Commit::Conflict => return Err("the first commit into an empty store conflicted".into()),
    };
    check(
        store.commit(None, b"stale", &[]).await.map_err(e)? == Commit::Conflict,
        "a commit expecting an empty store must conflict once something is stored",
    )?;
    let audit = vec![AuditEntry {
        at: 1,
        revision: 2,
        action: crate::action::Action::Alert {
            key: "k".into(),
            severity: crate::state::Severity::Info,
            message: "m".into(),
            firing: true,
        },
    }];
    let v2 = match store
        .commit(Some(v1), b"state-2", &audit)
        .await
        .map_err(e)?
    {
        Commit::Committed { version } => version,
        Commit::Conflict => return Err("a commit expecting the current version conflicted".into()),
    };
    check(v2 != v1, "a commit must produce a new version")?;
    check(
        store
            .commit(Some(v1), b"lost-update", &[])
            .await
            .map_err(e)?
            == Commit::Conflict,
        "a commit expecting an old version must conflict (no lost update)",
    )?;
    let loaded = store
        .load()
        .await
        .map_err(e)?
        .ok_or("the committed state is gone")?;
    check(
        loaded.bytes == b"state-2",
        "load returns the last committed state, not a conflicting one",
    )?;
    check(
        loaded.version == v2,
        "load returns the last committed version",
    )?;

    // The observation log.
    let batch = vec![obs("a", 1_000)?, obs("b", 1_000)?, obs("a", 2_000)?];
    store.log_observations(&batch).await.map_err(e)?;
    store
        .log_observations(&[obs("c", 3_000)?])
        .await
        .map_err(e)?;
    let since = store.observations_since(2_000).await.map_err(e)?;
    check(
        since.len() == 2,
        "observations_since returns exactly those at or after the time",
    )?;
    check(
        since.first().is_some_and(|o| o.at == 2_000) && since.last().is_some_and(|o| o.at == 3_000),
        "oldest first",
    )?;
    let all = store.observations_since(0).await.map_err(e)?;
    check(
        all.len() == 4,
        "two observations at the same time are both kept",
    )?;
    check(
        all.iter()
            .any(|o| o.detail.as_deref() == Some("ok") && o.bytes == 34),
        "observations round-trip intact",
    )?;
    Ok(())
}
