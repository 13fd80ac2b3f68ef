//! The core's `CertificateAuthority` port, implemented over an [`Authority`].
//!
//! Signing is synchronous (rcgen's `SigningKey`), and a KMS signer blocks on the network,
//! so issuance runs on the blocking pool, never on an async worker.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use orgcert_core::ids::Serial;
use orgcert_core::model;
use orgcert_core::ports::{
    CertSpec, CertificateAuthority, IssuedMaterial, KeySource, OcspFailure, OcspHash as Hash,
    OcspQuery, OcspStatus, RevokedRef,
};
use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use time::OffsetDateTime;

use crate::{
    build_pkcs12, cert_id_for, generate_key, ocsp_error_response, parse_csr, parse_ocsp_request,
    Authority, CertKind, CrlSpec, KeyAlgorithm, LeafSpec, OcspCertStatus, OcspErrorStatus,
    OcspHash, OcspSigner, P12Format, PkiError, RevokedEntry,
};

/// The CA seam used by the use cases.
pub struct PkiAuthority {
    inner: Arc<Authority>,
    ocsp: OcspSigner,
}

impl PkiAuthority {
    /// Wraps an authority; OCSP responses are signed by the CA key.
    pub fn new(inner: Arc<Authority>) -> Self {
        let ocsp = OcspSigner::ca(&inner);
        Self { inner, ocsp }
    }
    /// Signs OCSP responses with a delegated responder instead of the CA key.
    pub fn with_ocsp_signer(mut self, ocsp: OcspSigner) -> Self {
        self.ocsp = ocsp;
        self
    }
    /// The wrapped authority (CRL and OCSP need it).
    pub fn authority(&self) -> &Arc<Authority> {
        &self.inner
    }
}

/// Maps PKI errors to domain errors: input problems name their field, signer failures are retryable.
pub fn to_domain(e: PkiError) -> DomainError {
    match e {
        PkiError::InvalidCsr { reason } => {
            DomainError::invalid("csr", format!("invalid CSR: {reason}"))
        }
        PkiError::WeakKey { reason } => {
            DomainError::invalid("csr", format!("the CSR's key is too weak: {reason}"))
        }
        PkiError::UnsupportedKey { reason } => DomainError::invalid(
            "csr",
            format!("the CSR's key type is not supported: {reason}"),
        ),
        PkiError::InvalidSpec { field, reason } => DomainError::invalid(field, reason),
        PkiError::InvalidOcsp { reason } => DomainError::Malformed {
            field: Some("ocsp_request".into()),
            message: reason,
        },
        PkiError::Signer(m) => DomainError::Unavailable(format!("CA signer: {m}")),
        other => DomainError::Internal(other.to_string()),
    }
}

/// A CSR as text: PEM, or base64 of the DER.
fn csr_bytes(csr: &str) -> Vec<u8> {
    let t = csr.trim();
    if t.starts_with("-----BEGIN") {
        return t.as_bytes().to_vec();
    }
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap_or_else(|_| t.as_bytes().to_vec())
}

fn key_algorithm(a: model::KeyAlgorithm) -> KeyAlgorithm {
    match a {
        model::KeyAlgorithm::Rsa3072 => KeyAlgorithm::Rsa3072,
        model::KeyAlgorithm::EcdsaP256 => KeyAlgorithm::EcdsaP256,
        model::KeyAlgorithm::EcdsaP384 => KeyAlgorithm::EcdsaP384,
    }
}

fn issue_blocking(
    ca: &Authority,
    spec: CertSpec,
    key: KeySource,
) -> Result<IssuedMaterial, DomainError> {
    let leaf = LeafSpec {
        serial: spec.serial.to_bytes(),
        kind: match spec.kind {
            model::CertKind::Organisation => CertKind::Organisation,
            model::CertKind::System => CertKind::System,
        },
        cvr: spec.cvr.to_string(),
        organisation_name: spec.organisation_name,
        profile_id: spec.profile_id.to_string(),
        common_name: spec.common_name.clone(),
        email: spec.email,
        seal: spec.seal,
        not_before: spec.not_before,
        not_after: spec.not_after,
        crl_url: spec.crl_partition.map(|p| ca.crl_url(Some(&p.to_string()))),
    };
    // Check the profile before generating a key or spending a signature.
    ca.check_spec(&leaf).map_err(to_domain)?;
    let (issued, pkcs12) = match key {
        KeySource::Csr(text) => {
            let public = parse_csr(&csr_bytes(&text)).map_err(to_domain)?;
            (ca.issue(&leaf, &public).map_err(to_domain)?, None)
        }
        KeySource::Generate {
            algorithm,
            format,
            password,
        } => {
            let generated = generate_key(key_algorithm(algorithm)).map_err(to_domain)?;
            let issued = ca.issue(&leaf, generated.public()).map_err(to_domain)?;
            let format = match format {
                model::P12Format::Modern => P12Format::Modern,
                model::P12Format::Legacy => P12Format::Legacy,
            };
            let chain = vec![ca.ca_der().to_vec()];
            let p12 = build_pkcs12(
                &generated,
                &issued.der,
                &chain,
                password.expose_secret(),
                format,
                &spec.common_name,
            )
            .map_err(to_domain)?;
            (issued, Some(p12))
        }
    };
    let subject = x509_parser::parse_x509_certificate(&issued.der)
        .map(|(_, c)| c.subject().to_string())
        .map_err(|e| DomainError::Internal(format!("issued certificate does not parse: {e}")))?;
    Ok(IssuedMaterial {
        certificate_pem: issued.pem,
        chain_pem: ca.ca_pem().to_owned(),
        fingerprint: issued.sha256_fingerprint,
        subject,
        pkcs12,
    })
}

