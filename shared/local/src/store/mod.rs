//! [`SqliteStore`]: the embedded [`Store`] on one SQLite file (WAL, busy timeout,
//! foreign keys), shared with other processes such as the CLI.

mod schema;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension};
use rusqlite::{Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use orgcert_core::audit_chain;
use orgcert_core::error::{DomainError, Result};
use orgcert_core::events::{self, LifecycleEvent};
use orgcert_core::ids::{Cvr, Email, Serial};
use orgcert_core::model::{
    AuditEvent, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret, Notification,
    OcspRecord, Organisation, Page, Profile, SecretKind,
};
use orgcert_core::ocsp_cache::{OcspCache, DEFAULT_MAX_ENTRIES};
use orgcert_core::ports::{DirectoryQuery, ProfileQuery, Store, Write};
use orgcert_core::store_support::{
    self as support, decode_serial_cursor, directory_answer, directory_limit, encode_text_cursor,
    malformed_cursor, page_limit, search_text, ts, LatestStatusFilter, ProfileCursor,
};

/// How long a statement waits for another process's write lock before `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a cached OCSP record may miss a write made by another process on the same
/// file (`orgcert job run`, which refreshes records but never revokes); this process's
/// own commits invalidate at once.
pub const OCSP_CACHE_TTL: Duration = Duration::from_secs(60);

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Pre-signed OCSP records in memory, invalidated by this store's own commits.
    ocsp_cache: Arc<OcspCache>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates its schema.
    ///
    /// Blocking: call it at startup, or inside `spawn_blocking`.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened or stays locked; `Internal` for a
    /// schema newer than this build or any other SQLite failure.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                DomainError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = Connection::open(path).map_err(sql_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sql_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DomainError::Internal(format!(
                "{}: SQLite refused WAL mode (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql_err)?;
        // Every commit waits for the disk (WAL: one fsync of the log per commit), except
        // `commit_lease`'s.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_err)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            ocsp_cache: Arc::new(OcspCache::new(OCSP_CACHE_TTL, DEFAULT_MAX_ENTRIES)),
        })
    }

    /// Keeps OCSP records read in memory for at most `ttl` (zero: off); the default is
    /// a minute. This store's commits invalidate them at once, so the time-to-live only
    /// bounds how long a write by another process on the same file goes unseen.
    #[must_use]
    pub fn with_ocsp_cache(mut self, ttl: Duration) -> Self {
        self.ocsp_cache = Arc::new(OcspCache::new(ttl, DEFAULT_MAX_ENTRIES));
        self
    }

    /// Runs `f` on the connection in the blocking pool: rusqlite must never block an
    /// async worker.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` already rolled back its transaction (Drop), so the
            // connection is consistent and a poisoned lock can be reused.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| DomainError::Internal(format!("store task failed: {e}")))?
    }

    /// The one document `sql` selects by `keys` (bound as `?1`, `?2`, ...), if any.
    ///
    /// A lookup by primary or unique key runs on the calling task when the connection is
    /// free: it is one index probe in pages SQLite (or the OS) has cached, a few
    /// microseconds, where the blocking pool costs two thread hand-offs (each a futex wake
    /// and a context switch; together about as much CPU as the rest of an order's reads,
    /// measured with `perf` on `orgcert serve`). When the connection is busy (a commit,
    /// perhaps waiting for its fsync) the read goes to the blocking pool as every other
    /// call, so an async worker never waits for the lock or the disk. WAL readers never wait
    /// for another process's writer.
    async fn doc_by<T, const N: usize>(
        &self,
        sql: &'static str,
        keys: [String; N],
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        // In a block of its own: the guard must be gone before the await below.
        let inline = {
            let free = match self.conn.try_lock() {
                Ok(guard) => Some(guard),
                // As in `with_conn`: a panic already rolled its transaction back.
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            free.map(|guard| query_doc(&guard, sql, params_from_iter(keys.iter())))
        };
        match inline {
            Some(found) => found,
            None => {
                self.with_conn(move |c| query_doc(c, sql, params_from_iter(keys)))
                    .await
            }
        }
    }
}

