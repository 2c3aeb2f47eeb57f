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
