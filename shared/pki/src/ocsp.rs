//! OCSP (RFC 6960, DESIGN §5): request parsing, signed responses from the CA key or a
//! delegated responder, unsigned error responses, and the delegated responder certificate.
//!
//! The ASN.1 is RustCrypto's `x509-ocsp` types encoded with `der`; signing goes through the
//! [`CaSigner`] seam, so a KMS key signs responses exactly as it signs certificates.

use std::fmt;
use std::sync::Arc;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Tag, Tagged};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa,
    KeyIdMethod, KeyUsagePurpose,
};
use sha2::Digest;
use time::OffsetDateTime;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse,
    Version,
};
use x509_parser::parse_x509_certificate;

use crate::ca::printable;
use crate::crl::MAX_UPDATE_INTERVAL;
use crate::signer::{verify_cert_signature, verify_signed_der, RcgenSigner};
use crate::validate::{self, UB_NAME};
use crate::{ext, Authority, CaSigner, IssuedCert, KeyAlgorithm, PkiError, SubjectPublicKey};

const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-pkix-ocsp-basic (RFC 6960 §4.2.1).
const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
const OID_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-response, AcceptableResponses (RFC 6960 §4.4.3).
const OID_OCSP_RESPONSE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.4");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
const OID_OCSP_NOCHECK: &str = "1.3.6.1.5.5.7.48.1.5";
const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// X.520 attribute types copied from the CA subject into the responder's.
const OID_COUNTRY: &str = "2.5.4.6";
const OID_ORGANIZATION: &str = "2.5.4.10";
const OID_COMMON_NAME: &str = "2.5.4.3";
/// RFC 8954 §2.1: a nonce is 1 to 32 octets.
const MAX_NONCE_OCTETS: usize = 32;
const RESPONDER_CN_SUFFIX: &str = " OCSP Responder";

