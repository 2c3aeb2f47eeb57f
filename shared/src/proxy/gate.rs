//! Admission of proxied attempts, at request time: quotas are a hard stop,
//! a provider that said "429, come back in 60 s" is left alone for 60 s,
//! and one whose last attempt hung is not every request's first try.
//!
//! **Quotas.** The books see proxied usage only at the next tick, so a busy
//! proxy could run a provider far past its quota in between (users saw
//! 150 % and, with every provider at its stop step, 229 %). Each attempt is
//! therefore *reserved* before it is sent: the tightest request quota of
//! the provider, as of the books ([`request_budget`]), minus what was
//! reserved since the books last saw it, must leave room for one more, or
//! the provider is skipped ([`PROBE_RESERVE`] requests stay for the
//! sentinel's own probes). The check and the reservation are one step
//! under one lock, so concurrent requests cannot overshoot together. A
//! reservation is in flight until its request is tallied
//! ([`Reservations::settle`]), then waits for a booking
//! ([`Reservations::booking`]) and is forgotten once the tick's books are
//! published ([`Reservations::booked`]).
//! A provider whose projected use is at or above the ladder's
//! `prefer_free` step (90 %) is tried only after those below it, and
//! never as a retry — traffic leaves it before the 100 % stop, without
//! waiting for a tick.
//!
//! **Marks.** An upstream `429` marks the provider *throttled* until its
//! `Retry-After` (1 s without one): it is skipped until then. A refused,
//! reset or timed-out attempt marks it *failing* for [`FAILING_MARK_MS`]:
//! it is tried last meanwhile, as nginx's `max_fails`/`fail_timeout`
//! passive health checks do, so one dead or hung provider costs one
//! request its timeout, not every request until the next probe.
//!
//! Everything here is in memory, per process: a restart forgets marks and
//! reservations, and the books (which the next tick refreshes) remain the
//! record. With several instances, each reserves against the same booked
//! use, so they may together exceed a quota by what they reserve between
//! two ticks; one instance never does.

use crate::books::{self, Metric, Source};
use crate::time::UnixMillis;
use crate::{Engine, ProviderId};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How long a refused, reset or timed-out attempt demotes its provider.
pub const FAILING_MARK_MS: u64 = 5_000;
/// How long a `429` without `Retry-After` keeps its provider aside.
pub const THROTTLE_DEFAULT_MS: u64 = 1_000;
/// The longest `Retry-After` honoured (a provider asking for a day is
/// left to the books and the switcher instead).
pub const THROTTLE_MAX_MS: u64 = 3_600_000;

/// Why a provider is set aside for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// It answered 429: skip it until the mark expires.
    Throttled,
    /// Its last attempt was refused, reset or timed out: try it last.
    Failing,
}

/// Requests of a quota kept for the sentinel's own probes (a scheduled one
/// and a canary can be in flight in a tick, unseen by the gate): proxied
/// traffic stops this short of the limit, and probes stop at it, so
/// neither pushes the other past 100 %.
pub const PROBE_RESERVE: u64 = 2;

/// The tightest request quota of a provider, as of the books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Requests left in it.
    pub left: u64,
    /// Its limit.
    pub limit: u64,
}

impl Budget {
    /// What proxied traffic may still use: `left` minus [`PROBE_RESERVE`].
    pub fn admissible(&self) -> u64 {
        self.left.saturating_sub(PROBE_RESERVE)
    }

    /// Utilization in basis points with `pending` requests not yet booked.
    pub fn projected_bps(&self, pending: u64) -> u32 {
        let used = self.limit.saturating_sub(self.left).saturating_add(pending);
        let bps = used.saturating_mul(10_000) / self.limit.max(1);
        u32::try_from(bps).unwrap_or(u32::MAX)
    }
}

/// The provider's tightest request quota now (`None`: no request quota).
pub fn request_budget(engine: &Engine, provider: &ProviderId, now: UnixMillis) -> Option<Budget> {
    let rt = engine.registry().provider(provider.as_str())?;
    let ps = engine.state().providers.get(provider)?;
    books::status(&ps.ledger, now, &rt.config.limits, &rt.rates)
        .into_iter()
        .filter(|q| q.source == Source::Quota && q.metric == Metric::Requests && q.limit > 0)
        .map(|q| Budget {
            left: q.limit.saturating_sub(q.used),
            limit: q.limit,
        })
        .min_by_key(|b| b.left)
}

/// What the proxy asks of the shell's admission state.
pub trait Gate {
    /// Reserves one request on `provider` when `budget` (as of the books)
    /// minus what was reserved since leaves room; `None` always admits.
    fn try_reserve(&self, provider: &ProviderId, budget: Option<Budget>) -> bool;
    /// Requests reserved on `provider` that the books have not seen yet.
    fn pending(&self, provider: &ProviderId) -> u64;
    /// Sets `provider` aside from `now` until `until` (a live throttle is
    /// not replaced by a failure; the same mark is extended).
    fn mark(&self, provider: &ProviderId, mark: Mark, now: UnixMillis, until: UnixMillis);
    /// Its mark at `now`, if any.
    fn marked(&self, provider: &ProviderId, now: UnixMillis) -> Option<(Mark, UnixMillis)>;
}

/// A gate that admits everything and remembers nothing (tests, tools).
#[derive(Clone, Copy, Debug, Default)]
pub struct Open;

