//! Decisions in words: one sentence a person understands for every switch
//! reason, beside the machine-readable form the API keeps.
//!
//! "prices-a answered 429 Too Many Requests 3 times in a row; Retry-After
//! 60 s" says what `{"throttled":{"consecutive":3,"retry_after_s":60}}`
//! means. Percentages are written as people read them (`81.3%`), times in
//! the largest sensible unit.

use crate::switcher::Reason;
use crate::Bps;

/// A duration for people: `45 s`, `12 min`, `3 h 5 min`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=5_999 => format!("{} min", s / 60),
        _ => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {m} min")
            }
        }
    }
}

/// Basis points as a percentage people read: `81.3%`, `100%`.
pub fn percent(b: Bps) -> String {
    let v = u32::from(b.get());
    if v % 100 == 0 {
        format!("{}%", v / 100)
    } else {
        format!("{}.{}%", v / 100, (v % 100) / 10)
    }
}

fn times(n: u32) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times in a row"),
    }
}

/// What a failing data check means, for sentences.
pub fn check_phrase(check: &str) -> &'static str {
    match check {
        "freshness" => "served stale data",
        "business" => "served wrong data (a business rule or the chain id did not hold)",
        "schema" => "answered in an unexpected shape",
        "consistency" => "disagreed with the other providers (inconsistent or lagging data)",
        _ => "failed a data check",
    }
}

/// The sentence for `reason`, about `subject` (the provider switched away
/// from, or the service when there was none).
pub fn sentence(reason: &Reason, subject: &str) -> String {
    match reason {
        Reason::Initial => format!("{subject} had no provider routed yet"),
        Reason::Failed {
            consecutive_failures,
            down_for_ms,
            cause,
        } => {
            let what = cause.map_or_else(|| "failed its probes".to_string(), |c| c.phrase());
            format!(
                "{subject} {what} {}; down for {}",
                times(*consecutive_failures),
                duration(*down_for_ms)
            )
        }
        Reason::Throttled {
            consecutive,
            retry_after_s,
        } => {
            let mut s = format!(
                "{subject} answered 429 Too Many Requests {}",
                times(*consecutive)
            );
            if let Some(r) = retry_after_s {
                s.push_str(&format!("; Retry-After {}", duration(r.saturating_mul(1000))));
            }
            s
        }
        Reason::BudgetExhausted { utilization } => format!(
            "{subject} used {} of a quota or budget: the ladder's stop step",
            percent(*utilization)
        ),
        Reason::BudgetPressure { utilization, .. } => format!(
            "{subject} used {} of a quota or budget: traffic moves before the 100% stop",
            percent(*utilization)
        ),
        Reason::StatusPage { what, .. } => format!(
            "{subject}'s status page declares a {what}: traffic moves before it hits"
        ),
        Reason::Reconciled { peer } => format!(
            "peer sentinel {peer} routed here later than this one decided; its decision is adopted so both route the same way"
        ),
        Reason::Untrusted { total } => format!(
            "{subject}'s reputation fell to {} (untrusted)",
            percent(*total)
        ),
        Reason::BadData { consecutive, check } => format!(
            "{subject} {} {}",
            check_phrase(check),
            times(*consecutive)
        ),
        Reason::Latency {
            recent_ms,
            baseline_ms,
            factor,
        } => format!(
            "{subject} answered in {recent_ms} ms (median of its recent answers), over {factor}× its usual {baseline_ms} ms and over the target"
        ),
        Reason::Utilization { utilization, max } => format!(
            "{subject} used {} of a quota (traffic moves above {})",
            percent(*utilization),
            percent(*max)
        ),
        Reason::DataQuality { score, min } => format!(
            "{subject}'s data quality over the last 2 hours is {}, under {}",
            percent(*score),
            percent(*min)
        ),
        Reason::Performance { score, min } => format!(
            "{subject}'s performance score is {}, under {}",
            percent(*score),
            percent(*min)
        ),
        Reason::ErrorRate { rate, max } => format!(
            "{subject} failed {} of its recent probes (more than {})",
            percent(*rate),
            percent(*max)
        ),
        Reason::BetterAlternative { current, candidate } => format!(
            "another provider scores {} against {subject}'s {}, clearly better",
            percent(*candidate),
            percent(*current)
        ),
    }
}

/// What is wrong with a provider now, in one sentence (`None` when its
/// last probe was healthy): "answered 429 Too Many Requests 3 times in a
/// row; Retry-After 60 s", "served stale data twice: latest block 1234
/// …". Without the provider's name: the caller shows it beside.
pub fn problem(ps: &crate::state::ProviderState) -> Option<String> {
    let detail = ps
        .last
        .as_ref()
        .and_then(|l| l.detail.as_deref())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    if ps.consecutive_failures > 0 {
        let (what, n) = match ps.streak_cause {
            Some((o, n)) => (o.phrase(), n),
            None => ("failed its probes".to_string(), ps.consecutive_failures),
        };
        return Some(format!("{what} {}{detail}", times(n)));
    }
    if ps.consecutive_bad > 0 {
        let check = ps.bad_check.as_deref().unwrap_or_default();
        return Some(format!(
            "{} {}{detail}",
            check_phrase(check),
            times(ps.consecutive_bad)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Outcome;

    #[test]
    fn each_cause_reads_differently() {
        let failed = |cause| Reason::Failed {
            consecutive_failures: 3,
            down_for_ms: 45_000,
            cause: Some(cause),
        };
        let hang = sentence(&failed(Outcome::Timeout), "prices-a");
        let reset = sentence(&failed(Outcome::Reset), "prices-a");
        let refused = sentence(&failed(Outcome::Connect), "prices-a");
        let http = sentence(&failed(Outcome::Status(503)), "prices-a");
        assert_eq!(
            hang,
            "prices-a did not answer in time (a hang) 3 times in a row; down for 45 s"
        );
        assert!(reset.contains("reset the connection"), "{reset}");
        assert!(refused.contains("refused the connection"), "{refused}");
        assert!(http.contains("HTTP 503 Service Unavailable"), "{http}");
        let throttled = Reason::Throttled {
            consecutive: 3,
            retry_after_s: Some(60),
        };
        assert_eq!(
            sentence(&throttled, "prices-a"),
            "prices-a answered 429 Too Many Requests 3 times in a row; Retry-After 60 s"
        );
        let util = Reason::Utilization {
            utilization: Bps::new(8_134),
            max: Bps::new(8_000),
        };
        assert_eq!(
            sentence(&util, "a"),
            "a used 81.3% of a quota (traffic moves above 80%)"
        );
    }

    #[test]
    fn durations_and_percentages() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(119_999), "119 s");
        assert_eq!(duration(600_000), "10 min");
        assert_eq!(duration(3 * 3_600_000), "3 h");
        assert_eq!(duration(3 * 3_600_000 + 300_000), "3 h 5 min");
        assert_eq!(percent(Bps::MAX), "100%");
        assert_eq!(percent(Bps::new(5)), "0.0%");
        assert_eq!(percent(Bps::new(9_950)), "99.5%");
    }
}
