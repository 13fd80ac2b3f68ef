//! CA rollover in the AWS shape (DESIGN §4 "CA hierarchy"): a new issuing CA generation
//! under the root, for a new KMS key, as `orgcert ca rollover` does for the embedded
//! default with `ca-{n}.key`/`ca-{n}.pem`.
//!
//! Generation 1 is the CA item (`PK=CA`, `SK=CERT`); generation n ≥ 2 is the item
//! `PK=CA`, `SK=CERT#{n}` with its certificate (`der`) and its KMS key id. Items are only
//! ever added (a conditional put), never replaced: a certificate issued by an older
//! generation keeps its CRL and OCSP answers until that generation's certificate expires.

use std::sync::Arc;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, CaSubject};
use time::{Duration, OffsetDateTime};

use crate::compose::{ca_signature, load_root, CaPartition};
use crate::config::{sdk_config, AwsConfig};
use crate::error::sdk_error;
use crate::kms::KmsSigner;
use crate::store::keys::{CA_PK, CA_SK, PK, SK};
use crate::store::DynamoStore;

/// Years of a new issuing CA generation (as the two-tier bootstrap's; never past the root).
const ISSUING_YEARS: i64 = 10;

/// A stored issuing CA generation: its number, certificate (DER) and KMS key id.
#[derive(Debug, Clone)]
pub struct StoredGeneration {
    /// 1 for the bootstrap's issuing CA, then 2, 3, ...
    pub generation: u32,
    /// The certificate the root issued (DER).
    pub der: Vec<u8>,
    /// The KMS key that signs for it.
    pub kms_key_id: String,
}

fn generation_sk(n: u32) -> String {
    if n == 1 {
        CA_SK.to_owned()
    } else {
        format!("{CA_SK}#{n}")
    }
}

/// Every stored issuing CA generation, oldest first (generation 1 is the CA item; empty
/// when the bootstrap has not run), from one Query of the CA partition.
///
/// # Errors
/// `Unavailable` when DynamoDB cannot be reached; `Internal` for an item without its
/// certificate or key id.
pub async fn load_generations(store: &DynamoStore) -> Result<Vec<StoredGeneration>, DomainError> {
    CaPartition::load(store).await?.generations()
}

/// The generations in a read CA partition: 1, 2, ... up to the first one missing.
pub(crate) fn generations_in(ca: &CaPartition) -> Result<Vec<StoredGeneration>, DomainError> {
    let mut out = Vec::new();
    for n in 1u32.. {
        let Some(item) = ca.item(&generation_sk(n)) else {
            break;
        };
        let der = match item.get("der") {
            Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
            _ => {
                return Err(DomainError::Internal(format!(
                    "CA generation {n}: the item holds no DER certificate"
                )))
            }
        };
        let kms_key_id = match item.get("kms_key_id") {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => {
                return Err(DomainError::Internal(format!(
                    "CA generation {n}: the item holds no KMS key id"
                )))
            }
        };
        out.push(StoredGeneration {
            generation: n,
            der,
            kms_key_id,
        });
    }
    Ok(out)
}

/// The signer of a stored generation: its KMS key, with the public key taken from the
/// stored certificate (no `GetPublicKey` on a cold start).
///
/// # Errors
/// `Internal` for a certificate whose key does not parse or an unknown signature scheme.
pub fn generation_signer(
    sdk: &aws_config::SdkConfig,
    stored: &StoredGeneration,
) -> Result<Arc<dyn CaSigner>, DomainError> {
    crate::compose::kms_signer(sdk, &stored.kms_key_id, &stored.der)
}

/// The outcome of [`rollover`].
#[derive(Debug, Clone)]
pub struct Rolled {
    /// The new generation's number.
    pub generation: u32,
    /// Every generation's certificate, newest first (the new one first).
    pub generations_der: Vec<Vec<u8>>,
    /// The root certificate.
    pub root_der: Vec<u8>,
}

