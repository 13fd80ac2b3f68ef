//! Certificate revocation lists (RFC 5280 §5, DESIGN §5): full and partitioned CRLs, built by
//! rcgen and signed by the CA signer.

use std::collections::HashSet;

use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope,
    Issuer, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::leaf::check_http_url;
use crate::signer::{verify_signed_der, RcgenSigner};
use crate::validate;
use crate::{Authority, PkiError};

/// DESIGN §5: thisUpdate and nextUpdate at most 10 days apart.
pub(crate) const MAX_UPDATE_INTERVAL: Duration = Duration::days(10);

/// One revoked certificate in a CRL (RFC 5280 §5.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The certificate's serial, big-endian magnitude (leading zero octets are ignored).
    pub serial: Vec<u8>,
    /// When the CA processed the revocation (revocationDate).
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 §5.3.1 CRLReason; 0 (unspecified) writes no reasonCode entry extension.
    pub reason_code: u8,
}

/// What goes into one CRL; the issuer, signature and key identifier come from the [`Authority`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlSpec {
    /// The cRLNumber (RFC 5280 §5.2.3); the caller keeps it monotonic per CRL scope.
    pub number: u64,
    /// Issue time of this CRL.
    pub this_update: OffsetDateTime,
    /// When the next CRL will be issued; after `this_update`, at most 10 days later.
    pub next_update: OffsetDateTime,
    /// The revoked certificates in this CRL's scope, in any order.
    pub entries: Vec<RevokedEntry>,
    /// `Some(url)`: a partition CRL carrying a critical issuingDistributionPoint with that
    /// URI (RFC 5280 §5.2.5), the CRL distribution point of the certificates it covers.
    pub partition: Option<String>,
}

impl Authority {
    /// The URL a CRL is published at: `{base}/public/crl` for the full CRL, or
    /// `{base}/public/crl/{partition}` (the partition percent-encoded as a path segment).
    pub fn crl_url(&self, partition: Option<&str>) -> String {
        let base = self.pki_base_url();
        match (self.generation(), partition) {
            (1, None) => format!("{base}/public/crl"),
            (1, Some(p)) => format!("{base}/public/crl/{}", path_segment(p)),
            (g, None) => format!("{base}/public/crl/g{g}"),
            (g, Some(p)) => format!("{base}/public/crl/g{g}.{}", path_segment(p)),
        }
    }

    /// Builds and signs a CRL (DER): v2, the CA's name, authorityKeyIdentifier (the CA's SKI)
    /// and cRLNumber (RFC 5280 §5.2), reason codes per entry, and for a partition a critical
    /// issuingDistributionPoint with onlyContainsUserCerts (our CA issues no sub-CAs).
    ///
    /// Linear in the number of entries; the signature is verified before the CRL leaves.
    ///
    /// # Errors
    /// `InvalidSpec` before the signer is called: `next_update` (not after `this_update`, or
    /// more than 10 days later), `partition` (not an http(s) URL), `entries` (a serial that is
    /// zero, too long or listed twice; a reason code that is not a CRLReason, or
    /// removeFromCRL, which belongs to delta CRLs only; a revocation after `this_update`).
    /// `Signer` if signing fails or the signature does not verify.
    pub fn sign_crl(&self, spec: &CrlSpec) -> Result<Vec<u8>, PkiError> {
        let this_update = spec.this_update.to_offset(UtcOffset::UTC);
        let next_update = spec.next_update.to_offset(UtcOffset::UTC);
        // Compare at the one-second precision the encoding keeps.
        let interval = next_update.unix_timestamp() - this_update.unix_timestamp();
        if interval <= 0 {
            return Err(PkiError::spec(
                "next_update",
                "must be after this_update (RFC 5280 §5.1.2.5)",
            ));
        }
        if interval > MAX_UPDATE_INTERVAL.whole_seconds() {
            return Err(PkiError::spec(
                "next_update",
                "must be at most 10 days after this_update",
            ));
        }
        if let Some(url) = &spec.partition {
            check_http_url("partition", url)?;
        }
        let revoked_certs = revoked_certs(&spec.entries, this_update)?;

        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from_slice(&spec.number.to_be_bytes()),
            issuing_distribution_point: spec.partition.as_ref().map(|url| {
                CrlIssuingDistributionPoint {
                    distribution_point: CrlDistributionPoint {
                        uris: vec![url.clone()],
                    },
                    scope: Some(CrlScope::UserCertsOnly),
                }
            }),
            revoked_certs,
            // RFC 5280 §5.2.1: the AKI keyIdentifier is the CA certificate's SKI, whatever
            // method produced it.
            key_identifier_method: KeyIdMethod::PreSpecified(self.ca_ski().to_vec()),
        };
        let signing_key = RcgenSigner::checked(self.signer().as_ref(), self.ca_key().clone());
        let issuer = Issuer::from_ca_cert_der(&self.ca_der().into(), &signing_key)
            .map_err(|e| PkiError::encoding("CA certificate", e))?;
        let crl = params
            .signed_by(&issuer)
            .map_err(|e| signing_key.error(e))?;
        let der = crate::pss::finish(crl.der().to_vec(), self.signer().as_ref())?;
        verify_signed_der(&der, self.ca_key().spki_der())?;
        Ok(der)
    }
}

