//! Organisation and system certificates (DESIGN §4 "Certificate profile"), issued by the
//! [`Authority`].

use orgcert_core::model::CertKind;
use rcgen::{CrlDistributionPoint, DistinguishedName, DnType, KeyUsagePurpose, SanType};
use time::OffsetDateTime;

use crate::authority::check_http_url;
use crate::ca::printable;
use crate::validate::{self, UB_NAME};
use crate::{Authority, PkiError, SubjectPublicKey};

/// X.520 organizationIdentifier (ETSI EN 319 412-1 §5.1.4).
const OID_ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];
/// X.520 serialNumber.
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

/// Everything that varies between leaf certificates; the rest comes from the [`Authority`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    /// Big-endian positive serial from a CSPRNG (8..=20 octets, ≥ 64 bits of entropy).
    pub serial: Vec<u8>,
    /// Organisation or system certificate.
    pub kind: CertKind,
    /// The organisation's CVR number, 8 digits.
    pub cvr: String,
    /// The organisation's name (subject O), at most 64 characters.
    pub organisation_name: String,
    /// The certificate profile's UUID, text form.
    pub profile_id: String,
    /// The profile name (subject CN), at most 64 characters (else `InvalidSpec{field:"name"}`).
    pub common_name: String,
    /// Optional ASCII email, written as an rfc822Name SAN.
    pub email: Option<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity (the caller passes not_before + 1095 days − 1 s).
    pub not_after: OffsetDateTime,
    /// The CRL distribution point (RFC 5280 §4.2.1.13), e.g. a partition's
    /// [`Authority::crl_url`]; `None` means the full CRL, `{base}/public/crl`.
    pub crl_url: Option<String>,
}

/// An issued certificate in the forms callers store and return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM (`CERTIFICATE`).
    pub pem: String,
    /// SHA-256 over the DER, lowercase hex.
    pub sha256_fingerprint: String,
}

impl Authority {
    /// Checks `spec` against the profile without signing anything (the pre-signing lint).
    ///
    /// # Errors
    /// `InvalidSpec` with the field at fault: `serial`, `cvr`, `organisation_name`,
    /// `profile_id`, `name`, `email`, `validity` or `crl_url`.
    pub fn check_spec(&self, spec: &LeafSpec) -> Result<(), PkiError> {
        validate::serial(&spec.serial)?;
        validate::cvr(&spec.cvr)?;
        validate::text("organisation_name", &spec.organisation_name, UB_NAME)?;
        validate::uuid("profile_id", &spec.profile_id)?;
        validate::text("name", &spec.common_name, UB_NAME)?;
        if let Some(email) = &spec.email {
            validate::email(email)?;
        }
        if let Some(url) = &spec.crl_url {
            check_http_url("crl_url", url)?;
        }
        self.check_within_ca(spec.not_before, spec.not_after)
    }

    /// Issues a leaf certificate for `key`: validates `spec` before the signer is called,
    /// then builds, signs and verifies the certificate.
    ///
    /// # Errors
    /// `InvalidSpec` as in [`Authority::check_spec`]; `Signer` if signing fails or the
    /// signature does not verify; `Encoding` on an internal encoding failure.
    pub fn issue(&self, spec: &LeafSpec, key: &SubjectPublicKey) -> Result<IssuedCert, PkiError> {
        self.check_spec(spec)?;
        let serial = validate::serial(&spec.serial)?;

        let mut params = Self::end_entity_params(
            leaf_subject(spec)?,
            serial,
            key,
            spec.not_before,
            spec.not_after,
        );
        params.key_usages = key_usages(spec.kind, key.algorithm().is_rsa());
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![spec
                .crl_url
                .clone()
                .unwrap_or_else(|| self.full_crl_url().to_owned())],
        }];
        if let Some(email) = &spec.email {
            let mailbox = email
                .as_str()
                .try_into()
                .map_err(|e| PkiError::spec("email", format!("not an IA5String: {e}")))?;
            params.subject_alt_names = vec![SanType::Rfc822Name(mailbox)];
        }
        // Seal generation is a profile right, not an extension: every organisation and system
        // certificate carries the same qcStatement, as OCES3 (DESIGN §4).
        params.custom_extensions = self.shared_extensions().to_vec();

        self.sign_certificate(&params, key)
    }
}

