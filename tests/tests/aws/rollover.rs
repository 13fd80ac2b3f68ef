//! CA rollover in the AWS shape on moto (issue 16 item 6, DESIGN §4 "CA hierarchy"): the
//! two-tier bootstrap, a certificate, `orgcert-ca rollover` to a second KMS key, a new
//! cold start, another certificate; both verify against the root, each generation's CRL
//! lists its own revocation and OCSP answers for both, each through its own delegated
//! responder.

use std::path::Path;
use std::sync::Arc;

use orgcert_aws::{provision, AwsApp};
use orgcert_core::app::{Delivery, IssueRequest, Job, ProfileInput};
use orgcert_core::auth::{Actor, Role};
use orgcert_core::clock::SystemClock;
use orgcert_core::ids::Serial;
use orgcert_core::model::RevocationReason;
use orgcert_core::DomainError;
use orgcert_pki::{CaSubject, KeyAlgorithm};
use orgcert_tests::conformance::{actor, new_organisation, random_cvr};
use orgcert_tests::moto::test_ca_subject;
use orgcert_tests::tools::{self, openssl_verify};
use serde_json::json;

use crate::helpers::{clients, with_root_key};

const CONTACT: &str = "it-drift@eksempel.dk";

fn openssl(dir: &Path, args: &[&str]) -> String {
    tools::must(dir, "openssl", args)
}

fn pem(der: &[u8]) -> String {
    orgcert_pki::to_pem("CERTIFICATE", der)
}

