//! The OpenAPI 3.0 description of the API, served at `GET /openapi.json`
//! and checked in as `/openapi.json` (a test keeps the two identical).
//!
//! Written by hand from small builders rather than one giant `json!`
//! literal (which would exceed the macro recursion limit); object keys are
//! emitted sorted, so the text does not depend on `serde_json` features.

use super::routes::{MAX_PATH, MAX_QUERY};
use serde_json::{json, Map, Value};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable_ref(name: &str) -> Value {
    json!({ "allOf": [schema_ref(name)], "nullable": true })
}

fn t(kind: &str, description: &str) -> Value {
    json!({ "type": kind, "description": description })
}

fn nullable(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("nullable".into(), Value::Bool(true));
    }
    v
}

fn int(description: &str) -> Value {
    json!({ "type": "integer", "format": "int64", "minimum": 0, "description": description })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn enumeration(values: &[&str], description: &str) -> Value {
    json!({ "type": "string", "enum": values, "description": description })
}

/// An object schema; every property is required (nullable ones are marked
/// so), which is how the DTOs serialize.
fn object(description: &str, props: Vec<(&str, Value)>) -> Value {
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    let properties: Map<String, Value> =
        props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    json!({
        "type": "object",
        "description": description,
        "required": required,
        "properties": properties,
    })
}

const STEPS: &[&str] = &["normal", "alert", "prefer-free", "scale-down", "stop"];
const LIFECYCLES: &[&str] = &[
    "discovered",
    "testing",
    "active",
    "standby",
    "failed",
    "recovering",
];
const TRUST: &[&str] = &["untrusted", "testing", "trusted", "verified"];
const KINDS: &[&str] = &[
    "api", "database", "storage", "compute", "evm-rpc", "sentinel",
];
const METRICS: &[&str] = &[
    "requests",
    "egress-bytes",
    "compute-units",
    "storage-bytes",
    "writes",
    "invocations",
    "gas",
    "cost-nano-usd",
    "reads",
];

fn schemas_basic(s: &mut Map<String, Value>) {
    let mut add = |k: &str, v: Value| {
        s.insert(k.to_string(), v);
    };
    add(
        "Error",
        object(
            "Every error: `{\"error\": {\"code\", \"message\"}}` with the right HTTP status.",
            vec![(
                "error",
                json!({
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": t("string", "Stable kebab-case code: bad-request, bad-path, invalid-id, unauthorized, forbidden, not-found, unknown-service, not-attested, method-not-allowed, conflict, invalid-provider, unsupported-media-type, uri-too-long, payload-too-large, upstream-unavailable, upstream-limited, upstream-bad-data, internal, store-unavailable."),
                        "message": t("string", "What went wrong, for humans."),
                        "details": { "description": "Code-specific details: for invalid-provider an array of ErrorDetail, for not-attested a NotAttested object." }
                    }
                }),
            )],
        ),
    );
    add(
        "ErrorDetail",
        object(
            "One problem with a submitted provider.",
            vec![
                ("key", t("string", "Dotted path of the offending key.")),
                (
                    "value",
                    nullable(t("string", "The offending value as written.")),
                ),
                ("message", t("string", "What is wrong.")),
            ],
        ),
    );
    add(
        "Timestamp",
        object(
            "A moment, twice.",
            vec![
                ("unix_ms", int("Milliseconds since the Unix epoch.")),
                (
                    "rfc3339",
                    json!({ "type": "string", "format": "date-time", "description": "RFC 3339 UTC, millisecond precision." }),
                ),
            ],
        ),
    );
    add(
        "Score",
        object(
            "A score, twice.",
            vec![
                (
                    "bps",
                    json!({ "type": "integer", "minimum": 0, "maximum": 10000, "description": "Basis points (what is compared and signed)." }),
                ),
                (
                    "percent",
                    json!({ "type": "string", "pattern": "^[0-9]{1,3}\\.[0-9]{2}$", "example": "87.25" }),
                ),
            ],
        ),
    );
    add(
        "Money",
        object(
            "An amount, twice.",
            vec![
                ("nano_usd", int("Nano-USD (1e-9 USD).")),
                (
                    "usd",
                    json!({ "type": "string", "example": "12.50", "description": "Exact decimal USD." }),
                ),
            ],
        ),
    );
    add(
        "MonthCost",
        object(
            "This month's cost so far.",
            vec![
                ("total", schema_ref("Money")),
                ("variable", schema_ref("Money")),
                ("fixed", schema_ref("Money")),
            ],
        ),
    );
    add(
        "Reason",
        object(
            "Why a switch happened.",
            vec![
                (
                    "trigger",
                    enumeration(
                        &[
                            "initial",
                            "failed",
                            "budget-exhausted",
                            "untrusted",
                            "bad-data",
                            "latency",
                            "utilization",
                            "data-quality",
                            "performance",
                            "error-rate",
                            "better-alternative",
                            "throttled",
                        ],
                        "The trigger.",
                    ),
                ),
                (
                    "detail",
                    json!({ "description": "The reason with its numbers, externally tagged, e.g. {\"failed\":{\"consecutive_failures\":3,\"down_for_ms\":61000,\"cause\":\"timeout\"}} or \"initial\". A failure's cause is the probe outcome: timeout, refused, reset, http-NNN, too-large, blocked, protocol." }),
                ),
                (
                    "sentence",
                    t("string", "The same in words, e.g. \"prices-a answered 429 Too Many Requests 3 times in a row; Retry-After 60 s\"."),
                ),
                (
                    "cause",
                    nullable(t("string", "The cause within the trigger: timeout, refused, reset, http-NNN… for failed; throttled; freshness, business, schema or consistency for bad-data.")),
                ),
            ],
        ),
    );
    add(
        "LastProbe",
        object(
            "A provider's last probe.",
            vec![
                ("at", schema_ref("Timestamp")),
                (
                    "outcome",
                    json!({ "type": "string", "description": "ok, http-<status>, throttled, timeout, connect, too-large, blocked or protocol." }),
                ),
                (
                    "http_status",
                    nullable(t("integer", "The unexpected HTTP status.")),
                ),
                ("healthy", t("boolean", "Answered and passed its checks.")),
                ("latency_ms", int("Round-trip time.")),
                ("detail", nullable(t("string", "The first problem."))),
            ],
        ),
    );
    add(
        "Alert",
        object(
            "A firing alert.",
            vec![
                ("key", t("string", "What it is about.")),
                (
                    "severity",
                    enumeration(&["info", "warning", "critical"], "Severity."),
                ),
                ("since", schema_ref("Timestamp")),
                ("message", t("string", "What is wrong.")),
            ],
        ),
    );
}

