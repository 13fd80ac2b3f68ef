//! Key algorithms, subject public keys and server-side key generation.

use std::fmt;
use std::str::FromStr;

use orgcert_core::secret::{ExposeSecret as _, SecretSlice};
use rcgen::{
    KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256,
};
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroize;

use crate::PkiError;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";
const OID_DSA: &str = "1.2.840.10040.4.1";

/// Smallest and largest RSA modulus we certify (bits).
pub(crate) const RSA_MIN_BITS: u32 = 2048;
pub(crate) const RSA_MAX_BITS: u32 = 8192;

/// A key algorithm this service generates keys for and signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA, 3072-bit modulus (the OCES3 default); signs with RSASSA-PKCS1-v1_5 SHA-256.
    Rsa3072,
    /// RSA, 4096-bit modulus: root CA keys only (OCES3's root is RSA-4096); never offered
    /// for subject keys, so not in [`KeyAlgorithm::ALL`].
    Rsa4096,
    /// ECDSA on NIST P-256; signs with ECDSA-SHA256.
    EcdsaP256,
    /// ECDSA on NIST P-384; signs with ECDSA-SHA384.
    EcdsaP384,
}

impl KeyAlgorithm {
    /// All variants, in order of preference.
    pub const ALL: [KeyAlgorithm; 3] = [Self::Rsa3072, Self::EcdsaP256, Self::EcdsaP384];

    /// Whether this is an RSA algorithm (key usage differs for RSA and EC keys).
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa3072 | Self::Rsa4096)
    }

    /// Stable text form: `RSA-3072`, `ECDSA-P256`, `ECDSA-P384`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa3072 => "RSA-3072",
            Self::Rsa4096 => "RSA-4096",
            Self::EcdsaP256 => "ECDSA-P256",
            Self::EcdsaP384 => "ECDSA-P384",
        }
    }

    /// The rcgen algorithm: decides both the SPKI encoding and the signature algorithm.
    pub(crate) fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            Self::Rsa3072 | Self::Rsa4096 => &PKCS_RSA_SHA256,
            Self::EcdsaP256 => &PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &PKCS_ECDSA_P384_SHA384,
        }
    }
}

/// Core's subject key algorithms (what a profile offers for server-side generation) are
/// the ones [`KeyAlgorithm::ALL`] lists; RSA-4096 stays a CA-key-only addition here.
impl From<orgcert_core::model::KeyAlgorithm> for KeyAlgorithm {
    fn from(a: orgcert_core::model::KeyAlgorithm) -> Self {
        use orgcert_core::model::KeyAlgorithm as Core;
        match a {
            Core::Rsa3072 => Self::Rsa3072,
            Core::EcdsaP256 => Self::EcdsaP256,
            Core::EcdsaP384 => Self::EcdsaP384,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = PkiError;

    /// Parses the [`KeyAlgorithm::as_str`] form, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain([Self::Rsa4096])
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                PkiError::unsupported(format!(
                    "unknown key algorithm {s:?}; use RSA-3072, ECDSA-P256 or ECDSA-P384"
                ))
            })
    }
}

/// The exact type of a subject key, including the RSA size (CSRs may carry RSA 2048..=8192).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKeyType {
    /// RSA with the given modulus length in bits.
    Rsa {
        /// Modulus length in bits.
        bits: u32,
    },
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
}

impl SubjectKeyType {
    /// Whether this is an RSA key.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa { .. })
    }

    /// Key size in bits (RSA modulus length, or the curve's field size).
    pub fn bits(self) -> u32 {
        match self {
            Self::Rsa { bits } => bits,
            Self::EcdsaP256 => 256,
            Self::EcdsaP384 => 384,
        }
    }

    /// The algorithm family; every RSA size maps to [`KeyAlgorithm::Rsa3072`].
    pub fn family(self) -> KeyAlgorithm {
        match self {
            Self::Rsa { .. } => KeyAlgorithm::Rsa3072,
            Self::EcdsaP256 => KeyAlgorithm::EcdsaP256,
            Self::EcdsaP384 => KeyAlgorithm::EcdsaP384,
        }
    }
}

