#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
//! On-chain trust end to end on anvil (issue 17, first part): the checked-in
//! `SentinelTrust` artifact deployed with Foundry's `cast`, two sentinel
//! keys signing one EIP-712 batch digest made by the core, the batch
//! landing through `cast send`, `isVerified` answering through `cast call`;
//! a forged, replayed, expired and under-quorum batch refused by the
//! contract; and `sentinel verify` saying whether an attestation holds,
//! with the evidence a running sentinel serves.

mod chain;
mod support;

use chain::*;
use sentinel_cli::testbed::{find_anvil, Anvil};
use sentinel_core::attest::{keccak256, Domain, Record, Signer};
use sentinel_core::ProviderId;
use support::*;

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

    // With a sentinel's evidence: a server on 127.0.0.1 answers
    // `/v1/attestations/delta` with a record and its evidence report as
    // the API serves them. Anchored as served, the record verifies against
    // the report; anchored with another evidence hash, it does not.
    // (A running sentinel derives its record from its state as it stands;
    // freezing an anchored epoch's evidence comes with the anchoring
    // pipeline.)
    let report = sentinel_core::attest::Evidence {
        provider: ProviderId::new("delta").unwrap(),
        epoch,
        components: vec![(
            "uptime".into(),
            Some(9900),
            vec![("probes_30d".into(), 720)],
        )],
        total: 9400,
        confidence: 9000,
    };
    let served = Record {
        provider: report.provider.clone(),
        score_bps: report.total,
        trust: 3,
        epoch,
        expiry_s: (epoch + 2) * 3600,
        evidence: report.hash(),
    };
    let body = serde_json::json!({ "error": { "code": "not-attested", "message": "", "details": {
        "record": sentinel_core::api::dto::RecordDto::of(&served),
        "evidence": sentinel_core::api::dto::EvidenceDto::of(&report),
    }}})
    .to_string();
    let base = serve_once_each(body).await;
    let sigs = signatures(&domain, std::slice::from_ref(&served), &[KEYS[1], KEYS[2]]);
    let (ok, out) = submit(&rpc, &contract, std::slice::from_ref(&served), &sigs);
    assert!(ok, "{out}");
    let (ok, out) = verify_cmd(&[
        "delta",
        "--rpc",
        &rpc,
        "--contract",
        &contract,
        "--sentinel",
        &base,
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("equals the anchored hash")
            && out.contains("decodes to its bytes")
            && out.contains("9400 bps equals the score on chain"),
        "{out}"
    );
    // Another evidence hash anchored for the same provider, next epoch:
    // the served report (of the previous epoch) is not compared, and one
    // of the anchored epoch whose bytes hash otherwise does not verify.
    let mut lying = served.clone();
    lying.epoch += 1;
    lying.expiry_s += 3600;
    lying.evidence = keccak256("not the served report");
    let sigs = signatures(&domain, std::slice::from_ref(&lying), &[KEYS[1], KEYS[2]]);
    let (ok, out) = submit(&rpc, &contract, std::slice::from_ref(&lying), &sigs);
    assert!(ok, "{out}");
    let (ok, out) = verify_cmd(&[
        "delta",
        "--rpc",
        &rpc,
        "--contract",
        &contract,
        "--sentinel",
        &base,
    ]);
    assert!(!ok && out.contains("not of the anchored epoch"), "{out}");
    let mut report_next = report.clone();
    report_next.epoch += 1;
    let mut served_next = served.clone();
    served_next.epoch += 1;
    served_next.expiry_s += 3600;
    served_next.evidence = report_next.hash();
    let body = serde_json::json!({ "error": { "details": {
        "record": sentinel_core::api::dto::RecordDto::of(&served_next),
        "evidence": sentinel_core::api::dto::EvidenceDto::of(&report_next),
    }}})
    .to_string();
    let base = serve_once_each(body).await;
    let (ok, out) = verify_cmd(&[
        "delta",
        "--rpc",
        &rpc,
        "--contract",
        &contract,
        "--sentinel",
        &base,
    ]);
    assert!(
        !ok && out.contains("DIFFERS FROM the anchored hash"),
        "{out}"
    );
}

/// A server on 127.0.0.1 answering every request with `body` (JSON),
/// one connection at a time, for as long as the test runs.
async fn serve_once_each(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf)).await;
            let resp = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    format!("http://{addr}")
}
