//! Links the real sentinel core into a `wasm32-unknown-unknown` module.
//!
//! [`sentinel_smoke`] is exported from the module, and it runs one whole
//! tick of the shipped driver, [`Sentinel::tick`] — the code the Worker
//! shell runs — over a store kept in memory ([`SmokeStore`], budgeted and
//! last-writer-wins like Workers KV) and a prober that gives canned answers
//! ([`CannedProber`]): it parses an embedded TOML configuration (an API
//! service with schema, business, freshness and consistency checks and an
//! EVM JSON-RPC service), opens the sentinel, plans, turns the answers
//! into observations, ingests them, decides, commits the encoded state,
//! and decodes it again. The futures complete at their first poll (nothing
//! here waits), so no executor is linked. Its result depends on its input,
//! so the linker keeps all of that code, and CI (`.ci/wasm-imports.py`)
//! can check that none of it imports anything from `env`, which would
//! mean native-only code crept into the core.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

use sentinel_core::config::Config;
use sentinel_core::probe::{Observation, ProbeRequest, ProbeResponse, ProbeResult};
use sentinel_core::tick::{
    Capabilities, Commit, CommitBatch, Consistency, Prober, Sentinel, Store, Stored, TickReport,
};
use sentinel_core::time::rfc3339;
use sentinel_core::{State, UnixMillis};
use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// The embedded configuration: one API service with every kind of body
/// check and a quota, one EVM JSON-RPC service.
pub const CONFIG: &str = r#"
[sentinel]
id = "wasm-smoke"
footprint = { quotas = [{ metric = "writes", limit = 1000, period = "day" }] }

[[service]]
id = "prices"
kind = "api"
probe_interval = "30s"

[service.probe]
path = "/v1/price?pair=ETH-USD"
timeout = "2s"
[service.probe.checks]
assertions = [
  { pointer = "/status", equals = "ok" },
  { pointer = "/data/amount", min = 1, max = 1000000 },
  { pointer = "/data/currency", regex = "^[A-Z]{3}$" },
]
freshness = { pointer = "/updated_at", max_age = "5m", format = "rfc3339" }
consistency = { pointer = "/data/amount", tolerance = 25.0 }
schema = { type = "object", required = ["status", "data", "updated_at"], properties = { data = { type = "object", required = ["amount", "currency"] } } }

[[service.provider]]
id = "price-a"
endpoint = "https://a.example"
initial = "active"
limits = { quotas = [{ metric = "requests", limit = 10000, period = "day" }] }

[[service.provider]]
id = "price-b"
endpoint = "https://b.example"

[[service]]
id = "eth"
kind = "evm-rpc"
probe_interval = "30s"
evm = { chain_id = 1, max_block_age = "60s", max_lag_blocks = 3 }

[[service.provider]]
id = "rpc-a"
endpoint = "https://rpc-a.example"
initial = "active"

[[service.provider]]
id = "rpc-b"
endpoint = "https://rpc-b.example/v1"
"#;

/// What one smoke tick did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Probes the tick sent (scheduled and canary).
    pub probes: u32,
    /// Observations that answered and passed every body check.
    pub healthy: u32,
    /// Observations the engine applied.
    pub applied: u32,
    /// Actions the tick committed.
    pub actions: u32,
    /// Size of the committed state.
    pub state_bytes: u32,
}

/// The smoke's store: the committed state in memory, with the
/// capabilities of Workers KV (last-writer-wins, a daily write budget, so
/// no write-ahead log of observations and one write per tick).
#[derive(Debug, Default)]
pub struct SmokeStore {
    /// The committed state.
    pub state: RefCell<Option<Stored>>,
}