fn provider_item_props() -> Vec<(&'static str, Value)> {
    vec![
        ("id", t("string", "Provider id.")),
        ("name", t("string", "Display name.")),
        ("service", t("string", "Its service.")),
        ("kind", enumeration(KINDS, "The service's kind.")),
        ("endpoint", t("string", "Base URL.")),
        (
            "routed",
            t("boolean", "Whether its service routes to it now."),
        ),
        (
            "status",
            enumeration(
                &["up", "down", "unknown", "throttled", "bad-data"],
                "How the last probe went: up; down (no usable answer); unknown (never probed); throttled (answered 429); bad-data (answered, but the data failed a check).",
            ),
        ),
        (
            "problem",
            nullable(t(
                "string",
                "What is wrong now, in words (null when healthy).",
            )),
        ),
        ("lifecycle", enumeration(LIFECYCLES, "Lifecycle stage.")),
        ("lifecycle_since", schema_ref("Timestamp")),
        ("trust", enumeration(TRUST, "Trust level.")),
        ("total", schema_ref("Score")),
        ("components", schema_ref("ComponentScores")),
        ("confidence", schema_ref("Score")),
        ("step", enumeration(STEPS, "Budget ladder step.")),
        ("max_utilization", schema_ref("Score")),
        ("consecutive_failures", int("Consecutive failed probes.")),
        ("last_probe", nullable_ref("LastProbe")),
    ]
}

