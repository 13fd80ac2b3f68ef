//! Secrets never reach the log: the real `orgcert serve` at `ORGCERT_LOG=trace` issues a
//! certificate with a server-side key (PKCS#12 password) and redeems a one-time code; the
//! whole output (stdout and stderr) holds neither, nor the CA key.

use orgcert_tests::spawn;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");

#[tokio::test]
async fn trace_log_holds_no_password_code_or_key() {
    let dir = tempfile::tempdir().unwrap();
    // Standard error too: the whole output is checked.
    let mut server = spawn::serve(BIN, dir.path())
        .env("ORGCERT_LOG", "trace")
        .env("ORGCERT_PKI_URL", "http://pki.example.dk")
        .env("ORGCERT_CA_KEY_ALGORITHM", "ecdsa-p256")
        .with_stderr()
        .start();
    let base = server.base.clone();
    let admin = server.token("TOKEN_USER_ADMIN");
    let contact = server.token("TOKEN_DEMO_CONTACT");
    let c = reqwest::Client::new();

    // Server-side key: the answer carries the PKCS#12 password.
    let order = server
        .post_json("/v1/profiles", &admin, &json!({ "type": "organisation", "name": "Logged", "contact_email": "carl.contact@demo-org.dk",
                "issuing": "direct", "key_algorithm": "ecdsa-p256" }))
        .await;
    let url = order["issuance_url"].as_str().expect("issuance_url");
    let token = url.rsplit('/').next().unwrap();
    let issued = server.issue_via(url, &contact).await;
    let password = issued["password"].as_str().expect("password").to_owned();
    let dl = c
        .get(issued["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status(), 200);

    // One-time code: shown to the admin, redeemed by the contact (one wrong try first).
    let otc = server
        .post_json("/v1/profiles", &admin, &json!({ "type": "organisation", "name": "Logged code", "contact_email": "carl.contact@demo-org.dk",
                "identification": "one_time_code", "key_algorithm": "ecdsa-p256" }))
        .await;
    let code = otc["one_time_code"].as_str().expect("code").to_owned();
    let reference = otc["reference"].as_str().unwrap().to_owned();
    let wrong = c
        .post(format!("{base}/v1/issuance/redeem"))
        .bearer_auth(&contact)
        .json(&json!({ "reference": reference, "code": "WRONGWRONG22", "accept_terms": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let redeemed = server
        .post_json(
            "/v1/issuance/redeem",
            &contact,
            &json!({ "reference": reference, "code": code.to_lowercase(), "accept_terms": true }),
        )
        .await;
    let password2 = redeemed["password"].as_str().expect("password").to_owned();

    let log = server.stop();
    // The log really is at trace level and saw these requests.
    assert!(log.contains("TRACE"), "not a trace log:\n{log}");
    // Requests are logged by route template (never the path with its token).
    for route in ["/v1/issuance/redeem", "/v1/issuance/{token}"] {
        assert!(log.contains(route), "{route} not logged:\n{log}");
    }
    for (what, secret) in [
        ("PKCS#12 password", password.as_str()),
        ("PKCS#12 password (redeemed)", password2.as_str()),
        ("one-time code", code.as_str()),
        ("one-time code (as typed)", &code.to_lowercase()),
        ("issuance link token", token),
    ] {
        assert!(secret.len() >= 12, "{what}: {secret:?}");
        assert!(!log.contains(secret), "the {what} is in the log");
    }
    // Nor the CA or token keys (any line of their base64 bodies).
    for key in ["ca.key", "jwt.key"] {
        let pem = std::fs::read_to_string(dir.path().join(key)).unwrap();
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
        {
            assert!(!log.contains(line), "{key} is in the log");
        }
    }
}
