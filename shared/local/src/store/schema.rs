//! Schema migrations, applied in order at open and counted by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use super::sql_err;
use orgcert_core::error::{DomainError, Result};

/// Migration `i` moves the schema from version `i` to `i + 1`. Append only: never edit
/// a migration that has shipped.
///
/// Every table keeps the whole record as JSON in `doc` and copies out only the columns
/// that queries filter or sort on. Timestamps are UTC RFC 3339 text with exactly nine
/// fractional digits (see `ts`), so text comparison is time comparison.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE organisations (
        cvr     TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL,
        doc     TEXT NOT NULL
    );

    CREATE TABLE profiles (
        id               TEXT PRIMARY KEY NOT NULL,
        org              TEXT NOT NULL
                         REFERENCES organisations(cvr) DEFERRABLE INITIALLY DEFERRED,
        version          INTEGER NOT NULL,
        name_lower       TEXT NOT NULL,
        search_text      TEXT NOT NULL,
        kind             TEXT NOT NULL,
        latest_status    TEXT,
        latest_not_after TEXT,
        doc              TEXT NOT NULL
    );
    CREATE INDEX profiles_by_name ON profiles(org, name_lower, id);

    CREATE TABLE certificates (
        serial     TEXT PRIMARY KEY NOT NULL,
        org        TEXT NOT NULL,
        profile_id TEXT NOT NULL
                   REFERENCES profiles(id) DEFERRABLE INITIALLY DEFERRED,
        status     TEXT NOT NULL,
        ordered_at TEXT NOT NULL,
        not_after  TEXT,
        version    INTEGER NOT NULL,
        doc        TEXT NOT NULL
    );
    CREATE INDEX certificates_by_profile ON certificates(profile_id, ordered_at, serial);
    -- Renewal reminders scan by expiry (DESIGN §7): cost follows the certificates due.
    CREATE INDEX certificates_by_expiry ON certificates(status, not_after);

    -- No foreign key to certificates: deleting a pending order leaves its secret,
    -- which then finds no certificate, exactly as a key-value store behaves.
    CREATE TABLE secrets (
        hash       TEXT PRIMARY KEY NOT NULL,
        reference  TEXT UNIQUE,
        serial     TEXT NOT NULL,
        version    INTEGER NOT NULL,
        expires_at TEXT NOT NULL,
        doc        TEXT NOT NULL
    );
    CREATE INDEX secrets_by_expiry ON secrets(expires_at);

    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        org TEXT NOT NULL,
        at  TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX audit_by_org ON audit(org, seq);

    CREATE TABLE notifications (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        org             TEXT NOT NULL,
        recipient_lower TEXT NOT NULL,
        at              TEXT NOT NULL,
        doc             TEXT NOT NULL
    );
    CREATE INDEX notifications_by_recipient ON notifications(org, recipient_lower, seq);

    CREATE TABLE idempotency (
        org TEXT NOT NULL,
        key TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (org, key)
    );
    "#,
    // 2: revocation status (CRL scopes, pre-signed OCSP responses).
    r#"
    CREATE TABLE crl_state (
        name    TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL,
        doc     TEXT NOT NULL
    );
    CREATE TABLE ocsp (
        serial TEXT PRIMARY KEY NOT NULL,
        doc    TEXT NOT NULL
    );
    CREATE INDEX certificates_by_status_serial ON certificates(status, serial);
    "#,
    // 3: lifecycle events (the outbox of /v1/events and the event bus); `seq` is the
    // audit chain's seq of the audit event each was derived from.
    r#"
    CREATE TABLE events (
        org       TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        doc       TEXT NOT NULL,
        PRIMARY KEY (org, seq)
    );
    CREATE INDEX events_undelivered ON events(delivered) WHERE delivered = 0;
    "#,
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`SCHEMA_VERSION`] in one IMMEDIATE transaction, so two
/// processes opening a fresh file at once migrate it exactly once.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql_err)?;
    if current > SCHEMA_VERSION {
        return Err(DomainError::Internal(format!(
            "database schema version {current} is newer than this build supports ({SCHEMA_VERSION}); upgrade orgcert"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(sql_err)?;
    }
    tx.commit().map_err(sql_err)
}
