//! The local-only routes (API.md "Local-only routes") over real HTTP: a forged `Host`
//! (DNS rebinding), a cross-site form post or an unknown peer is refused, and nothing
//! happens — no token, no mail listing, no job run. The AWS shape has no such routes.

use std::path::PathBuf;
use std::sync::Arc;

use orgcert_core::clock::ManualClock;
use orgcert_functions::local::{self, LocalConfig};
use orgcert_pki::KeyAlgorithm;
use reqwest::Method;
use serde_json::json;
use time::OffsetDateTime;

use crate::helpers::*;

const LOGIN: &str = r#"{"org":"12345674","email":"x@demo-org.dk","roles":["user_admin"]}"#;

/// Checked before spawning, so that the AWS run does not start an emulator for nothing.
fn local_backend() -> bool {
    if Backend::current() == Backend::Aws {
        eprintln!("the AWS shape has no local-only routes: nothing to test here");
        return false;
    }
    true
}

/// A raw request with exactly these headers (reqwest keeps an explicit `Host`).
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut rb = app.http.request(method, format!("{}{path}", app.base));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.body(body.to_owned()).send().await.expect("request");
    Answer::read(resp).await
}

/// `POST /_local/login` (the demo login) with `Host: host`.
async fn login_via(app: &TestApp, host: &str) -> Answer {
    let headers = [("host", host), ("content-type", "application/json")];
    raw(app, Method::POST, "/_local/login", &headers, LOGIN).await
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.bytes).into_owned()
}

