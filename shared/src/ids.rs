//! Identifiers of services, providers and sentinels.
//!
//! Ids are short, lowercase, URL- and key-safe strings (`[a-z0-9][a-z0-9._-]{0,63}`)
//! so they can be used verbatim in HTTP paths, KV keys, DynamoDB keys,
//! Prometheus labels and EIP-712 records without escaping.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// Why a string is not a valid id.
pub fn check_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 64 {
        return Err(format!("`{s}` must be 1 to 64 characters long"));
    }
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "`{s}` must start with a lowercase letter or digit and contain only a-z, 0-9, '.', '_' or '-'"
        ));
    }
    Ok(())
}

/// The first eight bytes of an id, big-endian and zero-padded: comparing
/// two keys as integers orders the ids as their text does (an id never
/// contains a zero byte, so a shorter id that is a prefix of a longer one
/// sorts first, as in `str`), and decides most comparisons in a map
/// lookup without reading the text. Equal keys fall back to the text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct IdKey(u64);

impl IdKey {
    fn of(s: &str) -> IdKey {
        let mut b = [0u8; 8];
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        IdKey(u64::from_be_bytes(b))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared, immutable text: an id is cloned into every map and
        /// action that names it (several times per provider per tick), and
        /// a clone is a reference count, not an allocation. Ids order,
        /// compare and hash exactly as their text does (see [`IdKey`]).
        #[derive(Clone)]
        pub struct $name {
            key: IdKey,
            text: Arc<str>,
        }

        impl $name {
            /// Validates and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self {
                    key: IdKey::of(&s),
                    text: Arc::from(s),
                })
            }
            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.text
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == std::cmp::Ordering::Equal
            }
        }

        impl Eq for $name {}

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.key.cmp(&other.key).then_with(|| {
                    // Equal keys: ids of at most eight bytes are equal.
                    if (self.text.len() <= 8 && other.text.len() <= 8)
                        || Arc::ptr_eq(&self.text, &other.text)
                    {
                        std::cmp::Ordering::Equal
                    } else {
                        self.text.as_bytes().cmp(other.text.as_bytes())
                    }
                })
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
                self.as_str().hash(h)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.text)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.text, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.text
            }
        }
    };
}

id_type!(
    /// A provider, unique across all services (e.g. `cloudflare-eth`).
    ProviderId
);
id_type!(
    /// A service that one or more providers can serve (e.g. `eth-mainnet`).
    ServiceId
);
id_type!(
    /// A sentinel instance (e.g. `local`, `cf-worker`, `aws-lambda`).
    SentinelId
);

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// An id orders, compares and hashes as its text: the prefix key
        /// is only a shortcut (maps keyed by ids are looked up by `&str`
        /// through `Borrow`, and stored state is ordered by them).
        #[test]
        fn ids_behave_as_their_text(
            a in "[a-z0-9][a-z0-9._-]{0,20}",
            b in "[a-z0-9][a-z0-9._-]{0,20}",
        ) {
            use std::hash::{BuildHasher, RandomState};
            let (x, y) = (ProviderId::new(a.clone()).unwrap(), ProviderId::new(b.clone()).unwrap());
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
            let h = RandomState::new();
            proptest::prop_assert_eq!(h.hash_one(&x), h.hash_one(a.as_str()));
            let map: std::collections::BTreeMap<ProviderId, ()> = [(x.clone(), ())].into();
            proptest::prop_assert!(map.contains_key(a.as_str()));
            proptest::prop_assert_eq!(map.contains_key(b.as_str()), a == b);
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(ProviderId::new("cloudflare-eth").is_ok());
        assert!(ProviderId::new("a.b_c-1").is_ok());
        for bad in ["", "Upper", "-lead", "has space", "slash/", &"x".repeat(65)] {
            assert!(ProviderId::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<ServiceId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<ServiceId>("\"Not OK\"").is_err());
    }
}

/// What kind of thing a provider is; decides the default probe and which
/// per-kind budget its costs count against.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An HTTP API.
    Api,
    /// A database (probed through its HTTP endpoint or health route).
    Database,
    /// Object or content storage (S3, IPFS pinning, …).
    Storage,
    /// Serverless compute (Lambda, Workers, Vercel, …).
    Compute,
    /// An EVM JSON-RPC endpoint.
    EvmRpc,
    /// The sentinel's own footprint (store writes, invocations, gas).
    Sentinel,
}

impl Kind {
    /// The kebab-case name used in configs, labels and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Api => "api",
            Kind::Database => "database",
            Kind::Storage => "storage",
            Kind::Compute => "compute",
            Kind::EvmRpc => "evm-rpc",
            Kind::Sentinel => "sentinel",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
