//! The reputation engine: five components and one explainable total.
//!
//! ```text
//! total = uptime·0.30 + data_quality·0.25 + performance·0.20 + cost·0.15 + reliability·0.10
//! ```
//! (seed weights, configurable in `policy.weights`), every term an integer in
//! basis points. How each component is computed, and where it departs from
//! the seed design:
//!
//! * **uptime** — probe success over the 30 daily buckets, each day weighted
//!   by recency (`31 − age`: today 31, a month ago 1), so a recovery shows
//!   within days while an old outage still counts a little. Timeouts and
//!   throttling (HTTP 429) count as down: the provider was not usable.
//! * **performance** — latency against the service's target (seed targets
//!   per kind): each quantile scores `min(1, target / q)`, combined
//!   p50·0.5 + p95·0.3 + p99·0.2 from the provider's decaying histogram,
//!   then 70 % latency and 30 % timeout rate over 24 h (`1 − 10·rate`, so
//!   10 % timeouts zero that part).
//! * **data quality** — the seed formula over the last 24 h of checks
//!   (see [`crate::quality`]); when nothing is checked the component is not
//!   applicable and its weight goes to the others, rather than handing out
//!   a free 25 points.
//! * **cost** — computed by the bookkeeper against the cheapest provider of
//!   the same service, with free-tier headroom in the provider's favour.
//! * **reliability** — error rate (errors other than timeouts, 24 h) as
//!   `1 − 10·rate`, retry success of the proxy, and incidents: every data-loss
//!   incident in 30 days costs 25 points and every security incident 50.
//!
//! **Confidence.** A score from three probes is not a score from a month.
//! `confidence = min(1, samples / full_confidence_samples)`, and the total
//! that decisions use is the raw total shrunk toward the provider's prior:
//! `total = raw·c + prior·(1 − c)` (a Bayesian-style shrinkage). A new
//! provider therefore starts at its prior (50 unless an operator seeds it),
//! never at a made-up 100.

use crate::config::{Policy, Weights};
use crate::window::Counts;
use crate::Bps;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the score is computed from; built by the engine from a
/// provider's state, so the scoring itself is a pure function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Probe counts per day, with age in days (0 = today), last 30 days.
    pub daily: Vec<(u32, Counts)>,
    /// Probe counts over the last 24 hours.
    pub last_24h: Counts,
    /// Latency quantiles p50, p95, p99 in ms, when measured.
    pub latency: Option<[u64; 3]>,
    /// The service's latency target in ms.
    pub target_ms: u64,
    /// Data quality over the last 24 h, `None` when nothing was checked.
    pub quality: Option<Bps>,
    /// Cost component from the bookkeeper.
    pub cost: Bps,
    /// Proxy retries that succeeded, and retries made (30 days).
    pub retries: (u64, u64),
    /// Data-loss and security incidents in the last 30 days.
    pub incidents: (u32, u32),
    /// The penalty of what the provider's own status page declares now
    /// (an unresolved incident), basis points of the reliability
    /// component ([`crate::statuspage`]); 0 when nothing is declared.
    pub declared: u32,
    /// Samples in the 30-day window (drives confidence).
    pub samples: u64,
    /// What the total is shrunk toward while confidence is low.
    pub prior: Bps,
}

/// One component's score and the numbers behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// The score, or `None` when not applicable (no data of this kind).
    pub score: Option<Bps>,
    /// The configured weight in basis points.
    pub weight: u32,
    /// Named inputs (counts, milliseconds, basis points). The names are
    /// static ([`INPUT_NAMES`]): a reputation is computed for every
    /// provider at every tick, and owned keys cost an allocation each.
    pub inputs: NamedInputs,
}

/// The most inputs one component carries.
pub const MAX_INPUTS: usize = 7;

/// A component's named inputs, kept inline and sorted by name: at most
/// [`MAX_INPUTS`] pairs, each name one of [`INPUT_NAMES`]. Serialised as
/// a map, exactly as a `BTreeMap` of the same pairs (names in order).
/// Names are kept as indices into [`INPUT_NAMES`], so a component stays
/// small enough to move cheaply.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct NamedInputs {
    len: u8,
    names: [u8; MAX_INPUTS],
    values: [u64; MAX_INPUTS],
}

impl NamedInputs {
    /// The inputs of `pairs` (indices into [`INPUT_NAMES`]), sorted by
    /// name.
    fn of(pairs: &[(u8, u64)]) -> NamedInputs {
        let mut out = NamedInputs::default();
        for &(k, v) in pairs {
            out.insert(k, v);
        }
        out
    }

