//! The composition root of the AWS shape: the same [`App`] the embedded default builds,
//! on DynamoDB, KMS, S3 and SES; plus the CA bootstrap.
//!
//! The CA certificate is an item of the table (`PK=CA`, `SK=CERT`, attribute `der`):
//! it is small, read once per cold start with the rest of the configuration, and kept
//! with the data it certifies. The KMS key never leaves KMS.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use orgcert_core::app::{App, Config, Ports};
use orgcert_core::clock::Clock;
use orgcert_core::ports::{CertificateAuthority, Mailer, NoEvents, Objects};
use orgcert_core::secrets::CodeKey;
use orgcert_core::DomainError;
use orgcert_pki::port::{PkiAuthority, ResponderStore};
use orgcert_pki::{create_ca_certificate, Authority, CaSigner, CaSubject};
use time::{Duration, OffsetDateTime};

use crate::code_key::{ensure_code_key, load_code_key};
use crate::config::{sdk_config, AwsConfig};
use crate::error::sdk_error;
use crate::kms::KmsSigner;
use crate::responder::S3ResponderStore;
use crate::s3::S3Objects;
use crate::ses::SesMailer;
use crate::store::keys::{CA_PK, CA_SK, PK, SK};
use crate::store::DynamoStore;

/// Validity of a development CA created by [`bootstrap_ca`].
const DEV_CA_YEARS: i64 = 20;

/// The composed AWS service, with typed handles on its adapters (jobs and tests need
/// them; the use cases see only the ports in [`AwsApp::app`]).
pub struct AwsApp {
    /// The use cases.
    pub app: App,
    /// The DynamoDB store.
    pub store: Arc<DynamoStore>,
    /// The CA (KMS signer + CA certificate): the newest issuing CA generation; CRL and
    /// OCSP jobs sign with it.
    pub authority: Arc<Authority>,
    /// Older issuing CA generations still serving status (after `orgcert-ca rollover`),
    /// oldest first.
    pub older: Vec<Arc<Authority>>,
    /// The root CRL stored by the two-tier bootstrap, if any.
    pub root_crl: Option<Vec<u8>>,
    /// The S3 objects.
    pub objects: Arc<S3Objects>,
    /// The SES mailer.
    pub mailer: Arc<SesMailer>,
    /// The configuration it was built from.
    pub config: AwsConfig,
}

impl AwsApp {
    /// Builds every adapter from `cfg` and loads the CA certificate from the table.
    ///
    /// Must run inside a multi-threaded tokio runtime (the KMS signer keeps its handle).
    ///
    /// # Errors
    /// `Unavailable` when an AWS service cannot be reached; `Internal` for a missing or
    /// mismatched CA certificate (run [`bootstrap_ca`] or [`install_ca_certificate`]).
    ///
    /// No KMS call: the signer's public key comes from the stored CA certificate
    /// ([`issuing_ca_certificate`]), so a cold start never waits on KMS.
    pub async fn compose(cfg: &AwsConfig, clock: Arc<dyn Clock>) -> Result<Self, DomainError> {
        let sdk = sdk_config(cfg).await;
        let store = dynamo_store(&sdk, cfg)?;
        let ca = CaPartition::load(&store).await?;
        let der = ca.issuing_certificate(cfg)?;
        let signer = kms_signer(&sdk, &cfg.kms_key_id, &der)?;
        Self::assemble(cfg, clock, signer, &sdk, store, &ca, der).await
    }

    /// As [`AwsApp::compose`], with the CA key behind `signer` (a wrapper of the KMS
    /// signer: tests count or fail its calls).
    ///
    /// # Errors
    /// As [`AwsApp::compose`].
    pub async fn compose_with_signer(
        cfg: &AwsConfig,
        clock: Arc<dyn Clock>,
        signer: Arc<dyn CaSigner>,
    ) -> Result<Self, DomainError> {
        let sdk = sdk_config(cfg).await;
        let store = dynamo_store(&sdk, cfg)?;
        let ca = CaPartition::load(&store).await?;
        let der = ca.issuing_certificate(cfg)?;
        Self::assemble(cfg, clock, signer, &sdk, store, &ca, der).await
    }

