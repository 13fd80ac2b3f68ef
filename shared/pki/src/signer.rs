//! The CA signing seam: a trait, its software-key implementation and the rcgen adapter.

use std::cell::RefCell;
use std::fmt;

use orgcert_core::secret::{ExposeSecret as _, SecretSlice, SecretString};
use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};
use x509_parser::prelude::FromDer;

use crate::key::{generate_keypair, SubjectKeyType, SubjectPublicKey};
use crate::{KeyAlgorithm, PkiError, RsaSignature};

/// The CA signing seam: a software key (here) or a KMS key (elsewhere).
///
/// Synchronous on purpose: rcgen's `SigningKey` is synchronous, so an async backend blocks
/// inside `spawn_blocking` (see DESIGN §4).
pub trait CaSigner: Send + Sync {
    /// The algorithm of the CA key; decides the certificate signature algorithm.
    fn algorithm(&self) -> KeyAlgorithm;
    /// The CA public key as SubjectPublicKeyInfo DER.
    fn public_key_spki_der(&self) -> Vec<u8>;
    /// Signs `message` (the whole to-be-signed DER, not a digest).
    ///
    /// RSA: RSASSA-PKCS1-v1_5 with SHA-256; P-256: ECDSA-SHA256; P-384: ECDSA-SHA384; an
    /// ECDSA signature is DER-encoded (`Ecdsa-Sig-Value`, RFC 3279 §2.2.3).
    ///
    /// # Errors
    /// `Signer` when the key is unavailable or the signing operation fails.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError>;

    /// The scheme of this signer's RSA signatures (meaningless for EC keys): PKCS#1 v1.5
    /// unless the signer was set up for RSASSA-PSS.
    fn rsa_signature(&self) -> RsaSignature {
        RsaSignature::Pkcs1
    }

    /// Signs `message` (the whole to-be-signed DER) with RSASSA-PSS: SHA-256, MGF1-SHA-256,
    /// salt 32 (RFC 4055 §3.1; RFC 8017 §8.1).
    ///
    /// # Errors
    /// `Signer` when the key is not RSA, is unavailable, or signing fails.
    fn sign_pss(&self, _message: &[u8]) -> Result<Vec<u8>, PkiError> {
        Err(PkiError::Signer(
            "this signer does not sign RSASSA-PSS".into(),
        ))
    }

    /// Whether [`CaSigner::sign`] is a computation of tens of microseconds that never
    /// waits (an ECDSA key in memory). Callers may then sign on the async task itself: the
    /// blocking pool's two thread hand-offs cost more than such a signature. `false` (the
    /// default) for anything slower or that waits: RSA keys, KMS, a network signer.
    fn quick(&self) -> bool {
        false
    }
}

/// A CA key held in memory and stored as an unencrypted PKCS#8 PEM file (mode 0600).
pub struct KeyFileSigner {
    pair: KeyPair,
    alg: KeyAlgorithm,
    /// The same RSA key for RSASSA-PSS (rcgen signs PKCS#1 v1.5 only), when PSS is on.
    pss: Option<aws_lc_rs::rsa::KeyPair>,
}

impl KeyFileSigner {
    /// Generates a new CA key.
    ///
    /// # Errors
    /// `Encoding` if the crypto library fails.
    pub fn generate(alg: KeyAlgorithm) -> Result<Self, PkiError> {
        Ok(Self {
            pair: generate_keypair(alg)?,
            alg,
            pss: None,
        })
    }

    /// Loads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) and detects its algorithm.
    ///
    /// # Errors
    /// `Signer` if it is not a PKCS#8 PEM private key; `UnsupportedKey` for a key other than
    /// RSA-3072, P-256 or P-384.
    pub fn from_pkcs8_pem(pem_text: &str) -> Result<Self, PkiError> {
        let parsed = pem::parse(pem_text)
            .map_err(|e| PkiError::Signer(format!("CA key file is not PEM: {e}")))?;
        if parsed.tag() != "PRIVATE KEY" {
            return Err(PkiError::Signer(format!(
                "CA key file must hold a PKCS#8 \"PRIVATE KEY\", found \"{}\"",
                parsed.tag()
            )));
        }
        let der = SecretSlice::from(parsed.into_contents());
        let pair = KeyPair::try_from(der.expose_secret())
            .map_err(|e| PkiError::Signer(format!("CA key file holds no usable key: {e}")))?;
        let public = SubjectPublicKey::from_spki_der(&pair.subject_public_key_info())?;
        let alg = match public.key_type() {
            SubjectKeyType::Rsa { bits: 3072 } => KeyAlgorithm::Rsa3072,
            SubjectKeyType::Rsa { bits: 4096 } => KeyAlgorithm::Rsa4096,
            SubjectKeyType::EcdsaP256 => KeyAlgorithm::EcdsaP256,
            SubjectKeyType::EcdsaP384 => KeyAlgorithm::EcdsaP384,
            other => {
                return Err(PkiError::unsupported(format!(
                    "CA key is {other}; use RSA-3072, ECDSA-P256 or ECDSA-P384"
                )))
            }
        };
        // rcgen picks the signature algorithm from the key; make sure it is ours.
        if pair.algorithm() != alg.rcgen() {
            return Err(PkiError::unsupported(format!(
                "CA key {alg} loaded with an unexpected signature algorithm"
            )));
        }
        Ok(Self {
            pair,
            alg,
            pss: None,
        })
    }

