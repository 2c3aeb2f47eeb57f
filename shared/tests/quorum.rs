#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16: two sentinels, one view. Two engines probe the same simulated
//! providers from two vantages (each with its own faults) on a virtual
//! clock and exchange what they saw as the tick does (a health check and
//! the published observations and routes), through the engine's public
//! peer API.

mod common;

use common::{api_config, start};
use sentinel_core::action::Action;
use sentinel_core::config::{Config, PeerConfig};
use sentinel_core::lifecycle::Lifecycle;
use sentinel_core::peer::exchange::Published;
use sentinel_core::peer::Verdict;
use sentinel_core::probe::Observation;
use sentinel_core::sim::{Fault, SimProvider, SimRng};
use sentinel_core::time::{MINUTE, SECOND};
use sentinel_core::{Engine, ProviderId, SentinelId, UnixMillis};
use std::collections::BTreeMap;

fn config(me: &str, peer: Option<&str>) -> Config {
    let mut c = api_config("");
    c.sentinel.id = SentinelId::new(me).unwrap();
    if let Some(p) = peer {
        c.peers.push(PeerConfig {
            id: SentinelId::new(p).unwrap(),
            url: format!("http://127.0.0.1:1/{p}"),
        });
    }
    c.validate().unwrap();
    c
}

fn pid(s: &str) -> ProviderId {
    ProviderId::new(s).unwrap()
}

/// One sentinel: its engine and the providers as seen from its vantage.
struct Vantage {
    engine: Engine,
    providers: BTreeMap<String, SimProvider>,
    rng: SimRng,
    /// Whether it is running (a dead sentinel neither ticks nor answers).
    up: bool,
    actions: Vec<(UnixMillis, Action)>,
    last: Vec<Observation>,
}

impl Vantage {
    fn new(me: &str, peer: Option<&str>, seed: u64) -> Vantage {
        Vantage {
            engine: Engine::new(config(me, peer), Default::default(), start()).unwrap(),
            providers: ["a", "b", "c"]
                .into_iter()
                .map(|p| (p.to_string(), SimProvider::default()))
                .collect(),
            rng: SimRng::seed(seed),
            up: true,
            actions: Vec::new(),
            last: Vec::new(),
        }
    }

    fn set(&mut self, id: &str, p: SimProvider) {
        self.providers.insert(id.into(), p);
    }

    /// One tick's probing and deciding (canaries included).
    fn tick(&mut self, now: UnixMillis) {
        let plan = self.engine.plan(now);
        let obs = self.run(&plan.probes, now);
        self.engine.ingest(now, &obs);
        self.last = obs;
        let mut d = self.engine.decide(now);
        for _ in 0..3 {
            self.actions.extend(d.actions.drain(..).map(|a| (now, a)));
            if d.canaries.is_empty() {
                break;
            }
            let c = self.run(&d.canaries, now);
            self.engine.ingest(now, &c);
            self.last.extend(c);
            d = self.engine.decide(now);
        }
        self.actions.extend(d.actions.drain(..).map(|a| (now, a)));
    }

    fn run(
        &mut self,
        reqs: &[sentinel_core::probe::ProbeRequest],
        now: UnixMillis,
    ) -> Vec<Observation> {
        reqs.iter()
            .filter_map(|r| {
                let p = self
                    .providers
                    .get(r.provider.as_str())
                    .cloned()
                    .unwrap_or_default();
                let result = p.respond(r, now, &mut self.rng);
                self.engine.observe(r, now, result)
            })
            .collect()
    }

    fn active(&self) -> Option<String> {
        self.engine
            .state()
            .services
            .values()
            .next()?
            .active
            .as_ref()
            .map(|a| a.to_string())
    }

    fn alert(&self, key: &str) -> bool {
        self.engine.state().alerts.contains_key(key)
    }
}

/// What `from` tells `to` at `now` (what the tick's exchange does): a
/// health check and a read, or a failed check when `from` is down.
fn exchange(to: &mut Vantage, from: &Vantage, now: UnixMillis) {
    let id = from.engine.config().sentinel.id.clone();
    if from.up {
        to.engine.note_peer_check(&id, now, Ok(5));
        let published = Published {
            sentinel: Some(id.clone()),
            observations: from.last.clone(),
            routes: from.engine.published_routes(),
        };
        to.engine.absorb_peer(&id, now, &published);
    } else {
        to.engine.note_peer_check(&id, now, Err("refused".into()));
        to.engine.note_peer_read_error(&id, now, "refused".into());
    }
}

/// Runs both sentinels every 5 s until `until`, exchanging after each
/// round (as each reads the other at its own tick).
fn run(a: &mut Vantage, b: &mut Vantage, from: UnixMillis, until: UnixMillis) {
    let mut now = from;
    while now <= until {
        if a.up {
            exchange(a, b, now);
            a.tick(now);
        }
        if b.up {
            exchange(b, a, now + 1);
            b.tick(now + 1);
        }
        now += 5 * SECOND;
    }
}