/// `CN=<name>, serialNumber=UI:DK-O:G:<uuid>, O=<org>, organizationIdentifier=NTRDK-<CVR>,
/// C=DK`, in this DER order: OCES3 writes CN first and relying parties that map DNs compare
/// the order (rcgen's `DistinguishedName` keeps insertion order). C and serialNumber are
/// PrintableString as X.520 mandates; the rest UTF8String (RFC 5280 §4.1.2.6 prefers
/// UTF8String for DirectoryString).
fn leaf_subject(spec: &LeafSpec) -> Result<DistinguishedName, PkiError> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, spec.common_name.as_str());
    dn.push(
        DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
        printable(&format!("UI:DK-O:G:{}", spec.profile_id))?,
    );
    dn.push(DnType::OrganizationName, spec.organisation_name.as_str());
    dn.push(
        DnType::CustomDnType(OID_ORGANIZATION_IDENTIFIER.to_vec()),
        format!("NTRDK-{}", spec.cvr),
    );
    dn.push(DnType::CountryName, printable("DK")?);
    Ok(dn)
}

/// DESIGN §4 key usage. RFC 5480 §3 forbids keyEncipherment for EC keys, so EC
/// certificates drop it.
fn key_usages(kind: CertKind, rsa: bool) -> Vec<KeyUsagePurpose> {
    use KeyUsagePurpose::{ContentCommitment, DigitalSignature, KeyEncipherment};
    match (kind, rsa) {
        (CertKind::Organisation, true) => {
            vec![DigitalSignature, ContentCommitment, KeyEncipherment]
        }
        (CertKind::System, true) => vec![DigitalSignature, KeyEncipherment],
        (CertKind::Organisation, false) => vec![DigitalSignature, ContentCommitment],
        (CertKind::System, false) => vec![DigitalSignature],
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sha2::{Digest, Sha256};
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::parse_x509_certificate;

    use super::*;
    use crate::testutil::*;
    use crate::{ext, generate_key, KeyAlgorithm};
    use rcgen::{CertificateParams, KeyPair};
    use x509_parser::certificate::X509Certificate;
    use x509_parser::extensions::GeneralName;

    fn uri(name: &GeneralName<'_>) -> String {
        match name {
            GeneralName::URI(u) => u.to_string(),
            other => panic!("not a URI: {other:?}"),
        }
    }

    fn ku_flags(cert: &X509Certificate<'_>) -> (bool, bool, bool, bool) {
        let ku = cert.key_usage().unwrap().unwrap();
        assert!(ku.critical, "key usage must be critical");
        let v = ku.value;
        assert!(
            !v.key_cert_sign() && !v.crl_sign() && !v.key_agreement() && !v.data_encipherment()
        );
        (
            v.digital_signature(),
            v.non_repudiation(),
            v.key_encipherment(),
            v.key_agreement(),
        )
    }

    #[test]
    fn key_usage_per_kind_and_key_type() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let rsa = generate_key(KeyAlgorithm::Rsa3072).unwrap();
        let ec256 = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let ec384 = generate_key(KeyAlgorithm::EcdsaP384).unwrap();
        let cases = [
            (CertKind::Organisation, &rsa, (true, true, true)),
            (CertKind::System, &rsa, (true, false, true)),
            (CertKind::Organisation, &ec256, (true, true, false)),
            (CertKind::System, &ec256, (true, false, false)),
            (CertKind::Organisation, &ec384, (true, true, false)),
            (CertKind::System, &ec384, (true, false, false)),
        ];
        for (kind, key, (ds, nr, ke)) in cases {
            let spec = LeafSpec {
                kind,
                ..leaf_spec()
            };
            let issued = authority.issue(&spec, key.public()).unwrap();
            let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
            let got = ku_flags(&cert);
            assert_eq!(
                (got.0, got.1, got.2),
                (ds, nr, ke),
                "{kind:?} {:?}",
                key.public()
            );
            assert!(cert.extended_key_usage().unwrap().is_none(), "no EKU");
        }
    }

    #[test]
    fn leaf_profile_is_exact() {
        let authority = test_authority(KeyAlgorithm::Rsa3072);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let spec = leaf_spec();
        let issued = authority.issue(&spec, key.public()).unwrap();
        let (rest, cert) = parse_x509_certificate(&issued.der).unwrap();
        assert!(rest.is_empty());

        // Subject, in order, with string types.
        assert_eq!(
            cert.subject()
                .to_string_with_registry(oid_registry())
                .unwrap(),
            format!(
                "CN=Æbler & Pærer signering, serialNumber=UI:DK-O:G:{}, O=Æblegrød ApS, \
                 organizationIdentifier=NTRDK-12345678, C=DK",
                spec.profile_id
            )
        );
        // PrintableString = 0x13, UTF8String = 0x0c.
        assert_eq!(
            attr_tags(cert.subject()),
            vec![0x0c, 0x13, 0x0c, 0x0c, 0x13]
        );
        assert_eq!(
            cert.issuer().as_raw(),
            ca_subject_raw(authority.ca_der()).as_slice()
        );

        assert_eq!(cert.raw_serial(), spec.serial.as_slice());
        assert_eq!(
            cert.validity().not_before.timestamp(),
            spec.not_before.unix_timestamp()
        );
        assert_eq!(
            cert.validity().not_after.timestamp(),
            spec.not_after.unix_timestamp()
        );
        assert_eq!(cert.public_key().raw, key.public().spki_der());
        assert_eq!(
            cert.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.11"
        );

        let bc = cert.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);

        let mut seen = Vec::new();
        for ext in cert.extensions() {
            seen.push(ext.oid.to_id_string());
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(ski) => {
                    assert!(!ext.critical);
                    // RFC 7093 method 1.
                    let raw = cert.public_key().subject_public_key.data.as_ref();
                    assert_eq!(ski.0, &Sha256::digest(raw)[..20]);
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    assert!(!ext.critical);
                    let ca_ski = ca_ski(authority.ca_der());
                    assert_eq!(aki.key_identifier.as_ref().unwrap().0, ca_ski.as_slice());
                }
                ParsedExtension::CertificatePolicies(policies) => {
                    assert!(!ext.critical);
                    let oids: Vec<String> = policies
                        .iter()
                        .map(|p| p.policy_id.to_id_string())
                        .collect();
                    assert_eq!(oids, Authority::default_policies());
                    assert!(policies.iter().all(|p| p.policy_qualifiers.is_none()));
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    assert!(!ext.critical);
                    let got: Vec<(String, String)> = aia
                        .iter()
                        .map(|ad| (ad.access_method.to_id_string(), uri(&ad.access_location)))
                        .collect();
                    assert_eq!(
                        got,
                        vec![
                            (
                                "1.3.6.1.5.5.7.48.2".into(),
                                "http://pki.example.dk/public/ca.cer".into()
                            ),
                            (
                                "1.3.6.1.5.5.7.48.1".into(),
                                "http://pki.example.dk/ocsp".into()
                            ),
                        ]
                    );
                }
                ParsedExtension::CRLDistributionPoints(dps) => {
                    assert!(!ext.critical);
                    let text = format!("{:?}", dps.points);
                    assert!(text.contains("http://pki.example.dk/public/crl"), "{text}");
                    assert_eq!(dps.points.len(), 1);
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    assert!(!ext.critical);
                    assert_eq!(
                        san.general_names,
                        vec![GeneralName::RFC822Name("signering@aeblegroed.dk")]
                    );
                }
                ParsedExtension::KeyUsage(_) | ParsedExtension::BasicConstraints(_) => {}
                other => {
                    // qcStatements is unknown to x509-parser; check its bytes.
                    assert_eq!(ext.oid.to_id_string(), "1.3.6.1.5.5.7.1.3", "{other:?}");
                    assert!(!ext.critical);
                    assert_eq!(ext.value, ext::qc_statements_legal_person(None).content());
                }
            }
        }
        seen.sort();
        let mut expected = vec![
            "2.5.29.35",
            "2.5.29.17",
            "2.5.29.15",
            "2.5.29.31",
            "2.5.29.14",
            "2.5.29.19",
            "2.5.29.32",
            "1.3.6.1.5.5.7.1.1",
            "1.3.6.1.5.5.7.1.3",
        ];
        expected.sort();
        assert_eq!(seen, expected);

        assert_eq!(
            issued.sha256_fingerprint,
            hex::encode(Sha256::digest(&issued.der))
        );
        assert_eq!(issued.sha256_fingerprint.len(), 64);
        assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(
            pem::parse(&issued.pem).unwrap().contents(),
            issued.der.as_slice()
        );
    }

    #[test]
    fn no_email_means_no_san_and_every_kind_carries_qc_statements() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        for kind in [CertKind::Organisation, CertKind::System] {
            let spec = LeafSpec {
                kind,
                email: None,
                ..leaf_spec()
            };
            let issued = authority.issue(&spec, key.public()).unwrap();
            let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
            assert_eq!(
                qc_statement_values(&cert),
                vec![ext::qc_statements_legal_person(None).content()],
                "{kind:?}"
            );
            assert!(cert
                .extensions()
                .iter()
                .all(|e| e.oid.to_id_string() != "2.5.29.17"));
        }
    }

    #[test]
    fn invalid_specs_are_refused_before_the_signer_is_called() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        let calls_after_setup = signer.calls();
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let base = leaf_spec();
        let cases: Vec<(&str, LeafSpec)> = vec![
            (
                "name",
                LeafSpec {
                    common_name: "x".repeat(65),
                    ..base.clone()
                },
            ),
            (
                "name",
                LeafSpec {
                    common_name: String::new(),
                    ..base.clone()
                },
            ),
            (
                "email",
                LeafSpec {
                    email: Some("søren@example.dk".into()),
                    ..base.clone()
                },
            ),
            (
                "serial",
                LeafSpec {
                    serial: vec![],
                    ..base.clone()
                },
            ),
            (
                "serial",
                LeafSpec {
                    serial: vec![0; 16],
                    ..base.clone()
                },
            ),
            (
                "serial",
                LeafSpec {
                    serial: vec![0xff; 20],
                    ..base.clone()
                },
            ),
            (
                "cvr",
                LeafSpec {
                    cvr: "1234".into(),
                    ..base.clone()
                },
            ),
            (
                "organisation_name",
                LeafSpec {
                    organisation_name: "o".repeat(65),
                    ..base.clone()
                },
            ),
            (
                "profile_id",
                LeafSpec {
                    profile_id: "not-a-uuid".into(),
                    ..base.clone()
                },
            ),
            (
                "validity",
                LeafSpec {
                    not_after: base.not_before,
                    ..base.clone()
                },
            ),
            (
                "validity",
                LeafSpec {
                    not_after: base.not_before + time::Duration::days(365 * 30),
                    ..base.clone()
                },
            ),
            (
                "crl_url",
                LeafSpec {
                    crl_url: Some("pki.example.dk/public/crl/p1".into()),
                    ..base.clone()
                },
            ),
            (
                "crl_url",
                LeafSpec {
                    crl_url: Some("http://pki.example.dk/crl?p=1".into()),
                    ..base.clone()
                },
            ),
        ];
        for (field, spec) in cases {
            match authority.issue(&spec, key.public()) {
                Err(PkiError::InvalidSpec { field: f, reason }) => {
                    assert_eq!(f, field, "{reason}");
                    assert!(!reason.is_empty());
                }
                other => panic!("{field}: expected InvalidSpec, got {other:?}"),
            }
        }
        assert_eq!(
            signer.calls(),
            calls_after_setup,
            "the signer must not be called"
        );
        // 64 characters is still fine, and that one does reach the signer.
        let ok = LeafSpec {
            common_name: "x".repeat(64),
            ..base
        };
        authority.issue(&ok, key.public()).unwrap();
        assert_eq!(signer.calls(), calls_after_setup + 1);
    }

    #[test]
    fn crl_url_points_the_distribution_point_at_a_partition() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let url = authority.crl_url(Some("p3"));
        let spec = LeafSpec {
            crl_url: Some(url.clone()),
            ..leaf_spec()
        };
        let issued = authority.issue(&spec, key.public()).unwrap();
        let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
        let uris: Vec<String> = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::CRLDistributionPoints(dps) => Some(dps),
                _ => None,
            })
            .unwrap()
            .points
            .iter()
            .flat_map(|p| match &p.distribution_point {
                Some(x509_parser::extensions::DistributionPointName::FullName(names)) => {
                    names.iter().map(uri).collect::<Vec<_>>()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(uris, vec![url]);
    }

    #[test]
    fn the_error_message_is_readable() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let spec = LeafSpec {
            common_name: "x".repeat(65),
            ..leaf_spec()
        };
        let err = authority.issue(&spec, key.public()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid name: is 65 characters long; at most 64 are allowed"
        );
    }

    #[test]
    fn csr_key_of_other_rsa_size_gets_rsa_key_usage() {
        let authority = test_authority(KeyAlgorithm::EcdsaP384);
        let kp =
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
        let csr = CertificateParams::default().serialize_request(&kp).unwrap();
        let key = crate::parse_csr(csr.der()).unwrap();
        let issued = authority.issue(&leaf_spec(), &key).unwrap();
        let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
        assert!(ku_flags(&cert).2, "keyEncipherment for RSA");
        assert_eq!(
            cert.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.3"
        );
    }
}
