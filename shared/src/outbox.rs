//! The alert outbox: notifications waiting in the state until every
//! webhook destination has them, so none is lost when a receiver is down,
//! slow or answering 500, and none is sent twice when it is merely slow.
//!
//! - **Enqueued once, with the decision.** A committed [`Action::Alert`]
//!   (an alert fires or resolves) or [`Action::Switch`] (a switch is an
//!   event of its own) becomes a [`Notice`] in the state in the same
//!   commit as the decision, so a crash before the commit enqueues nothing
//!   and a crash after it loses nothing.
//! - **Delivered off the tick's path.** The shell's delivery loop reads
//!   the committed outbox, posts each due notice to each destination that
//!   does not have it yet, and reports each attempt back as an
//!   [`EventKind::Delivery`](crate::engine::EventKind) event (idempotent
//!   by source and sequence number, like usage).
//! - **Retried with backoff until delivered or expired.** A failed attempt
//!   is retried after 5 s, 10 s, 20 s … up to 10 minutes between attempts;
//!   a notice that is still undelivered after [`NOTICE_TTL`] is dropped
//!   with an [`Action::NoticeExpired`] in the audit log and a warning.
//! - **An idempotency key per notice.** Every attempt carries the same
//!   `idempotency-key` header (`<sentinel>-<notice id>`), so a receiver
//!   that processed an attempt we gave up on can drop the retry.
//!
//! Destinations are identified by a digest of their URL, so the state
//! never holds a webhook's secret path, and a destination removed from
//! the configuration stops being waited for.

use crate::action::Action;
pub use crate::state::Notice;
use crate::state::Severity;
use crate::time::{UnixMillis, HOUR, MINUTE, SECOND};
use sha2::{Digest, Sha256};

/// How long a notice is retried before it is dropped (24 hours).
pub const NOTICE_TTL: u64 = 24 * HOUR;
/// First retry delay; doubled per failed attempt.
pub const FIRST_BACKOFF: u64 = 5 * SECOND;
/// Longest delay between attempts.
pub const MAX_BACKOFF: u64 = 10 * MINUTE;
/// Most notices kept; the oldest are dropped (and said so) beyond it.
pub const OUTBOX_LIMIT: usize = 1_000;
/// Discord refuses `content` over 2000 characters.
const MAX_TEXT_CHARS: usize = 1_900;

