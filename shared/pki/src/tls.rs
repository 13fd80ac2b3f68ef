//! The TLS server certificate of the local mutual-TLS listener (API.md "System
//! certificates: mutual TLS"): issued by the service's own CA at start, so that clients
//! that trust `/public/ca.pem` for client certificates trust the server as well.

use std::net::IpAddr;

use rcgen::{DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose, SanType};
use time::OffsetDateTime;

use crate::error::PkiError;
use crate::key::SubjectPublicKey;
use crate::validate;
use crate::{Authority, IssuedCert};

impl Authority {
    /// Issues a TLS server certificate for `names` (DNS names or IP addresses, each a
    /// subjectAltName; RFC 6125 §6.4.4: clients match the SAN, not the CN): CA:false,
    /// keyUsage digitalSignature, EKU id-kp-serverAuth only (RFC 5280 §4.2.1.12), so the
    /// key can serve TLS and nothing the CA's other certificates are for.
    ///
    /// # Errors
    /// `InvalidSpec` (`names`, `serial`, `validity`) before the signer is called; `Signer`
    /// if signing fails or the signature does not verify.
    pub fn issue_tls_server(
        &self,
        key: &SubjectPublicKey,
        names: &[String],
        serial: Vec<u8>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert, PkiError> {
        let serial = validate::serial(&serial)?;
        self.check_within_ca(not_before, not_after)?;
        let first = names
            .first()
            .ok_or_else(|| PkiError::spec("names", "at least one DNS name or IP address"))?;
        let mut sans = Vec::with_capacity(names.len());
        for n in names {
            let n = n.trim();
            if let Ok(ip) = n.parse::<IpAddr>() {
                sans.push(SanType::IpAddress(ip));
            } else if !n.is_empty()
                && n.len() <= 253
                && n.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                })
            {
                let dns = n
                    .to_ascii_lowercase()
                    .try_into()
                    .map_err(|_| PkiError::spec("names", "not a DNS name"))?;
                sans.push(SanType::DnsName(dns));
            } else {
                return Err(PkiError::spec(
                    "names",
                    "each name must be a DNS name (letters, digits, '-', dots) or an IP address",
                ));
            }
        }
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            first.trim().chars().take(64).collect::<String>(),
        );
        let mut params = Self::end_entity_params(dn, serial, key, not_before, not_after);
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign_certificate(&params, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{generate_key, random_serial, KeyAlgorithm};
    use time::Duration;
    use x509_parser::extensions::GeneralName;

    #[test]
    fn server_certificate_names_and_purpose() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let now = OffsetDateTime::now_utc();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let c = authority
            .issue_tls_server(
                key.public(),
                &names,
                random_serial(),
                now,
                now + Duration::days(30),
            )
            .unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&c.der).unwrap();
        let san = x.subject_alternative_name().unwrap().unwrap().value;
        assert!(san
            .general_names
            .contains(&GeneralName::DNSName("localhost")));
        assert!(san
            .general_names
            .contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
        let eku = x.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth && !eku.any);
        assert!(!x.is_ca());
    }

    #[test]
    fn bad_names_are_refused_before_signing() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let now = OffsetDateTime::now_utc();
        for names in [
            vec![],
            vec!["a b".to_string()],
            vec!["-x.example".to_string()],
        ] {
            let e = authority
                .issue_tls_server(
                    key.public(),
                    &names,
                    random_serial(),
                    now,
                    now + Duration::days(1),
                )
                .unwrap_err();
            assert!(
                matches!(e, PkiError::InvalidSpec { .. }),
                "{names:?}: {e:?}"
            );
        }
    }
}
