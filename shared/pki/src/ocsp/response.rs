//! OCSP responses (RFC 6960 §4.2): signed answers from the CA key or a delegated
//! responder, and unsigned error statuses.

use std::fmt;
use std::sync::Arc;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Any, Encode};
use orgcert_core::ports::OcspHash;
use time::OffsetDateTime;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspResponse, OcspResponseStatus,
    ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::{
    CertIdInfo, OcspCertStatus, OcspErrorStatus, OcspHashExt, OID_OCSP_BASIC, OID_OCSP_NONCE,
};
use crate::crl::MAX_UPDATE_INTERVAL;
use crate::signer::verify_signed_der;
use crate::validate;
use crate::{Authority, CaSigner, KeyAlgorithm, PkiError};

const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// An unsigned error response (RFC 6960 §2.3): `OCSPResponse { responseStatus }` without
/// responseBytes.
pub fn ocsp_error_response(status: OcspErrorStatus) -> Vec<u8> {
    let response_status = match status {
        OcspErrorStatus::MalformedRequest => OcspResponseStatus::MalformedRequest,
        OcspErrorStatus::InternalError => OcspResponseStatus::InternalError,
        OcspErrorStatus::TryLater => OcspResponseStatus::TryLater,
        OcspErrorStatus::Unauthorized => OcspResponseStatus::Unauthorized,
    };
    let response = OcspResponse {
        response_status,
        response_bytes: None,
    };
    // SEQUENCE { ENUMERATED n }: five octets, nothing that can fail to encode.
    response
        .to_der()
        .unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, response_status as u8])
}

/// Signs OCSP responses for one CA: with the CA key itself, or as a delegated responder
/// (RFC 6960 §4.2.2.2).
#[derive(Clone)]
pub struct OcspSigner {
    pub(super) signer: Arc<dyn CaSigner>,
    /// The signing key's SubjectPublicKeyInfo, to check every signature.
    pub(super) signer_spki: Vec<u8>,
    /// ResponderID byKey: SHA-1 of the signer's subjectPublicKey (RFC 6960 §4.2.1).
    pub(super) responder_key_hash: Vec<u8>,
    /// The delegated responder certificate, sent in `certs`; `None` when the CA signs.
    pub(super) responder: Option<Responder>,
    /// (hash, issuerNameHash, issuerKeyHash) of the CA under every supported hash.
    pub(super) issuer_hashes: Vec<(OcspHash, Vec<u8>, Vec<u8>)>,
}

#[derive(Clone)]
pub(super) struct Responder {
    pub(super) cert: Certificate,
    pub(super) not_before: i64,
    pub(super) not_after: i64,
}

impl fmt::Debug for OcspSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcspSigner")
            .field("algorithm", &self.signer.algorithm())
            .field("delegated", &self.responder.is_some())
            .field("responder_key_hash", &hex::encode(&self.responder_key_hash))
            .finish_non_exhaustive()
    }
}

impl OcspSigner {
    /// Responses signed by the CA key itself (RFC 6960 §4.2.2.2, first case).
    pub fn ca(authority: &Authority) -> Self {
        let key = authority.ca_key();
        Self {
            signer: authority.signer().clone(),
            signer_spki: key.spki_der().to_vec(),
            responder_key_hash: OcspHash::Sha1.digest(key.raw()),
            responder: None,
            issuer_hashes: issuer_hashes(authority),
        }
    }

    /// The delegated responder certificate's validity (unix seconds), `None` when the CA signs.
    pub fn responder_validity(&self) -> Option<(i64, i64)> {
        self.responder.as_ref().map(|r| (r.not_before, r.not_after))
    }

    /// Whether signing a response is quick enough for an async task ([`CaSigner::quick`]):
    /// true for the delegated P-256 responders orgcert mints.
    pub fn quick(&self) -> bool {
        self.signer.quick()
    }

    /// Does this CertID name our CA (issuer name hash + key hash under its hash algorithm)?
    pub fn is_our_issuer(&self, id: &CertIdInfo) -> bool {
        self.issuer_hashes.iter().any(|(hash, name, key)| {
            *hash == id.hash_algorithm && *name == id.issuer_name_hash && *key == id.issuer_key_hash
        })
    }

