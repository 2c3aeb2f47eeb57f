//! EVM JSON-RPC endpoints: one batched probe, three verdicts, one head.
//!
//! [`evm_probe_body`] asks three questions in a single JSON-RPC 2.0 batch
//! — one HTTP request, which matters inside a Worker's 50-subrequest
//! budget:
//!
//! | id | method                                  | used for                      |
//! |----|-----------------------------------------|-------------------------------|
//! | 1  | `eth_chainId`                           | right chain?                  |
//! | 2  | `eth_blockNumber`                       | backends in sync?             |
//! | 3  | `eth_getBlockByNumber ["latest", false]`| head number, hash, timestamp |
//!
//! The response array is matched **by id**, in any order (servers may
//! reorder a batch). Then:
//!
//! * **schema** passes when the body is an array of exactly the three
//!   responses, each an object with `"jsonrpc": "2.0"`, its id and either
//!   a `result` or an `error`, and the results have the expected shapes
//!   (hex quantities, a block object with `number`, a 32-byte `hash` and
//!   `timestamp`). A single object instead of an array is accepted as a
//!   one-element batch but fails the schema with a hint that the endpoint
//!   may not support batching.
//! * **business** fails with `rpc-error` if any response is a JSON-RPC
//!   error, with `wrong-chain` if the chain id differs from the configured
//!   one, with `missing` if the configured chain id could not be read or
//!   nothing answered, and with `inconsistent` if `eth_blockNumber` and
//!   the latest block differ by more than `max_lag_blocks` (a load
//!   balancer spreading one batch over backends out of sync).
//! * **freshness** compares the latest block's timestamp with `now`:
//!   older than `max_block_age` is `stale`, ahead of `now` by more than
//!   [`FUTURE_SKEW`](super::FUTURE_SKEW) is `future-timestamp`.
//!
//! [`Facts::evm`](super::Facts) gets the chain id and the latest block's
//! number, hash and timestamp when all four were readable; they feed the
//! cross-provider check in [`cross_check`](super::cross_check).

use super::json::{bounded, quantity, type_name};
use super::spec::EvmChecks;
use super::{age_check, Check, Evaluation, EvmHead, Facts, FailReason, Verdict};
use crate::UnixMillis;
use serde_json::{Map, Value};

const METHODS: [&str; 3] = ["eth_chainId", "eth_blockNumber", "eth_getBlockByNumber"];

/// The JSON-RPC 2.0 batch request probing an EVM endpoint: `eth_chainId`
/// (id 1), `eth_blockNumber` (id 2) and
/// `eth_getBlockByNumber ["latest", false]` (id 3). POST it with
/// `Content-Type: application/json` and pass the response body to
/// [`evaluate`](super::evaluate).
pub fn evm_probe_body() -> Vec<u8> {
    br#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["latest",false]}]"#
        .to_vec()
}

/// Reads a 32-byte hash (`0x` + 64 hex digits), lowercased.
fn hash32(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let hex = s.strip_prefix("0x")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// One response of the batch.
enum Slot<'a> {
    Absent,
    Result(&'a Value),
    Error(&'a Value),
}

/// Collects shape problems; only the first is reported.
#[derive(Default)]
struct Problems(Option<String>);

impl Problems {
    fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.0.is_none() {
            self.0 = Some(msg());
        }
    }
}

/// The id of a response: a number 1–3, or (leniently) its decimal string.
fn response_id(v: &Value) -> Option<usize> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) if s.len() <= 3 => s.parse().ok()?,
        _ => return None,
    };
    (1..=3).contains(&n).then_some(n as usize)
}

/// Files batch element `i` into its slot by id. An error without a usable
/// id (JSON-RPC uses `"id": null` when it rejects the whole request)
/// goes to `orphan_error`.
fn file_response<'a>(
    i: usize,
    el: &'a Value,
    slots: &mut [Slot<'a>; 3],
    orphan_error: &mut Option<&'a Value>,
    shape: &mut Problems,
) {
    let Some(obj) = el.as_object() else {
        shape.note(|| format!("batch element {i} is {}, not an object", type_name(el)));
        return;
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        shape.note(|| format!("batch element {i} lacks \"jsonrpc\": \"2.0\""));
    }
    let Some(id) = obj.get("id").and_then(response_id) else {
        shape.note(|| format!("batch element {i} has no id 1, 2 or 3"));
        if let Some(e) = obj.get("error") {
            orphan_error.get_or_insert(e);
        }
        return;
    };
    let slot = match (obj.get("result"), obj.get("error")) {
        (Some(r), None) => Slot::Result(r),
        (None, Some(e)) => Slot::Error(e),
        (Some(_), Some(_)) => {
            shape.note(|| format!("response {id} has both result and error"));
            return;
        }
        (None, None) => {
            shape.note(|| format!("response {id} has neither result nor error"));
            return;
        }
    };
    match &slots[id - 1] {
        Slot::Absent => slots[id - 1] = slot,
        _ => shape.note(|| format!("id {id} appears twice in the batch")),
    }
}

