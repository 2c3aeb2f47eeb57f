//! The JSON-Schema subset: does the whole body have the expected shape?
//!
//! A depth-first walk of the schema and the value together. At each node
//! the keywords are checked in a fixed order — `type`, `enum`,
//! `minimum`/`maximum`, `min_length`/`max_length`, then for objects
//! `required`, `properties` (recursively, in key order) and
//! `additional_properties`, and for arrays `items` (recursively, in index
//! order) — and the walk stops at the first mismatch, whose RFC 6901 path
//! becomes the detail (`/data/3/price: expected number, got string`).
//!
//! Keywords that do not apply to the value's JSON type are ignored, as in
//! JSON Schema. The recursion is bounded by the schema's depth, which
//! configuration validation limits to
//! [`MAX_SCHEMA_DEPTH`](super::spec::MAX_SCHEMA_DEPTH); the body's own
//! depth is bounded by the JSON parser (128 levels).

use super::json::{bounded, json_eq, show, type_name};
use super::spec::{JsonType, JsonTypes, Schema};
use serde_json::Value;

/// Whether `v` has JSON type `t` (an integer is also a number; `3.0` is
/// an integer).
fn has_type(v: &Value, t: JsonType) -> bool {
    match (t, v) {
        (JsonType::Object, Value::Object(_))
        | (JsonType::Array, Value::Array(_))
        | (JsonType::String, Value::String(_))
        | (JsonType::Number, Value::Number(_))
        | (JsonType::Boolean, Value::Bool(_))
        | (JsonType::Null, Value::Null) => true,
        (JsonType::Integer, Value::Number(n)) => {
            n.is_u64() || n.is_i64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
        }
        _ => false,
    }
}

/// Appends one RFC 6901 reference token to `path`.
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

/// Checks `v` against `schema`; the error is a human-readable description
/// of the first mismatch.
pub(crate) fn check(schema: &Schema, v: &Value) -> Result<(), String> {
    let mut path = String::new();
    walk(schema, v, &mut path)
}

