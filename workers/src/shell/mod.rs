//! The wasm32 shell: the runtime's bindings behind the shared traits.

pub mod entry;
pub mod ledger;
pub mod log;
pub mod outbound;
pub mod store;