impl fmt::Display for SubjectKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::EcdsaP256 => f.write_str("ECDSA-P256"),
            Self::EcdsaP384 => f.write_str("ECDSA-P384"),
        }
    }
}

/// A checked subject public key (RSA 2048..=8192 or EC P-256/P-384) to be certified.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectPublicKey {
    /// Canonical SubjectPublicKeyInfo DER, exactly as it is written into certificates.
    spki_der: Vec<u8>,
    /// Contents of the subjectPublicKey BIT STRING.
    raw: Vec<u8>,
    key_type: SubjectKeyType,
}

impl SubjectPublicKey {
    /// Checks a SubjectPublicKeyInfo (DER) against the accepted key types; proves no possession.
    ///
    /// # Errors
    /// `Encoding` if the DER is malformed, `WeakKey` for RSA below 2048 bits or a bad public
    /// exponent, `UnsupportedKey` for any other key type, curve or size.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, PkiError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| PkiError::encoding("malformed SubjectPublicKeyInfo", e))?;
        if !rest.is_empty() {
            return Err(PkiError::Encoding(
                "trailing bytes after SubjectPublicKeyInfo".into(),
            ));
        }
        let raw = spki.subject_public_key.data.to_vec();
        let key_type = classify(&spki)?;
        let mut key = Self {
            spki_der: Vec::new(),
            raw,
            key_type,
        };
        // Re-encode so that what we store is byte-for-byte what rcgen writes into the
        // certificate (e.g. an RSA AlgorithmIdentifier with absent parameters gets its NULL).
        key.spki_der = RcgenPublicKey(&key).subject_public_key_info();
        Ok(key)
    }

    /// The algorithm family (profile decisions such as key usage depend on it only).
    ///
    /// Every RSA key reports [`KeyAlgorithm::Rsa3072`], whatever its size; use
    /// [`SubjectPublicKey::key_type`] for the exact size.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.key_type.family()
    }

    /// The exact key type, including the RSA modulus size.
    pub fn key_type(&self) -> SubjectKeyType {
        self.key_type
    }

    /// SubjectPublicKeyInfo DER, as written into issued certificates.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The rcgen algorithm whose SPKI encoding matches this key.
    pub(crate) fn rcgen_alg(&self) -> &'static SignatureAlgorithm {
        self.key_type.family().rcgen()
    }

    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Key identifier per RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the
    /// subjectPublicKey BIT STRING value (a method linters recognise, unlike rcgen's default
    /// hash over the whole SPKI).
    pub(crate) fn key_identifier(&self) -> Vec<u8> {
        Sha256::digest(&self.raw)[..20].to_vec()
    }
}

impl fmt::Debug for SubjectPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectPublicKey")
            .field("key_type", &self.key_type)
            .field("spki_der_len", &self.spki_der.len())
            .finish()
    }
}

/// Adapter that lets rcgen write a [`SubjectPublicKey`] into a certificate, without making
/// rcgen's traits part of this crate's public API.
pub(crate) struct RcgenPublicKey<'a>(pub(crate) &'a SubjectPublicKey);

impl PublicKeyData for RcgenPublicKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.0.raw
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.0.rcgen_alg()
    }
}

