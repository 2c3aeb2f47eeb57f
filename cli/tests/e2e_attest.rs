#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! On-chain trust end to end on anvil (issue 17, first part): the checked-in
//! `SentinelTrust` artifact deployed with Foundry's `cast`, two sentinel
//! keys signing one EIP-712 batch digest made by the core, the batch
//! landing through `cast send`, `isVerified` answering through `cast call`;
//! a forged, replayed, expired and under-quorum batch refused by the
//! contract; and `sentinel verify` saying whether an attestation holds,
//! with the evidence a running sentinel serves.

mod support;

use sentinel_cli::testbed::{find_anvil, Anvil, FakeApi};
use sentinel_core::attest::{keccak256, Domain, Record, Signer};
use sentinel_core::ProviderId;
use std::process::Command;
use support::*;

/// anvil's first three test keys (well known; never use them elsewhere).
const KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e66e9d8f27ad6abb3e95a5b6e6",
];

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn cast(args: &[&str]) -> (bool, String) {
    let bin = find_tool("cast").expect("cast");
    let out = Command::new(bin).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

fn record_tuple(r: &Record) -> String {
    format!(
        "({},{},{},{},{},{})",
        hex(&r.provider_hash()),
        r.score_bps,
        r.trust,
        r.epoch,
        r.expiry_s,
        hex(&r.evidence)
    )
}

/// Signs `records` with the given keys, sorted by signer address as the
/// contract requires.
fn signatures(domain: &Domain, records: &[Record], keys: &[&str]) -> String {
    let digest = domain.batch_digest(records);
    let mut sigs: Vec<([u8; 20], [u8; 65])> = keys
        .iter()
        .map(|k| {
            let s = Signer::from_hex(k).unwrap();
            (s.address(), s.sign(&digest).unwrap())
        })
        .collect();
    sigs.sort();
    format!(
        "[{}]",
        sigs.iter()
            .map(|(_, s)| hex(s))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn submit(rpc: &str, contract: &str, records: &[Record], sigs: &str) -> (bool, String) {
    let list = format!(
        "[{}]",
        records
            .iter()
            .map(record_tuple)
            .collect::<Vec<_>>()
            .join(",")
    );
    cast(&[
        "send",
        "--rpc-url",
        rpc,
        "--private-key",
        KEYS[0],
        contract,
        "submit((bytes32,uint16,uint8,uint64,uint64,bytes32)[],bytes[])",
        &list,
        sigs,
    ])
}

fn deploy(rpc: &str, signers: &[[u8; 20]], quorum: u8) -> String {
    let artifact: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../contracts/artifacts/SentinelTrust.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let code = artifact["bytecode"]
        .as_str()
        .or_else(|| artifact["bytecode"]["object"].as_str())
        .expect("the artifact has bytecode")
        .to_string();
    let list = format!(
        "[{}]",
        signers.iter().map(|a| hex(a)).collect::<Vec<_>>().join(",")
    );
    let (ok, args) = cast(&[
        "abi-encode",
        "constructor(address[],uint8)",
        &list,
        &quorum.to_string(),
    ]);
    assert!(ok, "{args}");
    let create = format!("{code}{}", args.trim_start_matches("0x"));
    let (ok, out) = cast(&[
        "send",
        "--rpc-url",
        rpc,
        "--private-key",
        KEYS[0],
        "--json",
        "--create",
        &create,
    ]);
    assert!(ok, "deploy: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["contractAddress"].as_str().unwrap().to_string()
}

fn verify_cmd(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_signed_by_two_sentinels_land_and_anyone_can_verify_them() {
    let (Some(anvil), Some(_)) = (find_anvil(), find_tool("cast")) else {
        missing("anvil and cast");
        return;
    };
    let node = Anvil::spawn(&anvil, 31337, 1).await.unwrap();
    let rpc = node.url();
    let signers: Vec<Signer> = KEYS[1..]
        .iter()
        .map(|k| Signer::from_hex(k).unwrap())
        .collect();
    let addrs: Vec<[u8; 20]> = signers.iter().map(Signer::address).collect();
    let contract = deploy(&rpc, &addrs, 2);
    let mut ca = [0u8; 20];
    for (i, b) in ca.iter_mut().enumerate() {
        *b = u8::from_str_radix(&contract[2 + 2 * i..4 + 2 * i], 16).unwrap();
    }
    let domain = Domain {
        chain_id: 31337,
        contract: ca,
    };
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let epoch = now_s / 3600;
    let rec = |id: &str, score: u16, epoch: u64| Record {
        provider: ProviderId::new(id).unwrap(),
        score_bps: score,
        trust: 3,
        epoch,
        expiry_s: (epoch + 2) * 3600,
        evidence: keccak256(format!("evidence of {id} at {epoch}")),
    };
    let batch = vec![rec("alpha", 9500, epoch), rec("beta", 9200, epoch)];

    // Under quorum, forged (an unauthorised key) and unsorted: refused.
    let one = signatures(&domain, &batch, &[KEYS[1]]);
    assert!(
        !submit(&rpc, &contract, &batch, &one).0,
        "one of two signatures"
    );
    let forged = signatures(&domain, &batch, &[KEYS[0], KEYS[1]]);
    assert!(
        !submit(&rpc, &contract, &batch, &forged).0,
        "an unauthorised signer"
    );
    // Two sentinels sign the same digest: it lands.
    let both = signatures(&domain, &batch, &[KEYS[1], KEYS[2]]);
    let (ok, out) = submit(&rpc, &contract, &batch, &both);
    assert!(ok, "{out}");
    let alpha = hex(&keccak256("alpha"));
    let (ok, out) = cast(&[
        "call",
        "--rpc-url",
        &rpc,
        &contract,
        "isVerified(bytes32,uint16,uint64)(bool)",
        &alpha,
        "9000",
        "7200",
    ]);
    assert!(ok && out == "true", "{out}");
    // Replayed (the same epoch again) and expired: refused.
    assert!(!submit(&rpc, &contract, &batch, &both).0, "a replay");
    let old = vec![rec("gamma", 9500, epoch - 3)];
    let sigs = signatures(&domain, &old, &[KEYS[1], KEYS[2]]);
    assert!(!submit(&rpc, &contract, &old, &sigs).0, "an expired record");

    // `sentinel verify` reads the chain itself.
    let (ok, out) = verify_cmd(&["alpha", "--rpc", &rpc, "--contract", &contract]);
    assert!(ok, "{out}");
    assert!(out.contains("the attestation holds"), "{out}");
    let (ok, out) = verify_cmd(&["nobody", "--rpc", &rpc, "--contract", &contract]);
    assert!(!ok && out.contains("no record of nobody"), "{out}");
    let (ok, out) = verify_cmd(&[
        "beta",
        "--rpc",
        &rpc,
        "--contract",
        &contract,
        "--min-score",
        "9300",
    ]);
    assert!(!ok && out.contains("does not hold"), "{out}");

    // With a running sentinel's evidence: the record it serves, signed and
    // anchored, verifies against the report it serves; a record whose
    // evidence hash is not that report's does not.
    let api = FakeApi::spawn("p1").await.unwrap();
    let cfg = api_config(&[api], 1, "");
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let opts = sentinel_cli::runner::RunOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        key: None,
        token: Some("t".into()),
        webhooks: vec![],
        stop_after: Some(std::time::Duration::from_secs(60)),
        ready: Some(tx),
        stop: Some(stop_rx),
        observer: None,
        hedge: false,
    };
    let work = async {
        let addr = rx.await.unwrap();
        let base = format!("http://{addr}");
        let client = client();
        let mut details = serde_json::Value::Null;
        for _ in 0..50 {
            if let Some((_, body)) = get(&client, &format!("{base}/v1/attestations/p1")).await {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if v["error"]["details"]["record"].is_object() {
                    details = v["error"]["details"].clone();
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let served: sentinel_core::api::dto::RecordDto =
            serde_json::from_value(details["record"].clone()).expect("a served record");
        let mut evidence = [0u8; 32];
        let h = served.evidence_hash.trim_start_matches("0x");
        for (i, b) in evidence.iter_mut().enumerate() {
            *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
        }
        let anchored = Record {
            provider: served.provider.clone(),
            score_bps: served.score_bps,
            trust: served.trust,
            epoch: served.epoch,
            expiry_s: served.expiry,
            evidence,
        };
        let sigs = signatures(
            &domain,
            std::slice::from_ref(&anchored),
            &[KEYS[1], KEYS[2]],
        );
        let (ok, out) = submit(&rpc, &contract, std::slice::from_ref(&anchored), &sigs);
        assert!(ok, "{out}");
        let (_, out) = verify_cmd(&[
            "p1",
            "--rpc",
            &rpc,
            "--contract",
            &contract,
            "--sentinel",
            &base,
        ]);
        eprintln!("{out}");
        if served.epoch == anchored.epoch {
            assert!(
                out.contains("equals the anchored hash") && out.contains("decodes to its bytes"),
                "{out}"
            );
        }
        // A different evidence hash for the next epoch: the served report
        // (if it is for that epoch) does not match it.
        let mut lying = anchored.clone();
        lying.epoch += 1;
        lying.expiry_s += 3600;
        lying.evidence = keccak256("not the served report");
        let sigs = signatures(&domain, std::slice::from_ref(&lying), &[KEYS[1], KEYS[2]]);
        let (ok, out) = submit(&rpc, &contract, std::slice::from_ref(&lying), &sigs);
        assert!(ok, "{out}");
        let (ok, out) = verify_cmd(&[
            "p1",
            "--rpc",
            &rpc,
            "--contract",
            &contract,
            "--sentinel",
            &base,
        ]);
        assert!(!ok, "{out}");
        assert!(
            out.contains("not of the anchored epoch")
                || out.contains("DIFFERS FROM the anchored hash"),
            "{out}"
        );
        let _ = stop_tx.send(());
    };
    let (run, ()) = tokio::join!(sentinel_cli::runner::run(cfg, opts), work);
    run.unwrap();
}
