//! Business rules and timestamps: reading single values out of a body.
//!
//! Each [`Assertion`] looks up its RFC 6901 pointer in the parsed body and
//! applies its rules in a fixed order — presence (`exists`), `equals`,
//! `min`, `max`, `regex` — stopping at the first that fails, so the
//! reported detail is deterministic. Assertions are evaluated in
//! configuration order; the first failing one decides the business check.
//!
//! Numbers are read leniently because APIs (and EVM nodes) often ship them
//! as strings: a JSON number, a strict decimal string
//! (`-?digits[.digits][e±digits]`) or a `0x` hex string of at most 64 hex
//! digits (256 bits). Anything else — `"NaN"`, `"inf"`, `"1e999"`, padded
//! or empty strings — is *not a number*. Hex values beyond 2^53 are
//! compared as the nearest `f64`, which is deterministic (IEEE 754) on
//! wasm32 and native alike.
//!
//! Timestamps are read per [`TimestampFormat`] into Unix milliseconds;
//! negative, non-finite or out-of-range values are unreadable.

use super::spec::{Assertion, TimestampFormat};
use super::{Check, FailReason};
use crate::UnixMillis;
use regex::Regex;
use serde_json::Value;

/// Compiled regexes may use at most this much memory (they run in a
/// Worker with 128 MB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Longest numeric string we try to read (a uint256 in decimal is 78
/// digits; `f64::MAX` written out in full is 309).
const MAX_NUMBER_STR: usize = 512;

/// Compiles `pattern` the way every quality regex is compiled.
pub(crate) fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Reads a JSON number, decimal string or `0x` hex string as a finite
/// `f64`.
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
        Value::String(s) => parse_number_str(s),
        _ => None,
    }
}

