//! The provider catalog: providers the sentinel knows of before anyone
//! configures them, with what their free tier is said to be and where
//! that was read.
//!
//! The built-in catalog is `shared/catalog/providers.json`, compiled into
//! every shell; its JSON Schema is `shared/catalog/providers.schema.json`
//! (checked in CI with a JSON Schema validator). [`Catalog::parse`] checks
//! the same shape and more: ids, units and periods of the quotas, the
//! endpoint's `{placeholders}`, dates, and that an EVM endpoint names its
//! chain. A native sentinel may use another catalog file
//! (`[discovery] catalog = "…"`).
//!
//! An endpoint may be a template: a platform (Vercel, Render, Supabase…)
//! serves the user's own deployment at `https://{project}.vercel.app`, so
//! such an entry is a candidate only for a service that gives the values
//! (`[service.discovery] params`). Public endpoints (EVM JSON-RPC, IPFS and
//! Arweave gateways) need none.

use crate::books::{CostModel, Limits};
use crate::config::{Errors, ProbeSpec};
use crate::{Bps, Kind, ProviderId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The built-in catalog's text.
pub const BUILTIN: &str = include_str!("../../catalog/providers.json");

/// The catalog format this build reads.
pub const CATALOG_VERSION: u32 = 1;

/// A catalog of providers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The JSON Schema the file names (ignored).
    #[serde(default, rename = "$schema", skip_serializing)]
    pub schema: Option<String>,
    /// Format version ([`CATALOG_VERSION`]).
    pub version: u32,
    /// When the catalog was last reviewed (`YYYY-MM-DD`).
    pub updated: String,
    /// What the catalog is, in words.
    #[serde(default)]
    pub about: String,
    /// The providers.
    pub providers: Vec<CatalogEntry>,
}

/// One provider of the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// The id it gets when onboarded.
    pub id: ProviderId,
    /// Display name.
    pub name: String,
    /// What it is (a service of the same kind can use it).
    pub kind: Kind,
    /// The chain an EVM JSON-RPC endpoint serves (required for `evm-rpc`,
    /// refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// Its URL, or a template with `{placeholders}`.
    pub endpoint: String,
    /// What it can do (`postgres`, `ipfs`, `json-rpc`…); a service may
    /// require some.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Its status page, when it publishes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_page: Option<String>,
    /// Its probe, when the service's own does not fit it (a path, a body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// The free tier as published.
    pub free_tier: Terms,
    /// The reputation it starts from (the seed's "reputation seeds"),
    /// shrunk toward while there are few samples.
    pub prior: Bps,
}

/// A free tier as published, and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// In words ("100K requests a day").
    pub summary: String,
    /// The quotas, for the books.
    #[serde(default)]
    pub limits: Limits,
    /// Prices beyond the free tier.
    #[serde(default)]
    pub cost: CostModel,
    /// Where it was read.
    pub source: Source,
}

/// Where a figure was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The page.
    pub url: String,
    /// When (`YYYY-MM-DD`).
    pub read: String,
    /// How much to trust it.
    #[serde(default)]
    pub note: String,
}

impl Catalog {
    /// The built-in catalog.
    ///
    /// # Errors
    /// Never for the shipped file (a test parses it); the error is the
    /// list of problems otherwise.
    pub fn builtin() -> Result<Catalog, Errors> {
        Catalog::parse(BUILTIN)
    }

    /// An empty catalog (discovery finds nothing).
    pub fn empty() -> Catalog {
        Catalog {
            schema: None,
            version: CATALOG_VERSION,
            updated: String::new(),
            about: String::new(),
            providers: Vec::new(),
        }
    }

    /// Parses and checks a catalog (JSON); every problem is reported, with
    /// its path.
    pub fn parse(text: &str) -> Result<Catalog, Errors> {
        let mut errs = Errors::default();
        // The same deserializer as a submitted provider's (`from_slice`):
        // the Worker's code carries one instance of the provider types'
        // deserialisation, not two. serde_json names the line and column.
        let catalog: Catalog = match serde_json::from_slice(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => {
                errs.push_key("catalog", e.to_string());
                return Err(errs);
            }
        };
        catalog.validate(&mut errs);
        if errs.is_empty() {
            Ok(catalog)
        } else {
            Err(errs)
        }
    }