/// `code: message` of a JSON-RPC error object, bounded.
fn describe_error(e: &Value) -> String {
    let code = e.get("code").and_then(Value::as_i64);
    let msg = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let s = match code {
        Some(c) => format!("error {c}: {msg}"),
        None => format!("error: {msg}"),
    };
    bounded(s, 120)
}

fn is_error_object(e: &Value) -> bool {
    e.get("code").is_some_and(Value::is_i64) && e.get("message").is_some_and(Value::is_string)
}

/// The parsed latest block.
struct Block {
    number: u64,
    hash: String,
    timestamp_s: u64,
}

fn read_block(b: &Map<String, Value>, shape: &mut Problems) -> Option<Block> {
    let number = b.get("number").and_then(quantity);
    let hash = b.get("hash").and_then(hash32);
    let timestamp_s = b.get("timestamp").and_then(quantity);
    for (field, ok) in [
        ("number", number.is_some()),
        ("hash", hash.is_some()),
        ("timestamp", timestamp_s.is_some()),
    ] {
        if !ok {
            shape.note(|| format!("latest block has no valid `{field}`"));
        }
    }
    Some(Block {
        number: number?,
        hash: hash?,
        timestamp_s: timestamp_s?,
    })
}

/// Evaluates the response to [`evm_probe_body`].
pub(crate) fn evaluate(evm: &EvmChecks, body: &[u8], now: UnixMillis) -> Evaluation {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        let fail = Check::Fail(FailReason::NotJson);
        return Evaluation {
            verdict: Verdict {
                schema: fail,
                business: fail,
                freshness: fail,
            },
            facts: Facts::default(),
            detail: Some("the JSON-RPC response is not JSON".into()),
        };
    };
    let mut shape = Problems::default();
    let mut slots = [Slot::Absent, Slot::Absent, Slot::Absent];
    let mut orphan_error = None;
    match &doc {
        Value::Array(els) => {
            for (i, el) in els.iter().enumerate() {
                file_response(i, el, &mut slots, &mut orphan_error, &mut shape);
            }
        }
        Value::Object(_) => {
            shape.note(|| {
                "expected a JSON-RPC batch response (an array of 3), got a single object: \
                 does the endpoint support batch requests?"
                    .into()
            });
            file_response(0, &doc, &mut slots, &mut orphan_error, &mut shape);
        }
        other => shape.note(|| {
            format!(
                "expected a JSON-RPC batch response (an array of 3), got {}",
                type_name(other)
            )
        }),
    }
    for (i, s) in slots.iter().enumerate() {
        if matches!(s, Slot::Absent) {
            shape.note(|| format!("no response to {} (id {})", METHODS[i], i + 1));
        }
    }

    // Results.
    let mut rpc_error: Option<String> =
        orphan_error.map(|e| format!("the batch failed: {}", describe_error(e)));
    for (i, s) in slots.iter().enumerate() {
        if let Slot::Error(e) = s {
            if !is_error_object(e) {
                shape
                    .note(|| format!("the error of {} is not a JSON-RPC error object", METHODS[i]));
            }
            if rpc_error.is_none() {
                rpc_error = Some(format!("{} failed: {}", METHODS[i], describe_error(e)));
            }
        }
    }
    let mut read_quantity = |i: usize| -> Option<u64> {
        let Slot::Result(r) = slots[i] else {
            return None;
        };
        let q = quantity(r);
        if q.is_none() {
            shape.note(|| format!("the result of {} is not a hex quantity", METHODS[i]));
        }
        q
    };
    let chain_id = read_quantity(0);
    let head_number = read_quantity(1);
    let block = match slots[2] {
        Slot::Result(Value::Object(b)) => read_block(b, &mut shape),
        Slot::Result(Value::Null) => {
            shape.note(|| "eth_getBlockByNumber returned null for \"latest\"".into());
            None
        }
        Slot::Result(other) => {
            shape.note(|| {
                format!(
                    "the result of eth_getBlockByNumber is {}, not a block object",
                    type_name(other)
                )
            });
            None
        }
        _ => None,
    };

    let mut detail = shape.0.clone();
    let mut first = |d: String| {
        if detail.is_none() {
            detail = Some(d);
        }
    };
    let schema = match shape.0 {
        None => Check::Pass,
        Some(_) => Check::Fail(FailReason::SchemaMismatch),
    };

    let business = if let Some(e) = rpc_error {
        first(e);
        Check::Fail(FailReason::RpcError)
    } else if let (Some(want), Some(got)) = (evm.chain_id, chain_id) {
        if want == got {
            lag_check(evm, head_number, block.as_ref(), &mut first)
        } else {
            first(format!("chain id {got}, expected {want}"));
            Check::Fail(FailReason::WrongChain)
        }
    } else if evm.chain_id.is_some() {
        first("the chain id could not be read".into());
        Check::Fail(FailReason::Missing)
    } else if slots.iter().all(|s| matches!(s, Slot::Absent)) {
        first("no JSON-RPC response could be read".into());
        Check::Fail(FailReason::Missing)
    } else {
        lag_check(evm, head_number, block.as_ref(), &mut first)
    };

    let freshness = match &block {
        Some(b) => {
            let (c, d) = age_check(b.timestamp_s.saturating_mul(1_000), now, evm.max_block_age);
            if let Some(d) = d {
                first(format!("latest block {}: {d}", b.number));
            }
            c
        }
        None => {
            first("the latest block's timestamp could not be read".into());
            Check::Fail(FailReason::Missing)
        }
    };

    let evm_head = match (chain_id, block) {
        (Some(chain_id), Some(b)) => Some(EvmHead {
            chain_id,
            number: b.number,
            hash: b.hash,
            timestamp_s: b.timestamp_s,
        }),
        _ => None,
    };
    Evaluation {
        verdict: Verdict {
            schema,
            business,
            freshness,
        },
        facts: Facts {
            evm: evm_head,
            field: None,
        },
        detail: detail.map(|d| bounded(d, super::MAX_DETAIL_BYTES)),
    }
}