    async fn assemble(
        cfg: &AwsConfig,
        clock: Arc<dyn Clock>,
        signer: Arc<dyn CaSigner>,
        sdk: &aws_config::SdkConfig,
        store: Arc<DynamoStore>,
        ca: &CaPartition,
        der: Vec<u8>,
    ) -> Result<Self, DomainError> {
        let generations = Generations::bind(cfg, ca, signer, der, &|stored| {
            crate::rollover::generation_signer(sdk, stored)
        })?;
        let objects = Arc::new(S3Objects::new(s3_client(sdk, cfg), &cfg.bucket));
        let mailer = Arc::new(ses_mailer(sdk, cfg));
        let code_key = code_key(sdk, cfg).await?;
        let pki = generations.pki(Some(s3_responders(&objects)), false);
        let app = app(
            cfg,
            clock,
            store.clone(),
            Arc::new(pki),
            objects.clone(),
            mailer.clone(),
            code_key,
        )?;
        let Generations {
            authority,
            older,
            root_crl,
        } = generations;
        Ok(Self {
            app,
            store,
            authority,
            older,
            root_crl,
            objects,
            mailer,
            config: cfg.clone(),
        })
    }
}

impl AwsApp {
    /// Lets OCSP signing mint a responder itself (a KMS signature) when the bucket holds
    /// none usable. Only for a process that is a signing principal anyway and plays every
    /// function at once (tests that move the clock by years, tools); deployed functions
    /// never do: the crl-refresh job mints through `prepare_responder`.
    #[must_use]
    pub fn minting_ocsp_responder(mut self) -> Self {
        let generations = Generations {
            authority: self.authority.clone(),
            older: self.older.clone(),
            root_crl: self.root_crl.clone(),
        };
        self.app = self.app.with_ca(Arc::new(
            generations.pki(Some(s3_responders(&self.objects)), true),
        ));
        self
    }
}

/// The DynamoDB store of `cfg.table` (every function has one).
pub(crate) fn dynamo_store(
    sdk: &aws_config::SdkConfig,
    cfg: &AwsConfig,
) -> Result<Arc<DynamoStore>, DomainError> {
    Ok(Arc::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &cfg.table)
            .with_ocsp_cache(ocsp_cache_ttl()?),
    ))
}

/// The KMS signer of a CA generation: the KMS key `key_id`, its public key from the
/// stored certificate `der` (no `GetPublicKey` on a cold start).
pub(crate) fn kms_signer(
    sdk: &aws_config::SdkConfig,
    key_id: &str,
    der: &[u8],
) -> Result<Arc<dyn CaSigner>, DomainError> {
    Ok(Arc::new(
        KmsSigner::from_certificate(aws_sdk_kms::Client::new(sdk), key_id, der)?
            .with_rsa_signature(ca_signature()?),
    ))
}

/// The SES mailer of `cfg.sender`.
pub(crate) fn ses_mailer(sdk: &aws_config::SdkConfig, cfg: &AwsConfig) -> SesMailer {
    SesMailer::new(aws_sdk_sesv2::Client::new(sdk), &cfg.sender)
        .with_configuration_set(cfg.ses_configuration_set.clone())
}

/// The one-time-code key from the bucket, when `cfg` names its object.
pub(crate) async fn code_key(
    sdk: &aws_config::SdkConfig,
    cfg: &AwsConfig,
) -> Result<Option<CodeKey>, DomainError> {
    let Some(object) = &cfg.code_key_object else {
        return Ok(None);
    };
    let key = load_code_key(&s3_client(sdk, cfg), &cfg.bucket, object)
        .await?
        .ok_or_else(|| {
            DomainError::Internal(format!(
                "s3://{}/{object} is missing: run the CA bootstrap (it writes the one-time-code key)",
                cfg.bucket
            ))
        })?;
    Ok(Some(key))
}

