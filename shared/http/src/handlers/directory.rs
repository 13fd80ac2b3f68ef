//! The public certificate directory (`orgcert_core::app` directory.rs).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgcert_core::ids::Serial;
use orgcert_core::DomainError;
use serde_json::{json, Value};

use super::{malformed, reject_unknown, serial, uuid};
use crate::problem::{ApiError, ApiResult};
use crate::routes::Operation;
use crate::{views, HttpState};

fn directory_view(
    c: &orgcert_core::model::Certificate,
    base: &str,
    now: time::OffsetDateTime,
) -> Value {
    let v = views::certificate(c, now);
    json!({
        "serial": c.serial, "profile_id": c.profile_id, "name": c.snapshot.name, "type": c.snapshot.kind,
        "cvr": c.org, "organisation": c.snapshot.organisation_name, "email": c.snapshot.certificate_email,
        "status": v["status"], "not_before": v["not_before"], "not_after": v["not_after"],
        "revoked_at": v["revoked_at"], "revocation_reason": v["revocation_reason"],
        "pem_url": format!("{base}/public/certificates/{}/certificate.pem", c.serial),
        "der_url": format!("{base}/public/certificates/{}/certificate.cer", c.serial),
    })
}

/// A CVR search term: not 8 digits is malformed (400); 8 digits that fail the modulus 11
/// check are a well-formed but invalid number (422), as in request bodies.
fn directory_cvr(v: &str) -> ApiResult<orgcert_core::ids::Cvr> {
    orgcert_core::ids::Cvr::parse(v).map_err(|m| {
        if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
            ApiError(DomainError::invalid("cvr", m))
        } else {
            malformed("cvr", m)
        }
    })
}

pub async fn public_certificates(
    State(s): State<HttpState>,
    parts: Parts,
) -> ApiResult<Json<Value>> {
    s.directory_limit.check(&parts)?;
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map_err(|_| malformed("query", "the query string could not be read"))?;
    reject_unknown(&q, Operation::PublicCertificates)?;
    // Empty values mean "not given" (HTML forms send them); others are taken as they are.
    let val = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let query = orgcert_core::ports::DirectoryQuery {
        serial: val("serial")
            .map(|v| Serial::parse(v).map_err(|m| malformed("serial", m)))
            .transpose()?,
        profile_id: val("uuid").map(|v| uuid("uuid", v)).transpose()?,
        email: val("email")
            .map(|v| {
                orgcert_core::ids::Email::parse(v)
                    .map(|e| e.to_string())
                    .map_err(|m| malformed("email", m))
            })
            .transpose()?,
        // Last: a checksum failure (422) must not hide a malformed parameter (400).
        cvr: val("cvr").map(directory_cvr).transpose()?,
        limit: 50,
    };
    let items = s.app.directory(query).await?;
    let now = s.app.now();
    let base = s.app.public_url().to_owned();
    Ok(Json(
        json!({ "items": items.iter().map(|c| directory_view(c, &base, now)).collect::<Vec<_>>() }),
    ))
}

pub async fn public_certificate_file(
    State(s): State<HttpState>,
    parts: Parts,
    Path((sn, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    s.directory_limit.check(&parts)?;
    let cert = s.app.directory_certificate(&serial(&sn)?).await?;
    let pem = cert.certificate_pem.unwrap_or_default();
    let disposition = |name: &str| format!("attachment; filename=\"{}-{name}\"", cert.serial);
    match file.as_str() {
        "certificate.pem" => Ok((
            [
                (header::CONTENT_TYPE, "application/x-pem-file".to_owned()),
                (header::CONTENT_DISPOSITION, disposition("certificate.pem")),
            ],
            pem,
        )
            .into_response()),
        "certificate.cer" => {
            use base64::Engine;
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| ApiError(DomainError::Internal(format!("stored PEM: {e}"))))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/pkix-cert".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition("certificate.cer")),
                ],
                der,
            )
                .into_response())
        }
        _ => Err(ApiError(DomainError::NotFound("file"))),
    }
}
