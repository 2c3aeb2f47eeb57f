//! Consistency: the same question, asked of several providers of one
//! service at (about) the same time, should get the same answer.
//!
//! There is no ground truth to compare with, only the providers
//! themselves, so the rule is a **plurality vote** in the spirit of
//! Byzantine agreement: the answer given by strictly more providers than
//! any other answer is taken as right, and providers that gave another
//! answer fail as `inconsistent`. Independent providers rarely agree on
//! the *same* wrong value, while one broken, lagging or lying provider is
//! common — so agreement is evidence and a lone dissenter is suspect.
//!
//! When the top answer is **tied** (two providers, one against one; or
//! 2 vs 2 of 4) the truth cannot be told from the votes: every provider
//! involved gets [`Check::NotApplicable`] — nobody is punished, because
//! punishing both would hit the honest one too. With only two providers a
//! disagreement is therefore never decidable; run three or more where
//! consistency matters. Fewer than two providers with facts leave every
//! entry not applicable, as does a provider whose facts lack the compared
//! value (its own checks already fail it).
//!
//! **EVM providers** ([`EvmChecks`]):
//! 1. the plurality chain id wins; providers on other chains are
//!    `inconsistent` (a tie leaves everyone not applicable);
//! 2. on the winning chain, providers whose head is more than
//!    `max_lag_blocks` behind the highest head are `lagging`. (A provider
//!    inventing a far-ahead head would make honest peers look lagging;
//!    its block would then fail `freshness` as `future-timestamp` or be
//!    outvoted on hash once peers reach that height.)
//! 3. providers reporting the same block number with different hashes are
//!    voted on per number: the minority hash is `inconsistent` (a fork or
//!    a lie), a tie is not applicable unless the provider also lags.
//!
//! **API providers** ([`ConsistencyField`]): two values agree when they
//! are equal JSON (numbers by value) or, with a `tolerance`, when both
//! read as numbers (JSON numbers, decimal or hex strings) within that
//! absolute difference. Tolerance is not transitive, so each provider's
//! value defines a group — the providers agreeing with it — and the
//! largest group wins if it is the only group of its size; its members
//! pass and everyone else is `inconsistent`. Several different largest
//! groups are a tie.
//!
//! When both `evm` and `field` are given, the EVM rules apply. Duplicate
//! provider ids keep their first observation; the output has one entry
//! per distinct provider, sorted by provider id, and does not depend on
//! the order of `obs`.

use super::json::{as_number, json_eq};
use super::spec::{ConsistencyField, EvmChecks};
use super::{Check, EvmHead, Facts, FailReason};
use crate::ProviderId;
use serde_json::Value;
use std::collections::BTreeMap;

/// Judges the providers of one service against each other; see the
/// module documentation for the rules.
pub fn cross_check(
    obs: &[(ProviderId, &Facts)],
    field: Option<&ConsistencyField>,
    evm: Option<&EvmChecks>,
) -> Vec<(ProviderId, Check)> {
    let mut facts: BTreeMap<&ProviderId, &Facts> = BTreeMap::new();
    for (id, f) in obs {
        facts.entry(id).or_insert(f);
    }
    let mut out: BTreeMap<&ProviderId, Check> =
        facts.keys().map(|&id| (id, Check::NotApplicable)).collect();
    if let Some(e) = evm {
        let heads: Vec<_> = facts
            .iter()
            .filter_map(|(&id, f)| f.evm.as_ref().map(|h| (id, h)))
            .collect();
        for (id, c) in evm_rules(&heads, e) {
            out.insert(id, c);
        }
    } else if let Some(cf) = field {
        let values: Vec<_> = facts
            .iter()
            .filter_map(|(&id, f)| f.field.as_ref().map(|v| (id, v)))
            .collect();
        for (id, c) in field_rules(&values, cf.tolerance) {
            out.insert(id, c);
        }
    }
    out.into_iter().map(|(id, c)| (id.clone(), c)).collect()
}

