//! The two-tier hierarchy (DESIGN §4 "CA hierarchy"), as OCES3: a root that signs only CA
//! certificates and its own CRL, and issuing CAs under it (pathlen 0) that sign leaves,
//! CRLs and the OCSP responder. A rollover is one more issuing CA under the same root.

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DistinguishedName, DnType, IsCa,
    KeyIdMethod, KeyUsagePurpose,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::ca::printable;
use crate::signer::verify_cert_signature;
use crate::validate::{self, UB_NAME};
use crate::{
    ext, random_serial, Authority, CaSigner, CaSubject, PkiError, RevokedEntry, SubjectPublicKey,
};

/// A root CRL may run this long: the root key is used rarely (offline in spirit), so its
/// CRL is long-lived, as OCES3's root CRL.
pub const ROOT_CRL_MAX_INTERVAL: Duration = Duration::days(400);

/// Creates the self-signed root certificate (DER): basicConstraints CA:true with
/// pathLenConstraint 1 (issuing CAs below it, none below them), keyUsage keyCertSign and
/// cRLSign (critical), subjectKeyIdentifier, CN-first name.
///
/// # Errors
/// As [`crate::create_ca_certificate`].
pub fn create_root_certificate(
    signer: &dyn CaSigner,
    subject: &CaSubject,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Vec<u8>, PkiError> {
    crate::ca::create_self_signed(signer, subject, not_before, not_after, 1)
}

/// The root CA: signs issuing CA certificates and its own CRL, nothing else.
pub struct Root {
    inner: Authority,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root").field("inner", &self.inner).finish()
    }
}

impl Root {
    /// Binds the root key to its certificate; `pki_base_url` as in [`Authority::new`].
    ///
    /// # Errors
    /// As [`Authority::new`].
    pub fn new(
        signer: Arc<dyn CaSigner>,
        root_der: Vec<u8>,
        pki_base_url: &str,
    ) -> Result<Self, PkiError> {
        Ok(Self {
            inner: Authority::new(
                signer,
                root_der,
                pki_base_url,
                Authority::default_policies(),
            )?,
        })
    }

    /// The root certificate, DER.
    pub fn der(&self) -> &[u8] {
        self.inner.ca_der()
    }

    /// The root certificate's notAfter: no issuing CA may outlive it.
    pub fn not_after(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.inner.ca_validity().1)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Issues an issuing CA certificate for `key` (DER): CN-first name, basicConstraints
    /// CA:true pathLenConstraint 0 (critical), keyUsage keyCertSign and cRLSign (critical),
    /// SKI, AKI (the root's SKI), AIA caIssuers → `{base}/public/root.cer` and a CRL
    /// distribution point → `{base}/public/root.crl` (RFC 5280 §4.2.2.1, §4.2.1.13).
    ///
    /// # Errors
    /// `InvalidSpec` (`country`, `organisation`, `common_name`, `validity`, the latter also
    /// when it leaves the root's validity) before the signer is called; `Signer` when the
    /// root signer fails or its signature does not verify.
    pub fn issue_issuing_ca(
        &self,
        key: &SubjectPublicKey,
        subject: &CaSubject,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        check_subject(subject)?;
        self.inner.check_within_ca(not_before, not_after)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = ca_name(subject)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial().into());
        params.not_before = not_before;
        params.not_after = not_after;
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![root_crl_url(self.inner.pki_base_url())],
        }];
        params.custom_extensions = vec![ext::ca_issuers_access(&root_cer_url(
            self.inner.pki_base_url(),
        ))];
        Ok(self.inner.sign_certificate(&params, key)?.der)
    }

    /// Signs the root CRL (DER): v2, AKI and cRLNumber, the revoked issuing CAs in
    /// `entries` (normally none), `next_update` up to [`ROOT_CRL_MAX_INTERVAL`] away.
    ///
    /// # Errors
    /// `InvalidSpec` (`next_update`, `entries`) before signing; `Signer` as elsewhere.
    pub fn sign_crl(
        &self,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        entries: &[RevokedEntry],
    ) -> Result<Vec<u8>, PkiError> {
        let this_update = this_update.to_offset(UtcOffset::UTC);
        let next_update = next_update.to_offset(UtcOffset::UTC);
        let interval = next_update.unix_timestamp() - this_update.unix_timestamp();
        if interval <= 0 || interval > ROOT_CRL_MAX_INTERVAL.whole_seconds() {
            return Err(PkiError::spec(
                "next_update",
                "must be after this_update and at most 400 days later",
            ));
        }
        crate::crl::encode_and_sign(&self.inner, number, this_update, next_update, None, entries)
    }
}

/// Where the root certificate is published (DER), the issuing CAs' caIssuers.
pub fn root_cer_url(pki_base_url: &str) -> String {
    format!("{}/public/root.cer", pki_base_url.trim_end_matches('/'))
}

/// Where the root CRL is published, the issuing CAs' CRL distribution point.
pub fn root_crl_url(pki_base_url: &str) -> String {
    format!("{}/public/root.crl", pki_base_url.trim_end_matches('/'))
}

pub(crate) fn check_subject(subject: &CaSubject) -> Result<(), PkiError> {
    validate::country("country", &subject.country)?;
    validate::text("organisation", &subject.organisation, UB_NAME)?;
    validate::text("common_name", &subject.common_name, UB_NAME)
}

/// CN, O, C in this DER order, as OCES3 CA names.
pub(crate) fn ca_name(subject: &CaSubject) -> Result<DistinguishedName, PkiError> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, subject.common_name.as_str());
    dn.push(DnType::OrganizationName, subject.organisation.as_str());
    // X.520 countryName is a PrintableString (RFC 5280 Appendix A.1).
    dn.push(DnType::CountryName, printable(&subject.country)?);
    Ok(dn)
}