/// The delegated OCSP responders kept in the bucket: the current generation's, and a
/// store per older generation (each keeps its own, minted by the crl-refresh job), so no
/// public OCSP request signs with a KMS CA key, whichever generation issued the
/// certificate (DESIGN §5a).
pub(crate) fn s3_responders(objects: &Arc<S3Objects>) -> Responders {
    let older = objects.clone();
    Responders {
        current: Arc::new(S3ResponderStore::new(objects.clone())),
        older: Box::new(move |g| Arc::new(S3ResponderStore::for_generation(older.clone(), g))),
    }
}

/// Where the delegated OCSP responders are kept (see [`s3_responders`]); as trait objects,
/// so that [`Generations::pki`] links no S3 code into a function without a bucket.
pub(crate) struct Responders {
    current: Arc<dyn ResponderStore>,
    older: Box<dyn Fn(u32) -> Arc<dyn ResponderStore> + Send + Sync>,
}

/// Makes the signer of a later CA generation (KMS, or one that refuses).
pub(crate) type SignerOf<'a> =
    &'a dyn Fn(&crate::rollover::StoredGeneration) -> Result<Arc<dyn CaSigner>, DomainError>;

/// The issuing CA generations as the table stores them, each bound to its signer.
pub(crate) struct Generations {
    /// The newest generation (issues; CRL and OCSP jobs sign with it).
    authority: Arc<Authority>,
    /// Older generations still serving status, oldest first.
    older: Vec<Arc<Authority>>,
    /// The root CRL stored by the two-tier bootstrap, if any.
    root_crl: Option<Vec<u8>>,
}

impl Generations {
    /// Binds the issuing certificate `der` to `signer` and every later generation of the
    /// partition to the signer `signer_of` makes for it (the public key comes from the
    /// stored certificate, not GetPublicKey).
    pub(crate) fn bind(
        cfg: &AwsConfig,
        ca: &CaPartition,
        signer: Arc<dyn CaSigner>,
        der: Vec<u8>,
        signer_of: SignerOf<'_>,
    ) -> Result<Self, DomainError> {
        // Two tiers (`bootstrap_two_tier_ca`): the root and its CRL are stored with the
        // issuing CA; a CA from the single-tier bootstrap has neither.
        let (root_der, root_crl) = ca.root();
        let chain: Vec<Vec<u8>> = root_der.into_iter().collect();
        let bind = |signer: Arc<dyn CaSigner>, der: Vec<u8>, generation: u32| {
            Authority::new(signer, der, &cfg.pki_url, cfg.policy_oids.clone())
                .and_then(|a| {
                    a.with_name_registration_authority(cfg.name_registration_authority.as_deref())
                })
                .map(|a| a.with_generation(generation).with_chain(chain.clone()))
                .map_err(|e| DomainError::Internal(format!("CA generation {generation}: {e}")))
        };
        let mut generations = vec![Arc::new(bind(signer, der, 1)?)];
        // Later generations from `orgcert-ca rollover` (items CA/CERT#n), each with its own
        // KMS key.
        for stored in ca.generations()?.into_iter().skip(1) {
            let signer = signer_of(&stored)?;
            generations.push(Arc::new(bind(signer, stored.der, stored.generation)?));
        }
        let authority = generations
            .pop()
            .ok_or_else(|| DomainError::Internal("no CA".into()))?;
        // Older generations serve status until their own certificate expires (and with it
        // every certificate they issued), as the embedded default's.
        let now = OffsetDateTime::now_utc();
        let older: Vec<Arc<Authority>> = generations
            .into_iter()
            .filter(|a| a.not_after() > now)
            .collect();
        Ok(Self {
            authority,
            older,
            root_crl,
        })
    }