#[tokio::test]
async fn forged_host_gets_no_token_no_mail_and_runs_no_job() {
    if !local_backend() {
        return;
    }
    let app = spawn_app_with(KeyAlgorithm::EcdsaP256).await;
    // A pending order whose link is in the outbox.
    app.create(json!({ "issuing": "email", "key_algorithm": "ecdsa-p256" }))
        .await
        .ok(201);
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let json_ct = ("content-type", "application/json");
    for host in [
        "attacker.example".to_owned(),
        format!("attacker.example:{port}"),
        format!("127.0.0.1.attacker.example:{port}"),
        "localhost.attacker.example".to_owned(),
        format!("attacker.example@127.0.0.1:{port}"),
        "not a host".to_owned(),
    ] {
        let login = login_via(&app, &host).await;
        login.problem(403, None);
        assert!(!text(&login).contains("token"), "{host}: {}", text(&login));
        let outbox = raw(&app, Method::GET, "/_local/outbox", &[("host", &host)], "").await;
        outbox.problem(403, None);
        assert!(!text(&outbox).contains("/issue/"), "{host}");
        raw(&app, Method::GET, "/_local/users", &[("host", &host)], "")
            .await
            .problem(403, None);
        raw(
            &app,
            Method::POST,
            "/_local/jobs/housekeeping?now=2099-01-01T00:00:00Z",
            &[("host", &host), json_ct],
            "",
        )
        .await
        .problem(403, None);
    }
    // The names of this machine are accepted.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        format!("[::1]:{port}"),
        "127.0.0.2".to_owned(),
    ] {
        let login = login_via(&app, &host).await;
        assert_eq!(login.status, 200, "{host}: {login:?}");
        assert!(login.body["token"].is_string());
    }
    // Public routes answer whatever the Host says (they hand out nothing secret).
    let health = raw(
        &app,
        Method::GET,
        "/healthz",
        &[("host", "attacker.example")],
        "",
    )
    .await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn cross_site_form_posts_are_refused_and_change_nothing() {
    if !local_backend() {
        return;
    }
    let app = spawn_app_with(KeyAlgorithm::EcdsaP256).await;
    // An issued certificate with its PKCS#12 link, and a pending order with its link.
    let issued_order = app
        .create(json!({ "name": "Issued", "key_algorithm": "ecdsa-p256" }))
        .await;
    let url = issued_order.ok(201)["issuance_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = app.issue_via(&url, json!({ "accept_terms": true })).await;
    let download = issued.ok(201)["download_url"].as_str().unwrap().to_owned();
    let pending = app
        .create(json!({ "name": "Pending", "key_algorithm": "ecdsa-p256" }))
        .await;
    let link = pending.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    let info = format!("/v1/issuance/{}", link_token(&link));

    let housekeeping = "/_local/jobs/housekeeping?now=2099-01-01T00:00:00Z";
    // What a <form> can send without a CORS preflight: text/plain, urlencoded, multipart.
    for ct in [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
    ] {
        let login = raw(
            &app,
            Method::POST,
            "/_local/login",
            &[("content-type", ct)],
            LOGIN,
        )
        .await;
        login.problem(415, Some("Content-Type"));
        assert!(!text(&login).contains("token"), "{ct}");
        raw(
            &app,
            Method::POST,
            housekeeping,
            &[("content-type", ct)],
            "{}",
        )
        .await
        .problem(415, Some("Content-Type"));
    }
    // No Content-Type at all (a `fetch` with `mode: no-cors` and a Blob body).
    raw(&app, Method::POST, "/_local/login", &[], LOGIN)
        .await
        .problem(415, Some("Content-Type"));
    raw(&app, Method::POST, housekeeping, &[], "")
        .await
        .problem(415, Some("Content-Type"));

    // Nothing happened: the pending link and the PKCS#12 download still work.
    app.get(&info, &app.contact()).await.ok(200);
    let dl = app.call(Method::GET, &download, None, None, &[]).await;
    assert_eq!(dl.status, 200, "{dl:?}");

    // The same job as JSON runs (so the refusals above are what kept the data).
    let ran = app
        .call(Method::POST, housekeeping, None, Some(json!({})), &[])
        .await;
    let r = ran.ok(200);
    assert!(r["detail"]["secrets_deleted"].as_u64() >= Some(1), "{r}");
    let gone = app.get(&info, &app.contact()).await;
    assert_eq!(gone.status, 404, "{gone:?}");
    app.assert_download_gone(&app.call(Method::GET, &download, None, None, &[]).await);
}

#[tokio::test]
async fn the_public_url_host_is_this_machine_and_downloads_stay_public() {
    if !local_backend() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_configured(dir, KeyAlgorithm::EcdsaP256, |c| {
        c.public_url = "https://certs.example.dk".into();
    })
    .await;
    let json_ct = ("content-type", "application/json");
    for host in ["certs.example.dk", "CERTS.example.dk:443"] {
        let login = raw(
            &app,
            Method::POST,
            "/_local/login",
            &[("host", host), json_ct],
            LOGIN,
        )
        .await;
        assert_eq!(login.status, 200, "{host}: {login:?}");
    }
    raw(
        &app,
        Method::POST,
        "/_local/login",
        &[("host", "other.example.dk"), json_ct],
        LOGIN,
    )
    .await
    .problem(403, None);

    // The signed download link is the public link: any Host may fetch it.
    let order = app
        .create(json!({ "name": "Public link", "key_algorithm": "ecdsa-p256" }))
        .await;
    let url = order.ok(201)["issuance_url"].as_str().unwrap().to_owned();
    let issued = app.issue_via(&url, json!({ "accept_terms": true })).await;
    let download = issued.ok(201)["download_url"].as_str().unwrap().to_owned();
    let path = download
        .strip_prefix("https://certs.example.dk")
        .unwrap_or_else(|| panic!("{download}"));
    let dl = raw(&app, Method::GET, path, &[("host", "attacker.example")], "").await;
    assert_eq!(dl.status, 200, "{dl:?}");
    assert_eq!(dl.headers["content-type"], "application/x-pkcs12");
}

/// A server that does not pass the peer address (no `ConnectInfo`) cannot tell this
/// machine from another: the machine-only routes refuse.
#[tokio::test]
async fn unknown_peer_is_refused() {
    if !local_backend() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cfg = LocalConfig::new(
        PathBuf::from(dir.path()),
        &base,
        "http://pki.example.dk",
        KeyAlgorithm::EcdsaP256,
    );
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let l = local::open(&cfg, clock).await.unwrap();
    let router = local::router(&l);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let c = reqwest::Client::new();
    let login = c
        .post(format!("{base}/_local/login"))
        .header("content-type", "application/json")
        .body(LOGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    let text = login.text().await.unwrap();
    assert!(
        !text.contains("token") && text.contains("cannot tell"),
        "{text}"
    );
    let outbox = c.get(format!("{base}/_local/outbox")).send().await.unwrap();
    assert_eq!(outbox.status(), 403);
    // The rest of the service answers.
    let health = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    server.abort();
}
