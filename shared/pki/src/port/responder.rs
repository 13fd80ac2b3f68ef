//! The delegated OCSP responder kept fresh across processes: the CA key signs only the
//! responder certificate, once per key, and OCSP responses are signed with the responder's
//! in-memory key (RFC 6960 §4.2.2.2).

use std::sync::Arc;

use async_trait::async_trait;
use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use time::OffsetDateTime;

use super::{blocking, to_domain};
use crate::{Authority, KeyAlgorithm, OcspSigner};
// The responder key's public half (`public_key_spki_der`).
use crate::CaSigner as _;

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
pub(super) struct Rotating {
    store: Arc<dyn ResponderStore>,
    /// Whether OCSP signing may mint a responder itself when none is usable (only where
    /// the CA signature is free, or in a signing principal).
    mint: bool,
    current: tokio::sync::Mutex<Option<Current>>,
}

impl Rotating {
    pub(super) fn new(store: Arc<dyn ResponderStore>, mint: bool) -> Self {
        Self {
            store,
            mint,
            current: tokio::sync::Mutex::new(None),
        }
    }
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
/// The delegated responder of `r` for a response produced at `at` (of the CA `ca`): the
/// one in memory while fresh, else the stored one, else a new one when `r` may mint.
pub(super) async fn rotating_signer_at(
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
pub(super) async fn prepare_rotating(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::PkiAuthority;
    use crate::testutil::{counting_authority, t0, CountingSigner};
    use orgcert_core::ids::Serial;
    use orgcert_core::ports::{CertificateAuthority as _, OcspHash, OcspResponseSpec, OcspStatus};
    use time::Duration;

    async fn answer(ca: &PkiAuthority, at: OffsetDateTime) -> Result<Vec<u8>, DomainError> {
        ca.sign_ocsp(OcspResponseSpec {
            serial: Serial::from_bytes(&[0x42, 0x17]),
            hash: OcspHash::Sha384,
            status: OcspStatus::Unknown,
            produced_at: at,
            this_update: at,
            next_update: at + Duration::days(3),
            nonce: Some(vec![7; 16]),
        })
        .await
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