    /// The certificate authority port on these generations. OCSP is signed by the
    /// delegated responders in `responders`; without `mint` it never mints one on an OCSP
    /// request (only the crl-refresh job does, through `prepare_responder`), so a public
    /// request never costs a KMS signature.
    pub(crate) fn pki(&self, responders: Option<Responders>, mint: bool) -> PkiAuthority {
        let mut ca =
            PkiAuthority::new(self.authority.clone()).with_older_generations(self.older.clone());
        if let Some(r) = responders {
            ca = ca
                .with_older_rotating_responders(r.older, mint)
                .with_rotating_responder(r.current, mint);
        }
        if let Some(crl) = self.root_crl.clone() {
            ca = ca.with_root_crl(crl);
        }
        ca
    }
}

/// The use cases on these ports, with the configuration every AWS function reads.
pub(crate) fn app(
    cfg: &AwsConfig,
    clock: Arc<dyn Clock>,
    store: Arc<DynamoStore>,
    ca: Arc<dyn CertificateAuthority>,
    objects: Arc<dyn Objects>,
    mailer: Arc<dyn Mailer>,
    code_key: Option<CodeKey>,
) -> Result<App, DomainError> {
    let mut config = tuned(Config::new(cfg.public_url.clone()))?;
    config.code_key = code_key;
    // Served as stored; the crl-refresh job builds CRLs (DESIGN §5a).
    config.crl_build_on_read = false;
    Ok(App::new(
        Ports {
            store,
            ca,
            objects,
            mailer,
            clock,
            // A schedule rebuilds the CRL on AWS; nothing runs in the background here.
            events: Arc::new(NoEvents),
        },
        config,
    ))
}

/// Builds the [`App`] from `cfg` (see [`AwsApp::compose`]).
///
/// # Errors
/// As [`AwsApp::compose`].
pub async fn compose(cfg: &AwsConfig, clock: Arc<dyn Clock>) -> Result<App, DomainError> {
    Ok(AwsApp::compose(cfg, clock).await?.app)
}

