//! The [`Store`] over DynamoDB: one table, one partition per sentinel,
//! every state write conditional on the version (optimistic concurrency).
//!
//! # Single-table design
//!
//! | `pk` | `sk` | attributes | written |
//! |---|---|---|---|
//! | `S#{sentinel}` | `meta` | `v` version, `prefix`, `suffix` (the state's head and tail, [`EncodedState`]), `gv` the version of each group | every commit, conditional on `v` |
//! | `S#{sentinel}` | `g#{kk}` | `v`, `body`: the providers hashed to group `kk` (of [`GROUPS`]) | in the commit's transaction, only when changed |
//! | `S#{sentinel}` | `a#{version}` | `body`: the commit's audit entries (JSON), `ttl` | in the commit's transaction |
//! | `S#{sentinel}` | `o#{at}#{provider}#{purpose}` | `body`: one observation (postcard), `ttl` | before the commit (idempotent by key) |
//! | `S#{sentinel}` | `e#{source}#{seq}` | `body`: one journaled event (JSON), `ttl` | by requests between ticks; deleted once absorbed |
//! | `S#{sentinel}` | `c#{notice}#{destination}` | `until`, `ttl` | a conditional put per alert delivery claim |
//!
//! **Why groups.** An item is at most 400 KB and the state of 1,000
//! providers is ~725 KB, so the providers are spread over [`GROUPS`] items
//! by a hash of their id (~11 KB each at 1,000 providers; ~400 KB would
//! take ~35,000 providers). A commit writes the head item and the groups
//! whose bytes changed in one `TransactWriteItems` (at most 66 items and
//! well under its 4 MB), conditional on the head's version: a stale
//! writer gets [`Commit::Conflict`] and nothing is written.
//!
//! **Consistent reads without a transaction.** A load is one strongly
//! consistent `Query` of the state items; the head names the version each
//! group must have (`gv`), so a load that raced a commit (groups from one
//! version, the head from another) is seen and read again.
//!
//! **Expiry.** Observations, audit items, journal entries and claims carry
//! a `ttl` (epoch seconds; the table's TTL attribute): observations two
//! days after they were taken, audit entries after [`AUDIT_TTL_DAYS`],
//! journal entries after two days (the core's event window), claims a day
//! after they lapse. The commit also deletes what it absorbed.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use sentinel_core::encoded::EncodedState;
use sentinel_core::engine::Event;
use sentinel_core::probe::{Observation, Purpose};
use sentinel_core::tick::{
    AuditEntry, Capabilities, Commit, CommitBatch, Consistency, Store, Stored,
};
use sentinel_core::time::UnixMillis;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Provider groups: items the providers are spread over.
pub const GROUPS: usize = 64;
/// Days an audit item is kept.
pub const AUDIT_TTL_DAYS: u64 = 90;
const DAY_S: u64 = 86_400;

/// Errors of the DynamoDB store.
#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    /// A DynamoDB call failed (with the SDK's whole error context).
    #[error("dynamodb {op}: {message}")]
    Call {
        /// The operation.
        op: &'static str,
        /// What the SDK said.
        message: String,
    },
    /// An item is not what this store writes.
    #[error("the item `{sk}` is corrupt: {why}")]
    Corrupt {
        /// Its sort key.
        sk: String,
        /// Why.
        why: String,
    },
    /// A load kept racing commits.
    #[error("the state kept changing while it was read (3 attempts)")]
    Unsettled,
}

fn call<E: std::error::Error + 'static>(op: &'static str, e: E) -> DynamoError {
    DynamoError::Call {
        op,
        message: DisplayErrorContext(&e).to_string(),
    }
}

fn corrupt(sk: &str, why: impl std::fmt::Display) -> DynamoError {
    DynamoError::Corrupt {
        sk: sk.to_string(),
        why: why.to_string(),
    }
}

/// The store.
#[derive(Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    pk: String,
    /// Group bytes as of the last load or commit, by version: only the
    /// groups that differ are written.
    cache: Mutex<Option<(u64, Vec<Vec<u8>>)>>,
    /// Whether opening reads the journal (a tick books it; a request does
    /// not need it and saves the query).
    read_journal: bool,
    /// Observations this process wrote ahead since its last commit: the
    /// commit does not write them again.
    written_ahead: Mutex<std::collections::HashSet<String>>,
    /// Query pages read and items written, for the figures.
    pages_read: std::sync::atomic::AtomicU64,
    items_written: std::sync::atomic::AtomicU64,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn b(v: Vec<u8>) -> AttributeValue {
    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(v))
}

