//! The AWS shape ready for production (issue 17), on moto, in-process.
//!
//! Deadlines, not retry counts (item 6): the router of the Lambda
//! functions, wrapped as `serve_http` wraps it (`orgcert_lambda::watch::layer`), gets
//! requests carrying a Lambda context whose deadline the test sets. moto is made slower
//! than that deadline (the delay switch of `tests/aws/moto/sitecustomize.py`), first
//! DynamoDB, then KMS; each time the answer must be a 503 problem+json, and it must come
//! before the deadline (the request future is bounded by it: an answer after it fails the
//! test). A disabled CA key is a permanent state: a 503 that says "CA key unavailable".
//!
//! Init reads the CA public key from the stored CA certificate: composing an API
//! function and serving healthz and the CA certificate makes no KMS call at all.
//!
//! Watch it (item 2): the log line of one request is JSON, carries the Lambda request
//! id, names the route template, and holds no secret of the request or its answer.
//!
//! Needs `MOTO_SERVER` (skips with a message without it, unless `ORGCERT_REQUIRE_TOOLS=1`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use lambda_http::request::RequestContext;
use orgcert_aws::{AwsApp, AwsConfig};
use orgcert_core::app::{Delivery, ProfileInput};
use orgcert_core::auth::Role;
use orgcert_core::clock::SystemClock;
use orgcert_core::ids::Cvr;
use orgcert_core::model::CertStatus;
use orgcert_core::ports::Store as _;
use orgcert_http::HttpState;
use orgcert_lambda::{watch, with_source_ip_layer, ApiGatewayClaims};
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::conformance::actor;
use orgcert_tests::moto::{app_with_organisation, Moto};
use serde_json::{json, Value};
use tower::ServiceExt as _;
use uuid::Uuid;

/// The tests of this file one at a time: a request with a Lambda context sets the
/// process-wide invocation deadline (one invocation at a time, as in Lambda), which the
/// KMS signer reads on its blocking thread; two tests' requests at once would overwrite
/// each other's.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ADMIN: &str = "ulla.admin@eksempel.dk";
const CONTACT: &str = "carl.kontakt@eksempel.dk";
/// The deadline each request gets: room for moto's normal answers, far less than the
/// injected delay.
const BUDGET: Duration = Duration::from_secs(4);
/// What moto is slowed to: past the budget.
const DELAY_S: f64 = 12.0;

