//! RFC 9457 problem+json: every DomainError is mapped here, once.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use orgcert_core::{DomainError, FieldError};
use serde::Serialize;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    /// Status, type slug and title of an error.
    pub fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use DomainError as E;
        match &self.0 {
            E::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            E::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            E::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Invalid input",
            ),
            E::Malformed { .. } => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
            ),
            E::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Not allowed in the current state",
            ),
            E::StaleVersion(_) => (
                StatusCode::CONFLICT,
                "stale-version",
                "Changed by someone else",
            ),
            E::Gone(_) => (StatusCode::GONE, "gone", "No longer valid"),
            E::Locked(_) => (StatusCode::LOCKED, "locked", "Locked"),
            E::Throttled(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Too many requests",
            ),
            E::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use DomainError as E;
        let (status, slug, title) = self.classify();
        let mut malformed = Vec::new();
        let (detail, errors): (String, &[FieldError]) = match &self.0 {
            E::Invalid(errs) => (
                errs.iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                errs,
            ),
            E::Malformed { field, message } => {
                if let Some(f) = field {
                    malformed.push(FieldError::new(f.clone(), message.clone()));
                }
                (message.clone(), &malformed)
            }
            E::NotFound(what) => (format!("{what} not found"), &[]),
            E::Internal(cause) => {
                // The cause is for operators only.
                tracing::error!(cause = %cause, "internal error");
                ("an internal error occurred; it has been logged".into(), &[])
            }
            // A disabled, deleted or pending-deletion KMS key (orgcert_aws::error): retrying
            // will not help until an operator acts, so the answer says what is wrong.
            E::Unavailable(cause) if cause.contains("CA key unavailable") => {
                tracing::error!(cause = %cause, "CA key unavailable");
                (
                    "CA key unavailable: the CA cannot sign until an operator restores its key"
                        .into(),
                    &[],
                )
            }
            E::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "dependency unavailable");
                (
                    "a dependency is temporarily unavailable; try again shortly".into(),
                    &[],
                )
            }
            E::Unauthenticated(m)
            | E::Forbidden(m)
            | E::Conflict(m)
            | E::StaleVersion(m)
            | E::Gone(m)
            | E::Locked(m)
            | E::Throttled(m) => (m.clone(), &[]),
        };
        let body = Problem {
            kind: format!("urn:orgcert:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        resp
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
