//! The [`Store`] over a key-value store without compare-and-swap (Workers
//! KV), written once so the Worker only implements [`Kv`]: get and put of
//! one key.
//!
//! **One key, one write per commit.** Workers KV allows 1,000 writes a
//! day on the free plan and one write per second per key; the host layer
//! already commits at most once per tick (and not at all when a tick did
//! nothing). So a commit is one `put` of one value, the *bundle*: the
//! encoded state, the observations peers may still read (the last few
//! minutes, [`CommitBatch::keep_observations_since`]), and the newest
//! [`AUDIT_KEEP`] audit entries — written together, so they can never
//! disagree. Reads cost one `get`.
//!
//! **Versions.** KV has none, so the bundle carries its own: each commit
//! writes the version it read plus one. The store declares
//! [`Consistency::LastWriterWins`]: the tick reads the version right
//! before it writes and, when another writer committed since it loaded,
//! rebases its inputs (observations and events, idempotent by their keys)
//! on the winner's state before writing ([`crate::tick`]). The commit
//! itself also merges: the observation log and the audit of the value it
//! replaces are kept (unioned, duplicates dropped), so a writer that lost
//! the race still had its observations carried forward by the next one
//! that read its value.
//!
//! **What KV cannot give.** Between the read and the put another writer
//! can put too (KV is eventually consistent: a read in another location
//! can be up to a minute old); the later put wins and the earlier one's
//! state is lost unless a later tick re-applies what it observed. A shell
//! that must exclude overlapping ticks entirely needs a coordinator with
//! compare-and-swap (a Durable Object) in front of this store.

use crate::probe::Observation;
use crate::tick::{Capabilities, Commit, CommitBatch, Consistency, Store, Stored};
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;

/// The key of the bundle.
pub const BUNDLE_KEY: &str = "sentinel/bundle/v1";
/// Audit entries kept in the bundle (older ones are in the logs the shell
/// writes for each action).
pub const AUDIT_KEEP: usize = 256;
/// Observations kept in the bundle at most (the newest).
pub const OBSERVATIONS_KEEP: usize = 5_000;
/// Writes a day on Workers KV's free plan.
pub const KV_FREE_WRITES_PER_DAY: u32 = 1_000;

/// A key-value store: the one thing a shell implements.
#[allow(async_fn_in_trait)]
pub trait Kv {
    /// Its error.
    type Error: std::error::Error + 'static;
    /// The value of `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Self::Error>>;
    /// Sets `key` to `value`.
    fn put(&self, key: &str, value: Vec<u8>) -> impl Future<Output = Result<(), Self::Error>>;
}

/// Errors of the KV store.
#[derive(Debug, thiserror::Error)]
pub enum KvStoreError<E: std::error::Error + 'static> {
    /// The KV backend failed.
    #[error("kv: {0}")]
    Kv(#[source] E),
    /// The stored bundle cannot be read.
    #[error("the stored bundle at `{BUNDLE_KEY}` is corrupt: {0}")]
    Corrupt(String),
}

/// What one key holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Bundle {
    version: u64,
    state: Vec<u8>,
    observations: Vec<Observation>,
    /// Audit entries as JSON text (actions are self-describing types the
    /// binary encoding cannot carry).
    audit: Vec<String>,
}

const MAGIC: &[u8; 4] = b"BKV1";

fn encode(b: &Bundle) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_extend(b, MAGIC.to_vec()).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Result<Bundle, String> {
    match bytes.strip_prefix(MAGIC.as_slice()) {
        Some(rest) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
        None => Err("not a sentinel bundle (bad magic)".into()),
    }
}

/// The [`Store`] over a [`Kv`]; see the module docs.
#[derive(Clone, Debug)]
pub struct KvStore<K> {
    kv: K,
    writes_per_day: u32,
}

impl<K: Kv> KvStore<K> {
    /// A store over `kv` with Workers KV's free-plan write budget.
    pub fn new(kv: K) -> Self {
        KvStore {
            kv,
            writes_per_day: KV_FREE_WRITES_PER_DAY,
        }
    }

    /// With another daily write budget (a paid plan).
    pub fn with_writes_per_day(mut self, n: u32) -> Self {
        self.writes_per_day = n;
        self
    }

    /// The newest audit entries kept in the bundle, oldest first.
    pub async fn audit(&self) -> Result<Vec<crate::tick::AuditEntry>, KvStoreError<K::Error>> {
        let Some(b) = self.bundle().await? else {
            return Ok(Vec::new());
        };
        b.audit
            .iter()
            .map(|t| serde_json::from_str(t).map_err(|e| KvStoreError::Corrupt(e.to_string())))
            .collect()
    }

    async fn bundle(&self) -> Result<Option<Bundle>, KvStoreError<K::Error>> {
        match self.kv.get(BUNDLE_KEY).await.map_err(KvStoreError::Kv)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes).map(Some).map_err(KvStoreError::Corrupt),
        }
    }
}

/// The key that makes an observation unique.
fn key(o: &Observation) -> (UnixMillis, crate::probe::Purpose, crate::ProviderId) {
    (o.at, o.purpose, o.provider.clone())
}

