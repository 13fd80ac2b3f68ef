//! Throttling and conflicts, which moto never produces: a scripted stand-in for the KMS
//! and DynamoDB JSON protocols on 127.0.0.1 answers with throttling errors and
//! transaction conflicts first, and the adapters retry with backoff, then give up with
//! `Unavailable`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use orgcert_aws::{deadline, sdk_config, AwsConfig, DynamoStore, KmsSigner};
use orgcert_core::ports::{Store, Write};
use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, KeyAlgorithm, KeyFileSigner};
use orgcert_tests::conformance::{audit_event, put_organisation, random_cvr, T0};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Answers one request: (operation from X-Amz-Target, body) -> (status, JSON).
type Script = dyn Fn(&str, &Value) -> (StatusCode, Value) + Send + Sync;

struct Fake {
    url: String,
    calls: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Fake {
    async fn start(script: Arc<Script>) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let script = script.clone();
            let seen = seen.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let op = target.rsplit('.').next().unwrap_or_default().to_owned();
                seen.lock().unwrap().push(op.clone());
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, answer) = script(&op, &body);
                let mut resp: Response = (status, answer.to_string()).into_response();
                resp.headers_mut().insert(
                    "content-type",
                    "application/x-amz-json-1.0".parse().unwrap(),
                );
                resp
            }
        };
        let app = Router::new().route("/", post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, calls, server }
    }

    /// `op` was tried more often than the SDK's 4 attempts: retried until the deadline.
    fn assert_retried_past_the_sdk(&self, op: &str) {
        let n = self.count(op);
        assert!(n > 4, "{op}: retried past the SDK's 4 attempts: {n}");
    }
    fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == op)
            .count()
    }

    fn config(&self) -> AwsConfig {
        AwsConfig {
            table: "orgcert".into(),
            bucket: "unused".into(),
            kms_key_id: "test-key".into(),
            sender: "orgcert@eksempel.dk".into(),
            ses_configuration_set: None,
            public_url: "http://127.0.0.1:9".into(),
            pki_url: "http://pki.example.dk".into(),
            endpoint_url: Some(self.url.clone()),
            region: Some("us-east-1".into()),
            code_key_object: None,
            policy_oids: orgcert_pki::Authority::default_policies(),
            name_registration_authority: None,
        }
    }
}

fn throttled() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({ "__type": "ThrottlingException", "message": "Rate exceeded" }),
    )
}

/// A fake KMS over a key file: GetPublicKey, and Sign throttled `throttles` times first.
async fn fake_kms(throttles: usize) -> (Fake, Arc<KeyFileSigner>) {
    let key = Arc::new(KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap());
    let k = key.clone();
    let signs = AtomicUsize::new(0);
    let script: Arc<Script> = Arc::new(move |op, body| match op {
        "GetPublicKey" => (
            StatusCode::OK,
            json!({
                "KeyId": "test-key",
                "KeySpec": "ECC_NIST_P256",
                "KeyUsage": "SIGN_VERIFY",
                "PublicKey": B64.encode(k.public_key_spki_der()),
                "SigningAlgorithms": ["ECDSA_SHA_256"],
            }),
        ),
        "Sign" if signs.fetch_add(1, Ordering::SeqCst) < throttles => throttled(),
        "Sign" => {
            assert_eq!(body["MessageType"], "RAW");
            let msg = B64.decode(body["Message"].as_str().unwrap()).unwrap();
            (
                StatusCode::OK,
                json!({
                    "KeyId": "test-key",
                    "Signature": B64.encode(k.sign(&msg).unwrap()),
                    "SigningAlgorithm": "ECDSA_SHA_256",
                }),
            )
        }
        _ => (
            StatusCode::BAD_REQUEST,
            json!({ "__type": "UnknownOperationException" }),
        ),
    });
    (Fake::start(script).await, key)
}

