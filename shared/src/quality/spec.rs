//! Data-quality configuration: what a response must look like.
//!
//! These types are read from the service/provider configuration (TOML or
//! JSON, snake_case keys, unknown keys rejected) and checked by
//! [`Checks::validate`] / [`EvmChecks::validate`], which collect every
//! problem into [`Errors`] with the dotted key of the offending value
//! (`….assertions[2].regex`) instead of stopping at the first.
//!
//! * [`Assertion`]s are business rules on single values addressed by an
//!   RFC 6901 JSON pointer (`/data/0/price`): `equals`, `min`/`max`,
//!   `regex`, `exists`.
//! * [`Schema`] is a small JSON-Schema subset (`type`, `required`,
//!   `properties`, `items`, `enum`, `minimum`/`maximum`,
//!   `min_length`/`max_length`, `additional_properties`).
//! * [`Freshness`] names the timestamp field that must not be older than
//!   `max_age`.
//! * [`ConsistencyField`] names the value that several providers of one
//!   service must agree on.
//! * [`EvmChecks`] replace all of the above for EVM JSON-RPC endpoints.

use crate::errors::{join, Errors};
use crate::Span;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// How deep a [`Schema`] may nest; deeper is a configuration error, which
/// also bounds the recursion of the schema walk at run time.
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// Longest accepted JSON pointer, in bytes.
pub const MAX_POINTER_LEN: usize = 1024;

/// The data-quality checks of one API provider (or service).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Business rules, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<Assertion>,
    /// The shape the whole body must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    /// The timestamp that must be recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
    /// The value the providers of the service must agree on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyField>,
}

/// A business rule on the value at `pointer`. Every rule that is set must
/// hold; at least one must be set.
///
/// * `exists = true`: the value must be present (JSON `null` counts as
///   present); `exists = false`: it must be absent (and no other rule may
///   be set). Any other rule implies the value must be present.
/// * `equals`: JSON equality, with numbers compared by value (`1 == 1.0`).
/// * `min` / `max` (inclusive): the value must be a number — a JSON
///   number, a decimal string (`"12.5"`, `"-3e2"`) or an EVM-style hex
///   string (`"0x1a"`, up to 256 bits, compared as the nearest `f64`).
///   `"NaN"`, `"inf"` and out-of-range strings are not numbers.
/// * `regex`: the value (a string, or the JSON text of a number or
///   boolean) must contain a match; anchor with `^…$` for a full match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// RFC 6901 JSON pointer (`""` is the whole document, else `/a/0/b`).
    pub pointer: String,
    /// The value must equal this one (`null` is a value to compare with).
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub equals: Option<Value>,
    /// Inclusive lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Inclusive upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// A regular expression (Rust `regex` syntax) the value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Whether the value must be present (`true`) or absent (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// `equals = null` must mean "equals JSON null", not "no rule".
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A JSON type name as used by JSON Schema's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A number without a fractional part (`3` and `3.0`).
    Integer,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
}