/// The digest of a destination URL.
pub fn destination_id(url: &str) -> u64 {
    let d = Sha256::digest(url.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

fn cut(mut text: String) -> String {
    if text.chars().count() > MAX_TEXT_CHARS {
        text = text.chars().take(MAX_TEXT_CHARS).collect();
        text.push('…');
    }
    text
}

/// The message text of an alert: `FIRING [SEVERITY] message (key)`, or
/// `RESOLVED [SEVERITY] message (key)`.
pub fn alert_text(key: &str, severity: Severity, message: &str, firing: bool) -> String {
    let head = if firing { "FIRING" } else { "RESOLVED" };
    cut(format!(
        "{head} [{}] {message} ({key})",
        severity_name(severity)
    ))
}

/// The notice an action becomes, if any: alerts and switches.
pub fn notice_of(action: &Action) -> Option<(String, Severity, String)> {
    match action {
        Action::Alert {
            key,
            severity,
            message,
            firing,
        } => Some((
            key.clone(),
            *severity,
            alert_text(key, *severity, message, *firing),
        )),
        Action::Switch { record } => {
            let from = record.from.as_ref().map_or("(none)", |p| p.as_str());
            Some((
                format!("switch:{}", record.service),
                Severity::Warning,
                cut(format!(
                    "SWITCHED [WARNING] service `{}` from `{from}` to `{}`: {} (switch:{})",
                    record.service,
                    record.to,
                    record.reason.name(),
                    record.service
                )),
            ))
        }
        _ => None,
    }
}

/// The JSON body for Slack and Discord incoming webhooks (Slack reads
/// `text`, Discord reads `content`; each ignores the other).
pub fn payload(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": text, "content": text, "username": "Bookkeeper Sentinel" })
}

/// The delay after `attempts` failed attempts.
pub fn backoff(attempts: u32) -> u64 {
    let shift = attempts.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << shift).min(MAX_BACKOFF)
}

/// Whether `notice` should be posted to `dest` at `now`.
pub fn due(notice: &Notice, dest: u64, now: UnixMillis) -> bool {
    notice.next_attempt <= now && !notice.delivered.contains(&dest)
}

/// Enqueues the notices of `actions`; returns the actions of notices
/// dropped to keep the outbox bounded.
pub fn enqueue(
    outbox: &mut Vec<Notice>,
    seq: &mut u64,
    now: UnixMillis,
    actions: &[Action],
) -> Vec<Action> {
    for a in actions {
        if let Some((key, severity, text)) = notice_of(a) {
            *seq += 1;
            outbox.push(Notice {
                id: *seq,
                key,
                severity,
                text,
                created: now,
                attempts: 0,
                next_attempt: now,
                delivered: Vec::new(),
            });
        }
    }
    let excess = outbox.len().saturating_sub(OUTBOX_LIMIT);
    outbox
        .drain(..excess)
        .map(|n| expired(&n, "the outbox is full"))
        .collect()
}

fn expired(n: &Notice, why: &str) -> Action {
    Action::NoticeExpired {
        id: n.id,
        key: n.key.clone(),
        why: why.to_string(),
    }
}

/// Applies one delivery attempt.
pub fn delivered(outbox: &mut [Notice], id: u64, dest: u64, ok: bool, at: UnixMillis) {
    if let Some(n) = outbox.iter_mut().find(|n| n.id == id) {
        if ok {
            if !n.delivered.contains(&dest) {
                n.delivered.push(dest);
                n.delivered.sort_unstable();
            }
        } else {
            n.attempts = n.attempts.saturating_add(1);
            n.next_attempt = n.next_attempt.max(at.saturating_add(backoff(n.attempts)));
        }
    }
}

/// Drops notices every destination has, and those older than
/// [`NOTICE_TTL`] (returned as actions, so the audit log says so). With
/// no destination configured, nothing is waited for.
pub fn settle(outbox: &mut Vec<Notice>, dests: &[u64], now: UnixMillis) -> Vec<Action> {
    let mut out = Vec::new();
    outbox.retain(|n| {
        if dests.iter().all(|d| n.delivered.contains(d)) {
            return false;
        }
        if now.saturating_sub(n.created) > NOTICE_TTL {
            out.push(expired(n, "undelivered for 24 hours"));
            return false;
        }
        true
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(key: &str, firing: bool) -> Action {
        Action::Alert {
            key: key.into(),
            severity: Severity::Critical,
            message: "provider `a` is down".into(),
            firing,
        }
    }

    #[test]
    fn texts_and_payloads() {
        let (_, _, t) = notice_of(&alert("provider-down:a", true)).unwrap();
        assert_eq!(
            t,
            "FIRING [CRITICAL] provider `a` is down (provider-down:a)"
        );
        let (_, _, t) = notice_of(&alert("provider-down:a", false)).unwrap();
        assert!(t.starts_with("RESOLVED [CRITICAL]"));
        let p = payload(&t);
        assert_eq!(p["text"], p["content"]);
        assert_eq!(p["username"], "Bookkeeper Sentinel");
        let long = alert_text("k", Severity::Info, &"é".repeat(5_000), false);
        assert!(long.chars().count() <= MAX_TEXT_CHARS + 1);
    }

    #[test]
    fn retried_with_backoff_until_delivered_or_expired() {
        let mut outbox = Vec::new();
        let mut seq = 0;
        let t0 = 1_000_000;
        assert!(enqueue(&mut outbox, &mut seq, t0, &[alert("k", true)]).is_empty());
        let (d1, d2) = (destination_id("http://a/"), destination_id("http://b/"));
        assert!(due(&outbox[0], d1, t0) && due(&outbox[0], d2, t0));
        delivered(&mut outbox, 1, d1, true, t0);
        delivered(&mut outbox, 1, d2, false, t0);
        assert!(!due(&outbox[0], d1, t0 + HOUR), "d1 has it");
        assert!(!due(&outbox[0], d2, t0 + 4_000));
        assert!(due(&outbox[0], d2, t0 + 5_000));
        delivered(&mut outbox, 1, d2, false, t0 + 5_000);
        assert_eq!(outbox[0].next_attempt, t0 + 15_000);
        assert_eq!(backoff(30), MAX_BACKOFF);
        assert!(settle(&mut outbox, &[d1, d2], t0 + HOUR).is_empty());
        assert_eq!(outbox.len(), 1);
        let gone = settle(&mut outbox, &[d1, d2], t0 + NOTICE_TTL + 1);
        assert!(matches!(&gone[..], [Action::NoticeExpired { id: 1, .. }]));
        assert!(outbox.is_empty());
        // Delivered everywhere: dropped quietly.
        enqueue(&mut outbox, &mut seq, t0, &[alert("k", false)]);
        delivered(&mut outbox, 2, d1, true, t0);
        assert!(settle(&mut outbox, &[d1], t0).is_empty());
        assert!(outbox.is_empty());
    }

    #[test]
    fn merge_is_a_join() {
        let mut a = Vec::new();
        let mut seq = 0;
        enqueue(&mut a, &mut seq, 0, &[alert("k", true), alert("j", true)]);
        let mut b = a.clone();
        delivered(&mut a, 1, 7, true, 0);
        delivered(&mut b, 1, 9, true, 0);
        delivered(&mut b, 2, 9, false, 0);
        use crate::state::merge_notices as merge;
        let ab = merge(&a, &b);
        assert_eq!(ab, merge(&b, &a));
        assert_eq!(ab, merge(&ab, &a));
        assert_eq!(ab[0].delivered, vec![7, 9]);
        assert_eq!(ab[1].attempts, 1);
    }
}