#[async_trait]
impl CertificateAuthority for PkiAuthority {
    fn ca_pem(&self) -> String {
        self.inner.ca_pem().to_owned()
    }

    fn ca_der(&self) -> Vec<u8> {
        self.inner.ca_der().to_vec()
    }

    fn check_csr(&self, csr: &str) -> Result<(), DomainError> {
        parse_csr(&csr_bytes(csr)).map(|_| ()).map_err(to_domain)
    }

    async fn issue(&self, spec: CertSpec, key: KeySource) -> Result<IssuedMaterial, DomainError> {
        let ca = Arc::clone(&self.inner);
        blocking(move || issue_blocking(&ca, spec, key)).await
    }

    async fn sign_crl(
        &self,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        entries: Vec<RevokedRef>,
        partition: Option<u32>,
    ) -> Result<Vec<u8>, DomainError> {
        let ca = Arc::clone(&self.inner);
        blocking(move || {
            let spec = CrlSpec {
                number,
                this_update,
                next_update,
                entries: entries
                    .into_iter()
                    .map(|e| RevokedEntry {
                        serial: e.serial.to_bytes(),
                        revoked_at: e.revoked_at,
                        reason_code: e.reason.code(),
                    })
                    .collect(),
                partition: partition.map(|p| ca.crl_url(Some(&p.to_string()))),
            };
            ca.sign_crl(&spec).map_err(to_domain)
        })
        .await
    }

    fn parse_ocsp(&self, der: &[u8]) -> Result<OcspQuery, OcspFailure> {
        let req = parse_ocsp_request(der).map_err(|_| OcspFailure::Malformed)?;
        let first = req.cert_ids.first().ok_or(OcspFailure::Malformed)?;
        let hash = match first.hash_algorithm {
            OcspHash::Sha1 => Hash::Sha1,
            OcspHash::Sha256 => Hash::Sha256,
            OcspHash::Sha384 => Hash::Sha384,
            OcspHash::Sha512 => Hash::Sha512,
        };
        // Serials longer than 20 octets are not ours (RFC 5280 §4.1.2.2); answer unknown.
        let serial = Serial::from_bytes(&first.serial);
        Ok(OcspQuery {
            serial,
            hash,
            ours: self.ocsp.is_our_issuer(first),
            count: req.cert_ids.len(),
            nonce: req.nonce,
        })
    }

    async fn sign_ocsp(
        &self,
        serial: &Serial,
        hash: Hash,
        status: OcspStatus,
        produced_at: OffsetDateTime,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        nonce: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, DomainError> {
        let id = cert_id_for(&serial.to_bytes(), hash_of(hash), &self.inner);
        let ocsp = self.ocsp.clone();
        let status = match status {
            OcspStatus::Good => OcspCertStatus::Good,
            OcspStatus::Unknown => OcspCertStatus::Unknown,
            OcspStatus::Revoked { at, reason } => OcspCertStatus::Revoked {
                revoked_at: at,
                reason_code: Some(reason.code()),
            },
        };
        blocking(move || {
            ocsp.sign_response(
                &id,
                &status,
                produced_at,
                this_update,
                next_update,
                nonce.as_deref(),
            )
            .map_err(to_domain)
        })
        .await
    }

    fn ocsp_failure(&self, failure: OcspFailure) -> Vec<u8> {
        ocsp_error_response(match failure {
            OcspFailure::Malformed => OcspErrorStatus::MalformedRequest,
            OcspFailure::Unauthorized => OcspErrorStatus::Unauthorized,
            OcspFailure::TryLater => OcspErrorStatus::TryLater,
            OcspFailure::Internal => OcspErrorStatus::InternalError,
        })
    }
}

fn hash_of(h: Hash) -> OcspHash {
    match h {
        Hash::Sha1 => OcspHash::Sha1,
        Hash::Sha256 => OcspHash::Sha256,
        Hash::Sha384 => OcspHash::Sha384,
        Hash::Sha512 => OcspHash::Sha512,
    }
}

/// Runs signing work on the blocking pool (a KMS signer blocks on the network).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
) -> Result<T, DomainError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DomainError::Internal(format!("signing task: {e}")))?
}