impl JsonType {
    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
        }
    }
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One JSON type or a list of them (`type = "string"` or
/// `type = ["string", "null"]`); the value must have one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonTypes(pub Vec<JsonType>);

impl Serialize for JsonTypes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for JsonTypes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonTypes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a JSON type (object, array, string, number, integer, boolean, null) or a list of them",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JsonTypes, E> {
                JsonType::deserialize(serde::de::value::StrDeserializer::<E>::new(v))
                    .map(|t| JsonTypes(vec![t]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<JsonTypes, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element::<JsonType>()? {
                    out.push(t);
                }
                Ok(JsonTypes(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON-Schema subset. Every keyword that is set must hold; keywords
/// that do not apply to the value's type are ignored, as in JSON Schema
/// (`minimum` says nothing about a string — use `type` for that).
///
/// `min_length` / `max_length` count Unicode scalar values of a string or
/// elements of an array. `additional_properties = false` rejects object
/// keys not listed in `properties`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Allowed JSON type(s).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub types: Option<JsonTypes>,
    /// Keys an object must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Schemas of an object's properties (checked when present).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Schema>,
    /// Schema of every element of an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    /// The value must equal one of these (numbers compared by value).
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
    /// Inclusive lower bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// Inclusive upper bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Minimum length of a string (characters) or array (elements).
    #[serde(default, alias = "minLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Maximum length of a string (characters) or array (elements).
    #[serde(default, alias = "maxLength", skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// Whether an object may have keys not listed in `properties`
    /// (default: yes).
    #[serde(
        default,
        alias = "additionalProperties",
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_properties: Option<bool>,
}

/// How a [`Freshness`] timestamp is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimestampFormat {
    /// Seconds since the epoch: a JSON number (fractions allowed) or a
    /// numeric string.
    #[default]
    UnixSeconds,
    /// Milliseconds since the epoch: a JSON number or numeric string.
    UnixMillis,
    /// An RFC 3339 string such as `2026-11-24T12:00:00Z`.
    Rfc3339,
    /// Seconds since the epoch as an EVM hex quantity (`"0x6560f2a0"`).
    HexUnixSeconds,
}

/// The timestamp at `pointer` must be at most `max_age` old (and not in
/// the future beyond [`super::FUTURE_SKEW`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// RFC 6901 JSON pointer of the timestamp.
    pub pointer: String,
    /// Oldest acceptable age.
    pub max_age: Span,
    /// How the timestamp is written.
    #[serde(default)]
    pub format: TimestampFormat,
}

/// The value at `pointer` must agree across the providers of a service:
/// within `tolerance` (absolute) when set and both values are numbers
/// (JSON numbers, decimal or hex strings), otherwise exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyField {
    /// RFC 6901 JSON pointer of the compared value.
    pub pointer: String,
    /// Largest absolute difference still counted as agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
}

/// Checks for an EVM JSON-RPC endpoint, probed with
/// [`super::evm_probe_body`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmChecks {
    /// The EIP-155 chain id the endpoint must serve (e.g. 1 for Ethereum
    /// mainnet); unchecked when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// Oldest acceptable age of the latest block (default 60 s).
    #[serde(default = "default_max_block_age")]
    pub max_block_age: Span,
    /// How many blocks a provider may trail the best head of its peers
    /// (default 3).
    #[serde(default = "default_max_lag_blocks")]
    pub max_lag_blocks: u64,
    /// Compare block hashes between providers (default true): providers
    /// of one chain agree on the hash at every height, so a minority hash
    /// is a fork or a lie, and any disagreement raises `fork:{service}`.
    /// Turn it off only for nodes that are independent chains under one
    /// chain id (local dev nodes such as anvil, each mining its own
    /// blocks); heights and chain ids are still compared.
    #[serde(default = "default_true")]
    pub compare_hashes: bool,
}

fn default_true() -> bool {
    true
}

fn default_max_block_age() -> Span {
    Span::secs(60)
}

fn default_max_lag_blocks() -> u64 {
    3
}

impl Default for EvmChecks {
    fn default() -> Self {
        EvmChecks {
            chain_id: None,
            max_block_age: default_max_block_age(),
            max_lag_blocks: default_max_lag_blocks(),
            compare_hashes: true,
        }
    }
}

/// Compiled regexes may use at most this much memory (they run in a
/// Worker with 128 MB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles `pattern` the way every quality regex is compiled.
pub(crate) fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Why `p` is not an RFC 6901 JSON pointer.
pub(crate) fn check_pointer(p: &str) -> Result<(), String> {
    if p.len() > MAX_POINTER_LEN {
        return Err(format!(
            "a JSON pointer may be at most {MAX_POINTER_LEN} bytes long"
        ));
    }
    if !p.is_empty() && !p.starts_with('/') {
        return Err(
            "not an RFC 6901 JSON pointer: use \"\" for the whole document or start with '/', e.g. \"/data/0/price\""
                .into(),
        );
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("'~' must be escaped as \"~0\" ('/' as \"~1\") in a JSON pointer".into());
        }
    }
    Ok(())
}

fn validate_pointer(key: &str, p: &str, errs: &mut Errors) {
    if let Err(m) = check_pointer(p) {
        errs.push(key, p, m);
    }
}

fn validate_bound(key: &str, v: Option<f64>, errs: &mut Errors) {
    if let Some(v) = v {
        errs.check(v.is_finite(), key, v, "must be a finite number");
    }
}

impl Checks {
    /// Whether no check at all is configured.
    pub fn is_empty(&self) -> bool {
        self.assertions.is_empty()
            && self.schema.is_none()
            && self.freshness.is_none()
            && self.consistency.is_none()
    }

