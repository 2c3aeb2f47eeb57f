//! Solidity ABI encoding for the calls the sentinel makes to
//! `SentinelTrust` (`contracts/src/SentinelTrust.sol`), and decoding of
//! what comes back: `latest`'s return data and revert data.
//!
//! Per the Solidity ABI specification
//! (<https://docs.soliditylang.org/en/latest/abi-spec.html>):
//!
//! - calldata is the function selector, the first four bytes of
//!   `keccak256` of the canonical signature (`name(type,...)`, no spaces,
//!   no parameter names, structs as tuples), then the encoded arguments;
//! - static values (`bytes32`, `uintN`, `bool`, `address`, tuples of
//!   them) are 32-byte words in place, integers big-endian left-padded;
//! - a dynamic value (`T[]`, `bytes`) is a word holding the offset of its
//!   data from the start of the enclosing encoding; the data is the length
//!   word then the elements (for `bytes`, the bytes right-padded to a word
//!   boundary);
//! - custom errors (`error Stale(...)`) revert with the error's selector
//!   and its arguments encoded the same way; `require` messages and
//!   panics are the built-in `Error(string)` and `Panic(uint256)`.
//!
//! Only the contract's types occur here (`Record` is static: six words),
//! so the encoder is hand-written rather than generic.

use crate::anchor::OnChain;
use crate::attest::{keccak256, Record};
use crate::ProviderId;

/// `submit(Record[] records, bytes[] signatures)`.
pub const SUBMIT: &str = "submit((bytes32,uint16,uint8,uint64,uint64,bytes32)[],bytes[])";
/// `revoke(bytes32 provider, uint64 epoch, bytes[] signatures)`.
pub const REVOKE: &str = "revoke(bytes32,uint64,bytes[])";
/// `latest(bytes32 provider)`.
pub const LATEST: &str = "latest(bytes32)";
/// `submitIndexed(Record[] records, bytes[] signatures, uint32[] indices)`.
pub const SUBMIT_INDEXED: &str =
    "submitIndexed((bytes32,uint16,uint8,uint64,uint64,bytes32)[],bytes[],uint32[])";
/// `indexOf(bytes32 provider)`: the provider's 1-based slot index (0: not
/// registered yet).
pub const INDEX_OF: &str = "indexOf(bytes32)";

/// The length of `latest`'s return data: five words.
const LATEST_LEN: usize = 5 * 32;

/// Why `latest`'s return data does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// Not five words (no data at all: the address holds no contract).
    #[error("latest() returned {0} bytes, expected {LATEST_LEN} (none: no contract there?)")]
    Length(usize),
    /// A word does not hold a value of its type.
    #[error("latest() returned {field} = {word}, which is not a {ty}")]
    OutOfRange {
        /// The returned value's name.
        field: &'static str,
        /// Its Solidity type.
        ty: &'static str,
        /// The word, hex.
        word: String,
    },
}

/// The 4-byte selector of a canonical function or error signature, e.g.
/// `"latest(bytes32)"`.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature);
    [h[0], h[1], h[2], h[3]]
}

/// `0x` and the lowercase hex digits of `b`.
fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 0xf)]));
    }
    s
}

/// A `uint256` word of `v`.
fn word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// A word holding a length or an offset.
fn len_word(n: usize) -> [u8; 32] {
    // usize is at most 64 bits on every target Rust supports.
    word(n as u64)
}

/// Appends the ABI encoding of a `bytes[]` whose elements are 65-byte
/// signatures (the data only; the offset word is the caller's).
fn encode_signatures(out: &mut Vec<u8>, signatures: &[[u8; 65]]) {
    // Each element: length word, 65 bytes, 31 bytes of padding.
    const ELEMENT: usize = 32 + 96;
    out.extend_from_slice(&len_word(signatures.len()));
    let heads = 32 * signatures.len();
    for i in 0..signatures.len() {
        out.extend_from_slice(&len_word(heads + i * ELEMENT));
    }
    for sig in signatures {
        out.extend_from_slice(&len_word(sig.len()));
        out.extend_from_slice(sig);
        out.extend_from_slice(&[0u8; 96 - 65]);
    }
}

