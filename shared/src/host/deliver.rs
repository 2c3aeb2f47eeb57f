//! Delivering the alert outbox ([`crate::outbox`]) to the webhooks, off
//! the tick's path: every due notice to every webhook that does not have
//! it, concurrently, each attempt bounded; the results are booked at the
//! next tick, and an attempt is not repeated before they are.

use super::{lock, Host, Outbound, Store, Timer, WEBHOOK_TIMEOUT_MS};
use crate::engine::EventKind;
use crate::outbox;
use crate::time::UnixMillis;

/// How long a claimed delivery is held ([`crate::tick::Store::claim_deliveries`]):
/// the attempt's timeout and five minutes for its result to be committed.
pub const CLAIM_MS: u64 = WEBHOOK_TIMEOUT_MS + 5 * 60_000;

impl<S, O, T> Host<S, O, T>
where
    S: Store + Clone,
    O: Outbound + Clone,
    T: Timer + Clone,
{
    /// Posts every due notice of the committed outbox to every webhook that
    /// does not have it, concurrently, each attempt bounded by
    /// [`WEBHOOK_TIMEOUT_MS`]; the results are booked at the next tick.
    /// Returns how many attempts were made. Never fails.
    pub async fn deliver(&self, now: UnixMillis) -> usize {
        if self.webhooks.is_empty() {
            return 0;
        }
        let view = self.view();
        let sentinel_id = self.config.sentinel.id.to_string();
        let allow_private = self.config.sentinel.allow_private_targets;
        let mut jobs: Vec<(crate::state::Notice, super::Webhook)> = Vec::new();
        {
            let mut attempted = lock(&self.attempted);
            for n in &view.engine.state().outbox {
                for w in &self.webhooks {
                    let blocked = attempted.get(&(n.id, w.id)).is_some_and(|t| *t > now);
                    if outbox::due(n, w.id, now) && !blocked {
                        // Not again until this attempt is booked.
                        attempted.insert((n.id, w.id), UnixMillis::MAX);
                        jobs.push((n.clone(), w.clone()));
                    }
                }
            }
        }
        // Where instances overlap, each delivery goes to one of them: a
        // claim lasts the attempt and a margin for its booking; a delivery
        // another instance holds is left to it (and retried here only if
        // its claim lapses without the outbox saying it was delivered).
        if !jobs.is_empty() {
            let keys: Vec<(u64, u64)> = jobs.iter().map(|(n, w)| (n.id, w.id)).collect();
            let until = now.saturating_add(CLAIM_MS);
            let granted = match self.store.claim_deliveries(&keys, now, until).await {
                Ok(g) if g.len() == keys.len() => g,
                Ok(_) | Err(_) => {
                    tracing::warn!("cannot claim alert deliveries; they are retried later");
                    vec![false; keys.len()]
                }
            };
            let mut attempted = lock(&self.attempted);
            let mut kept = Vec::with_capacity(jobs.len());
            for (job, ok) in jobs.into_iter().zip(granted) {
                if ok {
                    kept.push(job);
                } else {
                    attempted.insert((job.0.id, job.1.id), until);
                }
            }
            jobs = kept;
        }
        let count = jobs.len();
        let sends = jobs.into_iter().map(|(n, w)| {
            let body = serde_json::to_vec(&outbox::payload(&n.text)).unwrap_or_default();
            let key = vec![(
                "idempotency-key".to_string(),
                format!("{sentinel_id}-{}", n.id),
            )];
            async move {
                let r = self
                    .client
                    .post_json(&w.url, body, &key, WEBHOOK_TIMEOUT_MS, allow_private)
                    .await;
                (n, w, r)
            }
        });
        for (n, w, r) in futures_util::future::join_all(sends).await {
            // Webhook URLs embed their token: log only the host.
            let host = url::Url::parse(&w.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            let ok = match &r {
                Ok(s) if (200..300).contains(s) => true,
                Ok(s) => {
                    tracing::warn!(%host, status = s, notice = n.id, "webhook refused the alert");
                    false
                }
                Err(e) => {
                    tracing::warn!(%host, error = %e, notice = n.id, "webhook delivery failed");
                    false
                }
            };
            let retry_at = if ok {
                UnixMillis::MAX
            } else {
                now.saturating_add(outbox::backoff(n.attempts.saturating_add(1)))
            };
            lock(&self.attempted).insert((n.id, w.id), retry_at);
            lock(&self.deliveries).push(EventKind::Delivery {
                notice: n.id,
                destination: w.id,
                ok,
            });
        }
        count
    }
}
