//! The delegated OCSP responder in the AWS shape (DESIGN §5a).
//!
//! Choice: the crl-refresh job is the only function that may sign with the KMS CA key
//! besides issuance; it mints the responder (a P-256 key and a 7-day certificate with
//! id-kp-OCSPSigning and id-pkix-ocsp-nocheck) when less than 4 days are left, and stores
//! both under one key of the private bucket (`private/ocsp-responder.json`, encrypted at
//! rest by the bucket's default encryption, never public). Functions that answer or
//! pre-sign OCSP load it on their first OCSP signature and again when less than 3 days
//! are left, and sign with the key in memory: no OCSP request, pre-signed answer or sweep
//! costs a KMS signature. A leaked responder key could state false status for at most
//! the certificate's remaining week, the reason for the short validity. The S3 object
//! rather than a table item: far fewer functions may read the bucket than the table.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use orgcert_core::ports::Objects;
use orgcert_core::DomainError;
use orgcert_pki::port::{ResponderMaterial, ResponderStore};
use serde::{Deserialize, Serialize};

use crate::s3::S3Objects;

/// Object key of the stored responder in the private bucket.
pub const RESPONDER_KEY: &str = "private/ocsp-responder.json";

/// The responder kept in the private bucket.
pub struct S3ResponderStore {
    objects: Arc<S3Objects>,
    key: String,
}

impl S3ResponderStore {
    /// Over the service's bucket: the current issuing CA generation's responder.
    pub fn new(objects: Arc<S3Objects>) -> Self {
        Self {
            objects,
            key: RESPONDER_KEY.to_owned(),
        }
    }

    /// The responder of an older issuing CA generation (after a rollover), kept apart
    /// from the current one's: `private/ocsp-responder-g{n}.json`.
    pub fn for_generation(objects: Arc<S3Objects>, generation: u32) -> Self {
        Self {
            objects,
            key: format!("private/ocsp-responder-g{generation}.json"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    certificate_der: String,
    key_pkcs8_pem: String,
}

#[async_trait]
impl ResponderStore for S3ResponderStore {
    async fn load(&self) -> Result<Option<ResponderMaterial>, DomainError> {
        let Some(bytes) = self.objects.get(&self.key).await? else {
            return Ok(None);
        };
        // Errors name the object, never its contents (the private key).
        let bad = |what: &str| DomainError::Internal(format!("{}: {what}", self.key));
        let stored: Stored = serde_json::from_slice(&bytes).map_err(|_| bad("not JSON"))?;
        let certificate_der = base64::engine::general_purpose::STANDARD
            .decode(stored.certificate_der)
            .map_err(|_| bad("certificate is not base64"))?;
        Ok(Some(ResponderMaterial {
            certificate_der,
            key_pkcs8_pem: stored.key_pkcs8_pem,
        }))
    }

    async fn save(&self, material: &ResponderMaterial) -> Result<(), DomainError> {
        let stored = Stored {
            certificate_der: base64::engine::general_purpose::STANDARD
                .encode(&material.certificate_der),
            key_pkcs8_pem: material.key_pkcs8_pem.clone(),
        };
        let bytes = serde_json::to_vec(&stored)
            .map_err(|e| DomainError::Internal(format!("responder encoding: {e}")))?;
        self.objects.put(&self.key, bytes, "application/json").await
    }
}
