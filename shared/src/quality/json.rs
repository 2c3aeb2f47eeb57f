//! Reading and showing JSON values, the way every quality check does.
//!
//! Numbers are read leniently because APIs (and EVM nodes) often ship them
//! as strings: a JSON number, a strict decimal string
//! (`-?digits[.digits][e±digits]`) or a `0x` hex string of at most 64 hex
//! digits (256 bits). Anything else — `"NaN"`, `"inf"`, `"1e999"`, padded
//! or empty strings — is *not a number*. Hex values beyond 2^53 are
//! compared as the nearest `f64`, which is deterministic (IEEE 754) on
//! wasm32 and native alike. EVM quantities (`"0x1b4"`) are read exactly,
//! as `u64`.
//!
//! Equality is numeric-aware (`1 == 1.0`), and values shown in a detail
//! message are short and bounded.
//!
//! This is the leaf of the quality checks: it uses no other part of them.

use serde_json::Value;

/// Longest numeric string we try to read (a uint256 in decimal is 78
/// digits; `f64::MAX` written out in full is 309).
const MAX_NUMBER_STR: usize = 512;

/// The value at JSON Pointer `p` (RFC 6901) in `doc`: exactly what
/// `Value::pointer` finds, without its two allocations per token (it
/// unescapes every token; here only a token holding `~` is unescaped).
/// Every probe runs a pointer per check, every tick.
pub(crate) fn pointer<'a>(doc: &'a Value, p: &str) -> Option<&'a Value> {
    if p.is_empty() {
        return Some(doc);
    }
    let mut target = doc;
    for raw in p.strip_prefix('/')?.split('/') {
        let unescaped;
        let token = if raw.contains('~') {
            unescaped = raw.replace("~1", "/").replace("~0", "~");
            unescaped.as_str()
        } else {
            raw
        };
        target = match target {
            Value::Object(map) => map.get(token)?,
            Value::Array(list) => list.get(array_index(token)?)?,
            _ => return None,
        };
    }
    Some(target)
}

/// An array index token: digits, no sign, no leading zero (RFC 6901).
fn array_index(s: &str) -> Option<usize> {
    if s.starts_with('+') || (s.starts_with('0') && s.len() != 1) {
        return None;
    }
    s.parse().ok()
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
    bounded(s, 64)
}

/// Reads an EVM hex quantity (`"0x1b4"`) that fits 64 bits. Leading zeros
/// are tolerated.
pub(crate) fn quantity(v: &Value) -> Option<u64> {
    let hex = v.as_str()?.strip_prefix("0x")?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digits = hex.trim_start_matches('0');
    if digits.len() > 16 {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 16).ok()
}

/// `s` cut to at most `max` bytes at a character boundary, with `…`
/// appended when cut.
pub(crate) fn bounded(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn pointers_find_what_serde_json_finds() {
        let doc = json!({
            "a": {"b": [10, {"c~d": 1, "e/f": 2, "~1": 3, "": 4}]},
            "0": "zero", "01": "leading", "": {"": 5}, "m~n": 6,
        });
        for p in [
            "",
            "/",
            "//",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1",
            "/a/b/01",
            "/a/b/+1",
            "/a/b/-",
            "/a/b/2",
            "/a/b/1/c~0d",
            "/a/b/1/e~1f",
            "/a/b/1/~01",
            "/a/b/1/~1",
            "/a/b/1/",
            "/0",
            "/01",
            "/m~0n",
            "/m~n",
            "a",
            "/a/b/0/x",
            "/a/b/18446744073709551616",
            "/~2",
            "/a/b/1/c~0d/x",
        ] {
            assert_eq!(pointer(&doc, p), doc.pointer(p), "{p:?}");
        }
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
    fn bounded_cuts_at_char_boundaries() {
        assert_eq!(bounded("abc".into(), 5), "abc");
        assert_eq!(bounded("ééé".into(), 3), "é…");
        assert_eq!(bounded("abcdef".into(), 3), "abc…");
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
    }
}
