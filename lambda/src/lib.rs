//! Bookkeeper Sentinel on AWS Lambda: an EventBridge schedule and a
//! Function URL over the shared host layer, with its state in DynamoDB.
//!
//! - [`store::DynamoStore`]: the [`sentinel_core::tick::Store`] over
//!   DynamoDB (single-table design, conditional writes, chunked state,
//!   TTLs, the usage journal, delivery claims);
//! - [`settings`]: the environment and the free tier the footprint is
//!   booked against;
//! - [`app::App`]: the handler, one plain async function for both events;
//! - `main.rs` only wires.

pub mod app;
pub mod settings;
pub mod store;

/// The SDK, for callers that build their own client (tests, tools).
pub use aws_sdk_dynamodb;
