//! Flap damping, after BGP route flap damping (RFC 2439).
//!
//! Each time a provider is switched away from for cause, its penalty grows by
//! `flap_penalty`; the penalty decays exponentially with `flap_half_life`.
//! Above `flap_suppress` the provider is not a switch target; it becomes one
//! again only once the penalty decays below `flap_reuse`. A provider that
//! fails once is back after one half-life or so; one that keeps failing
//! accumulates penalty and stays out longer each time (growing penalties),
//! and the gap between suppress and reuse is the hysteresis that stops a
//! provider from flapping in and out of eligibility.
//!
//! The decay is integer: halve once per whole half-life, then interpolate
//! linearly within the remainder, so every machine computes the same value.

use crate::config::Switching;
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// A provider's flap penalty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flap {
    /// Penalty at `at`.
    pub penalty: u32,
    /// When `penalty` was last updated.
    pub at: UnixMillis,
    /// Whether the provider is suppressed (sticky until below reuse).
    pub suppressed: bool,
    /// Times penalised in total.
    pub count: u32,
}

/// `p` decayed over `dt` ms with half-life `hl` ms.
pub fn decay(p: u32, dt: u64, hl: u64) -> u32 {
    let hl = hl.max(1);
    let halvings = dt / hl;
    if halvings >= 32 {
        return 0;
    }
    let p = u64::from(p >> halvings);
    let rem = dt % hl;
    // linear between p and p/2 over the remaining fraction of a half-life
    let v = p - (p * rem) / (2 * hl);
    v as u32
}

impl Flap {
    /// The penalty now.
    pub fn current(&self, now: UnixMillis, cfg: &Switching) -> u32 {
        decay(
            self.penalty,
            now.saturating_sub(self.at),
            cfg.flap_half_life.as_ms(),
        )
    }

    /// Adds one penalty for a switch away for cause.
    pub fn penalise(&mut self, now: UnixMillis, cfg: &Switching) {
        self.penalty = self.current(now, cfg).saturating_add(cfg.flap_penalty);
        self.at = now;
        self.count = self.count.saturating_add(1);
        if self.penalty > cfg.flap_suppress {
            self.suppressed = true;
        }
    }

    /// Updates the sticky suppression flag and tells whether the provider
    /// is suppressed now.
    pub fn refresh(&mut self, now: UnixMillis, cfg: &Switching) -> bool {
        if self.suppressed && self.current(now, cfg) < cfg.flap_reuse {
            self.suppressed = false;
        }
        self.suppressed
    }

    /// When a suppressed provider becomes usable again, if nothing else
    /// happens (for the next wake-up).
    pub fn reuse_at(&self, cfg: &Switching) -> Option<UnixMillis> {
        if !self.suppressed {
            return None;
        }
        let hl = cfg.flap_half_life.as_ms();
        // find the first half-life step at which the penalty is below reuse
        let mut t = self.at;
        for _ in 0..64 {
            if decay(self.penalty, t - self.at, hl) < cfg.flap_reuse {
                return Some(t);
            }
            t += hl / 8 + 1;
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MINUTE;

    #[test]
    fn decays_by_half_per_half_life() {
        assert_eq!(decay(1000, 0, 100), 1000);
        assert_eq!(decay(1000, 100, 100), 500);
        assert_eq!(decay(1000, 50, 100), 750);
        assert_eq!(decay(1000, 10_000, 100), 0);
    }

    #[test]
    fn repeated_flaps_stay_out_longer() {
        let cfg = Switching::default();
        let mut f = Flap::default();
        f.penalise(0, &cfg);
        assert!(!f.refresh(0, &cfg), "one failure does not suppress");
        f.penalise(MINUTE, &cfg);
        f.penalise(2 * MINUTE, &cfg);
        assert!(f.refresh(2 * MINUTE, &cfg));
        let first = f.reuse_at(&cfg).unwrap();
        let mut g = f;
        g.penalise(3 * MINUTE, &cfg);
        let second = g.reuse_at(&cfg).unwrap();
        assert!(second > first);
        assert!(!f.refresh(first + MINUTE, &cfg));
    }
}
