#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The EVM encoding (`sentinel_core::chain`) against alloy, the
//! ecosystem's reference implementation: EIP-1559 transactions
//! (`alloy-consensus`) and the ABI encoding of `SentinelTrust`'s calls,
//! return data and errors (`alloy-sol-types`' `sol!`), byte for byte.

use alloy_consensus::{SignableTransaction, Signed, TxEip1559};
use alloy_primitives::{Address, Bytes, Signature, TxKind, B256, U256};
use alloy_sol_types::{SolCall, SolError};
use proptest::prelude::*;
use sentinel_core::anchor::OnChain;
use sentinel_core::attest::{keccak256, Record, Signer};
use sentinel_core::chain::abi::{self, AbiError};
use sentinel_core::chain::tx::Eip1559;
use sentinel_core::ProviderId;

alloy_sol_types::sol! {
    // SentinelTrust's calls and errors, as contracts/src/SentinelTrust.sol
    // declares them.
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
    function indexOf(bytes32 provider) external view returns (uint256);
    function revoke(bytes32 provider, uint64 epoch, bytes[] signatures) external;
    function latest(bytes32 provider) external view
        returns (uint16 score, uint8 trust, uint64 epoch, uint64 expiry, bool revoked);
    error Stale(bytes32 provider, uint64 storedEpoch, uint256 epoch);
    error BelowQuorum(uint256 signatures, uint256 quorum);
    error NotAuthorised(address signer);
}

fn signer() -> Signer {
    // anvil's first test key.
    Signer::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80").unwrap()
}

// ------------------------------------------------------------------ transactions

fn alloy_tx(tx: &Eip1559) -> TxEip1559 {
    TxEip1559 {
        chain_id: tx.chain_id,
        nonce: tx.nonce,
        gas_limit: tx.gas_limit,
        max_fee_per_gas: tx.max_fee_per_gas,
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
        to: TxKind::Call(Address::from(tx.to)),
        value: U256::from(tx.value),
        access_list: Default::default(),
        input: Bytes::from(tx.input.clone()),
    }
}

/// Our signed transaction equals alloy's, signed with the same signature;
/// alloy decodes our bytes back to the same transaction and recovers the
/// signer from them.
fn check_tx(tx: &Eip1559, signer: &Signer) {
    let reference = alloy_tx(tx);
    let digest = tx.signing_hash();
    assert_eq!(
        B256::from(digest),
        reference.signature_hash(),
        "signing hash"
    );

    let ours = tx.sign(signer).unwrap();
    let sig = signer.sign(&digest).unwrap();
    let signature = Signature::new(
        U256::from_be_slice(&sig[..32]),
        U256::from_be_slice(&sig[32..64]),
        sig[64] == 28,
    );
    let signed = reference.clone().into_signed(signature);
    let mut raw = Vec::new();
    signed.eip2718_encode(&mut raw);
    assert_eq!(ours.raw, raw, "raw transaction");
    assert_eq!(B256::from(ours.hash), *signed.hash(), "transaction hash");

    let decoded = Signed::<TxEip1559>::eip2718_decode(&mut ours.raw.as_slice()).unwrap();
    assert_eq!(decoded.tx(), &reference);
    assert_eq!(
        decoded.recover_signer().unwrap(),
        Address::from(signer.address())
    );
}

