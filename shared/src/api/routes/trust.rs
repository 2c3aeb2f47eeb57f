//! The `trust` tag: `GET /v1/attestations/{id}`, which answers
//! `404 not-attested` with the provider's trust and score until on-chain
//! attestation is configured.

use super::refusals::unknown_provider;
use crate::api::request::ApiResponse;
use crate::dto::{
    AnchoredDto, AnchoringDto, Attestation, EvidenceDto, NotAttested, RecordDto, Timestamp,
};
use crate::time::UnixMillis;
use crate::{Engine, ProviderId};

pub(super) fn attestation(engine: &Engine, id: &ProviderId, now: UnixMillis) -> ApiResponse {
    let Some(s) = engine.summary(id, now) else {
        return unknown_provider(id);
    };
    let record = engine
        .attestation_record(id, now)
        .as_ref()
        .map(RecordDto::of);
    let evidence = engine
        .attestation_evidence(id, now)
        .as_ref()
        .map(EvidenceDto::of);
    if let Some(a) = engine.state().anchoring.anchored.get(id) {
        return ApiResponse::json(
            200,
            &Attestation {
                provider: id.clone(),
                trust: s.trust,
                total: s.reputation.total.into(),
                anchored: AnchoredDto::of(a),
                record,
                evidence,
                anchoring: AnchoringDto::of(engine),
            },
        );
    }
    let anchoring = AnchoringDto::of(engine);
    let attested_until = engine
        .state()
        .providers
        .get(id)
        .and_then(|p| p.attested_until);
    let details = NotAttested {
        provider: id.clone(),
        trust: s.trust,
        total: s.reputation.total.into(),
        confidence: s.reputation.confidence.into(),
        attested_until: attested_until.map(Timestamp::at),
        record,
        evidence,
        anchoring: anchoring.clone(),
    };
    let why = match &anchoring {
        None => "on-chain attestation is not configured on this sentinel, so no record has been anchored".to_string(),
        Some(a) => format!(
            "this sentinel has not seen a record of it land on chain {} at {} (the last anchoring step: {})",
            a.chain_id,
            a.contract,
            a.last.as_ref().map_or("none yet", |l| l.what.as_str())
        ),
    };
    let message = format!(
        "no attestation for provider `{id}`: {why}. Its current trust level is {} with a reputation of {} \
         (confidence {}); the record it would sign for this epoch and its evidence are in details; see /v1/providers/{id}",
        s.trust, s.reputation.total, s.reputation.confidence
    );
    ApiResponse::error_with(
        404,
        "not-attested",
        &message,
        serde_json::to_value(details).unwrap_or_default(),
    )
}
