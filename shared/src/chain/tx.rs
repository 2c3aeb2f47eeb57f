//! EIP-1559 ("fee market", type 2) transactions, in the typed envelope of
//! EIP-2718, signed with a sentinel's [`Signer`].
//!
//! - Signing hash (EIP-1559): `keccak256(0x02 ‖ rlp([chain_id, nonce,
//!   max_priority_fee_per_gas, max_fee_per_gas, gas_limit, to, value,
//!   data, access_list]))`.
//! - Signed transaction (EIP-2718 envelope, what `eth_sendRawTransaction`
//!   takes): `0x02 ‖ rlp([chain_id, nonce, max_priority_fee_per_gas,
//!   max_fee_per_gas, gas_limit, to, value, data, access_list, y_parity,
//!   r, s])`; its hash is `keccak256` of those bytes.
//!
//! Integers are RLP integers (no leading zeros, see [`super::rlp`]), `to`
//! a 20-byte string, the access list always empty (`0xc0`). The
//! signature is the [`Signer`]'s (RFC 6979, low `s`): `y_parity = v - 27`.
//!
//! Pure: no nonce, fee or gas lookup. The shell fills those in from the
//! node (`eth_getTransactionCount`, `eth_feeHistory`, `eth_estimateGas`).

use super::rlp;
use crate::attest::{keccak256, SignError, Signer};

/// The EIP-2718 type byte of an EIP-1559 transaction.
const TX_TYPE: u8 = 0x02;

/// An unsigned EIP-1559 transaction calling `to` (no contract creation),
/// with an empty access list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Eip1559 {
    /// The chain (EIP-155 chain id).
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// Tip per gas to the block producer, wei.
    pub max_priority_fee_per_gas: u128,
    /// Most the sender pays per gas (base fee plus tip), wei.
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// The called address.
    pub to: [u8; 20],
    /// Wei sent along.
    pub value: u128,
    /// Calldata.
    pub input: Vec<u8>,
}

/// A signed transaction, ready for `eth_sendRawTransaction`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedTx {
    /// `0x02 ‖ rlp([...fields, access_list, y_parity, r, s])`.
    pub raw: Vec<u8>,
    /// The transaction hash, `keccak256(raw)`.
    pub hash: [u8; 32],
}

impl Eip1559 {
    /// The RLP encodings of the nine signed fields, concatenated.
    fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.input.len());
        rlp::encode_uint(&mut out, self.chain_id.into());
        rlp::encode_uint(&mut out, self.nonce.into());
        rlp::encode_uint(&mut out, self.max_priority_fee_per_gas);
        rlp::encode_uint(&mut out, self.max_fee_per_gas);
        rlp::encode_uint(&mut out, self.gas_limit.into());
        rlp::encode_bytes(&mut out, &self.to);
        rlp::encode_uint(&mut out, self.value);
        rlp::encode_bytes(&mut out, &self.input);
        rlp::encode_list(&mut out, &[]);
        out
    }

    /// `0x02 ‖ rlp(payload)`.
    fn envelope(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 10);
        out.push(TX_TYPE);
        rlp::encode_list(&mut out, payload);
        out
    }

    /// The hash the sender signs.
    pub fn signing_hash(&self) -> [u8; 32] {
        keccak256(Self::envelope(&self.payload()))
    }

    /// Signs the transaction with `signer`.
    pub fn sign(&self, signer: &Signer) -> Result<SignedTx, SignError> {
        let sig = signer.sign(&self.signing_hash())?;
        let y_parity = match sig[64] {
            27 => 0,
            28 => 1,
            // An x-reduced recovery id (probability ~2^-127): not
            // expressible as a y-parity.
            _ => return Err(SignError::Sign),
        };
        let mut payload = self.payload();
        rlp::encode_uint(&mut payload, y_parity);
        rlp::encode_uint_be(&mut payload, &sig[..32]);
        rlp::encode_uint_be(&mut payload, &sig[32..64]);
        let raw = Self::envelope(&payload);
        let hash = keccak256(&raw);
        Ok(SignedTx { raw, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        // anvil's first test key.
        Signer::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
            .unwrap()
    }

    #[test]
    fn layout() {
        let tx = Eip1559 {
            chain_id: 1,
            to: [0x11; 20],
            ..Eip1559::default()
        };
        let raw = tx.sign(&signer()).unwrap().raw;
        assert_eq!(raw[0], 0x02);
        // A list with a long header: one length byte.
        assert_eq!(raw[1], 0xf8);
        assert_eq!(usize::from(raw[2]), raw.len() - 3);
        // chain id 1, nonce 0, fees 0, gas 0, `to`, value 0, no input, [].
        let mut want = vec![0x01, 0x80, 0x80, 0x80, 0x80, 0x94];
        want.extend_from_slice(&[0x11; 20]);
        want.extend_from_slice(&[0x80, 0x80, 0xc0]);
        assert_eq!(raw[3..3 + want.len()], want);
        // y_parity is 0 or 1 (0x80 or 0x01).
        assert!(matches!(raw[3 + want.len()], 0x80 | 0x01));
    }

    #[test]
    fn signs_deterministically_and_recovers() {
        let tx = Eip1559 {
            chain_id: 31337,
            nonce: 7,
            max_priority_fee_per_gas: 1_000_000_000,
            max_fee_per_gas: 30_000_000_000,
            gas_limit: 300_000,
            to: [0x5f; 20],
            value: 0,
            input: vec![1, 2, 3],
        };
        let s = signer();
        let a = tx.sign(&s).unwrap();
        assert_eq!(a, tx.sign(&s).unwrap());
        assert_eq!(a.hash, keccak256(&a.raw));
        let sig = s.sign(&tx.signing_hash()).unwrap();
        assert_eq!(
            crate::attest::recover(&tx.signing_hash(), &sig).unwrap(),
            s.address()
        );
        let other = Eip1559 { nonce: 8, ..tx };
        assert_ne!(other.sign(&s).unwrap().hash, a.hash);
    }
}
