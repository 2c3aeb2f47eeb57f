//! The error body every endpoint answers with when it refuses or fails:
//! `{"error": {"code", "message", "details"}}`.

use serde::{Deserialize, Serialize};

/// The error body: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// An error: a stable machine-readable code and a message for humans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable kebab-case code (`not-found`, `unauthorized`, …).
    pub code: String,
    /// What went wrong and, where possible, what to do.
    pub message: String,
    /// Code-specific details (for `invalid-provider`: every problem found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// One problem with a submitted provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Dotted path of the offending key.
    pub key: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
}
