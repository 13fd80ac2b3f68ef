//! The OCES3 shape of organisation and system certificates (DESIGN §4 "Certificate
//! profile"), checked item by item on the DER with x509-parser rather than on our own
//! encoders: relying parties that accept MitID Erhverv certificates map DNs by order and
//! read qcStatements, so the order of names and entries is part of the contract.
//!
//! pkilint and `openssl verify` of the same shapes run in `interop.rs`.

mod common;

use std::sync::Arc;

use common::{leaf_spec, BASE_URL};

use orgcert_core::model::CertKind;
use orgcert_pki::{
    create_ca_certificate, generate_key, parse_policy_oids, Authority, CaSigner, CaSubject,
    KeyAlgorithm, KeyFileSigner,
};
use time::{Duration, OffsetDateTime};
use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::der_parser::der::{parse_der, DerObject};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{X509Certificate, X509Name};
use x509_parser::x509::X509Version;

const NRA: &str = "https://datacvr.virk.dk";

const CN: &str = "2.5.4.3";
const SERIAL_NUMBER: &str = "2.5.4.5";
const O: &str = "2.5.4.10";
const ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";
const C: &str = "2.5.4.6";
const PRINTABLE: u32 = 0x13;
const UTF8: u32 = 0x0c;

const QC_STATEMENTS: &str = "1.3.6.1.5.5.7.1.3";
const QCS_PKIX_QC_SYNTAX_V2: &str = "1.3.6.1.5.5.7.11.2";
const SEMANTICS_ID_LEGAL: &str = "0.4.0.194121.1.2";

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn ca(alg: KeyAlgorithm) -> (Arc<dyn CaSigner>, Vec<u8>) {
    let signer = KeyFileSigner::generate(alg).unwrap();
    let subject = CaSubject {
        common_name: "Orgcert Shape CA".into(),
        organisation: "Orgcert Test A/S".into(),
        country: "DK".into(),
    };
    let der = create_ca_certificate(
        &signer,
        &subject,
        t0() - Duration::days(1),
        t0() + Duration::days(365 * 20),
    )
    .unwrap();
    (Arc::new(signer), der)
}