    /// Chooses the RSA signature scheme (EC keys ignore it).
    ///
    /// # Errors
    /// `Signer` if the crypto library refuses the key for PSS.
    pub fn with_rsa_signature(mut self, scheme: RsaSignature) -> Result<Self, PkiError> {
        self.pss = if scheme == RsaSignature::Pss && self.alg.is_rsa() {
            let pkcs8 = SecretSlice::from(self.pair.serialize_der());
            Some(
                aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8.expose_secret())
                    .map_err(|e| PkiError::Signer(format!("RSA key for PSS: {e}")))?,
            )
        } else {
            None
        };
        Ok(self)
    }

    /// The key as PKCS#8 PEM, for writing the key file.
    pub fn to_pkcs8_pem(&self) -> SecretString {
        SecretString::from(self.pair.serialize_pem())
    }
}

impl fmt::Debug for KeyFileSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileSigner")
            .field("alg", &self.alg)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl CaSigner for KeyFileSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    fn quick(&self) -> bool {
        matches!(self.alg, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384)
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        SigningKey::sign(&self.pair, message)
            .map_err(|e| PkiError::Signer(format!("signing failed: {e}")))
    }

    fn rsa_signature(&self) -> RsaSignature {
        if self.pss.is_some() {
            RsaSignature::Pss
        } else {
            RsaSignature::Pkcs1
        }
    }

    fn sign_pss(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let key = self
            .pss
            .as_ref()
            .ok_or_else(|| PkiError::Signer("this key is not set up for RSASSA-PSS".into()))?;
        let mut signature = vec![0; key.public_modulus_len()];
        // RSA_PSS_SHA256: MGF1-SHA-256 and a salt as long as the digest (32), RFC 4055 §3.1.
        key.sign(
            &aws_lc_rs::signature::RSA_PSS_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut signature,
        )
        .map_err(|_| PkiError::Signer("RSASSA-PSS signing failed".into()))?;
        Ok(signature)
    }
}

/// Presents a [`CaSigner`] to rcgen as its `SigningKey`, keeping the signer's own error.
pub(crate) struct RcgenSigner<'a> {
    signer: &'a dyn CaSigner,
    public: SubjectPublicKey,
    failure: RefCell<Option<PkiError>>,
}

impl<'a> RcgenSigner<'a> {
    /// Checks that the signer's declared algorithm matches its public key.
    pub(crate) fn new(signer: &'a dyn CaSigner) -> Result<Self, PkiError> {
        let public = SubjectPublicKey::from_spki_der(&signer.public_key_spki_der())
            .map_err(|e| PkiError::Signer(format!("CA public key is not usable: {e}")))?;
        let alg = signer.algorithm();
        // Any RSA size signs the same way (PKCS#1 v1.5 SHA-256); EC curves must match exactly.
        if public.algorithm().rcgen() != alg.rcgen() {
            return Err(PkiError::Signer(format!(
                "CA signer claims {alg} but its public key is {}",
                public.key_type()
            )));
        }
        Ok(Self::checked(signer, public))
    }

    /// Wraps a signer whose public key was already checked by [`RcgenSigner::new`] (saves a
    /// KMS round trip per certificate).
    pub(crate) fn checked(signer: &'a dyn CaSigner, public: SubjectPublicKey) -> Self {
        Self {
            signer,
            public,
            failure: RefCell::new(None),
        }
    }

    pub(crate) fn public(&self) -> &SubjectPublicKey {
        &self.public
    }

    /// Turns an rcgen error into ours, preferring the error the signer itself returned.
    pub(crate) fn error(&self, err: rcgen::Error) -> PkiError {
        self.failure
            .borrow_mut()
            .take()
            .unwrap_or_else(|| PkiError::encoding("certificate encoding failed", err))
    }
}

impl PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public.raw()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.signer.algorithm().rcgen()
    }
}

impl SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        // A PSS signer signs once, after `pss::finish` has rewritten the algorithm: rcgen's
        // own (PKCS#1 v1.5) signature would be thrown away, so it gets a placeholder.
        if crate::pss::uses_pss(self.signer) {
            return Ok(vec![0]);
        }
        self.signer.sign(msg).map_err(|e| {
            *self.failure.borrow_mut() = Some(e);
            rcgen::Error::RemoteKeyError
        })
    }
}

