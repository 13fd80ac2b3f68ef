//! The machine API's truststore (API.md "System certificates: mutual TLS"): API Gateway's
//! mutual TLS checks client certificates against a PEM bundle in S3
//! (`MutualTlsAuthentication.TruststoreUri` in `infra/template.yaml`). The CA bootstrap
//! writes the CA certificate there, so the custom domain trusts exactly our CA.

use orgcert_core::ports::Objects as _;
use orgcert_core::DomainError;

use crate::{s3_client, sdk_config, AwsConfig, S3Objects};

/// Object key of the truststore in the bucket; the template's `TruststoreUri` is
/// `s3://<bucket>/truststore/ca.pem`.
pub const TRUSTSTORE_OBJECT: &str = "truststore/ca.pem";

/// Writes the truststore: the CA certificate (DER) as PEM, plus `extra_pem` (e.g. the
/// external root above an installed CA, which API Gateway needs to build the chain).
///
/// # Errors
/// `Unavailable` when S3 fails.
pub async fn write_truststore(
    cfg: &AwsConfig,
    ca_der: &[u8],
    extra_pem: Option<&str>,
) -> Result<(), DomainError> {
    let sdk = sdk_config(cfg).await;
    let objects = S3Objects::new(s3_client(&sdk, cfg), &cfg.bucket);
    let mut pem = orgcert_pki::to_pem("CERTIFICATE", ca_der);
    if let Some(extra) = extra_pem {
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        pem.push_str(extra);
    }
    objects
        .put(
            TRUSTSTORE_OBJECT,
            pem.into_bytes(),
            "application/x-pem-file",
        )
        .await
}