/// The S3 client; an endpoint override (an emulator on 127.0.0.1) needs path-style URLs.
pub fn s3_client(sdk: &aws_config::SdkConfig, cfg: &AwsConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(cfg.endpoint_url.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The CA partition (`PK=CA`: the CA item with the root, later generations' items) as
/// one strongly consistent Query reads it: a cold start reads it once, not one GetItem
/// per item.
pub struct CaPartition {
    /// The items by sort key.
    items: HashMap<String, HashMap<String, AttributeValue>>,
}

impl CaPartition {
    /// Reads the partition (one Query; empty before the bootstrap).
    ///
    /// # Errors
    /// `Unavailable` when DynamoDB cannot be reached.
    pub async fn load(store: &DynamoStore) -> Result<Self, DomainError> {
        let items = store.partition(CA_PK, None, true).await?;
        Ok(Self {
            items: items
                .into_iter()
                .filter_map(|it| match it.get(SK) {
                    Some(AttributeValue::S(sk)) => Some((sk.clone(), it)),
                    _ => None,
                })
                .collect(),
        })
    }

    /// The item with sort key `sk`.
    pub(crate) fn item(&self, sk: &str) -> Option<&HashMap<String, AttributeValue>> {
        self.items.get(sk)
    }

    /// The stored CA certificate (DER), if the bootstrap ran.
    ///
    /// # Errors
    /// `Internal` when the CA item holds no DER certificate.
    pub fn ca_certificate(&self) -> Result<Option<Vec<u8>>, DomainError> {
        match self.item(CA_SK).and_then(|i| i.get("der")) {
            None => Ok(None),
            Some(AttributeValue::B(b)) => Ok(Some(b.as_ref().to_vec())),
            Some(_) => Err(DomainError::Internal(
                "the CA item holds no DER certificate".into(),
            )),
        }
    }

    /// As [`issuing_ca_certificate`].
    ///
    /// # Errors
    /// `Internal` when none is stored (run the CA bootstrap).
    pub fn issuing_certificate(&self, cfg: &AwsConfig) -> Result<Vec<u8>, DomainError> {
        self.ca_certificate()?.ok_or_else(|| {
            DomainError::Internal(format!(
                "table {} holds no CA certificate: run the CA bootstrap first",
                cfg.table
            ))
        })
    }

    /// The root certificate and root CRL stored with the CA (two tiers only).
    pub fn root(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let item = self.item(CA_SK);
        let blob = |name: &str| match item.and_then(|i| i.get(name)) {
            Some(AttributeValue::B(b)) => Some(b.as_ref().to_vec()),
            _ => None,
        };
        (blob("root_der"), blob("root_crl"))
    }

    /// Every issuing CA generation, oldest first (see [`crate::rollover`]).
    ///
    /// # Errors
    /// `Internal` for an item without its certificate or key id.
    pub fn generations(&self) -> Result<Vec<crate::rollover::StoredGeneration>, DomainError> {
        crate::rollover::generations_in(self)
    }
}

/// The stored CA certificate (DER), if the bootstrap ran.
///
/// # Errors
/// `Unavailable` when DynamoDB cannot be reached.
pub async fn load_ca_certificate(store: &DynamoStore) -> Result<Option<Vec<u8>>, DomainError> {
    CaPartition::load(store).await?.ca_certificate()
}

/// The certificate of the CA that issues (its key is the KMS key): where the bootstrap
/// stores it today, the table's `CA`/`CERT` item. The one place that says where it is:
/// a CA hierarchy that stores an issuing CA elsewhere changes only this.
///
/// # Errors
/// `Internal` when none is stored (run the CA bootstrap); `Unavailable` when DynamoDB
/// cannot be reached.
pub async fn issuing_ca_certificate(
    store: &DynamoStore,
    cfg: &AwsConfig,
) -> Result<Vec<u8>, DomainError> {
    CaPartition::load(store).await?.issuing_certificate(cfg)
}

/// Stores `der` as the CA certificate unless one is stored already.
async fn store_ca(store: &DynamoStore, der: &[u8], key_id: &str) -> Result<(), DomainError> {
    store_ca_with_root(store, der, key_id, None).await
}

/// Stores the issuing CA certificate and, with two tiers, the root certificate, the root
/// key id and the root CRL in the same item, unless a CA is stored already.
async fn store_ca_with_root(
    store: &DynamoStore,
    der: &[u8],
    key_id: &str,
    root: Option<(&[u8], &str, &[u8])>,
) -> Result<(), DomainError> {
    let mut put = store.client().put_item();
    if let Some((root_der, root_key_id, root_crl)) = root {
        put = put
            .item("root_der", AttributeValue::B(Blob::new(root_der.to_vec())))
            .item("root_kms_key_id", AttributeValue::S(root_key_id.into()))
            .item("root_crl", AttributeValue::B(Blob::new(root_crl.to_vec())));
    }
    let res = put
        .table_name(store.table())
        .item(PK, AttributeValue::S(CA_PK.into()))
        .item(SK, AttributeValue::S(CA_SK.into()))
        .item("der", AttributeValue::B(Blob::new(der.to_vec())))
        .item("kms_key_id", AttributeValue::S(key_id.into()))
        .item(
            "stored_at",
            AttributeValue::S(OffsetDateTime::now_utc().unix_timestamp().to_string()),
        )
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Err(DomainError::Conflict(
                "a CA certificate is already stored; it is never replaced in place".into(),
            ))
        }
        Err(e) => Err(sdk_error("DynamoDB PutItem (CA)", e)),
    }
}

/// The root certificate and root CRL stored with the CA, if the bootstrap made two tiers.
///
/// # Errors
/// `Unavailable` when DynamoDB cannot be reached.
pub async fn load_root(
    store: &DynamoStore,
) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), DomainError> {
    Ok(CaPartition::load(store).await?.root())
}

/// Years of the root the two-tier bootstrap creates (OCES3's root: 25).
const ROOT_YEARS: i64 = 25;
/// Years of the issuing CA under it.
const ISSUING_YEARS: i64 = 10;
/// Days of the root CRL it signs.
const ROOT_CRL_DAYS: i64 = 365;

