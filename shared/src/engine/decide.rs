//! Deciding: budgets, scores, trust, lifecycle, switches and alerts.
//!
//! Run once per tick after `ingest`, and again after canary observations.
//! Every transition is reported as an [`Action`] with a machine-readable
//! reason, in a deterministic order (services and providers by id).

use super::Engine;
use crate::action::{Action, Decision};
use crate::books::{self, Step};
use crate::lifecycle::{trust_level, Lifecycle};
use crate::probe::{Outcome, Purpose};
use crate::reputation::Reputation;
use crate::state::{ActiveAlert, PendingSwitch, Severity, SwitchRecord};
use crate::switcher::{self, Reason, Urgency, View};
use crate::time::UnixMillis;
use crate::{Bps, Kind, ProviderId, ServiceId};
use std::collections::BTreeMap;

type Firing = BTreeMap<String, (Severity, String)>;

/// This tick's reputations, sorted by provider id (they are computed in
/// the order of the state's ordered map): a lookup is a binary search,
/// and nothing is moved to build it.
struct Reps(Vec<(ProviderId, Reputation)>);

impl Reps {
    fn get(&self, id: &ProviderId) -> Option<&Reputation> {
        let i = self.0.binary_search_by(|(p, _)| p.cmp(id)).ok()?;
        self.0.get(i).map(|(_, r)| r)
    }
}

impl Engine {
    /// Decides what to do at `now`. See the module docs.
    pub fn decide(&mut self, now: UnixMillis) -> Decision {
        let mut d = Decision::default();
        let mut firing: Firing = BTreeMap::new();
        self.state.revision = self.state.revision.saturating_add(1);
        self.state.last_decide = now;
        let ids: Vec<ProviderId> = self.state.providers.keys().cloned().collect();

        self.decide_budgets(now, &ids, &mut d, &mut firing);
        let reps = self.decide_scores(now, &ids, &mut d);
        self.decide_quorum(now, &mut d, &mut firing);
        self.decide_lifecycles(now, &ids, &reps, &mut d);
        self.reconcile_routes(now, &mut d);

        let services: Vec<ServiceId> = self.state.services.keys().cloned().collect();
        for svc in &services {
            self.decide_service(now, svc, &reps, &mut d, &mut firing);
        }

        self.provider_alerts(&ids, &mut firing);
        self.chain_alerts(now, &mut firing);
        self.schedule_alert(&mut firing);
        self.anchoring_alert(now, &mut firing);
        self.apply_alerts(now, firing, &mut d);
        for (id, rep) in &reps.0 {
            if let Some(ps) = self.state.providers.get_mut(id) {
                let card = rep.card();
                crate::reputation::snapshot(&mut ps.card_ref, now, card);
                if let Some(p) = ps.timeline.bucket_mut(
                    now,
                    now,
                    crate::timeline::WIDTH,
                    crate::timeline::POINTS,
                ) {
                    p.total(card.total);
                }
                ps.card = Some(card);
            }
        }
        d
    }

