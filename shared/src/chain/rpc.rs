//! Ethereum JSON-RPC 2.0 (the JSON-RPC 2.0 specification; the `eth_*`
//! methods of the Ethereum execution APIs), as plain bytes in and values
//! out: the driver sends the body over the shell's HTTP seam.
//!
//! Calls go in one batch (an array) per HTTP request: a Cloudflare Worker
//! on the free plan has about 50 subrequests per invocation, and reading
//! a hundred providers' records one request each would spend them all.
//! Every answer is matched to its call by id; a missing, duplicated or
//! malformed answer is an error, never a silent default.

use serde_json::{json, Value};

/// Largest JSON-RPC answer read (a batch of a thousand `latest` reads is
/// about 400 KB).
pub const MAX_ANSWER_BYTES: u64 = 2 << 20;

/// One call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Method, e.g. `eth_call`.
    pub method: &'static str,
    /// Positional parameters.
    pub params: Value,
}

impl Call {
    /// A call.
    pub fn new(method: &'static str, params: Value) -> Call {
        Call { method, params }
    }
}

/// Why a call did not give a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The endpoint could not be reached or did not answer in time.
    #[error("the RPC endpoint is unreachable: {0}")]
    Unreachable(String),
    /// It answered with an HTTP error.
    #[error("the RPC endpoint answered HTTP {0}")]
    Http(u16),
    /// Its answer is not what JSON-RPC promises.
    #[error("the RPC endpoint's answer is malformed: {0}")]
    Malformed(String),
    /// The node refused the call (`error` member). `data` carries a
    /// revert's return data (`0x…`) when the node gives it.
    #[error("the node refused {method}: {message} (code {code})")]
    Node {
        /// The method.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
        /// Its data, as given.
        data: Option<String>,
    },
}

/// The body of a batch of `calls`; ids are their positions.
pub fn batch_body(calls: &[Call]) -> Vec<u8> {
    let arr: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"jsonrpc": "2.0", "id": i, "method": c.method, "params": c.params}))
        .collect();
    serde_json::to_vec(&Value::Array(arr)).unwrap_or_default()
}

/// The answers to a batch of `calls`, in the calls' order. The whole
/// batch fails when the answer is not a JSON-RPC batch answer (not an
/// array — a node that does not take batches answers one error object —
/// or an answer missing or twice); each call can fail on its own.
pub fn parse_batch(calls: &[Call], body: &[u8]) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| RpcError::Malformed(format!("not JSON: {e}")))?;
    let Value::Array(items) = v else {
        // A single error object answers a batch the node refused whole.
        if let Some(e) = v.get("error") {
            return Err(node_error("batch", e));
        }
        return Err(RpcError::Malformed(
            "a batch must be answered with an array".into(),
        ));
    };
    let mut out: Vec<Option<Result<Value, RpcError>>> = vec![None; calls.len()];
    for item in items {
        let id = item
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < calls.len())
            .ok_or_else(|| RpcError::Malformed("an answer with an unknown id".into()))?;
        if out[id].is_some() {
            return Err(RpcError::Malformed(format!("two answers for id {id}")));
        }
        let method = calls[id].method;
        out[id] = Some(match (item.get("result"), item.get("error")) {
            (_, Some(e)) if !e.is_null() => Err(node_error(method, e)),
            (Some(r), _) => Ok(r.clone()),
            _ => Err(RpcError::Malformed(format!(
                "the answer to {method} has neither result nor error"
            ))),
        });
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                RpcError::Malformed(format!("no answer to {} (id {i})", calls[i].method))
            })
        })
        .collect()
}

fn node_error(method: &str, e: &Value) -> RpcError {
    let data = match e.get("data") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("data").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    RpcError::Node {
        method: method.to_string(),
        code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(300)
            .collect(),
        data,
    }
}