    /// Sets the input at `index` of [`INPUT_NAMES`] to `value`, keeping
    /// the names in order. More than [`MAX_INPUTS`] distinct inputs is a
    /// programming error: debug builds assert, release builds ignore it.
    fn insert(&mut self, index: u8, value: u64) {
        let len = usize::from(self.len);
        if let Some(at) = self.names[..len].iter().position(|i| *i == index) {
            self.values[at] = value;
            return;
        }
        debug_assert!(len < MAX_INPUTS, "more than {MAX_INPUTS} inputs");
        if len >= MAX_INPUTS {
            return;
        }
        // Insertion sort, one step: at most six entries.
        let mut pos = len;
        while pos > 0 && self.names[pos - 1] > index {
            self.names[pos] = self.names[pos - 1];
            self.values[pos] = self.values[pos - 1];
            pos -= 1;
        }
        self.names[pos] = index;
        self.values[pos] = value;
        self.len += 1;
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&u64> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The pairs, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &u64)> {
        let len = usize::from(self.len);
        self.names[..len]
            .iter()
            .zip(&self.values[..len])
            .map(|(i, v)| (name_of(*i), v))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// How many inputs there are.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// As an owned map (for the API's explanation).
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }
}

/// The index of `name` in [`INPUT_NAMES`], at compile time (see
/// [`input!`]): an unknown name does not compile.
const fn input_index(name: &str) -> u8 {
    let mut i = 0;
    while i < INPUT_NAMES.len() {
        let (a, b) = (INPUT_NAMES[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i as u8;
            }
        }
        i += 1;
    }
    panic!("not one of INPUT_NAMES")
}

/// The index of an input name, checked at compile time.
macro_rules! input {
    ($name:literal) => {
        const { input_index($name) }
    };
}

/// The name at `index` of [`INPUT_NAMES`] (indices come from `insert`).
fn name_of(index: u8) -> &'static str {
    INPUT_NAMES.get(usize::from(index)).copied().unwrap_or("")
}

impl std::fmt::Debug for NamedInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for NamedInputs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for NamedInputs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NamedInputs, D::Error> {
        let owned = BTreeMap::<String, u64>::deserialize(d)?;
        if owned.len() > MAX_INPUTS {
            return Err(serde::de::Error::custom(format!(
                "{} inputs, at most {MAX_INPUTS}",
                owned.len()
            )));
        }
        let mut out = NamedInputs::default();
        for (k, v) in owned {
            let index = INPUT_NAMES
                .iter()
                .position(|n| *n == k)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown input `{k}`")))?;
            out.insert(index as u8, v);
        }
        Ok(out)
    }
}

/// Every input name a component carries, in byte order (so the order of
/// their indices is the order of the names).
pub const INPUT_NAMES: [&str; 16] = [
    "cost_score",
    "data_loss_incidents_30d",
    "declared_penalty_bps",
    "errors_24h",
    "ok_30d",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "probes_24h",
    "probes_30d",
    "quality_24h",
    "retries",
    "retries_ok",
    "security_incidents_30d",
    "target_ms",
    "timeouts_24h",
];

/// A provider's reputation at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reputation {
    /// Probe success over 30 days, recent days weighted more.
    pub uptime: Component,
    /// Schema, business rules, freshness and consistency.
    pub data_quality: Component,
    /// Latency against target, timeouts.
    pub performance: Component,
    /// Cost against the cheapest alternative, free-tier headroom.
    pub cost: Component,
    /// Errors, retry success, incidents.
    pub reliability: Component,
    /// Weighted total of the applicable components.
    pub raw_total: Option<Bps>,
    /// How much history backs the score.
    pub confidence: Bps,
    /// What the total is shrunk toward.
    pub prior: Bps,
    /// The total decisions use: `raw·confidence + prior·(1 − confidence)`.
    pub total: Bps,
}

/// The five component scores and the total, compactly: what is kept from
/// one tick to the next to explain what moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreCard {
    /// Uptime.
    pub uptime: Option<Bps>,
    /// Data quality.
    pub data_quality: Option<Bps>,
    /// Performance.
    pub performance: Option<Bps>,
    /// Cost.
    pub cost: Option<Bps>,
    /// Reliability.
    pub reliability: Option<Bps>,
    /// Decision total.
    pub total: Bps,
    /// Confidence.
    pub confidence: Bps,
}