/// The value held by strictly more items than any other, if any.
fn plurality<K: Ord>(items: impl IntoIterator<Item = K>) -> Option<K> {
    let mut counts: BTreeMap<K, usize> = BTreeMap::new();
    for k in items {
        *counts.entry(k).or_default() += 1;
    }
    let top = counts.values().copied().max()?;
    let mut winners = counts.into_iter().filter(|&(_, n)| n == top);
    let (winner, _) = winners.next()?;
    winners.next().is_none().then_some(winner)
}

fn evm_rules<'a>(
    heads: &[(&'a ProviderId, &EvmHead)],
    e: &EvmChecks,
) -> Vec<(&'a ProviderId, Check)> {
    if heads.len() < 2 {
        return Vec::new();
    }
    let Some(chain) = plurality(heads.iter().map(|(_, h)| h.chain_id)) else {
        return Vec::new();
    };
    let on_chain: Vec<_> = heads.iter().filter(|(_, h)| h.chain_id == chain).collect();
    let best = on_chain.iter().map(|(_, h)| h.number).max().unwrap_or(0);
    let mut hashes_at: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (_, h) in &on_chain {
        hashes_at.entry(h.number).or_default().push(&h.hash);
    }
    // Per block number: Some(winning hash), or None on a tie (or when
    // hashes are not compared: every height is then "no verdict").
    let verdict_at: BTreeMap<u64, Option<&str>> = hashes_at
        .iter()
        .filter(|_| e.compare_hashes)
        .map(|(&n, hs)| (n, plurality(hs.iter().copied())))
        .collect();
    heads
        .iter()
        .map(|&(id, h)| {
            if h.chain_id != chain {
                return (id, Check::Fail(FailReason::Inconsistent));
            }
            let lagging = best - h.number > e.max_lag_blocks;
            let check = match verdict_at.get(&h.number).copied().flatten() {
                Some(w) if w != h.hash => Check::Fail(FailReason::Inconsistent),
                _ if lagging => Check::Fail(FailReason::Lagging),
                Some(_) => Check::Pass,
                // Without hashes, agreeing on the chain and keeping up is
                // all that can be judged, and it is a pass.
                None if !e.compare_hashes => Check::Pass,
                None => Check::NotApplicable,
            };
            (id, check)
        })
        .collect()
}

/// A fork seen now: providers on the plurality chain reporting different
/// hashes for the same block number (the highest such number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkSeen {
    /// The block number.
    pub number: u64,
    /// Each provider's hash at that number.
    pub hashes: BTreeMap<ProviderId, String>,
    /// The hash strictly more of them reported than any other, if any.
    pub majority: Option<String>,
}

fn on_plurality_chain<'a>(obs: &'a [(ProviderId, &Facts)]) -> Vec<(&'a ProviderId, &'a EvmHead)> {
    let heads: Vec<_> = obs
        .iter()
        .filter_map(|(id, f)| f.evm.as_ref().map(|h| (id, h)))
        .collect();
    let Some(chain) = plurality(heads.iter().map(|(_, h)| h.chain_id)) else {
        return Vec::new();
    };
    heads
        .into_iter()
        .filter(|(_, h)| h.chain_id == chain)
        .collect()
}

/// The fork among `obs`, if two providers on the plurality chain report
/// different hashes at the same block number. A tie (one against one)
/// is a fork too: the vote cannot tell who is right, but a person must
/// know.
pub fn find_fork(obs: &[(ProviderId, &Facts)]) -> Option<ForkSeen> {
    let heads = on_plurality_chain(obs);
    let mut at: BTreeMap<u64, BTreeMap<ProviderId, String>> = BTreeMap::new();
    for (id, h) in heads {
        at.entry(h.number)
            .or_default()
            .entry(id.clone())
            .or_insert_with(|| h.hash.clone());
    }
    let (number, hashes) = at.into_iter().rev().find(|(_, hs)| {
        let mut distinct: Vec<&String> = hs.values().collect();
        distinct.sort();
        distinct.dedup();
        distinct.len() > 1
    })?;
    let majority = plurality(hashes.values().cloned());
    Some(ForkSeen {
        number,
        hashes,
        majority,
    })
}

