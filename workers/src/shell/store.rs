//! The Worker's [`Store`]: the shared [`KvStore`] over the `SENTINEL` KV
//! namespace (state, observations and audit in one key, last writer wins
//! with merge: see [`sentinel_core::host::kv`]), with the usage journal
//! in the `LEDGER` Durable Object ([`super::ledger`]).

use super::ledger::{LedgerClient, LedgerError};
use sentinel_core::engine::Event;
use sentinel_core::host::kv::{Kv, KvStore, KvStoreError};
use sentinel_core::probe::Observation;
use sentinel_core::tick::{Capabilities, Commit, CommitBatch, Store, Stored};
use sentinel_core::time::UnixMillis;

/// Errors of the KV binding.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

/// The `SENTINEL` KV namespace.
#[derive(Clone, Debug)]
pub struct WorkerKv(pub worker::kv::KvStore);

impl Kv for WorkerKv {
    type Error = KvError;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.0
            .get(key)
            .bytes()
            .await
            .map_err(|e| KvError(e.to_string()))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.0
            .put_bytes(key, &value)
            .map_err(|e| KvError(e.to_string()))?
            .execute()
            .await
            .map_err(|e| KvError(e.to_string()))
    }
}

/// Errors of the Worker's store.
#[derive(Debug, thiserror::Error)]
pub enum WorkerStoreError {
    /// KV.
    #[error(transparent)]
    Kv(#[from] KvStoreError<KvError>),
    /// The usage journal.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// KV for the state, the Durable Object for the journal.
#[derive(Clone, Debug)]
pub struct WorkerStore {
    /// The state store.
    pub kv: KvStore<WorkerKv>,
    /// The journal (`None` when the binding is missing: proxied usage is
    /// then booked only by the invocation that proxied, which a Worker
    /// cannot do; the Worker logs that at every request).
    pub ledger: Option<LedgerClient>,
    /// Whether opening reads the journal (a tick books it; a request does
    /// not need it and saves the call).
    pub read_journal: bool,
}

impl Store for WorkerStore {
    type Error = WorkerStoreError;

    fn capabilities(&self) -> Capabilities {
        self.kv.capabilities()
    }

    async fn load(&self) -> Result<Option<Stored>, WorkerStoreError> {
        Ok(self.kv.load().await?)
    }

    async fn log_observations(&self, obs: &[Observation]) -> Result<(), WorkerStoreError> {
        Ok(self.kv.log_observations(obs).await?)
    }

    async fn observations_since(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Observation>, WorkerStoreError> {
        Ok(self.kv.observations_since(since, limit).await?)
    }

    async fn commit(
        &self,
        expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, WorkerStoreError> {
        let c = self.kv.commit(expected, batch).await?;
        if let (Commit::Committed { .. }, Some(ledger)) = (c, &self.ledger) {
            // Only after the state that absorbed them is written. A failure
            // here keeps them journaled; the next tick skips them by their
            // numbers (the state's watermark) and acknowledges again.
            if let Err(e) = ledger.absorbed(batch.absorbed_events).await {
                tracing::warn!(error = %e, "could not trim the usage journal; retried at the next commit");
            }
        }
        Ok(c)
    }

    async fn journal(&self, events: &[Event]) -> Result<(), WorkerStoreError> {
        match &self.ledger {
            Some(l) => Ok(l.append(events).await?),
            None => Ok(()),
        }
    }

    async fn claim_deliveries(
        &self,
        keys: &[(u64, u64)],
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<Vec<bool>, WorkerStoreError> {
        match &self.ledger {
            Some(l) => Ok(l.claim(keys, now, until).await?),
            // Without the coordinator, overlapping invocations could both
            // deliver: none does (alerts still show in the API).
            None => Ok(vec![false; keys.len()]),
        }
    }

    async fn journaled(&self) -> Result<Vec<Event>, WorkerStoreError> {
        match &self.ledger {
            Some(l) if self.read_journal => Ok(l.events().await?),
            _ => Ok(Vec::new()),
        }
    }
}
