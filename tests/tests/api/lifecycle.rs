//! The whole lifecycle of the user's guide, over HTTP.

use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

#[tokio::test]
async fn full_lifecycle_walk() {
    let app = spawn_app().await;
    let admin = app.admin();
    let contact = app.contact();

    let org = app.get("/v1/organisation", &admin).await;
    assert_eq!(org.ok(200)["p_numbers"].as_array().unwrap().len(), 2);

    // --- user_login + direct (organisation, RSA key, P/SE/EAN chosen) ---
    let direct = app
        .create(json!({ "name": "Signing system", "p_number": "1000000002", "se_number": "23456780",
                        "ean": "5790001330583", "certificate_email": "signing@demo-org.dk", "contact_name": "Carl Contact" }))
        .await;
    let d = direct.ok(201).clone();
    assert_eq!(d["certificate"]["status"], "pending");
    assert_eq!(d["profile"]["status"], "pending");
    let url = s(&d["issuance_url"]);
    assert!(url.starts_with(&format!("{}/issue/", app.base)), "{url}");
    let info = app
        .get(&format!("/v1/issuance/{}", link_token(&url)), &contact)
        .await;
    let info = info.ok(200);
    assert_eq!(info["name"], "Signing system");
    assert_eq!(info["cvr"], "12345674");
    assert!(info["terms"].as_str().unwrap().len() > 20);
    let issued = app.issue_via(&url, json!({ "accept_terms": true })).await;
    let issued = issued.ok(201).clone();
    let password = s(&issued["password"]);
    assert!(password.len() >= 20);
    assert!(s(&issued["certificate_pem"]).starts_with("-----BEGIN CERTIFICATE-----"));
    let first_serial = s(&issued["serial"]);
    assert_eq!(first_serial, s(&d["certificate"]["serial"]));
    let profile_direct = s(&d["profile"]["id"]);

    // The password is never stored: not in the database (file or table) nor the outbox.
    let db = app.stored_bytes().await;
    assert!(!db.windows(password.len()).any(|w| w == password.as_bytes()));
    assert!(
        db.windows(first_serial.len())
            .any(|w| w == first_serial.as_bytes()),
        "the stored bytes hold the records (the serial)"
    );

    // PKCS#12 through the signed link; it expires.
    let dl = app
        .call(Method::GET, &s(&issued["download_url"]), None, None, &[])
        .await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.headers["content-type"], "application/x-pkcs12");
    assert!(dl.bytes.len() > 1000);
    app.clock.advance(Duration::minutes(11));
    let late = app
        .call(Method::GET, &s(&issued["download_url"]), None, None, &[])
        .await;
    app.assert_link_expired(&late);
    let tampered = app.tampered_link(&s(&issued["download_url"]));
    app.assert_link_forged(&app.call(Method::GET, &tampered, None, None, &[]).await);

    // Reusing the link fails.
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .problem(409, None);

    // --- user_login + email (system certificate, EC key) ---
    let email = app
        .create(json!({ "type": "system", "name": "Payroll integration", "issuing": "email", "key_algorithm": "ecdsa-p256",
                        "system_rights": { "administration_api": true } }))
        .await;
    let e = email.ok(201).clone();
    assert_eq!(e["mailed_to"], CONTACT);
    assert!(e.get("issuance_url").is_none());
    let mail = app
        .last_mail(CONTACT, "Download a system certificate")
        .await;
    let link = s(&mail["links"][0]);
    assert!(s(&mail["text"]).contains(&link));
    let notes = app.get("/v1/notifications", &contact).await;
    let notes = notes.ok(200);
    assert!(notes["unread"].as_u64().unwrap() >= 1);
    assert!(notes["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["subject"] == "Download a system certificate" && n["link"] == link.as_str()));
    let unread = notes["unread"].as_u64().unwrap();
    let read = app
        .post("/v1/notifications/read", &contact, json!({}))
        .await;
    assert_eq!(read.ok(200)["unread"], 0);
    assert!(unread >= 1);
    let admin_notes = app.get("/v1/notifications", &admin).await;
    assert_eq!(admin_notes.ok(200)["items"].as_array().unwrap().len(), 0);
    let sys = app
        .issue_via(
            &link,
            json!({ "accept_terms": true, "p12_format": "legacy" }),
        )
        .await;
    let sys = sys.ok(201).clone();
    assert!(sys["password"].is_string());
    let profile_email = s(&e["profile"]["id"]);

    // --- one_time_code ---
    let otc = app
        .create(json!({ "name": "Code profile", "identification": "one_time_code" }))
        .await;
    let o = otc.ok(201).clone();
    let code = s(&o["one_time_code"]);
    let reference = s(&o["reference"]);
    let mail = app
        .last_mail(CONTACT, "Download an organisation certificate")
        .await;
    assert!(s(&mail["text"]).contains(&reference));
    assert!(
        !s(&mail["text"]).contains(&code),
        "the code goes to the admin only"
    );
    let redeemed = app
        .post(
            "/v1/issuance/redeem",
            &contact,
            json!({ "reference": reference, "code": code.to_lowercase(), "accept_terms": true }),
        )
        .await;
    assert_eq!(redeemed.ok(201)["status"], "issued");

    // --- api: waits for the IdM system, no link ---
    let api = app.create(json!({ "type": "system", "name": "IdM order", "identification": "api", "issuing": "api" })).await;
    let a = api.ok(201).clone();
    assert_eq!(a["awaiting"], "api");
    assert!(a.get("issuance_url").is_none() && a.get("one_time_code").is_none());
    let api_serial = s(&a["certificate"]["serial"]);

    // --- renew the direct certificate, issue the renewal ---
    let renewal = app.act(&first_serial, "renew", json!({})).await;
    let r = renewal.ok(201).clone();
    assert_eq!(r["certificate"]["renewal_of"], first_serial.as_str());
    assert_eq!(r["certificate"]["status"], "pending");
    app.act(&first_serial, "renew", json!({}))
        .await
        .problem(409, None);
    let renewed = app
        .issue_via(&s(&r["issuance_url"]), json!({ "accept_terms": true }))
        .await;
    let renewed_serial = s(&renewed.ok(201)["serial"]);
    let detail = app
        .get(&format!("/v1/profiles/{profile_direct}"), &admin)
        .await;
    let detail = detail.ok(200);
    assert_eq!(detail["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(detail["profile"]["latest_serial"], renewed_serial.as_str());

    // --- revoke the old one ---
    let revoked = app
        .act(&first_serial, "revoke", json!({ "reason": "superseded" }))
        .await;
    let rv = revoked.ok(200);
    assert_eq!(rv["status"], "revoked");
    assert_eq!(rv["revocation_reason"], "superseded");
    let mail = app
        .last_mail(CONTACT, "Your certificate has been revoked")
        .await;
    assert!(s(&mail["text"]).contains(&first_serial));
    let got = app
        .get(&format!("/v1/certificates/{first_serial}"), &admin)
        .await;
    assert_eq!(got.ok(200)["status"], "revoked");

    // --- delete a pending order ---
    app.delete(&format!("/v1/certificates/{api_serial}"), &admin)
        .await
        .ok(204);
    app.get(&format!("/v1/certificates/{api_serial}"), &admin)
        .await
        .problem(404, None);
    app.delete(&format!("/v1/certificates/{renewed_serial}"), &admin)
        .await
        .problem(409, None);

    // --- master data with a version conflict ---
    let current = app
        .get(&format!("/v1/profiles/{profile_direct}"), &admin)
        .await;
    let v = current.ok(200)["profile"]["version"].as_u64().unwrap();
    let upd = app
        .patch(
            &format!("/v1/profiles/{profile_direct}"),
            &admin,
            json!({ "version": v, "name": "Signing system 2", "contact_name": null }),
        )
        .await;
    let upd = upd.ok(200).clone();
    assert_eq!(upd["name"], "Signing system 2");
    assert!(upd["contact_name"].is_null());
    assert_eq!(upd["version"].as_u64().unwrap(), v + 1);
    let stale = app
        .patch(
            &format!("/v1/profiles/{profile_direct}"),
            &admin,
            json!({ "version": v, "name": "Lost update" }),
        )
        .await;
    stale.problem(409, None);
    assert_eq!(stale.body["type"], "urn:orgcert:problem:stale-version");

    // --- system rights and seal generation ---
    let rights = |id, body| app.profile_put(id, "system-rights", body);
    let seal_generation = |id, body| app.profile_put(id, "seal-generation", body);
    let order_again = || {
        let (app, path) = (&app, format!("/v1/profiles/{profile_direct}/certificates"));
        async move { app.post(&path, &app.admin(), json!({})).await }
    };
    let granted = rights(
        &profile_email,
        json!({ "administration_api": true, "issuance_api": true }),
    )
    .await;
    assert_eq!(granted.ok(200)["system_rights"]["issuance_api"], true);
    rights(&profile_direct, json!({ "administration_api": true }))
        .await
        .problem(422, Some("system_rights"));
    rights(&profile_email, json!({ "local_idp": true }))
        .await
        .problem(422, Some("system_rights.local_idp"));
    let seal = seal_generation(&profile_direct, json!({ "enabled": true })).await;
    assert_eq!(seal.ok(200)["seal_generation"], true);
    let ordered = order_again().await;
    assert_eq!(ordered.ok(201)["certificate"]["seal_generation"], true);
    let settings = app
        .patch(
            "/v1/organisation/settings",
            &app.org_admin(),
            json!({ "seal_generation_allowed": false }),
        )
        .await;
    assert_eq!(
        settings.ok(200)["settings"]["seal_generation_allowed"],
        false
    );
    seal_generation(&profile_direct, json!({ "enabled": true }))
        .await
        .problem(422, Some("seal_generation"));
    order_again().await.problem(422, Some("seal_generation"));

    // --- search among ≥ 9 profiles ---
    for i in 1..=6 {
        app.create(json!({ "name": format!("Invoice system {i}"), "contact_email": format!("inv{i}@demo-org.dk") })).await.ok(201);
    }
    app.create(json!({ "name": "=HYPERLINK(\"http://evil.example\")", "contact_name": "Doe, \"JD\" John" })).await.ok(201);
    let all = app.get("/v1/profiles?limit=200", &admin).await;
    let total = all.ok(200)["items"].as_array().unwrap().len();
    assert!(total >= 11, "{total}");
    let found = app.get("/v1/profiles?q=INVOICE", &admin).await;
    let found = found.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(found.len(), 6);
    assert!(found
        .iter()
        .all(|p| s(&p["name"]).starts_with("Invoice system")));
    let by_mail = app.get("/v1/profiles?q=inv3%40demo", &admin).await;
    assert_eq!(by_mail.ok(200)["items"].as_array().unwrap().len(), 1);
    let systems = app.get("/v1/profiles?type=system", &admin).await;
    assert!(systems.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["type"] == "system"));
    let pending = app
        .get("/v1/profiles?status=pending&q=invoice", &admin)
        .await;
    assert_eq!(pending.ok(200)["items"].as_array().unwrap().len(), 6);
    let seen: Vec<String> = app
        .all_pages("/v1/profiles?limit=4", &app.rights())
        .await
        .iter()
        .map(|p| s(&p["id"]))
        .collect();
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(seen.len(), total);
    assert_eq!(dedup.len(), total);

    // --- CSV export ---
    let csv = app.get("/v1/profiles/export.csv", &admin).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(csv.bytes.clone()).unwrap();
    assert!(text.contains("\r\n"));
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), total);
    assert!(rows
        .iter()
        .any(|r| &r[2] == "'=HYPERLINK(\"http://evil.example\")"));
    assert!(rows.iter().any(|r| &r[5] == "Doe, \"JD\" John"));
    assert!(!text.lines().any(|l| l.starts_with('=')));

    // --- audit lists every mutation ---
    let actions: Vec<String> = app
        .all_pages("/v1/audit?limit=7", &admin)
        .await
        .iter()
        .map(|e| s(&e["action"]))
        .collect();
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(count("profile.create"), total);
    assert_eq!(count("certificate.order"), total + 1); // + "order new certificate"
    assert_eq!(count("certificate.issue"), 4);
    for a in [
        "certificate.renew",
        "certificate.revoke",
        "certificate.delete",
        "profile.update",
        "profile.system_rights.update",
        "profile.seal_generation.update",
        "organisation.settings.update",
    ] {
        assert!(count(a) >= 1, "audit lacks {a}: {actions:?}");
    }
    app.get("/v1/audit", &app.rights()).await.problem(403, None);
    assert_eq!(app.get("/v1/audit", &app.org_admin()).await.status, 200);
}