impl Store for SmokeStore {
    type Error = Infallible;
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            consistency: Consistency::LastWriterWins,
            writes_per_day: Some(1_000),
        }
    }
    async fn load(&self) -> Result<Option<Stored>, Infallible> {
        Ok(self.state.borrow().clone())
    }
    async fn log_observations(&self, _obs: &[Observation]) -> Result<(), Infallible> {
        Ok(())
    }
    async fn observations_since(
        &self,
        _since: UnixMillis,
        _limit: usize,
    ) -> Result<Vec<Observation>, Infallible> {
        Ok(Vec::new())
    }
    async fn commit(
        &self,
        _expected: Option<u64>,
        batch: &CommitBatch<'_>,
    ) -> Result<Commit, Infallible> {
        let mut state = self.state.borrow_mut();
        let version = state.as_ref().map_or(1, |s| s.version + 1);
        *state = Some(Stored {
            bytes: batch.state.to_bytes(),
            version,
        });
        Ok(Commit::Committed { version })
    }
}

/// A prober answering every request with [`canned_response`], as of
/// `answered_at`.
#[derive(Clone, Copy, Debug)]
pub struct CannedProber {
    /// The time the answers are made at (earlier than the tick: stale).
    pub answered_at: UnixMillis,
}

impl Prober for CannedProber {
    async fn probe(&self, req: &ProbeRequest) -> ProbeResult {
        Ok(canned_response(req, self.answered_at))
    }
}

/// The sentinel of the smoke.
pub type SmokeSentinel = Sentinel<SmokeStore, CannedProber>;

/// Polls `fut` once: the smoke's store and prober never wait, so the
/// sentinel's futures are ready at once.
fn ready<F: Future>(what: &str, fut: F) -> Result<F::Output, String> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => Ok(out),
        Poll::Pending => Err(format!("{what} did not complete at once")),
    }
}

/// A canned successful answer to `req` at `now`: a JSON-RPC batch answer
/// for EVM probes (which send a batch), a price document otherwise.
pub fn canned_response(req: &ProbeRequest, now: UnixMillis) -> ProbeResponse {
    let is_rpc = req.body.as_deref().is_some_and(|b| b.starts_with(b"["));
    let body = if is_rpc {
        let number = now / 12_000;
        let ts = number * 12;
        let hash = format!("0x{:064x}", number.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        format!(
            r#"[{{"jsonrpc":"2.0","id":1,"result":"0x1"}},{{"jsonrpc":"2.0","id":2,"result":"0x{number:x}"}},{{"jsonrpc":"2.0","id":3,"result":{{"number":"0x{number:x}","hash":"{hash}","timestamp":"0x{ts:x}"}}}}]"#
        )
    } else {
        format!(
            r#"{{"status":"ok","data":{{"amount":"3012.55","currency":"USD"}},"updated_at":"{}"}}"#,
            rfc3339(now.saturating_sub(2_000))
        )
    };
    ProbeResponse {
        status: 200,
        latency_ms: 40 + (now % 17),
        body: body.into_bytes(),
        truncated: false,
        retry_after_s: None,
        signature: None,
    }
}

/// Opens a sentinel on an empty [`SmokeStore`] at `now` and runs one
/// [`Sentinel::tick`] against answers made at `answered_at`.
pub fn tick(
    now: UnixMillis,
    answered_at: UnixMillis,
) -> Result<(SmokeSentinel, TickReport), String> {
    let config = Config::from_toml(CONFIG).map_err(|e| e.to_string())?;
    let prober = CannedProber { answered_at };
    let mut sentinel = ready(
        "open",
        Sentinel::open(config, SmokeStore::default(), prober, now),
    )?
    .map_err(|e| e.to_string())?;
    let clock = || now;
    let report = ready("tick", sentinel.tick(&clock))?.map_err(|e| e.to_string())?;
    Ok((sentinel, report))
}

/// Runs one tick of the core at `now` against canned answers and decodes
/// the committed state again.
pub fn smoke(now: UnixMillis) -> Result<Summary, String> {
    let (sentinel, report) = tick(now, now)?;
    let stored = sentinel.store().state.borrow().clone();
    let bytes = stored
        .map(|s| s.bytes)
        .ok_or("the tick committed nothing")?;
    let back = State::from_bytes(&bytes).map_err(|e| e.to_string())?;
    if &back != sentinel.engine().state() {
        return Err("the committed state is not the engine's".into());
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Summary {
        probes: report.probes,
        healthy: count(
            report
                .observations
                .iter()
                .filter(|o| o.is_healthy())
                .count(),
        ),
        applied: report.ingest.applied,
        actions: count(report.actions.len()),
        state_bytes: count(bytes.len()),
    })
}

/// The wasm export: runs [`smoke`] at `now_hi << 32 | now_lo` (Unix
/// milliseconds, split because a `u64` parameter would need BigInt on the
/// JavaScript side) and returns the size of the committed state, or 0 if
/// anything failed or any probe was unhealthy.
// `#[no_mangle]` trips the `unsafe_code` lint (denied for this crate):
// an unmangled symbol could collide with another of the same name at link
// time. The name is specific to this crate and the function is safe Rust,
// so the allowance is confined to this one item.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn sentinel_smoke(now_lo: u32, now_hi: u32) -> u32 {
    let now = (u64::from(now_hi) << 32) | u64::from(now_lo);
    match smoke(now) {
        Ok(s) if s.probes > 0 && s.healthy == s.probes => s.state_bytes,
        _ => 0,
    }
}

