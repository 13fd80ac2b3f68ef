//! `spawn_app`: the service on an ephemeral port with a manual clock, in one of two
//! compositions chosen by `ORGCERT_TEST_BACKEND`:
//! - `local` (default): the embedded default `orgcert_functions::local` in a temp data dir;
//! - `aws`: the AWS composition on DynamoDB, KMS, S3 and SES emulated by a moto server
//!   of its own, each operation on its own Lambda function's composition (its row of
//!   the needs table, `aws_backend.rs`; needs `MOTO_SERVER`, see `tests/aws/api`);
//! - `aws-serve`: the same shape as a separate `orgcert serve --backend aws --bootstrap`
//!   process on moto, called over HTTP (`aws_backend::spawn_serve`, `tests/aws/serve`);
//!   [`Backend::Aws`] to the tests, on the binary's system clock.
//!
//! The test bodies are the same; where the two shapes truly differ the tests ask
//! [`TestApp::backend`] or use a helper here that knows the difference (download links:
//! [`TestApp::tampered_link`], [`TestApp::assert_link_expired`], ...).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use orgcert_core::app::{App, NewOrganisation};
use orgcert_core::clock::ManualClock;
use orgcert_core::model::Organisation;
use orgcert_functions::local::{self, LocalConfig, TokenKeys, DEMO_CVR};
use orgcert_pki::KeyAlgorithm;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use crate::aws_backend::{self, AwsService};

pub const ADMIN: &str = "ulla.admin@demo-org.dk";
pub const RIGHTS: &str = "rikke.rights@demo-org.dk";
pub const ORG_ADMIN: &str = "ole.org@demo-org.dk";
pub const CONTACT: &str = "carl.contact@demo-org.dk";

/// The composition the tests run against (`ORGCERT_TEST_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: SQLite, key file, files behind HMAC links, outbox.
    Local,
    /// The AWS shape on moto: DynamoDB, KMS, S3 presigned links, SES.
    Aws,
}

impl Backend {
    /// `ORGCERT_TEST_BACKEND`: unset, empty or `local`, or `aws`.
    ///
    /// # Panics
    /// For any other value.
    pub fn current() -> Self {
        match std::env::var("ORGCERT_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("local") => Backend::Local,
            Ok("aws") | Ok("aws-serve") => Backend::Aws,
            Ok(other) => panic!("ORGCERT_TEST_BACKEND={other:?}: expected local, aws or aws-serve"),
        }
    }
}

/// The composition behind a [`TestApp`].
#[allow(clippy::large_enum_variant)] // one per test server; boxing buys nothing
pub enum Composition {
    /// `orgcert_functions::local`.
    Local(local::Local),
    /// `orgcert_aws::AwsApp` on moto.
    Aws(AwsService),
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    pub tokens: Arc<TokenKeys>,
    pub backend: Backend,
    /// The use cases behind the router.
    pub service: App,
    pub composition: Composition,
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
    /// Reads a whole response: status, headers, the bytes, and the body as JSON (`Null`
    /// when it is not JSON).
    pub async fn read(resp: reqwest::Response) -> Answer {
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
///
/// On AWS the core settings of the tweak apply (CRL partitions and validity, reminder
/// days); `ocsp_delegated` does not: the AWS composition always answers OCSP with the
/// delegated responder the crl-refresh job mints (no KMS signature per answer).
pub async fn spawn_configured(
    dir: TempDir,
    ca: KeyAlgorithm,
    tweak: impl FnOnce(&mut LocalConfig),
) -> TestApp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
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
    let backend = Backend::current();
    let (tokens, service, composition) = match backend {
        Backend::Local => {
            let l = local::open(&cfg, clock.clone()).await.expect("open local");
            let router = local::router(&l);
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tokio::spawn(async move {
                // As `orgcert serve`: the machine-only routes need to know the peer.
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .await
                .expect("serve");
            });
            (l.tokens.clone(), l.state.app.clone(), Composition::Local(l))
        }
        Backend::Aws => {
            // The same token key as the local composition: its public half verifies.
            let data_dir = PathBuf::from(dir.path());
            let (tokens, public_pem) = tokio::task::spawn_blocking(move || {
                use orgcert_pki::CaSigner as _;
                let tokens = local::load_token_keys(&data_dir).expect("token key");
                let pem = std::fs::read_to_string(data_dir.join("jwt.key")).expect("jwt.key");
                let key = orgcert_pki::KeyFileSigner::from_pkcs8_pem(&pem).expect("jwt.key");
                let public = orgcert_pki::to_pem("PUBLIC KEY", &key.public_key_spki_der());
                (tokens, public)
            })
            .await
            .expect("token key task");
            let (svc, app) = if std::env::var("ORGCERT_TEST_BACKEND").as_deref() == Ok("aws-serve")
            {
                // The binary verifies with the data dir's jwt.key, as the tests mint.
                aws_backend::spawn_serve(listener, &base, ca, &cfg, clock.clone()).await
            } else {
                aws_backend::spawn(listener, &base, ca, &cfg, clock.clone(), public_pem).await
            };
            (Arc::new(tokens), app, Composition::Aws(svc))
        }
    };
    TestApp {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        clock,
        tokens,
        dir,
        backend,
        service,
        composition,
    }
}

impl TestApp {
    /// The AWS composition's functions, all composed now (see
    /// [`AwsService::warm_functions`](crate::aws_backend::AwsService::warm_functions)).
    pub async fn warm_functions(&self) {
        if let Composition::Aws(a) = &self.composition {
            a.warm_functions().await;
        }
    }

