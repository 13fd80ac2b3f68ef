//! Per-function composition: each Lambda function builds only the AWS clients its
//! operation uses, so the linker leaves the others' SDKs out of its binary.
//!
//! [`compose_for`] takes the function's [`Needs`] as a const generic: a client a function
//! does not need is built in a branch that is constant `false` in that function's code,
//! so neither the client nor its adapter's vtable (every SDK operation the adapter calls)
//! is referenced, and `--gc-sections` drops them. A port the function never uses gets an
//! adapter that refuses with `Internal` ("not available in this function"): reaching one
//! is a mistake in the needs table (`orgcert_lambda::needs`), never a silent no-op.
//!
//! The composition of every port at once, [`AwsApp::compose`](crate::AwsApp::compose), is
//! unchanged: tests, `orgcert serve --backend aws` and the tools use it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use orgcert_core::app::App;
use orgcert_core::clock::Clock;
use orgcert_core::ports::{
    CertSpec, CertificateAuthority, IssuedMaterial, KeySource, Mail, Mailer, Objects, OcspFailure,
    OcspQuery, OcspResponseSpec, RevokedRef,
};
use orgcert_core::secrets::CodeKey;
use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, KeyAlgorithm, PkiError, RsaSignature};
use time::{Duration, OffsetDateTime};

use crate::compose::{self, CaPartition, Generations, Responders};
use crate::config::{function_sdk_config, AwsConfig};
use crate::s3::S3Objects;
use crate::store::DynamoStore;

/// What one function uses besides the table, known when it is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The CA certificates (from the table): CA files, certificate chains, CRL and OCSP
    /// parsing and answers. Without it the function links no X.509 issuance code.
    pub ca: bool,
    /// The KMS CA key: issuance, CRL signing, minting OCSP responders. Implies `ca`.
    pub signer: bool,
    /// S3: PKCS#12 files, published CRLs, the delegated OCSP responders, the
    /// one-time-code key.
    pub objects: bool,
    /// SES.
    pub mailer: bool,
}

impl Needs {
    /// The table only.
    pub const STORE: Self = Self {
        ca: false,
        signer: false,
        objects: false,
        mailer: false,
    };
    /// Everything ([`AwsApp::compose`](crate::AwsApp::compose) builds the same).
    pub const ALL: Self = Self {
        ca: true,
        signer: true,
        objects: true,
        mailer: true,
    };

    /// With the CA certificates.
    #[must_use]
    pub const fn ca(self) -> Self {
        Self { ca: true, ..self }
    }

    /// With the KMS CA key (and so the CA certificates).
    #[must_use]
    pub const fn signer(self) -> Self {
        Self {
            ca: true,
            signer: true,
            ..self
        }
    }

    /// With S3.
    #[must_use]
    pub const fn objects(self) -> Self {
        Self {
            objects: true,
            ..self
        }
    }

    /// With SES.
    #[must_use]
    pub const fn mailer(self) -> Self {
        Self {
            mailer: true,
            ..self
        }
    }

    /// As the const generic argument of [`compose_for`].
    pub const fn bits(self) -> u8 {
        (self.ca as u8)
            | (self.signer as u8) << 1
            | (self.objects as u8) << 2
            | (self.mailer as u8) << 3
    }

    /// The inverse of [`Needs::bits`].
    pub const fn from_bits(bits: u8) -> Self {
        Self {
            ca: bits & 1 != 0 || bits & 2 != 0,
            signer: bits & 2 != 0,
            objects: bits & 4 != 0,
            mailer: bits & 8 != 0,
        }
    }
}