/// The config of [`bench`]: `providers` price APIs, ten per service
/// (the embedded [`CONFIG`]'s checks on each).
pub fn bench_config(providers: u32) -> String {
    let mut t = String::from(
        "[sentinel]\nid = \"wasm-bench\"\nfootprint = { quotas = [{ metric = \"writes\", limit = 1000000, period = \"day\" }] }\n",
    );
    for p in 0..providers {
        if p % 10 == 0 {
            t.push_str(&format!(
                r#"
[[service]]
id = "prices-{s}"
kind = "api"
probe_interval = "30s"
[service.probe]
path = "/v1/price?pair=ETH-USD"
timeout = "2s"
[service.probe.checks]
assertions = [{{ pointer = "/status", equals = "ok" }}, {{ pointer = "/data/amount", min = 1, max = 1000000 }}]
freshness = {{ pointer = "/updated_at", max_age = "5m", format = "rfc3339" }}
consistency = {{ pointer = "/data/amount", tolerance = 25.0 }}
"#,
                s = p / 10
            ));
        }
        t.push_str(&format!(
            "\n[[service.provider]]\nid = \"p{p}\"\nendpoint = \"https://p{p}.example\"\n"
        ));
    }
    t
}

/// What a Worker invocation of the scheduled handler does with a warm
/// isolate (config parsed once), `ticks` times, 60 s apart: open the
/// sentinel from the stored state (decode), run one tick that probes all
/// `providers` (canned answers), commit (encode). Returns the size of the
/// last committed state, or 0 on failure.
pub fn bench(providers: u32, ticks: u32, start: UnixMillis) -> Result<u32, String> {
    let config = Config::from_toml(&bench_config(providers)).map_err(|e| e.to_string())?;
    let store = SmokeStore::default();
    let mut size = 0;
    for i in 0..u64::from(ticks) {
        // Twice the probe interval: every provider is due at every tick
        // whatever its service's phase on the probe grid.
        let now = start + i * 60_000;
        let prober = CannedProber { answered_at: now };
        let mut sentinel = ready("open", Sentinel::open(config.clone(), &store, prober, now))?
            .map_err(|e| e.to_string())?;
        // Room for all (the plan keeps a tenth of its budget for re-checks).
        sentinel.set_probe_budget(providers.saturating_mul(2));
        let clock = || now;
        let report = ready("tick", sentinel.tick(&clock))?.map_err(|e| e.to_string())?;
        if report.probes < providers {
            return Err(format!("tick {i} probed {} of {providers}", report.probes));
        }
        size = store.state.borrow().as_ref().map_or(0, |s| s.bytes.len());
    }
    Ok(u32::try_from(size).unwrap_or(u32::MAX))
}

