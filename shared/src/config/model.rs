//! The configuration model. Every struct rejects unknown keys, and every
//! default is written on the field that has it: the defaults are the seed
//! design's numbers unless the doc comment says why not.

use crate::books::{Budgets, CostModel, Ladder, Limits};
use crate::quality::{Checks, EvmChecks, QualityWeights};
use crate::secret::SealedSecret;
use crate::time::Span;
use crate::{Bps, Kind, ProviderId, SentinelId, ServiceId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole sentinel configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings of this sentinel instance.
    pub sentinel: SentinelSettings,
    /// Scoring, switching, lifecycle and trust policy.
    #[serde(default)]
    pub policy: Policy,
    /// Monthly budgets per provider kind.
    #[serde(default)]
    pub budgets: Budgets,
    /// The budget ladder (alert 80 %, prefer free 90 %, scale down 95 %,
    /// stop 100 %).
    #[serde(default)]
    pub ladder: Ladder,
    /// The services and their providers (`[[service]]` in TOML).
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceConfig>,
    /// Peer sentinels (`[[peer]]`): each is checked and its observations
    /// read at every tick, and a provider is failed only when the vantages
    /// that can see it agree ([`crate::peer`]).
    #[serde(default, rename = "peer", skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerConfig>,
    /// How the peers' votes count.
    #[serde(default)]
    pub quorum: QuorumPolicy,
    /// Where attestations are anchored (`[chain]`; none: not anchored).
    /// The signing key is a platform secret (`SENTINEL_CHAIN_KEY`), never
    /// the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainConfig>,
    /// Discovery of providers from the catalog (`[discovery]`; see
    /// [`crate::discovery`]).
    #[serde(default, skip_serializing_if = "DiscoverySettings::is_default")]
    pub discovery: DiscoverySettings,
}

/// The chain attestations are anchored on ([`crate::chain`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC endpoint (http or https).
    pub rpc: String,
    /// The chain's id; checked against the endpoint's `eth_chainId` before
    /// anything is signed (the EIP-712 domain binds it).
    pub chain_id: u64,
    /// The `SentinelTrust` contract's address (`0x` and 40 hex digits).
    pub contract: String,
    /// Lowest trust level a record must claim to be anchored (and below
    /// which a live record is revoked): 2 trusted (default), 3 verified.
    #[serde(default = "defaults::anchor_min_trust")]
    pub min_trust: u8,
    /// Most records per transaction. Default 100.
    #[serde(default = "defaults::anchor_max_batch")]
    pub max_batch: u32,
    /// Highest fee per gas this sentinel pays, in gwei. Default 100: a
    /// transaction that would cost more waits (and says so) rather than
    /// paying whatever a fee spike asks.
    #[serde(default = "defaults::anchor_max_fee_gwei")]
    pub max_fee_gwei: u64,
    /// How far a peer's proposed score may be from this sentinel's own
    /// for it to co-sign, in basis points. Default 500 (5 points): two
    /// vantages never see exactly the same latencies.
    #[serde(default = "defaults::anchor_tolerance_bps")]
    pub tolerance_bps: u16,
    /// How long a sent transaction may stay unmined before it is sent
    /// again with higher fees (same nonce). Default 3m.
    #[serde(default = "defaults::anchor_replace_after")]
    pub replace_after: Span,
    /// How long to wait after a failed step (an unreachable endpoint,
    /// missing co-signers) before trying again. Default 1m.
    #[serde(default = "defaults::anchor_retry_after")]
    pub retry_after: Span,
    /// Longest time between two reads of the chain when nothing was due
    /// (records are due once per epoch; a revocation this sentinel needs
    /// is looked at without waiting for it). Default 10m.
    #[serde(default = "defaults::anchor_recheck")]
    pub recheck: Span,
}

/// A peer sentinel. Its shared secret is a platform secret
/// (`SENTINEL_PEER_SECRET_<ID>` or `SENTINEL_PEER_SECRET`), never the
/// config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's own `[sentinel] id`.
    pub id: SentinelId,
    /// Its base URL (where its `/healthz` and `/v1/observations` are).
    pub url: String,
}

