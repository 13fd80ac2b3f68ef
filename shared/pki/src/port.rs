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
    OcspQuery, OcspResponseSpec, OcspStatus, RevokedRef,
};
use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use time::OffsetDateTime;

use crate::{
    build_pkcs12, cert_id_for, ocsp_error_response, parse_csr, parse_ocsp_request, Authority,
    CertKind, CrlSpec, KeyAlgorithm, LeafSpec, OcspCertStatus, OcspErrorStatus, OcspHash,
    OcspSigner, P12Format, PkiError, RevokedEntry,
};
// The responder key's public half (`public_key_spki_der`).
use crate::CaSigner as _;
use crate::KeyPool;

/// The CA seam used by the use cases.
pub struct PkiAuthority {
    inner: Arc<Authority>,
    /// Older issuing CA generations still serving status (oldest first), each with a
    /// signer of CA-signed OCSP responses; new certificates come from `inner`.
    older: Vec<(Arc<Authority>, OcspSigner)>,
    /// The root CRL (DER) when the CA has a separate root.
    root_crl: Option<Vec<u8>>,
    ocsp: OcspSigner,
    rotating: Option<Rotating>,
    /// Delegated responders of older generations, by generation (AWS: no public function
    /// may sign with a CA key, so an older generation's OCSP needs its own responder).
    older_rotating: Vec<(u32, Rotating)>,
    /// Server-side keys come from here (a pool of 0 generates each key inline).
    key_pool: Arc<KeyPool>,
}

/// Validity of a delegated responder certificate: short, since id-pkix-ocsp-nocheck tells
/// clients never to check its revocation (RFC 6960 §4.2.2.2.1).
pub const RESPONDER_VALIDITY: time::Duration = time::Duration::days(7);
/// The minting side replaces the responder when less than this is left: more than an OCSP
/// response's validity (3 days), so responses never outlive their responder certificate.
pub const RESPONDER_ROTATE_LEFT: time::Duration = time::Duration::days(4);
/// Signers look for a newer stored responder when less than this is left.
pub const RESPONDER_RELOAD_LEFT: time::Duration = time::Duration::days(3);

/// A delegated OCSP responder as stored: its certificate and its private key. `Debug`
/// never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponderMaterial {
    /// The responder certificate (DER), issued by the CA.
    pub certificate_der: Vec<u8>,
    /// Its private key, PKCS#8 PEM.
    pub key_pkcs8_pem: String,
}

impl std::fmt::Debug for ResponderMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponderMaterial")
            .field("certificate_der", &self.certificate_der.len())
            .field("key_pkcs8_pem", &"[redacted]")
            .finish()
    }
}

/// Where the current delegated responder is kept between processes.
#[async_trait]
pub trait ResponderStore: Send + Sync {
    /// The stored responder, if any.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails; `Internal` for unreadable contents.
    async fn load(&self) -> Result<Option<ResponderMaterial>, DomainError>;
    /// Stores (replaces) the responder.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails.
    async fn save(&self, material: &ResponderMaterial) -> Result<(), DomainError>;
}

/// A responder kept in this process only (the embedded default mints its own).
#[derive(Default)]
pub struct MemoryResponderStore(std::sync::Mutex<Option<ResponderMaterial>>);

#[async_trait]
impl ResponderStore for MemoryResponderStore {
    async fn load(&self) -> Result<Option<ResponderMaterial>, DomainError> {
        Ok(self.0.lock().map_err(|_| poisoned())?.clone())
    }
    async fn save(&self, material: &ResponderMaterial) -> Result<(), DomainError> {
        *self.0.lock().map_err(|_| poisoned())? = Some(material.clone());
        Ok(())
    }
}

fn poisoned() -> DomainError {
    DomainError::Internal("responder store lock poisoned".into())
}

/// A delegated responder that is replaced before it expires: OCSP responses are signed
/// with its in-memory key, and the CA key signs only its certificate, once per key.
struct Rotating {
    store: Arc<dyn ResponderStore>,
    /// Whether OCSP signing may mint a responder itself when none is usable (only where
    /// the CA signature is free, or in a signing principal).
    mint: bool,
    current: tokio::sync::Mutex<Option<Current>>,
}