    fn validate(&self, errs: &mut Errors) {
        if self.version != CATALOG_VERSION {
            errs.push(
                "version",
                self.version,
                format!("this build reads catalog version {CATALOG_VERSION}"),
            );
        }
        let updated = date(&self.updated);
        if updated.is_none() {
            errs.push("updated", &self.updated, "must be a date, YYYY-MM-DD");
        }
        let mut seen = BTreeSet::new();
        for (i, e) in self.providers.iter().enumerate() {
            let key = format!("providers[{i}]");
            if !seen.insert(e.id.clone()) {
                errs.push(&format!("{key}.id"), e.id.as_str(), "appears twice");
            }
            e.validate(&key, updated, errs);
        }
    }

    /// The entry with this id.
    pub fn entry(&self, id: &str) -> Option<&CatalogEntry> {
        self.providers.iter().find(|e| e.id.as_str() == id)
    }
}

impl CatalogEntry {
    fn validate(&self, key: &str, updated: Option<u64>, errs: &mut Errors) {
        if self.name.trim().is_empty() {
            errs.push_key(&format!("{key}.name"), "must not be empty");
        }
        match (self.kind, self.chain_id) {
            (Kind::Sentinel, _) => errs.push(
                &format!("{key}.kind"),
                self.kind.as_str(),
                "a sentinel is not a provider to discover",
            ),
            (Kind::EvmRpc, None) => errs.push_key(
                &format!("{key}.chain_id"),
                "an EVM JSON-RPC endpoint must name its chain",
            ),
            (k, Some(_)) if k != Kind::EvmRpc => errs.push_key(
                &format!("{key}.chain_id"),
                "only an evm-rpc endpoint has a chain",
            ),
            _ => {}
        }
        match placeholders(&self.endpoint) {
            Err(m) => errs.push(&format!("{key}.endpoint"), &self.endpoint, m),
            Ok(names) => {
                let sample: BTreeMap<String, String> =
                    names.into_iter().map(|n| (n, "x".to_string())).collect();
                let filled = fill(&self.endpoint, &sample).unwrap_or_default();
                if let Err(m) = http_url(&filled) {
                    errs.push(&format!("{key}.endpoint"), &self.endpoint, m);
                }
            }
        }
        for c in &self.capabilities {
            if c.is_empty()
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                errs.push(
                    &format!("{key}.capabilities"),
                    c,
                    "a capability is lowercase letters, digits, '-' or '_'",
                );
            }
        }
        if let Some(s) = &self.status_page {
            if let Err(m) = http_url(s) {
                errs.push(&format!("{key}.status_page"), s, m);
            }
        }
        let t = &self.free_tier;
        if t.summary.trim().is_empty() {
            errs.push_key(&format!("{key}.free_tier.summary"), "must not be empty");
        }
        t.limits.validate(&format!("{key}.free_tier.limits"), errs);
        t.cost.validate(&format!("{key}.free_tier.cost"), errs);
        if let Err(m) = http_url(&t.source.url) {
            errs.push(&format!("{key}.free_tier.source.url"), &t.source.url, m);
        }
        match date(&t.source.read) {
            None => errs.push(
                &format!("{key}.free_tier.source.read"),
                &t.source.read,
                "must be a date, YYYY-MM-DD",
            ),
            Some(d) if updated.is_some_and(|u| d > u) => errs.push(
                &format!("{key}.free_tier.source.read"),
                &t.source.read,
                "is after the catalog's `updated` date",
            ),
            Some(_) => {}
        }
    }

    /// The endpoint with the template's values from `params`, or the name
    /// of the first one missing.
    pub fn endpoint_with(&self, params: &BTreeMap<String, String>) -> Result<String, String> {
        fill(&self.endpoint, params)
    }
}

/// `YYYY-MM-DD` as days since the epoch.
fn date(s: &str) -> Option<u64> {
    let ms = crate::time::parse_rfc3339(&format!("{s}T00:00:00Z"))?;
    (s.len() == 10).then_some(ms / crate::time::DAY)
}

fn http_url(s: &str) -> Result<(), String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err("must be an http(s) URL with a host".into()),
        Err(e) => Err(format!("is not a URL: {e}")),
    }
}