fn parse_number_str(s: &str) -> Option<f64> {
    if s.len() > MAX_NUMBER_STR {
        return None;
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // Up to 128 bits exactly rounded; above, high and low halves.
        let (hi, lo) = hex.split_at(hex.len().saturating_sub(32));
        let lo = u128::from_str_radix(lo, 16).ok()? as f64;
        if hi.is_empty() {
            return Some(lo);
        }
        let hi = u128::from_str_radix(hi, 16).ok()? as f64;
        // 2^128, exactly representable.
        const TWO_128: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;
        return Some(hi * TWO_128 + lo);
    }
    if !is_decimal(s.as_bytes()) {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// `-?digits(.digits)?([eE][+-]?digits)?` — JSON's number grammar, but
/// allowing leading zeros.
fn is_decimal(b: &[u8]) -> bool {
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// JSON equality with numbers compared by value (`1 == 1.0`), exactly for
/// integers that fit 64 bits.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The JSON type name of `v`.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A short, bounded rendering of a body value for a detail message.
pub(crate) fn show(v: &Value) -> String {
    let s = match v {
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(o) => format!("an object with {} keys", o.len()),
        other => other.to_string(),
    };
    super::bounded(s, 64)
}

/// Evaluates one assertion against `doc`; `regex` is its compiled regex.
/// `Err` carries the failure and a human-readable reason.
pub(crate) fn check_assertion(
    a: &Assertion,
    regex: Option<&Regex>,
    doc: &Value,
) -> Result<(), (FailReason, String)> {
    let p = &a.pointer;
    let Some(v) = doc.pointer(p) else {
        return match a.exists {
            Some(false) => Ok(()),
            _ => Err((FailReason::Missing, format!("`{p}` is missing"))),
        };
    };
    if a.exists == Some(false) {
        return Err((
            FailReason::RuleViolated,
            format!("`{p}` is present ({}) but must not exist", show(v)),
        ));
    }
    if let Some(want) = &a.equals {
        if !json_eq(v, want) {
            return Err((
                FailReason::RuleViolated,
                format!("`{p}` is {}, expected {}", show(v), show(want)),
            ));
        }
    }
    if a.min.is_some() || a.max.is_some() {
        let Some(x) = as_number(v) else {
            return Err((
                FailReason::WrongType,
                format!("`{p}` is {}, not a number", show(v)),
            ));
        };
        if let Some(lo) = a.min {
            if x < lo {
                return Err((
                    FailReason::RuleViolated,
                    format!("`{p}` is {x}, below min {lo}"),
                ));
            }
        }
        if let Some(hi) = a.max {
            if x > hi {
                return Err((
                    FailReason::RuleViolated,
                    format!("`{p}` is {x}, above max {hi}"),
                ));
            }
        }
    }
    if let Some(re) = regex {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err((
                    FailReason::WrongType,
                    format!("`{p}` is {}, not a string to match", type_name(other)),
                ))
            }
        };
        if !re.is_match(&text) {
            return Err((
                FailReason::RuleViolated,
                format!(
                    "`{p}` is {}, which does not match /{}/",
                    show(v),
                    re.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Evaluates all assertions in order; the first failure decides.
pub(crate) fn check_all(
    assertions: &[Assertion],
    regexes: &[Option<Regex>],
    doc: &Value,
) -> (Check, Option<String>) {
    if assertions.is_empty() {
        return (Check::NotApplicable, None);
    }
    for (i, a) in assertions.iter().enumerate() {
        let re = regexes.get(i).and_then(Option::as_ref);
        if let Err((reason, why)) = check_assertion(a, re, doc) {
            return (Check::Fail(reason), Some(format!("assertions[{i}]: {why}")));
        }
    }
    (Check::Pass, None)
}

/// Reads a timestamp written as `format` into Unix milliseconds.
pub(crate) fn read_timestamp(v: &Value, format: TimestampFormat) -> Option<UnixMillis> {
    /// Largest epoch value (in the unit) we accept: beyond it the
    /// millisecond conversion would lose meaning (year ~292 million).
    const LIMIT_MS: f64 = 9.0e18;
    let scaled = |per_unit: u64| -> Option<UnixMillis> {
        if let Some(n) = v.as_u64() {
            return n.checked_mul(per_unit);
        }
        let x = as_number(v)? * per_unit as f64;
        // Negative, NaN and huge values are all rejected here.
        if (0.0..LIMIT_MS).contains(&x) {
            Some(x as u64)
        } else {
            None
        }
    };
    match format {
        TimestampFormat::UnixSeconds => scaled(1_000),
        TimestampFormat::UnixMillis => scaled(1),
        TimestampFormat::Rfc3339 => v.as_str().and_then(crate::time::parse_rfc3339),
        TimestampFormat::HexUnixSeconds => {
            let secs = super::evm::quantity(v)?;
            secs.checked_mul(1_000)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn a(pointer: &str) -> Assertion {
        Assertion {
            pointer: pointer.into(),
            equals: None,
            min: None,
            max: None,
            regex: None,
            exists: None,
        }
    }

    fn run(a: &Assertion, doc: &Value) -> Result<(), FailReason> {
        let re = a.regex.as_deref().map(|r| build_regex(r).unwrap());
        check_assertion(a, re.as_ref(), doc).map_err(|(r, _)| r)
    }

    #[test]
    fn numbers_from_strings() {
        assert_eq!(as_number(&json!(12)), Some(12.0));
        assert_eq!(as_number(&json!(-1.5)), Some(-1.5));
        assert_eq!(as_number(&json!("12.5")), Some(12.5));
        assert_eq!(as_number(&json!("-3e2")), Some(-300.0));
        assert_eq!(as_number(&json!("007")), Some(7.0));
        assert_eq!(as_number(&json!("0x1a")), Some(26.0));
        assert_eq!(as_number(&json!("0XFF")), Some(255.0));
        let u256 = format!("0x{}", "f".repeat(64));
        assert!(as_number(&json!(u256)).is_some_and(|x| x > 1e77));
        for bad in [
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "-Infinity",
            "1e999",
            "-1e999",
            "",
            " 1",
            "1 ",
            "+1",
            "0x",
            "0xzz",
            "0x-1",
            "1.",
            ".5",
            "1e",
            "1e+",
            "--1",
            "1_000",
            "١٢",
        ] {
            assert_eq!(as_number(&json!(bad)), None, "{bad:?}");
        }
        assert_eq!(as_number(&json!(format!("0x{}", "f".repeat(65)))), None);
        assert_eq!(as_number(&json!("9".repeat(200))), Some(1e200));
        assert_eq!(as_number(&json!("9".repeat(600))), None);
        assert_eq!(as_number(&json!(true)), None);
        assert_eq!(as_number(&json!(null)), None);
        assert_eq!(as_number(&json!([1])), None);
    }

    #[test]
    fn equality_is_numeric_aware() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_eq(&json!({"a": 1}), &json!({"b": 1})));
        assert!(!json_eq(&json!(1), &json!("1")));
        assert!(json_eq(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_eq(&json!(u64::MAX), &json!(u64::MAX - 1)));
        assert!(json_eq(&json!(-5), &json!(-5.0)));
        assert!(json_eq(&json!(null), &json!(null)));
    }

    #[test]
    fn exists_rules() {
        let doc = json!({"a": null, "b": 1});
        assert_eq!(
            run(
                &Assertion {
                    exists: Some(true),
                    ..a("/a")
                },
                &doc
            ),
            Ok(())
        );
        assert_eq!(
            run(
                &Assertion {
                    exists: Some(true),
                    ..a("/zz")
                },
                &doc
            ),
            Err(FailReason::Missing)
        );
        assert_eq!(
            run(
                &Assertion {
                    exists: Some(false),
                    ..a("/zz")
                },
                &doc
            ),
            Ok(())
        );
        assert_eq!(
            run(
                &Assertion {
                    exists: Some(false),
                    ..a("/b")
                },
                &doc
            ),
            Err(FailReason::RuleViolated)
        );
        // Any other rule implies presence.
        assert_eq!(
            run(
                &Assertion {
                    min: Some(0.0),
                    ..a("/zz")
                },
                &doc
            ),
            Err(FailReason::Missing)
        );
        // Traversing through a scalar is "missing", not a panic.
        assert_eq!(
            run(
                &Assertion {
                    exists: Some(true),
                    ..a("/b/c/d")
                },
                &doc
            ),
            Err(FailReason::Missing)
        );
    }

    #[test]
    fn equals_rules() {
        let doc = json!({"s": "ok", "n": 2, "o": {"x": [1]}, "z": null});
        let eq = |p: &str, v: Value| Assertion {
            equals: Some(v),
            ..a(p)
        };
        assert_eq!(run(&eq("/s", json!("ok")), &doc), Ok(()));
        assert_eq!(run(&eq("/n", json!(2.0)), &doc), Ok(()));
        assert_eq!(run(&eq("/o", json!({"x": [1]})), &doc), Ok(()));
        assert_eq!(run(&eq("/z", json!(null)), &doc), Ok(()));
        assert_eq!(
            run(&eq("/s", json!("OK")), &doc),
            Err(FailReason::RuleViolated)
        );
        assert_eq!(
            run(&eq("/n", json!("2")), &doc),
            Err(FailReason::RuleViolated)
        );
    }

    #[test]
    fn min_max_rules() {
        let doc = json!({
            "n": 5, "s": "5.5", "h": "0x10", "big": 123456789012345678901234567890.0,
            "nan": "NaN", "t": true, "arr": [1]
        });
        let range = |p: &str, lo: Option<f64>, hi: Option<f64>| Assertion {
            min: lo,
            max: hi,
            ..a(p)
        };
        assert_eq!(run(&range("/n", Some(5.0), Some(5.0)), &doc), Ok(()));
        assert_eq!(
            run(&range("/n", Some(6.0), None), &doc),
            Err(FailReason::RuleViolated)
        );
        assert_eq!(
            run(&range("/n", None, Some(4.0)), &doc),
            Err(FailReason::RuleViolated)
        );
        assert_eq!(run(&range("/s", Some(5.0), Some(6.0)), &doc), Ok(()));
        assert_eq!(run(&range("/h", Some(16.0), Some(16.0)), &doc), Ok(()));
        assert_eq!(
            run(&range("/big", None, Some(1e18)), &doc),
            Err(FailReason::RuleViolated)
        );
        assert_eq!(run(&range("/big", Some(1e29), None), &doc), Ok(()));
        for p in ["/nan", "/t", "/arr"] {
            assert_eq!(
                run(&range(p, Some(0.0), None), &doc),
                Err(FailReason::WrongType),
                "{p}"
            );
        }
    }

    #[test]
    fn regex_rules() {
        let doc = json!({"s": "v1.2.3", "n": 42, "b": true, "o": {}, "u": "ünï"});
        let re = |p: &str, r: &str| Assertion {
            regex: Some(r.into()),
            ..a(p)
        };
        assert_eq!(run(&re("/s", r"^v\d+\.\d+\.\d+$"), &doc), Ok(()));
        assert_eq!(run(&re("/s", r"^\d"), &doc), Err(FailReason::RuleViolated));
        assert_eq!(run(&re("/n", r"^4\d$"), &doc), Ok(()));
        assert_eq!(run(&re("/b", "^true$"), &doc), Ok(()));
        assert_eq!(run(&re("/u", r"^\w+$"), &doc), Ok(()));
        assert_eq!(run(&re("/o", ".*"), &doc), Err(FailReason::WrongType));
        assert!(build_regex("(").is_err());
        // Catastrophically large patterns are refused at compile time.
        assert!(build_regex(r"(\w{100}){100}").is_err());
    }

    #[test]
    fn first_failure_wins_and_names_the_assertion() {
        let doc = json!({"a": 1});
        let list = vec![
            Assertion {
                exists: Some(true),
                ..a("/a")
            },
            Assertion {
                equals: Some(json!(2)),
                ..a("/a")
            },
            Assertion {
                exists: Some(true),
                ..a("/b")
            },
        ];
        let (c, d) = check_all(&list, &[None, None, None], &doc);
        assert_eq!(c, Check::Fail(FailReason::RuleViolated));
        assert!(d
            .unwrap()
            .starts_with("assertions[1]: `/a` is 1, expected 2"));
        assert_eq!(check_all(&list[..1], &[None], &doc), (Check::Pass, None));
        assert_eq!(check_all(&[], &[], &doc), (Check::NotApplicable, None));
    }

    #[test]
    fn timestamps() {
        use TimestampFormat::*;
        assert_eq!(
            read_timestamp(&json!(1_700_000_000), UnixSeconds),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            read_timestamp(&json!(1_700_000_000.25), UnixSeconds),
            Some(1_700_000_000_250)
        );
        assert_eq!(
            read_timestamp(&json!("1700000000"), UnixSeconds),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            read_timestamp(&json!(1_700_000_000_123u64), UnixMillis),
            Some(1_700_000_000_123)
        );
        assert_eq!(read_timestamp(&json!("0x10"), HexUnixSeconds), Some(16_000));
        assert_eq!(
            read_timestamp(&json!("2023-11-14T22:13:20Z"), Rfc3339),
            Some(1_700_000_000_000)
        );
        for (v, f) in [
            (json!(-1), UnixSeconds),
            (json!(-0.5), UnixMillis),
            (json!("NaN"), UnixSeconds),
            (json!(u64::MAX), UnixSeconds),
            (json!(1e300), UnixMillis),
            (json!(true), UnixSeconds),
            (json!(1_700_000_000), Rfc3339),
            (json!("yesterday"), Rfc3339),
            (json!(16), HexUnixSeconds),
            (json!("0xffffffffffffffff"), HexUnixSeconds),
        ] {
            assert_eq!(read_timestamp(&v, f), None, "{v} {f:?}");
        }
    }

    proptest! {
        #[test]
        fn decimal_strings_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
            let plain = x.to_string();
            if plain.len() <= MAX_NUMBER_STR {
                prop_assert_eq!(as_number(&json!(plain)), Some(x));
            }
            prop_assert_eq!(as_number(&json!(format!("{x:e}"))), Some(x));
        }

        #[test]
        fn hex_strings_match_u128(n in any::<u128>()) {
            prop_assert_eq!(as_number(&json!(format!("{n:#x}"))), Some(n as f64));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,80}") {
            let _ = as_number(&json!(s));
            for f in [TimestampFormat::UnixSeconds, TimestampFormat::Rfc3339, TimestampFormat::HexUnixSeconds] {
                let _ = read_timestamp(&json!(s), f);
            }
        }
    }
}
