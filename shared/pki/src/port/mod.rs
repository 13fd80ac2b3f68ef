//! The core's `CertificateAuthority` port, implemented over an [`Authority`].
//!
//! Signing is synchronous (rcgen's `SigningKey`), and a KMS signer blocks on the network,
//! so issuance runs on the blocking pool, never on an async worker.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use orgcert_core::ids::Serial;
use orgcert_core::ports::{
    CertSpec, CertificateAuthority, IssuedMaterial, KeySource, OcspFailure, OcspQuery,
    OcspResponseSpec, OcspStatus, RevokedRef,
};
use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use time::OffsetDateTime;

use crate::KeyPool;
use crate::{
    build_pkcs12, cert_id_for, ocsp_error_response, parse_csr, parse_ocsp_request, Authority,
    CrlSpec, LeafSpec, OcspCertStatus, OcspErrorStatus, OcspSigner, PkiError, RevokedEntry,
    SubjectPublicKey,
};

mod responder;

use responder::{prepare_rotating, rotating_signer_at, Rotating};
pub use responder::{
    MemoryResponderStore, ResponderMaterial, ResponderStore, RESPONDER_RELOAD_LEFT,
    RESPONDER_ROTATE_LEFT, RESPONDER_VALIDITY,
};

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
    /// CSRs `check_csr` accepted lately, so that the issuance right after does not verify
    /// the same request's signature again (an ECDSA verification costs about three
    /// signatures).
    checked_csrs: Arc<CheckedCsrs>,
    /// OCSP requests already parsed, by their DER (see [`QueryMemo`]).
    queries: QueryMemo,
}

/// The last [`CheckedCsrs::KEEP`] CSRs found valid, by SHA-256 of their exact text, with
/// the key each carries: the same bytes always parse to the same key. Hand-written: a
/// bounded list searched linearly is all it takes at this size.
#[derive(Default)]
struct CheckedCsrs(std::sync::Mutex<std::collections::VecDeque<([u8; 32], SubjectPublicKey)>>);

impl CheckedCsrs {
    const KEEP: usize = 32;

    fn digest(text: &str) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(text.as_bytes()).into()
    }

    fn remember(&self, text: &str, key: SubjectPublicKey) {
        let mut list = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if list.len() == Self::KEEP {
            list.pop_front();
        }
        list.push_back((Self::digest(text), key));
    }

    /// The key of `text` when it was checked lately (taken out: one issuance per check).
    fn take(&self, text: &str) -> Option<SubjectPublicKey> {
        let digest = Self::digest(text);
        let mut list = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = list.iter().position(|(d, _)| *d == digest)?;
        list.remove(at).map(|(_, key)| key)
    }
}

/// Most OCSP requests [`QueryMemo`] keeps (about 200 octets each with its query).
const QUERY_MEMO_MAX: usize = 4096;
/// Longest request [`QueryMemo`] keeps: one CertID without a nonce is about 80 octets. The
/// route reads requests up to 64 KiB; kept at that size, 4,096 of them would hold 256 MiB.
const QUERY_MEMO_MAX_DER: usize = 512;

/// Parsed OCSP requests by their DER. What a request asks is a function of its octets and
/// of the issuing CAs this authority answers for, which are fixed once it is composed
/// (the builder methods that change them clear this); the answer itself is never kept
/// here. Clients without a nonce send the same octets for a certificate every time
/// (RFC 5019 §2.1.1 has them leave it out), and decoding the DER costs more than the rest
/// of a pre-signed answer; requests with a nonce are unique and not kept.
#[derive(Default)]
struct QueryMemo(std::sync::RwLock<std::collections::HashMap<Box<[u8]>, OcspQuery>>);

