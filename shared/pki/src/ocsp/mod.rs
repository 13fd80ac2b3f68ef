//! OCSP (RFC 6960, DESIGN §5): request parsing, signed responses from the CA key or a
//! delegated responder, unsigned error responses, and the delegated responder certificate.
//!
//! The ASN.1 is RustCrypto's `x509-ocsp` types encoded with `der`; signing goes through the
//! [`CaSigner`] seam, so a KMS key signs responses exactly as it signs certificates.
//!
//! One concept per file: `request` parses what a client asks, `response` signs and
//! encodes answers, `responder` issues and checks the delegated responder certificate.

mod request;
mod responder;
mod response;
#[cfg(test)]
mod tests;

use der::asn1::{Null, ObjectIdentifier};
use der::Any;
use orgcert_core::ports::OcspHash;
use sha2::Digest;
use time::OffsetDateTime;
use x509_cert::spki::AlgorithmIdentifierOwned;

pub use request::{cert_id_for, parse_ocsp_request, OcspRequestInfo};
pub use response::{ocsp_error_response, OcspSigner};

const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-pkix-ocsp-basic (RFC 6960 §4.2.1).
const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
const OID_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
const OID_OCSP_NOCHECK: &str = "1.3.6.1.5.5.7.48.1.5";

/// What OCSP encoding needs of core's CertID hash algorithm (RFC 6960 §4.1.1): its OID,
/// its digest and the order answers are pre-signed in. Pre-sign for SHA-1 at least:
/// RFC 5019 §2.1.1 clients send SHA-1 CertIDs (as `openssl ocsp` does by default).
pub(crate) trait OcspHashExt: Sized {
    /// All supported hash algorithms.
    const ALL: [OcspHash; 4];
    /// The algorithm's OID.
    fn oid(self) -> ObjectIdentifier;
    /// The algorithm `oid` names, if supported.
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self>;
    /// Output length in octets.
    fn output_len(self) -> usize;
    /// Hashes `data`.
    fn digest(self, data: &[u8]) -> Vec<u8>;
    /// The AlgorithmIdentifier written into a response's CertID.
    fn algorithm_identifier(self) -> AlgorithmIdentifierOwned;
}

impl OcspHashExt for OcspHash {
    const ALL: [OcspHash; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => OID_SHA1,
            Self::Sha256 => OID_SHA256,
            Self::Sha384 => OID_SHA384,
            Self::Sha512 => OID_SHA512,
        }
    }

    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.oid() == *oid)
    }

    fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// NULL parameters, as OpenSSL and Go write them (RFC 5754 §2 obliges readers to
    /// accept both forms).
    fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(Any::from(Null)),
        }
    }
}

/// One CertID of a request (RFC 6960 §4.1.1), or the one a response is signed for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertIdInfo {
    /// The hash algorithm of the two issuer hashes.
    pub hash_algorithm: OcspHash,
    /// Hash of the issuer's subject name (DER).
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's public key (the subjectPublicKey BIT STRING value).
    pub issuer_key_hash: Vec<u8>,
    /// The certificate serial, big-endian magnitude without leading zero octets.
    pub serial: Vec<u8>,
}

/// The status a response asserts for one certificate (RFC 6960 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspCertStatus {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When the CA processed the revocation.
        revoked_at: OffsetDateTime,
        /// RFC 5280 §5.3.1 CRLReason; `None` and `Some(0)` (unspecified) write no reason.
        reason_code: Option<u8>,
    },
    /// Not a certificate this CA knows of.
    Unknown,
}

/// The unsuccessful OCSPResponseStatus values (RFC 6960 §2.3, §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcspErrorStatus {
    /// The request does not parse or breaks the syntax.
    MalformedRequest,
    /// The responder is in an inconsistent internal state.
    InternalError,
    /// Temporarily unable to answer (e.g. the signer is throttled).
    TryLater,
    /// The responder is not authoritative for the certificate asked about.
    Unauthorized,
}
