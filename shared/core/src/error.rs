//! One domain error with coarse kinds, mapped once to HTTP by the http crate.

use serde::Serialize;

/// A validation problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Field name as the client sent it (JSON pointer-ish, e.g. `system_rights.local_idp`).
    pub field: String,
    /// Human readable reason.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every failure a use case can report; adapters translate their own errors into these.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// The caller is not authenticated (missing, malformed or expired credentials).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated but the role does not allow the action.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Unknown id, or an id of another organisation (never revealed as forbidden).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that parsed but breaks a rule, naming each field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Request that could not be read at all (malformed JSON, bad cursor...).
    #[error("malformed request: {message}")]
    Malformed {
        /// The field or part of the request at fault, when known.
        field: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// The action is not allowed in the current state (lifecycle, used secret...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Optimistic concurrency: the stored version differs from the one given.
    #[error("stale version: {0}")]
    StaleVersion(String),
    /// The issuance link or code has expired.
    #[error("gone: {0}")]
    Gone(String),
    /// Too many wrong one-time codes; the order is locked.
    #[error("locked: {0}")]
    Locked(String),
    /// Too many requests from this client; retry later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// A dependency (store, signer, object store, mailer) is unavailable; safe to retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupted data; logged, never shown to clients.
    #[error("internal: {0}")]
    Internal(String),
}

impl DomainError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

/// Result alias of the domain.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;