fn schemas_providers(s: &mut Map<String, Value>) {
    let mut add = |k: &str, v: Value| {
        s.insert(k.to_string(), v);
    };
    add(
        "ProviderItem",
        object("A provider in the list.", provider_item_props()),
    );
    add(
        "ComponentScores",
        object(
            "Every reputation component's score (null: not applicable, no data of this kind; its weight goes to the others).",
            vec![
                ("uptime", nullable_ref("Score")),
                ("data_quality", nullable_ref("Score")),
                ("performance", nullable_ref("Score")),
                ("cost", nullable_ref("Score")),
                ("reliability", nullable_ref("Score")),
            ],
        ),
    );
    add(
        "ProviderList",
        object(
            "One page of providers, by service id then provider id.",
            vec![
                ("generated_at", schema_ref("Timestamp")),
                ("count", int("Providers on this page.")),
                ("matched", int("Providers matching the filters, on every page.")),
                ("limit", int("The limit applied.")),
                (
                    "next",
                    nullable(t(
                        "string",
                        "The cursor of the next page: pass it as `cursor` with the same filters. Null on the last page.",
                    )),
                ),
                ("providers", array(schema_ref("ProviderItem"))),
            ],
        ),
    );
    add(
        "Component",
        object(
            "One reputation component.",
            vec![
                (
                    "name",
                    enumeration(
                        &[
                            "uptime",
                            "data_quality",
                            "performance",
                            "cost",
                            "reliability",
                        ],
                        "Component.",
                    ),
                ),
                ("score", nullable_ref("Score")),
                ("weight_bps", int("Configured weight.")),
                ("effective_weight", schema_ref("Score")),
                (
                    "delta_bps",
                    nullable(t(
                        "integer",
                        "Change since the hourly snapshot (one to two hours back).",
                    )),
                ),
                (
                    "inputs",
                    json!({ "type": "object", "additionalProperties": { "type": "integer" }, "description": "The numbers it was computed from." }),
                ),
            ],
        ),
    );
    add(
        "Reputation",
        object(
            "Every component, the total and what moved it.",
            vec![
                ("total", schema_ref("Score")),
                ("raw_total", nullable_ref("Score")),
                ("confidence", schema_ref("Score")),
                ("prior", schema_ref("Score")),
                (
                    "previous_total",
                    nullable_ref("Score"),
                ),
                (
                    "compared_with",
                    nullable_ref("Timestamp"),
                ),
                (
                    "total_delta_bps",
                    nullable(t("integer", "Change of the total since the hourly snapshot it is compared with (one to two hours back).")),
                ),
                (
                    "moved_most",
                    nullable(t("string", "The component that moved most since then.")),
                ),
                ("components", array(schema_ref("Component"))),
            ],
        ),
    );
    add(
        "Quota",
        object(
            "A quota or the monthly money budget.",
            vec![
                (
                    "source",
                    enumeration(&["quota", "budget"], "Where it comes from."),
                ),
                ("metric", enumeration(METRICS, "What is counted.")),
                (
                    "period",
                    enumeration(&["minute", "hour", "day", "month"], "Period."),
                ),
                ("limit", int("The limit (nano-USD for the budget).")),
                ("used", int("Used this period.")),
                ("utilization", schema_ref("Score")),
                ("projected_used", int("Projected at the period's end.")),
                ("projected", schema_ref("Score")),
                ("period_end", schema_ref("Timestamp")),
                ("exhausts_at", nullable_ref("Timestamp")),
                ("alert_at", nullable_ref("Score")),
            ],
        ),
    );
    add(
        "Latency",
        object(
            "Latency quantiles.",
            vec![
                ("p50_ms", nullable(t("integer", "Median."))),
                ("p95_ms", nullable(t("integer", "95th percentile."))),
                ("p99_ms", nullable(t("integer", "99th percentile."))),
                ("samples", int("Samples (decayed).")),
                ("recent_ms", int("Recent moving average.")),
                ("target_ms", int("The service's target.")),
            ],
        ),
    );
    add(
        "WindowBucket",
        object(
            "Probe outcomes in one bucket.",
            vec![
                ("age", int("0 = current.")),
                ("start", schema_ref("Timestamp")),
                ("ok", int("Successful probes.")),
                ("error", int("Failed probes.")),
                ("timeout", int("Timed-out probes.")),
                ("throttled", int("Throttled probes.")),
                ("uptime", nullable_ref("Score")),
            ],
        ),
    );
    add(
        "History",
        object(
            "Uptime history, oldest first.",
            vec![
                ("daily", array(schema_ref("WindowBucket"))),
                ("hourly", array(schema_ref("WindowBucket"))),
            ],
        ),
    );
    let mut detail = provider_item_props();
    detail.extend([
        ("status_page", nullable(t("string", "Status page."))),
        (
            "declared",
            nullable(object(
                "What the provider's status page (Statuspage summary.json) declares, as last read: evidence against it only — an unresolved incident lowers its reliability, a maintenance within 10 minutes moves traffic; an operational page adds nothing.",
                vec![
                    ("asked", schema_ref("Timestamp")),
                    ("read", nullable_ref("Timestamp")),
                    ("current", t("boolean", "Whether the last read is recent enough to act on (3 read intervals).")),
                    ("indicator", nullable(t("string", "none, minor, major, critical or maintenance."))),
                    ("description", nullable(t("string", "The page's own words."))),
                    ("incidents", array(t("string", "An unresolved incident: impact (status): title."))),
                    ("maintenances", array(t("string", "A maintenance: title (status): from … to …."))),
                    ("error", nullable(t("string", "Why the last read failed."))),
                ],
            )),
        ),
        ("submitted", t("boolean", "Submitted at run time.")),
        ("routed_because", nullable_ref("Reason")),
        ("reputation", schema_ref("Reputation")),
        ("budget", array(schema_ref("Quota"))),
        ("cost_month", schema_ref("MonthCost")),
        ("latency", schema_ref("Latency")),
        ("history", schema_ref("History")),
        (
            "downtimes",
            array(object(
                "A downtime incident.",
                vec![
                    ("start", schema_ref("Timestamp")),
                    ("end", nullable_ref("Timestamp")),
                    ("duration_ms", int("Until now while still down.")),
                ],
            )),
        ),
        (
            "incidents",
            array(object(
                "An incident of any cause, kept after recovery.",
                vec![
                    ("start", schema_ref("Timestamp")),
                    ("end", nullable_ref("Timestamp")),
                    ("duration_ms", int("Until now while open.")),
                    ("duration", t("string", "The same for people.")),
                    (
                        "cause",
                        t("string", "A probe outcome (timeout, refused, reset, http-NNN, throttled…) or a failed data check (stale, wrong-chain, lagging, inconsistent…)."),
                    ),
                    ("kind", enumeration(&["down", "throttled", "bad-data"], "What kind.")),
                    ("probes", int("Unhealthy observations during it.")),
                    ("evidence", t("string", "The first observation's detail.")),
                ],
            )),
        ),
        (
            "timeline",
            array(object(
                "One half hour of the last 24 hours (only those with data).",
                vec![
                    ("at", schema_ref("Timestamp")),
                    ("lowest_total", nullable_ref("Score")),
                    ("p95_ms", nullable(int("p95 latency of its answers."))),
                    ("answers", int("Answers in it.")),
                ],
            )),
        ),
        (
            "flap_suppressed",
            t("boolean", "Suppressed by flap damping."),
        ),
        ("flap_count", int("Times penalised for flapping.")),
        ("attested_until", nullable_ref("Timestamp")),
        ("next_probe", nullable_ref("Timestamp")),
        (
            "vantages",
            array(object(
                "One sentinel's view of the provider: this one first, then its peers.",
                vec![
                    ("sentinel", t("string", "Sentinel id.")),
                    ("self", t("boolean", "Whether it is the sentinel answering.")),
                    ("reachable", t("boolean", "Whether it can be heard now.")),
                    ("status", enumeration(&["up", "down", "unknown"], "What it saw last.")),
                    ("at", nullable_ref("Timestamp")),
                    ("cause", nullable(t("string", "How it failed (refused, timeout, http-NNN…)."))),
                ],
            )),
        ),
        (
            "quorum",
            object(
                "The peers' quorum on a failure seen here.",
                vec![
                    (
                        "verdict",
                        enumeration(
                            &["healthy", "confirmed", "local-only", "waiting", "alone", "isolated"],
                            "healthy: not failing here; confirmed: the vantages that see it agree (acted on); local-only: a peer sees it answer (not acted on); waiting: for a peer to probe it; alone: no peer can say (acted on, audited); isolated: this sentinel suspects its own network (not acted on).",
                        ),
                    ),
                    ("sentence", t("string", "The verdict in words.")),
                ],
            ),
        ),
    ]);
    add(
        "ProviderDetail",
        object("Everything about one provider, and why.", detail),
    );
    add(
        "SubmitRequest",
        json!({
            "type": "object",
            "required": ["service", "provider"],
            "additionalProperties": false,
            "properties": {
                "service": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$", "description": "The service to join." },
                "provider": {
                    "type": "object",
                    "required": ["id", "endpoint"],
                    "description": "A provider configuration, as in the config file's [[service.provider]] (id, name, endpoint, probe, limits, cost, …); it is validated like the config file, and the endpoint must pass the same target checks as probes (422 names every problem).",
                    "properties": {
                        "id": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$", "description": "Provider id, not yet taken." },
                        "name": t("string", "Display name."),
                        "endpoint": { "type": "string", "format": "uri", "description": "Base URL (http or https)." }
                    }
                }
            }
        }),
    );
    add(
        "SubmitAccepted",
        object(
            "A submission was accepted.",
            vec![
                ("id", t("string", "Provider id.")),
                (
                    "lifecycle",
                    enumeration(&["discovered"], "Where it starts."),
                ),
                ("location", t("string", "Where to follow it.")),
                ("message", t("string", "What happens next.")),
            ],
        ),
    );
    add(
        "NotAttested",
        object(
            "Details of a not-attested error.",
            vec![
                ("provider", t("string", "Provider id.")),
                ("trust", enumeration(TRUST, "Trust level.")),
                ("total", schema_ref("Score")),
                ("confidence", schema_ref("Score")),
                ("attested_until", nullable_ref("Timestamp")),
            ],
        ),
    );
}

