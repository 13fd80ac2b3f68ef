//! Signer conformance: key file and KMS-on-moto, checked by OpenSSL.

use std::process::Command;
use std::sync::Arc;

use orgcert_aws::{provision, KmsSigner};
use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, KeyAlgorithm, KeyFileSigner};
use orgcert_tests::conformance::signer_conformance;
use orgcert_tests::moto::{test_ca_subject, Moto};

use crate::helpers::{clients, with_root_key};

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
    composed_on(&cfg, &der).await;
}

/// The app composed on `cfg`, checked to sign with the CA certificate `ca_der`.
async fn composed_on(cfg: &orgcert_aws::AwsConfig, ca_der: &[u8]) -> orgcert_aws::AwsApp {
    let app = orgcert_aws::AwsApp::compose(cfg, Arc::new(orgcert_core::clock::SystemClock))
        .await
        .expect("compose");
    assert_eq!(app.authority.ca_der(), ca_der);
    app
}

/// Two tiers on KMS (DESIGN §4 "CA hierarchy"): a separate RSA-4096 root key signs the root,
/// the issuing CA certificate for the CA key and the root CRL; the composition serves the
/// chain and the root CRL, and its leaves verify with the root as the only anchor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tier_bootstrap_on_kms() {
    let Some((_moto, cfg, root_key)) = with_root_key().await else {
        return;
    };
    let issuing_subject = orgcert_pki::CaSubject {
        common_name: "orgcert Emulator Issuing CA 1".into(),
        ..test_ca_subject()
    };
    let (root_der, issuing_der) =
        orgcert_aws::bootstrap_two_tier_ca(&cfg, &root_key, &test_ca_subject(), &issuing_subject)
            .await
            .expect("two-tier bootstrap");
    let err =
        orgcert_aws::bootstrap_two_tier_ca(&cfg, &root_key, &test_ca_subject(), &issuing_subject)
            .await
            .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");

    let app = composed_on(&cfg, &issuing_der).await;
    assert_eq!(app.app.root_der(), root_der);
    let chain = app.app.ca_pem();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{chain}");
    let root_crl = app.app.root_crl().expect("root CRL");
    // The root CRL is re-signed by the root key and read at the next start.
    let resigned = orgcert_aws::resign_root_crl(&cfg, &root_key)
        .await
        .expect("re-sign the root CRL");
    assert_ne!(resigned, root_crl);
    let (_, stored) = orgcert_aws::load_root(&app.store).await.unwrap();
    assert_eq!(stored, Some(resigned));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("root.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &root_der),
    )
    .unwrap();
    std::fs::write(
        d.join("issuing.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &issuing_der),
    )
    .unwrap();
    std::fs::write(d.join("root.crl"), &root_crl).unwrap();
    // A leaf from the issuing CA (the KMS CA key signs it).
    let key = orgcert_pki::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let spec = orgcert_pki::LeafSpec {
        serial: orgcert_pki::random_serial(),
        kind: orgcert_core::model::CertKind::System,
        cvr: "12345678".into(),
        organisation_name: "Emulator ApS".into(),
        profile_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        common_name: "Two tiers on KMS".into(),
        email: None,
        not_before: now,
        not_after: now + time::Duration::days(30),
        crl_url: None,
    };
    let authority = app.authority.clone();
    let leaf = tokio::task::spawn_blocking(move || authority.issue(&spec, key.public()))
        .await
        .unwrap()
        .expect("issue");
    std::fs::write(d.join("leaf.pem"), &leaf.pem).unwrap();
    for args in [
        vec![
            "verify",
            "-x509_strict",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ],
        vec![
            "crl", "-inform", "DER", "-in", "root.crl", "-CAfile", "root.pem", "-noout",
        ],
        vec!["x509", "-in", "root.pem", "-noout", "-text"],
        vec!["x509", "-in", "issuing.pem", "-noout", "-text"],
    ] {
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(d)
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {text}");
        if args[0] == "verify" {
            assert!(text.contains("leaf.pem: OK"), "{text}");
        }
        if args[0] == "crl" {
            assert!(text.contains("verify OK"), "{text}");
        }
        if args[0] == "x509" {
            if args[2] == "root.pem" {
                assert!(text.contains("Public-Key: (4096 bit)"), "{text}");
            }
            // RSASSA-PSS through KMS `RSASSA_PSS_SHA_256` (the default).
            assert!(
                text.contains("rsassaPss") && text.contains("Salt Length: 0x20"),
                "{text}"
            );
        }
    }
}
