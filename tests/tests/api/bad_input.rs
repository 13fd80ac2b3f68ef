//! Every item of the bad-input list gets a precise 4xx problem+json, and nothing is written.

use orgcert_core::app::NewOrganisation;
use orgcert_tests::conformance::new_organisation;
use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

async fn counts(app: &TestApp) -> (usize, usize) {
    let p = app.get("/v1/profiles?limit=200", &app.admin()).await;
    let a = app.get("/v1/audit?limit=500", &app.admin()).await;
    (
        p.body["items"].as_array().unwrap().len(),
        a.body["items"].as_array().unwrap().len(),
    )
}

fn s(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn malformed_bodies_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let admin = app.admin();
    let before = counts(&app).await;
    let huge = format!(
        r#"{{"type":"system","name":"{}","contact_email":"a@b.dk"}}"#,
        "x".repeat(300_000)
    );
    // (method, path, raw body, status, the field the problem names)
    for (method, path, body, status, field) in [
        (
            Method::POST,
            "/v1/profiles",
            "{\"type\": \"organisation\",",
            400,
            None,
        ),
        (Method::POST, "/v1/profiles", "[1,2]", 400, None),
        (
            Method::POST,
            "/v1/profiles",
            r#"{"type":"organisation","name":7,"contact_email":"a@b.dk"}"#,
            400,
            Some("name"),
        ),
        (
            Method::POST,
            "/v1/profiles",
            r#"{"type":"organisation","name":"x","contact_email":"a@b.dk","publish":"yes"}"#,
            400,
            Some("publish"),
        ),
        (
            Method::POST,
            "/v1/profiles",
            r#"{"type":"organisation","name":"x","contact_email":"a@b.dk","colour":"red"}"#,
            400,
            Some("colour"),
        ),
        (
            Method::POST,
            "/v1/profiles",
            r#"{"type":"person","name":"x","contact_email":"a@b.dk"}"#,
            400,
            Some("type"),
        ),
        (
            Method::POST,
            "/v1/profiles",
            r#"{"name":"x","contact_email":"a@b.dk"}"#,
            400,
            Some("type"),
        ),
        (
            Method::POST,
            "/v1/profiles",
            r#"{"type":"system","name":"x","contact_email":"a@b.dk","system_rights":{"root":true}}"#,
            400,
            Some("system_rights.root"),
        ),
        (Method::POST, "/v1/profiles", huge.as_str(), 400, None),
        // A PUT replaces a whole value: it needs a body (revoke and mark-read may omit theirs).
        (
            Method::PUT,
            "/v1/profiles/00000000-0000-4000-8000-000000000000/system-rights",
            "",
            400,
            None,
        ),
    ] {
        app.raw(method, path, &admin, body)
            .await
            .problem(status, field);
    }
    let wrong_ct = app
        .http
        .post(format!("{}/v1/profiles", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_ct.status(), 400);
    for (path, status, field) in [
        ("/v1/profiles?status=bogus", 400, Some("status")),
        ("/v1/profiles?limit=0", 422, Some("limit")),
        ("/v1/profiles?limit=x", 400, Some("limit")),
        // Not base64url: cannot be a cursor (400); base64url this service did not make: 422.
        ("/v1/profiles?cursor=not%20a%20cursor", 400, Some("cursor")),
        ("/v1/profiles?cursor=not-a-cursor", 422, Some("cursor")),
        ("/v1/audit?cursor=bm90LWEtc2Vx", 422, Some("cursor")),
        // UUIDs in their hyphenated form only, as the OpenAPI document says.
        (
            "/v1/profiles/00000000000040008000000000000000",
            400,
            Some("id"),
        ),
        ("/v1/profiles?sort=name", 400, Some("sort")),
        ("/v1/profiles/not-a-uuid", 400, Some("id")),
        ("/v1/certificates/xyz", 400, Some("serial")),
        ("/v1/nothing", 404, None),
    ] {
        app.get(path, &admin).await.problem(status, field);
    }
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn invalid_values_are_422_on_their_field() {
    let app = spawn_app().await;
    let before = counts(&app).await;
    for (fields, field) in [
        (json!({ "name": "x".repeat(65) }), "name"),
        (json!({ "name": "" }), "name"),
        (json!({ "contact_name": "y".repeat(201) }), "contact_name"),
        (json!({ "contact_email": "not-an-email" }), "contact_email"),
        (
            json!({ "contact_email": format!("{}@demo-org.dk", "a".repeat(70)) }),
            "contact_email",
        ),
        (
            json!({ "certificate_email": "søren@demo-org.dk" }),
            "certificate_email",
        ),
        (json!({ "p_number": "12345" }), "p_number"),
        (json!({ "p_number": "1999999999" }), "p_number"),
        (json!({ "se_number": "1234567x" }), "se_number"),
        (json!({ "ean": "5790001330584" }), "ean"),
        (
            json!({ "identification": "api", "issuing": "email" }),
            "issuing",
        ),
        (
            json!({ "identification": "user_login", "issuing": "api" }),
            "issuing",
        ),
        (
            json!({ "type": "system", "seal_generation": true }),
            "seal_generation",
        ),
        (
            json!({ "system_rights": { "local_idp": true } }),
            "system_rights.local_idp",
        ),
    ] {
        app.create(fields.clone()).await.problem(422, Some(field));
    }
    // Every error at once.
    let many = app
        .create(json!({ "name": "", "contact_email": "x", "ean": "1" }))
        .await;
    many.problem(422, Some("name"))
        .problem(422, Some("contact_email"))
        .problem(422, Some("ean"));
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn organisation_rules_for_optional_fields() {
    let app = spawn_app().await;
    // An organisation with one P and one SE number, no NemHandel, no seals.
    app.add_organisation(NewOrganisation {
        p_numbers: vec!["1000000009".into()],
        se_numbers: vec!["25313763".into()],
        ..new_organisation("25313763", "Small ApS")
    })
    .await
    .unwrap();
    let small = app.token_in("25313763", "admin@small.dk", &["user_admin"]);
    let base = json!({ "type": "organisation", "name": "x", "contact_email": "c@small.dk", "issuing": "direct" });
    for (k, v, field) in [
        ("p_number", json!("1000000009"), "p_number"),
        ("se_number", json!("25313763"), "se_number"),
        ("ean", json!("5790001330583"), "ean"),
        ("seal_generation", json!(true), "seal_generation"),
    ] {
        let mut b = base.clone();
        b[k] = v;
        app.post("/v1/profiles", &small, b)
            .await
            .problem(422, Some(field));
    }
    app.post("/v1/profiles", &small, base.clone()).await.ok(201);
    // Invalid CVRs never reach the store.
    let bad = app
        .add_organisation(new_organisation("12345678", "Bad"))
        .await;
    assert!(
        matches!(bad, Err(orgcert_core::DomainError::Invalid(ref e)) if e[0].field == "cvr"),
        "{bad:?}"
    );
    // A token whose org claim is not a CVR.
    let t = app.token_in("12345678", ADMIN, &["user_admin"]);
    app.get("/v1/organisation", &t).await.problem(401, None);
}

#[tokio::test]
async fn illegal_transitions_are_409_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin();
    let c = app.create(json!({ "key_algorithm": "ecdsa-p256" })).await;
    let c = c.ok(201).clone();
    let url = s(&c["issuance_url"]);
    let serial = s(&c["certificate"]["serial"]);
    // Pending: nothing to revoke or renew yet.
    for action in ["revoke", "renew"] {
        app.act(&serial, action, json!({})).await.problem(409, None);
    }
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .ok(201);
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .problem(409, None); // issue twice / reuse token
    app.delete(&format!("/v1/certificates/{serial}"), &admin)
        .await
        .problem(409, None); // delete issued
    app.act(&serial, "issuance-link", json!({}))
        .await
        .problem(409, None);
    app.act(&serial, "revoke", json!({ "reason": "keyCompromise" }))
        .await
        .ok(200);
    let before = counts(&app).await;
    for (action, body, status, field) in [
        ("revoke", json!({ "reason": "keyCompromise" }), 409, None),
        ("renew", json!({}), 409, None),
        (
            "revoke",
            json!({ "reason": "because" }),
            400,
            Some("reason"),
        ),
    ] {
        app.act(&serial, action, body).await.problem(status, field);
    }
    assert_eq!(counts(&app).await, before);
    let got = app.get(&format!("/v1/certificates/{serial}"), &admin).await;
    assert_eq!(got.ok(200)["revocation_reason"], "keyCompromise");
}

#[tokio::test]
async fn roles_scoping_and_tokens() {
    let app = spawn_app().await;
    let c = app.create(json!({})).await;
    let c = c.ok(201).clone();
    let pid = s(&c["profile"]["id"]);
    let serial = s(&c["certificate"]["serial"]);
    let url = s(&c["issuance_url"]);
    let before = counts(&app).await;

    // Wrong role: 403.
    let rights = app.rights();
    for (method, path, token, body) in [
        (
            Method::POST,
            "/v1/profiles".to_owned(),
            rights.clone(),
            Some(json!({ "type": "system", "name": "x", "contact_email": CONTACT })),
        ),
        (
            Method::POST,
            format!("/v1/certificates/{serial}/revoke"),
            rights.clone(),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            "/v1/organisation/settings".to_owned(),
            app.admin(),
            Some(json!({ "nemhandel_enabled": false })),
        ),
        (Method::GET, "/v1/profiles".to_owned(), app.contact(), None),
    ] {
        app.call(method, &path, Some(&token), body, &[])
            .await
            .problem(403, None);
    }
    assert_eq!(
        app.get(&format!("/v1/profiles/{pid}"), &rights)
            .await
            .status,
        200
    );

    // Not the contact: 403 on the issuance link; nothing consumed.
    let other = app.token("someone.else@demo-org.dk", &[]);
    let token = link_token(&url);
    app.get(&format!("/v1/issuance/{token}"), &other)
        .await
        .problem(403, None);
    app.post(
        &format!("/v1/issuance/{token}"),
        &other,
        json!({ "accept_terms": true }),
    )
    .await
    .problem(403, None);
    app.issue_via(&url, json!({}))
        .await
        .problem(422, Some("accept_terms"));
    app.issue_via(&url, json!({ "accept_terms": false }))
        .await
        .problem(422, Some("accept_terms"));
    app.get("/v1/issuance/unknown-token", &app.contact())
        .await
        .problem(404, None);

    // Another organisation's ids: 404, never 403.
    app.add_organisation(orgcert_functions::local::demo_organisation_with(
        "25313763",
        "Other A/S",
    ))
    .await
    .unwrap();
    let foreign = app.token_in("25313763", "admin@other.dk", &["user_admin"]);
    for (method, path, body) in [
        (Method::GET, format!("/v1/profiles/{pid}"), None),
        (Method::GET, format!("/v1/certificates/{serial}"), None),
        (
            Method::POST,
            format!("/v1/certificates/{serial}/renew"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("/v1/certificates/{serial}"), None),
        (
            Method::PATCH,
            format!("/v1/profiles/{pid}"),
            Some(json!({ "version": 1, "name": "hijack" })),
        ),
    ] {
        app.call(method, &path, Some(&foreign), body, &[])
            .await
            .problem(404, None);
    }
    let foreign_contact = app.token_in("25313763", CONTACT, &[]);
    app.get(&format!("/v1/issuance/{token}"), &foreign_contact)
        .await
        .problem(404, None);
    assert!(app.get("/v1/profiles", &foreign).await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // Authentication: none, garbage, expired, signed by another key.
    app.call(Method::GET, "/v1/profiles", None, None, &[])
        .await
        .problem(401, None);
    app.get("/v1/profiles", "garbage").await.problem(401, None);
    let expired = app
        .tokens
        .token(
            "12345674",
            ADMIN,
            "x",
            &["user_admin"],
            Duration::minutes(-5),
        )
        .unwrap();
    let e = app.get("/v1/profiles", &expired).await;
    e.problem(401, None);
    assert!(s(&e.body["detail"]).contains("expired"));
    let other_app = spawn_app_with(orgcert_pki::KeyAlgorithm::EcdsaP256).await;
    app.get("/v1/profiles", &other_app.admin())
        .await
        .problem(401, None);

    assert_eq!(counts(&app).await, before);
    // The link still works for the right person.
    app.issue_via(&url, json!({ "accept_terms": true }))
        .await
        .ok(201);
}

#[tokio::test]
async fn stale_versions_are_409() {
    let app = spawn_app().await;
    let c = app
        .create(json!({ "identification": "api", "issuing": "api" }))
        .await;
    let pid = s(&c.ok(201)["profile"]["id"]);
    let v = c.body["profile"]["version"].as_u64().unwrap();
    for (body, status, field) in [
        (json!({ "version": v + 5, "name": "n" }), 409, None),
        (json!({ "name": "n" }), 400, Some("version")),
        (json!({ "version": v, "ean": "123" }), 422, Some("ean")),
    ] {
        app.patch(&format!("/v1/profiles/{pid}"), &app.admin(), body)
            .await
            .problem(status, field);
    }
    let ok = app
        .patch(
            &format!("/v1/profiles/{pid}"),
            &app.admin(),
            json!({ "version": v, "name": "n" }),
        )
        .await;
    assert_eq!(ok.ok(200)["name"], "n");
}

#[tokio::test]
async fn bad_csrs_are_422_on_csr_and_keep_the_link() {
    let app = spawn_app().await;
    let c = app.create(json!({})).await;
    let url = s(&c.ok(201)["issuance_url"]);
    let dir = tempfile::tempdir().unwrap();
    let weak = openssl_csr(dir.path(), "weak", "rsa:1024", "/CN=weak");
    let good = openssl_csr(dir.path(), "ec", "ec", "/CN=ok");
    // Flip one character in the signature part (end of the base64 body).
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let n = lines.len() - 2;
    let last = lines[n].clone();
    let flipped: String = last
        .chars()
        .enumerate()
        .map(|(i, ch)| {
            if i == 2 {
                if ch == 'A' {
                    'B'
                } else {
                    'A'
                }
            } else {
                ch
            }
        })
        .collect();
    lines[n] = flipped;
    let tampered = lines.join("\n") + "\n";
    for csr in [
        "garbage",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        weak.as_str(),
        tampered.as_str(),
    ] {
        let a = app
            .issue_via(&url, json!({ "accept_terms": true, "csr": csr }))
            .await;
        a.problem(422, Some("csr"));
    }
    app.issue_via(
        &url,
        json!({ "accept_terms": true, "csr": good, "p12_format": "legacy" }),
    )
    .await
    .problem(422, Some("p12_format"));
    let ok = app
        .issue_via(&url, json!({ "accept_terms": true, "csr": good }))
        .await;
    let ok = ok.ok(201);
    assert!(ok["password"].is_null() && ok["download_url"].is_null());
}

#[tokio::test]
async fn wrong_one_time_codes_lock_the_order() {
    let app = spawn_app().await;
    let c = app
        .create(json!({ "identification": "one_time_code" }))
        .await;
    let c = c.ok(201).clone();
    let (code, reference) = (s(&c["one_time_code"]), s(&c["reference"]));
    let contact = app.contact();
    app.post(
        "/v1/issuance/redeem",
        &contact,
        json!({ "reference": "0000000000", "code": code, "accept_terms": true }),
    )
    .await
    .problem(404, None);
    app.post(
        "/v1/issuance/redeem",
        &contact,
        json!({ "accept_terms": true }),
    )
    .await
    .problem(422, Some("reference"));
    for i in 0..4 {
        let a = app
            .post(
                "/v1/issuance/redeem",
                &contact,
                json!({ "reference": reference, "code": "WRONGCODE", "accept_terms": true }),
            )
            .await;
        a.problem(422, Some("code"));
        assert!(s(&a.body["detail"]).contains(&format!("{} attempts left", 4 - i)));
    }
    // Locked: a fifth wrong code and then the right one.
    for code in ["WRONGCODE", code.as_str()] {
        app.post(
            "/v1/issuance/redeem",
            &contact,
            json!({ "reference": reference, "code": code, "accept_terms": true }),
        )
        .await
        .problem(423, None);
    }
    // A new code from the administrator works.
    let serial = s(&c["certificate"]["serial"]);
    let again = app.act(&serial, "issuance-link", json!({})).await;
    let again = again.ok(200).clone();
    let ok = app
        .post("/v1/issuance/redeem", &contact, json!({ "reference": s(&again["reference"]), "code": s(&again["one_time_code"]), "accept_terms": true, "csr": null }))
        .await;
    assert_eq!(ok.status, 201, "{ok:?}");
}

/// Reads one HTTP/1.1 response from `conn`: its status, after its whole body
/// (Content-Length). An error when the server closed the connection instead.
async fn read_response(conn: &mut tokio::net::TcpStream) -> Result<u16, String> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no content-length")?;
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed inside a body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

/// Many clients send `{}` on a POST even where the route takes no body (order, renew,
/// send link, delete). The body is read to its end and ignored, so the keep-alive
/// connection stays usable: every order here goes over one TCP connection. Left unread,
/// hyper closes the connection after such a request unless it can drain the bytes at once.
#[tokio::test]
async fn a_body_on_a_route_that_takes_none_keeps_the_connection_alive() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let made = app.create(json!({ "key_algorithm": "ecdsa-p256" })).await;
    let id = s(&made.ok(201)["profile"]["id"]);
    let addr = app
        .base
        .strip_prefix("http://")
        .expect("plain HTTP base")
        .trim_end_matches('/')
        .to_owned();
    let token = app.admin();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for i in 0..20 {
        let head = format!(
            "POST /v1/profiles/{id}/certificates HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\n\r\n"
        );
        // Head and body in two writes, as clients that stream a body do: the server may
        // answer before the body has arrived.
        let sent = async {
            conn.write_all(head.as_bytes()).await?;
            conn.write_all(b"{}").await
        };
        sent.await
            .unwrap_or_else(|e| panic!("order {i} on the same connection: {e}"));
        let status = read_response(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("order {i} on the same connection: {e}"));
        assert_eq!(status, 201, "order {i}");
    }
}
