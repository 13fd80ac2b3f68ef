//! The service in-process (no sockets): the embedded default in a temp data dir, driven
//! through the axum router with `tower::ServiceExt::oneshot`, plus the case budget.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use orgcert_core::clock::SystemClock;
use orgcert_functions::local::{self, LocalConfig, DEMO_CVR};
use orgcert_http::Operation;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

/// Total cases over all fuzz tests: `ORGCERT_FUZZ_CASES`, default 2,000.
pub fn total_cases() -> u32 {
    match std::env::var("ORGCERT_FUZZ_CASES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("ORGCERT_FUZZ_CASES={v:?} is not a number")),
        Err(_) => 2_000,
    }
}

/// Runs `cases` cases of `strategy` through `test`; panics with the shrunk failing input.
pub fn fuzz<S: Strategy>(
    name: &str,
    share: f64,
    strategy: S,
    test: impl Fn(S::Value) -> TestCaseResult,
) {
    let cases = ((f64::from(total_cases()) * share).ceil() as u32).max(1);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let start = Instant::now();
    let result = runner.run(&strategy, test);
    println!(
        "fuzz {name}: {cases} cases in {:.2} s, {}",
        start.elapsed().as_secs_f64(),
        if result.is_ok() {
            "0 failures"
        } else {
            "FAILED"
        }
    );
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

/// One answer of the router.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The embedded service behind its router, seeded with a few profiles and orders.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    /// The served OpenAPI document.
    pub doc: Value,
    /// Bearer tokens: user_admin, rights_admin, org_admin, a plain user.
    pub tokens: Vec<String>,
    /// Ids of existing profiles.
    pub ids: Vec<String>,
    /// Serials of existing (pending) certificates.
    pub serials: Vec<String>,
    _dir: TempDir,
}

impl Harness {
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = LocalConfig::new(
            dir.path().to_path_buf(),
            "http://127.0.0.1:9",
            "http://pki.example.dk",
            orgcert_pki::KeyAlgorithm::EcdsaP256,
        );
        let (router, tokens) = rt.block_on(async {
            let l = local::open(&cfg, Arc::new(SystemClock))
                .await
                .expect("open");
            // Directory searches and redemptions share one client key in-process: lift their rate limits so
            // that the cases reach the handler (the 429 itself is tested in api/status).
            let mut state = l.state.clone();
            state.directory_limit = Arc::new(orgcert_http::limit::Limiter::per_second(
                "directory requests",
                1_000_000,
                1_000_000,
            ));
            state.redeem_limit = Arc::new(orgcert_http::limit::Limiter::per_second(
                "one-time-code attempts",
                1_000_000,
                1_000_000,
            ));
            let tokens: Vec<String> = local::DEMO_USERS
                .iter()
                .map(|(_, email, name, roles)| {
                    l.tokens
                        .token(DEMO_CVR, email, name, roles, time::Duration::hours(2))
                        .expect("token")
                })
                .collect();
            (orgcert_http::router(state), tokens)
        });
        let mut h = Self {
            rt,
            router,
            doc: orgcert_http::openapi::document(),
            tokens,
            ids: Vec::new(),
            serials: Vec::new(),
            _dir: dir,
        };
        for (i, extra) in [
            json!({ "type": "organisation" }),
            json!({ "type": "system", "identification": "user_login", "issuing": "email" }),
            json!({ "type": "organisation", "identification": "one_time_code", "publish": true }),
        ]
        .into_iter()
        .enumerate()
        {
            let mut body =
                json!({ "name": format!("Fuzz {i}"), "contact_email": "carl.contact@demo-org.dk" });
            body.as_object_mut()
                .expect("object")
                .extend(extra.as_object().expect("object").clone());
            let a = h.call(
                Request::post("/v1/profiles")
                    .header("authorization", format!("Bearer {}", h.tokens[0]))
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .expect("request"),
            );
            assert_eq!(a.status, 201, "{a:?}");
            let v: Value = serde_json::from_slice(&a.body).expect("json");
            h.ids
                .push(v["profile"]["id"].as_str().expect("id").to_owned());
            h.serials.push(
                v["certificate"]["serial"]
                    .as_str()
                    .expect("serial")
                    .to_owned(),
            );
        }
        h
    }

    /// Sends one request through the router.
    pub fn call(&self, req: Request<Body>) -> Answer {
        self.rt.block_on(async {
            let resp = self
                .router
                .clone()
                .oneshot(req)
                .await
                .expect("infallible router");
            let (parts, body) = resp.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
    }

    /// The statuses the document lists for an operation.
    pub fn documented(&self, op: Operation) -> Vec<u16> {
        let m = op.method().as_str().to_ascii_lowercase();
        self.doc["paths"][op.path().replace("{*", "{")][m]["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(|k| k.parse().expect("status"))
            .collect()
    }

    /// The answer is one the document allows: no 5xx, a listed status, problem+json errors.
    pub fn check(&self, op: Operation, what: &str, a: &Answer) -> TestCaseResult {
        let status = a.status.as_u16();
        let fail = |m: String| -> TestCaseResult {
            Err(proptest::test_runner::TestCaseError::fail(format!(
                "{op:?} {what}: {m}; answer {status} {}",
                String::from_utf8_lossy(&a.body[..a.body.len().min(600)])
            )))
        };
        if status >= 500 {
            return fail("server error".into());
        }
        if !self.documented(op).contains(&status) {
            return fail(format!(
                "status not in the OpenAPI document {:?}",
                self.documented(op)
            ));
        }
        if status >= 400 {
            let ct = a
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if ct != "application/problem+json" {
                return fail(format!("content-type {ct:?}"));
            }
            let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
            if v["status"] != status || v["detail"].as_str().is_none_or(str::is_empty) {
                return fail("not an RFC 9457 problem".into());
            }
        }
        Ok(())
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a path segment or query value).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
