//! The two-tier hierarchy of the embedded default (DESIGN §4 "CA hierarchy", API.md
//! `/public/ca.pem`, `/public/root.pem`): a fresh data dir gets a root and an issuing CA,
//! the chain verifies in OpenSSL with the root as the only anchor, and a data dir from
//! before the two tiers keeps its self-signed CA.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use orgcert_core::clock::Clock as _;
use orgcert_core::secret::ExposeSecret as _;
use orgcert_functions::local;
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

    let (ok, out) = openssl_verify(d, "root.pem", "issuing.pem", "leaf.pem", &[]);
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
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
    let (ok, out) = openssl_verify(
        d,
        "root.pem",
        "issuing.pem",
        "leaf.pem",
        &["crl.pem", "root-crl.pem"],
    );
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
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
        app.service.ca_der(),
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

/// `openssl ocsp` against our responder (blocking: off the async workers that serve it).
async fn ocsp_status(d: &Path, base: &str, issuer: &str, leaf: &str) -> String {
    let (d, url, issuer, leaf) = (
        d.to_path_buf(),
        format!("{base}/ocsp"),
        issuer.to_owned(),
        leaf.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        must(
            &d,
            "openssl",
            &[
                "ocsp",
                "-issuer",
                &issuer,
                "-cert",
                &leaf,
                "-url",
                &url,
                "-CAfile",
                "root.pem",
                "-verify_other",
                &issuer,
            ],
        )
    })
    .await
    .expect("openssl task")
}

