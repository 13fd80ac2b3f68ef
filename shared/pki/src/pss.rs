//! RSASSA-PSS for CA signatures (DESIGN §4 "Signatures"), as OCES3: SHA-256, MGF1 with
//! SHA-256, salt 32, trailer 1 (RFC 4055 §3.1).
//!
//! rcgen cannot write PSS parameters, so certificates and CRLs are built by rcgen with a
//! placeholder signature (the signer is not called), then re-signed here: the algorithm
//! identifier inside the to-be-signed part and the outer one are replaced by the PSS one,
//! and the new TBS is signed once with [`CaSigner::sign_pss`]. The surgery works on the
//! DER TLVs without decoding the body, so a large CRL costs linear time.

use der::{Decode, Encode, Header, Length, Reader, SliceReader, Tag};
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::{CaSigner, PkiError};

/// `RSASSA-PSS-params` for SHA-256 exactly as CA/Browser Forum BR §7.1.3.2.1 spells it
/// (hash and MGF1 hash with NULL parameters, saltLength 32, trailerField absent = 1).
pub(crate) const PSS_SHA256_ALGORITHM: &[u8] = &[
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0,
    0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03,
    0x02, 0x01, 0x20,
];

/// Which RSA signature scheme a CA key signs with (`ORGCERT_CA_SIGNATURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaSignature {
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (OCES3; the service's default).
    Pss,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Pkcs1,
}

impl std::str::FromStr for RsaSignature {
    type Err = PkiError;

    /// `pss` or `pkcs1`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pss" => Ok(Self::Pss),
            "pkcs1" => Ok(Self::Pkcs1),
            _ => Err(PkiError::spec(
                "signature",
                format!("{s:?} is not pss or pkcs1"),
            )),
        }
    }
}

/// Whether `signer`'s signatures are RSASSA-PSS.
pub(crate) fn uses_pss(signer: &dyn CaSigner) -> bool {
    signer.algorithm().is_rsa() && signer.rsa_signature() == RsaSignature::Pss
}

/// The PSS algorithm identifier as an x509-cert value (OCSP responses are built with it).
pub(crate) fn pss_algorithm_identifier() -> Result<AlgorithmIdentifierOwned, PkiError> {
    AlgorithmIdentifierOwned::from_der(PSS_SHA256_ALGORITHM)
        .map_err(|e| PkiError::encoding("PSS algorithm identifier", e))
}

/// Returns `signed` (a certificate or CRL: `SEQUENCE { tbs, algorithm, signature }`)
/// re-signed with RSASSA-PSS when `signer` uses it, else unchanged.
///
/// # Errors
/// `Encoding` when `signed` is not such a structure; `Signer` when signing fails.
pub(crate) fn finish(signed: Vec<u8>, signer: &dyn CaSigner) -> Result<Vec<u8>, PkiError> {
    if !uses_pss(signer) {
        return Ok(signed);
    }
    let parts = tlvs(content(&signed)?)?;
    let [tbs, _alg, _sig, rest @ ..] = parts.as_slice() else {
        return Err(PkiError::Encoding(
            "signed structure has too few fields".into(),
        ));
    };
    // The TBS `signature` field is its first SEQUENCE: after version and serialNumber in a
    // certificate (RFC 5280 §4.1.2.3), after version in a CRL (§5.1.2.2).
    let mut fields = tlvs(content(tbs)?)?;
    let at = fields
        .iter()
        .position(|f| f.first() == Some(&0x30))
        .ok_or_else(|| PkiError::Encoding("TBS has no signature algorithm".into()))?;
    fields[at] = PSS_SHA256_ALGORITHM;
    let new_tbs = wrap(0x30, &fields.concat())?;
    let signature = signer.sign_pss(&new_tbs)?;
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(&signature);
    let mut body = new_tbs;
    body.extend_from_slice(PSS_SHA256_ALGORITHM);
    body.extend_from_slice(&wrap(0x03, &bits)?);
    for r in rest {
        body.extend_from_slice(r);
    }
    wrap(0x30, &body)
}

fn malformed(e: der::Error) -> PkiError {
    PkiError::encoding("signed structure does not parse", e)
}

/// The contents of one SEQUENCE TLV.
pub(crate) fn content(tlv: &[u8]) -> Result<&[u8], PkiError> {
    let mut r = SliceReader::new(tlv).map_err(malformed)?;
    let header = Header::decode(&mut r).map_err(malformed)?;
    header.tag.assert_eq(Tag::Sequence).map_err(malformed)?;
    let body = r.read_slice(header.length).map_err(malformed)?;
    r.finish(body).map_err(malformed)
}

