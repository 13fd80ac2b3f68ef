//! X.509 building for orgcert: the CA signer seam, the root CA certificate, organisation and
//! system certificates (DESIGN §4), CSR intake and PKCS#12 files, CRLs and OCSP (DESIGN §5).
//!
//! Time is always a parameter; nothing here reads the clock.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authority;
mod ca;
mod crl;
mod csr;
mod error;
mod ext;
mod hierarchy;
mod key;
mod key_pool;
mod leaf;
mod ocsp;
mod p12;
pub mod port;
mod pss;
mod signer;
mod tls;
mod validate;

#[cfg(test)]
mod testutil;

pub use authority::{check_name_registration_authority, parse_policy_oids, Authority};
pub use ca::{create_ca_certificate, CaSubject};
pub use crl::{CrlSpec, RevokedEntry};
pub use csr::parse_csr;
pub use error::PkiError;
pub use hierarchy::{
    create_root_certificate, crl_next_update, root_cer_url, root_crl_url, verify_issued_by, Root,
    ROOT_CRL_MAX_INTERVAL,
};
pub use key::{generate_key, GeneratedKey, KeyAlgorithm, SubjectKeyType, SubjectPublicKey};
pub use key_pool::{KeyPool, KeyPoolStats, DEFAULT_KEY_POOL};
pub use leaf::{IssuedCert, LeafSpec};
pub use ocsp::{
    cert_id_for, ocsp_error_response, parse_ocsp_request, CertIdInfo, OcspCertStatus,
    OcspErrorStatus, OcspRequestInfo, OcspSigner,
};
pub use p12::build_pkcs12;
pub use pss::RsaSignature;
pub use signer::{CaSigner, KeyFileSigner};

/// PEM-encodes `der` under `label` (RFC 7468), LF line endings, 64-character lines.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der.to_vec()), config)
}

/// A fresh certificate serial as DER magnitude octets: core's one generator
/// ([`orgcert_core::secrets::new_serial`], 16 octets, 126 random bits).
pub fn random_serial() -> Vec<u8> {
    orgcert_core::secrets::new_serial().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Authority>();
        check::<KeyFileSigner>();
        check::<GeneratedKey>();
        check::<KeyPool>();
        check::<SubjectPublicKey>();
        check::<IssuedCert>();
        check::<PkiError>();
        check::<OcspSigner>();
        check::<CrlSpec>();
    }

    #[test]
    fn to_pem_wraps_at_64_with_lf() {
        let text = to_pem("CERTIFICATE", &[0xab; 100]);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.ends_with("-----END CERTIFICATE-----\n"));
        assert!(!text.contains('\r'));
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(pem::parse(&text).unwrap().contents(), &[0xab; 100]);
    }

    #[test]
    fn random_serials_are_positive_distinct_and_16_octets() {
        let a = random_serial();
        let b = random_serial();
        assert_ne!(a, b);
        for s in [a, b] {
            assert_eq!(s.len(), 16);
            assert_eq!(s[0] & 0xc0, 0x40);
        }
    }
}