async fn kms_signer(fake: &Fake) -> KmsSigner {
    let sdk = sdk_config(&fake.config()).await;
    KmsSigner::new(aws_sdk_kms::Client::new(&sdk), "test-key")
        .await
        .expect("signer over the fake KMS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_throttling_is_retried_with_backoff() {
    // 5 throttles: more than the SDK's 4 attempts, so our own second wind is needed.
    let (fake, key) = fake_kms(5).await;
    let signer = kms_signer(&fake).await;
    let sig = signer
        .sign_async(b"to be signed")
        .await
        .expect("signed after throttling");
    assert!(!sig.is_empty());
    assert_eq!(fake.count("Sign"), 6);
    assert_eq!(
        fake.count("GetPublicKey"),
        1,
        "the public key is fetched once"
    );
    assert_eq!(signer.public_key_spki_der(), key.public_key_spki_der());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_throttling_without_end_is_unavailable_before_the_deadline() {
    let (fake, _) = fake_kms(usize::MAX).await;
    let signer = kms_signer(&fake).await;
    // Retried for as long as the deadline allows (not a count), then given up by the
    // loop itself, in time to answer: not cut off by the request's scope.
    let deadline = Instant::now() + Duration::from_secs(6);
    let err = deadline::scope(deadline, signer.sign_async(b"tbs"))
        .await
        .expect("the signer gave up before the scope cut it off")
        .unwrap_err();
    let err = orgcert_pki::port::to_domain(err);
    assert!(
        matches!(&err, DomainError::Unavailable(m) if m.contains("KMS Sign")),
        "{err:?}"
    );
    fake.assert_retried_past_the_sdk("Sign");
}

fn cancelled(codes: &[&str]) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons {codes:?}"),
            "CancellationReasons": codes.iter().map(|c| json!({ "Code": c })).collect::<Vec<_>>(),
        }),
    )
}

fn two_writes() -> Vec<Write> {
    let org = random_cvr();
    vec![
        put_organisation(&org),
        Write::Audit(audit_event(&org, "organisation.create", org.as_str(), T0)),
    ]
}

async fn store_over(script: Arc<Script>) -> (Fake, DynamoStore) {
    let fake = Fake::start(script).await;
    let sdk = sdk_config(&fake.config()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "orgcert");
    (fake, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_conflicts_are_retried_then_unavailable() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let (fake, store) = store_over(Arc::new(move |op, body| {
        // A batch with an audit event first reads the organisation's audit chain head.
        if op == "GetItem" {
            return (StatusCode::OK, json!({}));
        }
        assert_eq!(op, "TransactWriteItems");
        assert!(
            body["ClientRequestToken"].is_string(),
            "idempotency token sent"
        );
        if m.fetch_add(1, Ordering::SeqCst) < 2 {
            cancelled(&["None", "TransactionConflict"])
        } else {
            (StatusCode::OK, json!({}))
        }
    }))
    .await;
    store
        .commit(two_writes())
        .await
        .expect("committed on the third try");
    assert_eq!(fake.count("TransactWriteItems"), 3);

    // Throttled without end: retried until the deadline allows no further try, then
    // Unavailable from the loop itself (not the request's scope cutting it off).
    let (fake, store) = store_over(Arc::new(|op, _| {
        if op == "GetItem" {
            return (StatusCode::OK, json!({}));
        }
        cancelled(&["ThrottlingError", "None"])
    }))
    .await;
    let deadline = Instant::now() + Duration::from_secs(6);
    let err = deadline::scope(deadline, store.commit(two_writes()))
        .await
        .expect("the store gave up before the scope cut it off")
        .unwrap_err();
    assert!(
        matches!(&err, DomainError::Unavailable(m) if m.contains("until the deadline")),
        "{err:?}"
    );
    fake.assert_retried_past_the_sdk("TransactWriteItems");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_conditions_are_stale_and_never_retried() {
    let (fake, store) = store_over(Arc::new(|op, _| {
        if op == "GetItem" {
            return (StatusCode::OK, json!({}));
        }
        cancelled(&["None", "ConditionalCheckFailed"])
    }))
    .await;
    let err = store.commit(two_writes()).await.unwrap_err();
    assert!(
        matches!(&err, DomainError::StaleVersion(m) if m.contains("audit")),
        "the message names the second write: {err:?}"
    );
    assert_eq!(fake.count("TransactWriteItems"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_failing_reads() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let (fake, store) = store_over(Arc::new(move |_, _| {
        if m.fetch_add(1, Ordering::SeqCst) < 2 {
            (
                StatusCode::BAD_REQUEST,
                json!({ "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "slow down" }),
            )
        } else {
            (StatusCode::OK, json!({}))
        }
    }))
    .await;
    let org = random_cvr();
    assert_eq!(store.organisation(&org).await.unwrap(), None);
    assert_eq!(
        fake.count("GetItem"),
        3,
        "the SDK retried the throttled read"
    );

    let (fake, store) = store_over(Arc::new(|_, _| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "boom" }),
        )
    }))
    .await;
    let err = store.organisation(&org).await.unwrap_err();
    assert!(matches!(err, DomainError::Unavailable(_)), "{err:?}");
    assert_eq!(fake.count("GetItem"), 4);

    let (_fake, store) = store_over(Arc::new(|_, _| {
        (
            StatusCode::BAD_REQUEST,
            json!({ "__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException", "message": "no" }),
        )
    }))
    .await;
    let err = store.organisation(&org).await.unwrap_err();
    assert!(
        matches!(err, DomainError::Unavailable(_)),
        "access denied is a 503: {err:?}"
    );
}
