//! Typed configuration errors that name the offending key and value.
//!
//! A leaf of the crate: the configuration and every part that validates its
//! own piece of it (the books, the quality checks) report into [`Errors`]
//! without knowing one another. The public path is
//! [`config::Errors`](crate::config::Errors).
//!
//! An error echoes what was written, and what was written may be a 10 MB
//! string: every echo goes through [`clip`], which keeps the first
//! [`ECHO_LIMIT`] characters and says how long the whole was
//! (`"aaaa…… (10485762 bytes)"`). Values are clipped when an error is
//! recorded ([`Errors::push`], [`ConfigError::new`]) and again when it is
//! displayed, so an error built by hand cannot flood a terminal either;
//! quoted runs inside messages (serde quotes the value it could not read)
//! are clipped the same way by [`clip_message`].

use std::borrow::Cow;
use std::fmt;

/// Longest echo of a value, in characters, before it is clipped.
pub const ECHO_LIMIT: usize = 120;

/// Room for the `… (N bytes)` a clipped echo ends with (at most 30
/// characters): a value this much longer than [`ECHO_LIMIT`] is still
/// shown whole, so that clipping twice changes nothing.
const SLACK: usize = 32;

/// Longest message, in characters, once its quoted runs are clipped.
const MESSAGE_LIMIT: usize = 8 * ECHO_LIMIT;

/// `s` whole when it is short; otherwise its first [`ECHO_LIMIT`]
/// characters, `…` and its size in bytes.
pub fn clip(s: &str) -> Cow<'_, str> {
    clip_at(s, ECHO_LIMIT)
}

fn clip_at(s: &str, limit: usize) -> Cow<'_, str> {
    if s.chars().nth(limit + SLACK).is_none() {
        return Cow::Borrowed(s);
    }
    match s.char_indices().nth(limit) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes)", &s[..cut], s.len())),
    }
}

/// `message` with every quoted run (`"…"`, with backslash escapes, or
/// `` `…` ``) longer than [`ECHO_LIMIT`] clipped, and the whole clipped
/// if it is still very long.
pub fn clip_message(message: &str) -> Cow<'_, str> {
    if message.chars().nth(ECHO_LIMIT).is_none() {
        return Cow::Borrowed(message);
    }
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, b) in body.bytes().enumerate() {
            if escaped {
                escaped = false;
            } else if b == b'\\' && quote == b'"' {
                escaped = true;
            } else if b == quote {
                end = Some(i);
                break;
            }
        }
        let inner = &body[..end.unwrap_or(body.len())];
        out.push_str(&clip(inner));
        match end {
            Some(i) => {
                out.push(quote as char);
                rest = &body[i + 1..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    Cow::Owned(clip_at(&out, MESSAGE_LIMIT).into_owned())
}

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

impl ConfigError {
    /// An error at `key`, its echoed `value` and `message` clipped.
    pub fn new(key: &str, value: Option<String>, message: &str) -> ConfigError {
        ConfigError {
            key: clip(key).into_owned(),
            value: value.map(|v| match clip(&v) {
                Cow::Borrowed(_) => v,
                Cow::Owned(c) => c,
            }),
            message: clip_message(message).into_owned(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = clip(&self.key);
        let message = clip_message(&self.message);
        match &self.value {
            Some(v) => write!(f, "{key} = {}: {message}", clip(v)),
            None => write!(f, "{key}: {message}"),
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
        self.0.push(ConfigError::new(
            key,
            Some(format!("{value:?}")),
            &message.into(),
        ));
    }

    /// Records a problem with `key` that has no single value (a missing
    /// key, a relation between keys).
    pub fn push_key(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigError::new(key, None, &message.into()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_echoes_are_clipped() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(200);
        let c = clip(&long);
        assert!(c.starts_with(&"é".repeat(ECHO_LIMIT)), "{c}");
        assert!(c.ends_with("… (400 bytes)"), "{c}");
        // Quoted runs in a message, with escapes; the rest stays.
        let msg = format!(
            "invalid value: string \"{}\\\"{}\", expected `{}`",
            "a".repeat(300),
            "b".repeat(10),
            "c".repeat(300)
        );
        let m = clip_message(&msg);
        assert!(m.starts_with("invalid value: string \"aaa"), "{m}");
        assert!(m.contains("… (312 bytes)\", expected `ccc"), "{m}");
        assert!(m.ends_with("… (300 bytes)`"), "{m}");
        // Clipping is idempotent, so display may clip again.
        assert_eq!(clip_message(&m), m);
        let e = ConfigError::new("k", Some(format!("{:?}", "x".repeat(1000))), &msg);
        assert!(e.to_string().len() < 1_000, "{e}");
        assert_eq!(e.to_string(), ConfigError { ..e.clone() }.to_string());
        // An error built by hand is clipped when shown.
        let raw = ConfigError {
            key: "k".into(),
            value: Some("v".repeat(10_000)),
            message: "m".repeat(10_000),
        };
        assert!(raw.to_string().len() < 2_000);
    }
}
