//! Webhook alerts.
//!
//! Each [`Action::Alert`] is POSTed as JSON to every configured URL with a
//! body both Slack incoming webhooks and Discord webhooks accept:
//!
//! ```json
//! {"text": "...", "content": "...", "username": "Bookkeeper Sentinel"}
//! ```
//!
//! (Slack reads `text`, Discord reads `content`; each ignores the other.)
//!
//! Delivery: a short timeout per attempt and up to [`RETRIES`] retries
//! with backoff on connection errors, timeouts, 429 and 5xx; all URLs are
//! tried concurrently and the whole delivery is bounded by
//! [`DELIVERY_BUDGET`], so a dead webhook never holds a tick longer than
//! that. Failures are logged (`tracing::warn`), never returned.
//!
//! De-duplication is the core's job (an alert fires once and resolves
//! once), but a restarted process or a replayed tick may emit the same
//! transition again: the notifier drops an alert whose key was last sent
//! with the same `firing` flag less than [`DEDUP_WINDOW`] ago. With
//! [`Notifier::with_dedup_file`] that memory survives restarts.
//!
//! Webhook URLs come from the operator's configuration, not from
//! submitted providers, so they are not subject to the SSRF guard.

use sentinel_core::action::Action;
use sentinel_core::state::Severity;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time allowed per delivery attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Retries after the first attempt.
pub const RETRIES: u32 = 2;
/// Upper bound on a whole delivery (all URLs, all retries).
pub const DELIVERY_BUDGET: Duration = Duration::from_secs(5);
/// An identical transition within this window is dropped.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(10 * 60);
/// The name the message is posted under.
pub const USERNAME: &str = "Bookkeeper Sentinel";
/// Discord refuses `content` over 2000 characters.
const MAX_TEXT_CHARS: usize = 1_900;

#[derive(Debug, Default)]
struct Sent {
    /// key → (firing, unix ms when sent).
    last: HashMap<String, (bool, u64)>,
}

#[derive(Debug)]
struct Inner {
    urls: Vec<String>,
    client: Option<reqwest::Client>,
    sent: Mutex<Sent>,
    dedup_file: Option<PathBuf>,
    attempt_timeout: Duration,
    budget: Duration,
    backoff: Duration,
}

/// Sends alerts to webhooks; cheap to clone.
#[derive(Clone, Debug)]
pub struct Notifier {
    inner: Arc<Inner>,
}

/// The wall clock (the shell owns it): the de-duplication memory must
/// survive restarts, so it is kept in Unix time.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

/// The message text: `FIRING [SEVERITY] message (key)`, or
/// `RESOLVED [SEVERITY] message (key)`.
pub fn alert_text(key: &str, severity: Severity, message: &str, firing: bool) -> String {
    let head = if firing { "FIRING" } else { "RESOLVED" };
    let mut text = format!("{head} [{}] {message} ({key})", severity_name(severity));
    if text.chars().count() > MAX_TEXT_CHARS {
        text = text.chars().take(MAX_TEXT_CHARS).collect();
        text.push('…');
    }
    text
}

/// The JSON body for Slack and Discord.
pub fn payload(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": text, "content": text, "username": USERNAME })
}