fn schemas_routing(s: &mut Map<String, Value>) {
    let mut add = |k: &str, v: Value| {
        s.insert(k.to_string(), v);
    };
    add(
        "Pending",
        object(
            "A switch waiting for its canary.",
            vec![
                ("to", t("string", "Candidate.")),
                ("reason", schema_ref("Reason")),
                ("proposed_at", schema_ref("Timestamp")),
                ("deadline", schema_ref("Timestamp")),
                (
                    "canary",
                    enumeration(&["pending", "passed", "failed"], "The canary's verdict."),
                ),
            ],
        ),
    );
    add(
        "Route",
        object(
            "Where a service's traffic goes, since when and why.",
            vec![
                ("service", t("string", "Service.")),
                ("kind", enumeration(KINDS, "Kind.")),
                ("description", t("string", "From the config.")),
                ("active", nullable(t("string", "The active provider."))),
                ("active_name", nullable(t("string", "Its display name."))),
                ("endpoint", nullable(t("string", "Its endpoint."))),
                ("since", schema_ref("Timestamp")),
                ("reason", nullable_ref("Reason")),
                ("switches", int("Switches so far.")),
                ("pending", nullable_ref("Pending")),
                ("proxy_path", t("string", "The failover proxy's path.")),
                (
                    "health",
                    enumeration(&["ok", "degraded", "down"], "ok: the active provider serves and is healthy; degraded: requests go elsewhere first, or the active provider is suspect; down: no provider can serve."),
                ),
                ("health_detail", t("string", "Why, in words.")),
                (
                    "serving",
                    array(t("string", "The providers the proxy tries now, in order.")),
                ),
                ("providers", array(t("string", "Provider id."))),
            ],
        ),
    );
    add(
        "Switch",
        object(
            "A completed switch.",
            vec![
                ("seq", int("Global sequence number.")),
                ("at", schema_ref("Timestamp")),
                ("service", t("string", "Service.")),
                ("from", nullable(t("string", "Previous provider."))),
                ("to", t("string", "New provider.")),
                ("reason", schema_ref("Reason")),
            ],
        ),
    );
    add(
        "SwitchList",
        object(
            "Switch history, newest first.",
            vec![
                ("count", int("Returned.")),
                ("recorded", int("Kept in the bounded history.")),
                ("limit", int("The limit applied.")),
                ("switches", array(schema_ref("Switch"))),
            ],
        ),
    );
    add(
        "Budget",
        object(
            "Usage, projection, budget and ladder step per provider and for the sentinel.",
            vec![
                ("generated_at", schema_ref("Timestamp")),
                (
                    "providers",
                    array(object(
                        "A provider's budget.",
                        vec![
                            ("id", t("string", "Provider.")),
                            ("service", t("string", "Service.")),
                            ("step", enumeration(STEPS, "Ladder step.")),
                            ("cost_month", schema_ref("MonthCost")),
                            (
                                "usage_month",
                                object(
                                    "Month-to-date usage: probes and proxied traffic together.",
                                    vec![
                                        (
                                            "requests",
                                            t("integer", "Requests, writes and invocations."),
                                        ),
                                        ("bytes", t("integer", "Egress and storage bytes.")),
                                        ("compute_units", t("integer", "Compute units and gas.")),
                                    ],
                                ),
                            ),
                            ("quotas", array(schema_ref("Quota"))),
                        ],
                    )),
                ),
                (
                    "sentinel",
                    object(
                        "The sentinel's own footprint.",
                        vec![
                            ("sentinel", t("string", "Sentinel id.")),
                            ("step", enumeration(STEPS, "Ladder step.")),
                            ("cost_month", schema_ref("MonthCost")),
                            ("quotas", array(schema_ref("Quota"))),
                        ],
                    ),
                ),
                ("total_cost_month", schema_ref("Money")),
            ],
        ),
    );
    add(
        "Health",
        object(
            "Liveness and version.",
            vec![
                ("status", enumeration(&["ok"], "Always ok when answering.")),
                ("version", t("string", "Build version.")),
                ("sentinel", t("string", "Sentinel id.")),
                ("revision", int("State revision.")),
                ("last_decide", nullable_ref("Timestamp")),
                ("now", schema_ref("Timestamp")),
                ("services", int("Services.")),
                ("providers", int("Providers.")),
                ("alerts_firing", int("Alerts firing.")),
            ],
        ),
    );
    add(
        "ObservationList",
        object(
            "This sentinel's recent observations, oldest first.",
            vec![
                ("sentinel", t("string", "Sentinel id.")),
                ("generated_at", schema_ref("Timestamp")),
                ("count", int("Returned.")),
                (
                    "observations",
                    array(json!({
                        "type": "object",
                        "description": "sentinel_core::probe::Observation: provider, at, purpose, outcome, latency_ms, bytes, verdict, facts, detail."
                    })),
                ),
                (
                    "routes",
                    json!({
                        "type": "object",
                        "description": "This sentinel's routes by service id, for its peers to reconcile with.",
                        "additionalProperties": object("A route.", vec![
                            ("active", t("string", "The provider routed to.")),
                            ("since", int("Since when (Unix ms).")),
                        ]),
                    }),
                ),
            ],
        ),
    );
    add(
        "PeerList",
        object(
            "This sentinel's peers.",
            vec![
                ("sentinel", t("string", "The sentinel answering.")),
                ("isolated", t("boolean", "Whether it suspects its own network (no peer and few providers reachable).")),
                (
                    "peers",
                    array(object(
                        "A peer sentinel, checked and read at every tick.",
                        vec![
                            ("id", t("string", "Its sentinel id.")),
                            ("url", t("string", "Its base URL.")),
                            ("status", enumeration(&["up", "down", "unknown"], "down: failed quorum.peer_down_after health checks in a row.")),
                            ("last_ok", nullable_ref("Timestamp")),
                            ("down_since", nullable_ref("Timestamp")),
                            ("cause", nullable(t("string", "Why its last check failed."))),
                            ("uptime", nullable(t("string", "Good health checks, percent."))),
                            ("latency_ms", int("Round trip of its last good check.")),
                            ("last_read", nullable_ref("Timestamp")),
                            ("read_error", nullable(t("string", "Why the last read of its observations failed."))),
                            ("observations_read", int("Observations read from it so far.")),
                            ("providers_seen", int("Providers it has a view of.")),
                        ],
                    )),
                ),
            ],
        ),
    );
    let trial = json!({
        "type": "object",
        "description": "One catalog candidate's trial for a service (or a person's veto).",
        "required": ["at", "service", "candidate", "outcome"],
        "properties": {
            "at": { "type": "string", "description": "When (RFC 3339)." },
            "service": { "type": "string", "description": "The service." },
            "candidate": { "type": "string", "description": "The catalog entry: the provider id it gets." },
            "outcome": { "type": "string", "enum": ["onboarded", "rejected", "vetoed"], "description": "What came of it." },
            "total": { "type": "integer", "minimum": 0, "maximum": 10000, "description": "Onboarded: its initial reputation total, basis points (the catalog's prior, barely moved by one sample)." },
            "confidence": { "type": "integer", "minimum": 0, "maximum": 10000, "description": "Onboarded: the confidence in that total, basis points." },
            "latency_ms": { "type": "integer", "minimum": 0, "description": "Onboarded: the trial probe's latency." },
            "reason": { "type": "string", "description": "Rejected: why (the failed check with its evidence, or the probe's outcome)." }
        }
    });
    add("Trial", trial);
    add(
        "DiscoveryReport",
        object(
            "What one discovery run did for a service.",
            vec![
                ("service", t("string", "The service.")),
                ("trials", array(schema_ref("Trial"))),
                (
                    "skipped",
                    array(object(
                        "A catalog entry that could have fit and was not tried.",
                        vec![
                            ("candidate", t("string", "The entry.")),
                            ("reason", t("string", "Why (vetoed, excluded, already configured, a template value missing, failed recently, limits).")),
                        ],
                    )),
                ),
            ],
        ),
    );
    add(
        "Discovery",
        object(
            "Discovery's settings and record.",
            vec![
                ("enabled", t("boolean", "Whether the tick discovers by itself ([discovery] enabled).")),
                ("interval_s", int("How often a service is discovered for, seconds.")),
                ("max_trials", int("Candidates tried per run.")),
                ("max_testing", int("Discovered providers in testing per service before discovery stops adding.")),
                ("retry_after_s", int("Seconds before a rejected candidate is tried again.")),
                (
                    "services",
                    array(object(
                        "A service's discovery.",
                        vec![
                            ("id", t("string", "The service.")),
                            ("configured", t("boolean", "Whether the tick discovers for it ([service.discovery]).")),
                            ("last_run", nullable(t("string", "Its last run (RFC 3339)."))),
                        ],
                    )),
                ),
                (
                    "onboarded",
                    array(object(
                        "A provider discovery onboarded.",
                        vec![
                            ("id", t("string", "The provider.")),
                            ("lifecycle", nullable(enumeration(LIFECYCLES, "Its lifecycle now (null: no longer in the state)."))),
                            ("veto", t("string", "The request that vetoes it.")),
                        ],
                    )),
                ),
                ("vetoed", array(t("string", "A vetoed catalog id."))),
                ("trials", array(schema_ref("Trial"))),
            ],
        ),
    );
    add(
        "DashboardData",
        json!({
            "type": "object",
            "description": "What the dashboard refreshes from, summary first and bounded whatever the number of providers: the sentinel, totals (services by route health, providers by status, alerts firing), at most 100 services (those with a problem first) each with its active provider, route health, counts and first unhealthy providers, at most 50 providers (not healthy first, then routed), at most 50 alerts, the 20 latest switches, the footprint, the peer sentinels (as in GET /v1/peers) and whether this one suspects its own network (isolated), and pre-rendered, escaped HTML fragments by element id. A provider's detail is GET /v1/providers/{id}."
        }),
    );
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema_ref(schema) } }
    })
}

