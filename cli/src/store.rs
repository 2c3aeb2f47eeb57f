//! The local shell's [`Store`]: an embedded [redb] database in one file.
//!
//! # Why redb
//!
//! - **Pure Rust.** No C library and no C toolchain to build it (SQLite
//!   needs one, through `libsqlite3-sys`), so the binary cross-compiles
//!   and builds anywhere `cargo` does.
//! - **ACID and crash-safe by design.** Copy-on-write B-trees: a write
//!   transaction never modifies a committed page; it writes new pages and
//!   then flips the root in the header with an fsync'd commit
//!   (`Durability::Immediate`, the default). A process killed at any
//!   instant — `kill -9` in the middle of a commit — reopens on the last
//!   committed root: the old version or the new one, never half of one.
//!   The `crash_*` test below checks exactly that with `SIGKILL`.
//! - **One file, no server.** The whole store is `sentinel.redb` in the
//!   data directory: easy to back up, inspect or delete. The file is
//!   locked while open, so two sentinels cannot share it by accident.
//!
//! # Who holds the store
//!
//! redb's lock says only *that* the file is open elsewhere, and a user told
//! "locked" may move the store aside — losing the history the running
//! sentinel is still writing. So whoever opens the store records itself
//! beside it, in `sentinel.pid` next to `sentinel.redb` (JSON: pid, start
//! time, command), and removes the record when it closes the store. A
//! second opener that meets the lock reads the record and says which
//! process holds the store ([`StoreError::InUse`]); when there is no
//! readable record, or it names a process that is no longer running, it
//! says that it cannot tell, and never advises moving the store. The
//! record is written only while the lock is held, and removed before the
//! lock is released, so it never names a process that did not hold it
//! (except after a crash, when the dead pid is recognised where `/proc`
//! exists, and the next opener overwrites it).
//!
//! # Layout
//!
//! | table          | key                | value                         |
//! |----------------|--------------------|-------------------------------|
//! | `meta`         | `"state_prefix"`, `"state_suffix"` | the state's head ([`EncodedState`]) |
//! |                | `"state"`          | an opaque state blob (older files, tests) |
//! |                | `"version"`        | `u64`, big-endian             |
//! | `providers`    | provider id        | that provider's part of the state |
//! | `observations_v2` | `(at, provider, purpose)` | postcard of an `Observation` |
//! | `audit`        | sequence `u64`     | JSON of an `AuditEntry`       |
//! | `journal`      | `(source, seq)`    | postcard of an `Event` (proxied usage between ticks) |
//!
//! Capabilities: compare-and-swap, no write budget (a local file), so the
//! tick also writes observations ahead of applying them.
//!
//! The state is kept in parts ([`EncodedState`]): a commit rewrites the
//! head and only the providers whose encoding changed (the ones probed in
//! that tick, typically), not the whole state — with 1,000 providers a
//! few KB a tick instead of ~700 KB.
//!
//! [`Store::commit`] is one write transaction: the version check, the
//! state write, the observations, the audit appends and the pruning commit
//! together or not at all. [`Store::log_observations`] is its own
//! transaction — the write-ahead log. Observations are keyed by what makes
//! them unique, so one written ahead and again with the commit is stored
//! once, in the compact binary encoding (about a fifth of JSON). The log
//! keeps only what the state has not absorbed and what a peer still reads
//! (the commit says from when), and never more than [`OBSERVATIONS_KEEP`]
//! entries; the audit log keeps the last [`AUDIT_KEEP`] entries.
//!
//! redb is synchronous; the trait's async methods call it directly. Each
//! call is one short transaction, the futures hold nothing across an
//! `.await` and are `Send`.

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use sentinel_core::encoded::EncodedState;
use sentinel_core::engine::Event;
use sentinel_core::probe::Observation;
use sentinel_core::probe::Purpose;
use sentinel_core::tick::{
    AuditEntry, Capabilities, Commit, CommitBatch, Consistency, Store, Stored,
};
use sentinel_core::UnixMillis;
use std::path::{Path, PathBuf};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const OBSERVATIONS: TableDefinition<(u64, &str, u8), &[u8]> =
    TableDefinition::new("observations_v2");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const JOURNAL: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("journal");

const PROVIDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("providers");

const KEY_STATE: &str = "state";
const KEY_PREFIX: &str = "state_prefix";
const KEY_SUFFIX: &str = "state_suffix";
const KEY_VERSION: &str = "version";

/// How many audit entries are kept (the oldest are dropped beyond it).
pub const AUDIT_KEEP: u64 = 20_000;
/// Most observations kept, whatever the commits say (a bound on the file
/// when nothing commits for a long time).
pub const OBSERVATIONS_KEEP: u64 = 200_000;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system problem (creating the data directory…).
    #[error("store i/o: {0}")]
    Io(String),
    /// The file is open in another process (or already in this one).
    #[error("cannot open the store at {}: {}", path.display(), in_use(holder.as_ref()))]
    InUse {
        /// The file.
        path: PathBuf,
        /// Who holds it, when that can be told; else why not.
        holder: Result<Holder, String>,
    },
    /// The file could not be opened as a database.
    #[error("cannot open the store at {path}: {reason} (is it a redb database written by this sentinel? move it aside to start afresh)")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A database operation failed.
    #[error("store: {0}")]
    Database(#[source] Box<redb::Error>),
    /// A stored record could not be read back.
    #[error("store holds a corrupt record: {0}")]
    Corrupt(String),
    /// A record could not be encoded.
    #[error("store cannot encode a record: {0}")]
    Encode(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(Box::new(e.into()))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The embedded store; see the module docs.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

/// The process that has a store open, as it recorded itself in the
/// store's `.pid` file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// When it opened the store (Unix milliseconds).
    pub started_ms: UnixMillis,
    /// What it runs (`sentinel run`, `sentinel demo`).
    pub command: String,
}

impl Holder {
    /// This process.
    fn this_process() -> Holder {
        let mut args = std::env::args();
        let program = args
            .next()
            .as_deref()
            .map(Path::new)
            .and_then(Path::file_stem)
            .map_or_else(
                || "sentinel".to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
        let command = match args.next().filter(|a| !a.starts_with('-')) {
            Some(sub) => format!("{program} {sub}"),
            None => program,
        };
        Holder {
            pid: std::process::id(),
            started_ms: crate::clock::now_ms(),
            command,
        }
    }
}

/// The explanation of [`StoreError::InUse`].
fn in_use(holder: Result<&Holder, &String>) -> String {
    match holder {
        Ok(h) => format!(
            "the store is in use by `{}` (pid {}, started {}); stop that process first, or give this one another data directory",
            h.command,
            h.pid,
            sentinel_core::time::rfc3339(h.started_ms)
        ),
        Err(why) => format!(
            "the store is in use by another process, and which one cannot be told ({why})"
        ),
    }
}

/// Where the holder of the store at `db` records itself.
pub fn holder_file(db: &Path) -> PathBuf {
    db.with_extension("pid")
}

/// Who holds the store at `db`, or why that cannot be told.
fn read_holder(db: &Path) -> Result<Holder, String> {
    let file = holder_file(db);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("no readable {}: {e}", file.display()))?;
    let h: Holder = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a holder record: {e}", file.display()))?;
    // Where the kernel lists processes, a record of a dead one is stale.
    let proc = Path::new("/proc");
    if proc.join("self").exists() && !proc.join(h.pid.to_string()).exists() {
        return Err(format!(
            "{} names pid {}, which is no longer running",
            file.display(),
            h.pid
        ));
    }
    Ok(h)
}

impl Drop for RedbStore {
    /// Removes this process's holder record, while the lock is still held
    /// (the database closes after this).
    fn drop(&mut self) {
        let file = holder_file(&self.path);
        if read_holder(&self.path).is_ok_and(|h| h.pid == std::process::id()) {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn u64_of(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("`{what}` is {} bytes, not 8", bytes.len())))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Encode(e.to_string()))
}

impl RedbStore {
    /// Opens (or creates) the store at `path`, creating parent
    /// directories. A file that is not a redb database, or is damaged, is
    /// a [`StoreError::Open`] naming it.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                holder: read_holder(&path),
                path: path.clone(),
            },
            e => StoreError::Open {
                path: path.clone(),
                reason: e.to_string(),
            },
        })?;
        // Record who holds the store (see the module docs); a store that
        // cannot say so still works.
        let record = serde_json::to_string(&Holder::this_process()).unwrap_or_default();
        if let Err(e) = std::fs::write(holder_file(&path), record) {
            tracing::warn!(error = %e, "cannot record this process as the store's holder");
        }
        // Create the tables up front so readers never meet a missing one.
        let tx = db.begin_write()?;
        {
            tx.open_table(META)?;
            tx.open_table(OBSERVATIONS)?;
            tx.open_table(AUDIT)?;
            tx.open_table(JOURNAL)?;
            tx.open_table(PROVIDERS)?;
        }
        tx.commit()?;
        Ok(RedbStore { db, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The committed state, if any (synchronous [`Store::load`]).
    pub fn load_sync(&self) -> Result<Option<Stored>, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let Some(version) = meta.get(KEY_VERSION)? else {
            return Ok(None);
        };
        let version = u64_of(version.value(), KEY_VERSION)?;
        if let Some(blob) = meta.get(KEY_STATE)? {
            return Ok(Some(Stored {
                bytes: blob.value().to_vec(),
                version,
            }));
        }
        let (Some(prefix), Some(suffix)) = (meta.get(KEY_PREFIX)?, meta.get(KEY_SUFFIX)?) else {
            return Err(StoreError::Corrupt("a version without a state".into()));
        };
        let providers = tx.open_table(PROVIDERS)?;
        let entries = providers
            .iter()?
            .map(|row| Ok(row?.1.value().to_vec()))
            .collect::<Result<Vec<Vec<u8>>, StoreError>>()?;
        let bytes = EncodedState::join(
            prefix.value(),
            entries.iter().map(Vec::as_slice),
            suffix.value(),
        );
        Ok(Some(Stored { bytes, version }))
    }

    /// Logs observations in one transaction (synchronous
    /// [`Store::log_observations`]).
    pub fn log_observations_sync(&self, obs: &[Observation]) -> Result<(), StoreError> {
        if obs.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(OBSERVATIONS)?;
            insert_observations(&mut table, obs)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Logged observations at or after `since`, oldest first, at most the
    /// newest `limit` (synchronous [`Store::observations_since`]).
    pub fn observations_since_sync(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Observation>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(OBSERVATIONS)?;
        let mut out = table
            .range((since, "", 0u8)..)?
            .rev()
            .take(limit)
            .map(|row| {
                let (_, v) = row?;
                postcard::from_bytes(v.value())
                    .map_err(|e| StoreError::Corrupt(format!("observation: {e}")))
            })
            .collect::<Result<Vec<Observation>, StoreError>>()?;
        out.reverse();
        Ok(out)
    }

    /// How many observations are logged.
    pub fn observations_len(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(OBSERVATIONS)?.len()?)
    }

    /// The newest `n` audit entries, oldest first.
    pub fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT)?;
        let mut out = table
            .iter()?
            .rev()
            .take(n)
            .map(|row| {
                let (_, v) = row?;
                decode(v.value(), "audit entry")
            })
            .collect::<Result<Vec<AuditEntry>, StoreError>>()?;
        out.reverse();
        Ok(out)
    }

    /// How many audit entries are kept.
    pub fn audit_len(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(AUDIT)?.len()?)
    }

    /// The conditional commit (synchronous [`Store::commit`]): one write
    /// transaction, or nothing at all.
    pub fn commit_sync(
        &self,
        expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, StoreError> {
        let encoded = batch
            .audit
            .iter()
            .map(encode)
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.db.begin_write()?;
        let version = {
            let mut meta = tx.open_table(META)?;
            let current = match meta.get(KEY_VERSION)? {
                Some(v) => Some(u64_of(v.value(), KEY_VERSION)?),
                None => None,
            };
            if current != expected {
                drop(meta);
                tx.abort()?;
                return Ok(Commit::Conflict);
            }
            let version = current.map_or(1, |v| v + 1);
            write_state(&mut meta, &mut tx.open_table(PROVIDERS)?, batch.state)?;
            meta.insert(KEY_VERSION, version.to_be_bytes().as_slice())?;

            let mut obs = tx.open_table(OBSERVATIONS)?;
            insert_observations(&mut obs, batch.observations)?;
            if batch.keep_observations_since > 0 {
                obs.retain_in(..(batch.keep_observations_since, "", 0u8), |_, _| false)?;
            }
            let excess = obs.len()?.saturating_sub(OBSERVATIONS_KEEP);
            if excess > 0 {
                let cut = obs
                    .iter()?
                    .nth(usize::try_from(excess).unwrap_or(usize::MAX))
                    .transpose()?
                    .map(|(k, _)| k.value().0);
                if let Some(cut) = cut {
                    obs.retain_in(..(cut, "", 0u8), |_, _| false)?;
                }
            }

            let mut journal = tx.open_table(JOURNAL)?;
            for (source, upto) in batch.absorbed_events {
                journal.retain_in((source.as_str(), 0)..=(source.as_str(), *upto), |_, _| {
                    false
                })?;
            }

            let mut table = tx.open_table(AUDIT)?;
            let mut next = table.last()?.map_or(1, |(k, _)| k.value() + 1);
            for json in &encoded {
                table.insert(next, json.as_slice())?;
                next += 1;
            }
            // Keys are contiguous (appended at the end, pruned from the
            // front), so the count is `last - first + 1`.
            let first = table.first()?.map(|(k, _)| k.value());
            if let Some(first) = first {
                let count = next - first;
                if count > AUDIT_KEEP {
                    let cut = first + (count - AUDIT_KEEP);
                    table.retain_in(first..cut, |_, _| false)?;
                }
            }
            version
        };
        tx.commit()?;
        Ok(Commit::Committed { version })
    }
}