/// Checks and converts the entries in one pass (a hash set catches duplicate serials).
pub(crate) fn revoked_certs(
    entries: &[RevokedEntry],
    this_update: OffsetDateTime,
) -> Result<Vec<RevokedCertParams>, PkiError> {
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(entries.len());
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let bad = |reason: String| PkiError::spec("entries", format!("entry {i}: {reason}"));
        let magnitude =
            validate::serial_magnitude("entries", &entry.serial).map_err(|e| match e {
                PkiError::InvalidSpec { reason, .. } => bad(format!("serial {reason}")),
                other => other,
            })?;
        let start = entry.serial.len() - magnitude.len();
        if !seen.insert(&entry.serial[start..]) {
            return Err(bad(format!(
                "serial {} is listed twice",
                hex::encode(&magnitude)
            )));
        }
        if entry.revoked_at.unix_timestamp() > this_update.unix_timestamp() {
            return Err(bad("revoked_at is after this_update".into()));
        }
        let reason = crl_reason(entry.reason_code).map_err(bad)?;
        out.push(RevokedCertParams {
            serial_number: SerialNumber::from(magnitude),
            revocation_time: entry.revoked_at.to_offset(UtcOffset::UTC),
            // RFC 5280 §5.3.1: no reasonCode for unspecified (rcgen leaves it out).
            reason_code: Some(reason),
            invalidity_date: None,
        });
    }
    Ok(out)
}

