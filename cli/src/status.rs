//! `sentinel status`: the dashboard's providers table, in the terminal,
//! read from a running sentinel's API (the store is held open by the
//! running process, so the API is the one consistent view).

use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// Errors of `status`.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The sentinel did not answer.
    #[error("no sentinel answering at {url}: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// It answered something else.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("-")
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Value, StatusError> {
    let r = client
        .get(url)
        .send()
        .await
        .map_err(|e| StatusError::Unreachable {
            url: url.to_string(),
            reason: e.without_url().to_string(),
        })?;
    let status = r.status();
    let body = r.text().await.map_err(|e| StatusError::Unexpected {
        url: url.to_string(),
        reason: e.without_url().to_string(),
    })?;
    if !status.is_success() {
        return Err(StatusError::Unexpected {
            url: url.to_string(),
            reason: format!("HTTP {status}: {body}"),
        });
    }
    serde_json::from_str(&body).map_err(|e| StatusError::Unexpected {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// Renders the providers table of the sentinel at `base`.
#[allow(clippy::write_literal)] // the header row reads best as literals
pub async fn fetch_table(base: &str) -> Result<String, StatusError> {
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| StatusError::Unreachable {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
    let list = fetch(&client, &format!("{base}/v1/providers")).await?;
    let providers = list
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<16} {:<2} {:<6} {:<11} {:<9} {:>7} {:>6} {:<11} {:>6} {}",
        "PROVIDER",
        "SERVICE",
        "",
        "STATUS",
        "LIFECYCLE",
        "TRUST",
        "TOTAL",
        "CONF",
        "BUDGET",
        "UTIL",
        "LAST PROBE"
    );
    for p in &providers {
        let routed = if p.get("routed").and_then(Value::as_bool).unwrap_or(false) {
            "*"
        } else {
            ""
        };
        let last = match p.get("last_probe") {
            Some(l) if !l.is_null() => format!(
                "{} {} ms {}",
                s(l, "/outcome"),
                l.get("latency_ms").and_then(Value::as_u64).unwrap_or(0),
                s(l, "/detail").replace('-', "")
            ),
            _ => "never".into(),
        };
        let _ = writeln!(
            out,
            "{:<18} {:<16} {:<2} {:<6} {:<11} {:<9} {:>7} {:>6} {:<11} {:>6} {}",
            s(p, "/id"),
            s(p, "/service"),
            routed,
            s(p, "/status"),
            s(p, "/lifecycle"),
            s(p, "/trust"),
            s(p, "/total/percent"),
            s(p, "/confidence/percent"),
            s(p, "/step"),
            s(p, "/max_utilization/percent"),
            last.trim()
        );
    }
    let _ = writeln!(
        out,
        "{} providers; * = the provider its service routes to",
        providers.len()
    );
    Ok(out)
}
