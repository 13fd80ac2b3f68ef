//! Creates the table, bucket, key and sender identity the adapters expect, as
//! infra/README.md describes them: for development and for the emulator tests (the
//! production stack is the SAM template's job).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use orgcert_core::DomainError;
use orgcert_pki::KeyAlgorithm;

use crate::error::sdk_error;
use crate::store::keys::{INDEXES, PK, SK};

/// Prefix of PKCS#12 objects; the lifecycle rule expires them.
pub const P12_PREFIX: &str = "p12/";
/// Days after which the lifecycle rule deletes PKCS#12 objects (S3's smallest unit).
pub const P12_EXPIRY_DAYS: i32 = 1;

fn build(e: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("cannot build a request: {e}"))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, DomainError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build)
}

fn string_attr(name: &str) -> Result<AttributeDefinition, DomainError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build)
}

/// Creates the single table with its four sparse GSIs (on-demand billing) and waits
/// until it is active.
///
/// # Errors
/// `Unavailable` when DynamoDB refuses or cannot be reached.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), DomainError> {
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attr(PK)?)
        .attribute_definitions(string_attr(SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?);
    for (name, pk, sk) in INDEXES {
        req = req
            .attribute_definitions(string_attr(pk)?)
            .attribute_definitions(string_attr(sk)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(pk, KeyType::Hash)?)
                    .key_schema(key(sk, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build)?,
            );
    }
    req.send()
        .await
        .map_err(|e| sdk_error("DynamoDB CreateTable", e))?;
    for _ in 0..100 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB DescribeTable", e))?;
        if out.table().and_then(|t| t.table_status())
            == Some(&aws_sdk_dynamodb::types::TableStatus::Active)
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Err(DomainError::Unavailable(format!(
        "table {table} did not become active"
    )))
}

/// Creates a private bucket: public access blocked, SSE-S3 by default, PKCS#12 objects
/// under [`P12_PREFIX`] expired after [`P12_EXPIRY_DAYS`].
///
/// # Errors
/// `Unavailable` when S3 refuses or cannot be reached.
pub async fn create_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
) -> Result<(), DomainError> {
    let mut req = client.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send()
        .await
        .map_err(|e| sdk_error("S3 CreateBucket", e))?;
    client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| sdk_error("S3 PutPublicAccessBlock", e))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .map_err(build)?,
                        )
                        .build(),
                )
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("S3 PutBucketEncryption", e))?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("expire-pkcs12")
                        .filter(LifecycleRuleFilter::builder().prefix(P12_PREFIX).build())
                        .status(ExpirationStatus::Enabled)
                        .expiration(LifecycleExpiration::builder().days(P12_EXPIRY_DAYS).build())
                        .build()
                        .map_err(build)?,
                )
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("S3 PutBucketLifecycleConfiguration", e))?;
    Ok(())
}

/// Creates a KMS `SIGN_VERIFY` key of the spec matching `alg`; returns its key id.
///
/// # Errors
/// `Unavailable` when KMS refuses or cannot be reached.
pub async fn create_signing_key(
    client: &aws_sdk_kms::Client,
    alg: KeyAlgorithm,
) -> Result<String, DomainError> {
    let spec = match alg {
        KeyAlgorithm::Rsa3072 => KeySpec::Rsa3072,
        KeyAlgorithm::Rsa4096 => KeySpec::Rsa4096,
        KeyAlgorithm::EcdsaP256 => KeySpec::EccNistP256,
        KeyAlgorithm::EcdsaP384 => KeySpec::EccNistP384,
    };
    let out = client
        .create_key()
        .key_usage(KeyUsageType::SignVerify)
        .key_spec(spec)
        .description("orgcert CA key")
        .send()
        .await
        .map_err(|e| sdk_error("KMS CreateKey", e))?;
    out.key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| DomainError::Internal("KMS CreateKey returned no key id".into()))
}

/// Registers `sender` as an SES email identity (SES then mails it a verification link;
/// an emulator verifies it at once).
///
/// # Errors
/// `Unavailable` when SES refuses or cannot be reached.
pub async fn verify_sender(
    client: &aws_sdk_sesv2::Client,
    sender: &str,
) -> Result<(), DomainError> {
    client
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
        .map_err(|e| sdk_error("SES CreateEmailIdentity", e))?;
    Ok(())
}

/// What [`ensure_all`] found or created, for the operator's console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioned {
    /// One line per resource: created, or there already.
    pub notes: Vec<String>,
}

/// Development on one machine (`orgcert serve --backend aws --bootstrap` against an
/// emulator): creates whatever of the table, bucket, CA key (under the alias
/// `cfg.kms_key_id` when it is an `alias/…`), sender identity and development CA is
/// missing, and leaves what is there. Idempotent: a second start changes nothing.
///
/// # Errors
/// `Unavailable` when a service refuses or cannot be reached; `Internal` for a key id
/// that is neither there nor an alias to create.
pub async fn ensure_all(
    cfg: &crate::AwsConfig,
    alg: KeyAlgorithm,
    subject: &orgcert_pki::CaSubject,
) -> Result<Provisioned, DomainError> {
    let sdk = crate::sdk_config(cfg).await;
    let mut out = Provisioned::default();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    if dynamodb
        .describe_table()
        .table_name(&cfg.table)
        .send()
        .await
        .is_ok()
    {
        out.notes.push(format!("table {}: there", cfg.table));
    } else {
        create_table(&dynamodb, &cfg.table).await?;
        out.notes.push(format!("table {}: created", cfg.table));
    }
    let s3 = crate::s3_client(&sdk, cfg);
    if s3.head_bucket().bucket(&cfg.bucket).send().await.is_ok() {
        out.notes.push(format!("bucket {}: there", cfg.bucket));
    } else {
        let region = sdk.region().map_or("us-east-1", |r| r.as_ref()).to_owned();
        create_bucket(&s3, &cfg.bucket, &region).await?;
        out.notes.push(format!("bucket {}: created", cfg.bucket));
    }
    let kms = aws_sdk_kms::Client::new(&sdk);
    if kms
        .describe_key()
        .key_id(&cfg.kms_key_id)
        .send()
        .await
        .is_ok()
    {
        out.notes.push(format!("key {}: there", cfg.kms_key_id));
    } else if cfg.kms_key_id.starts_with("alias/") {
        let id = create_signing_key(&kms, alg).await?;
        kms.create_alias()
            .alias_name(&cfg.kms_key_id)
            .target_key_id(&id)
            .send()
            .await
            .map_err(|e| sdk_error("KMS CreateAlias", e))?;
        out.notes
            .push(format!("key {} ({id}, {alg}): created", cfg.kms_key_id));
    } else {
        return Err(DomainError::Internal(format!(
            "KMS key {} does not exist; name an alias/… to have it created",
            cfg.kms_key_id
        )));
    }
    verify_sender(&aws_sdk_sesv2::Client::new(&sdk), &cfg.sender).await?;
    out.notes.push(format!("sender {}: verified", cfg.sender));
    match crate::bootstrap_ca(cfg, subject).await {
        Ok(_) => out
            .notes
            .push("CA certificate: created (development root)".into()),
        Err(DomainError::Conflict(_)) => out.notes.push("CA certificate: there".into()),
        Err(e) => return Err(e),
    }
    Ok(out)
}