/// Orders and issues a certificate through the full `App`; returns its serial and PEM.
async fn issue(app: &AwsApp, admin: &Actor, holder: &Actor, name: &str) -> (Serial, String) {
    let input: ProfileInput = serde_json::from_value(json!({
        "type": "system",
        "name": name,
        "contact_email": CONTACT,
        "identification": "user_login",
        "issuing": "direct",
        "key_algorithm": "ecdsa-p256",
        "system_rights": { "administration_api": true },
    }))
    .expect("profile input");
    let order = app
        .app
        .create_profile(admin, input, None)
        .await
        .expect("order");
    let Delivery::Link { url } = order.delivery else {
        panic!("direct delivery gives a link")
    };
    let issued = app
        .app
        .issue_with_link(
            holder,
            url.rsplit('/').next().unwrap(),
            IssueRequest {
                accept_terms: true,
                ..Default::default()
            },
        )
        .await
        .expect("issue");
    (issued.certificate.serial, issued.certificate_pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollover_on_kms_issues_from_the_new_key_and_keeps_the_old_generations_status() {
    let Some((moto, cfg, root_key)) = with_root_key().await else {
        return;
    };
    let c = clients(&moto).await;
    let issuing = |cn: &str| CaSubject {
        common_name: cn.into(),
        ..test_ca_subject()
    };
    let (root_der, gen1_der) = orgcert_aws::bootstrap_two_tier_ca(
        &cfg,
        &root_key,
        &test_ca_subject(),
        &issuing("orgcert Emulator Issuing CA 1"),
    )
    .await
    .expect("two-tier bootstrap");

    let first = AwsApp::compose(&cfg, Arc::new(SystemClock))
        .await
        .expect("compose");
    let org = random_cvr();
    first
        .app
        .add_organisation(new_organisation(&org, "Rullende ApS"))
        .await
        .expect("organisation");
    let actor = |email: &str, roles: Vec<Role>| actor(&org, email, roles);
    let admin = actor("admin@eksempel.dk", vec![Role::UserAdmin]);
    let holder = actor(CONTACT, vec![]);
    let (serial1, leaf1) = issue(&first, &admin, &holder, "Generation 1").await;

    // A rollover needs a two-tier CA and a key no generation uses yet.
    let err = orgcert_aws::rollover(&cfg, &root_key, &cfg.kms_key_id, |n| {
        issuing(&format!("orgcert Emulator Issuing CA {n}"))
    })
    .await
    .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    let not_a_key = orgcert_aws::rollover(&cfg, &root_key, "no-such-key", |n| {
        issuing(&format!("orgcert Emulator Issuing CA {n}"))
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&not_a_key, DomainError::Invalid(f) if f.iter().any(|e| e.field == "key")),
        "{not_a_key:?}"
    );
    let next_key = provision::create_signing_key(&c.kms, KeyAlgorithm::Rsa3072)
        .await
        .expect("next CA key");
    let rolled = orgcert_aws::rollover(&cfg, &root_key, &next_key, |n| {
        issuing(&format!("orgcert Emulator Issuing CA {n}"))
    })
    .await
    .expect("rollover");
    assert_eq!(rolled.generation, 2);
    assert_eq!(rolled.root_der, root_der);
    assert_eq!(rolled.generations_der[1], gen1_der);
    let gen2_der = rolled.generations_der[0].clone();
    let again = orgcert_aws::rollover(&cfg, &root_key, &next_key, |n| {
        issuing(&format!("orgcert Emulator Issuing CA {n}"))
    })
    .await
    .unwrap_err();
    assert!(matches!(again, DomainError::Conflict(_)), "{again:?}");
    // What `orgcert-ca rollover` writes for the machine API: new, old, root.
    orgcert_aws::write_rollover_truststore(&cfg, &rolled)
        .await
        .expect("truststore");
    let truststore =
        c.s3.get_object()
            .bucket(&cfg.bucket)
            .key(orgcert_aws::TRUSTSTORE_OBJECT)
            .send()
            .await
            .expect("truststore object")
            .body
            .collect()
            .await
            .expect("truststore body")
            .into_bytes();
    assert_eq!(
        String::from_utf8_lossy(&truststore),
        format!("{}{}{}", pem(&gen2_der), pem(&gen1_der), pem(&root_der)),
        "truststore: new, old, root"
    );

    // A new cold start: issues with generation 2, serves 1 and 2 and the root.
    let app = AwsApp::compose(&cfg, Arc::new(SystemClock))
        .await
        .expect("compose after the rollover");
    assert_eq!(app.authority.ca_der(), gen2_der.as_slice());
    assert_eq!(app.app.ca_generations(), vec![1, 2]);
    assert_eq!(
        app.app.ca_pem(),
        format!("{}{}{}", pem(&gen2_der), pem(&gen1_der), pem(&root_der)),
        "ca.pem: new, old, root"
    );
    let (serial2, leaf2) = issue(&app, &admin, &holder, "Generation 2").await;
    let (_, kept2) = issue(&app, &admin, &holder, "Generation 2, kept").await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (file, text) in [
        ("root.pem", pem(&root_der)),
        ("issuing1.pem", pem(&gen1_der)),
        ("issuing2.pem", pem(&gen2_der)),
        ("leaf1.pem", leaf1),
        ("leaf2.pem", leaf2),
        ("kept2.pem", kept2),
    ] {
        std::fs::write(d.join(file), text).unwrap();
    }
    for (leaf, issuer) in [
        ("leaf1.pem", "issuing1.pem"),
        ("leaf2.pem", "issuing2.pem"),
        ("kept2.pem", "issuing2.pem"),
    ] {
        let (ok, out) = openssl_verify(d, "root.pem", issuer, leaf, &[]);
        assert!(ok && out.contains(&format!("{leaf}: OK")), "{out}");
    }
    let text = openssl(d, &["x509", "-in", "issuing2.pem", "-noout", "-text"]);
    assert!(
        text.contains("rsassaPss") && text.contains("Salt Length: 0x20"),
        "generation 2 is signed by the root with RSASSA-PSS\n{text}"
    );
    assert!(text.contains("orgcert Emulator Issuing CA 2"), "{text}");
    let text = openssl(d, &["x509", "-in", "leaf2.pem", "-noout", "-text"]);
    assert!(text.contains("/public/crl/g2"), "{text}");

    // Revoke one of each generation; each generation's CRL lists its own.
    for serial in [&serial1, &serial2] {
        app.app
            .revoke(&admin, serial, RevocationReason::KeyCompromise)
            .await
            .expect("revoke");
    }
    // The crl-refresh job builds each generation's CRLs and mints each generation's
    // delegated OCSP responder (the functions answering OCSP never sign with a CA key).
    app.app
        .run_job(Job::CrlRefresh, app.app.now())
        .await
        .expect("crl-refresh");
    let crl1 = app.app.generation_crl(1, None).await.expect("CRL 1");
    let crl2 = app.app.generation_crl(2, None).await.expect("CRL 2");
    std::fs::write(d.join("crl1.der"), crl1).unwrap();
    std::fs::write(d.join("crl2.der"), crl2).unwrap();
    std::fs::write(d.join("root.crl"), app.app.root_crl().expect("root CRL")).unwrap();
    for (der, out) in [
        ("crl1.der", "crl1.pem"),
        ("crl2.der", "crl2.pem"),
        ("root.crl", "root-crl.pem"),
    ] {
        openssl(d, &["crl", "-inform", "DER", "-in", der, "-out", out]);
    }
    let upper = |s: &str| s.to_ascii_uppercase();
    let (s1, s2) = (upper(serial1.as_str()), upper(serial2.as_str()));
    let text1 = upper(&openssl(d, &["crl", "-in", "crl1.pem", "-noout", "-text"]));
    let text2 = upper(&openssl(d, &["crl", "-in", "crl2.pem", "-noout", "-text"]));
    assert!(text1.contains(&s1) && !text1.contains(&s2), "{text1}");
    assert!(text2.contains(&s2) && !text2.contains(&s1), "{text2}");
    for (leaf, issuer, crl, revoked) in [
        ("leaf1.pem", "issuing1.pem", "crl1.pem", true),
        ("leaf2.pem", "issuing2.pem", "crl2.pem", true),
        ("kept2.pem", "issuing2.pem", "crl2.pem", false),
    ] {
        let (ok, out) = openssl_verify(d, "root.pem", issuer, leaf, &[crl, "root-crl.pem"]);
        if revoked {
            assert!(!ok && out.contains("certificate revoked"), "{leaf}: {out}");
        } else {
            assert!(ok, "{leaf}: {out}");
        }
    }

    // OCSP for both generations, each under its own issuer's CertID.
    for (leaf, issuer, expected) in [
        ("leaf1.pem", "issuing1.pem", "revoked"),
        ("leaf2.pem", "issuing2.pem", "revoked"),
        ("kept2.pem", "issuing2.pem", "good"),
    ] {
        let req = format!("{leaf}.req");
        let resp = format!("{leaf}.resp");
        openssl(
            d,
            &["ocsp", "-issuer", issuer, "-cert", leaf, "-reqout", &req],
        );
        let answer = app.app.ocsp(&std::fs::read(d.join(&req)).unwrap()).await;
        std::fs::write(d.join(&resp), answer).unwrap();
        let out = openssl(
            d,
            &[
                "ocsp",
                "-respin",
                &resp,
                "-issuer",
                issuer,
                "-cert",
                leaf,
                "-CAfile",
                "root.pem",
                "-verify_other",
                issuer,
                "-resp_text",
            ],
        );
        assert!(out.contains("Response verify OK"), "{leaf}: {out}");
        // Signed by the generation's delegated responder, not by its KMS CA key.
        assert!(out.contains("OCSP Signing"), "{leaf}: {out}");
        assert!(
            out.contains(&format!("{leaf}: {expected}")),
            "{leaf}: {out}"
        );
    }
}