/// How peers' votes count ([`crate::peer::quorum`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuorumPolicy {
    /// Failed health checks in a row before a peer counts as down and
    /// this sentinel decides alone. Default 2 (one lost check is noise).
    pub peer_down_after: u32,
    /// With every peer down, the share of probed providers (percent)
    /// failing at once that makes this sentinel suspect its own network
    /// and act on none of it. Default 50.
    pub isolation_share: u32,
}

impl Default for QuorumPolicy {
    fn default() -> Self {
        QuorumPolicy {
            peer_down_after: 2,
            isolation_share: 50,
        }
    }
}

/// Discovery of new providers from the catalog ([`crate::discovery`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySettings {
    /// Run discovery in the tick, for the services with a
    /// `[service.discovery]` table, each at most once per `interval` and
    /// only with probes the tick's budget has left. Off by default: a
    /// sentinel adds providers on its own only when told to.
    #[serde(default)]
    pub enabled: bool,
    /// How often a service is discovered for.
    #[serde(default = "defaults::discovery_interval")]
    pub interval: Span,
    /// Candidates tried per run (one probe each).
    #[serde(default = "defaults::discovery_trials")]
    pub max_trials: u32,
    /// No more are onboarded into a service while this many discovered
    /// providers of it are still being tested.
    #[serde(default = "defaults::discovery_testing")]
    pub max_testing: u32,
    /// A candidate that failed its trial is tried again after this long.
    #[serde(default = "defaults::discovery_retry")]
    pub retry_after: Span,
    /// A catalog file to use instead of the built-in one (the local
    /// sentinel; a relative path is relative to the configuration file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
}

impl Default for DiscoverySettings {
    fn default() -> Self {
        DiscoverySettings {
            enabled: false,
            interval: defaults::discovery_interval(),
            max_trials: defaults::discovery_trials(),
            max_testing: defaults::discovery_testing(),
            retry_after: defaults::discovery_retry(),
            catalog: None,
        }
    }
}

impl DiscoverySettings {
    /// Whether nothing was configured.
    pub fn is_default(&self) -> bool {
        *self == DiscoverySettings::default()
    }
}

/// What discovery may add to one service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDiscovery {
    /// Values for catalog endpoint templates (`project = "my-app"` fills
    /// `https://{project}.vercel.app`).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Capabilities a candidate must have (`["postgres"]`).
    #[serde(default)]
    pub require: Vec<String>,
    /// Catalog entries never to add to this service.
    #[serde(default)]
    pub exclude: Vec<ProviderId>,
}

/// Settings of one sentinel instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSettings {
    /// This sentinel's id (`local`, `cf-worker`, `aws-lambda`, …).
    pub id: SentinelId,
    /// Most probes one tick may send, as an operator's cap. Default: the
    /// shell's own capability (a free-plan Cloudflare Worker may make
    /// about 50 subrequests per invocation; the local binary runs a few
    /// hundred probes at once). The effective budget is the smaller of the
    /// two; probes that do not fit are deferred, counted and alerted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_budget_per_tick: Option<u32>,
    /// Longest time between two ticks even when nothing is due. Default 2m
    /// (the Worker's cron period: one KV write per tick stays under KV's
    /// 1,000 writes a day).
    #[serde(default = "defaults::max_tick_gap")]
    pub max_tick_gap: Span,
    /// Whether probes may target private, loopback and link-local
    /// addresses. Default false (an SSRF guard); the local demo enables it.
    #[serde(default)]
    pub allow_private_targets: bool,
    /// Quotas on the sentinel's own footprint (store writes, invocations,
    /// gas). The sentinel is a provider in its own books.
    #[serde(default)]
    pub footprint: Limits,
    /// Switch-history entries kept. Default 500.
    #[serde(default = "defaults::history_limit")]
    pub history_limit: u32,
    /// How often a provider's `status_page` is read (its Statuspage
    /// `summary.json`, [`crate::statuspage`]), with what the tick's probe
    /// budget has left. Default 5 minutes.
    #[serde(default = "defaults::status_page_interval")]
    pub status_page_interval: Span,
}