/// The hash algorithm of an OCSP CertID (RFC 6960 §4.1.1). Pre-sign for SHA-1 at least:
/// RFC 5019 §2.1.1 clients send SHA-1 CertIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcspHash {
    /// SHA-1 (what most clients, including `openssl ocsp` by default, send).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl OcspHash {
    /// All supported hash algorithms.
    pub const ALL: [OcspHash; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

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

    /// Output length in octets.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The AlgorithmIdentifier written into a response's CertID: NULL parameters, as
    /// OpenSSL and Go write them (RFC 5754 §2 obliges readers to accept both forms).
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

/// What an OCSP request asks (RFC 6960 §4.1.1); any request signature is ignored (§4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequestInfo {
    /// The certificates asked about, in request order (at least one).
    pub cert_ids: Vec<CertIdInfo>,
    /// The nonce octets (RFC 8954: 1 to 32), to be echoed in the response.
    pub nonce: Option<Vec<u8>>,
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

/// Parses a DER OCSPRequest (the POST body, or the base64-decoded GET path; RFC 6960 §A.1).
///
/// # Errors
/// `InvalidOcsp` (answer `malformedRequest`) when it is not DER, lists no certificate, uses
/// a CertID hash other than SHA-1/256/384/512 or hashes of the wrong length, a negative
/// serial, a nonce outside 1..=32 octets (RFC 8954 §2.1), a duplicated extension, or a
/// critical extension we do not understand (RFC 6960 §4.4).
pub fn parse_ocsp_request(der: &[u8]) -> Result<OcspRequestInfo, PkiError> {
    let request = OcspRequest::from_der(der)
        .map_err(|e| PkiError::ocsp(format!("not a DER OCSPRequest: {e}")))?;
    let tbs = &request.tbs_request;
    if tbs.request_list.is_empty() {
        return Err(PkiError::ocsp("the request lists no certificate"));
    }
    let mut cert_ids = Vec::with_capacity(tbs.request_list.len());
    for single in &tbs.request_list {
        check_extensions(single.single_request_extensions.as_deref(), &[])?;
        cert_ids.push(cert_id_info(&single.req_cert)?);
    }
    let extensions = tbs.request_extensions.as_deref();
    check_extensions(extensions, &[OID_OCSP_NONCE, OID_OCSP_RESPONSE])?;
    let mut nonce = None;
    for extension in extensions.unwrap_or_default() {
        if extension.extn_id == OID_OCSP_NONCE {
            nonce = Some(parse_nonce(extension)?);
        } else if extension.extn_id == OID_OCSP_RESPONSE {
            // RFC 6960 §4.4.3: we only produce id-pkix-ocsp-basic.
            let accepted = Vec::<ObjectIdentifier>::from_der(extension.extn_value.as_bytes())
                .map_err(|e| PkiError::ocsp(format!("AcceptableResponses: {e}")))?;
            if !accepted.contains(&OID_OCSP_BASIC) {
                return Err(PkiError::ocsp(
                    "the client does not accept basic OCSP responses",
                ));
            }
        }
    }
    Ok(OcspRequestInfo { cert_ids, nonce })
}

/// RFC 5280 §4.2 (one instance per extension) and RFC 6960 §4.4 (an unrecognised critical
/// extension cannot be ignored).
fn check_extensions(
    extensions: Option<&[Extension]>,
    understood: &[ObjectIdentifier],
) -> Result<(), PkiError> {
    let extensions = extensions.unwrap_or_default();
    for (i, extension) in extensions.iter().enumerate() {
        if extensions[..i]
            .iter()
            .any(|e| e.extn_id == extension.extn_id)
        {
            return Err(PkiError::ocsp(format!(
                "extension {} appears twice",
                extension.extn_id
            )));
        }
        if extension.critical && !understood.contains(&extension.extn_id) {
            return Err(PkiError::ocsp(format!(
                "unsupported critical extension {}",
                extension.extn_id
            )));
        }
    }
    Ok(())
}

/// RFC 8954 §2.1: `Nonce ::= OCTET STRING (SIZE(1..32))` inside the extnValue.
fn parse_nonce(extension: &Extension) -> Result<Vec<u8>, PkiError> {
    let nonce = OctetString::from_der(extension.extn_value.as_bytes())
        .map_err(|e| PkiError::ocsp(format!("the nonce is not an OCTET STRING: {e}")))?;
    let octets = nonce.into_bytes();
    if octets.is_empty() || octets.len() > MAX_NONCE_OCTETS {
        return Err(PkiError::ocsp(format!(
            "the nonce has {} octets; 1 to {MAX_NONCE_OCTETS} are allowed",
            octets.len()
        )));
    }
    Ok(octets)
}

fn cert_id_info(id: &CertId) -> Result<CertIdInfo, PkiError> {
    let alg = &id.hash_algorithm;
    let hash = OcspHash::from_oid(&alg.oid)
        .ok_or_else(|| PkiError::ocsp(format!("unsupported CertID hash algorithm {}", alg.oid)))?;
    // RFC 5754 §2: absent or NULL parameters.
    if let Some(params) = &alg.parameters {
        if params.tag() != Tag::Null || !params.value().is_empty() {
            return Err(PkiError::ocsp(
                "CertID hash parameters must be absent or NULL",
            ));
        }
    }
    let name_hash = id.issuer_name_hash.as_bytes();
    let key_hash = id.issuer_key_hash.as_bytes();
    if name_hash.len() != hash.output_len() || key_hash.len() != hash.output_len() {
        return Err(PkiError::ocsp(format!(
            "CertID hashes must be {} octets for {hash:?}",
            hash.output_len()
        )));
    }
    // The INTEGER content octets: a leading 0x00 only keeps a positive value positive.
    let encoded = id.serial_number.as_bytes();
    if encoded.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(PkiError::ocsp("negative serial number"));
    }
    Ok(CertIdInfo {
        hash_algorithm: hash,
        issuer_name_hash: name_hash.to_vec(),
        issuer_key_hash: key_hash.to_vec(),
        serial: strip_leading_zeros(encoded),
    })
}

/// Big-endian magnitude without leading zero octets (zero stays one octet).
fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].to_vec()
}

/// The CertID of certificate `serial` of this CA, for pre-signing responses per certificate.
pub fn cert_id_for(serial: &[u8], hash: OcspHash, authority: &Authority) -> CertIdInfo {
    CertIdInfo {
        hash_algorithm: hash,
        issuer_name_hash: hash.digest(authority.ca_subject_der()),
        issuer_key_hash: hash.digest(authority.ca_key().raw()),
        serial: strip_leading_zeros(serial),
    }
}