impl QueryMemo {
    fn get(&self, der: &[u8]) -> Option<OcspQuery> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(der).cloned()
    }

    fn keep(&self, der: &[u8], query: &OcspQuery) {
        if query.nonce.is_some() || der.len() > QUERY_MEMO_MAX_DER {
            return;
        }
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: a client sending ever new requests empties it now and then.
        if map.len() >= QUERY_MEMO_MAX {
            map.clear();
        }
        map.insert(der.into(), query.clone());
    }

    fn clear(&self) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
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
            checked_csrs: Arc::default(),
            queries: QueryMemo::default(),
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
        // Which CertIDs are ours changed.
        self.queries.clear();
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

    /// [`CertificateAuthority::parse_ocsp`] without the memo.
    fn parse_ocsp_uncached(&self, der: &[u8]) -> Result<OcspQuery, OcspFailure> {
        let req = parse_ocsp_request(der).map_err(|_| OcspFailure::Malformed)?;
        let first = req.cert_ids.first().ok_or(OcspFailure::Malformed)?;
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
            hash: first.hash_algorithm,
            ours: generation.is_some(),
            generation: generation.unwrap_or(0),
            count: req.cert_ids.len(),
            nonce: req.nonce,
        })
    }

    /// Serves `crl` (DER, signed by the root) as the root CRL.
    pub fn with_root_crl(mut self, crl: Vec<u8>) -> Self {
        self.root_crl = Some(crl);
        self
    }
    /// Signs OCSP responses with a delegated responder instead of the CA key.
    pub fn with_ocsp_signer(mut self, ocsp: OcspSigner) -> Self {
        self.ocsp = ocsp;
        self.queries.clear();
        self
    }
    /// Signs OCSP responses with the short-lived delegated responder kept in `store`
    /// ([`RESPONDER_VALIDITY`]); [`CertificateAuthority::prepare_responder`] replaces it
    /// when less than [`RESPONDER_ROTATE_LEFT`] is left. With `mint`, signing mints one
    /// itself when the store has none usable; without, it answers `Unavailable` then
    /// (no CA signature is spent on an OCSP request).
    pub fn with_rotating_responder(mut self, store: Arc<dyn ResponderStore>, mint: bool) -> Self {
        self.rotating = Some(Rotating::new(store, mint));
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
                (g, Rotating::new(store_of(g), mint))
            })
            .collect();
        self
    }

    /// The CA of generation `generation` and the signer of its OCSP responses produced at
    /// `at`: its delegated responder where one rotates, else the signer it was given.
    async fn ocsp_signer_of(
        &self,
        generation: u32,
        at: OffsetDateTime,
    ) -> Result<(&Arc<Authority>, OcspSigner), DomainError> {
        let (ca, signer, rotating) = if generation == self.inner.generation() {
            (&self.inner, &self.ocsp, self.rotating.as_ref())
        } else {
            let (ca, signer) = self
                .older
                .iter()
                .find(|(a, _)| a.generation() == generation)
                .ok_or(DomainError::NotFound("issuing CA generation"))?;
            let rotating = self
                .older_rotating
                .iter()
                .find(|(g, _)| *g == generation)
                .map(|(_, r)| r);
            (ca, signer, rotating)
        };
        let signer = match rotating {
            Some(r) => rotating_signer_at(r, ca, at).await?,
            None => signer.clone(),
        };
        Ok((ca, signer))
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

fn issue_blocking(
    ca: &Authority,
    pool: &KeyPool,
    spec: CertSpec,
    key: KeySource,
    checked: Option<SubjectPublicKey>,
) -> Result<IssuedMaterial, DomainError> {
    let leaf = LeafSpec {
        serial: spec.serial.to_bytes(),
        kind: spec.kind,
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
            let public = match checked {
                Some(key) => key,
                None => parse_csr(&csr_bytes(&text)).map_err(to_domain)?,
            };
            (ca.issue(&leaf, &public).map_err(to_domain)?, None)
        }
        KeySource::Generate {
            algorithm,
            format,
            password,
        } => {
            let generated = pool.take(algorithm.into()).map_err(to_domain)?;
            let issued = ca.issue(&leaf, generated.public()).map_err(to_domain)?;
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
        let (ca, signer) = self.ocsp_signer_of(generation, spec.produced_at).await?;
        sign_ocsp_with(ca, signer, spec).await
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
        let key = parse_csr(&csr_bytes(csr)).map_err(to_domain)?;
        self.checked_csrs.remember(csr, key);
        Ok(())
    }

    async fn issue(&self, spec: CertSpec, key: KeySource) -> Result<IssuedMaterial, DomainError> {
        let ca = Arc::clone(&self.inner);
        let pool = Arc::clone(&self.key_pool);
        // From a CSR with a quick CA key: an ECDSA signature and its check (the CSR was
        // checked before the claim), about a tenth of a millisecond, on this task. Key
        // generation and PKCS#12 never are.
        let quick = matches!(key, KeySource::Csr(_)) && ca.signer().quick();
        let checked = match &key {
            KeySource::Csr(text) => self.checked_csrs.take(text),
            KeySource::Generate { .. } => None,
        };
        on_pool_unless(quick, move || {
            issue_blocking(&ca, &pool, spec, key, checked)
        })
        .await
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
        if let Some(query) = self.queries.get(der) {
            return Ok(query);
        }
        let query = self.parse_ocsp_uncached(der)?;
        self.queries.keep(der, &query);
        Ok(query)
    }

    async fn sign_ocsp(&self, spec: OcspResponseSpec) -> Result<Vec<u8>, DomainError> {
        let (ca, signer) = self
            .ocsp_signer_of(self.inner.generation(), spec.produced_at)
            .await?;
        sign_ocsp_with(ca, signer, spec).await
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

/// Signs the response `spec` describes, for a certificate of `ca`, with `signer` on the
/// blocking pool.
async fn sign_ocsp_with(
    ca: &Authority,
    signer: OcspSigner,
    spec: OcspResponseSpec,
) -> Result<Vec<u8>, DomainError> {
    let OcspResponseSpec {
        serial,
        hash,
        status,
        produced_at,
        this_update,
        next_update,
        nonce,
    } = spec;
    let id = cert_id_for(&serial.to_bytes(), hash, ca);
    let status = cert_status(status);
    on_pool_unless(signer.quick(), move || {
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

/// Runs signing work on the blocking pool (a KMS signer blocks on the network).
/// Runs `f` on this task when it is `quick` (see [`CaSigner::quick`]), else on the
/// blocking pool.
async fn on_pool_unless<T: Send + 'static>(
    quick: bool,
    f: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
) -> Result<T, DomainError> {
    if quick {
        f()
    } else {
        blocking(f).await
    }
}

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
    use crate::KeyAlgorithm;
    use orgcert_core::model;

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

    #[test]
    fn a_remembered_ocsp_query_is_the_parsed_one_and_nonces_are_not_kept() {
        use orgcert_core::ports::OcspHash;
        let authority = Arc::new(crate::testutil::test_authority(KeyAlgorithm::EcdsaP256));
        let ca = PkiAuthority::new(authority.clone());
        let serial = [0x0a, 0x0b, 0x0c];
        let req = crate::testutil::request_der(&authority, &serial, OcspHash::Sha256, None);
        let parsed = ca.parse_ocsp_uncached(&req).unwrap();
        assert!(parsed.ours);
        assert_eq!(parsed.serial, Serial::from_bytes(&serial));
        assert_eq!(ca.parse_ocsp(&req).unwrap(), parsed);
        assert_eq!(ca.parse_ocsp(&req).unwrap(), parsed, "from the memo");
        assert_eq!(ca.queries.0.read().unwrap().len(), 1);
        // Another CA's request is not ours, memo or not.
        let other = crate::testutil::test_authority(KeyAlgorithm::EcdsaP256);
        let theirs = crate::testutil::request_der(&other, &serial, OcspHash::Sha256, None);
        for _ in 0..2 {
            assert!(!ca.parse_ocsp(&theirs).unwrap().ours);
        }
        // A request with a nonce is unique: parsed, not kept.
        use der::asn1::OctetString;
        use der::Encode as _;
        let nonce = x509_cert::ext::Extension {
            // id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
            extn_id: der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2"),
            critical: false,
            extn_value: OctetString::new(
                OctetString::new(&b"0123456789abcdef"[..])
                    .unwrap()
                    .to_der()
                    .unwrap(),
            )
            .unwrap(),
        };
        let with_nonce =
            crate::testutil::request_der(&authority, &serial, OcspHash::Sha256, Some(vec![nonce]));
        assert!(ca.parse_ocsp(&with_nonce).unwrap().nonce.is_some());
        assert_eq!(ca.queries.0.read().unwrap().len(), 2);
        // A large request (here an extension of 2 KiB) is parsed, not kept: the memo's
        // memory is bounded in bytes, not only in entries.
        let padding = x509_cert::ext::Extension {
            extn_id: der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1"),
            critical: false,
            extn_value: OctetString::new(vec![0x5a; 2048]).unwrap(),
        };
        let large = crate::testutil::request_der(
            &authority,
            &serial,
            OcspHash::Sha256,
            Some(vec![padding]),
        );
        assert!(large.len() > QUERY_MEMO_MAX_DER);
        assert!(ca.parse_ocsp(&large).unwrap().ours);
        assert_eq!(ca.queries.0.read().unwrap().len(), 2);
        // Malformed octets are refused every time.
        for _ in 0..2 {
            assert!(ca.parse_ocsp(&req[..req.len() - 1]).is_err());
        }
        // Bounded.
        for i in 0..QUERY_MEMO_MAX + 10 {
            let s = u32::try_from(i).unwrap().to_be_bytes();
            let r = crate::testutil::request_der(
                &authority,
                &[1, s[1], s[2], s[3]],
                OcspHash::Sha1,
                None,
            );
            ca.parse_ocsp(&r).unwrap();
        }
        assert!(ca.queries.0.read().unwrap().len() <= QUERY_MEMO_MAX);
        // The issuing CAs changed: forgotten.
        let ca = ca.with_older_generations(Vec::new());
        assert_eq!(ca.queries.0.read().unwrap().len(), 0);
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

    /// A CSR (base64 DER) for a fresh P-256 key, and that key's SubjectPublicKeyInfo.
    fn csr() -> (Vec<u8>, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let req = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&key)
            .unwrap();
        (
            req.der().to_vec(),
            rcgen::PublicKeyData::subject_public_key_info(&key),
        )
    }

    fn b64(der: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    fn spki_of(issued: &IssuedMaterial) -> Vec<u8> {
        let der = pem::parse(&issued.certificate_pem).unwrap().into_contents();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.public_key().raw.to_vec()
    }

    #[tokio::test]
    async fn a_checked_csr_is_issued_with_its_key_and_only_those_exact_bytes_skip_the_second_check()
    {
        let ca = PkiAuthority::new(Arc::new(crate::testutil::test_authority(
            KeyAlgorithm::EcdsaP256,
        )));
        let (der, spki) = csr();
        ca.check_csr(&b64(&der)).unwrap();
        let issued = ca
            .issue(keygen_spec(), KeySource::Csr(b64(&der)))
            .await
            .unwrap();
        assert_eq!(spki_of(&issued), spki, "the CSR's key is certified");
        assert!(
            ca.checked_csrs.take(&b64(&der)).is_none(),
            "a check serves one issuance"
        );

        // A signature broken after the check: other bytes, so verified (and refused) again.
        let mut broken = der.clone();
        *broken.last_mut().unwrap() ^= 0x01;
        ca.check_csr(&b64(&der)).unwrap();
        let refused = ca.issue(keygen_spec(), KeySource::Csr(b64(&broken))).await;
        assert!(
            matches!(&refused, Err(DomainError::Invalid(e)) if e[0].field == "csr"),
            "{refused:?}"
        );
        // And never checked at all: verified at issuance.
        let (other, _) = csr();
        let mut forged = other.clone();
        *forged.last_mut().unwrap() ^= 0x01;
        let refused = ca.issue(keygen_spec(), KeySource::Csr(b64(&forged))).await;
        assert!(
            matches!(refused, Err(DomainError::Invalid(_))),
            "{refused:?}"
        );
    }
}
