//! Issued material checked by independent verifiers: OpenSSL, Java keytool, pkilint.

use std::path::{Path, PathBuf};

use orgcert_pki::KeyAlgorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn issue(app: &TestApp, fields: Value, issue: Value) -> Value {
    let c = app.create(fields).await;
    let url = c.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    let a = app.issue_via(&url, issue).await;
    a.ok(201).clone()
}

async fn download(app: &TestApp, issued: &Value, dir: &Path, name: &str) -> PathBuf {
    let a = app
        .call(
            Method::GET,
            issued["download_url"].as_str().unwrap(),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, 200);
    let p = dir.join(name);
    std::fs::write(&p, &a.bytes).unwrap();
    p
}

/// `openssl pkcs12 [-legacy] -in p12 -passin pass args…` in `d`, which must succeed.
fn pkcs12(d: &Path, legacy: bool, p12: &str, pass: &str, args: &[&str]) -> String {
    let mut all = vec!["pkcs12"];
    if legacy {
        all.push("-legacy");
    }
    all.extend(["-in", p12, "-passin", pass]);
    all.extend(args);
    must(d, "openssl", &all)
}

/// The certificate of `name`.p12 written to `name`.pem, and the file's `-info` (its
/// encryption), by openssl.
fn p12_pem_and_info(d: &Path, legacy: bool, name: &str, pass: &str) -> String {
    let (p12, pem) = (format!("{name}.p12"), format!("{name}.pem"));
    pkcs12(
        d,
        legacy,
        &p12,
        pass,
        &["-nokeys", "-clcerts", "-out", &pem],
    );
    pkcs12(d, legacy, &p12, pass, &["-info", "-noout"])
}