fn walk(s: &Schema, v: &Value, path: &mut String) -> Result<(), String> {
    if let Some(JsonTypes(ts)) = &s.types {
        if !ts.iter().any(|&t| has_type(v, t)) {
            let want: Vec<&str> = ts.iter().map(|t| t.as_str()).collect();
            return Err(format!(
                "{}: expected {}, got {}",
                at(path),
                want.join(" or "),
                type_name(v)
            ));
        }
    }
    if let Some(vals) = &s.enum_values {
        if !vals.iter().any(|e| json_eq(v, e)) {
            return Err(format!(
                "{}: {} is not one of the allowed values",
                at(path),
                show(v)
            ));
        }
    }
    if let Some(x) = v.as_f64() {
        if let Some(lo) = s.minimum {
            if x < lo {
                return Err(format!("{}: {x} is below the minimum {lo}", at(path)));
            }
        }
        if let Some(hi) = s.maximum {
            if x > hi {
                return Err(format!("{}: {x} is above the maximum {hi}", at(path)));
            }
        }
    }
    let len = match v {
        Value::String(st) => Some(st.chars().count() as u64),
        Value::Array(a) => Some(a.len() as u64),
        _ => None,
    };
    if let Some(len) = len {
        if let Some(lo) = s.min_length {
            if len < lo {
                return Err(format!(
                    "{}: length {len} is below min_length {lo}",
                    at(path)
                ));
            }
        }
        if let Some(hi) = s.max_length {
            if len > hi {
                return Err(format!(
                    "{}: length {len} is above max_length {hi}",
                    at(path)
                ));
            }
        }
    }
    match v {
        Value::Object(map) => {
            for r in &s.required {
                if !map.contains_key(r) {
                    return Err(format!("{}: required key `{r}` is missing", at(path)));
                }
            }
            for (name, sub) in &s.properties {
                if let Some(child) = map.get(name) {
                    let mark = path.len();
                    push_token(path, name);
                    walk(sub, child, path)?;
                    path.truncate(mark);
                }
            }
            if s.additional_properties == Some(false) {
                if let Some(extra) = map.keys().find(|k| !s.properties.contains_key(*k)) {
                    return Err(format!(
                        "{}: unexpected key `{}`",
                        at(path),
                        bounded(extra.clone(), 64)
                    ));
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = &s.items {
                for (i, child) in items.iter().enumerate() {
                    let mark = path.len();
                    push_token(path, &i.to_string());
                    walk(sub, child, path)?;
                    path.truncate(mark);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn types() {
        let s = |t: Value| schema(json!({ "type": t }));
        assert!(check(&s(json!("integer")), &json!(3)).is_ok());
        assert!(check(&s(json!("integer")), &json!(3.0)).is_ok());
        assert!(check(&s(json!("integer")), &json!(-3)).is_ok());
        assert!(check(&s(json!("integer")), &json!(3.5)).is_err());
        assert!(check(&s(json!("number")), &json!(3)).is_ok());
        assert!(check(&s(json!("number")), &json!("3")).is_err());
        assert!(check(&s(json!(["string", "null"])), &json!(null)).is_ok());
        assert!(check(&s(json!(["string", "null"])), &json!(false)).is_err());
        assert!(check(&s(json!("boolean")), &json!(true)).is_ok());
        assert!(check(&s(json!("object")), &json!([])).is_err());
        assert!(check(&s(json!("array")), &json!([])).is_ok());
        assert_eq!(
            check(&s(json!(["object", "array"])), &json!("x")),
            Err("(root): expected object or array, got string".into())
        );
    }

    #[test]
    fn nested_paths_are_reported() {
        let s = schema(json!({
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["price"],
                        "properties": { "price": { "type": "number", "minimum": 0 } }
                    }
                },
                "a/b~c": { "type": "string" }
            }
        }));
        let ok = json!({"data": [{"price": 1}, {"price": 2.5, "extra": true}]});
        assert_eq!(check(&s, &ok), Ok(()));
        assert_eq!(
            check(&s, &json!({"data": [{"price": 1}, {"price": "2"}]})),
            Err("/data/1/price: expected number, got string".into())
        );
        assert_eq!(
            check(&s, &json!({"data": [{"price": -1}]})),
            Err("/data/0/price: -1 is below the minimum 0".into())
        );
        assert_eq!(
            check(&s, &json!({"data": [{}]})),
            Err("/data/0: required key `price` is missing".into())
        );
        assert_eq!(
            check(&s, &json!({})),
            Err("(root): required key `data` is missing".into())
        );
        assert_eq!(
            check(&s, &json!({"data": [], "a/b~c": 1})),
            Err("/a~1b~0c: expected string, got number".into())
        );
    }

    #[test]
    fn enums_bounds_lengths_and_additional_properties() {
        let e = schema(json!({"enum": ["up", "down", 1]}));
        assert!(check(&e, &json!("up")).is_ok());
        assert!(check(&e, &json!(1.0)).is_ok());
        assert!(check(&e, &json!("sideways")).is_err());
        let n = schema(json!({"minimum": 1, "maximum": 2}));
        assert!(check(&n, &json!(1.5)).is_ok());
        assert!(check(&n, &json!(2.5)).is_err());
        // Bounds ignore non-numbers, as in JSON Schema.
        assert!(check(&n, &json!("99")).is_ok());
        let l = schema(json!({"min_length": 2, "max_length": 3}));
        assert!(check(&l, &json!("äö")).is_ok());
        assert!(check(&l, &json!("ä")).is_err());
        assert!(check(&l, &json!([1, 2, 3, 4])).is_err());
        assert!(check(&l, &json!(12345)).is_ok());
        let closed = schema(json!({
            "properties": {"a": {}},
            "additional_properties": false
        }));
        assert!(check(&closed, &json!({"a": 1})).is_ok());
        assert_eq!(
            check(&closed, &json!({"a": 1, "b": 2})),
            Err("(root): unexpected key `b`".into())
        );
    }

    #[test]
    fn deep_values_against_recursive_schema() {
        // A schema as deep as allowed against a body as deep as JSON allows.
        let mut s = Schema::default();
        for _ in 0..30 {
            s = Schema {
                types: Some(JsonTypes(vec![JsonType::Array])),
                items: Some(Box::new(s)),
                ..Schema::default()
            };
        }
        let body = format!("{}{}", "[".repeat(120), "]".repeat(120));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(check(&s, &v).is_ok());
        let v: Value = serde_json::from_str("[[[[1]]]]").unwrap();
        assert_eq!(
            check(&s, &v),
            Err("/0/0/0/0: expected array, got number".into())
        );
    }

    #[test]
    fn huge_arrays_are_linear() {
        let s = schema(json!({"type": "array", "items": {"type": "integer"}}));
        let mut v: Vec<Value> = (0..100_000).map(|i| json!(i)).collect();
        assert!(check(&s, &Value::Array(v.clone())).is_ok());
        v.push(json!("x"));
        assert_eq!(
            check(&s, &Value::Array(v)),
            Err("/100000: expected integer, got string".into())
        );
    }
}
