//! The local Bookkeeper Sentinel: the shell that runs the shared core on
//! one machine with an embedded store, the native HTTP client and an HTTP
//! server. Everything that is not I/O lives in `sentinel-core`'s host
//! layer; `main.rs` only wires these together.
#![forbid(unsafe_code)]
// `clippy.toml` forbids clocks to keep the core sans-IO; a shell owns the
// clock and hands `now` to the core.
#![allow(clippy::disallowed_methods)]

pub mod clock;
pub mod demo;
pub mod discover;
pub mod runner;
pub mod server;
pub mod status;
pub mod store;
pub mod testbed;
pub mod verify;
