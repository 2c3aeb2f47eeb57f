//! What a decision asks the shell to do or to tell.

use crate::books::{self, Step};
use crate::lifecycle::{Lifecycle, TrustLevel};
use crate::state::{Severity, SwitchRecord};
use crate::switcher::Reason;
use crate::{Bps, ProviderId, SentinelId, ServiceId};
use serde::{Deserialize, Serialize};

/// One action, serialized with an `action` tag for the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// A switch is proposed; the candidate is canary-probed first (see
    /// [`Decision::canaries`]). Nothing moves yet.
    CanaryRequested {
        /// Service.
        service: ServiceId,
        /// Candidate.
        candidate: ProviderId,
        /// Why.
        reason: Reason,
    },
    /// The switch completed: route the service to `record.to`.
    Switch {
        /// What happened.
        record: SwitchRecord,
    },
    /// A proposed switch was dropped.
    SwitchAborted {
        /// Service.
        service: ServiceId,
        /// Candidate.
        candidate: ProviderId,
        /// Why (`canary-failed`, `canary-timeout`, `trigger-cleared`).
        why: String,
    },
    /// A provider moved through its lifecycle.
    Lifecycle {
        /// Provider.
        provider: ProviderId,
        /// From.
        from: Lifecycle,
        /// To.
        to: Lifecycle,
        /// Why.
        why: String,
    },
    /// A provider's trust level changed.
    Trust {
        /// Provider.
        provider: ProviderId,
        /// From.
        from: TrustLevel,
        /// To.
        to: TrustLevel,
        /// Its decision total.
        total: Bps,
    },
    /// A provider's (or the sentinel's own) budget ladder step changed.
    BudgetStep {
        /// Provider id, or `sentinel` for the footprint.
        target: String,
        /// From.
        from: Step,
        /// To.
        to: Step,
        /// The quota or budget behind it.
        reason: Option<books::Reason>,
    },
    /// An alert fired or resolved (each fires once and resolves once).
    Alert {
        /// De-duplication key, e.g. `provider-down:llamarpc`.
        key: String,
        /// Severity.
        severity: Severity,
        /// What is wrong.
        message: String,
        /// `true` when it fires, `false` when it resolves.
        firing: bool,
    },
    /// A notification was dropped from the outbox undelivered (see
    /// [`crate::outbox`]).
    NoticeExpired {
        /// Notice id.
        id: u64,
        /// Its alert key.
        key: String,
        /// Why.
        why: String,
    },
    /// The peers' quorum changed its verdict on a provider failing here
    /// ([`crate::peer`]): confirmed, held as this vantage's problem, acted
    /// on alone, held for a suspected own network, cleared; or a peer's
    /// later route adopted (`reconciled`).
    Quorum {
        /// The provider (for `reconciled`: the one now routed to).
        provider: ProviderId,
        /// The verdict (`healthy`, `confirmed`, `local-only`, `alone`,
        /// `isolated`, `reconciled`).
        verdict: String,
        /// Peers that saw it failing too.
        agree: Vec<SentinelId>,
        /// Peers that saw it answer.
        disagree: Vec<SentinelId>,
        /// Peers that were down (or could not say).
        absent: Vec<SentinelId>,
    },
    /// Discovery tried a catalog provider for a service, onboarded it
    /// into testing, rejected it, or a person vetoed it
    /// ([`crate::discovery`]).
    Discovery {
        /// The service.
        service: ServiceId,
        /// The catalog provider.
        candidate: ProviderId,
        /// `onboarded`, `rejected` or `vetoed`.
        outcome: String,
        /// The score and confidence, or the reason.
        detail: String,
    },
}

/// The outcome of [`crate::Engine::decide`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Actions, in the order they happened.
    pub actions: Vec<Action>,
    /// Canary probes to run now; ingest their observations and call
    /// `decide` again to complete or abort the proposed switches.
    pub canaries: Vec<crate::probe::ProbeRequest>,
}