#[derive(Clone)]
struct Current {
    signer: OcspSigner,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Current {
    fn valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
    fn left(&self, at: OffsetDateTime) -> time::Duration {
        self.not_after - at
    }
}

fn current_from(ca: &Authority, m: &ResponderMaterial) -> Result<Current, DomainError> {
    let key = crate::KeyFileSigner::from_pkcs8_pem(&m.key_pkcs8_pem).map_err(to_domain)?;
    let signer =
        OcspSigner::delegated(ca, m.certificate_der.clone(), Arc::new(key)).map_err(to_domain)?;
    let (nb, na) = signer
        .responder_validity()
        .ok_or_else(|| DomainError::Internal("responder without certificate".into()))?;
    let at = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map_err(|e| DomainError::Internal(format!("responder validity: {e}")))
    };
    Ok(Current {
        signer,
        not_before: at(nb)?,
        not_after: at(na)?,
    })
}

/// A fresh P-256 responder key and its certificate, signed once by the CA key (blocking).
fn mint_blocking(
    ca: &Authority,
    at: OffsetDateTime,
) -> Result<(ResponderMaterial, Current), DomainError> {
    let key = crate::KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).map_err(to_domain)?;
    let public =
        crate::SubjectPublicKey::from_spki_der(&key.public_key_spki_der()).map_err(to_domain)?;
    // Five minutes of clock skew before `at`, and never outside the CA's own validity.
    let (ca_nb, ca_na) = ca.ca_validity();
    let not_before = (at - time::Duration::minutes(5)).max(
        OffsetDateTime::from_unix_timestamp(ca_nb)
            .map_err(|e| DomainError::Internal(e.to_string()))?,
    );
    let not_after = (at + RESPONDER_VALIDITY).min(
        OffsetDateTime::from_unix_timestamp(ca_na)
            .map_err(|e| DomainError::Internal(e.to_string()))?,
    );
    let cert = ca
        .issue_ocsp_responder(&public, crate::random_serial(), not_before, not_after)
        .map_err(to_domain)?;
    let material = ResponderMaterial {
        certificate_der: cert.der,
        key_pkcs8_pem: key.to_pkcs8_pem().expose_secret().to_owned(),
    };
    let current = current_from(ca, &material)?;
    Ok((material, current))
}

impl PkiAuthority {
    /// Wraps an authority; OCSP responses are signed by the CA key.
    pub fn new(inner: Arc<Authority>) -> Self {
        let ocsp = OcspSigner::ca(&inner);
        Self {
            inner,
            older: Vec::new(),
            older_rotating: Vec::new(),
            root_crl: None,
            ocsp,
            rotating: None,
            key_pool: Arc::new(KeyPool::new(0)),
        }
    }

    /// Takes server-side RSA keys from `pool` (the embedded server's; AWS generates each
    /// key in the invocation, see [`KeyPool`]).
    pub fn with_key_pool(mut self, pool: Arc<KeyPool>) -> Self {
        self.key_pool = pool;
        self
    }
    /// Adds the older issuing CA generations whose certificates still need status (after a
    /// rollover): their CRLs and OCSP answers are signed by their own keys; OCSP requests
    /// are routed by the CertID's issuer hashes.
    pub fn with_older_generations(mut self, older: Vec<Arc<Authority>>) -> Self {
        self.older = older
            .into_iter()
            .map(|a| {
                let signer = OcspSigner::ca(&a);
                (a, signer)
            })
            .collect();
        self
    }

    /// The authority of generation `g`.
    fn generation(&self, g: u32) -> Result<&Arc<Authority>, DomainError> {
        if self.inner.generation() == g {
            return Ok(&self.inner);
        }
        self.older
            .iter()
            .map(|(a, _)| a)
            .find(|a| a.generation() == g)
            .ok_or(DomainError::NotFound("issuing CA generation"))
    }

