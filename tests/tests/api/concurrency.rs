//! Promises under concurrency (DESIGN §5a), over HTTP on either store: one issuance per
//! link, one pending renewal per certificate, every wrong one-time code counted.

use std::sync::Arc;

use orgcert_pki::KeyAlgorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const DEMO_CVR_TEXT: &str = "12345674";

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// Opens a PKCS#12 with its password (p12-keystore) and returns the certificate DERs.
pub fn open_p12(bytes: &[u8], password: &str) -> Vec<Vec<u8>> {
    let ks = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .unwrap_or_else(|e| panic!("PKCS#12 does not open with its password: {e:?}"));
    let mut certs = Vec::new();
    for (_, entry) in ks.entries() {
        if let p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) = entry {
            certs.extend(chain.certs().iter().map(|c| c.as_der().to_vec()));
        }
    }
    assert!(!certs.is_empty(), "PKCS#12 without a key and chain");
    certs
}

#[tokio::test]
async fn twelve_concurrent_issues_on_one_link_give_one_certificate() {
    let app = Arc::new(spawn_app_with(KeyAlgorithm::EcdsaP256).await);
    let c = app.create(json!({ "key_algorithm": "ecdsa-p256" })).await;
    let c = c.ok(201).clone();
    let url = s(&c["issuance_url"]);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            let url = url.clone();
            tokio::spawn(async move { app.issue_via(&url, json!({ "accept_terms": true })).await })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        let a = t.await.expect("task");
        match a.status.as_u16() {
            201 => won.push(a.body.clone()),
            409 => {
                a.problem(409, None);
            }
            _ => panic!("neither 201 nor 409: {a:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one issuance wins");
    let w = &won[0];
    let dl = app
        .call(Method::GET, &s(&w["download_url"]), None, None, &[])
        .await;
    assert_eq!(dl.status, 200, "the winner's download works: {dl:?}");
    let certs = open_p12(&dl.bytes, &s(&w["password"]));
    let pem = s(&w["certificate_pem"]);
    let flat = |p: &str| p.split_whitespace().collect::<String>();
    assert!(
        certs
            .iter()
            .any(|d| flat(&orgcert_pki::to_pem("CERTIFICATE", d)) == flat(&pem)),
        "the PKCS#12 holds the issued certificate"
    );
    // The link is used up; the certificate is issued once.
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .problem(409, None);
    let serial = s(&w["serial"]);
    let got = app
        .get(&format!("/v1/certificates/{serial}"), &app.admin())
        .await;
    assert_eq!(got.ok(200)["status"], "issued");
}

#[tokio::test]
async fn eight_concurrent_renewals_make_one_pending_renewal() {
    let app = Arc::new(spawn_app_with(KeyAlgorithm::EcdsaP256).await);
    let (c, issued) = app
        .create_issued(json!({ "key_algorithm": "ecdsa-p256" }))
        .await;
    let serial = s(&issued["serial"]);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            let path = format!("/v1/certificates/{serial}/renew");
            tokio::spawn(async move { app.post(&path, &app.admin(), json!({})).await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let a = t.await.expect("task");
        match a.status.as_u16() {
            201 => created += 1,
            409 => {
                a.problem(409, None);
            }
            _ => panic!("neither 201 nor 409: {a:?}"),
        }
    }
    assert_eq!(created, 1, "one renewal at a time");
    let profile: uuid::Uuid = s(&c["profile"]["id"]).parse().expect("uuid");
    let svc = app.service.clone();
    let list = app
        .on_service(async move {
            let org = orgcert_core::ids::Cvr::parse(DEMO_CVR_TEXT).expect("cvr");
            svc.ports()
                .store
                .certificates_of(&org, profile)
                .await
                .expect("read")
        })
        .await;
    let pending: Vec<_> = list
        .iter()
        .filter(|c| {
            c.status == orgcert_core::model::CertStatus::Pending
                && c.renewal_of.as_ref().map(|r| r.to_string()) == Some(serial.clone())
        })
        .collect();
    assert_eq!(pending.len(), 1, "{list:?}");
    // Deleting the renewal makes room for a new one.
    let renewal = pending[0].serial.to_string();
    assert_eq!(
        app.delete(&format!("/v1/certificates/{renewal}"), &app.admin())
            .await
            .status,
        204
    );
    app.act(&serial, "renew", json!({})).await.ok(201);
    app.act(&serial, "renew", json!({}))
        .await
        .problem(409, None);
}

#[tokio::test]
async fn parallel_wrong_codes_are_all_counted_and_lock() {
    let app = Arc::new(spawn_app_with(KeyAlgorithm::EcdsaP256).await);
    let c = app
        .create(json!({ "identification": "one_time_code", "key_algorithm": "ecdsa-p256" }))
        .await;
    let c = c.ok(201).clone();
    let (code, reference) = (s(&c["one_time_code"]), s(&c["reference"]));
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let app = app.clone();
            let reference = reference.clone();
            tokio::spawn(async move {
                app.post(
                    "/v1/issuance/redeem",
                    &app.contact(),
                    json!({ "reference": reference, "code": format!("WRONG{i}"), "accept_terms": true }),
                )
                .await
            })
        })
        .collect();
    let (mut counted, mut locked) = (0, 0);
    for t in tasks {
        let a = t.await.expect("task");
        match a.status.as_u16() {
            422 => {
                a.problem(422, Some("code"));
                counted += 1;
            }
            423 => {
                a.problem(423, None);
                locked += 1;
            }
            _ => panic!("neither 422 nor 423: {a:?}"),
        }
    }
    // Four answers say "n attempts left"; the fifth counted one locks; the rest are refused.
    assert_eq!(counted, 4, "wrong codes counted before the lock");
    assert_eq!(locked, 8);
    let svc = app.service.clone();
    let stored = app
        .on_service(async move {
            svc.ports()
                .store
                .secret_by_reference(&reference)
                .await
                .expect("read")
                .expect("secret")
        })
        .await;
    match stored.kind {
        orgcert_core::model::SecretKind::OneTimeCode {
            failed_attempts, ..
        } => assert_eq!(failed_attempts, 5),
        other => panic!("{other:?}"),
    }
    assert!(
        stored.hash.starts_with("hmac-sha256:"),
        "codes are stored as a keyed hash"
    );
    app.post(
        "/v1/issuance/redeem",
        &app.contact(),
        json!({ "reference": s(&c["reference"]), "code": code, "accept_terms": true }),
    )
    .await
    .problem(423, None);
}