impl Reputation {
    /// The compact form.
    pub fn card(&self) -> ScoreCard {
        ScoreCard {
            uptime: self.uptime.score,
            data_quality: self.data_quality.score,
            performance: self.performance.score,
            cost: self.cost.score,
            reliability: self.reliability.score,
            total: self.total,
            confidence: self.confidence,
        }
    }

    /// The components with their names, in a fixed order.
    pub fn components(&self) -> [(&'static str, &Component); 5] {
        [
            ("uptime", &self.uptime),
            ("data_quality", &self.data_quality),
            ("performance", &self.performance),
            ("cost", &self.cost),
            ("reliability", &self.reliability),
        ]
    }

    /// Explains the score: each component, its weighted contribution and
    /// how it moved since `previous`.
    pub fn explain(&self, previous: Option<&ScoreCard>) -> Explanation {
        let prev = previous.copied().unwrap_or_default();
        let prev_of = |name: &str| match name {
            "uptime" => prev.uptime,
            "data_quality" => prev.data_quality,
            "performance" => prev.performance,
            "cost" => prev.cost,
            _ => prev.reliability,
        };
        let applicable: u32 = self
            .components()
            .iter()
            .filter(|(_, c)| c.score.is_some())
            .map(|(_, c)| c.weight)
            .sum();
        let components = self
            .components()
            .iter()
            .map(|(name, c)| ComponentExplanation {
                name: (*name).to_string(),
                score: c.score,
                weight: c.weight,
                effective_weight: if c.score.is_some() && applicable > 0 {
                    Bps::ratio(u64::from(c.weight), u64::from(applicable)).unwrap_or(Bps::ZERO)
                } else {
                    Bps::ZERO
                },
                delta: match (c.score, previous.and(prev_of(name))) {
                    (Some(now), Some(before)) => Some(now.delta(before)),
                    _ => None,
                },
                inputs: c.inputs.to_map(),
            })
            .collect::<Vec<_>>();
        let mut moved: Vec<_> = components
            .iter()
            .filter_map(|c| c.delta.filter(|d| *d != 0).map(|d| (c.name.clone(), d)))
            .collect();
        moved.sort_by_key(|(n, d)| (std::cmp::Reverse(d.unsigned_abs()), n.clone()));
        Explanation {
            total: self.total,
            raw_total: self.raw_total,
            confidence: self.confidence,
            prior: self.prior,
            total_delta: previous.map(|p| self.total.delta(p.total)),
            components,
            moved_most: moved.first().map(|(n, _)| n.clone()),
        }
    }
}

/// How often the scores are snapshot for "what moved".
pub const SNAPSHOT_EVERY: u64 = crate::time::HOUR;

/// Keeps hourly snapshots of a provider's scores, at most two, oldest
/// first: the explanation compares the current scores against the older
/// one, one to two hours back — long enough for an outage or a slowdown
/// to show as a move, unlike the previous decision a few seconds ago.
pub fn snapshot(
    refs: &mut Vec<(crate::time::UnixMillis, ScoreCard)>,
    now: crate::time::UnixMillis,
    card: ScoreCard,
) {
    let due = refs
        .last()
        .is_none_or(|(at, _)| now.saturating_sub(*at) >= SNAPSHOT_EVERY);
    if due {
        refs.push((now, card));
        let excess = refs.len().saturating_sub(2);
        refs.drain(..excess);
    }
}

/// The snapshot "what moved" compares against: the oldest kept.
pub fn reference(
    refs: &[(crate::time::UnixMillis, ScoreCard)],
) -> Option<&(crate::time::UnixMillis, ScoreCard)> {
    refs.first()
}

/// A human- and machine-readable account of a score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The decision total.
    pub total: Bps,
    /// The weighted total before shrinkage.
    pub raw_total: Option<Bps>,
    /// Confidence.
    pub confidence: Bps,
    /// Prior.
    pub prior: Bps,
    /// Change of the total since the previous tick.
    pub total_delta: Option<i32>,
    /// Each component.
    pub components: Vec<ComponentExplanation>,
    /// The component that moved the most since the previous tick.
    pub moved_most: Option<String>,
}

/// One component in an [`Explanation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentExplanation {
    /// Component name.
    pub name: String,
    /// Its score (`None`: not applicable).
    pub score: Option<Bps>,
    /// Configured weight.
    pub weight: u32,
    /// Weight after not-applicable components were taken out.
    pub effective_weight: Bps,
    /// Change since the previous tick, in basis points.
    pub delta: Option<i32>,
    /// The numbers it was computed from.
    pub inputs: BTreeMap<String, u64>,
}

