#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
#![allow(dead_code)]
//! Chain helpers shared by the anvil tests: the well-known anvil keys,
//! Foundry's `cast`, deploying the checked-in `SentinelTrust` artifact,
//! and the `sentinel verify` command.

use super::support::find_tool;
use std::process::Command;

/// anvil's first three test keys (well known; never use them elsewhere).
pub const KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

pub fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

pub fn cast(args: &[&str]) -> (bool, String) {
    let bin = find_tool("cast").expect("cast");
    let out = Command::new(bin).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

pub fn deploy(rpc: &str, signers: &[[u8; 20]], quorum: u8) -> String {
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

pub fn verify_cmd(args: &[&str]) -> (bool, String) {
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

/// A single-sentinel anchoring config over `base` (a
/// `support::api_config_text`): a gas quota in the footprint, low trust
/// thresholds (fresh providers earn verified), and `[chain]` on `rpc` and
/// `contract` with short waits.
pub fn anchoring_config(base: &str, rpc: &str, contract: &str) -> String {
    let mut config = base.replacen(
        "max_tick_gap = \"1s\"",
        "max_tick_gap = \"1s\"\nfootprint = { quotas = [{ metric = \"gas\", limit = 50000000, period = \"month\" }] }",
        1,
    );
    assert_ne!(config, base, "support::api_config_text changed");
    config.push_str(&format!(
        r#"
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
"#
    ));
    config
}

/// What a sentinel at `base` that anchored provider `a` with `signer`'s
/// key must show: the record verified on chain (`cast call isVerified`),
/// the transaction from its key (`cast tx`), the gas in its footprint.
/// Returns the anchored epoch.
pub async fn assert_anchored(
    c: &reqwest::Client,
    base: &str,
    anchored: &serde_json::Value,
    rpc: &str,
    contract: &str,
    signer: &sentinel_core::attest::Signer,
) -> u64 {
    assert_eq!(anchored["anchored"]["record"]["trust"], 3, "{anchored:#}");
    let tx = anchored["anchored"]["tx"].as_str().unwrap().to_string();
    assert_eq!(is_verified(rpc, contract, "a"), "true");
    // The transaction is this sentinel's, signed by its key.
    let (ok, out) = cast(&["tx", "--rpc-url", rpc, &tx, "from"]);
    assert!(
        ok && out.eq_ignore_ascii_case(&hex(&signer.address())),
        "{out}"
    );
    // Its gas is in the footprint.
    let budget = super::support::get_json(c, &format!("{base}/v1/budget"))
        .await
        .unwrap();
    let gas = budget["sentinel"]["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["metric"] == "gas")
        .cloned()
        .unwrap_or_else(|| panic!("{budget:#}"));
    assert!(gas["used"].as_u64().is_some_and(|u| u > 20_000), "{gas:#}");
    anchored["anchored"]["record"]["epoch"].as_u64().unwrap()
}

/// Whether `from` sent exactly one transaction, checked only while the
/// hour is still `epoch` (a new epoch may legitimately anchor again).
pub async fn assert_one_transaction(node: &sentinel_cli::testbed::Anvil, from: &str, epoch: u64) {
    let now_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600;
    if now_epoch != epoch {
        eprintln!("the hour changed ({epoch} → {now_epoch}): the nonce is not checked");
        return;
    }
    assert_eq!(nonce(node, from).await, "0x1", "one transaction");
}

/// `isVerified(keccak256(provider), 0, 7200)` through `cast call`:
/// `"true"` or `"false"`.
pub fn is_verified(rpc: &str, contract: &str, provider: &str) -> String {
    let (ok, out) = cast(&[
        "call",
        "--rpc-url",
        rpc,
        contract,
        "isVerified(bytes32,uint16,uint64)(bool)",
        &hex(&sentinel_core::attest::keccak256(provider)),
        "0",
        "7200",
    ]);
    assert!(ok, "{out}");
    out
}

/// The count of `from`'s mined transactions (`0x…`).
pub async fn nonce(node: &sentinel_cli::testbed::Anvil, from: &str) -> String {
    let body = node
        .rpc(
            "eth_getTransactionCount",
            &format!(r#"["{from}","latest"]"#),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string()
}

/// anvil on a free port with `SentinelTrust` deployed for one signer
/// (`KEYS[1]`, quorum 1): the node, the signer, the contract. `None` (the
/// test skips, or fails under CI) without anvil and cast.
pub async fn solo_chain() -> Option<(
    sentinel_cli::testbed::Anvil,
    sentinel_core::attest::Signer,
    String,
)> {
    let (Some(anvil), Some(_)) = (sentinel_cli::testbed::find_anvil(), find_tool("cast")) else {
        super::support::missing("anvil and cast");
        return None;
    };
    let node = sentinel_cli::testbed::Anvil::spawn(&anvil, 31337, 1)
        .await
        .unwrap();
    let signer = sentinel_core::attest::Signer::from_hex(KEYS[1]).unwrap();
    let contract = deploy(&node.url(), &[signer.address()], 1);
    Some((node, signer, contract))
}
