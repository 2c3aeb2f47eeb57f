//! Rolling time windows of counters.
//!
//! A [`Ring`] keeps one bucket per fixed-width slot of time (an hour, a day)
//! for the last `len` slots, *sparsely*: a provider probed for five minutes
//! stores one bucket, not thirty. Buckets older than the window are pruned
//! as time moves on, so state stays bounded (24 hourly + 30 daily buckets of
//! a few varint counters each). Bucket contents implement [`Bucket`], so the
//! same ring holds probe outcome counts, data-quality tallies or incident
//! counts.
//!
//! Merging two rings takes, slot by slot, the bucket-wise merge of both
//! (for counters, the maximum): that is a join, so merge is commutative,
//! associative and idempotent, which is what two replicas of one history
//! need. It does not add up disjoint observations; the engine avoids that
//! case by re-ingesting observations after a failed conditional write.

use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// What a ring bucket holds.
pub trait Bucket: Default + Clone + PartialEq {
    /// Join with another replica of the same bucket.
    fn join(&mut self, other: &Self);
}

/// Outcome counts of probes in one slot of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Successful probes.
    pub ok: u32,
    /// Failed probes other than timeouts and throttling (connect errors,
    /// 5xx, unexpected status, unusable body).
    pub error: u32,
    /// Probes that timed out.
    pub timeout: u32,
    /// Probes the provider refused with 429 or an equivalent.
    pub throttled: u32,
}

impl Counts {
    /// All probes in the slot.
    pub fn total(&self) -> u64 {
        u64::from(self.ok)
            + u64::from(self.error)
            + u64::from(self.timeout)
            + u64::from(self.throttled)
    }
    /// Probes that did not succeed.
    pub fn failed(&self) -> u64 {
        self.total() - u64::from(self.ok)
    }
    /// Adds another set of counts (saturating).
    pub fn add(&mut self, o: &Counts) {
        self.ok = self.ok.saturating_add(o.ok);
        self.error = self.error.saturating_add(o.error);
        self.timeout = self.timeout.saturating_add(o.timeout);
        self.throttled = self.throttled.saturating_add(o.throttled);
    }
}

impl Bucket for Counts {
    fn join(&mut self, o: &Self) {
        self.ok = self.ok.max(o.ok);
        self.error = self.error.max(o.error);
        self.timeout = self.timeout.max(o.timeout);
        self.throttled = self.throttled.max(o.throttled);
    }
}

/// A sparse ring of `len` buckets of `width` milliseconds each. `width` and
/// `len` are not stored: they are the ring's type-level contract, passed by
/// the owner on every call, which keeps the serialized state small.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ring<T> {
    /// `(slot index, bucket)` in ascending slot order.
    slots: Vec<(u32, T)>,
}

fn slot_of(t: UnixMillis, width: u64) -> u32 {
    u32::try_from(t / width.max(1)).unwrap_or(u32::MAX)
}

impl<T: Bucket> Ring<T> {
    /// Drops buckets that fell out of the window ending at `now`.
    pub fn prune(&mut self, now: UnixMillis, width: u64, len: u32) {
        let current = slot_of(now, width);
        let oldest = current.saturating_sub(len.saturating_sub(1));
        self.slots.retain(|(s, _)| *s >= oldest);
    }

    /// The bucket for the slot containing `t`, created if missing. Returns
    /// `None` when `t` is older than the window ending at `now` (the
    /// observation is too old to count; callers report it, not drop it).
    pub fn bucket_mut(
        &mut self,
        now: UnixMillis,
        t: UnixMillis,
        width: u64,
        len: u32,
    ) -> Option<&mut T> {
        self.prune(now.max(t), width, len);
        let slot = slot_of(t, width);
        let oldest = slot_of(now.max(t), width).saturating_sub(len.saturating_sub(1));
        if slot < oldest {
            return None;
        }
        let pos = match self.slots.binary_search_by_key(&slot, |(s, _)| *s) {
            Ok(p) => p,
            Err(p) => {
                self.slots.insert(p, (slot, T::default()));
                p
            }
        };
        self.slots.get_mut(pos).map(|(_, b)| b)
    }

    /// Buckets inside the window ending at `now`, with their age in slots
    /// (0 = the current slot).
    pub fn iter_aged(
        &self,
        now: UnixMillis,
        width: u64,
        len: u32,
    ) -> impl Iterator<Item = (u32, &T)> {
        let current = slot_of(now, width);
        self.slots.iter().filter_map(move |(s, b)| {
            let age = current.checked_sub(*s)?;
            (age < len).then_some((age, b))
        })
    }

    /// Number of stored buckets.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no bucket is stored.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Slot-wise join with another replica.
    pub fn join(&mut self, other: &Ring<T>) {
        for (slot, b) in &other.slots {
            match self.slots.binary_search_by_key(slot, |(s, _)| *s) {
                Ok(p) => {
                    if let Some((_, mine)) = self.slots.get_mut(p) {
                        mine.join(b);
                    }
                }
                Err(p) => self.slots.insert(p, (*slot, b.clone())),
            }
        }
    }
}

impl Ring<Counts> {
    /// Sum of all counts inside the window ending at `now`.
    pub fn sum(&self, now: UnixMillis, width: u64, len: u32) -> Counts {
        let mut c = Counts::default();
        for (_, b) in self.iter_aged(now, width, len) {
            c.add(b);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR};

    fn ok() -> Counts {
        Counts {
            ok: 1,
            ..Counts::default()
        }
    }

    #[test]
    fn buckets_roll_and_prune() {
        let mut r: Ring<Counts> = Ring::default();
        for h in 0..30u64 {
            let t = h * HOUR + 5;
            r.bucket_mut(t, t, HOUR, 24).unwrap().add(&ok());
        }
        assert_eq!(r.len(), 24);
        assert_eq!(r.sum(29 * HOUR, HOUR, 24).ok, 24);
        // Too old to count: reported as None, not silently added.
        assert!(r.bucket_mut(29 * HOUR, 2 * HOUR, HOUR, 24).is_none());
        // A day later the window is empty.
        assert_eq!(r.sum(29 * HOUR + DAY, HOUR, 24).total(), 0);
    }

    #[test]
    fn join_is_a_semilattice() {
        let mut a: Ring<Counts> = Ring::default();
        let mut b: Ring<Counts> = Ring::default();
        a.bucket_mut(0, 0, HOUR, 24).unwrap().ok = 3;
        b.bucket_mut(0, 0, HOUR, 24).unwrap().ok = 5;
        b.bucket_mut(HOUR, HOUR, HOUR, 24).unwrap().error = 1;
        let mut ab = a.clone();
        ab.join(&b);
        let mut ba = b.clone();
        ba.join(&a);
        assert_eq!(ab, ba);
        let mut abb = ab.clone();
        abb.join(&b);
        assert_eq!(abb, ab);
        assert_eq!(
            ab.sum(HOUR, HOUR, 24),
            Counts {
                ok: 5,
                error: 1,
                ..Counts::default()
            }
        );
    }
}
