//! `sentinel discover`: asks a running sentinel to discover providers for
//! a service now (`POST /v1/discovery?service=`) or to veto one it
//! onboarded (`POST /v1/discovery/veto?provider=`), and prints what it
//! did and why, one line per catalog entry.

use sentinel_core::discovery::{Report, TrialView};
use std::fmt::Write as _;
use std::time::Duration;

/// Trials probe each candidate once, under the service's probe timeout.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of `sentinel discover`.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// Nothing answered.
    #[error("no sentinel answering at {url}: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// The sentinel refused (its message).
    #[error("the sentinel refused (HTTP {status}): {message}")]
    Refused {
        /// Status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The answer is not a discovery report.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
}

/// What to ask.
#[derive(Clone, Debug)]
pub enum Ask {
    /// Discover for this service.
    Service(String),
    /// Veto this provider.
    Veto(String),
}

/// Asks and returns the printed answer.
pub async fn run(base: &str, token: Option<&str>, ask: &Ask) -> Result<String, DiscoverError> {
    let base = base.trim_end_matches('/');
    let url = match ask {
        Ask::Service(s) => format!("{base}/v1/discovery?service={}", encode(s)),
        Ask::Veto(p) => format!("{base}/v1/discovery/veto?provider={}", encode(p)),
    };
    let unreachable = |e: reqwest::Error| DiscoverError::Unreachable {
        url: base.to_string(),
        reason: e.without_url().to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let mut req = client.post(&url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(unreachable)?;
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        return Err(DiscoverError::Refused { status, message });
    }
    let unexpected = |e: serde_json::Error| DiscoverError::Unexpected {
        url: url.clone(),
        reason: e.to_string(),
    };
    Ok(match ask {
        Ask::Service(_) => table(&serde_json::from_slice::<Report>(&body).map_err(unexpected)?),
        Ask::Veto(_) => {
            let t: TrialView = serde_json::from_slice(&body).map_err(unexpected)?;
            format!(
                "{}: vetoed; removed from {} and never onboarded again\n",
                t.candidate, t.service
            )
        }
    })
}

/// The report, one line per entry.
pub fn table(r: &Report) -> String {
    let count = |name: &str| r.trials.iter().filter(|t| t.outcome == name).count();
    let mut out = format!(
        "service {}: {} onboarded into testing, {} rejected, {} not tried\n",
        r.service,
        count("onboarded"),
        count("rejected"),
        r.skipped.len()
    );
    let width = r
        .trials
        .iter()
        .map(|t| t.candidate.as_str().len())
        .chain(r.skipped.iter().map(|s| s.candidate.as_str().len()))
        .max()
        .unwrap_or(0);
    for t in &r.trials {
        let what = match (&t.total, &t.confidence, &t.latency_ms, &t.reason) {
            (Some(total), Some(confidence), Some(ms), _) => {
                format!("initial total {total} at confidence {confidence} %, answered in {ms} ms")
            }
            (_, _, _, Some(reason)) => reason.clone(),
            _ => t.outcome.clone(),
        };
        let _ = writeln!(
            out,
            "  {:<10} {:<width$}  {what}",
            t.outcome,
            t.candidate.as_str()
        );
    }
    for s in &r.skipped {
        let _ = writeln!(
            out,
            "  {:<10} {:<width$}  {}",
            "not tried",
            s.candidate.as_str(),
            s.reason
        );
    }
    out
}

/// Percent-encodes a query value (ids are `[a-z0-9._-]`; anything else
/// is encoded so the sentinel can refuse it by name).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