/// Each RDN of `name` as (attribute OID, DER tag of the value, value); one attribute per RDN.
fn rdns(name: &X509Name<'_>) -> Vec<(String, u32, String)> {
    name.iter()
        .map(|rdn| {
            let attrs: Vec<_> = rdn.iter().collect();
            assert_eq!(attrs.len(), 1, "multi-valued RDN in {name}");
            let a = attrs[0];
            (
                a.attr_type().to_id_string(),
                a.attr_value().tag().0,
                a.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}

fn seq<'a>(obj: &'a DerObject<'a>) -> &'a [DerObject<'a>] {
    obj.as_sequence()
        .unwrap_or_else(|e| panic!("not a SEQUENCE: {e:?}"))
}

/// The qcStatements, decoded: (statementId, semanticsIdentifier, nameRegistrationAuthority URIs).
fn qc_statements(value: &[u8]) -> Vec<(String, Option<String>, Vec<String>)> {
    let (rest, top) = parse_der(value).unwrap();
    assert!(rest.is_empty());
    seq(&top)
        .iter()
        .map(|statement| {
            let parts = seq(statement);
            let id = parts[0].as_oid().unwrap().to_id_string();
            assert_eq!(parts.len(), 2, "statementInfo expected");
            // SemanticsInformation ::= SEQUENCE { semanticsIdentifier OID OPTIONAL,
            //   nameRegistrationAuthorities SEQUENCE OF GeneralName OPTIONAL } (RFC 3739 §3.2.6.1)
            let info = seq(&parts[1]);
            let mut semantics = None;
            let mut uris = Vec::new();
            for item in info {
                match &item.content {
                    BerObjectContent::OID(oid) => semantics = Some(oid.to_id_string()),
                    BerObjectContent::Sequence(names) => {
                        for name in names {
                            // GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
                            assert!(name.header.is_contextspecific(), "{name:?}");
                            assert_eq!(name.header.tag().0, 6, "{name:?}");
                            let raw = name.as_slice().unwrap();
                            uris.push(String::from_utf8(raw.to_vec()).unwrap());
                        }
                    }
                    other => panic!("unexpected SemanticsInformation item {other:?}"),
                }
            }
            (id, semantics, uris)
        })
        .collect()
}

fn policy_oids(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CertificatePolicies(p) => Some(
                p.iter()
                    .map(|p| p.policy_id.to_id_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .expect("certificatePolicies")
}

fn qc_of(cert: &X509Certificate<'_>) -> Vec<(String, Option<String>, Vec<String>)> {
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == QC_STATEMENTS)
        .expect("qcStatements on every organisation and system certificate");
    assert!(!ext.critical);
    qc_statements(ext.value)
}

#[test]
fn organisation_and_system_certificates_have_the_oces3_shape() {
    for ca_alg in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
        let (signer, ca_der) = ca(ca_alg);
        let ca_cert = parse(&ca_der);
        // The CA name: CN, O, C, CN first as OCES3 CA names.
        assert_eq!(
            rdns(ca_cert.subject()),
            vec![
                (CN.into(), UTF8, "Orgcert Shape CA".into()),
                (O.into(), UTF8, "Orgcert Test A/S".into()),
                (C.into(), PRINTABLE, "DK".into()),
            ]
        );
        let authority = Authority::new(
            signer,
            ca_der.clone(),
            BASE_URL,
            Authority::default_policies(),
        )
        .unwrap();

        for kind in [CertKind::Organisation, CertKind::System] {
            let key = generate_key(KeyAlgorithm::Rsa3072).unwrap();
            let issued = authority
                .issue(&leaf_spec(kind, t0()), key.public())
                .unwrap();
            let cert = parse(&issued.der);
            let what = format!("{kind:?} under {ca_alg}");
            assert_eq!(cert.version(), X509Version::V3, "{what}");

            // Subject: CN, serialNumber, O, organizationIdentifier, C, with OCES3's string types.
            assert_eq!(
                rdns(cert.subject()),
                vec![
                    (CN.into(), UTF8, "Økonomi signering".into()),
                    (
                        SERIAL_NUMBER.into(),
                        PRINTABLE,
                        "UI:DK-O:G:0f8fad5b-d9cb-469f-a165-70867728950e".into()
                    ),
                    (O.into(), UTF8, "Æblegrød & Søn ApS".into()),
                    (
                        ORGANIZATION_IDENTIFIER.into(),
                        UTF8,
                        "NTRDK-12345674".into()
                    ),
                    (C.into(), PRINTABLE, "DK".into()),
                ],
                "{what}"
            );
            // Issuer: the CA subject, byte for byte (so also CN first, same string types).
            assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw(), "{what}");
            assert_eq!(rdns(cert.issuer()), rdns(ca_cert.subject()), "{what}");

            // The extension set, with criticality.
            let mut set: Vec<(String, bool)> = cert
                .extensions()
                .iter()
                .map(|e| (e.oid.to_id_string(), e.critical))
                .collect();
            set.sort();
            let mut expected: Vec<(String, bool)> = [
                ("2.5.29.19", true),          // basicConstraints
                ("2.5.29.15", true),          // keyUsage
                ("2.5.29.14", false),         // subjectKeyIdentifier
                ("2.5.29.35", false),         // authorityKeyIdentifier
                ("2.5.29.31", false),         // cRLDistributionPoints
                ("2.5.29.32", false),         // certificatePolicies
                ("2.5.29.17", false),         // subjectAltName (email)
                ("1.3.6.1.5.5.7.1.1", false), // authorityInfoAccess
                (QC_STATEMENTS, false),
            ]
            .iter()
            .map(|(o, c)| (o.to_string(), *c))
            .collect();
            expected.sort();
            assert_eq!(set, expected, "{what}");
            assert!(cert.extended_key_usage().unwrap().is_none(), "no EKU");
            let ku = cert.key_usage().unwrap().unwrap().value;
            assert_eq!(
                (
                    ku.digital_signature(),
                    ku.non_repudiation(),
                    ku.key_encipherment()
                ),
                (true, kind == CertKind::Organisation, true),
                "{what}"
            );

            // AIA: caIssuers first, then OCSP.
            let aia: Vec<(String, String)> = cert
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::AuthorityInfoAccess(aia) => Some(
                        aia.iter()
                            .map(|ad| {
                                let GeneralName::URI(uri) = &ad.access_location else {
                                    panic!("{:?}", ad.access_location)
                                };
                                (ad.access_method.to_id_string(), uri.to_string())
                            })
                            .collect(),
                    ),
                    _ => None,
                })
                .unwrap();
            assert_eq!(
                aia,
                vec![
                    (
                        "1.3.6.1.5.5.7.48.2".to_string(),
                        format!("{BASE_URL}/public/ca.cer")
                    ),
                    ("1.3.6.1.5.5.7.48.1".to_string(), format!("{BASE_URL}/ocsp")),
                ],
                "{what}"
            );

            // qcStatements: pkixQCSyntax-v2 with the legal-person semantics id, nothing else
            // (no QcCompliance, QcType or QcSSCD), no registration authority by default.
            assert_eq!(
                qc_of(&cert),
                vec![(
                    QCS_PKIX_QC_SYNTAX_V2.to_string(),
                    Some(SEMANTICS_ID_LEGAL.to_string()),
                    vec![]
                )],
                "{what}"
            );

            // Default policy: ETSI NCP only.
            assert_eq!(policy_oids(&cert), vec!["0.4.0.2042.1.1"], "{what}");
        }
    }
}