    /// Records every problem of these checks under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        for (i, a) in self.assertions.iter().enumerate() {
            a.validate(&join(key, &format!("assertions[{i}]")), errs);
        }
        if let Some(s) = &self.schema {
            s.validate(&join(key, "schema"), errs);
        }
        if let Some(f) = &self.freshness {
            let k = join(key, "freshness");
            validate_pointer(&join(&k, "pointer"), &f.pointer, errs);
            errs.check(
                f.max_age.as_ms() > 0,
                &join(&k, "max_age"),
                f.max_age,
                "must be longer than zero",
            );
        }
        if let Some(c) = &self.consistency {
            let k = join(key, "consistency");
            validate_pointer(&join(&k, "pointer"), &c.pointer, errs);
            if let Some(t) = c.tolerance {
                errs.check(
                    t.is_finite() && t >= 0.0,
                    &join(&k, "tolerance"),
                    t,
                    "must be a finite number >= 0",
                );
            }
        }
    }
}

impl Assertion {
    /// Records every problem of this assertion under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        validate_pointer(&join(key, "pointer"), &self.pointer, errs);
        let other_rules = self.equals.is_some()
            || self.min.is_some()
            || self.max.is_some()
            || self.regex.is_some();
        if !other_rules && self.exists.is_none() {
            errs.push_key(
                key,
                "an assertion needs at least one rule: equals, min, max, regex or exists",
            );
        }
        if self.exists == Some(false) && other_rules {
            errs.push(
                &join(key, "exists"),
                false,
                "`exists = false` cannot be combined with equals, min, max or regex",
            );
        }
        validate_bound(&join(key, "min"), self.min, errs);
        validate_bound(&join(key, "max"), self.max, errs);
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo > hi {
                errs.push_key(key, format!("min ({lo}) is greater than max ({hi})"));
            }
        }
        if let Some(r) = &self.regex {
            if let Err(e) = build_regex(r) {
                errs.push(&join(key, "regex"), r, format!("invalid regex: {e}"));
            }
        }
    }
}

impl Schema {
    /// Records every problem of this schema (and its nested schemas)
    /// under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        self.validate_at(key, 0, errs);
    }

    fn validate_at(&self, key: &str, depth: usize, errs: &mut Errors) {
        if depth >= MAX_SCHEMA_DEPTH {
            errs.push_key(
                key,
                format!("schemas may nest at most {MAX_SCHEMA_DEPTH} levels deep"),
            );
            return;
        }
        if let Some(JsonTypes(ts)) = &self.types {
            let k = join(key, "type");
            if ts.is_empty() {
                errs.push_key(&k, "list at least one type");
            }
            let mut seen = ts.clone();
            seen.sort();
            seen.dedup();
            errs.check(seen.len() == ts.len(), &k, ts, "lists a type twice");
        }
        let mut req = self.required.clone();
        req.sort();
        req.dedup();
        let k = join(key, "required");
        errs.check(
            req.len() == self.required.len(),
            &k,
            &self.required,
            "lists a key twice",
        );
        if self.additional_properties == Some(false) {
            for r in &self.required {
                if !self.properties.contains_key(r) {
                    errs.push(
                        &k,
                        r,
                        "is required but not in `properties` while additional_properties = false: no object can pass",
                    );
                }
            }
        }
        if let Some(vals) = &self.enum_values {
            if vals.is_empty() {
                errs.push_key(&join(key, "enum"), "list at least one value");
            }
        }
        validate_bound(&join(key, "minimum"), self.minimum, errs);
        validate_bound(&join(key, "maximum"), self.maximum, errs);
        if let (Some(lo), Some(hi)) = (self.minimum, self.maximum) {
            if lo > hi {
                errs.push_key(
                    key,
                    format!("minimum ({lo}) is greater than maximum ({hi})"),
                );
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_length, self.max_length) {
            if lo > hi {
                errs.push_key(
                    key,
                    format!("min_length ({lo}) is greater than max_length ({hi})"),
                );
            }
        }
        for (name, s) in &self.properties {
            s.validate_at(&join(key, &format!("properties.{name}")), depth + 1, errs);
        }
        if let Some(s) = &self.items {
            s.validate_at(&join(key, "items"), depth + 1, errs);
        }
    }
}

