//! Bookkeeper Sentinel on AWS Lambda: an EventBridge schedule and a
//! Function URL over the shared host layer, with its state in DynamoDB.
//!
//! Built so far: [`store::DynamoStore`], the [`sentinel_core::tick::Store`]
//! over DynamoDB (single-table design, conditional writes, chunked state,
//! TTLs), tested against moto's DynamoDB server with the store
//! conformance suite every shell's store passes.

pub mod store;