fn get_n(item: &Item, key: &str, sk: &str) -> Result<u64, DynamoError> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(sk, format!("`{key}` is not a number")))
}

fn get_b<'a>(item: &'a Item, key: &str, sk: &str) -> Result<&'a [u8], DynamoError> {
    item.get(key)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref())
        .ok_or_else(|| corrupt(sk, format!("`{key}` is not bytes")))
}

fn sk_of(item: &Item) -> String {
    item.get("sk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// FNV-1a: a stable hash (the std hasher is seeded per process).
fn group_of(id: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.as_bytes() {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % GROUPS as u64) as usize
}

fn purpose_code(p: Purpose) -> u8 {
    match p {
        Purpose::Scheduled => 0,
        Purpose::Canary => 1,
        Purpose::StatusPage => 2,
    }
}

fn obs_sk(o: &Observation) -> String {
    format!(
        "o#{:020}#{}#{}",
        o.at,
        o.provider.as_str(),
        purpose_code(o.purpose)
    )
}

/// The parts of a state as group items' bodies (postcard of the entries),
/// and the head.
fn split(state: &EncodedState) -> (Vec<u8>, Vec<u8>, bool, Vec<Vec<u8>>) {
    let mut groups: Vec<Vec<&[u8]>> = vec![Vec::new(); GROUPS];
    for (id, entry) in &state.providers {
        groups[group_of(id.as_str())].push(entry);
    }
    let bodies = groups
        .iter()
        .map(|g| postcard::to_allocvec(g).unwrap_or_default())
        .collect();
    (
        state.prefix.clone(),
        state.suffix.clone(),
        state.opaque,
        bodies,
    )
}

impl DynamoStore {
    /// The store of sentinel `sentinel` in `table`.
    pub fn new(client: Client, table: impl Into<String>, sentinel: &str) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            pk: format!("S#{sentinel}"),
            cache: Mutex::new(None),
            read_journal: true,
            written_ahead: Mutex::new(std::collections::HashSet::new()),
            pages_read: Default::default(),
            items_written: Default::default(),
        }
    }

    /// Whether [`Store::journaled`] reads the journal (default: yes).
    pub fn reading_journal(mut self, yes: bool) -> Self {
        self.read_journal = yes;
        self
    }

    /// Creates the table (on-demand capacity, `ttl` as its TTL attribute),
    /// as the infrastructure template does; for tests and first runs.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), DynamoError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            TimeToLiveSpecification,
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| call("create-table", e))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| call("create-table", e))
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .send()
            .await
            .map_err(|e| call("create-table", e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("ttl")
                    .enabled(true)
                    .build()
                    .map_err(|e| call("update-time-to-live", e))?,
            )
            .send()
            .await
            .map_err(|e| call("update-time-to-live", e))?;
        Ok(())
    }

    /// Every item whose sort key starts with `prefix`, strongly
    /// consistent, all pages.
    async fn query(&self, prefix: &str) -> Result<Vec<Item>, DynamoError> {
        self.query_range(prefix, None).await
    }

    /// Every item whose sort key starts with `prefix` and, with a range,
    /// lies in `[from, to]`.
    async fn query_range(
        &self,
        prefix: &str,
        range: Option<(String, String)>,
    ) -> Result<Vec<Item>, DynamoError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(&self.pk))
                .set_exclusive_start_key(start.take());
            q = match &range {
                Some((from, to)) => q
                    .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(":from", s(from.clone()))
                    .expression_attribute_values(":to", s(to.clone())),
                None => q
                    .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                    .expression_attribute_values(":p", s(prefix)),
            };
            let page = q.send().await.map_err(|e| call("query", e))?;
            self.pages_read
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Writes `requests` 25 at a time, retrying what DynamoDB left
    /// unprocessed (bounded: 5 rounds).
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), DynamoError> {
        self.items_written
            .fetch_add(requests.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for _ in 0..5 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| call("batch-write-item", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
            }
            if !pending.is_empty() {
                return Err(DynamoError::Call {
                    op: "batch-write-item",
                    message: format!("{} items still unprocessed after 5 rounds", pending.len()),
                });
            }
        }
        Ok(())
    }

    fn put_request(
        &self,
        sk: String,
        body: Vec<u8>,
        ttl: u64,
    ) -> Result<WriteRequest, DynamoError> {
        let put = PutRequest::builder()
            .item("pk", s(&self.pk))
            .item("sk", s(sk))
            .item("body", b(body))
            .item("ttl", n(ttl))
            .build()
            .map_err(|e| call("put-request", e))?;
        Ok(WriteRequest::builder().put_request(put).build())
    }

    fn delete_request(&self, sk: String) -> Result<WriteRequest, DynamoError> {
        let del = DeleteRequest::builder()
            .key("pk", s(&self.pk))
            .key("sk", s(sk))
            .build()
            .map_err(|e| call("delete-request", e))?;
        Ok(WriteRequest::builder().delete_request(del).build())
    }

    /// Query pages read and items written (puts and deletes) so far.
    pub fn calls(&self) -> (u64, u64) {
        (
            self.pages_read.load(std::sync::atomic::Ordering::Relaxed),
            self.items_written
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// The newest `limit` audit entries, oldest first.
    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, DynamoError> {
        let items = self.query("a#").await?;
        let mut out = Vec::new();
        for item in &items {
            let sk = sk_of(item);
            let entries: Vec<AuditEntry> =
                serde_json::from_slice(get_b(item, "body", &sk)?).map_err(|e| corrupt(&sk, e))?;
            out.extend(entries);
        }
        let cut = out.len().saturating_sub(limit);
        Ok(out.split_off(cut))
    }

    /// The size of the largest item of the state (head or group), in
    /// bytes of its attributes, and its sort key: for the figures.
    pub async fn largest_state_item(&self) -> Result<(usize, String), DynamoError> {
        let mut largest = (0, String::new());
        for prefix in ["meta", "g#"] {
            for item in self.query(prefix).await? {
                let size: usize = item
                    .values()
                    .map(|v| match v {
                        AttributeValue::B(b) => b.as_ref().len(),
                        AttributeValue::S(s) => s.len(),
                        AttributeValue::N(n) => n.len(),
                        AttributeValue::L(l) => l.len() * 8,
                        _ => 0,
                    })
                    .sum();
                if size > largest.0 {
                    largest = (size, sk_of(&item));
                }
            }
        }
        Ok(largest)
    }

    async fn load_once(&self) -> Result<Option<Option<Stored>>, DynamoError> {
        let meta = self.query("meta").await?;
        let Some(meta) = meta.first() else {
            return Ok(Some(None));
        };
        let version = get_n(meta, "v", "meta")?;
        let prefix = get_b(meta, "prefix", "meta")?.to_vec();
        let suffix = get_b(meta, "suffix", "meta")?.to_vec();
        let opaque = meta
            .get("opaque")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false);
        if opaque {
            *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(Some(Some(Stored {
                bytes: prefix,
                version,
            })));
        }
        let gv: Vec<u64> = match meta.get("gv").and_then(|v| v.as_l().ok()) {
            Some(l) => l
                .iter()
                .map(|x| x.as_n().ok().and_then(|n| n.parse().ok()).unwrap_or(0))
                .collect(),
            None => return Err(corrupt("meta", "`gv` is missing")),
        };
        let items = self.query("g#").await?;
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new(); GROUPS];
        let mut seen = [false; GROUPS];
        for item in &items {
            let sk = sk_of(item);
            let k: usize = sk
                .strip_prefix("g#")
                .and_then(|k| k.parse().ok())
                .filter(|k| *k < GROUPS)
                .ok_or_else(|| corrupt(&sk, "not a group"))?;
            if Some(&get_n(item, "v", &sk)?) != gv.get(k) {
                // Read across a commit: read again.
                return Ok(None);
            }
            bodies[k] = get_b(item, "body", &sk)?.to_vec();
            seen[k] = true;
        }
        if seen.iter().zip(&gv).any(|(s, v)| !s && *v != 0) {
            return Ok(None);
        }
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (k, body) in bodies.iter().enumerate() {
            if body.is_empty() {
                continue;
            }
            let list: Vec<Vec<u8>> =
                postcard::from_bytes(body).map_err(|e| corrupt(&format!("g#{k:02}"), e))?;
            for e in list {
                // The entry starts with the provider id (postcard string):
                // the map's key order is the id's.
                let id: (String,) = postcard::take_from_bytes::<(String,)>(&e)
                    .map(|(id, _)| id)
                    .map_err(|err| corrupt(&format!("g#{k:02}"), err))?;
                entries.push((id.0.into_bytes(), e));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = EncodedState::join(&prefix, entries.iter().map(|(_, e)| e.as_slice()), &suffix);
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, bodies));
        Ok(Some(Some(Stored { bytes, version })))
    }
}

