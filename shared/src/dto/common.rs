//! The value conventions every body shares: a [`Timestamp`] (Unix
//! milliseconds and RFC 3339), a [`Score`] (basis points and a percent
//! string), [`Money`] (nano-USD and a decimal USD string) and a
//! [`ReasonDto`] (a switch's trigger and its numbers).

use crate::books::money::NANO_PER_USD;
use crate::switcher::Reason;
use crate::time::{rfc3339, UnixMillis};
use crate::Bps;
use serde::{Deserialize, Serialize};

/// A moment, twice: Unix milliseconds and RFC 3339 UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: UnixMillis,
    /// The same moment as RFC 3339 UTC, millisecond precision.
    pub rfc3339: String,
}

impl Timestamp {
    /// The timestamp of `t`.
    pub fn at(t: UnixMillis) -> Timestamp {
        Timestamp {
            unix_ms: t,
            rfc3339: rfc3339(t),
        }
    }

    /// `None` for 0 (never), the timestamp otherwise.
    pub fn nonzero(t: UnixMillis) -> Option<Timestamp> {
        (t > 0).then(|| Timestamp::at(t))
    }
}

/// A score, twice: basis points and a percent string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Basis points, 0..=10000.
    pub bps: u16,
    /// Percent with two decimals, e.g. `"87.25"`.
    pub percent: String,
}

impl From<Bps> for Score {
    fn from(b: Bps) -> Score {
        Score {
            bps: b.get(),
            percent: b.to_string(),
        }
    }
}

/// An amount of money, twice: integer nano-USD and a decimal USD string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Nano-USD (10⁻⁹ USD).
    pub nano_usd: u64,
    /// The same in USD, exact, at least two decimals (`"12.50"`,
    /// `"0.0000004"`).
    pub usd: String,
}

impl Money {
    /// `nano` nano-USD.
    pub fn nano(nano: u64) -> Money {
        Money {
            nano_usd: nano,
            usd: usd_string(nano),
        }
    }
}

/// Exact decimal USD of `nano` nano-USD, at least two decimals.
pub fn usd_string(nano: u64) -> String {
    let whole = nano / NANO_PER_USD;
    let frac = format!("{:09}", nano % NANO_PER_USD);
    let trimmed = frac.trim_end_matches('0');
    let frac = if trimmed.len() < 2 {
        &frac[..2]
    } else {
        trimmed
    };
    format!("{whole}.{frac}")
}

/// Why a switch happened (or is pending).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReasonDto {
    /// The trigger's kebab-case name (`failed`, `latency`, …).
    pub trigger: String,
    /// The cause within the trigger, when it has one: how the probes
    /// failed (`timeout`, `refused`, `reset`, `http-503`, …), `throttled`,
    /// or the data check that failed (`freshness`, `business`, `schema`,
    /// `consistency`).
    pub cause: Option<String>,
    /// The reason as the core records it, with its numbers, e.g.
    /// `{"failed":{"consecutive_failures":3,"down_for_ms":61000,"cause":"timeout"}}`.
    pub detail: serde_json::Value,
    /// The same in words, for people ([`crate::words`]).
    pub sentence: String,
}

impl ReasonDto {
    /// The reason, its sentence about `subject` (the provider it concerns).
    pub fn about(r: &Reason, subject: &str) -> ReasonDto {
        ReasonDto {
            trigger: r.name().to_string(),
            cause: match r {
                Reason::Failed { cause, .. } => cause.map(|o| o.name()),
                Reason::Throttled { .. } => Some("throttled".into()),
                Reason::BadData { check, .. } => Some(check.clone()),
                _ => None,
            },
            detail: serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
            sentence: crate::words::sentence(r, subject),
        }
    }
}

impl From<&Reason> for ReasonDto {
    fn from(r: &Reason) -> ReasonDto {
        ReasonDto::about(r, "the provider")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_scores_render_exactly() {
        assert_eq!(usd_string(0), "0.00");
        assert_eq!(usd_string(400), "0.0000004");
        assert_eq!(usd_string(12_500_000_000), "12.50");
        assert_eq!(usd_string(1_234_567_891), "1.234567891");
        assert_eq!(usd_string(u64::MAX), "18446744073.709551615");
        let s = Score::from(Bps::new(8725));
        assert_eq!((s.bps, s.percent.as_str()), (8725, "87.25"));
        let t = Timestamp::at(0);
        assert_eq!(t.rfc3339, "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::nonzero(0), None);
    }

    #[test]
    fn reasons_carry_their_trigger_and_numbers() {
        let r = ReasonDto::about(
            &Reason::Failed {
                consecutive_failures: 3,
                down_for_ms: 61_000,
                cause: Some(crate::probe::Outcome::Reset),
            },
            "a",
        );
        assert_eq!(r.trigger, "failed");
        assert_eq!(r.cause.as_deref(), Some("reset"));
        assert_eq!(r.detail["failed"]["consecutive_failures"], 3);
        assert_eq!(r.detail["failed"]["cause"], "reset");
        assert_eq!(
            r.sentence,
            "a reset the connection mid-answer 3 times in a row; down for 61 s"
        );
        assert_eq!(ReasonDto::from(&Reason::Initial).detail, "initial");
    }
}
