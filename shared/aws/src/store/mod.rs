//! [`DynamoStore`]: the [`Store`] on one DynamoDB table (key design: `keys.rs` and
//! infra/README.md "DynamoDB table").
//!
//! Reads by key are strongly consistent; list pages come from indexes (eventually
//! consistent, as every GSI). Every write goes through one `TransactWriteItems` with a
//! condition on every item (`commit.rs`), so a failed condition writes nothing.

mod commit;
mod item;
pub(crate) mod keys;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

use orgcert_core::error::{DomainError, Result};
use orgcert_core::events::LifecycleEvent;
use orgcert_core::ids::{Cvr, Email, Serial};
use orgcert_core::model::{
    AuditEvent, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret, Notification,
    OcspRecord, Organisation, Page, Profile,
};
use orgcert_core::ocsp_cache::{OcspCache, DEFAULT_MAX_ENTRIES};
use orgcert_core::ports::{DirectoryQuery, ProfileQuery, Store, Write};
use orgcert_core::store_support::{
    decode_serial_cursor, decode_text_cursor, directory_answer, directory_limit,
    encode_text_cursor, malformed_cursor, page_limit, LatestStatusFilter, ProfileCursor,
};

use crate::error::sdk_error;
use item::{from_doc, get_s, s, Item};
use keys::{GSI1, GSI2, GSI3, GSI4, PK, SK};

pub use commit::MAX_TRANSACTION_ITEMS;

/// Items read and read calls made since the store was created (for cost figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadStats {
    /// GetItem and Query calls.
    pub calls: u64,
    /// Items read: found by GetItem, or examined by Query before its filter
    /// (`ScannedCount`, which is what DynamoDB bills).
    pub items: u64,
}

impl std::ops::Sub for ReadStats {
    type Output = ReadStats;
    fn sub(self, rhs: Self) -> Self {
        Self {
            calls: self.calls.saturating_sub(rhs.calls),
            items: self.items.saturating_sub(rhs.items),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    items: AtomicU64,
}

/// The DynamoDB implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    counters: Arc<Counters>,
    /// Pre-signed OCSP records of this process (a warm Lambda); off unless configured.
    ocsp_cache: Arc<OcspCache>,
}

/// A filter expression with the names and values it uses.
type Filter = (
    String,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, AttributeValue)>,
);

/// An index: its name, partition key and sort key attributes.
type Gsi = (&'static str, &'static str, &'static str);

/// The documents of `items`.
fn docs<T: DeserializeOwned>(items: &[Item]) -> Result<Vec<T>> {
    items.iter().map(from_doc).collect()
}

/// A Query's page size (`Limit`) for `n` items; DynamoDB pages stop at 1 MB anyway.
fn batch(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(1000)
}

/// One Query: partition (and optional sort-key condition) of the table or an index.
struct Query<'a> {
    index: Option<(&'a str, &'a str, &'a str)>,
    pk: String,
    /// Sort-key condition, with `#sk` for the sort key and its values.
    sk_cond: Option<(&'static str, Vec<(&'static str, AttributeValue)>)>,
    filter: Option<Filter>,
    forward: bool,
    consistent: bool,
}

