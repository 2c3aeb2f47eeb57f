//! The quorum rule: whether a provider failing here is failed (see the
//! module docs of [`crate::peer`]).

use super::view::{PeerState, VantageView};
use crate::time::UnixMillis;
use crate::SentinelId;
use serde::{Deserialize, Serialize};

/// The quorum's verdict on a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Not failing here.
    Healthy,
    /// Failing here, and a majority of the vantages that can see it agree:
    /// act.
    Confirmed,
    /// Failing here only: a peer saw it answer since. Held (not failed,
    /// not switched away from).
    LocalOnly,
    /// Failing here; a peer that is up has not probed it since: held for
    /// at most the wait.
    Waiting,
    /// Failing here, and no peer can confirm or deny (down, or not probing
    /// it): act alone, and say so.
    Alone,
    /// This sentinel cannot reach its peers nor most providers: it
    /// suspects its own network and acts on none of it.
    Isolated,
}

impl Verdict {
    /// Whether a failure is held back (not acted on).
    pub fn holds(self) -> bool {
        matches!(
            self,
            Verdict::LocalOnly | Verdict::Waiting | Verdict::Isolated
        )
    }

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Confirmed => "confirmed",
            Verdict::LocalOnly => "local-only",
            Verdict::Waiting => "waiting",
            Verdict::Alone => "alone",
            Verdict::Isolated => "isolated",
        }
    }
}

/// How each peer voted on one provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Votes {
    /// Saw it failing since the failures here began.
    pub agree: Vec<SentinelId>,
    /// Saw it answer since.
    pub disagree: Vec<SentinelId>,
    /// Up, but has not probed it since.
    pub pending: Vec<SentinelId>,
    /// Down.
    pub down: Vec<SentinelId>,
}

/// What the rule needs about one provider.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Whether its failures here meet the failure rule.
    pub failing: bool,
    /// When the failures here began.
    pub since: UnixMillis,
    /// Now.
    pub now: UnixMillis,
    /// How long a peer that has not probed it since may hold the decision.
    pub wait_ms: u64,
    /// Whether this sentinel suspects its own network.
    pub isolated: bool,
}

/// Counts the peers' votes on a provider whose failures here began at
/// `since`. A peer that saw it answer after `since` disagrees; one whose
/// latest probe of it failed, at most `recent_ms` before `since` or
/// later, agrees (it was failing there already when it began here); any
/// other peer that is up has not spoken yet. `view_of` gives a peer's
/// view of it.
pub fn votes<'a>(
    peers: impl Iterator<Item = (&'a SentinelId, &'a PeerState)>,
    since: UnixMillis,
    recent_ms: u64,
    down_after: u32,
    view_of: impl Fn(&PeerState) -> Option<&VantageView>,
) -> Votes {
    let mut v = Votes::default();
    for (id, p) in peers {
        if p.is_down(down_after) || p.last_read.is_none() {
            v.down.push(id.clone());
            continue;
        }
        match view_of(p) {
            Some(view) if view.up && view.at >= since => v.disagree.push(id.clone()),
            Some(view) if !view.up && view.at.saturating_add(recent_ms) >= since => {
                v.agree.push(id.clone())
            }
            _ => v.pending.push(id.clone()),
        }
    }
    v
}

/// The verdict on one provider. With no peer at all, a failure is simply
/// confirmed (a single sentinel decides as it always did).
pub fn judge(case: &Case, votes: &Votes, peers: usize) -> Verdict {
    if !case.failing {
        return Verdict::Healthy;
    }
    if peers == 0 {
        return Verdict::Confirmed;
    }
    if case.isolated {
        return Verdict::Isolated;
    }
    let fail = 1 + votes.agree.len();
    let ok = votes.disagree.len();
    let pending = votes.pending.len();
    if fail > ok + pending {
        return if votes.agree.is_empty() {
            Verdict::Alone
        } else {
            Verdict::Confirmed
        };
    }
    if fail <= ok {
        return Verdict::LocalOnly;
    }
    // Undecided until the pending peers speak; past the wait they abstain.
    if case.now.saturating_sub(case.since) < case.wait_ms {
        return Verdict::Waiting;
    }
    if fail > ok {
        if votes.agree.is_empty() {
            Verdict::Alone
        } else {
            Verdict::Confirmed
        }
    } else {
        Verdict::LocalOnly
    }
}