    /// The moto server of an AWS composition.
    pub fn moto(&self) -> Option<&orgcert_tests::moto::Moto> {
        match &self.composition {
            Composition::Aws(a) => Some(&a.moto),
            Composition::Local(_) => None,
        }
    }

    /// Whether the tests talk to an `orgcert serve --backend aws` process (`aws-serve`):
    /// its clock is the system's, not [`TestApp::clock`].
    pub fn is_binary(&self) -> bool {
        matches!(&self.composition, Composition::Aws(a) if a.is_binary())
    }

    /// Runs `f` where the service runs (the AWS composition has a runtime of its own).
    pub async fn on_service<F, T>(&self, f: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.composition {
            Composition::Local(_) => f.await,
            Composition::Aws(a) => a.run(f).await,
        }
    }

    /// Adds an organisation (the CLI's `org add`; no HTTP route).
    pub async fn add_organisation(
        &self,
        org: NewOrganisation,
    ) -> orgcert_core::error::Result<Organisation> {
        let app = self.service.clone();
        self.on_service(async move { app.add_organisation(org).await })
            .await
    }

    /// Everything the service persisted, as bytes to search: the SQLite file and its
    /// write-ahead log, or every item of the DynamoDB table.
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match &self.composition {
            Composition::Local(_) => {
                let mut out =
                    std::fs::read(self.dir.path().join("orgcert.db")).expect("orgcert.db");
                // Recent commits may still be in the write-ahead log only.
                if let Ok(wal) = std::fs::read(self.dir.path().join("orgcert.db-wal")) {
                    out.extend(wal);
                }
                out
            }
            Composition::Aws(a) => {
                let store = a.aws.store.clone();
                a.run(async move {
                    let mut out = Vec::new();
                    let mut start = None;
                    loop {
                        let page = store
                            .client()
                            .scan()
                            .table_name(store.table())
                            .set_exclusive_start_key(start.take())
                            .send()
                            .await
                            .expect("scan");
                        for item in page.items() {
                            out.extend(format!("{item:?}\n").into_bytes());
                            for v in item.values() {
                                if let Ok(b) = v.as_b() {
                                    out.extend_from_slice(b.as_ref());
                                }
                            }
                        }
                        match page.last_evaluated_key() {
                            Some(k) => start = Some(k.clone()),
                            None => return out,
                        }
                    }
                })
                .await
            }
        }
    }

    /// A download link with its signature changed.
    pub fn tampered_link(&self, url: &str) -> String {
        let tampered = match self.backend {
            Backend::Local => url.replace("sig=", "sig=00"),
            Backend::Aws => url.replace("X-Amz-Signature=", "X-Amz-Signature=00"),
        };
        assert_ne!(tampered, url, "no signature in {url}");
        tampered
    }

    /// A download link past its lifetime: 410 from the local server; S3 answers 403
    /// `AccessDenied` "Request has expired".
    #[track_caller]
    pub fn assert_link_expired(&self, a: &Answer) {
        match self.backend {
            Backend::Local => assert_eq!(a.status, 410, "{a:?}"),
            Backend::Aws => {
                let text = String::from_utf8_lossy(&a.bytes);
                assert!(
                    a.status == 403
                        && text.contains("<Code>AccessDenied</Code>")
                        && text.contains("Request has expired"),
                    "expected S3's expired-link refusal: {} {text}",
                    a.status
                );
            }
        }
    }

    /// A download link whose signature does not match: 403 from both (S3:
    /// `SignatureDoesNotMatch`).
    #[track_caller]
    pub fn assert_link_forged(&self, a: &Answer) {
        assert_eq!(a.status, 403, "{a:?}");
        if self.backend == Backend::Aws {
            let text = String::from_utf8_lossy(&a.bytes);
            assert!(
                text.contains("<Code>SignatureDoesNotMatch</Code>"),
                "{text}"
            );
        }
    }