fn error_response(description: &str) -> Value {
    json_response(description, "Error")
}

fn responses(ok: (&str, Value), errors: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    m.insert(ok.0.to_string(), ok.1);
    for (code, d) in errors {
        m.insert((*code).to_string(), error_response(d));
    }
    Value::Object(m)
}

/// The proxy's answers. Whatever the upstream answers is passed through
/// (`default`: any status, any content type, any body). The statuses the
/// sentinel also answers itself are listed with both shapes, because a
/// provider may answer them too: a provider's `404` is not an
/// `unknown-service`, and a client tells them apart by
/// `x-sentinel-attempts`, present only on a passed-through answer.
fn proxy_responses() -> Value {
    let header = |description: &str, kind: &str| json!({ "description": description, "schema": { "type": kind } });
    let upstream = json!({
        "description": "The upstream provider's answer, passed through: any status, any content type, its body as is (hop-by-hop headers removed).",
        "headers": {
            "x-sentinel-provider": header("The provider that answered.", "string"),
            "x-sentinel-attempts": header("How many providers were tried for this request, the one that answered included.", "integer"),
        },
        "content": { "*/*": { "schema": {} } }
    });
    let mut m = Map::new();
    m.insert("default".into(), upstream);
    let own = [
        ("400", "The sentinel's refusal of a hostile path or an invalid service id (bad-path, invalid-id)"),
        ("404", "No such service (unknown-service)"),
        ("413", "The request body is over the limit (payload-too-large)"),
        ("414", "The path or the query string is too long (uri-too-long)"),
        ("502", "Every provider failed (upstream-unavailable), or every answer failed the service's data checks (upstream-bad-data); to a JSON-RPC call, a JSON-RPC error per call (-32002)"),
        ("503", "No usable provider (upstream-unavailable), or every provider is throttled or out of quota (upstream-limited, with retry-after); to a JSON-RPC call, a JSON-RPC error per call (-32005 when limited, -32002 otherwise)"),
    ];
    for (code, own) in own {
        m.insert(
            code.into(),
            json!({
                "description": format!("{own}: the sentinel's own answer, without x-sentinel-attempts. Or the upstream's {code}, passed through like any other answer."),
                "content": { "*/*": { "schema": {
                    "anyOf": [schema_ref("Error"), { "description": "The upstream's answer, or a JSON-RPC error." }]
                } } }
            }),
        );
    }
    Value::Object(m)
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" }
    })
}

fn get(op_id: &str, tag: &str, summary: &str, params: Vec<Value>, resp: Value) -> Value {
    json!({ "get": {
        "operationId": op_id, "tags": [tag], "summary": summary,
        "parameters": params, "responses": resp
    }})
}