#[test]
fn transactions_match_alloy() {
    let s = signer();
    let to = [0x5f; 20];
    let base = Eip1559 {
        chain_id: 31337,
        nonce: 0,
        max_priority_fee_per_gas: 1_000_000_000,
        max_fee_per_gas: 30_000_000_000,
        gas_limit: 300_000,
        to,
        value: 0,
        input: Vec::new(),
    };
    // Zero nonce, empty input.
    check_tx(&base, &s);
    // Everything zero but the chain.
    check_tx(
        &Eip1559 {
            chain_id: 1,
            to: [0; 20],
            ..Eip1559::default()
        },
        &s,
    );
    // Largest values.
    check_tx(
        &Eip1559 {
            chain_id: u64::MAX,
            nonce: u64::MAX,
            max_priority_fee_per_gas: u128::MAX,
            max_fee_per_gas: u128::MAX,
            gas_limit: u64::MAX,
            to: [0xff; 20],
            value: u128::MAX,
            input: vec![0xff; 3],
        },
        &s,
    );
    // Single-byte values below and at 0x80, inputs around the long header.
    for (n, len) in [(0x7f, 1), (0x80, 55), (0x81, 56), (1, 256)] {
        check_tx(
            &Eip1559 {
                nonce: n,
                input: vec![0x42; len],
                ..base.clone()
            },
            &s,
        );
    }
    check_tx(
        &Eip1559 {
            input: vec![0x7f],
            ..base.clone()
        },
        &s,
    );
    // A real submit: long input (a batch of 64 records, 3 signatures).
    let records: Vec<Record> = (0..64)
        .map(|i| record(&format!("p{i}"), 9_000, 3, 494_444))
        .collect();
    check_tx(
        &Eip1559 {
            nonce: 12,
            input: abi::submit_calldata(&records, &[[1; 65], [2; 65], [3; 65]]),
            ..base.clone()
        },
        &s,
    );
    // Another key.
    let other = Signer::from_bytes(&[7; 32]).unwrap();
    check_tx(&base, &other);
}

// ------------------------------------------------------------------ calldata

fn record(id: &str, score: u16, trust: u8, epoch: u64) -> Record {
    Record {
        provider: ProviderId::new(id).unwrap(),
        score_bps: score,
        trust,
        epoch,
        expiry_s: epoch.wrapping_mul(3600).wrapping_add(7200),
        evidence: keccak256(id),
    }
}

fn sol_record(r: &Record) -> SolRecord {
    SolRecord {
        provider: B256::from(r.provider_hash()),
        score: r.score_bps,
        trust: r.trust,
        epoch: r.epoch,
        expiry: r.expiry_s,
        evidence: B256::from(r.evidence),
    }
}

fn sol_sigs(sigs: &[[u8; 65]]) -> Vec<Bytes> {
    sigs.iter().map(|s| Bytes::copy_from_slice(s)).collect()
}

fn check_submit(records: &[Record], sigs: &[[u8; 65]]) {
    let reference = submitCall {
        records: records.iter().map(sol_record).collect(),
        signatures: sol_sigs(sigs),
    }
    .abi_encode();
    assert_eq!(abi::submit_calldata(records, sigs), reference);
    let indices: Vec<u32> = (0..records.len() as u32)
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let reference = submitIndexedCall {
        records: records.iter().map(sol_record).collect(),
        signatures: sol_sigs(sigs),
        indices: indices.clone(),
    }
    .abi_encode();
    assert_eq!(
        abi::submit_indexed_calldata(records, sigs, &indices),
        reference
    );
}

fn check_revoke(provider: &ProviderId, epoch: u64, sigs: &[[u8; 65]]) {
    let reference = revokeCall {
        provider: B256::from(keccak256(provider.as_str())),
        epoch,
        signatures: sol_sigs(sigs),
    }
    .abi_encode();
    assert_eq!(abi::revoke_calldata(provider, epoch, sigs), reference);
}

#[test]
fn calldata_matches_sol() {
    assert_eq!(abi::selector(abi::SUBMIT), submitCall::SELECTOR);
    assert_eq!(
        abi::selector(abi::SUBMIT_INDEXED),
        submitIndexedCall::SELECTOR
    );
    let p = ProviderId::new("p").unwrap();
    assert_eq!(
        abi::index_of_calldata(&p),
        indexOfCall {
            provider: B256::from(keccak256("p"))
        }
        .abi_encode()
    );
    let seven = indexOfCall::abi_encode_returns(&U256::from(7u8));
    assert_eq!(abi::decode_index(&seven), Ok(7));
    let huge = indexOfCall::abi_encode_returns(&U256::from(1u64 << 32));
    assert!(abi::decode_index(&huge).is_err());
    assert!(abi::decode_index(&seven[..31]).is_err());
    assert_eq!(abi::selector(abi::REVOKE), revokeCall::SELECTOR);
    assert_eq!(abi::selector(abi::LATEST), latestCall::SELECTOR);

    let records = [
        record("zero", 0, 0, 0),
        record("full", 10_000, 3, 494_444),
        record("far", 10_000, 3, u64::MAX),
        record("big", u16::MAX, u8::MAX, u64::MAX - 1),
    ];
    let s = signer();
    let sigs: Vec<[u8; 65]> = (0u8..3).map(|i| s.sign(&[i; 32]).unwrap()).collect();
    for n in [0, 1, 3] {
        check_submit(&records, &sigs[..n]);
        check_submit(&records[..1], &sigs[..n]);
        check_submit(&[], &sigs[..n]);
        for epoch in [0, 1, 494_444, u64::MAX] {
            check_revoke(&records[1].provider, epoch, &sigs[..n]);
        }
    }
    let p = ProviderId::new("example-provider-a").unwrap();
    assert_eq!(
        abi::latest_calldata(&p),
        latestCall {
            provider: B256::from(keccak256("example-provider-a")),
        }
        .abi_encode()
    );
}

