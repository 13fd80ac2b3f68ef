//! The issuing authority: the CA's signer bound to its certificate, its URLs and policies,
//! and the certificate signing every issued certificate goes through. What it issues lives
//! with each concept: leaves in `leaf.rs`, CRLs in `crl.rs`, OCSP in `ocsp/`.

use std::fmt;
use std::sync::Arc;

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, IsCa, Issuer, KeyIdMethod, KeyPair,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::parse_x509_certificate;

use crate::ext;
use crate::key::RcgenPublicKey;
use crate::leaf::IssuedCert;
use crate::signer::{verify_cert_signature, RcgenSigner};
use crate::validate;
use crate::{to_pem, CaSigner, PkiError, SubjectPublicKey};

/// The issuing CA: its signer, certificate, URLs and policies.
pub struct Authority {
    signer: Arc<dyn CaSigner>,
    ca_der: Vec<u8>,
    ca_pem: String,
    /// The CA public key, checked against the signer once, in `new`.
    ca_key: SubjectPublicKey,
    ca_not_before: i64,
    ca_not_after: i64,
    /// The CA subject, DER, exactly as in its certificate (OCSP issuerNameHash).
    ca_subject_der: Vec<u8>,
    /// The CA's subjectKeyIdentifier, copied into the AKI of CRLs (RFC 5280 §5.2.1).
    ca_ski: Vec<u8>,
    /// Pre-built extensions shared by every leaf: certificatePolicies, AIA, qcStatements.
    shared_extensions: Vec<CustomExtension>,
    crl_url: String,
    pki_base_url: String,
    policies: Vec<String>,
    name_registration_authority: Option<String>,
    /// The certificates above this CA (the root last), served after it in the chain.
    chain: Vec<Vec<u8>>,
    /// This CA's certificate then `chain`, PEM.
    chain_pem: String,
    /// The issuing CA generation (1, or the rollover's number): decides the CRL URLs.
    generation: u32,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("algorithm", &self.signer.algorithm())
            .field("pki_base_url", &self.pki_base_url)
            .field("policies", &self.policies)
            .field(
                "name_registration_authority",
                &self.name_registration_authority,
            )
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Binds a signer to its CA certificate. URLs (RFC 5280 §4.2.2.1, §4.2.1.13):
    /// caIssuers `{base}/public/ca.cer`, OCSP `{base}/ocsp`, CRL `{base}/public/crl`.
    /// Leaves carry the qcStatement without nameRegistrationAuthorities; see
    /// [`Authority::with_name_registration_authority`].
    ///
    /// # Errors
    /// `InvalidSpec` (`pki_base_url`, `policies`) for bad configuration; `Signer` if the
    /// signer's public key is not the CA certificate's; `Encoding` if the CA certificate does
    /// not parse, is not a CA with a subjectKeyIdentifier, or its subject cannot be
    /// reproduced byte-for-byte as the issuer of new certificates.
    pub fn new(
        signer: Arc<dyn CaSigner>,
        ca_cert_der: Vec<u8>,
        pki_base_url: &str,
        policies: Vec<String>,
    ) -> Result<Self, PkiError> {
        let base = check_base_url(pki_base_url)?;
        if policies.is_empty() {
            return Err(PkiError::spec(
                "policies",
                "at least one policy OID is required",
            ));
        }
        let policy_oids = policies
            .iter()
            .map(|p| ext::parse_oid(p))
            .collect::<Result<Vec<_>, _>>()?;

        let (_, ca) = parse_x509_certificate(&ca_cert_der)
            .map_err(|e| PkiError::encoding("CA certificate does not parse", e))?;
        let is_ca = ca
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(PkiError::Encoding(
                "CA certificate lacks basicConstraints CA:true".into(),
            ));
        }
        // RFC 5280 §4.2.1.1: the AKI of every leaf must carry the CA's SKI.
        let ca_ski = ca
            .iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| {
                PkiError::Encoding("CA certificate lacks a subjectKeyIdentifier".into())
            })?;
        let ca_key = SubjectPublicKey::from_spki_der(ca.public_key().raw)
            .map_err(|e| PkiError::Signer(format!("CA certificate key: {e}")))?;
        let signer_key = RcgenSigner::new(signer.as_ref())?;
        if signer_key.public().spki_der() != ca_key.spki_der() {
            return Err(PkiError::Signer(
                "the signer's public key does not match the CA certificate".into(),
            ));
        }
        check_issuer_name_round_trip(&ca_cert_der, ca.subject().as_raw())?;

        let shared_extensions = vec![
            ext::certificate_policies(&policy_oids),
            ext::authority_info_access(&format!("{base}/public/ca.cer"), &format!("{base}/ocsp")),
            ext::qc_statements_legal_person(None),
        ];
        Ok(Self {
            generation: 1,
            chain: Vec::new(),
            chain_pem: to_pem("CERTIFICATE", &ca_cert_der),
            ca_pem: to_pem("CERTIFICATE", &ca_cert_der),
            ca_key,
            ca_not_before: ca.validity().not_before.timestamp(),
            ca_not_after: ca.validity().not_after.timestamp(),
            ca_subject_der: ca.subject().as_raw().to_vec(),
            ca_ski,
            ca_der: ca_cert_der,
            signer,
            shared_extensions,
            crl_url: format!("{base}/public/crl"),
            pki_base_url: base,
            policies,
            name_registration_authority: None,
        })
    }

    /// Names the registration authority in every leaf's qcStatement
    /// (`nameRegistrationAuthorities`, RFC 3739 §3.2.6.1), as OCES3 does; `None` leaves it out.
    ///
    /// # Errors
    /// `InvalidSpec` (`name_registration_authority`) unless it is an absolute http(s) URL
    /// of visible ASCII (it is written as an IA5String URI).
    pub fn with_name_registration_authority(mut self, uri: Option<&str>) -> Result<Self, PkiError> {
        let uri = uri.map(check_name_registration_authority).transpose()?;
        if let Some(qc) = self.shared_extensions.iter_mut().find(|e| {
            e.oid_components()
                .eq(ext::OID_QC_STATEMENTS.iter().copied())
        }) {
            *qc = ext::qc_statements_legal_person(uri.as_deref());
        }
        self.name_registration_authority = uri;
        Ok(self)
    }

    /// The default certificate policy: `0.4.0.2042.1.1` (ETSI EN 319 411-1 NCP) only.
    /// OCES3's `1.2.208.169.1.1.1.3.7` (organisation) and `…3.7.1` (system) belong to the
    /// Danish state; only a deployment entitled to them sets them (`ORGCERT_POLICY_OIDS`).
    pub fn default_policies() -> Vec<String> {
        vec!["0.4.0.2042.1.1".into()]
    }

    /// The name registration authority written into the qcStatement, if any.
    pub fn name_registration_authority(&self) -> Option<&str> {
        self.name_registration_authority.as_deref()
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Declares the certificates above this CA, the root last (two tiers: just the root),
    /// served after the CA certificate in chains and PKCS#12 files.
    pub fn with_chain(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.chain_pem = std::iter::once(&self.ca_der)
            .chain(chain.iter())
            .map(|der| to_pem("CERTIFICATE", der))
            .collect();
        self.chain = chain;
        self
    }

    /// Makes this the issuing CA of generation `generation` (a rollover's number): from 2
    /// on its CRLs are published at `{base}/public/crl/g{n}` (partitions `…/g{n}.{p}`) and
    /// its certificate at `{base}/public/ca/{n}` (caIssuers), so each generation's
    /// certificates point at their own issuer.
    pub fn with_generation(mut self, generation: u32) -> Self {
        self.generation = generation.max(1);
        self.crl_url = self.crl_url(None);
        // caIssuers must name this generation's certificate: `/public/ca.cer` stays the
        // first generation's (its certificates name it), later ones are `/public/ca/{n}`.
        if self.generation > 1 {
            let base = self.pki_base_url.clone();
            if let Some(aia) = self.shared_extensions.iter_mut().find(|e| {
                e.oid_components()
                    .eq(ext::OID_AUTHORITY_INFO_ACCESS.iter().copied())
            }) {
                *aia = ext::authority_info_access(
                    &format!("{base}/public/ca/{}", self.generation),
                    &format!("{base}/ocsp"),
                );
            }
        }
        self
    }

    /// The CA certificate's notAfter.
    pub fn not_after(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.ca_not_after).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The issuing CA generation (1 unless rolled over).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// This CA's certificate then the ones above it, DER.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        std::iter::once(self.ca_der.clone())
            .chain(self.chain.iter().cloned())
            .collect()
    }

    /// This CA's certificate then the ones above it, PEM (`/public/ca.pem`).
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// The trust anchor: the last certificate of the chain (a single-tier CA is its own).
    pub fn root_der(&self) -> &[u8] {
        self.chain.last().unwrap_or(&self.ca_der)
    }

    /// The CA signer (also signs CRLs and OCSP responses elsewhere).
    pub fn signer(&self) -> &Arc<dyn CaSigner> {
        &self.signer
    }

    /// The PKI base URL, without a trailing slash.
    pub fn pki_base_url(&self) -> &str {
        &self.pki_base_url
    }

    /// The certificate policy OIDs written into every leaf.
    pub fn policies(&self) -> &[String] {
        &self.policies
    }

    /// The CA public key, as checked against the signer in [`Authority::new`].
    pub(crate) fn ca_key(&self) -> &SubjectPublicKey {
        &self.ca_key
    }

    /// The distribution point of leaves that name no partition: this generation's full CRL.
    pub(crate) fn full_crl_url(&self) -> &str {
        &self.crl_url
    }

    /// The extensions every leaf carries: certificatePolicies, AIA, qcStatements.
    pub(crate) fn shared_extensions(&self) -> &[CustomExtension] {
        &self.shared_extensions
    }

    /// The CA subject name, DER.
    pub(crate) fn ca_subject_der(&self) -> &[u8] {
        &self.ca_subject_der
    }

    /// The CA's subjectKeyIdentifier.
    pub(crate) fn ca_ski(&self) -> &[u8] {
        &self.ca_ski
    }

    /// The CA certificate's notBefore and notAfter (unix seconds).
    pub(crate) fn ca_validity(&self) -> (i64, i64) {
        (self.ca_not_before, self.ca_not_after)
    }

    /// `validity` must be well-ordered and lie within the CA's: a certificate outliving its
    /// CA would fail path validation (RFC 5280 §6.1.3 (a)(2)) before it expires; refuse
    /// rather than silently shorten it.
    pub(crate) fn check_within_ca(
        &self,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<(), PkiError> {
        validate::validity(not_before, not_after)?;
        if not_before.unix_timestamp() < self.ca_not_before
            || not_after.unix_timestamp() > self.ca_not_after
        {
            return Err(PkiError::spec(
                "validity",
                "must lie within the CA certificate's validity",
            ));
        }
        Ok(())
    }

    /// The parameters every end-entity certificate of this CA starts from: `subject`, the
    /// (checked) `serial`, the validity, basicConstraints CA:false (critical; rcgen's
    /// `ExplicitNoCa` also writes the subjectKeyIdentifier, `key`'s RFC 7093 method 1) and
    /// the authorityKeyIdentifier, copied from the CA certificate's SKI by rcgen's
    /// `Issuer::from_ca_cert_der` (RFC 5280 §4.2.1.1). Callers add key usages and the rest.
    pub(crate) fn end_entity_params(
        subject: DistinguishedName,
        serial: Vec<u8>,
        key: &SubjectPublicKey,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.serial_number = Some(serial.into());
        params.not_before = not_before;
        params.not_after = not_after;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
        params.use_authority_key_identifier_extension = true;
        params
    }

    /// Signs `params` for `key` with the CA signer and checks the signature before the
    /// certificate leaves.
    pub(crate) fn sign_certificate(
        &self,
        params: &CertificateParams,
        key: &SubjectPublicKey,
    ) -> Result<IssuedCert, PkiError> {
        let signing_key = RcgenSigner::checked(self.signer.as_ref(), self.ca_key.clone());
        let issuer = Issuer::from_ca_cert_der(&self.ca_der.as_slice().into(), &signing_key)
            .map_err(|e| PkiError::encoding("CA certificate", e))?;
        let cert = params
            .signed_by(&RcgenPublicKey(key), &issuer)
            .map_err(|e| signing_key.error(e))?;
        let der = crate::pss::finish(cert.der().to_vec(), self.signer.as_ref())?;
        verify_cert_signature(&der, self.ca_key.spki_der())?;
        Ok(IssuedCert {
            pem: to_pem("CERTIFICATE", &der),
            sha256_fingerprint: hex::encode(Sha256::digest(&der)),
            der,
        })
    }
}

