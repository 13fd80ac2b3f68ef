//! Password-protected PKCS#12 files (RFC 7292) for server-side generated keys.

use orgcert_core::model::P12Format;
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use sha2::{Digest, Sha256};

use crate::{GeneratedKey, PkiError};

// The PKCS#12 protection is core's `P12Format` (DESIGN §4). Modern: PBES2 /
// PBKDF2-HMAC-SHA256 / AES-256-CBC with an HMAC-SHA256 MAC (OpenSSL 3 default; Java 12+,
// Windows Server 2019+). Legacy: pbeWithSHAAnd3-KeyTripleDES-CBC with a SHA-1 MAC
// (Windows Server 2016, older macOS and Android).

/// Modern: a work factor above OpenSSL's 2048 default, still fast enough to issue online.
const MODERN_ITERATIONS: u32 = 10_000;
/// Legacy: OpenSSL's `-legacy` default, which old Windows and macOS importers are known to
/// accept.
const LEGACY_ITERATIONS: u32 = 2_048;

/// Aliases longer than this are unhelpful in every key store UI.
const MAX_FRIENDLY_NAME: usize = 128;

/// Builds a PKCS#12 (DER) holding the private key, its certificate and the chain (leaf first,
/// root last); `friendly_name` becomes the key entry's alias.
///
/// # Errors
/// `InvalidSpec` (`password`, `friendly_name`, `certificate`) if the password is empty or not
/// printable ASCII, the name is empty or unusable, or the certificate is not for `key`;
/// `Encoding` if building the file fails.
pub fn build_pkcs12(
    key: &GeneratedKey,
    cert_der: &[u8],
    chain_der: &[Vec<u8>],
    password: &str,
    format: P12Format,
    friendly_name: &str,
) -> Result<Vec<u8>, PkiError> {
    // RFC 7292 Appendix B.1 turns the password into a BMPString while PBES2 uses its UTF-8
    // bytes; importers disagree on non-ASCII, so keep to printable ASCII.
    if password.is_empty() || !password.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(PkiError::spec(
            "password",
            "must be non-empty printable ASCII",
        ));
    }
    // friendlyName is a BMPString (PKCS#9, RFC 2985 §5.5.1); `text` keeps to the BMP.
    crate::validate::text("friendly_name", friendly_name, MAX_FRIENDLY_NAME)?;
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| PkiError::spec("certificate", format!("does not parse: {e}")))?;
    if cert.public_key().raw != key.public().spki_der() {
        return Err(PkiError::spec("certificate", "is not for this private key"));
    }

    let private_key =
        PrivateKey::from_der(key.pkcs8_der()).map_err(|e| PkiError::encoding("PKCS#8 key", e))?;
    let certs = std::iter::once(cert_der)
        .chain(chain_der.iter().map(Vec::as_slice))
        .map(|der| Certificate::from_der(der).map_err(|e| PkiError::encoding("certificate", e)))
        .collect::<Result<Vec<_>, _>>()?;
    // localKeyId ties the key bag to its certificate bag (RFC 7292 §4.2); any octets work.
    let local_key_id = Sha256::digest(cert_der).to_vec();
    let chain = PrivateKeyChain::new(local_key_id, private_key, certs);

    let mut store = KeyStore::new();
    store.add_entry(friendly_name, KeyStoreEntry::PrivateKeyChain(chain));
    let writer = store.writer(password);
    let writer = match format {
        P12Format::Modern => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(MODERN_ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .mac_iterations(MODERN_ITERATIONS),
        P12Format::Legacy => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .encryption_iterations(LEGACY_ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .mac_iterations(LEGACY_ITERATIONS),
    };
    writer
        .write()
        .map_err(|e| PkiError::encoding("PKCS#12 encoding failed", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{generate_key, KeyAlgorithm};
    use p12_keystore::Pkcs12ImportPolicy;

    #[test]
    fn round_trips_through_p12_keystore_in_both_formats() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = authority.issue(&leaf_spec(), key.public()).unwrap();
        let chain = vec![authority.ca_der().to_vec()];
        for format in [P12Format::Modern, P12Format::Legacy] {
            let p12 =
                build_pkcs12(&key, &leaf.der, &chain, "Pa55-word", format, "my cert").unwrap();
            let store =
                KeyStore::from_pkcs12(&p12, "Pa55-word", Pkcs12ImportPolicy::Relaxed).unwrap();
            let (alias, read) = store.private_key_chain().unwrap();
            assert_eq!(alias, "my cert");
            assert_eq!(read.key().as_der(), key.pkcs8_der());
            let ders: Vec<&[u8]> = read.certs().iter().map(|c| c.as_der()).collect();
            assert_eq!(ders, vec![leaf.der.as_slice(), authority.ca_der()]);
            assert!(KeyStore::from_pkcs12(&p12, "wrong", Pkcs12ImportPolicy::Relaxed).is_err());
        }
    }

    #[test]
    fn refuses_bad_password_and_foreign_certificate() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let other = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = authority.issue(&leaf_spec(), key.public()).unwrap();
        for pw in ["", "pæssword", "tab\t"] {
            assert!(matches!(
                build_pkcs12(&key, &leaf.der, &[], pw, P12Format::Modern, "x"),
                Err(PkiError::InvalidSpec {
                    field: "password",
                    ..
                })
            ));
        }
        for name in ["", "emoji 🔑"] {
            assert!(matches!(
                build_pkcs12(&key, &leaf.der, &[], "pw", P12Format::Modern, name),
                Err(PkiError::InvalidSpec {
                    field: "friendly_name",
                    ..
                })
            ));
        }
        assert!(matches!(
            build_pkcs12(&other, &leaf.der, &[], "pw", P12Format::Modern, "x"),
            Err(PkiError::InvalidSpec {
                field: "certificate",
                ..
            })
        ));
    }
}
