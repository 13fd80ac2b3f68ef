//! The one error type of this crate.

/// Why a PKI operation failed; `Display` is a message a user can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The certificate signing request is not a well-formed, correctly self-signed PKCS#10 request.
    #[error("invalid certificate signing request: {reason}")]
    InvalidCsr {
        /// What is wrong with it.
        reason: String,
    },
    /// The key type or curve is not one this CA certifies.
    #[error("unsupported key: {reason}")]
    UnsupportedKey {
        /// Which key was seen and what is accepted.
        reason: String,
    },
    /// The key type is accepted but the key is too weak (e.g. RSA below 2048 bits).
    #[error("weak key: {reason}")]
    WeakKey {
        /// Why the key is refused.
        reason: String,
    },
    /// A field of a certificate specification breaks the certificate profile.
    #[error("invalid {field}: {reason}")]
    InvalidSpec {
        /// The field at fault (e.g. `name`, `email`, `serial`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An OCSP request is malformed or asks for something this responder does not support
    /// (answer `malformedRequest`, RFC 6960 §2.3).
    #[error("invalid OCSP request: {reason}")]
    InvalidOcsp {
        /// What is wrong with it.
        reason: String,
    },
    /// The CA signer failed or is misconfigured.
    #[error("CA signer error: {0}")]
    Signer(String),
    /// Encoding or decoding of DER/PEM/PKCS#12 failed.
    #[error("encoding error: {0}")]
    Encoding(String),
}

impl PkiError {
    pub(crate) fn spec(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSpec {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Self {
        Self::UnsupportedKey {
            reason: reason.into(),
        }
    }

    pub(crate) fn ocsp(reason: impl Into<String>) -> Self {
        Self::InvalidOcsp {
            reason: reason.into(),
        }
    }

    pub(crate) fn encoding(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Encoding(format!("{what}: {err}"))
    }
}
