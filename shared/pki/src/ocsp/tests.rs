//! OCSP request parsing, response signing and the responder certificate, checked with
//! our parser and `openssl`.

use super::request::*;
use super::responder::*;
use super::response::*;
use super::*;
use crate::signer::verify_signed_der;
use crate::testutil::*;
use crate::{generate_key, random_serial, KeyFileSigner};
use crate::{Authority, PkiError};
use crate::{CaSigner, IssuedCert, KeyAlgorithm, SubjectPublicKey};
use der::asn1::OctetString;
use der::{Decode, Encode};
use orgcert_core::ports::OcspHash;
use std::sync::Arc;
use time::Duration;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_ocsp::{BasicOcspResponse, OcspRequest, OcspResponse};
use x509_ocsp::{CertStatus, OcspResponseStatus, ResponderId};
use x509_parser::extensions::ParsedExtension;
use x509_parser::parse_x509_certificate;

fn nonce_extension(octets: &[u8]) -> Extension {
    Extension {
        extn_id: OID_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(OctetString::new(octets).unwrap().to_der().unwrap()).unwrap(),
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
    let info = parse_ocsp_request(&request_der(&authority, &high, OcspHash::Sha1, None)).unwrap();
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
        let delegated = OcspSigner::delegated(&authority, issued.der.clone(), key.clone()).unwrap();
        let id = cert_id_for(&random_serial(), OcspHash::Sha1, &authority);
        let (p, t, n) = window();
        let der = delegated
            .sign_response(&id, &OcspCertStatus::Good, p, t, n, None)
            .unwrap();
        let basic = basic(&der);
        let certs = basic.certs.as_ref().unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].to_der().unwrap(), issued.der);
        let responder_key = SubjectPublicKey::from_spki_der(&key.public_key_spki_der()).unwrap();
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
