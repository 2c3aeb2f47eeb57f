#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The anchoring driver (`chain::driver::step`) on a virtual clock against
//! a fake EVM node.
//!
//! The node is a mock, and deliberately so: the real thing (anvil, the
//! deployed `SentinelTrust` contract, two sentinel processes) is tested
//! end to end in `cli/tests/e2e_anchor.rs`. What a real node cannot do on
//! demand — refuse one broadcast, lose the connection between the store
//! and the send, let another transaction take our nonce, sit on a
//! transaction until the test mines it, revert an estimate with a chosen
//! error — the fake does, deterministically, so each of the driver's
//! branches is exercised here.
//!
//! The fake answers the JSON-RPC batches the driver sends, decodes what
//! it is sent with alloy (the reference the core's encoders are tested
//! against in `evm_encoding.rs`): the signed EIP-1559 transaction and the
//! `submit` calldata, whose records it stores when the test mines the
//! transaction, so `latest(bytes32)` then answers what landed. The
//! providers' health probes go to the simulated providers of
//! `sentinel_core::sim`.

mod common;

use alloy_consensus::{Signed, TxEip1559};
use alloy_sol_types::{SolCall, SolError};
use common::start;
use futures_util::FutureExt;
use sentinel_core::action::Action;
use sentinel_core::anchor::OnChain;
use sentinel_core::attest::{epoch_of, keccak256, Signer, EPOCH_MS};
use sentinel_core::books::ladder::Step;
use sentinel_core::books::Metric;
use sentinel_core::chain::driver::{self, Memory, StepOutcome};
use sentinel_core::chain::rpc::to_quantity;
use sentinel_core::chain::{abi, from_hex, hex0x, Anchor, Attempt, Pending, PendingKind};
use sentinel_core::config::Config;
use sentinel_core::probe::{ProbeFailure, ProbeRequest, ProbeResponse, ProbeResult};
use sentinel_core::sim::{MemoryStore, SimProvider, SimRng};
use sentinel_core::tick::{Prober, Sentinel};
use sentinel_core::time::{MINUTE, SECOND};
use sentinel_core::{ProviderId, State, UnixMillis};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

alloy_sol_types::sol! {
    // SentinelTrust's batch call and the error the tests revert with, as
    // contracts/src/SentinelTrust.sol declares them.
    #[derive(Debug)]
    struct SolRecord {
        bytes32 provider;
        uint16 score;
        uint8 trust;
        uint64 epoch;
        uint64 expiry;
        bytes32 evidence;
    }
    function submit(SolRecord[] records, bytes[] signatures) external;
    function submitIndexed(SolRecord[] records, bytes[] signatures, uint32[] indices) external;
    error Stale(bytes32 provider, uint64 storedEpoch, uint256 epoch);
}

/// anvil's first test key.
const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const RPC: &str = "http://127.0.0.1:8545";
const CHAIN_ID: u64 = 31337;
const CONTRACT: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const GWEI: u128 = 1_000_000_000;
/// What the fake's receipts say a batch used.
const GAS_USED: u64 = 150_000;

// ------------------------------------------------------------------ the node

/// A transaction the node took.
#[derive(Clone, Debug)]
struct Tx {
    hash: [u8; 32],
    from: [u8; 20],
    chain_id: u64,
    nonce: u64,
    max_fee: u128,
    tip: u128,
    /// The records its calldata carries (`submit` or `submitIndexed`).
    records: Vec<SolRecord>,
    /// `submitIndexed`'s index hints (empty for `submit`).
    hints: Vec<u32>,
}

/// A fake EVM node with one `SentinelTrust` contract.
#[derive(Debug)]
struct Node {
    chain_id: u64,
    quorum: u64,
    base_fee: u128,
    tip: u128,
    estimate: u64,
    /// Per provider hash, what `latest` returns.
    records: BTreeMap<[u8; 32], OnChain>,
    /// Per provider hash, its 1-based `indexOf` (given when its first
    /// record lands).
    indices: BTreeMap<[u8; 32], u32>,
    /// The key's mined nonce count (`latest`).
    mined_nonce: u64,
    block: u64,
    /// Sent and not mined (every version of a nonce is kept: a block
    /// producer may still include one the pool replaced).
    pool: Vec<Tx>,
    /// Mined, by hash: the transaction and its block.
    mined: BTreeMap<[u8; 32], (Tx, u64)>,
    /// Every call, by method name, in order.
    methods: Vec<String>,
    /// Every raw transaction offered, accepted or not.
    raw: Vec<Vec<u8>>,
    /// For each raw transaction offered: whether the sentinel's store held
    /// it as its pending transaction at that moment.
    stored_when_sent: Vec<bool>,
    /// Refuses connections.
    down: bool,
    /// Refuses connections for any batch with `eth_sendRawTransaction`.
    send_down: bool,
    /// `eth_estimateGas` reverts with this data.
    revert: Option<Vec<u8>>,
    /// `eth_getTransactionReceipt` fails (geth while it indexes).
    receipts_fail: bool,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            chain_id: CHAIN_ID,
            quorum: 1,
            base_fee: GWEI,
            tip: GWEI,
            estimate: 120_000,
            records: BTreeMap::new(),
            indices: BTreeMap::new(),
            mined_nonce: 0,
            block: 100,
            pool: Vec::new(),
            mined: BTreeMap::new(),
            methods: Vec::new(),
            raw: Vec::new(),
            stored_when_sent: Vec::new(),
            down: false,
            send_down: false,
            revert: None,
            receipts_fail: false,
        }
    }
}

