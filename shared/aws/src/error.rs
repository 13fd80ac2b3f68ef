//! SDK errors mapped once to domain kinds.
//!
//! The SDK already retries throttling, 5xx and transport failures with backoff (standard
//! retry mode, see [`crate::sdk_config`]); what reaches this mapping has exhausted those
//! retries, so it is `Unavailable` (a 503 problem+json, safe to retry) unless it is a bug
//! on our side (`Internal`). Access denied is `Unavailable` too: it is an operator problem
//! (a policy or key grant), never the caller's, and retrying after the fix succeeds.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use orgcert_core::DomainError;

/// Error codes that mean "we sent something the service cannot accept": a bug.
const BUG_CODES: &[&str] = &[
    "ValidationException",
    "SerializationException",
    "InvalidParameterValue",
    "InvalidParameterException",
    "InvalidArgument",
    "MalformedXML",
    "BadRequestException",
];

/// Error codes of throttling and transient service failures.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSInternalException",
    "TransactionInProgressException",
];

/// KMS error codes of a key that cannot sign until an operator acts (disabled, pending
/// deletion, deleted, wrong region or a custom key store that is disconnected): never
/// retried, answered at once as "CA key unavailable" (a 503 whose cause names the code).
const KEY_UNAVAILABLE_CODES: &[&str] = &[
    "KMSInvalidStateException",
    "DisabledException",
    "NotFoundException",
    "KeyUnavailableException",
];

/// The marker [`sdk_error`] puts first in the cause of a permanent KMS key state; the
/// HTTP problem names it (`orgcert_http::problem`).
pub const CA_KEY_UNAVAILABLE: &str = "CA key unavailable";

/// Whether a service error code is throttling or a transient failure.
pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Maps any SDK error to a domain error; `what` names the operation for the logs.
pub fn sdk_error<E, R>(what: &str, err: SdkError<E, R>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = format!("{what}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::ConstructionFailure(_) => DomainError::Internal(detail),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            tracing::warn!(error = %detail, "AWS call failed after retries");
            DomainError::Unavailable(detail)
        }
        SdkError::ServiceError(ctx) => match ctx.err().code() {
            Some(code) if BUG_CODES.contains(&code) => DomainError::Internal(detail),
            Some(code) if what.starts_with("KMS") && KEY_UNAVAILABLE_CODES.contains(&code) => {
                tracing::error!(error = %detail, "the CA key cannot sign until an operator acts");
                DomainError::Unavailable(format!("{CA_KEY_UNAVAILABLE}: {detail}"))
            }
            _ => {
                tracing::warn!(error = %detail, "AWS service error");
                DomainError::Unavailable(detail)
            }
        },
        _ => DomainError::Unavailable(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_are_transient() {
        for c in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "SlowDown",
        ] {
            assert!(is_transient_code(c), "{c}");
        }
        assert!(!is_transient_code("ConditionalCheckFailed"));
        assert!(!is_transient_code("ValidationException"));
        for c in KEY_UNAVAILABLE_CODES {
            assert!(!is_transient_code(c), "{c} is permanent");
        }
    }
}
