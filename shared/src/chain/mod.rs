//! Anchoring attestations on an EVM chain, written once for every shell.
//!
//! The pieces, each pure except [`driver`]:
//!
//! - [`rlp`], [`tx`], [`abi`]: the bytes of an EIP-1559 transaction that
//!   calls the `SentinelTrust` contract (`contracts/`), signed with the
//!   core's k256 [`crate::attest::Signer`] — byte-identical on wasm32 and
//!   native, and checked against alloy's encoders in
//!   `shared/tests/evm_encoding.rs`;
//! - [`rpc`]: Ethereum JSON-RPC 2.0 requests and answers (batched: one
//!   HTTP request for many calls, which a Worker's subrequest budget
//!   needs);
//! - [`state`]: what the sentinel remembers between wake-ups — the one
//!   transaction in flight (stored *before* it is broadcast, so a crash
//!   between the two broadcasts the same bytes again rather than signing a
//!   second transaction), and each provider's last anchored record with
//!   its evidence frozen;
//! - [`cosign`]: how a peer sentinel is asked to co-sign a batch, and how
//!   it decides (its own record for each provider must agree);
//! - [`driver`]: one anchoring step per wake-up, over the shell's prober
//!   (the same HTTP seam as the probes: SSRF guard, timeouts, size caps).
//!
//! Why not alloy's provider stack in the native shells: the Worker cannot
//! run it, so the Worker's path would be a second implementation of the
//! same protocol, exercised less. One implementation runs in all three
//! shells; alloy is the reference it is tested against, byte for byte.

pub mod abi;
pub mod cosign;
pub mod driver;
pub mod rlp;
pub mod rpc;
pub mod state;
pub mod tx;

pub use state::{Anchored, Anchoring, Attempt, Pending, PendingKind};

/// The contract's largest batch (`SentinelTrust.MAX_BATCH`).
pub const MAX_BATCH: u32 = 1024;

/// Parses `0x` and 40 hex digits (any case) into an address.
pub fn parse_address(s: &str) -> Option<[u8; 20]> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    let bytes = from_hex(hex)?;
    bytes.try_into().ok()
}

/// Lowercase hex without a prefix.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `0x`-prefixed lowercase hex.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", to_hex(bytes))
}

/// Decodes hex digits (no prefix; an even count).
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// The resolved anchoring settings: the config's `[chain]` with its
/// address parsed, and the signing key.
#[derive(Clone)]
pub struct Anchor {
    /// The config section.
    pub config: crate::config::ChainConfig,
    /// The EIP-712 domain (chain id, contract).
    pub domain: crate::attest::Domain,
    /// This sentinel's key: it signs records and pays for transactions.
    pub signer: crate::attest::Signer,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchor")
            .field("chain_id", &self.domain.chain_id)
            .field("contract", &hex0x(&self.domain.contract))
            .field("signer", &hex0x(&self.signer.address()))
            .finish()
    }
}

/// The environment variable holding the signing key (`0x` and 64 hex
/// digits): a platform secret, like the peer secrets.
pub const KEY_VAR: &str = "SENTINEL_CHAIN_KEY";

/// Why anchoring cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum AnchorSetupError {
    /// `[chain]` is configured and the key is missing.
    #[error("[chain] is configured but {KEY_VAR} is not set: anchoring needs this sentinel's signing key (0x and 64 hex digits) as a secret")]
    MissingKey,
    /// The key does not parse.
    #[error("{KEY_VAR} is not a usable secp256k1 key: {0}")]
    BadKey(String),
    /// The contract address does not parse (`Config::validate` says so
    /// first).
    #[error("chain.contract is not an address")]
    BadContract,
}

impl Anchor {
    /// The settings of `config` with the key read through `var` (a shell
    /// passes its environment's lookup). `Ok(None)`: no `[chain]`.
    pub fn from_config(
        config: &crate::config::Config,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Anchor>, AnchorSetupError> {
        let Some(chain) = &config.chain else {
            return Ok(None);
        };
        let key = var(KEY_VAR)
            .filter(|k| !k.trim().is_empty())
            .ok_or(AnchorSetupError::MissingKey)?;
        let signer = crate::attest::Signer::from_hex(key.trim())
            .map_err(|e| AnchorSetupError::BadKey(e.to_string()))?;
        let contract = parse_address(&chain.contract).ok_or(AnchorSetupError::BadContract)?;
        Ok(Some(Anchor {
            config: chain.clone(),
            domain: crate::attest::Domain {
                chain_id: chain.chain_id,
                contract,
            },
            signer,
        }))
    }
}
