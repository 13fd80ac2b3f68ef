//! The two-tier hierarchy of the embedded default (DESIGN §4 "CA hierarchy", API.md
//! `/public/ca.pem`, `/public/root.pem`): a fresh data dir gets a root and an issuing CA,
//! the chain verifies in OpenSSL with the root as the only anchor, and a data dir from
//! before the two tiers keeps its self-signed CA.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use orgcert_core::secret::ExposeSecret as _;
use orgcert_pki::KeyAlgorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn local_backend() -> bool {
    if Backend::current() == Backend::Aws {
        eprintln!("the AWS two-tier bootstrap is tested in tests/aws: nothing to test here");
        return false;
    }
    true
}

async fn issue(app: &TestApp, name: &str) -> Value {
    let c = app
        .create(json!({ "name": name, "key_algorithm": "ecdsa-p256" }))
        .await;
    let url = c.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    let a = app.issue_via(&url, json!({ "accept_terms": true })).await;
    a.ok(201).clone()
}

async fn save(app: &TestApp, path: &str, file: &Path) -> Vec<u8> {
    let a = app.call(Method::GET, path, None, None, &[]).await;
    assert_eq!(a.status, 200, "{path}: {a:?}");
    std::fs::write(file, &a.bytes).unwrap();
    a.bytes
}

fn certs(pem_text: &[u8]) -> Vec<Vec<u8>> {
    pem::parse_many(pem_text)
        .unwrap()
        .into_iter()
        .map(|p| {
            assert_eq!(p.tag(), "CERTIFICATE");
            p.into_contents()
        })
        .collect()
}

#[tokio::test]
async fn a_fresh_data_dir_gets_a_root_and_an_issuing_ca_that_verify_as_a_chain() {
    if !local_backend() {
        return;
    }
    let app = spawn_app_with(KeyAlgorithm::EcdsaP256).await;
    let data = app.dir.path();
    for f in ["root.key", "root.pem", "root.crl", "ca.key", "ca.pem"] {
        assert!(data.join(f).exists(), "{f} missing");
    }
    assert_ne!(
        std::fs::read(data.join("root.key")).unwrap(),
        std::fs::read(data.join("ca.key")).unwrap(),
        "the root has its own key"
    );

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let chain = certs(&save(&app, "/public/ca.pem", &d.join("chain.pem")).await);
    let root = certs(&save(&app, "/public/root.pem", &d.join("root.pem")).await);
    let root_cer = save(&app, "/public/root.cer", &d.join("root.cer")).await;
    let ca_cer = save(&app, "/public/ca.cer", &d.join("ca.cer")).await;
    save(&app, "/public/root.crl", &d.join("root.crl")).await;
    assert_eq!(chain.len(), 2, "ca.pem: issuing CA then root");
    assert_eq!(root, vec![chain[1].clone()]);
    assert_eq!(root_cer, chain[1]);
    assert_eq!(ca_cer, chain[0]);
    std::fs::write(
        d.join("issuing.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &chain[0]),
    )
    .unwrap();

    let issued = issue(&app, "Two tiers").await;
    std::fs::write(
        d.join("leaf.pem"),
        issued["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    // The chain handed out with the certificate is the same issuing CA then root.
    assert_eq!(
        certs(issued["chain_pem"].as_str().unwrap_or_default().as_bytes()),
        chain
    );

    let out = must(
        d,
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");
    // Without the issuing CA the root alone does not vouch for the leaf: it is two tiers.
    let (ok, out) = run(d, "openssl", &["verify", "-CAfile", "root.pem", "leaf.pem"]);
    assert!(!ok, "{out}");

    // Both CRLs: the issuing CA's for the leaf, the root's for the issuing CA.
    save(&app, "/public/crl", &d.join("crl.der")).await;
    for (der, out) in [("crl.der", "crl.pem"), ("root.crl", "root-crl.pem")] {
        must(
            d,
            "openssl",
            &["crl", "-inform", "DER", "-in", der, "-out", out],
        );
    }
    let out = must(
        d,
        "openssl",
        &[
            "crl",
            "-in",
            "root-crl.pem",
            "-CAfile",
            "root.pem",
            "-noout",
            "-nextupdate",
        ],
    );
    assert!(out.contains("nextUpdate="), "{out}");
    let out = must(
        d,
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-crl_check_all",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "crl.pem",
            "-CRLfile",
            "root-crl.pem",
            "leaf.pem",
        ],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");
}

#[tokio::test]
async fn a_single_tier_data_dir_from_before_keeps_working() {
    if !local_backend() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let signer = orgcert_pki::KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let ca_der = orgcert_pki::create_ca_certificate(
        &signer,
        &orgcert_pki::CaSubject {
            common_name: "orgcert Demo CA".into(),
            organisation: "orgcert".into(),
            country: "DK".into(),
        },
        now - time::Duration::days(1),
        now + time::Duration::days(3650),
    )
    .unwrap();
    let mut key = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data.path().join("ca.key"))
        .unwrap();
    key.write_all(signer.to_pkcs8_pem().expose_secret().as_bytes())
        .unwrap();
    std::fs::write(
        data.path().join("ca.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &ca_der),
    )
    .unwrap();

    let app = spawn_in(data, KeyAlgorithm::EcdsaP256).await;
    assert!(
        !app.dir.path().join("root.key").exists(),
        "no root was added"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let chain = certs(&save(&app, "/public/ca.pem", &d.join("ca.pem")).await);
    assert_eq!(chain, vec![ca_der.clone()]);
    // The self-signed CA is its own root; there is no root CRL.
    let root = certs(&save(&app, "/public/root.pem", &d.join("root.pem")).await);
    assert_eq!(root, vec![ca_der.clone()]);
    app.call(Method::GET, "/public/root.crl", None, None, &[])
        .await
        .problem(404, None);
    assert_eq!(
        app.service.ca.ca_der(),
        ca_der,
        "the stored CA is used as it is"
    );

    let issued = issue(&app, "Old layout").await;
    std::fs::write(
        d.join("leaf.pem"),
        issued["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    let out = must(
        d,
        "openssl",
        &["verify", "-x509_strict", "-CAfile", "ca.pem", "leaf.pem"],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");
}
