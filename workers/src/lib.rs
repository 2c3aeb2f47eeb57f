//! Bookkeeper Sentinel as a Cloudflare Worker (workers-rs, wasm32).
//!
//! The same core, the same host layer and the same HTTP API as the local
//! binary: this crate only implements the host layer's traits over the
//! runtime and wires its two events to the shared entry points.
//!
//! - `scheduled` (the cron in `wrangler.toml`): open the state from KV,
//!   book the usage journal, run one tick ([`sentinel_core::host::Host::scheduled`]:
//!   the due probes within [`settings::PROBE_BUDGET`] subrequests, routed
//!   providers first; the rest stays due for the next tick), commit, then
//!   deliver alerts.
//! - `fetch`: the API, the dashboard, `/metrics`, submissions and the proxy
//!   with per-request failover ([`sentinel_core::host::Host::handle`]); the
//!   invocation and the proxied usage go to the journal after the answer.
//!
//! Storage: the state, the observations peers read and the recent audit
//! live in one KV key ([`sentinel_core::host::kv`]: one write per
//! committing tick, last writer wins with merge, so overlapping ticks lose
//! nothing and apply a switch once). What fetch invocations book between
//! ticks goes to a SQLite-backed Durable Object (`shell::ledger`, wasm32
//! only), because KV's 1,000 writes a day cannot take one per request.
//!
//! The sentinel's own KV writes and invocations are booked against the
//! plan's limits ([`settings::Plan`]) and the core paces its commits to
//! stay inside them.
//!
//! Only [`settings`] and [`fetch_error`] build natively (they are pure and
//! tested with `cargo test`); the shell is wasm32-only.

pub mod fetch_error;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod shell;

#[cfg(target_arch = "wasm32")]
#[worker::event(start)]
fn start() {
    shell::log::init();
}