type NodeError = (i64, String, Option<String>);

fn word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

fn data_of(v: &Value) -> Vec<u8> {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(from_hex)
        .expect("0x data")
}

impl Node {
    fn pending_nonce(&self) -> u64 {
        self.pool
            .iter()
            .map(|t| t.nonce + 1)
            .max()
            .unwrap_or(0)
            .max(self.mined_nonce)
    }

    fn call(
        &mut self,
        method: &str,
        params: &Value,
        stored: Option<&[u8]>,
    ) -> Result<Value, NodeError> {
        self.methods.push(method.to_string());
        match method {
            "eth_chainId" => Ok(json!(to_quantity(self.chain_id.into()))),
            "eth_call" => {
                let input = data_of(&params[0]["data"]);
                let sel: [u8; 4] = input[..4].try_into().unwrap();
                if sel == abi::selector("quorum()") {
                    Ok(json!(hex0x(&word(self.quorum))))
                } else if sel == abi::selector(abi::LATEST) {
                    let h: [u8; 32] = input[4..36].try_into().unwrap();
                    let on = self.records.get(&h).copied().unwrap_or_default();
                    let mut out = Vec::new();
                    for v in [
                        u64::from(on.score_bps),
                        u64::from(on.trust),
                        on.epoch,
                        on.expiry_s,
                        u64::from(on.revoked),
                    ] {
                        out.extend_from_slice(&word(v));
                    }
                    Ok(json!(hex0x(&out)))
                } else if sel == abi::selector("indexOf(bytes32)") {
                    let h: [u8; 32] = input[4..36].try_into().unwrap();
                    let i = self.indices.get(&h).copied().unwrap_or(0);
                    Ok(json!(hex0x(&word(i.into()))))
                } else {
                    Err((3, "execution reverted".into(), Some("0x".into())))
                }
            }
            "eth_getTransactionCount" => {
                let n = match params[1].as_str() {
                    Some("pending") => self.pending_nonce(),
                    _ => self.mined_nonce,
                };
                Ok(json!(to_quantity(n.into())))
            }
            "eth_getBlockByNumber" => Ok(json!({
                "number": to_quantity(self.block.into()),
                "baseFeePerGas": to_quantity(self.base_fee),
            })),
            "eth_maxPriorityFeePerGas" => Ok(json!(to_quantity(self.tip))),
            "eth_estimateGas" => match &self.revert {
                Some(d) => Err((3, "execution reverted".into(), Some(hex0x(d)))),
                None => Ok(json!(to_quantity(self.estimate.into()))),
            },
            "eth_sendRawTransaction" => {
                let raw = data_of(&params[0]);
                self.raw.push(raw.clone());
                self.stored_when_sent.push(stored == Some(raw.as_slice()));
                self.take(&raw).map(|h| json!(hex0x(&h)))
            }
            "eth_getTransactionReceipt" if self.receipts_fail => {
                Err((-32000, "transaction indexing is in progress".into(), None))
            }
            "eth_getTransactionReceipt" => {
                let h: [u8; 32] = data_of(&params[0]).try_into().unwrap();
                Ok(match self.mined.get(&h) {
                    None => Value::Null,
                    Some((tx, block)) => json!({
                        "transactionHash": hex0x(&h),
                        "status": "0x1",
                        "gasUsed": to_quantity(GAS_USED.into()),
                        "effectiveGasPrice": to_quantity(self.price(tx)),
                        "blockNumber": to_quantity((*block).into()),
                    }),
                })
            }
            other => Err((-32601, format!("the method {other} does not exist"), None)),
        }
    }

    /// What a mined `tx` paid per gas.
    fn price(&self, tx: &Tx) -> u128 {
        tx.max_fee.min(self.base_fee + tx.tip)
    }

