//! Attacks on authentication and on the rate limits, over HTTP.
//!
//! Forged bearer tokens (the local verifier, `orgcert_http::auth::JwtAuthenticator`; the
//! AWS composition under test verifies with the same code): each is a 401 problem+json.
//! Rate limits count per client address: a fresh `X-Forwarded-For` per request still
//! meets 429.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Claims the server accepts; the cases below change one thing each.
fn good_claims() -> Value {
    json!({
        "sub": ADMIN, "email": ADMIN, "name": "Ulla", "org": "12345674",
        "roles": ["user_admin"], "iss": "orgcert-local", "aud": "orgcert",
        "iat": now(), "exp": now() + 600,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// The token key's private half (PKCS#8 PEM) and public half (SPKI PEM).
fn token_keys(app: &TestApp) -> (String, String) {
    use orgcert_pki::CaSigner as _;
    let pem = std::fs::read_to_string(app.dir.path().join("jwt.key")).expect("jwt.key");
    let key = orgcert_pki::KeyFileSigner::from_pkcs8_pem(&pem).expect("jwt.key");
    let public = orgcert_pki::to_pem("PUBLIC KEY", &key.public_key_spki_der());
    (pem, public)
}

fn es256(private_pem: &str, claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(private_pem.as_bytes()).expect("EC key");
    encode(&Header::new(Algorithm::ES256), claims, &key).expect("sign")
}

/// A token with a hand-made header and signature.
fn hand_made(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode(signature)
    )
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_401() {
    let app = spawn_app().await;
    let (private_pem, public_pem) = token_keys(&app);
    let good = es256(&private_pem, &good_claims());
    // The baseline is accepted: the refusals below are about the one change each makes.
    app.get("/v1/profiles", &good).await.ok(200);

    let other_key = orgcert_pki::KeyFileSigner::generate(orgcert_pki::KeyAlgorithm::EcdsaP256)
        .expect("key")
        .to_pkcs8_pem();
    let hs = |secret: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            &good_claims(),
            &EncodingKey::from_secret(secret),
        )
        .expect("HS256")
    };
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let promoted =
        B64.encode(with(good_claims(), "roles", json!(["user_admin", "org_admin"])).to_string());
    use orgcert_core::secret::ExposeSecret as _;
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            hand_made(json!({"alg": "none", "typ": "JWT"}), &good_claims(), b""),
        ),
        (
            "alg None",
            hand_made(json!({"alg": "None"}), &good_claims(), b""),
        ),
        (
            "alg none with the real signature",
            format!("{}.{payload}.{sig}", B64.encode(r#"{"alg":"none"}"#)),
        ),
        (
            "HS256 keyed with the public key PEM",
            hs(public_pem.as_bytes()),
        ),
        (
            "HS256 keyed with the public key PEM, trimmed",
            hs(public_pem.trim().as_bytes()),
        ),
        (
            "ES256 by another key",
            es256(other_key.expose_secret(), &good_claims()),
        ),
        (
            "payload changed under the signature",
            format!("{head}.{promoted}.{sig}"),
        ),
        (
            "signature cut",
            format!("{head}.{payload}.{}", &sig[..sig.len() - 4]),
        ),
        ("no signature", format!("{head}.{payload}")),
        (
            "wrong aud",
            es256(
                &private_pem,
                &with(good_claims(), "aud", json!("someone-else")),
            ),
        ),
        (
            "no aud",
            es256(&private_pem, &without(good_claims(), "aud")),
        ),
        // orgcert tokens name one audience; an array (RFC 7519 §4.1.3 allows one) may name
        // other relying parties the token is also good for, so it is refused outright.
        (
            "aud array with ours",
            es256(
                &private_pem,
                &with(good_claims(), "aud", json!(["orgcert"])),
            ),
        ),
        (
            "aud array with ours and another",
            es256(
                &private_pem,
                &with(good_claims(), "aud", json!(["orgcert", "other"])),
            ),
        ),
        (
            "wrong iss",
            es256(
                &private_pem,
                &with(good_claims(), "iss", json!("https://evil.example")),
            ),
        ),
        (
            "no iss",
            es256(&private_pem, &without(good_claims(), "iss")),
        ),
        (
            "expired",
            es256(
                &private_pem,
                &with(good_claims(), "exp", json!(now() - 3600)),
            ),
        ),
        (
            "no exp",
            es256(&private_pem, &without(good_claims(), "exp")),
        ),
        (
            "not yet valid (nbf)",
            es256(
                &private_pem,
                &with(good_claims(), "nbf", json!(now() + 3600)),
            ),
        ),
        (
            "no sub",
            es256(&private_pem, &without(good_claims(), "sub")),
        ),
        (
            "no org",
            es256(&private_pem, &without(good_claims(), "org")),
        ),
        (
            "org fails the CVR check",
            es256(&private_pem, &with(good_claims(), "org", json!("12345678"))),
        ),
        (
            "org not digits",
            es256(&private_pem, &with(good_claims(), "org", json!("1234567a"))),
        ),
        (
            "org a number",
            es256(&private_pem, &with(good_claims(), "org", json!(12345674))),
        ),
        (
            "roles a string",
            es256(
                &private_pem,
                &with(good_claims(), "roles", json!("user_admin")),
            ),
        ),
        (
            "roles an object",
            es256(
                &private_pem,
                &with(good_claims(), "roles", json!({"user_admin": true})),
            ),
        ),
        (
            "roles with a number",
            es256(&private_pem, &with(good_claims(), "roles", json!([1]))),
        ),
        (
            "empty email",
            es256(&private_pem, &with(good_claims(), "email", json!(" "))),
        ),
        ("not a JWT", "not-a-token".to_owned()),
    ];
    for (what, token) in &cases {
        let a = app.get("/v1/profiles", token).await;
        assert_eq!(a.status, 401, "{what}: {a:?}");
        a.problem(401, None);
        assert_eq!(a.headers["www-authenticate"], "Bearer", "{what}");
    }
    // Not a bearer token at all.
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", good.as_str()] {
        let a = app
            .call(
                Method::GET,
                "/v1/profiles",
                None,
                None,
                &[("authorization", header)],
            )
            .await;
        a.problem(401, None);
    }
    println!(
        "{} forged or malformed tokens refused with 401",
        cases.len() + 4
    );
}

