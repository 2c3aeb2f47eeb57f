//! Data quality: is what a provider answered *right*, not just fast?
//!
//! Each probe response is judged on three per-response categories, and
//! the providers of one service are then judged against each other on a
//! fourth:
//!
//! | category      | question                                   | decided by |
//! |---------------|--------------------------------------------|------------|
//! | `schema`      | does the body have the expected shape?     | [`evaluate`] |
//! | `business`    | do the business rules hold?                | [`evaluate`] |
//! | `freshness`   | is the data recent?                        | [`evaluate`] |
//! | `consistency` | does it agree with the other providers?    | [`cross_check`] |
//!
//! Every category yields a [`Check`]: `not-applicable` when nothing of
//! that kind is configured, otherwise `pass` or `fail` with a
//! machine-readable [`FailReason`]. A [`QualityTally`] counts passes per
//! category over a window and [`QualityTally::score`] turns the counts
//! into a [`Bps`](crate::Bps) with the seed weights 30/30/25/15,
//! renormalised over the categories that were actually checked.
//!
//! ## Evaluation
//!
//! [`CompiledChecks::new`] validates the configuration and compiles its
//! regexes once; [`evaluate`] then runs on every response body:
//!
//! * **API providers** ([`Checks`]): the body is parsed as JSON once (the
//!   parser's 128-level nesting limit and UTF-8 validation make hostile
//!   bodies a plain `not-json`). The [`Schema`] is checked first (a
//!   depth-first walk, `schema` module), then the [`Assertion`]s in
//!   order, then the [`Freshness`] timestamp; a body that is not JSON fails every
//!   configured category with `not-json`. When a [`ConsistencyField`] is
//!   configured its value is copied, size-bounded, into [`Facts::field`].
//! * **EVM providers** ([`EvmChecks`]): the body is the response to
//!   [`evm_probe_body`], a three-call JSON-RPC batch; see the `evm`
//!   module for the rules. [`Facts::evm`] gets the chain head.
//!
//! A timestamp more than [`FUTURE_SKEW`] ahead of `now` fails as
//! `future-timestamp`: clocks drift a little, but data from the future is
//! a broken or lying source. [`Evaluation::detail`] carries the first
//! human-readable problem (schema, then business, then freshness),
//! bounded to [`MAX_DETAIL_BYTES`].
//!
//! Nothing here panics, reads a clock or performs I/O.

mod assertions;
mod consistency;
mod evm;
mod json;
mod schema;
mod spec;
mod tally;

pub use consistency::{cross_check, find_fork, fork_healed, ForkSeen};
pub use evm::evm_probe_body;
pub(crate) use json::quantity;
pub use spec::{
    Assertion, Checks, ConsistencyField, EvmChecks, Freshness, JsonType, JsonTypes, Schema,
    TimestampFormat, MAX_POINTER_LEN, MAX_SCHEMA_DEPTH,
};
pub use tally::{PassCount, QualityTally, QualityWeights};

use crate::errors::Errors;
use crate::{Span, UnixMillis};
use json::bounded;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// How far ahead of `now` a timestamp may be before it counts as
/// `future-timestamp` (clock skew between the source and the sentinel).
pub const FUTURE_SKEW: Span = Span::secs(30);

/// Longest [`Evaluation::detail`], in bytes (plus a trailing `…`).
pub const MAX_DETAIL_BYTES: usize = 200;

/// Longest value kept in [`Facts::field`], in bytes of compact JSON.
pub const MAX_FIELD_BYTES: usize = 256;

/// Why a check failed. Serialized in kebab-case (`not-json`,
/// `future-timestamp`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailReason {
    /// The body is not JSON (or not UTF-8, or nested too deeply).
    NotJson,
    /// The body does not have the configured shape.
    SchemaMismatch,
    /// A business rule does not hold.
    RuleViolated,
    /// A value the checks need is absent.
    Missing,
    /// A value has the wrong type or format for its rule (a timestamp
    /// that is not one, `min` on a non-number).
    WrongType,
    /// The data is older than allowed.
    Stale,
    /// A timestamp lies in the future by more than [`FUTURE_SKEW`].
    FutureTimestamp,
    /// A JSON-RPC call returned an error object.
    RpcError,
    /// The endpoint serves another chain than configured.
    WrongChain,
    /// The provider trails its peers' chain head by too many blocks.
    Lagging,
    /// The provider disagrees with the majority of its peers (or with
    /// itself).
    Inconsistent,
}