/// Signs OCSP responses for one CA: with the CA key itself, or as a delegated responder
/// (RFC 6960 §4.2.2.2).
#[derive(Clone)]
pub struct OcspSigner {
    signer: Arc<dyn CaSigner>,
    /// The signing key's SubjectPublicKeyInfo, to check every signature.
    signer_spki: Vec<u8>,
    /// ResponderID byKey: SHA-1 of the signer's subjectPublicKey (RFC 6960 §4.2.1).
    responder_key_hash: Vec<u8>,
    /// The delegated responder certificate, sent in `certs`; `None` when the CA signs.
    responder: Option<Responder>,
    /// (hash, issuerNameHash, issuerKeyHash) of the CA under every supported hash.
    issuer_hashes: Vec<(OcspHash, Vec<u8>, Vec<u8>)>,
}

#[derive(Clone)]
struct Responder {
    cert: Certificate,
    not_before: i64,
    not_after: i64,
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

    /// A delegated responder: its certificate (issued by the CA, EKU id-kp-OCSPSigning,
    /// id-pkix-ocsp-nocheck, KU digitalSignature) and the signer holding its key.
    ///
    /// # Errors
    /// `InvalidSpec{field: "responder_certificate"}` if the certificate is not issued and
    /// signed by this CA, is a CA certificate, or lacks the EKU, the key usage or nocheck;
    /// `Signer` if `key` is not the certificate's key; `Encoding` if it does not parse.
    pub fn delegated(
        authority: &Authority,
        responder_cert_der: Vec<u8>,
        key: Arc<dyn CaSigner>,
    ) -> Result<Self, PkiError> {
        let refuse = |reason: &str| PkiError::spec("responder_certificate", reason.to_string());
        let (rest, cert) = parse_x509_certificate(&responder_cert_der)
            .map_err(|e| PkiError::encoding("responder certificate does not parse", e))?;
        if !rest.is_empty() {
            return Err(PkiError::Encoding(
                "trailing bytes after the responder certificate".into(),
            ));
        }
        // RFC 6960 §4.2.2.2: issued directly by the CA that issued the certificates.
        if cert.issuer().as_raw() != authority.ca_subject_der() {
            return Err(refuse("is not issued by this CA"));
        }
        verify_cert_signature(&responder_cert_der, authority.ca_key().spki_der())
            .map_err(|_| refuse("is not signed by this CA's key"))?;
        if cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca)
        {
            return Err(refuse("is a CA certificate"));
        }
        let ocsp_signing = cert
            .extended_key_usage()
            .ok()
            .flatten()
            .is_some_and(|eku| eku.value.ocsp_signing);
        if !ocsp_signing {
            return Err(refuse("lacks the id-kp-OCSPSigning extended key usage"));
        }
        let digital_signature = cert
            .key_usage()
            .ok()
            .flatten()
            .is_some_and(|ku| ku.value.digital_signature());
        if !digital_signature {
            return Err(refuse("lacks the digitalSignature key usage"));
        }
        if !cert
            .iter_extensions()
            .any(|e| e.oid.to_id_string() == OID_OCSP_NOCHECK)
        {
            return Err(refuse("lacks id-pkix-ocsp-nocheck"));
        }
        let cert_key = SubjectPublicKey::from_spki_der(cert.public_key().raw)?;
        let signer_key = RcgenSigner::new(key.as_ref())?.public().clone();
        if signer_key.spki_der() != cert_key.spki_der() {
            return Err(PkiError::Signer(
                "the responder signer's key does not match the responder certificate".into(),
            ));
        }
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        let parsed = Certificate::from_der(&responder_cert_der)
            .map_err(|e| PkiError::encoding("responder certificate does not parse", e))?;
        Ok(Self {
            signer: key,
            signer_spki: cert_key.spki_der().to_vec(),
            responder_key_hash: OcspHash::Sha1.digest(cert_key.raw()),
            responder: Some(Responder {
                cert: parsed,
                not_before,
                not_after,
            }),
            issuer_hashes: issuer_hashes(authority),
        })
    }

    /// The delegated responder certificate's validity (unix seconds), `None` when the CA signs.
    pub fn responder_validity(&self) -> Option<(i64, i64)> {
        self.responder.as_ref().map(|r| (r.not_before, r.not_after))
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

fn issuer_hashes(authority: &Authority) -> Vec<(OcspHash, Vec<u8>, Vec<u8>)> {
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
    use CrlReason::*;
    crate::crl::crl_reason(code).map_err(|reason| PkiError::spec("reason_code", reason))?;
    Ok(match code {
        1 => KeyCompromise,
        2 => CaCompromise,
        3 => AffiliationChanged,
        4 => Superseded,
        5 => CessationOfOperation,
        6 => CertificateHold,
        9 => PrivilegeWithdrawn,
        10 => AaCompromise,
        _ => Unspecified,
    })
}

impl Authority {
    /// Issues the delegated OCSP responder certificate (RFC 6960 §4.2.2.2): subject CN
    /// "`<CA CN>` OCSP Responder", then O and C as the CA's (the CA's CN shortened to fit 64 characters);
    /// basicConstraints CA:false, keyUsage digitalSignature (critical), EKU id-kp-OCSPSigning,
    /// id-pkix-ocsp-nocheck, SKI and AKI. No CRL DP or AIA: nocheck tells clients not to
    /// check it, so keep its validity short.
    ///
    /// # Errors
    /// `InvalidSpec` (`serial`, `validity`) before the signer is called; `Signer` if signing
    /// fails or the signature does not verify; `Encoding` if the CA subject cannot be copied.
    pub fn issue_ocsp_responder(
        &self,
        key: &SubjectPublicKey,
        serial: Vec<u8>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert, PkiError> {
        let serial = validate::serial(&serial)?;
        self.check_within_ca(not_before, not_after)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = responder_subject(self.ca_der())?;
        params.serial_number = Some(serial.into());
        params.not_before = not_before;
        params.not_after = not_after;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
        params.use_authority_key_identifier_extension = true;
        params.custom_extensions = vec![ext::ocsp_nocheck()];
        self.sign_certificate(&params, key)
    }
}

/// `CN=<CA's CN> OCSP Responder, O=<CA's O>, C=<CA's C>` (CN first, as our CA names and
/// OCES3), keeping the CA's string types.
fn responder_subject(ca_der: &[u8]) -> Result<DistinguishedName, PkiError> {
    let (_, ca) = parse_x509_certificate(ca_der)
        .map_err(|e| PkiError::encoding("CA certificate does not parse", e))?;
    let (mut country, mut organisation) = (None, None);
    let mut ca_cn = None;
    for attr in ca.subject().iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        let value = attr
            .as_str()
            .map_err(|e| PkiError::encoding("CA subject attribute is not a string", e))?;
        let copied =
            if attr.attr_value().tag() == x509_parser::der_parser::asn1_rs::Tag::PrintableString {
                printable(value)?
            } else {
                DnValue::Utf8String(value.to_string())
            };
        match oid.as_str() {
            OID_COUNTRY => country = Some(copied),
            OID_ORGANIZATION => organisation = Some(copied),
            OID_COMMON_NAME => ca_cn = Some(value.to_string()),
            _ => {}
        }
    }
    let ca_cn = ca_cn.ok_or_else(|| PkiError::Encoding("CA subject has no commonName".into()))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, responder_common_name(&ca_cn));
    if let Some(o) = organisation {
        dn.push(DnType::OrganizationName, o);
    }
    if let Some(c) = country {
        dn.push(DnType::CountryName, c);
    }
    Ok(dn)
}