#[tokio::test]
async fn pkcs12_opens_in_openssl_and_keytool_and_chains_verify() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = app
        .call(Method::GET, "/public/ca.pem", None, None, &[])
        .await;
    assert_eq!(ca.status, 200);
    std::fs::write(d.join("ca.pem"), &ca.bytes).unwrap();
    let cer = app
        .call(Method::GET, "/public/ca.cer", None, None, &[])
        .await;
    std::fs::write(d.join("ca.cer"), &cer.bytes).unwrap();
    must(
        d,
        "openssl",
        &[
            "x509", "-inform", "DER", "-in", "ca.cer", "-noout", "-subject",
        ],
    );

    // modern: OpenSSL 3 without -legacy, and keytool.
    let modern = issue(
        &app,
        json!({ "name": "Modern p12" }),
        json!({ "accept_terms": true }),
    )
    .await;
    let pw = modern["password"].as_str().unwrap().to_owned();
    download(&app, &modern, d, "modern.p12").await;
    let pass = format!("pass:{pw}");
    must(
        d,
        "openssl",
        &["pkcs12", "-in", "modern.p12", "-passin", &pass, "-noout"],
    );
    let info = p12_pem_and_info(d, false, "modern", &pass);
    assert!(
        info.contains("AES-256-CBC") || info.contains("aes-256-cbc"),
        "{info}"
    );
    let list = must(
        d,
        "keytool",
        &[
            "-list",
            "-v",
            "-keystore",
            "modern.p12",
            "-storetype",
            "PKCS12",
            "-storepass",
            &pw,
        ],
    );
    assert!(list.contains("PrivateKeyEntry"), "{list}");
    let (wrong, _) = run(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "modern.p12",
            "-passin",
            "pass:wrong",
            "-noout",
        ],
    );
    assert!(!wrong, "a wrong password must not open the file");
    let out = must(d, "openssl", &["verify", "-CAfile", "ca.pem", "modern.pem"]);
    assert!(out.contains("modern.pem: OK"), "{out}");

    // legacy: needs -legacy in OpenSSL 3.
    let legacy = issue(
        &app,
        json!({ "name": "Legacy p12", "p12_format": "legacy", "key_algorithm": "ecdsa-p384" }),
        json!({ "accept_terms": true }),
    )
    .await;
    let lpw = format!("pass:{}", legacy["password"].as_str().unwrap());
    download(&app, &legacy, d, "legacy.p12").await;
    let info = p12_pem_and_info(d, true, "legacy", &lpw);
    assert!(
        info.contains("TripleDES") || info.contains("des-ede3"),
        "{info}"
    );
    must(d, "openssl", &["verify", "-CAfile", "ca.pem", "legacy.pem"]);

    // CSR: the certificate carries the CSR's key and verifies.
    must(
        d,
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-keyout",
            "csr.key",
            "-subj",
            "/CN=ignored",
            "-out",
            "req.csr",
        ],
    );
    let csr = std::fs::read_to_string(d.join("req.csr")).unwrap();
    let by_csr = issue(
        &app,
        json!({ "name": "From CSR" }),
        json!({ "accept_terms": true, "csr": csr }),
    )
    .await;
    std::fs::write(
        d.join("csr.pem"),
        by_csr["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("chain.pem"), by_csr["chain_pem"].as_str().unwrap()).unwrap();
    must(d, "openssl", &["verify", "-CAfile", "chain.pem", "csr.pem"]);
    let cert_key = must(
        d,
        "openssl",
        &["x509", "-in", "csr.pem", "-noout", "-pubkey"],
    );
    let req_key = must(
        d,
        "openssl",
        &["req", "-in", "req.csr", "-noout", "-pubkey"],
    );
    assert_eq!(cert_key, req_key);
    let subject = must(
        d,
        "openssl",
        &[
            "x509", "-in", "csr.pem", "-noout", "-subject", "-nameopt", "RFC2253",
        ],
    );
    assert!(
        subject.contains("CN=From CSR") && !subject.contains("ignored"),
        "{subject}"
    );
}

#[tokio::test]
async fn pkilint_finds_no_errors_under_rsa_and_ec_cas() {
    let Some(bin) = pkilint() else { return };
    for ca in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
        let app = spawn_app_with(ca).await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cases = [
            (
                "org-rsa",
                json!({ "name": "Org RSA", "certificate_email": "org.rsa@demo-org.dk" }),
            ),
            (
                "org-rsa-seal",
                json!({ "name": "Org RSA seal", "seal_generation": true }),
            ),
            (
                "org-ec",
                json!({ "name": "Org EC", "key_algorithm": "ecdsa-p256", "certificate_email": "org.ec@demo-org.dk" }),
            ),
            (
                "org-ec-seal",
                json!({ "name": "Org EC seal", "key_algorithm": "ecdsa-p384", "seal_generation": true }),
            ),
            (
                "system-rsa",
                json!({ "type": "system", "name": "System RSA", "system_rights": { "issuance_api": true } }),
            ),
            (
                "system-ec",
                json!({ "type": "system", "name": "System EC", "key_algorithm": "ecdsa-p256" }),
            ),
        ];
        for (name, fields) in cases {
            let issued = issue(&app, fields, json!({ "accept_terms": true })).await;
            let file = format!("{name}.pem");
            std::fs::write(d.join(&file), issued["certificate_pem"].as_str().unwrap()).unwrap();
            let pkix = bin.join("lint_pkix_cert");
            let etsi = bin.join("lint_etsi_cert");
            let (ok, out) = run(d, pkix.to_str().unwrap(), &["lint", "-s", "ERROR", &file]);
            assert!(ok, "pkix lint of {name} under {ca:?}:\n{out}");
            let (ok, out) = run(
                d,
                etsi.to_str().unwrap(),
                &[
                    "lint",
                    "-t",
                    "NCP-LEGAL-PERSON-CERTIFICATE",
                    "-s",
                    "ERROR",
                    &file,
                ],
            );
            assert!(ok, "etsi lint of {name} under {ca:?}:\n{out}");
            let text = must(d, "openssl", &["x509", "-in", &file, "-noout", "-text"]);
            assert!(
                text.contains("CA Issuers - URI:http://pki.example.dk/public/ca.cer"),
                "{text}"
            );
            assert!(
                text.contains("OCSP - URI:http://pki.example.dk/ocsp"),
                "{text}"
            );
            assert!(
                text.contains("URI:http://pki.example.dk/public/crl"),
                "{text}"
            );
            // OCES3 shape (DESIGN §4): caIssuers before OCSP, the legal-person qcStatement on
            // every kind, CN first in subject and issuer.
            assert!(
                text.find("CA Issuers - URI:") < text.find("OCSP - URI:"),
                "{name}: AIA order\n{text}"
            );
            assert!(
                text.contains("qcStatements") || text.contains("1.3.6.1.5.5.7.1.3"),
                "{name}: qcStatements\n{text}"
            );
            let subject = must(
                d,
                "openssl",
                &[
                    "x509", "-in", &file, "-noout", "-subject", "-issuer", "-nameopt", "compat",
                ],
            );
            let lines: Vec<&str> = subject.lines().collect();
            assert!(
                lines.len() == 2
                    && lines[0].starts_with("subject=/CN=")
                    && lines[1].starts_with("issuer=/CN="),
                "{name}: CN first\n{subject}"
            );
            let ku_has_enc = text.contains("Key Encipherment");
            let rsa = !name.contains("ec");
            assert_eq!(
                ku_has_enc, rsa,
                "{name}: keyEncipherment only on RSA keys\n{text}"
            );
        }
        // The issuing CA and the root (the same certificate for a single-tier CA).
        let issuing = orgcert_pki::to_pem("CERTIFICATE", &app.service.ca_der());
        std::fs::write(d.join("issuing.pem"), issuing).unwrap();
        std::fs::write(d.join("root.pem"), app.service.root_pem()).unwrap();
        for file in ["issuing.pem", "root.pem"] {
            let (ok, out) = run(
                d,
                bin.join("lint_pkix_cert").to_str().unwrap(),
                &["lint", "-s", "ERROR", file],
            );
            assert!(ok, "pkix lint of the {ca:?} CA ({file}):\n{out}");
        }
    }
}
