//! Signer conformance: key file and KMS-on-moto, checked by OpenSSL.

use std::process::Command;
use std::sync::Arc;

use orgcert_aws::{provision, KmsSigner};
use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, KeyAlgorithm, KeyFileSigner};
use orgcert_tests::conformance::signer_conformance;
use orgcert_tests::moto::{test_ca_subject, Moto};

use crate::helpers::clients;

async fn conform(signer: Arc<dyn CaSigner>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_owned();
    // Signers block (KMS: on the runtime): never on an async worker.
    tokio::task::spawn_blocking(move || signer_conformance(signer, &path))
        .await
        .expect("signer conformance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_signer_conforms() {
    for alg in KeyAlgorithm::ALL {
        conform(Arc::new(KeyFileSigner::generate(alg).expect("key"))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_signer_conforms() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let c = clients(&moto).await;
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::EcdsaP384,
    ] {
        let key = provision::create_signing_key(&c.kms, alg)
            .await
            .expect("key");
        let signer = KmsSigner::new(c.kms.clone(), key)
            .await
            .expect("KMS signer");
        assert_eq!(signer.algorithm(), alg);
        conform(Arc::new(signer)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_signer_refuses_keys_it_cannot_use() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let c = clients(&moto).await;
    let encrypt = c
        .kms
        .create_key()
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .expect("create key");
    let id = encrypt.key_metadata().unwrap().key_id().to_owned();
    let err = KmsSigner::new(c.kms.clone(), id).await.unwrap_err();
    assert!(matches!(err, DomainError::Internal(_)), "{err:?}");
    let err = KmsSigner::new(c.kms.clone(), "alias/none")
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Unavailable(_)), "{err:?}");
}

/// Bootstrap: a development root once (never replaced), or a CSR for an external root,
/// whose certificate is installed only if it certifies the KMS key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_bootstrap_paths() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let cfg = moto.provision(KeyAlgorithm::EcdsaP256).await;
    let csr = orgcert_aws::ca_certificate_request(&cfg, &test_ca_subject())
        .await
        .expect("CSR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.csr"), &csr).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-in", "ca.csr", "-verify", "-noout", "-subject"])
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("verify OK") || text.contains("Certificate request self-signature verify OK"),
        "{text}"
    );
    assert!(text.contains("orgcert Emulator Test CA"), "{text}");

    // A CA certificate for another key is refused.
    let other = KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let foreign = orgcert_pki::create_ca_certificate(
        &other,
        &test_ca_subject(),
        now,
        now + time::Duration::days(30),
    )
    .unwrap();
    let err = orgcert_aws::install_ca_certificate(&cfg, foreign)
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Invalid(_)), "{err:?}");

    let der = orgcert_aws::bootstrap_ca(&cfg, &test_ca_subject())
        .await
        .expect("bootstrap");
    let err = orgcert_aws::bootstrap_ca(&cfg, &test_ca_subject())
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    let app = orgcert_aws::AwsApp::compose(&cfg, Arc::new(orgcert_core::clock::SystemClock))
        .await
        .expect("compose");
    assert_eq!(app.authority.ca_der(), der.as_slice());
}