/// Calldata of `submit(records, signatures)`: the batch and the 65-byte
/// `r ‖ s ‖ v` signatures over its digest, sorted by signer as the
/// contract requires (the caller's job).
pub fn submit_calldata(records: &[Record], signatures: &[[u8; 65]]) -> Vec<u8> {
    // Head: two offsets; then the records (length, six words each), then
    // the signatures.
    let records_len = 32 + 6 * 32 * records.len();
    let mut out = Vec::with_capacity(4 + 64 + records_len + 32 + 160 * signatures.len());
    out.extend_from_slice(&selector(SUBMIT));
    out.extend_from_slice(&len_word(64));
    out.extend_from_slice(&len_word(64 + records_len));
    out.extend_from_slice(&len_word(records.len()));
    for r in records {
        out.extend_from_slice(&r.encode());
    }
    encode_signatures(&mut out, signatures);
    out
}

/// Calldata of `submitIndexed(records, signatures, indices)`: as
/// [`submit_calldata`], with each record's `indexOf` hint (0: look it up,
/// registering a new provider). The cheap path of the contract: no
/// mapping read per record, and records ordered by index share slots.
pub fn submit_indexed_calldata(
    records: &[Record],
    signatures: &[[u8; 65]],
    indices: &[u32],
) -> Vec<u8> {
    let records_len = 32 + 6 * 32 * records.len();
    let sigs_len = 32 + (32 + 128) * signatures.len();
    let mut out = Vec::with_capacity(4 + 96 + records_len + sigs_len + 32 * (1 + indices.len()));
    out.extend_from_slice(&selector(SUBMIT_INDEXED));
    out.extend_from_slice(&len_word(96));
    out.extend_from_slice(&len_word(96 + records_len));
    out.extend_from_slice(&len_word(96 + records_len + sigs_len));
    out.extend_from_slice(&len_word(records.len()));
    for r in records {
        out.extend_from_slice(&r.encode());
    }
    encode_signatures(&mut out, signatures);
    out.extend_from_slice(&len_word(indices.len()));
    for i in indices {
        out.extend_from_slice(&word(u64::from(*i)));
    }
    out
}

/// Calldata of `indexOf(keccak256(provider))`.
pub fn index_of_calldata(provider: &ProviderId) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 32);
    out.extend_from_slice(&selector(INDEX_OF));
    out.extend_from_slice(&keccak256(provider.as_str()));
    out
}

/// Decodes `indexOf`'s return word (one word, a `uint32`-sized value: the
/// contract holds at most 2^32 providers' hints).
pub fn decode_index(ret: &[u8]) -> Result<u32, AbiError> {
    let bad = || AbiError::OutOfRange {
        field: "indexOf",
        ty: "uint32",
        word: hex(ret),
    };
    if ret.len() != 32 || ret[..28].iter().any(|b| *b != 0) {
        return Err(bad());
    }
    Ok(u32::from_be_bytes([ret[28], ret[29], ret[30], ret[31]]))
}

/// Calldata of `revoke(keccak256(provider), epoch, signatures)`.
pub fn revoke_calldata(provider: &ProviderId, epoch: u64, signatures: &[[u8; 65]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 128 + 160 * signatures.len());
    out.extend_from_slice(&selector(REVOKE));
    out.extend_from_slice(&keccak256(provider.as_str()));
    out.extend_from_slice(&word(epoch));
    out.extend_from_slice(&len_word(96));
    encode_signatures(&mut out, signatures);
    out
}

/// Calldata of `latest(keccak256(provider))`.
pub fn latest_calldata(provider: &ProviderId) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 32);
    out.extend_from_slice(&selector(LATEST));
    out.extend_from_slice(&keccak256(provider.as_str()));
    out
}

