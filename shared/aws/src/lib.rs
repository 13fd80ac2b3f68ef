//! orgcert on AWS: the DynamoDB [`Store`](orgcert_core::ports::Store), the KMS
//! [`CaSigner`](orgcert_pki::CaSigner), S3 [`Objects`](orgcert_core::ports::Objects), the
//! SES [`Mailer`](orgcert_core::ports::Mailer), and the composition root that builds the
//! same [`App`](orgcert_core::app::App) the embedded default builds, from documented
//! environment variables (`infra/README.md`, "Configuration").
//!
//! No AWS type crosses into `core`: every SDK error is mapped here, once, to a
//! [`DomainError`](orgcert_core::DomainError) kind (see [`error`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod code_key;
mod compose;
mod config;
mod csr;
pub mod deadline;
pub mod error;
pub mod eventbus;
mod kms;
mod needs;
pub mod provision;
pub mod responder;
mod rollover;
mod s3;
mod ses;
mod store;
mod truststore;

pub use code_key::{ensure_code_key, load_code_key, CODE_KEY_OBJECT};
pub use compose::{
    bootstrap_ca, bootstrap_two_tier_ca, ca_certificate_request, ca_signature, compose,
    install_ca_certificate, issuing_ca_certificate, load_ca_certificate, load_root,
    resign_root_crl, s3_client, AwsApp,
};
pub use config::{behavior_version, function_sdk_config, sdk_config, AwsConfig};
pub use eventbus::EventBridgeBus;
pub use kms::{KmsSigner, RAW_LIMIT};
pub use needs::{compose_for, Needs};
pub use rollover::{
    load_generations, rollover, write_rollover_truststore, Rolled, StoredGeneration,
};
pub use s3::{S3Objects, MAX_LINK_TTL};
pub use ses::SesMailer;
pub use store::{DynamoStore, ReadStats, MAX_TRANSACTION_ITEMS};
pub use truststore::{write_truststore, TRUSTSTORE_OBJECT};
