//! Revocation status: CRLs and OCSP (`orgcert_core::app` status.rs).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use orgcert_core::app::OcspAnswer;
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

/// Most seconds an HTTP cache may keep a pre-signed answer: a revocation replaces it at
/// once here, so caches must not stretch the old one much further.
const OCSP_MAX_AGE: i64 = 60;

/// IMF-fixdate (RFC 9110 §5.6.7).
const HTTP_DATE: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

fn http_date(t: time::OffsetDateTime) -> Option<HeaderValue> {
    let text = t.to_offset(time::UtcOffset::UTC).format(HTTP_DATE).ok()?;
    HeaderValue::from_str(&text).ok()
}

/// An OCSP answer with RFC 5019 §6.2 caching headers: a pre-signed response may be kept
/// by HTTP caches (`max-age` at most [`OCSP_MAX_AGE`] and never past its nextUpdate,
/// `ETag`, `Last-Modified` = thisUpdate, `Expires` = nextUpdate); one signed for this
/// request (it may echo a nonce) or an error status is not for shared caches.
fn ocsp_answer(answer: OcspAnswer, now: time::OffsetDateTime) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/ocsp-response")],
        answer.der,
    )
        .into_response();
    let h = resp.headers_mut();
    let Some(p) = answer.presigned else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return resp;
    };
    let max_age = (p.next_update - now).whole_seconds().clamp(0, OCSP_MAX_AGE);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "max-age={max_age}, public, no-transform, must-revalidate"
    )) {
        h.insert(header::CACHE_CONTROL, v);
    }
    // The URL names the certificate and CertID hash; its record is named by thisUpdate and
    // status, so this identifies the bytes without hashing them on every request.
    let tag = format!(
        "\"{:x}{}\"",
        p.this_update.unix_timestamp_nanos(),
        if p.revoked { "r" } else { "g" }
    );
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = http_date(p.this_update) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Some(v) = http_date(p.next_update) {
        h.insert(header::EXPIRES, v);
    }
    resp
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
    ocsp_answer(s.app.ocsp_answer(&bytes).await, s.app.now())
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
        return ocsp_answer(s.app.ocsp_answer(&[]).await, s.app.now());
    }
    ocsp_answer(s.app.ocsp_answer(&body).await, s.app.now())
}