/// The value of the 32-byte word `w` if it holds an unsigned integer of
/// at most `bits` bits (at most 64).
fn uint(w: &[u8], bits: u32) -> Option<u64> {
    let (high, low) = w.split_last_chunk::<8>()?;
    if high.len() != 24 || high.iter().any(|&x| x != 0) {
        return None;
    }
    let v = u64::from_be_bytes(*low);
    (v.checked_shr(bits).unwrap_or(0) == 0).then_some(v)
}

/// Word `i` of `ret` as a `T` of `bits` bits (Solidity type `ty`).
fn field<T: TryFrom<u64>>(
    ret: &[u8],
    i: usize,
    name: &'static str,
    ty: &'static str,
    bits: u32,
) -> Result<T, AbiError> {
    let w = &ret[32 * i..32 * (i + 1)];
    uint(w, bits)
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| AbiError::OutOfRange {
            field: name,
            ty,
            word: hex(w),
        })
}

/// Decodes `latest`'s return data, `(uint16 score, uint8 trust, uint64
/// epoch, uint64 expiry, bool revoked)`: exactly five words, each
/// holding a value of its type (a word with stray high bits is refused,
/// not truncated).
pub fn decode_latest(ret: &[u8]) -> Result<OnChain, AbiError> {
    if ret.len() != LATEST_LEN {
        return Err(AbiError::Length(ret.len()));
    }
    Ok(OnChain {
        score_bps: field(ret, 0, "score", "uint16", 16)?,
        trust: field(ret, 1, "trust", "uint8", 8)?,
        epoch: field(ret, 2, "epoch", "uint64", 64)?,
        expiry_s: field(ret, 3, "expiry", "uint64", 64)?,
        revoked: field::<u8>(ret, 4, "revoked", "bool", 1)? == 1,
    })
}

/// The type of an error argument.
#[derive(Clone, Copy, Debug)]
enum Arg {
    Address,
    Bytes32,
    Uint64,
    Uint256,
}

impl Arg {
    fn solidity(self) -> &'static str {
        match self {
            Arg::Address => "address",
            Arg::Bytes32 => "bytes32",
            Arg::Uint64 => "uint64",
            Arg::Uint256 => "uint256",
        }
    }

    /// The argument in `w`, readable; `None` when the word does not hold
    /// a value of the type.
    fn show(self, w: &[u8]) -> Option<String> {
        match self {
            Arg::Bytes32 => Some(hex(w)),
            Arg::Address => w[..12].iter().all(|&b| b == 0).then(|| hex(&w[12..])),
            Arg::Uint64 => uint(w, 64).map(|v| v.to_string()),
            Arg::Uint256 => Some(match uint(w, 64) {
                Some(v) => v.to_string(),
                None => hex(w),
            }),
        }
    }
}

/// `SentinelTrust`'s custom errors: name and arguments, as declared.
const ERRORS: &[(&str, &[(&str, Arg)])] = {
    use Arg::*;
    &[
        ("NotOwner", &[]),
        ("ZeroAddress", &[]),
        ("SignerExists", &[("signer", Address)]),
        ("NotASigner", &[("signer", Address)]),
        ("TooManySigners", &[]),
        ("BadQuorum", &[("quorum", Uint256), ("signers", Uint256)]),
        ("BadBatchSize", &[("records", Uint256)]),
        (
            "BadIndicesLength",
            &[("indices", Uint256), ("records", Uint256)],
        ),
        (
            "BelowQuorum",
            &[("signatures", Uint256), ("quorum", Uint256)],
        ),
        (
            "TooManySignatures",
            &[("signatures", Uint256), ("signers", Uint256)],
        ),
        ("BadSignature", &[("position", Uint256)]),
        ("NotAuthorised", &[("signer", Address)]),
        (
            "DuplicateOrUnsorted",
            &[("position", Uint256), ("signer", Address)],
        ),
        ("BadScore", &[("provider", Bytes32), ("score", Uint256)]),
        ("BadTrust", &[("provider", Bytes32), ("trust", Uint256)]),
        ("BadEpoch", &[("provider", Bytes32), ("epoch", Uint256)]),
        ("Expired", &[("provider", Bytes32), ("expiry", Uint256)]),
        ("BadExpiry", &[("provider", Bytes32), ("expiry", Uint256)]),
        (
            "Stale",
            &[
                ("provider", Bytes32),
                ("storedEpoch", Uint64),
                ("epoch", Uint256),
            ],
        ),
        (
            "AlreadyRevoked",
            &[("provider", Bytes32), ("epoch", Uint64)],
        ),
        ("BadIndex", &[("provider", Bytes32), ("index", Uint256)]),
    ]
};