/// The pending certificate and secret of a link, read where the service runs.
async fn stored_order(
    app: &TestApp,
    serial: &str,
) -> (
    orgcert_core::model::Certificate,
    orgcert_core::model::IssuanceSecret,
) {
    let svc = app.service.clone();
    let serial: orgcert_core::ids::Serial = serial.parse().expect("serial");
    app.on_service(async move {
        let cert = svc
            .ports()
            .store
            .certificate_any_org(&serial)
            .await
            .expect("read")
            .expect("certificate");
        let hash = cert.secret_hash.clone().expect("secret hash");
        let secret = svc
            .ports()
            .store
            .secret(&hash)
            .await
            .expect("read")
            .expect("secret");
        (cert, secret)
    })
    .await
}

async fn commit(app: &TestApp, writes: Vec<orgcert_core::ports::Write>) {
    let svc = app.service.clone();
    app.on_service(async move { svc.ports().store.commit(writes).await.expect("commit") })
        .await;
}

/// Stores `cert` (over the stored version `expected`) and `secret` (over `secret_expected`)
/// in one commit.
async fn put_order(
    app: &TestApp,
    cert: orgcert_core::model::Certificate,
    expected: u64,
    secret: orgcert_core::model::IssuanceSecret,
    secret_expected: Option<u64>,
) {
    use orgcert_core::ports::Write;
    let put_cert = {
        let expected = Some(expected);
        Write::PutCertificate { cert, expected }
    };
    let expected = secret_expected;
    commit(app, vec![put_cert, Write::PutSecret { secret, expected }]).await;
}

#[tokio::test]
async fn a_crashed_claim_lapses_and_blocks_delete_until_then() {
    use orgcert_core::model::IssuanceClaim;
    let app = spawn_app_with(KeyAlgorithm::EcdsaP256).await;
    let c = app.create(json!({ "key_algorithm": "ecdsa-p256" })).await;
    let c = c.ok(201).clone();
    let (url, serial) = (s(&c["issuance_url"]), s(&c["certificate"]["serial"]));
    // A process claimed the order and died before signing: its claim stays behind.
    let (cert, secret) = stored_order(&app, &serial).await;
    let claim = IssuanceClaim {
        attempt: uuid::Uuid::new_v4(),
        until: app.clock_now() + orgcert_core::app::CLAIM_TTL,
    };
    let (mut c2, mut s2) = (cert.clone(), secret.clone());
    c2.claim = Some(claim.clone());
    c2.version += 1;
    s2.claim = Some(claim);
    s2.version += 1;
    put_order(&app, c2, cert.version, s2, Some(secret.version)).await;
    let busy = app.issue_via(&url, json!({ "accept_terms": true })).await;
    busy.problem(409, None);
    assert!(s(&busy.body["detail"]).contains("being issued"), "{busy:?}");
    app.delete(&format!("/v1/certificates/{serial}"), &app.admin())
        .await
        .problem(409, None);
    // After the claim's lifetime the link works again, once.
    app.clock
        .advance(orgcert_core::app::CLAIM_TTL + time::Duration::seconds(1));
    let ok = app.issue_via(&url, json!({ "accept_terms": true })).await;
    assert_eq!(s(&ok.ok(201)["serial"]), serial);
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .problem(409, None);
}

#[tokio::test]
async fn codes_stored_before_keyed_hashes_still_redeem() {
    use orgcert_core::ports::Write;
    let app = spawn_app_with(KeyAlgorithm::EcdsaP256).await;
    let c = app
        .create(json!({ "identification": "one_time_code", "key_algorithm": "ecdsa-p256" }))
        .await;
    let c = c.ok(201).clone();
    let (code, reference, serial) = (
        s(&c["one_time_code"]),
        s(&c["reference"]),
        s(&c["certificate"]["serial"]),
    );
    // Rewrite the order as an older release stored it: the code as bare SHA-256.
    let (cert, secret) = stored_order(&app, &serial).await;
    let legacy = orgcert_core::secrets::hash_secret(&code);
    let (mut c2, mut s2) = (cert.clone(), secret.clone());
    c2.secret_hash = Some(legacy.clone());
    c2.version += 1;
    s2.hash = legacy;
    s2.version = 1;
    commit(
        &app,
        vec![Write::DeleteSecret {
            hash: secret.hash.clone(),
        }],
    )
    .await;
    put_order(&app, c2, cert.version, s2, None).await;
    app.post(
        "/v1/issuance/redeem",
        &app.contact(),
        json!({ "reference": reference, "code": "WRONGCODE", "accept_terms": true }),
    )
    .await
    .problem(422, Some("code"));
    let ok = app
        .post(
            "/v1/issuance/redeem",
            &app.contact(),
            json!({ "reference": reference, "code": code, "accept_terms": true }),
        )
        .await;
    assert_eq!(s(&ok.ok(201)["serial"]), serial);
}