/// The [`App`] of one function: the DynamoDB store, and of the CA key (KMS), the CA
/// certificates, S3 and SES only what `NEEDS` ([`Needs::bits`]) names; the rest refuse.
/// The SDK configuration is [`function_sdk_config`] (credentials from Lambda's
/// environment).
///
/// Must run inside a multi-threaded tokio runtime (the KMS signer keeps its handle).
///
/// # Errors
/// As [`AwsApp::compose`](crate::AwsApp::compose); `Internal` when no region is set.
pub async fn compose_for<const NEEDS: u8>(
    cfg: &AwsConfig,
    clock: Arc<dyn Clock>,
) -> Result<App, DomainError> {
    let sdk = function_sdk_config(cfg)?;
    let store = compose::dynamo_store(&sdk, cfg)?;
    // Each `if const` below is decided when the function is compiled: the branch not
    // taken, and every SDK client only it builds, is not in the binary. No `.await` sits
    // inside one: an await point is a state of this future, reachable whatever the
    // constant, so the branches only pick a boxed future and one await runs it.
    let s3: Building<'_, S3Parts> = if const { Needs::from_bits(NEEDS).objects } {
        Box::pin(s3_parts(&sdk, cfg))
    } else {
        Box::pin(std::future::ready(Ok(S3Parts::unavailable())))
    };
    let S3Parts {
        objects,
        responders,
        code_key,
    } = s3.await?;
    let ca: Building<'_, Arc<dyn CertificateAuthority>> = if const { Needs::from_bits(NEEDS).signer }
    {
        Box::pin(table_ca(cfg, &store, responders, |der, key_id| {
            compose::kms_signer(&sdk, key_id, der)
        }))
    } else if const { Needs::from_bits(NEEDS).ca } {
        Box::pin(table_ca(cfg, &store, responders, NoSigner::of_certificate))
    } else {
        Box::pin(std::future::ready(Ok(
            Arc::new(NoCa) as Arc<dyn CertificateAuthority>
        )))
    };
    let ca = ca.await?;
    let mailer: Arc<dyn Mailer> = if const { Needs::from_bits(NEEDS).mailer } {
        Arc::new(compose::ses_mailer(&sdk, cfg))
    } else {
        Arc::new(Unavailable("SES mail"))
    };
    compose::app(cfg, clock, store, ca, objects, mailer, code_key)
}

/// A part of the composition being built (see [`compose_for`]).
type Building<'a, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 'a>>;

/// What S3 gives a function: its objects, the delegated OCSP responders, the
/// one-time-code key.
struct S3Parts {
    objects: Arc<dyn Objects>,
    responders: Option<Responders>,
    code_key: Option<CodeKey>,
}

impl S3Parts {
    fn unavailable() -> Self {
        Self {
            objects: Arc::new(Unavailable("S3 objects")),
            responders: None,
            code_key: None,
        }
    }
}

async fn s3_parts(sdk: &SdkConfig, cfg: &AwsConfig) -> Result<S3Parts, DomainError> {
    let objects = Arc::new(S3Objects::new(compose::s3_client(sdk, cfg), &cfg.bucket));
    let code_key = compose::code_key(sdk, cfg).await?;
    let responders = compose::s3_responders(&objects);
    Ok(S3Parts {
        objects,
        responders: Some(responders),
        code_key,
    })
}

/// The CA generations of the table, each bound to the signer `key` makes of its
/// certificate and KMS key id: the KMS key in a function that signs, [`NoSigner`] (every
/// signature refused) in one that only serves the certificates.
///
/// Generic, not a choice made at run time: a function whose needs lack `signer` only
/// instantiates it with [`NoSigner::of_certificate`], so nothing in it references a KMS
/// client (see [`compose_for`]).
async fn table_ca<K>(
    cfg: &AwsConfig,
    store: &DynamoStore,
    responders: Option<Responders>,
    key: K,
) -> Result<Arc<dyn CertificateAuthority>, DomainError>
where
    K: Fn(&[u8], &str) -> Result<Arc<dyn CaSigner>, DomainError> + Send + Sync,
{
    let partition = CaPartition::load(store).await?;
    let der = partition.issuing_certificate(cfg)?;
    let signer = key(&der, &cfg.kms_key_id)?;
    let generations = Generations::bind(cfg, &partition, signer, der, &|stored| {
        key(&stored.der, &stored.kms_key_id)
    })?;
    Ok(Arc::new(generations.pki(responders, false)))
}

fn not_here(what: &str) -> DomainError {
    DomainError::Internal(format!("{what}: not available in this function"))
}

