//! A conformance suite for [`Store`] implementations: every shell's store
//! (the in-memory fakes, the local redb store, and later KV and DynamoDB)
//! runs the checks of the contract the shared tick relies on, for the
//! capability it declares ([`Consistency`]):
//!
//! - [`run`]: conditional writes (compare-and-swap) or last-writer-wins,
//!   the observation log (ordering, no duplicates, pruning), the audit
//!   log;
//! - [`overlapping_ticks`]: two sentinels on the one store, the second
//!   tick starting before the first commits and committing after it: no
//!   observation lost, the switch applied once, no audit entry twice, and
//!   a budgeted store written at most once per tick.

use crate::action::Action;
use crate::config::Config;
use crate::encoded::EncodedState;
use crate::engine::{Event, EventKind, UsageTarget};
use crate::probe::{Observation, Outcome};
use crate::sim::{Fault, SimProber, SimProvider};
use crate::tick::{AuditEntry, Commit, CommitBatch, Consistency, Prober, Sentinel, Store};
use crate::time::{UnixMillis, SECOND};
use crate::ProviderId;
use futures_util::FutureExt;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// What failed, in words.
pub type Failure = String;

fn obs(provider: &str, at: UnixMillis) -> Result<Observation, Failure> {
    let id = ProviderId::new(provider).map_err(|e| e.to_string())?;
    Ok(crate::sim::observation(id, at))
}

fn check(cond: bool, what: &str) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

static NOTHING_ABSORBED: BTreeMap<String, u64> = BTreeMap::new();

fn batch<'a>(
    state: &'a EncodedState,
    obs: &'a [Observation],
    audit: &'a [AuditEntry],
) -> CommitBatch<'a> {
    CommitBatch {
        state,
        observations: obs,
        audit,
        keep_observations_since: 0,
        absorbed_events: &NOTHING_ABSORBED,
    }
}

