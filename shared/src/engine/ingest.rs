//! Ingesting observations and events.
//!
//! Each observation updates its provider's windows, latency histogram,
//! counters, quality tallies and ledger (a probe is a request the provider
//! may bill). Then, per service touched, the latest facts of all its
//! providers are cross-checked for consistency, and the data-quality streak
//! counters are updated with both the provider's own checks and the
//! cross-check.
//!
//! Nothing is dropped silently: duplicates, unknown providers and
//! observations too old or too far in the future are counted and listed in
//! the [`IngestReport`].

use super::Engine;
use crate::books::Metric;
use crate::incident::{self, IncidentCause};
use crate::probe::{Observation, Purpose};
use crate::quality::{cross_check, find_fork, fork_healed, Check, FailReason};
use crate::state::{Downtime, LastProbe};
use crate::time::{UnixMillis, DAY, HOUR, MINUTE};
use crate::timeline;
use crate::{ProviderId, ServiceId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Observations more than this far in the future are refused (clock skew).
pub const MAX_FUTURE_SKEW: u64 = 5 * MINUTE;
/// Events older than this are refused, and a source silent for this long
/// is forgotten (its watermark with it): two days, far longer than any
/// journal waits for a tick.
pub const EVENT_WINDOW: u64 = 2 * DAY;

/// What happened to a batch of inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Inputs applied.
    pub applied: u32,
    /// Inputs seen before (at or below the watermark): ignored, harmlessly.
    pub duplicates: u32,
    /// Inputs refused, with why.
    pub rejected: Vec<Rejected>,
}

/// An input that was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The provider or event source concerned.
    pub subject: String,
    /// When the input says it happened.
    pub at: UnixMillis,
    /// Why it was refused.
    pub why: String,
}

impl IngestReport {
    fn reject(&mut self, subject: &str, at: UnixMillis, why: impl Into<String>) {
        self.rejected.push(Rejected {
            subject: subject.to_string(),
            at,
            why: why.into(),
        });
    }
}

/// Whose usage an event reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageTarget {
    /// A provider.
    Provider(ProviderId),
    /// The sentinel itself (store writes, invocations, gas).
    Sentinel,
}

/// Kinds of incident that weigh on reliability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// Data the provider held was lost.
    DataLoss,
    /// A security incident at the provider.
    Security,
}

/// What an event says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Usage from the proxy, a usage API or the shell's own footprint.
    Usage {
        /// Whose.
        target: UsageTarget,
        /// What.
        metric: Metric,
        /// How much.
        amount: u64,
    },
    /// Proxy retries that landed on this provider.
    Retry {
        /// Provider.
        provider: ProviderId,
        /// How many succeeded.
        ok: u32,
        /// How many failed.
        failed: u32,
    },
    /// An incident report.
    Incident {
        /// Provider.
        provider: ProviderId,
        /// Kind.
        kind: IncidentKind,
    },
    /// One delivery attempt of an outbox notice ([`crate::outbox`]).
    Delivery {
        /// Notice id.
        notice: u64,
        /// Destination (URL digest).
        destination: u64,
        /// Whether the destination accepted it.
        ok: bool,
    },
    /// An on-chain attestation of the provider was confirmed.
    Attested {
        /// Provider.
        provider: ProviderId,
        /// Valid until.
        until: UnixMillis,
    },
    /// Proxied answers of the provider refused by per-request validation
    /// ([`crate::proxy::validate`]): counted as failed data checks.
    BadAnswers {
        /// Provider.
        provider: ProviderId,
        /// The failed check's category.
        check: String,
        /// How many.
        count: u32,
    },
}

/// An event with its idempotence key: events from one `source` carry
/// strictly increasing `seq` numbers; one at or below the source's
/// watermark has been applied already.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Who reports it (`proxy`, `shell`, …).
    pub source: String,
    /// Sequence number within the source.
    pub seq: u64,
    /// When it happened.
    pub at: UnixMillis,
    /// What it says.
    pub kind: EventKind,
}