    /// `eth_sendRawTransaction`: decodes, checks what a node checks.
    fn take(&mut self, raw: &[u8]) -> Result<[u8; 32], NodeError> {
        let refuse = |m: &str| Err((-32000, m.to_string(), None));
        let Ok(signed) = Signed::<TxEip1559>::eip2718_decode(&mut &raw[..]) else {
            return refuse("rlp: cannot decode the transaction");
        };
        let hash = keccak256(raw);
        assert_eq!(hash, signed.hash().0, "the hash of a typed transaction");
        let t = signed.tx();
        let from = signed.recover_signer().unwrap().0 .0;
        let (records, hints) = match submitCall::abi_decode(&t.input) {
            Ok(c) => (c.records, Vec::new()),
            Err(_) => submitIndexedCall::abi_decode(&t.input)
                .map(|c| (c.records, c.indices))
                .unwrap_or_default(),
        };
        let tx = Tx {
            hash,
            from,
            chain_id: t.chain_id,
            nonce: t.nonce,
            max_fee: t.max_fee_per_gas,
            tip: t.max_priority_fee_per_gas,
            records,
            hints,
        };
        if tx.chain_id != self.chain_id {
            return refuse("invalid chain id for signer");
        }
        if self.mined.contains_key(&hash) || self.pool.iter().any(|p| p.hash == hash) {
            return refuse("already known");
        }
        if tx.nonce < self.mined_nonce {
            return refuse("nonce too low");
        }
        // A replacement must raise both fees by 10 % (geth's default).
        let underpriced = self.pool.iter().any(|p| {
            p.nonce == tx.nonce && (tx.max_fee * 10 < p.max_fee * 11 || tx.tip * 10 < p.tip * 11)
        });
        if underpriced {
            return refuse("replacement transaction underpriced");
        }
        self.pool.push(tx);
        Ok(hash)
    }

    /// Mines the pooled transaction `hash` in a new block: its records
    /// land, its nonce is used.
    fn mine(&mut self, hash: [u8; 32]) {
        let i = self
            .pool
            .iter()
            .position(|t| t.hash == hash)
            .expect("mining a transaction the node has");
        let tx = self.pool.remove(i);
        self.block += 1;
        self.mined_nonce = tx.nonce + 1;
        self.pool.retain(|t| t.nonce != tx.nonce);
        for (i, r) in tx.records.iter().enumerate() {
            let next = self.indices.len() as u32 + 1;
            let index = *self.indices.entry(r.provider.0).or_insert(next);
            // A wrong hint reverts on chain (BadIndex); none is given here.
            let hint = tx.hints.get(i).copied().unwrap_or(0);
            assert!(hint == 0 || hint == index, "hint {hint} for index {index}");
            self.records.insert(
                r.provider.0,
                OnChain {
                    score_bps: r.score,
                    trust: r.trust,
                    epoch: r.epoch,
                    expiry_s: r.expiry,
                    revoked: false,
                },
            );
        }
        self.mined.insert(hash, (tx, self.block));
    }

    /// Another transaction of the same key is mined with the next nonce.
    fn nonce_taken(&mut self) {
        let n = self.mined_nonce;
        self.pool.retain(|t| t.nonce != n);
        self.mined_nonce = n + 1;
        self.block += 1;
    }

    fn answer(&mut self, req: &ProbeRequest, stored: Option<&[u8]>) -> ProbeResult {
        let refused = || Err(ProbeFailure::Connect("connection refused".into()));
        if self.down {
            return refused();
        }
        let body: Value = serde_json::from_slice(req.body.as_deref().unwrap_or_default()).unwrap();
        let calls = body.as_array().expect("the driver sends batches");
        if self.send_down
            && calls
                .iter()
                .any(|c| c["method"] == "eth_sendRawTransaction")
        {
            return refused();
        }
        let answers: Vec<Value> = calls
            .iter()
            .map(|c| {
                let id = c["id"].clone();
                match self.call(c["method"].as_str().unwrap(), &c["params"], stored) {
                    Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
                    Err((code, message, data)) => {
                        let mut e = json!({"code": code, "message": message});
                        if let Some(d) = data {
                            e["data"] = json!(d);
                        }
                        json!({"jsonrpc": "2.0", "id": id, "error": e})
                    }
                }
            })
            .collect();
        Ok(ProbeResponse {
            status: 200,
            latency_ms: 5,
            body: serde_json::to_vec(&answers).unwrap(),
            truncated: false,
            retry_after_s: None,
            signature: None,
        })
    }
}

/// The network: the node at [`RPC`], simulated healthy providers
/// elsewhere.
#[derive(Clone)]
struct Net {
    node: Rc<RefCell<Node>>,
    now: Rc<Cell<UnixMillis>>,
    rng: Rc<RefCell<SimRng>>,
    /// The sentinel's store, read when a transaction is offered.
    store: Arc<MemoryStore>,
}

impl Net {
    fn stored_pending(&self) -> Option<Pending> {
        stored_state(&self.store).anchoring.pending
    }
}

impl Prober for Net {
    async fn probe(&self, req: &ProbeRequest) -> ProbeResult {
        if req.url == RPC {
            let stored = self.stored_pending().map(|p| p.raw);
            return self.node.borrow_mut().answer(req, stored.as_deref());
        }
        SimProvider::default().respond(req, self.now.get(), &mut self.rng.borrow_mut())
    }
}

fn stored_state(store: &MemoryStore) -> State {
    store
        .state
        .borrow()
        .as_ref()
        .map(|s| State::from_bytes(&s.bytes).unwrap())
        .unwrap_or_default()
}