    fn decide_budgets(
        &mut self,
        now: UnixMillis,
        ids: &[ProviderId],
        d: &mut Decision,
        firing: &mut Firing,
    ) {
        let ladder = self.config.ladder.clone();
        let mut spent_by_kind: BTreeMap<Kind, u64> = BTreeMap::new();
        for id in ids {
            let (Some(rt), Some(ps)) = (
                self.registry.provider(id.as_str()),
                self.state.providers.get_mut(id),
            ) else {
                continue;
            };
            ps.ledger.roll(now, &rt.config.limits);
            let statuses = books::status(&ps.ledger, now, &rt.config.limits, &rt.rates);
            let (step, reason) = books::step(&statuses, &ladder);
            if step != ps.step {
                d.actions.push(Action::BudgetStep {
                    target: id.to_string(),
                    from: ps.step,
                    to: step,
                    reason: reason.clone(),
                });
                ps.step = step;
            }
            if step >= Step::Alert {
                let sev = match step {
                    Step::Stop => Severity::Critical,
                    Step::ScaleDown | Step::PreferFree => Severity::Warning,
                    _ => Severity::Info,
                };
                firing.insert(
                    format!("budget:{id}"),
                    (sev, budget_message(id.as_str(), step, reason.as_ref())),
                );
            }
            if let Some(kind) = self.registry.service(&rt.service).map(|s| s.config.kind) {
                let e = spent_by_kind.entry(kind).or_insert(0);
                *e = e.saturating_add(ps.ledger.cost_nano);
            }
        }
        // The sentinel's own footprint.
        self.state
            .footprint
            .roll(now, &self.config.sentinel.footprint);
        let statuses = books::status(
            &self.state.footprint,
            now,
            &self.config.sentinel.footprint,
            &books::Rates::default(),
        );
        let (step, reason) = books::step(&statuses, &ladder);
        if step != self.state.footprint_step {
            d.actions.push(Action::BudgetStep {
                target: "sentinel".into(),
                from: self.state.footprint_step,
                to: step,
                reason: reason.clone(),
            });
            self.state.footprint_step = step;
        }
        if step >= Step::Alert {
            let sev = if step >= Step::ScaleDown {
                Severity::Critical
            } else {
                Severity::Warning
            };
            firing.insert(
                "footprint".into(),
                (
                    sev,
                    budget_message("the sentinel's own footprint", step, reason.as_ref()),
                ),
            );
        }
        for (kind, (step, used)) in
            books::kind_budget_step(&spent_by_kind, &self.config.budgets, &ladder)
        {
            if step >= Step::Alert {
                let sev = if step >= Step::Stop {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                firing.insert(
                    format!("budget-kind:{kind}"),
                    (
                        sev,
                        format!(
                            "{kind} providers have used {used}% of their monthly budget ({})",
                            step_name(step)
                        ),
                    ),
                );
            }
        }
    }

    fn decide_scores(&mut self, now: UnixMillis, ids: &[ProviderId], d: &mut Decision) -> Reps {
        // `ids` are the state's providers, so every reputation has one.
        let computed = self.reputations(ids, now);
        let policy = &self.config.policy;
        for (id, rep) in &computed {
            let Some(ps) = self.state.providers.get_mut(id) else {
                continue;
            };
            let trust = trust_level(rep.total, ps.attested_until, now, &policy.trust);
            if trust != ps.trust {
                if ps.card.is_some() {
                    d.actions.push(Action::Trust {
                        provider: id.clone(),
                        from: ps.trust,
                        to: trust,
                        total: rep.total,
                    });
                }
                ps.trust = trust;
            }
            let samples = rep.uptime.inputs.get("probes_30d").copied().unwrap_or(0);
            // Through testing, the lowest *raw* total after warm-up: the
            // shrunk total of a newcomer starts at its prior by design, and
            // would fail every newcomer; confidence is checked at the end.
            if ps.lifecycle == Lifecycle::Testing
                && samples >= u64::from(policy.lifecycle.warmup_samples)
            {
                let raw = rep.raw_total.unwrap_or(Bps::ZERO);
                ps.testing_min = Some(ps.testing_min.map_or(raw, |m| m.min(raw)));
            }
        }
        Reps(computed)
    }

    fn decide_lifecycles(
        &mut self,
        now: UnixMillis,
        ids: &[ProviderId],
        reps: &Reps,
        d: &mut Decision,
    ) {
        let lc = self.config.policy.lifecycle;
        let sw = self.config.policy.switching;
        for id in ids {
            let routed = self.is_routed(id);
            // A failure the peers' quorum holds back (seen from here only,
            // awaiting a peer, or a suspected own network) is not acted on.
            let held = self.held(id);
            let note = self.quorum_note(id);
            let Some(ps) = self.state.providers.get_mut(id) else {
                continue;
            };
            let down_for = ps.down_since.map(|s| now.saturating_sub(s));
            // A run of 429s is a provider refusing *us*: throttled, not
            // down (the switcher moves traffic; the lifecycle stays).
            let throttled = matches!(ps.streak_cause, Some((Outcome::Throttled, n)) if n >= ps.consecutive_failures);
            let failed_now = !throttled
                && !held
                && (ps.consecutive_failures >= sw.failure_threshold
                    || down_for.is_some_and(|t| t > sw.down_after.as_ms()));
            let total = reps.get(id).map_or(Bps::ZERO, |r| r.total);
            let samples = reps
                .get(id)
                .and_then(|r| r.uptime.inputs.get("probes_30d").copied())
                .unwrap_or(0);
            let next = match ps.lifecycle {
                Lifecycle::Discovered => Some((Lifecycle::Testing, "testing started".to_string())),
                Lifecycle::Testing
                    if now >= ps.lifecycle_since.saturating_add(lc.testing_period.as_ms()) =>
                {
                    let min = ps.testing_min.unwrap_or(Bps::ZERO);
                    if samples >= u64::from(lc.warmup_samples)
                        && min > lc.promote_above
                        && total > lc.promote_above
                    {
                        Some((
                            Lifecycle::Standby,
                            format!(
                                "passed testing: lowest total {min}, above {}",
                                lc.promote_above
                            ),
                        ))
                    } else {
                        Some((Lifecycle::Testing, format!("failed testing: lowest total {min} (needs above {}) over {samples} probes; testing restarts", lc.promote_above)))
                    }
                }
                Lifecycle::Active | Lifecycle::Standby if failed_now => Some((
                    Lifecycle::Failed,
                    format!(
                        "{} consecutive failed probes, down for {} s{note}",
                        ps.consecutive_failures,
                        down_for.unwrap_or(0) / 1000
                    ),
                )),
                Lifecycle::Standby if routed => Some((Lifecycle::Active, "routed".to_string())),
                Lifecycle::Failed if ps.consecutive_successes >= lc.recovery_successes => Some((
                    Lifecycle::Recovering,
                    format!("{} consecutive successful probes", ps.consecutive_successes),
                )),
                Lifecycle::Recovering if ps.consecutive_failures > 0 => Some((
                    Lifecycle::Failed,
                    "failed again while recovering".to_string(),
                )),
                Lifecycle::Recovering
                    if now
                        >= ps
                            .lifecycle_since
                            .saturating_add(lc.recovery_period.as_ms())
                        && total > self.config.policy.trust.testing_above =>
                {
                    let to = if routed {
                        Lifecycle::Active
                    } else {
                        Lifecycle::Standby
                    };
                    Some((to, format!("healthy for {}", lc.recovery_period)))
                }
                _ => None,
            };
            if let Some((to, why)) = next {
                let from = ps.lifecycle;
                ps.lifecycle = to;
                ps.lifecycle_since = now;
                if to == Lifecycle::Testing {
                    ps.testing_min = None;
                }
                d.actions.push(Action::Lifecycle {
                    provider: id.clone(),
                    from,
                    to,
                    why,
                });
            }
        }
    }

    fn is_routed(&self, id: &ProviderId) -> bool {
        self.state
            .providers
            .get(id)
            .and_then(|ps| self.state.services.get(&ps.service))
            .is_some_and(|s| s.active.as_ref() == Some(id))
    }

    fn decide_service(
        &mut self,
        now: UnixMillis,
        svc: &ServiceId,
        reps: &Reps,
        d: &mut Decision,
        firing: &mut Firing,
    ) {
        let sw = self.config.policy.switching;
        let Some(rt) = self.registry.service(svc.as_str()) else {
            return;
        };
        let interval = rt.config.probe_interval.as_ms();
        // Refresh flap suppression first: it feeds the views.
        for id in rt.providers.clone() {
            if let Some(ps) = self.state.providers.get_mut(&id) {
                ps.flap.refresh(now, &sw);
            }
        }
        let views: Vec<View> = rt
            .providers
            .iter()
            .filter_map(|id| reps.get(id).and_then(|rep| self.view(id, now, rep)))
            .collect();
        let Some(st) = self.state.services.get(svc).cloned() else {
            return;
        };
        let active = st
            .active
            .as_ref()
            .and_then(|a| views.iter().find(|v| &v.id == a));
        let current_trigger = |views: &[View]| -> Option<Reason> {
            match active {
                None => Some(Reason::Initial),
                Some(a) => switcher::trigger(a, &sw)
                    .or_else(|| switcher::better_alternative(a, views, &sw)),
            }
        };

        if let Some(p) = st.pending.clone() {
            let still = current_trigger(&views);
            if still.is_none() {
                self.abort(svc, &p, "trigger-cleared", d);
            } else {
                match p.canary {
                    Some(true) => {
                        self.complete_switch(now, svc, p, d);
                        return;
                    }
                    Some(false) => {
                        self.block_candidate(&p.to, now + 2 * interval);
                        self.abort(svc, &p, "canary-failed", d);
                    }
                    None if now > p.deadline => {
                        self.block_candidate(&p.to, now + 2 * interval);
                        self.abort(svc, &p, "canary-timeout", d);
                    }
                    None => {
                        if let Some(req) = self.probe_request(&p.to, Purpose::Canary) {
                            d.canaries.push(req);
                        }
                        return;
                    }
                }
            }
        }

        // Re-read views: a failed canary blocks its candidate.
        let views: Vec<View> = views
            .into_iter()
            .map(|mut v| {
                if let Some(ps) = self.state.providers.get(&v.id) {
                    v.canary_blocked = ps.canary_block_until > now;
                }
                v
            })
            .collect();
        let active = st
            .active
            .as_ref()
            .and_then(|a| views.iter().find(|v| &v.id == a));
        let reason = match active {
            None => Some(Reason::Initial),
            Some(a) => {
                switcher::trigger(a, &sw).or_else(|| switcher::better_alternative(a, &views, &sw))
            }
        };
        let Some(reason) = reason else {
            if let Some(s) = self.state.services.get_mut(svc) {
                s.streak = None;
            }
            return;
        };
        let windowed = matches!(reason, Reason::Latency { .. });
        if reason.urgency() < Urgency::Critical {
            let name = reason.name().to_string();
            let n = match &st.streak {
                Some((prev, n)) if *prev == name => n.saturating_add(1),
                _ => 1,
            };
            if let Some(s) = self.state.services.get_mut(svc) {
                s.streak = Some((name, n));
            }
            let sustained = windowed || n >= sw.sustain;
            if !sustained || now.saturating_sub(st.since) < sw.min_dwell.as_ms() {
                return;
            }
        }
        let prefer_free = active.is_some_and(|a| a.step >= Step::PreferFree)
            || matches!(
                reason,
                Reason::Utilization { .. }
                    | Reason::BudgetExhausted { .. }
                    | Reason::BudgetPressure { .. }
            );
        let mut eligible: Vec<&View> = views
            .iter()
            .filter(|c| switcher::eligible(c, active, &reason, &sw))
            .collect();
        if eligible.is_empty() {
            // A dead route: a provider answering again beats a dead one,
            // even before its recovery period is over.
            eligible = views
                .iter()
                .filter(|c| switcher::last_resort(c, active, &reason))
                .collect();
        }
        let Some(best) = switcher::rank(eligible, prefer_free, &sw)
            .into_iter()
            .next()
            .map(|v| v.id.clone())
        else {
            if reason.urgency() >= Urgency::Degraded {
                let sev = if reason.urgency() == Urgency::Critical {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let current = st
                    .active
                    .as_ref()
                    .map_or("nothing".to_string(), |a| a.to_string());
                firing.insert(
                    format!("no-alternative:{svc}"),
                    (sev, format!("{svc}: {} on {current}, and no healthy, trusted alternative to switch to", reason.name())),
                );
            }
            return;
        };
        let pending = PendingSwitch {
            to: best.clone(),
            reason: reason.clone(),
            proposed_at: now,
            deadline: now.saturating_add(sw.canary_timeout.as_ms()),
            canary: None,
        };
        if let Some(s) = self.state.services.get_mut(svc) {
            s.pending = Some(pending);
        }
        d.actions.push(Action::CanaryRequested {
            service: svc.clone(),
            candidate: best.clone(),
            reason,
        });
        if let Some(req) = self.probe_request(&best, Purpose::Canary) {
            d.canaries.push(req);
        }
    }

    fn block_candidate(&mut self, id: &ProviderId, until: UnixMillis) {
        if let Some(ps) = self.state.providers.get_mut(id) {
            ps.canary_block_until = ps.canary_block_until.max(until);
        }
    }

    fn abort(&mut self, svc: &ServiceId, p: &PendingSwitch, why: &str, d: &mut Decision) {
        if let Some(s) = self.state.services.get_mut(svc) {
            s.pending = None;
        }
        d.actions.push(Action::SwitchAborted {
            service: svc.clone(),
            candidate: p.to.clone(),
            why: why.to_string(),
        });
    }

    /// Routes `svc` to `to` (decided at `since`, for `reason`), clears a
    /// pending switch and the trigger streak, and records the switch in
    /// the bounded history. Returns the provider routed before and the
    /// record; `None` for an unknown service.
    pub(super) fn route_to(
        &mut self,
        now: UnixMillis,
        svc: &ServiceId,
        to: &ProviderId,
        since: UnixMillis,
        reason: Reason,
    ) -> Option<(Option<ProviderId>, SwitchRecord)> {
        let limit = self.config.sentinel.history_limit as usize;
        let s = self.state.services.get_mut(svc)?;
        let from = s.active.clone();
        s.active = Some(to.clone());
        s.since = since;
        s.reason = Some(reason.clone());
        s.switches = s.switches.saturating_add(1);
        s.pending = None;
        s.streak = None;
        self.state.switch_seq = self.state.switch_seq.saturating_add(1);
        let record = SwitchRecord {
            seq: self.state.switch_seq,
            at: now,
            service: svc.clone(),
            from: from.clone(),
            to: to.clone(),
            reason,
        };
        self.state.history.push_back(record.clone());
        while self.state.history.len() > limit {
            self.state.history.pop_front();
        }
        Some((from, record))
    }

    fn complete_switch(
        &mut self,
        now: UnixMillis,
        svc: &ServiceId,
        p: PendingSwitch,
        d: &mut Decision,
    ) {
        let sw = self.config.policy.switching;
        let Some((from, record)) = self.route_to(now, svc, &p.to, now, p.reason.clone()) else {
            return;
        };
        if let Some(from) = &from {
            if let Some(ps) = self.state.providers.get_mut(from) {
                if p.reason.penalises() {
                    ps.flap.penalise(now, &sw);
                }
                let to = if matches!(p.reason, Reason::Failed { .. }) {
                    Lifecycle::Failed
                } else {
                    Lifecycle::Standby
                };
                if ps.lifecycle != to {
                    d.actions.push(Action::Lifecycle {
                        provider: from.clone(),
                        from: ps.lifecycle,
                        to,
                        why: format!("switched away: {}", p.reason.name()),
                    });
                    ps.lifecycle = to;
                    ps.lifecycle_since = now;
                }
            }
        }
        if let Some(ps) = self.state.providers.get_mut(&p.to) {
            if ps.lifecycle != Lifecycle::Active {
                d.actions.push(Action::Lifecycle {
                    provider: p.to.clone(),
                    from: ps.lifecycle,
                    to: Lifecycle::Active,
                    why: "switched to".into(),
                });
                ps.lifecycle = Lifecycle::Active;
                ps.lifecycle_since = now;
            }
        }
        d.actions.push(Action::Switch { record });
    }

    fn provider_alerts(&self, ids: &[ProviderId], firing: &mut Firing) {
        let threshold = self.config.policy.switching.failure_threshold;
        for id in ids {
            let Some(ps) = self.state.providers.get(id) else {
                continue;
            };
            let routed = self.is_routed(id);
            let last = ps
                .last
                .as_ref()
                .and_then(|l| l.detail.clone())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            if ps.lifecycle == Lifecycle::Failed {
                let sev = if routed {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let what = ps
                    .streak_cause
                    .map_or_else(|| "failed its probes".to_string(), |(o, _)| o.phrase());
                firing.insert(
                    format!("provider-down:{id}"),
                    (
                        sev,
                        format!(
                            "{id} is down: it {what}; {} failed probes in a row{last}",
                            ps.consecutive_failures
                        ),
                    ),
                );
            }
            if let Some((Outcome::Throttled, n)) = ps.streak_cause {
                if n >= threshold {
                    let retry = ps
                        .last
                        .as_ref()
                        .and_then(|l| crate::probe::retry_after_of(l.detail.as_deref()))
                        .map(|s| format!("; Retry-After {}", crate::words::duration(s * 1000)))
                        .unwrap_or_default();
                    firing.insert(
                        format!("throttled:{id}"),
                        (
                            if routed {
                                Severity::Critical
                            } else {
                                Severity::Warning
                            },
                            format!("{id} answered 429 Too Many Requests {n} times in a row{retry}: it is up but refuses the sentinel's requests (a quota)"),
                        ),
                    );
                }
            }
            if ps.consecutive_bad >= threshold {
                let check = ps.bad_check.clone().unwrap_or_default();
                let why = ps.bad_reason.map(|r| format!(" ({r})")).unwrap_or_default();
                firing.insert(
                    format!("bad-data:{id}"),
                    (
                        Severity::Warning,
                        format!(
                            "{id} {} {} times in a row: its {check} check failed{why}{last}",
                            crate::words::check_phrase(&check),
                            ps.consecutive_bad
                        ),
                    ),
                );
            }
        }
    }

    /// Per service: `fork:{svc}` while providers disagree on a block (the
    /// majority is routed to; with a tie the route stays where it is), and
    /// `stale-chain:{svc}` while every provider's latest block is too old.
    fn chain_alerts(&self, now: UnixMillis, firing: &mut Firing) {
        for (svc, st) in &self.state.services {
            if let Some(f) = &st.fork {
                let mut sides: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (p, h) in &f.hashes {
                    sides.entry(h.as_str()).or_default().push(p.as_str());
                }
                let sides: Vec<String> = sides
                    .iter()
                    .map(|(h, ps)| format!("{} say {}", ps.join(", "), short_hash(h)))
                    .collect();
                let route = st
                    .active
                    .as_ref()
                    .map_or("nothing".into(), |a| a.to_string());
                let verdict = match &f.majority {
                    Some(m) => format!("the majority ({}) is routed to; traffic is on {route}", short_hash(m)),
                    None => format!("no majority to tell which is right: the route stays on {route}; add a third provider to decide"),
                };
                firing.insert(
                    format!("fork:{svc}"),
                    (
                        Severity::Critical,
                        format!(
                            "{svc}: a chain fork at block {}: {} (since {}); {verdict}",
                            f.number,
                            sides.join("; "),
                            crate::words::duration(now.saturating_sub(f.since)) + " ago"
                        ),
                    ),
                );
            }
            if let Some(since) = st.chain_stale_since {
                firing.insert(
                    format!("stale-chain:{svc}"),
                    (
                        Severity::Warning,
                        format!(
                            "{svc}: every provider's latest block is older than max_block_age (for {}): the chain is not moving, or max_block_age is tighter than the block time; providers are still compared with each other",
                            crate::words::duration(now.saturating_sub(since))
                        ),
                    ),
                );
            }
        }
    }

    /// `schedule-behind`: probes were deferred for three ticks in a row,
    /// or a provider's last scheduled probe ran more than one interval
    /// (or, when longer, one of the shell's wake-up periods) late — the
    /// real probe interval has stretched past the configured one while
    /// `/healthz` still looks fresh. A cron that wakes every 2 minutes
    /// probes a 30 s service up to 2 minutes late by design.
    fn schedule_alert(&self, firing: &mut Firing) {
        let s = &self.state.schedule;
        let worst = s
            .lag_ms
            .iter()
            .filter_map(|(id, lag)| {
                let rt = self.registry.provider(id.as_str())?;
                let svc = self.registry.service(&rt.service)?;
                let interval = svc.config.probe_interval.as_ms();
                (*lag > interval.max(self.wake_period_ms)).then_some((*lag, interval, id))
            })
            .max();
        if s.deferred_ticks < 3 && worst.is_none() {
            return;
        }
        let mut parts = Vec::new();
        if s.deferred_ticks >= 3 {
            parts.push(format!(
                "{} due probe(s) deferred by the probe budget ({} per tick) in each of the last {} tick(s)",
                s.deferred,
                self.probe_budget(),
                s.deferred_ticks
            ));
        }
        if let Some((lag, interval, id)) = worst {
            parts.push(format!(
                "`{id}` was probed {} s late (interval {} s)",
                lag / 1000,
                interval / 1000
            ));
        }
        let mut message = format!("the probe schedule is falling behind: {}", parts.join("; "));
        message.push_str(
            "; raise the shell's capacity or probe_budget_per_tick, or lengthen probe_interval",
        );
        firing.insert("schedule-behind".into(), (Severity::Warning, message));
    }

    /// `anchoring`: anchoring on chain has been failing for 10 minutes (a
    /// missing co-signer or one lost round with the endpoint is not worth
    /// a page; an hour's records going unanchored is). The step records
    /// when its outcome last changed, so that is when the failure began;
    /// the alert resolves with the next step that goes as it should.
    fn anchoring_alert(&self, now: UnixMillis, firing: &mut Firing) {
        const AFTER: UnixMillis = 10 * 60_000;
        let Some(last) = &self.state.anchoring.last else {
            return;
        };
        if self.config.chain.is_none() || last.ok || now.saturating_sub(last.at) < AFTER {
            return;
        }
        firing.insert(
            "anchoring".into(),
            (
                Severity::Warning,
                format!(
                    "anchoring on chain has been failing for {}: {}",
                    crate::words::duration(now.saturating_sub(last.at)),
                    last.what
                ),
            ),
        );
    }

    fn apply_alerts(&mut self, now: UnixMillis, firing: Firing, d: &mut Decision) {
        let resolved: Vec<String> = self
            .state
            .alerts
            .keys()
            .filter(|k| !firing.contains_key(*k))
            .cloned()
            .collect();
        for key in resolved {
            if let Some(a) = self.state.alerts.remove(&key) {
                d.actions.push(Action::Alert {
                    key,
                    severity: a.severity,
                    message: format!("resolved: {}", a.message),
                    firing: false,
                });
            }
        }
        for (key, (severity, message)) in firing {
            match self.state.alerts.get_mut(&key) {
                Some(a) if a.severity >= severity => {
                    a.severity = severity;
                    a.message = message;
                }
                Some(a) => {
                    // Escalation: fire again at the higher severity.
                    a.severity = severity;
                    a.message = message.clone();
                    d.actions.push(Action::Alert {
                        key,
                        severity,
                        message,
                        firing: true,
                    });
                }
                None => {
                    self.state.alerts.insert(
                        key.clone(),
                        ActiveAlert {
                            severity,
                            since: now,
                            message: message.clone(),
                        },
                    );
                    d.actions.push(Action::Alert {
                        key,
                        severity,
                        message,
                        firing: true,
                    });
                }
            }
        }
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Normal => "normal",
        Step::Alert => "alert",
        Step::PreferFree => "prefer free headroom",
        Step::ScaleDown => "scale down",
        Step::Stop => "stop",
    }
}

fn budget_message(subject: &str, step: Step, reason: Option<&books::Reason>) -> String {
    match reason {
        Some(r) => format!(
            "{subject}: {} {} of {} used this {} ({}%, projected {}%): {}",
            r.used,
            r.metric.as_str(),
            r.limit,
            r.period.as_str(),
            r.utilization,
            r.projected,
            step_name(step)
        ),
        None => format!("{subject}: {}", step_name(step)),
    }
}

/// `0x1234…cdef`: enough of a block hash to tell two apart.
fn short_hash(h: &str) -> String {
    if h.len() > 14 && h.is_char_boundary(6) && h.is_char_boundary(h.len() - 4) {
        format!("{}…{}", &h[..6], &h[h.len() - 4..])
    } else {
        h.to_string()
    }
}
