//! The single-table key design (infra/README.md, "DynamoDB table").
//!
//! Every item has `PK` and `SK`; index keys are `gsi1pk/gsi1sk` .. `gsi4pk/gsi4sk` and
//! are only written where the item belongs to that index (sparse indexes).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use orgcert_core::error::{DomainError, Result};

/// Partition key attribute.
pub(crate) const PK: &str = "PK";
/// Sort key attribute.
pub(crate) const SK: &str = "SK";

/// Index names and their key attributes.
pub(crate) const GSI1: (&str, &str, &str) = ("gsi1", "gsi1pk", "gsi1sk");
pub(crate) const GSI2: (&str, &str, &str) = ("gsi2", "gsi2pk", "gsi2sk");
pub(crate) const GSI3: (&str, &str, &str) = ("gsi3", "gsi3pk", "gsi3sk");
pub(crate) const GSI4: (&str, &str, &str) = ("gsi4", "gsi4pk", "gsi4sk");

/// All indexes, for table creation.
pub(crate) const INDEXES: [(&str, &str, &str); 4] = [GSI1, GSI2, GSI3, GSI4];

/// Separates a lower-cased name from the id in the profile sort key. Below every
/// character a name may hold (the newtypes refuse control characters), so the string
/// order of `name \x01 id` is the tuple order of (name, id), as in SQLite.
pub(crate) const NAME_SEP: char = '\u{1}';

pub(crate) use orgcert_core::store_support::{parse_ts, ts, TS_LEN};

const MONTH: &[FormatItem<'static>] = format_description!("[year]-[month]");

/// `YYYY-MM` of a timestamp: the expiry index is sharded by month.
pub(crate) fn month(t: OffsetDateTime) -> Result<String> {
    t.to_offset(UtcOffset::UTC)
        .format(MONTH)
        .map_err(|e| DomainError::Internal(format!("cannot format month {t}: {e}")))
}

pub(crate) fn org(cvr: &str) -> String {
    format!("ORG#{cvr}")
}
pub(crate) const ORG_SK: &str = "ORG";
pub(crate) const ORGS: &str = "ORGS";

pub(crate) fn profile(id: &str) -> String {
    format!("PROFILE#{id}")
}
pub(crate) const PROFILE_SK: &str = "PROFILE";
pub(crate) fn profiles_of(cvr: &str) -> String {
    format!("ORG#{cvr}#PROFILES")
}
pub(crate) fn profile_order(name_lower: &str, id: &str) -> String {
    format!("{name_lower}{NAME_SEP}{id}")
}

pub(crate) const CERT_PREFIX: &str = "CERT#";
pub(crate) fn cert_sk(serial: &str) -> String {
    format!("{CERT_PREFIX}{serial}")
}
pub(crate) fn serial(serial: &str) -> String {
    format!("SERIAL#{serial}")
}
pub(crate) const SERIAL_SK: &str = "SERIAL";
pub(crate) const OCSP_SK: &str = "OCSP";
pub(crate) fn expiry(month: &str) -> String {
    format!("EXPIRY#{month}")
}
pub(crate) fn status(status: &str) -> String {
    format!("STATUS#{status}")
}
pub(crate) fn dir_org(cvr: &str) -> String {
    format!("DIR#ORG#{cvr}")
}
pub(crate) fn dir_email(email_lower: &str) -> String {
    format!("DIR#EMAIL#{email_lower}")
}

pub(crate) fn secret(hash: &str) -> String {
    format!("SECRET#{hash}")
}
pub(crate) const SECRET_SK: &str = "SECRET";
pub(crate) const SECRETS: &str = "SECRETS";
pub(crate) fn reference(r: &str) -> String {
    format!("REF#{r}")
}
pub(crate) const REF_SK: &str = "REF";

pub(crate) fn audit(cvr: &str) -> String {
    format!("ORG#{cvr}#AUDIT")
}
/// The organisation's audit chain head (`seq`, `hash`): a separate partition so the
/// audit listing never meets it. Every commit that appends audit events rewrites it
/// under the condition that it still holds the `seq` the commit linked to.
pub(crate) fn audit_head(cvr: &str) -> String {
    format!("ORG#{cvr}#AUDITHEAD")
}
pub(crate) const AUDIT_HEAD_SK: &str = "HEAD";
/// An organisation's lifecycle events, sort key [`event_seq`]: the feed of /v1/events.
pub(crate) fn events(cvr: &str) -> String {
    format!("ORG#{cvr}#EVENTS")
}
pub(crate) fn event_seq(seq: u64) -> String {
    format!("{seq:020}")
}
/// The outbox of events not yet on the event bus (every organisation, one partition:
/// the delivery job drains it, so it stays small), sort key [`outbox_sk`].
pub(crate) const EVENT_OUTBOX: &str = "EVENTOUT";
pub(crate) fn outbox_sk(at: OffsetDateTime, cvr: &str, seq: u64) -> Result<String> {
    Ok(format!("{}#{cvr}#{seq:020}", ts(at)?))
}
pub(crate) fn notes(cvr: &str, recipient_lower: &str) -> String {
    format!("ORG#{cvr}#NOTE#{recipient_lower}")
}
pub(crate) fn idempotency(cvr: &str, key: &str) -> String {
    format!("ORG#{cvr}#IDEM#{key}")
}
pub(crate) const IDEM_SK: &str = "IDEM";

pub(crate) fn crl(name: &str) -> String {
    format!("CRL#{name}")
}
pub(crate) const CRL_SK: &str = "CRL";

/// Where the CA certificate is kept (see `compose`).
pub(crate) const CA_PK: &str = "CA";
pub(crate) const CA_SK: &str = "CERT";

/// Sort key of an appended event (audit, notification): its time, then the commit's
/// wall-clock nanoseconds and its place in the batch, so events of one second keep
/// their arrival order; the event id last, so two writers can never collide.
pub(crate) fn event_sk(
    at: OffsetDateTime,
    commit_nanos: u128,
    idx: usize,
    id: uuid::Uuid,
) -> Result<String> {
    Ok(format!("{}#{commit_nanos:020}#{idx:04}#{id}", ts(at)?))
}

/// Checks the shape of an [`event_sk`] (cursor validation).
pub(crate) fn valid_event_sk(s: &str) -> bool {
    let mut parts = s.split('#');
    let (Some(t), Some(n), Some(i), Some(id), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    uuid::Uuid::parse_str(id).is_ok()
        && t.len() == TS_LEN
        && parse_ts(t).is_some()
        && n.len() == 20
        && i.len() == 4
        && n.bytes().chain(i.bytes()).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let t = datetime!(2025-03-01 09:00:00.5 UTC);
        let s = ts(t).unwrap();
        assert_eq!(s.len(), TS_LEN);
        assert_eq!(parse_ts(&s), Some(t));
        assert_eq!(month(t).unwrap(), "2025-03");
    }

    #[test]
    fn profile_order_is_tuple_order() {
        let a = profile_order("server", "ffff");
        let b = profile_order("server 01", "0000");
        assert!(a < b, "a shorter name sorts first whatever the id");
    }

    #[test]
    fn event_keys_validate() {
        let k = event_sk(datetime!(2025-03-01 09:00:00 UTC), 42, 3, uuid::Uuid::nil()).unwrap();
        assert!(valid_event_sk(&k));
        for bad in ["", "x", "{}", "2025#1#2", &format!("{k}#x")] {
            assert!(!valid_event_sk(bad), "{bad}");
        }
    }
}
