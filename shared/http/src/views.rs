//! JSON shapes of the answers (API.md); status is always the effective one.

use orgcert_core::app::{Delivery, OrderResult};
use orgcert_core::model::{Certificate, Organisation, Profile};
use orgcert_core::secret::ExposeSecret as _;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn ts(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// An organisation.
pub fn organisation(o: &Organisation) -> Value {
    json!({
        "cvr": o.cvr, "name": o.name, "settings": o.settings,
        "p_numbers": o.p_numbers, "se_numbers": o.se_numbers, "version": o.version,
    })
}

/// A profile.
pub fn profile(p: &Profile, now: OffsetDateTime) -> Value {
    json!({
        "id": p.id, "type": p.kind, "name": p.name, "contact_email": p.contact_email,
        "certificate_email": p.certificate_email, "contact_name": p.contact_name,
        "p_number": p.p_number, "se_number": p.se_number, "ean": p.ean,
        "system_rights": p.system_rights, "seal_generation": p.seal_generation,
        "identification": p.identification, "issuing": p.issuing, "publish": p.publish,
        "key_algorithm": p.key_algorithm, "p12_format": p.p12_format,
        "status": p.status(now).map(|s| s.as_str()),
        "latest_serial": p.latest.as_ref().map(|l| l.serial.to_string()),
        "latest_not_after": ts(p.latest.as_ref().and_then(|l| l.not_after)),
        "created_at": ts(Some(p.created_at)), "updated_at": ts(Some(p.updated_at)),
        "version": p.version,
    })
}

/// A certificate (no secrets; PEM once issued).
pub fn certificate(c: &Certificate, now: OffsetDateTime) -> Value {
    json!({
        "serial": c.serial, "profile_id": c.profile_id, "type": c.snapshot.kind,
        "name": c.snapshot.name, "status": c.status_at(now).as_str(),
        "ordered_at": ts(Some(c.ordered_at)), "ordered_by": c.ordered_by,
        "renewal_of": c.renewal_of,
        "issuing": c.snapshot.issuing, "identification": c.snapshot.identification,
        "seal_generation": c.snapshot.seal_generation, "system_rights": c.snapshot.system_rights,
        "key_algorithm": c.snapshot.key_algorithm, "certificate_email": c.snapshot.certificate_email,
        "publish": c.snapshot.publish,
        "issued_at": ts(c.issued_at), "not_before": ts(c.not_before), "not_after": ts(c.not_after),
        "subject": c.subject, "fingerprint_sha256": c.fingerprint, "certificate_pem": c.certificate_pem,
        "revoked_at": ts(c.revoked_at), "revocation_reason": c.revocation_reason.map(|r| r.as_str()),
        "version": c.version,
    })
}

/// Adds how the order reaches the holder to an answer object.
pub fn delivery(obj: &mut Map<String, Value>, d: &Delivery) {
    match d {
        Delivery::Link { url } => {
            obj.insert("issuance_url".into(), json!(url));
        }
        Delivery::Mailed { to } => {
            obj.insert("mailed_to".into(), json!(to));
        }
        Delivery::Code {
            code,
            reference,
            mailed_to,
        } => {
            // Shown once, to the ordering administrator (API.md).
            obj.insert("one_time_code".into(), json!(code.expose_secret()));
            obj.insert("reference".into(), json!(reference));
            obj.insert("mailed_to".into(), json!(mailed_to));
        }
        Delivery::Api => {
            obj.insert("awaiting".into(), json!("api"));
        }
        Delivery::Replayed => {
            obj.insert("idempotent_replay".into(), json!(true));
        }
    }
}

/// The 201 answer of an order.
pub fn order(r: &OrderResult, now: OffsetDateTime) -> Value {
    let mut obj = Map::new();
    obj.insert("profile".into(), profile(&r.profile, now));
    obj.insert("certificate".into(), certificate(&r.certificate, now));
    delivery(&mut obj, &r.delivery);
    Value::Object(obj)
}

/// Formats a timestamp as RFC 3339.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