fn paths() -> Map<String, Value> {
    let mut p = Map::new();
    let bad_id = ("400", "Invalid id or hostile path.");
    p.insert(
        "/healthz".into(),
        get(
            "health",
            "sentinel",
            "Liveness, version, state revision and last decision time.",
            vec![],
            responses(("200", json_response("Alive.", "Health")), &[]),
        ),
    );
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let provider_filters = vec![
        query(
            "service",
            "Only this service's providers (400 if no such service).",
            json!({ "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" }),
        ),
        query(
            "status",
            "Only providers with this status.",
            json!({ "type": "string", "enum": ["up", "down", "unknown", "throttled", "bad-data"] }),
        ),
        query(
            "lifecycle",
            "Only providers in this lifecycle stage.",
            json!({ "type": "string", "enum": LIFECYCLES }),
        ),
        query(
            "routed",
            "Only the providers their service routes to (true), or the others (false).",
            json!({ "type": "boolean" }),
        ),
        query(
            "cursor",
            "Start after this provider: the `next` of the previous page.",
            json!({ "type": "string" }),
        ),
        query(
            "limit",
            "At most this many (default 100).",
            json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 100 }),
        ),
    ];
    let mut providers = get(
        "listProviders",
        "providers",
        "A page of providers, by service then id: status, lifecycle, trust, the reputation total and every component, budget step, last probe. Filter by service, status, lifecycle and routed; page with limit and cursor (the answer's next). Unknown or repeated parameters are refused.",
        provider_filters.clone(),
        responses(
            ("200", json_response("The providers.", "ProviderList")),
            &[("400", "A bad query parameter (the message names it).")],
        ),
    );
    if let Some(o) = providers.as_object_mut() {
        o.insert(
            "post".into(),
            json!({
                "operationId": "submitProvider", "tags": ["providers"],
                "summary": "Submit a provider; it enters as discovered and goes through testing before it can be routed to.",
                "security": [{ "bearer": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": schema_ref("SubmitRequest") } } },
                "responses": responses(
                    ("201", json_response("Accepted; `location` names the provider.", "SubmitAccepted")),
                    &[
                        ("400", "The body is not the expected JSON."),
                        ("401", "No bearer token."),
                        ("403", "Wrong bearer token, or no token configured."),
                        ("404", "Unknown service."),
                        ("409", "The id is taken."),
                        ("413", "The body is over the limit (payload-too-large)."),
                        ("415", "The body is not JSON."),
                        ("422", "The provider is invalid; details lists every problem."),
                    ],
                ),
            }),
        );
    }
    p.insert("/v1/providers".into(), providers);
    let id_query = |name: &str, description: &str| {
        json!({
            "name": name, "in": "query", "required": true, "description": description,
            "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" }
        })
    };
    let mut discovery = get(
        "getDiscovery",
        "discovery",
        "What discovery did: its settings, per service whether the tick discovers for it and its last run, the providers it onboarded (with their lifecycle now), the vetoed catalog ids, and the latest trials (newest first) with each outcome's score or reason.",
        vec![],
        responses(("200", json_response("Discovery's record.", "Discovery")), &[]),
    );
    if let Some(o) = discovery.as_object_mut() {
        o.insert(
            "post".into(),
            json!({
                "operationId": "runDiscovery", "tags": ["discovery"],
                "summary": "Discover providers for a service now: the catalog's candidates that fit it are probed once each, through the same checks as any probe and compared with the service's providers; those that pass are onboarded into testing. Answers with every trial and every entry not tried, with why.",
                "security": [{ "bearer": [] }],
                "parameters": [id_query("service", "The service.")],
                "responses": responses(
                    ("200", json_response("The run's report.", "DiscoveryReport")),
                    &[
                        ("400", "No service, or a bad id."),
                        ("401", "No bearer token."),
                        ("403", "Wrong bearer token, or no token configured."),
                        ("404", "Unknown service."),
                        ("503", "The outcome could not be committed; retry."),
                    ],
                ),
            }),
        );
    }
    p.insert("/v1/discovery".into(), discovery);
    p.insert(
        "/v1/discovery/veto".into(),
        json!({ "post": {
            "operationId": "vetoDiscovered", "tags": ["discovery"],
            "summary": "A person's veto of a provider discovery onboarded: it is removed (its state and route go) and never onboarded again.",
            "security": [{ "bearer": [] }],
            "parameters": [id_query("provider", "The provider discovery onboarded.")],
            "responses": responses(
                ("200", json_response("The veto, as a trial.", "Trial")),
                &[
                    ("400", "No provider, or a bad id."),
                    ("401", "No bearer token."),
                    ("403", "Wrong bearer token, or no token configured."),
                    ("409", "Not a provider discovery onboarded (not-discovered)."),
                    ("503", "The veto could not be committed; retry."),
                ],
            ),
        }}),
    );
    p.insert(
        "/v1/providers/{id}".into(),
        get(
            "getProvider",
            "providers",
            "One provider: status, lifecycle, trust, every reputation component with its inputs and what moved, utilization and budget, latency, uptime history, last probe, and why it is routed.",
            vec![path_param("id", "Provider id.")],
            responses(
                ("200", json_response("The provider.", "ProviderDetail")),
                &[bad_id, ("404", "No such provider.")],
            ),
        ),
    );
    p.insert(
        "/v1/services/{service}/route".into(),
        get(
            "getRoute",
            "services",
            "The active provider and endpoint, since when, why, and any pending switch.",
            vec![path_param("service", "Service id.")],
            responses(
                ("200", json_response("The route.", "Route")),
                &[bad_id, ("404", "No such service (unknown-service).")],
            ),
        ),
    );
    p.insert(
        "/v1/switches".into(),
        get(
            "listSwitches",
            "services",
            "Switch history with reasons, newest first.",
            vec![json!({
                "name": "limit", "in": "query", "required": false,
                "description": "How many (default 100).",
                "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 100 }
            })],
            responses(
                ("200", json_response("The switches.", "SwitchList")),
                &[("400", "Bad limit.")],
            ),
        ),
    );
    p.insert(
        "/v1/peers".into(),
        get(
            "listPeers",
            "sentinel",
            "This sentinel's peers: their health, when their observations were last read, and whether this sentinel suspects its own network.",
            vec![],
            responses(("200", json_response("The peers.", "PeerList")), &[]),
        ),
    );
    p.insert(
        "/v1/budget".into(),
        get(
            "getBudget",
            "budget",
            "Usage, projection, budget and ladder step per provider, and the sentinel's own footprint.",
            vec![],
            responses(("200", json_response("The budget.", "Budget")), &[]),
        ),
    );
    p.insert(
        "/v1/attestations/{id}".into(),
        get(
            "getAttestation",
            "trust",
            "The latest on-chain attestation of a provider: once this sentinel saw a record of it land, 200 with `anchored` (the record as anchored, its evidence report frozen when it landed with the report's canonical bytes — keccak256 of them is evidence_hash — the transaction and its block), the record it would sign for the current epoch, and `anchoring` (chain, contract, the transaction in flight, the last step's outcome, gas used). Otherwise 404 not-attested with the provider's trust and score in details, the record this sentinel would sign for the current epoch (provider_hash, score_bps, trust, epoch, expiry, evidence_hash) with its evidence report, and `anchoring` (null when no [chain] is configured).",
            vec![path_param("id", "Provider id.")],
            responses(
                (
                    "200",
                    json!({ "description": "The attestation, its evidence and the chain transaction (once the chain is configured).", "content": { "application/json": { "schema": { "type": "object" } } } }),
                ),
                &[
                    bad_id,
                    ("404", "No such provider (not-found), or not attested (not-attested)."),
                ],
            ),
        ),
    );
    let mut obs = get(
        "listObservations",
        "sentinel",
        "This sentinel's recent observations, for its peer.",
        vec![
            json!({ "name": "since", "in": "query", "required": false, "description": "Only observations after this Unix millisecond.", "schema": { "type": "integer", "minimum": 0 } }),
            json!({ "name": "limit", "in": "query", "required": false, "description": "At most this many, the newest.", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 1000 } }),
        ],
        responses(
            ("200", json_response("The observations.", "ObservationList")),
            &[
                ("400", "Bad query."),
                ("401", "No bearer token, or a peer request whose signature, timestamp or nonce is refused (the message says which)."),
                ("403", "Wrong bearer token, or no token configured."),
            ],
        ),
    );
    if let Some(g) = obs.get_mut("get").and_then(Value::as_object_mut) {
        g.insert("security".into(), json!([{ "bearer": [] }, { "peer": [] }]));
    }
    p.insert("/v1/observations".into(), obs);
    let record_schema = json!({
        "type": "object",
        "required": ["provider", "score_bps", "trust", "epoch", "expiry_s", "evidence"],
        "properties": {
            "provider": { "type": "string" },
            "score_bps": { "type": "integer", "minimum": 0, "maximum": 10000 },
            "trust": { "type": "integer", "minimum": 0, "maximum": 3 },
            "epoch": { "type": "integer", "minimum": 0 },
            "expiry_s": { "type": "integer", "minimum": 0 },
            "evidence": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 }, "minItems": 32, "maxItems": 32 }
        }
    });
    p.insert(
        "/v1/attestations/cosign".into(),
        json!({ "post": {
            "operationId": "cosign", "tags": ["trust"],
            "summary": "A peer sentinel asks this one to co-sign a batch of attestation records (or a revocation) for the chain and contract both anchor on. Signed only if, for every record, this sentinel's own view agrees: its epoch (or the one before), the provider in service here, the score within chain.tolerance_bps of its own and the trust level the score earns. Peers only (x-sentinel-* request signature).",
            "security": [{ "peer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["chain_id", "contract", "ask"],
                "properties": {
                    "chain_id": { "type": "integer", "minimum": 1 },
                    "contract": { "type": "string", "pattern": "^0x[0-9a-fA-F]{40}$" },
                    "ask": { "oneOf": [
                        { "type": "object", "required": ["kind", "records"], "properties": { "kind": { "type": "string", "enum": ["batch"] }, "records": { "type": "array", "minItems": 1, "maxItems": 1024, "items": record_schema } } },
                        { "type": "object", "required": ["kind", "provider", "epoch"], "properties": { "kind": { "type": "string", "enum": ["revoke"] }, "provider": { "type": "string" }, "epoch": { "type": "integer", "minimum": 0 } } }
                    ] }
                }
            } } } },
            "responses": {
                "200": { "description": "The EIP-712 signature (r ‖ s ‖ v, low s) and the signer's address.", "content": { "application/json": { "schema": {
                    "type": "object", "required": ["signer", "signature"],
                    "properties": { "signer": { "type": "string" }, "signature": { "type": "string" } }
                } } } },
                "400": { "description": "Not a co-signing request.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "401": { "description": "Not a peer, or a peer request whose signature, timestamp or nonce is refused (the message says which).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "409": { "description": "Refused: another chain or contract (wrong-domain), no [chain] here (not-anchoring), sending the same itself (already-sending, proposing-itself), or records it disagrees with (refused, each named with why).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "413": { "description": "The body is too large.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        } }),
    );
    let proxy_op = |method: &str| {
        json!({
            "operationId": format!("proxy{method}"), "tags": ["proxy"],
            "summary": "Forward to the service's active provider, failing over per request. The answer is the provider's, passed through: any status, any content type, its body as is, without hop-by-hop headers, with x-sentinel-provider and x-sentinel-attempts. Only when no provider answered does the sentinel answer itself, with its error shape (or, to a JSON-RPC call, a JSON-RPC error per call).",
            "parameters": [
                path_param("service", "Service id."),
                { "name": "path", "in": "path", "required": true, "description": "The rest of the path, forwarded as is (`.`/`..` segments are refused).", "schema": { "type": "string" } }
            ],
            "responses": proxy_responses(),
        })
    };
    let mut proxy = Map::new();
    // Exactly the methods the router forwards (others are 405).
    for m in super::routes::PROXIED {
        let lower = m.to_ascii_lowercase();
        let mut name = lower.clone();
        if let Some(first) = name.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        proxy.insert(lower, proxy_op(&name));
    }
    p.insert("/proxy/{service}/{path}".into(), Value::Object(proxy));
    let text_get = |op: &str, tag: &str, summary: &str, ctype: &str, d: &str| {
        json!({ "get": {
            "operationId": op, "tags": [tag], "summary": summary, "parameters": [],
            "responses": { "200": { "description": d, "content": { ctype: { "schema": { "type": "string" } } } } }
        }})
    };
    p.insert(
        "/metrics".into(),
        text_get(
            "metrics",
            "sentinel",
            "Prometheus metrics (text exposition format 0.0.4).",
            "text/plain; version=0.0.4",
            "Metrics.",
        ),
    );
    p.insert(
        "/".into(),
        text_get(
            "dashboard",
            "sentinel",
            "The dashboard: one self-contained HTML page, summary first (services, their active provider, what is wrong), that refreshes itself from /dashboard.json and loads a provider's card on demand.",
            "text/html",
            "The dashboard.",
        ),
    );
    let html_get = |op: &str, summary: &str, params: Vec<Value>, errors: Vec<(&str, &str)>| {
        let mut r = Map::new();
        r.insert(
            "200".into(),
            json!({ "description": "An HTML page or fragment.", "content": { "text/html": { "schema": { "type": "string" } } } }),
        );
        for (code, d) in errors {
            r.insert(code.into(), error_response(d));
        }
        json!({ "get": {
            "operationId": op, "tags": ["sentinel"], "summary": summary, "parameters": params,
            "responses": r
        }})
    };
    p.insert(
        "/dashboard/providers".into(),
        html_get(
            "dashboardProviders",
            "The dashboard's provider list: a page of providers with their reputation components, with the filters and cursor of GET /v1/providers.",
            provider_filters,
            vec![("400", "A bad query parameter (the message names it).")],
        ),
    );
    p.insert(
        "/dashboard/providers/{id}".into(),
        html_get(
            "dashboardProvider",
            "One provider's page on the dashboard: its card (every reputation component, budget, latency, uptime history, downtimes, last probe).",
            vec![path_param("id", "Provider id.")],
            vec![bad_id, ("404", "No such provider.")],
        ),
    );
    let mut card = html_get(
        "dashboardProviderCard",
        "One provider's card as an escaped HTML fragment, which the dashboard loads when a person opens the provider (404 with an HTML fragment for an unknown provider).",
        vec![path_param("id", "Provider id.")],
        vec![bad_id],
    );
    if let Some(r) = card
        .pointer_mut("/get/responses")
        .and_then(Value::as_object_mut)
    {
        r.insert(
            "404".into(),
            json!({ "description": "No such provider: an HTML fragment saying so, shown in the card's place.", "content": { "text/html": { "schema": { "type": "string" } } } }),
        );
    }
    p.insert("/dashboard/providers/{id}/card".into(), card);
    p.insert(
        "/dashboard.json".into(),
        get(
            "dashboardData",
            "sentinel",
            "The data the dashboard refreshes from.",
            vec![],
            responses(
                ("200", json_response("Dashboard data.", "DashboardData")),
                &[],
            ),
        ),
    );
    p.insert(
        "/openapi.json".into(),
        get(
            "openapi",
            "sentinel",
            "This document.",
            vec![],
            responses(
                (
                    "200",
                    json!({ "description": "OpenAPI 3.0.", "content": { "application/json": { "schema": { "type": "object" } } } }),
                ),
                &[],
            ),
        ),
    );
    // The router refuses an overlong path or query before any route: every
    // operation may answer 414 (the proxy's says so with both shapes).
    for op in p.values_mut().filter_map(Value::as_object_mut) {
        for responses in op
            .values_mut()
            .filter_map(|o| o.get_mut("responses"))
            .filter_map(Value::as_object_mut)
        {
            responses.entry("414").or_insert_with(|| {
                error_response(&format!(
                    "The path (over {MAX_PATH} bytes) or the query string (over {MAX_QUERY} bytes) is too long (uri-too-long)."
                ))
            });
        }
    }
    p
}