impl Notifier {
    /// A notifier for `urls` (none: alerts are only logged).
    pub fn new(urls: Vec<String>) -> Notifier {
        let client = match reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(crate::http::USER_AGENT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "cannot build the webhook client: alerts will only be logged");
                None
            }
        };
        Notifier {
            inner: Arc::new(Inner {
                urls,
                client,
                sent: Mutex::new(Sent::default()),
                dedup_file: None,
                attempt_timeout: ATTEMPT_TIMEOUT,
                budget: DELIVERY_BUDGET,
                backoff: Duration::from_millis(250),
            }),
        }
    }

    fn rebuild(self, f: impl FnOnce(&mut Inner)) -> Notifier {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(i) => i,
            Err(shared) => Inner {
                urls: shared.urls.clone(),
                client: shared.client.clone(),
                sent: Mutex::new(Sent {
                    last: shared
                        .sent
                        .lock()
                        .map(|s| s.last.clone())
                        .unwrap_or_default(),
                }),
                dedup_file: shared.dedup_file.clone(),
                attempt_timeout: shared.attempt_timeout,
                budget: shared.budget,
                backoff: shared.backoff,
            },
        };
        f(&mut inner);
        Notifier {
            inner: Arc::new(inner),
        }
    }

    /// Remembers what was sent in `path` (JSON), so a restarted process
    /// does not send the same transition again within the window. An
    /// unreadable file is ignored (with a warning).
    pub fn with_dedup_file(self, path: impl Into<PathBuf>) -> Notifier {
        let path = path.into();
        let loaded: HashMap<String, (bool, u64)> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "ignoring an unreadable alert memory");
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        self.rebuild(|i| {
            if let Ok(mut s) = i.sent.lock() {
                s.last.extend(loaded);
            }
            i.dedup_file = Some(path);
        })
    }

    /// Overrides the timings (tests).
    pub fn with_timing(
        self,
        attempt_timeout: Duration,
        budget: Duration,
        backoff: Duration,
    ) -> Notifier {
        self.rebuild(|i| {
            i.attempt_timeout = attempt_timeout;
            i.budget = budget;
            i.backoff = backoff;
        })
    }

    /// The configured URLs.
    pub fn urls(&self) -> &[String] {
        &self.inner.urls
    }

    /// Whether this transition was sent within the window.
    fn is_duplicate(&self, key: &str, firing: bool, now: u64) -> bool {
        let window = u64::try_from(DEDUP_WINDOW.as_millis()).unwrap_or(u64::MAX);
        self.inner.sent.lock().is_ok_and(|s| {
            s.last
                .get(key)
                .is_some_and(|&(f, at)| f == firing && now.saturating_sub(at) < window)
        })
    }

    fn remember(&self, key: &str, firing: bool, now: u64) {
        let window = u64::try_from(DEDUP_WINDOW.as_millis()).unwrap_or(u64::MAX);
        let snapshot = match self.inner.sent.lock() {
            Ok(mut s) => {
                s.last.insert(key.to_string(), (firing, now));
                // Forget what is out of the window; keep the memory small.
                s.last.retain(|_, (_, at)| now.saturating_sub(*at) < window);
                s.last.clone()
            }
            Err(_) => return,
        };
        if let Some(path) = &self.inner.dedup_file {
            let write = serde_json::to_vec(&snapshot)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, b)
                        .and_then(|()| std::fs::rename(&tmp, path))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = write {
                tracing::warn!(file = %path.display(), error = %e, "cannot save the alert memory");
            }
        }
    }

    /// Sends an alert (other actions are ignored). Returns how many URLs
    /// accepted it; never fails and never takes longer than the delivery
    /// budget.
    pub async fn send(&self, action: &Action) -> usize {
        let Action::Alert {
            key,
            severity,
            message,
            firing,
        } = action
        else {
            return 0;
        };
        let now = now_ms();
        if self.is_duplicate(key, *firing, now) {
            tracing::debug!(%key, firing, "duplicate alert dropped");
            return 0;
        }
        let Some(client) = self.inner.client.as_ref() else {
            return 0;
        };
        if self.inner.urls.is_empty() {
            return 0;
        }
        let body = match serde_json::to_vec(&payload(&alert_text(key, *severity, message, *firing)))
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%key, error = %e, "cannot encode the alert");
                return 0;
            }
        };
        let deliveries = self
            .inner
            .urls
            .iter()
            .map(|url| self.deliver(client, url, &body));
        let delivered = match tokio::time::timeout(
            self.inner.budget,
            futures_util::future::join_all(deliveries),
        )
        .await
        {
            Ok(results) => results.into_iter().filter(|ok| *ok).count(),
            Err(_) => {
                tracing::warn!(%key, "webhook delivery gave up after {:?}", self.inner.budget);
                0
            }
        };
        if delivered > 0 {
            self.remember(key, *firing, now);
        }
        delivered
    }

    async fn deliver(&self, client: &reqwest::Client, url: &str, body: &[u8]) -> bool {
        // Webhook URLs embed their token: log only the host.
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "<invalid url>".into());
        let mut backoff = self.inner.backoff;
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let r = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec())
                .timeout(self.inner.attempt_timeout)
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => return true,
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    tracing::warn!(%host, status, attempt, "webhook refused the alert");
                    if status != 429 && status < 500 {
                        return false;
                    }
                }
                Err(e) => {
                    let e = e.without_url();
                    tracing::warn!(%host, error = %e, attempt, "webhook delivery failed");
                }
            }
        }
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::http::test_server::{refused_port, serve, Reply, Request};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    fn alert(key: &str, firing: bool) -> Action {
        Action::Alert {
            key: key.into(),
            severity: Severity::Critical,
            message: "provider `a` is down".into(),
            firing,
        }
    }

    fn recorder() -> (Arc<Mutex<Vec<Request>>>, crate::http::test_server::Handler) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        (
            got,
            Arc::new(move |r: Request| {
                g.lock().unwrap().push(r);
                Reply::new(200, "ok")
            }),
        )
    }

    #[tokio::test]
    async fn posts_slack_and_discord_compatible_json() {
        let (got, h) = recorder();
        let (addr, srv) = serve(h).await;
        let (got2, h2) = recorder();
        let (addr2, srv2) = serve(h2).await;
        let n = Notifier::new(vec![
            format!("http://{addr}/hook/T0K3N"),
            format!("http://{addr2}/api/webhooks/1/x"),
        ]);
        assert_eq!(n.send(&alert("provider-down:a", true)).await, 2);
        assert_eq!(n.send(&alert("provider-down:a", false)).await, 2);
        // Not an alert: nothing sent.
        let other = Action::SwitchAborted {
            service: sentinel_core::ServiceId::new("s").unwrap(),
            candidate: sentinel_core::ProviderId::new("b").unwrap(),
            why: "x".into(),
        };
        assert_eq!(n.send(&other).await, 0);
        for got in [&got, &got2] {
            let reqs = got.lock().unwrap().clone();
            assert_eq!(reqs.len(), 2);
            assert_eq!(reqs[0].method, "POST");
            assert_eq!(reqs[0].header("content-type"), Some("application/json"));
            let bodies: Vec<serde_json::Value> = reqs
                .iter()
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect();
            assert_eq!(bodies[0]["username"], USERNAME);
            assert_eq!(bodies[0]["text"], bodies[0]["content"]);
            let fire = bodies[0]["text"].as_str().unwrap();
            assert_eq!(
                fire,
                "FIRING [CRITICAL] provider `a` is down (provider-down:a)"
            );
            let resolve = bodies[1]["content"].as_str().unwrap();
            assert!(resolve.starts_with("RESOLVED"), "{resolve}");
            assert_eq!(bodies[1]["text"].as_str().unwrap(), resolve);
        }
        srv.abort();
        srv2.abort();
    }

    #[tokio::test]
    async fn exact_duplicates_are_dropped_even_across_restarts() {
        let (got, h) = recorder();
        let (addr, srv) = serve(h).await;
        let dir = tempfile::tempdir().unwrap();
        let mem = dir.path().join("alerts-sent.json");
        let url = vec![format!("http://{addr}/")];
        let n = Notifier::new(url.clone()).with_dedup_file(&mem);
        assert_eq!(n.send(&alert("k", true)).await, 1);
        assert_eq!(n.send(&alert("k", true)).await, 0, "duplicate");
        assert_eq!(n.send(&alert("other", true)).await, 1);
        // A restart re-emits the same transition: dropped.
        let restarted = Notifier::new(url.clone()).with_dedup_file(&mem);
        assert_eq!(restarted.send(&alert("k", true)).await, 0);
        // Fire → resolve → fire again is three messages.
        assert_eq!(restarted.send(&alert("k", false)).await, 1);
        assert_eq!(restarted.send(&alert("k", true)).await, 1);
        assert_eq!(got.lock().unwrap().len(), 4);
        // A garbage memory file is ignored.
        std::fs::write(&mem, b"not json").unwrap();
        let fresh = Notifier::new(url).with_dedup_file(&mem);
        assert_eq!(fresh.send(&alert("k", true)).await, 1);
        srv.abort();
    }

    #[tokio::test]
    async fn retries_with_backoff_then_gives_up() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let (addr, srv) = serve(Arc::new(move |_r: Request| {
            // Fails twice, then accepts.
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                Reply::new(503, "busy")
            } else {
                Reply::new(204, "")
            }
        }))
        .await;
        let n = Notifier::new(vec![format!("http://{addr}/")]).with_timing(
            Duration::from_millis(500),
            Duration::from_secs(3),
            Duration::from_millis(20),
        );
        assert_eq!(n.send(&alert("k", true)).await, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        // A client error is not retried.
        let c400 = Arc::new(AtomicU32::new(0));
        let c = c400.clone();
        let (addr4, srv4) = serve(Arc::new(move |_r: Request| {
            c.fetch_add(1, Ordering::SeqCst);
            Reply::new(400, "bad")
        }))
        .await;
        let n4 = Notifier::new(vec![format!("http://{addr4}/")]);
        assert_eq!(n4.send(&alert("k", true)).await, 0);
        assert_eq!(c400.load(Ordering::SeqCst), 1);
        // Not remembered as sent: a later emission is tried again.
        assert_eq!(n4.send(&alert("k", true)).await, 0);
        assert_eq!(c400.load(Ordering::SeqCst), 2);

        // A dead URL and a hanging one never hold the caller past the budget.
        let port = refused_port().await;
        let (hang, srv_hang) = serve(Arc::new(|_r: Request| {
            Reply::new(200, "").delay(Duration::from_secs(30))
        }))
        .await;
        let n = Notifier::new(vec![
            format!("http://127.0.0.1:{port}/"),
            format!("http://{hang}/"),
        ])
        .with_timing(
            Duration::from_millis(300),
            Duration::from_millis(700),
            Duration::from_millis(50),
        );
        let t = Instant::now();
        assert_eq!(n.send(&alert("k", true)).await, 0);
        assert!(
            t.elapsed() < Duration::from_millis(1_500),
            "{:?}",
            t.elapsed()
        );
        srv.abort();
        srv4.abort();
        srv_hang.abort();
    }

    #[test]
    fn long_messages_are_cut_for_discord() {
        let t = alert_text("k", Severity::Info, &"é".repeat(5_000), false);
        assert!(t.starts_with("RESOLVED [INFO] "));
        assert!(t.chars().count() <= MAX_TEXT_CHARS + 1);
    }
}