/// Two-tier bootstrap (DESIGN §4 "CA hierarchy"): the root key `root_key_id` (a KMS key
/// only the bootstrap principal may use for `Sign`, infra/template.yaml `RootKey`) signs a
/// self-signed root (25 years), the issuing CA certificate for the CA key (10 years,
/// pathlen 0, AIA and CRL DP to the root) and the root CRL (365 days); all three are
/// stored in the CA item. Writes the one-time-code key unless it is there. Returns the
/// root and issuing CA certificates (DER).
///
/// # Errors
/// `Conflict` when a CA certificate is stored already; `Unavailable` when KMS or DynamoDB
/// fail; `Internal` for a root key KMS will not use.
pub async fn bootstrap_two_tier_ca(
    cfg: &AwsConfig,
    root_key_id: &str,
    root_subject: &CaSubject,
    issuing_subject: &CaSubject,
) -> Result<(Vec<u8>, Vec<u8>), DomainError> {
    let (signer, store) = signer_and_store(cfg).await?;
    write_code_key(cfg).await?;
    if load_ca_certificate(&store).await?.is_some() {
        return Err(DomainError::Conflict(
            "a CA certificate is already stored".into(),
        ));
    }
    let root_signer = root_signer(cfg, root_key_id).await?;
    let now = OffsetDateTime::now_utc();
    let (root_subject, issuing_subject) = (root_subject.clone(), issuing_subject.clone());
    let pki_url = cfg.pki_url.clone();
    let issuing_spki = signer.public_key_spki_der();
    // The KMS signers block on their runtime: sign on the blocking pool.
    let (root_der, issuing_der, root_crl) = tokio::task::spawn_blocking(move || {
        let root_der = orgcert_pki::create_root_certificate(
            root_signer.as_ref(),
            &root_subject,
            now - Duration::minutes(5),
            now + Duration::days(ROOT_YEARS * 365),
        )?;
        let root = orgcert_pki::Root::new(root_signer, root_der.clone(), &pki_url)?;
        let public = orgcert_pki::SubjectPublicKey::from_spki_der(&issuing_spki)?;
        let issuing = root.issue_issuing_ca(
            &public,
            &issuing_subject,
            now - Duration::minutes(5),
            (now + Duration::days(ISSUING_YEARS * 365)).min(root.not_after()),
        )?;
        let crl = root.sign_crl(1, now, now + Duration::days(ROOT_CRL_DAYS), &[])?;
        Ok::<_, orgcert_pki::PkiError>((root_der, issuing, crl))
    })
    .await
    .map_err(|e| DomainError::Internal(format!("CA bootstrap task: {e}")))?
    .map_err(orgcert_pki::port::to_domain)?;
    store_ca_with_root(
        &store,
        &issuing_der,
        signer.key_id(),
        Some((&root_der, root_key_id, &root_crl)),
    )
    .await?;
    Ok((root_der, issuing_der))
}

/// The KMS signer of the root key (only the bootstrap principal may use it).
async fn root_signer(cfg: &AwsConfig, root_key_id: &str) -> Result<Arc<dyn CaSigner>, DomainError> {
    let sdk = sdk_config(cfg).await;
    Ok(Arc::new(
        KmsSigner::new(aws_sdk_kms::Client::new(&sdk), root_key_id)
            .await?
            .with_rsa_signature(ca_signature()?),
    ))
}

