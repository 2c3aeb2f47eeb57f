//! Business rules and timestamps: reading single values out of a body.
//!
//! Each [`Assertion`] looks up its RFC 6901 pointer in the parsed body and
//! applies its rules in a fixed order — presence (`exists`), `equals`,
//! `min`, `max`, `regex` — stopping at the first that fails, so the
//! reported detail is deterministic. Assertions are evaluated in
//! configuration order; the first failing one decides the business check.
//!
//! Numbers and equality are read the lenient, numeric-aware way of the
//! `json` module.
//!
//! Timestamps are read per [`TimestampFormat`] into Unix milliseconds;
//! negative, non-finite or out-of-range values are unreadable.

use super::json::{self, as_number, json_eq, quantity, show, type_name};
use super::spec::{Assertion, TimestampFormat};
use super::{Check, FailReason};
use crate::UnixMillis;
use regex::Regex;
use serde_json::Value;

/// Evaluates one assertion against `doc`; `regex` is its compiled regex.
/// `Err` carries the failure and a human-readable reason.
pub(crate) fn check_assertion(
    a: &Assertion,
    regex: Option<&Regex>,
    doc: &Value,
) -> Result<(), (FailReason, String)> {
    let p = &a.pointer;
    let Some(v) = json::pointer(doc, p) else {
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
            let secs = quantity(v)?;
            secs.checked_mul(1_000)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::spec::build_regex;
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
        fn arbitrary_strings_never_panic(s in ".{0,80}") {
            let _ = as_number(&json!(s));
            for f in [TimestampFormat::UnixSeconds, TimestampFormat::Rfc3339, TimestampFormat::HexUnixSeconds] {
                let _ = read_timestamp(&json!(s), f);
            }
        }
    }
}
