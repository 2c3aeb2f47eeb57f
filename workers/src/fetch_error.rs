//! What a failed `fetch` in a Worker means. The runtime gives only a
//! JavaScript error message, so the outcome the core judges (refused,
//! reset, TLS, protocol) is read from it. Observed under workerd
//! 2026-11-17 (`wrangler dev`): a refused port reads "Network connection
//! lost.", an unknown host "internal error; reference = …" (the reason is
//! only in the runtime's log), a bad URL "invalid URL". Pure: tested
//! natively.

use sentinel_core::host::OutboundError;

/// Where the exchange was when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Before the response headers: nothing came back.
    Connect,
    /// While reading the body: the answer was cut.
    Body,
}

/// Maps a `fetch` error message to the outcome the core judges. The
/// message never carries the URL (workerd does not put it there), but it
/// is cut to 200 characters all the same.
pub fn classify(message: &str, stage: Stage) -> OutboundError {
    let m: String = message.chars().take(200).collect();
    let lower = m.to_ascii_lowercase();
    if lower.contains("tls") || lower.contains("certificate") || lower.contains("ssl") {
        return OutboundError::Tls(m);
    }
    if lower.contains("invalid url") || lower.contains("invalid header") {
        return OutboundError::Protocol(m);
    }
    if lower.contains("redirect") {
        return OutboundError::Redirect(m);
    }
    match stage {
        // Before headers: the connection could not be made or was closed
        // before any answer ("Network connection lost", DNS "internal
        // error"): the provider did not answer, as a refused port.
        Stage::Connect => OutboundError::Connect(m),
        // During the body: the answer was cut.
        Stage::Body => OutboundError::Reset(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workerd_messages_map_to_outcomes() {
        assert!(matches!(
            classify("Error: Network connection lost.", Stage::Connect),
            OutboundError::Connect(_)
        ));
        assert!(matches!(
            classify("Error: Network connection lost.", Stage::Body),
            OutboundError::Reset(_)
        ));
        assert!(matches!(
            classify("Error: internal error; reference = 5s2k", Stage::Connect),
            OutboundError::Connect(_)
        ));
        assert!(matches!(
            classify(
                "TypeError: invalid URL or options for Request",
                Stage::Connect
            ),
            OutboundError::Protocol(_)
        ));
        assert!(matches!(
            classify(
                "Error: TLS peer's certificate is not trusted",
                Stage::Connect
            ),
            OutboundError::Tls(_)
        ));
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5_000);
        let OutboundError::Connect(m) = classify(&long, Stage::Connect) else {
            panic!("a plain failure before headers is a connect failure");
        };
        assert_eq!(m.len(), 200);
    }
}