/// `orgcert-ca rollover`: the root key `root_key_id` (bootstrap principal only) issues
/// the certificate of generation n for the KMS key `new_key_id` (10 years, never past the
/// root; the subject from `subject(n)`), stored as the item `CA`/`CERT#{n}`. Functions
/// pick it up at their next cold start: they issue with it and keep serving CRL and OCSP
/// for the older generations with their keys.
///
/// # Errors
/// `Conflict` for a table without a two-tier CA, for a key some generation already uses,
/// or when another rollover stored generation n first; `Invalid{field: "key"}` for a key
/// KMS will not sign with as a CA key; `Unavailable` when KMS or DynamoDB fail.
pub async fn rollover(
    cfg: &AwsConfig,
    root_key_id: &str,
    new_key_id: &str,
    subject: impl FnOnce(u32) -> CaSubject,
) -> Result<Rolled, DomainError> {
    let sdk = sdk_config(cfg).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &cfg.table);
    let (Some(root_der), _) = load_root(&store).await? else {
        return Err(DomainError::Conflict(
            "the table holds no root certificate: a single-tier CA (or none yet) cannot roll over"
                .into(),
        ));
    };
    let existing = load_generations(&store).await?;
    if let Some(g) = existing.iter().find(|g| g.kms_key_id == new_key_id) {
        return Err(DomainError::Conflict(format!(
            "KMS key {new_key_id} already signs for CA generation {}: a rollover needs a new key",
            g.generation
        )));
    }
    let n = u32::try_from(existing.len() + 1).unwrap_or(u32::MAX);
    let kms = aws_sdk_kms::Client::new(&sdk);
    // GetPublicKey here, once: the functions later take the key from this certificate.
    let new_key = KmsSigner::new(kms.clone(), new_key_id)
        .await
        .map_err(|e| DomainError::invalid("key", e.to_string()))?;
    let spki = new_key.public_key_spki_der();
    let root_signer: Arc<dyn CaSigner> = Arc::new(
        KmsSigner::new(kms, root_key_id)
            .await?
            .with_rsa_signature(ca_signature()?),
    );
    let subject = subject(n);
    let pki_url = cfg.pki_url.clone();
    let root_for_task = root_der.clone();
    let now = OffsetDateTime::now_utc();
    // The KMS signer blocks on its runtime: sign on the blocking pool.
    let der = tokio::task::spawn_blocking(move || {
        let root = orgcert_pki::Root::new(root_signer, root_for_task, &pki_url)?;
        let public = orgcert_pki::SubjectPublicKey::from_spki_der(&spki)?;
        root.issue_issuing_ca(
            &public,
            &subject,
            now - Duration::minutes(5),
            (now + Duration::days(ISSUING_YEARS * 365)).min(root.not_after()),
        )
    })
    .await
    .map_err(|e| DomainError::Internal(format!("rollover task: {e}")))?
    .map_err(orgcert_pki::port::to_domain)?;
    let res = store
        .client()
        .put_item()
        .table_name(store.table())
        .item(PK, AttributeValue::S(CA_PK.into()))
        .item(SK, AttributeValue::S(generation_sk(n)))
        .item("der", AttributeValue::B(Blob::new(der.clone())))
        .item("kms_key_id", AttributeValue::S(new_key_id.into()))
        .item("generation", AttributeValue::N(n.to_string()))
        .item(
            "stored_at",
            AttributeValue::S(now.unix_timestamp().to_string()),
        )
        // Two rollovers at once: one stores generation n, the other is told so.
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await;
    match res {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            return Err(DomainError::Conflict(format!(
                "CA generation {n} was stored meanwhile by another rollover"
            )))
        }
        Err(e) => return Err(sdk_error("DynamoDB PutItem (CA generation)", e)),
    }
    let mut generations_der = vec![der];
    generations_der.extend(existing.into_iter().rev().map(|g| g.der));
    Ok(Rolled {
        generation: n,
        generations_der,
        root_der,
    })
}

/// Rewrites the machine API's truststore after [`rollover`]: every generation, newest
/// first, then the root (API Gateway builds each client's chain from it).
///
/// # Errors
/// `Unavailable` when S3 fails.
pub async fn write_rollover_truststore(
    cfg: &AwsConfig,
    rolled: &Rolled,
) -> Result<(), DomainError> {
    let Some((newest, older)) = rolled.generations_der.split_first() else {
        return Err(DomainError::Internal(
            "a rollover without generations".into(),
        ));
    };
    let mut extra: String = older
        .iter()
        .map(|d| orgcert_pki::to_pem("CERTIFICATE", d))
        .collect();
    extra.push_str(&orgcert_pki::to_pem("CERTIFICATE", &rolled.root_der));
    crate::write_truststore(cfg, newest, Some(&extra)).await
}
