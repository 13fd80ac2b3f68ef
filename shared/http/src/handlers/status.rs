//! Revocation status: CRLs and OCSP (`orgcert_core::app` status.rs).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use orgcert_core::DomainError;

use super::der;
use crate::problem::{ApiError, ApiResult};
use crate::HttpState;

pub async fn crl(State(s): State<HttpState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-crl",
        s.app.crl(None).await?,
        "public, max-age=300",
    ))
}

pub async fn crl_partition(
    State(s): State<HttpState>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    // `{n}`: a partition of generation 1; `g{g}` and `g{g}.{n}`: the CRLs of a later issuing
    // CA generation (after `orgcert ca rollover`).
    let not_found = || ApiError(DomainError::NotFound("CRL partition"));
    let number = |t: &str| -> Result<u32, ApiError> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found());
        }
        t.parse().map_err(|_| not_found())
    };
    let (generation, partition) = match p.strip_prefix('g') {
        Some(rest) => match rest.split_once('.') {
            Some((g, n)) => (number(g)?, Some(number(n)?)),
            None => (number(rest)?, None),
        },
        None => (1, Some(number(&p)?)),
    };
    if generation < 2 && p.starts_with('g') {
        return Err(not_found());
    }
    Ok(der(
        "application/pkix-crl",
        s.app.generation_crl(generation, partition).await?,
        "public, max-age=300",
    ))
}

fn ocsp_answer(bytes: Vec<u8>) -> Response {
    // RFC 5019 §6: responses may be cached by HTTP caches; ours are short-lived.
    der("application/ocsp-response", bytes, "public, max-age=60")
}

pub async fn ocsp_get(State(s): State<HttpState>, Path(request): Path<String>) -> Response {
    use base64::Engine;
    // RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
    let b64: String = request.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&b64))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&b64))
        .unwrap_or_default();
    ocsp_answer(s.app.ocsp(&bytes).await)
}

pub async fn ocsp_post(
    State(s): State<HttpState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ct_ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/ocsp-request"));
    if !ct_ok || body.len() > 64 * 1024 {
        return ocsp_answer(s.app.ocsp(&[]).await);
    }
    ocsp_answer(s.app.ocsp(&body).await)
}