    /// A download link whose file is gone (or which expired first): 410 or 404 locally;
    /// on S3 the link's expiry is checked before the key, so 403 "Request has expired"
    /// or 404 `NoSuchKey`.
    #[track_caller]
    pub fn assert_download_gone(&self, a: &Answer) {
        match self.backend {
            Backend::Local => assert!(a.status == 410 || a.status == 404, "{a:?}"),
            Backend::Aws => {
                let text = String::from_utf8_lossy(&a.bytes);
                assert!(
                    (a.status == 403 && text.contains("Request has expired"))
                        || (a.status == 404 && text.contains("NoSuchKey")),
                    "{} {text}",
                    a.status
                );
            }
        }
    }

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
    /// A token whose login time (`iat`) is `at` (the service's clock is a manual one).
    pub fn token_issued_at(&self, email: &str, roles: &[&str], at: OffsetDateTime) -> String {
        self.token_in_issued_at(DEMO_CVR, email, roles, at)
    }
    pub fn token_in_issued_at(
        &self,
        org: &str,
        email: &str,
        roles: &[&str],
        at: OffsetDateTime,
    ) -> String {
        // Valid for a day from `at`: a login from the past is still unexpired now.
        self.tokens
            .token_issued_at(org, email, "Test User", roles, Duration::days(1), at)
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
        // The binary signs links on the system clock, which moto's check follows unset.
        if let Some(moto) = self.moto().filter(|_| !self.is_binary()) {
            if url.starts_with(&moto.endpoint()) {
                // A presigned S3 link: S3's clock is the test's manual clock.
                moto.set_clock(self.clock_now()).await;
            }
        }
        let method_is_post = method == Method::POST;
        let mut rb = self.http.request(method, url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        } else if method_is_post
            && path.starts_with("/_local/")
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            // The local job trigger takes only JSON requests (no cross-site form posts).
            rb = rb.header("content-type", "application/json");
        }
        let resp = rb.send().await.expect("request");
        Answer::read(resp).await
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
    /// `POST /v1/certificates/{serial}/{action}` (revoke, renew, issuance-link…) with
    /// `body`, as the user admin.
    pub async fn act(&self, serial: &str, action: &str, body: Value) -> Answer {
        let path = format!("/v1/certificates/{serial}/{action}");
        self.post(&path, &self.admin(), body).await
    }
    /// The items of every page of the list at `path` (which has a query already), following
    /// `next_cursor` to the end, with `token`.
    pub async fn all_pages(&self, path: &str, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = path.to_owned();
        loop {
            let page = self.get(&next, token).await;
            let page = page.ok(200);
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => next = format!("{path}&cursor={c}"),
                None => return items,
            }
        }
    }
    /// `PUT /v1/profiles/{id}/{setting}` (system-rights, seal-generation) with `body`, as
    /// the user admin.
    pub async fn profile_put(&self, id: &str, setting: &str, body: Value) -> Answer {
        let path = format!("/v1/profiles/{id}/{setting}");
        self.put(&path, &self.admin(), body).await
    }
    /// `POST /v1/certificates/{serial}/revoke` with `body`, as the user admin.
    pub async fn revoke(&self, serial: &str, body: Value) -> Answer {
        self.act(serial, "revoke", body).await
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
        Answer::read(resp).await
    }

    /// Runs a scheduled job as its schedule would (`POST /_local/jobs/{name}`, no token):
    /// its report, after checking the answer is 200.
    pub async fn run_job(&self, name: &str) -> Value {
        let path = format!("/_local/jobs/{name}");
        let a = self.call(Method::POST, &path, None, None, &[]).await;
        assert_eq!(a.status, 200, "{name}: {a:?}");
        a.body
    }

    /// Mails in the outbox (oldest first).
    pub async fn outbox(&self) -> Vec<Value> {
        if let Some(moto) = self.moto().filter(|_| self.is_binary()) {
            // The binary serves no /_local/outbox: SES's messages, read from moto.
            let mails = aws_backend::moto_outbox(&self.http, &moto.endpoint())
                .await
                .expect("moto outbox");
            return mails.as_array().cloned().unwrap_or_default();
        }
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

    /// [`TestApp::create`] with `fields`, issued through its link as the contact: the
    /// order's and the issuance's answers (both 201).
    pub async fn create_issued(&self, fields: Value) -> (Value, Value) {
        let order = self.create(fields).await.ok(201).clone();
        let url = order["issuance_url"].as_str().expect("an issuance link");
        let issued = self.issue_via(url, json!({ "accept_terms": true })).await;
        (order, issued.ok(201).clone())
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

/// The verifier runners (openssl, keytool, pkilint), shared with the other test binaries.
pub use orgcert_tests::tools::{must, openssl_csr, openssl_verify, run};

/// The directory holding pkilint's commands, or None when the tools are not required.
pub fn pkilint() -> Option<PathBuf> {
    match std::env::var("PKILINT_BIN") {
        Ok(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => {
            assert!(
                std::env::var("ORGCERT_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "ORGCERT_REQUIRE_TOOLS=1 but PKILINT_BIN is not set"
            );
            eprintln!("PKILINT_BIN not set: skipping pkilint (the README test command sets it)");
            None
        }
    }
}
