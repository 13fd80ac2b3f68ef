//! Organisation and system certificates (DESIGN §4 "Certificate profile") and the issuing
//! authority.

use std::fmt;
use std::sync::Arc;

use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::parse_x509_certificate;

use crate::ca::printable;
use crate::ext;
use crate::key::RcgenPublicKey;
use crate::signer::{verify_cert_signature, RcgenSigner};
use crate::validate::{self, UB_NAME};
use crate::{to_pem, CaSigner, PkiError, SubjectPublicKey};

/// X.520 organizationIdentifier (ETSI EN 319 412-1 §5.1.4).
const OID_ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];
/// X.520 serialNumber.
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

/// Which certificate type is issued; only the key usage differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// Organisation certificate (signing, including non-repudiation).
    Organisation,
    /// System certificate (machine-to-machine: TLS client, signing, decryption).
    System,
}

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

    /// The CA subject name, DER.
    pub(crate) fn ca_subject_der(&self) -> &[u8] {
        &self.ca_subject_der
    }

    /// The CA's subjectKeyIdentifier.
    pub(crate) fn ca_ski(&self) -> &[u8] {
        &self.ca_ski
    }

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

    /// Issues a leaf certificate for `key`: validates `spec` before the signer is called,
    /// then builds, signs and verifies the certificate.
    ///
    /// # Errors
    /// `InvalidSpec` as in [`Authority::check_spec`]; `Signer` if signing fails or the
    /// signature does not verify; `Encoding` on an internal encoding failure.
    pub fn issue(&self, spec: &LeafSpec, key: &SubjectPublicKey) -> Result<IssuedCert, PkiError> {
        self.check_spec(spec)?;
        let serial = validate::serial(&spec.serial)?;

        let mut params = CertificateParams::default();
        params.distinguished_name = leaf_subject(spec)?;
        params.serial_number = Some(serial.into());
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        // ExplicitNoCa writes basicConstraints CA:false (critical) and the subjectKeyIdentifier.
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = key_usages(spec.kind, key.algorithm().is_rsa());
        params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
        // The AKI is copied from the CA certificate's SKI (rcgen reads it in from_ca_cert_der).
        params.use_authority_key_identifier_extension = true;
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![spec.crl_url.clone().unwrap_or_else(|| self.crl_url.clone())],
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
        params.custom_extensions = self.shared_extensions.clone();

        self.sign_certificate(&params, key)
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
            let qc: Vec<&[u8]> = cert
                .extensions()
                .iter()
                .filter(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.3")
                .map(|e| e.value)
                .collect();
            assert_eq!(
                qc,
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
        let qc: Vec<&[u8]> = cert
            .extensions()
            .iter()
            .filter(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.3")
            .map(|e| e.value)
            .collect();
        assert_eq!(
            qc,
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