impl DynamoStore {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            counters: Arc::default(),
            ocsp_cache: Arc::new(OcspCache::disabled()),
        }
    }

    /// Keeps OCSP records read in memory for at most `ttl` (zero: off). This process's
    /// own commits invalidate them at once; a write by another Lambda (the revocation)
    /// is seen after at most `ttl`, so keep it short (seconds) and below the responses'
    /// `max-age` that HTTP caches may already serve.
    #[must_use]
    pub fn with_ocsp_cache(mut self, ttl: std::time::Duration) -> Self {
        self.ocsp_cache = Arc::new(OcspCache::new(ttl, DEFAULT_MAX_ENTRIES));
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Read calls and items read so far; subtract two snapshots for one operation.
    pub fn read_stats(&self) -> ReadStats {
        ReadStats {
            calls: self.counters.calls.load(Ordering::Relaxed),
            items: self.counters.items.load(Ordering::Relaxed),
        }
    }

    fn count(&self, items: u64) {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        self.counters.items.fetch_add(items, Ordering::Relaxed);
    }

    /// Loads records without conditions or atomicity, 25 items per `BatchWriteItem`:
    /// for imports (e.g. from the embedded SQLite store) and large test fixtures, never
    /// for the service's own writes, which go through [`Store::commit`].
    ///
    /// # Errors
    /// `Internal` for a write other than a put of an organisation, profile, certificate
    /// or secret, or an audit event or notification; `Unavailable` when DynamoDB fails.
    pub async fn import(&self, writes: Vec<Write>) -> Result<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut items = Vec::new();
        let mut heads: std::collections::HashMap<String, (u64, String)> =
            std::collections::HashMap::new();
        for (idx, w) in writes.into_iter().enumerate() {
            match w {
                Write::PutOrganisation { org, .. } => items.push(item::organisation_item(&org)?),
                Write::PutProfile { profile, .. } => items.push(item::profile_item(&profile)?),
                Write::PutCertificate { cert, .. } => {
                    items.push(item::certificate_item(&cert)?);
                    items.push(item::serial_item(&cert));
                }
                Write::PutSecret { secret, .. } => {
                    if let Some(r) = item::reference_of(&secret) {
                        items.push(item::reference_item(r, &secret));
                    }
                    items.push(item::secret_item(&secret)?);
                }
                Write::Audit(e) => {
                    let mut it = item::base(
                        keys::audit(e.org.as_str()),
                        keys::event_sk(e.at, nanos, idx, e.id)?,
                    );
                    // Imported events keep the links they carry (an export of another
                    // store); the head follows the highest seq so new commits extend it.
                    if let (Some(seq), Some(hash)) = (e.seq, e.hash.clone()) {
                        it.insert("seq".into(), item::n(seq));
                        let h = heads
                            .entry(e.org.as_str().to_owned())
                            .or_insert((0, String::new()));
                        if seq > h.0 {
                            *h = (seq, hash);
                        }
                    }
                    it.insert("doc".into(), item::to_doc(&e)?);
                    items.push(it);
                }
                Write::Notify(n) => {
                    let rcpt = n.recipient.as_str().to_ascii_lowercase();
                    let mut it = item::base(
                        keys::notes(n.org.as_str(), &rcpt),
                        keys::event_sk(n.at, nanos, idx, n.id)?,
                    );
                    it.insert("id".into(), s(n.id.to_string()));
                    it.insert("doc".into(), item::to_doc(&n)?);
                    items.push(it);
                }
                other => {
                    return Err(DomainError::Internal(format!(
                        "import takes record puts only, not {other:?}"
                    )))
                }
            }
        }
        for (org, (seq, hash)) in heads {
            let mut it = item::base(keys::audit_head(&org), keys::AUDIT_HEAD_SK);
            it.insert("seq".into(), item::n(seq));
            it.insert("hash".into(), s(hash));
            items.push(it);
        }
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|it| {
                    PutRequest::builder()
                        .set_item(Some(it.clone()))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                        .map_err(|e| DomainError::Internal(format!("import request: {e}")))
                })
                .collect::<Result<_>>()?;
            // Unprocessed items are retried until the deadline, with jittered backoff.
            let deadline = crate::deadline::effective();
            let mut backoff = crate::deadline::Backoff::until(deadline);
            loop {
                let out = crate::deadline::attempt(
                    "DynamoDB BatchWriteItem",
                    deadline,
                    self.client
                        .batch_write_item()
                        .request_items(&self.table, requests)
                        .send(),
                )
                .await?
                .map_err(|e| sdk_error("DynamoDB BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if !backoff.wait().await {
                    return Err(DomainError::Unavailable(
                        "DynamoDB left import items unprocessed until the deadline".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// One item by key, strongly consistent.
    pub(crate) async fn get(&self, pk: String, sk: String) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB GetItem", e))?;
        self.count(u64::from(out.item.is_some()));
        Ok(out.item)
    }

    async fn get_doc<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>> {
        self.get(pk, sk.to_owned())
            .await?
            .as_ref()
            .map(from_doc)
            .transpose()
    }

    /// One page of a query from `start`, at most `limit` items examined.
    async fn query_page(
        &self,
        q: &Query<'_>,
        start: Option<Item>,
        limit: Option<i32>,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        let (pk_name, sk_name) = match q.index {
            Some((_, pk, sk)) => (pk, sk),
            None => (PK, SK),
        };
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        names.insert("#pk".into(), pk_name.into());
        values.insert(":pk".into(), s(q.pk.clone()));
        let mut key = String::from("#pk = :pk");
        if let Some((cond, vals)) = &q.sk_cond {
            key.push_str(" AND ");
            key.push_str(cond);
            names.insert("#sk".into(), sk_name.into());
            for (k, v) in vals {
                values.insert((*k).into(), v.clone());
            }
        }
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key)
            .scan_index_forward(q.forward)
            .set_exclusive_start_key(start)
            .set_limit(limit);
        if let Some((index, _, _)) = q.index {
            req = req.index_name(index);
        } else if q.consistent {
            req = req.consistent_read(true);
        }
        if let Some((expr, fnames, fvalues)) = &q.filter {
            req = req.filter_expression(expr);
            for (k, v) in fnames {
                names.insert((*k).into(), (*v).into());
            }
            for (k, v) in fvalues {
                values.insert((*k).into(), v.clone());
            }
        }
        let out = req
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Query", e))?;
        self.count(u64::try_from(out.scanned_count()).unwrap_or(0));
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Every item of a query, following pages.
    async fn query_all(&self, q: &Query<'_>) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, last) = self.query_page(q, start, None).await?;
            items.extend(page);
            match last {
                Some(k) => start = Some(k),
                None => return Ok(items),
            }
        }
    }

    /// Up to `want` items of a query, reading `batch` at a time; `more` tells whether
    /// the query has items beyond them.
    async fn query_up_to(&self, q: &Query<'_>, want: usize, batch: i32) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, last) = self.query_page(q, start, Some(batch)).await?;
            items.extend(page);
            if items.len() >= want {
                items.truncate(want);
                return Ok(items);
            }
            match last {
                Some(k) => start = Some(k),
                None => return Ok(items),
            }
        }
    }

    /// Every document of one partition of an index, in sort-key order (eventually
    /// consistent, as index reads are).
    async fn index_docs<T: DeserializeOwned>(&self, index: Gsi, pk: String) -> Result<Vec<T>> {
        let q = Query {
            index: Some(index),
            pk,
            sk_cond: None,
            filter: None,
            forward: true,
            consistent: false,
        };
        docs(&self.query_all(&q).await?)
    }

    /// The documents of the first `limit` items of `q`.
    async fn docs_up_to<T: DeserializeOwned>(&self, q: &Query<'_>, limit: usize) -> Result<Vec<T>> {
        docs(&self.query_up_to(q, limit, batch(limit)).await?)
    }

    /// One page of `q`: up to `limit` documents, read `batch` items at a time, and the
    /// last item shown when there is a next page (one more than the page is read to know).
    async fn page_of<T: DeserializeOwned>(
        &self,
        q: &Query<'_>,
        limit: usize,
        read_batch: usize,
    ) -> Result<(Vec<T>, Option<Item>)> {
        let mut items = self.query_up_to(q, limit + 1, batch(read_batch)).await?;
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((docs(&items)?, items.pop().filter(|_| more)))
    }

    /// Every item of one partition of the table, strongly consistent.
    pub(crate) async fn partition(
        &self,
        pk: &str,
        sk_prefix: Option<&'static str>,
        forward: bool,
    ) -> Result<Vec<Item>> {
        self.query_all(&Query {
            index: None,
            pk: pk.to_owned(),
            sk_cond: sk_prefix.map(|p| ("begins_with(#sk, :prefix)", vec![(":prefix", s(p))])),
            filter: None,
            forward,
            consistent: true,
        })
        .await
    }

    /// The certificates of a profile, oldest order first (strongly consistent).
    async fn certificates_of_profile(&self, profile: Uuid) -> Result<Vec<Certificate>> {
        let items = self
            .partition(
                &keys::profile(&profile.to_string()),
                Some(keys::CERT_PREFIX),
                true,
            )
            .await?;
        let mut certs = items
            .iter()
            .map(from_doc::<Certificate>)
            .collect::<Result<Vec<_>>>()?;
        certs.sort_by(|a, b| {
            (a.ordered_at, a.serial.as_str()).cmp(&(b.ordered_at, b.serial.as_str()))
        });
        Ok(certs)
    }

    async fn list_profiles(&self, org: &Cvr, q: &ProfileQuery) -> Result<Page<Profile>> {
        let limit = page_limit(q.limit) as usize;
        let after = q
            .cursor
            .as_deref()
            .map(ProfileCursor::decode)
            .transpose()?
            .map(|c| keys::profile_order(&c.n, &c.i.to_string()));
        let mut parts: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut values = Vec::new();
        if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
            // contains() is a plain substring test: `%`, `_` and `\` are literal.
            parts.push("contains(#search, :q)".into());
            names.push(("#search", "search"));
            values.push((":q", s(text.to_lowercase())));
        }
        if let Some(kind) = q.kind {
            parts.push("#kind = :kind".into());
            names.push(("#kind", "kind"));
            values.push((":kind", s(kind.as_str())));
        }
        if let Some(filter) = LatestStatusFilter::of(q)? {
            names.push(("#ls", "latest_status"));
            match filter {
                LatestStatusFilter::ExpiredAt(now) => {
                    parts.push("#ls = :issued AND #lna < :now".into());
                    names.push(("#lna", "latest_not_after"));
                    values.push((":issued", s("issued")));
                    values.push((":now", s(now)));
                }
                LatestStatusFilter::IssuedAt(now) => {
                    parts.push(
                        "#ls = :issued AND (attribute_not_exists(#lna) OR #lna >= :now)".into(),
                    );
                    names.push(("#lna", "latest_not_after"));
                    values.push((":issued", s("issued")));
                    values.push((":now", s(now)));
                }
                LatestStatusFilter::Stored(status) => {
                    parts.push("#ls = :status".into());
                    values.push((":status", s(status.as_str())));
                }
            }
        }
        let filtered = !parts.is_empty();
        let query = Query {
            index: Some(GSI1),
            pk: keys::profiles_of(org.as_str()),
            sk_cond: after.map(|a| ("#sk > :after", vec![(":after", s(a))])),
            filter: filtered.then(|| (parts.join(" AND "), names, values)),
            forward: true,
            consistent: false,
        };
        // Unfiltered: read exactly one more than the page. Filtered: read in larger
        // batches, since the filter runs after the read.
        let batch = if filtered {
            ((limit + 1) * 4).clamp(100, 1000)
        } else {
            limit + 1
        };
        let (profiles, last) = self.page_of::<Profile>(&query, limit, batch).await?;
        let next_cursor = match (last, profiles.last()) {
            (Some(_), Some(p)) => Some(ProfileCursor::after(p).encode()?),
            _ => None,
        };
        Ok(Page {
            items: profiles,
            next_cursor,
        })
    }

    async fn list_audit(
        &self,
        org: &Cvr,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEvent>> {
        let before = cursor.map(decode_event_cursor).transpose()?;
        let limit = page_limit(limit) as usize;
        let query = Query {
            index: None,
            pk: keys::audit(org.as_str()),
            sk_cond: before.map(|b| ("#sk < :before", vec![(":before", s(b))])),
            filter: None,
            forward: false,
            consistent: true,
        };
        let (events, last) = self.page_of(&query, limit, limit + 1).await?;
        Ok(Page {
            items: events,
            next_cursor: last
                .as_ref()
                .and_then(|it| get_s(it, SK))
                .map(encode_text_cursor),
        })
    }
}

/// An audit cursor is the sort key of the last event shown.
fn decode_event_cursor(c: &str) -> Result<String> {
    Some(decode_text_cursor(c)?)
        .filter(|sk| keys::valid_event_sk(sk))
        .ok_or_else(malformed_cursor)
}

/// An expiry cursor is the expiry-index sort key of the last certificate shown.
fn decode_expiry_cursor(c: &str) -> Result<(OffsetDateTime, String)> {
    let sk = decode_text_cursor(c)?;
    let (t, serial) = sk.split_once('#').ok_or_else(malformed_cursor)?;
    let at = keys::parse_ts(t).ok_or_else(malformed_cursor)?;
    Serial::parse(serial).map_err(|_| malformed_cursor())?;
    Ok((at, sk))
}

/// Months from `from` to `until` inclusive, as `YYYY-MM`.
fn months(from: OffsetDateTime, until: OffsetDateTime) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), u8::from(from.month()));
    let end = (until.year(), u8::from(until.month()));
    while (y, m) <= end {
        out.push(format!("{y:04}-{m:02}"));
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
        if out.len() > 1200 {
            return Err(DomainError::invalid(
                "until",
                "expiry window over 100 years",
            ));
        }
    }
    Ok(out)
}