// ------------------------------------------------------------------ latest

fn encode_latest(c: &OnChain) -> Vec<u8> {
    latestCall::abi_encode_returns(&latestReturn {
        score: c.score_bps,
        trust: c.trust,
        epoch: c.epoch,
        expiry: c.expiry_s,
        revoked: c.revoked,
    })
}

#[test]
fn latest_round_trips_and_rejects_bad_words() {
    let cases = [
        OnChain::default(),
        OnChain {
            score_bps: 10_000,
            trust: 3,
            epoch: 494_444,
            expiry_s: 1_780_007_200,
            revoked: false,
        },
        OnChain {
            score_bps: u16::MAX,
            trust: u8::MAX,
            epoch: u64::MAX,
            expiry_s: u64::MAX,
            revoked: true,
        },
    ];
    for c in cases {
        let ret = encode_latest(&c);
        assert_eq!(ret.len(), 160);
        assert_eq!(abi::decode_latest(&ret), Ok(c));
    }

    let good = encode_latest(&cases[1]);
    for len in [0, 32, 159, 161, 192] {
        let mut ret = good.clone();
        ret.resize(len, 0);
        assert_eq!(abi::decode_latest(&ret), Err(AbiError::Length(len)));
    }
    // One bit above each word's type, in each word.
    for (word, byte, bit, field) in [
        (0, 29, 0x01, "score"),
        (0, 0, 0x80, "score"),
        (1, 30, 0x01, "trust"),
        (2, 23, 0x01, "epoch"),
        (3, 0, 0x01, "expiry"),
        (4, 31, 0x02, "revoked"),
        (4, 30, 0x01, "revoked"),
    ] {
        let mut ret = good.clone();
        ret[32 * word + byte] |= bit;
        match abi::decode_latest(&ret) {
            Err(AbiError::OutOfRange { field: f, .. }) => assert_eq!(f, field),
            other => panic!("word {word} byte {byte}: {other:?}"),
        }
    }
    let mut ret = good.clone();
    ret[32 + 30] = 1;
    let message = abi::decode_latest(&ret).unwrap_err().to_string();
    assert!(
        message.contains("trust") && message.contains("uint8"),
        "{message}"
    );
}

// ------------------------------------------------------------------ reverts

