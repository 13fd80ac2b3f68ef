//! [`AwsConfig`]: the documented environment variables (infra/README.md "Configuration").

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use orgcert_core::DomainError;

/// Region used with an endpoint override when no region is configured (emulators ignore it).
const EMULATOR_REGION: &str = "us-east-1";

/// The SDK behaviour version, pinned: `latest()` would change defaults (retries, connect
/// timeout, HTTP stack) under us with an SDK upgrade. Move it on purpose, after reading its
/// notes (a newer SDK marks this one deprecated: that is the reminder, not a reason).
pub fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::v2026_01_12()
}

/// Settings of the AWS shape, read by [`AwsConfig::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// DynamoDB table (`ORGCERT_TABLE`).
    pub table: String,
    /// S3 bucket for PKCS#12 objects (`ORGCERT_BUCKET`).
    pub bucket: String,
    /// KMS key id, ARN or alias of the CA key (`ORGCERT_KMS_KEY_ID`).
    pub kms_key_id: String,
    /// Verified SES sender address (`ORGCERT_SENDER`).
    pub sender: String,
    /// SES configuration set every mail is sent through (`ORGCERT_SES_CONFIGURATION_SET`;
    /// unset: none, bounces and complaints are then untracked).
    pub ses_configuration_set: Option<String>,
    /// Base of issuance links in mails and answers (`ORGCERT_PUBLIC_URL`).
    pub public_url: String,
    /// Base written into certificates: AIA, OCSP, CRL (`ORGCERT_PKI_URL`; default: public URL).
    pub pki_url: String,
    /// Endpoint override for every service (`ORGCERT_AWS_ENDPOINT_URL`), e.g. an emulator.
    pub endpoint_url: Option<String>,
    /// Region (`AWS_REGION` / `AWS_DEFAULT_REGION`, else the SDK's provider chain).
    pub region: Option<String>,
    /// Bucket object of the one-time-code key (`ORGCERT_CODE_KEY_OBJECT`), set only for
    /// the functions that order or redeem codes: the others never read it.
    pub code_key_object: Option<String>,
    /// Certificate policy OIDs of every leaf (`ORGCERT_POLICY_OIDS`, comma-separated;
    /// default `0.4.0.2042.1.1`).
    pub policy_oids: Vec<String>,
    /// nameRegistrationAuthorities URI in the qcStatement
    /// (`ORGCERT_NAME_REGISTRATION_AUTHORITY`; unset: left out).
    pub name_registration_authority: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, DomainError> {
    var(name).ok_or_else(|| DomainError::Internal(format!("{name} must be set (infra/README.md)")))
}

impl AwsConfig {
    /// Reads the environment.
    ///
    /// # Errors
    /// `Internal` naming the first required variable that is missing, or a policy OID list
    /// or registration authority URI that does not parse.
    pub fn from_env() -> Result<Self, DomainError> {
        let public_url = required("ORGCERT_PUBLIC_URL")?
            .trim_end_matches('/')
            .to_owned();
        let pki_url = var("ORGCERT_PKI_URL")
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| public_url.clone());
        Ok(Self {
            table: required("ORGCERT_TABLE")?,
            bucket: required("ORGCERT_BUCKET")?,
            kms_key_id: required("ORGCERT_KMS_KEY_ID")?,
            sender: required("ORGCERT_SENDER")?,
            ses_configuration_set: var("ORGCERT_SES_CONFIGURATION_SET"),
            public_url,
            pki_url,
            endpoint_url: var("ORGCERT_AWS_ENDPOINT_URL"),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            code_key_object: var("ORGCERT_CODE_KEY_OBJECT"),
            policy_oids: orgcert_pki::parse_policy_oids(
                &var("ORGCERT_POLICY_OIDS").unwrap_or_default(),
            )
            .map_err(|e| DomainError::Internal(format!("ORGCERT_POLICY_OIDS: {e}")))?,
            name_registration_authority: var("ORGCERT_NAME_REGISTRATION_AUTHORITY")
                .map(|u| orgcert_pki::check_name_registration_authority(&u))
                .transpose()
                .map_err(|e| {
                    DomainError::Internal(format!("ORGCERT_NAME_REGISTRATION_AUTHORITY: {e}"))
                })?,
        })
    }
}

/// The shared SDK configuration: region, endpoint override, retries and timeouts.
///
/// Retries: standard mode, 4 attempts with exponential backoff and jitter for throttling,
/// 5xx, transport errors and timeouts (the SDK only retries what is safe to repeat;
/// DynamoDB transactions carry a client request token so a repeat is idempotent).
/// Timeouts keep a Lambda well inside API Gateway's 29 s.
///
/// With an endpoint override and no `AWS_ACCESS_KEY_ID`, fixed dummy credentials are used
/// (an emulator accepts any), so the credential chain never reaches for instance metadata.
pub async fn sdk_config(cfg: &AwsConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(behavior_version())
        .retry_config(retries())
        .timeout_config(timeouts());
    let region = region(cfg);
    if let Some(r) = region {
        loader = loader.region(Region::new(r));
    }
    if let Some(url) = &cfg.endpoint_url {
        loader = loader.endpoint_url(url);
        if var("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(emulator_credentials());
        }
    }
    loader.load().await
}

fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(2))
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}

fn region(cfg: &AwsConfig) -> Option<String> {
    cfg.region.clone().or_else(|| {
        cfg.endpoint_url
            .as_ref()
            .map(|_| EMULATOR_REGION.to_owned())
    })
}

/// [`sdk_config`] for a Lambda function: the same region, endpoint override, retries and
/// timeouts, with the credentials Lambda puts in the environment (the execution role's
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and the region from
/// `AWS_REGION`, instead of aws-config's default chain. That chain (profile files, SSO,
/// STS web identity, ECS, IMDS) is never used in Lambda, but a function that calls
/// [`sdk_config`] links all of it; this one does not.
///
/// # Errors
/// `Internal` when no region is set (Lambda always sets `AWS_REGION`).
pub fn function_sdk_config(cfg: &AwsConfig) -> Result<SdkConfig, DomainError> {
    let region = region(cfg)
        .ok_or_else(|| DomainError::Internal("AWS_REGION must be set (Lambda sets it)".into()))?;
    let credentials = if cfg.endpoint_url.is_some() && var("AWS_ACCESS_KEY_ID").is_none() {
        SharedCredentialsProvider::new(emulator_credentials())
    } else {
        SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
    };
    let mut builder = SdkConfig::builder()
        .behavior_version(behavior_version())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .retry_config(retries())
        .timeout_config(timeouts());
    if let Some(url) = &cfg.endpoint_url {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

fn emulator_credentials() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new(
        "orgcert-emulator",
        "orgcert-emulator-secret",
        None,
        None,
        "orgcert-emulator",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoint_override_gets_a_region_and_credentials() {
        let cfg = AwsConfig {
            table: "t".into(),
            bucket: "b".into(),
            kms_key_id: "k".into(),
            sender: "s@example.dk".into(),
            ses_configuration_set: None,
            public_url: "http://127.0.0.1:1".into(),
            pki_url: "http://pki.example.dk".into(),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            region: None,
            code_key_object: None,
            policy_oids: orgcert_pki::Authority::default_policies(),
            name_registration_authority: None,
        };
        let sdk = sdk_config(&cfg).await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some(EMULATOR_REGION));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:1"));
    }
}
