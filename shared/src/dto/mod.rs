//! The response bodies of the HTTP API, and how each is built from the
//! engine; public as [`api::dto`](crate::api::dto).
//!
//! Field names are snake_case and stable: they are a contract with every
//! client (and with `openapi.json`). Conventions:
//! * times are a [`Timestamp`], both Unix milliseconds and RFC 3339;
//! * scores are a [`Score`], both basis points (an integer, what is signed
//!   and compared) and a percent string with two decimals (`"87.25"`);
//! * money is [`Money`], integer nano-USD and a decimal USD string;
//! * reasons are a [`ReasonDto`], the trigger's name and the reason itself
//!   as the core serializes it.
//!
//! Every body is `Serialize` and `Deserialize`, so a client (such as
//! `sentinel status`) reads an answer back into the same type.
//!
//! The dashboard and the Prometheus metrics are built from these same
//! types, so the three views of the state cannot disagree. That is why
//! this module stands below all three: [`api`](crate::api),
//! [`dashboard`](crate::dashboard) and [`metrics`](crate::metrics) use it,
//! and it uses none of them.
//!
//! One file a tag of the OpenAPI document: the `common` conventions and
//! the `error` body, then `sentinel`, `providers` (with the provider's
//! `reputation` and `history`), `services`, `budget` and `trust`.

mod budget;
mod common;
mod error;
mod history;
mod peers;
mod providers;
mod reputation;
mod sentinel;
mod services;
mod trust;

pub use budget::{
    month_cost, BudgetReport, FootprintDto, MonthCost, ProviderBudget, QuotaDto, UsageMonth,
};
pub use common::{usd_string, Money, ReasonDto, Score, Timestamp};
pub use error::{ErrorBody, ErrorDetail, ErrorEnvelope};
pub use history::{HistoryDto, LatencyDto, WindowBucket};
pub use peers::{quorum, vantages, PeerDto, PeerList, QuorumDto, VantageDto};
pub use providers::{
    incidents, lifecycle_named, outcome_name, summaries, timeline, ComponentScores, Cursor,
    DowntimeDto, IncidentDto, LastProbeDto, Page, ProviderDetail, ProviderItem, ProviderList,
    ProviderQuery, Status, SubmitAccepted, TimelinePointDto, LIFECYCLES, PROVIDERS_LIMIT,
};
pub use reputation::{ComponentDto, ReputationDto};
pub use sentinel::{alerts, AlertDto, Health, ObservationList};
pub use services::{CanaryState, PendingDto, RouteDto, SwitchDto, SwitchList};
pub use trust::{
    AnchoredDto, AnchoringDto, AttemptDto, Attestation, EvidenceDto, NotAttested, PendingTxDto,
    RecordDto,
};