/// The wasm export of [`bench`] (the CPU figure of BENCHMARKS.md: timed
/// under node by `bench/wasm-tick.mjs`).
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn sentinel_tick_bench(providers: u32, ticks: u32, now_lo: u32, now_hi: u32) -> u32 {
    let now = (u64::from(now_hi) << 32) | u64::from(now_lo);
    bench(providers, ticks, now).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_core::probe::Purpose;
    use sentinel_core::time::{days_from_civil, DAY, HOUR};

    fn now() -> UnixMillis {
        days_from_civil(2026, 11, 24) as u64 * DAY + 12 * HOUR + 34_567
    }

    #[test]
    fn a_tick_probes_every_provider_and_all_answers_pass() {
        let s = smoke(now()).unwrap();
        assert_eq!(s.probes, 4, "{s:?}");
        assert_eq!(s.healthy, 4, "{s:?}");
        assert_eq!(s.applied, 4, "{s:?}");
        assert!(s.state_bytes > 100, "{s:?}");
    }

    #[test]
    fn the_export_returns_the_state_size_deterministically() {
        let t = now();
        let (lo, hi) = (t as u32, (t >> 32) as u32);
        let n = sentinel_smoke(lo, hi);
        assert_eq!(n, smoke(t).unwrap().state_bytes);
        assert!(n > 100);
        assert_eq!(sentinel_smoke(lo, hi), n);
    }

    #[test]
    fn the_bench_ticks_probe_every_provider_and_commit() {
        let n = bench(25, 3, now()).unwrap();
        assert!(n > 1_000, "{n}");
        assert_eq!(
            sentinel_tick_bench(25, 0, 0, 0),
            0,
            "no tick, nothing committed"
        );
    }

    #[test]
    fn stale_answers_are_caught() {
        // Canned answers made an hour before `now` fail the freshness and
        // block-age checks: nothing the tick observed is healthy (so the
        // export would report failure).
        let t = now();
        let (_, report) = tick(t, t - HOUR).unwrap();
        let scheduled: Vec<_> = report
            .observations
            .iter()
            .filter(|o| o.purpose == Purpose::Scheduled)
            .collect();
        assert_eq!(scheduled.len(), 4, "{report:?}");
        assert!(
            report.observations.iter().all(|o| !o.is_healthy()),
            "{report:?}"
        );
    }
}

/// The attestation signature the smoke test checks on both targets: the
/// batch digest of one fixed record under the contract's fixed domain
/// (chain 31337, anvil's first deployment address), signed with anvil's
/// first test key. Native and wasm32 must give the same 65 bytes.
pub fn sign_smoke() -> Option<[u8; 65]> {
    use sentinel_core::attest::{keccak256, Domain, Record, Signer};
    let mut contract = [0u8; 20];
    let a = b"5FbDB2315678afecb367f032d93F642f64180aa3";
    for (i, out) in contract.iter_mut().enumerate() {
        let hex = std::str::from_utf8(&a[2 * i..2 * i + 2]).ok()?;
        *out = u8::from_str_radix(hex, 16).ok()?;
    }
    let domain = Domain {
        chain_id: 31337,
        contract,
    };
    let record = Record {
        provider: sentinel_core::ProviderId::new("example-provider-a").ok()?,
        score_bps: 9420,
        trust: 3,
        epoch: 494_444,
        expiry_s: 1_780_007_200,
        evidence: keccak256("evidence-a"),
    };
    let signer =
        Signer::from_hex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
            .ok()?;
    signer.sign(&domain.batch_digest(&[record])).ok()
}

static SIGNATURE: std::sync::Mutex<[u8; 65]> = std::sync::Mutex::new([0u8; 65]);

/// The wasm export: signs as [`sign_smoke`] does and returns the address
/// of the 65 signature bytes in linear memory (0 on failure).
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn sentinel_sign_smoke() -> u32 {
    let Some(sig) = sign_smoke() else { return 0 };
    match SIGNATURE.lock() {
        Ok(mut s) => {
            *s = sig;
            s.as_ptr() as usize as u32
        }
        Err(_) => 0,
    }
}

#[cfg(test)]
mod sign_tests {
    /// The signature the wasm32 build must reproduce (`.ci/run` compares).
    pub const EXPECTED: &str = include_str!("../sign_smoke.hex");

    #[test]
    fn native_signature_is_the_recorded_one() {
        let sig = super::sign_smoke().unwrap();
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, EXPECTED.trim());
    }
}
