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
