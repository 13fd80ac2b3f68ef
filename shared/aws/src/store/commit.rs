//! `Store::commit`: one `TransactWriteItems` per batch, a condition on every item.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use orgcert_core::audit_chain::{self, Head};
use orgcert_core::error::{DomainError, Result};
use orgcert_core::events;
use orgcert_core::ids::Email;
use orgcert_core::model::{IssuanceSecret, Notification};
use orgcert_core::ports::Write;

use super::item::{self, base, get_s, n, s, to_doc, Item};
use super::keys::{self, PK, SK};
use super::DynamoStore;
use crate::deadline::{self, Backoff};
use crate::error::{is_transient_code, sdk_error};
use rand::Rng;

/// DynamoDB's limit of items in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Plans of one batch when other commits keep extending the same audit chain first:
/// each round one of the racing commits wins, so this bounds the writers that may race
/// on one organisation before one gives up with `Unavailable`.
const CHAIN_ATTEMPTS: u32 = 64;

/// A condition expression with exactly the names and values it uses (DynamoDB refuses
/// unused ones).
pub(crate) struct Cond {
    pub(crate) expr: &'static str,
    pub(crate) names: Vec<(&'static str, &'static str)>,
    pub(crate) values: Vec<(&'static str, AttributeValue)>,
}

impl Cond {
    /// The item must not exist.
    fn absent() -> Self {
        Self {
            expr: "attribute_not_exists(PK)",
            names: vec![],
            values: vec![],
        }
    }
    /// The item must exist.
    fn present() -> Self {
        Self {
            expr: "attribute_exists(PK)",
            names: vec![],
            values: vec![],
        }
    }
    /// The stored version must be `v` (which implies the item exists).
    fn version(v: u64) -> Self {
        Self {
            expr: "#version = :expected",
            names: vec![("#version", "version")],
            values: vec![(":expected", n(v))],
        }
    }
    /// The stored version must be `v` and the item must belong to `org`: another
    /// organisation's item is never overwritten.
    fn version_in(v: u64, org: &str) -> Self {
        Self {
            expr: "#version = :expected AND #org = :org",
            names: vec![("#version", "version"), ("#org", "org")],
            values: vec![(":expected", n(v)), (":org", s(org))],
        }
    }
    /// `expected` as the port defines it: `None` = must not exist.
    fn expected(expected: Option<u64>) -> Self {
        expected.map_or_else(Self::absent, Self::version)
    }
    fn expected_in(expected: Option<u64>, org: &str) -> Self {
        match expected {
            None => Self::absent(),
            Some(v) => Self::version_in(v, org),
        }
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        })
    }
    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| {
            self.values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect()
        })
    }
}