#[tokio::test]
async fn idempotency_key_replays_without_secrets() {
    let app = spawn_app().await;
    let body = json!({ "type": "organisation", "name": "Idem", "contact_email": CONTACT, "issuing": "direct" });
    let h = [("idempotency-key", "order-42")];
    let admin = app.admin();
    let order = |body| app.call(Method::POST, "/v1/profiles", Some(&admin), Some(body), &h);
    let first = order(body.clone()).await;
    let first = first.ok(201).clone();
    assert!(first["issuance_url"].is_string());
    let again = order(body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["profile"]["id"], first["profile"]["id"]);
    assert_eq!(
        again.body["certificate"]["serial"],
        first["certificate"]["serial"]
    );
    assert!(again.body.get("issuance_url").is_none());
    let list = app.get("/v1/profiles", &app.admin()).await;
    assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 1);
    let mut other = body.clone();
    other["name"] = json!("Other");
    order(other).await.problem(422, Some("Idempotency-Key"));
}

#[tokio::test]
async fn expiry_is_derived_from_time_and_blocks_renewal() {
    let app = spawn_app().await;
    let (_, issued) = app
        .create_issued(json!({ "key_algorithm": "ecdsa-p256" }))
        .await;
    let serial = s(&issued["serial"]);
    let na = s(&issued["not_after"]);
    let nb = s(&issued["not_before"]);
    let fmt = time::format_description::well_known::Rfc3339;
    let span = time::OffsetDateTime::parse(&na, &fmt).unwrap()
        - time::OffsetDateTime::parse(&nb, &fmt).unwrap();
    assert_eq!(span, Duration::days(1095) - Duration::seconds(1));
    app.clock.advance(Duration::days(1096));
    let got = app
        .get(&format!("/v1/certificates/{serial}"), &app.admin())
        .await;
    assert_eq!(got.ok(200)["status"], "expired");
    let expired = app.get("/v1/profiles?status=expired", &app.admin()).await;
    assert_eq!(expired.ok(200)["items"].as_array().unwrap().len(), 1);
    app.act(&serial, "renew", json!({}))
        .await
        .problem(409, None);
    app.revoke(&serial, json!({})).await.problem(409, None);
}

