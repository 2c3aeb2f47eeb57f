//! Configuration: services, providers, probes, limits, costs, weights and
//! thresholds, read from TOML or JSON.
//!
//! Everything has a documented default (the seed design's numbers), unknown
//! keys are rejected, durations need a unit, and reading a config
//! ([`Config::from_toml`], [`Config::from_json`]) reports every problem of
//! a syntactically valid document at once — wrong types and values as
//! well as what [`Config::validate`] finds — each with the key (and line)
//! that caused it and the value, clipped, that was there (see `load`).
mod advice;
pub mod db_api;
mod load;
mod model;
mod proxy;
mod resolve;
mod validate;

pub use crate::errors::{join, ConfigError, Errors};
pub use advice::{Advice, WARN_SHARE_PERCENT};
pub use model::*;
pub use proxy::{Access, ProxySettings};
pub use resolve::effective_probe;
pub use validate::{check_endpoint, is_db_endpoint, DB_SCHEMES};
