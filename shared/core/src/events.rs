//! Lifecycle events for integrators (API.md "Audit chain and events"):
//! `certificate.ordered`, `.issued`, `.renewed`, `.revoked`, `.deleted`, `.expiring`
//! (with its threshold) and `profile.updated`.
//!
//! Every mutation already writes an audit event in its commit; the store derives the
//! lifecycle event from it ([`from_audit`]) and writes it to its outbox in that same
//! commit, so an event exists exactly when its change does, and no use case can forget
//! one. Its `seq` is the audit chain's `seq` of the audit event it came from: increasing
//! within the organisation in commit order, which makes it the feed's cursor (it
//! survives restarts) and lets a consumer deduplicate deliveries (at least once) by `id`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::Cvr;
use crate::model::AuditEvent;

/// The event types, as EventBridge's `detail-type`.
pub const TYPES: &[&str] = &[
    "certificate.ordered",
    "certificate.issued",
    "certificate.renewed",
    "certificate.revoked",
    "certificate.deleted",
    "certificate.expiring",
    "profile.updated",
];

/// One lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// Event id (the audit event's id: one change, one id).
    pub id: Uuid,
    /// One of [`TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Organisation.
    pub org: Cvr,
    /// Position in the organisation's feed (the audit chain's seq).
    pub seq: u64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who: the user's email, a system certificate, or `system`.
    pub actor: String,
    /// What it is about: the certificate serial, the profile id, or for `expiring` the
    /// contact who was reminded.
    pub subject: String,
    /// Details, e.g. `profile_id`, `reason`, `threshold_days` and `serials`.
    pub detail: Value,
}

/// The lifecycle event an audit event stands for, if any. `None` as well for an audit
/// event the store has not linked yet (no `seq`).
#[must_use]
pub fn from_audit(e: &AuditEvent) -> Option<LifecycleEvent> {
    let seq = e.seq?;
    let (kind, detail) = match e.action.as_str() {
        "certificate.order" => ("certificate.ordered", e.detail.clone()),
        "certificate.issue" => ("certificate.issued", e.detail.clone()),
        "certificate.renew" => ("certificate.renewed", e.detail.clone()),
        "certificate.revoke" => ("certificate.revoked", e.detail.clone()),
        "certificate.delete" => ("certificate.deleted", e.detail.clone()),
        "certificate.renewal_reminder" => (
            "certificate.expiring",
            json!({
                "threshold_days": e.detail.get("days").cloned().unwrap_or(Value::Null),
                "serials": e.detail.get("serials").cloned().unwrap_or(Value::Null),
            }),
        ),
        "profile.update" | "profile.system_rights.update" | "profile.seal_generation.update" => {
            let mut d = e.detail.clone();
            if let Some(obj) = d.as_object_mut() {
                obj.insert("change".into(), Value::String(e.action.clone()));
            }
            ("profile.updated", d)
        }
        _ => return None,
    };
    Some(LifecycleEvent {
        id: e.id,
        kind: kind.to_owned(),
        org: e.org.clone(),
        seq,
        at: e.at,
        actor: e.actor.clone(),
        subject: e.target.clone(),
        detail,
    })
}

/// What one delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Events the bus accepted and that are now marked delivered.
    pub delivered: u64,
    /// Events the bus refused this time (they stay in the outbox for the next run).
    pub refused: u64,
}

/// Puts undelivered events on `bus`, 10 at a time (EventBridge's PutEvents limit), and
/// marks those it accepted, for at most `rounds` batches. At least once: an event is
/// marked only after the bus accepted it, so a crash in between delivers it again —
/// consumers deduplicate by `id`.
///
/// # Errors
/// `Unavailable` from the store or the bus; what was delivered before stays marked.
pub async fn deliver(
    store: &dyn crate::ports::Store,
    bus: &dyn crate::ports::EventBus,
    rounds: u32,
) -> crate::error::Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    for _ in 0..rounds {
        let batch = store.undelivered_events(10).await?;
        if batch.is_empty() {
            break;
        }
        let accepted = bus.publish(&batch).await?;
        let (sent, kept): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|e| accepted.contains(&e.id));
        store.mark_events_delivered(&sent).await?;
        report.delivered += sent.len() as u64;
        report.refused += kept.len() as u64;
        if sent.is_empty() {
            // The bus refuses this batch: try again on the next run, not in a loop.
            break;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actions_map_to_event_types() {
        let mut e = AuditEvent {
            id: Uuid::nil(),
            org: Cvr::parse("10150817").unwrap(),
            at: OffsetDateTime::UNIX_EPOCH,
            actor: "system".into(),
            action: "certificate.renewal_reminder".into(),
            target: "c@example.dk".into(),
            detail: json!({ "days": 30, "serials": ["01"] }),
            seq: None,
            prev_hash: None,
            hash: None,
        };
        assert_eq!(from_audit(&e), None, "not linked yet");
        e.seq = Some(7);
        let ev = from_audit(&e).unwrap();
        assert_eq!(ev.kind, "certificate.expiring");
        assert_eq!(ev.detail["threshold_days"], 30);
        assert_eq!(ev.seq, 7);
        assert!(TYPES.contains(&ev.kind.as_str()));
        e.action = "organisation.create".into();
        assert_eq!(from_audit(&e), None);
    }
}