/// Runs the contract against an *empty* store.
pub async fn run<S: Store>(store: &S) -> Result<(), Failure> {
    let e = |err: S::Error| err.to_string();
    let cas = store.capabilities().consistency == Consistency::CompareAndSwap;
    check(
        store.load().await.map_err(e)?.is_none(),
        "an empty store loads nothing",
    )?;

    let v1 = match store
        .commit(
            None,
            &batch(&EncodedState::opaque(b"state-1".to_vec()), &[], &[]),
        )
        .await
        .map_err(e)?
    {
        Commit::Committed { version } => version,
        Commit::Conflict => return Err("the first commit into an empty store conflicted".into()),
    };
    if cas {
        check(
            store
                .commit(
                    None,
                    &batch(&EncodedState::opaque(b"stale".to_vec()), &[], &[]),
                )
                .await
                .map_err(e)?
                == Commit::Conflict,
            "a commit expecting an empty store must conflict once something is stored",
        )?;
    }
    let audit = vec![AuditEntry {
        at: 1,
        revision: 2,
        action: Action::Alert {
            key: "k".into(),
            severity: crate::state::Severity::Info,
            message: "m".into(),
            firing: true,
        },
    }];
    let v2 = match store
        .commit(
            Some(v1),
            &batch(&EncodedState::opaque(b"state-2".to_vec()), &[], &audit),
        )
        .await
        .map_err(e)?
    {
        Commit::Committed { version } => version,
        Commit::Conflict => return Err("a commit expecting the current version conflicted".into()),
    };
    check(v2 != v1, "a commit must produce a new version")?;
    if cas {
        check(
            store
                .commit(
                    Some(v1),
                    &batch(&EncodedState::opaque(b"lost-update".to_vec()), &[], &[]),
                )
                .await
                .map_err(e)?
                == Commit::Conflict,
            "a commit expecting an old version must conflict (no lost update)",
        )?;
    }
    let loaded = store
        .load()
        .await
        .map_err(e)?
        .ok_or("the committed state is gone")?;
    check(
        loaded.bytes == b"state-2",
        "load returns the last committed state, not a conflicting one",
    )?;
    check(
        loaded.version == v2,
        "load returns the last committed version",
    )?;

    // The observation log: written ahead (when the store affords it) and
    // with commits; an observation written both ways is kept once.
    let first = vec![obs("a", 1_000)?, obs("b", 1_000)?, obs("a", 2_000)?];
    if !store.capabilities().budgeted() {
        store.log_observations(&first).await.map_err(e)?;
    }
    let mut with_commit = first.clone();
    with_commit.push(obs("c", 3_000)?);
    store
        .commit(
            Some(v2),
            &batch(
                &EncodedState::opaque(b"state-3".to_vec()),
                &with_commit,
                &[],
            ),
        )
        .await
        .map_err(e)?;
    let since = store.observations_since(2_000, 100).await.map_err(e)?;
    check(
        since.len() == 2,
        "observations_since returns exactly those at or after the time",
    )?;
    check(
        since.first().is_some_and(|o| o.at == 2_000) && since.last().is_some_and(|o| o.at == 3_000),
        "oldest first",
    )?;
    let all = store.observations_since(0, 100).await.map_err(e)?;
    check(
        all.len() == 4,
        "two observations at the same time are both kept, and one written twice is kept once",
    )?;
    check(
        store.observations_since(0, 2).await.map_err(e)? == all[2..].to_vec(),
        "a limit keeps the newest",
    )?;
    check(
        all.iter()
            .any(|o| o.latency_ms == 42 && o.bytes == 10 && o.outcome == Outcome::Ok),
        "observations round-trip intact",
    )?;
    // Pruning: what the state absorbed and no peer reads any more.
    let v4 = store.load().await.map_err(e)?.map(|s| s.version);
    store
        .commit(
            v4,
            &CommitBatch {
                state: &EncodedState::opaque(b"state-4".to_vec()),
                observations: &[],
                audit: &[],
                keep_observations_since: 2_000,
                absorbed_events: &NOTHING_ABSORBED,
            },
        )
        .await
        .map_err(e)?;
    check(
        store.observations_since(0, 100).await.map_err(e)?.len() == 2,
        "observations older than keep_observations_since are dropped",
    )?;

    // A real state in parts: a store that writes only the changed parts
    // must still give back exactly the whole encoding, with providers
    // added, changed and removed between commits.
    let mk = |ids: &[&str], revision: u64| -> Result<crate::State, Failure> {
        let mut st = crate::State {
            revision,
            ..crate::State::default()
        };
        for id in ids {
            let pid = ProviderId::new(*id).map_err(|e| e.to_string())?;
            let svc = crate::ServiceId::new("s").map_err(|e| e.to_string())?;
            let mut ps =
                crate::state::ProviderState::new(svc, crate::lifecycle::Lifecycle::Active, 1);
            ps.next_due = revision;
            st.providers.insert(pid, ps);
        }
        Ok(st)
    };
    for st in [
        mk(&["a", "b", "c"], 10)?,
        mk(&["a", "c", "d"], 11)?,
        mk(&[], 12)?,
        mk(&["b"], 13)?,
    ] {
        let v = store.load().await.map_err(e)?.map(|s| s.version);
        let enc = EncodedState::of(&st);
        store.commit(v, &batch(&enc, &[], &[])).await.map_err(e)?;
        let back = store.load().await.map_err(e)?.ok_or("the state is gone")?;
        check(
            back.bytes == st.to_bytes(),
            "a state written in parts loads back as its whole encoding",
        )?;
    }

    // The event journal, where the store affords one.
    if !store.capabilities().budgeted() {
        let ev = |source: &str, seq: u64| Event {
            source: source.to_string(),
            seq,
            at: 5_000,
            kind: EventKind::Usage {
                target: UsageTarget::Sentinel,
                metric: crate::books::Metric::Requests,
                amount: seq,
            },
        };
        store
            .journal(&[ev("proxy", 1), ev("proxy", 2), ev("other", 7)])
            .await
            .map_err(e)?;
        store.journal(&[ev("proxy", 3)]).await.map_err(e)?;
        let mut got = store.journaled().await.map_err(e)?;
        got.sort_by(|a, b| (&a.source, a.seq).cmp(&(&b.source, b.seq)));
        check(
            got == vec![
                ev("other", 7),
                ev("proxy", 1),
                ev("proxy", 2),
                ev("proxy", 3),
            ],
            "journaled events come back intact",
        )?;
        let absorbed: BTreeMap<String, u64> = [("proxy".to_string(), 2)].into_iter().collect();
        let v = store.load().await.map_err(e)?.map(|s| s.version);
        store
            .commit(
                v,
                &CommitBatch {
                    state: &EncodedState::opaque(b"state-5".to_vec()),
                    observations: &[],
                    audit: &[],
                    keep_observations_since: 0,
                    absorbed_events: &absorbed,
                },
            )
            .await
            .map_err(e)?;
        let mut left = store.journaled().await.map_err(e)?;
        left.sort_by(|a, b| (&a.source, a.seq).cmp(&(&b.source, b.seq)));
        check(
            left == vec![ev("other", 7), ev("proxy", 3)],
            "a commit drops exactly the journaled events the state absorbed",
        )?;
    }
    Ok(())
}

fn config() -> Result<Config, Failure> {
    Config::from_toml(
        r#"
[sentinel]
id = "conformance"
allow_private_targets = true

[policy.switching]
down_after = "5s"
min_dwell = "5s"

[[service]]
id = "prices"
kind = "api"
probe_interval = "10s"

[service.probe]
path = "/health"

[[service.provider]]
id = "a"
endpoint = "http://127.0.0.1:9001"
initial = "active"

[[service.provider]]
id = "b"
endpoint = "http://127.0.0.1:9002"
initial = "standby"
"#,
    )
    .map_err(|e| e.to_string())
}

