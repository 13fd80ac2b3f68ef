//! The tamper-evident audit chain (API.md "Audit chain and events").
//!
//! Every audit event of an organisation carries `seq` (1, 2, ...), `prev_hash` (the
//! previous event's `hash`, [`GENESIS`] for the first) and `hash` = lower-case hex
//! SHA-256 over the event's canonical JSON (RFC 8785, JCS) with every field but `hash`
//! — so `prev_hash` and `seq` are covered. Changing, removing or reordering one event
//! changes its hash and breaks every later link; only rewriting the whole tail and
//! the head is not caught, which is why the head hash is printed and shown so a
//! customer can keep it (as CloudTrail's digest files are kept elsewhere).
//!
//! The store assigns the link inside the same commit as the change ([`link`]), holding
//! the organisation's chain head so that two commits cannot both extend the same head.
//!
//! Events written before the chain existed have no `seq`: they form a legacy prefix
//! that is reported but not verified. Once a chained event appears, every later event
//! must be chained — an unchained one after it is a mismatch (otherwise removing the
//! link fields would hide a change).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, Result};
use crate::model::AuditEvent;

/// `prev_hash` of an organisation's first chained event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The organisation's chain head as a store keeps it: the last `seq` and its `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Last sequence number (0: nothing chained yet).
    pub seq: u64,
    /// Hash of that event ([`GENESIS`] when `seq` is 0).
    pub hash: String,
}

impl Head {
    /// An empty chain.
    #[must_use]
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// RFC 8785 canonical JSON of the event without its `hash` (the bytes the hash covers).
///
/// # Errors
/// `Internal` when the event cannot be serialised (cannot happen for valid events).
pub fn canonical_bytes(event: &AuditEvent) -> Result<Vec<u8>> {
    let mut value = serde_json::to_value(event)
        .map_err(|e| DomainError::Internal(format!("audit event to JSON: {e}")))?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("hash");
    }
    serde_json_canonicalizer::to_vec(&value)
        .map_err(|e| DomainError::Internal(format!("canonical JSON (RFC 8785): {e}")))
}

/// The hash an event must carry, computed from its content, `seq` and `prev_hash`.
///
/// # Errors
/// As [`canonical_bytes`].
pub fn compute_hash(event: &AuditEvent) -> Result<String> {
    Ok(hex::encode(Sha256::digest(canonical_bytes(event)?)))
}

/// Appends `event` after `head`: sets its `seq`, `prev_hash` and `hash` and returns
/// the new head.
///
/// # Errors
/// As [`canonical_bytes`].
pub fn link(event: &mut AuditEvent, head: &Head) -> Result<Head> {
    event.seq = Some(head.seq + 1);
    event.prev_hash = Some(head.hash.clone());
    event.hash = None;
    let hash = compute_hash(event)?;
    event.hash = Some(hash.clone());
    Ok(Head {
        seq: head.seq + 1,
        hash,
    })
}

/// A verified chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The head (seq 0 and [`GENESIS`] when no event is chained).
    pub head: Head,
    /// Events before the chain began (written by an older version).
    pub legacy: u64,
}

/// The first event that does not match, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Position in the input (1-based).
    pub position: u64,
    /// The event's id.
    pub id: String,
    /// Its `seq`, if it has one.
    pub seq: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(
                f,
                "event {} (seq {s}, position {}) does not match: {}",
                self.id, self.position, self.reason
            ),
            None => write!(
                f,
                "event {} (position {}) does not match: {}",
                self.id, self.position, self.reason
            ),
        }
    }
}