fn classify(spki: &SubjectPublicKeyInfo<'_>) -> Result<SubjectKeyType, PkiError> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_RSA_ENCRYPTION => classify_rsa(spki),
        OID_EC_PUBLIC_KEY => classify_ec(spki),
        OID_ED25519 => Err(PkiError::unsupported(
            "Ed25519 keys are not supported; use RSA (2048-8192 bits) or ECDSA P-256/P-384",
        )),
        OID_ED448 => Err(PkiError::unsupported(
            "Ed448 keys are not supported; use RSA (2048-8192 bits) or ECDSA P-256/P-384",
        )),
        OID_RSASSA_PSS => Err(PkiError::unsupported(
            "RSASSA-PSS-only keys are not supported; use an rsaEncryption key",
        )),
        OID_DSA => Err(PkiError::unsupported("DSA keys are not supported")),
        other => Err(PkiError::unsupported(format!(
            "key algorithm {other} is not supported; use RSA (2048-8192 bits) or ECDSA P-256/P-384"
        ))),
    }
}

fn classify_rsa(spki: &SubjectPublicKeyInfo<'_>) -> Result<SubjectKeyType, PkiError> {
    // RFC 3279 §2.3.1: the parameters field MUST be NULL (some encoders omit it).
    if let Some(params) = &spki.algorithm.parameters {
        if params.tag() != x509_parser::der_parser::asn1_rs::Tag::Null {
            return Err(PkiError::Encoding(
                "RSA AlgorithmIdentifier parameters must be NULL".into(),
            ));
        }
    }
    let key = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(key)) => key,
        _ => return Err(PkiError::Encoding("malformed RSA public key".into())),
    };
    let modulus = strip_leading_zeros(key.modulus);
    let bits = bit_length(modulus);
    if bits < RSA_MIN_BITS {
        return Err(PkiError::WeakKey {
            reason: format!("RSA key of {bits} bits; at least {RSA_MIN_BITS} bits are required"),
        });
    }
    if bits > RSA_MAX_BITS {
        return Err(PkiError::unsupported(format!(
            "RSA key of {bits} bits; at most {RSA_MAX_BITS} bits are supported"
        )));
    }
    // CA/Browser Forum BR §6.1.6: the public exponent MUST be odd and at least 3.
    let exponent = strip_leading_zeros(key.exponent);
    let odd = exponent.last().is_some_and(|b| b & 1 == 1);
    let at_least_3 = exponent.len() > 1 || exponent.first().is_some_and(|b| *b >= 3);
    if !odd || !at_least_3 {
        return Err(PkiError::WeakKey {
            reason: "RSA public exponent must be odd and at least 3".into(),
        });
    }
    Ok(SubjectKeyType::Rsa { bits })
}

