//! The delegated OCSP responder (RFC 6960 §4.2.2.2): its certificate, issued by the CA,
//! and the checks a certificate must pass before it signs responses.

use std::sync::Arc;

use der::Decode;
use rcgen::{DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, KeyUsagePurpose};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_parser::parse_x509_certificate;

use super::response::{issuer_hashes, Responder};
use orgcert_core::ports::OcspHash;

use super::{OcspHashExt as _, OcspSigner, OID_OCSP_NOCHECK};
use crate::ca::printable;
use crate::signer::{verify_cert_signature, RcgenSigner};
use crate::validate::{self, UB_NAME};
use crate::{ext, Authority, CaSigner, IssuedCert, PkiError, SubjectPublicKey};

/// X.520 attribute types copied from the CA subject into the responder's.
const OID_COUNTRY: &str = "2.5.4.6";
const OID_ORGANIZATION: &str = "2.5.4.10";
const OID_COMMON_NAME: &str = "2.5.4.3";
pub(super) const RESPONDER_CN_SUFFIX: &str = " OCSP Responder";

impl OcspSigner {
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
        let subject = responder_subject(self.ca_der())?;
        let mut params = Self::end_entity_params(subject, serial, key, not_before, not_after);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
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
pub(super) fn responder_common_name(ca_cn: &str) -> String {
    let room = UB_NAME - RESPONDER_CN_SUFFIX.chars().count();
    let prefix: String = ca_cn.chars().take(room).collect();
    format!("{}{RESPONDER_CN_SUFFIX}", prefix.trim_end())
}
