//! Hand-written DER for the extensions rcgen has no builder for.

use rcgen::CustomExtension;
use yasna::models::ObjectIdentifier;
use yasna::Tag;

use crate::PkiError;

const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
pub(crate) const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const OID_AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
pub(crate) const OID_QC_STATEMENTS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 3];
/// id-qcs-pkixQCSyntax-v2 (RFC 3739 §3.2.6.1).
const OID_QCS_PKIX_QC_SYNTAX_V2: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 11, 2];
/// id-etsi-qcs-semanticsId-Legal (ETSI EN 319 412-1 §5.1.3).
const OID_SEMANTICS_ID_LEGAL: &[u64] = &[0, 4, 0, 194121, 1, 2];

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
const OID_OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];

/// GeneralName uniformResourceIdentifier tag (RFC 5280 §4.2.1.6).
const GENERAL_NAME_URI: u64 = 6;

/// Parses a dotted OID (`0.4.0.2042.1.1`) following X.660's first-arc rules.
pub(crate) fn parse_oid(text: &str) -> Result<Vec<u64>, PkiError> {
    let bad = |reason: &str| PkiError::spec("policies", format!("{text:?}: {reason}"));
    let arcs = text
        .split('.')
        .map(|a| {
            if a.is_empty()
                || !a.bytes().all(|b| b.is_ascii_digit())
                || (a.len() > 1 && a.starts_with('0'))
            {
                Err(bad("not a dotted decimal object identifier"))
            } else {
                a.parse::<u64>().map_err(|_| bad("arc out of range"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    match arcs.as_slice() {
        [first, second, ..] if *first <= 2 && (*first == 2 || *second < 40) => Ok(arcs),
        [_, _, ..] => Err(bad("invalid first arcs")),
        _ => Err(bad("an object identifier needs at least two arcs")),
    }
}

/// certificatePolicies (RFC 5280 §4.2.1.4) with bare policy identifiers and no qualifiers:
/// qualifiers are optional and RFC 5280 discourages them.
pub(crate) fn certificate_policies(policies: &[Vec<u64>]) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for oid in policies {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&ObjectIdentifier::from_slice(oid));
                });
            }
        })
    });
    CustomExtension::from_oid_content(OID_CERTIFICATE_POLICIES, der)
}

/// authorityInfoAccess (RFC 5280 §4.2.2.1) with one caIssuers and one OCSP URI, in that
/// order as OCES3 writes them (relying parties that read the first entry expect caIssuers);
/// non-critical as the RFC requires.
pub(crate) fn authority_info_access(ca_issuers_url: &str, ocsp_url: &str) -> CustomExtension {
    access_descriptions(&[(OID_AD_CA_ISSUERS, ca_issuers_url), (OID_AD_OCSP, ocsp_url)])
}

/// authorityInfoAccess with caIssuers only: an issuing CA's pointer to the root certificate
/// (RFC 5280 §4.2.2.1); the root runs no OCSP service, its CRL is the status source.
pub(crate) fn ca_issuers_access(ca_issuers_url: &str) -> CustomExtension {
    access_descriptions(&[(OID_AD_CA_ISSUERS, ca_issuers_url)])
}

fn access_descriptions(entries: &[(&[u64], &str)]) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (method, url) in entries {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&ObjectIdentifier::from_slice(method));
                    w.next()
                        .write_tagged_implicit(Tag::context(GENERAL_NAME_URI), |w| {
                            w.write_ia5_string(url)
                        });
                });
            }
        })
    });
    CustomExtension::from_oid_content(OID_AUTHORITY_INFO_ACCESS, der)
}

/// qcStatements (RFC 3739 §3.2.6) as OCES3 writes it on every organisation and system
/// certificate: one `QCStatement { id-qcs-pkixQCSyntax-v2, SemanticsInformation }` whose
/// semanticsIdentifier is id-etsi-qcs-semanticsId-Legal (ETSI EN 319 412-1 §5.1.3) and,
/// when configured, nameRegistrationAuthorities holding one URI GeneralName
/// (RFC 3739 §3.2.6.1: `NameRegistrationAuthorities ::= SEQUENCE SIZE (1..MAX) OF GeneralName`).
/// Deliberately no QcCompliance/QcType/QcSSCD: we claim no EU-qualified status (DESIGN §4).
pub(crate) fn qc_statements_legal_person(
    name_registration_authority: Option<&str>,
) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next()
                    .write_oid(&ObjectIdentifier::from_slice(OID_QCS_PKIX_QC_SYNTAX_V2));
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(OID_SEMANTICS_ID_LEGAL));
                    if let Some(uri) = name_registration_authority {
                        w.next().write_sequence(|w| {
                            w.next()
                                .write_tagged_implicit(Tag::context(GENERAL_NAME_URI), |w| {
                                    w.write_ia5_string(uri)
                                });
                        });
                    }
                });
            });
        })
    });
    CustomExtension::from_oid_content(OID_QC_STATEMENTS, der)
}

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): `NULL`, non-critical. Tells clients not to
/// check the delegated responder's own revocation status.
pub(crate) fn ocsp_nocheck() -> CustomExtension {
    CustomExtension::from_oid_content(OID_OCSP_NOCHECK, vec![0x05, 0x00])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_oid_accepts_policies_and_refuses_junk() {
        assert_eq!(
            parse_oid("0.4.0.2042.1.1").unwrap(),
            vec![0, 4, 0, 2042, 1, 1]
        );
        assert_eq!(
            parse_oid("1.2.208.169.1.1.1.3.7").unwrap(),
            vec![1, 2, 208, 169, 1, 1, 1, 3, 7]
        );
        assert_eq!(parse_oid("2.999.1").unwrap(), vec![2, 999, 1]);
        for bad in [
            "", "1", "1..2", "1.2.x", "3.1", "1.40", "01.2", "1.2.", " 1.2",
        ] {
            assert!(parse_oid(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn qc_statements_der_is_exact() {
        let cases = [
            // SEQ { SEQ { OID pkixQCSyntax-v2 (1.3.6.1.5.5.7.11.2),
            //             SEQ { OID legal (0.4.0.194121.1.2) } } }
            (
                None,
                concat!(
                    "3017",
                    "3015",
                    "0608",
                    "2b06010505070b02",
                    "3009",
                    "0607",
                    "04008bec490102"
                ),
            ),
            // ... SEQ { OID legal, SEQ { [6] "https://cvr.dk" } } (nameRegistrationAuthorities)
            (
                Some("https://cvr.dk"),
                concat!(
                    "3029",
                    "3027",
                    "0608",
                    "2b06010505070b02",
                    "301b",
                    "0607",
                    "04008bec490102",
                    "3010",
                    "860e",
                    "68747470733a2f2f6376722e646b"
                ),
            ),
        ];
        for (authority, expected) in cases {
            let ext = qc_statements_legal_person(authority);
            assert_eq!(
                ext.content(),
                hex::decode(expected).unwrap(),
                "{authority:?}"
            );
            assert!(!ext.criticality());
        }
    }
}
