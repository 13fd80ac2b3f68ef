//! [`KmsSigner`]: the CA key in KMS (`SIGN_VERIFY`), behind the synchronous
//! [`CaSigner`] seam.
//!
//! `CaSigner::sign` is synchronous (rcgen's `SigningKey` is), and the SDK is async. The
//! signer captures a runtime [`Handle`] when it is built and blocks on it inside `sign`.
//! That is only allowed off the async workers: callers run signing inside
//! `tokio::task::spawn_blocking` (as `orgcert_pki::port::PkiAuthority` does) or on a
//! plain thread. Calling `sign` from an async task panics ("Cannot start a runtime from
//! within a runtime"), by tokio's design.

use std::fmt;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, KeyAlgorithm, PkiError, RsaSignature, SubjectPublicKey};
use sha2::{Digest, Sha256, Sha384};
use tokio::runtime::Handle;

use crate::deadline::{self, Backoff};
use crate::error::{is_transient_code, sdk_error};

/// Largest message KMS signs with `MessageType=RAW`; longer ones are hashed here and
/// sent as `DIGEST` (CRLs grow past it).
pub const RAW_LIMIT: usize = 4096;

/// The CA signer over a KMS asymmetric key (ECC_NIST_P256, ECC_NIST_P384 or RSA_3072).
pub struct KmsSigner {
    client: Client,
    key_id: String,
    alg: KeyAlgorithm,
    spki: Vec<u8>,
    handle: Handle,
    /// RSA keys: sign with RSASSA-PSS (`RSASSA_PSS_SHA_256`) instead of PKCS#1 v1.5.
    pss: bool,
}

impl fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsSigner")
            .field("key_id", &self.key_id)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The algorithm and SubjectPublicKeyInfo (DER) of the key a stored CA certificate
/// certifies, as a KMS key of `key_id` signs with it.
///
/// # Errors
/// `Internal` when the certificate or its public key does not parse, or the key type is
/// not one KMS signs with here.
pub(crate) fn certificate_key(
    certificate_der: &[u8],
    key_id: &str,
) -> Result<(KeyAlgorithm, Vec<u8>), DomainError> {
    let bad = |e: &dyn fmt::Display| {
        DomainError::Internal(format!("CA certificate for KMS key {key_id}: {e}"))
    };
    let (_, cert) = x509_parser::parse_x509_certificate(certificate_der).map_err(|e| bad(&e))?;
    let spki = cert.public_key().raw.to_vec();
    let parsed = SubjectPublicKey::from_spki_der(&spki).map_err(|e| bad(&e))?;
    let alg = match parsed.key_type() {
        orgcert_pki::SubjectKeyType::Rsa { bits: 4096 } => KeyAlgorithm::Rsa4096,
        orgcert_pki::SubjectKeyType::Rsa { bits: 3072 } => KeyAlgorithm::Rsa3072,
        orgcert_pki::SubjectKeyType::Rsa { bits } => {
            return Err(bad(&format!("RSA-{bits} is not a KMS CA key spec here")))
        }
        _ => parsed.algorithm(),
    };
    Ok((alg, spki))
}