impl Store for DynamoStore {
    type Error = DynamoError;

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            consistency: Consistency::CompareAndSwap,
            writes_per_day: None,
        }
    }

    async fn load(&self) -> Result<Option<Stored>, DynamoError> {
        for _ in 0..3 {
            if let Some(s) = self.load_once().await? {
                return Ok(s);
            }
        }
        Err(DynamoError::Unsettled)
    }

    async fn log_observations(&self, obs: &[Observation]) -> Result<(), DynamoError> {
        let requests = obs
            .iter()
            .map(|o| {
                let body = postcard::to_allocvec(o).map_err(|e| corrupt(&obs_sk(o), e))?;
                self.put_request(obs_sk(o), body, o.at / 1000 + 2 * DAY_S)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await?;
        self.written_ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(obs.iter().map(obs_sk));
        Ok(())
    }

    async fn observations_since(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<Observation>, DynamoError> {
        let items = self
            .query_range("o#", Some((format!("o#{since:020}"), "o#~".to_string())))
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let sk = sk_of(item);
            out.push(postcard::from_bytes(get_b(item, "body", &sk)?).map_err(|e| corrupt(&sk, e))?);
        }
        let cut = out.len().saturating_sub(limit);
        Ok(out.split_off(cut))
    }

    async fn commit(
        &self,
        expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, DynamoError> {
        // Observations first (those not already written ahead): idempotent
        // by key, harmless if the commit then loses (the winner's rebase
        // re-applies them).
        let fresh: Vec<Observation> = {
            let ahead = self.written_ahead.lock().unwrap_or_else(|p| p.into_inner());
            batch
                .observations
                .iter()
                .filter(|o| !ahead.contains(&obs_sk(o)))
                .cloned()
                .collect()
        };
        self.log_observations(&fresh).await?;
        let version = expected.map_or(1, |v| v + 1);
        let (prefix, suffix, opaque, bodies) = split(batch.state);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|(v, _)| Some(*v) == expected);
        // Each group's version: bumped when written, kept otherwise.
        let old_gv: Option<Vec<u64>> = match expected {
            Some(_) => self
                .query("meta")
                .await?
                .first()
                .and_then(|m| m.get("gv").and_then(|v| v.as_l().ok()).cloned())
                .map(|l| {
                    l.iter()
                        .map(|x| x.as_n().ok().and_then(|n| n.parse().ok()).unwrap_or(0))
                        .collect()
                }),
            None => None,
        };
        let mut gv = Vec::with_capacity(GROUPS);
        let mut items: Vec<TransactWriteItem> = Vec::new();
        for (k, body) in bodies.iter().enumerate() {
            let unchanged = !opaque
                && cached.as_ref().is_some_and(|(_, c)| c.get(k) == Some(body))
                && old_gv.as_ref().and_then(|g| g.get(k)).is_some();
            if unchanged {
                gv.push(old_gv.as_ref().and_then(|g| g.get(k)).copied().unwrap_or(0));
                continue;
            }
            gv.push(version);
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", s(&self.pk))
                .item("sk", s(format!("g#{k:02}")))
                .item("v", n(version))
                .item("body", b(body.clone()))
                .build()
                .map_err(|e| call("put", e))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let mut meta = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&self.pk))
            .item("sk", s("meta"))
            .item("v", n(version))
            .item("prefix", b(prefix))
            .item("suffix", b(suffix))
            .item("opaque", AttributeValue::Bool(opaque))
            .item("gv", AttributeValue::L(gv.iter().map(|v| n(*v)).collect()));
        meta = match expected {
            None => meta.condition_expression("attribute_not_exists(pk)"),
            Some(v) => meta
                .condition_expression("v = :expected")
                .expression_attribute_values(":expected", n(v)),
        };
        items.push(
            TransactWriteItem::builder()
                .put(meta.build().map_err(|e| call("put", e))?)
                .build(),
        );
        if !batch.audit.is_empty() {
            let body = serde_json::to_vec(batch.audit).map_err(|e| corrupt("audit", e))?;
            let at = batch.audit.iter().map(|a| a.at).max().unwrap_or(0);
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", s(&self.pk))
                .item("sk", s(format!("a#{version:020}")))
                .item("body", b(body))
                .item("ttl", n(at / 1000 + AUDIT_TTL_DAYS * DAY_S))
                .build()
                .map_err(|e| call("put", e))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.items_written
            .fetch_add(items.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        if let Err(e) = sent {
            let conflict = e
                .as_service_error()
                .is_some_and(|se| se.is_transaction_canceled_exception());
            if conflict {
                *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
                return Ok(Commit::Conflict);
            }
            return Err(call("transact-write-items", e));
        }
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, bodies));
        self.written_ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.after_commit(batch).await?;
        Ok(Commit::Committed { version })
    }

    async fn journal(&self, events: &[Event]) -> Result<(), DynamoError> {
        let requests = events
            .iter()
            .map(|e| {
                let sk = format!("e#{}#{:020}", e.source, e.seq);
                let body = serde_json::to_vec(e).map_err(|err| corrupt(&sk, err))?;
                self.put_request(sk, body, e.at / 1000 + 2 * DAY_S)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }

    async fn journaled(&self) -> Result<Vec<Event>, DynamoError> {
        if !self.read_journal {
            return Ok(Vec::new());
        }
        let items = self.query("e#").await?;
        items
            .iter()
            .map(|item| {
                let sk = sk_of(item);
                serde_json::from_slice(get_b(item, "body", &sk)?).map_err(|e| corrupt(&sk, e))
            })
            .collect()
    }

    async fn claim_deliveries(
        &self,
        keys: &[(u64, u64)],
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<Vec<bool>, DynamoError> {
        let mut granted = Vec::with_capacity(keys.len());
        self.items_written
            .fetch_add(keys.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for (notice, destination) in keys {
            let r = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&self.pk))
                .item("sk", s(format!("c#{notice}#{destination}")))
                .item("until", n(until))
                .item("ttl", n(until / 1000 + DAY_S))
                .condition_expression("attribute_not_exists(sk) OR #u <= :now")
                .expression_attribute_names("#u", "until")
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match r {
                Ok(_) => granted.push(true),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
                {
                    granted.push(false)
                }
                Err(e) => return Err(call("put-item", e)),
            }
        }
        Ok(granted)
    }
}

impl DynamoStore {
    /// After a commit: drop observations older than the peers' window
    /// and the journal entries the state absorbed. Bounded work per commit; TTL takes what is left.
    async fn after_commit(&self, batch: &CommitBatch<'_>) -> Result<(), DynamoError> {
        let mut deletes = Vec::new();
        if batch.keep_observations_since > 0 {
            let below = format!("o#{:020}", batch.keep_observations_since.saturating_sub(1));
            let old = self
                .query_range("o#", Some(("o#".to_string(), format!("{below}~"))))
                .await?
                .into_iter()
                .map(|i| sk_of(&i))
                .filter(|sk| {
                    sk.as_str() < format!("o#{:020}", batch.keep_observations_since).as_str()
                })
                .take(500)
                .collect::<Vec<_>>();
            deletes.extend(old);
        }
        let absorbed: &BTreeMap<String, u64> = batch.absorbed_events;
        if !absorbed.is_empty() {
            for item in self.query("e#").await? {
                let sk = sk_of(&item);
                // `e#{source}#{seq}`; a source may itself contain `#`.
                let rest = sk.split_once('#').map_or("", |x| x.1);
                let (source, seq) = match rest.rsplit_once('#') {
                    Some((source, seq)) => (source, seq.parse::<u64>().ok()),
                    None => ("", None),
                };
                if let (Some(seq), Some(upto)) = (seq, absorbed.get(source)) {
                    if seq <= *upto {
                        deletes.push(sk);
                    }
                }
            }
        }
        let requests = deletes
            .into_iter()
            .map(|sk| self.delete_request(sk))
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }
}