/// Parses a comma-separated list of policy OIDs (`ORGCERT_POLICY_OIDS`); a blank list means
/// [`Authority::default_policies`].
///
/// # Errors
/// `InvalidSpec` (`policies`) naming the entry that is not a dotted-decimal OID.
pub fn parse_policy_oids(list: &str) -> Result<Vec<String>, PkiError> {
    if list.trim().is_empty() {
        return Ok(Authority::default_policies());
    }
    list.split(',')
        .map(|entry| {
            let oid = entry.trim();
            ext::parse_oid(oid)?;
            Ok(oid.to_string())
        })
        .collect()
}

/// Checks a name registration authority URI (`ORGCERT_NAME_REGISTRATION_AUTHORITY`), e.g.
/// `https://datacvr.virk.dk`; returns it trimmed.
///
/// # Errors
/// `InvalidSpec` (`name_registration_authority`) unless it is an absolute http(s) URL of
/// visible ASCII without query or fragment.
pub fn check_name_registration_authority(uri: &str) -> Result<String, PkiError> {
    let uri = uri.trim();
    check_http_url("name_registration_authority", uri)?;
    Ok(uri.to_string())
}

/// An http(s) URL of ASCII characters that can be joined with paths; no trailing slash.
fn check_base_url(url: &str) -> Result<String, PkiError> {
    let trimmed = url.trim_end_matches('/');
    check_http_url("pki_base_url", trimmed)?;
    Ok(trimmed.to_string())
}

