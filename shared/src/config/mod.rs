//! Configuration: services, providers, probes, limits, costs, weights and
//! thresholds, read from TOML or JSON.
//!
//! Everything has a documented default (the seed design's numbers), unknown
//! keys are rejected, and [`Config::validate`] reports every problem with
//! the key and value that caused it.
mod advice;
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
pub use validate::check_endpoint;
