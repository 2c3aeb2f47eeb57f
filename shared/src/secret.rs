//! Credentials encrypted at rest (ChaCha20-Poly1305, RFC 8439).
//!
//! A provider's API key or bearer token is stored in the configuration and
//! the state only as a [`SealedSecret`], a single string
//!
//! ```text
//! v1.<base64url nonce, 12 bytes>.<base64url ciphertext + 16-byte tag>
//! ```
//!
//! sealed with the sentinel's [`SecretKey`] (a 32-byte key held as a
//! platform secret: `wrangler secret`, Lambda env/KMS, a local key file).
//! Each seal draws a fresh random 96-bit nonce from the RNG the caller
//! passes in; with random nonces a key should seal fewer than 2³² secrets,
//! far more than any configuration holds.
//!
//! The *associated data* (`aad`) names where a secret belongs, e.g.
//! `provider:llamarpc:header:authorization`. It is authenticated, not
//! stored: a ciphertext copied to another provider or header fails to
//! open, so a config editor cannot redirect a key to an endpoint they
//! control.
//!
//! Opened secrets are [`Sensitive`]: the clear text lives only in memory,
//! is never serialized, prints as `<redacted>`, and is overwritten with
//! zeros when dropped (best effort: the allocator may have copied it
//! before). No error message ever contains key or secret material.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag in bytes.
pub const TAG_LEN: usize = 16;
/// Largest clear text [`seal`] accepts, in bytes (64 KiB): credentials
/// are small, and the cap bounds what a sealed string in a config can cost.
pub const MAX_PLAINTEXT: usize = 64 * 1024;

const VERSION: &str = "v1";

/// Why a key could not be read or a secret sealed or opened. Messages name
/// the problem, never the material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The key is not 32 bytes of base64 or hex.
    #[error("bad secret key: {0}")]
    BadKey(&'static str),
    /// The sealed string is not `v1.<nonce>.<ciphertext>`.
    #[error("bad sealed secret: {0} (expected \"v1.<base64url nonce>.<base64url ciphertext>\", made by `sentinel seal`)")]
    BadFormat(&'static str),
    /// Authentication failed: another key, another `aad` (the secret was
    /// moved), or a modified ciphertext.
    #[error("sealed secret does not open: wrong key, wrong place (aad) or tampered")]
    WrongKeyOrTampered,
    /// The clear text is not UTF-8.
    #[error("sealed secret opened but is not UTF-8 text")]
    NotUtf8,
    /// The clear text exceeds [`MAX_PLAINTEXT`].
    #[error("secret too large: at most {max} bytes can be sealed")]
    TooLarge {
        /// The limit in bytes.
        max: usize,
    },
}

/// Overwrites `bytes` with zeros; `black_box` keeps the compiler from
/// proving the writes dead.
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// The 256-bit sealing key. Never serialized; `Debug` is redacted; wiped
/// on drop.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A key from its 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(bytes)
    }

    /// Reads a key written in base64 (standard or URL-safe alphabet,
    /// padding optional; surrounding whitespace ignored).
    pub fn from_base64(s: &str) -> Result<Self, SecretError> {
        let norm: String = s
            .trim()
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        let mut bytes = URL_SAFE_NO_PAD
            .decode(norm.as_bytes())
            .map_err(|_| SecretError::BadKey("not valid base64"))?;
        let key = <[u8; KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| SecretError::BadKey("must decode to exactly 32 bytes"));
        wipe(&mut bytes);
        key.map(SecretKey)
    }

    /// Reads a key written as 64 hex digits (either case; surrounding
    /// whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self, SecretError> {
        let s = s.trim().as_bytes();
        if s.len() != 2 * KEY_LEN {
            return Err(SecretError::BadKey("must be exactly 64 hex digits"));
        }
        let nibble = |c: u8| -> Result<u8, SecretError> {
            match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(SecretError::BadKey("not a hex digit")),
            }
        };
        let mut key = [0u8; KEY_LEN];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            key[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(SecretKey(key))
    }

    /// A fresh random key from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut key = [0u8; KEY_LEN];
        rng.fill_bytes(&mut key);
        SecretKey(key)
    }

    /// The key as base64url without padding, for writing it into a
    /// platform secret once (`sentinel keygen`). Handle the result as a
    /// secret.
    pub fn to_base64(&self) -> Sensitive {
        Sensitive(URL_SAFE_NO_PAD.encode(self.0))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A sealed credential; serializes as `"v1.<nonce>.<ciphertext>"`.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    ciphertext: Vec<u8>,
}

impl SealedSecret {
    /// The string form, `v1.<base64url nonce>.<base64url ciphertext+tag>`.
    pub fn encode(&self) -> String {
        format!(
            "{VERSION}.{}.{}",
            URL_SAFE_NO_PAD.encode(self.nonce),
            URL_SAFE_NO_PAD.encode(&self.ciphertext)
        )
    }

    /// Length of the ciphertext with its tag, in bytes (the clear text is
    /// 16 bytes shorter).
    pub fn len(&self) -> usize {
        self.ciphertext.len()
    }

