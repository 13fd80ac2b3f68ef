//! Revocation status: CRLs and OCSP (`orgcert_core::app` status.rs).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
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

/// IMF-fixdate (RFC 9110 §5.6.7), by `httpdate` (a tenth of the cost of a general
/// `time` format description, on every OCSP answer); `None` outside 1970..=9999, which
/// `httpdate` cannot state.
fn http_date(t: time::OffsetDateTime) -> Option<HeaderValue> {
    if !(0..253_402_300_800).contains(&t.unix_timestamp()) {
        return None;
    }
    let text = httpdate::fmt_http_date(std::time::SystemTime::from(t));
    HeaderValue::from_str(&text).ok()
}

/// `Cache-Control` of a pre-signed answer with `max-age` 0..=[`OCSP_MAX_AGE`], made once
/// instead of formatted on every answer.
fn ocsp_cache_control(max_age: i64) -> HeaderValue {
    static VALUES: std::sync::OnceLock<Vec<HeaderValue>> = std::sync::OnceLock::new();
    let values = VALUES.get_or_init(|| {
        (0..=OCSP_MAX_AGE)
            .filter_map(|s| {
                HeaderValue::from_str(&format!(
                    "max-age={s}, public, no-transform, must-revalidate"
                ))
                .ok()
            })
            .collect()
    });
    let i = usize::try_from(max_age.clamp(0, OCSP_MAX_AGE)).unwrap_or(0);
    values.get(i).cloned().unwrap_or(HeaderValue::from_static(
        "max-age=0, public, no-transform, must-revalidate",
    ))
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
    h.insert(
        header::CACHE_CONTROL,
        ocsp_cache_control((p.next_update - now).whole_seconds()),
    );
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

/// Largest OCSP request read: one CertID with a nonce is about 120 octets.
const OCSP_REQUEST_LIMIT: usize = 64 * 1024;

pub async fn ocsp_post(State(s): State<HttpState>, request: axum::extract::Request) -> Response {
    // The request itself, not the `HeaderMap` and `Bytes` extractors: those copy the
    // headers on every answer.
    let ct_ok = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/ocsp-request"));
    let body = if ct_ok {
        axum::body::to_bytes(request.into_body(), OCSP_REQUEST_LIMIT)
            .await
            .ok()
    } else {
        None
    };
    // Another media type, a body over the limit or one that broke off: malformedRequest
    // (RFC 6960 §2.3), as for bytes that are no OCSPRequest.
    let body = body.unwrap_or_default();
    ocsp_answer(s.app.ocsp_answer(&body).await, s.app.now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn caching_headers_are_imf_fixdates_and_bounded_max_ages() {
        // RFC 9110 §5.6.7's own example.
        let t = datetime!(1994-11-06 8:49:37 UTC);
        assert_eq!(http_date(t).unwrap(), "Sun, 06 Nov 1994 08:49:37 GMT");
        // Another offset is stated in GMT.
        let t = datetime!(2026-01-04 1:00 +1);
        assert_eq!(http_date(t).unwrap(), "Sun, 04 Jan 2026 00:00:00 GMT");
        // Dates IMF-fixdate cannot carry are left out, not a panic.
        assert!(http_date(datetime!(1969-12-31 23:59:59 UTC)).is_none());
        assert!(http_date(datetime!(9999-12-31 23:59:59 UTC)).is_some());
        for (left, age) in [(-5, 0), (0, 0), (59, 59), (60, 60), (86_400, 60)] {
            assert_eq!(
                ocsp_cache_control(left),
                format!("max-age={age}, public, no-transform, must-revalidate").as_str()
            );
        }
    }
}