/// Whether a fork has healed: providers from two different sides of it
/// (different hashes at the fork) now report the same hash at a later
/// block number. Silence heals nothing.
pub fn fork_healed(
    fork_hashes: &BTreeMap<ProviderId, String>,
    number: u64,
    obs: &[(ProviderId, &Facts)],
) -> bool {
    let heads = on_plurality_chain(obs);
    let mut sides_at: BTreeMap<(u64, &str), Vec<&str>> = BTreeMap::new();
    for (id, h) in &heads {
        if h.number <= number {
            continue;
        }
        if let Some(side) = fork_hashes.get(*id) {
            sides_at
                .entry((h.number, h.hash.as_str()))
                .or_default()
                .push(side.as_str());
        }
    }
    sides_at.values_mut().any(|sides| {
        sides.sort_unstable();
        sides.dedup();
        sides.len() > 1
    })
}

fn agree(a: &Value, b: &Value, tolerance: Option<f64>) -> bool {
    if let Some(t) = tolerance {
        match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => return (x - y).abs() <= t,
            (None, None) => {}
            _ => return false,
        }
    }
    json_eq(a, b)
}

fn field_rules<'a>(
    values: &[(&'a ProviderId, &Value)],
    tolerance: Option<f64>,
) -> Vec<(&'a ProviderId, Check)> {
    if values.len() < 2 {
        return Vec::new();
    }
    // Each provider's group: the (sorted) indices of providers agreeing
    // with it, itself included.
    let groups: Vec<Vec<usize>> = values
        .iter()
        .map(|(_, a)| {
            (0..values.len())
                .filter(|&j| agree(a, values[j].1, tolerance))
                .collect()
        })
        .collect();
    let top = groups.iter().map(Vec::len).max().unwrap_or(0);
    let mut largest: Vec<&Vec<usize>> = groups.iter().filter(|g| g.len() == top).collect();
    largest.sort();
    largest.dedup();
    let [winner] = largest.as_slice() else {
        return Vec::new();
    };
    values
        .iter()
        .enumerate()
        .map(|(i, &(id, _))| {
            let c = if winner.contains(&i) {
                Check::Pass
            } else {
                Check::Fail(FailReason::Inconsistent)
            };
            (id, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NA: Check = Check::NotApplicable;
    const PASS: Check = Check::Pass;
    const INCONSISTENT: Check = Check::Fail(FailReason::Inconsistent);
    const LAGGING: Check = Check::Fail(FailReason::Lagging);

    fn pid(s: &str) -> ProviderId {
        ProviderId::new(s).unwrap()
    }

    fn head(chain: u64, number: u64, hash: &str) -> Facts {
        Facts {
            evm: Some(EvmHead {
                chain_id: chain,
                number,
                hash: hash.into(),
                timestamp_s: 0,
            }),
            field: None,
        }
    }

    fn field(v: Value) -> Facts {
        Facts {
            evm: None,
            field: Some(v),
        }
    }

    fn run_evm(facts: &[(&str, Facts)]) -> Vec<(String, Check)> {
        let obs: Vec<_> = facts.iter().map(|(id, f)| (pid(id), f)).collect();
        cross_check(&obs, None, Some(&EvmChecks::default()))
            .into_iter()
            .map(|(id, c)| (id.to_string(), c))
            .collect()
    }

    fn run_field(values: &[(&str, Value)], tolerance: Option<f64>) -> Vec<(String, Check)> {
        let facts: Vec<_> = values
            .iter()
            .map(|(id, v)| (pid(id), field(v.clone())))
            .collect();
        let obs: Vec<_> = facts.iter().map(|(id, f)| (id.clone(), f)).collect();
        let cf = ConsistencyField {
            pointer: "/p".into(),
            tolerance,
        };
        cross_check(&obs, Some(&cf), None)
            .into_iter()
            .map(|(id, c)| (id.to_string(), c))
            .collect()
    }

    fn expect(pairs: &[(&str, Check)]) -> Vec<(String, Check)> {
        pairs.iter().map(|(id, c)| (id.to_string(), *c)).collect()
    }

    #[test]
    fn independent_dev_chains_are_judged_on_chain_and_height_only() {
        let facts = [
            ("a", head(31337, 10, "0xaa")),
            ("b", head(31337, 10, "0xbb")),
            ("c", head(31337, 4, "0xcc")),
        ];
        let obs: Vec<_> = facts.iter().map(|(id, f)| (pid(id), f)).collect();
        let no_hashes = EvmChecks {
            compare_hashes: false,
            ..EvmChecks::default()
        };
        let got: Vec<_> = cross_check(&obs, None, Some(&no_hashes))
            .into_iter()
            .map(|(id, c)| (id.to_string(), c))
            .collect();
        assert_eq!(got, expect(&[("a", PASS), ("b", PASS), ("c", LAGGING)]));
        // With hashes compared, a and b are a tie at height 10.
        assert_eq!(run_evm(&facts)[0].1, NA);
        assert!(find_fork(&obs).is_some(), "the fork is there to see");
    }

    #[test]
    fn fewer_than_two_is_not_applicable() {
        assert_eq!(run_evm(&[]), expect(&[]));
        assert_eq!(run_evm(&[("a", head(1, 10, "x"))]), expect(&[("a", NA)]));
        assert_eq!(
            run_evm(&[("a", head(1, 10, "x")), ("b", Facts::default())]),
            expect(&[("a", NA), ("b", NA)])
        );
        assert_eq!(run_field(&[("a", json!(1))], None), expect(&[("a", NA)]));
        // Nothing to compare on.
        let f = head(1, 1, "x");
        let obs = [(pid("a"), &f), (pid("b"), &f)];
        assert_eq!(
            cross_check(&obs, None, None),
            vec![(pid("a"), NA), (pid("b"), NA)]
        );
    }

    #[test]
    fn chain_majority() {
        assert_eq!(
            run_evm(&[
                ("c", head(5, 10, "x")),
                ("a", head(1, 10, "x")),
                ("b", head(1, 10, "x")),
            ]),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        // One against one: undecidable, nobody is punished.
        assert_eq!(
            run_evm(&[("a", head(1, 10, "x")), ("b", head(5, 10, "x"))]),
            expect(&[("a", NA), ("b", NA)])
        );
        // 2 vs 2 vs 1: still no unique plurality.
        assert_eq!(
            run_evm(&[
                ("a", head(1, 10, "x")),
                ("b", head(1, 10, "x")),
                ("c", head(5, 10, "x")),
                ("d", head(5, 10, "x")),
                ("e", head(7, 10, "x")),
            ])
            .iter()
            .filter(|(_, c)| *c != NA)
            .count(),
            0
        );
    }

    #[test]
    fn lagging_heads() {
        assert_eq!(
            run_evm(&[
                ("a", head(1, 100, "h100")),
                ("b", head(1, 97, "h97")),
                ("c", head(1, 96, "h96")),
            ]),
            expect(&[("a", PASS), ("b", PASS), ("c", LAGGING)])
        );
        // Two providers: lag against the other's head is still decidable.
        assert_eq!(
            run_evm(&[("a", head(1, 100, "h100")), ("b", head(1, 50, "h50"))]),
            expect(&[("a", PASS), ("b", LAGGING)])
        );
        // A minority chain's huge head does not make the majority lag.
        assert_eq!(
            run_evm(&[
                ("a", head(1, 100, "h")),
                ("b", head(1, 100, "h")),
                ("c", head(5, u64::MAX, "h")),
            ]),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
    }

    #[test]
    fn forks_at_the_same_height() {
        assert_eq!(
            run_evm(&[
                ("a", head(1, 100, "0xaa")),
                ("b", head(1, 100, "0xaa")),
                ("c", head(1, 100, "0xbb")),
            ]),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        // Tie at one height: those two are undecidable, the third is fine;
        // a lagging provider lags whatever its hash.
        assert_eq!(
            run_evm(&[
                ("a", head(1, 100, "0xaa")),
                ("b", head(1, 100, "0xbb")),
                ("c", head(1, 99, "0xcc")),
                ("d", head(1, 90, "0xdd")),
                ("e", head(1, 90, "0xee")),
            ]),
            expect(&[
                ("a", NA),
                ("b", NA),
                ("c", PASS),
                ("d", LAGGING),
                ("e", LAGGING)
            ])
        );
        // Minority hash that is also lagging: the fork is the worse news.
        assert_eq!(
            run_evm(&[
                ("a", head(1, 90, "0xaa")),
                ("b", head(1, 90, "0xaa")),
                ("c", head(1, 90, "0xbb")),
                ("d", head(1, 100, "0xdd")),
            ]),
            expect(&[
                ("a", LAGGING),
                ("b", LAGGING),
                ("c", INCONSISTENT),
                ("d", PASS)
            ])
        );
    }

    #[test]
    fn duplicates_and_order() {
        let a1 = head(1, 100, "x");
        let a2 = head(5, 1, "y");
        let b = head(1, 100, "x");
        let obs = [(pid("b"), &b), (pid("a"), &a1), (pid("a"), &a2)];
        assert_eq!(
            cross_check(&obs, None, Some(&EvmChecks::default())),
            vec![(pid("a"), PASS), (pid("b"), PASS)]
        );
    }

    #[test]
    fn exact_field_majority_and_ties() {
        assert_eq!(
            run_field(
                &[("a", json!("x")), ("b", json!("x")), ("c", json!("y"))],
                None
            ),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        assert_eq!(
            run_field(&[("a", json!("x")), ("b", json!("y"))], None),
            expect(&[("a", NA), ("b", NA)])
        );
        assert_eq!(
            run_field(
                &[
                    ("a", json!({"k": [1]})),
                    ("b", json!({"k": [1.0]})),
                    ("c", json!(null))
                ],
                None
            ),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        // Without tolerance a numeric string is not the number.
        assert_eq!(
            run_field(&[("a", json!(1)), ("b", json!(1)), ("c", json!("1"))], None),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        assert!(run_field(
            &[
                ("a", json!("x")),
                ("b", json!("x")),
                ("c", json!("y")),
                ("d", json!("y"))
            ],
            None
        )
        .iter()
        .all(|(_, c)| *c == NA));
    }

    #[test]
    fn tolerance_clusters() {
        let t = Some(0.5);
        assert_eq!(
            run_field(
                &[
                    ("a", json!(100.0)),
                    ("b", json!("100.4")),
                    ("c", json!("0x64")),
                    ("d", json!(101))
                ],
                t
            ),
            expect(&[("a", PASS), ("b", PASS), ("c", PASS), ("d", INCONSISTENT)])
        );
        // Chained agreement around a centre value.
        assert_eq!(
            run_field(
                &[("a", json!(1.0)), ("b", json!(1.4)), ("c", json!(1.8))],
                t
            ),
            expect(&[("a", PASS), ("b", PASS), ("c", PASS)])
        );
        // Two different largest groups: a tie.
        assert_eq!(
            run_field(
                &[
                    ("a", json!(0.0)),
                    ("b", json!(0.3)),
                    ("c", json!(0.6)),
                    ("d", json!(0.9))
                ],
                Some(0.35)
            ),
            expect(&[("a", NA), ("b", NA), ("c", NA), ("d", NA)])
        );
        // Non-numbers compare exactly, never with numbers.
        assert_eq!(
            run_field(
                &[("a", json!("n/a")), ("b", json!("n/a")), ("c", json!(3))],
                t
            ),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        // Zero tolerance is numeric equality across representations.
        assert_eq!(
            run_field(
                &[("a", json!(16)), ("b", json!("0x10")), ("c", json!(17))],
                Some(0.0)
            ),
            expect(&[("a", PASS), ("b", PASS), ("c", INCONSISTENT)])
        );
        // Extremes do not overflow into agreement.
        assert_eq!(
            run_field(
                &[
                    ("a", json!(f64::MAX)),
                    ("b", json!(-f64::MAX)),
                    ("c", json!(-f64::MAX))
                ],
                Some(1.0)
            ),
            expect(&[("a", INCONSISTENT), ("b", PASS), ("c", PASS)])
        );
    }

    #[test]
    fn missing_field_is_not_applicable() {
        let a = field(json!(1));
        let b = field(json!(1));
        let c = Facts::default();
        let obs = [(pid("a"), &a), (pid("b"), &b), (pid("c"), &c)];
        let cf = ConsistencyField {
            pointer: "/p".into(),
            tolerance: None,
        };
        assert_eq!(
            cross_check(&obs, Some(&cf), None),
            vec![(pid("a"), PASS), (pid("b"), PASS), (pid("c"), NA)]
        );
    }

    proptest! {
        #[test]
        fn field_vote_is_order_independent_and_sorted(
            vals in proptest::collection::vec(0u8..4, 0..8),
            tol in proptest::option::of(0u8..3),
            seed in any::<u64>(),
        ) {
            let named: Vec<(String, Value)> =
                vals.iter().enumerate().map(|(i, v)| (format!("p{i}"), json!(*v))).collect();
            let refs: Vec<(&str, Value)> = named.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
            let tol = tol.map(f64::from);
            let a = run_field(&refs, tol);
            let mut shuffled = refs.clone();
            let len = shuffled.len();
            if len > 1 {
                shuffled.rotate_left((seed as usize) % len);
                shuffled.swap(0, (seed as usize / 7) % len);
            }
            prop_assert_eq!(&a, &run_field(&shuffled, tol));
            prop_assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert_eq!(a.len(), refs.len());
            if refs.len() == 2 {
                prop_assert!(a.iter().all(|(_, c)| !c.is_fail()));
            }
            if vals.len() >= 2 && vals.iter().all(|v| *v == vals[0]) {
                prop_assert!(a.iter().all(|(_, c)| *c == PASS));
            }
            // The winners are never outnumbered by any single dissenting value.
            let pass = a.iter().filter(|(_, c)| *c == PASS).count();
            prop_assert!(pass == 0 || pass * 2 > refs.len() || pass >= 2);
        }

        #[test]
        fn evm_vote_never_panics_and_is_order_independent(
            heads in proptest::collection::vec((1u64..3, any::<u64>(), 0u8..3), 0..7),
            seed in any::<u64>(),
        ) {
            let facts: Vec<(String, Facts)> = heads
                .iter()
                .enumerate()
                .map(|(i, &(c, n, h))| (format!("p{i}"), head(c, n, &format!("0x{h}"))))
                .collect();
            let refs: Vec<(&str, Facts)> = facts.iter().map(|(n, f)| (n.as_str(), f.clone())).collect();
            let a = run_evm(&refs);
            let mut shuffled = refs.clone();
            if shuffled.len() > 1 {
                let k = (seed as usize) % shuffled.len();
                shuffled.rotate_left(k);
            }
            prop_assert_eq!(&a, &run_evm(&shuffled));
            if refs.len() == 2 {
                prop_assert!(a.iter().all(|(_, c)| *c != INCONSISTENT));
            }
        }
    }
}