/// Checks events given in chain order (oldest first, as the export writes them).
///
/// # Errors
/// The first [`Mismatch`]: an unchained event after the chain began, a `seq` that is
/// not the next one, a `prev_hash` that is not the previous `hash`, or a `hash` that
/// is not the event's own.
pub fn verify<'a, I>(events: I) -> std::result::Result<Verified, Mismatch>
where
    I: IntoIterator<Item = &'a AuditEvent>,
{
    let mut head = Head::genesis();
    let mut legacy = 0u64;
    for (i, e) in events.into_iter().enumerate() {
        let fail = |reason: String| Mismatch {
            position: i as u64 + 1,
            id: e.id.to_string(),
            seq: e.seq,
            reason,
        };
        let Some(seq) = e.seq else {
            if head.seq == 0 && e.prev_hash.is_none() && e.hash.is_none() {
                legacy += 1;
                continue;
            }
            return Err(fail(format!(
                "no chain fields after the chain began at seq 1 (expected seq {})",
                head.seq + 1
            )));
        };
        if seq != head.seq + 1 {
            return Err(fail(format!("seq {seq}, expected {}", head.seq + 1)));
        }
        if e.prev_hash.as_deref() != Some(head.hash.as_str()) {
            return Err(fail(format!(
                "prev_hash {} is not the previous event's hash {}",
                e.prev_hash.as_deref().unwrap_or("(missing)"),
                head.hash
            )));
        }
        let want = compute_hash(e).map_err(|err| fail(err.to_string()))?;
        if e.hash.as_deref() != Some(want.as_str()) {
            return Err(fail(format!(
                "hash {} is not the hash of its content {want}",
                e.hash.as_deref().unwrap_or("(missing)")
            )));
        }
        head = Head { seq, hash: want };
    }
    Ok(Verified { head, legacy })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Cvr;
    use time::macros::datetime;

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            id: uuid::Uuid::from_u128(u128::from(n)),
            org: Cvr::parse("10150817").unwrap(),
            at: datetime!(2026-01-01 10:00:00.5 UTC),
            actor: "admin@example.dk".into(),
            action: "profile.create".into(),
            target: format!("t{n}"),
            detail: serde_json::json!({ "b": 1, "a": "æ" }),
            seq: None,
            prev_hash: None,
            hash: None,
        }
    }

    fn chain(n: u32) -> Vec<AuditEvent> {
        let mut head = Head::genesis();
        (1..=n)
            .map(|i| {
                let mut e = event(i);
                head = link(&mut e, &head).unwrap();
                e
            })
            .collect()
    }

    #[test]
    fn canonical_bytes_sort_keys_and_leave_out_hash() {
        let mut e = event(1);
        link(&mut e, &Head::genesis()).unwrap();
        let s = String::from_utf8(canonical_bytes(&e).unwrap()).unwrap();
        assert!(
            s.starts_with(r#"{"action":"profile.create","actor":"#),
            "{s}"
        );
        assert!(s.contains(r#""detail":{"a":"æ","b":1}"#), "{s}");
        assert!(!s.contains(r#""hash""#), "{s}");
        assert!(s.contains(&format!(r#""prev_hash":"{GENESIS}""#)), "{s}");
    }

    #[test]
    fn an_intact_chain_verifies_and_survives_a_json_round_trip() {
        let events = chain(5);
        let json: Vec<AuditEvent> = events
            .iter()
            .map(|e| serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap())
            .collect();
        let v = verify(&json).unwrap();
        assert_eq!(v.head.seq, 5);
        assert_eq!(v.head.hash, events[4].hash.clone().unwrap());
        assert_eq!(v.legacy, 0);
    }

    #[test]
    fn a_changed_event_is_named() {
        let mut events = chain(5);
        events[2].actor = "mallory@example.dk".into();
        let m = verify(&events).unwrap_err();
        assert_eq!(m.seq, Some(3));
        assert!(m.reason.contains("hash"), "{m}");
    }

    #[test]
    fn a_removed_or_reordered_event_is_named() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).unwrap_err().seq, Some(3));
        let mut events = chain(3);
        events.swap(1, 2);
        assert_eq!(verify(&events).unwrap_err().seq, Some(3));
    }

    #[test]
    fn legacy_events_before_the_chain_are_counted_not_after() {
        let mut events = vec![event(100), event(101)];
        events.extend(chain(2));
        let v = verify(&events).unwrap();
        assert_eq!((v.legacy, v.head.seq), (2, 2));
        // Stripping the link fields of a chained event does not hide it.
        let mut events = chain(3);
        events[2].seq = None;
        events[2].prev_hash = None;
        events[2].hash = None;
        let m = verify(&events).unwrap_err();
        assert_eq!(m.position, 3);
    }

    #[test]
    fn empty_is_genesis() {
        let v = verify(&[]).unwrap();
        assert_eq!(v.head, Head::genesis());
    }
}