/// Scoring, switching, lifecycle and trust policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Weights of the five reputation components.
    #[serde(default)]
    pub weights: Weights,
    /// Weights of the four data-quality checks.
    #[serde(default)]
    pub quality_weights: QualityWeights,
    /// How confident a score is, and what it is shrunk toward meanwhile.
    #[serde(default)]
    pub reputation: ReputationPolicy,
    /// Switching triggers and guard rails.
    #[serde(default)]
    pub switching: Switching,
    /// Onboarding and recovery.
    #[serde(default)]
    pub lifecycle: LifecyclePolicy,
    /// Trust levels.
    #[serde(default)]
    pub trust: TrustPolicy,
}

/// Weights of the reputation components, in basis points; they must sum to
/// 10 000. Defaults from the seed: uptime 30 %, data quality 25 %,
/// performance 20 %, cost 15 %, reliability 10 %. A partial table keeps the
/// defaults of the keys it leaves out (and must still sum to 10 000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Uptime weight (default 3000).
    pub uptime: u32,
    /// Data-quality weight (default 2500).
    pub data_quality: u32,
    /// Performance weight (default 2000).
    pub performance: u32,
    /// Cost weight (default 1500).
    pub cost: u32,
    /// Reliability weight (default 1000).
    pub reliability: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            uptime: 3000,
            data_quality: 2500,
            performance: 2000,
            cost: 1500,
            reliability: 1000,
        }
    }
}

/// How much history makes a score trustworthy.
///
/// The seed design would give a provider with three successful probes an
/// uptime of 100. Instead each total carries a *confidence* (samples seen
/// over `full_confidence_samples`), and decisions use the total shrunk
/// toward a prior by that confidence, so three lucky probes cannot outrank
/// a month of 99.9 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReputationPolicy {
    /// Samples (probes in the 30-day window) at which confidence is full.
    /// Default 200 (100 minutes at a 30 s probe interval).
    #[serde(default = "defaults::full_confidence")]
    pub full_confidence_samples: u32,
    /// Prior for providers that arrive through discovery or submission.
    /// Default 50.00.
    #[serde(default = "defaults::prior_unknown")]
    pub prior_unknown: Bps,
    /// Prior for providers an operator put in the config, unless the
    /// provider sets its own. Default 80.00: the operator vouches for them.
    #[serde(default = "defaults::prior_configured")]
    pub prior_configured: Bps,
}

impl Default for ReputationPolicy {
    fn default() -> Self {
        ReputationPolicy {
            full_confidence_samples: defaults::full_confidence(),
            prior_unknown: defaults::prior_unknown(),
            prior_configured: defaults::prior_configured(),
        }
    }
}

/// Switching triggers and guard rails (seed defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switching {
    /// Consecutive failed probes that make a provider failed. Default 3.
    #[serde(default = "defaults::failure_threshold")]
    pub failure_threshold: u32,
    /// Continuous downtime that makes a provider failed. Default 30s.
    #[serde(default = "defaults::down_after")]
    pub down_after: Span,
    /// Recent latency above this multiple of the baseline p50 triggers a
    /// switch. Default 5.
    #[serde(default = "defaults::latency_factor")]
    pub latency_factor: u32,
    /// Utilization of any quota above which to move away. Default 80.00.
    #[serde(default = "defaults::utilization")]
    pub max_utilization: Bps,
    /// Data quality below which to move away. Default 70.00.
    #[serde(default = "defaults::min_quality")]
    pub min_quality: Bps,
    /// Performance below which to move away. Default 60.00.
    #[serde(default = "defaults::min_performance")]
    pub min_performance: Bps,
    /// Error rate (last hour) above which to move away. Default 5.00.
    #[serde(default = "defaults::max_error_rate")]
    pub max_error_rate: Bps,
    /// How much higher an alternative's total must be to switch for it
    /// alone. Default 20.00 (i.e. total ≥ 1.2 × current).
    #[serde(default = "defaults::better_by")]
    pub better_by: Bps,
    /// Consecutive decisions a non-critical trigger must hold before it
    /// acts (hysteresis). Default 3.
    #[serde(default = "defaults::sustain")]
    pub sustain: u32,
    /// Least time on a provider before a non-critical switch. Default 10m.
    /// Failure switches ignore it.
    #[serde(default = "defaults::min_dwell")]
    pub min_dwell: Span,
    /// How long a proposed switch waits for its canary. Default 60s.
    #[serde(default = "defaults::canary_timeout")]
    pub canary_timeout: Span,
    /// Flap damping (RFC 2439 style): penalty added each time a provider is
    /// switched away from for cause. Default 1000.
    #[serde(default = "defaults::flap_penalty")]
    pub flap_penalty: u32,
    /// Penalty above which a provider is not a switch target. Default 2000.
    #[serde(default = "defaults::flap_suppress")]
    pub flap_suppress: u32,
    /// Penalty below which a suppressed provider is usable again. Default 750.
    #[serde(default = "defaults::flap_reuse")]
    pub flap_reuse: u32,
    /// Half-life of the flap penalty. Default 15m.
    #[serde(default = "defaults::flap_half_life")]
    pub flap_half_life: Span,
}

