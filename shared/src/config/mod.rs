//! Configuration: services, providers, probes, limits, costs, weights and
//! thresholds, read from TOML or JSON.
//!
//! Everything has a documented default (the seed design's numbers), unknown
//! keys are rejected, and [`Config::validate`] reports every problem with
//! the key and value that caused it.
mod error;
mod load;
mod model;
mod resolve;
mod validate;

pub use error::{join, ConfigError, Errors};
pub use model::*;
pub use resolve::effective_probe;
pub use validate::check_endpoint;

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}
