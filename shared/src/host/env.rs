//! Reading a shell's environment the same way in every shell (the local
//! binary's variables, a Worker's vars and secrets, a Lambda's
//! environment): comma-separated lists, positive whole numbers, the
//! credential key. Pure: the shell passes the value it read.

use crate::secret::SecretKey;

/// A comma-separated list, trimmed, empty items dropped (unset: empty).
pub fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A non-empty trimmed value, or `None` (unset or blank).
pub fn text(value: Option<String>) -> Option<String> {
    value
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A whole number above 0 (`_` separators allowed); unset or blank gives
/// `default`. The error says what was wrong, not the variable's name (the
/// caller knows it).
pub fn positive(value: Option<String>, default: u64) -> Result<u64, String> {
    match value.map(|v| v.trim().replace('_', "")) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("`{v}` is not a whole number above 0")),
        },
    }
}

/// The credential key: 64 hex digits or base64 of 32 bytes; unset or
/// blank gives `None`. The error never echoes the value (it is a secret).
pub fn secret_key(value: Option<String>) -> Result<Option<SecretKey>, String> {
    match text(value) {
        None => Ok(None),
        Some(k) => if k.len() == 64 {
            SecretKey::from_hex(&k)
        } else {
            SecretKey::from_base64(&k)
        }
        .map(Some)
        .map_err(|e| format!("not a 32-byte key in base64 or 64 hex digits: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lists_numbers_and_keys() {
        assert_eq!(list(Some(" a, b,,".into())), ["a", "b"]);
        assert!(list(None).is_empty());
        assert_eq!(text(Some("  ".into())), None);
        assert_eq!(positive(Some("1_000".into()), 5), Ok(1_000));
        assert_eq!(positive(None, 5), Ok(5));
        assert!(positive(Some("0".into()), 5).is_err());
        assert!(positive(Some("lots".into()), 5)
            .unwrap_err()
            .contains("lots"));
        assert!(secret_key(Some("00".repeat(32))).unwrap().is_some());
        let e = secret_key(Some("not-a-key-value".into())).unwrap_err();
        assert!(!e.contains("not-a-key-value"), "{e}");
    }
}
