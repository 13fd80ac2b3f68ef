//! `orgcert serve --backend aws [--bootstrap]` (issue 17, item 8): the AWS composition on
//! one machine. The same router, pages and job timers as the embedded default, with the
//! DynamoDB, KMS, S3 and SES adapters of `orgcert_aws` against the endpoint in
//! `AWS_ENDPOINT_URL` (or `ORGCERT_AWS_ENDPOINT_URL`): moto server or LocalStack.
//!
//! Callers sign in with the embedded default's tokens (the data dir's `jwt.key`): there is
//! no API Gateway in front to verify an identity provider's. Every request runs under the
//! AWS shape's deadline and leaves its JSON request line (`orgcert_lambda::watch`).

use std::sync::Arc;

use orgcert_aws::{AwsApp, AwsConfig};
use orgcert_core::clock::SystemClock;
use orgcert_core::DomainError;
use orgcert_http::auth::{JwtAuthenticator, AUDIENCE, LOCAL_ISSUER};
use orgcert_http::HttpState;
use orgcert_pki::CaSubject;

use crate::local::{self, LocalConfig};

/// Table when `ORGCERT_TABLE` is unset.
pub const DEFAULT_TABLE: &str = "orgcert";
/// Bucket when `ORGCERT_BUCKET` is unset.
pub const DEFAULT_BUCKET: &str = "orgcert-local";
/// CA key when `ORGCERT_KMS_KEY_ID` is unset (`--bootstrap` creates it).
pub const DEFAULT_KEY: &str = "alias/orgcert-local";
/// Sender when `ORGCERT_SENDER` is unset (`--bootstrap` verifies it).
pub const DEFAULT_SENDER: &str = "orgcert@localhost.localdomain";

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The AWS settings of a local start: the documented `ORGCERT_*` variables where set,
/// else development defaults; URLs and certificate policies as the embedded default.
///
/// # Errors
/// When no endpoint is set: this mode never talks to a real account by accident.
pub fn config(local: &LocalConfig) -> Result<AwsConfig, String> {
    let endpoint = var("ORGCERT_AWS_ENDPOINT_URL")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .ok_or(
            "--backend aws needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:5000 for moto_server)",
        )?;
    Ok(AwsConfig {
        table: var("ORGCERT_TABLE").unwrap_or_else(|| DEFAULT_TABLE.into()),
        bucket: var("ORGCERT_BUCKET").unwrap_or_else(|| DEFAULT_BUCKET.into()),
        kms_key_id: var("ORGCERT_KMS_KEY_ID").unwrap_or_else(|| DEFAULT_KEY.into()),
        sender: var("ORGCERT_SENDER").unwrap_or_else(|| DEFAULT_SENDER.into()),
        ses_configuration_set: var("ORGCERT_SES_CONFIGURATION_SET"),
        public_url: local.public_url.clone(),
        pki_url: local.pki_url.clone(),
        endpoint_url: Some(endpoint),
        region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
        code_key_object: Some(orgcert_aws::CODE_KEY_OBJECT.into()),
        policy_oids: local.policy_oids.clone(),
        name_registration_authority: local.name_registration_authority.clone(),
    })
}

/// The composed AWS service and what the console needs.
pub struct Started {
    /// The router: API, pages, deadline and request log.
    pub router: axum::Router,
    /// The use cases (job timers).
    pub app: orgcert_core::app::App,
    /// Token keys of the data dir.
    pub tokens: Arc<local::TokenKeys>,
    /// Whether this start created the demo organisation.
    pub created_demo: bool,
}

/// Provisions (with `bootstrap`) and composes the AWS shape for a local server.
///
/// # Errors
/// Configuration, provisioning or composition failures, as text for the console.
pub async fn start(local_cfg: &LocalConfig, bootstrap: bool) -> Result<Started, String> {
    let cfg = config(local_cfg)?;
    let text = |e: DomainError| e.to_string();
    if bootstrap {
        let subject = CaSubject {
            common_name: "orgcert Demo CA (AWS shape)".into(),
            organisation: "orgcert".into(),
            country: "DK".into(),
        };
        let done = orgcert_aws::provision::ensure_all(&cfg, local_cfg.ca_key_algorithm, &subject)
            .await
            .map_err(text)?;
        for note in &done.notes {
            println!("bootstrap: {note}");
        }
    }
    let aws = AwsApp::compose(&cfg, Arc::new(SystemClock))
        .await
        .map_err(|e| format!("{e} (start with --bootstrap to create what is missing)"))?;
    // One process plays every function: it may mint the OCSP responder itself.
    let aws = aws.minting_ocsp_responder();
    std::fs::create_dir_all(&local_cfg.data_dir)
        .map_err(|e| format!("data dir {}: {e}", local_cfg.data_dir.display()))?;
    let tokens = Arc::new(local::load_token_keys(&local_cfg.data_dir).map_err(text)?);
    let created_demo = aws
        .app
        .add_first_organisation(local::demo_organisation())
        .await
        .map_err(text)?;
    let auth = Arc::new(
        JwtAuthenticator::from_public_pem(tokens.public_pem(), LOCAL_ISSUER, AUDIENCE)
            .map_err(text)?,
    );
    let state = HttpState::new(aws.app.clone(), auth);
    let router =
        orgcert_lambda::watch::layer(orgcert_http::router(state).merge(orgcert_web::routes()));
    Ok(Started {
        router,
        app: aws.app,
        tokens,
        created_demo,
    })
}