/// Re-signs the root CRL with the root key (run by the bootstrap principal well before the
/// stored one's nextUpdate; the functions read it at their next cold start). The cRLNumber
/// is the signing time in seconds, so it only grows (RFC 5280 §5.2.3).
///
/// # Errors
/// `Conflict` when the table holds no two-tier CA; `Unavailable` when KMS or DynamoDB fail.
pub async fn resign_root_crl(cfg: &AwsConfig, root_key_id: &str) -> Result<Vec<u8>, DomainError> {
    let (_, store) = signer_and_store(cfg).await?;
    let (Some(root_der), _) = load_root(&store).await? else {
        return Err(DomainError::Conflict(
            "the table holds no root certificate (single-tier CA)".into(),
        ));
    };
    let root_signer = root_signer(cfg, root_key_id).await?;
    let pki_url = cfg.pki_url.clone();
    let now = OffsetDateTime::now_utc();
    let crl = tokio::task::spawn_blocking(move || {
        let root = orgcert_pki::Root::new(root_signer, root_der, &pki_url)?;
        let number = u64::try_from(now.unix_timestamp()).unwrap_or(1);
        root.sign_crl(number, now, now + Duration::days(ROOT_CRL_DAYS), &[])
    })
    .await
    .map_err(|e| DomainError::Internal(format!("root CRL task: {e}")))?
    .map_err(orgcert_pki::port::to_domain)?;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(PK, AttributeValue::S(CA_PK.into()))
        .key(SK, AttributeValue::S(CA_SK.into()))
        .update_expression("SET root_crl = :crl")
        .condition_expression("attribute_exists(root_der)")
        .expression_attribute_values(":crl", AttributeValue::B(Blob::new(crl.clone())))
        .send()
        .await
        .map_err(|e| sdk_error("DynamoDB UpdateItem (root CRL)", e))?;
    Ok(crl)
}

/// Writes the one-time-code key to the bucket unless it is there.
async fn write_code_key(cfg: &AwsConfig) -> Result<(), DomainError> {
    let sdk = sdk_config(cfg).await;
    ensure_code_key(&s3_client(&sdk, cfg), &cfg.bucket).await?;
    Ok(())
}

async fn signer_and_store(cfg: &AwsConfig) -> Result<(Arc<KmsSigner>, DynamoStore), DomainError> {
    let sdk = sdk_config(cfg).await;
    let signer = KmsSigner::new(aws_sdk_kms::Client::new(&sdk), &cfg.kms_key_id)
        .await?
        .with_rsa_signature(ca_signature()?);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &cfg.table);
    Ok((Arc::new(signer), store))
}