/// An absolute http(s) URL of visible ASCII without query or fragment, as distribution
/// points and access locations carry (RFC 5280 §4.2.1.6: IA5String URIs).
pub(crate) fn check_http_url(field: &'static str, url: &str) -> Result<(), PkiError> {
    let bad = |reason: &str| Err(PkiError::spec(field, reason.to_string()));
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("must be an absolute http:// or https:// URL");
    };
    if !matches!(scheme, "http" | "https") {
        return bad("must use http or https");
    }
    if rest.is_empty() || rest.starts_with('/') {
        return bad("must name a host");
    }
    // The URL goes into IA5String URIs (RFC 5280 §4.2.1.6); keep it to visible ASCII.
    if !url.bytes().all(|b| b.is_ascii_graphic()) || url.contains(['?', '#']) {
        return bad("must be visible ASCII without query or fragment");
    }
    Ok(())
}

/// rcgen re-encodes the issuer name from the parsed CA subject. Chaining compares names
/// (RFC 5280 §7.1) and some verifiers compare bytes, so prove once, with a throwaway key,
/// that the re-encoding is byte-identical.
fn check_issuer_name_round_trip(ca_der: &[u8], ca_subject_raw: &[u8]) -> Result<(), PkiError> {
    let throwaway = KeyPair::generate().map_err(|e| PkiError::encoding("key generation", e))?;
    let issuer = Issuer::from_ca_cert_der(&ca_der.into(), &throwaway)
        .map_err(|e| PkiError::encoding("CA subject is not supported", e))?;
    let probe = CertificateParams::default()
        .signed_by(&throwaway, &issuer)
        .map_err(|e| PkiError::encoding("probe certificate", e))?;
    let (_, probe) = parse_x509_certificate(probe.der())
        .map_err(|e| PkiError::encoding("probe certificate", e))?;
    if probe.issuer().as_raw() != ca_subject_raw {
        return Err(PkiError::Encoding(
            "CA subject cannot be reproduced byte-for-byte as an issuer name".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{generate_key, KeyAlgorithm, KeyFileSigner};

    #[test]
    fn the_name_registration_authority_goes_into_the_qc_statement() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256)
            .with_name_registration_authority(Some(" https://datacvr.virk.dk "))
            .unwrap();
        assert_eq!(
            authority.name_registration_authority(),
            Some("https://datacvr.virk.dk")
        );
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let issued = authority.issue(&leaf_spec(), key.public()).unwrap();
        let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
        assert_eq!(
            qc_statement_values(&cert),
            vec![ext::qc_statements_legal_person(Some("https://datacvr.virk.dk")).content()]
        );
        for bad in ["datacvr.virk.dk", "https://", "https://a b", "https://x?y"] {
            assert!(
                matches!(
                    test_authority(KeyAlgorithm::EcdsaP256)
                        .with_name_registration_authority(Some(bad)),
                    Err(PkiError::InvalidSpec {
                        field: "name_registration_authority",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn policy_oid_lists_parse_with_the_default_when_blank() {
        assert_eq!(parse_policy_oids("").unwrap(), vec!["0.4.0.2042.1.1"]);
        assert_eq!(parse_policy_oids("  ").unwrap(), vec!["0.4.0.2042.1.1"]);
        assert_eq!(
            parse_policy_oids("0.4.0.2042.1.1, 1.2.208.169.1.1.1.3.7").unwrap(),
            vec!["0.4.0.2042.1.1", "1.2.208.169.1.1.1.3.7"]
        );
        for bad in ["0.4.0.2042.1.1,", "1.2.x", "0.4.0.2042.1.1,,1.2.3"] {
            match parse_policy_oids(bad) {
                Err(PkiError::InvalidSpec {
                    field: "policies",
                    reason,
                }) => assert!(!reason.is_empty()),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn authority_refuses_a_foreign_signer_and_bad_configuration() {
        let ca_signer = KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let (nb, na) = ca_validity();
        let ca = crate::create_ca_certificate(&ca_signer, &ca_subject(), nb, na).unwrap();
        let other: Arc<dyn CaSigner> =
            Arc::new(KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap());
        assert!(matches!(
            Authority::new(other, ca.clone(), BASE_URL, Authority::default_policies()),
            Err(PkiError::Signer(_))
        ));
        let signer: Arc<dyn CaSigner> = Arc::new(ca_signer);
        for url in [
            "pki.example.dk",
            "ftp://pki.example.dk",
            "http://",
            "http://a b.dk",
        ] {
            assert!(
                matches!(
                    Authority::new(
                        signer.clone(),
                        ca.clone(),
                        url,
                        Authority::default_policies()
                    ),
                    Err(PkiError::InvalidSpec {
                        field: "pki_base_url",
                        ..
                    })
                ),
                "{url}"
            );
        }
        assert!(matches!(
            Authority::new(signer.clone(), ca.clone(), BASE_URL, vec!["1.2.x".into()]),
            Err(PkiError::InvalidSpec {
                field: "policies",
                ..
            })
        ));
        assert!(matches!(
            Authority::new(signer.clone(), ca.clone(), BASE_URL, vec![]),
            Err(PkiError::InvalidSpec {
                field: "policies",
                ..
            })
        ));
        assert!(matches!(
            Authority::new(signer.clone(), b"junk".to_vec(), BASE_URL, vec![]),
            Err(PkiError::InvalidSpec { .. }) | Err(PkiError::Encoding(_))
        ));
        let with_slash = Authority::new(
            signer,
            ca.clone(),
            "https://pki.example.dk/",
            Authority::default_policies(),
        )
        .unwrap();
        assert_eq!(with_slash.pki_base_url(), "https://pki.example.dk");
        assert_eq!(with_slash.ca_der(), ca.as_slice());
        assert!(with_slash
            .ca_pem()
            .starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn authority_refuses_a_leaf_certificate_as_ca() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = authority.issue(&leaf_spec(), key.public()).unwrap();
        assert!(matches!(
            Authority::new(
                authority.signer().clone(),
                leaf.der,
                BASE_URL,
                Authority::default_policies()
            ),
            Err(PkiError::Encoding(_))
        ));
    }
}