    /// Serves `crl` (DER, signed by the root) as the root CRL.
    pub fn with_root_crl(mut self, crl: Vec<u8>) -> Self {
        self.root_crl = Some(crl);
        self
    }
    /// Signs OCSP responses with a delegated responder instead of the CA key.
    pub fn with_ocsp_signer(mut self, ocsp: OcspSigner) -> Self {
        self.ocsp = ocsp;
        self
    }
    /// Signs OCSP responses with the short-lived delegated responder kept in `store`
    /// ([`RESPONDER_VALIDITY`]); [`CertificateAuthority::prepare_responder`] replaces it
    /// when less than [`RESPONDER_ROTATE_LEFT`] is left. With `mint`, signing mints one
    /// itself when the store has none usable; without, it answers `Unavailable` then
    /// (no CA signature is spent on an OCSP request).
    pub fn with_rotating_responder(mut self, store: Arc<dyn ResponderStore>, mint: bool) -> Self {
        self.rotating = Some(Rotating {
            store,
            mint,
            current: tokio::sync::Mutex::new(None),
        });
        self
    }

    /// Gives each older generation (see [`PkiAuthority::with_older_generations`], call that
    /// first) its own delegated responder kept in `store_of(generation)`, as
    /// [`PkiAuthority::with_rotating_responder`] does for the current one; without it
    /// their OCSP answers are signed by their CA keys.
    pub fn with_older_rotating_responders(
        mut self,
        store_of: impl Fn(u32) -> Arc<dyn ResponderStore>,
        mint: bool,
    ) -> Self {
        self.older_rotating = self
            .older
            .iter()
            .map(|(a, _)| {
                let g = a.generation();
                (
                    g,
                    Rotating {
                        store: store_of(g),
                        mint,
                        current: tokio::sync::Mutex::new(None),
                    },
                )
            })
            .collect();
        self
    }

    /// The signer for a response produced at `at`.
    async fn ocsp_signer_at(&self, at: OffsetDateTime) -> Result<OcspSigner, DomainError> {
        let Some(r) = &self.rotating else {
            return Ok(self.ocsp.clone());
        };
        rotating_signer_at(r, &self.inner, at).await
    }
    /// The wrapped authority (CRL and OCSP need it).
    pub fn authority(&self) -> &Arc<Authority> {
        &self.inner
    }
}

/// The delegated responder of `r` for a response produced at `at` (of the CA `ca`): the
/// one in memory while fresh, else the stored one, else a new one when `r` may mint.
async fn rotating_signer_at(
    r: &Rotating,
    ca: &Arc<Authority>,
    at: OffsetDateTime,
) -> Result<OcspSigner, DomainError> {
    let mut current = r.current.lock().await;
    if let Some(c) = current.as_ref() {
        if c.valid_at(at) && c.left(at) >= RESPONDER_RELOAD_LEFT {
            return Ok(c.signer.clone());
        }
    }
    let mut usable = current.clone().filter(|c| c.valid_at(at));
    if let Some(m) = r.store.load().await? {
        match current_from(ca, &m) {
            Ok(c) if c.valid_at(at) => {
                let fresh = c.left(at) >= RESPONDER_RELOAD_LEFT;
                if usable.as_ref().is_none_or(|u| c.not_after > u.not_after) {
                    usable = Some(c);
                }
                if fresh {
                    *current = usable.clone();
                    return usable
                        .map(|c| c.signer)
                        .ok_or_else(|| DomainError::Internal("responder vanished".into()));
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "stored OCSP responder is unusable"),
        }
    }
    if r.mint {
        let ca = Arc::clone(ca);
        let (m, c) = blocking(move || mint_blocking(&ca, at)).await?;
        r.store.save(&m).await?;
        *current = Some(c.clone());
        return Ok(c.signer);
    }
    match usable {
        Some(c) => {
            tracing::warn!(not_after = %c.not_after, "OCSP responder certificate expires soon: is the crl-refresh job running?");
            *current = Some(c.clone());
            Ok(c.signer)
        }
        None => Err(DomainError::Unavailable(
            "no valid OCSP responder certificate yet; the crl-refresh job mints it".into(),
        )),
    }
}

/// Keeps `r`'s stored responder (of the CA `ca`) fresh: mints and stores a new one when
/// less than [`RESPONDER_ROTATE_LEFT`] is left.
async fn prepare_rotating(
    r: &Rotating,
    ca: &Arc<Authority>,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let stored = match r.store.load().await? {
        Some(m) => match current_from(ca, &m) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "stored OCSP responder is unusable; minting another");
                None
            }
        },
        None => None,
    };
    if let Some(c) = stored.filter(|c| c.valid_at(now) && c.left(now) >= RESPONDER_ROTATE_LEFT) {
        *r.current.lock().await = Some(c);
        return Ok(());
    }
    let ca = Arc::clone(ca);
    let (m, c) = blocking(move || mint_blocking(&ca, now)).await?;
    r.store.save(&m).await?;
    tracing::info!(not_after = %c.not_after, "new OCSP responder certificate");
    *r.current.lock().await = Some(c);
    Ok(())
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
    pool: &KeyPool,
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
            let generated = pool.take(key_algorithm(algorithm)).map_err(to_domain)?;
            let issued = ca.issue(&leaf, generated.public()).map_err(to_domain)?;
            let format = match format {
                model::P12Format::Modern => P12Format::Modern,
                model::P12Format::Legacy => P12Format::Legacy,
            };
            let chain = ca.chain_der();
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
        chain_pem: ca.chain_pem().to_owned(),
        fingerprint: issued.sha256_fingerprint,
        subject,
        pkcs12,
    })
}

