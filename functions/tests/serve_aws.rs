//! `orgcert serve --backend aws --bootstrap` against a moto server (issue 17, item 8):
//! the binary creates the table, bucket, CA key and development CA, prints tokens like
//! the embedded default, and one order and its issuance go through over HTTP, the
//! PKCS#12 download coming from the emulated S3.
//!
//! Needs `MOTO_SERVER` (skips with a message without it, unless `ORGCERT_REQUIRE_TOOLS=1`).

use std::process::Command;

use orgcert_tests::moto::Moto;
use orgcert_tests::spawn;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_backend_aws_bootstraps_moto_and_issues_over_http() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let endpoint = moto.endpoint();
    let dir = tempfile::tempdir().unwrap();
    // The banner: bootstrap notes, then tokens, then "Try:".
    let server = spawn::serve(BIN, dir.path()).args(["--backend", "aws", "--bootstrap"]);
    let server = [
        "ORGCERT_TABLE",
        "ORGCERT_BUCKET",
        "ORGCERT_KMS_KEY_ID",
        "ORGCERT_SENDER",
        "ORGCERT_AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
    ]
    .into_iter()
    .fold(server, spawn::Serve::env_remove)
    .env("AWS_ENDPOINT_URL", &endpoint)
    .env("AWS_REGION", "us-east-1")
    .env("ORGCERT_CA_KEY_ALGORITHM", "ecdsa-p256");
    let server = tokio::task::spawn_blocking(move || server.start())
        .await
        .unwrap();
    let text = &server.banner;
    assert!(text.contains("bootstrap: table orgcert: created"), "{text}");
    assert!(
        text.contains("bootstrap: CA certificate: created"),
        "{text}"
    );
    let token = |name: &str| server.token(name);
    let base = server.base.clone();
    let c = reqwest::Client::new();

    let created: Value = {
        let r = c
            .post(format!("{base}/v1/profiles"))
            .bearer_auth(token("TOKEN_USER_ADMIN"))
            .json(&json!({
                "type": "organisation",
                "name": "Fakturasignering",
                "contact_email": "carl.contact@demo-org.dk",
                "issuing": "direct",
                "key_algorithm": "ecdsa-p256",
            }))
            .send()
            .await
            .expect("order");
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    };
    assert_eq!(created["certificate"]["status"], "pending", "{created}");
    let link = created["issuance_url"].as_str().expect("issuance_url");
    let secret = link.rsplit('/').next().unwrap();

    let r = c
        .post(format!("{base}/v1/issuance/{secret}"))
        .bearer_auth(token("TOKEN_DEMO_CONTACT"))
        .json(&json!({ "accept_terms": true }))
        .send()
        .await
        .expect("issue");
    let status = r.status();
    let issued: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{issued}");
    assert_eq!(
        issued["serial"], created["certificate"]["serial"],
        "{issued}"
    );
    let url = issued["download_url"].as_str().expect("download_url");
    assert!(
        url.starts_with(&endpoint),
        "the PKCS#12 is in S3 (moto): {url}"
    );
    let p12 = c.get(url).send().await.expect("download");
    assert_eq!(p12.status(), 200);
    assert!(!p12.bytes().await.unwrap().is_empty());

    // The CA certificate is the one the bootstrap made, served as the public function does.
    let pem = c
        .get(format!("{base}/public/ca.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    drop(server);

    // The organisation's audit chain in the table (the bootstrap, the order and the
    // issuance wrote to it): `orgcert audit verify --backend aws` finds it intact; one
    // event changed in place (as someone with write access to the table could) is named.
    let verify = || {
        let mut v = Command::new(BIN);
        v.args(["audit", "verify", "--backend", "aws", "--org", "12345674"])
            .arg("--data-dir")
            .arg(dir.path());
        for name in [
            "ORGCERT_TABLE",
            "ORGCERT_AWS_ENDPOINT_URL",
            "ORGCERT_DATA_DIR",
        ] {
            v.env_remove(name);
        }
        v.env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("orgcert audit verify")
    };
    let intact = verify();
    let said = String::from_utf8_lossy(&intact.stdout).into_owned()
        + &String::from_utf8_lossy(&intact.stderr);
    assert!(intact.status.success(), "{said}");
    assert!(said.contains("head seq"), "{said}");

    let local = orgcert_functions::local::LocalConfig::new(
        dir.path().to_path_buf(),
        &base,
        &base,
        orgcert_pki::KeyAlgorithm::EcdsaP256,
    );
    let mut aws = local_aws_config(&local, &endpoint);
    aws.region = Some("us-east-1".into());
    let client = aws_sdk_dynamodb::Client::new(&orgcert_aws::sdk_config(&aws).await);
    use aws_sdk_dynamodb::types::AttributeValue;
    let items = client
        .query()
        .table_name(&aws.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("ORG#12345674#AUDIT".into()))
        .send()
        .await
        .expect("query the audit items")
        .items()
        .to_vec();
    let victim = items
        .iter()
        .find(|it| matches!(it.get("seq"), Some(AttributeValue::N(n)) if n == "2"))
        .unwrap_or_else(|| panic!("no audit item of seq 2 in {} items", items.len()));
    orgcert_tests::moto::forge_audit_actor(&client, &aws.table, victim).await;
    let broken = verify();
    let said = String::from_utf8_lossy(&broken.stdout).into_owned()
        + &String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{said}");
    assert!(said.contains("seq 2"), "the changed event is named: {said}");
}

/// The AWS settings `serve --backend aws` derives, for the test's own client.
fn local_aws_config(
    local: &orgcert_functions::local::LocalConfig,
    endpoint: &str,
) -> orgcert_aws::AwsConfig {
    // `config` reads the endpoint from the environment like the binary; this test is the
    // only one in its binary, so setting the variable races with nothing.
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    orgcert_functions::aws::config(local).expect("aws config")
}