fn switched(v: &Vantage) -> Vec<(UnixMillis, String)> {
    v.actions
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Switch { record } => Some((*t, record.to.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_provider_failing_for_one_vantage_only_is_held_and_failing_for_both_is_switched() {
    let t0 = start();
    let out = t0 + 5 * MINUTE;
    let mut a = Vantage::new("cf", Some("aws"), 1);
    let mut b = Vantage::new("aws", Some("cf"), 2);
    // The active provider fails from cf only.
    a.set(
        "a",
        SimProvider::default().fault(out, out + MINUTE * 60, Fault::Outage),
    );
    run(&mut a, &mut b, t0, out + 10 * MINUTE);
    assert_eq!(a.active().as_deref(), Some("a"), "{:?}", switched(&a));
    assert_eq!(b.active().as_deref(), Some("a"));
    assert_eq!(a.engine.verdict(&pid("a")), Verdict::LocalOnly);
    assert!(a.alert("vantage:a"), "{:?}", a.engine.state().alerts.keys());
    assert_ne!(
        a.engine.state().providers[&pid("a")].lifecycle,
        Lifecycle::Failed
    );
    let v = a.engine.vantages(&pid("a"));
    assert_eq!((v[0].up, v[1].up), (Some(false), Some(true)), "{v:?}");
    assert!(a.actions.iter().any(|(_, x)| matches!(x, Action::Quorum { verdict, disagree, .. } if verdict == "local-only" && disagree.len() == 1)));

    // Now aws sees it fail too: both switch away within two intervals
    // (30 s) of aws's first failed probe, plus the failure rule's delay.
    let both = out + 10 * MINUTE + 2 * SECOND;
    b.set(
        "a",
        SimProvider::default().fault(both, both + 60 * MINUTE, Fault::Outage),
    );
    run(
        &mut a,
        &mut b,
        out + 10 * MINUTE + 5 * SECOND,
        both + 3 * MINUTE,
    );
    let sa = switched(&a);
    let sb = switched(&b);
    assert!(!sa.is_empty() && !sb.is_empty(), "{sa:?} {sb:?}");
    let took = sa[0].0 - both;
    assert!(
        took <= 2 * 30 * SECOND + 30 * SECOND,
        "switched {took} ms after the outage"
    );
    assert_eq!(a.active(), b.active());
    let why = a
        .actions
        .iter()
        .find_map(|(_, x)| match x {
            Action::Lifecycle {
                provider,
                to: Lifecycle::Failed,
                why,
                ..
            } if provider.as_str() == "a" => Some(why.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(why.contains("confirmed from aws"), "{why}");
    assert!(!a.alert("vantage:a"));
}

#[test]
fn with_its_peer_down_a_sentinel_acts_alone_alerts_and_they_reconcile() {
    let t0 = start();
    let mut a = Vantage::new("cf", Some("aws"), 3);
    let mut b = Vantage::new("aws", Some("cf"), 4);
    run(&mut a, &mut b, t0, t0 + 5 * MINUTE);
    b.up = false;
    let out = t0 + 6 * MINUTE;
    a.set(
        "a",
        SimProvider::default().fault(out, out + 4 * MINUTE, Fault::Outage),
    );
    b.set(
        "a",
        SimProvider::default().fault(out, out + 4 * MINUTE, Fault::Outage),
    );
    run(
        &mut a,
        &mut b,
        t0 + 5 * MINUTE + 5 * SECOND,
        out + 3 * MINUTE,
    );
    assert!(a.alert("peer-down:aws"));
    let to = a.active().unwrap();
    assert_ne!(to, "a", "cf acted alone");
    assert!(a.actions.iter().any(|(_, x)| matches!(x, Action::Quorum { verdict, absent, .. } if verdict == "alone" && absent.iter().any(|s| s.as_str() == "aws"))));
    let why = a
        .actions
        .iter()
        .find_map(|(_, x)| match x {
            Action::Lifecycle {
                to: Lifecycle::Failed,
                why,
                ..
            } => Some(why.clone()),
            _ => None,
        })
        .unwrap();
    assert!(why.contains("acting alone"), "{why}");

    // The old provider recovers; aws comes back with its old route and,
    // seeing `a` healthy, would keep it: it adopts cf's later decision.
    run(
        &mut a,
        &mut b,
        out + 3 * MINUTE + 5 * SECOND,
        out + 6 * MINUTE,
    );
    b.up = true;
    assert_eq!(b.active().as_deref(), Some("a"));
    run(
        &mut a,
        &mut b,
        out + 6 * MINUTE + 5 * SECOND,
        out + 8 * MINUTE,
    );
    assert_eq!(b.active(), a.active());
    assert_eq!(a.active().as_deref(), Some(to.as_str()));
    assert!(b.actions.iter().any(
        |(_, x)| matches!(x, Action::Switch { record } if record.reason.name() == "reconciled")
    ));
    assert!(!a.alert("peer-down:aws"));
    // And nothing flaps afterwards.
    let before = (switched(&a).len(), switched(&b).len());
    run(
        &mut a,
        &mut b,
        out + 8 * MINUTE + 5 * SECOND,
        out + 30 * MINUTE,
    );
    assert_eq!((switched(&a).len(), switched(&b).len()), before);
}

#[test]
fn a_sentinel_that_reaches_neither_its_peer_nor_most_providers_suspects_itself() {
    let t0 = start();
    let mut a = Vantage::new("cf", Some("aws"), 5);
    let mut b = Vantage::new("aws", Some("cf"), 6);
    run(&mut a, &mut b, t0, t0 + 5 * MINUTE);
    // cf's own network breaks: every provider and the peer fail from it.
    let out = t0 + 6 * MINUTE;
    for p in ["a", "b", "c"] {
        a.set(
            p,
            SimProvider::default().fault(out, out + 60 * MINUTE, Fault::Outage),
        );
    }
    let mut now = t0 + 5 * MINUTE + 5 * SECOND;
    while now <= out + 5 * MINUTE {
        let id = b.engine.config().sentinel.id.clone();
        if now >= out {
            a.engine.note_peer_check(&id, now, Err("timeout".into()));
        } else {
            exchange(&mut a, &b, now);
        }
        a.tick(now);
        b.tick(now + 1);
        now += 5 * SECOND;
    }
    assert!(a.alert("isolated"), "{:?}", a.engine.state().alerts.keys());
    assert!(switched(&a).is_empty(), "{:?}", switched(&a));
    assert_eq!(a.engine.verdict(&pid("a")), Verdict::Isolated);
    assert_eq!(a.active().as_deref(), Some("a"));
    for p in ["a", "b", "c"] {
        assert_ne!(
            a.engine.state().providers[&pid(p)].lifecycle,
            Lifecycle::Failed,
            "{p} is not failed on a suspected own-network outage"
        );
    }
}

#[test]
fn the_same_evidence_gives_the_same_decisions_and_byte_identical_records() {
    let t0 = start();
    let mut a = Vantage::new("cf", None, 7);
    let mut b = Vantage::new("aws", None, 7);
    let out = t0 + 20 * MINUTE;
    for v in [&mut a, &mut b] {
        v.set(
            "a",
            SimProvider::default().fault(out, out + 30 * MINUTE, Fault::Outage),
        );
        v.set(
            "b",
            SimProvider::default().fault(
                out + 5 * MINUTE,
                out + 6 * MINUTE,
                Fault::Slow { extra_ms: 900 },
            ),
        );
    }
    let mut now = t0;
    while now <= t0 + 3 * 60 * MINUTE {
        a.tick(now);
        b.tick(now);
        now += 5 * SECOND;
    }
    assert!(!switched(&a).is_empty());
    assert_eq!(a.actions, b.actions, "same evidence, same decisions");
    for p in ["a", "b", "c"] {
        let ra = a.engine.attestation_record(&pid(p), now).unwrap();
        let rb = b.engine.attestation_record(&pid(p), now).unwrap();
        assert_eq!(ra.encode(), rb.encode(), "{p}");
        assert_eq!(ra.encode().len(), 192);
    }
    // A different evidence gives a different hash.
    let ra = a.engine.attestation_record(&pid("a"), now).unwrap();
    let rc = a.engine.attestation_record(&pid("c"), now).unwrap();
    assert_ne!(ra.evidence, rc.evidence);
}

#[test]
fn an_outage_seen_by_both_is_switched_about_as_fast_as_by_a_single_sentinel() {
    let t0 = start();
    let out = t0 + 10 * MINUTE + 2 * SECOND;
    let outage = || SimProvider::default().fault(out, out + 60 * MINUTE, Fault::Outage);
    let mut a = Vantage::new("cf", Some("aws"), 11);
    let mut b = Vantage::new("aws", Some("cf"), 12);
    a.set("a", outage());
    b.set("a", outage());
    run(&mut a, &mut b, t0, out + 3 * MINUTE);
    let mut single = Vantage::new("cf", None, 11);
    single.set("a", outage());
    let mut now = t0;
    while now <= out + 3 * MINUTE {
        single.tick(now);
        now += 5 * SECOND;
    }
    let at = |v: &Vantage| switched(v).first().map(|(t, _)| t - out).unwrap();
    let (qa, qb, one) = (at(&a), at(&b), at(&single));
    eprintln!("outage seen by both -> switch: cf {qa} ms, aws {qb} ms with quorum; {one} ms for a single sentinel");
    // The quorum waits for the peer's next probe at most: one interval.
    assert!(
        qa.max(qb) <= one + 30 * SECOND,
        "quorum {qa}/{qb} ms, single {one} ms"
    );
    assert_eq!(a.active(), b.active());
}
