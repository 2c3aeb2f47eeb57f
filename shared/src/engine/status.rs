//! Reading providers' status pages ([`crate::statuspage`]): which are due,
//! and what a read says.

use super::Engine;
use crate::probe::{ProbeRequest, ProbeResult, Purpose};
use crate::statuspage::{self, Declared};
use crate::time::UnixMillis;
use crate::ProviderId;

/// Largest status summary read (a busy page's summary is tens of KB).
const MAX_BYTES: u64 = 256 * 1024;
/// A status page gets this long to answer.
const TIMEOUT_MS: u64 = 5_000;

impl Engine {
    /// The status pages due at `now` (each read every
    /// `status_page_interval`), the longest unread first, at most `limit`.
    pub fn status_reads_due(&self, now: UnixMillis, limit: usize) -> Vec<ProbeRequest> {
        let interval = self.config.sentinel.status_page_interval.as_ms();
        let mut due: Vec<(UnixMillis, &ProviderId, &str, &crate::ServiceId)> = self
            .registry
            .providers()
            .filter_map(|rt| {
                let page = rt.config.status_page.as_deref()?;
                let asked = self
                    .state
                    .status_pages
                    .get(&rt.config.id)
                    .map_or(0, |p| p.asked);
                (now.saturating_sub(asked) >= interval).then_some((
                    asked,
                    &rt.config.id,
                    page,
                    &rt.service,
                ))
            })
            .collect();
        due.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        due.into_iter()
            .take(limit)
            .map(|(_, id, page, service)| ProbeRequest {
                provider: id.clone(),
                service: service.clone(),
                purpose: Purpose::StatusPage,
                method: crate::config::Method::Get,
                url: statuspage::summary_url(page),
                headers: vec![("accept".into(), "application/json".into())],
                secret_headers: Vec::new(),
                body: None,
                timeout_ms: TIMEOUT_MS,
                max_bytes: MAX_BYTES,
                allow_private: self.config.sentinel.allow_private_targets,
            })
            .collect()
    }

    /// Takes in a status page read at `now`: what it declares replaces
    /// what was declared; a failed read is noted and what was read before
    /// ages out ([`statuspage::STALE_AFTER_INTERVALS`]). Returns whether
    /// the declaration changed (news worth a commit). The read itself is
    /// booked by the caller, once per page (`book_own_requests`).
    pub fn absorb_status(&mut self, now: UnixMillis, id: &ProviderId, result: ProbeResult) -> bool {
        if self
            .registry
            .provider(id)
            .is_none_or(|rt| rt.config.status_page.is_none())
        {
            return false;
        }
        let entry = self.state.status_pages.entry(id.clone()).or_default();
        entry.asked = now;
        let read = match result {
            Ok(r) if (200..300).contains(&r.status) && !r.truncated => {
                statuspage::parse_summary(&r.body, now)
            }
            Ok(r) if r.truncated => Err(format!("the summary is over {MAX_BYTES} bytes")),
            Ok(r) => Err(format!("HTTP {}", r.status)),
            Err(f) => Err(format!("{f:?}")),
        };
        match read {
            Ok(d) => {
                let changed = entry.declared.as_ref().is_none_or(|old| {
                    (&old.incidents, &old.maintenances, old.indicator)
                        != (&d.incidents, &d.maintenances, d.indicator)
                });
                entry.declared = Some(d);
                entry.error = None;
                changed
            }
            Err(e) => {
                entry.error = Some(e);
                false
            }
        }
    }

    /// What `id`'s status page declares, read recently enough to act on.
    pub fn declared(&self, id: &ProviderId, now: UnixMillis) -> Option<&Declared> {
        let interval = self.config.sentinel.status_page_interval.as_ms();
        self.state
            .status_pages
            .get(id)
            .and_then(|p| p.current(now, interval))
    }
}
