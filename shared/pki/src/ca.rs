//! Self-signed CA certificates: a single-tier CA, or the root of the two-tier hierarchy.

use rcgen::{BasicConstraints, CertificateParams, DnValue, IsCa, KeyIdMethod, KeyUsagePurpose};
use time::OffsetDateTime;

use crate::signer::{verify_cert_signature, RcgenSigner};
use crate::validate;
use crate::{random_serial, CaSigner, PkiError};

/// The CA's subject; DESIGN §4 asks for at least C, O and CN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSubject {
    /// commonName, e.g. "orgcert Demo CA".
    pub common_name: String,
    /// organizationName.
    pub organisation: String,
    /// Two-letter ISO 3166 country code, e.g. "DK".
    pub country: String,
}

/// Creates a self-signed root CA certificate (DER).
///
/// Profile: basicConstraints CA:true, pathLenConstraint 0 (critical); keyUsage keyCertSign and
/// cRLSign (critical); subjectKeyIdentifier; random serial of 126 bits; the given validity.
///
/// # Errors
/// `InvalidSpec` (fields `country`, `organisation`, `common_name`, `validity`) before the
/// signer is called; `Signer` if the signer fails or its signature does not verify.
pub fn create_ca_certificate(
    signer: &dyn CaSigner,
    subject: &CaSubject,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Vec<u8>, PkiError> {
    // A single-tier CA signs end-entity certificates only, so no CA may sit below it.
    create_self_signed(signer, subject, not_before, not_after, 0)
}

/// A self-signed CA certificate with the given pathLenConstraint (0: single tier; 1: the
/// root of a two-tier hierarchy).
pub(crate) fn create_self_signed(
    signer: &dyn CaSigner,
    subject: &CaSubject,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    path_len: u8,
) -> Result<Vec<u8>, PkiError> {
    crate::hierarchy::check_subject(subject)?;
    validate::validity(not_before, not_after)?;
    let key = RcgenSigner::new(signer)?;

    let mut params = CertificateParams::default();
    // CN first in the DER, as OCES3 CA names: the issuer of every leaf is this name, and
    // relying parties that map DNs expect the same order in subject and issuer.
    params.distinguished_name = crate::hierarchy::ca_name(subject)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    // RFC 5280 §4.2.1.3: keyCertSign for certificates, cRLSign for the CRL.
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key.public().key_identifier());
    params.serial_number = Some(random_serial().into());
    params.not_before = not_before;
    params.not_after = not_after;

    let cert = params.self_signed(&key).map_err(|e| key.error(e))?;
    let der = crate::pss::finish(cert.der().to_vec(), signer)?;
    verify_cert_signature(&der, key.public().spki_der())?;
    Ok(der)
}

pub(crate) fn printable(value: &str) -> Result<DnValue, PkiError> {
    Ok(DnValue::PrintableString(value.try_into().map_err(|e| {
        PkiError::encoding("not a PrintableString", e)
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{KeyAlgorithm, KeyFileSigner};
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::parse_x509_certificate;

    #[test]
    fn ca_certificate_profile() {
        for alg in [
            KeyAlgorithm::Rsa3072,
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
        ] {
            let signer = KeyFileSigner::generate(alg).unwrap();
            let (nb, na) = ca_validity();
            let der = create_ca_certificate(&signer, &ca_subject(), nb, na).unwrap();
            let (_, cert) = parse_x509_certificate(&der).unwrap();
            assert_eq!(cert.subject(), cert.issuer());
            assert_eq!(
                cert.subject().to_string(),
                "CN=Orgcert Test Root CA, O=Orgcert Test A/S, C=DK"
            );
            assert_ca_profile(&cert, 0);
            assert!(cert.iter_extensions().any(|e| matches!(
                e.parsed_extension(),
                ParsedExtension::SubjectKeyIdentifier(_)
            )));
            assert_eq!(cert.validity().not_before.timestamp(), nb.unix_timestamp());
            assert_eq!(cert.validity().not_after.timestamp(), na.unix_timestamp());
            assert!(cert.verify_signature(None).is_ok());
            assert!(!cert.raw_serial().is_empty());
            let expected_sig = match alg {
                KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => "1.2.840.113549.1.1.11",
                KeyAlgorithm::EcdsaP256 => "1.2.840.10045.4.3.2",
                KeyAlgorithm::EcdsaP384 => "1.2.840.10045.4.3.3",
            };
            assert_eq!(
                cert.signature_algorithm.algorithm.to_id_string(),
                expected_sig
            );
            // The country is a PrintableString, the rest UTF8String.
            assert_eq!(attr_tags(cert.subject()), vec![0x0c, 0x0c, 0x13]);
        }
    }

    #[test]
    fn ca_subject_is_checked_before_signing() {
        let signer = CountingSigner::new(KeyAlgorithm::EcdsaP256);
        let (nb, na) = ca_validity();
        let cases: [(&str, CaSubject); 3] = [
            (
                "country",
                CaSubject {
                    country: "Denmark".into(),
                    ..ca_subject()
                },
            ),
            (
                "organisation",
                CaSubject {
                    organisation: String::new(),
                    ..ca_subject()
                },
            ),
            (
                "common_name",
                CaSubject {
                    common_name: "x".repeat(65),
                    ..ca_subject()
                },
            ),
        ];
        for (field, subject) in cases {
            match create_ca_certificate(&signer, &subject, nb, na) {
                Err(PkiError::InvalidSpec { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(matches!(
            create_ca_certificate(&signer, &ca_subject(), na, nb),
            Err(PkiError::InvalidSpec {
                field: "validity",
                ..
            })
        ));
        assert_eq!(signer.calls(), 0);
    }

    #[test]
    fn signer_failure_is_reported_as_such() {
        let signer = CountingSigner::failing(KeyAlgorithm::EcdsaP256);
        let (nb, na) = ca_validity();
        match create_ca_certificate(&signer, &ca_subject(), nb, na) {
            Err(PkiError::Signer(msg)) => assert!(msg.contains("HSM unavailable"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_signature_is_caught_before_the_certificate_leaves() {
        let signer = CountingSigner::corrupting(KeyAlgorithm::EcdsaP256);
        let (nb, na) = ca_validity();
        assert!(matches!(
            create_ca_certificate(&signer, &ca_subject(), nb, na),
            Err(PkiError::Signer(_))
        ));
    }
}
