//! The local Bookkeeper Sentinel: the shell that runs the shared core on
//! one machine with an embedded store, a real HTTP client and an HTTP
//! server. `main.rs` only wires these together.
#![forbid(unsafe_code)]

// Enabled once the shared API lands (parallel work):
// pub mod demo;
// pub mod runner;
// pub mod server;
// pub mod status;
pub mod testbed;
