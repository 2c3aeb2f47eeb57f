//! How a provider has been answering: latency quantiles and the hourly and
//! daily uptime buckets of its rolling windows.

use super::common::{Score, Timestamp};
use crate::state::ProviderState;
use crate::time::{UnixMillis, DAY, HOUR};
use crate::window::{Counts, Ring};
use crate::Bps;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latency from the provider's decaying histogram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyDto {
    /// Median, ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<u64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<u64>,
    /// Samples in the histogram (decayed).
    pub samples: u32,
    /// Recent latency (fast moving average), ms.
    pub recent_ms: u32,
    /// The service's latency target, ms.
    pub target_ms: u64,
}

impl LatencyDto {
    /// Of a provider's state, against `target_ms`.
    pub fn of(ps: &ProviderState, target_ms: u64) -> LatencyDto {
        LatencyDto {
            p50_ms: ps.latency.quantile(5000),
            p95_ms: ps.latency.quantile(9500),
            p99_ms: ps.latency.quantile(9900),
            samples: ps.latency.count(),
            recent_ms: ps.recent_latency_ms,
            target_ms,
        }
    }
}

/// Probe outcomes in one hourly or daily bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowBucket {
    /// Age in buckets (0 = the current hour or day).
    pub age: u32,
    /// Start of the bucket.
    pub start: Timestamp,
    /// Successful probes.
    pub ok: u32,
    /// Failed probes (errors, unexpected statuses).
    pub error: u32,
    /// Timed-out probes.
    pub timeout: u32,
    /// Throttled probes (HTTP 429).
    pub throttled: u32,
    /// Share of successful probes; `null` without probes.
    pub uptime: Option<Score>,
}

/// Uptime history: every bucket of the rolling windows, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDto {
    /// 30 daily buckets, oldest first.
    pub daily: Vec<WindowBucket>,
    /// 24 hourly buckets, oldest first.
    pub hourly: Vec<WindowBucket>,
}

fn dense(ring: &Ring<Counts>, now: UnixMillis, width: u64, len: u32) -> Vec<WindowBucket> {
    let mut by_age: BTreeMap<u32, Counts> = BTreeMap::new();
    for (age, c) in ring.iter_aged(now, width, len) {
        by_age.entry(age).or_default().add(c);
    }
    let current = now / width.max(1) * width.max(1);
    (0..len)
        .rev()
        .map(|age| {
            let c = by_age.get(&age).copied().unwrap_or_default();
            WindowBucket {
                age,
                start: Timestamp::at(current.saturating_sub(u64::from(age) * width)),
                ok: c.ok,
                error: c.error,
                timeout: c.timeout,
                throttled: c.throttled,
                uptime: Bps::ratio(u64::from(c.ok), c.total()).map(Score::from),
            }
        })
        .collect()
}

impl HistoryDto {
    /// Of a provider's state.
    pub fn of(ps: &ProviderState, now: UnixMillis) -> HistoryDto {
        HistoryDto {
            daily: dense(&ps.daily, now, DAY, 30),
            hourly: dense(&ps.hourly, now, HOUR, 24),
        }
    }
}