    /// One signed OCSPResponse (successful, BasicOCSPResponse, responderID byKey, one
    /// SingleResponse for `id`), optional nonce echoed; includes the responder cert in `certs`
    /// when delegated. The signature is verified before the response leaves.
    ///
    /// # Errors
    /// `InvalidSpec` before the signer is called: `cert_id` (names another CA: answer
    /// `unauthorized`, RFC 6960 §2.3), `serial`, `next_update` (not after `this_update` or more
    /// than 10 days later), `reason_code` (not a CRLReason, or removeFromCRL),
    /// `responder_certificate` (not valid at `produced_at`), or a time before 1970.
    /// `Signer` if signing fails or the signature does not verify.
    pub fn sign_response(
        &self,
        id: &CertIdInfo,
        status: &OcspCertStatus,
        produced_at: OffsetDateTime,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, PkiError> {
        if !self.is_our_issuer(id) {
            return Err(PkiError::spec(
                "cert_id",
                "names another issuer; answer unauthorized (RFC 6960 §2.3)",
            ));
        }
        let serial = validate::serial_magnitude("serial", &id.serial)?;
        let interval = next_update.unix_timestamp() - this_update.unix_timestamp();
        if interval <= 0 || interval > MAX_UPDATE_INTERVAL.whole_seconds() {
            return Err(PkiError::spec(
                "next_update",
                "must be after this_update and at most 10 days later",
            ));
        }
        if let Some(responder) = &self.responder {
            let at = produced_at.unix_timestamp();
            if at < responder.not_before || at > responder.not_after {
                return Err(PkiError::spec(
                    "responder_certificate",
                    "is not valid at produced_at",
                ));
            }
        }
        let cert_status = match *status {
            OcspCertStatus::Good => CertStatus::good(),
            OcspCertStatus::Unknown => CertStatus::unknown(),
            OcspCertStatus::Revoked {
                revoked_at,
                reason_code,
            } => CertStatus::Revoked(RevokedInfo {
                revocation_time: generalized("revoked_at", revoked_at)?,
                // Like the CRL (RFC 5280 §5.3.1), say nothing rather than "unspecified".
                revocation_reason: match reason_code {
                    None | Some(0) => None,
                    Some(code) => Some(ocsp_reason(code)?),
                },
            }),
        };
        let encoding = |e: der::Error| PkiError::encoding("OCSP response", e);
        let cert_id = CertId {
            hash_algorithm: id.hash_algorithm.algorithm_identifier(),
            issuer_name_hash: OctetString::new(id.issuer_name_hash.clone()).map_err(encoding)?,
            issuer_key_hash: OctetString::new(id.issuer_key_hash.clone()).map_err(encoding)?,
            serial_number: SerialNumber::new(&serial)
                .map_err(|e| PkiError::spec("serial", e.to_string()))?,
        };
        let response_extensions = match nonce {
            None => None,
            // RFC 8954 §2.1: the extnValue holds the DER of the Nonce OCTET STRING.
            Some(octets) => {
                let value = OctetString::new(octets)
                    .and_then(|n| n.to_der())
                    .map_err(encoding)?;
                Some(vec![Extension {
                    extn_id: OID_OCSP_NONCE,
                    critical: false,
                    extn_value: OctetString::new(value).map_err(encoding)?,
                }])
            }
        };
        let tbs = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(
                OctetString::new(self.responder_key_hash.clone()).map_err(encoding)?,
            ),
            produced_at: generalized("produced_at", produced_at)?,
            responses: vec![SingleResponse {
                cert_id,
                cert_status,
                this_update: generalized("this_update", this_update)?,
                next_update: Some(generalized("next_update", next_update)?),
                single_extensions: None,
            }],
            response_extensions,
        };
        let tbs_der = tbs.to_der().map_err(encoding)?;
        let (signature, signature_algorithm) = if crate::pss::uses_pss(self.signer.as_ref()) {
            (
                self.signer.sign_pss(&tbs_der)?,
                crate::pss::pss_algorithm_identifier()?,
            )
        } else {
            (
                self.signer.sign(&tbs_der)?,
                signature_algorithm(self.signer.algorithm()),
            )
        };
        let basic = BasicOcspResponse {
            tbs_response_data: tbs,
            signature_algorithm,
            signature: BitString::from_bytes(&signature).map_err(encoding)?,
            certs: self.responder.as_ref().map(|r| vec![r.cert.clone()]),
        };
        let basic_der = basic.to_der().map_err(encoding)?;
        verify_signed_der(&basic_der, &self.signer_spki)?;
        OcspResponse {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: OID_OCSP_BASIC,
                response: OctetString::new(basic_der).map_err(encoding)?,
            }),
        }
        .to_der()
        .map_err(encoding)
    }
}

pub(super) fn issuer_hashes(authority: &Authority) -> Vec<(OcspHash, Vec<u8>, Vec<u8>)> {
    OcspHash::ALL
        .into_iter()
        .map(|hash| {
            (
                hash,
                hash.digest(authority.ca_subject_der()),
                hash.digest(authority.ca_key().raw()),
            )
        })
        .collect()
}

/// sha256WithRSAEncryption with NULL parameters (RFC 4055 §5), or ECDSA with absent
/// parameters (RFC 5758 §3.2) — what [`CaSigner::sign`] produces for each key.
fn signature_algorithm(alg: KeyAlgorithm) -> AlgorithmIdentifierOwned {
    match alg {
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => AlgorithmIdentifierOwned {
            oid: OID_SHA256_WITH_RSA,
            parameters: Some(Any::from(Null)),
        },
        KeyAlgorithm::EcdsaP256 => AlgorithmIdentifierOwned {
            oid: OID_ECDSA_WITH_SHA256,
            parameters: None,
        },
        KeyAlgorithm::EcdsaP384 => AlgorithmIdentifierOwned {
            oid: OID_ECDSA_WITH_SHA384,
            parameters: None,
        },
    }
}

/// GeneralizedTime at one-second precision (RFC 6960 §4.2.2.1 refers to RFC 5280
/// §4.1.2.5.2: no fractional seconds).
fn generalized(field: &'static str, at: OffsetDateTime) -> Result<OcspGeneralizedTime, PkiError> {
    let seconds = u64::try_from(at.unix_timestamp())
        .map_err(|_| PkiError::spec(field, "must not be before 1970"))?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .map(OcspGeneralizedTime)
        .map_err(|e| PkiError::spec(field, e.to_string()))
}

/// The CRLReason of a revoked response, refused and accepted as in CRLs (`crl_reason`).
fn ocsp_reason(code: u8) -> Result<CrlReason, PkiError> {
    crate::crl::crl_reason(code).map_err(|reason| PkiError::spec("reason_code", reason))?;
    // x509-cert's CrlReason carries the RFC 5280 §5.3.1 numbers as its discriminants.
    CrlReason::try_from(u32::from(code)).map_err(|e| PkiError::spec("reason_code", e.to_string()))
}
