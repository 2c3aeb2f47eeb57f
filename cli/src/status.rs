//! `sentinel status`: the dashboard's providers table, in the terminal,
//! read from a running sentinel's API (the store is held open by the
//! running process, so the API is the one consistent view).
//!
//! It first reads `GET /healthz` into the core's [`Health`]: whatever does
//! not answer with one is not a sentinel, and is said to be, instead of
//! being shown as an empty table. Then `GET /v1/providers` is read into
//! the core's [`ProviderList`], the very type the sentinel serialized, and
//! printed as it came (only line breaks and other control characters in
//! probe details become spaces, to keep one provider a line).

use sentinel_core::api::dto::{Health, ProviderItem, ProviderList};
use serde::de::DeserializeOwned;
use std::fmt::Write as _;
use std::time::Duration;

/// How long each request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of `status`.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The URL cannot be asked at all.
    #[error("`{url}` is not a URL to ask a sentinel at: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why.
        reason: String,
    },
    /// Nothing answered: refused, timed out, or the host is unknown.
    #[error("no sentinel answering at {url}: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// Something answered, but not with a sentinel's health report.
    #[error("{url} is not a Bookkeeper Sentinel: {reason}")]
    NotASentinel {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// The sentinel answered something else.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Renders the providers table of the sentinel at `base`.
pub async fn fetch_table(base: &str) -> Result<String, StatusError> {
    let base = base.trim_end_matches('/');
    let host = reqwest::Url::parse(base)
        .map_err(|e| e.to_string())
        .and_then(|u| match u.scheme() {
            "http" | "https" => Ok(u.host_str().unwrap_or_default().to_string()),
            other => Err(format!(
                "the scheme is `{other}`, not http or https (write http://HOST:PORT)"
            )),
        })
        .map_err(|reason| StatusError::BadUrl {
            url: base.to_string(),
            reason,
        })?;
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| StatusError::Unreachable {
            url: base.to_string(),
            reason: chain(&e.without_url()),
        })?;
    let ask = Ask {
        client: &client,
        base,
        host: &host,
    };

    let health_url = format!("{base}/healthz");
    let (status, body) = ask.get(&health_url).await?;
    let not_a_sentinel = |reason: String| StatusError::NotASentinel {
        url: base.to_string(),
        reason,
    };
    if !status.is_success() {
        return Err(not_a_sentinel(format!(
            "GET /healthz answered HTTP {status}"
        )));
    }
    let _: Health = read(&body).map_err(|e| {
        not_a_sentinel(format!(
            "GET /healthz did not answer with a sentinel's health report ({e})"
        ))
    })?;

    // Every page of the list, following `next` (bounded: a sentinel
    // with more than MAX_PAGES × PAGE providers is cut, and says so).
    let mut list: Option<ProviderList> = None;
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let list_url = match &cursor {
            None => format!("{base}/v1/providers?limit={PAGE}"),
            Some(c) => format!("{base}/v1/providers?limit={PAGE}&cursor={c}"),
        };
        let (status, body) = ask.get(&list_url).await?;
        let unexpected = |reason: String| StatusError::Unexpected {
            url: list_url.clone(),
            reason,
        };
        if !status.is_success() {
            return Err(unexpected(format!(
                "HTTP {status}: {}",
                printable(&String::from_utf8_lossy(&body), 200)
            )));
        }
        let page: ProviderList = read(&body)
            .map_err(|e| unexpected(format!("not the provider list of this version ({e})")))?;
        cursor = page.next.clone();
        match list.as_mut() {
            None => list = Some(page),
            Some(l) => l.providers.extend(page.providers),
        }
        if cursor.is_none() {
            break;
        }
    }
    let list = list.unwrap_or_else(|| ProviderList {
        generated_at: sentinel_core::api::dto::Timestamp::at(0),
        count: 0,
        matched: 0,
        limit: PAGE,
        next: None,
        providers: Vec::new(),
    });
    Ok(table(&list))
}