#[tokio::test]
async fn resend_link_replaces_the_old_one_and_links_expire() {
    let app = spawn_app().await;
    let c = app.create(json!({ "issuing": "email" })).await;
    let serial = s(&c.ok(201)["certificate"]["serial"]);
    let old = s(&app
        .last_mail(CONTACT, "Download an organisation certificate")
        .await["links"][0]);
    let again = app.act(&serial, "issuance-link", json!({})).await;
    assert_eq!(again.ok(200)["mailed_to"], CONTACT);
    let new = s(&app
        .last_mail(CONTACT, "Download an organisation certificate")
        .await["links"][0]);
    assert_ne!(old, new);
    app.issue_via(&old, json!({ "accept_terms": true }))
        .await
        .problem(410, None);
    app.clock.advance(Duration::days(15));
    app.issue_via(&new, json!({ "accept_terms": true }))
        .await
        .problem(410, None);
    let fresh = app.act(&serial, "issuance-link", json!({})).await;
    fresh.ok(200);
    let newest = s(&app
        .last_mail(CONTACT, "Download an organisation certificate")
        .await["links"][0]);
    assert_eq!(
        app.issue_via(
            &newest,
            json!({ "accept_terms": true, "p12_format": "legacy" })
        )
        .await
        .status,
        201
    );
}

