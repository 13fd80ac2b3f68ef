//! The one-time-code key of the AWS shape: 32 random bytes in the private bucket, written
//! once by the CA bootstrap and read at init by the functions that order or redeem codes
//! (`ORGCERT_CODE_KEY_OBJECT`). Not in the table: a copy of the table must not carry the
//! key to its own code hashes. The bucket blocks public access and is encrypted at rest.

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;

use orgcert_core::error::{DomainError, Result};
use orgcert_core::secrets::CodeKey;

use crate::error::sdk_error;

/// Where the bootstrap writes the key (outside `p12/`, which a lifecycle rule expires).
pub const CODE_KEY_OBJECT: &str = "keys/code.key";

/// Reads the key object (`None` when absent).
///
/// # Errors
/// `Unavailable` when S3 fails; `Internal` when the object is not 32 bytes.
pub async fn load_code_key(client: &Client, bucket: &str, key: &str) -> Result<Option<CodeKey>> {
    let out = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => o,
        Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
            return Ok(None)
        }
        Err(e) => return Err(sdk_error("S3 GetObject (code key)", e)),
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| DomainError::Unavailable(format!("S3 GetObject body (code key): {e}")))?
        .into_bytes();
    CodeKey::from_slice(&bytes).map(Some).ok_or_else(|| {
        DomainError::Internal(format!(
            "s3://{bucket}/{key} must hold exactly {} bytes",
            CodeKey::LEN
        ))
    })
}

/// Reads the key object, creating it first when absent. Creation is conditional
/// (`If-None-Match: *`), so concurrent bootstraps agree on one key.
///
/// # Errors
/// As [`load_code_key`].
pub async fn ensure_code_key(client: &Client, bucket: &str) -> Result<CodeKey> {
    if let Some(k) = load_code_key(client, bucket, CODE_KEY_OBJECT).await? {
        return Ok(k);
    }
    let key = CodeKey::random();
    let put = client
        .put_object()
        .bucket(bucket)
        .key(CODE_KEY_OBJECT)
        .if_none_match("*")
        .body(ByteStream::from(key.to_bytes().to_vec()))
        .content_type("application/octet-stream")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await;
    match put {
        Ok(_) => Ok(key),
        // 412: another bootstrap wrote it first; 409: a concurrent conditional write.
        Err(e)
            if e.raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
        {
            load_code_key(client, bucket, CODE_KEY_OBJECT)
                .await?
                .ok_or_else(|| {
                    DomainError::Unavailable(
                        "the code key was not readable after its creation".into(),
                    )
                })
        }
        Err(e) => Err(sdk_error("S3 PutObject (code key)", e)),
    }
}