impl Default for Switching {
    fn default() -> Self {
        Switching {
            failure_threshold: defaults::failure_threshold(),
            down_after: defaults::down_after(),
            latency_factor: defaults::latency_factor(),
            max_utilization: defaults::utilization(),
            min_quality: defaults::min_quality(),
            min_performance: defaults::min_performance(),
            max_error_rate: defaults::max_error_rate(),
            better_by: defaults::better_by(),
            sustain: defaults::sustain(),
            min_dwell: defaults::min_dwell(),
            canary_timeout: defaults::canary_timeout(),
            flap_penalty: defaults::flap_penalty(),
            flap_suppress: defaults::flap_suppress(),
            flap_reuse: defaults::flap_reuse(),
            flap_half_life: defaults::flap_half_life(),
        }
    }
}

/// Onboarding and recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicy {
    /// How long a new provider is tested before promotion. Default 24h.
    #[serde(default = "defaults::testing_period")]
    pub testing_period: Span,
    /// Reputation a provider must stay above through testing. Default 70.00.
    #[serde(default = "defaults::promote_above")]
    pub promote_above: Bps,
    /// Samples before the testing minimum starts counting (the first few
    /// probes carry no signal). Default 20.
    #[serde(default = "defaults::warmup_samples")]
    pub warmup_samples: u32,
    /// Consecutive successful probes that move a failed provider to
    /// recovering. Default 5.
    #[serde(default = "defaults::recovery_successes")]
    pub recovery_successes: u32,
    /// How long a recovering provider must stay healthy before it is a
    /// standby again. Default 10m.
    #[serde(default = "defaults::recovery_period")]
    pub recovery_period: Span,
}

impl Default for LifecyclePolicy {
    fn default() -> Self {
        LifecyclePolicy {
            testing_period: defaults::testing_period(),
            promote_above: defaults::promote_above(),
            warmup_samples: defaults::warmup_samples(),
            recovery_successes: defaults::recovery_successes(),
            recovery_period: defaults::recovery_period(),
        }
    }
}

/// Trust levels (seed): Verified above 90 and attested on chain, Trusted
/// above 80, Testing above 70, Untrusted otherwise (never routed to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPolicy {
    /// Default 90.00.
    #[serde(default = "defaults::verified_above")]
    pub verified_above: Bps,
    /// Default 80.00.
    #[serde(default = "defaults::trusted_above")]
    pub trusted_above: Bps,
    /// Default 70.00.
    #[serde(default = "defaults::testing_above")]
    pub testing_above: Bps,
    /// How long an on-chain attestation counts. Default 7d.
    #[serde(default = "defaults::attestation_max_age")]
    pub attestation_max_age: Span,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        TrustPolicy {
            verified_above: defaults::verified_above(),
            trusted_above: defaults::trusted_above(),
            testing_above: defaults::testing_above(),
            attestation_max_age: defaults::attestation_max_age(),
        }
    }
}

