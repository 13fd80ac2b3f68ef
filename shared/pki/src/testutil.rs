//! Shared fixtures for unit tests: a counting signer, a test CA and a sample spec.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::parse_x509_certificate;
use x509_parser::x509::X509Name;

use crate::*;
use orgcert_core::model::CertKind;

pub(crate) const BASE_URL: &str = "http://pki.example.dk";

/// Counts sign() calls; can fail or corrupt signatures on purpose.
pub(crate) struct CountingSigner {
    inner: KeyFileSigner,
    calls: AtomicUsize,
    mode: AtomicU8,
}

#[derive(PartialEq, Clone, Copy)]
#[repr(u8)]
enum Mode {
    Honest,
    Failing,
    Corrupting,
}

impl CountingSigner {
    pub(crate) fn new(alg: KeyAlgorithm) -> Self {
        Self::with(alg, Mode::Honest)
    }
    pub(crate) fn failing(alg: KeyAlgorithm) -> Self {
        Self::with(alg, Mode::Failing)
    }
    pub(crate) fn corrupting(alg: KeyAlgorithm) -> Self {
        Self::with(alg, Mode::Corrupting)
    }
    fn with(alg: KeyAlgorithm, mode: Mode) -> Self {
        Self {
            inner: KeyFileSigner::generate(alg).unwrap(),
            calls: AtomicUsize::new(0),
            mode: AtomicU8::new(mode as u8),
        }
    }
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    /// From now on every signature fails (e.g. after the CA certificate was made).
    pub(crate) fn start_failing(&self) {
        self.mode.store(Mode::Failing as u8, Ordering::SeqCst);
    }
    /// From now on every signature is wrong.
    pub(crate) fn start_corrupting(&self) {
        self.mode.store(Mode::Corrupting as u8, Ordering::SeqCst);
    }
}

impl CaSigner for CountingSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.inner.algorithm()
    }
    fn public_key_spki_der(&self) -> Vec<u8> {
        self.inner.public_key_spki_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mode = self.mode.load(Ordering::SeqCst);
        match mode {
            m if m == Mode::Honest as u8 => self.inner.sign(message),
            m if m == Mode::Failing as u8 => Err(PkiError::Signer("HSM unavailable".into())),
            _ => {
                let mut sig = self.inner.sign(&[message, b"x"].concat())?;
                sig.reverse();
                Ok(sig)
            }
        }
    }
}

pub(crate) fn ca_subject() -> CaSubject {
    CaSubject {
        common_name: "Orgcert Test Root CA".into(),
        organisation: "Orgcert Test A/S".into(),
        country: "DK".into(),
    }
}

pub(crate) fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01T00:00:00Z
}

pub(crate) fn ca_validity() -> (OffsetDateTime, OffsetDateTime) {
    (t0() - Duration::days(1), t0() + Duration::days(365 * 20))
}

pub(crate) fn counting_authority(signer: Arc<CountingSigner>) -> Authority {
    let (nb, na) = ca_validity();
    let ca = create_ca_certificate(signer.as_ref(), &ca_subject(), nb, na).unwrap();
    Authority::new(signer, ca, BASE_URL, Authority::default_policies()).unwrap()
}

pub(crate) fn test_authority(alg: KeyAlgorithm) -> Authority {
    let signer = KeyFileSigner::generate(alg).unwrap();
    let (nb, na) = ca_validity();
    let ca = create_ca_certificate(&signer, &ca_subject(), nb, na).unwrap();
    Authority::new(
        Arc::new(signer),
        ca,
        BASE_URL,
        Authority::default_policies(),
    )
    .unwrap()
}

pub(crate) fn leaf_spec() -> LeafSpec {
    LeafSpec {
        serial: random_serial(),
        kind: CertKind::Organisation,
        cvr: "12345678".into(),
        organisation_name: "Æblegrød ApS".into(),
        profile_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        common_name: "Æbler & Pærer signering".into(),
        email: Some("signering@aeblegroed.dk".into()),
        not_before: t0(),
        not_after: t0() + Duration::days(1095) - Duration::seconds(1),
        crl_url: None,
    }
}

/// The DER tag of each subject attribute value, in order.
pub(crate) fn attr_tags(name: &X509Name<'_>) -> Vec<u32> {
    name.iter_attributes()
        .map(|a| a.attr_value().tag().0)
        .collect()
}

pub(crate) fn ca_subject_raw(ca_der: &[u8]) -> Vec<u8> {
    let (_, ca) = parse_x509_certificate(ca_der).unwrap();
    ca.subject().as_raw().to_vec()
}

pub(crate) fn ca_ski(ca_der: &[u8]) -> Vec<u8> {
    let (_, ca) = parse_x509_certificate(ca_der).unwrap();
    let ski = ca
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    ski.unwrap()
}

/// The values (DER) of `cert`'s qcStatements extensions (RFC 3739 §3.2.6), which
/// x509-parser does not parse.
pub(crate) fn qc_statement_values<'a>(cert: &X509Certificate<'a>) -> Vec<&'a [u8]> {
    cert.extensions()
        .iter()
        .filter(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.3")
        .map(|e| e.value)
        .collect()
}

/// Asserts the CA profile (RFC 5280 §4.2.1.9, §4.2.1.3): critical basicConstraints CA:true
/// with `path_len`, critical keyUsage with keyCertSign and cRLSign, no digitalSignature.
pub(crate) fn assert_ca_profile(cert: &X509Certificate<'_>, path_len: u32) {
    let bc = cert.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(path_len));
    let ku = cert.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign());
    assert!(!ku.value.digital_signature());
}

/// x509-parser's registry plus organizationIdentifier, for readable subject strings.
pub(crate) fn oid_registry() -> &'static x509_parser::oid_registry::OidRegistry<'static> {
    use std::sync::OnceLock;
    static REGISTRY: OnceLock<x509_parser::oid_registry::OidRegistry<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut reg = x509_parser::oid_registry::OidRegistry::default().with_x509();
        reg.insert(
            x509_parser::oid_registry::Oid::from(&[2, 5, 4, 97]).unwrap(),
            x509_parser::oid_registry::OidEntry::new(
                "organizationIdentifier",
                "organizationIdentifier",
            ),
        );
        reg
    })
}

/// A request as a client would build it, from the CA certificate itself.
pub(crate) fn request_der(
    authority: &Authority,
    serial: &[u8],
    hash: orgcert_core::ports::OcspHash,
    extensions: Option<Vec<x509_cert::ext::Extension>>,
) -> Vec<u8> {
    use crate::ocsp::OcspHashExt as _;
    use der::asn1::OctetString;
    use der::{Decode as _, Encode as _};
    use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};
    let ca = x509_cert::Certificate::from_der(authority.ca_der()).unwrap();
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
        serial_number: x509_cert::serial_number::SerialNumber::new(serial).unwrap(),
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