/// X.520 ub-common-name is 64 characters: shorten the CA's CN, not the suffix.
fn responder_common_name(ca_cn: &str) -> String {
    let room = UB_NAME - RESPONDER_CN_SUFFIX.chars().count();
    let prefix: String = ca_cn.chars().take(room).collect();
    format!("{}{RESPONDER_CN_SUFFIX}", prefix.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{generate_key, random_serial, KeyFileSigner};
    use time::Duration;
    use x509_ocsp::{Request, TbsRequest};
    use x509_parser::extensions::ParsedExtension;

    /// A request as a client would build it, from the CA certificate itself.
    fn request_der(
        authority: &Authority,
        serial: &[u8],
        hash: OcspHash,
        extensions: Option<Vec<Extension>>,
    ) -> Vec<u8> {
        let ca = Certificate::from_der(authority.ca_der()).unwrap();
        let name = ca.tbs_certificate.subject.to_der().unwrap();
        let key = ca
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let cert_id = CertId {
            hash_algorithm: hash.algorithm_identifier(),
            issuer_name_hash: OctetString::new(hash.digest(&name)).unwrap(),
            issuer_key_hash: OctetString::new(hash.digest(key)).unwrap(),
            serial_number: SerialNumber::new(serial).unwrap(),
        };
        OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: cert_id,
                    single_request_extensions: None,
                }],
                request_extensions: extensions,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap()
    }

    fn nonce_extension(octets: &[u8]) -> Extension {
        Extension {
            extn_id: OID_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(octets).unwrap().to_der().unwrap())
                .unwrap(),
        }
    }

    fn basic(response: &[u8]) -> BasicOcspResponse {
        let response = OcspResponse::from_der(response).unwrap();
        assert_eq!(response.response_status, OcspResponseStatus::Successful);
        let bytes = response.response_bytes.unwrap();
        assert_eq!(bytes.response_type, OID_OCSP_BASIC);
        BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap()
    }

    fn window() -> (OffsetDateTime, OffsetDateTime, OffsetDateTime) {
        (t0(), t0(), t0() + Duration::days(4))
    }

    #[test]
    fn requests_parse_with_every_hash_and_the_nonce() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let ours = OcspSigner::ca(&authority);
        let serial = random_serial();
        for hash in OcspHash::ALL {
            let der = request_der(
                &authority,
                &serial,
                hash,
                Some(vec![nonce_extension(&[7; 16])]),
            );
            let info = parse_ocsp_request(&der).unwrap();
            assert_eq!(info.nonce, Some(vec![7; 16]));
            assert_eq!(info.cert_ids, vec![cert_id_for(&serial, hash, &authority)]);
            assert!(ours.is_our_issuer(&info.cert_ids[0]));
        }
        // Serials with the top bit set carry a 0x00 octet in DER; the magnitude drops it.
        let high = [0x80, 1, 2, 3, 4, 5, 6, 7];
        let info =
            parse_ocsp_request(&request_der(&authority, &high, OcspHash::Sha1, None)).unwrap();
        assert_eq!(info.cert_ids[0].serial, high.to_vec());
        assert_eq!(info.nonce, None);
        assert_eq!(
            cert_id_for(&[0, 0, 9], OcspHash::Sha1, &authority).serial,
            vec![9]
        );
    }

    #[test]
    fn other_issuers_are_not_ours() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let other = test_authority(KeyAlgorithm::EcdsaP256);
        let id = cert_id_for(&random_serial(), OcspHash::Sha256, &other);
        assert!(!OcspSigner::ca(&authority).is_our_issuer(&id));
        // Same name, other key: still not ours.
        let mut mixed = cert_id_for(&random_serial(), OcspHash::Sha256, &authority);
        mixed.issuer_key_hash = id.issuer_key_hash.clone();
        assert!(!OcspSigner::ca(&authority).is_our_issuer(&mixed));
        // Hashes of another algorithm's length never match.
        let mut wrong = cert_id_for(&random_serial(), OcspHash::Sha256, &authority);
        wrong.hash_algorithm = OcspHash::Sha1;
        assert!(!OcspSigner::ca(&authority).is_our_issuer(&wrong));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let serial = random_serial();
        let good = request_der(&authority, &serial, OcspHash::Sha1, None);
        let mut trailing = good.clone();
        trailing.push(0);
        let critical = Extension {
            extn_id: ObjectIdentifier::new_unwrap("1.2.3.4"),
            critical: true,
            extn_value: OctetString::new(vec![5, 0]).unwrap(),
        };
        let mut md5 = OcspRequest::from_der(&good).unwrap();
        md5.tbs_request.request_list[0].req_cert.hash_algorithm.oid =
            ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
        let mut short_hash = OcspRequest::from_der(&good).unwrap();
        short_hash.tbs_request.request_list[0]
            .req_cert
            .issuer_key_hash = OctetString::new(vec![1; 19]).unwrap();
        let mut empty = OcspRequest::from_der(&good).unwrap();
        empty.tbs_request.request_list.clear();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("junk", b"not DER".to_vec()),
            ("trailing", trailing),
            ("md5", md5.to_der().unwrap()),
            ("short hash", short_hash.to_der().unwrap()),
            ("empty list", empty.to_der().unwrap()),
            (
                "empty nonce",
                request_der(
                    &authority,
                    &serial,
                    OcspHash::Sha1,
                    Some(vec![nonce_extension(&[])]),
                ),
            ),
            (
                "long nonce",
                request_der(
                    &authority,
                    &serial,
                    OcspHash::Sha1,
                    Some(vec![nonce_extension(&[1; 33])]),
                ),
            ),
            (
                "twice",
                request_der(
                    &authority,
                    &serial,
                    OcspHash::Sha1,
                    Some(vec![nonce_extension(&[1; 8]), nonce_extension(&[2; 8])]),
                ),
            ),
            (
                "critical",
                request_der(&authority, &serial, OcspHash::Sha1, Some(vec![critical])),
            ),
        ];
        for (label, der) in cases {
            assert!(
                matches!(parse_ocsp_request(&der), Err(PkiError::InvalidOcsp { .. })),
                "{label}"
            );
        }
        // A 32-octet nonce and an unknown non-critical extension are fine.
        let ok = request_der(
            &authority,
            &serial,
            OcspHash::Sha1,
            Some(vec![
                nonce_extension(&[1; 32]),
                Extension {
                    extn_id: ObjectIdentifier::new_unwrap("1.2.3.4"),
                    critical: false,
                    extn_value: OctetString::new(vec![5, 0]).unwrap(),
                },
            ]),
        );
        assert_eq!(parse_ocsp_request(&ok).unwrap().nonce, Some(vec![1; 32]));
    }

    #[test]
    fn error_responses_are_bare_statuses() {
        for (status, code) in [
            (OcspErrorStatus::MalformedRequest, 1),
            (OcspErrorStatus::InternalError, 2),
            (OcspErrorStatus::TryLater, 3),
            (OcspErrorStatus::Unauthorized, 6),
        ] {
            assert_eq!(
                ocsp_error_response(status),
                vec![0x30, 0x03, 0x0a, 0x01, code]
            );
        }
    }

    #[test]
    fn ca_signed_responses() {
        for alg in KeyAlgorithm::ALL {
            let authority = test_authority(alg);
            let signer = OcspSigner::ca(&authority);
            let serial = random_serial();
            let id = cert_id_for(&serial, OcspHash::Sha256, &authority);
            let (produced, this, next) = window();
            let revoked_at = t0() - Duration::hours(3);
            let cases = [
                (OcspCertStatus::Good, None),
                (
                    OcspCertStatus::Revoked {
                        revoked_at,
                        reason_code: Some(1),
                    },
                    Some(Some(CrlReason::KeyCompromise)),
                ),
                (
                    OcspCertStatus::Revoked {
                        revoked_at,
                        reason_code: Some(0),
                    },
                    Some(None),
                ),
                (OcspCertStatus::Unknown, None),
            ];
            for (status, expected_reason) in cases {
                let der = signer
                    .sign_response(&id, &status, produced, this, next, Some(&[9; 16]))
                    .unwrap();
                let basic = basic(&der);
                assert!(basic.certs.is_none(), "CA-signed: no certs");
                let tbs = &basic.tbs_response_data;
                assert_eq!(
                    tbs.responder_id,
                    ResponderId::ByKey(
                        OctetString::new(OcspHash::Sha1.digest(authority.ca_key().raw())).unwrap()
                    )
                );
                assert_eq!(
                    tbs.produced_at.0.to_unix_duration().as_secs(),
                    t0().unix_timestamp() as u64
                );
                assert_eq!(basic.nonce().unwrap().0.as_bytes(), &[9; 16]);
                assert_eq!(tbs.responses.len(), 1);
                let single = &tbs.responses[0];
                assert_eq!(cert_id_info(&single.cert_id).unwrap(), id);
                assert_eq!(
                    single.next_update.unwrap().0.to_unix_duration().as_secs(),
                    next.unix_timestamp() as u64
                );
                match (single.cert_status, expected_reason) {
                    (CertStatus::Good(_), None) => assert_eq!(status, OcspCertStatus::Good),
                    (CertStatus::Unknown(_), None) => assert_eq!(status, OcspCertStatus::Unknown),
                    (CertStatus::Revoked(info), Some(reason)) => {
                        assert_eq!(info.revocation_reason, reason);
                        assert_eq!(
                            info.revocation_time.0.to_unix_duration().as_secs(),
                            revoked_at.unix_timestamp() as u64
                        );
                    }
                    other => panic!("{other:?}"),
                }
                verify_signed_der(&basic.to_der().unwrap(), authority.ca_key().spki_der()).unwrap();
            }
            // Without a nonce there are no response extensions at all.
            let der = signer
                .sign_response(&id, &OcspCertStatus::Good, produced, this, next, None)
                .unwrap();
            assert!(basic(&der).tbs_response_data.response_extensions.is_none());
        }
    }

    #[test]
    fn bad_response_requests_are_refused_before_signing() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        let calls = signer.calls();
        let ocsp = OcspSigner::ca(&authority);
        let id = cert_id_for(&random_serial(), OcspHash::Sha1, &authority);
        let (p, t, n) = window();
        let revoked = |code| OcspCertStatus::Revoked {
            revoked_at: t0(),
            reason_code: Some(code),
        };
        let foreign = cert_id_for(
            &random_serial(),
            OcspHash::Sha1,
            &test_authority(KeyAlgorithm::EcdsaP256),
        );
        let zero = CertIdInfo {
            serial: vec![0],
            ..id.clone()
        };
        let good = OcspCertStatus::Good;
        let cases: Vec<(&str, Result<Vec<u8>, PkiError>)> = vec![
            (
                "cert_id",
                ocsp.sign_response(&foreign, &good, p, t, n, None),
            ),
            ("serial", ocsp.sign_response(&zero, &good, p, t, n, None)),
            ("next_update", ocsp.sign_response(&id, &good, p, t, t, None)),
            (
                "next_update",
                ocsp.sign_response(&id, &good, p, t, t + Duration::days(11), None),
            ),
            (
                "reason_code",
                ocsp.sign_response(&id, &revoked(7), p, t, n, None),
            ),
            (
                "reason_code",
                ocsp.sign_response(&id, &revoked(8), p, t, n, None),
            ),
            (
                "produced_at",
                ocsp.sign_response(
                    &id,
                    &good,
                    OffsetDateTime::UNIX_EPOCH - Duration::seconds(1),
                    t,
                    n,
                    None,
                ),
            ),
        ];
        for (field, result) in cases {
            match result {
                Err(PkiError::InvalidSpec { field: f, reason }) => assert_eq!(f, field, "{reason}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert_eq!(signer.calls(), calls);
        signer.start_failing();
        assert!(matches!(
            ocsp.sign_response(&id, &good, p, t, n, None),
            Err(PkiError::Signer(_))
        ));
        signer.start_corrupting();
        assert!(matches!(
            ocsp.sign_response(&id, &good, p, t, n, None),
            Err(PkiError::Signer(_))
        ));
    }

    fn responder(authority: &Authority, alg: KeyAlgorithm) -> (IssuedCert, Arc<dyn CaSigner>) {
        let key = KeyFileSigner::generate(alg).unwrap();
        let public = SubjectPublicKey::from_spki_der(&key.public_key_spki_der()).unwrap();
        let cert = authority
            .issue_ocsp_responder(&public, random_serial(), t0(), t0() + Duration::days(30))
            .unwrap();
        (cert, Arc::new(key))
    }

    #[test]
    fn responder_certificate_profile() {
        let authority = test_authority(KeyAlgorithm::Rsa3072);
        let (issued, _) = responder(&authority, KeyAlgorithm::EcdsaP256);
        let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=Orgcert Test Root CA OCSP Responder, O=Orgcert Test A/S, C=DK"
        );
        assert_eq!(attr_tags(cert.subject()), vec![0x0c, 0x0c, 0x13]);
        assert_eq!(cert.issuer().as_raw(), authority.ca_subject_der());
        let mut oids = Vec::new();
        for ext in cert.extensions() {
            oids.push(ext.oid.to_id_string());
            match ext.parsed_extension() {
                ParsedExtension::KeyUsage(ku) => {
                    assert!(ext.critical);
                    assert_eq!(ku.flags, 1, "digitalSignature only");
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    assert!(eku.ocsp_signing && !eku.any && !eku.server_auth);
                    assert!(eku.other.is_empty());
                }
                ParsedExtension::BasicConstraints(bc) => assert!(!bc.ca),
                ParsedExtension::AuthorityKeyIdentifier(aki) => assert_eq!(
                    aki.key_identifier.as_ref().unwrap().0,
                    ca_ski(authority.ca_der()).as_slice()
                ),
                _ => {}
            }
        }
        oids.sort();
        let mut expected = vec![
            "2.5.29.15",
            "2.5.29.37",
            "2.5.29.19",
            "2.5.29.14",
            "2.5.29.35",
            OID_OCSP_NOCHECK,
        ];
        expected.sort();
        assert_eq!(oids, expected);
        let nocheck = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == OID_OCSP_NOCHECK)
            .unwrap();
        assert_eq!(nocheck.value, &[0x05, 0x00]);
        assert!(!nocheck.critical);
    }

    #[test]
    fn responder_common_name_fits_64_characters() {
        assert_eq!(responder_common_name("Demo CA"), "Demo CA OCSP Responder");
        let long = responder_common_name(&"Æ".repeat(64));
        assert_eq!(long.chars().count(), 64);
        assert!(long.ends_with(" OCSP Responder"));
        let spaced = responder_common_name(&format!("{} x", "a".repeat(48)));
        assert_eq!(spaced, format!("{} OCSP Responder", "a".repeat(48)));
    }

    #[test]
    fn responder_checks_serial_and_validity_first() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        let calls = signer.calls();
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let (nb, na) = (t0(), t0() + Duration::days(30));
        for (field, result) in [
            (
                "serial",
                authority.issue_ocsp_responder(key.public(), vec![1; 4], nb, na),
            ),
            (
                "validity",
                authority.issue_ocsp_responder(key.public(), random_serial(), na, nb),
            ),
            (
                "validity",
                authority.issue_ocsp_responder(
                    key.public(),
                    random_serial(),
                    nb,
                    nb + Duration::days(365 * 30),
                ),
            ),
        ] {
            match result {
                Err(PkiError::InvalidSpec { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert_eq!(signer.calls(), calls);
    }

    #[test]
    fn delegated_responses_carry_the_responder_certificate() {
        for (ca_alg, responder_alg) in [
            (KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256),
            (KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa3072),
            (KeyAlgorithm::EcdsaP384, KeyAlgorithm::EcdsaP384),
        ] {
            let authority = test_authority(ca_alg);
            let (issued, key) = responder(&authority, responder_alg);
            let delegated =
                OcspSigner::delegated(&authority, issued.der.clone(), key.clone()).unwrap();
            let id = cert_id_for(&random_serial(), OcspHash::Sha1, &authority);
            let (p, t, n) = window();
            let der = delegated
                .sign_response(&id, &OcspCertStatus::Good, p, t, n, None)
                .unwrap();
            let basic = basic(&der);
            let certs = basic.certs.as_ref().unwrap();
            assert_eq!(certs.len(), 1);
            assert_eq!(certs[0].to_der().unwrap(), issued.der);
            let responder_key =
                SubjectPublicKey::from_spki_der(&key.public_key_spki_der()).unwrap();
            assert_eq!(
                basic.tbs_response_data.responder_id,
                ResponderId::ByKey(
                    OctetString::new(OcspHash::Sha1.digest(responder_key.raw())).unwrap()
                )
            );
            verify_signed_der(&basic.to_der().unwrap(), responder_key.spki_der()).unwrap();
            assert!(format!("{delegated:?}").contains("delegated: true"));
            // The responder certificate must be valid when the response is produced.
            assert!(matches!(
                delegated.sign_response(
                    &id,
                    &OcspCertStatus::Good,
                    t0() + Duration::days(31),
                    t0() + Duration::days(31),
                    t0() + Duration::days(32),
                    None
                ),
                Err(PkiError::InvalidSpec {
                    field: "responder_certificate",
                    ..
                })
            ));
        }
    }

    #[test]
    fn delegation_is_refused_for_unfit_certificates_and_keys() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let (issued, key) = responder(&authority, KeyAlgorithm::EcdsaP256);
        // Another key than the certificate's.
        let other: Arc<dyn CaSigner> =
            Arc::new(KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap());
        assert!(matches!(
            OcspSigner::delegated(&authority, issued.der.clone(), other),
            Err(PkiError::Signer(_))
        ));
        // A responder of another CA (with an identical subject).
        let stranger = test_authority(KeyAlgorithm::EcdsaP256);
        let (foreign, foreign_key) = responder(&stranger, KeyAlgorithm::EcdsaP256);
        assert!(matches!(
            OcspSigner::delegated(&authority, foreign.der, foreign_key),
            Err(PkiError::InvalidSpec {
                field: "responder_certificate",
                ..
            })
        ));
        // A leaf certificate: no OCSPSigning EKU.
        let leaf_key = KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let public = SubjectPublicKey::from_spki_der(&leaf_key.public_key_spki_der()).unwrap();
        let leaf = authority.issue(&leaf_spec(), &public).unwrap();
        assert!(matches!(
            OcspSigner::delegated(&authority, leaf.der, Arc::new(leaf_key)),
            Err(PkiError::InvalidSpec {
                field: "responder_certificate",
                ..
            })
        ));
        // The CA certificate itself.
        assert!(matches!(
            OcspSigner::delegated(
                &authority,
                authority.ca_der().to_vec(),
                authority.signer().clone()
            ),
            Err(PkiError::InvalidSpec {
                field: "responder_certificate",
                ..
            })
        ));
        assert!(matches!(
            OcspSigner::delegated(&authority, b"junk".to_vec(), key),
            Err(PkiError::Encoding(_))
        ));
    }
}
