//! Reading a configuration from TOML or JSON.
//!
//! Deserialization goes through `serde_path_to_error`, so a type error or an
//! unknown key is reported with the full path of the key
//! (`service[0].provider[1].probe.timeout`), and then [`Config::validate`]
//! checks everything serde cannot: relations between keys, ranges, regexes.

use super::{Config, ConfigError, Errors};

impl Config {
    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Config, Errors> {
        let de = toml::Deserializer::new(text);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.span().map(|s| line_of(text, s.start));
            parse_error(path, line, inner.message())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses and validates a JSON configuration.
    pub fn from_json(text: &str) -> Result<Config, Errors> {
        let mut de = serde_json::Deserializer::from_str(text);
        let cfg: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = (inner.line() > 0).then_some(inner.line());
            let msg = inner.to_string();
            // serde_json appends " at line L column C"; we print the line once.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            parse_error(path, line, &msg)
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses by file name: `.json` as JSON, anything else as TOML.
    pub fn from_named(name: &str, text: &str) -> Result<Config, Errors> {
        if name.ends_with(".json") {
            Config::from_json(text)
        } else {
            Config::from_toml(text)
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

fn parse_error(path: String, line: Option<usize>, message: &str) -> Errors {
    // `serde_path_to_error` writes a map key it could not read as `?`
    // (`budgets.monthly_usd.?` for an unknown kind); name the map instead,
    // the message says which key was wrong.
    let mut path = path.as_str();
    while let Some(parent) = path.strip_suffix(".?") {
        path = parent;
    }
    let key = if path.is_empty() || path == "." || path == "?" {
        "(document)".to_string()
    } else {
        path.to_string()
    };
    let message = match line {
        Some(l) => format!("{message} (line {l})"),
        None => message.to_string(),
    };
    Errors(vec![ConfigError {
        key,
        value: None,
        message: message.trim().to_string(),
    }])
}
