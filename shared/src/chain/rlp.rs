//! A minimal RLP encoder: byte strings, unsigned integers and lists, as
//! the Ethereum Yellow Paper defines Recursive Length Prefix encoding
//! (appendix B, "Recursive Length Prefix"; also
//! <https://ethereum.org/en/developers/docs/data-structures-and-encoding/rlp/>).
//!
//! - A single byte below `0x80` is its own encoding.
//! - A byte string of 0–55 bytes is `0x80 + len` followed by the bytes;
//!   a longer one is `0xb7 + len(len)`, the length big-endian without
//!   leading zeros, then the bytes.
//! - A list is the concatenation of its items' encodings (the payload)
//!   behind `0xc0 + len` (payload of 0–55 bytes) or `0xf7 + len(len)`
//!   and the length.
//! - An unsigned integer is the byte string of its big-endian form with
//!   no leading zeros, so zero is the empty string (`0x80`).
//!
//! Every function appends to `out`; a list is built by encoding its items
//! into a payload buffer, then wrapping it with [`encode_list`]. Decoding
//! is not needed (the sentinel only builds transactions) and not provided.

/// The offset of a short byte string's header (`0x80 + len`).
const STRING: u8 = 0x80;
/// The offset of a short list's header (`0xc0 + len`).
const LIST: u8 = 0xc0;
/// The longest payload a one-byte header describes.
const SHORT_MAX: usize = 55;

/// The big-endian integer `be` without its leading zero bytes (zero: empty).
fn trimmed(be: &[u8]) -> &[u8] {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    &be[first..]
}

/// The header of a payload of `len` bytes: `base + len` when short, else
/// `base + 55 + len(len)` followed by `len` big-endian.
fn header(out: &mut Vec<u8>, base: u8, len: usize) {
    if len <= SHORT_MAX {
        // len <= 55: fits the byte.
        out.push(base + len as u8);
    } else {
        let len_be = (len as u64).to_be_bytes();
        let len_bytes = trimmed(&len_be);
        // At most 8 length bytes: 0x80 + 55 + 8 = 0xbf, 0xc0 + 55 + 8 = 0xff.
        out.push(base + SHORT_MAX as u8 + len_bytes.len() as u8);
        out.extend_from_slice(len_bytes);
    }
}

/// Appends the encoding of the byte string `data`.
pub fn encode_bytes(out: &mut Vec<u8>, data: &[u8]) {
    match data {
        [b] if *b < STRING => out.push(*b),
        _ => {
            header(out, STRING, data.len());
            out.extend_from_slice(data);
        }
    }
}

/// Appends the encoding of the unsigned integer `value`.
pub fn encode_uint(out: &mut Vec<u8>, value: u128) {
    encode_bytes(out, trimmed(&value.to_be_bytes()));
}

/// Appends the encoding of the unsigned integer whose big-endian bytes
/// are `be` (any width, e.g. a 256-bit signature scalar): leading zero
/// bytes are dropped first.
pub fn encode_uint_be(out: &mut Vec<u8>, be: &[u8]) {
    encode_bytes(out, trimmed(be));
}

/// Appends a list whose `payload` is the concatenation of its items'
/// encodings.
pub fn encode_list(out: &mut Vec<u8>, payload: &[u8]) {
    header(out, LIST, payload.len());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_bytes(&mut out, data);
        out
    }

    fn uint(v: u128) -> Vec<u8> {
        let mut out = Vec::new();
        encode_uint(&mut out, v);
        out
    }

    fn list(items: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_list(&mut out, &items.concat());
        out
    }

    // Vectors from the Ethereum wiki's RLP page
    // (ethereum.org/en/developers/docs/data-structures-and-encoding/rlp).
    #[test]
    fn strings() {
        assert_eq!(bytes(b"dog"), [0x83, b'd', b'o', b'g']);
        assert_eq!(bytes(b""), [0x80]);
        assert_eq!(bytes(&[0x00]), [0x00]);
        assert_eq!(bytes(&[0x0f]), [0x0f]);
        assert_eq!(bytes(&[0x7f]), [0x7f]);
        assert_eq!(bytes(&[0x80]), [0x81, 0x80]);
        let lorem = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit";
        assert_eq!(lorem.len(), 56);
        let mut want = vec![0xb8, 0x38];
        want.extend_from_slice(lorem);
        assert_eq!(bytes(lorem), want);
        // 55 bytes: still a one-byte header.
        assert_eq!(bytes(&[0xaa; 55])[0], 0xb7);
        // 1024 bytes: two length bytes.
        assert_eq!(bytes(&[0xaa; 1024])[..3], [0xb9, 0x04, 0x00]);
    }

    #[test]
    fn integers() {
        assert_eq!(uint(0), [0x80]);
        assert_eq!(uint(1), [0x01]);
        assert_eq!(uint(15), [0x0f]);
        assert_eq!(uint(127), [0x7f]);
        assert_eq!(uint(128), [0x81, 0x80]);
        assert_eq!(uint(1024), [0x82, 0x04, 0x00]);
        assert_eq!(uint(u128::MAX), [[0x90].as_slice(), &[0xff; 16]].concat());
        let mut out = Vec::new();
        encode_uint_be(&mut out, &[0, 0, 0x04, 0x00]);
        assert_eq!(out, [0x82, 0x04, 0x00]);
        out.clear();
        encode_uint_be(&mut out, &[0; 32]);
        assert_eq!(out, [0x80]);
    }

    #[test]
    fn lists() {
        assert_eq!(list(&[]), [0xc0]);
        assert_eq!(
            list(&[bytes(b"cat"), bytes(b"dog")]),
            [0xc8, 0x83, b'c', b'a', b't', 0x83, b'd', b'o', b'g']
        );
        // The set-theoretical representation of three: [ [], [[]], [ [], [[]] ] ].
        let empty = list(&[]);
        let one = list(std::slice::from_ref(&empty));
        let two = list(&[empty.clone(), one.clone()]);
        assert_eq!(
            list(&[empty, one, two]),
            [0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0]
        );
        // A payload of 56+ bytes takes a long header.
        let long = list(&[bytes(&[0xaa; 60])]);
        assert_eq!(long[..3], [0xf8, 62, 0xb8]);
    }
}