/// `Retry-After` on a 429: a number of seconds (RFC 9110 §10.2.3).
#[track_caller]
fn throttled(a: &Answer) {
    a.problem(429, None);
    let retry = a.headers["retry-after"].to_str().unwrap();
    assert!(retry.parse::<u32>().is_ok_and(|s| s >= 1), "{retry}");
}

#[tokio::test]
async fn directory_limit_counts_the_client_not_x_forwarded_for() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    // Burst 20 at 5/s: 200 requests in a loop meet 429 long before the bucket refills.
    for i in 0..200 {
        let xff = format!("198.51.100.{}, 10.0.0.{i}", i % 250);
        let a = app
            .call(
                Method::GET,
                "/public/certificates?cvr=12345674",
                None,
                None,
                &[
                    ("x-forwarded-for", xff.as_str()),
                    ("x-real-ip", xff.as_str()),
                ],
            )
            .await;
        statuses.push(a.status.as_u16());
        if a.status == 429 {
            throttled(&a);
            break;
        }
        assert_eq!(a.status, 200, "{a:?}");
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "no 429 after {} requests",
        statuses.len()
    );
    assert!(
        statuses.len() > 5,
        "the burst is allowed first: {statuses:?}"
    );
    println!(
        "429 after {} requests with a new X-Forwarded-For each",
        statuses.len()
    );
}

#[tokio::test]
async fn redemption_limit_counts_the_client_not_x_forwarded_for() {
    let app = spawn_app().await;
    let contact = app.contact();
    let mut n = 0;
    let mut last = None;
    for i in 0..100 {
        n += 1;
        let xff = format!("203.0.113.{i}");
        let a = app
            .call(
                Method::POST,
                "/v1/issuance/redeem",
                Some(&contact),
                Some(json!({ "reference": format!("{:010}", i), "code": "AAAAAAAAAAAA", "accept_terms": true })),
                &[("x-forwarded-for", xff.as_str())],
            )
            .await;
        if a.status == 429 {
            throttled(&a);
            last = Some(429);
            break;
        }
        // Unknown references until the limit answers.
        a.problem(404, None);
    }
    assert_eq!(last, Some(429), "no 429 after {n} redemptions");
    println!("429 after {n} redemptions with a new X-Forwarded-For each");
}
