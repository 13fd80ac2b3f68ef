//! One handler per operation: parse, call the use case, render. Each file mirrors the
//! `orgcert_core::app` file of its use cases; the local-only routes are in
//! `orgcert_local::site` (they need the embedded adapters). This file holds the
//! extractors (who is calling) and the parsing helpers they share.

pub mod activity;
pub mod certificates;
pub mod directory;
pub mod feed;
pub mod issuance;
pub mod machine;
pub mod ordering;
pub mod organisation;
pub mod profiles;
pub mod public;
pub mod status;

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgcert_core::app::{IdempotencyKey, IssueResult};
use orgcert_core::auth::{Actor, Machine};
use orgcert_core::ids::Serial;
use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::ClientCertificate;
use crate::problem::{ApiError, ApiResult};
use crate::routes::{MachineRight, Operation};
use crate::{views, HttpState};

/// The client address the rate limits count (never `X-Forwarded-For`; see [`crate::limit`]).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(crate::limit::client_addr(parts)))
    }
}

/// The authenticated caller: over mutual TLS the system certificate (a bearer token sent
/// along is ignored: the certificate is the caller), else the bearer token.
pub struct Caller(pub Actor);

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        if parts.extensions.get::<ClientCertificate>().is_some() {
            let MachineCaller(m) = MachineCaller::from_request_parts(parts, state).await?;
            return Ok(Caller(m.actor()));
        }
        Ok(Caller(state.auth.authenticate(parts)?))
    }
}

/// A system certificate over mutual TLS, allowed the operation of this route by its rights
/// (API.md "System certificates"). Refusals for want of a right are audited.
pub struct MachineCaller(pub Machine);

impl FromRequestParts<HttpState> for MachineCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        let Some(client) = parts.extensions.get::<ClientCertificate>().cloned() else {
            return Err(ApiError(DomainError::Unauthenticated(
                "this route takes a system certificate over mutual TLS (the listener on \
                 ORGCERT_MTLS_ADDR), not a bearer token"
                    .into(),
            )));
        };
        let (serial, fingerprint) = client.identify()?;
        let machine = state
            .app
            .authenticate_machine(&serial, &fingerprint)
            .await?;
        let op = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .and_then(|m| Operation::find(parts.method.as_str(), m.as_str()));
        let right = op.and_then(Operation::machine_right);
        let allowed = match right {
            Some(MachineRight::AdministrationApi) => machine.rights.administration_api,
            Some(MachineRight::IssuanceApi) => machine.rights.issuance_api,
            Some(MachineRight::Itself) => true,
            None => false,
        };
        if !allowed {
            let name = op.map_or("(no route)", Operation::name);
            let needed = right.map_or("a user's login", MachineRight::as_str);
            if let Err(e) = state
                .app
                .record_machine_refusal(&machine, name, needed)
                .await
            {
                // The refusal stands either way; only its record is missing.
                tracing::warn!(serial = %machine.serial, error = %e, "refused machine call not audited");
            }
            return Err(ApiError(DomainError::Forbidden(match right {
                Some(r) => format!(
                    "this system certificate does not have the right {}",
                    r.as_str()
                ),
                None => "this route is for people, not system certificates".into(),
            })));
        }
        Ok(MachineCaller(machine))
    }
}

fn malformed(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(DomainError::Malformed {
        field: Some(field.into()),
        message: message.into(),
    })
}

/// A UUID in its hyphenated form only (RFC 9562 §4), as the OpenAPI document says.
fn uuid(field: &str, s: &str) -> ApiResult<Uuid> {
    Some(s)
        .filter(|s| s.len() == 36)
        .and_then(|s| Uuid::try_parse(s).ok())
        .ok_or_else(|| {
            malformed(
                field,
                format!("{field} must be a UUID (8-4-4-4-12 hex digits)"),
            )
        })
}

fn profile_id(s: &str) -> ApiResult<Uuid> {
    uuid("id", s)
}

fn serial(s: &str) -> ApiResult<Serial> {
    Serial::parse(s).map_err(|m| malformed("serial", m))
}

fn idempotency(
    headers: &HeaderMap,
    op: Operation,
    path: &str,
    body: &[u8],
) -> ApiResult<Option<IdempotencyKey>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| malformed("Idempotency-Key", "must be visible ASCII"))?
        .to_owned();
    // The OpenAPI document's shape for the key, checked for every route that takes one.
    let b = key.as_bytes();
    if b.is_empty()
        || b.len() > 255
        || !b.iter().all(|c| (b' '..=b'~').contains(c))
        || b[0] == b' '
        || b[b.len() - 1] == b' '
    {
        return Err(ApiError(DomainError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )));
    }
    let mut h = Sha256::new();
    h.update(op.name().as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    Ok(Some(IdempotencyKey {
        key,
        request_hash: hex::encode(h.finalize()),
    }))
}

fn created(v: Value, replayed: bool) -> Response {
    let mut r = (StatusCode::CREATED, Json(v)).into_response();
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

fn order_response(state: &HttpState, r: &orgcert_core::app::OrderResult) -> Response {
    let replayed = matches!(r.delivery, orgcert_core::app::Delivery::Replayed);
    created(views::order(r, state.app.now()), replayed)
}

/// Any query parameter the operation's row does not list is a 400 naming it.
fn reject_unknown(q: &HashMap<String, String>, op: Operation) -> ApiResult<()> {
    let known = op.query();
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(malformed(
            k,
            format!(
                "unknown query parameter; expected one of {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn limit(q: &HashMap<String, String>, default: u32) -> ApiResult<u32> {
    q.get("limit").map_or(Ok(default), |l| {
        l.parse()
            .map_err(|_| malformed("limit", "limit must be a positive integer"))
    })
}

fn issued(s: &HttpState, r: IssueResult) -> Response {
    let v = json!({
        "serial": r.certificate.serial,
        "status": r.certificate.status_at(s.app.now()).as_str(),
        "not_before": r.certificate.not_before.map(views::rfc3339),
        "not_after": r.certificate.not_after.map(views::rfc3339),
        "fingerprint_sha256": r.certificate.fingerprint,
        "certificate_pem": r.certificate_pem,
        "chain_pem": r.chain_pem,
        // Shown once (DESIGN §4); the only place the password leaves its wrapper.
        "password": r.password.as_ref().map(|p| p.expose_secret()),
        "download_url": r.download_url,
    });
    created(v, false)
}

/// A body of `content_type` that HTTP caches may keep as `cache` says.
fn der(content_type: &'static str, bytes: Vec<u8>, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}