impl RedbStore {
    /// Appends events to the journal in one transaction (synchronous
    /// [`Store::journal`]).
    pub fn journal_sync(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(JOURNAL)?;
            for e in events {
                let bytes =
                    postcard::to_allocvec(e).map_err(|e| StoreError::Encode(e.to_string()))?;
                table.insert((e.source.as_str(), e.seq), bytes.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The journaled events (synchronous [`Store::journaled`]).
    pub fn journaled_sync(&self) -> Result<Vec<Event>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(JOURNAL)?;
        table
            .iter()?
            .map(|row| {
                let (_, v) = row?;
                postcard::from_bytes(v.value())
                    .map_err(|e| StoreError::Corrupt(format!("journaled event: {e}")))
            })
            .collect()
    }
}

/// Writes the state: an opaque blob whole; a state in parts as its head
/// (prefix and suffix) and only the provider entries whose bytes changed,
/// dropping those of providers that are gone.
fn write_state(
    meta: &mut redb::Table<'_, &str, &[u8]>,
    providers: &mut redb::Table<'_, &str, &[u8]>,
    state: &EncodedState,
) -> Result<(), StoreError> {
    if state.opaque {
        meta.insert(KEY_STATE, state.prefix.as_slice())?;
        meta.remove(KEY_PREFIX)?;
        meta.remove(KEY_SUFFIX)?;
        providers.retain(|_, _| false)?;
        return Ok(());
    }
    meta.remove(KEY_STATE)?;
    meta.insert(KEY_PREFIX, state.prefix.as_slice())?;
    meta.insert(KEY_SUFFIX, state.suffix.as_slice())?;
    let stored = providers.len()?;
    let mut existing = 0u64;
    for (id, entry) in &state.providers {
        let old = providers.get(id.as_str())?;
        existing += u64::from(old.is_some());
        let same = old.is_some_and(|old| old.value() == entry.as_slice());
        if !same {
            providers.insert(id.as_str(), entry.as_slice())?;
        }
    }
    // Providers that are gone (rare: a config change). Only then is the
    // table walked, since a walk that removes nothing still copies pages.
    if existing < stored {
        let keep: std::collections::BTreeSet<&str> =
            state.providers.iter().map(|(id, _)| id.as_str()).collect();
        providers.retain(|id, _| keep.contains(id))?;
    }
    Ok(())
}

fn purpose_code(p: Purpose) -> u8 {
    match p {
        Purpose::Scheduled => 0,
        Purpose::Canary => 1,
        Purpose::StatusPage => 2,
    }
}

fn insert_observations(
    table: &mut redb::Table<'_, (u64, &str, u8), &[u8]>,
    obs: &[Observation],
) -> Result<(), StoreError> {
    for o in obs {
        let bytes = postcard::to_allocvec(o).map_err(|e| StoreError::Encode(e.to_string()))?;
        table.insert(
            (o.at, o.provider.as_str(), purpose_code(o.purpose)),
            bytes.as_slice(),
        )?;
    }
    Ok(())
}

impl Store for RedbStore {
    type Error = StoreError;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            consistency: Consistency::CompareAndSwap,
            writes_per_day: None,
        }
    }