#[async_trait]
impl Store for DynamoStore {
    async fn organisation(&self, cvr: &Cvr) -> Result<Option<Organisation>> {
        self.get_doc(keys::org(cvr.as_str()), keys::ORG_SK).await
    }

    async fn organisations(&self) -> Result<Vec<Organisation>> {
        self.index_docs(GSI1, keys::ORGS.into()).await
    }

    async fn profile(&self, org: &Cvr, id: Uuid) -> Result<Option<Profile>> {
        let item = self
            .get(keys::profile(&id.to_string()), keys::PROFILE_SK.into())
            .await?;
        match item {
            Some(it) if get_s(&it, "org") == Some(org.as_str()) => Ok(Some(from_doc(&it)?)),
            _ => Ok(None),
        }
    }

    async fn profiles(&self, org: &Cvr, query: &ProfileQuery) -> Result<Page<Profile>> {
        self.list_profiles(org, query).await
    }

    async fn certificate_in(&self, org: &Cvr, serial: &Serial) -> Result<Option<Certificate>> {
        // The serial item names the profile, not the organisation: read, then scope.
        Ok(self
            .certificate_any_org(serial)
            .await?
            .filter(|c| &c.org == org))
    }

    async fn certificate_any_org(&self, serial: &Serial) -> Result<Option<Certificate>> {
        let Some(pointer) = self
            .get(keys::serial(serial.as_str()), keys::SERIAL_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let Some(profile_id) = get_s(&pointer, "profile_id") else {
            return Err(DomainError::Internal(format!(
                "serial item {serial} names no profile"
            )));
        };
        self.get_doc(keys::profile(profile_id), &keys::cert_sk(serial.as_str()))
            .await
    }

    async fn certificates_of(&self, org: &Cvr, profile: Uuid) -> Result<Vec<Certificate>> {
        let mut certs = self.certificates_of_profile(profile).await?;
        certs.retain(|c| &c.org == org);
        Ok(certs)
    }

    async fn secret(&self, hash: &str) -> Result<Option<IssuanceSecret>> {
        self.get_doc(keys::secret(hash), keys::SECRET_SK).await
    }

    async fn secret_by_reference(&self, reference: &str) -> Result<Option<IssuanceSecret>> {
        let Some(guard) = self
            .get(keys::reference(reference), keys::REF_SK.into())
            .await?
        else {
            return Ok(None);
        };
        match get_s(&guard, "hash") {
            Some(hash) => self.secret(hash).await,
            None => Ok(None),
        }
    }

    async fn audit_export(&self, org: &Cvr) -> Result<Vec<AuditEvent>> {
        let items = self
            .partition(&keys::audit(org.as_str()), None, true)
            .await?;
        let mut events = items
            .iter()
            .map(from_doc::<AuditEvent>)
            .collect::<Result<Vec<_>>>()?;
        // The sort key is time order, which racing writers may not share with chain
        // order; legacy (unchained) events stay first in the order written (stable sort).
        events.sort_by_key(|e| e.seq.map_or((0, 0), |s| (1, s)));
        Ok(events)
    }

    async fn events(&self, org: &Cvr, after: u64, limit: u32) -> Result<Vec<LifecycleEvent>> {
        let limit = page_limit(limit) as usize;
        let query = Query {
            index: None,
            pk: keys::events(org.as_str()),
            sk_cond: Some(("#sk > :after", vec![(":after", s(keys::event_seq(after)))])),
            filter: None,
            forward: true,
            consistent: true,
        };
        self.docs_up_to(&query, limit).await
    }

    async fn undelivered_events(&self, limit: u32) -> Result<Vec<LifecycleEvent>> {
        let limit = page_limit(limit) as usize;
        let query = Query {
            index: None,
            pk: keys::EVENT_OUTBOX.into(),
            sk_cond: None,
            filter: None,
            forward: true,
            consistent: true,
        };
        self.docs_up_to(&query, limit).await
    }

    async fn mark_events_delivered(&self, events: &[LifecycleEvent]) -> Result<()> {
        for e in events {
            // Deleting the outbox entry is the mark; deleting a missing one is a no-op.
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(keys::EVENT_OUTBOX))
                .key(SK, s(keys::outbox_sk(e.at, e.org.as_str(), e.seq)?))
                .send()
                .await
                .map_err(|err| crate::error::sdk_error("DynamoDB DeleteItem", err))?;
        }
        Ok(())
    }

