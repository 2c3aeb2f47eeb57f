//! The `sentinel` tag: liveness (`GET /healthz`), the alerts that are
//! firing, and this sentinel's recent observations for its peer
//! (`GET /v1/observations`).

use super::common::Timestamp;
use crate::probe::Observation;
use crate::state::{ActiveAlert, Severity};
use crate::time::UnixMillis;
use crate::{Engine, SentinelId};
use serde::{Deserialize, Serialize};

/// An alert that is firing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDto {
    /// Stable key (what the alert is about).
    pub key: String,
    /// Severity.
    pub severity: Severity,
    /// Firing since.
    pub since: Timestamp,
    /// What is wrong.
    pub message: String,
}

/// Every firing alert, most severe first, then oldest first.
pub fn alerts(engine: &Engine) -> Vec<AlertDto> {
    let mut out: Vec<AlertDto> = engine
        .state()
        .alerts
        .iter()
        .map(|(k, a): (&String, &ActiveAlert)| AlertDto {
            key: k.clone(),
            severity: a.severity,
            since: Timestamp::at(a.since),
            message: a.message.clone(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.since.unix_ms.cmp(&b.since.unix_ms))
            .then(a.key.cmp(&b.key))
    });
    out
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` when the sentinel answers.
    pub status: String,
    /// The build's version.
    pub version: String,
    /// Which sentinel answered.
    pub sentinel: SentinelId,
    /// State revision (incremented on every decision).
    pub revision: u64,
    /// The last decision (`null`: none yet).
    pub last_decide: Option<Timestamp>,
    /// The sentinel's clock.
    pub now: Timestamp,
    /// Services configured.
    pub services: usize,
    /// Providers known.
    pub providers: usize,
    /// Alerts firing.
    pub alerts_firing: usize,
}

impl Health {
    /// Builds the health report.
    pub fn build(engine: &Engine, now: UnixMillis) -> Health {
        let st = engine.state();
        Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sentinel: engine.config().sentinel.id.clone(),
            revision: st.revision,
            last_decide: Timestamp::nonzero(st.last_decide),
            now: Timestamp::at(now),
            services: engine.registry().services().count(),
            providers: engine.registry().providers().count(),
            alerts_firing: st.alerts.len(),
        }
    }
}

/// `GET /v1/observations`: what this sentinel saw, for its peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservationList {
    /// The sentinel that made them.
    pub sentinel: SentinelId,
    /// When served.
    pub generated_at: Timestamp,
    /// Observations returned.
    pub count: usize,
    /// Oldest first, in the core's own encoding (a peer deserializes them
    /// as `sentinel_core::probe::Observation`).
    pub observations: Vec<Observation>,
    /// This sentinel's routes (service → active provider and since when),
    /// for its peers to reconcile with ([`crate::peer`]).
    #[serde(default)]
    pub routes: std::collections::BTreeMap<crate::ServiceId, crate::peer::PeerRoute>,
}
