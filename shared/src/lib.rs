//! # sentinel-core
//!
//! The sans-IO heart of Bookkeeper Sentinel, shared by the Cloudflare
//! Worker, the AWS Lambda and the local `sentinel` binary.
//!
//! The core never performs I/O, never reads a clock and never draws from a
//! global random source: time comes in as `now` (Unix milliseconds), and
//! randomness, where needed, as a seeded RNG argument. It builds for
//! `wasm32-unknown-unknown` and native targets and gives the same integer
//! results on both.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod action;
pub mod anchor;
pub mod api;
pub mod attest;
pub mod books;
pub mod chain;
pub mod config;
pub mod dashboard;
pub mod discovery;
mod dto;
pub mod encoded;
pub mod engine;
mod errors;
pub mod flap;
pub mod histogram;
pub mod host;
pub mod ids;
pub mod incident;
pub mod lifecycle;
pub mod metrics;
pub mod outbox;
pub mod peer;
pub mod probe;
pub mod proxy;
pub mod quality;
pub mod recent;
pub mod reputation;
pub mod route;
pub mod score;
pub mod secret;
#[cfg(feature = "test-utils")]
pub mod sim;
pub mod state;
pub mod statuspage;
pub mod switcher;
pub mod tick;
pub mod time;
pub mod timeline;
pub mod window;
pub mod words;

pub use action::{Action, Decision};
pub use engine::Engine;
pub use ids::{Kind, ProviderId, SentinelId, ServiceId};
pub use score::Bps;
pub use state::State;
pub use time::{Span, UnixMillis};
