//! OCSP requests (RFC 6960 §4.1): what a client asks, parsed strictly.

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Tag, Tagged};
use x509_cert::ext::Extension;
use x509_ocsp::{CertId, OcspRequest};

use orgcert_core::ports::OcspHash;

use super::{CertIdInfo, OcspHashExt, OID_OCSP_BASIC, OID_OCSP_NONCE};
use crate::{Authority, PkiError};

/// id-pkix-ocsp-response, AcceptableResponses (RFC 6960 §4.4.3).
const OID_OCSP_RESPONSE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.4");
/// RFC 8954 §2.1: a nonce is 1 to 32 octets.
const MAX_NONCE_OCTETS: usize = 32;

/// What an OCSP request asks (RFC 6960 §4.1.1); any request signature is ignored (§4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequestInfo {
    /// The certificates asked about, in request order (at least one).
    pub cert_ids: Vec<CertIdInfo>,
    /// The nonce octets (RFC 8954: 1 to 32), to be echoed in the response.
    pub nonce: Option<Vec<u8>>,
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

pub(super) fn cert_id_info(id: &CertId) -> Result<CertIdInfo, PkiError> {
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