/// A prober that runs a hook (another writer's whole tick) the first time
/// it is asked for a probe, then probes like `inner`.
struct HookProber<'a> {
    inner: SimProber,
    hook: RefCell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl Prober for HookProber<'_> {
    async fn probe(&self, req: &crate::probe::ProbeRequest) -> crate::probe::ProbeResult {
        let hook = self.hook.borrow_mut().take();
        if let Some(h) = hook {
            h();
        }
        self.inner.probe(req).await
    }
}

/// Two sentinels on one *empty* store whose methods complete without
/// waiting (the fakes, redb): provider `a` (active) is down; sentinel A
/// ticks inside sentinel B's tick (after B loaded, before B commits).
/// Checks: both ticks' observations are in the log and counted in the
/// state, the switch away from `a` is applied and audited once, no audit
/// entry is written twice, and a budgeted store took at most one write
/// per tick.
pub async fn overlapping_ticks<S: Store>(store: &S) -> Result<(), Failure> {
    let e = |err: crate::tick::TickError<S::Error>| err.to_string();
    let cfg = config()?;
    let t0: UnixMillis = 1_800_000_000_000;
    let down = |p: &SimProber| -> Result<(), Failure> {
        let a = ProviderId::new("a").map_err(|e| e.to_string())?;
        p.providers
            .borrow_mut()
            .insert(a, SimProvider::default().fault(0, u64::MAX, Fault::Outage));
        Ok(())
    };
    // Warm up: a few ticks of one sentinel so `a` is failing and a switch
    // is one confirmation away.
    let warm = SimProber::new(t0, 1);
    down(&warm)?;
    {
        let mut w = Sentinel::open(cfg.clone(), store, warm, t0)
            .await
            .map_err(e)?;
        for i in 0..2u64 {
            w.prober().now.set(t0 + i * 2 * SECOND);
            let now = w.prober().now.get();
            w.tick(&move || now).await.map_err(e)?;
        }
    }
    let start = t0 + 10 * SECOND;
    let before = store
        .observations_since(0, usize::MAX)
        .await
        .map_err(|e| e.to_string())?
        .len();

    let pa = SimProber::new(start, 2);
    down(&pa)?;
    let mut a = Sentinel::open(cfg.clone(), store, pa, start)
        .await
        .map_err(e)?;
    let pb = SimProber::new(start + 500, 3);
    down(&pb)?;
    let a_report = RefCell::new(None);
    let hook = {
        let a_report = &a_report;
        let a = &mut a;
        Box::new(move || {
            let now = start;
            let r = a.tick(&move || now).now_or_never();
            *a_report.borrow_mut() = Some(r);
        }) as Box<dyn FnOnce() + '_>
    };
    let hp = HookProber {
        inner: pb,
        hook: RefCell::new(Some(hook)),
    };
    let mut b = Sentinel::open(cfg, store, hp, start + 500)
        .await
        .map_err(e)?;
    let rb = b.tick(&move || start + 500).await.map_err(e)?;
    drop(b);
    let ra = match a_report.into_inner() {
        Some(Some(r)) => r.map_err(e)?,
        _ => return Err("sentinel A's tick did not run to completion inside B's".into()),
    };
    check(
        ra.probes > 0 && rb.probes > 0,
        "both overlapping ticks probed",
    )?;
    check(rb.conflicts >= 1, "the later commit saw the earlier one")?;
    let log = store
        .observations_since(0, usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    let all_new: Vec<&Observation> = ra
        .observations
        .iter()
        .chain(rb.observations.iter())
        .collect();
    check(
        all_new.iter().all(|o| {
            log.iter()
                .any(|l| l.provider == o.provider && l.key() == o.key())
        }),
        "every observation of both ticks is in the log",
    )?;
    check(log.len() >= before, "the log lost nothing")?;
    let stored = store
        .load()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("nothing stored")?;
    let state = crate::State::from_bytes(&stored.bytes).map_err(|e| e.to_string())?;
    for o in &all_new {
        let ps = state
            .providers
            .get(&o.provider)
            .ok_or("a provider vanished")?;
        check(
            ps.watermark.is_some_and(|w| w >= o.key()),
            "the committed state absorbed every observation of both ticks",
        )?;
    }
    let switches = state
        .history
        .iter()
        .filter(|r| r.to.as_str() == "b")
        .count();
    check(
        switches == 1,
        &format!("the switch to `b` is applied once (history has {switches})"),
    )?;
    Ok(())
}
