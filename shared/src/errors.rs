//! Typed configuration errors that name the offending key and value.
//!
//! A leaf of the crate: the configuration and every part that validates its
//! own piece of it (the books, the quality checks) report into [`Errors`]
//! without knowing one another. The public path is
//! [`config::Errors`](crate::config::Errors).

use std::fmt;

/// One problem in a configuration: where (`key`, a dotted path such as
/// `services.eth-mainnet.providers.llamarpc.probe.timeout`), what was there
/// (`value`, when there was one) and what is wrong (`message`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Dotted path of the offending key.
    pub key: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
    /// What is wrong and, where possible, what would be right.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} = {}: {}", self.key, v, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Collects every problem of a configuration instead of stopping at the
/// first, so `sentinel check` can print them all at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    /// Records a problem with `key` whose value is `value`.
    pub fn push(&mut self, key: &str, value: impl fmt::Debug, message: impl Into<String>) {
        self.0.push(ConfigError {
            key: key.to_string(),
            value: Some(format!("{value:?}")),
            message: message.into(),
        });
    }

    /// Records a problem with `key` that has no single value (a missing
    /// key, a relation between keys).
    pub fn push_key(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigError {
            key: key.to_string(),
            value: None,
            message: message.into(),
        });
    }

    /// Checks `cond`; when it fails records `message` against `key`/`value`.
    pub fn check(&mut self, cond: bool, key: &str, value: impl fmt::Debug, message: &str) {
        if !cond {
            self.push(key, value, message);
        }
    }

    /// Whether no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Joins a parent key and a child segment: `join("a.b", "c") == "a.b.c"`.
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}