    async fn load(&self) -> Result<Option<Stored>, StoreError> {
        self.load_sync()
    }

    async fn log_observations(&self, obs: &[Observation]) -> Result<(), StoreError> {
        self.log_observations_sync(obs)
    }

    async fn observations_since(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Observation>, StoreError> {
        self.observations_since_sync(since, limit)
    }

    async fn commit(
        &self,
        expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, StoreError> {
        self.commit_sync(expected, batch)
    }

    async fn journal(&self, events: &[Event]) -> Result<(), StoreError> {
        self.journal_sync(events)
    }

    async fn journaled(&self) -> Result<Vec<Event>, StoreError> {
        self.journaled_sync()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
mod tests {
    use super::*;
    use sentinel_core::action::Action;
    use sentinel_core::state::Severity;
    use sentinel_core::ProviderId;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    static NONE: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();

    fn op(bytes: &[u8]) -> EncodedState {
        EncodedState::opaque(bytes.to_vec())
    }

    fn cb<'a>(state: &'a EncodedState, audit: &'a [AuditEntry]) -> CommitBatch<'a> {
        CommitBatch {
            state,
            observations: &[],
            audit,
            keep_observations_since: 0,
            absorbed_events: &NONE,
        }
    }

    fn obs(at: u64, provider: &str) -> Observation {
        sentinel_core::sim::observation(ProviderId::new(provider).unwrap(), at)
    }

    fn entry(at: u64, revision: u64, n: u64) -> AuditEntry {
        AuditEntry {
            at,
            revision,
            action: Action::Alert {
                key: format!("test:{revision}:{n}"),
                severity: Severity::Warning,
                message: "m".into(),
                firing: true,
            },
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("nested/dir/s.redb")).unwrap();
        block_on(async {
            assert_eq!(store.load().await.unwrap(), None);
            let c = store
                .commit(None, &cb(&op(b"state-1"), &[entry(1, 1, 0)]))
                .await
                .unwrap();
            assert_eq!(c, Commit::Committed { version: 1 });
            let c = store
                .commit(
                    Some(1),
                    &cb(&op(b"state-2"), &[entry(2, 2, 0), entry(2, 2, 1)]),
                )
                .await
                .unwrap();
            assert_eq!(c, Commit::Committed { version: 2 });
            assert_eq!(
                store.load().await.unwrap(),
                Some(Stored {
                    bytes: b"state-2".to_vec(),
                    version: 2
                })
            );
            let a = store.audit_tail(10).unwrap();
            assert_eq!(a, vec![entry(1, 1, 0), entry(2, 2, 0), entry(2, 2, 1)]);
            assert_eq!(store.audit_tail(2).unwrap(), a[1..].to_vec());

            // Two observations at the same instant are both kept.
            let batch = [obs(1_000, "a"), obs(1_000, "b"), obs(2_000, "a")];
            store.log_observations(&batch).await.unwrap();
            store.log_observations(&[obs(3_000, "c")]).await.unwrap();
            assert_eq!(
                store.observations_since(0, usize::MAX).await.unwrap().len(),
                4
            );
            let since = store.observations_since(2_000, usize::MAX).await.unwrap();
            assert_eq!(since, vec![obs(2_000, "a"), obs(3_000, "c")]);
            assert_eq!(store.observations_since_sync(0, 2).unwrap(), since);
            assert_eq!(store.observations_since_sync(0, 100).unwrap().len(), 4);
        });
    }

    #[test]
    fn version_conflict_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        block_on(async {
            // Nothing stored yet, but the writer thinks there is.
            assert_eq!(
                store
                    .commit(Some(3), &cb(&op(b"x"), &[entry(1, 1, 0)]))
                    .await
                    .unwrap(),
                Commit::Conflict
            );
            assert_eq!(store.load().await.unwrap(), None);
            assert_eq!(store.audit_len().unwrap(), 0);
            store
                .commit(None, &cb(&op(b"one"), &[entry(1, 1, 0)]))
                .await
                .unwrap();
            // Stale writer (expects nothing stored), and one from the future.
            for expected in [None, Some(0), Some(2)] {
                let c = store
                    .commit(expected, &cb(&op(b"other"), &[entry(9, 9, 0)]))
                    .await
                    .unwrap();
                assert_eq!(c, Commit::Conflict, "{expected:?}");
            }
            assert_eq!(
                store.load().await.unwrap(),
                Some(Stored {
                    bytes: b"one".to_vec(),
                    version: 1
                })
            );
            assert_eq!(store.audit_tail(10).unwrap(), vec![entry(1, 1, 0)]);
        });
    }

    #[test]
    fn reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            block_on(async {
                store.log_observations(&[obs(5, "a")]).await.unwrap();
                store
                    .commit(None, &cb(&op(b"v1"), &[entry(1, 1, 0)]))
                    .await
                    .unwrap();
                store.commit(Some(1), &cb(&op(b"v2"), &[])).await.unwrap();
            });
            // Open twice at once: refused with a clear error naming the
            // holder, not a panic, and no advice to move the store.
            let err = RedbStore::open(&path).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, StoreError::InUse { holder: Ok(_), .. }),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("pid {}", std::process::id())),
                "{msg}"
            );
            assert!(!msg.contains("aside"), "{msg}");
            // Without a record, it says it cannot tell.
            std::fs::remove_file(holder_file(&path)).unwrap();
            let msg = RedbStore::open(&path).unwrap_err().to_string();
            assert!(msg.contains("cannot be told"), "{msg}");
            assert!(!msg.contains("aside"), "{msg}");
            // A record of a process that is gone is not believed.
            let dead = Holder {
                pid: u32::MAX - 1,
                started_ms: 0,
                command: "sentinel run".into(),
            };
            std::fs::write(holder_file(&path), serde_json::to_string(&dead).unwrap()).unwrap();
            let msg = RedbStore::open(&path).unwrap_err().to_string();
            assert!(msg.contains("cannot be told"), "{msg}");
            std::fs::write(
                holder_file(&path),
                serde_json::to_string(&Holder::this_process()).unwrap(),
            )
            .unwrap();
        }
        // Closed: the record is gone.
        assert!(!holder_file(&path).exists());
        let store = RedbStore::open(&path).unwrap();
        block_on(async {
            assert_eq!(
                store.load().await.unwrap(),
                Some(Stored {
                    bytes: b"v2".to_vec(),
                    version: 2
                })
            );
            assert_eq!(
                store.observations_since(0, usize::MAX).await.unwrap(),
                vec![obs(5, "a")]
            );
            assert_eq!(store.audit_tail(5).unwrap(), vec![entry(1, 1, 0)]);
            // Sequences continue after a reopen.
            store.log_observations(&[obs(5, "b")]).await.unwrap();
            assert_eq!(
                store.observations_since(5, usize::MAX).await.unwrap().len(),
                2
            );
            store
                .commit(Some(2), &cb(&op(b"v3"), &[entry(3, 3, 0)]))
                .await
                .unwrap();
            assert_eq!(
                store.audit_tail(5).unwrap(),
                vec![entry(1, 1, 0), entry(3, 3, 0)]
            );
        });
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("text.redb", b"this is not a database at all\n".repeat(100)),
            ("zeros.redb", vec![0u8; 8192]),
            ("short.redb", b"redb".to_vec()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &content).unwrap();
            let err = RedbStore::open(&path).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, StoreError::Open { .. }), "{name}: {msg}");
            assert!(msg.contains(name), "{msg}");
        }
        // A directory where the file should be.
        let err = RedbStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
    }

    #[test]
    fn audit_log_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        let batch: Vec<AuditEntry> = (0..AUDIT_KEEP / 4 + 7).map(|n| entry(1, 1, n)).collect();
        let mut v = None;
        for _ in 0..5 {
            match store.commit_sync(v, &cb(&op(b"s"), &batch)).unwrap() {
                Commit::Committed { version } => v = Some(version),
                Commit::Conflict => panic!("conflict"),
            }
        }
        assert_eq!(store.audit_len().unwrap(), AUDIT_KEEP);
        assert_eq!(
            store.audit_tail(1).unwrap(),
            vec![batch[batch.len() - 1].clone()]
        );
    }

    /// Entries appended by commit `i` (1-based): varies so that a torn
    /// commit would show as a count mismatch.
    fn entries_for(i: u64) -> u64 {
        1 + i % 3
    }

    const CRASH_ENV: &str = "SENTINEL_STORE_CRASH_CHILD";

    /// The child half of `crash_mid_commit_leaves_a_consistent_store`:
    /// commits in a loop until killed. Does nothing in a normal run.
    #[test]
    fn crash_child() {
        let Ok(path) = std::env::var(CRASH_ENV) else {
            return;
        };
        let store = RedbStore::open(&path).unwrap();
        let mut version = store.load_sync().unwrap().map(|s| s.version);
        for i in version.unwrap_or(0) + 1.. {
            let obs_batch: Vec<Observation> = (0..3).map(|k| obs(i * 10 + k, "p")).collect();
            store.log_observations_sync(&obs_batch).unwrap();
            // A biggish state so a commit spans several pages.
            let state = format!("state-{i}-").repeat(2_000);
            let audit: Vec<AuditEntry> = (0..entries_for(i)).map(|n| entry(i, i, n)).collect();
            match store
                .commit_sync(version, &cb(&op(state.as_bytes()), &audit))
                .unwrap()
            {
                Commit::Committed { version: v } => version = Some(v),
                Commit::Conflict => panic!("conflict in the child"),
            }
            if i % 10 == 0 {
                println!("committed {i}");
            }
        }
    }

    #[test]
    fn crash_mid_commit_leaves_a_consistent_store() {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crash.redb");
        for round in 0..3u64 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "store::tests::crash_child",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_ENV, &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let mut lines = BufReader::new(stdout).lines();
            // Let it commit a while (more each round), then kill it mid-loop.
            let mut seen = 0;
            while seen < 3 + round * 2 {
                let line = lines.next().expect("child exited early").unwrap();
                if line.starts_with("committed") {
                    seen += 1;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(3 + 7 * round));
            child.kill().unwrap();
            let status = child.wait().unwrap();
            assert!(!status.success());

            let store = RedbStore::open(&path).unwrap();
            let stored = store.load_sync().unwrap().expect("a committed state");
            let v = stored.version;
            assert!(v >= 30 * (round + 1), "round {round}: only {v} commits");
            let state = String::from_utf8(stored.bytes).unwrap();
            assert_eq!(state, format!("state-{v}-").repeat(2_000), "round {round}");
            let expected: u64 = (1..=v).map(entries_for).sum();
            assert_eq!(
                store.audit_len().unwrap(),
                expected,
                "round {round}: version {v}"
            );
            let last = store.audit_tail(1).unwrap();
            assert_eq!(last[0].revision, v);
            // The write-ahead log holds at least the observations of the
            // committed rounds, each batch whole.
            let logged = store.observations_since_sync(0, usize::MAX).unwrap();
            assert!(
                logged.len() as u64 >= 3 * v && logged.len() % 3 == 0,
                "{}",
                logged.len()
            );
            // The next round's child continues from this state.
            drop(store);
        }
    }
}