/// RFC 5280 §5.3.1 CRLReason. 7 is unassigned; removeFromCRL (8) is only for delta CRLs,
/// which we do not issue, and means nothing in an OCSP response either.
pub(crate) fn crl_reason(code: u8) -> Result<RevocationReason, String> {
    use RevocationReason::*;
    Ok(match code {
        0 => Unspecified,
        1 => KeyCompromise,
        2 => CaCompromise,
        3 => AffiliationChanged,
        4 => Superseded,
        5 => CessationOfOperation,
        6 => CertificateHold,
        9 => PrivilegeWithdrawn,
        10 => AaCompromise,
        8 => return Err("reason removeFromCRL (8) is only for delta CRLs".into()),
        other => return Err(format!("reason code {other} is not a CRLReason")),
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any partition name
/// yields a valid URI path segment (and an IA5String, RFC 5280 §4.2.1.6).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{random_serial, KeyAlgorithm};
    use std::sync::Arc;
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    use x509_parser::revocation_list::CertificateRevocationList;

    fn entry(serial: &[u8], reason_code: u8) -> RevokedEntry {
        RevokedEntry {
            serial: serial.to_vec(),
            revoked_at: t0() - Duration::hours(2),
            reason_code,
        }
    }

    fn spec(entries: Vec<RevokedEntry>) -> CrlSpec {
        CrlSpec {
            number: 42,
            this_update: t0(),
            next_update: t0() + Duration::days(7),
            entries,
            partition: None,
        }
    }

    fn reason_of(
        crl: &CertificateRevocationList<'_>,
        serial: &[u8],
    ) -> Option<Option<x509_parser::x509::ReasonCode>> {
        crl.iter_revoked_certificates()
            .find(|r| r.raw_serial() == serial)
            .map(|r| r.reason_code().map(|(_, c)| c))
    }

    #[test]
    fn crl_profile() {
        for alg in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
            let authority = test_authority(alg);
            let key_compromise = random_serial();
            let unspecified = random_serial();
            let superseded = random_serial();
            let der = authority
                .sign_crl(&spec(vec![
                    entry(&key_compromise, 1),
                    entry(&unspecified, 0),
                    entry(&superseded, 4),
                ]))
                .unwrap();
            let (rest, crl) = CertificateRevocationList::from_der(&der).unwrap();
            assert!(rest.is_empty());
            assert_eq!(crl.version().map(|v| v.0), Some(1), "v2");
            assert_eq!(
                crl.issuer().as_raw(),
                ca_subject_raw(authority.ca_der()).as_slice()
            );
            assert_eq!(crl.last_update().timestamp(), t0().unix_timestamp());
            assert_eq!(
                crl.next_update().unwrap().timestamp(),
                (t0() + Duration::days(7)).unix_timestamp()
            );
            assert_eq!(crl.crl_number().map(|n| n.to_string()), Some("42".into()));
            let (_, ca) = x509_parser::parse_x509_certificate(authority.ca_der()).unwrap();
            crl.verify_signature(ca.public_key()).unwrap();
            let mut oids = Vec::new();
            for ext in crl.extensions() {
                oids.push(ext.oid.to_id_string());
                assert!(!ext.critical);
                if let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() {
                    assert_eq!(
                        aki.key_identifier.as_ref().unwrap().0,
                        ca_ski(authority.ca_der()).as_slice()
                    );
                    assert!(aki.authority_cert_issuer.is_none());
                }
            }
            oids.sort();
            assert_eq!(oids, vec!["2.5.29.20", "2.5.29.35"]);
            assert_eq!(crl.iter_revoked_certificates().count(), 3);
            use x509_parser::x509::ReasonCode;
            assert_eq!(
                reason_of(&crl, &key_compromise),
                Some(Some(ReasonCode::KeyCompromise))
            );
            assert_eq!(reason_of(&crl, &unspecified), Some(None), "§5.3.1");
            assert_eq!(
                reason_of(&crl, &superseded),
                Some(Some(ReasonCode::Superseded))
            );
            let revoked = crl.iter_revoked_certificates().next().unwrap();
            assert_eq!(
                revoked.revocation_date.timestamp(),
                (t0() - Duration::hours(2)).unix_timestamp()
            );
        }
    }

    #[test]
    fn partition_crl_has_a_critical_issuing_distribution_point() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let url = authority.crl_url(Some("p7"));
        assert_eq!(url, "http://pki.example.dk/public/crl/p7");
        let der = authority
            .sign_crl(&CrlSpec {
                partition: Some(url.clone()),
                ..spec(vec![])
            })
            .unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        let idp = crl
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "2.5.29.28")
            .unwrap();
        assert!(idp.critical);
        match idp.parsed_extension() {
            ParsedExtension::IssuingDistributionPoint(p) => {
                assert!(p.only_contains_user_certs);
                assert!(!p.only_contains_ca_certs && !p.indirect_crl);
                match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => {
                        assert_eq!(names, &vec![GeneralName::URI(url.as_str())])
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crl_urls() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        assert_eq!(authority.crl_url(None), "http://pki.example.dk/public/crl");
        assert_eq!(
            authority.crl_url(Some("a b/ø")),
            "http://pki.example.dk/public/crl/a%20b%2F%C3%B8"
        );
    }

    #[test]
    fn bad_specs_are_refused_before_the_signer_is_called() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        let calls = signer.calls();
        let s = random_serial();
        let cases: Vec<(&str, CrlSpec)> = vec![
            (
                "next_update",
                CrlSpec {
                    next_update: t0(),
                    ..spec(vec![])
                },
            ),
            (
                "next_update",
                CrlSpec {
                    next_update: t0() + Duration::days(10) + Duration::seconds(1),
                    ..spec(vec![])
                },
            ),
            (
                "partition",
                CrlSpec {
                    partition: Some("crl/p1".into()),
                    ..spec(vec![])
                },
            ),
            ("entries", spec(vec![entry(&s, 1), entry(&s, 4)])),
            (
                "entries",
                spec(vec![entry(&s, 1), entry(&[&[0u8][..], &s].concat(), 4)]),
            ),
            ("entries", spec(vec![entry(&[0, 0], 1)])),
            ("entries", spec(vec![entry(&[0x80; 20], 1)])),
            ("entries", spec(vec![entry(&s, 7)])),
            ("entries", spec(vec![entry(&s, 8)])),
            ("entries", spec(vec![entry(&s, 11)])),
            (
                "entries",
                spec(vec![RevokedEntry {
                    revoked_at: t0() + Duration::seconds(1),
                    ..entry(&s, 1)
                }]),
            ),
        ];
        for (field, bad) in cases {
            match authority.sign_crl(&bad) {
                Err(PkiError::InvalidSpec { field: f, reason }) => assert_eq!(f, field, "{reason}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert_eq!(signer.calls(), calls);
        // Exactly 10 days is allowed.
        authority
            .sign_crl(&CrlSpec {
                next_update: t0() + Duration::days(10),
                ..spec(vec![entry(&s, 0)])
            })
            .unwrap();
        assert_eq!(signer.calls(), calls + 1);
    }

    #[test]
    fn signer_failures_surface_as_such() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        signer.start_failing();
        match authority.sign_crl(&spec(vec![])) {
            Err(PkiError::Signer(msg)) => assert!(msg.contains("HSM unavailable"), "{msg}"),
            other => panic!("{other:?}"),
        }
        signer.start_corrupting();
        assert!(matches!(
            authority.sign_crl(&spec(vec![])),
            Err(PkiError::Signer(_))
        ));
    }

    /// Timing for a large CRL: `cargo test -p orgcert-pki --release -- --ignored --nocapture`.
    #[test]
    #[ignore = "slow; prints the time to build a 100k-entry CRL"]
    fn large_crl_build_time() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        for n in [100_000usize, 1_000_000] {
            let entries: Vec<RevokedEntry> = (0..n)
                .map(|i| entry(&random_serial(), [0u8, 1, 4, 5][i % 4]))
                .collect();
            let started = std::time::Instant::now();
            let der = authority.sign_crl(&spec(entries)).unwrap();
            println!(
                "{n} entries: {} bytes in {:?}",
                der.len(),
                started.elapsed()
            );
        }
    }
}