/// A service: one need of the application that several providers can meet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The service id, used in routes (`/proxy/{service}/…`).
    pub id: ServiceId,
    /// What kind of providers serve it.
    pub kind: Kind,
    /// Free text for the dashboard.
    #[serde(default)]
    pub description: String,
    /// Time between two probes of each provider. Default 30s (seed).
    #[serde(default = "defaults::probe_interval")]
    pub probe_interval: Span,
    /// Latency at or under which performance scores full marks. Default by
    /// kind (seed targets): api 200ms, database 50ms, storage 500ms,
    /// compute 1s, evm-rpc 300ms.
    #[serde(default)]
    pub target_latency: Option<Span>,
    /// The probe every provider of the service runs unless it sets its own.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
    /// EVM checks (chain id, block age, lag); for `kind = "evm-rpc"`.
    #[serde(default)]
    pub evm: Option<EvmChecks>,
    /// What the proxy does when no provider with good data is left: serve
    /// a provider whose data is stale or disagrees with the others, marked
    /// with an `x-sentinel-degraded` header (`serve`), or answer 503
    /// (`refuse`, the default). Wrong data (another chain, a failed
    /// business rule, a broken shape) is never served.
    #[serde(default)]
    pub degraded: Degraded,
    /// Proxy access and hedging (`[service.proxy]`).
    #[serde(default)]
    pub proxy: super::proxy::ProxySettings,
    /// The providers (`[[service.provider]]`).
    #[serde(default, rename = "provider")]
    pub providers: Vec<ProviderConfig>,
    /// What discovery may add to this service (`[service.discovery]`):
    /// a service without it is discovered for only when asked
    /// (`POST /v1/discovery`, `sentinel discover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<ServiceDiscovery>,
}

/// See [`ServiceConfig::degraded`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Degraded {
    /// Serve stale or inconsistent data as a last resort, marked.
    Serve,
    /// Answer 503 rather than serve stale or inconsistent data.
    #[default]
    Refuse,
}

impl ServiceConfig {
    /// The latency target, explicit or by kind.
    pub fn latency_target(&self) -> Span {
        self.target_latency.unwrap_or(match self.kind {
            Kind::Api => Span::ms(200),
            Kind::Database => Span::ms(50),
            Kind::Storage => Span::ms(500),
            Kind::Compute | Kind::Sentinel => Span::secs(1),
            Kind::EvmRpc => Span::ms(300),
        })
    }
}

/// Where a configured provider starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Initial {
    /// Routed to from the start (at most one per service).
    Active,
    /// Ready to take over (the default).
    #[default]
    Standby,
    /// Must pass the testing period first.
    Testing,
}

/// One provider of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Unique across all services.
    pub id: ProviderId,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Base URL (`https://…`), to which probe and proxy paths are appended.
    pub endpoint: String,
    /// A status page, shown on the dashboard.
    #[serde(default)]
    pub status_page: Option<String>,
    /// The probe; defaults to the service's, then to the kind's default.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
    /// Headers whose values are secrets, sealed with the sentinel's key
    /// (`sentinel seal`). Opened only in memory to send a request.
    #[serde(default)]
    pub secret_headers: BTreeMap<String, SealedSecret>,
    /// Quotas (free tier, rate limits).
    #[serde(default)]
    pub limits: Limits,
    /// Prices and budget.
    #[serde(default)]
    pub cost: CostModel,
    /// Where it starts.
    #[serde(default)]
    pub initial: Initial,
    /// A seeded reputation (the prior its score is shrunk toward until it
    /// has history); defaults to `policy.reputation.prior_configured`.
    #[serde(default)]
    pub prior: Option<Bps>,
}

/// HTTP method of a probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET (default).
    #[default]
    Get,
    /// HEAD.
    Head,
    /// POST (JSON-RPC and other query APIs).
    Post,
}

impl Method {
    /// The method's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        }
    }
}

/// How to probe a provider and what its answer must satisfy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Default GET (POST for evm-rpc, where the body is a JSON-RPC batch).
    #[serde(default)]
    pub method: Method,
    /// Appended to the provider's endpoint.
    #[serde(default)]
    pub path: String,
    /// Extra request headers (not secret; see `secret_headers`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Accepted status codes; empty means any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Total time allowed. Default 5s, or the service's `probe_interval`
    /// when that is shorter (a default never makes a config invalid).
    #[serde(default = "defaults::probe_timeout")]
    pub timeout: Span,
    /// Largest response body read. Default 1 MiB.
    #[serde(default = "defaults::max_bytes")]
    pub max_bytes: u64,
    /// What the body must satisfy.
    #[serde(default)]
    pub checks: Checks,
    /// A database's HTTP API this probe speaks (`postgrest`,
    /// `upstash-redis`, `libsql`, `neon-sql`): the method, path, body and
    /// a check of the protocol's own success follow from it and `query`
    /// ([`super::db_api`]). Works from every shell, the Worker included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<DbApi>,
    /// What an `api` probe asks: SQL (`libsql`, `neon-sql`), a Redis
    /// command (`upstash-redis`), a table and its query string
    /// (`postgrest`: `health?select=ok&limit=1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// A database's HTTP API ([`ProbeSpec::api`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbApi {
    /// PostgREST (Supabase's `/rest/v1/`): `GET` of a table.
    Postgrest,
    /// Upstash's Redis REST API: a command as a JSON array.
    UpstashRedis,
    /// libSQL / Turso's HTTP API (Hrana over HTTP, `/v2/pipeline`).
    Libsql,
    /// Neon's HTTP SQL endpoint (`/sql`).
    NeonSql,
}

impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec {
            method: Method::Get,
            path: String::new(),
            headers: BTreeMap::new(),
            body: None,
            expect_status: Vec::new(),
            timeout: defaults::probe_timeout(),
            max_bytes: defaults::max_bytes(),
            checks: Checks::default(),
            api: None,
            query: None,
        }
    }
}

/// Default values, one function each so serde and `Default` agree.
pub(crate) mod defaults {
    use super::*;
    pub fn max_tick_gap() -> Span {
        Span::mins(2)
    }
    pub fn history_limit() -> u32 {
        500
    }
    pub fn anchor_min_trust() -> u8 {
        2
    }
    pub fn anchor_max_batch() -> u32 {
        100
    }
    pub fn anchor_max_fee_gwei() -> u64 {
        100
    }
    pub fn anchor_tolerance_bps() -> u16 {
        500
    }
    pub fn anchor_replace_after() -> Span {
        Span::mins(3)
    }
    pub fn anchor_retry_after() -> Span {
        Span::mins(1)
    }
    pub fn anchor_recheck() -> Span {
        Span::mins(10)
    }
    pub fn full_confidence() -> u32 {
        200
    }
    pub fn prior_unknown() -> Bps {
        Bps::percent(50)
    }
    pub fn prior_configured() -> Bps {
        Bps::percent(80)
    }
    pub fn failure_threshold() -> u32 {
        3
    }
    pub fn down_after() -> Span {
        Span::secs(30)
    }
    pub fn latency_factor() -> u32 {
        5
    }
    pub fn utilization() -> Bps {
        Bps::percent(80)
    }
    pub fn min_quality() -> Bps {
        Bps::percent(70)
    }
    pub fn min_performance() -> Bps {
        Bps::percent(60)
    }
    pub fn max_error_rate() -> Bps {
        Bps::percent(5)
    }
    pub fn better_by() -> Bps {
        Bps::percent(20)
    }
    pub fn sustain() -> u32 {
        3
    }
    pub fn min_dwell() -> Span {
        Span::mins(10)
    }
    pub fn canary_timeout() -> Span {
        Span::secs(60)
    }
    pub fn flap_penalty() -> u32 {
        1000
    }
    pub fn flap_suppress() -> u32 {
        2000
    }
    pub fn flap_reuse() -> u32 {
        750
    }
    pub fn flap_half_life() -> Span {
        Span::mins(15)
    }
    pub fn testing_period() -> Span {
        Span::hours(24)
    }
    pub fn status_page_interval() -> Span {
        Span::mins(5)
    }
    pub fn discovery_interval() -> Span {
        Span::hours(6)
    }
    pub fn discovery_trials() -> u32 {
        3
    }
    pub fn discovery_testing() -> u32 {
        2
    }
    pub fn discovery_retry() -> Span {
        Span::hours(24)
    }
    pub fn promote_above() -> Bps {
        Bps::percent(70)
    }
    pub fn warmup_samples() -> u32 {
        20
    }
    pub fn recovery_successes() -> u32 {
        5
    }
    pub fn recovery_period() -> Span {
        Span::mins(10)
    }
    pub fn verified_above() -> Bps {
        Bps::percent(90)
    }
    pub fn trusted_above() -> Bps {
        Bps::percent(80)
    }
    pub fn testing_above() -> Bps {
        Bps::percent(70)
    }
    pub fn attestation_max_age() -> Span {
        Span::days(7)
    }
    pub fn probe_interval() -> Span {
        Span::secs(30)
    }
    pub fn probe_timeout() -> Span {
        Span::secs(5)
    }
    pub fn max_bytes() -> u64 {
        1 << 20
    }
}
