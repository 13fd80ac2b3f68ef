//! Item encoding: the whole record as a `doc` map (serde_dynamo), plus the copied-out
//! attributes that keys, conditions and filters use.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::Serialize;

use orgcert_core::error::{DomainError, Result};
use orgcert_core::model::{
    CertStatus, Certificate, IssuanceSecret, OcspRecord, Profile, SecretKind,
};
use time::OffsetDateTime;

use orgcert_core::store_support::search_text;

use super::commit::Cond;
use super::keys::{self, GSI1, GSI2, GSI3, GSI4, PK, SK};

/// The attribute the table's TimeToLiveSpecification names (`infra/template.yaml`).
pub(crate) const TTL: &str = "ttl";

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A string attribute of an item.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

pub(crate) fn to_doc<T: Serialize>(v: &T) -> Result<AttributeValue> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(v)
        .map_err(|e| DomainError::Internal(format!("cannot encode a record: {e}")))
}

pub(crate) fn from_doc<T: DeserializeOwned>(item: &Item) -> Result<T> {
    let doc = item
        .get("doc")
        .cloned()
        .ok_or_else(|| DomainError::Internal("an item without its record (doc)".into()))?;
    serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value(doc)
        .map_err(|e| DomainError::Internal(format!("corrupt record in the table: {e}")))
}

/// A new item with its primary key.
pub(crate) fn base(pk: String, sk: impl Into<String>) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    item
}

fn index(item: &mut Item, gsi: (&str, &str, &str), pk: String, sk: String) {
    item.insert(gsi.1.into(), s(pk));
    item.insert(gsi.2.into(), s(sk));
}

pub(crate) fn organisation_item(o: &orgcert_core::model::Organisation) -> Result<Item> {
    let cvr = o.cvr.as_str();
    let mut item = base(keys::org(cvr), keys::ORG_SK);
    item.insert("version".into(), n(o.version));
    item.insert("doc".into(), to_doc(o)?);
    index(&mut item, GSI1, keys::ORGS.into(), cvr.into());
    Ok(item)
}

pub(crate) fn profile_item(p: &Profile) -> Result<Item> {
    let id = p.id.to_string();
    let mut item = base(keys::profile(&id), keys::PROFILE_SK);
    item.insert("org".into(), s(p.org.as_str()));
    item.insert("version".into(), n(p.version));
    item.insert("kind".into(), s(p.kind.as_str()));
    item.insert("search".into(), s(search_text(p)));
    if let Some(l) = &p.latest {
        item.insert("latest_status".into(), s(l.status.as_str()));
        if let Some(na) = l.not_after {
            item.insert("latest_not_after".into(), s(keys::ts(na)?));
        }
    }
    item.insert("doc".into(), to_doc(p)?);
    let order = keys::profile_order(&p.name.as_str().to_lowercase(), &id);
    index(&mut item, GSI1, keys::profiles_of(p.org.as_str()), order);
    Ok(item)
}

/// The certificate item, in its profile's item collection.
pub(crate) fn certificate_item(c: &Certificate) -> Result<Item> {
    let serial = c.serial.as_str();
    let mut item = base(
        keys::profile(&c.profile_id.to_string()),
        keys::cert_sk(serial),
    );
    item.insert("org".into(), s(c.org.as_str()));
    item.insert("version".into(), n(c.version));
    item.insert("status".into(), s(c.status.as_str()));
    item.insert("doc".into(), to_doc(c)?);
    // Every certificate: by stored status, in serial order (CRL, OCSP refresh).
    index(
        &mut item,
        GSI3,
        keys::status(c.status.as_str()),
        serial.to_owned(),
    );
    // Issued certificates only: by expiry, sharded by month (renewal reminders).
    if let (CertStatus::Issued, Some(na)) = (c.status, c.not_after) {
        index(
            &mut item,
            GSI2,
            keys::expiry(&keys::month(na)?),
            format!("{}#{serial}", keys::ts(na)?),
        );
    }
    // Published, non-pending certificates only: the public directory by CVR and email.
    if c.snapshot.publish && c.status != CertStatus::Pending {
        let order = format!("{}#{serial}", keys::ts(c.ordered_at)?);
        index(
            &mut item,
            GSI1,
            keys::dir_org(c.org.as_str()),
            order.clone(),
        );
        if let Some(e) = &c.snapshot.certificate_email {
            index(
                &mut item,
                GSI4,
                keys::dir_email(&e.as_str().to_ascii_lowercase()),
                order,
            );
        }
    }
    Ok(item)
}

