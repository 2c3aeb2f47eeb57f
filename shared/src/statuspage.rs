//! What providers declare about themselves on their status pages.
//!
//! Many providers publish an Atlassian Statuspage-compatible page; its
//! public API's `/api/v2/summary.json` carries, in one document, the
//! page's overall indicator (`none`, `minor`, `major`, `critical`), the
//! unresolved incidents with their impact, and the scheduled maintenances
//! that are upcoming or in progress with their windows
//! (<https://developer.statuspage.io/>, "Public API"; the same shape is
//! served by statuspage.io pages and by compatible hosts such as
//! instatus and Cachet adapters).
//!
//! The sentinel reads it for providers with a `status_page`, every
//! `status_page_interval`, with what the tick's probe budget has left, and
//! uses it one way only: as evidence *against* a provider. A declared
//! incident lowers the reliability component (minor 10 %, major 25 %,
//! critical 50 % of it, while unresolved); a maintenance window on the
//! routed provider that starts within [`MAINTENANCE_LEAD`] (or is under
//! way) is a reason to move traffic before it begins, and a provider in
//! or near one is not switched to. A page that says "all operational"
//! never outweighs our own failed probes: it adds nothing, and a page that
//! cannot be read is noted and ignored.

use crate::time::{parse_rfc3339, UnixMillis, MINUTE};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A maintenance starting within this long moves traffic now.
pub const MAINTENANCE_LEAD: UnixMillis = 10 * MINUTE;
/// Incidents and maintenances kept per provider.
pub const KEEP: usize = 5;
/// Longest name kept, in bytes.
const MAX_NAME: usize = 120;
/// A declaration older than this many read intervals is not acted on (the
/// page stopped answering; its last word is no longer news).
pub const STALE_AFTER_INTERVALS: u64 = 3;

/// An impact, as Statuspage names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Impact {
    /// `none` (informational).
    None,
    /// `minor`.
    Minor,
    /// `major`.
    Major,
    /// `critical`.
    Critical,
    /// `maintenance` (the page's indicator during a window).
    Maintenance,
}

impl Impact {
    fn parse(s: &str) -> Impact {
        match s {
            "minor" => Impact::Minor,
            "major" => Impact::Major,
            "critical" => Impact::Critical,
            "maintenance" => Impact::Maintenance,
            _ => Impact::None,
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
            Impact::Maintenance => "maintenance",
        }
    }

    /// The reliability penalty of an unresolved incident of this impact,
    /// in basis points of the component.
    pub fn penalty(self) -> u32 {
        match self {
            Impact::Minor => 1_000,
            Impact::Major => 2_500,
            Impact::Critical => 5_000,
            Impact::None | Impact::Maintenance => 0,
        }
    }
}

/// An unresolved incident the provider declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredIncident {
    /// Its title.
    pub name: String,
    /// Its impact.
    pub impact: Impact,
    /// `investigating`, `identified`, `monitoring`.
    pub status: String,
    /// When it was opened.
    pub since: Option<UnixMillis>,
}

/// A scheduled maintenance, upcoming or under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// Its title.
    pub name: String,
    /// Its impact.
    pub impact: Impact,
    /// `scheduled`, `in_progress`, `verifying`.
    pub status: String,
    /// When it starts.
    pub starts: UnixMillis,
    /// When it is planned to end.
    pub ends: Option<UnixMillis>,
}

/// What a provider's status page said, when last read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// When it was read (successfully).
    pub at: UnixMillis,
    /// The page's overall indicator.
    pub indicator: Impact,
    /// Its description ("All Systems Operational").
    pub description: String,
    /// Unresolved incidents (at most [`KEEP`]).
    pub incidents: Vec<DeclaredIncident>,
    /// Upcoming and in-progress maintenances (at most [`KEEP`]), soonest
    /// first.
    pub maintenances: Vec<Maintenance>,
}