// ------------------------------------------------------------------ the sentinel

fn config(sentinel_extra: &str) -> Config {
    let text = format!(
        r#"
[sentinel]
id = "solo"
allow_private_targets = true
{sentinel_extra}

[policy.trust]
verified_above = 3000
trusted_above = 2000
testing_above = 1000

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/health"
timeout = "2s"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"
initial = "standby"

[chain]
rpc = "{RPC}"
chain_id = {CHAIN_ID}
contract = "{CONTRACT}"
replace_after = "3m"
retry_after = "1m"
recheck = "10m"
"#
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
}

fn pid(s: &str) -> ProviderId {
    ProviderId::new(s).unwrap()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    f.now_or_never().expect("the fakes never wait")
}

/// One sentinel process over the shared store and network.
struct Harness {
    s: Sentinel<Arc<MemoryStore>, Net>,
    net: Net,
    cfg: Config,
    anchor: Anchor,
    memory: Memory,
}

impl Harness {
    /// A sentinel that has probed its providers for a minute, at two
    /// minutes into an epoch, with records for both providers.
    fn new(sentinel_extra: &str) -> Harness {
        let cfg = config(sentinel_extra);
        let net = Net {
            node: Rc::default(),
            now: Rc::new(Cell::new(start())),
            rng: Rc::new(RefCell::new(SimRng::seed(7))),
            // `Store` is forwarded for `&T` and `Arc<T>`, not `Rc<T>`; the
            // test is single-threaded.
            #[allow(clippy::arc_with_non_send_sync)]
            store: Arc::new(MemoryStore::default()),
        };
        assert_eq!(start() % EPOCH_MS, 0, "start() begins an epoch");
        let mut h = Harness::open(cfg, net);
        for _ in 0..3 {
            h.tick();
            h.advance(30 * SECOND);
        }
        h.net.now.set(start() + 2 * MINUTE);
        let now = h.now();
        for p in ["a", "b"] {
            let r = h.s.engine().attestation_record(&pid(p), now);
            assert!(r.as_ref().is_some_and(|r| r.trust >= 2), "{p}: {r:?}");
        }
        h
    }

    /// A process opened over `net`'s store (a start, or a restart: the
    /// process's memory is fresh).
    fn open(cfg: Config, net: Net) -> Harness {
        let anchor = Anchor::from_config(&cfg, |_| Some(KEY.to_string()))
            .unwrap()
            .expect("[chain] is configured");
        let s = block(Sentinel::open(
            cfg.clone(),
            net.store.clone(),
            net.clone(),
            net.now.get(),
        ))
        .unwrap();
        Harness {
            s,
            net,
            cfg,
            anchor,
            memory: Memory::default(),
        }
    }

    /// The process dies; another starts over the same store.
    fn restart(self) -> Harness {
        let Harness { s, net, cfg, .. } = self;
        drop(s);
        Harness::open(cfg, net)
    }

    fn now(&self) -> UnixMillis {
        self.net.now.get()
    }

    fn advance(&self, ms: u64) {
        self.net.now.set(self.now() + ms);
    }

    fn node(&self) -> std::cell::RefMut<'_, Node> {
        self.net.node.borrow_mut()
    }

    fn tick(&mut self) -> sentinel_core::tick::TickReport {
        let t = self.net.now.clone();
        let clock = move || t.get();
        block(self.s.tick(&clock)).unwrap()
    }

    fn step_outcome(&mut self) -> StepOutcome {
        let t = self.net.now.clone();
        let clock = move || t.get();
        block(driver::step(
            &mut self.s,
            &self.anchor,
            &mut self.memory,
            &clock,
        ))
        .unwrap()
    }

    /// A step that makes an attempt.
    fn step(&mut self) -> Attempt {
        match self.step_outcome() {
            StepOutcome::Attempt(a) => a,
            other => panic!("expected an attempt, got {other:?}"),
        }
    }

    fn pending(&self) -> Option<Pending> {
        self.s.engine().state().anchoring.pending.clone()
    }

    fn sends(&self) -> usize {
        self.net
            .node
            .borrow()
            .methods
            .iter()
            .filter(|m| *m == "eth_sendRawTransaction")
            .count()
    }

    /// The first step: one batch sent with nonce 0.
    fn send_first(&mut self) -> Pending {
        let a = self.step();
        assert!(a.ok && a.what.contains("sent, tx"), "{a:?}");
        let p = self.pending().expect("a transaction in flight");
        assert_eq!(p.nonce, 0);
        p
    }

    /// Mines `hash`, then a step settles it.
    fn mine_and_settle(&mut self, hash: [u8; 32]) -> Attempt {
        self.node().mine(hash);
        self.advance(15 * SECOND);
        let a = self.step();
        assert!(a.ok && a.what.contains("landed in block"), "{a:?}");
        a
    }
}