/// A quantity (`0x` and hex digits without leading zeros; a node may pad)
/// as an integer.
pub fn quantity(v: &Value) -> Result<u128, RpcError> {
    let s = v
        .as_str()
        .ok_or_else(|| RpcError::Malformed(format!("{v} is not a quantity")))?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| RpcError::Malformed(format!("{s:.40} is not a 0x quantity")))?;
    if digits.is_empty() || digits.len() > 32 {
        return Err(RpcError::Malformed(format!(
            "{s:.40} is not a 128-bit quantity"
        )));
    }
    u128::from_str_radix(digits, 16)
        .map_err(|_| RpcError::Malformed(format!("{s:.40} is not a quantity")))
}

/// A quantity that must fit 64 bits.
pub fn quantity_u64(v: &Value) -> Result<u64, RpcError> {
    let q = quantity(v)?;
    u64::try_from(q).map_err(|_| RpcError::Malformed(format!("{q} does not fit 64 bits")))
}

/// `0x`-prefixed data as bytes.
pub fn data(v: &Value) -> Result<Vec<u8>, RpcError> {
    let s = v
        .as_str()
        .ok_or_else(|| RpcError::Malformed(format!("{v:.40} is not data")))?;
    s.strip_prefix("0x")
        .and_then(super::from_hex)
        .ok_or_else(|| RpcError::Malformed(format!("{s:.40} is not 0x hex data")))
}

/// A quantity's wire form.
pub fn to_quantity(n: u128) -> String {
    format!("{n:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls() -> Vec<Call> {
        vec![
            Call::new("eth_chainId", json!([])),
            Call::new("eth_call", json!([{"to": "0x00"}, "latest"])),
        ]
    }

    #[test]
    fn a_batch_is_matched_by_id_in_any_order() {
        let body = batch_body(&calls());
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent[1]["method"], "eth_call");
        assert_eq!(sent[1]["id"], 1);
        let answer = br#"[{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted","data":"0xdeadbeef"}},{"jsonrpc":"2.0","id":0,"result":"0x7a69"}]"#;
        let got = parse_batch(&calls(), answer).unwrap();
        assert_eq!(quantity_u64(got[0].as_ref().unwrap()).unwrap(), 31337);
        match &got[1] {
            Err(RpcError::Node { code, data, .. }) => {
                assert_eq!(*code, 3);
                assert_eq!(data.as_deref(), Some("0xdeadbeef"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_duplicate_and_foreign_answers_fail_the_batch() {
        for bad in [
            &br#"[{"jsonrpc":"2.0","id":0,"result":"0x1"}]"#[..],
            br#"[{"id":0,"result":"0x1"},{"id":0,"result":"0x1"},{"id":1,"result":"0x"}]"#,
            br#"[{"id":7,"result":"0x1"}]"#,
            br#"{"jsonrpc":"2.0","id":null,"result":"0x1"}"#,
            b"not json",
            br#"[{"id":0},{"id":1,"result":"0x"}]"#,
        ] {
            let r = parse_batch(&calls(), bad);
            let failed = match r {
                Err(_) => true,
                Ok(v) => v.iter().any(Result::is_err),
            };
            assert!(failed, "{}", String::from_utf8_lossy(bad));
        }
        // A node that refuses batches answers one error: said as the node's.
        let refused = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch not supported"}}"#;
        assert!(matches!(
            parse_batch(&calls(), refused),
            Err(RpcError::Node { code: -32600, .. })
        ));
    }

    #[test]
    fn quantities_and_data_are_strict() {
        assert_eq!(quantity(&json!("0x0")).unwrap(), 0);
        assert_eq!(quantity(&json!("0x00ff")).unwrap(), 255);
        for bad in [
            json!("12"),
            json!("0x"),
            json!(12),
            json!("0xzz"),
            json!(format!("0x1{}", "0".repeat(32))),
        ] {
            assert!(quantity(&bad).is_err(), "{bad}");
        }
        assert!(quantity_u64(&json!(format!("0x1{}", "0".repeat(16)))).is_err());
        assert_eq!(data(&json!("0x0a0b")).unwrap(), vec![10, 11]);
        assert!(data(&json!("0x0a0")).is_err());
        assert_eq!(to_quantity(31337), "0x7a69");
    }
}