/// A provider's latest answer in a batch: when, the first of its own
/// checks that failed (category and reason), and the detail.
type OwnAnswer = (
    UnixMillis,
    Option<(&'static str, FailReason)>,
    Option<String>,
);

/// The evidence of a failed cross-provider check, for people.
fn consistency_evidence(r: FailReason) -> String {
    match r {
        FailReason::Lagging => {
            "lagging: its chain head trails the other providers' by more than max_lag_blocks".into()
        }
        FailReason::Inconsistent => {
            "inconsistent: its answer disagrees with the majority of the other providers".into()
        }
        other => format!("{other}: the other providers disagree"),
    }
}

/// EWMA with α = 1/4, in integers.
fn ewma(prev: u32, sample: u32, first: bool) -> u32 {
    if first {
        return sample;
    }
    let p = i64::from(prev);
    let v = p + (i64::from(sample) - p) / 4;
    v.clamp(0, i64::from(u32::MAX)) as u32
}

/// Deterministic per-provider jitter in `[0, span)`: FNV-1a of the id and
/// time, so probes of many providers spread out without an RNG and two
/// machines agree.
pub(crate) fn jitter(id: &str, at: UnixMillis, span: u64) -> u64 {
    if span == 0 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(at.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % span
}

impl Engine {
    /// Applies probe observations.
    pub fn ingest(&mut self, now: UnixMillis, observations: &[Observation]) -> IngestReport {
        let mut report = IngestReport::default();
        let mut touched: BTreeMap<ServiceId, BTreeSet<ProviderId>> = BTreeMap::new();
        // Per provider, its latest answer in this batch: when, and the
        // first of its own checks that failed (decided after the
        // cross-check, which may excuse a chain-wide staleness).
        let mut own_bad: BTreeMap<ProviderId, OwnAnswer> = BTreeMap::new();
        let mut verdicts: Vec<(ProviderId, UnixMillis, crate::quality::Verdict)> = Vec::new();
        let mut sorted: Vec<&Observation> = observations.iter().collect();
        sorted.sort_by(|a, b| (a.at, a.purpose, &a.provider).cmp(&(b.at, b.purpose, &b.provider)));
        for obs in sorted {
            let Some(rt) = self.registry.provider(&obs.provider) else {
                report.reject(obs.provider.as_str(), obs.at, "unknown provider");
                continue;
            };
            if obs.at > now.saturating_add(MAX_FUTURE_SKEW) {
                report.reject(
                    obs.provider.as_str(),
                    obs.at,
                    "observation is from the future (clock skew over 5 minutes)",
                );
                continue;
            }
            if obs.at.saturating_add(DAY) < now {
                report.reject(
                    obs.provider.as_str(),
                    obs.at,
                    "observation is older than the 24 h window",
                );
                continue;
            }
            let Some(ps) = self.state.providers.get_mut(&obs.provider) else {
                report.reject(obs.provider.as_str(), obs.at, "provider has no state");
                continue;
            };
            // Idempotence: a key at or below the watermark was applied,
            // unless it is newer than the oldest applied key kept and not
            // among them: another instance's observation, taken a moment
            // before this one's, that arrives after it (a rebase after a
            // conflicting commit, a replay of the log). Such a late one
            // counts in the order-free tallies only (availability windows,
            // latency histogram); streaks and the latest probe stay with
            // the newer observation.
            let key = obs.key();
            let Some(applied) = slot(&mut self.state.applied, &obs.provider) else {
                continue;
            };
            if applied.contains(key) {
                report.duplicates += 1;
                continue;
            }
            let late = ps.watermark.is_some_and(|w| key <= w);
            applied.insert(key);
            report.applied += 1;
            // Availability windows: order-free, so late observations too.
            let mut delta = crate::window::Counts::default();
            match obs.outcome {
                crate::probe::Outcome::Ok => delta.ok = 1,
                crate::probe::Outcome::Timeout => delta.timeout = 1,
                crate::probe::Outcome::Throttled => delta.throttled = 1,
                _ => delta.error = 1,
            }
            if let Some(b) = ps.hourly.bucket_mut(now, obs.at, HOUR, 24) {
                b.add(&delta);
            }
            if let Some(b) = ps.daily.bucket_mut(now, obs.at, DAY, 30) {
                b.add(&delta);
            }
            if late {
                if obs.outcome.is_up() {
                    ps.latency.record(u64::from(obs.latency_ms));
                }
                continue;
            }
            ps.watermark = Some(key);
            let svc = self.registry.service(&rt.service);
            let interval = svc.map_or(30_000, |s| s.config.probe_interval.as_ms());

            let up = obs.outcome.is_up();
            ps.recent_failures = (ps.recent_failures << 1) | u64::from(!up);
            ps.recent_probes = ps.recent_probes.saturating_add(1).min(64);
            if up {
                if let Some(r) = slot(&mut self.state.recent_latency, &obs.provider) {
                    r.push(obs.at, obs.latency_ms);
                }
                ps.latency.record(u64::from(obs.latency_ms));
                ps.recent_latency_ms = ewma(
                    ps.recent_latency_ms,
                    obs.latency_ms,
                    ps.latency.count() <= 1,
                );
                ps.consecutive_failures = 0;
                ps.consecutive_successes = ps.consecutive_successes.saturating_add(1);
                ps.streak_cause = None;
                if let Some(p) =
                    ps.timeline
                        .bucket_mut(now, obs.at, timeline::WIDTH, timeline::POINTS)
                {
                    p.answer(obs.latency_ms);
                }
                if ps.down_since.take().is_some() {
                    if let Some(d) = ps.downtimes.back_mut() {
                        if d.end.is_none() {
                            d.end = Some(obs.at);
                        }
                    }
                }
            } else {
                ps.consecutive_failures = ps.consecutive_failures.saturating_add(1);
                ps.consecutive_successes = 0;
                ps.streak_cause = Some(match ps.streak_cause {
                    Some((o, n)) if o == obs.outcome => (o, n.saturating_add(1)),
                    _ => (obs.outcome, 1),
                });
                incident::open(
                    &mut ps.incidents,
                    obs.at,
                    IncidentCause::Down(obs.outcome),
                    obs.detail.as_deref(),
                );
                if ps.down_since.is_none() {
                    ps.down_since = Some(obs.at);
                    ps.downtimes.push_back(Downtime {
                        start: obs.at,
                        end: None,
                    });
                    while ps.downtimes.len() > 10 {
                        ps.downtimes.pop_front();
                    }
                }
            }

            // Data quality of the answer itself.
            if up {
                verdicts.push((obs.provider.clone(), obs.at, obs.verdict));
                let failing = [
                    ("schema", obs.verdict.schema),
                    ("business", obs.verdict.business),
                    ("freshness", obs.verdict.freshness),
                ]
                .into_iter()
                .find_map(|(n, c)| c.reason().map(|r| (n, r)));
                own_bad.insert(obs.provider.clone(), (obs.at, failing, obs.detail.clone()));
                if obs.facts.evm.is_some() || obs.facts.field.is_some() {
                    ps.facts = Some((obs.at, obs.facts.clone()));
                }
                touched
                    .entry(rt.service.clone())
                    .or_default()
                    .insert(obs.provider.clone());
            }

            // Bookkeeping: every probe is a request the provider may bill.
            ps.ledger
                .record(now, &rt.config.limits, &rt.rates, Metric::Requests, 1);
            if obs.bytes > 0 {
                ps.ledger.record(
                    now,
                    &rt.config.limits,
                    &rt.rates,
                    Metric::EgressBytes,
                    obs.bytes,
                );
            }
            self.state.footprint.record(
                now,
                &self.config.sentinel.footprint,
                &crate::books::Rates::default(),
                Metric::Requests,
                1,
            );

            ps.last = Some(LastProbe {
                at: obs.at,
                outcome: obs.outcome,
                latency_ms: obs.latency_ms,
                healthy: obs.is_healthy(),
                detail: obs.detail.clone(),
            });

            // Scheduling: failing providers are re-checked sooner, failed
            // ones less often, and a budget under pressure stretches it.
            if obs.purpose == Purpose::Scheduled {
                let due = ps.next_due;
                let sched = &mut self.state.schedule;
                if let Some(prev) = upsert(&mut sched.last_scheduled, &obs.provider, obs.at) {
                    upsert(
                        &mut sched.interval_ms,
                        &obs.provider,
                        obs.at.saturating_sub(prev),
                    );
                }
                // A provider's first probe has no due time to be late for.
                let lag = if due == 0 {
                    0
                } else {
                    obs.at.saturating_sub(due)
                };
                upsert(&mut sched.lag_ms, &obs.provider, lag);
                let effective = self.effective_interval(&obs.provider, interval);
                ps_next_due(&mut self.state, &obs.provider, obs.at, interval, effective);
            }

            // A canary answers a pending switch.
            if obs.purpose == Purpose::Canary {
                if let Some(s) = self.state.services.get_mut(&rt.service) {
                    if let Some(p) = s.pending.as_mut() {
                        if p.to == obs.provider && obs.at >= p.proposed_at && p.canary.is_none() {
                            // A staleness the whole chain shares does not
                            // fail a canary.
                            let excused = s.chain_stale_since.is_some()
                                && obs.verdict.freshness == Check::Fail(FailReason::Stale)
                                && !obs.verdict.schema.is_fail()
                                && !obs.verdict.business.is_fail();
                            p.canary = Some(obs.is_healthy() || (obs.outcome.is_up() && excused));
                        }
                    }
                }
            }
        }

        let stale_chain = self.chain_wide_staleness(now, &touched, &own_bad);
        // The answers' own checks into the quality tallies; a staleness
        // every provider shares is the chain's, not theirs.
        for (pid, at, mut verdict) in verdicts {
            if stale_chain.contains(&pid) {
                verdict.freshness = Check::NotApplicable;
            }
            if let Some(ps) = self.state.providers.get_mut(&pid) {
                if let Some(t) = ps.quality.bucket_mut(now, at, HOUR, 24) {
                    t.add_verdict(&verdict);
                }
            }
        }
        let consistency_bad = self.cross_check_services(now, &touched);
        for (pid, (at, own, detail)) in own_bad {
            let excused = matches!(own, Some((_, FailReason::Stale))) && stale_chain.contains(&pid);
            let own = own.filter(|_| !excused);
            let minority = self
                .state
                .providers
                .get(&pid)
                .and_then(|ps| self.state.services.get(&ps.service))
                .and_then(|s| s.fork.as_ref())
                .is_some_and(|f| f.is_minority(&pid));
            let reason = own
                .or_else(|| consistency_bad.get(&pid).map(|r| ("consistency", *r)))
                .or(minority.then_some(("consistency", FailReason::Inconsistent)));
            let Some(ps) = self.state.providers.get_mut(&pid) else {
                continue;
            };
            if excused {
                if let Some(l) = ps.last.as_mut().filter(|l| l.at == at) {
                    l.healthy = true;
                }
            }
            match reason {
                Some((check, r)) => {
                    ps.consecutive_bad = ps.consecutive_bad.saturating_add(1);
                    ps.bad_check = Some(check.to_string());
                    ps.bad_reason = Some(r);
                    let evidence = match (own, &detail) {
                        (Some(_), Some(d)) => d.clone(),
                        _ => consistency_evidence(r),
                    };
                    // The last probe answered, but its data is not
                    // usable: say so where people look.
                    if let Some(l) = ps.last.as_mut().filter(|l| l.at == at) {
                        l.healthy = false;
                        if l.detail.is_none() {
                            l.detail = Some(evidence.clone());
                        }
                    }
                    incident::open(
                        &mut ps.incidents,
                        at,
                        IncidentCause::BadData(r),
                        Some(&evidence),
                    );
                }
                None => {
                    ps.consecutive_bad = 0;
                    ps.bad_check = None;
                    ps.bad_reason = None;
                    incident::close(&mut ps.incidents, at);
                }
            }
        }
        report
    }

    /// Applies events (usage, retries, incidents, attestations).
    pub fn record(&mut self, now: UnixMillis, events: &[Event]) -> IngestReport {
        let mut report = IngestReport::default();
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by(|a, b| (&a.source, a.seq).cmp(&(&b.source, b.seq)));
        for ev in sorted {
            if ev.source.is_empty() || ev.source.len() > 64 {
                report.reject(&ev.source, ev.at, "event source must be 1 to 64 characters");
                continue;
            }
            if ev.at.saturating_add(EVENT_WINDOW) < now {
                report.reject(
                    &ev.source,
                    ev.at,
                    "event is older than the two-day event window",
                );
                continue;
            }
            if ev.at > now.saturating_add(MAX_FUTURE_SKEW) {
                report.reject(
                    &ev.source,
                    ev.at,
                    "event is from the future (clock skew over 5 minutes)",
                );
                continue;
            }
            if self
                .state
                .usage_watermarks
                .get(&ev.source)
                .is_some_and(|w| ev.seq <= *w)
            {
                report.duplicates += 1;
                continue;
            }
            let provider = match &ev.kind {
                EventKind::Usage {
                    target: UsageTarget::Sentinel,
                    ..
                }
                | EventKind::Delivery { .. } => None,
                EventKind::Usage {
                    target: UsageTarget::Provider(p),
                    ..
                }
                | EventKind::Retry { provider: p, .. }
                | EventKind::Incident { provider: p, .. }
                | EventKind::Attested { provider: p, .. }
                | EventKind::BadAnswers { provider: p, .. } => Some(p.clone()),
            };
            if let Some(p) = &provider {
                if self.registry.provider(p.as_str()).is_none()
                    || !self.state.providers.contains_key(p)
                {
                    report.reject(p.as_str(), ev.at, "unknown provider");
                    continue;
                }
            }
            let at = ev.at.min(now);
            match &ev.kind {
                EventKind::Usage {
                    target: UsageTarget::Sentinel,
                    metric,
                    amount,
                } => {
                    self.state.footprint.record(
                        now,
                        &self.config.sentinel.footprint,
                        &crate::books::Rates::default(),
                        *metric,
                        *amount,
                    );
                }
                EventKind::Usage {
                    target: UsageTarget::Provider(p),
                    metric,
                    amount,
                } => {
                    if let (Some(rt), Some(ps)) = (
                        self.registry.provider(p.as_str()),
                        self.state.providers.get_mut(p),
                    ) {
                        ps.ledger
                            .record(now, &rt.config.limits, &rt.rates, *metric, *amount);
                    }
                }
                EventKind::Retry {
                    provider,
                    ok,
                    failed,
                } => {
                    if let Some(ps) = self.state.providers.get_mut(provider) {
                        if let Some(b) = ps.reliability.bucket_mut(now, at, DAY, 30) {
                            b.retries = b.retries.saturating_add(ok.saturating_add(*failed));
                            b.retries_ok = b.retries_ok.saturating_add(*ok);
                        }
                    }
                }
                EventKind::Incident { provider, kind } => {
                    if let Some(ps) = self.state.providers.get_mut(provider) {
                        if let Some(b) = ps.reliability.bucket_mut(now, at, DAY, 30) {
                            match kind {
                                IncidentKind::DataLoss => {
                                    b.data_loss = b.data_loss.saturating_add(1)
                                }
                                IncidentKind::Security => b.security = b.security.saturating_add(1),
                            }
                        }
                    }
                }
                EventKind::Delivery {
                    notice,
                    destination,
                    ok,
                } => {
                    crate::outbox::delivered(&mut self.state.outbox, *notice, *destination, *ok, at)
                }
                EventKind::BadAnswers {
                    provider,
                    check,
                    count,
                } => {
                    if let Some(ps) = self.state.providers.get_mut(provider) {
                        if let Some(t) = ps.quality.bucket_mut(now, at, HOUR, 24) {
                            t.add_failures(check, *count);
                        }
                    }
                }
                EventKind::Attested { provider, until } => {
                    if let Some(ps) = self.state.providers.get_mut(provider) {
                        ps.attested_until =
                            Some(ps.attested_until.map_or(*until, |u| u.max(*until)));
                    }
                }
            }
            self.state
                .usage_watermarks
                .insert(ev.source.clone(), ev.seq);
            let seen = self.state.usage_seen.entry(ev.source.clone()).or_insert(0);
            *seen = (*seen).max(at);
            report.applied += 1;
        }
        self.forget_silent_sources(now);
        report
    }

    /// Forgets event sources silent for longer than [`EVENT_WINDOW`]: no
    /// event of theirs can be applied any more, so their watermarks are
    /// not needed (a source never seen reporting is kept, with its age
    /// counted from now).
    fn forget_silent_sources(&mut self, now: UnixMillis) {
        let st = &mut self.state;
        for src in st.usage_watermarks.keys() {
            st.usage_seen.entry(src.clone()).or_insert(now);
        }
        let cutoff = now.saturating_sub(EVENT_WINDOW);
        st.usage_seen.retain(|_, at| *at >= cutoff);
        let seen = &st.usage_seen;
        st.usage_watermarks.retain(|src, _| seen.contains_key(src));
    }

    /// The providers whose staleness is the chain's, not theirs: when
    /// every provider of a service answering in a batch (two or more)
    /// failed freshness as stale, the chain (or the data source) is not
    /// moving — a dev chain that mines on demand, a halted chain, a
    /// `max_block_age` tighter than the block time — and the service is
    /// marked so (`chain_stale_since`) until a batch brings a fresh answer.
    /// While it is marked, a stale answer (even alone, like a canary's) is
    /// not held against its provider; the lag between providers is still
    /// checked ([`cross_check`]), so a node that stopped following the
    /// others is caught on its own.
    fn chain_wide_staleness(
        &mut self,
        now: UnixMillis,
        touched: &BTreeMap<ServiceId, BTreeSet<ProviderId>>,
        own: &BTreeMap<ProviderId, OwnAnswer>,
    ) -> BTreeSet<ProviderId> {
        let mut out = BTreeSet::new();
        for (svc, fresh) in touched {
            let answers: Vec<_> = fresh
                .iter()
                .filter_map(|p| own.get(p).map(|a| (p, a)))
                .collect();
            let stale = |a: &OwnAnswer| matches!(a.1, Some((_, FailReason::Stale)));
            let Some(st) = self.state.services.get_mut(svc) else {
                continue;
            };
            if answers.len() >= 2 && answers.iter().all(|(_, a)| stale(a)) {
                st.chain_stale_since.get_or_insert(now);
            } else if answers.iter().any(|(_, a)| a.1.is_none() || !stale(a)) {
                // A fresh block (or any other verdict) from someone.
                if answers.iter().any(|(_, a)| !stale(a) && a.1.is_none()) {
                    st.chain_stale_since = None;
                }
            }
            if st.chain_stale_since.is_some() {
                out.extend(
                    answers
                        .into_iter()
                        .filter(|(_, a)| stale(a))
                        .map(|(p, _)| p.clone()),
                );
            }
        }
        out
    }

    /// The cross-provider check of every service touched: per provider
    /// its consistency failure, if any; records each verdict in the
    /// quality tallies and tracks forks (see [`crate::state::Fork`]).
    fn cross_check_services(
        &mut self,
        now: UnixMillis,
        touched: &BTreeMap<ServiceId, BTreeSet<ProviderId>>,
    ) -> BTreeMap<ProviderId, FailReason> {
        let mut bad: BTreeMap<ProviderId, FailReason> = BTreeMap::new();
        for (svc_id, fresh) in touched {
            let Some(svc) = self.registry.service(svc_id.as_str()) else {
                continue;
            };
            let window = svc
                .config
                .probe_interval
                .as_ms()
                .saturating_add(svc.config.probe_interval.as_ms() / 2);
            // The facts are read in place: nothing is copied to compare.
            let providers = &self.state.providers;
            let refs: Vec<(ProviderId, &crate::quality::Facts)> = svc
                .providers
                .iter()
                .filter_map(|pid| {
                    let (at, f) = providers.get(pid)?.facts.as_ref()?;
                    (at.saturating_add(window) >= now).then(|| (pid.clone(), f))
                })
                .collect();
            let field = svc
                .providers
                .first()
                .and_then(|p| self.registry.provider(p))
                .and_then(|rt| rt.checks.consistency());
            let results = cross_check(&refs, field, svc.config.evm.as_ref());
            let fork_now = svc
                .config
                .evm
                .as_ref()
                .filter(|e| e.compare_hashes)
                .and_then(|_| find_fork(&refs));
            let healed = self
                .state
                .services
                .get(svc_id)
                .and_then(|s| s.fork.as_ref())
                .is_some_and(|f| fork_healed(&f.hashes, f.number, &refs));
            let mut verdicts = BTreeMap::new();
            for (pid, check) in results {
                if !fresh.contains(&pid) {
                    continue;
                }
                if let Some(ps) = self.state.providers.get_mut(&pid) {
                    if let Some(t) = ps.quality.bucket_mut(now, now, HOUR, 24) {
                        t.add_consistency(check);
                    }
                }
                match check {
                    Check::Fail(r) => {
                        bad.insert(pid.clone(), r);
                        verdicts.insert(pid, false);
                    }
                    Check::Pass => {
                        verdicts.insert(pid, true);
                    }
                    Check::NotApplicable => {}
                }
            }
            if let Some(s) = self.state.services.get_mut(svc_id) {
                s.consistency.extend(verdicts);
                if healed {
                    s.fork = None;
                }
                if let Some(seen) = fork_now {
                    // A tie seen later (a witness went quiet) does not
                    // overwrite a fork whose majority is known.
                    let keep = s
                        .fork
                        .as_ref()
                        .is_some_and(|f| f.majority.is_some() && seen.majority.is_none());
                    if !keep {
                        let since = s.fork.as_ref().map_or(now, |f| f.since);
                        s.fork = Some(crate::state::Fork {
                            number: seen.number,
                            since,
                            hashes: seen.hashes,
                            majority: seen.majority,
                        });
                    }
                }
            }
        }
        bad
    }

    /// The probe interval of a provider now: faster while it is failing
    /// (so an outage is confirmed in seconds, not minutes), slower once it
    /// has failed, stretched when its budget or the sentinel's own is under
    /// pressure.
    pub(crate) fn effective_interval(&self, id: &ProviderId, base: u64) -> u64 {
        use crate::books::Step;
        use crate::lifecycle::Lifecycle;
        let Some(ps) = self.state.providers.get(id) else {
            return base;
        };
        let mut i = base;
        let fast = (base / 6).max(1_000);
        if ps.lifecycle == Lifecycle::Failed {
            // While nothing of its service answers, a failed provider is
            // the way back: re-check it fast, so the route comes back in
            // seconds once it answers again.
            let dead_route = self.registry.service(&ps.service).is_some_and(|svc| {
                svc.providers.iter().all(|p| {
                    self.state.providers.get(p).is_none_or(|q| {
                        q.consecutive_failures > 0
                            || !matches!(q.lifecycle, Lifecycle::Active | Lifecycle::Standby)
                    })
                })
            });
            i = if dead_route {
                fast
            } else {
                i.saturating_mul(2)
            };
        } else if let Some((crate::probe::Outcome::Throttled, _)) = ps.streak_cause {
            // A provider answering 429 is not re-checked faster (that
            // would spend more of the quota it says is gone): at its
            // interval, or later when its Retry-After asks for it.
            let retry = ps
                .last
                .as_ref()
                .and_then(|l| crate::probe::retry_after_of(l.detail.as_deref()))
                .map_or(0, |s| s.saturating_mul(1000).min(HOUR));
            i = base.max(retry);
        } else if ps.consecutive_failures > 0 {
            i = fast;
        }
        if ps.step >= Step::ScaleDown {
            i = i.saturating_mul(2);
        }
        match self.state.footprint_step {
            Step::ScaleDown => i = i.saturating_mul(2),
            Step::Stop => i = i.saturating_mul(4),
            _ => {}
        }
        i
    }
}

/// Schedules the next probe on a per-*service* grid: every provider of a
/// service is due at the same instants (`phase + k·interval`, the phase a
/// hash of the service id so services spread out), so they are probed in
/// the same tick and the cross-provider consistency check compares answers
/// given at the same moment (the same block height). A fast re-check of a
/// failing provider leaves the grid and snaps back to it on the next
/// regular probe.
fn ps_next_due(
    state: &mut crate::state::State,
    id: &ProviderId,
    at: UnixMillis,
    base: u64,
    effective: u64,
) {
    let Some(ps) = state.providers.get_mut(id) else {
        return;
    };
    if effective < base {
        ps.next_due = at.saturating_add(effective);
        return;
    }
    let phase = jitter(ps.service.as_str(), 0, base.max(1));
    let earliest = at.saturating_add(effective).saturating_sub(base / 2);
    let k = earliest.saturating_sub(phase).div_ceil(base.max(1));
    ps.next_due = phase.saturating_add(k.saturating_mul(base));
}

/// Sets `map[key]` to `v` and returns the old value, cloning the key only
/// when it is new (the per-observation maps already hold every provider:
/// an `insert` would allocate a key to drop it).
fn upsert<V>(map: &mut BTreeMap<ProviderId, V>, key: &ProviderId, v: V) -> Option<V> {
    match map.get_mut(key) {
        Some(slot) => Some(std::mem::replace(slot, v)),
        None => map.insert(key.clone(), v),
    }
}

/// `map[key]`, created with its default if absent (the key cloned only
/// then).
fn slot<'a, V: Default>(
    map: &'a mut BTreeMap<ProviderId, V>,
    key: &ProviderId,
) -> Option<&'a mut V> {
    if !map.contains_key(key) {
        map.insert(key.clone(), V::default());
    }
    map.get_mut(key)
}