/// A page's status, read or not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageState {
    /// The last successful read.
    pub declared: Option<Declared>,
    /// When it was last asked (successfully or not).
    pub asked: UnixMillis,
    /// The last failure (when the last ask failed).
    pub error: Option<String>,
}

impl PageState {
    /// The declaration to act on at `now`: read within
    /// [`STALE_AFTER_INTERVALS`] intervals.
    pub fn current(&self, now: UnixMillis, interval: u64) -> Option<&Declared> {
        self.declared
            .as_ref()
            .filter(|d| now.saturating_sub(d.at) <= interval.saturating_mul(STALE_AFTER_INTERVALS))
    }

    /// Joins two replicas: the later read, the later ask.
    pub fn merge(&self, other: &PageState) -> PageState {
        let declared = match (&self.declared, &other.declared) {
            (Some(a), Some(b)) => Some(if b.at > a.at { b.clone() } else { a.clone() }),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        let (asked, error) = if other.asked > self.asked {
            (other.asked, other.error.clone())
        } else {
            (self.asked, self.error.clone())
        };
        PageState {
            declared,
            asked,
            error,
        }
    }
}

impl Declared {
    /// The reliability penalty of what is declared now, basis points of the
    /// component (the worst unresolved incident; 0 for "operational").
    pub fn penalty(&self) -> u32 {
        self.incidents
            .iter()
            .map(|i| i.impact.penalty())
            .max()
            .unwrap_or(0)
    }

    /// The maintenance under way or starting within [`MAINTENANCE_LEAD`],
    /// with how long until it starts (0: under way).
    pub fn maintenance_near(&self, now: UnixMillis) -> Option<(&Maintenance, u64)> {
        self.maintenances
            .iter()
            .filter(|m| m.ends.is_none_or(|e| e > now))
            .filter(|m| m.starts <= now.saturating_add(MAINTENANCE_LEAD))
            .map(|m| (m, m.starts.saturating_sub(now)))
            .min_by_key(|(_, t)| *t)
    }
}

/// The summary's URL for a status page's base URL.
pub fn summary_url(page: &str) -> String {
    format!("{}/api/v2/summary.json", page.trim_end_matches('/'))
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_NAME {
        return s.to_string();
    }
    let mut cut = MAX_NAME;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// Reads a `summary.json` read at `at`. A document that is not one is an
/// error with why; unknown fields are ignored (pages add their own).
pub fn parse_summary(body: &[u8], at: UnixMillis) -> Result<Declared, String> {
    // Read as a `Value` (the checks already parse every answer so) and
    // picked apart by hand: no deserializer of its own for the Worker's
    // bundle to carry.
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("not a Statuspage summary: {e}"))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let time = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).and_then(parse_rfc3339);
    let list = |key: &str| {
        doc.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let status = doc
        .get("status")
        .filter(|s| s.is_object())
        .ok_or_else(|| "not a Statuspage summary: no `status`".to_string())?;
    let mut incidents: Vec<DeclaredIncident> = list("incidents")
        .iter()
        .filter(|i| {
            !matches!(
                text(i, "status").as_str(),
                "resolved" | "postmortem" | "completed"
            )
        })
        .map(|i| DeclaredIncident {
            name: clip(&text(i, "name")),
            impact: Impact::parse(&text(i, "impact")),
            status: clip(&text(i, "status")),
            since: time(i, "created_at"),
        })
        .collect();
    incidents.sort_by(|a, b| b.impact.cmp(&a.impact).then(a.since.cmp(&b.since)));
    incidents.truncate(KEEP);
    let mut maintenances: Vec<Maintenance> = list("scheduled_maintenances")
        .iter()
        .filter(|m| {
            matches!(
                text(m, "status").as_str(),
                "scheduled" | "in_progress" | "verifying"
            )
        })
        .filter_map(|m| {
            Some(Maintenance {
                starts: time(m, "scheduled_for")?,
                ends: time(m, "scheduled_until"),
                name: clip(&text(m, "name")),
                impact: Impact::parse(&text(m, "impact")),
                status: clip(&text(m, "status")),
            })
        })
        .collect();
    maintenances.sort_by_key(|m| m.starts);
    maintenances.truncate(KEEP);
    Ok(Declared {
        at,
        indicator: Impact::parse(&text(status, "indicator")),
        description: clip(&text(status, "description")),
        incidents,
        maintenances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = 1_795_000_000_000;

    fn summary(incidents: &str, maintenances: &str) -> String {
        format!(
            r#"{{"page": {{"id": "x", "name": "Example", "url": "https://status.example.com"}},
               "components": [], "status": {{"indicator": "major", "description": "Partial outage"}},
               "incidents": [{incidents}], "scheduled_maintenances": [{maintenances}]}}"#
        )
    }

    #[test]
    fn a_summary_is_read_bounded_and_sorted() {
        let inc = |name: &str, impact: &str, status: &str| {
            format!(
                r#"{{"name": "{name}", "impact": "{impact}", "status": "{status}", "created_at": "2026-11-24T10:00:00.000Z", "shortlink": "x"}}"#
            )
        };
        let incidents = [
            inc("slow", "minor", "investigating"),
            inc("down", "critical", "identified"),
            inc("over", "major", "resolved"),
        ]
        .join(",");
        let m = r#"{"name": "db upgrade", "impact": "maintenance", "status": "scheduled",
                    "scheduled_for": "2026-11-24T12:05:00.000Z", "scheduled_until": "2026-11-24T13:00:00.000Z"}"#;
        let d = parse_summary(summary(&incidents, m).as_bytes(), NOW).unwrap();
        assert_eq!(d.indicator, Impact::Major);
        assert_eq!(d.incidents.len(), 2, "resolved ones are not kept");
        assert_eq!(d.incidents[0].name, "down");
        assert_eq!(d.penalty(), 5_000);
        assert_eq!(d.maintenances.len(), 1);
        let many = (0..20)
            .map(|i| inc(&format!("i{i}"), "minor", "monitoring"))
            .collect::<Vec<_>>()
            .join(",");
        let long = format!(
            r#"{{"name": "{}", "impact": "minor", "status": "identified"}}"#,
            "é".repeat(200)
        );
        let d = parse_summary(summary(&format!("{many},{long}"), "").as_bytes(), NOW).unwrap();
        assert_eq!(d.incidents.len(), KEEP);
        assert!(
            parse_summary(summary(&long, "").as_bytes(), NOW)
                .unwrap()
                .incidents[0]
                .name
                .len()
                <= MAX_NAME + 3
        );
    }