impl EvmChecks {
    /// Records every problem of these checks under `key`.
    pub fn validate(&self, key: &str, errs: &mut Errors) {
        if let Some(id) = self.chain_id {
            errs.check(
                id != 0,
                &join(key, "chain_id"),
                id,
                "0 is not an EIP-155 chain id (Ethereum mainnet is 1)",
            );
        }
        errs.check(
            self.max_block_age.as_ms() > 0,
            &join(key, "max_block_age"),
            self.max_block_age,
            "must be longer than zero",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(c: &Checks) -> Vec<String> {
        let mut e = Errors::default();
        c.validate("svc.checks", &mut e);
        e.0.iter().map(|e| e.key.clone()).collect()
    }

    fn rule(pointer: &str) -> Assertion {
        Assertion {
            pointer: pointer.into(),
            equals: None,
            min: None,
            max: None,
            regex: None,
            exists: Some(true),
        }
    }

    #[test]
    fn toml_round_trip_with_defaults() {
        let src = r#"
            [[assertions]]
            pointer = "/status"
            equals = "ok"

            [[assertions]]
            pointer = "/price"
            min = 0
            max = 1e6

            [schema]
            type = "object"
            required = ["price"]
            properties.price.type = ["number", "string"]
            properties.tags = { type = "array", items = { type = "string" }, max_length = 10 }

            [freshness]
            pointer = "/updated"
            max_age = "5m"

            [consistency]
            pointer = "/price"
            tolerance = 0.5
        "#;
        let c: Checks = toml::from_str(src).unwrap();
        assert_eq!(c.assertions.len(), 2);
        assert_eq!(c.assertions[0].equals, Some(json!("ok")));
        assert_eq!(c.assertions[1].max, Some(1e6));
        let s = c.schema.as_ref().unwrap();
        assert_eq!(s.types, Some(JsonTypes(vec![JsonType::Object])));
        assert_eq!(
            s.properties["price"].types,
            Some(JsonTypes(vec![JsonType::Number, JsonType::String]))
        );
        assert_eq!(s.properties["tags"].max_length, Some(10));
        let f = c.freshness.as_ref().unwrap();
        assert_eq!(f.max_age, Span::mins(5));
        assert_eq!(f.format, TimestampFormat::UnixSeconds);
        assert!(errors(&c).is_empty(), "{:?}", errors(&c));
        // JSON round trip.
        let back: Checks = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(Checks::default().is_empty());
        assert!(!c.is_empty());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<Checks>("asserts = []").is_err());
        assert!(serde_json::from_str::<Assertion>(r#"{"pointer":"/a","exist":true}"#).is_err());
        assert!(serde_json::from_str::<Schema>(r#"{"typ":"object"}"#).is_err());
        assert!(serde_json::from_str::<Schema>(r#"{"type":"obj"}"#).is_err());
        assert!(serde_json::from_str::<EvmChecks>(r#"{"chainid":1}"#).is_err());
        assert!(serde_json::from_str::<Freshness>(
            r#"{"pointer":"/t","max_age":"1m","format":"unix-nanos"}"#
        )
        .is_err());
    }

    #[test]
    fn json_schema_aliases_and_formats() {
        let s: Schema =
            serde_json::from_str(r#"{"type":"string","minLength":1,"additionalProperties":false}"#)
                .unwrap();
        assert_eq!(s.min_length, Some(1));
        assert_eq!(s.additional_properties, Some(false));
        for (name, f) in [
            ("unix-seconds", TimestampFormat::UnixSeconds),
            ("unix-millis", TimestampFormat::UnixMillis),
            ("rfc3339", TimestampFormat::Rfc3339),
            ("hex-unix-seconds", TimestampFormat::HexUnixSeconds),
        ] {
            assert_eq!(
                serde_json::from_value::<TimestampFormat>(json!(name)).unwrap(),
                f
            );
        }
    }

    #[test]
    fn equals_null_is_a_rule() {
        let a: Assertion = serde_json::from_str(r#"{"pointer":"/a","equals":null}"#).unwrap();
        assert_eq!(a.equals, Some(Value::Null));
        let a: Assertion = serde_json::from_str(r#"{"pointer":"/a","exists":true}"#).unwrap();
        assert_eq!(a.equals, None);
        let back: Assertion = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn evm_defaults() {
        let e: EvmChecks = toml::from_str("chain_id = 1").unwrap();
        assert_eq!(e.chain_id, Some(1));
        assert_eq!(e.max_block_age, Span::secs(60));
        assert_eq!(e.max_lag_blocks, 3);
        assert_eq!(
            toml::from_str::<EvmChecks>("").unwrap(),
            EvmChecks::default()
        );
        let mut errs = Errors::default();
        EvmChecks {
            chain_id: Some(0),
            max_block_age: Span::ms(0),
            max_lag_blocks: 0,
            compare_hashes: true,
        }
        .validate("evm", &mut errs);
        let keys: Vec<_> = errs.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["evm.chain_id", "evm.max_block_age"]);
        let mut errs = Errors::default();
        EvmChecks::default().validate("evm", &mut errs);
        assert!(errs.is_empty());
    }

    #[test]
    fn pointers() {
        for ok in ["", "/", "/a", "/a/0/b", "/a~1b", "/m~0n", "/ü"] {
            assert_eq!(check_pointer(ok), Ok(()), "{ok}");
        }
        for bad in [
            "a",
            "a/b",
            "/a~",
            "/a~2",
            "#/a",
            &format!("/{}", "x".repeat(2000)),
        ] {
            assert!(check_pointer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn assertion_problems_name_their_keys() {
        let c = Checks {
            assertions: vec![
                rule("/ok"),
                Assertion {
                    exists: None,
                    ..rule("no-slash")
                },
                Assertion {
                    regex: Some("(unclosed".into()),
                    ..rule("/r")
                },
                Assertion {
                    min: Some(5.0),
                    max: Some(1.0),
                    exists: None,
                    ..rule("/m")
                },
                Assertion {
                    min: Some(f64::NAN),
                    exists: None,
                    ..rule("/n")
                },
                Assertion {
                    exists: Some(false),
                    equals: Some(json!(1)),
                    ..rule("/x")
                },
            ],
            ..Checks::default()
        };
        assert_eq!(
            errors(&c),
            [
                "svc.checks.assertions[1].pointer",
                "svc.checks.assertions[1]",
                "svc.checks.assertions[2].regex",
                "svc.checks.assertions[3]",
                "svc.checks.assertions[4].min",
                "svc.checks.assertions[5].exists",
            ]
        );
    }

    #[test]
    fn freshness_consistency_and_schema_problems() {
        let mut bad_schema = Schema {
            types: Some(JsonTypes(vec![])),
            required: vec!["a".into(), "a".into()],
            additional_properties: Some(false),
            enum_values: Some(vec![]),
            minimum: Some(3.0),
            maximum: Some(1.0),
            min_length: Some(9),
            max_length: Some(2),
            ..Schema::default()
        };
        bad_schema.properties.insert(
            "b".into(),
            Schema {
                types: Some(JsonTypes(vec![JsonType::String, JsonType::String])),
                ..Schema::default()
            },
        );
        let c = Checks {
            schema: Some(bad_schema),
            freshness: Some(Freshness {
                pointer: "t".into(),
                max_age: Span::ms(0),
                format: TimestampFormat::Rfc3339,
            }),
            consistency: Some(ConsistencyField {
                pointer: "/p".into(),
                tolerance: Some(-1.0),
            }),
            ..Checks::default()
        };
        assert_eq!(
            errors(&c),
            [
                "svc.checks.schema.type",
                "svc.checks.schema.required",
                "svc.checks.schema.required",
                "svc.checks.schema.required",
                "svc.checks.schema.enum",
                "svc.checks.schema",
                "svc.checks.schema",
                "svc.checks.schema.properties.b.type",
                "svc.checks.freshness.pointer",
                "svc.checks.freshness.max_age",
                "svc.checks.consistency.tolerance",
            ]
        );
    }

    #[test]
    fn schema_depth_is_bounded() {
        let mut s = Schema::default();
        for _ in 0..(MAX_SCHEMA_DEPTH + 5) {
            s = Schema {
                items: Some(Box::new(s)),
                ..Schema::default()
            };
        }
        let mut errs = Errors::default();
        s.validate("s", &mut errs);
        assert_eq!(errs.0.len(), 1);
        assert!(errs.0[0].message.contains("nest"));
    }
}