/// The canonical signature of an error, e.g. `Stale(bytes32,uint64,uint256)`.
fn error_signature(name: &str, args: &[(&str, Arg)]) -> String {
    let types: Vec<&str> = args.iter().map(|(_, a)| a.solidity()).collect();
    format!("{name}({})", types.join(","))
}

/// The message of an `Error(string)` payload (after the selector).
fn error_string(data: &[u8]) -> Option<String> {
    let at = |i: usize| data.get(i..i.checked_add(32)?);
    let offset = usize::try_from(uint(at(0)?, 64)?).ok()?;
    let len = usize::try_from(uint(at(offset)?, 64)?).ok()?;
    let start = offset.checked_add(32)?;
    let bytes = data.get(start..start.checked_add(len)?)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// What a `Panic(uint256)` code means (Solidity documentation, "Panic
/// via assert and Error via require").
fn panic_meaning(code: u64) -> &'static str {
    match code {
        0x00 => "generic compiler panic",
        0x01 => "assert failed",
        0x11 => "arithmetic overflow or underflow",
        0x12 => "division or modulo by zero",
        0x21 => "invalid enum value",
        0x22 => "bad storage byte array encoding",
        0x31 => "pop on an empty array",
        0x32 => "array index out of bounds",
        0x41 => "out of memory",
        0x51 => "call to an uninitialised function pointer",
        _ => "unknown panic code",
    }
}

/// A readable account of revert data: one of `SentinelTrust`'s custom
/// errors with its arguments (e.g. `Stale(provider 0x…, storedEpoch 5,
/// epoch 5)`), `Error("message")`, `Panic(0x11: arithmetic overflow or
/// underflow)`, or `unknown revert 0x…` for anything else (including a
/// known selector with malformed arguments).
pub fn revert_reason(data: &[u8]) -> String {
    decode_revert(data).unwrap_or_else(|| {
        if data.is_empty() {
            "unknown revert 0x (no revert data)".to_string()
        } else {
            format!("unknown revert {}", hex(data))
        }
    })
}