/// Rebuilds every object with its keys inserted in sorted order, so the
/// output is the same with or without `serde_json/preserve_order`.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The OpenAPI document as a value.
pub fn openapi() -> Value {
    let mut schemas = Map::new();
    schemas_basic(&mut schemas);
    schemas_providers(&mut schemas);
    schemas_routing(&mut schemas);
    let doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Bookkeeper Sentinel",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The same API is served by every sentinel shell (Cloudflare Worker, AWS Lambda, local binary). Errors are JSON {\"error\": {\"code\", \"message\"}}. Mutating routes and /v1/observations need a bearer token. Times are given as Unix milliseconds and RFC 3339, scores as basis points and percent strings."
        },
        "tags": [
            { "name": "sentinel" }, { "name": "providers" }, { "name": "services" },
            { "name": "budget" }, { "name": "trust" }, { "name": "proxy" }, { "name": "discovery" }
        ],
        "paths": Value::Object(paths()),
        "components": {
            "schemas": Value::Object(schemas),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "The sentinel's API token." },
                "peer": { "type": "apiKey", "in": "header", "name": "x-sentinel-signature", "description": "A peer sentinel's HMAC-SHA-256 signature (with x-sentinel-peer, x-sentinel-timestamp and x-sentinel-nonce) under the secret the two share; see README § Two clouds, one view." }
            }
        }
    });
    sorted(doc)
}

