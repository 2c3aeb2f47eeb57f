#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! Anchoring end to end on anvil (issue 17): two `sentinel run` processes
//! (peers, each with its own chain key) anchor their providers' records
//! on a `SentinelTrust` contract that needs both signatures.
//!
//! - The proposer (the smaller id) plans from what the contract holds,
//!   its peer co-signs, the transaction is stored and sent; the node
//!   drops it from its pool, and the sentinel sends the same transaction
//!   again (same hash, same nonce) until it is mined.
//! - The record lands once per provider and epoch; `isVerified` answers
//!   through `cast call`; `sentinel verify` checks the frozen evidence the
//!   proposer serves.
//! - A restarted proposer does not anchor the same epoch again.
//! - With the proposer's RPC endpoint dead, a provider that fails on both
//!   sentinels is not revoked (the step fails and says why); once the
//!   endpoint is back, it is revoked exactly once.

mod chain;
mod support;

use chain::*;
use sentinel_cli::testbed::{find_anvil, Anvil, FakeApi, Mode};
use sentinel_core::attest::{keccak256, Signer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const SECRET: &str = "e2e-anchor-peer-secret-0123456789abcdef";

/// A TCP relay on 127.0.0.1 in front of the node: the proposer's RPC
/// endpoint, which the test kills (the port refuses connections) and
/// revives.
struct Relay {
    port: u16,
    target: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(target: u16) -> Relay {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mut r = Relay {
            port,
            target,
            task: None,
        };
        r.serve(l);
        r
    }

    fn serve(&mut self, l: tokio::net::TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut t) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut c, &mut t).await;
                    }
                });
            }
        }));
    }

    /// Stops listening: connections to the port are refused.
    async fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    async fn revive(&mut self) {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(l);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A `sentinel run` process, killed when dropped.
struct Sentinel {
    id: String,
    base: String,
    port: u16,
    config: PathBuf,
    data: PathBuf,
    key: String,
    child: Option<Child>,
}

impl Sentinel {
    fn start_new(dir: &Path, id: &str, port: u16, config: &str, key: &str) -> Sentinel {
        let path = dir.join(format!("{id}.toml"));
        std::fs::write(&path, config).unwrap();
        let mut s = Sentinel {
            id: id.into(),
            base: format!("http://127.0.0.1:{port}"),
            port,
            config: path,
            data: dir.join(format!("data-{id}")),
            key: key.into(),
            child: None,
        };
        s.start();
        s
    }

    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
            .args(["run", "--config"])
            .arg(&self.config)
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--data"])
            .arg(&self.data)
            .env("SENTINEL_LOG", "warn")
            .env("SENTINEL_PEER_SECRET", SECRET)
            .env("SENTINEL_CHAIN_KEY", &self.key)
            .env_remove("SENTINEL_WEBHOOK")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sentinel");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn wait_up(&mut self, c: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("sentinel {} exited: {status}", self.id);
            }
            if get(c, &format!("{}/healthz", self.base))
                .await
                .is_some_and(|(s, _)| s == 200)
            {
                return;
            }
            assert!(Instant::now() < deadline, "{} not up in 20 s", self.id);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /v1/attestations/{id}`: (status, body).
    async fn attestation(&self, c: &reqwest::Client, id: &str) -> (u16, Value) {
        let (s, body) = get(c, &format!("{}/v1/attestations/{id}", self.base))
            .await
            .unwrap_or((0, "null".into()));
        (s, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The anchoring overview in an attestation answer (200 or 404).
fn anchoring(v: &Value) -> &Value {
    v.get("anchoring")
        .or_else(|| v.pointer("/error/details/anchoring"))
        .unwrap_or(&Value::Null)
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = match f().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out ({secs} s) waiting for {what}; last seen:\n{seen}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn rpc(node: &Anvil, method: &str, params: &str) -> Value {
    let body = node.rpc(method, params).await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method}: {e}: {body}"));
    assert!(v.get("error").is_none(), "{method}: {v}");
    v["result"].clone()
}

/// The contract's events with topic `sig`: (provider topic, epoch) → count.
async fn events(node: &Anvil, contract: &str, sig: &str) -> BTreeMap<(String, u64), u32> {
    let topic = hex(&keccak256(sig));
    let logs = rpc(
        node,
        "eth_getLogs",
        &format!(r#"[{{"address":"{contract}","fromBlock":"0x0","toBlock":"latest","topics":["{topic}"]}}]"#),
    )
    .await;
    let mut out = BTreeMap::new();
    for l in logs.as_array().unwrap() {
        let provider = l["topics"][1].as_str().unwrap().to_string();
        let data = l["data"].as_str().unwrap().trim_start_matches("0x");
        // Attested: score, trust, epoch, …; Revoked: epoch.
        let word = if sig.starts_with("Attested") { 2 } else { 0 };
        let epoch = u64::from_str_radix(&data[word * 64 + 48..word * 64 + 64], 16).unwrap();
        *out.entry((provider, epoch)).or_insert(0) += 1;
    }
    out
}

const ATTESTED: &str = "Attested(bytes32,uint16,uint8,uint64,uint64,bytes32)";
const REVOKED: &str = "Revoked(bytes32,uint64)";

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
}

fn config(id: &str, apis: &[FakeApi], peer: (&str, u16), rpc: &str, contract: &str) -> String {
    let base = api_config_text(apis, 1, "");
    assert!(
        base.contains("id = \"e2e\""),
        "support::api_config_text changed"
    );
    let mut t = base.replacen("id = \"e2e\"", &format!("id = \"{id}\""), 1);
    t.push_str(&format!(
        r#"
[[peer]]
id = "{}"
url = "http://127.0.0.1:{}"

[quorum]
peer_down_after = 2

[policy.trust]
verified_above = 3000
trusted_above = 2000
testing_above = 1000

[chain]
rpc = "{rpc}"
chain_id = 31337
contract = "{contract}"
retry_after = "1s"
recheck = "2s"
tolerance_bps = 1500
"#,
        peer.0, peer.1
    ));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sentinels_anchor_once_through_a_dropped_transaction_a_restart_and_a_dead_rpc() {
    let (Some(anvil), Some(_)) = (find_anvil(), find_tool("cast")) else {
        missing("anvil and cast");
        return;
    };
    let node = Anvil::spawn(&anvil, 31337, 1).await.unwrap();
    let keys = [KEYS[1], KEYS[2]];
    let addrs: Vec<[u8; 20]> = keys
        .iter()
        .map(|k| Signer::from_hex(k).unwrap().address())
        .collect();
    let contract = deploy(&node.url(), &addrs, 2);
    // Blocks only when the test says: the first transaction waits.
    rpc(&node, "evm_setIntervalMining", "[0]").await;
    rpc(&node, "evm_setAutomine", "[false]").await;
    let mut relay = Relay::start(node.port).await;

    let mut apis = Vec::new();
    for name in ["p1", "p2", "p3"] {
        apis.push(FakeApi::spawn(name).await.unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        sentinel_cli::testbed::free_port().unwrap(),
        sentinel_cli::testbed::free_port().unwrap(),
    );
    let c = client();
    // `a` proposes (the smaller id) through the relay; `b` co-signs.
    let mut a = Sentinel::start_new(
        dir.path(),
        "a",
        pa,
        &config("a", &apis, ("b", pb), &relay.url(), &contract),
        keys[0],
    );
    let mut b = Sentinel::start_new(
        dir.path(),
        "b",
        pb,
        &config("b", &apis, ("a", pa), &node.url(), &contract),
        keys[1],
    );
    a.wait_up(&c).await;
    b.wait_up(&c).await;

    // 1. Co-signed, stored and sent: it waits in the pool.
    let tx = wait_for("a transaction in flight", 90, async || {
        let (_, v) = a.attestation(&c, "p1").await;
        anchoring(&v)["pending"]["tx"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{v:#}"))
    })
    .await;
    let epoch = epoch_now();
    let seen = rpc(&node, "eth_getTransactionByHash", &format!(r#"["{tx}"]"#)).await;
    assert!(!seen.is_null(), "the node has the transaction {tx}");

    // 2. The node drops it; the sentinel sends the same bytes again.
    rpc(&node, "anvil_dropAllTransactions", "[]").await;
    let gone = rpc(&node, "eth_getTransactionByHash", &format!(r#"["{tx}"]"#)).await;
    assert!(gone.is_null(), "dropped: {gone}");
    wait_for("the dropped transaction sent again", 30, async || {
        let v = rpc(&node, "eth_getTransactionByHash", &format!(r#"["{tx}"]"#)).await;
        if v.is_null() {
            Err("not in the pool".into())
        } else {
            Ok(())
        }
    })
    .await;

    // 3. Mined: the records land, once each.
    rpc(&node, "evm_setAutomine", "[true]").await;
    rpc(&node, "evm_setIntervalMining", "[1]").await;
    let landed = wait_for("the batch anchored", 60, async || {
        let (s, v) = a.attestation(&c, "p1").await;
        if s == 200 {
            Ok(v)
        } else {
            Err(format!("{s} {v:#}"))
        }
    })
    .await;
    let record = &landed["anchored"]["record"];
    eprintln!(
        "landed: {}",
        anchoring(&landed)["last"]["what"].as_str().unwrap_or("")
    );
    if epoch_now() == epoch {
        assert_eq!(
            landed["anchored"]["tx"],
            tx.as_str(),
            "the stored transaction was the one mined: {landed:#}"
        );
    }
    let attested = events(&node, &contract, ATTESTED).await;
    assert!(
        attested.values().all(|n| *n == 1),
        "one record per provider and epoch: {attested:?}"
    );
    // The dashboard says so.
    let (_, page) = get(&c, &format!("{}/", a.base)).await.unwrap();
    assert!(page.contains("data-anchoring=\"ok\""), "{page}");
    for p in ["p1", "p2", "p3"] {
        let topic = hex(&keccak256(p));
        assert!(
            attested.keys().any(|(t, _)| *t == topic),
            "{p} anchored: {attested:?}"
        );
    }
    let addr_a = hex(&addrs[0]);
    let sent = nonce(&node, &addr_a).await;
    // (A new hour is a new epoch: anchoring it is a second transaction.)
    if epoch_now() == epoch {
        assert_eq!(sent, "0x1", "one transaction from the proposer");
    }

    // Anyone can check: `cast call isVerified`, and `sentinel verify` with
    // the evidence the proposer froze when the record landed.
    assert_eq!(record["trust"], 3, "{landed:#}");
    assert_eq!(is_verified(&node.url(), &contract, "p1"), "true");
    let (ok, out) = verify_cmd(&[
        "p1",
        "--rpc",
        &node.url(),
        "--contract",
        &contract,
        "--sentinel",
        &a.base,
        "--min-score",
        "0",
    ]);
    assert!(ok && out.contains("the attestation holds"), "{out}");
    // The peer learns the chain's word too: its own trust rests on it.
    wait_for("b sees p1 verified", 30, async || {
        let v = get_json(&c, &format!("{}/v1/providers/p1", b.base))
            .await
            .unwrap_or(Value::Null);
        let trust = v.pointer("/trust").cloned().unwrap_or(Value::Null);
        if trust == "verified" {
            Ok(())
        } else {
            Err(format!("{trust}"))
        }
    })
    .await;

    // 4. A restarted proposer does not anchor this epoch again.
    a.kill();
    a.start();
    a.wait_up(&c).await;
    wait_for("a reads the chain again", 30, async || {
        let (s, v) = a.attestation(&c, "p1").await;
        let what = anchoring(&v)["last"]["what"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if s == 200 && what.contains("up to date") {
            Ok(())
        } else {
            Err(format!("{s} {v:#}"))
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    if epoch_now() == epoch {
        let again = nonce(&node, &addr_a).await;
        assert_eq!(again, "0x1", "nothing sent again after a restart");
    }
    let attested = events(&node, &contract, ATTESTED).await;
    assert!(attested.values().all(|n| *n == 1), "{attested:?}");

    // 5. The proposer's endpoint dies; p3 fails for both sentinels. The
    // revocation waits and says why; nothing is revoked meanwhile.
    relay.kill().await;
    apis[2].set(Mode::Outage).await.unwrap();
    wait_for("a reports the dead endpoint", 60, async || {
        let (_, v) = a.attestation(&c, "p1").await;
        let last = &anchoring(&v)["last"];
        let what = last["what"].as_str().unwrap_or("");
        if last["ok"] == false && what.contains("cannot read the chain") {
            Ok(())
        } else {
            Err(format!("{v:#}"))
        }
    })
    .await;
    assert!(events(&node, &contract, REVOKED).await.is_empty());
    // 6. Back: revoked exactly once.
    relay.revive().await;
    let p3 = hex(&keccak256("p3"));
    wait_for("p3 revoked", 60, async || {
        let revoked = events(&node, &contract, REVOKED).await;
        if revoked.keys().any(|(t, _)| *t == p3) {
            Ok(())
        } else {
            let (_, v) = a.attestation(&c, "p3").await;
            Err(format!("{revoked:?} {v:#}"))
        }
    })
    .await;
    assert_eq!(is_verified(&node.url(), &contract, "p3"), "false");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let revoked = events(&node, &contract, REVOKED).await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(revoked.values().all(|n| *n == 1), "{revoked:?}");
    wait_for("a no longer serves p3 as anchored", 20, async || {
        let (s, v) = a.attestation(&c, "p3").await;
        if s == 404 {
            Ok(())
        } else {
            Err(format!("{s} {v:#}"))
        }
    })
    .await;
    // Only the proposer spent gas: the co-signer never raced it (not at
    // start, before it heard from the proposer, nor while the proposer
    // restarted).
    let addr_b = hex(&addrs[1]);
    assert_eq!(
        nonce(&node, &addr_b).await,
        "0x0",
        "the co-signer sent nothing"
    );
    b.kill();
    a.kill();
}