    /// Whether it seals the empty string.
    pub fn is_empty(&self) -> bool {
        self.ciphertext.len() <= TAG_LEN
    }
}

impl FromStr for SealedSecret {
    type Err = SecretError;

    /// Parses the string form. Errors never quote the input: a clear-text
    /// key pasted where a sealed one belongs must not end up in a log.
    fn from_str(s: &str) -> Result<Self, SecretError> {
        let mut parts = s.trim().split('.');
        let (Some(version), Some(nonce), Some(ct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::BadFormat("not three dot-separated parts"));
        };
        if version != VERSION {
            return Err(SecretError::BadFormat("unsupported version"));
        }
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n.as_slice()).ok())
            .ok_or(SecretError::BadFormat(
                "the nonce is not 12 bytes of base64url",
            ))?;
        // Bound the work before decoding: base64 is 4 characters per 3 bytes.
        if ct.len() > (MAX_PLAINTEXT + TAG_LEN).div_ceil(3) * 4 {
            return Err(SecretError::BadFormat("the ciphertext is too long"));
        }
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ct)
            .map_err(|_| SecretError::BadFormat("the ciphertext is not base64url"))?;
        if ciphertext.len() < TAG_LEN {
            return Err(SecretError::BadFormat(
                "the ciphertext is shorter than its tag",
            ));
        }
        Ok(SealedSecret { nonce, ciphertext })
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedSecret({VERSION}, {} bytes)",
            self.ciphertext.len()
        )
    }
}

impl Serialize for SealedSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Clear text that must not leak: only in memory, never serialized,
/// printed as `<redacted>`, wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps clear text (e.g. a secret read from the environment).
    pub fn new(s: impl Into<String>) -> Self {
        Sensitive(s.into())
    }

    /// The clear text, for the one place that needs it (a request header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Sensitive {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        wipe(&mut bytes);
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Seals `plaintext` for the place `aad` names, with a random nonce from
/// `rng`. Fails only for clear text over [`MAX_PLAINTEXT`].
pub fn seal(
    key: &SecretKey,
    aad: &str,
    plaintext: &str,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SealedSecret, SecretError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(SecretError::TooLarge { max: MAX_PLAINTEXT });
    }
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: aad.as_bytes(),
    };
    let ciphertext = key
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), payload)
        // Unreachable below the AEAD's 256 GiB message limit.
        .map_err(|_| SecretError::TooLarge { max: MAX_PLAINTEXT })?;
    Ok(SealedSecret { nonce, ciphertext })
}