#[test]
fn revert_reasons() {
    let provider = B256::from(keccak256("example-provider-a"));
    let stale = Stale {
        provider,
        storedEpoch: 5,
        epoch: U256::from(5),
    }
    .abi_encode();
    assert_eq!(
        abi::revert_reason(&stale),
        format!("Stale(provider {provider}, storedEpoch 5, epoch 5)")
    );
    let below = BelowQuorum {
        signatures: U256::from(1),
        quorum: U256::from(2),
    }
    .abi_encode();
    assert_eq!(
        abi::revert_reason(&below),
        "BelowQuorum(signatures 1, quorum 2)"
    );
    let huge = BelowQuorum {
        signatures: U256::MAX,
        quorum: U256::from(u64::MAX),
    }
    .abi_encode();
    assert_eq!(
        abi::revert_reason(&huge),
        format!(
            "BelowQuorum(signatures 0x{}, quorum {})",
            "ff".repeat(32),
            u64::MAX
        )
    );
    let signer = Address::from([0xab; 20]);
    assert_eq!(
        abi::revert_reason(&NotAuthorised { signer }.abi_encode()),
        format!(
            "NotAuthorised(signer {})",
            "0x".to_string() + &"ab".repeat(20)
        )
    );
    for message in [
        "",
        "ERC20: nope",
        "a longer message that takes more than one word, \"quoted\"",
    ] {
        let data = alloy_sol_types::Revert::from(message).abi_encode();
        assert_eq!(abi::revert_reason(&data), format!("Error({message:?})"));
    }
    let panic = alloy_sol_types::Panic::from(0x12u64).abi_encode();
    assert_eq!(
        abi::revert_reason(&panic),
        "Panic(0x12: division or modulo by zero)"
    );

    // Garbage: an unknown selector, truncated data, a known selector with
    // the wrong number of words, an Error(string) whose length overruns.
    assert_eq!(
        abi::revert_reason(&[0xde, 0xad, 0xbe, 0xef, 0x01]),
        "unknown revert 0xdeadbeef01"
    );
    assert!(abi::revert_reason(&stale[..40]).starts_with("unknown revert 0x"));
    assert!(abi::revert_reason(&below[..4]).starts_with("unknown revert 0x"));
    let mut overrun = alloy_sol_types::Revert::from("hi").abi_encode();
    overrun[4 + 63] = 0xff;
    assert!(abi::revert_reason(&overrun).starts_with("unknown revert 0x"));
    assert_eq!(
        abi::revert_reason(&[]),
        "unknown revert 0x (no revert data)"
    );
}

// ------------------------------------------------------------------ properties

fn arb_id() -> impl Strategy<Value = ProviderId> {
    "[a-z0-9][a-z0-9._-]{0,63}".prop_map(|s| ProviderId::new(s).unwrap())
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        arb_id(),
        any::<u16>(),
        any::<u8>(),
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(provider, score_bps, trust, epoch, expiry_s, evidence)| Record {
                provider,
                score_bps,
                trust,
                epoch,
                expiry_s,
                evidence,
            },
        )
}

fn arb_sig() -> impl Strategy<Value = [u8; 65]> {
    proptest::collection::vec(any::<u8>(), 65).prop_map(|v| {
        let mut s = [0u8; 65];
        s.copy_from_slice(&v);
        s
    })
}

/// Integers of every byte length (uniform `any` rarely yields short ones).
fn arb_u128() -> impl Strategy<Value = u128> {
    (any::<u128>(), 0u32..=128).prop_map(|(v, bits)| v.checked_shr(128 - bits).unwrap_or(0))
}

fn arb_u64() -> impl Strategy<Value = u64> {
    (any::<u64>(), 0u32..=64).prop_map(|(v, bits)| v.checked_shr(64 - bits).unwrap_or(0))
}

fn arb_tx() -> impl Strategy<Value = Eip1559> {
    (
        (arb_u64(), arb_u64(), arb_u128(), arb_u128(), arb_u64()),
        any::<[u8; 20]>(),
        arb_u128(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(
                (chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit),
                to,
                value,
                input,
            )| {
                Eip1559 {
                    chain_id,
                    nonce,
                    max_priority_fee_per_gas,
                    max_fee_per_gas,
                    gas_limit,
                    to,
                    value,
                    input,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_transactions_match_alloy(tx in arb_tx(), key in any::<[u8; 32]>()) {
        let signer = Signer::from_bytes(&key).unwrap_or_else(|_| signer());
        check_tx(&tx, &signer);
    }

    #[test]
    fn random_calldata_matches_sol(
        records in proptest::collection::vec(arb_record(), 0..8),
        sigs in proptest::collection::vec(arb_sig(), 0..5),
        epoch in arb_u64(),
    ) {
        check_submit(&records, &sigs);
        if let Some(r) = records.first() {
            check_revoke(&r.provider, epoch, &sigs);
            prop_assert_eq!(
                abi::latest_calldata(&r.provider),
                latestCall { provider: B256::from(r.provider_hash()) }.abi_encode()
            );
        }
    }

    #[test]
    fn random_latest_round_trips(score_bps in any::<u16>(), trust in any::<u8>(), epoch in any::<u64>(), expiry_s in any::<u64>(), revoked in any::<bool>()) {
        let c = OnChain { score_bps, trust, epoch, expiry_s, revoked };
        prop_assert_eq!(abi::decode_latest(&encode_latest(&c)), Ok(c));
    }
}