/// `eth_blockNumber` and the latest block must roughly agree.
fn lag_check(
    evm: &EvmChecks,
    head: Option<u64>,
    block: Option<&Block>,
    first: &mut impl FnMut(String),
) -> Check {
    if let (Some(h), Some(b)) = (head, block) {
        if h.abs_diff(b.number) > evm.max_lag_blocks {
            first(format!(
                "eth_blockNumber says {h} but the latest block is {}: backends out of sync?",
                b.number
            ));
            return Check::Fail(FailReason::Inconsistent);
        }
    }
    Check::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SECOND;
    use crate::Span;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: UnixMillis = 1_800_000_000_000;
    const HASH: &str = "0xABCDEF0000000000000000000000000000000000000000000000000000000001";

    fn hex(n: u64) -> String {
        format!("{n:#x}")
    }

    fn block(number: u64, ts: u64) -> Value {
        json!({
            "number": hex(number),
            "hash": HASH,
            "timestamp": hex(ts),
            "parentHash": HASH,
            "transactions": []
        })
    }

    fn ok(id: u64, result: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "result": result})
    }

    fn healthy(chain: u64, number: u64, age_s: u64) -> Value {
        json!([
            ok(1, json!(hex(chain))),
            ok(2, json!(hex(number))),
            ok(3, block(number, NOW / SECOND - age_s)),
        ])
    }

    fn checks() -> EvmChecks {
        EvmChecks {
            chain_id: Some(1),
            ..EvmChecks::default()
        }
    }

    fn eval(body: &Value) -> Evaluation {
        evaluate(&checks(), body.to_string().as_bytes(), NOW)
    }

    #[test]
    fn probe_body_is_a_three_call_batch() {
        let v: Value = serde_json::from_slice(&evm_probe_body()).unwrap();
        let calls = v.as_array().unwrap();
        assert_eq!(calls.len(), 3);
        for (i, (c, m)) in calls.iter().zip(METHODS).enumerate() {
            assert_eq!(c["jsonrpc"], "2.0");
            assert_eq!(c["id"], i as u64 + 1);
            assert_eq!(c["method"], m);
        }
        assert_eq!(calls[2]["params"], json!(["latest", false]));
    }

    #[test]
    fn healthy_batch_passes_and_fills_facts() {
        let e = eval(&healthy(1, 20_000_000, 5));
        assert_eq!(
            e.verdict,
            Verdict {
                schema: Check::Pass,
                business: Check::Pass,
                freshness: Check::Pass
            }
        );
        assert_eq!(e.detail, None);
        assert_eq!(
            e.facts.evm,
            Some(EvmHead {
                chain_id: 1,
                number: 20_000_000,
                hash: HASH.to_ascii_lowercase(),
                timestamp_s: NOW / SECOND - 5,
            })
        );
        assert_eq!(e.facts.field, None);
    }

    #[test]
    fn any_order_and_string_ids() {
        let mut b = healthy(1, 7, 1);
        b.as_array_mut().unwrap().reverse();
        b[0]["id"] = json!("3");
        let e = eval(&b);
        assert_eq!(e.verdict.schema, Check::Pass, "{:?}", e.detail);
        assert_eq!(e.facts.evm.unwrap().number, 7);
    }

    #[test]
    fn wrong_chain_and_unchecked_chain() {
        let e = eval(&healthy(5, 7, 1));
        assert_eq!(e.verdict.business, Check::Fail(FailReason::WrongChain));
        assert_eq!(e.detail.as_deref(), Some("chain id 5, expected 1"));
        assert_eq!(e.facts.evm.unwrap().chain_id, 5);
        let any = EvmChecks::default();
        let e = evaluate(&any, healthy(5, 7, 1).to_string().as_bytes(), NOW);
        assert_eq!(e.verdict.business, Check::Pass);
    }

    #[test]
    fn rpc_errors() {
        let mut b = healthy(1, 7, 1);
        b[1] = json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32005, "message": "rate limited"}});
        let e = eval(&b);
        assert_eq!(e.verdict.schema, Check::Pass);
        assert_eq!(e.verdict.business, Check::Fail(FailReason::RpcError));
        assert_eq!(e.verdict.freshness, Check::Pass);
        assert_eq!(
            e.detail.as_deref(),
            Some("eth_blockNumber failed: error -32005: rate limited")
        );
        // A malformed error object is still an error, and a schema problem.
        b[1] = json!({"jsonrpc": "2.0", "id": 2, "error": "boom"});
        let e = eval(&b);
        assert_eq!(e.verdict.schema, Check::Fail(FailReason::SchemaMismatch));
        assert_eq!(e.verdict.business, Check::Fail(FailReason::RpcError));
    }

    #[test]
    fn stale_and_future_blocks() {
        let e = eval(&healthy(1, 7, 61));
        assert_eq!(e.verdict.freshness, Check::Fail(FailReason::Stale));
        assert!(e.detail.unwrap().starts_with("latest block 7: "));
        assert_eq!(eval(&healthy(1, 7, 60)).verdict.freshness, Check::Pass);
        let mut b = healthy(1, 7, 0);
        b[2]["result"]["timestamp"] = json!(hex(NOW / SECOND + 120));
        assert_eq!(
            eval(&b).verdict.freshness,
            Check::Fail(FailReason::FutureTimestamp)
        );
        b[2]["result"]["timestamp"] = json!(hex(NOW / SECOND + 20));
        assert_eq!(eval(&b).verdict.freshness, Check::Pass);
        b[2]["result"]["timestamp"] = json!("0xffffffffffffffff");
        assert_eq!(
            eval(&b).verdict.freshness,
            Check::Fail(FailReason::FutureTimestamp)
        );
        let lenient = EvmChecks {
            max_block_age: Span::mins(10),
            ..checks()
        };
        let e = evaluate(&lenient, healthy(1, 7, 61).to_string().as_bytes(), NOW);
        assert_eq!(e.verdict.freshness, Check::Pass);
    }

    #[test]
    fn out_of_sync_backends() {
        let mut b = healthy(1, 100, 1);
        b[1]["result"] = json!(hex(90));
        let e = eval(&b);
        assert_eq!(e.verdict.business, Check::Fail(FailReason::Inconsistent));
        b[1]["result"] = json!(hex(103));
        assert_eq!(eval(&b).verdict.business, Check::Pass);
    }

    #[test]
    fn not_json_fails_everything() {
        for body in [
            &b""[..],
            b"<html>502 Bad Gateway</html>",
            b"\xff\xfe\x00",
            b"[1,2",
        ] {
            let e = evaluate(&checks(), body, NOW);
            let f = Check::Fail(FailReason::NotJson);
            assert_eq!(
                e.verdict,
                Verdict {
                    schema: f,
                    business: f,
                    freshness: f
                }
            );
            assert_eq!(e.facts, Facts::default());
        }
    }

    #[test]
    fn single_object_is_a_clear_failure() {
        let e = eval(&json!({"jsonrpc": "2.0", "id": 1, "result": "0x1"}));
        assert_eq!(e.verdict.schema, Check::Fail(FailReason::SchemaMismatch));
        assert_eq!(e.verdict.business, Check::Pass);
        assert_eq!(e.verdict.freshness, Check::Fail(FailReason::Missing));
        assert!(e.detail.unwrap().contains("batch"));
        let e = eval(&json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": -32600, "message": "batch requests are not supported"}}));
        assert_eq!(e.verdict.schema, Check::Fail(FailReason::SchemaMismatch));
        assert_eq!(e.verdict.business, Check::Fail(FailReason::RpcError));
        assert!(e.detail.unwrap().contains("single object"));
        assert_eq!(e.facts.evm, None);
    }

    #[test]
    fn malformed_batches() {
        let cases = [
            json!([]),
            json!("0x1"),
            json!(null),
            json!([1, 2, 3]),
            json!([ok(1, json!("0x1")), ok(1, json!("0x1")), ok(3, block(1, 1))]),
            json!([ok(1, json!(1)), ok(2, json!("0x1")), ok(3, block(1, 1))]),
            json!([ok(1, json!("0x1")), ok(2, json!("0x")), ok(3, json!(null))]),
            json!([
                ok(1, json!("0x1")),
                ok(2, json!("0x1")),
                ok(3, json!({"number": "0x1"}))
            ]),
            json!([ok(1, json!("0x1")), ok(2, json!("0x1")), ok(3, json!([]))]),
            json!([ok(1, json!("0x1")), ok(2, json!("0x1")), ok(7, block(1, 1))]),
            json!([{"id": 1, "result": "0x1"}, ok(2, json!("0x1")), ok(3, block(1, 1))]),
            json!([{"jsonrpc": "2.0", "id": 1}, ok(2, json!("0x1")), ok(3, block(1, 1))]),
            json!([{"jsonrpc": "2.0", "id": 1, "result": "0x1", "error": {}}, ok(2, json!("0x1"))]),
            json!([
                ok(1, json!("0x1")),
                ok(2, json!("0x1")),
                ok(
                    3,
                    json!({
                "number": "0x1", "hash": "0x1234", "timestamp": "0x1"})
                )
            ]),
            json!([ok(1, json!(format!("0x{}", "f".repeat(40))))]),
        ];
        for (i, c) in cases.iter().enumerate() {
            let e = eval(c);
            assert_eq!(
                e.verdict.schema,
                Check::Fail(FailReason::SchemaMismatch),
                "case {i}"
            );
            assert!(e.detail.is_some(), "case {i}");
            assert!(e.detail.unwrap().len() <= super::super::MAX_DETAIL_BYTES + 3);
        }
        // Nothing answered at all.
        let e = evaluate(&EvmChecks::default(), b"[]", NOW);
        assert_eq!(e.verdict.business, Check::Fail(FailReason::Missing));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("0x0")), Some(0));
        assert_eq!(quantity(&json!("0x00")), Some(0));
        assert_eq!(quantity(&json!("0x1b4")), Some(436));
        assert_eq!(quantity(&json!("0x0000000000000000000001")), Some(1));
        assert_eq!(quantity(&json!("0xffffffffffffffff")), Some(u64::MAX));
        for bad in [
            json!("0x"),
            json!("1b4"),
            json!("0x+1"),
            json!("0x1_0"),
            json!("0x10000000000000000"),
            json!(5),
            json!("0XFF"),
        ] {
            assert_eq!(quantity(&bad), None, "{bad}");
        }
        assert_eq!(hash32(&json!(HASH)), Some(HASH.to_ascii_lowercase()));
        assert_eq!(hash32(&json!("0x12")), None);
        assert_eq!(hash32(&json!(format!("0x{}", "g".repeat(64)))), None);
    }

    #[test]
    fn long_error_messages_are_bounded() {
        let mut b = healthy(1, 7, 1);
        b[0] =
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "é".repeat(10_000)}});
        let d = eval(&b).detail.unwrap();
        assert!(d.len() <= super::super::MAX_DETAIL_BYTES + 3, "{}", d.len());
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = evaluate(&checks(), &body, NOW);
        }

        #[test]
        fn never_panics_on_shuffled_batches(
            chain in any::<u64>(), number in any::<u64>(), ts in any::<u64>(),
            order in Just([0usize, 1, 2]).prop_shuffle(), drop in 0usize..4, now in any::<u64>(),
        ) {
            let full = [ok(1, json!(hex(chain))), ok(2, json!(hex(number))), ok(3, block(number, ts))];
            let batch: Vec<Value> = order.iter().filter(|&&i| i != drop).map(|&i| full[i].clone()).collect();
            let e = evaluate(&checks(), Value::Array(batch).to_string().as_bytes(), now);
            prop_assert_eq!(e.verdict.schema == Check::Pass, drop == 3);
            if drop == 3 || drop == 1 {
                prop_assert_eq!(e.facts.evm.map(|h| (h.chain_id, h.number, h.timestamp_s)), Some((chain, number, ts)));
            }
        }
    }
}