#[tokio::test]
async fn a_rollover_issues_from_the_new_ca_while_the_old_one_keeps_its_crl_and_ocsp() {
    if !local_backend() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // RSA CA keys: every CA signature in this test is RSASSA-PSS.
    let app = spawn_app_with(KeyAlgorithm::Rsa3072).await;
    let gen1 = issue(&app, "Generation 1").await;
    let gen1_serial = gen1["serial"].as_str().unwrap().to_owned();
    std::fs::write(
        d.join("leaf1.pem"),
        gen1["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    let before = certs(&save(&app, "/public/ca.pem", &d.join("before.pem")).await);
    assert_eq!(before.len(), 2);

    // `orgcert ca rollover` on the data dir, then a restart.
    let data = app.dir.path().to_path_buf();
    let cfg = local::LocalConfig::new(
        data.clone(),
        &app.base,
        "http://pki.example.dk",
        KeyAlgorithm::Rsa3072,
    );
    let now = app.clock.now();
    let (n, gen2_ca) =
        tokio::task::spawn_blocking(move || local::rollover(&cfg, now).expect("rollover"))
            .await
            .unwrap();
    assert_eq!(n, 2);
    let TestApp { dir: data_dir, .. } = app;
    let app = spawn_in(data_dir, KeyAlgorithm::Rsa3072).await;

    // The served set: the new issuing CA first, then the old one, then the root.
    let served = certs(&save(&app, "/public/ca.pem", &d.join("served.pem")).await);
    assert_eq!(
        served,
        vec![gen2_ca.clone(), before[0].clone(), before[1].clone()]
    );
    assert_eq!(app.service.ca_der(), gen2_ca, "ca.cer is the current one");
    std::fs::write(
        d.join("root.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &before[1]),
    )
    .unwrap();
    std::fs::write(
        d.join("issuing1.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &before[0]),
    )
    .unwrap();
    std::fs::write(
        d.join("issuing2.pem"),
        orgcert_pki::to_pem("CERTIFICATE", &gen2_ca),
    )
    .unwrap();

    let gen2 = issue(&app, "Generation 2").await;
    let gen2_serial = gen2["serial"].as_str().unwrap().to_owned();
    std::fs::write(
        d.join("leaf2.pem"),
        gen2["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    let kept = issue(&app, "Generation 2, kept").await;
    std::fs::write(
        d.join("kept2.pem"),
        kept["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    for (leaf, issuing) in [
        ("leaf1.pem", "issuing1.pem"),
        ("leaf2.pem", "issuing2.pem"),
        ("kept2.pem", "issuing2.pem"),
    ] {
        let (ok, out) = openssl_verify(d, "root.pem", issuing, leaf, &[]);
        assert!(ok && out.contains(&format!("{leaf}: OK")), "{out}");
    }
    let text = must(
        d,
        "openssl",
        &["x509", "-in", "leaf2.pem", "-noout", "-text"],
    );
    assert!(
        text.contains("URI:http://pki.example.dk/public/crl/g2"),
        "generation 2 has its own CRL\n{text}"
    );
    assert!(text.contains("rsassaPss"), "{text}");
    // caIssuers: each generation's leaves name their own issuer's certificate, and
    // `/public/ca.cer` stays the first generation's (its leaves name it).
    assert!(
        text.contains("CA Issuers - URI:http://pki.example.dk/public/ca/2"),
        "{text}"
    );
    assert_eq!(
        save(&app, "/public/ca/2", &d.join("ca2.cer")).await,
        gen2_ca
    );
    assert_eq!(
        save(&app, "/public/ca.cer", &d.join("ca1.cer")).await,
        before[0]
    );
    assert_eq!(
        save(&app, "/public/ca/1", &d.join("ca1b.cer")).await,
        before[0]
    );
    app.call(Method::GET, "/public/ca/3", None, None, &[])
        .await
        .problem(404, None);

    // Revoke one of each generation; each CRL lists its own.
    for serial in [&gen1_serial, &gen2_serial] {
        app.revoke(serial, json!({ "reason": "keyCompromise" }))
            .await
            .ok(200);
    }
    app.service.rebuild_crls(app.clock.now()).await.unwrap();
    save(&app, "/public/crl", &d.join("crl1.der")).await;
    save(&app, "/public/crl/g2", &d.join("crl2.der")).await;
    save(&app, "/public/root.crl", &d.join("root.crl")).await;
    for (der, pem) in [
        ("crl1.der", "crl1.pem"),
        ("crl2.der", "crl2.pem"),
        ("root.crl", "root-crl.pem"),
    ] {
        must(
            d,
            "openssl",
            &["crl", "-inform", "DER", "-in", der, "-out", pem],
        );
    }
    let crl1 = must(d, "openssl", &["crl", "-in", "crl1.pem", "-noout", "-text"]);
    let crl2 = must(d, "openssl", &["crl", "-in", "crl2.pem", "-noout", "-text"]);
    let upper = |s: &str| s.to_ascii_uppercase();
    assert!(upper(&crl1).contains(&upper(&gen1_serial)), "{crl1}");
    assert!(!upper(&crl1).contains(&upper(&gen2_serial)), "{crl1}");
    assert!(upper(&crl2).contains(&upper(&gen2_serial)), "{crl2}");
    assert!(!upper(&crl2).contains(&upper(&gen1_serial)), "{crl2}");
    assert!(
        crl1.contains("Issuer: CN = orgcert Demo Issuing CA 1"),
        "{crl1}"
    );
    assert!(
        crl2.contains("Issuer: CN = orgcert Demo Issuing CA 2"),
        "{crl2}"
    );
    for (leaf, issuing, crl, revoked) in [
        ("leaf1.pem", "issuing1.pem", "crl1.pem", true),
        ("leaf2.pem", "issuing2.pem", "crl2.pem", true),
        ("kept2.pem", "issuing2.pem", "crl2.pem", false),
    ] {
        let (ok, out) = openssl_verify(d, "root.pem", issuing, leaf, &[crl, "root-crl.pem"]);
        if revoked {
            assert!(!ok && out.contains("certificate revoked"), "{leaf}: {out}");
        } else {
            assert!(ok, "{leaf}: {out}");
        }
    }

    // OCSP answers for both generations, each under its own issuer's CertID.
    for (leaf, issuing, expected) in [
        ("leaf1.pem", "issuing1.pem", "revoked"),
        ("leaf2.pem", "issuing2.pem", "revoked"),
        ("kept2.pem", "issuing2.pem", "good"),
    ] {
        let out = ocsp_status(d, &app.base, issuing, leaf).await;
        assert!(out.contains("Response verify OK"), "{leaf}: {out}");
        assert!(
            out.contains(&format!("{leaf}: {expected}")),
            "{leaf}: {out}"
        );
    }
}
