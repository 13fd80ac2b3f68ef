//! Public documents: the CA and root certificates and the root CRL (`app/public.rs`), the
//! OpenAPI document, liveness.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use orgcert_core::DomainError;
use serde_json::{json, Value};

use super::der;
use crate::problem::{ApiError, ApiResult};
use crate::HttpState;

/// CA and root certificates change only at a rollover (effective at a restart), so HTTP
/// caches and a CDN in front (infra/README.md "CDN") may keep them an hour.
const CA_FILE_CACHE: &str = "public, max-age=3600";

pub async fn ca_pem(State(s): State<HttpState>) -> Response {
    der(
        "application/x-pem-file",
        s.app.ca_pem().into_bytes(),
        CA_FILE_CACHE,
    )
}

/// The caIssuers of the first issuing CA generation's certificates: that generation's
/// certificate while it serves, after a rollover too (the current one is in `ca.pem`).
pub async fn ca_cer(State(s): State<HttpState>) -> Response {
    let cert = s.app.ca_generation_der(1).unwrap_or_else(|| s.app.ca_der());
    der("application/pkix-cert", cert, CA_FILE_CACHE)
}

/// One issuing CA generation's certificate (the caIssuers of generation 2 on).
pub async fn ca_generation(
    State(s): State<HttpState>,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    let cert = (!g.is_empty() && g.len() <= 10 && g.bytes().all(|b| b.is_ascii_digit()))
        .then(|| g.parse::<u32>().ok())
        .flatten()
        .and_then(|g| s.app.ca_generation_der(g))
        .ok_or(ApiError(DomainError::NotFound("CA generation")))?;
    Ok(der("application/pkix-cert", cert, CA_FILE_CACHE))
}

pub async fn root_pem(State(s): State<HttpState>) -> Response {
    der(
        "application/x-pem-file",
        s.app.root_pem().into_bytes(),
        CA_FILE_CACHE,
    )
}

pub async fn root_cer(State(s): State<HttpState>) -> Response {
    der("application/pkix-cert", s.app.root_der(), CA_FILE_CACHE)
}

/// The root CRL is re-signed rarely (the root key is kept apart), so caches may keep it an hour.
pub async fn root_crl(State(s): State<HttpState>) -> ApiResult<Response> {
    let crl = s
        .app
        .root_crl()
        .ok_or(ApiError(DomainError::NotFound("root CRL")))?;
    Ok(der("application/pkix-crl", crl, "public, max-age=3600"))
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
