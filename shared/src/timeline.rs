//! A provider's last 24 hours at a glance: per half hour, its lowest
//! reputation total and the 95th percentile of its answers' latency — what
//! the dashboard draws as a timeline, with switches and incidents (kept
//! elsewhere, with their exact times) on top.
//!
//! The p95 of a half hour is kept exactly for up to 79 answers (probes
//! every 30 s give 60) without storing them: the answer at the 95th
//! percentile of `n` answers (nearest rank, `⌈0.95·n⌉`-th smallest) is the
//! `(n − ⌈0.95·n⌉ + 1)`-th largest, at most the 4th while `n < 80`, so
//! keeping the four largest answers and the count is enough. With more
//! answers the fourth largest is reported, which is at or above the true
//! p95 — an honest overestimate. A point costs a dozen bytes; 48 points bound a
//! provider's timeline to well under a kilobyte.

use crate::time::MINUTE;
use crate::window::Bucket;
use crate::Bps;
use serde::{Deserialize, Serialize};

/// Width of a point.
pub const WIDTH: u64 = 30 * MINUTE;
/// Points kept (24 hours).
pub const POINTS: u32 = 48;
const TOP: usize = 4;

/// One half hour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// The lowest decision total seen in it.
    pub lowest_total: Option<Bps>,
    /// Answers (successful probes) in it.
    pub answers: u32,
    /// The largest answer latencies, largest first, at most four.
    pub top_ms: Vec<u32>,
}

impl Point {
    /// Adds one answer's latency.
    pub fn answer(&mut self, ms: u32) {
        self.answers = self.answers.saturating_add(1);
        let pos = self.top_ms.partition_point(|&x| x >= ms);
        if pos < TOP {
            self.top_ms.insert(pos, ms);
            self.top_ms.truncate(TOP);
        }
    }

    /// Notes the decision total.
    pub fn total(&mut self, total: Bps) {
        self.lowest_total = Some(self.lowest_total.map_or(total, |t| t.min(total)));
    }

    /// The 95th percentile latency of the answers (see the module docs).
    pub fn p95_ms(&self) -> Option<u32> {
        let n = self.answers as usize;
        if n == 0 {
            return None;
        }
        let rank = (n - (n * 95).div_ceil(100) + 1).clamp(1, TOP);
        self.top_ms.get(rank - 1).or(self.top_ms.last()).copied()
    }
}

impl Bucket for Point {
    /// Two replicas of one half hour: the one that saw more answers (ties
    /// by the rest of the value), a maximum over a total order.
    fn join(&mut self, other: &Self) {
        let key = |p: &Point| {
            (
                p.answers,
                p.top_ms.clone(),
                std::cmp::Reverse(p.lowest_total),
            )
        };
        if key(other) > key(self) {
            *self = other.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_exact_up_to_79_answers_and_over_beyond() {
        for n in 1..=200u32 {
            let mut p = Point::default();
            // Answers 1..=n ms in a scrambled order (7919 is a prime
            // larger than n, so k ↦ 7919·k mod n is a permutation).
            for k in 0..n {
                p.answer(((k * 7919) % n) + 1);
            }
            let mut all: Vec<u32> = (1..=n).collect();
            all.sort_unstable();
            let want = all[(n as usize * 95).div_ceil(100) - 1];
            if n < 80 {
                assert_eq!(p.p95_ms(), Some(want), "n = {n}");
            } else {
                assert!(p.p95_ms() >= Some(want), "n = {n}: never under");
            }
        }
        assert_eq!(Point::default().p95_ms(), None);
    }

    #[test]
    fn lowest_total_and_join() {
        let mut a = Point::default();
        a.total(Bps::new(9_000));
        a.total(Bps::new(7_000));
        a.total(Bps::new(8_000));
        assert_eq!(a.lowest_total, Some(Bps::new(7_000)));
        let mut b = a.clone();
        b.answer(5);
        let mut x = a.clone();
        x.join(&b);
        let mut y = b.clone();
        y.join(&a);
        assert_eq!(x, y, "commutative");
        assert_eq!(x, b, "the replica that saw more wins");
    }
}
