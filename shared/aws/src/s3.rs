//! [`S3Objects`]: PKCS#12 files in a private S3 bucket behind presigned GETs.

use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use aws_sdk_s3::Client;
use time::{Duration, OffsetDateTime};

use orgcert_core::error::{DomainError, Result};
use orgcert_core::ports::Objects;

use crate::error::sdk_error;

/// Longest life of a download link, whatever the caller asks (DESIGN §4: ~10 minutes).
pub const MAX_LINK_TTL: Duration = Duration::minutes(10);

/// Objects in one bucket. Every put asks for server-side encryption (SSE-S3, AES-256);
/// the bucket is expected to block public access and to expire `p12/` objects by a
/// lifecycle rule (infra/README.md, `provision::create_bucket`).
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    /// Objects in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 1024 || key.starts_with('/') || key.contains("..") {
        return Err(DomainError::Internal(format!(
            "object key {key:?} is not allowed"
        )));
    }
    Ok(())
}

#[async_trait]
impl Objects for S3Objects {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .cache_control("no-store")
            .send()
            .await
            .map_err(|e| sdk_error("S3 PutObject", e))?;
        Ok(())
    }

    async fn presign(&self, key: &str, ttl: Duration, now: OffsetDateTime) -> Result<String> {
        check_key(key)?;
        let ttl = ttl.min(MAX_LINK_TTL);
        if ttl <= Duration::ZERO {
            return Err(DomainError::Internal(
                "a download link needs a positive lifetime".into(),
            ));
        }
        let std_ttl = std::time::Duration::try_from(ttl)
            .map_err(|e| DomainError::Internal(format!("link lifetime: {e}")))?;
        // The link's clock starts at the domain's `now`, so moving time moves expiry.
        let config = PresigningConfig::builder()
            .start_time(SystemTime::from(now))
            .expires_in(std_ttl)
            .build()
            .map_err(|e| DomainError::Internal(format!("presigning config: {e}")))?;
        let name = key.rsplit('/').next().unwrap_or("certificate.p12");
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{name}\""))
            .response_cache_control("no-store")
            .presigned(config)
            .await
            .map_err(|e| sdk_error("S3 presign GetObject", e))?;
        Ok(req.uri().to_owned())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        // S3 answers 204 for a missing key too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("S3 DeleteObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None)
            }
            Err(e) => return Err(sdk_error("S3 GetObject", e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| DomainError::Unavailable(format!("S3 GetObject body: {e}")))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn purge(&self, prefix: &str, older_than: OffsetDateTime) -> Result<usize> {
        let cutoff = aws_sdk_s3::primitives::DateTime::from_secs(older_than.unix_timestamp());
        let mut removed = 0;
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error("S3 ListObjectsV2", e))?;
            let old: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter(|o| o.last_modified().is_some_and(|t| t.secs() < cutoff.secs()))
                .filter_map(|o| o.key())
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| DomainError::Internal(format!("S3 DeleteObjects: {e}")))?;
            if !old.is_empty() {
                let n = old.len();
                let out = self
                    .client
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(
                        Delete::builder()
                            .set_objects(Some(old))
                            .quiet(true)
                            .build()
                            .map_err(|e| DomainError::Internal(format!("S3 DeleteObjects: {e}")))?,
                    )
                    .send()
                    .await
                    .map_err(|e| sdk_error("S3 DeleteObjects", e))?;
                // DeleteObjects answers 200 even when some keys failed (quiet mode lists
                // only those): a purge that left objects behind must not say it removed them.
                if let Some(first) = out.errors().first() {
                    return Err(DomainError::Unavailable(format!(
                        "S3 DeleteObjects left {} of {n} objects, e.g. {:?}: {} {}",
                        out.errors().len(),
                        first.key().unwrap_or_default(),
                        first.code().unwrap_or_default(),
                        first.message().unwrap_or_default()
                    )));
                }
                removed += n;
            }
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(removed),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(check_key("p12/abc.p12").is_ok());
        for bad in ["", "/x", "p12/../x"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
