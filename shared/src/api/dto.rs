//! The response bodies of the HTTP API, and how each is built from the
//! engine.
//!
//! Field names are snake_case and stable: they are a contract with every
//! client (and with `openapi.json`). Conventions:
//! * times are a [`Timestamp`], both Unix milliseconds and RFC 3339;
//! * scores are a [`Score`], both basis points (an integer, what is signed
//!   and compared) and a percent string with two decimals (`"87.25"`);
//! * money is [`Money`], integer nano-USD and a decimal USD string;
//! * reasons are a [`ReasonDto`], the trigger's name and the reason itself
//!   as the core serializes it.
//!
//! Every body is `Serialize` and `Deserialize`: a client reads an answer
//! back into the type the sentinel wrote it from.
//!
//! The dashboard and the Prometheus metrics are built from these same
//! types, so the three views of the state cannot disagree; the types
//! therefore live in a module of the crate below all three, and this
//! module is their public face.

pub use crate::dto::*;