fn classify_ec(spki: &SubjectPublicKeyInfo<'_>) -> Result<SubjectKeyType, PkiError> {
    // RFC 5480 §2.1.1: only namedCurve parameters are allowed in PKIX.
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
        .ok_or_else(|| PkiError::unsupported("EC key without a named curve"))?;
    let (key_type, point_len) = match curve.as_str() {
        OID_P256 => (SubjectKeyType::EcdsaP256, 65),
        OID_P384 => (SubjectKeyType::EcdsaP384, 97),
        OID_P521 => {
            return Err(PkiError::unsupported(
                "EC curve P-521 is not supported; use P-256 or P-384",
            ))
        }
        other => {
            return Err(PkiError::unsupported(format!(
                "EC curve {other} is not supported; use P-256 or P-384"
            )))
        }
    };
    let point = spki.subject_public_key.data.as_ref();
    // RFC 5480 §2.2: uncompressed form MUST be supported; compressed is optional and
    // not accepted by every relying party, so we certify uncompressed points only.
    if point.first() != Some(&0x04) || point.len() != point_len {
        return Err(PkiError::unsupported(
            "EC public key must be an uncompressed point",
        ));
    }
    Ok(key_type)
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn bit_length(be: &[u8]) -> u32 {
    match be.first() {
        None => 0,
        Some(first) => (be.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
    }
}

/// A freshly generated key pair; the PKCS#8 bytes are wiped from memory on drop and never
/// printed.
#[derive(Debug)]
pub struct GeneratedKey {
    pkcs8: SecretSlice<u8>,
    public: SubjectPublicKey,
}

impl GeneratedKey {
    /// The public half, to be certified with [`crate::Authority::issue`].
    pub fn public(&self) -> &SubjectPublicKey {
        &self.public
    }

    /// The private key as PKCS#8 DER (secret: only for building the PKCS#12 file).
    pub fn pkcs8_der(&self) -> &[u8] {
        self.pkcs8.expose_secret()
    }
}

/// Generates a key pair: RSA-3072, ECDSA P-256 or ECDSA P-384.
///
/// # Errors
/// `Encoding` if the crypto library fails (it should not).
pub fn generate_key(alg: KeyAlgorithm) -> Result<GeneratedKey, PkiError> {
    let mut pair = generate_keypair(alg)?;
    let pkcs8 = SecretSlice::from(pair.serialized_der().to_vec());
    let public = SubjectPublicKey::from_spki_der(&pair.subject_public_key_info());
    pair.zeroize();
    Ok(GeneratedKey {
        pkcs8,
        public: public?,
    })
}

pub(crate) fn generate_keypair(alg: KeyAlgorithm) -> Result<KeyPair, PkiError> {
    let pair = match alg {
        KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
        other => KeyPair::generate_for(other.rcgen()),
    };
    pair.map_err(|e| PkiError::encoding("key generation failed", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithm_text_round_trips() {
        for alg in KeyAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<KeyAlgorithm>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
        }
        assert_eq!(
            "ecdsa-p384".parse::<KeyAlgorithm>().unwrap(),
            KeyAlgorithm::EcdsaP384
        );
        assert!(matches!(
            "ed25519".parse::<KeyAlgorithm>(),
            Err(PkiError::UnsupportedKey { .. })
        ));
    }

    #[test]
    fn generate_key_gives_expected_types() {
        let cases = [
            (KeyAlgorithm::Rsa3072, SubjectKeyType::Rsa { bits: 3072 }),
            (KeyAlgorithm::EcdsaP256, SubjectKeyType::EcdsaP256),
            (KeyAlgorithm::EcdsaP384, SubjectKeyType::EcdsaP384),
        ];
        for (alg, expected) in cases {
            let key = generate_key(alg).unwrap();
            assert_eq!(key.public().algorithm(), alg);
            assert_eq!(key.public().key_type(), expected);
            assert_eq!(key.public().key_type().to_string(), alg.as_str());
            // The PKCS#8 must load back and carry the same public key.
            let reloaded = KeyPair::try_from(key.pkcs8_der()).unwrap();
            assert_eq!(
                reloaded.subject_public_key_info(),
                key.public().spki_der().to_vec()
            );
            assert!(!format!("{key:?}").contains(&hex::encode(key.pkcs8_der())));
        }
    }

    #[test]
    fn spki_of_other_types_is_refused() {
        let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        assert!(matches!(
            SubjectPublicKey::from_spki_der(&ed.subject_public_key_info()),
            Err(PkiError::UnsupportedKey { .. })
        ));
        let p521 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        assert!(matches!(
            SubjectPublicKey::from_spki_der(&p521.subject_public_key_info()),
            Err(PkiError::UnsupportedKey { .. })
        ));
        assert!(matches!(
            SubjectPublicKey::from_spki_der(b"\x30\x03\x02\x01\x00"),
            Err(PkiError::Encoding(_))
        ));
    }

    #[test]
    fn rsa_2048_and_4096_are_accepted_with_exact_size() {
        for (size, bits) in [(RsaKeySize::_2048, 2048), (RsaKeySize::_4096, 4096)] {
            let kp = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, size).unwrap();
            let key = SubjectPublicKey::from_spki_der(&kp.subject_public_key_info()).unwrap();
            assert_eq!(key.key_type(), SubjectKeyType::Rsa { bits });
            assert_eq!(key.algorithm(), KeyAlgorithm::Rsa3072);
        }
    }

    #[test]
    fn bit_length_counts_from_the_top_bit() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f, 0]), 15);
    }
}