/// The serial's own item: makes serials unique across profiles and organisations and
/// finds a certificate's profile with a strongly consistent read.
pub(crate) fn serial_item(c: &Certificate) -> Item {
    let mut item = base(keys::serial(c.serial.as_str()), keys::SERIAL_SK);
    item.insert("org".into(), s(c.org.as_str()));
    item.insert("profile_id".into(), s(c.profile_id.to_string()));
    item
}

pub(crate) fn reference_of(sec: &IssuanceSecret) -> Option<&str> {
    match &sec.kind {
        SecretKind::OneTimeCode { reference, .. } => Some(reference.as_str()),
        SecretKind::Link => None,
    }
}

pub(crate) fn secret_item(sec: &IssuanceSecret) -> Result<Item> {
    let mut item = base(keys::secret(&sec.hash), keys::SECRET_SK);
    item.insert("org".into(), s(sec.org.as_str()));
    item.insert("version".into(), n(sec.version));
    item.insert("doc".into(), to_doc(sec)?);
    if let Some(r) = reference_of(sec) {
        item.insert("reference".into(), s(r));
    }
    item.insert(TTL.into(), ttl_at(secret_ttl(sec)));
    index(
        &mut item,
        GSI3,
        keys::SECRETS.into(),
        format!("{}#{}", keys::ts(sec.expires_at)?, sec.hash),
    );
    Ok(item)
}

/// The reference's own item: one reference finds one secret; it expires with it.
pub(crate) fn reference_item(reference: &str, sec: &IssuanceSecret) -> Item {
    let mut item = base(keys::reference(reference), keys::REF_SK);
    item.insert("hash".into(), s(sec.hash.as_str()));
    item.insert(TTL.into(), ttl_at(secret_ttl(sec)));
    item
}

/// Housekeeping deletes a secret a day past expiry (so a late click still reads
/// "expired"); DynamoDB's TTL is the backstop a day later, should the job not run.
fn secret_ttl(sec: &IssuanceSecret) -> OffsetDateTime {
    sec.expires_at + time::Duration::days(2)
}

/// How long an `Idempotency-Key` is remembered in DynamoDB (then TTL removes it and the
/// key may be used for a new request, as with any idempotency window).
pub(crate) const IDEMPOTENCY_RETENTION: time::Duration = time::Duration::days(30);

/// The idempotency record item, expiring [`IDEMPOTENCY_RETENTION`] after it was made.
pub(crate) fn idempotency_item(rec: &orgcert_core::model::IdempotencyRecord) -> Result<Item> {
    let mut it = base(keys::idempotency(rec.org.as_str(), &rec.key), keys::IDEM_SK);
    it.insert("doc".into(), to_doc(rec)?);
    it.insert(TTL.into(), ttl_at(rec.created_at + IDEMPOTENCY_RETENTION));
    Ok(it)
}

/// Epoch seconds as DynamoDB TTL wants them (a number attribute). DynamoDB deletes the
/// item some time after this instant, so readers still check expiry themselves.
pub(crate) fn ttl_at(at: OffsetDateTime) -> AttributeValue {
    AttributeValue::N(at.unix_timestamp().max(0).to_string())
}

/// Unix nanoseconds of a record time, so conditions compare instants.
fn nanos(at: OffsetDateTime) -> AttributeValue {
    AttributeValue::N(at.unix_timestamp_nanos().to_string())
}

/// The OCSP record item and the condition that makes records only move forward
/// (DESIGN §5a): "revoked" replaces any non-revoked record; otherwise only a newer
/// thisUpdate replaces, and a revoked record only by a revoked one.
pub(crate) fn ocsp_item(rec: &OcspRecord) -> Result<(Item, Cond)> {
    let mut it = base(keys::serial(rec.serial.as_str()), keys::OCSP_SK);
    it.insert("ocsp_status".into(), s(rec.status.as_str()));
    it.insert("this_update".into(), nanos(rec.this_update));
    it.insert("doc".into(), to_doc(rec)?);
    let revoked = rec.status == CertStatus::Revoked;
    let cond = Cond {
        expr: if revoked {
            "attribute_not_exists(PK) OR attribute_not_exists(#tu) OR #st <> :revoked OR #tu < :tu"
        } else {
            "attribute_not_exists(PK) OR attribute_not_exists(#tu) OR (#st <> :revoked AND #tu < :tu)"
        },
        names: vec![("#st", "ocsp_status"), ("#tu", "this_update")],
        values: vec![
            (":revoked", s(CertStatus::Revoked.as_str())),
            (":tu", nanos(rec.this_update)),
        ],
    };
    Ok((it, cond))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_index_constant_is_listed() {
        assert_eq!(keys::INDEXES.len(), 4);
        assert_eq!(GSI2.0, "gsi2");
        assert_eq!(GSI4.0, "gsi4");
    }
}