/// Development bootstrap: creates a self-signed root CA certificate for the KMS key
/// (20 years) and stores it in the table; writes the one-time-code key to the bucket
/// (`keys/code.key`) unless it is there; returns the DER.
///
/// # Errors
/// `Conflict` when a CA certificate is stored already; `Invalid` for a bad subject;
/// `Unavailable` when KMS or DynamoDB fail.
pub async fn bootstrap_ca(cfg: &AwsConfig, subject: &CaSubject) -> Result<Vec<u8>, DomainError> {
    let (signer, store) = signer_and_store(cfg).await?;
    // First, so that re-running the bootstrap on an older stack adds the key.
    write_code_key(cfg).await?;
    if load_ca_certificate(&store).await?.is_some() {
        return Err(DomainError::Conflict(
            "a CA certificate is already stored".into(),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let subject = subject.clone();
    let kms = signer.clone();
    // The KMS signer blocks on its runtime: sign on the blocking pool.
    let der = tokio::task::spawn_blocking(move || {
        create_ca_certificate(
            kms.as_ref(),
            &subject,
            now - Duration::minutes(5),
            now + Duration::days(DEV_CA_YEARS * 365),
        )
    })
    .await
    .map_err(|e| DomainError::Internal(format!("CA bootstrap task: {e}")))?
    .map_err(orgcert_pki::port::to_domain)?;
    store_ca(&store, &der, signer.key_id()).await?;
    Ok(der)
}

/// Production bootstrap, step 1: a PKCS#10 request (PEM) for the KMS key with `subject`,
/// signed by KMS, for an external root to certify as a CA (basicConstraints CA:true
/// requested). Step 2 is [`install_ca_certificate`] with the certificate it returns.
///
/// # Errors
/// `Unavailable` when KMS fails; `Internal` when the request cannot be encoded.
pub async fn ca_certificate_request(
    cfg: &AwsConfig,
    subject: &CaSubject,
) -> Result<String, DomainError> {
    let (signer, _) = signer_and_store(cfg).await?;
    let subject = subject.clone();
    tokio::task::spawn_blocking(move || crate::csr::ca_request(signer.as_ref(), &subject))
        .await
        .map_err(|e| DomainError::Internal(format!("CSR task: {e}")))?
}

/// Production bootstrap, step 2: stores a CA certificate issued for the KMS key by an
/// external root, after checking that it certifies this key as a CA; writes the
/// one-time-code key to the bucket unless it is there.
///
/// # Errors
/// `Invalid{field: "certificate"}` when it does not match the key or is no CA
/// certificate; `Conflict` when one is stored already; `Unavailable` on AWS failures.
pub async fn install_ca_certificate(cfg: &AwsConfig, der: Vec<u8>) -> Result<(), DomainError> {
    let (signer, store) = signer_and_store(cfg).await?;
    write_code_key(cfg).await?;
    let key_id = signer.key_id().to_owned();
    Authority::new(signer, der.clone(), &cfg.pki_url, cfg.policy_oids.clone())
        .map_err(|e| DomainError::invalid("certificate", e.to_string()))?;
    store_ca(&store, &der, &key_id).await
}

/// The RSA signature scheme of the CA keys (`ORGCERT_CA_SIGNATURE=pss|pkcs1`, as the
/// embedded default; unset: RSASSA-PSS, as OCES3).
///
/// # Errors
/// `Internal` naming the variable for another value.
pub fn ca_signature() -> Result<orgcert_pki::RsaSignature, DomainError> {
    match std::env::var("ORGCERT_CA_SIGNATURE") {
        Ok(v) if !v.trim().is_empty() => v.parse().map_err(|_| {
            DomainError::Internal(format!("ORGCERT_CA_SIGNATURE: {v:?} is not pss or pkcs1"))
        }),
        _ => Ok(orgcert_pki::RsaSignature::Pss),
    }
}

/// How long a warm Lambda keeps OCSP records it read (`ORGCERT_OCSP_CACHE_SECONDS`,
/// 0..=60; unset: 0, off). Another Lambda's revocation reaches a warm OCSP function after
/// at most this long, so it is off unless the deployment accepts that delay (HTTP caches
/// may already serve an answer for its `max-age` of 60 s).
///
/// # Errors
/// `Internal` naming the variable for another value.
pub fn ocsp_cache_ttl() -> Result<std::time::Duration, DomainError> {
    orgcert_core::ocsp_cache::ttl_from_env(std::time::Duration::ZERO).map_err(DomainError::Internal)
}

/// CRL partitions and validity and the reminder thresholds, from the same variables as the
/// embedded default (`ORGCERT_CRL_PARTITIONS`, `ORGCERT_CRL_VALIDITY_HOURS`,
/// `ORGCERT_REMINDER_DAYS`); unset variables keep the defaults.
fn tuned(mut config: Config) -> Result<Config, DomainError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let bad = |name: &str, v: &str| DomainError::Internal(format!("{name}: {v:?} is not valid"));
    if let Some(v) = var("ORGCERT_CRL_PARTITIONS") {
        config.crl_partitions = v
            .trim()
            .parse()
            .map_err(|_| bad("ORGCERT_CRL_PARTITIONS", &v))?;
    }
    if let Some(v) = var("ORGCERT_CRL_VALIDITY_HOURS") {
        let h: i64 = v
            .trim()
            .parse()
            .map_err(|_| bad("ORGCERT_CRL_VALIDITY_HOURS", &v))?;
        if !(1..=240).contains(&h) {
            return Err(bad("ORGCERT_CRL_VALIDITY_HOURS (1..=240)", &v));
        }
        config.crl_validity = time::Duration::hours(h);
    }
    if let Some(v) = var("ORGCERT_REMINDER_DAYS") {
        config.reminder_days = v
            .split(',')
            .map(|d| {
                d.trim()
                    .parse::<u32>()
                    .map_err(|_| bad("ORGCERT_REMINDER_DAYS", &v))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(config)
}