fn decode_revert(data: &[u8]) -> Option<String> {
    let (sel, args) = data.split_first_chunk::<4>()?;
    if *sel == selector("Error(string)") {
        return error_string(args).map(|m| format!("Error({m:?})"));
    }
    if *sel == selector("Panic(uint256)") {
        if args.len() != 32 {
            return None;
        }
        let code = uint(args, 64)?;
        return Some(format!("Panic(0x{code:02x}: {})", panic_meaning(code)));
    }
    let (name, params) = ERRORS
        .iter()
        .find(|(name, params)| selector(&error_signature(name, params)) == *sel)?;
    if args.len() != 32 * params.len() {
        return None;
    }
    let shown = params
        .iter()
        .zip(args.chunks_exact(32))
        .map(|((pname, ty), w)| Some(format!("{pname} {}", ty.show(w)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(format!("{name}({})", shown.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        // Well-known selectors.
        assert_eq!(
            selector("transfer(address,uint256)"),
            [0xa9, 0x05, 0x9c, 0xbb]
        );
        assert_eq!(selector("Error(string)"), [0x08, 0xc3, 0x79, 0xa0]);
        assert_eq!(selector("Panic(uint256)"), [0x4e, 0x48, 0x7b, 0x71]);
    }

    /// The error table is the contract's: every `error` declared in
    /// `SentinelTrust.sol` is in it with the same types, and no other.
    #[test]
    fn error_table_matches_the_contract() {
        let src = include_str!("../../../contracts/src/SentinelTrust.sol");
        let mut declared: Vec<String> = src
            .lines()
            .filter_map(|l| l.trim().strip_prefix("error "))
            .map(|decl| {
                let decl = decl.trim_end_matches(';');
                let (name, rest) = decl.split_once('(').unwrap();
                let params = rest.trim_end_matches(')');
                let types: Vec<&str> = params
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| p.split_whitespace().next().unwrap())
                    .collect();
                let names: Vec<&str> = params
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| p.split_whitespace().nth(1).unwrap())
                    .collect();
                format!("{name}({}) {}", types.join(","), names.join(","))
            })
            .collect();
        let mut ours: Vec<String> = ERRORS
            .iter()
            .map(|(name, params)| {
                let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
                format!("{} {}", error_signature(name, params), names.join(","))
            })
            .collect();
        declared.sort();
        ours.sort();
        assert_eq!(declared.len(), 21);
        assert_eq!(ours, declared);
    }

    #[test]
    fn reasons() {
        let mut stale = selector("Stale(bytes32,uint64,uint256)").to_vec();
        stale.extend_from_slice(&[0xab; 32]);
        stale.extend_from_slice(&word(5));
        stale.extend_from_slice(&word(4));
        assert_eq!(
            revert_reason(&stale),
            format!(
                "Stale(provider 0x{}, storedEpoch 5, epoch 4)",
                "ab".repeat(32)
            )
        );
        // A uint64 argument with high bits set is malformed.
        let mut bad = stale.clone();
        bad[4 + 32] = 1;
        assert!(revert_reason(&bad).starts_with("unknown revert 0x"));
        // Too short or too long.
        assert!(revert_reason(&stale[..stale.len() - 1]).starts_with("unknown revert"));
        let mut long = stale.clone();
        long.push(0);
        assert!(revert_reason(&long).starts_with("unknown revert"));

        assert_eq!(revert_reason(&selector("NotOwner()")), "NotOwner()");
        let mut panic = selector("Panic(uint256)").to_vec();
        panic.extend_from_slice(&word(0x11));
        assert_eq!(
            revert_reason(&panic),
            "Panic(0x11: arithmetic overflow or underflow)"
        );
        let mut big = selector("BadScore(bytes32,uint256)").to_vec();
        big.extend_from_slice(&[0; 32]);
        big.extend_from_slice(&[0xff; 32]);
        assert!(revert_reason(&big).ends_with(&format!("score 0x{})", "ff".repeat(32))));
        assert_eq!(revert_reason(&[]), "unknown revert 0x (no revert data)");
        assert_eq!(revert_reason(&[1, 2, 3]), "unknown revert 0x010203");
    }

    #[test]
    fn latest_words_are_range_checked() {
        let mut ret = Vec::new();
        for v in [10_000, 3, 7, 1_000, 1] {
            ret.extend_from_slice(&word(v));
        }
        let got = decode_latest(&ret).unwrap();
        assert_eq!(
            got,
            OnChain {
                score_bps: 10_000,
                trust: 3,
                epoch: 7,
                expiry_s: 1_000,
                revoked: true
            }
        );
        let mut bad = ret.clone();
        bad[32 + 30] = 1; // trust = 0x103
        assert!(matches!(
            decode_latest(&bad),
            Err(AbiError::OutOfRange { field: "trust", .. })
        ));
        let mut bad = ret.clone();
        bad[4 * 32 + 31] = 2; // revoked = 2
        assert!(matches!(
            decode_latest(&bad),
            Err(AbiError::OutOfRange {
                field: "revoked",
                ..
            })
        ));
        assert_eq!(decode_latest(&ret[1..]), Err(AbiError::Length(159)));
        assert_eq!(decode_latest(&[]), Err(AbiError::Length(0)));
    }
}