fn inputs<const N: usize>(pairs: [(u8, u64); N]) -> NamedInputs {
    const { assert!(N <= MAX_INPUTS) };
    NamedInputs::of(&pairs)
}

/// `1 − k·rate`, floored at zero.
fn penalised(rate: Bps, k: u32) -> Bps {
    Bps::new(10_000u32.saturating_sub(u32::from(rate.get()) * k))
}

/// Uptime over 30 days with linear recency weights.
pub fn uptime(daily: &[(u32, Counts)]) -> Component {
    let (mut num, mut den, mut ok, mut total) = (0u64, 0u64, 0u64, 0u64);
    for (age, c) in daily {
        let w = u64::from(31u32.saturating_sub((*age).min(30)));
        num += w * u64::from(c.ok);
        den += w * c.total();
        ok += u64::from(c.ok);
        total += c.total();
    }
    Component {
        score: Bps::ratio(num, den),
        weight: 0,
        inputs: inputs([(input!("ok_30d"), ok), (input!("probes_30d"), total)]),
    }
}

/// Score of one latency quantile against the target.
fn latency_part(q: u64, target: u64) -> Bps {
    if q <= target {
        Bps::MAX
    } else {
        Bps::ratio(target, q).unwrap_or(Bps::ZERO)
    }
}

/// Performance from latency quantiles and the timeout rate.
pub fn performance(latency: Option<[u64; 3]>, target_ms: u64, last_24h: &Counts) -> Component {
    let timeout_rate = Bps::ratio(u64::from(last_24h.timeout), last_24h.total());
    let lat = latency.map(|[p50, p95, p99]| {
        Bps::weighted_mean([
            (latency_part(p50, target_ms), 5),
            (latency_part(p95, target_ms), 3),
            (latency_part(p99, target_ms), 2),
        ])
        .unwrap_or(Bps::ZERO)
    });
    let score = match (lat, timeout_rate) {
        (Some(l), Some(t)) => Bps::weighted_mean([(l, 7), (penalised(t, 10), 3)]),
        (None, Some(t)) => Some(penalised(t, 10)),
        (Some(l), None) => Some(l),
        (None, None) => None,
    };
    let [p50, p95, p99] = latency.unwrap_or([0; 3]);
    Component {
        score,
        weight: 0,
        inputs: inputs([
            (input!("p50_ms"), p50),
            (input!("p95_ms"), p95),
            (input!("p99_ms"), p99),
            (input!("target_ms"), target_ms),
            (input!("timeouts_24h"), u64::from(last_24h.timeout)),
            (input!("probes_24h"), last_24h.total()),
        ]),
    }
}

/// Reliability from errors, retries and incidents.
pub fn reliability(
    last_24h: &Counts,
    retries: (u64, u64),
    incidents: (u32, u32),
    declared: u32,
) -> Component {
    let errors = u64::from(last_24h.error) + u64::from(last_24h.throttled);
    let error_rate = Bps::ratio(errors, last_24h.total());
    let retry = Bps::ratio(retries.0, retries.1);
    let incident_penalty = incidents
        .0
        .saturating_mul(2_500)
        .saturating_add(incidents.1.saturating_mul(5_000));
    let incident_score = Bps::new(10_000u32.saturating_sub(incident_penalty));
    let parts = [
        Some((incident_score, 2u32)),
        error_rate.map(|r| (penalised(r, 10), 6)),
        retry.map(|r| (r, 2)),
    ];
    let score = if error_rate.is_none() && retry.is_none() && incident_penalty == 0 {
        None
    } else {
        Bps::weighted_mean(parts.into_iter().flatten())
    };
    // What the provider declares against itself scales the whole
    // component down (never up: an "operational" page adds nothing).
    let declared = declared.min(10_000);
    let score = match (score, declared) {
        (s, 0) => s,
        (None, d) => Some(Bps::new(10_000 - d)),
        (Some(s), d) => Some(Bps::new(
            (u32::from(s.get()) * (10_000 - d) + 5_000) / 10_000,
        )),
    };
    Component {
        score,
        weight: 0,
        inputs: inputs([
            (input!("declared_penalty_bps"), u64::from(declared)),
            (input!("errors_24h"), errors),
            (input!("probes_24h"), last_24h.total()),
            (input!("retries_ok"), retries.0),
            (input!("retries"), retries.1),
            (input!("data_loss_incidents_30d"), u64::from(incidents.0)),
            (input!("security_incidents_30d"), u64::from(incidents.1)),
        ]),
    }
}

