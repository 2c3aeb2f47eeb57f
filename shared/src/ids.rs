//! Identifiers of services, providers and sentinels.
//!
//! Ids are short, lowercase, URL- and key-safe strings (`[a-z0-9][a-z0-9._-]{0,63}`)
//! so they can be used verbatim in HTTP paths, KV keys, DynamoDB keys,
//! Prometheus labels and EIP-712 records without escaping.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

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

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self(s))
            }
            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
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
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
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