/// The TLVs one after another in `bytes`.
pub(crate) fn tlvs(bytes: &[u8]) -> Result<Vec<&[u8]>, PkiError> {
    let mut r = SliceReader::new(bytes).map_err(malformed)?;
    let mut out = Vec::new();
    while !r.is_finished() {
        out.push(r.tlv_bytes().map_err(malformed)?);
    }
    Ok(out)
}

/// A TLV with a one-octet tag and a DER length.
fn wrap(tag: u8, value: &[u8]) -> Result<Vec<u8>, PkiError> {
    let len = Length::try_from(value.len()).map_err(malformed)?;
    let mut out = vec![tag];
    len.encode_to_vec(&mut out).map_err(malformed)?;
    out.extend_from_slice(value);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_algorithm_identifier_is_rsassa_pss_with_sha256_salt_32() {
        let alg = pss_algorithm_identifier().unwrap();
        assert_eq!(alg.oid.to_string(), "1.2.840.113549.1.1.10");
        use x509_parser::prelude::FromDer as _;
        let (_, parsed) =
            x509_parser::x509::AlgorithmIdentifier::from_der(PSS_SHA256_ALGORITHM).unwrap();
        let params = x509_parser::signature_algorithm::RsaSsaPssParams::try_from(
            parsed.parameters.as_ref().unwrap(),
        )
        .unwrap();
        assert_eq!(params.salt_length(), 32);
        assert_eq!(params.trailer_field(), 1);
        assert_eq!(
            params.hash_algorithm_oid().to_id_string(),
            "2.16.840.1.101.3.4.2.1"
        );
        assert_eq!(
            "PKCS1".parse::<RsaSignature>().unwrap(),
            RsaSignature::Pkcs1
        );
        assert!("sha1".parse::<RsaSignature>().is_err());
    }

    /// The signature algorithm OID of a signed structure and whether its TBS names the same.
    fn outer_alg(der: &[u8]) -> Vec<u8> {
        let parts = tlvs(content(der).unwrap()).unwrap();
        parts[1].to_vec()
    }

    #[test]
    fn certificates_crls_and_ocsp_responses_are_signed_with_pss() {
        use crate::testutil::*;
        use crate::{
            cert_id_for, create_ca_certificate, Authority, CrlSpec, KeyAlgorithm, KeyFileSigner,
            OcspCertStatus, OcspSigner,
        };
        use orgcert_core::ports::OcspHash;
        use std::sync::Arc;
        use time::Duration;

        let signer = Arc::new(
            KeyFileSigner::generate(KeyAlgorithm::Rsa3072)
                .unwrap()
                .with_rsa_signature(RsaSignature::Pss)
                .unwrap(),
        );
        let (nb, na) = ca_validity();
        let ca = create_ca_certificate(signer.as_ref(), &ca_subject(), nb, na).unwrap();
        assert_eq!(outer_alg(&ca), PSS_SHA256_ALGORITHM);
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca).unwrap();
        assert_eq!(
            parsed.tbs_certificate.signature.algorithm.to_id_string(),
            "1.2.840.113549.1.1.10",
            "the TBS names PSS too (RFC 5280 §4.1.2.3)"
        );
        parsed.verify_signature(None).unwrap();

        let authority = Authority::new(
            signer.clone(),
            ca.clone(),
            BASE_URL,
            Authority::default_policies(),
        )
        .unwrap();
        let key = crate::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = authority.issue(&leaf_spec(), key.public()).unwrap();
        assert_eq!(outer_alg(&leaf.der), PSS_SHA256_ALGORITHM);
        crate::verify_issued_by(&leaf.der, &ca).unwrap();

        let crl = authority
            .sign_crl(&CrlSpec {
                number: 1,
                this_update: t0(),
                next_update: t0() + Duration::days(1),
                entries: vec![],
                partition: None,
            })
            .unwrap();
        assert_eq!(outer_alg(&crl), PSS_SHA256_ALGORITHM);

        let id = cert_id_for(&[0x42], OcspHash::Sha256, &authority);
        let resp = OcspSigner::ca(&authority)
            .sign_response(
                &id,
                &OcspCertStatus::Good,
                t0(),
                t0(),
                t0() + Duration::days(1),
                None,
            )
            .unwrap();
        let needle = PSS_SHA256_ALGORITHM;
        assert!(
            resp.windows(needle.len()).any(|w| w == needle),
            "the OCSP response is signed with PSS"
        );

        // PKCS#1 v1.5 stays selectable.
        let pkcs1 = KeyFileSigner::generate(KeyAlgorithm::Rsa3072)
            .unwrap()
            .with_rsa_signature(RsaSignature::Pkcs1)
            .unwrap();
        let ca = create_ca_certificate(&pkcs1, &ca_subject(), nb, na).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca).unwrap();
        assert_eq!(
            parsed.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.11"
        );
    }
}