impl FailReason {
    /// The kebab-case name used in serialization, labels and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailReason::NotJson => "not-json",
            FailReason::SchemaMismatch => "schema-mismatch",
            FailReason::RuleViolated => "rule-violated",
            FailReason::Missing => "missing",
            FailReason::WrongType => "wrong-type",
            FailReason::Stale => "stale",
            FailReason::FutureTimestamp => "future-timestamp",
            FailReason::RpcError => "rpc-error",
            FailReason::WrongChain => "wrong-chain",
            FailReason::Lagging => "lagging",
            FailReason::Inconsistent => "inconsistent",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one category for one response. Serialized as
/// `"not-applicable"`, `"pass"` or `{"fail": "<reason>"}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// Nothing of this kind is configured or decidable; does not count.
    #[default]
    NotApplicable,
    /// Checked and fine.
    Pass,
    /// Checked and wrong.
    Fail(FailReason),
}

impl Check {
    /// Whether this is [`Check::Pass`].
    pub const fn is_pass(self) -> bool {
        matches!(self, Check::Pass)
    }
    /// Whether this is a [`Check::Fail`].
    pub const fn is_fail(self) -> bool {
        matches!(self, Check::Fail(_))
    }
    /// Whether this counts (pass or fail).
    pub const fn is_applicable(self) -> bool {
        !matches!(self, Check::NotApplicable)
    }
    /// The failure reason, if failed.
    pub const fn reason(self) -> Option<FailReason> {
        match self {
            Check::Fail(r) => Some(r),
            _ => None,
        }
    }
}

/// The per-response categories; consistency is decided later, across
/// providers, by [`cross_check`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Verdict {
    /// Shape of the body.
    pub schema: Check,
    /// Business rules (EVM: no RPC errors, right chain).
    pub business: Check,
    /// Age of the data.
    pub freshness: Check,
}

/// The chain head an EVM provider reported.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EvmHead {
    /// EIP-155 chain id (`eth_chainId`).
    pub chain_id: u64,
    /// Number of the latest block.
    pub number: u64,
    /// Hash of the latest block: `0x` + 64 lowercase hex digits.
    pub hash: String,
    /// Timestamp of the latest block, seconds since the epoch.
    pub timestamp_s: u64,
}

/// What a response said that providers can be compared on. Compact and
/// bounded: it is stored and shipped between sentinels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The chain head (EVM providers), when readable.
    #[serde(default)]
    pub evm: Option<EvmHead>,
    /// The [`ConsistencyField`] value (API providers), when present.
    /// Strings longer than [`MAX_FIELD_BYTES`] keep a prefix plus the
    /// SHA-256 of the whole string; larger arrays and objects become
    /// `"sha256:<hex>"` of their canonical JSON — equality survives,
    /// the size does not.
    /// Stored as canonical JSON text: the binary state encoding is not
    /// self-describing and cannot carry a `serde_json::Value` directly.
    #[serde(default, with = "json_text")]
    pub field: Option<Value>,
}

/// Everything [`evaluate`] learnt from one response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The per-response checks.
    pub verdict: Verdict,
    /// Values for the cross-provider check.
    pub facts: Facts,
    /// The first problem found, for humans; at most [`MAX_DETAIL_BYTES`]
    /// (plus `…`).
    pub detail: Option<String>,
}

/// Checks ready to run: validated, with regexes compiled once. Lives
/// beside the configuration at run time; not serialized.
#[derive(Clone, Debug, Default)]
pub struct CompiledChecks {
    checks: Checks,
    regexes: Vec<Option<Regex>>,
    evm: Option<EvmChecks>,
}

