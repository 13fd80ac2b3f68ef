//! Shared set-up of the AWS suites.

use orgcert_aws::{sdk_config, AwsConfig};
use orgcert_tests::moto::Moto;

/// SDK clients for `moto`'s endpoint.
pub struct Clients {
    pub kms: aws_sdk_kms::Client,
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub cfg: AwsConfig,
}

pub async fn clients(moto: &Moto) -> Clients {
    let cfg = moto.config();
    let sdk = sdk_config(&cfg).await;
    Clients {
        kms: aws_sdk_kms::Client::new(&sdk),
        s3: orgcert_aws::s3_client(&sdk, &cfg),
        ses: aws_sdk_sesv2::Client::new(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        cfg,
    }
}

/// moto with the table created, and clients for it; `None` (after saying why) without moto.
pub async fn with_table() -> Option<(Moto, Clients)> {
    let moto = Moto::try_start()?;
    let c = clients(&moto).await;
    orgcert_aws::provision::create_table(&c.dynamodb, &c.cfg.table)
        .await
        .expect("create table");
    Some((moto, c))
}

/// moto provisioned with an RSA-3072 CA key (no CA certificate yet), and a separate
/// RSA-4096 root key for a two-tier hierarchy: (moto, config, root key id). `None` (after
/// saying why) without moto.
pub async fn with_root_key() -> Option<(Moto, AwsConfig, String)> {
    let moto = Moto::try_start()?;
    let cfg = moto.provision(orgcert_pki::KeyAlgorithm::Rsa3072).await;
    let c = clients(&moto).await;
    let root_key =
        orgcert_aws::provision::create_signing_key(&c.kms, orgcert_pki::KeyAlgorithm::Rsa4096)
            .await
            .expect("root key");
    Some((moto, cfg, root_key))
}