/// Whether this sentinel should suspect its own network: it has peers,
/// every one of them is down, and at least `share_percent` of the
/// providers it probes recently (and at least two) failed their latest
/// probe.
pub fn isolated(
    peers_total: usize,
    peers_down: usize,
    failing: usize,
    probed: usize,
    share_percent: u32,
) -> bool {
    peers_total > 0
        && peers_down == peers_total
        && failing >= 2
        && failing.saturating_mul(100) >= probed.saturating_mul(share_percent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> SentinelId {
        SentinelId::new(s).unwrap()
    }

    fn case(now: u64) -> Case {
        Case {
            failing: true,
            since: 1_000,
            now,
            wait_ms: 60_000,
            isolated: false,
        }
    }

    fn votes_of(agree: usize, disagree: usize, pending: usize, down: usize) -> Votes {
        let n = |k: usize, p: &str| (0..k).map(|i| id(&format!("{p}{i}"))).collect();
        Votes {
            agree: n(agree, "a"),
            disagree: n(disagree, "d"),
            pending: n(pending, "p"),
            down: n(down, "x"),
        }
    }

    #[test]
    fn two_sentinels() {
        let c = case(2_000);
        assert_eq!(judge(&c, &votes_of(1, 0, 0, 0), 1), Verdict::Confirmed);
        assert_eq!(judge(&c, &votes_of(0, 1, 0, 0), 1), Verdict::LocalOnly);
        assert_eq!(judge(&c, &votes_of(0, 0, 1, 0), 1), Verdict::Waiting);
        assert_eq!(
            judge(&case(61_000), &votes_of(0, 0, 1, 0), 1),
            Verdict::Alone
        );
        assert_eq!(judge(&c, &votes_of(0, 0, 0, 1), 1), Verdict::Alone);
        let iso = Case {
            isolated: true,
            ..c
        };
        assert_eq!(judge(&iso, &votes_of(0, 0, 0, 1), 1), Verdict::Isolated);
        assert_eq!(judge(&c, &Votes::default(), 0), Verdict::Confirmed);
        let fine = Case {
            failing: false,
            ..c
        };
        assert_eq!(judge(&fine, &votes_of(1, 0, 0, 0), 1), Verdict::Healthy);
    }

    #[test]
    fn three_sentinels_take_the_majority() {
        let c = case(2_000);
        assert_eq!(judge(&c, &votes_of(1, 1, 0, 0), 2), Verdict::Confirmed);
        assert_eq!(judge(&c, &votes_of(0, 2, 0, 0), 2), Verdict::LocalOnly);
        assert_eq!(judge(&c, &votes_of(1, 0, 1, 0), 2), Verdict::Confirmed);
        assert_eq!(judge(&c, &votes_of(0, 1, 1, 0), 2), Verdict::LocalOnly);
    }

    #[test]
    fn isolation_needs_every_peer_down_and_most_providers_failing() {
        assert!(isolated(1, 1, 3, 4, 50));
        assert!(!isolated(1, 0, 4, 4, 50));
        assert!(!isolated(1, 1, 1, 4, 50));
        assert!(!isolated(1, 1, 1, 1, 50), "one provider is not 'most'");
        assert!(!isolated(0, 0, 4, 4, 50), "no peers: no way to tell");
    }

    proptest! {
        /// One sentinel can never out-vote the others: a failure seen
        /// by this vantage only is never acted on while any peer that is
        /// up has seen the provider answer since.
        #[test]
        fn a_lone_failure_never_wins_against_a_witness(
            disagree in 1usize..4, pending in 0usize..3, down in 0usize..3, now in 0u64..200_000,
        ) {
            let v = votes_of(0, disagree, pending, down);
            let verdict = judge(&case(now), &v, disagree + pending + down);
            prop_assert!(verdict.holds(), "{verdict:?}");
        }

        /// Acting needs a strict majority of the voting vantages.
        #[test]
        fn acting_needs_a_majority(
            agree in 0usize..4, disagree in 0usize..4, pending in 0usize..3, down in 0usize..3,
            now in 0u64..200_000,
        ) {
            let v = votes_of(agree, disagree, pending, down);
            let peers = agree + disagree + pending + down;
            let verdict = judge(&case(now), &v, peers);
            if !verdict.holds() && peers > 0 {
                prop_assert!(1 + agree > disagree);
            }
        }
    }
}