#[async_trait]
impl CertificateAuthority for PkiAuthority {
    /// The current issuing CA, the older generations still serving status, then the root.
    fn ca_pem(&self) -> String {
        if self.older.is_empty() {
            return self.inner.chain_pem().to_owned();
        }
        let mut out = self.inner.ca_pem().to_owned();
        for (a, _) in self.older.iter().rev() {
            out.push_str(a.ca_pem());
        }
        out.push_str(&crate::to_pem("CERTIFICATE", self.inner.root_der()));
        out
    }

    fn generations(&self) -> Vec<u32> {
        self.older
            .iter()
            .map(|(a, _)| a.generation())
            .chain(std::iter::once(self.inner.generation()))
            .collect()
    }

    fn generation_der(&self, generation: u32) -> Option<Vec<u8>> {
        self.generation(generation)
            .ok()
            .map(|a| a.ca_der().to_vec())
    }

    fn generation_of(&self, certificate_pem: &str) -> Option<u32> {
        let der = pem::parse(certificate_pem).ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.contents()).ok()?;
        let aki = cert
            .iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })?;
        std::iter::once(&self.inner)
            .chain(self.older.iter().map(|(a, _)| a))
            .find(|a| a.ca_ski() == aki.as_slice())
            .map(|a| a.generation())
    }

    async fn sign_generation_crl(
        &self,
        generation: u32,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        entries: Vec<RevokedRef>,
        partition: Option<u32>,
    ) -> Result<Vec<u8>, DomainError> {
        let ca = Arc::clone(self.generation(generation)?);
        sign_crl_with(ca, number, this_update, next_update, entries, partition).await
    }

    async fn sign_generation_ocsp(
        &self,
        generation: u32,
        spec: OcspResponseSpec,
    ) -> Result<Vec<u8>, DomainError> {
        if generation == self.inner.generation() {
            return self.sign_ocsp(spec).await;
        }
        let OcspResponseSpec {
            serial,
            hash,
            status,
            produced_at,
            this_update,
            next_update,
            nonce,
        } = spec;
        let (ca, signer) = self
            .older
            .iter()
            .find(|(a, _)| a.generation() == generation)
            .ok_or(DomainError::NotFound("issuing CA generation"))?;
        let id = cert_id_for(&serial.to_bytes(), hash_of(hash), ca);
        let status = cert_status(status);
        let signer = match self.older_rotating.iter().find(|(g, _)| *g == generation) {
            Some((_, r)) => rotating_signer_at(r, ca, produced_at).await?,
            None => signer.clone(),
        };
        blocking(move || {
            signer
                .sign_response(
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

    fn root_pem(&self) -> String {
        crate::to_pem("CERTIFICATE", self.inner.root_der())
    }

    fn root_der(&self) -> Vec<u8> {
        self.inner.root_der().to_vec()
    }

    fn root_crl(&self) -> Option<Vec<u8>> {
        self.root_crl.clone()
    }

    fn ca_der(&self) -> Vec<u8> {
        self.inner.ca_der().to_vec()
    }

    fn check_csr(&self, csr: &str) -> Result<(), DomainError> {
        parse_csr(&csr_bytes(csr)).map(|_| ()).map_err(to_domain)
    }

    async fn issue(&self, spec: CertSpec, key: KeySource) -> Result<IssuedMaterial, DomainError> {
        let ca = Arc::clone(&self.inner);
        let pool = Arc::clone(&self.key_pool);
        blocking(move || issue_blocking(&ca, &pool, spec, key)).await
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
        sign_crl_with(ca, number, this_update, next_update, entries, partition).await
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
        // The CertID's issuer hashes pick the generation (RFC 6960 §4.1.1).
        let generation = if self.ocsp.is_our_issuer(first) {
            Some(self.inner.generation())
        } else {
            self.older
                .iter()
                .find(|(_, s)| s.is_our_issuer(first))
                .map(|(a, _)| a.generation())
        };
        Ok(OcspQuery {
            serial,
            hash,
            ours: generation.is_some(),
            generation: generation.unwrap_or(0),
            count: req.cert_ids.len(),
            nonce: req.nonce,
        })
    }

    async fn sign_ocsp(&self, spec: OcspResponseSpec) -> Result<Vec<u8>, DomainError> {
        let OcspResponseSpec {
            serial,
            hash,
            status,
            produced_at,
            this_update,
            next_update,
            nonce,
        } = spec;
        let id = cert_id_for(&serial.to_bytes(), hash_of(hash), &self.inner);
        let ocsp = self.ocsp_signer_at(produced_at).await?;
        let status = cert_status(status);
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

    async fn prepare_responder(&self, now: OffsetDateTime) -> Result<(), DomainError> {
        if let Some(r) = &self.rotating {
            prepare_rotating(r, &self.inner, now).await?;
        }
        for (g, r) in &self.older_rotating {
            let ca = self.generation(*g)?;
            prepare_rotating(r, ca, now).await?;
        }
        Ok(())
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

fn cert_status(status: OcspStatus) -> OcspCertStatus {
    match status {
        OcspStatus::Good => OcspCertStatus::Good,
        OcspStatus::Unknown => OcspCertStatus::Unknown,
        OcspStatus::Revoked { at, reason } => OcspCertStatus::Revoked {
            revoked_at: at,
            reason_code: Some(reason.code()),
        },
    }
}

/// Signs a CRL of `ca` on the blocking pool.
async fn sign_crl_with(
    ca: Arc<Authority>,
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    entries: Vec<RevokedRef>,
    partition: Option<u32>,
) -> Result<Vec<u8>, DomainError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{counting_authority, t0, CountingSigner};
    use time::Duration;

    async fn answer(ca: &PkiAuthority, at: OffsetDateTime) -> Result<Vec<u8>, DomainError> {
        ca.sign_ocsp(OcspResponseSpec {
            serial: Serial::from_bytes(&[0x42, 0x17]),
            hash: Hash::Sha384,
            status: OcspStatus::Unknown,
            produced_at: at,
            this_update: at,
            next_update: at + Duration::days(3),
            nonce: Some(vec![7; 16]),
        })
        .await
    }

    fn keygen_spec() -> CertSpec {
        let leaf = crate::testutil::leaf_spec();
        CertSpec {
            serial: Serial::from_bytes(&leaf.serial),
            kind: model::CertKind::Organisation,
            cvr: orgcert_core::ids::Cvr::parse("10150817").unwrap(),
            organisation_name: leaf.organisation_name,
            profile_id: uuid::Uuid::parse_str(&leaf.profile_id).unwrap(),
            common_name: leaf.common_name,
            email: None,
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            crl_partition: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_server_keygen_issuances_never_share_a_pooled_key() {
        let pool = Arc::new(KeyPool::for_tests(2));
        pool.warm();
        assert!(pool.wait_ready(2, std::time::Duration::from_secs(120)));
        let ca = Arc::new(
            PkiAuthority::new(Arc::new(crate::testutil::test_authority(
                KeyAlgorithm::EcdsaP256,
            )))
            .with_key_pool(pool.clone()),
        );
        let issuances = (0..4).map(|_| {
            let ca = Arc::clone(&ca);
            tokio::spawn(async move {
                let key = KeySource::Generate {
                    algorithm: model::KeyAlgorithm::Rsa3072,
                    format: model::P12Format::Modern,
                    password: orgcert_core::secret::SecretString::from(
                        "pool test password".to_owned(),
                    ),
                };
                ca.issue(keygen_spec(), key).await.unwrap()
            })
        });
        let mut moduli = std::collections::HashSet::new();
        for issued in issuances.collect::<Vec<_>>() {
            let issued = issued.await.unwrap();
            assert!(issued.pkcs12.is_some());
            let der = pem::parse(&issued.certificate_pem).unwrap().into_contents();
            let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
            moduli.insert(cert.public_key().subject_public_key.data.to_vec());
        }
        assert_eq!(moduli.len(), 4, "every issuance has its own key");
        assert!(pool.stats().taken >= 2, "the pooled keys were used");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_responder_costs_one_ca_signature_per_key_and_rotates_before_expiry() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = Arc::new(counting_authority(signer.clone()));
        let store = Arc::new(MemoryResponderStore::default());
        let public =
            PkiAuthority::new(authority.clone()).with_rotating_responder(store.clone(), false);
        let job = PkiAuthority::new(authority).with_rotating_responder(store.clone(), false);
        let at = t0();
        let base = signer.calls();

        // No responder yet: unavailable (tryLater), and no CA signature spent.
        let r = answer(&public, at).await;
        assert!(matches!(r, Err(DomainError::Unavailable(_))), "{r:?}");
        assert_eq!(signer.calls(), base);

        job.prepare_responder(at).await.unwrap();
        assert_eq!(
            signer.calls(),
            base + 1,
            "one signature: the responder certificate"
        );
        for _ in 0..100 {
            answer(&public, at + Duration::hours(1)).await.unwrap();
        }
        assert_eq!(
            signer.calls(),
            base + 1,
            "answers are signed by the responder key"
        );

        // Fresh two days later: nothing minted. Less than 4 days left: a new key.
        job.prepare_responder(at + Duration::days(2)).await.unwrap();
        assert_eq!(signer.calls(), base + 1);
        let first = store.load().await.unwrap().unwrap();
        job.prepare_responder(at + Duration::days(3) + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(signer.calls(), base + 2);
        let second = store.load().await.unwrap().unwrap();
        assert_ne!(first.certificate_der, second.certificate_der);
        assert_ne!(first.key_pkcs8_pem, second.key_pkcs8_pem);

        // The answering side picks the new one up once the old one runs short, and keeps
        // answering until the old one's very end without a CA signature.
        answer(&public, at + Duration::days(4) + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(signer.calls(), base + 2);
        // Past every stored responder, without minting: unavailable, still no signature.
        let r = answer(&public, at + Duration::days(30)).await;
        assert!(matches!(r, Err(DomainError::Unavailable(_))), "{r:?}");
        assert_eq!(signer.calls(), base + 2);

        // The key never shows in Debug output (logs).
        let shown = format!("{second:?}");
        assert!(
            !shown.contains("PRIVATE KEY") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_minting_responder_signs_its_own_certificate_when_none_is_usable() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = Arc::new(counting_authority(signer.clone()));
        let ca = PkiAuthority::new(authority)
            .with_rotating_responder(Arc::new(MemoryResponderStore::default()), true);
        let base = signer.calls();
        for i in 0..10 {
            answer(&ca, t0() + Duration::minutes(i)).await.unwrap();
        }
        assert_eq!(signer.calls(), base + 1);
        // Years later (a moved clock): one more responder.
        answer(&ca, t0() + Duration::days(800)).await.unwrap();
        assert_eq!(signer.calls(), base + 2);
    }
}