/// A CRL's nextUpdate, if it parses and has one (to decide when to re-sign a stored CRL).
pub fn crl_next_update(der: &[u8]) -> Option<OffsetDateTime> {
    use x509_parser::prelude::FromDer as _;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der).ok()?;
    OffsetDateTime::from_unix_timestamp(crl.next_update()?.timestamp()).ok()
}

/// Checks that `cert_der` is signed by `issuer_der`'s key (a chain link).
///
/// # Errors
/// `Encoding` when either does not parse; `Signer` when the signature does not verify.
pub fn verify_issued_by(cert_der: &[u8], issuer_der: &[u8]) -> Result<(), PkiError> {
    let (_, issuer) = x509_parser::parse_x509_certificate(issuer_der)
        .map_err(|e| PkiError::encoding("issuer certificate does not parse", e))?;
    verify_cert_signature(cert_der, issuer.public_key().raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{KeyAlgorithm, KeyFileSigner};
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    use x509_parser::parse_x509_certificate;
    use x509_parser::prelude::FromDer;

    fn issuing_subject() -> CaSubject {
        CaSubject {
            common_name: "Orgcert Test Issuing CA 1".into(),
            ..ca_subject()
        }
    }

    #[test]
    fn root_issues_a_pathlen_0_issuing_ca_with_aia_and_crl_dp() {
        let root_signer = Arc::new(KeyFileSigner::generate(KeyAlgorithm::EcdsaP384).unwrap());
        let (nb, na) = ca_validity();
        let root_der =
            create_root_certificate(root_signer.as_ref(), &ca_subject(), nb, na).unwrap();
        let (_, root_cert) = parse_x509_certificate(&root_der).unwrap();
        assert_ca_profile(&root_cert, 1);

        let root = Root::new(root_signer, root_der.clone(), BASE_URL).unwrap();
        let issuing = KeyFileSigner::generate(KeyAlgorithm::Rsa3072).unwrap();
        let key = SubjectPublicKey::from_spki_der(&issuing.public_key_spki_der()).unwrap();
        let der = root
            .issue_issuing_ca(&key, &issuing_subject(), nb, na - Duration::days(1))
            .unwrap();
        verify_issued_by(&der, &root_der).unwrap();
        let (_, cert) = parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.issuer(), root_cert.subject());
        assert_eq!(
            cert.subject().to_string(),
            "CN=Orgcert Test Issuing CA 1, O=Orgcert Test A/S, C=DK"
        );
        assert_ca_profile(&cert, 0);
        let mut saw_aia = false;
        let mut saw_dp = false;
        for e in cert.iter_extensions() {
            match e.parsed_extension() {
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    let urls: Vec<String> = aia
                        .accessdescs
                        .iter()
                        .map(|d| {
                            assert_eq!(d.access_method.to_id_string(), "1.3.6.1.5.5.7.48.2");
                            match &d.access_location {
                                GeneralName::URI(u) => u.to_string(),
                                other => panic!("{other:?}"),
                            }
                        })
                        .collect();
                    assert_eq!(urls, vec![format!("{BASE_URL}/public/root.cer")]);
                    saw_aia = true;
                }
                ParsedExtension::CRLDistributionPoints(dps) => {
                    let dp = &dps.points[0];
                    match &dp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => assert!(matches!(
                            &names[0],
                            GeneralName::URI(u) if *u == format!("{BASE_URL}/public/root.crl")
                        )),
                        other => panic!("{other:?}"),
                    }
                    saw_dp = true;
                }
                _ => {}
            }
        }
        assert!(saw_aia && saw_dp);

        // The issuing CA works as an Authority and its leaves chain to it.
        let authority = Authority::new(
            Arc::new(issuing),
            der.clone(),
            BASE_URL,
            Authority::default_policies(),
        )
        .unwrap()
        .with_chain(vec![root_der.clone()]);
        let leaf = authority
            .issue(&leaf_spec(), generate_key_public().public())
            .unwrap();
        verify_issued_by(&leaf.der, &der).unwrap();
        assert_eq!(authority.root_der(), root_der.as_slice());
        let pems = pem::parse_many(authority.chain_pem()).unwrap();
        assert_eq!(pems.len(), 2);
        assert_eq!(pems[0].contents(), der.as_slice());
        assert_eq!(pems[1].contents(), root_der.as_slice());
    }

    /// A P-256 root valid for [`ca_validity`].
    fn p256_root() -> Root {
        let signer = Arc::new(KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap());
        let (nb, na) = ca_validity();
        let der = create_root_certificate(signer.as_ref(), &ca_subject(), nb, na).unwrap();
        Root::new(signer, der, BASE_URL).unwrap()
    }

    fn generate_key_public() -> crate::GeneratedKey {
        crate::generate_key(KeyAlgorithm::EcdsaP256).unwrap()
    }

    #[test]
    fn root_crl_is_long_lived_and_checked() {
        let root = p256_root();
        let crl = root
            .sign_crl(1, t0(), t0() + Duration::days(365), &[])
            .unwrap();
        let (_, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&crl).unwrap();
        assert_eq!(parsed.iter_revoked_certificates().count(), 0);
        assert!(matches!(
            root.sign_crl(2, t0(), t0() + Duration::days(401), &[]),
            Err(PkiError::InvalidSpec {
                field: "next_update",
                ..
            })
        ));
    }

    #[test]
    fn issuing_ca_validity_stays_within_the_root() {
        let (nb, na) = ca_validity();
        let root = p256_root();
        let key = generate_key_public();
        assert!(matches!(
            root.issue_issuing_ca(key.public(), &issuing_subject(), nb, na + Duration::days(1)),
            Err(PkiError::InvalidSpec {
                field: "validity",
                ..
            })
        ));
    }
}