fn claims(org: &Cvr, email: &str, roles: &str) -> HashMap<String, String> {
    [
        ("sub", format!("idp|{email}")),
        ("email", email.to_owned()),
        ("name", "Test".to_owned()),
        ("org", org.to_string()),
        ("roles", roles.to_owned()),
        ("iss", "https://login.eksempel.dk/realms/orgcert".to_owned()),
        ("aud", "orgcert".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A request as `lambda_http` hands it to the router: the API Gateway context with the
/// JWT authorizer's claims, and the Lambda context with its deadline (epoch ms).
fn request(
    method: &str,
    path: &str,
    claims: &HashMap<String, String>,
    body: Option<Value>,
    deadline_ms: u64,
) -> lambda_http::http::Request<Body> {
    let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
        serde_json::from_value(json!({
            "authorizer": { "jwt": { "claims": claims, "scopes": null } },
            "http": { "method": method, "path": path, "sourceIp": "198.51.100.7" },
            "requestId": "api-gw-request",
        }))
        .expect("request context");
    let mut lambda = lambda_runtime::Context::default();
    lambda.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    lambda.deadline = deadline_ms;
    let mut req = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    req.extensions_mut()
        .insert(RequestContext::ApiGatewayV2(ctx));
    req.extensions_mut().insert(lambda);
    req
}

fn epoch_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

/// Sends `req` and waits for its answer at most until `deadline_ms`; panics past it.
async fn answer_before(
    router: &axum::Router,
    req: lambda_http::http::Request<Body>,
    deadline_ms: u64,
) -> (u16, String, Value) {
    let left = Duration::from_millis(deadline_ms.saturating_sub(epoch_ms()));
    let resp = tokio::time::timeout(left, router.clone().oneshot(req))
        .await
        .expect("the answer came before the deadline the request carried")
        .expect("infallible");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, ctype, json)
}

/// This file's turn ([`ONE_AT_A_TIME`]), moto, and its resources with an ECDSA P-256 CA;
/// `None` (after saying why) without moto.
async fn moto_with_ca() -> Option<(tokio::sync::MutexGuard<'static, ()>, Moto, AwsConfig)> {
    let one = ONE_AT_A_TIME.lock().await;
    let moto = Moto::try_start()?;
    let cfg = moto.provision_with_ca(KeyAlgorithm::EcdsaP256).await;
    Some((one, moto, cfg))
}

/// The router of the Lambda functions over `aws`, wrapped as `serve_http` wraps it.
fn lambda_router(aws: &AwsApp) -> axum::Router {
    watch::layer(with_source_ip_layer(orgcert_http::router(HttpState::new(
        aws.app.clone(),
        Arc::new(ApiGatewayClaims),
    ))))
}

/// [`app_with_order`]: the app, its organisation and one pending order with its link.
struct Ordered {
    aws: AwsApp,
    org: Cvr,
    profile_id: Uuid,
    token: String,
}

/// The AWS app composed on `cfg`, a new organisation `org_name`, and an organisation
/// certificate `profile` ordered by the administrator for direct delivery to `CONTACT`.
async fn app_with_order(cfg: &AwsConfig, org_name: &str, profile: &str) -> Ordered {
    let (aws, org) = app_with_organisation(cfg, org_name).await;
    let input: ProfileInput = serde_json::from_value(json!({
        "type": "organisation",
        "name": profile,
        "contact_email": CONTACT,
        "issuing": "direct",
        "key_algorithm": "ecdsa-p256",
    }))
    .expect("profile input");
    let order = aws
        .app
        .create_profile(&actor(&org, ADMIN, vec![Role::UserAdmin]), input, None)
        .await
        .expect("order");
    let Delivery::Link { url } = order.delivery else {
        panic!("direct delivery gives a link")
    };
    Ordered {
        token: url.rsplit('/').next().expect("token").to_owned(),
        profile_id: order.profile.id,
        aws,
        org,
    }
}

fn assert_503_problem(what: &str, (status, ctype, body): &(u16, String, Value)) {
    assert_eq!(*status, 503, "{what}: {body}");
    assert_eq!(ctype, "application/problem+json", "{what}: {body}");
    assert_eq!(body["status"], 503, "{what}: {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_kms_and_dynamodb_answer_503_problem_before_the_deadline() {
    let Some((_one, moto, cfg)) = moto_with_ca().await else {
        return;
    };
    let Ordered {
        aws,
        org,
        profile_id,
        token,
    } = app_with_order(&cfg, "Tidsfrist ApS", "Fakturasignering").await;
    let router = lambda_router(&aws);
    let admin = claims(&org, ADMIN, "[user_admin]");
    let holder = claims(&org, CONTACT, "[]");
    // One request with a deadline `budget` from now, answered before it.
    let send = |budget: Duration, method: &'static str, path: String, claims, body| {
        let deadline = epoch_ms() + u64::try_from(budget.as_millis()).expect("ms");
        answer_before(
            &router,
            request(method, &path, claims, body, deadline),
            deadline,
        )
    };
    let path = format!("/v1/profiles/{profile_id}");
    let issue_path = format!("/v1/issuance/{token}");
    let accept = || Some(json!({ "accept_terms": true }));

    // Sanity: with moto at its normal speed the same request succeeds within the budget.
    let (status, _, body) = send(BUDGET, "GET", path.clone(), &admin, None).await;
    assert_eq!(status, 200, "{body}");

    // DynamoDB slower than the deadline: a read.
    moto.set_delay("dynamodb", DELAY_S).await;
    let slow_read = send(BUDGET, "GET", path, &admin, None).await;
    moto.set_delay("dynamodb", 0.0).await;
    assert_503_problem("GET profile, DynamoDB slow", &slow_read);

    // KMS slower than the deadline: the issuance's signature.
    moto.set_delay("kms", DELAY_S).await;
    let slow_sign = send(BUDGET, "POST", issue_path.clone(), &holder, accept()).await;
    moto.set_delay("kms", 0.0).await;
    assert_503_problem("issue, KMS slow", &slow_sign);
    // Nothing half-written: the order is still pending, and can be issued.
    let certs = aws
        .store
        .certificates_of(&org, profile_id)
        .await
        .expect("certificates");
    assert_eq!(certs[0].status, CertStatus::Pending, "{certs:?}");

    // A disabled CA key is permanent: no retries until the deadline, a 503 that says so.
    let kms = aws_sdk_kms::Client::new(&orgcert_aws::sdk_config(&cfg).await);
    let key = cfg.kms_key_id.as_str();
    kms.disable_key().key_id(key).send().await.expect("disable");
    let disabled = send(BUDGET, "POST", issue_path.clone(), &holder, accept()).await;
    assert_503_problem("issue, key disabled", &disabled);
    assert!(
        disabled.2["detail"]
            .as_str()
            .is_some_and(|d| d.contains("CA key unavailable")),
        "{}",
        disabled.2
    );

    // Key enabled again: the same link issues, within the budget.
    kms.enable_key().key_id(key).send().await.expect("enable");
    let (status, _, body) = send(BUDGET * 3, "POST", issue_path, &holder, accept()).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_and_public_requests_make_no_kms_call() {
    let Some((_one, moto, cfg)) = moto_with_ca().await else {
        return;
    };
    let before = moto.calls("kms").await;
    assert!(
        before > 0,
        "the bootstrap signed with KMS: the counter counts"
    );
    let aws = orgcert_aws::AwsApp::compose(&cfg, Arc::new(SystemClock))
        .await
        .expect("compose");
    let router = lambda_router(&aws);
    let deadline = epoch_ms() + 20_000;
    let none = HashMap::new();
    for path in ["/healthz", "/public/ca.pem", "/public/ca.cer"] {
        let (status, _, _) = answer_before(
            &router,
            request("GET", path, &none, None, deadline),
            deadline,
        )
        .await;
        assert_eq!(status, 200, "{path}");
    }
    assert_eq!(
        moto.calls("kms").await - before,
        0,
        "compose, healthz and the CA certificate need no KMS"
    );
}

/// Everything the JSON log layer wrote, for the log test.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_line_is_json_with_its_request_id_and_no_secret() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let Some((_one, _moto, cfg)) = moto_with_ca().await else {
        return;
    };
    // The production layer, writing into a buffer: every thread of this process logs
    // there from now on (other tests of this binary included; only this one's request
    // is looked at).
    let logs = Captured::default();
    let writer = logs.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(watch::json_layer(move || writer.clone())),
    )
    .expect("the only global subscriber of this test binary");

    let Ordered {
        aws, org, token, ..
    } = app_with_order(&cfg, "Logbog ApS", "Logsignering").await;
    let router = lambda_router(&aws);
    let deadline = epoch_ms() + 20_000;
    let mut req = request(
        "POST",
        &format!("/v1/issuance/{token}"),
        &claims(&org, CONTACT, "[]"),
        Some(json!({ "accept_terms": true })),
        deadline,
    );
    let bearer = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsb2ctdGVzdCJ9.c2lnbmF0dXJlLWxvZw";
    req.headers_mut()
        .insert("authorization", bearer.parse().expect("header"));
    let (status, _, issued) = answer_before(&router, req, deadline).await;
    assert_eq!(status, 201, "{issued}");
    let password = issued["password"].as_str().expect("a password").to_owned();

    let text = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("UTF-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let line = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "/v1/issuance/{token}")
        .unwrap_or_else(|| panic!("no request line in {text}"));
    assert_eq!(
        line["request_id"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        "{line}"
    );
    assert_eq!(line["status"], 201, "{line}");
    assert_eq!(line["method"], "POST", "{line}");
    assert_eq!(line["actor"], "user", "{line}");
    assert!(line["latency_ms"].is_u64(), "{line}");
    for (what, secret) in [
        ("issuance token", token.as_str()),
        ("PKCS#12 password", password.as_str()),
        ("bearer token", bearer),
        ("bearer token", "eyJhbGciOiJSUzI1NiJ9"),
    ] {
        assert!(!text.contains(secret), "the {what} is in the logs: {text}");
    }
}