/// Verifies that `cert_der` is signed by the key in `issuer_spki_der`.
///
/// Boulder's habit: never hand out a certificate whose signature we have not checked, so a
/// faulty signer (e.g. a KMS returning raw r||s instead of DER) is caught here.
pub(crate) fn verify_cert_signature(
    cert_der: &[u8],
    issuer_spki_der: &[u8],
) -> Result<(), PkiError> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| PkiError::encoding("issued certificate does not parse", e))?;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(issuer_spki_der)
        .map_err(|e| PkiError::encoding("CA public key does not parse", e))?;
    cert.verify_signature(Some(&spki)).map_err(|e| {
        PkiError::Signer(format!(
            "the CA signer produced a signature that does not verify: {e}"
        ))
    })
}

/// Verifies the signature of any `SEQUENCE { tbs, signatureAlgorithm, signature, ... }`
/// (a CRL, RFC 5280 §5.1; a BasicOCSPResponse, RFC 6960 §4.2.1) against `signer_spki_der`,
/// without parsing the body: a CRL of a million entries is checked in linear time.
pub(crate) fn verify_signed_der(signed: &[u8], signer_spki_der: &[u8]) -> Result<(), PkiError> {
    use der::{Decode, Header, Reader, SliceReader, Tag};

    let malformed = |e: der::Error| PkiError::encoding("signed structure does not parse", e);
    let mut outer = SliceReader::new(signed).map_err(malformed)?;
    let header = Header::decode(&mut outer).map_err(malformed)?;
    header.tag.assert_eq(Tag::Sequence).map_err(malformed)?;
    let body = outer.read_slice(header.length).map_err(malformed)?;
    outer.finish(()).map_err(malformed)?;
    let mut fields = SliceReader::new(body).map_err(malformed)?;
    let tbs = fields.tlv_bytes().map_err(malformed)?;
    let alg = fields.tlv_bytes().map_err(malformed)?;
    let sig = fields.tlv_bytes().map_err(malformed)?;

    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(alg)
        .map_err(|e| PkiError::encoding("signature algorithm does not parse", e))?;
    let (_, sig) = x509_parser::der_parser::asn1_rs::BitString::from_der(sig)
        .map_err(|e| PkiError::encoding("signature does not parse", e))?;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(signer_spki_der)
        .map_err(|e| PkiError::encoding("signer public key does not parse", e))?;
    x509_parser::verify::verify_signature(&spki, &alg, &sig, tbs).map_err(|e| {
        PkiError::Signer(format!(
            "the signer produced a signature that does not verify: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_detects_algorithm() {
        for alg in KeyAlgorithm::ALL {
            let signer = KeyFileSigner::generate(alg).unwrap();
            let pem_text = signer.to_pkcs8_pem();
            assert!(!format!("{pem_text:?}").contains("BEGIN"));
            let pem_text = pem_text.expose_secret();
            assert!(pem_text.starts_with("-----BEGIN PRIVATE KEY-----"));
            let loaded = KeyFileSigner::from_pkcs8_pem(pem_text).unwrap();
            assert_eq!(loaded.algorithm(), alg);
            assert_eq!(loaded.public_key_spki_der(), signer.public_key_spki_der());
            assert!(!format!("{loaded:?}").contains("BEGIN"));
            // Only in-memory ECDSA keys may sign on an async task; RSA goes to the pool.
            let ecdsa = matches!(alg, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384);
            assert_eq!(loaded.quick(), ecdsa, "{alg:?}");
        }
    }

    #[test]
    fn from_pem_refuses_other_keys_and_labels() {
        let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        assert!(matches!(
            KeyFileSigner::from_pkcs8_pem(&ed.serialize_pem()),
            Err(PkiError::UnsupportedKey { .. })
        ));
        let rsa2048 =
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
        assert!(matches!(
            KeyFileSigner::from_pkcs8_pem(&rsa2048.serialize_pem()),
            Err(PkiError::UnsupportedKey { .. })
        ));
        let cert_pem = crate::to_pem("CERTIFICATE", b"\x30\x00");
        assert!(matches!(
            KeyFileSigner::from_pkcs8_pem(&cert_pem),
            Err(PkiError::Signer(_))
        ));
        assert!(matches!(
            KeyFileSigner::from_pkcs8_pem("not pem"),
            Err(PkiError::Signer(_))
        ));
    }

    #[test]
    fn adapter_refuses_a_signer_whose_key_does_not_match_its_algorithm() {
        struct Liar(KeyFileSigner);
        impl CaSigner for Liar {
            fn algorithm(&self) -> KeyAlgorithm {
                KeyAlgorithm::EcdsaP384
            }
            fn public_key_spki_der(&self) -> Vec<u8> {
                self.0.public_key_spki_der()
            }
            fn sign(&self, m: &[u8]) -> Result<Vec<u8>, PkiError> {
                self.0.sign(m)
            }
        }
        let liar = Liar(KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap());
        assert!(matches!(RcgenSigner::new(&liar), Err(PkiError::Signer(_))));
    }
}