/// The checked-in `openapi.json`, as served: the test
/// `checked_in_document_matches` keeps it identical to [`openapi_json`],
/// and serving the text rather than building it keeps the builders (a
/// tenth of the Worker's bundle) out of the shells.
pub const OPENAPI_JSON: &str = include_str!("../../../openapi.json");

/// The OpenAPI document, pretty-printed with a final newline: exactly the
/// checked-in `openapi.json`.
pub fn openapi_json() -> String {
    let mut s = serde_json::to_string_pretty(&openapi()).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_document_matches() {
        let checked_in = include_str!("../../../openapi.json");
        assert!(
            checked_in == openapi_json(),
            "openapi.json is out of date: regenerate it with \
             `cargo test -p sentinel-core --test openapi write_openapi -- --ignored`"
        );
    }

    #[test]
    fn every_ref_resolves_and_every_route_is_described() {
        let doc = openapi();
        let text = openapi_json();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
        for route in [
            "/healthz",
            "/v1/providers",
            "/v1/providers/{id}",
            "/v1/services/{service}/route",
            "/v1/switches",
            "/v1/budget",
            "/v1/attestations/{id}",
            "/v1/observations",
            "/v1/peers",
            "/v1/discovery",
            "/v1/discovery/veto",
            "/proxy/{service}/{path}",
            "/metrics",
            "/",
            "/dashboard.json",
            "/dashboard/providers",
            "/dashboard/providers/{id}",
            "/dashboard/providers/{id}/card",
            "/openapi.json",
        ] {
            assert!(doc["paths"].get(route).is_some(), "{route} undocumented");
        }
        assert_eq!(doc["openapi"], "3.0.3");
    }

    #[test]
    fn every_operation_documents_the_routers_refusals() {
        let doc = openapi();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                assert!(
                    op["responses"].get("414").is_some(),
                    "{method} {path}: no 414"
                );
            }
        }
        let proxied: Vec<String> = super::super::routes::PROXIED
            .iter()
            .map(|m| m.to_ascii_lowercase())
            .collect();
        let documented: Vec<&String> = doc["paths"]["/proxy/{service}/{path}"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(documented.len(), proxied.len());
        assert!(documented.iter().all(|m| proxied.contains(m)));
    }

    #[test]
    fn the_proxy_documents_pass_through_answers() {
        let doc = openapi();
        let ops = doc["paths"]["/proxy/{service}/{path}"].as_object().unwrap();
        assert_eq!(ops.len(), 7, "every method");
        for (method, op) in ops {
            let r = &op["responses"];
            // Any status, any content type, any body: the upstream's.
            assert_eq!(
                r["default"]["content"]["*/*"]["schema"],
                json!({}),
                "{method}"
            );
            assert!(r["default"]["headers"].get("x-sentinel-attempts").is_some());
            // A status the sentinel answers itself accepts its error shape
            // and the upstream's answer (a provider's 404 is no Error).
            for code in ["400", "404", "413", "414", "502", "503"] {
                let any = &r[code]["content"]["*/*"]["schema"]["anyOf"];
                assert_eq!(any[0], schema_ref("Error"), "{method} {code}");
                assert!(any[1].get("type").is_none(), "{method} {code}");
                assert!(r[code]["content"].get("application/json").is_none());
            }
        }
    }

    #[test]
    fn the_provider_list_documents_its_page_and_filters() {
        let doc = openapi();
        let op = &doc["paths"]["/v1/providers"]["get"];
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "service",
                "status",
                "lifecycle",
                "routed",
                "cursor",
                "limit"
            ]
        );
        assert!(op["responses"].get("400").is_some());
        let list = &doc["components"]["schemas"]["ProviderList"]["properties"];
        for k in ["count", "matched", "limit", "next", "providers"] {
            assert!(list.get(k).is_some(), "ProviderList.{k}");
        }
        let item = &doc["components"]["schemas"]["ProviderItem"]["properties"];
        assert!(item.get("components").is_some());
        let comps = &doc["components"]["schemas"]["ComponentScores"]["properties"];
        for c in [
            "uptime",
            "data_quality",
            "performance",
            "cost",
            "reliability",
        ] {
            assert!(comps.get(c).is_some(), "{c}");
        }
    }
}