/// One item operation of the transaction, with what to say when its condition fails.
pub(crate) struct Op {
    item: TransactWriteItem,
    key: (String, String),
    stale: String,
    /// Idempotent on its own (a read mark): a batch of only these may be split.
    splittable: bool,
    /// The audit chain head: its failed condition means another commit extended the
    /// chain first, and the batch is planned again on the new head.
    chain_head: bool,
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> DomainError {
    DomainError::Internal(format!("cannot build a DynamoDB request: {e}"))
}

fn key_of(item: &Item) -> (String, String) {
    (
        get_s(item, PK).unwrap_or_default().to_owned(),
        get_s(item, SK).unwrap_or_default().to_owned(),
    )
}

impl DynamoStore {
    fn put(&self, item: Item, cond: Cond, stale: String) -> Result<Op> {
        let key = key_of(&item);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond.expr)
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values())
            .build()
            .map_err(build_err)?;
        Ok(Op {
            item: TransactWriteItem::builder().put(put).build(),
            key,
            stale,
            splittable: false,
            chain_head: false,
        })
    }

    fn delete(&self, pk: String, sk: String, cond: Cond, stale: String) -> Result<Op> {
        let del = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(pk.clone()))
            .key(SK, s(sk.clone()))
            .condition_expression(cond.expr)
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values())
            .build()
            .map_err(build_err)?;
        Ok(Op {
            item: TransactWriteItem::builder().delete(del).build(),
            key: (pk, sk),
            stale,
            splittable: false,
            chain_head: false,
        })
    }

    /// Marks one stored notification read, in its `doc` map.
    fn mark_read(&self, pk: String, sk: String) -> Result<Op> {
        let upd = Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk.clone()))
            .key(SK, s(sk.clone()))
            .update_expression("SET #doc.#read = :true")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#doc", "doc")
            .expression_attribute_names("#read", "read")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .build()
            .map_err(build_err)?;
        Ok(Op {
            item: TransactWriteItem::builder().update(upd).build(),
            key: (pk, sk),
            stale: "a notification was removed meanwhile".into(),
            splittable: true,
            chain_head: false,
        })
    }

    /// Turns the port's writes into item operations, reading what the keys need first
    /// (strongly consistent reads; the conditions still guard every item).
    async fn plan(&self, writes: Vec<Write>) -> Result<Vec<Op>> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut ops = Vec::with_capacity(writes.len() + 2);
        // Per organisation: the head as stored (None: no head item yet) and as extended
        // by this batch's audit events.
        let mut heads: HashMap<String, (Option<Head>, Head)> = HashMap::new();
        for (idx, w) in writes.into_iter().enumerate() {
            match w {
                Write::PutOrganisation { org, expected } => {
                    let what = format!("organisation {}", org.cvr);
                    ops.push(self.put(
                        item::organisation_item(&org)?,
                        Cond::expected(expected),
                        stale_text(&what, expected),
                    )?);
                }
                Write::PutProfile { profile, expected } => {
                    let what = format!("certificate profile {}", profile.id);
                    ops.push(self.put(
                        item::profile_item(&profile)?,
                        Cond::expected_in(expected, profile.org.as_str()),
                        stale_text(&what, expected),
                    )?);
                }
                Write::PutCertificate { cert, expected } => {
                    let what = format!("certificate {}", cert.serial);
                    ops.push(self.put(
                        item::certificate_item(&cert)?,
                        Cond::expected_in(expected, cert.org.as_str()),
                        stale_text(&what, expected),
                    )?);
                    if expected.is_none() {
                        ops.push(self.put(
                            item::serial_item(&cert),
                            Cond::absent(),
                            format!("serial {} is already in use", cert.serial),
                        )?);
                    }
                }
                Write::DeleteCertificate { serial, expected } => {
                    let what = format!("certificate {serial}");
                    let pointer = self
                        .get(keys::serial(serial.as_str()), keys::SERIAL_SK.into())
                        .await?;
                    let Some(profile_id) = pointer
                        .as_ref()
                        .and_then(|p| get_s(p, "profile_id"))
                        .map(str::to_owned)
                    else {
                        return Err(DomainError::StaleVersion(format!(
                            "{what} (version {expected}) no longer exists"
                        )));
                    };
                    ops.push(self.delete(
                        keys::profile(&profile_id),
                        keys::cert_sk(serial.as_str()),
                        Cond::version(expected),
                        stale_text(&what, Some(expected)),
                    )?);
                    ops.push(self.delete(
                        keys::serial(serial.as_str()),
                        keys::SERIAL_SK.into(),
                        Cond::present(),
                        format!("{what} no longer exists"),
                    )?);
                }
                Write::PutSecret { secret, expected } => {
                    ops.push(self.put(
                        item::secret_item(&secret)?,
                        Cond::expected(expected),
                        stale_text("the issuance secret", expected),
                    )?);
                    if let Some(r) = item::reference_of(&secret) {
                        ops.push(self.reference_guard(r, &secret)?);
                    }
                }
                Write::DeleteSecret { hash } => {
                    let stored = self
                        .get(keys::secret(&hash), keys::SECRET_SK.into())
                        .await?;
                    if let Some(stored) = stored {
                        ops.push(self.delete(
                            keys::secret(&hash),
                            keys::SECRET_SK.into(),
                            Cond::present(),
                            "the issuance secret was removed meanwhile".into(),
                        )?);
                        if let Some(r) = get_s(&stored, "reference") {
                            ops.push(self.delete(
                                keys::reference(r),
                                keys::REF_SK.into(),
                                Cond {
                                    expr: "attribute_not_exists(PK) OR #hash = :hash",
                                    names: vec![("#hash", "hash")],
                                    values: vec![(":hash", s(hash.clone()))],
                                },
                                format!("reference number {r} moved meanwhile"),
                            )?);
                        }
                    }
                }
                Write::Audit(mut e) => {
                    let org = e.org.as_str().to_owned();
                    if !heads.contains_key(&org) {
                        let stored = self.audit_head(&org).await?;
                        heads.insert(
                            org.clone(),
                            (stored.clone(), stored.unwrap_or_else(Head::genesis)),
                        );
                    }
                    let Some((_, head)) = heads.get_mut(&org) else {
                        return Err(DomainError::Internal("audit head vanished".into()));
                    };
                    *head = audit_chain::link(&mut e, head)?;
                    let mut it = base(
                        keys::audit(e.org.as_str()),
                        keys::event_sk(e.at, nanos, idx, e.id)?,
                    );
                    it.insert("seq".into(), n(head.seq));
                    it.insert("doc".into(), to_doc(&e)?);
                    ops.push(self.put(it, Cond::absent(), "audit event collision".into())?);
                    // The lifecycle event of this change and its outbox entry, in the
                    // same transaction.
                    if let Some(ev) = events::from_audit(&e) {
                        let mut it = base(keys::events(&org), keys::event_seq(ev.seq));
                        it.insert("doc".into(), to_doc(&ev)?);
                        ops.push(self.put(it, Cond::absent(), "event collision".into())?);
                        let mut out = base(
                            keys::EVENT_OUTBOX.into(),
                            keys::outbox_sk(ev.at, &org, ev.seq)?,
                        );
                        out.insert("doc".into(), to_doc(&ev)?);
                        ops.push(self.put(out, Cond::absent(), "event collision".into())?);
                    }
                }
                Write::Notify(note) => {
                    ops.push(self.notification_put(&note, nanos, idx)?);
                }
                Write::MarkRead {
                    org,
                    recipient,
                    ids,
                } => {
                    for (pk, sk) in self.unread(org.as_str(), &recipient, &ids).await? {
                        ops.push(self.mark_read(pk, sk)?);
                    }
                }
                Write::PutCrlState { state, expected } => {
                    let mut it = base(keys::crl(&state.name), keys::CRL_SK);
                    it.insert("version".into(), n(state.version));
                    it.insert("doc".into(), to_doc(&state)?);
                    let what = format!("CRL {}", state.name);
                    ops.push(self.put(
                        it,
                        Cond::expected(expected),
                        stale_text(&what, expected),
                    )?);
                }
                Write::PutOcsp(rec) => {
                    let (it, cond) = item::ocsp_item(&rec)?;
                    ops.push(self.put(
                        it,
                        cond,
                        format!(
                            "the OCSP record of certificate {} is newer or states revoked",
                            rec.serial
                        ),
                    )?);
                }
                Write::Idempotency(rec) => {
                    ops.push(self.put(
                        item::idempotency_item(&rec)?,
                        Cond::absent(),
                        "the idempotency key was already used".into(),
                    )?);
                }
            }
        }
        for (org, (stored, head)) in heads {
            ops.push(self.audit_head_put(&org, stored.as_ref(), &head)?);
        }
        Ok(ops)
    }

    /// The organisation's stored audit chain head (None: nothing chained yet; audit
    /// events written before the chain existed stay a legacy prefix before seq 1).
    pub(crate) async fn audit_head(&self, org: &str) -> Result<Option<Head>> {
        let Some(it) = self
            .get(keys::audit_head(org), keys::AUDIT_HEAD_SK.into())
            .await?
        else {
            return Ok(None);
        };
        let seq = match it.get("seq") {
            Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
            _ => None,
        };
        match (seq, get_s(&it, "hash")) {
            (Some(seq), Some(hash)) => Ok(Some(Head {
                seq,
                hash: hash.to_owned(),
            })),
            _ => Err(DomainError::Internal(format!(
                "the audit chain head of organisation {org} is malformed"
            ))),
        }
    }

    /// Moves the head from `stored` to `head`, only if nobody moved it meanwhile.
    fn audit_head_put(&self, org: &str, stored: Option<&Head>, head: &Head) -> Result<Op> {
        let mut it = base(keys::audit_head(org), keys::AUDIT_HEAD_SK);
        it.insert("seq".into(), n(head.seq));
        it.insert("hash".into(), s(head.hash.clone()));
        let cond = match stored {
            None => Cond::absent(),
            Some(h) => Cond {
                expr: "#seq = :seq",
                names: vec![("#seq", "seq")],
                values: vec![(":seq", n(h.seq))],
            },
        };
        let mut op = self.put(
            it,
            cond,
            format!("the audit chain of organisation {org} moved meanwhile"),
        )?;
        op.chain_head = true;
        Ok(op)
    }

    /// A reference finds one secret: its item is created with the secret and may only
    /// be rewritten by the same secret.
    fn reference_guard(&self, reference: &str, secret: &IssuanceSecret) -> Result<Op> {
        self.put(
            item::reference_item(reference, secret),
            Cond {
                expr: "attribute_not_exists(PK) OR #hash = :hash",
                names: vec![("#hash", "hash")],
                values: vec![(":hash", s(secret.hash.clone()))],
            },
            format!("reference number {reference} is already in use"),
        )
    }

    fn notification_put(&self, note: &Notification, nanos: u128, idx: usize) -> Result<Op> {
        let rcpt = note.recipient.as_str().to_ascii_lowercase();
        let mut it = base(
            keys::notes(note.org.as_str(), &rcpt),
            keys::event_sk(note.at, nanos, idx, note.id)?,
        );
        it.insert("id".into(), s(note.id.to_string()));
        it.insert("doc".into(), to_doc(note)?);
        self.put(it, Cond::absent(), "notification collision".into())
    }

    /// Keys of a user's unread notifications (`ids` empty: all of them).
    async fn unread(
        &self,
        org: &str,
        recipient: &Email,
        ids: &[uuid::Uuid],
    ) -> Result<Vec<(String, String)>> {
        let pk = keys::notes(org, &recipient.as_str().to_ascii_lowercase());
        let wanted: HashSet<String> = ids.iter().map(ToString::to_string).collect();
        let items = self.partition(&pk, None, true).await?;
        let mut out = Vec::new();
        for it in items {
            let note: Notification = item::from_doc(&it)?;
            if note.read || !(wanted.is_empty() || wanted.contains(&note.id.to_string())) {
                continue;
            }
            out.push(key_of(&it));
        }
        Ok(out)
    }

    /// Applies the writes atomically.
    pub(crate) async fn commit_writes(&self, writes: Vec<Write>) -> Result<()> {
        let chained = writes.iter().any(|w| matches!(w, Write::Audit(_)));
        if !chained {
            return self.commit_planned(self.plan(writes).await?).await;
        }
        // Re-planning is bounded by count and by the deadline, like every retry here.
        let deadline = deadline::effective();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.commit_planned(self.plan(writes.clone()).await?).await {
                Err(DomainError::StaleVersion(m))
                    if m == CHAIN_MOVED
                        && attempt < CHAIN_ATTEMPTS
                        && deadline.saturating_duration_since(Instant::now())
                            > deadline::ATTEMPT_MARGIN =>
                {
                    // Another commit extended the chain first: link again on its head.
                    let base = 5u64 << attempt.min(5);
                    let jitter = rand::thread_rng().gen_range(0..base);
                    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                }
                Err(DomainError::StaleVersion(m)) if m == CHAIN_MOVED => {
                    return Err(DomainError::Unavailable(
                        "the audit chain kept moving under concurrent commits; try again".into(),
                    ))
                }
                other => return other,
            }
        }
    }

    async fn commit_planned(&self, ops: Vec<Op>) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::new();
        if let Some(dup) = ops.iter().find(|o| !seen.insert(&o.key)) {
            return Err(DomainError::Internal(format!(
                "one batch writes the item {:?} twice",
                dup.key
            )));
        }
        if ops.len() <= MAX_TRANSACTION_ITEMS {
            return self.transact(ops).await;
        }
        // Marking many notifications read is idempotent item by item, so it may run as
        // several transactions; anything else must fit one.
        if ops.iter().all(|o| o.splittable) {
            let mut ops = ops;
            while !ops.is_empty() {
                let rest = ops.split_off(ops.len().min(MAX_TRANSACTION_ITEMS));
                self.transact(std::mem::replace(&mut ops, rest)).await?;
            }
            return Ok(());
        }
        Err(DomainError::Internal(format!(
            "a batch of {} items exceeds DynamoDB's transaction limit of {MAX_TRANSACTION_ITEMS}",
            ops.len()
        )))
    }

    async fn transact(&self, ops: Vec<Op>) -> Result<()> {
        // A failed chain head condition is reported as [`CHAIN_MOVED`], which
        // `commit_writes` answers by planning again (never seen by callers).
        let stale: Vec<String> = ops
            .iter()
            .map(|o| {
                if o.chain_head {
                    CHAIN_MOVED.to_owned()
                } else {
                    o.stale.clone()
                }
            })
            .collect();
        let items: Vec<TransactWriteItem> = ops.into_iter().map(|o| o.item).collect();
        // Conflicts and throttling are retried for as long as the deadline allows (not a
        // count: the SDK's own retries run inside each attempt), with jittered backoff.
        let deadline = deadline::effective();
        let mut backoff = Backoff::until(deadline);
        loop {
            // The token makes the SDK's own retries (timeouts, 5xx) idempotent: a
            // transaction that did commit before its answer was lost is not applied
            // twice, and is not reported as a failed condition either.
            let token = uuid::Uuid::new_v4().to_string();
            let res = deadline::attempt(
                "DynamoDB TransactWriteItems",
                deadline,
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(token)
                    .send(),
            )
            .await?;
            let err = match res {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            match classify(&err, &stale) {
                Outcome::Stale(msg) => return Err(DomainError::StaleVersion(msg)),
                Outcome::Retry if backoff.wait().await => {}
                Outcome::Retry => {
                    return Err(DomainError::Unavailable(format!(
                    "DynamoDB transaction kept conflicting or throttling until the deadline: {}",
                    DisplayErrorContext(&err)
                )))
                }
                Outcome::Other => return Err(sdk_error("DynamoDB TransactWriteItems", err)),
            }
        }
    }
}