impl<K: Kv> Store for KvStore<K> {
    type Error = KvStoreError<K::Error>;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            consistency: Consistency::LastWriterWins,
            writes_per_day: Some(self.writes_per_day),
        }
    }

    async fn load(&self) -> Result<Option<Stored>, Self::Error> {
        Ok(self.bundle().await?.map(|b| Stored {
            bytes: b.state,
            version: b.version,
        }))
    }

    async fn log_observations(&self, _obs: &[Observation]) -> Result<(), Self::Error> {
        // A budgeted store gets no write-ahead log: observations ride in
        // the tick's one commit.
        Ok(())
    }

    async fn observations_since(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Observation>, Self::Error> {
        let Some(b) = self.bundle().await? else {
            return Ok(Vec::new());
        };
        let from: Vec<Observation> = b
            .observations
            .into_iter()
            .filter(|o| o.at >= since)
            .collect();
        let skip = from.len().saturating_sub(limit);
        Ok(from.into_iter().skip(skip).collect())
    }

    async fn commit(
        &self,
        _expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, Self::Error> {
        // Read what is there (one get), merge the logs, write once.
        let current = self.bundle().await?.unwrap_or_default();
        let mut seen = BTreeSet::new();
        let mut observations: Vec<Observation> = current
            .observations
            .into_iter()
            .chain(batch.observations.iter().cloned())
            .filter(|o| o.at >= batch.keep_observations_since)
            .filter(|o| seen.insert(key(o)))
            .collect();
        observations.sort_by_key(key);
        let excess = observations.len().saturating_sub(OBSERVATIONS_KEEP);
        observations.drain(..excess);
        let mut audit = current.audit;
        for a in batch.audit {
            let text =
                serde_json::to_string(a).map_err(|e| KvStoreError::Corrupt(e.to_string()))?;
            if !audit.contains(&text) {
                audit.push(text);
            }
        }
        let excess = audit.len().saturating_sub(AUDIT_KEEP);
        audit.drain(..excess);
        let version = current.version.saturating_add(1);
        let bundle = Bundle {
            version,
            state: batch.state.to_bytes(),
            observations,
            audit,
        };
        self.kv
            .put(BUNDLE_KEY, encode(&bundle))
            .await
            .map_err(KvStoreError::Kv)?;
        Ok(Commit::Committed { version })
    }
}

/// An in-memory [`Kv`] (tests and tools), counting its writes.
#[derive(Clone, Debug, Default)]
pub struct MemoryKv {
    map: std::rc::Rc<std::cell::RefCell<std::collections::BTreeMap<String, Vec<u8>>>>,
    writes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl MemoryKv {
    /// Puts made so far.
    pub fn writes(&self) -> u64 {
        self.writes.get()
    }
    /// The raw value of `key`.
    pub fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.map.borrow().get(key).cloned()
    }
}

impl Kv for MemoryKv {
    type Error = std::convert::Infallible;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.map.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), Self::Error> {
        self.writes.set(self.writes.get() + 1);
        self.map.borrow_mut().insert(key.to_string(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn block<F: Future>(f: F) -> F::Output {
        f.now_or_never().expect("memory kv never waits")
    }

    #[test]
    fn the_store_contract_holds_over_kv() {
        let store = KvStore::new(MemoryKv::default());
        block(crate::sim::conformance::run(&store)).unwrap();
    }

    #[test]
    fn overlapping_ticks_lose_nothing_over_kv() {
        let store = KvStore::new(MemoryKv::default());
        block(crate::sim::conformance::overlapping_ticks(&store)).unwrap();
    }

    #[test]
    fn one_put_per_commit_and_the_audit_round_trips() {
        use crate::action::Action;
        use crate::encoded::EncodedState;
        let kv = MemoryKv::default();
        let store = KvStore::new(kv.clone());
        let entry = crate::tick::AuditEntry {
            at: 5,
            revision: 1,
            action: Action::Alert {
                key: "k".into(),
                severity: crate::state::Severity::Warning,
                message: "m".into(),
                firing: true,
            },
        };
        let absorbed = std::collections::BTreeMap::new();
        let batch = CommitBatch {
            state: &EncodedState::opaque(b"s".to_vec()),
            observations: &[],
            audit: std::slice::from_ref(&entry),
            keep_observations_since: 0,
            absorbed_events: &absorbed,
        };
        block(store.commit(None, &batch)).unwrap();
        block(store.commit(Some(1), &batch)).unwrap();
        assert_eq!(kv.writes(), 2, "one put per commit");
        assert_eq!(block(store.audit()).unwrap(), vec![entry], "kept once");
        assert_eq!(store.capabilities().writes_per_day, Some(1_000));
    }

    #[test]
    fn a_corrupt_bundle_is_a_clear_error() {
        let kv = MemoryKv::default();
        block(kv.put(BUNDLE_KEY, b"garbage".to_vec())).unwrap();
        let store = KvStore::new(kv);
        let err = block(store.load()).unwrap_err().to_string();
        assert!(err.contains("bad magic"), "{err}");
    }
}