    #[test]
    fn maintenance_near_is_within_the_lead_or_under_way() {
        let at = |m: u64| NOW + m * MINUTE;
        let mk = |starts: UnixMillis, ends: Option<UnixMillis>| Declared {
            at: NOW,
            indicator: Impact::None,
            description: String::new(),
            incidents: vec![],
            maintenances: vec![Maintenance {
                name: "m".into(),
                impact: Impact::Maintenance,
                status: "scheduled".into(),
                starts,
                ends,
            }],
        };
        assert_eq!(
            mk(at(5), None).maintenance_near(NOW).map(|(_, t)| t),
            Some(5 * MINUTE)
        );
        assert!(mk(at(11), None).maintenance_near(NOW).is_none());
        assert_eq!(
            mk(NOW - 1, Some(at(30)))
                .maintenance_near(NOW)
                .map(|(_, t)| t),
            Some(0)
        );
        assert!(
            mk(NOW - 10, Some(NOW - 1)).maintenance_near(NOW).is_none(),
            "over"
        );
    }

    #[test]
    fn what_is_not_a_summary_is_an_error() {
        for bad in [&b"<html>"[..], b"{}", b"[]", b"{\"status\": 3}"] {
            assert!(
                parse_summary(bad, NOW).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let ok = br#"{"status": {"indicator": "none", "description": "All Systems Operational"}}"#;
        let d = parse_summary(ok, NOW).unwrap();
        assert_eq!((d.indicator, d.penalty()), (Impact::None, 0));
    }
}
