//! Revocation status, directory and scheduled jobs, checked with OpenSSL and pkilint.

use std::path::Path;
use std::sync::Arc;

use orgcert_pki::KeyAlgorithm;
use orgcert_tests::counting::CountingStore;
use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

/// `openssl ocsp` as a client of our responder (blocking, so off the async workers).
async fn ocsp_client(d: &Path, url: &str, extra: &[&str]) -> String {
    let mut args: Vec<String> = [
        "ocsp",
        "-issuer",
        "ca.pem",
        "-url",
        url,
        "-CAfile",
        "ca.pem",
        "-resp_text",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let d = d.to_path_buf();
    tokio::task::spawn_blocking(move || {
        must(
            &d,
            "openssl",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    })
    .await
    .expect("openssl task")
}

/// Orders and issues a certificate; returns (serial, PEM).
async fn issue(app: &TestApp, fields: Value) -> (String, String) {
    let mut f = json!({ "key_algorithm": "ecdsa-p256" });
    for (k, v) in fields.as_object().cloned().unwrap_or_default() {
        f[k] = v;
    }
    let c = app.create(f).await;
    let url = c.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    let i = app.issue_via(&url, json!({ "accept_terms": true })).await;
    let i = i.ok(201);
    (
        i["serial"].as_str().unwrap().to_owned(),
        i["certificate_pem"].as_str().unwrap().to_owned(),
    )
}

async fn save(app: &TestApp, path: &str, file: &Path) -> Vec<u8> {
    let a = app.call(Method::GET, path, None, None, &[]).await;
    assert_eq!(a.status, 200, "{path}");
    std::fs::write(file, &a.bytes).unwrap();
    a.bytes
}

fn crl_pem(d: &Path) {
    must(
        d,
        "openssl",
        &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"],
    );
}

/// `openssl crl -text` of the DER CRL `file` in `d`.
fn crl_text(d: &Path, file: &str) -> String {
    let args = ["crl", "-inform", "DER", "-in", file, "-noout", "-text"];
    must(d, "openssl", &args)
}

/// `openssl verify -crl_check` of `leaf` in `d` against ca.pem and crl.pem: whether it
/// verified, and openssl's output.
fn verify_with_crl(d: &Path, leaf: &str) -> (bool, String) {
    let args = [
        "verify",
        "-crl_check",
        "-CAfile",
        "ca.pem",
        "-CRLfile",
        "crl.pem",
        leaf,
    ];
    run(d, "openssl", &args)
}

/// pkilint's `lint_crl` (PKIX, errors) of crl.der in `d`, the CRL of `what`; pkilint()
/// decides whether a missing pkilint skips or fails.
fn lint_crl(d: &Path, what: &str) {
    if let Some(bin) = pkilint() {
        let (ok, out) = run(
            d,
            bin.join("lint_crl").to_str().unwrap(),
            &["lint", "-t", "CRL", "-p", "PKIX", "-s", "ERROR", "crl.der"],
        );
        assert!(ok, "lint_crl {what}:\n{out}");
    }
}

#[tokio::test]
async fn crl_lists_revocations_and_openssl_verifies_with_it() {
    for ca in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
        let app = spawn_app_with(ca).await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        save(&app, "/public/ca.pem", &d.join("ca.pem")).await;
        let (_, good) = issue(&app, json!({ "name": "Good" })).await;
        let (bad_serial, bad) = issue(&app, json!({ "name": "Bad" })).await;
        let (other_serial, _) = issue(&app, json!({ "name": "Other" })).await;
        std::fs::write(d.join("good.pem"), good).unwrap();
        std::fs::write(d.join("bad.pem"), bad).unwrap();

        save(&app, "/public/crl", &d.join("crl.der")).await;
        let text = must(
            d,
            "openssl",
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
            ],
        );
        assert!(
            text.contains("verify OK")
                || must(
                    d,
                    "openssl",
                    &["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout"]
                )
                .contains("verify OK"),
            "{text}"
        );
        assert!(text.contains("No Revoked Certificates"), "{text}");

        app.revoke(&bad_serial, json!({ "reason": "keyCompromise" }))
            .await
            .ok(200);
        app.revoke(&other_serial, json!({ "reason": "unspecified" }))
            .await
            .ok(200);
        // The CRL is rebuilt in the background shortly after a revocation. AWS has no
        // background rebuild (the composition uses `NoEvents`): its crl-refresh schedule,
        // every minute, picks the revocations up.
        if app.backend == Backend::Aws {
            let r = app.run_job("crl-refresh").await;
            assert_eq!(
                r["detail"]["crls_rebuilt"].as_array().map(Vec::len),
                Some(1),
                "{r}"
            );
        }
        let mut listed = false;
        for _ in 0..100 {
            save(&app, "/public/crl", &d.join("crl.der")).await;
            let t = crl_text(d, "crl.der");
            if t.to_ascii_lowercase().contains(&bad_serial)
                && t.to_ascii_lowercase().contains(&other_serial)
            {
                listed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(listed, "the CRL did not list the revocations within 10 s");
        let verify = must(
            d,
            "openssl",
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout",
            ],
        );
        assert!(verify.contains("verify OK"), "{verify}");
        let text = crl_text(d, "crl.der");
        assert!(text.contains("Key Compromise"), "{text}");
        assert_eq!(
            text.matches("CRL Reason Code").count(),
            1,
            "no reasonCode for unspecified: {text}"
        );
        let number = |t: &str| {
            t.lines()
                .skip_while(|l| !l.contains("X509v3 CRL Number"))
                .nth(1)
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let before = number(&text);
        crl_pem(d);
        let (ok, out) = verify_with_crl(d, "bad.pem");
        assert!(!ok && out.contains("certificate revoked"), "{out}");
        let (ok, out) = verify_with_crl(d, "good.pem");
        assert!(ok, "{out}");
        assert!(out.contains("good.pem: OK"), "{out}");

        // Nothing changed: the job leaves the CRL alone; past half its validity it rebuilds
        // with a higher number.
        let r = app.run_job("crl-refresh").await;
        assert_eq!(r["detail"]["crls_rebuilt"], json!([]), "{r}");
        app.clock.advance(Duration::hours(13));
        app.run_job("crl-refresh").await;
        save(&app, "/public/crl", &d.join("crl.der")).await;
        let after = number(&crl_text(d, "crl.der"));
        assert!(
            after.parse::<u64>().unwrap() > before.parse::<u64>().unwrap(),
            "{before} -> {after}"
        );

        lint_crl(d, &format!("under {ca:?}"));
    }
}

#[tokio::test]
async fn partitioned_crls_carry_a_critical_idp_and_match_the_certificate() {
    let app = spawn_configured(tempfile::tempdir().unwrap(), KeyAlgorithm::EcdsaP256, |c| {
        c.crl_partitions = 4
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    save(&app, "/public/ca.pem", &d.join("ca.pem")).await;
    let (serial, pem) = issue(&app, json!({})).await;
    std::fs::write(d.join("leaf.pem"), &pem).unwrap();
    let text = must(
        d,
        "openssl",
        &["x509", "-in", "leaf.pem", "-noout", "-text"],
    );
    let dp = text
        .lines()
        .find(|l| l.contains("URI:http://pki.example.dk/public/crl/"))
        .expect("partition DP")
        .trim()
        .to_owned();
    let part = dp.rsplit('/').next().unwrap().to_owned();
    app.revoke(&serial, json!({ "reason": "superseded" }))
        .await
        .ok(200);
    app.run_job("crl-refresh").await;
    save(&app, &format!("/public/crl/{part}"), &d.join("crl.der")).await;
    let t = must(
        d,
        "openssl",
        &[
            "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
        ],
    );
    assert!(t.contains("Issuing Distribution Point: critical"), "{t}");
    assert!(t.contains(&format!("/public/crl/{part}")), "{t}");
    crl_pem(d);
    let (ok, out) = verify_with_crl(d, "leaf.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    // The full CRL lists it too; unknown partitions are 404.
    save(&app, "/public/crl", &d.join("full.der")).await;
    let full = crl_text(d, "full.der");
    assert!(full.to_ascii_lowercase().contains(&serial), "{full}");
    assert_eq!(
        app.call(Method::GET, "/public/crl/9", None, None, &[])
            .await
            .status,
        404
    );
    lint_crl(d, "partition");
}

#[tokio::test]
async fn ocsp_answers_good_revoked_unknown_and_verifies() {
    for delegated in [true, false] {
        if !delegated && Backend::current() == Backend::Aws {
            println!(
                "ocsp, CA-signed: skipped on AWS (the AWS composition always answers with \
                 the delegated responder: no OCSP answer costs a KMS signature)"
            );
            continue;
        }
        let app = spawn_configured(tempfile::tempdir().unwrap(), KeyAlgorithm::Rsa3072, |c| {
            c.ocsp_delegated = delegated
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        save(&app, "/public/ca.pem", &d.join("ca.pem")).await;
        // The CA and root files change only at a rollover: caches (a CDN) may keep them.
        for file in [
            "/public/ca.pem",
            "/public/ca.cer",
            "/public/root.pem",
            "/public/root.cer",
        ] {
            let a = app.call(Method::GET, file, None, None, &[]).await;
            assert_eq!(a.status, 200, "{file}");
            assert_eq!(a.headers["cache-control"], "public, max-age=3600", "{file}");
        }
        let (serial, pem) = issue(&app, json!({})).await;
        std::fs::write(d.join("leaf.pem"), &pem).unwrap();
        let url = format!("{}/ocsp", app.base);
        let out = ocsp_client(d, &url, &["-cert", "leaf.pem"]).await;
        assert!(
            out.contains("Response verify OK") && out.contains("leaf.pem: good"),
            "{out}"
        );
        assert_eq!(
            out.contains("OCSP Responder"),
            delegated,
            "responder certificate included only when delegated:\n{out}"
        );

        app.revoke(&serial, json!({ "reason": "keyCompromise" }))
            .await
            .ok(200);
        let out = ocsp_client(d, &url, &["-sha256", "-cert", "leaf.pem"]).await;
        assert!(
            out.contains("Response verify OK") && out.contains("leaf.pem: revoked"),
            "{out}"
        );
        assert!(out.contains("keyCompromise"), "{out}");

        let out = ocsp_client(d, &url, &["-serial", "0x4a1b2c3d4e5f60718293a4b5c6d7e8f9"]).await;
        assert!(
            out.contains("Response verify OK") && out.contains(": unknown"),
            "{out}"
        );

        // GET (RFC 6960 A.1), and a burst answered from the pre-signed response: ECDSA and
        // PKCS#1 signatures over the same producedAt would be identical anyway, so compare
        // with a response signed later — the bytes stay those of the stored response.
        let req = orgcert_tests::tools::openssl_ocsp_request(d, "ca.pem", "leaf.pem");
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
        let enc: String = b64
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let first = app
            .call(Method::GET, &format!("/ocsp/{enc}"), None, None, &[])
            .await;
        assert_eq!(first.status, 200);
        assert_eq!(first.headers["content-type"], "application/ocsp-response");
        // RFC 5019 §6.2: a pre-signed answer carries caching headers; max-age stays short
        // (a revocation replaces it at once here).
        assert_eq!(
            first.headers["cache-control"],
            "max-age=60, public, no-transform, must-revalidate"
        );
        for h in ["etag", "last-modified", "expires"] {
            assert!(first.headers.contains_key(h), "{h}: {:?}", first.headers);
        }
        let modified = first.headers["last-modified"].to_str().unwrap();
        assert!(modified.ends_with(" GMT"), "{modified}");
        app.clock.advance(Duration::minutes(5));
        for _ in 0..20 {
            let again = app
                .call(Method::GET, &format!("/ocsp/{enc}"), None, None, &[])
                .await;
            assert_eq!(
                again.bytes, first.bytes,
                "answered from the pre-signed response"
            );
        }
        std::fs::write(d.join("resp.der"), &first.bytes).unwrap();
        let out = must(
            d,
            "openssl",
            &[
                "ocsp",
                "-respin",
                "resp.der",
                "-issuer",
                "ca.pem",
                "-CAfile",
                "ca.pem",
                "-cert",
                "leaf.pem",
                "-resp_text",
            ],
        );
        assert!(
            out.contains("Response verify OK") && out.contains("leaf.pem: revoked"),
            "{out}"
        );
        if let Some(bin) = pkilint() {
            let (ok, out) = run(
                d,
                bin.join("lint_ocsp_response").to_str().unwrap(),
                &["lint", "-s", "ERROR", "resp.der"],
            );
            assert!(ok, "lint_ocsp_response (delegated={delegated}):\n{out}");
        }
        // Garbage is a malformedRequest answer, not an HTTP error.
        let bad = app
            .http
            .post(&url)
            .header("content-type", "application/ocsp-request")
            .body(vec![1, 2, 3])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 200);
        // An error status is not for shared caches.
        assert_eq!(bad.headers()["cache-control"], "no-cache");
        assert_eq!(
            bad.bytes().await.unwrap().as_ref(),
            &[0x30, 0x03, 0x0a, 0x01, 0x01]
        );
    }
}

#[tokio::test]
async fn directory_shows_only_published_certificates() {
    let app = spawn_app().await;
    let (pub_serial, pem) = issue(
        &app,
        json!({ "name": "Published", "publish": true, "certificate_email": "pub@demo-org.dk" }),
    )
    .await;
    let (hidden, _) = issue(
        &app,
        json!({ "name": "Hidden", "publish": false, "certificate_email": "pub@demo-org.dk" }),
    )
    .await;
    let pending = app
        .create(
            json!({ "name": "Pending", "publish": true, "certificate_email": "pub@demo-org.dk" }),
        )
        .await;
    let pending_pid = pending.ok(201)["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |q: String| {
        let app = &app;
        async move {
            app.call(
                Method::GET,
                &format!("/public/certificates?{q}"),
                None,
                None,
                &[],
            )
            .await
        }
    };
    let by_email = get("email=PUB@demo-org.dk".into()).await;
    let items = by_email.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["serial"], pub_serial.as_str());
    assert_eq!(items[0]["status"], "issued");
    assert_eq!(
        get("cvr=12345674".to_string()).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get(format!("serial={hidden}")).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        get(format!("uuid={pending_pid}")).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    get(String::new()).await.problem(422, Some("query"));
    get("cvr=12345678".into()).await.problem(422, Some("cvr"));
    get("cvr=123".into()).await.problem(400, Some("cvr"));
    get("name=x".into()).await.problem(400, Some("name"));
    let pem_url = items[0]["pem_url"].as_str().unwrap();
    let got = app.call(Method::GET, pem_url, None, None, &[]).await;
    assert_eq!(String::from_utf8(got.bytes).unwrap(), pem);
    let der = app
        .call(
            Method::GET,
            items[0]["der_url"].as_str().unwrap(),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(der.headers["content-type"], "application/pkix-cert");
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/public/certificates/{hidden}/certificate.pem"),
            None,
            None,
            &[]
        )
        .await
        .status,
        404
    );
    // Revocation shows; the rate limit answers 429 with Retry-After.
    app.revoke(&pub_serial, json!({ "reason": "cessationOfOperation" }))
        .await
        .ok(200);
    let mut limited = None;
    for _ in 0..60 {
        let a = get(format!("serial={pub_serial}")).await;
        if a.status == 429 {
            limited = Some(a);
            break;
        }
        assert_eq!(
            a.body["items"][0]["revocation_reason"],
            "cessationOfOperation"
        );
    }
    let limited = limited.expect("rate limited within 60 requests");
    limited.problem(429, None);
    assert!(limited.headers.get("retry-after").is_some());
}

async fn mails(app: &TestApp, subject_prefix: &str) -> Vec<Value> {
    app.outbox()
        .await
        .into_iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with(subject_prefix)
        })
        .collect()
}

#[tokio::test]
async fn renewal_reminders_one_digest_per_threshold_none_for_renewed_none_twice() {
    let app = spawn_app().await;
    let (a, _) = issue(&app, json!({ "name": "Alpha" })).await;
    let (b, _) = issue(&app, json!({ "name": "Beta" })).await;
    let other = app.create(json!({ "name": "Other contact", "contact_email": "someone@demo-org.dk", "key_algorithm": "ecdsa-p256" })).await;
    let token = link_token(other.ok(201)["issuance_url"].as_str().unwrap()).to_owned();
    let someone = app.token("someone@demo-org.dk", &[]);
    app.post(
        &format!("/v1/issuance/{token}"),
        &someone,
        json!({ "accept_terms": true }),
    )
    .await
    .ok(201);
    let got = app
        .get(&format!("/v1/certificates/{a}"), &app.admin())
        .await;
    let not_after = time::OffsetDateTime::parse(
        got.body["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let prefix = "Your certificates expire within";

    app.clock.set(not_after - Duration::days(95));
    app.run_job("renewal-reminders").await;
    assert_eq!(mails(&app, prefix).await.len(), 0);

    app.clock.set(not_after - Duration::days(89));
    let r = app.run_job("renewal-reminders").await;
    assert_eq!(r["detail"]["mails"], 2, "{r}");
    let m = mails(&app, prefix).await;
    let to_contact: Vec<&Value> = m.iter().filter(|m| m["to"] == CONTACT).collect();
    assert_eq!(
        to_contact.len(),
        1,
        "one digest for both of the contact's certificates"
    );
    let text = to_contact[0]["text"].as_str().unwrap();
    assert!(
        text.contains(&a)
            && text.contains(&b)
            && to_contact[0]["subject"]
                .as_str()
                .unwrap()
                .contains("90 days"),
        "{text}"
    );
    // Twice, and concurrently: nothing more.
    let (x, y) = tokio::join!(
        app.run_job("renewal-reminders"),
        app.run_job("renewal-reminders")
    );
    assert_eq!(
        x["detail"]["mails"].as_u64().unwrap() + y["detail"]["mails"].as_u64().unwrap(),
        0
    );
    assert_eq!(mails(&app, prefix).await.len(), 2);
    let notes = app.get("/v1/notifications", &app.contact()).await;
    assert!(notes.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["subject"].as_str().unwrap().starts_with(prefix)));

    // Renew and issue Alpha: it gets no further reminders; Beta does.
    let r = app.act(&a, "renew", json!({})).await;
    let url = r.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .ok(201);
    app.clock.set(not_after - Duration::days(29));
    app.run_job("renewal-reminders").await;
    app.clock.set(not_after - Duration::days(6));
    let (x, y) = tokio::join!(
        app.run_job("renewal-reminders"),
        app.run_job("renewal-reminders")
    );
    assert_eq!(
        x["detail"]["mails"].as_u64().unwrap() + y["detail"]["mails"].as_u64().unwrap(),
        2,
        "{x} {y}"
    );
    let m = mails(&app, prefix).await;
    let to_contact: Vec<&Value> = m.iter().filter(|m| m["to"] == CONTACT).collect();
    assert_eq!(to_contact.len(), 3, "90, 30 and 7 days: {to_contact:?}");
    for (mail, days) in to_contact[1..].iter().zip(["30 days", "7 days"]) {
        let t = mail["text"].as_str().unwrap();
        assert!(mail["subject"].as_str().unwrap().contains(days));
        assert!(
            t.contains(&b) && !t.contains(&a),
            "renewed Alpha is skipped: {t}"
        );
    }
}

#[tokio::test]
async fn reminder_cost_follows_the_certificates_due_not_the_store_size() {
    use orgcert_core::ports::{Store, Write};
    use orgcert_tests::conformance::{issued, pending, profile, summarised};
    let app = spawn_app().await;
    let org = orgcert_core::ids::Cvr::parse("12345674").unwrap();
    let now = app.clock_now();
    // 10,000 issued certificates, 40 of them within 90 days of expiry.
    let mut writes = Vec::new();
    for i in 0..10_000u32 {
        let p = profile(&org, &format!("Bulk {i}"));
        let issued_at = if i < 40 {
            now - Duration::days(1095 - 60)
        } else {
            now - Duration::days(i64::from(i % 900))
        };
        let c = issued(&pending(&p, issued_at), issued_at);
        let p = summarised(&p, &c);
        writes.push(Write::PutProfile {
            profile: p,
            expected: None,
        });
        writes.push(Write::PutCertificate {
            cert: c,
            expected: None,
        });
    }
    let (store, dynamo): (Arc<dyn Store>, _) = match &app.composition {
        Composition::Local(l) => {
            for batch in writes.chunks(1000) {
                l.store.commit(batch.to_vec()).await.unwrap();
            }
            (l.store.clone(), None)
        }
        Composition::Aws(a) => {
            // moto copies every table for each transaction: load the fixtures as an
            // import (BatchWriteItem) instead.
            let store = a.aws.store.clone();
            let started = std::time::Instant::now();
            a.run(async move { store.import(writes).await })
                .await
                .unwrap();
            println!(
                "imported 10,000 profiles and certificates into DynamoDB (moto) in {:.1?}",
                started.elapsed()
            );
            (a.aws.store.clone(), Some(a.aws.store.clone()))
        }
    };
    let dynamo_before = dynamo.as_ref().map(|d| d.read_stats());
    let counting = Arc::new(CountingStore::new(store));
    let jobs_app = app
        .service
        .clone()
        .rewired(|p, _| p.store = counting.clone());
    let report = app
        .on_service(async move {
            jobs_app
                .run_job(orgcert_core::app::Job::RenewalReminders, now)
                .await
        })
        .await
        .unwrap();
    let (calls, items) = counting.counts();
    println!("renewal reminders over 10,000 certificates, 40 due: {report:?}; store reads: {calls} calls, {items} records");
    assert_eq!(report.detail["certificates"], 40);
    if let (Some(d), Some(before)) = (dynamo, dynamo_before) {
        let used = d.read_stats() - before;
        println!(
            "DynamoDB: {} read calls (GetItem + Query), {} items read (ScannedCount)",
            used.calls, used.items
        );
        assert!(
            used.items <= 40 * 2 + 5 && used.calls <= 40 + 10,
            "DynamoDB reads follow the 40 due: {used:?}"
        );
    }
    assert!(
        items <= 40 * 2 + 5 && calls <= 40 + 5,
        "reads follow the 40 due: {calls} calls, {items} records"
    );
}

#[tokio::test]
async fn housekeeping_removes_expired_secrets_and_pkcs12_files() {
    let app = spawn_app().await;
    app.create(json!({ "issuing": "email" })).await.ok(201);
    let link = app
        .last_mail(CONTACT, "Download an organisation certificate")
        .await["links"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let c = app.create(json!({})).await;
    let url = c.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    let issued = app.issue_via(&url, json!({ "accept_terms": true })).await;
    let download = issued.ok(201)["download_url"].as_str().unwrap().to_owned();
    let r = app.run_job("housekeeping").await;
    assert_eq!(r["detail"]["pkcs12_deleted"], 0, "{r}");
    app.clock.advance(Duration::days(16));
    let r = app.run_job("housekeeping").await;
    assert!(r["detail"]["secrets_deleted"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["detail"]["pkcs12_deleted"], 1, "{r}");
    app.issue_via(&link, json!({ "accept_terms": true }))
        .await
        .problem(404, None);
    let gone = app.call(Method::GET, &download, None, None, &[]).await;
    app.assert_download_gone(&gone);
}