/// Maps SQLite errors to the domain: lock contention and I/O trouble are retryable.
pub(crate) fn sql_err(e: rusqlite::Error) -> DomainError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            DomainError::Unavailable(format!("database is busy: {e}"))
        }
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::ReadOnly,
        ) => DomainError::Unavailable(format!("database cannot be used: {e}")),
        Some(ErrorCode::ConstraintViolation) => {
            DomainError::Internal(format!("a write broke a database constraint: {e}"))
        }
        _ => DomainError::Internal(format!("sqlite: {e}")),
    }
}

fn ts_opt(t: Option<OffsetDateTime>) -> Result<Option<String>> {
    t.map(ts).transpose()
}

fn to_doc<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| DomainError::Internal(format!("cannot encode: {e}")))
}

fn from_doc<T: DeserializeOwned>(doc: &str) -> Result<T> {
    serde_json::from_str(doc)
        .map_err(|e| DomainError::Internal(format!("corrupt record in the database: {e}")))
}

fn version(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| DomainError::Internal(format!("version {v} out of range")))
}

fn clamp(limit: u32) -> i64 {
    i64::from(page_limit(limit))
}

/// An audit cursor is the row number of the last event shown.
fn encode_seq_cursor(seq: i64) -> String {
    encode_text_cursor(&seq.to_string())
}

fn decode_seq_cursor(c: &str) -> Result<i64> {
    Some(support::decode_text_cursor(c)?)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(malformed_cursor)
}

/// Checks the stored version against the expected one; `stored` is `None` when the
/// item is absent (see `scoped_version` for items of another organisation).
fn check(item: &str, expected: Option<u64>, stored: Option<i64>) -> Result<()> {
    let stored = stored.map(|v| v as u64);
    if expected == stored {
        return Ok(());
    }
    Err(DomainError::StaleVersion(match (expected, stored) {
        (None, Some(_)) => format!("{item} already exists"),
        (Some(e), None) => format!("{item} (version {e}) no longer exists"),
        (Some(e), Some(s)) => {
            format!("{item} was changed by someone else (version {s} is current, expected {e})")
        }
        (None, None) => unreachable!("equal above"),
    }))
}

