//! Configuration: services, providers, probes, limits, costs, weights and
//! thresholds, read from TOML or JSON.
mod error;
pub use error::{join, ConfigError, Errors};