/// The decoded transaction the node took with `hash`.
fn decoded(h: &Harness, hash: [u8; 32]) -> Tx {
    let node = h.net.node.borrow();
    node.pool
        .iter()
        .find(|t| t.hash == hash)
        .cloned()
        .or_else(|| node.mined.get(&hash).map(|(t, _)| t.clone()))
        .expect("the node has the transaction")
}

fn batch_records(p: &Pending) -> Vec<sentinel_core::attest::Record> {
    match &p.kind {
        PendingKind::Batch { records, .. } => records.clone(),
        other => panic!("expected a batch, got {other:?}"),
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn a_batch_is_stored_before_it_is_sent_and_settled_by_its_receipt() {
    let mut h = Harness::new("");
    let writes = h.net.store.writes.get();
    let p = h.send_first();
    // Exactly one raw transaction, stored (in the store, not only in
    // memory) before the node saw it.
    {
        let node = h.net.node.borrow();
        assert_eq!(node.raw.len(), 1);
        assert_eq!(node.stored_when_sent, vec![true]);
        assert_eq!(node.raw[0], p.raw);
        assert_eq!(p.hashes, vec![keccak256(&node.raw[0])]);
        assert!(!node
            .methods
            .contains(&"eth_getTransactionReceipt".to_string()));
    }
    assert_eq!(
        stored_state(&h.net.store).anchoring.pending,
        Some(p.clone())
    );
    assert!(h.net.store.writes.get() > writes);
    // What was signed: our key, the configured chain, both providers'
    // records as planned.
    let tx = decoded(&h, p.hash());
    assert_eq!(tx.from, Signer::from_hex(KEY).unwrap().address());
    assert_eq!((tx.chain_id, tx.nonce), (CHAIN_ID, 0));
    assert_eq!((tx.max_fee, tx.tip), (p.max_fee, p.priority_fee));
    assert_eq!((p.max_fee, p.priority_fee), (3 * GWEI, GWEI));
    let records = batch_records(&p);
    let ids: Vec<&str> = records.iter().map(|r| r.provider.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(tx.records.len(), 2);
    // Neither provider has an index on chain yet: no hints.
    assert!(tx.hints.iter().all(|i| *i == 0), "{:?}", tx.hints);
    for (r, s) in records.iter().zip(&tx.records) {
        assert_eq!(s.provider.0, r.provider_hash());
        assert_eq!((s.score, s.trust, s.epoch), (r.score_bps, r.trust, r.epoch));
        assert_eq!(s.evidence.0, r.evidence);
    }

    // Unmined: the step waits (and offers the same bytes again).
    h.advance(30 * SECOND);
    let a = h.step();
    assert!(a.ok && a.what.contains("waiting to be mined"), "{a:?}");
    assert_eq!(h.pending(), Some(p.clone()));

    let gas_before = h.s.engine().state().footprint.compute_units;
    assert_eq!(gas_before, 0);
    let a = h.mine_and_settle(p.hash());
    let block_no = h.net.node.borrow().block;
    assert!(a.what.contains(&format!("block {block_no}")), "{a:?}");
    let st = &h.s.engine().state().anchoring;
    assert_eq!(st.pending, None);
    assert_eq!(st.landed, 1);
    assert_eq!(st.gas_used, GAS_USED);
    // Paid base fee + tip (2 gwei) per gas.
    assert_eq!(st.wei_spent, u128::from(GAS_USED) * 2 * GWEI);
    assert_eq!(st.anchored.len(), 2);
    for r in &records {
        let an = &st.anchored[&r.provider];
        assert_eq!(&an.record, r);
        assert_eq!(an.evidence.hash(), r.evidence);
        assert_eq!((an.tx, an.block), (p.hash(), block_no));
    }
    // Verified records count once the chain has them.
    assert!(records.iter().all(|r| r.trust == 3), "{records:?}");
    for r in records.iter().filter(|r| r.trust == 3) {
        assert_eq!(
            h.s.engine().state().providers[&r.provider].attested_until,
            Some(r.expiry_s * 1000)
        );
    }
    // The gas is booked in the sentinel's own footprint, and all of it
    // is stored.
    assert_eq!(h.s.engine().state().footprint.compute_units, GAS_USED);
    assert_eq!(stored_state(&h.net.store).anchoring, *st);
}

#[test]
fn a_crash_between_store_and_send_sends_the_same_bytes_again() {
    let mut h = Harness::new("");
    h.node().send_down = true;
    let a = h.step();
    assert!(
        !a.ok && a.what.contains("stored, not broadcast yet"),
        "{a:?}"
    );
    let p = h.pending().expect("stored");
    assert_eq!(
        stored_state(&h.net.store).anchoring.pending,
        Some(p.clone())
    );
    assert!(
        h.net.node.borrow().raw.is_empty(),
        "nothing reached the node"
    );

    // A restart: a new process over the same store, with a fresh memory.
    h.node().send_down = false;
    let mut h = h.restart();
    assert_eq!(h.pending(), Some(p.clone()));
    h.advance(5 * SECOND);
    let a = h.step();
    assert!(a.ok && a.what.contains("waiting to be mined"), "{a:?}");
    {
        let node = h.net.node.borrow();
        assert_eq!(node.raw, vec![p.raw.clone()]);
        assert_eq!(keccak256(&node.raw[0]), p.hashes[0]);
        assert_eq!(node.pool.len(), 1);
        assert_eq!(node.pool[0].nonce, 0);
    }
    assert_eq!(h.pending(), Some(p.clone()));
    // More wake-ups before `replace_after`: the same bytes, never a second
    // transaction for the nonce.
    for _ in 0..4 {
        h.advance(20 * SECOND);
        let a = h.step();
        assert!(a.ok, "{a:?}");
    }
    {
        let node = h.net.node.borrow();
        assert!(node.raw.len() >= 5);
        assert!(node.raw.iter().all(|r| *r == p.raw), "one transaction only");
    }
    h.mine_and_settle(p.hash());
    let st = &h.s.engine().state().anchoring;
    assert_eq!((st.landed, st.pending.is_none()), (1, true));
    assert!(st.anchored.values().all(|a| a.tx == p.hashes[0]));
}

#[test]
fn an_unmined_transaction_is_replaced_with_higher_fees_same_nonce() {
    let mut h = Harness::new("");
    let old = h.send_first();
    h.advance(MINUTE);
    let a = h.step();
    assert!(a.ok && a.what.contains("waiting to be mined"), "{a:?}");
    assert_eq!(h.pending().unwrap().hashes.len(), 1);

    // `replace_after` (3m) after it was signed.
    h.net.now.set(old.signed_at + 3 * MINUTE);
    let a = h.step();
    assert!(a.ok && a.what.contains("replaced with"), "{a:?}");
    let new = h.pending().unwrap();
    assert_eq!(new.nonce, old.nonce);
    assert_eq!(new.hashes.len(), 2);
    assert_eq!(new.hashes[0], old.hash());
    assert_ne!(new.hash(), old.hash());
    assert_eq!(new.hash(), keccak256(&new.raw));
    assert_eq!(new.input, old.input);
    assert_eq!(new.first_at, old.first_at);
    assert_eq!(new.signed_at, h.now());
    // At least 12.5 % more, both fees, as signed.
    let tx = decoded(&h, new.hash());
    assert_eq!(tx.nonce, old.nonce);
    assert_eq!((tx.max_fee, tx.tip), (new.max_fee, new.priority_fee));
    assert!(
        tx.max_fee * 8 >= old.max_fee * 9,
        "{} vs {}",
        tx.max_fee,
        old.max_fee
    );
    assert!(
        tx.tip * 8 >= old.priority_fee * 9,
        "{} vs {}",
        tx.tip,
        old.priority_fee
    );
    assert!(tx.max_fee <= 100 * GWEI, "within the fee cap");
    // The node took the replacement (it was not underpriced).
    assert_eq!(h.net.node.borrow().pool.len(), 2);
    assert_eq!(
        stored_state(&h.net.store).anchoring.pending,
        Some(new.clone())
    );

    // The earlier version is the one mined: it settles all the same.
    h.mine_and_settle(old.hash());
    let st = &h.s.engine().state().anchoring;
    assert_eq!((st.landed, st.pending.is_none()), (1, true));
    assert_eq!(st.anchored.len(), 2);
    assert!(st.anchored.values().all(|a| a.tx == old.hash()));
}

#[test]
fn a_nonce_taken_by_another_transaction_drops_the_pending_one() {
    let mut h = Harness::new("");
    let p = h.send_first();
    h.node().nonce_taken();
    h.advance(30 * SECOND);
    // Once is not proof (a load-balanced endpoint may answer the count
    // from a backend ahead of the one answering receipts): ask again.
    let a = h.step();
    assert!(
        a.ok && a.what.contains("no receipt of ours is seen yet"),
        "{a:?}"
    );
    assert!(h.pending().is_some());
    h.advance(MINUTE);
    let a = h.step();
    assert!(
        !a.ok && a.what.contains("nonce 0 was used by another transaction"),
        "{a:?}"
    );
    assert_eq!(h.pending(), None);
    assert_eq!(stored_state(&h.net.store).anchoring.pending, None);
    let st = &h.s.engine().state().anchoring;
    assert_eq!((st.landed, st.anchored.len()), (0, 0));
    // The chain is read again at once, and the records (not on chain)
    // are proposed again with the next nonce.
    let a = h.step();
    assert!(a.ok && a.what.contains("sent, tx"), "{a:?}");
    let again = h.pending().unwrap();
    assert_eq!(again.nonce, 1);
    assert_eq!(batch_records(&again), batch_records(&p));
}

#[test]
fn a_batch_whose_records_expired_unmined_is_cancelled_not_paid_for() {
    let mut h = Harness::new("");
    let p = h.send_first();
    let expiry = batch_records(&p)
        .iter()
        .map(|r| r.expiry_s * 1000)
        .max()
        .unwrap();
    h.net.now.set(expiry + SECOND);
    let a = h.step();
    assert!(a.ok && a.what.contains("cancelled"), "{a:?}");
    let c = h.pending().unwrap();
    assert!(c.cancelling());
    assert_eq!((c.nonce, c.hashes.len()), (p.nonce, 2));
    let tx = decoded(&h, c.hash());
    assert_eq!(tx.nonce, p.nonce);
    assert!(
        tx.records.is_empty(),
        "a transfer of nothing, not the batch"
    );
    assert!(tx.max_fee * 8 >= p.max_fee * 9);
    // The cancellation is mined: nothing is anchored, its gas is booked.
    h.node().mine(c.hash());
    h.advance(15 * SECOND);
    let a = h.step();
    assert!(
        !a.ok && a.what.contains("cancelled, its records having expired"),
        "{a:?}"
    );
    let st = &h.s.engine().state().anchoring;
    assert!(st.pending.is_none() && st.anchored.is_empty());
    assert!(st.gas_used >= 21_000, "{}", st.gas_used);
}

#[test]
fn the_first_version_is_never_forgotten() {
    let mut h = Harness::new("");
    let first = h.send_first();
    for _ in 0..12 {
        h.advance(3 * MINUTE);
        let a = h.step();
        assert!(a.ok && a.what.contains("replaced with"), "{a:?}");
    }
    let p = h.pending().unwrap();
    assert_eq!(p.hashes.len(), sentinel_core::chain::state::MAX_VERSIONS);
    assert_eq!(p.hashes[0], first.hash(), "the first version is kept");
    // The first is the one mined, after all.
    h.mine_and_settle(first.hash());
    let st = &h.s.engine().state().anchoring;
    assert!(st.anchored.values().all(|a| a.tx == first.hash()));
}

#[test]
fn a_dead_endpoint_backs_off_and_writes_once() {
    let mut h = Harness::new("");
    h.node().down = true;
    let before = (h.net.store.writes.get(), h.s.version());
    let a = h.step();
    assert!(!a.ok && a.what.contains("cannot read the chain"), "{a:?}");
    assert!(a.what.contains("unreachable"), "{a:?}");
    // The failure is written once.
    let after = (h.net.store.writes.get(), h.s.version());
    assert_eq!(after.0, before.0 + 1);
    assert_ne!(after.1, before.1);
    assert_eq!(stored_state(&h.net.store).anchoring.last, Some(a.clone()));
    // Within `retry_after` (1m): not even a try.
    for t in [1, 20, 59] {
        h.net.now.set(a.at + t * SECOND);
        assert_eq!(h.step_outcome(), StepOutcome::NotDue, "at +{t}s");
    }
    assert!(h.net.node.borrow().methods.is_empty());
    // After it: the same failure, not written again.
    for i in 1..=3 {
        h.net.now.set(a.at + i * (MINUTE + SECOND));
        let again = h.step();
        assert!(!again.ok && again.what == a.what, "{again:?}");
        assert_eq!((h.net.store.writes.get(), h.s.version()), after);
    }
    assert_eq!(h.sends(), 0);
    assert_eq!(h.pending(), None);
    // Back up: anchors.
    h.node().down = false;
    h.advance(2 * MINUTE);
    let a = h.step();
    assert!(a.ok && a.what.contains("sent, tx"), "{a:?}");
}

#[test]
fn the_ladder_stops_anchoring() {
    let mut h = Harness::new(&format!(
        r#"footprint = {{ quotas = [{{ metric = "gas", limit = {GAS_USED}, period = "month" }}] }}"#
    ));
    let p = h.send_first();
    h.mine_and_settle(p.hash());
    let now = h.now();
    let gas =
        h.s.engine()
            .footprint_status(now)
            .into_iter()
            .find(|q| q.metric == Metric::Gas)
            .unwrap();
    assert_eq!((gas.used, gas.limit), (GAS_USED, GAS_USED));
    // The tick decides the footprint's step.
    let r = h.tick();
    assert!(
        r.actions.iter().any(|a| matches!(
            a,
            Action::BudgetStep { target, to: Step::Stop, .. } if target == "sentinel"
        )),
        "{:?}",
        r.actions
    );
    assert_eq!(h.s.engine().state().footprint_step, Step::Stop);
    // The next epoch: records are due again, and nothing is anchored —
    // the chain is not even read.
    h.net.now.set((epoch_of(now) + 1) * EPOCH_MS + 2 * MINUTE);
    h.tick();
    let calls = h.net.node.borrow().methods.len();
    let a = h.step();
    assert!(!a.ok && a.what.contains("budget is spent"), "{a:?}");
    assert_eq!(h.net.node.borrow().methods.len(), calls);
    assert_eq!(h.pending(), None);
    assert_eq!(h.s.engine().state().anchoring.landed, 1);
}

#[test]
fn a_wrong_chain_id_signs_nothing() {
    let mut h = Harness::new("");
    h.node().chain_id = 1;
    let a = h.step();
    assert!(!a.ok, "{a:?}");
    assert!(
        a.what
            .contains("the endpoint is chain 1, the config says 31337: nothing is signed"),
        "{a:?}"
    );
    let node = h.net.node.borrow();
    assert!(!node.methods.iter().any(|m| m == "eth_estimateGas"));
    assert!(node.raw.is_empty());
    assert_eq!(h.pending(), None);
}

#[test]
fn the_contract_refusing_in_estimate_sends_nothing() {
    let mut h = Harness::new("");
    let epoch = epoch_of(h.now());
    let stale = Stale {
        provider: keccak256("a").into(),
        storedEpoch: epoch,
        epoch: alloy_primitives::U256::from(epoch),
    };
    h.node().revert = Some(stale.abi_encode());
    let a = h.step();
    assert!(!a.ok, "{a:?}");
    assert!(a.what.contains("the contract refuses it: Stale("), "{a:?}");
    assert!(a.what.contains(&format!("storedEpoch {epoch}")), "{a:?}");
    assert!(a.what.contains("nothing sent"), "{a:?}");
    assert_eq!(h.sends(), 0);
    assert_eq!(h.pending(), None);
    assert_eq!(
        h.net
            .node
            .borrow()
            .methods
            .iter()
            .filter(|m| *m == "eth_estimateGas")
            .count(),
        1
    );
    // It is not tried again at the next wake-up.
    h.advance(30 * SECOND);
    assert_eq!(h.step_outcome(), StepOutcome::NotDue);
}

#[test]
fn an_anchored_epoch_is_not_anchored_again() {
    let mut h = Harness::new("");
    let p = h.send_first();
    h.mine_and_settle(p.hash());
    let anchored = h.s.engine().state().anchoring.clone();
    let sends = h.sends();
    // At once (the settling step asks for another) and past `recheck`,
    // still in the epoch: the chain is read and holds the records.
    let mut writes = None;
    for later in [0, 11 * MINUTE, 22 * MINUTE] {
        h.advance(later);
        assert_eq!(epoch_of(h.now()), epoch_of(p.first_at));
        let reads = h.net.node.borrow().methods.len();
        let a = h.step();
        assert!(a.ok && a.what.starts_with("up to date"), "{a:?}");
        let node = h.net.node.borrow();
        let this_step = &node.methods[reads..];
        assert!(this_step.contains(&"eth_call".to_string()), "{this_step:?}");
        assert!(
            !this_step
                .iter()
                .any(|m| m == "eth_estimateGas" || m == "eth_sendRawTransaction"),
            "{this_step:?}"
        );
        drop(node);
        // Saying "up to date" is written once; reading the chain again
        // and finding the same writes nothing.
        let now_writes = h.net.store.writes.get();
        assert_eq!(*writes.get_or_insert(now_writes), now_writes);
    }
    assert_eq!(h.sends(), sends);
    assert_eq!(h.pending(), None);
    let st = &h.s.engine().state().anchoring;
    assert_eq!((st.landed, &st.anchored), (1, &anchored.anchored));
    // Before `recheck`, not even a read.
    h.advance(MINUTE);
    assert_eq!(h.step_outcome(), StepOutcome::NotDue);
    // The next epoch is due again, with the indices the contract gave
    // the providers as hints.
    h.net
        .now
        .set((epoch_of(p.first_at) + 1) * EPOCH_MS + 2 * MINUTE);
    let a = h.step();
    assert!(a.ok && a.what.contains("sent, tx"), "{a:?}");
    let next = h.pending().unwrap();
    assert_eq!(next.nonce, 1);
    assert!(batch_records(&next)
        .iter()
        .all(|r| r.epoch == epoch_of(p.first_at) + 1));
    assert_eq!(decoded(&h, next.hash()).hints, vec![1, 2]);
}

#[test]
fn a_receipt_the_node_cannot_give_does_not_drop_a_mined_transaction() {
    let mut h = Harness::new("");
    let p = h.send_first();
    h.node().mine(p.hash());
    // The node knows the nonce is used, and cannot say by what yet.
    h.node().receipts_fail = true;
    h.advance(15 * SECOND);
    let a = h.step();
    assert!(!a.ok && a.what.contains("cannot read the receipt"), "{a:?}");
    assert_eq!(h.pending().map(|x| x.hash()), Some(p.hash()), "{a:?}");
    // Once it can, the transaction settles as ours: evidence kept, gas
    // booked.
    h.node().receipts_fail = false;
    h.advance(2 * MINUTE);
    let a = h.step();
    assert!(a.ok && a.what.contains("landed in block"), "{a:?}");
    let st = &h.s.engine().state().anchoring;
    assert_eq!(
        (st.landed, st.gas_used, st.anchored.len()),
        (1, GAS_USED, 2)
    );
}