/// A port this function never uses (see [`Needs`]): every call is refused.
struct Unavailable(&'static str);

#[async_trait]
impl Objects for Unavailable {
    async fn put(
        &self,
        _key: &str,
        _bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), DomainError> {
        Err(not_here(self.0))
    }

    async fn presign(
        &self,
        _key: &str,
        _ttl: Duration,
        _now: OffsetDateTime,
    ) -> Result<String, DomainError> {
        Err(not_here(self.0))
    }

    async fn delete(&self, _key: &str) -> Result<(), DomainError> {
        Err(not_here(self.0))
    }

    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, DomainError> {
        Err(not_here(self.0))
    }

    async fn purge(
        &self,
        _prefix: &str,
        _older_than: OffsetDateTime,
    ) -> Result<usize, DomainError> {
        Err(not_here(self.0))
    }
}

#[async_trait]
impl Mailer for Unavailable {
    async fn send(&self, _mail: &Mail) -> Result<(), DomainError> {
        Err(not_here(self.0))
    }
}

/// The CA of a function that needs no CA certificate. Its infallible getters answer
/// empty (and log): no operation of such a function calls them.
struct NoCa;

impl NoCa {
    fn empty<T: Default>(what: &str) -> T {
        tracing::error!("the CA ({what}) is not available in this function");
        T::default()
    }
}

#[async_trait]
impl CertificateAuthority for NoCa {
    fn ca_pem(&self) -> String {
        Self::empty("certificate")
    }

    fn ca_der(&self) -> Vec<u8> {
        Self::empty("certificate")
    }

    fn check_csr(&self, _csr: &str) -> Result<(), DomainError> {
        Err(not_here("the CA"))
    }

    async fn issue(&self, _spec: CertSpec, _key: KeySource) -> Result<IssuedMaterial, DomainError> {
        Err(not_here("the CA"))
    }

    async fn sign_crl(
        &self,
        _number: u64,
        _this_update: OffsetDateTime,
        _next_update: OffsetDateTime,
        _entries: Vec<RevokedRef>,
        _partition: Option<u32>,
    ) -> Result<Vec<u8>, DomainError> {
        Err(not_here("the CA"))
    }

    fn generations(&self) -> Vec<u32> {
        Self::empty("generations")
    }

    fn generation_der(&self, _generation: u32) -> Option<Vec<u8>> {
        Self::empty("certificate")
    }

    fn generation_of(&self, _certificate_pem: &str) -> Option<u32> {
        Self::empty("generations")
    }

    fn parse_ocsp(&self, _der: &[u8]) -> Result<OcspQuery, OcspFailure> {
        tracing::error!("the CA (OCSP) is not available in this function");
        Err(OcspFailure::Internal)
    }

    async fn sign_ocsp(&self, _spec: OcspResponseSpec) -> Result<Vec<u8>, DomainError> {
        Err(not_here("the CA"))
    }

    fn ocsp_failure(&self, _failure: OcspFailure) -> Vec<u8> {
        Self::empty("OCSP")
    }

    async fn prepare_responder(&self, _now: OffsetDateTime) -> Result<(), DomainError> {
        Err(not_here("the CA"))
    }
}

/// The CA key of a function that serves the CA certificates but never signs with the CA
/// key (its public key from the stored certificate, as the KMS signer's): every
/// signature is refused.
struct NoSigner {
    alg: KeyAlgorithm,
    spki: Vec<u8>,
    rsa: RsaSignature,
}

impl NoSigner {
    fn of_certificate(der: &[u8], key_id: &str) -> Result<Arc<dyn CaSigner>, DomainError> {
        let (alg, spki) = crate::kms::certificate_key(der, key_id)?;
        Ok(Arc::new(Self {
            alg,
            spki,
            rsa: compose::ca_signature()?,
        }))
    }
}

impl CaSigner for NoSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, PkiError> {
        Err(PkiError::Signer(
            "the CA key is not available in this function".into(),
        ))
    }

    fn rsa_signature(&self) -> RsaSignature {
        self.rsa
    }

    fn sign_pss(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_survive_their_bits() {
        for n in [
            Needs::STORE,
            Needs::ALL,
            Needs::STORE.ca(),
            Needs::STORE.signer(),
            Needs::STORE.objects().mailer(),
            Needs::STORE.ca().objects(),
        ] {
            assert_eq!(Needs::from_bits(n.bits()), n);
        }
        // The key implies the certificates.
        assert!(Needs::from_bits(2).ca);
    }

    #[tokio::test]
    async fn ports_a_function_does_not_need_refuse() {
        let e = Unavailable("S3 objects").get("k").await.unwrap_err();
        assert!(
            matches!(&e, DomainError::Internal(m) if m.contains("not available in this function"))
        );
        let mail = Mail {
            to: "a@example.dk".into(),
            subject: "s".into(),
            text: "t".into(),
            links: vec![],
        };
        assert!(Unavailable("SES mail").send(&mail).await.is_err());
        assert!(NoCa.check_csr("csr").is_err());
        assert!(NoCa
            .prepare_responder(OffsetDateTime::UNIX_EPOCH)
            .await
            .is_err());
        assert_eq!(NoCa.parse_ocsp(b"x").unwrap_err(), OcspFailure::Internal);
    }
}