/// The guide's "Proceed directly to issuance": the administrator who placed a direct order
/// issues it after logging in again; with the login from before the order, or on an
/// emailed link, only the contact may.
#[tokio::test]
async fn the_ordering_administrator_issues_a_direct_order_after_a_fresh_login() {
    let app = spawn_app().await;
    let ordered_at = app.clock_now();
    let before = app.token_issued_at(ADMIN, &["user_admin"], ordered_at - Duration::minutes(5));
    // An order placed by the administrator with a login from before it.
    let order_before = |name: &str, issuing: &str| {
        let body = json!({ "type": "organisation", "name": name, "contact_email": CONTACT, "issuing": issuing });
        let (app, before) = (&app, &before);
        async move { app.post("/v1/profiles", before, body).await }
    };
    let direct = order_before("Colleague", "direct").await;
    let url = s(&direct.ok(201)["issuance_url"]);
    let path = format!("/v1/issuance/{}", link_token(&url));
    let issue_as = |token| app.post(&path, token, json!({ "accept_terms": true }));
    // The login that placed the order is not a fresh one.
    let stale = issue_as(&before).await;
    assert_eq!(stale.status, 403, "{:?}", stale.body);
    // Another administrator, freshly logged in, did not place it.
    let other = app.token_issued_at("anne.other@demo-org.dk", &["user_admin"], app.clock_now());
    let refused = issue_as(&other).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    // Logged in again after the order: the administrator issues.
    let fresh = app.token_issued_at(
        ADMIN,
        &["user_admin"],
        app.clock_now() + Duration::seconds(1),
    );
    let info = app.get(&path, &fresh).await;
    assert_eq!(info.ok(200)["name"], "Colleague");
    let issued = issue_as(&fresh).await;
    assert!(s(&issued.ok(201)["certificate_pem"]).starts_with("-----BEGIN CERTIFICATE-----"));

    // An emailed link stays the contact's, however fresh the administrator's login.
    let mailed = order_before("Mailed", "email").await;
    let serial = s(&mailed.ok(201)["certificate"]["serial"]);
    let mail = app
        .last_mail(CONTACT, "Download an organisation certificate")
        .await;
    let link = s(&mail["links"][0]);
    let fresh = app.token_issued_at(
        ADMIN,
        &["user_admin"],
        app.clock_now() + Duration::seconds(1),
    );
    let no = app
        .post(
            &format!("/v1/issuance/{}", link_token(&link)),
            &fresh,
            json!({ "accept_terms": true }),
        )
        .await;
    assert_eq!(no.status, 403, "{serial}: {:?}", no.body);
}