#[test]
fn the_registration_authority_and_configured_policies_are_written() {
    let (signer, ca_der) = ca(KeyAlgorithm::EcdsaP256);
    // As a deployment entitled to the OCES3 OIDs would set ORGCERT_POLICY_OIDS.
    let policies = parse_policy_oids("0.4.0.2042.1.1, 1.2.208.169.1.1.1.3.7").unwrap();
    let authority = Authority::new(signer, ca_der, BASE_URL, policies)
        .unwrap()
        .with_name_registration_authority(Some(NRA))
        .unwrap();
    for kind in [CertKind::Organisation, CertKind::System] {
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let cert_der = authority
            .issue(&leaf_spec(kind, t0()), key.public())
            .unwrap()
            .der;
        let cert = parse(&cert_der);
        assert_eq!(
            qc_of(&cert),
            vec![(
                QCS_PKIX_QC_SYNTAX_V2.to_string(),
                Some(SEMANTICS_ID_LEGAL.to_string()),
                vec![NRA.to_string()]
            )],
            "{kind:?}"
        );
        assert_eq!(
            policy_oids(&cert),
            vec!["0.4.0.2042.1.1", "1.2.208.169.1.1.1.3.7"],
            "{kind:?}"
        );
    }
}

/// A CA created before CN-first names (C, O, CN) keeps working: it is used as stored, and
/// leaves name it byte for byte, in its own order.
#[test]
fn an_existing_c_first_ca_keeps_its_name_order() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CountryName,
        rcgen::DnValue::PrintableString("DK".try_into().unwrap()),
    );
    dn.push(rcgen::DnType::OrganizationName, "Orgcert Test A/S");
    dn.push(rcgen::DnType::CommonName, "Old Order CA");
    params.distinguished_name = dn;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    params.not_before = t0() - Duration::days(1);
    params.not_after = t0() + Duration::days(365 * 20);
    let ca_der = params.self_signed(&key).unwrap().der().to_vec();
    let ca_cert = parse(&ca_der);
    assert_eq!(
        rdns(ca_cert.subject())
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![C, O, CN]
    );

    let signer = KeyFileSigner::from_pkcs8_pem(&key.serialize_pem()).unwrap();
    let authority = Authority::new(
        Arc::new(signer),
        ca_der.clone(),
        BASE_URL,
        Authority::default_policies(),
    )
    .unwrap();
    let leaf = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let cert_der = authority
        .issue(&leaf_spec(CertKind::Organisation, t0()), leaf.public())
        .unwrap()
        .der;
    let cert = parse(&cert_der);
    assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
    assert_eq!(rdns(cert.subject())[0].0, CN, "new leaves are CN first");
    assert!(cert.verify_signature(Some(ca_cert.public_key())).is_ok());
}