/// Scores a provider.
pub fn score(i: &Inputs, policy: &Policy) -> Reputation {
    let w: &Weights = &policy.weights;
    let mut up = uptime(&i.daily);
    up.weight = w.uptime;
    let dq = Component {
        score: i.quality,
        weight: w.data_quality,
        inputs: inputs([(
            input!("quality_24h"),
            i.quality.map_or(0, |q| u64::from(q.get())),
        )]),
    };
    let mut perf = performance(i.latency, i.target_ms, &i.last_24h);
    perf.weight = w.performance;
    // Cost is only meaningful once the provider has been seen at all.
    let mut cost = Component {
        score: (i.samples > 0).then_some(i.cost),
        weight: w.cost,
        inputs: inputs([(input!("cost_score"), u64::from(i.cost.get()))]),
    };
    cost.weight = w.cost;
    let mut rel = reliability(&i.last_24h, i.retries, i.incidents, i.declared);
    rel.weight = w.reliability;

    let raw_total = Bps::weighted_mean(
        [&up, &dq, &perf, &cost, &rel]
            .iter()
            .filter_map(|c| c.score.map(|s| (s, c.weight))),
    );
    let full = u64::from(policy.reputation.full_confidence_samples.max(1));
    let confidence = Bps::ratio(i.samples.min(full), full).unwrap_or(Bps::ZERO);
    let total = match raw_total {
        Some(raw) => raw.blend(i.prior, confidence),
        None => i.prior,
    };
    Reputation {
        uptime: up,
        data_quality: dq,
        performance: perf,
        cost,
        reliability: rel,
        raw_total,
        confidence,
        prior: i.prior,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(ok: u32, error: u32, timeout: u32) -> Counts {
        Counts {
            ok,
            error,
            timeout,
            throttled: 0,
        }
    }

    fn healthy(samples: u32) -> Inputs {
        Inputs {
            daily: vec![(0, counts(samples, 0, 0))],
            last_24h: counts(samples, 0, 0),
            latency: Some([40, 80, 120]),
            target_ms: 200,
            quality: Some(Bps::MAX),
            cost: Bps::MAX,
            retries: (0, 0),
            incidents: (0, 0),
            declared: 0,
            samples: u64::from(samples),
            prior: Bps::percent(50),
        }
    }

    #[test]
    fn a_new_provider_is_its_prior_not_100() {
        let p = Policy::default();
        let r = score(&healthy(0), &p);
        assert_eq!(r.total, Bps::percent(50));
        assert_eq!(r.confidence, Bps::ZERO);
        let r = score(&healthy(3), &p);
        assert!(r.raw_total == Some(Bps::MAX));
        assert!(r.total < Bps::percent(52), "{:?}", r.total);
        let r = score(&healthy(400), &p);
        assert_eq!(r.total, Bps::MAX);
    }

    #[test]
    fn a_reputation_round_trips_with_every_input_name_known() {
        let r = score(&healthy(400), &Policy::default());
        let names: Vec<&str> = [
            &r.uptime,
            &r.data_quality,
            &r.performance,
            &r.cost,
            &r.reliability,
        ]
        .iter()
        .flat_map(|c| c.inputs.keys())
        .collect();
        assert!(names.len() >= 14, "{names:?}");
        assert!(names.iter().all(|n| INPUT_NAMES.contains(n)), "{names:?}");
        let json = serde_json::to_string(&r).unwrap();
        let back: Reputation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let bad = json.replacen("ok_30d", "not_an_input", 1);
        assert!(serde_json::from_str::<Reputation>(&bad).is_err());
    }

    #[test]
    fn seed_weights_are_applied() {
        let mut i = healthy(400);
        i.daily = vec![(0, counts(200, 200, 0))]; // uptime 50
        i.last_24h = counts(200, 200, 0);
        let r = score(&i, &Policy::default());
        assert_eq!(r.uptime.score, Some(Bps::percent(50)));
        // reliability drops too: 50 % errors → error part 0, incidents 100 → 2/8
        assert_eq!(r.reliability.score, Some(Bps::new(10_000 * 2 / 8)));
    }

    #[test]
    fn not_applicable_quality_is_not_a_free_pass() {
        let mut i = healthy(400);
        i.daily = vec![(0, counts(300, 100, 0))];
        i.quality = None;
        let without = score(&i, &Policy::default());
        i.quality = Some(Bps::MAX);
        let with = score(&i, &Policy::default());
        assert!(without.raw_total < with.raw_total);
        let e = without.explain(None);
        assert_eq!(e.components[1].effective_weight, Bps::ZERO);
    }

    #[test]
    fn explanation_names_what_moved() {
        let p = Policy::default();
        let before = score(&healthy(400), &p).card();
        let mut i = healthy(400);
        i.latency = Some([400, 900, 2000]);
        let after = score(&i, &p);
        let e = after.explain(Some(&before));
        assert_eq!(e.moved_most.as_deref(), Some("performance"));
        assert!(e.total_delta.unwrap() < 0);
    }

    fn arb_counts() -> impl Strategy<Value = Counts> {
        (0u32..500, 0u32..500, 0u32..500, 0u32..50).prop_map(|(ok, error, timeout, throttled)| {
            Counts {
                ok,
                error,
                timeout,
                throttled,
            }
        })
    }

    proptest! {
        #[test]
        fn everything_stays_in_range(days in proptest::collection::vec((0u32..30, arb_counts()), 0..30),
                                     last in arb_counts(), p50 in 0u64..100_000, q in proptest::option::of(0u16..=10_000),
                                     cost in 0u16..=10_000, samples in 0u64..100_000, prior in 0u16..=10_000,
                                     r_ok in 0u64..100, r_more in 0u64..100, dl in 0u32..10, sec in 0u32..10,
                                     declared in 0u32..20_000) {
            let i = Inputs { daily: days, last_24h: last, latency: Some([p50, p50 * 2, p50 * 3]), target_ms: 200,
                quality: q.map(|v| Bps::new(u32::from(v))), cost: Bps::new(u32::from(cost)),
                retries: (r_ok, r_ok + r_more), incidents: (dl, sec), declared, samples, prior: Bps::new(u32::from(prior)) };
            let r = score(&i, &Policy::default());
            prop_assert!(r.total <= Bps::MAX);
            for (_, c) in r.components() { prop_assert!(c.score.unwrap_or(Bps::ZERO) <= Bps::MAX); }
        }

        #[test]
        fn more_failures_never_raise_uptime(days in proptest::collection::vec((0u32..30, arb_counts()), 1..30),
                                            idx in 0usize..30, extra in 1u32..100, which in 0u8..3) {
            let before = uptime(&days).score;
            let mut more = days.clone();
            let i = idx % more.len();
            match which { 0 => more[i].1.error += extra, 1 => more[i].1.timeout += extra, _ => more[i].1.throttled += extra }
            prop_assert!(uptime(&more).score <= before);
        }

        #[test]
        fn slower_never_scores_better(p50 in 1u64..10_000, slower in 0u64..10_000, c in arb_counts()) {
            let a = performance(Some([p50, p50 * 2, p50 * 4]), 200, &c).score;
            let b = performance(Some([p50 + slower, (p50 + slower) * 2, (p50 + slower) * 4]), 200, &c).score;
            prop_assert!(b <= a);
        }

        #[test]
        fn a_declaration_never_raises_reliability(c in arb_counts(), d in 0u32..20_000, more in 0u32..20_000) {
            let score = |d: u32| reliability(&c, (0, 0), (0, 0), d).score.unwrap_or(Bps::MAX);
            prop_assert!(score(d) <= score(0));
            prop_assert!(score(d.saturating_add(more)) <= score(d));
        }

        #[test]
        fn more_errors_never_raise_reliability(c in arb_counts(), extra in 1u32..100) {
            let a = reliability(&c, (0, 0), (0, 0), 0).score.unwrap_or(Bps::MAX);
            let mut worse = c;
            worse.error += extra;
            let b = reliability(&worse, (0, 0), (0, 0), 0).score.unwrap_or(Bps::MAX);
            prop_assert!(b <= a);
        }

        #[test]
        fn more_confidence_moves_toward_raw(samples in 0u64..400, more in 0u64..400, prior in 0u16..=10_000) {
            let mut i = healthy(0);
            i.prior = Bps::new(u32::from(prior));
            i.samples = samples;
            let a = score(&i, &Policy::default());
            i.samples = samples + more;
            let b = score(&i, &Policy::default());
            let raw = a.raw_total.unwrap();
            prop_assert!(b.total.delta(raw).abs() <= a.total.delta(raw).abs());
        }
    }
}