enum Outcome {
    Stale(String),
    Retry,
    Other,
}

fn classify(err: &SdkError<TransactWriteItemsError>, stale: &[String]) -> Outcome {
    let Some(TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error()
    else {
        return Outcome::Other;
    };
    let reasons = tc.cancellation_reasons();
    if let Some(i) = reasons
        .iter()
        .position(|r| r.code() == Some("ConditionalCheckFailed"))
    {
        return Outcome::Stale(
            stale
                .get(i)
                .cloned()
                .unwrap_or_else(|| "an item was changed by someone else".into()),
        );
    }
    if reasons.is_empty()
        && tc
            .message()
            .is_some_and(|m| m.contains("ConditionalCheckFailed"))
    {
        return Outcome::Stale("an item was changed by someone else".into());
    }
    let retry = reasons.iter().any(|r| {
        matches!(
            r.code(),
            Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
        ) || r.code().is_some_and(is_transient_code)
    });
    if retry {
        Outcome::Retry
    } else {
        Outcome::Other
    }
}

/// The internal "stale" text of a failed audit chain head condition.
const CHAIN_MOVED: &str = "\u{0}audit chain head moved";

/// What a failed condition means, in the words of the SQLite store.
fn stale_text(what: &str, expected: Option<u64>) -> String {
    match expected {
        None => format!("{what} already exists"),
        Some(e) => {
            format!("{what} was changed by someone else or no longer exists (expected version {e})")
        }
    }
}