    async fn audit(&self, org: &Cvr, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEvent>> {
        self.list_audit(org, limit, cursor).await
    }

    async fn notifications(
        &self,
        org: &Cvr,
        recipient: &Email,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let limit = limit.min(orgcert_core::store_support::MAX_PAGE) as usize;
        if limit == 0 {
            return Ok(vec![]);
        }
        // ASCII folding, as `Email::matches` compares.
        let query = Query {
            index: None,
            pk: keys::notes(org.as_str(), &recipient.as_str().to_ascii_lowercase()),
            sk_cond: None,
            filter: None,
            forward: false,
            consistent: true,
        };
        self.docs_up_to(&query, limit).await
    }

    async fn idempotency(&self, org: &Cvr, key: &str) -> Result<Option<IdempotencyRecord>> {
        self.get_doc(keys::idempotency(org.as_str(), key), keys::IDEM_SK)
            .await
    }

    async fn revoked_certificates(&self) -> Result<Vec<Certificate>> {
        self.index_docs(GSI3, keys::status(CertStatus::Revoked.as_str()))
            .await
    }

    async fn certificates_by_status(
        &self,
        status: CertStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        let after = cursor
            .map(decode_serial_cursor)
            .transpose()?
            .map(|s| s.to_string());
        let limit = page_limit(limit) as usize;
        let query = Query {
            index: Some(GSI3),
            pk: keys::status(status.as_str()),
            sk_cond: after.map(|a| ("#sk > :after", vec![(":after", s(a))])),
            filter: None,
            forward: true,
            consistent: false,
        };
        let (certs, last) = self
            .page_of::<Certificate>(&query, limit, limit + 1)
            .await?;
        let next_cursor = certs
            .last()
            .filter(|_| last.is_some())
            .map(|c| encode_text_cursor(c.serial.as_str()));
        Ok(Page {
            items: certs,
            next_cursor,
        })
    }

    async fn expiring(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        let limit = page_limit(limit) as usize;
        let from = cursor.map(decode_expiry_cursor).transpose()?;
        if until <= after {
            return Ok(Page {
                items: vec![],
                next_cursor: None,
            });
        }
        // Sort keys are `<not_after>#<serial>` with hex serials: `~` sorts after every
        // serial, so `<t>#~` is just past every key at instant `t`.
        let hi = format!("{}#~", keys::ts(until)?);
        let mut lo = format!("{}#~", keys::ts(after)?);
        let mut first_month = after;
        if let Some((at, sk)) = &from {
            if *sk > lo {
                lo = sk.clone();
                first_month = *at;
            }
        }
        let mut items: Vec<Item> = Vec::new();
        for m in months(first_month, until)? {
            let query = Query {
                index: Some(GSI2),
                pk: keys::expiry(&m),
                sk_cond: Some((
                    "#sk BETWEEN :lo AND :hi",
                    vec![(":lo", s(lo.clone())), (":hi", s(hi.clone()))],
                )),
                filter: None,
                forward: true,
                consistent: false,
            };
            let want = limit + 2 - items.len();
            let page = self
                .query_up_to(&query, want, i32::try_from(want).unwrap_or(1000))
                .await?;
            // BETWEEN is inclusive: the cursor's own certificate was on the last page.
            items.extend(page.into_iter().filter(|it| {
                from.as_ref()
                    .is_none_or(|(_, sk)| get_s(it, GSI2.2) != Some(sk))
            }));
            if items.len() > limit {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let last_sk = items
            .last()
            .and_then(|it| get_s(it, GSI2.2))
            .map(str::to_owned);
        let certs = items
            .iter()
            .map(from_doc::<Certificate>)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items: certs,
            next_cursor: last_sk.filter(|_| more).map(|sk| encode_text_cursor(&sk)),
        })
    }

    async fn crl_state(&self, name: &str) -> Result<Option<CrlState>> {
        self.get_doc(keys::crl(name), keys::CRL_SK).await
    }

    async fn ocsp_record(&self, serial: &Serial) -> Result<Option<OcspRecord>> {
        if let Some(rec) = self.ocsp_cache.get(serial) {
            return Ok(Some(rec));
        }
        let seen = self.ocsp_cache.epoch();
        let rec: Option<OcspRecord> = self
            .get_doc(keys::serial(serial.as_str()), keys::OCSP_SK)
            .await?;
        if let Some(r) = &rec {
            self.ocsp_cache.insert(r, seen);
        }
        Ok(rec)
    }

    async fn directory(&self, q: &DirectoryQuery) -> Result<Vec<Certificate>> {
        let limit = directory_limit(q) as usize;
        let email = q.email.as_ref().map(|e| e.to_ascii_lowercase());
        // The most selective criterion picks the read; the others filter.
        let candidates: Vec<Certificate> = if let Some(serial) = &q.serial {
            self.certificate_any_org(serial)
                .await?
                .into_iter()
                .collect()
        } else if let Some(profile) = q.profile_id {
            self.certificates_of_profile(profile).await?
        } else {
            let (gsi, pk) = match (&email, &q.cvr) {
                (Some(e), _) => (GSI4, keys::dir_email(e)),
                (None, Some(cvr)) => (GSI1, keys::dir_org(cvr.as_str())),
                (None, None) => return Ok(vec![]),
            };
            let query = Query {
                index: Some(gsi),
                pk,
                sk_cond: None,
                filter: None,
                forward: false,
                consistent: false,
            };
            self.docs_up_to(&query, 10 * limit).await?
        };
        Ok(directory_answer(q, candidates))
    }

    async fn expired_secrets(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IssuanceSecret>> {
        let limit = page_limit(limit) as usize;
        // Sort keys are `<expires_at>#<hash>`: everything below `<before>` expired before it.
        let query = Query {
            index: Some(GSI3),
            pk: keys::SECRETS.into(),
            sk_cond: Some(("#sk < :before", vec![(":before", s(keys::ts(before)?))])),
            filter: None,
            forward: true,
            consistent: false,
        };
        self.docs_up_to(&query, limit).await
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        // Whatever the outcome, and if this future is dropped mid-flight too: a timed-out
        // or abandoned transaction may still have applied.
        let _invalidate = self.ocsp_cache.invalidate_on_drop(&writes);
        self.commit_writes(writes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn foreign_cursors_are_malformed() {
        for c in ["not a cursor!", "%%", "AAAA", "e30", "bnVsbA"] {
            assert!(decode_event_cursor(c).is_err(), "{c}");
            assert!(decode_expiry_cursor(c).is_err(), "{c}");
        }
    }

    #[test]
    fn months_span_year_ends() {
        let m = months(
            datetime!(2025-11-30 00:00 UTC),
            datetime!(2026-02-01 00:00 UTC),
        )
        .unwrap();
        assert_eq!(m, ["2025-11", "2025-12", "2026-01", "2026-02"]);
    }
}
