//! What every [`Store`](crate::ports::Store) adapter shares, so that SQLite and DynamoDB
//! answer alike: the profile search text, the cursor codecs, the stored timestamp
//! format, the effective-status filter and the directory criteria.
//!
//! Adapters render these into their own query language; the decisions live here once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::model::{CertStatus, Certificate, Profile};
use crate::ports::{DirectoryQuery, ProfileQuery};

/// Upper bound of any page, whatever the caller asks.
pub const MAX_PAGE: u32 = 1000;

/// Upper bound of a directory answer (API.md: `limit` 1..=100).
pub const MAX_DIRECTORY: u32 = 100;

/// Separates the fields of the search text; control characters never occur in the
/// fields (the newtypes refuse them), so a search cannot match across two fields.
pub const FIELD_SEP: &str = "\u{1f}";

/// UTC, nine fractional digits, `Z`: fixed width, so text order is time order (SQL
/// comparisons, DynamoDB sort keys).
const TS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// Length of [`ts`] output.
pub const TS_LEN: usize = 30;

/// The fixed-width text form of a timestamp (length [`TS_LEN`]).
///
/// # Errors
/// `Internal` for an instant outside the four-digit years.
pub fn ts(t: OffsetDateTime) -> Result<String> {
    t.to_offset(UtcOffset::UTC)
        .format(TS)
        .map_err(|e| DomainError::Internal(format!("cannot format timestamp {t}: {e}")))
}

/// Parses [`ts`] output (cursor validation).
pub fn parse_ts(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s, TS)
        .ok()
        .map(|p| p.assume_utc())
}

/// A page size within `1..=MAX_PAGE`.
pub fn page_limit(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE)
}

/// Lower-cased searchable fields of a profile (DESIGN §6 search), one separator apart.
pub fn search_text(p: &Profile) -> String {
    let id = p.id.to_string();
    let mut fields: Vec<&str> = vec![p.name.as_str(), p.contact_email.as_str(), &id];
    if let Some(e) = &p.certificate_email {
        fields.push(e.as_str());
    }
    if let Some(n) = &p.contact_name {
        fields.push(n.as_str());
    }
    if let Some(l) = &p.latest {
        fields.push(l.serial.as_str());
    }
    fields.join(FIELD_SEP).to_lowercase()
}

/// The error of every cursor a store did not produce.
pub fn malformed_cursor() -> DomainError {
    DomainError::Malformed {
        field: Some("cursor".into()),
        message: "the cursor is not one this service produced".into(),
    }
}

/// Position after the last profile of a page: profiles are ordered by lower-cased
/// name, then id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileCursor {
    /// Lower-cased name.
    pub n: String,
    /// Profile id.
    pub i: Uuid,
}

impl ProfileCursor {
    /// The position just after `p`.
    pub fn after(p: &Profile) -> Self {
        Self {
            n: p.name.as_str().to_lowercase(),
            i: p.id,
        }
    }

    /// The opaque text handed to clients.
    ///
    /// # Errors
    /// `Internal` when the cursor cannot be serialised (never for these fields).
    pub fn encode(&self) -> Result<String> {
        encode_json_cursor(self)
    }

    /// Reads a cursor from [`ProfileCursor::encode`].
    ///
    /// # Errors
    /// `Malformed{field: "cursor"}` for any other text.
    pub fn decode(c: &str) -> Result<Self> {
        decode_json_cursor(c)
    }
}

/// Reads a cursor from [`encode_json_cursor`].
///
/// # Errors
/// `Malformed{field: "cursor"}` unless `c` is base64url of JSON of a `T`.
pub fn decode_json_cursor<T: serde::de::DeserializeOwned>(c: &str) -> Result<T> {
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| malformed_cursor())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed_cursor())
}

