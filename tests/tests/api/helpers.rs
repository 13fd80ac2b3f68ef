//! `spawn_app`: the local composition on an ephemeral port, a temp data dir and a manual clock.

use std::path::PathBuf;
use std::sync::Arc;

use orgcert_core::clock::ManualClock;
use orgcert_functions::local::{self, LocalConfig, TokenKeys, DEMO_CVR};
use orgcert_pki::KeyAlgorithm;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

pub const ADMIN: &str = "ulla.admin@demo-org.dk";
pub const RIGHTS: &str = "rikke.rights@demo-org.dk";
pub const ORG_ADMIN: &str = "ole.org@demo-org.dk";
pub const CONTACT: &str = "carl.contact@demo-org.dk";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    pub tokens: Arc<TokenKeys>,
    pub local: local::Local,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Answer {
    /// Asserts a problem+json answer with this status and (if given) a field error on `field`.
    #[track_caller]
    pub fn problem(&self, status: u16, field: Option<&str>) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(ct, "application/problem+json", "{self:?}");
        assert_eq!(self.body["status"], status, "{self:?}");
        assert!(
            self.body["type"].as_str().is_some_and(|t| !t.is_empty()),
            "{self:?}"
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "{self:?}"
        );
        if let Some(f) = field {
            let fields: Vec<&str> = self.body["errors"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(fields.contains(&f), "expected field {f} in {self:?}");
        }
        self
    }
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        &self.body
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(KeyAlgorithm::Rsa3072).await
}

pub async fn spawn_app_with(ca: KeyAlgorithm) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_in(dir, ca).await
}

pub async fn spawn_in(dir: TempDir, ca: KeyAlgorithm) -> TestApp {
    spawn_configured(dir, ca, |_| {}).await
}

/// Spawns with a configuration tweak (CRL partitions, OCSP signer, reminder days...).
pub async fn spawn_configured(
    dir: TempDir,
    ca: KeyAlgorithm,
    tweak: impl FnOnce(&mut LocalConfig),
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    // pkilint treats loopback URLs as internal names: certificates carry a public-suffix name.
    let mut cfg = LocalConfig::new(
        PathBuf::from(dir.path()),
        &base,
        "http://pki.example.dk",
        ca,
    );
    tweak(&mut cfg);
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let l = local::open(&cfg, clock.clone()).await.expect("open local");
    let router = local::router(&l);
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    TestApp {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        clock,
        tokens: l.tokens.clone(),
        dir,
        local: l,
    }
}

impl TestApp {
    pub fn clock_now(&self) -> OffsetDateTime {
        use orgcert_core::clock::Clock;
        self.clock.now()
    }
    pub fn token(&self, email: &str, roles: &[&str]) -> String {
        self.token_in(DEMO_CVR, email, roles)
    }
    pub fn token_in(&self, org: &str, email: &str, roles: &[&str]) -> String {
        self.tokens
            .token(org, email, "Test User", roles, Duration::hours(1))
            .expect("token")
    }
    pub fn admin(&self) -> String {
        self.token(ADMIN, &["user_admin"])
    }
    pub fn rights(&self) -> String {
        self.token(RIGHTS, &["rights_admin"])
    }
    pub fn org_admin(&self) -> String {
        self.token(ORG_ADMIN, &["org_admin"])
    }
    pub fn contact(&self) -> String {
        self.token(CONTACT, &[])
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut rb = self.http.request(method, url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            bytes,
        }
    }
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body), &[])
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None, &[])
            .await
    }
    /// Sends raw bytes as the JSON body.
    pub async fn raw(&self, method: Method, path: &str, token: &str, body: &str) -> Answer {
        let resp = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            bytes,
        }
    }

    /// Mails in the outbox (oldest first).
    pub async fn outbox(&self) -> Vec<Value> {
        let a = self
            .call(Method::GET, "/_local/outbox", None, None, &[])
            .await;
        a.body.as_array().cloned().unwrap_or_default()
    }

    /// The newest mail to `to` with this subject.
    pub async fn last_mail(&self, to: &str, subject: &str) -> Value {
        self.outbox()
            .await
            .into_iter()
            .rev()
            .find(|m| m["to"].as_str().is_some_and(|t| t.contains(to)) && m["subject"] == subject)
            .unwrap_or_else(|| panic!("no mail {subject:?} to {to}"))
    }

    /// Creates a profile with sensible defaults overridden by `fields`.
    pub async fn create(&self, fields: Value) -> Answer {
        let mut body =
            json!({ "type": "organisation", "name": "Test profile", "contact_email": CONTACT });
        if fields.get("identification").is_none() {
            body["issuing"] = json!("direct");
        }
        for (k, v) in fields.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        self.post("/v1/profiles", &self.admin(), body).await
    }

    /// Issues a certificate through an issuance URL as the contact.
    pub async fn issue_via(&self, url: &str, body: Value) -> Answer {
        let token = url.rsplit('/').next().expect("token");
        self.post(&format!("/v1/issuance/{token}"), &self.contact(), body)
            .await
    }
}

/// Token at the end of a link.
pub fn link_token(url: &str) -> &str {
    url.rsplit('/').next().expect("token")
}
