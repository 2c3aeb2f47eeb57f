//! Synthetic providers with scripted faults.
//!
//! A [`SimProvider`] answers the core's probe requests the way a real
//! provider would: an API provider returns
//! `{"status":"ok","value":V,"updated_at":T}`, an EVM provider answers the
//! JSON-RPC batch with its chain id and a chain head that advances every
//! `block_time`. [`Fault`]s scheduled on a timeline change the answers.

use super::rng::SimRng;
use crate::probe::{ProbeFailure, ProbeRequest, ProbeResponse, ProbeResult};
use crate::time::UnixMillis;

/// Something wrong with a provider for a while.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// No answer: connection refused.
    Outage,
    /// Answers take `extra_ms` longer.
    Slow {
        /// Added latency.
        extra_ms: u64,
    },
    /// A share of answers (basis points) are HTTP 503.
    Burst5xx {
        /// Share of failing answers.
        rate_bps: u32,
    },
    /// Every answer is HTTP 429.
    Throttle,
    /// The data stops advancing (API `updated_at`, EVM head).
    Stale,
    /// The data is wrong (API `status` is not ok / value out of range;
    /// EVM reports another chain id).
    Wrong,
    /// The data disagrees with the other providers (API value differs;
    /// EVM head hash differs at the same height).
    Inconsistent,
}

/// A synthetic provider.
#[derive(Clone, Debug)]
pub struct SimProvider {
    /// Typical latency.
    pub base_latency_ms: u64,
    /// Uniform jitter added to it.
    pub jitter_ms: u64,
    /// Background share of random 5xx answers (basis points).
    pub noise_5xx_bps: u32,
    /// Scheduled faults: `(from, until, fault)`.
    pub faults: Vec<(UnixMillis, UnixMillis, Fault)>,
    /// EVM: chain id.
    pub chain_id: u64,
    /// EVM: block time.
    pub block_time_ms: u64,
}

impl Default for SimProvider {
    fn default() -> Self {
        SimProvider {
            base_latency_ms: 40,
            jitter_ms: 20,
            noise_5xx_bps: 0,
            faults: Vec::new(),
            chain_id: 1,
            block_time_ms: 12_000,
        }
    }
}

impl SimProvider {
    /// Adds a fault from `from` until `until`.
    pub fn fault(mut self, from: UnixMillis, until: UnixMillis, f: Fault) -> Self {
        self.faults.push((from, until, f));
        self
    }

    fn active(&self, now: UnixMillis) -> impl Iterator<Item = &Fault> {
        self.faults
            .iter()
            .filter(move |(a, b, _)| *a <= now && now < *b)
            .map(|(_, _, f)| f)
    }

    fn stale_since(&self, now: UnixMillis) -> Option<UnixMillis> {
        self.faults
            .iter()
            .filter(|(a, b, f)| *f == Fault::Stale && *a <= now && now < *b)
            .map(|(a, _, _)| *a)
            .min()
    }

    /// Answers `req` at `now`.
    pub fn respond(&self, req: &ProbeRequest, now: UnixMillis, rng: &mut SimRng) -> ProbeResult {
        let faults: Vec<&Fault> = self.active(now).collect();
        let mut latency = self.base_latency_ms + rng.below(self.jitter_ms + 1);
        for f in &faults {
            if let Fault::Slow { extra_ms } = f {
                latency += extra_ms;
            }
        }
        if faults.contains(&&Fault::Outage) {
            return Err(ProbeFailure::Connect("connection refused".into()));
        }
        if latency > req.timeout_ms {
            return Err(ProbeFailure::Timeout);
        }
        let status = if faults.contains(&&Fault::Throttle) {
            429
        } else if faults
            .iter()
            .any(|f| matches!(f, Fault::Burst5xx { rate_bps } if rng.chance(*rate_bps)))
            || rng.chance(self.noise_5xx_bps)
        {
            503
        } else {
            200
        };
        let data_time = self.stale_since(now).unwrap_or(now);
        let wrong = faults.contains(&&Fault::Wrong);
        let inconsistent = faults.contains(&&Fault::Inconsistent);
        let body = if req.body.as_deref().is_some_and(|b| b.starts_with(b"[")) {
            self.evm_body(data_time, wrong, inconsistent)
        } else {
            let value = if inconsistent { 77 } else { 42 };
            let status_s = if wrong { "degraded" } else { "ok" };
            format!(
                r#"{{"status":"{status_s}","value":{value},"updated_at":{}}}"#,
                data_time / 1000
            )
        };
        Ok(ProbeResponse {
            status,
            latency_ms: latency,
            body: body.into_bytes(),
            truncated: false,
            retry_after_s: None,
            signature: None,
        })
    }

    fn evm_body(&self, data_time: UnixMillis, wrong: bool, inconsistent: bool) -> String {
        let number = data_time / self.block_time_ms.max(1);
        let ts = number * self.block_time_ms.max(1) / 1000;
        let chain = if wrong {
            self.chain_id + 1000
        } else {
            self.chain_id
        };
        let salt = if inconsistent { 0xdead_beef_u64 } else { 0 };
        let hash = format!(
            "0x{:064x}",
            (number.wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ salt
        );
        format!(
            r#"[{{"jsonrpc":"2.0","id":1,"result":"0x{chain:x}"}},{{"jsonrpc":"2.0","id":2,"result":"0x{number:x}"}},{{"jsonrpc":"2.0","id":3,"result":{{"number":"0x{number:x}","hash":"{hash}","timestamp":"0x{ts:x}"}}}}]"#
        )
    }
}