/// A JSON value as an opaque cursor.
///
/// # Errors
/// `Internal` when `c` cannot be serialised.
pub fn encode_json_cursor<T: Serialize>(c: &T) -> Result<String> {
    let json = serde_json::to_vec(c)
        .map_err(|e| DomainError::Internal(format!("cannot encode a cursor: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// A text (a sort key, a serial) as an opaque cursor.
pub fn encode_text_cursor(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// Reads a cursor from [`encode_text_cursor`].
///
/// # Errors
/// `Malformed{field: "cursor"}` when `c` is not base64url of UTF-8.
pub fn decode_text_cursor(c: &str) -> Result<String> {
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| malformed_cursor())?;
    String::from_utf8(bytes).map_err(|_| malformed_cursor())
}

/// Reads the serial cursor of a status page (`certificates_by_status`).
///
/// # Errors
/// `Malformed{field: "cursor"}` unless `c` encodes a serial.
pub fn decode_serial_cursor(c: &str) -> Result<Serial> {
    Serial::parse(&decode_text_cursor(c)?).map_err(|_| malformed_cursor())
}

/// The condition on a profile's latest certificate that selects an effective status
/// ([`crate::model::effective_status`]: issued and past `not_after` is expired). Times
/// are [`ts`] text, compared as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatestStatusFilter {
    /// `latest_status = 'issued'` and `latest_not_after` present and `< now`.
    ExpiredAt(String),
    /// `latest_status = 'issued'` and `latest_not_after` absent or `>= now`.
    IssuedAt(String),
    /// `latest_status` equals this stored status.
    Stored(CertStatus),
}

impl LatestStatusFilter {
    /// The filter of `query.status`, if any, at `query.now`.
    ///
    /// # Errors
    /// `Internal` when a status is asked without `now`: the use case sets it from its
    /// clock, and a store never reads the wall clock itself.
    pub fn of(query: &ProfileQuery) -> Result<Option<Self>> {
        let Some(status) = query.status else {
            return Ok(None);
        };
        let now = || {
            query.now.ok_or_else(|| {
                DomainError::Internal("a profile status filter needs the query's `now`".into())
            })
        };
        Ok(Some(match status {
            CertStatus::Expired => Self::ExpiredAt(ts(now()?)?),
            CertStatus::Issued => Self::IssuedAt(ts(now()?)?),
            other => Self::Stored(other),
        }))
    }
}

/// A directory answer's size within `1..=MAX_DIRECTORY`.
pub fn directory_limit(q: &DirectoryQuery) -> u32 {
    q.limit.clamp(1, MAX_DIRECTORY)
}

/// Whether `c` belongs in the directory answer to `q`: published, not pending, and
/// matching every criterion given (the email exactly, ASCII case folded).
pub fn directory_matches(q: &DirectoryQuery, c: &Certificate) -> bool {
    c.status != CertStatus::Pending
        && c.snapshot.publish
        && q.serial.as_ref().is_none_or(|s| &c.serial == s)
        && q.profile_id.is_none_or(|p| c.profile_id == p)
        && q.cvr.as_ref().is_none_or(|o| &c.org == o)
        && q.email.as_ref().is_none_or(|e| {
            c.snapshot
                .certificate_email
                .as_ref()
                .is_some_and(|ce| ce.as_str().eq_ignore_ascii_case(e))
        })
}

/// The directory answer from candidates: those that match, newest order first (then by
/// serial), at most [`directory_limit`].
pub fn directory_answer(q: &DirectoryQuery, candidates: Vec<Certificate>) -> Vec<Certificate> {
    let mut out: Vec<Certificate> = candidates
        .into_iter()
        .filter(|c| directory_matches(q, c))
        .collect();
    out.sort_by(|a, b| {
        b.ordered_at
            .cmp(&a.ordered_at)
            .then_with(|| a.serial.as_str().cmp(b.serial.as_str()))
    });
    out.truncate(directory_limit(q) as usize);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let t = datetime!(2026-01-02 03:04:05.000000006 UTC);
        let s = ts(t).unwrap();
        assert_eq!(s, "2026-01-02T03:04:05.000000006Z");
        assert_eq!(s.len(), TS_LEN);
        assert_eq!(parse_ts(&s), Some(t));
        assert_eq!(parse_ts("2026-01-02T03:04:05Z"), None);
    }

    #[test]
    fn foreign_cursors_are_malformed() {
        for c in ["not a cursor!", "%%", "AAAA", "e30", "bnVsbA"] {
            assert!(ProfileCursor::decode(c).is_err(), "{c}");
            assert!(decode_serial_cursor(c).is_err(), "{c}");
        }
        let good = ProfileCursor {
            n: "server 01".into(),
            i: Uuid::nil(),
        };
        assert_eq!(
            ProfileCursor::decode(&good.encode().unwrap()).unwrap(),
            good
        );
    }

    #[test]
    fn a_status_filter_needs_now() {
        let q = ProfileQuery {
            status: Some(CertStatus::Expired),
            ..Default::default()
        };
        assert!(matches!(
            LatestStatusFilter::of(&q),
            Err(DomainError::Internal(_))
        ));
        let at = datetime!(2026-01-01 00:00 UTC);
        let q = ProfileQuery { now: Some(at), ..q };
        assert_eq!(
            LatestStatusFilter::of(&q).unwrap(),
            Some(LatestStatusFilter::ExpiredAt(ts(at).unwrap()))
        );
        let q = ProfileQuery {
            status: Some(CertStatus::Revoked),
            now: None,
            ..q
        };
        assert_eq!(
            LatestStatusFilter::of(&q).unwrap(),
            Some(LatestStatusFilter::Stored(CertStatus::Revoked))
        );
    }
}