/// Providers asked for per page (the API's maximum).
const PAGE: usize = 500;
/// Pages read at most.
const MAX_PAGES: usize = 200;

/// The client and where it asks.
struct Ask<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    host: &'a str,
}

impl Ask<'_> {
    /// `GET url`: its status and body, or why nothing answered.
    async fn get(&self, url: &str) -> Result<(reqwest::StatusCode, Vec<u8>), StatusError> {
        let unreachable = |e: reqwest::Error| StatusError::Unreachable {
            url: url.to_string(),
            reason: self.why(&e.without_url()),
        };
        let r = self.client.get(url).send().await.map_err(unreachable)?;
        let status = r.status();
        let body = r.bytes().await.map_err(unreachable)?;
        Ok((status, body.to_vec()))
    }

    /// Why a request got no answer, in words an operator can act on.
    fn why(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("timed out after {} s", TIMEOUT.as_secs());
        }
        let io_kind =
            sources(e).find_map(|s| s.downcast_ref::<std::io::Error>().map(std::io::Error::kind));
        match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                return format!(
                    "connection refused (is the sentinel running at {}?)",
                    self.base
                );
            }
            Some(std::io::ErrorKind::TimedOut) => {
                return format!("timed out after {} s", TIMEOUT.as_secs());
            }
            _ => {}
        }
        // The HTTP connector reports a failed name lookup as "dns error".
        if sources(e).any(|s| s.to_string() == "dns error") {
            let detail = sources(e).last().map(|s| s.to_string()).unwrap_or_default();
            return format!(
                "cannot resolve the host `{}` (DNS lookup failed: {detail})",
                self.host
            );
        }
        chain(e)
    }
}

/// `e` and every error below it.
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

/// `e` and its causes on one line.
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    for s in sources(e).skip(1) {
        let s = s.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
    }
    out
}

/// Reads a JSON body into a shared response type.
fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(body)
}

/// `s` on one line, at most `max` characters: every control character
/// (line breaks, tabs, escapes) becomes a space, nothing else changes.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// The table: a header, one line a provider, and a count.
#[allow(clippy::write_literal)] // the header row reads best as literals
fn table(list: &ProviderList) -> String {
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
        "PROBLEM / LAST PROBE"
    );
    for p in &list.providers {
        let _ = writeln!(
            out,
            "{:<18} {:<16} {:<2} {:<6} {:<11} {:<9} {:>7} {:>6} {:<11} {:>6} {}",
            p.id.as_str(),
            p.service.as_str(),
            if p.routed { "*" } else { "" },
            p.status.as_str(),
            p.lifecycle.as_str(),
            p.trust.as_str(),
            p.total.percent,
            p.confidence.percent,
            p.step.as_str(),
            format!("{}%", p.max_utilization.percent),
            match &p.problem {
                Some(problem) => printable(problem, usize::MAX),
                None => last_probe(p),
            }
        );
    }
    let _ = writeln!(
        out,
        "{} providers; * = the provider its service routes to",
        list.providers.len()
    );
    if list.providers.len() < list.matched {
        let _ = writeln!(
            out,
            "(showing the first {} of {})",
            list.providers.len(),
            list.matched
        );
    }
    out
}

/// The last probe column: outcome, latency and the detail as it came.
fn last_probe(p: &ProviderItem) -> String {
    match &p.last_probe {
        None => "never".into(),
        Some(l) => {
            let detail = l
                .detail
                .as_deref()
                .map(|d| printable(d, usize::MAX))
                .unwrap_or_default();
            format!("{} {} ms {}", l.outcome, l.latency_ms, detail)
                .trim()
                .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_keep_their_hyphens_and_lose_only_control_characters() {
        assert_eq!(
            printable("missing header x-api-key\nretry-after:\t5\u{1b}[0m", 100),
            "missing header x-api-key retry-after: 5 [0m"
        );
        assert_eq!(printable("ünïcode — fine", 100), "ünïcode — fine");
        assert_eq!(printable("abcdef", 3), "abc");
    }
}