/// Opens `sealed` for the place `aad` names.
pub fn open(key: &SecretKey, aad: &str, sealed: &SealedSecret) -> Result<Sensitive, SecretError> {
    let payload = Payload {
        msg: &sealed.ciphertext,
        aad: aad.as_bytes(),
    };
    let plain = key
        .cipher()
        .decrypt(Nonce::from_slice(&sealed.nonce), payload)
        .map_err(|_| SecretError::WrongKeyOrTampered)?;
    match String::from_utf8(plain) {
        Ok(s) => Ok(Sensitive(s)),
        Err(e) => {
            wipe(&mut e.into_bytes());
            Err(SecretError::NotUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop_assert_eq, proptest};

    /// A deterministic test RNG (SplitMix64). Not cryptographic: the
    /// `CryptoRng` marker is only to satisfy the bound in tests.
    struct TestRng(u64);

    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            rand_core::impls::fill_bytes_via_next(self, dest);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for TestRng {}

    const AAD: &str = "provider:llamarpc:header:authorization";
    const PLAIN: &str = "Bearer sk-live-very-secret-token";

    fn key(seed: u64) -> SecretKey {
        SecretKey::generate(&mut TestRng(seed))
    }

    #[test]
    fn round_trip() {
        let (k, mut rng) = (key(1), TestRng(2));
        let sealed = seal(&k, AAD, PLAIN, &mut rng).unwrap();
        assert_eq!(sealed.len(), PLAIN.len() + TAG_LEN);
        assert_eq!(open(&k, AAD, &sealed).unwrap().expose(), PLAIN);
        // Through serde, as in a config file.
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(json.starts_with("\"v1.") && !json.contains(PLAIN));
        let back: SealedSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sealed);
        assert_eq!(open(&k, AAD, &back).unwrap().expose(), PLAIN);
        let empty = seal(&k, AAD, "", &mut rng).unwrap();
        assert!(empty.is_empty());
        assert_eq!(open(&k, AAD, &empty).unwrap().expose(), "");
    }

    #[test]
    fn wrong_key_wrong_aad_and_tampering_fail() {
        let k = key(1);
        let sealed = seal(&k, AAD, PLAIN, &mut TestRng(2)).unwrap();
        assert_eq!(
            open(&key(3), AAD, &sealed).unwrap_err(),
            SecretError::WrongKeyOrTampered
        );
        assert_eq!(
            open(&k, "provider:evil:header:authorization", &sealed).unwrap_err(),
            SecretError::WrongKeyOrTampered
        );
        for i in 0..sealed.ciphertext.len() * 8 {
            let mut t = sealed.clone();
            t.ciphertext[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                open(&k, AAD, &t).unwrap_err(),
                SecretError::WrongKeyOrTampered
            );
        }
        let mut t = sealed.clone();
        t.nonce[0] ^= 1;
        assert_eq!(
            open(&k, AAD, &t).unwrap_err(),
            SecretError::WrongKeyOrTampered
        );
    }

    #[test]
    fn deterministic_with_a_seeded_rng() {
        let a = seal(&key(7), AAD, PLAIN, &mut TestRng(42))
            .unwrap()
            .encode();
        let b = seal(&key(7), AAD, PLAIN, &mut TestRng(42))
            .unwrap()
            .encode();
        let c = seal(&key(7), AAD, PLAIN, &mut TestRng(43))
            .unwrap()
            .encode();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Fresh nonces from one rng: sealing twice differs.
        let mut rng = TestRng(42);
        let k = key(7);
        assert_ne!(
            seal(&k, AAD, PLAIN, &mut rng).unwrap(),
            seal(&k, AAD, PLAIN, &mut rng).unwrap()
        );
    }

    #[test]
    fn keys_from_text() {
        let k = key(9);
        let b64 = k.to_base64();
        let k2 = SecretKey::from_base64(b64.expose()).unwrap();
        let sealed = seal(&k, AAD, PLAIN, &mut TestRng(1)).unwrap();
        assert_eq!(open(&k2, AAD, &sealed).unwrap().expose(), PLAIN);
        // Standard alphabet with padding works too.
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(k.0);
        assert!(SecretKey::from_base64(&format!(" {std_b64}\n")).is_ok());
        let hex: String = k.0.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(SecretKey::from_hex(&hex).unwrap().0, k.0);
        assert_eq!(SecretKey::from_hex(&hex.to_lowercase()).unwrap().0, k.0);
        assert!(matches!(
            SecretKey::from_hex("abcd"),
            Err(SecretError::BadKey(_))
        ));
        assert!(matches!(
            SecretKey::from_hex(&"zz".repeat(32)),
            Err(SecretError::BadKey(_))
        ));
        assert!(matches!(
            SecretKey::from_base64("c2hvcnQ"),
            Err(SecretError::BadKey(_))
        ));
        assert!(matches!(
            SecretKey::from_base64("!!!"),
            Err(SecretError::BadKey(_))
        ));
    }

    #[test]
    fn malformed_sealed_strings() {
        let ok = seal(&key(1), AAD, PLAIN, &mut TestRng(2)).unwrap().encode();
        let (_, rest) = ok.split_once('.').unwrap();
        let (nonce, ct) = rest.split_once('.').unwrap();
        for bad in [
            "",
            PLAIN,
            "v1.only-two",
            &format!("v2.{nonce}.{ct}"),
            &format!("v1.{nonce}.{ct}.extra"),
            &format!("v1.AAAA.{ct}"),
            &format!("v1.{nonce}.AAAA"),
            &format!("v1.{nonce}.{ct}+/"),
        ] {
            let err = bad.parse::<SealedSecret>().unwrap_err();
            assert!(matches!(err, SecretError::BadFormat(_)), "{bad}: {err}");
            let msg = serde_json::from_str::<SealedSecret>(&format!("\"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("bad sealed secret") && !msg.contains(PLAIN),
                "{msg}"
            );
        }
        assert!(serde_json::from_str::<SealedSecret>("42").is_err());
    }

    #[test]
    fn nothing_prints_secrets() {
        let k = key(1);
        let sealed = seal(&k, AAD, PLAIN, &mut TestRng(2)).unwrap();
        let opened = open(&k, AAD, &sealed).unwrap();
        let key_hex: String = k.0.iter().map(|b| format!("{b:02x}")).collect();
        let shown = [
            format!("{k:?}"),
            format!("{sealed:?}"),
            format!("{opened:?}"),
            format!("{opened}"),
            format!("{:?}", k.to_base64()),
            format!("{:?}", open(&key(2), AAD, &sealed)),
            open(&key(2), AAD, &sealed).unwrap_err().to_string(),
        ];
        assert_eq!(shown[0], "SecretKey(<redacted>)");
        assert_eq!(
            shown[1],
            format!("SealedSecret(v1, {} bytes)", PLAIN.len() + TAG_LEN)
        );
        assert_eq!(shown[2], "<redacted>");
        for s in &shown {
            assert!(
                !s.contains(PLAIN) && !s.contains("sk-live") && !s.contains(&key_hex),
                "{s}"
            );
            assert!(!s.contains(k.to_base64().expose()), "{s}");
        }
        assert!(matches!(
            seal(&k, AAD, &"x".repeat(MAX_PLAINTEXT + 1), &mut TestRng(1)),
            Err(SecretError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_text_round_trips(plain in ".{0,200}", aad in "[a-z:]{0,40}", seed in any::<u64>()) {
            let k = key(seed);
            let sealed = seal(&k, &aad, &plain, &mut TestRng(seed ^ 1)).unwrap();
            let parsed: SealedSecret = sealed.encode().parse().unwrap();
            let opened = open(&k, &aad, &parsed).unwrap();
            prop_assert_eq!(opened.expose(), plain.as_str());
        }
    }
}