/// The `{names}` of a template, each `[a-z_]+`, in order of appearance.
fn placeholders(t: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("has a '}' without its '{'".into());
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "has a '{' without its '}'".to_string())?;
        let name = &after[..close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!(
                "placeholder `{{{name}}}` must be lowercase letters or '_'"
            ));
        }
        out.push(name.to_string());
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// A template with its placeholders replaced; `Err(name)` for the first
/// one `params` lacks. A value may not smuggle URL structure in: only
/// letters, digits, '-', '_' and '.' are accepted.
fn fill(t: &str, params: &BTreeMap<String, String>) -> Result<String, String> {
    let names = placeholders(t)?;
    let mut out = t.to_string();
    for n in names {
        let v = params
            .get(&n)
            .ok_or_else(|| format!("needs `{n}` (in [service.discovery] params)"))?;
        if v.is_empty()
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(format!(
                "`{n}` = {v:?} must be letters, digits, '-', '_' or '.'"
            ));
        }
        out = out.replacen(&format!("{{{n}}}"), v, 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_is_valid_and_covers_the_seed() {
        let c = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
        // Every provider the seed names by category, and public EVM
        // endpoints for several chains.
        for id in [
            "vercel",
            "aws-lambda",
            "cloudflare-workers",
            "railway",
            "render",
            "fly-io",
            "netlify",
            "deno-deploy",
            "google-cloud-functions",
            "azure-functions",
            "akash",
            "supabase",
            "dynamodb",
            "planetscale",
            "mongodb-atlas",
            "neon",
            "turso",
            "upstash-redis",
            "ipfs-io",
            "pinata",
            "filecoin-lassie",
            "arweave",
            "celestia",
            "storj",
            "aws-s3",
        ] {
            assert!(c.entry(id).is_some(), "{id} is missing");
        }
        let chains: BTreeSet<u64> = c.providers.iter().filter_map(|e| e.chain_id).collect();
        assert!(chains.len() >= 5, "{chains:?}");
        for e in &c.providers {
            assert!(!e.free_tier.source.url.is_empty(), "{}", e.id);
        }
    }

    #[test]
    fn bad_catalogs_are_refused_with_every_reason() {
        let text = r#"{"version": 1, "updated": "2026-11-29", "providers": [
          {"id": "a", "name": "A", "kind": "evm-rpc", "endpoint": "https://a.example",
           "free_tier": {"summary": "s", "source": {"url": "https://a.example/p", "read": "2026-12-01"}}, "prior": 5000},
          {"id": "a", "name": "", "kind": "api", "chain_id": 1, "endpoint": "https://{Bad}.example",
           "capabilities": ["Up"], "status_page": "ftp://x",
           "free_tier": {"summary": "s", "source": {"url": "nope", "read": "yesterday"}}, "prior": 5000}
        ]}"#;
        let errs = Catalog::parse(text).unwrap_err().to_string();
        for want in [
            "must name its chain",
            "is after the catalog's `updated` date",
            "appears twice",
            "must not be empty",
            "only an evm-rpc endpoint has a chain",
            "placeholder `{Bad}`",
            "a capability is lowercase",
            "providers[1].status_page",
            "providers[1].free_tier.source.url",
            "must be a date",
        ] {
            assert!(errs.contains(want), "missing {want:?} in:\n{errs}");
        }
        let unknown =
            r#"{"version": 1, "updated": "2026-11-29", "providers": [{"id": "a", "bogus": 1}]}"#;
        let e = Catalog::parse(unknown).unwrap_err().to_string();
        assert!(e.contains("bogus") && e.contains("line 1"), "{e}");
        let prior = r#"{"version": 1, "updated": "2026-11-29", "providers": [
          {"id": "a", "name": "A", "kind": "api", "endpoint": "https://a.example",
           "free_tier": {"summary": "s", "source": {"url": "https://a.example", "read": "2026-11-01"}}, "prior": 10001}]}"#;
        assert!(Catalog::parse(prior).is_err());
        assert!(Catalog::parse("not json").is_err());
    }

    #[test]
    fn templates_need_their_values_and_refuse_url_structure() {
        let c = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
        let vercel = c.entry("vercel").unwrap();
        let none = BTreeMap::new();
        assert!(vercel
            .endpoint_with(&none)
            .unwrap_err()
            .contains("`project`"));
        let ok: BTreeMap<String, String> = [("project".into(), "my-app".into())].into();
        assert_eq!(
            vercel.endpoint_with(&ok).unwrap(),
            "https://my-app.vercel.app"
        );
        for bad in ["evil.com/x", "a@b", "x?y", ""] {
            let p: BTreeMap<String, String> = [("project".into(), bad.into())].into();
            assert!(vercel.endpoint_with(&p).is_err(), "{bad}");
        }
        let rpc = c.entry("cloudflare-eth").unwrap();
        assert_eq!(
            rpc.endpoint_with(&none).unwrap(),
            "https://cloudflare-eth.com"
        );
    }
}