impl CompiledChecks {
    /// Validates and compiles `checks`, or `evm` for an EVM JSON-RPC
    /// provider. Error keys are relative to `checks` and `evm`; the
    /// configuration loader reports the full path through
    /// [`Checks::validate`] / [`EvmChecks::validate`] first.
    ///
    /// An EVM provider is judged by `evm` alone: configuring API checks
    /// (assertions, schema, freshness, consistency) alongside it is an
    /// error rather than silently ignored.
    pub fn new(checks: &Checks, evm: Option<&EvmChecks>) -> Result<CompiledChecks, Errors> {
        let mut errs = Errors::default();
        checks.validate("checks", &mut errs);
        if let Some(e) = evm {
            e.validate("evm", &mut errs);
            if !checks.is_empty() {
                errs.push_key(
                    "checks",
                    "an EVM provider is checked by `evm` (chain id, block age, lag); \
                     assertions, schema, freshness and consistency do not apply to its JSON-RPC batch",
                );
            }
        }
        let mut regexes = Vec::with_capacity(checks.assertions.len());
        for a in &checks.assertions {
            // Validation already reported bad patterns; keep indices aligned.
            regexes.push(a.regex.as_deref().and_then(|r| spec::build_regex(r).ok()));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(CompiledChecks {
            checks: checks.clone(),
            regexes,
            evm: evm.cloned(),
        })
    }

    /// The API checks.
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// The EVM checks, for an EVM provider.
    pub fn evm(&self) -> Option<&EvmChecks> {
        self.evm.as_ref()
    }

    /// The field the providers of the service must agree on.
    pub fn consistency(&self) -> Option<&ConsistencyField> {
        self.checks.consistency.as_ref()
    }

    /// Whether nothing is checked at all (every verdict would be
    /// not-applicable).
    pub fn is_empty(&self) -> bool {
        self.evm.is_none() && self.checks.is_empty()
    }
}

/// Judges one response body. Never panics, whatever the body.
pub fn evaluate(checks: &CompiledChecks, body: &[u8], now: UnixMillis) -> Evaluation {
    if let Some(e) = &checks.evm {
        return evm::evaluate(e, body, now);
    }
    let c = &checks.checks;
    if c.is_empty() {
        return Evaluation::default();
    }
    let doc = match serde_json::from_slice::<Value>(body) {
        Ok(doc) => doc,
        Err(err) => {
            let fail_if = |on: bool| {
                if on {
                    Check::Fail(FailReason::NotJson)
                } else {
                    Check::NotApplicable
                }
            };
            return Evaluation {
                verdict: Verdict {
                    schema: fail_if(c.schema.is_some()),
                    business: fail_if(!c.assertions.is_empty()),
                    freshness: fail_if(c.freshness.is_some()),
                },
                facts: Facts::default(),
                detail: Some(bounded(
                    format!("the body is not JSON: {err}"),
                    MAX_DETAIL_BYTES,
                )),
            };
        }
    };

    let (schema, schema_detail) = match &c.schema {
        None => (Check::NotApplicable, None),
        Some(s) => match schema::check(s, &doc) {
            Ok(()) => (Check::Pass, None),
            Err(d) => (Check::Fail(FailReason::SchemaMismatch), Some(d)),
        },
    };
    let (business, business_detail) = assertions::check_all(&c.assertions, &checks.regexes, &doc);
    let (freshness, freshness_detail) = match &c.freshness {
        None => (Check::NotApplicable, None),
        Some(f) => check_freshness(f, &doc, now),
    };
    let field = c
        .consistency
        .as_ref()
        .and_then(|cf| json::pointer(&doc, &cf.pointer))
        .map(bound_field);
    Evaluation {
        verdict: Verdict {
            schema,
            business,
            freshness,
        },
        facts: Facts { evm: None, field },
        detail: schema_detail
            .or(business_detail)
            .or(freshness_detail)
            .map(|d| bounded(d, MAX_DETAIL_BYTES)),
    }
}

fn check_freshness(f: &Freshness, doc: &Value, now: UnixMillis) -> (Check, Option<String>) {
    let p = &f.pointer;
    let Some(v) = json::pointer(doc, p) else {
        return (
            Check::Fail(FailReason::Missing),
            Some(format!("`{p}` is missing")),
        );
    };
    let Some(ts) = assertions::read_timestamp(v, f.format) else {
        let fmt = serde_json::to_value(f.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        return (
            Check::Fail(FailReason::WrongType),
            Some(format!("`{p}` is {}, not a {fmt} timestamp", json::show(v))),
        );
    };
    let (check, detail) = age_check(ts, now, f.max_age);
    let hint = match (check.reason(), f.format) {
        // Milliseconds read as seconds land thousands of years ahead.
        (Some(FailReason::FutureTimestamp), TimestampFormat::UnixSeconds)
            if ts > now.saturating_add(crate::time::DAY * 365) =>
        {
            " (is the format unix-millis?)"
        }
        // Seconds read as milliseconds land in January 1970.
        (Some(FailReason::Stale), TimestampFormat::UnixMillis) if ts < 100_000_000_000 => {
            " (is the format unix-seconds?)"
        }
        _ => "",
    };
    (check, detail.map(|d| format!("`{p}`: {d}{hint}")))
}

/// Compares a timestamp with `now`: more than [`FUTURE_SKEW`] ahead is
/// `future-timestamp`, older than `max_age` is `stale`.
pub(crate) fn age_check(ts: UnixMillis, now: UnixMillis, max_age: Span) -> (Check, Option<String>) {
    if ts > now.saturating_add(FUTURE_SKEW.as_ms()) {
        let ahead = Span::ms(ts - now);
        return (
            Check::Fail(FailReason::FutureTimestamp),
            Some(format!("timestamp is {ahead} in the future")),
        );
    }
    let age = now.saturating_sub(ts);
    if age > max_age.as_ms() {
        return (
            Check::Fail(FailReason::Stale),
            Some(format!(
                "data is {} old, more than {max_age}",
                Span::ms(age)
            )),
        );
    }
    (Check::Pass, None)
}

/// A copy of `v` that is at most [`MAX_FIELD_BYTES`] of JSON, preserving
/// equality: long strings keep a prefix and the SHA-256 of the whole,
/// large arrays/objects become the SHA-256 of their canonical JSON.
pub(crate) fn bound_field(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() > MAX_FIELD_BYTES => {
            let prefix = bounded(s.clone(), 180);
            Value::String(format!("{prefix}sha256:{}", sha256_hex(s.as_bytes())))
        }
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            canonical(v, &mut out);
            if out.len() <= MAX_FIELD_BYTES {
                v.clone()
            } else {
                Value::String(format!("sha256:{}", sha256_hex(out.as_bytes())))
            }
        }
        other => other.clone(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let mut s = String::with_capacity(64);
    for b in Sha256::digest(bytes) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Compact JSON with object keys sorted and integral floats written as
/// integers, so equal values (per `json_eq`) serialize identically
/// whatever the body's key order.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        Value::Number(n) => match n.as_f64() {
            Some(x) if !n.is_u64() && !n.is_i64() && x.fract() == 0.0 && x.abs() < 9.0e15 => {
                out.push_str(&(x as i64).to_string());
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SECOND;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: UnixMillis = 1_800_000_000_000;

    fn compiled(v: Value) -> CompiledChecks {
        let c: Checks = serde_json::from_value(v).unwrap();
        CompiledChecks::new(&c, None).unwrap()
    }

    fn full() -> CompiledChecks {
        compiled(json!({
            "assertions": [
                {"pointer": "/status", "equals": "ok"},
                {"pointer": "/price", "min": 0, "max": 1000},
                {"pointer": "/symbol", "regex": "^[A-Z]{3,5}$"}
            ],
            "schema": {
                "type": "object",
                "required": ["status", "price", "ts"],
                "properties": {"price": {"type": ["number", "string"]}}
            },
            "freshness": {"pointer": "/ts", "max_age": "5m"},
            "consistency": {"pointer": "/price", "tolerance": 0.5}
        }))
    }

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn good() -> Value {
        json!({"status": "ok", "price": "12.5", "symbol": "ETH", "ts": NOW / SECOND - 10})
    }

    #[test]
    fn good_body_passes_everything() {
        let e = evaluate(&full(), &body(good()), NOW);
        assert_eq!(
            e.verdict,
            Verdict {
                schema: Check::Pass,
                business: Check::Pass,
                freshness: Check::Pass
            }
        );
        assert_eq!(e.facts.field, Some(json!("12.5")));
        assert_eq!(e.facts.evm, None);
        assert_eq!(e.detail, None);
    }

    #[test]
    fn nothing_configured_is_not_applicable() {
        let e = evaluate(&CompiledChecks::default(), b"<html>", NOW);
        assert_eq!(e, Evaluation::default());
        assert!(CompiledChecks::default().is_empty());
        assert!(!full().is_empty());
    }

    #[test]
    fn each_category_fails_on_its_own() {
        let mut b = good();
        b["price"] = json!(true);
        let e = evaluate(&full(), &body(b), NOW);
        assert_eq!(e.verdict.schema, Check::Fail(FailReason::SchemaMismatch));
        assert_eq!(e.verdict.business, Check::Fail(FailReason::WrongType));
        assert_eq!(
            e.detail.as_deref(),
            Some("/price: expected number or string, got boolean")
        );

        let mut b = good();
        b["status"] = json!("degraded");
        let e = evaluate(&full(), &body(b), NOW);
        assert_eq!(e.verdict.schema, Check::Pass);
        assert_eq!(e.verdict.business, Check::Fail(FailReason::RuleViolated));
        assert_eq!(e.verdict.freshness, Check::Pass);

        let mut b = good();
        b["ts"] = json!(NOW / SECOND - 301);
        let e = evaluate(&full(), &body(b), NOW);
        assert_eq!(e.verdict.freshness, Check::Fail(FailReason::Stale));
        assert_eq!(
            e.detail.as_deref(),
            Some("`/ts`: data is 301s old, more than 5m")
        );
    }

    #[test]
    fn future_timestamps() {
        let mut b = good();
        b["ts"] = json!(NOW / SECOND + 25);
        assert_eq!(
            evaluate(&full(), &body(b.clone()), NOW).verdict.freshness,
            Check::Pass
        );
        b["ts"] = json!(NOW / SECOND + 31);
        let e = evaluate(&full(), &body(b.clone()), NOW);
        assert_eq!(
            e.verdict.freshness,
            Check::Fail(FailReason::FutureTimestamp)
        );
        // Milliseconds where seconds were expected get a hint.
        b["ts"] = json!(NOW);
        let e = evaluate(&full(), &body(b), NOW);
        assert_eq!(
            e.verdict.freshness,
            Check::Fail(FailReason::FutureTimestamp)
        );
        assert!(e.detail.unwrap().ends_with("(is the format unix-millis?)"));
    }

    #[test]
    fn timestamp_formats() {
        let mk = |fmt: &str| {
            compiled(json!({"freshness": {"pointer": "/t", "max_age": "1m", "format": fmt}}))
        };
        let cases = [
            ("unix-millis", json!(NOW - 1000), Check::Pass),
            (
                "unix-millis",
                json!(NOW / SECOND),
                Check::Fail(FailReason::Stale),
            ),
            (
                "rfc3339",
                json!(crate::time::rfc3339(NOW - 1000)),
                Check::Pass,
            ),
            (
                "rfc3339",
                json!("2020-01-01T00:00:00Z"),
                Check::Fail(FailReason::Stale),
            ),
            ("rfc3339", json!(NOW), Check::Fail(FailReason::WrongType)),
            (
                "hex-unix-seconds",
                json!(format!("{:#x}", NOW / SECOND)),
                Check::Pass,
            ),
            (
                "hex-unix-seconds",
                json!("soon"),
                Check::Fail(FailReason::WrongType),
            ),
            (
                "unix-seconds",
                json!("NaN"),
                Check::Fail(FailReason::WrongType),
            ),
            (
                "unix-seconds",
                json!(-5),
                Check::Fail(FailReason::WrongType),
            ),
        ];
        for (fmt, t, want) in cases {
            let e = evaluate(&mk(fmt), &body(json!({ "t": t })), NOW);
            assert_eq!(e.verdict.freshness, want, "{fmt} {t}");
            assert_eq!(e.verdict.schema, Check::NotApplicable);
            assert_eq!(e.verdict.business, Check::NotApplicable);
        }
        let e = evaluate(&mk("unix-millis"), &body(json!({"t": 5})), NOW);
        assert!(e.detail.unwrap().ends_with("(is the format unix-seconds?)"));
        let e = evaluate(&mk("unix-seconds"), &body(json!({})), NOW);
        assert_eq!(e.verdict.freshness, Check::Fail(FailReason::Missing));
        assert_eq!(e.detail.as_deref(), Some("`/t` is missing"));
    }

    #[test]
    fn hostile_bodies() {
        let deep = "[".repeat(100_000);
        let deep_obj = r#"{"a":"#.repeat(10_000);
        let huge_num = format!("{{\"price\": 1{}}}", "0".repeat(500));
        let bodies: Vec<Vec<u8>> = vec![
            vec![],
            b"   ".to_vec(),
            b"<html>oops</html>".to_vec(),
            b"\xff\xfe\xfd".to_vec(),
            b"{\"status\": \"\xff\"}".to_vec(),
            deep.into_bytes(),
            deep_obj.into_bytes(),
            huge_num.into_bytes(),
            b"{\"price\": NaN}".to_vec(),
            b"{\"price\": 1e999}".to_vec(),
            b"null".to_vec(),
            b"{\"a\":1}{\"b\":2}".to_vec(),
        ];
        for b in bodies {
            let e = evaluate(&full(), &b, NOW);
            let shown = String::from_utf8_lossy(&b[..b.len().min(40)]).into_owned();
            let want = if b == b"null" {
                FailReason::SchemaMismatch
            } else {
                FailReason::NotJson
            };
            assert_eq!(e.verdict.schema, Check::Fail(want), "{shown}");
            assert!(e.verdict.business.is_fail());
            assert!(e.verdict.freshness.is_fail());
            assert!(e.detail.is_some_and(|d| d.len() <= MAX_DETAIL_BYTES + 3));
        }
    }

    #[test]
    fn wrong_types_everywhere() {
        for b in [
            json!([]),
            json!("ok"),
            json!(42),
            json!({"status": ["ok"], "price": {}, "symbol": 1, "ts": "x"}),
        ] {
            let e = evaluate(&full(), &body(b.clone()), NOW);
            assert!(e.verdict.schema.is_fail(), "{b}");
            assert!(e.verdict.business.is_fail(), "{b}");
            assert!(e.verdict.freshness.is_fail(), "{b}");
        }
        // Huge integers that still parse are compared as f64.
        let mut b = good();
        b["price"] = json!(123_456_789_012_345_678_901_234_567_890.0);
        let e = evaluate(&full(), &body(b), NOW);
        assert_eq!(e.verdict.business, Check::Fail(FailReason::RuleViolated));
    }

    #[test]
    fn not_json_only_fails_configured_categories() {
        let c = compiled(json!({"assertions": [{"pointer": "/a", "exists": true}]}));
        let e = evaluate(&c, b"nope", NOW);
        assert_eq!(
            e.verdict,
            Verdict {
                schema: Check::NotApplicable,
                business: Check::Fail(FailReason::NotJson),
                freshness: Check::NotApplicable
            }
        );
        assert!(e.detail.unwrap().starts_with("the body is not JSON"));
    }

    #[test]
    fn compile_errors_and_evm_conflicts() {
        let bad: Checks = serde_json::from_value(json!({
            "assertions": [{"pointer": "/a", "regex": "("}, {"pointer": "x", "exists": true}]
        }))
        .unwrap();
        let errs = CompiledChecks::new(&bad, None).unwrap_err();
        let keys: Vec<_> = errs.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["checks.assertions[0].regex", "checks.assertions[1].pointer"]
        );
        let evm = EvmChecks::default();
        let errs = CompiledChecks::new(full().checks(), Some(&evm)).unwrap_err();
        assert_eq!(errs.0[0].key, "checks");
        let ok = CompiledChecks::new(&Checks::default(), Some(&evm)).unwrap();
        assert_eq!(ok.evm(), Some(&evm));
        assert!(format!("{ok:?}").contains("CompiledChecks"));
        assert!(full().consistency().is_some());
    }

    #[test]
    fn facts_are_bounded_but_keep_equality() {
        let long = "é".repeat(1000);
        let f = bound_field(&json!(long));
        let s = f.as_str().unwrap();
        assert!(s.len() <= MAX_FIELD_BYTES, "{}", s.len());
        assert!(s.starts_with("éé") && s.contains("sha256:"));
        assert_ne!(bound_field(&json!(format!("{long}x"))), f);
        let big: Value = (0..200).map(|i| json!(i)).collect();
        let h = bound_field(&big);
        assert!(h.as_str().unwrap().starts_with("sha256:"));
        // Key order and 1 vs 1.0 do not change the digest.
        let a: Value =
            serde_json::from_str(&format!(r#"{{"x":1,"y":"{}"}}"#, "z".repeat(300))).unwrap();
        let b: Value =
            serde_json::from_str(&format!(r#"{{"y":"{}","x":1.0}}"#, "z".repeat(300))).unwrap();
        assert_eq!(bound_field(&a), bound_field(&b));
        for small in [
            json!(1.5),
            json!("short"),
            json!({"a": [1, 2]}),
            json!(null),
        ] {
            assert_eq!(bound_field(&small), small);
        }
    }

    #[test]
    fn checks_and_reasons_serialize_kebab_case() {
        assert_eq!(serde_json::to_value(Check::Pass).unwrap(), json!("pass"));
        assert_eq!(
            serde_json::to_value(Check::NotApplicable).unwrap(),
            json!("not-applicable")
        );
        assert_eq!(
            serde_json::to_value(Check::Fail(FailReason::FutureTimestamp)).unwrap(),
            json!({"fail": "future-timestamp"})
        );
        for r in [
            FailReason::NotJson,
            FailReason::SchemaMismatch,
            FailReason::RuleViolated,
            FailReason::Missing,
            FailReason::WrongType,
            FailReason::Stale,
            FailReason::FutureTimestamp,
            FailReason::RpcError,
            FailReason::WrongChain,
            FailReason::Lagging,
            FailReason::Inconsistent,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
            assert_eq!(r.to_string(), r.as_str());
        }
        let e = evaluate(&full(), &body(good()), NOW);
        let back: Evaluation = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let bytes = postcard::to_allocvec(&e.verdict).unwrap();
        assert_eq!(postcard::from_bytes::<Verdict>(&bytes).unwrap(), e.verdict);
        assert!(Check::Pass.is_pass() && Check::Fail(FailReason::Stale).is_fail());
        assert!(!Check::NotApplicable.is_applicable());
        assert_eq!(
            Check::Fail(FailReason::Stale).reason(),
            Some(FailReason::Stale)
        );
    }

    proptest! {
        #[test]
        fn evaluate_never_panics(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let e = evaluate(&full(), &b, NOW);
            prop_assert!(e.detail.is_none_or(|d| d.len() <= MAX_DETAIL_BYTES + 3));
        }

        #[test]
        fn evaluate_never_panics_on_jsonish(s in r#"[\[\]{}":,0-9a-z.eE+\- ]{0,200}"#, now in any::<u64>()) {
            let _ = evaluate(&full(), s.as_bytes(), now);
        }

        #[test]
        fn age_check_is_consistent(ts in any::<u64>(), now in any::<u64>(), max in 1u64..u64::MAX) {
            let (c, d) = age_check(ts, now, Span::ms(max));
            prop_assert_eq!(c.is_pass(), d.is_none());
            if ts <= now && now - ts <= max {
                prop_assert_eq!(c, Check::Pass);
            }
        }
    }
}

/// Serializes an optional JSON value as its JSON text, so it survives
/// non-self-describing encodings (postcard) as well as JSON.
mod json_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(Value::to_string).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| serde_json::from_str(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}