impl Gate for Open {
    fn try_reserve(&self, _: &ProviderId, _: Option<Budget>) -> bool {
        true
    }
    fn pending(&self, _: &ProviderId) -> u64 {
        0
    }
    fn mark(&self, _: &ProviderId, _: Mark, _: UnixMillis, _: UnixMillis) {}
    fn marked(&self, _: &ProviderId, _: UnixMillis) -> Option<(Mark, UnixMillis)> {
        None
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Reserved by requests still in flight.
    inflight: BTreeMap<ProviderId, u64>,
    /// Reserved by finished requests (tallied) since the last booking began.
    fresh: BTreeMap<ProviderId, u64>,
    /// Reserved before it, being booked by the tick in flight.
    booking: BTreeMap<ProviderId, u64>,
    marks: BTreeMap<ProviderId, (Mark, UnixMillis)>,
}

/// The shell's admission state (see the module docs): reservations not
/// yet in the books, and marks.
#[derive(Debug, Default)]
pub struct Reservations {
    inner: Mutex<Inner>,
}

impl Reservations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The usage reserved so far is being booked by a tick: keep counting
    /// it until that tick's books are published ([`Reservations::booked`]).
    pub fn booking(&self) {
        let mut i = self.lock();
        let fresh = std::mem::take(&mut i.fresh);
        for (p, n) in fresh {
            *i.booking.entry(p).or_default() += n;
        }
    }

    /// The books now include what [`Reservations::booking`] set aside.
    pub fn booked(&self) {
        self.lock().booking.clear();
    }

    /// A request finished and its attempts were added to the usage tally:
    /// its reservations (`ProxyOutcome::reserved`) move from in flight to
    /// the usage the next booking takes.
    pub fn settle(&self, reserved: &[ProviderId]) {
        let mut i = self.lock();
        for p in reserved {
            if let Some(n) = i.inflight.get_mut(p) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    i.inflight.remove(p);
                }
            }
            *i.fresh.entry(p.clone()).or_default() += 1;
        }
    }
}

fn pending_of(i: &Inner, p: &ProviderId) -> u64 {
    [&i.inflight, &i.fresh, &i.booking]
        .iter()
        .map(|m| m.get(p).copied().unwrap_or(0))
        .sum()
}

impl Gate for Reservations {
    fn try_reserve(&self, provider: &ProviderId, budget: Option<Budget>) -> bool {
        let mut i = self.lock();
        if budget.is_some_and(|b| pending_of(&i, provider) >= b.admissible()) {
            return false;
        }
        *i.inflight.entry(provider.clone()).or_default() += 1;
        true
    }

    fn pending(&self, provider: &ProviderId) -> u64 {
        pending_of(&self.lock(), provider)
    }

    fn mark(&self, provider: &ProviderId, mark: Mark, now: UnixMillis, until: UnixMillis) {
        let mut i = self.lock();
        let live = i.marks.get(provider).copied().filter(|(_, u)| *u > now);
        let next = match live {
            Some((Mark::Throttled, _)) if mark == Mark::Failing => return,
            Some((m, u)) if m == mark => (mark, u.max(until)),
            _ => (mark, until),
        };
        i.marks.insert(provider.clone(), next);
        if i.marks.len() > 4_096 {
            // Bounded: forget the expired ones.
            i.marks.retain(|_, m| m.1 > now);
        }
    }

    fn marked(&self, provider: &ProviderId, now: UnixMillis) -> Option<(Mark, UnixMillis)> {
        let mut i = self.lock();
        match i.marks.get(provider).copied() {
            Some((m, until)) if until > now => Some((m, until)),
            Some(_) => {
                i.marks.remove(provider);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ProviderId {
        ProviderId::new(s).unwrap()
    }

    #[test]
    fn reservations_stop_at_the_budget_and_are_forgotten_once_booked() {
        let r = Reservations::default();
        let b = Some(Budget {
            left: 3 + PROBE_RESERVE,
            limit: 10,
        });
        assert!((0..3).all(|_| r.try_reserve(&p("a"), b)));
        assert!(
            !r.try_reserve(&p("a"), b),
            "the fourth would cross the quota"
        );
        assert!(r.try_reserve(&p("b"), b), "per provider");
        assert!(r.try_reserve(&p("a"), None), "no quota: always");
        r.booking();
        assert_eq!(
            r.pending(&p("a")),
            4,
            "in flight during a booking: still counted"
        );
        r.booked();
        assert_eq!(r.pending(&p("a")), 4, "in flight: not in the books yet");
        r.settle(&[p("a"), p("a"), p("a"), p("a")]);
        r.booking();
        assert_eq!(
            r.pending(&p("a")),
            4,
            "still counted while the tick books them"
        );
        r.booked();
        assert_eq!(r.pending(&p("a")), 0);
        assert_eq!(Budget { left: 1, limit: 10 }.projected_bps(0), 9_000);
    }

    #[test]
    fn marks_expire_and_a_throttle_outranks_a_failure() {
        let r = Reservations::default();
        r.mark(&p("a"), Mark::Failing, 0, 100);
        assert_eq!(r.marked(&p("a"), 50), Some((Mark::Failing, 100)));
        r.mark(&p("a"), Mark::Throttled, 50, 500);
        assert_eq!(r.marked(&p("a"), 50), Some((Mark::Throttled, 500)));
        r.mark(&p("a"), Mark::Failing, 60, 900);
        assert_eq!(
            r.marked(&p("a"), 50),
            Some((Mark::Throttled, 500)),
            "a failure does not shorten or replace a throttle"
        );
        assert_eq!(r.marked(&p("a"), 500), None, "expired");
        r.mark(&p("a"), Mark::Failing, 600, 700);
        assert_eq!(r.marked(&p("a"), 650), Some((Mark::Failing, 700)));
    }
}
