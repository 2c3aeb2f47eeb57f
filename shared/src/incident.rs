//! Incidents: what went wrong with a provider, from when to when, and the
//! evidence — kept after the provider recovers, so "what happened last
//! night" has an answer.
//!
//! An incident opens at the first unhealthy observation (a failed probe or
//! an answer failing a data check) and closes at the first healthy one. Its
//! cause is the first one seen (a hang that later turns into refused
//! connections stays one incident about a hang, with the probe count
//! covering both); the evidence is the first probe's detail, bounded.
//! Observations older than the open incident's start do not touch it
//! (a batch is applied in time order, but a late one may arrive). At most
//! [`MAX_INCIDENTS`] are kept per provider, oldest dropped first.

use crate::probe::Outcome;
use crate::quality::FailReason;
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Incidents kept per provider.
pub const MAX_INCIDENTS: usize = 20;
/// Longest evidence kept, in bytes.
pub const MAX_EVIDENCE: usize = 200;

/// What an incident was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentCause {
    /// Probes failed: no usable answer ([`Outcome`] says how).
    Down(Outcome),
    /// Answers came back but failed a data check.
    BadData(FailReason),
}

impl IncidentCause {
    /// A short kebab-case name: `timeout`, `refused`, `http-503`,
    /// `throttled`, `stale`, `wrong-chain`, `inconsistent`, …
    pub fn name(&self) -> String {
        match self {
            IncidentCause::Down(o) => o.name(),
            IncidentCause::BadData(r) => r.as_str().to_string(),
        }
    }
}

/// One incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The first unhealthy observation.
    pub start: UnixMillis,
    /// The first healthy observation after it (`None`: still open).
    pub end: Option<UnixMillis>,
    /// The first cause seen.
    pub cause: IncidentCause,
    /// Unhealthy observations during it.
    pub probes: u32,
    /// The first observation's detail, at most [`MAX_EVIDENCE`] bytes.
    pub evidence: String,
}

impl Incident {
    /// Duration up to `end`, or up to `now` while open.
    pub fn duration_ms(&self, now: UnixMillis) -> u64 {
        self.end.unwrap_or(now).saturating_sub(self.start)
    }
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_EVIDENCE {
        return s.to_string();
    }
    let mut cut = MAX_EVIDENCE;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// Notes an unhealthy observation at `at`.
pub fn open(
    incidents: &mut VecDeque<Incident>,
    at: UnixMillis,
    cause: IncidentCause,
    detail: Option<&str>,
) {
    if let Some(last) = incidents.back_mut() {
        if last.end.is_none() {
            if at >= last.start {
                last.probes = last.probes.saturating_add(1);
            }
            return;
        }
        if last.end.is_some_and(|e| at < e) {
            // Older than the last recovery: already accounted for.
            return;
        }
    }
    incidents.push_back(Incident {
        start: at,
        end: None,
        cause,
        probes: 1,
        evidence: clip(detail.unwrap_or_default()),
    });
    while incidents.len() > MAX_INCIDENTS {
        incidents.pop_front();
    }
}

/// Notes a healthy observation at `at`: closes the open incident, if it
/// started before `at`.
pub fn close(incidents: &mut VecDeque<Incident>, at: UnixMillis) {
    if let Some(last) = incidents.back_mut() {
        if last.end.is_none() && at > last.start {
            last.end = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_spans_from_first_bad_to_first_good() {
        let mut v = VecDeque::new();
        close(&mut v, 5);
        assert!(v.is_empty(), "a healthy probe opens nothing");
        open(
            &mut v,
            10,
            IncidentCause::Down(Outcome::Timeout),
            Some("no answer"),
        );
        open(
            &mut v,
            20,
            IncidentCause::Down(Outcome::Connect),
            Some("refused"),
        );
        close(&mut v, 30);
        assert_eq!(v.len(), 1);
        let i = &v[0];
        assert_eq!((i.start, i.end, i.probes), (10, Some(30), 2));
        assert_eq!(i.cause, IncidentCause::Down(Outcome::Timeout));
        assert_eq!(i.evidence, "no answer");
        assert_eq!(i.duration_ms(100), 20);
        // A late observation from inside the closed incident opens nothing.
        open(&mut v, 25, IncidentCause::Down(Outcome::Timeout), None);
        assert_eq!(v.len(), 1);
        open(
            &mut v,
            40,
            IncidentCause::BadData(FailReason::Stale),
            Some("old"),
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].duration_ms(100), 60, "open: up to now");
    }

    #[test]
    fn bounded_in_count_and_evidence() {
        let mut v = VecDeque::new();
        let long = "x".repeat(1_000);
        for k in 0..(MAX_INCIDENTS as u64 + 5) {
            open(
                &mut v,
                k * 10,
                IncidentCause::Down(Outcome::Status(503)),
                Some(&long),
            );
            close(&mut v, k * 10 + 5);
        }
        assert_eq!(v.len(), MAX_INCIDENTS);
        assert_eq!(v[0].start, 50, "the oldest were dropped");
        assert!(v[0].evidence.len() <= MAX_EVIDENCE + '…'.len_utf8());
    }
}