/// Stored version of an item that belongs to `org`. A row of another organisation is
/// never overwritten: it reads as present when the write creates (`expected: None`)
/// and as absent when it updates.
fn scoped_version(
    tx: &Transaction<'_>,
    sql: &str,
    key: &str,
    org: &Cvr,
    expected: Option<u64>,
) -> Result<Option<i64>> {
    let stored: Option<(String, i64)> = row(tx, sql, params![key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sql_err)?;
    Ok(match stored {
        Some((o, v)) if o == org.as_str() => Some(v),
        // -1 matches no expected version, so `check` refuses a create.
        Some(_) if expected.is_none() => Some(-1),
        _ => None,
    })
}

/// `execute` through the connection's statement cache: a commit runs the same few
/// statements every time, and parsing them anew cost more than running them.
fn exec(tx: &Transaction<'_>, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(p)
}

/// `query_row` through the statement cache (see [`exec`]).
fn row<T>(
    tx: &Transaction<'_>,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    tx.prepare_cached(sql)?.query_row(p, f)
}

fn apply(tx: &Transaction<'_>, write: &Write) -> Result<()> {
    match write {
        Write::PutOrganisation { org, expected } => {
            let key = org.cvr.as_str();
            let stored: Option<i64> = row(
                tx,
                "SELECT version FROM organisations WHERE cvr = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?;
            check(&format!("organisation {key}"), *expected, stored)?;
            exec(
                tx,
                "INSERT INTO organisations (cvr, version, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cvr) DO UPDATE SET version = excluded.version, doc = excluded.doc",
                params![key, version(org.version)?, to_doc(org)?],
            )
            .map_err(sql_err)?;
        }
        Write::PutProfile {
            profile: p,
            expected,
        } => {
            let id = p.id.to_string();
            let stored = scoped_version(
                tx,
                "SELECT org, version FROM profiles WHERE id = ?1",
                &id,
                &p.org,
                *expected,
            )?;
            check(&format!("certificate profile {id}"), *expected, stored)?;
            let latest_status = p.latest.as_ref().map(|l| l.status.as_str());
            let latest_not_after = ts_opt(p.latest.as_ref().and_then(|l| l.not_after))?;
            exec(
                tx,
                "INSERT INTO profiles (id, org, version, name_lower, search_text, kind,
                                       latest_status, latest_not_after, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET
                    version = excluded.version, name_lower = excluded.name_lower,
                    search_text = excluded.search_text, kind = excluded.kind,
                    latest_status = excluded.latest_status,
                    latest_not_after = excluded.latest_not_after, doc = excluded.doc",
                params![
                    id,
                    p.org.as_str(),
                    version(p.version)?,
                    p.name.as_str().to_lowercase(),
                    search_text(p),
                    p.kind.as_str(),
                    latest_status,
                    latest_not_after,
                    to_doc(p)?,
                ],
            )
            .map_err(sql_err)?;
        }
        Write::PutCertificate { cert: c, expected } => {
            let serial = c.serial.as_str();
            let stored = scoped_version(
                tx,
                "SELECT org, version FROM certificates WHERE serial = ?1",
                serial,
                &c.org,
                *expected,
            )?;
            check(&format!("certificate {serial}"), *expected, stored)?;
            exec(
                tx,
                "INSERT INTO certificates (serial, org, profile_id, status, ordered_at,
                                           not_after, version, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (serial) DO UPDATE SET
                    profile_id = excluded.profile_id, status = excluded.status,
                    ordered_at = excluded.ordered_at, not_after = excluded.not_after,
                    version = excluded.version, doc = excluded.doc",
                params![
                    serial,
                    c.org.as_str(),
                    c.profile_id.to_string(),
                    c.status.as_str(),
                    ts(c.ordered_at)?,
                    ts_opt(c.not_after)?,
                    version(c.version)?,
                    to_doc(c)?,
                ],
            )
            .map_err(sql_err)?;
        }
        Write::DeleteCertificate { serial, expected } => {
            let stored: Option<i64> = row(
                tx,
                "SELECT version FROM certificates WHERE serial = ?1",
                params![serial.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?;
            check(&format!("certificate {serial}"), Some(*expected), stored)?;
            exec(
                tx,
                "DELETE FROM certificates WHERE serial = ?1",
                params![serial.as_str()],
            )
            .map_err(sql_err)?;
        }
        Write::PutSecret {
            secret: s,
            expected,
        } => {
            let stored: Option<i64> = row(
                tx,
                "SELECT version FROM secrets WHERE hash = ?1",
                params![s.hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?;
            check("the issuance secret", *expected, stored)?;
            let reference = match &s.kind {
                SecretKind::OneTimeCode { reference, .. } => Some(reference.as_str()),
                SecretKind::Link => None,
            };
            if let Some(r) = reference {
                let taken: Option<String> = row(
                    tx,
                    "SELECT hash FROM secrets WHERE reference = ?1 AND hash <> ?2",
                    params![r, s.hash],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_err)?;
                if taken.is_some() {
                    return Err(DomainError::StaleVersion(format!(
                        "reference number {r} is already in use"
                    )));
                }
            }
            exec(
                tx,
                "INSERT INTO secrets (hash, reference, serial, version, expires_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (hash) DO UPDATE SET
                    reference = excluded.reference, serial = excluded.serial,
                    version = excluded.version, expires_at = excluded.expires_at,
                    doc = excluded.doc",
                params![
                    s.hash,
                    reference,
                    s.serial.as_str(),
                    version(s.version)?,
                    ts(s.expires_at)?,
                    to_doc(s)?,
                ],
            )
            .map_err(sql_err)?;
        }
        Write::Audit(e) => {
            // The chain head is the organisation's last row: inside this IMMEDIATE
            // transaction nobody else can append, so two commits cannot fork the chain.
            let mut e = e.clone();
            let head = audit_head(tx, &e.org)?;
            audit_chain::link(&mut e, &head)?;
            exec(
                tx,
                "INSERT INTO audit (org, at, doc) VALUES (?1, ?2, ?3)",
                params![e.org.as_str(), ts(e.at)?, to_doc(&e)?],
            )
            .map_err(sql_err)?;
            // The lifecycle event of this change, in the same transaction (the outbox).
            if let Some(ev) = events::from_audit(&e) {
                exec(
                    tx,
                    "INSERT INTO events (org, seq, doc) VALUES (?1, ?2, ?3)",
                    params![ev.org.as_str(), version(ev.seq)?, to_doc(&ev)?],
                )
                .map_err(sql_err)?;
            }
        }
        Write::Notify(n) => {
            exec(
                tx,
                "INSERT INTO notifications (org, recipient_lower, at, doc)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    n.org.as_str(),
                    n.recipient.as_str().to_ascii_lowercase(),
                    ts(n.at)?,
                    to_doc(n)?,
                ],
            )
            .map_err(sql_err)?;
        }
        Write::MarkRead {
            org,
            recipient,
            ids,
        } => {
            // The read flag lives in the JSON document; json_set keeps the rest intact.
            let sql = "UPDATE notifications SET doc = json_set(doc, '$.read', json('true'))
                       WHERE org = ?1 AND recipient_lower = ?2
                         AND (?3 IS NULL OR json_extract(doc, '$.id') = ?3)";
            let rcpt = recipient.as_str().to_ascii_lowercase();
            if ids.is_empty() {
                exec(tx, sql, params![org.as_str(), rcpt, Option::<String>::None])
                    .map_err(sql_err)?;
            }
            for id in ids {
                exec(tx, sql, params![org.as_str(), rcpt, Some(id.to_string())])
                    .map_err(sql_err)?;
            }
        }
        Write::PutCrlState { state, expected } => {
            let stored: Option<i64> = row(
                tx,
                "SELECT version FROM crl_state WHERE name = ?1",
                params![state.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?;
            check(&format!("CRL {}", state.name), *expected, stored)?;
            exec(
                tx,
                "INSERT INTO crl_state (name, version, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version, doc = excluded.doc",
                params![state.name, version(state.version)?, to_doc(state)?],
            )
            .map_err(sql_err)?;
        }
        Write::PutOcsp(rec) => {
            // Records only move forward (DESIGN §5a), decided by the UPSERT itself rather
            // than read-then-write: a revoked record is replaced only by a newer revoked
            // one; any other by a newer one, or by "revoked" whatever its thisUpdate. A
            // refused update changes no row. Times compare as instants ('subsec'), not
            // as text: RFC 3339 text from serde has a varying number of digits.
            let changed = exec(
                tx,
                "INSERT INTO ocsp (serial, doc) VALUES (?1, ?2)
                     ON CONFLICT (serial) DO UPDATE SET doc = excluded.doc
                     WHERE (json_extract(excluded.doc, '$.status') = 'revoked'
                            AND json_extract(ocsp.doc, '$.status') <> 'revoked')
                        OR ((json_extract(excluded.doc, '$.status') = 'revoked'
                             OR json_extract(ocsp.doc, '$.status') <> 'revoked')
                            AND unixepoch(json_extract(excluded.doc, '$.this_update'), 'subsec')
                              > unixepoch(json_extract(ocsp.doc, '$.this_update'), 'subsec'))",
                params![rec.serial.as_str(), to_doc(rec)?],
            )
            .map_err(sql_err)?;
            if changed == 0 {
                return Err(DomainError::StaleVersion(format!(
                    "the OCSP record of certificate {} is newer or states revoked",
                    rec.serial
                )));
            }
        }
        Write::DeleteSecret { hash } => {
            exec(tx, "DELETE FROM secrets WHERE hash = ?1", params![hash]).map_err(sql_err)?;
        }
        Write::Idempotency(rec) => {
            let inserted = exec(
                tx,
                "INSERT INTO idempotency (org, key, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (org, key) DO NOTHING",
                params![rec.org.as_str(), rec.key, to_doc(rec)?],
            )
            .map_err(sql_err)?;
            if inserted == 0 {
                return Err(DomainError::StaleVersion(
                    "the idempotency key was already used".into(),
                ));
            }
        }
    }
    Ok(())
}

fn commit_all(conn: &mut Connection, writes: &[Write]) -> Result<()> {
    // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so the
    // version checks and the writes see one consistent state.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    for w in writes {
        // On error `tx` is dropped, which rolls everything back.
        apply(&tx, w)?;
    }
    tx.commit().map_err(|e| match e.sqlite_error_code() {
        // Deferred foreign keys are checked here: a profile of an unknown organisation
        // or a certificate of an unknown profile is a caller bug.
        Some(ErrorCode::ConstraintViolation) => DomainError::Internal(format!(
            "the batch references an organisation or profile that does not exist: {e}"
        )),
        _ => sql_err(e),
    })
}

fn query_docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_err)?;
    let docs = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sql_err)?;
    docs.iter().map(|d| from_doc(d)).collect()
}

fn query_doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    let doc: Option<String> = conn
        .prepare_cached(sql)
        .map_err(sql_err)?
        .query_row(params, |r| r.get(0))
        .optional()
        .map_err(sql_err)?;
    doc.as_deref().map(from_doc).transpose()
}

fn list_profiles(conn: &Connection, org: &Cvr, q: &ProfileQuery) -> Result<Page<Profile>> {
    let mut sql = String::from("SELECT name_lower, id, doc FROM profiles WHERE org = ?");
    let mut args: Vec<Value> = vec![Value::Text(org.as_str().to_owned())];
    if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
        // instr() is a plain substring test: `%`, `_` and `\` in the query are literal,
        // with no LIKE escaping to get wrong. Both sides are lower-cased by Rust, so
        // case folding covers Æ/Ø/Å too, not only ASCII as LIKE would.
        sql.push_str(" AND instr(search_text, ?) > 0");
        args.push(Value::Text(text.to_lowercase()));
    }
    if let Some(kind) = q.kind {
        sql.push_str(" AND kind = ?");
        args.push(Value::Text(kind.as_str().to_owned()));
    }
    match LatestStatusFilter::of(q)? {
        Some(LatestStatusFilter::ExpiredAt(now)) => {
            sql.push_str(
                " AND latest_status = 'issued' AND latest_not_after IS NOT NULL AND latest_not_after < ?",
            );
            args.push(Value::Text(now));
        }
        Some(LatestStatusFilter::IssuedAt(now)) => {
            sql.push_str(
                " AND latest_status = 'issued' AND (latest_not_after IS NULL OR latest_not_after >= ?)",
            );
            args.push(Value::Text(now));
        }
        Some(LatestStatusFilter::Stored(status)) => {
            sql.push_str(" AND latest_status = ?");
            args.push(Value::Text(status.as_str().to_owned()));
        }
        None => {}
    }
    if let Some(c) = q.cursor.as_deref() {
        let c = ProfileCursor::decode(c)?;
        sql.push_str(" AND (name_lower, id) > (?, ?)");
        args.push(Value::Text(c.n));
        args.push(Value::Text(c.i.to_string()));
    }
    let limit = clamp(q.limit);
    sql.push_str(" ORDER BY name_lower, id LIMIT ?");
    // One row more than the page tells whether another page exists.
    args.push(Value::Integer(limit + 1));

    let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for (name_lower, id, doc) in rows.into_iter().take(limit as usize) {
        items.push(from_doc::<Profile>(&doc)?);
        last = Some((name_lower, id));
    }
    let next_cursor = match (more, last) {
        (true, Some((n, id))) => {
            let id = Uuid::parse_str(&id)
                .map_err(|e| DomainError::Internal(format!("corrupt profile id {id}: {e}")))?;
            Some(ProfileCursor { n, i: id }.encode()?)
        }
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// The organisation's chain head: its last audit row's link, or genesis when it has no
/// row or only rows written before the chain existed (the legacy prefix).
fn audit_head(conn: &Connection, org: &Cvr) -> Result<audit_chain::Head> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM audit WHERE org = ?1 ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row(params![org.as_str()], |r| r.get(0)))
        .optional()
        .map_err(sql_err)?;
    let Some(doc) = doc else {
        return Ok(audit_chain::Head::genesis());
    };
    let last: AuditEvent = from_doc(&doc)?;
    match (last.seq, last.hash) {
        (Some(seq), Some(hash)) => Ok(audit_chain::Head { seq, hash }),
        _ => Ok(audit_chain::Head::genesis()),
    }
}

/// Every audit event of the organisation in the order written (= chain order: the
/// row id grows with each append under the write lock).
fn export_audit(conn: &Connection, org: &Cvr) -> Result<Vec<AuditEvent>> {
    let mut stmt = conn
        .prepare_cached("SELECT doc FROM audit WHERE org = ?1 ORDER BY seq ASC")
        .map_err(sql_err)?;
    let docs = stmt
        .query_map(params![org.as_str()], |r| r.get::<_, String>(0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    docs.iter().map(|d| from_doc(d)).collect()
}

fn list_audit(
    conn: &Connection,
    org: &Cvr,
    limit: u32,
    cursor: Option<i64>,
) -> Result<Page<AuditEvent>> {
    let limit = clamp(limit);
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, doc FROM audit WHERE org = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map(
            params![org.as_str(), cursor.unwrap_or(i64::MAX), limit + 1],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for (seq, doc) in rows.into_iter().take(limit as usize) {
        items.push(from_doc(&doc)?);
        last = Some(seq);
    }
    Ok(Page {
        items,
        next_cursor: last.filter(|_| more).map(encode_seq_cursor),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn organisation(&self, cvr: &Cvr) -> Result<Option<Organisation>> {
        self.doc_by(
            "SELECT doc FROM organisations WHERE cvr = ?1",
            [cvr.as_str().to_owned()],
        )
        .await
    }

    async fn organisations(&self) -> Result<Vec<Organisation>> {
        self.with_conn(|c| query_docs(c, "SELECT doc FROM organisations ORDER BY cvr", []))
            .await
    }

    async fn profile(&self, org: &Cvr, id: Uuid) -> Result<Option<Profile>> {
        self.doc_by(
            "SELECT doc FROM profiles WHERE id = ?1 AND org = ?2",
            [id.to_string(), org.as_str().to_owned()],
        )
        .await
    }

    async fn profiles(&self, org: &Cvr, query: &ProfileQuery) -> Result<Page<Profile>> {
        let org = org.clone();
        let query = query.clone();
        self.with_conn(move |c| list_profiles(c, &org, &query))
            .await
    }

    async fn certificate_in(&self, org: &Cvr, serial: &Serial) -> Result<Option<Certificate>> {
        self.doc_by(
            "SELECT doc FROM certificates WHERE serial = ?1 AND org = ?2",
            [serial.as_str().to_owned(), org.as_str().to_owned()],
        )
        .await
    }

    async fn certificate_any_org(&self, serial: &Serial) -> Result<Option<Certificate>> {
        self.doc_by(
            "SELECT doc FROM certificates WHERE serial = ?1",
            [serial.as_str().to_owned()],
        )
        .await
    }

    async fn certificates_of(&self, org: &Cvr, profile: Uuid) -> Result<Vec<Certificate>> {
        let org = org.as_str().to_owned();
        self.with_conn(move |c| {
            query_docs(
                c,
                "SELECT doc FROM certificates WHERE profile_id = ?1 AND org = ?2
                 ORDER BY ordered_at, serial",
                params![profile.to_string(), org],
            )
        })
        .await
    }

    async fn secret(&self, hash: &str) -> Result<Option<IssuanceSecret>> {
        self.doc_by("SELECT doc FROM secrets WHERE hash = ?1", [hash.to_owned()])
            .await
    }

    async fn secret_by_reference(&self, reference: &str) -> Result<Option<IssuanceSecret>> {
        self.doc_by(
            "SELECT doc FROM secrets WHERE reference = ?1",
            [reference.to_owned()],
        )
        .await
    }

    async fn audit_export(&self, org: &Cvr) -> Result<Vec<AuditEvent>> {
        let org = org.clone();
        self.with_conn(move |c| export_audit(c, &org)).await
    }

    async fn events(&self, org: &Cvr, after: u64, limit: u32) -> Result<Vec<LifecycleEvent>> {
        let org = org.clone();
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc FROM events WHERE org = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(sql_err)?;
            let docs = stmt
                .query_map(params![org.as_str(), after, limit], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)?;
            docs.iter().map(|d| from_doc(d)).collect()
        })
        .await
    }

    async fn undelivered_events(&self, limit: u32) -> Result<Vec<LifecycleEvent>> {
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc FROM events WHERE delivered = 0 ORDER BY rowid LIMIT ?1",
                )
                .map_err(sql_err)?;
            let docs = stmt
                .query_map(params![limit], |r| r.get::<_, String>(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)?;
            docs.iter().map(|d| from_doc(d)).collect()
        })
        .await
    }

    async fn mark_events_delivered(&self, events: &[LifecycleEvent]) -> Result<()> {
        let keys: Vec<(String, u64)> = events
            .iter()
            .map(|e| (e.org.as_str().to_owned(), e.seq))
            .collect();
        self.with_conn(move |c| {
            for (org, seq) in &keys {
                c.execute(
                    "UPDATE events SET delivered = 1 WHERE org = ?1 AND seq = ?2",
                    params![org, version(*seq)?],
                )
                .map_err(sql_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn audit(&self, org: &Cvr, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEvent>> {
        let cursor = cursor.map(decode_seq_cursor).transpose()?;
        let org = org.clone();
        self.with_conn(move |c| list_audit(c, &org, limit, cursor))
            .await
    }

    async fn notifications(
        &self,
        org: &Cvr,
        recipient: &Email,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        // ASCII folding, as `Email::matches` compares.
        let recipient = recipient.as_str().to_ascii_lowercase();
        let org = org.as_str().to_owned();
        let limit = i64::from(limit.min(support::MAX_PAGE));
        self.with_conn(move |c| {
            query_docs(
                c,
                "SELECT doc FROM notifications WHERE org = ?1 AND recipient_lower = ?2
                 ORDER BY seq DESC LIMIT ?3",
                params![org, recipient, limit],
            )
        })
        .await
    }

    async fn idempotency(&self, org: &Cvr, key: &str) -> Result<Option<IdempotencyRecord>> {
        self.doc_by(
            "SELECT doc FROM idempotency WHERE org = ?1 AND key = ?2",
            [org.as_str().to_owned(), key.to_owned()],
        )
        .await
    }

    async fn revoked_certificates(&self) -> Result<Vec<Certificate>> {
        self.with_conn(|c| {
            query_docs(
                c,
                "SELECT doc FROM certificates WHERE status = 'revoked' ORDER BY serial",
                [],
            )
        })
        .await
    }

    async fn certificates_by_status(
        &self,
        status: CertStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        let after = match cursor {
            Some(c) => decode_serial_cursor(c)?.to_string(),
            None => String::new(),
        };
        let limit = clamp(limit);
        self.with_conn(move |c| {
            let rows: Vec<(String, String)> = c
                .prepare_cached(
                    "SELECT serial, doc FROM certificates WHERE status = ?1 AND serial > ?2
                     ORDER BY serial LIMIT ?3",
                )
                .map_err(sql_err)?
                .query_map(params![status.as_str(), after, limit + 1], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?;
            let more = rows.len() as i64 > limit;
            let mut items = Vec::new();
            let mut last = None;
            for (serial, doc) in rows.into_iter().take(limit as usize) {
                items.push(from_doc(&doc)?);
                last = Some(serial);
            }
            Ok(Page {
                items,
                next_cursor: last.filter(|_| more).map(|s| encode_text_cursor(&s)),
            })
        })
        .await
    }

    async fn expiring(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        // Cursor: the (not_after, serial) of the last row, as JSON.
        let (from_na, from_serial) = match cursor {
            Some(c) => support::decode_json_cursor::<(String, String)>(c)?,
            None => (ts(after)?, String::new()),
        };
        let until = ts(until)?;
        let after = ts(after)?;
        let limit = clamp(limit);
        self.with_conn(move |c| {
            let rows: Vec<(String, String, String)> = c
                .prepare_cached(
                    "SELECT not_after, serial, doc FROM certificates
                     WHERE status = 'issued' AND not_after > ?1 AND not_after <= ?2
                       AND (not_after > ?3 OR (not_after = ?3 AND serial > ?4))
                     ORDER BY not_after, serial LIMIT ?5",
                )
                .map_err(sql_err)?
                .query_map(
                    params![after, until, from_na, from_serial, limit + 1],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?;
            let more = rows.len() as i64 > limit;
            let mut items = Vec::new();
            let mut last = None;
            for (na, serial, doc) in rows.into_iter().take(limit as usize) {
                items.push(from_doc(&doc)?);
                last = Some((na, serial));
            }
            let next_cursor = match last.filter(|_| more) {
                Some(k) => Some(support::encode_json_cursor(&k)?),
                None => None,
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn crl_state(&self, name: &str) -> Result<Option<CrlState>> {
        self.doc_by(
            "SELECT doc FROM crl_state WHERE name = ?1",
            [name.to_owned()],
        )
        .await
    }

    async fn ocsp_record(&self, serial: &Serial) -> Result<Option<OcspRecord>> {
        // The public OCSP route's read: from memory when this process read it before and
        // no commit of this store touched the certificate since (see `OcspCache`).
        if let Some(rec) = self.ocsp_cache.get(serial) {
            return Ok(Some(rec));
        }
        let seen = self.ocsp_cache.epoch();
        let cache = Arc::clone(&self.ocsp_cache);
        let serial = serial.as_str().to_owned();
        self.with_conn(move |c| {
            let rec: Option<OcspRecord> =
                query_doc(c, "SELECT doc FROM ocsp WHERE serial = ?1", params![serial])?;
            if let Some(r) = &rec {
                cache.insert(r, seen);
            }
            Ok(rec)
        })
        .await
    }

    async fn directory(&self, query: &DirectoryQuery) -> Result<Vec<Certificate>> {
        let q = query.clone();
        // SQL narrows by the indexed criteria; the shared predicate and order decide, so
        // both stores answer alike.
        let candidates: Vec<Certificate> = self
            .with_conn(move |c| {
                query_docs(
                    c,
                    "SELECT doc FROM certificates
                 WHERE status != 'pending' AND json_extract(doc, '$.snapshot.publish') = 1
                   AND (?1 IS NULL OR serial = ?1)
                   AND (?2 IS NULL OR profile_id = ?2)
                   AND (?3 IS NULL OR org = ?3)
                   AND (?4 IS NULL OR lower(json_extract(doc, '$.snapshot.certificate_email')) = ?4)
                 ORDER BY ordered_at DESC, serial LIMIT ?5",
                    params![
                        q.serial.as_ref().map(|s| s.as_str().to_owned()),
                        q.profile_id.map(|p| p.to_string()),
                        q.cvr.as_ref().map(|c| c.as_str().to_owned()),
                        q.email.as_ref().map(|e| e.to_ascii_lowercase()),
                        i64::from(directory_limit(&q)),
                    ],
                )
            })
            .await?;
        Ok(directory_answer(query, candidates))
    }

    async fn expired_secrets(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IssuanceSecret>> {
        let before = ts(before)?;
        let limit = clamp(limit);
        self.with_conn(move |c| {
            query_docs(
                c,
                "SELECT doc FROM secrets WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2",
                params![before, limit],
            )
        })
        .await
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        self.commit_with(writes, true).await
    }

    /// In WAL mode with `synchronous = NORMAL` a commit does not wait for its fsync; the
    /// next `FULL` commit syncs the log, these frames included (they come first in it).
    /// One fsync fewer per issuance, for a claim that lapses by itself if lost.
    async fn commit_lease(&self, writes: Vec<Write>) -> Result<()> {
        self.commit_with(writes, false).await
    }
}

impl SqliteStore {
    /// Commits `writes` in one transaction, waiting for the disk unless `durable` is false
    /// (see `commit_lease`); OCSP records they touch leave the cache before the lock is
    /// released, so the caller never reads one back from it.
    async fn commit_with(&self, writes: Vec<Write>, durable: bool) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let cache = Arc::clone(&self.ocsp_cache);
        self.with_conn(move |c| {
            if !durable {
                c.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(sql_err)?;
            }
            let r = commit_all(c, &writes);
            cache.invalidate(&OcspCache::touched(&writes));
            // Back to FULL before the lock is released: every other commit waits for the
            // disk. Setting the flag does no I/O and cannot fail on a connection with no
            // statement running; were it ever to, the caller hears of it.
            if !durable {
                if let Err(e) = c.pragma_update(None, "synchronous", "FULL") {
                    return Err(DomainError::Internal(format!(
                        "cannot restore synchronous = FULL: {e}"
                    )));
                }
            }
            r
        })
        .await
    }
}