impl KmsSigner {
    /// Fetches the key's public key and spec once (`GetPublicKey`) and caches them;
    /// captures the current runtime for [`CaSigner::sign`]. Only for the bootstrap and
    /// tools (no CA certificate yet); functions use [`KmsSigner::from_certificate`].
    ///
    /// # Errors
    /// `Unavailable` when KMS cannot be reached; `Internal` for a key that is not a
    /// `SIGN_VERIFY` key of a supported spec, or whose public key does not parse.
    pub async fn new(client: Client, key_id: impl Into<String>) -> Result<Self, DomainError> {
        let key_id = key_id.into();
        let out = client
            .get_public_key()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|e| sdk_error("KMS GetPublicKey", e))?;
        if out.key_usage() != Some(&KeyUsageType::SignVerify) {
            return Err(DomainError::Internal(format!(
                "KMS key {key_id} is not a SIGN_VERIFY key ({:?})",
                out.key_usage()
            )));
        }
        // KeySpec; older endpoints (and emulators) only send the deprecated
        // CustomerMasterKeySpec, which names the same specs.
        #[allow(deprecated)]
        let spec = out.key_spec().map(|k| k.as_str().to_owned()).or_else(|| {
            out.customer_master_key_spec()
                .map(|k| k.as_str().to_owned())
        });
        let alg = match spec.as_deref() {
            Some("ECC_NIST_P256") => KeyAlgorithm::EcdsaP256,
            Some("ECC_NIST_P384") => KeyAlgorithm::EcdsaP384,
            Some("RSA_3072") => KeyAlgorithm::Rsa3072,
            // A root key (the two-tier bootstrap), as OCES3's root.
            Some("RSA_4096") => KeyAlgorithm::Rsa4096,
            other => {
                return Err(DomainError::Internal(format!(
                "KMS key {key_id} has spec {other:?}; use ECC_NIST_P256, ECC_NIST_P384 or RSA_3072"
            )))
            }
        };
        let spki = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| DomainError::Internal(format!("KMS key {key_id}: no public key")))?;
        let parsed = SubjectPublicKey::from_spki_der(&spki)
            .map_err(|e| DomainError::Internal(format!("KMS key {key_id}: public key: {e}")))?;
        let same = match alg {
            KeyAlgorithm::Rsa4096 => {
                parsed.key_type() == orgcert_pki::SubjectKeyType::Rsa { bits: 4096 }
            }
            _ => parsed.algorithm() == alg,
        };
        if !same {
            return Err(DomainError::Internal(format!(
                "KMS key {key_id}: spec {alg} but public key {}",
                parsed.key_type()
            )));
        }
        let wanted = signing_algorithm(alg);
        if !out.signing_algorithms().contains(&wanted) {
            return Err(DomainError::Internal(format!(
                "KMS key {key_id} does not offer {wanted:?}"
            )));
        }
        Ok(Self {
            client,
            key_id,
            alg,
            spki,
            handle: Handle::current(),
            pss: false,
        })
    }

    /// A signer for `key_id` whose public key is taken from `certificate_der` (the stored
    /// certificate of an issuing CA generation) instead of KMS `GetPublicKey`: a cold start
    /// loading several generations spends no KMS call on them. A key that does not match
    /// the certificate fails at its first signature (KMS signs, the result does not verify),
    /// never silently; `rollover` checks the pair with `GetPublicKey` when it stores it.
    ///
    /// Must be called inside a tokio runtime (the signer keeps its handle).
    ///
    /// # Errors
    /// `Internal` when the certificate or its public key does not parse, the key type is
    /// not one KMS signs with here, or there is no runtime.
    pub fn from_certificate(
        client: Client,
        key_id: impl Into<String>,
        certificate_der: &[u8],
    ) -> Result<Self, DomainError> {
        let key_id = key_id.into();
        let (alg, spki) = certificate_key(certificate_der, &key_id)?;
        let handle = Handle::try_current()
            .map_err(|e| DomainError::Internal(format!("KMS signer needs a runtime: {e}")))?;
        Ok(Self {
            client,
            key_id,
            alg,
            spki,
            pss: false,
            handle,
        })
    }

    /// The key id as configured.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `message` asynchronously (the same as [`CaSigner::sign`], for async callers).
    ///
    /// # Errors
    /// `Signer` when KMS refuses or cannot be reached after retries.
    pub async fn sign_async(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.sign_with(message, signing_algorithm(self.alg)).await
    }

    /// Chooses the RSA signature scheme (EC keys ignore it): with PSS, certificates, CRLs
    /// and OCSP responses are signed with KMS `RSASSA_PSS_SHA_256` (SHA-256, MGF1-SHA-256,
    /// 256-bit salt: RFC 4055 §3.1's parameters, as OCES3).
    #[must_use]
    pub fn with_rsa_signature(mut self, scheme: RsaSignature) -> Self {
        self.pss = scheme == RsaSignature::Pss && self.alg.is_rsa();
        self
    }

    async fn sign_with(
        &self,
        message: &[u8],
        algorithm: SigningAlgorithmSpec,
    ) -> Result<Vec<u8>, PkiError> {
        let (kind, payload) = if message.len() <= RAW_LIMIT {
            (MessageType::Raw, message.to_vec())
        } else {
            // KMS takes at most 4096 bytes of message: hash it ourselves with the hash
            // the signing algorithm names.
            let digest = match self.alg {
                KeyAlgorithm::EcdsaP384 => Sha384::digest(message).to_vec(),
                KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                    Sha256::digest(message).to_vec()
                }
            };
            (MessageType::Digest, digest)
        };
        // Throttling gets a second wind (KMS quotas are per account and region) for as
        // long as the deadline allows; the SDK's own retries run inside each attempt.
        let deadline = deadline::effective();
        let mut backoff = Backoff::until(deadline);
        loop {
            // An issuance releases its claim after a failed signature: leave it time.
            let res = deadline::attempt_leaving(
                "KMS Sign",
                deadline,
                deadline::ATTEMPT_MARGIN,
                self.client
                    .sign()
                    .key_id(&self.key_id)
                    .message(Blob::new(payload.clone()))
                    .message_type(kind.clone())
                    .signing_algorithm(algorithm.clone())
                    .send(),
            )
            .await
            .map_err(|e| PkiError::Signer(e.to_string()))?;
            match res {
                Ok(out) => {
                    return out
                        .signature()
                        .map(|b| b.as_ref().to_vec())
                        .ok_or_else(|| PkiError::Signer("KMS Sign returned no signature".into()))
                }
                Err(e) => {
                    let throttled = e
                        .as_service_error()
                        .and_then(aws_sdk_kms::error::ProvideErrorMetadata::code)
                        .is_some_and(is_transient_code);
                    if throttled && backoff.wait().await {
                        continue;
                    }
                    return Err(PkiError::Signer(sdk_error("KMS Sign", e).to_string()));
                }
            }
        }
    }
}

/// The KMS signing algorithm DESIGN §4 prescribes for a key algorithm.
fn signing_algorithm(alg: KeyAlgorithm) -> SigningAlgorithmSpec {
    match alg {
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
        KeyAlgorithm::EcdsaP256 => SigningAlgorithmSpec::EcdsaSha256,
        KeyAlgorithm::EcdsaP384 => SigningAlgorithmSpec::EcdsaSha384,
    }
}

impl CaSigner for KmsSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// Blocks on the captured runtime: call from `spawn_blocking` or a plain thread only.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.handle.block_on(self.sign_async(message))
    }

    fn rsa_signature(&self) -> RsaSignature {
        if self.pss {
            RsaSignature::Pss
        } else {
            RsaSignature::Pkcs1
        }
    }

    /// Blocks on the captured runtime, as [`CaSigner::sign`].
    fn sign_pss(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        if !self.pss {
            return Err(PkiError::Signer(
                "this KMS signer is not set up for RSASSA-PSS".into(),
            ));
        }
        self.handle
            .block_on(self.sign_with(message, SigningAlgorithmSpec::RsassaPssSha256))
    }
}
