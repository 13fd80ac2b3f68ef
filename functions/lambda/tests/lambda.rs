//! The Lambda functions run as Lambda functions, against moto.
//!
//! `cargo lambda watch --only-lambda-apis` is the Lambda Runtime API emulator; the
//! functions' `bootstrap` executables (the bins of this package, or those of
//! `cargo lambda build` under `ORGCERT_LAMBDA_DIR`) poll it with the environment Lambda
//! gives them plus the documented `ORGCERT_*` variables pointing at moto, and
//! `cargo lambda invoke --data-file` sends them real event JSON: API Gateway HTTP API
//! (payload 2.0) events with the JWT authorizer's claims, and an EventBridge scheduled
//! event with its `time`.
//!
//! Needs `cargo-lambda` (`tests/lambda/run` installs it into `.venv`) and `MOTO_SERVER`;
//! without either the test skips with a message, unless `ORGCERT_REQUIRE_TOOLS=1`.
//! Run with `--nocapture` to see the cold start of `create-profile`. To run the
//! executables of a native `cargo lambda build` instead of Cargo's test build:
//!
//! ```text
//! cargo lambda build --release -p orgcert-lambda --lambda-dir target/lambda-x86_64 \
//!   --bin create-profile --bin get-profile --bin issue-certificate --bin renewal-reminders \
//!   --bin issue-by-api --bin self-renew
//! ORGCERT_LAMBDA_DIR=$PWD/target/lambda-x86_64 cargo test -p orgcert-lambda --test lambda
//! ```
//!
//! `ORGCERT_LAMBDA_RUNNER` is a command put before each `bootstrap`, e.g. to run the arm64
//! build under qemu-user (Debian: qemu-user, libc6-arm64-cross):
//! `ORGCERT_LAMBDA_DIR=$PWD/target/lambda ORGCERT_LAMBDA_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"`.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orgcert_aws::AwsConfig;
use orgcert_core::ids::Cvr;
use orgcert_core::model::CertStatus;
use orgcert_core::ports::Store;
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::conformance::actor;
use orgcert_tests::moto::{app_with_organisation, Moto, REGION};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::process::{Child, Command};

const ADMIN: &str = "ulla.admin@eksempel.dk";
const CONTACT: &str = "carl.kontakt@eksempel.dk";
/// The machine API's custom domain (mutual TLS) in these events.
const MACHINE_DOMAIN: &str = "mtls.eksempel.dk";
/// How long one invocation may take, cold start included.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(90);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn require_tools() -> bool {
    std::env::var("ORGCERT_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// `CARGO_LAMBDA`, else the project venv's, else the one on `PATH`.
fn cargo_lambda() -> Option<PathBuf> {
    let explicit = std::env::var_os("CARGO_LAMBDA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let venv = Some(workspace_root().join(".venv/bin/cargo-lambda")).filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("cargo-lambda"))
                .find(|p| p.is_file())
        })
    };
    let found = explicit.or(venv).or_else(on_path);
    if found.is_none() {
        assert!(
            !require_tools(),
            "cargo-lambda not found but ORGCERT_REQUIRE_TOOLS=1 (run tests/lambda/run)"
        );
        eprintln!("skipped: cargo-lambda not found (tests/lambda/run installs it into .venv)");
    }
    found
}

/// The `bootstrap` of function `name`: from `ORGCERT_LAMBDA_DIR` (the `--lambda-dir` of a
/// native `cargo lambda build`), else the bin Cargo built for this test.
fn bootstrap(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("ORGCERT_LAMBDA_DIR").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(dir).join(name).join("bootstrap");
        assert!(path.is_file(), "{} is missing", path.display());
        return path;
    }
    PathBuf::from(match name {
        "create-profile" => env!("CARGO_BIN_EXE_create-profile"),
        "get-profile" => env!("CARGO_BIN_EXE_get-profile"),
        "issue-certificate" => env!("CARGO_BIN_EXE_issue-certificate"),
        "renewal-reminders" => env!("CARGO_BIN_EXE_renewal-reminders"),
        "issue-by-api" => env!("CARGO_BIN_EXE_issue-by-api"),
        "self-renew" => env!("CARGO_BIN_EXE_self-renew"),
        other => panic!("no bin named {other} in this test"),
    })
}

fn free_port() -> u16 {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `cargo lambda watch --only-lambda-apis` on 127.0.0.1, and the functions polling it.
struct Emulator {
    cargo_lambda: PathBuf,
    port: u16,
    child: Child,
    log: PathBuf,
    functions: Mutex<Vec<(String, Child, PathBuf)>>,
    env: Vec<(String, String)>,
    dir: Arc<tempfile::TempDir>,
}

impl Emulator {
    async fn start(cargo_lambda: PathBuf, cfg: &AwsConfig) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let root = workspace_root();
        for _ in 0..3 {
            let port = free_port();
            let log = dir.path().join(format!("watch-{port}.log"));
            let child = Command::new(&cargo_lambda)
                .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
                .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
                .arg(port.to_string())
                .arg("--manifest-path")
                .arg(root.join("Cargo.toml"))
                .args(["-p", "orgcert-lambda"])
                .current_dir(&root)
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).expect("log"))
                .stderr(std::fs::File::create(log.with_extension("err")).expect("log"))
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", cargo_lambda.display()));
            let mut emulator = Self {
                cargo_lambda: cargo_lambda.clone(),
                port,
                child,
                log,
                functions: Mutex::new(Vec::new()),
                env: function_env(cfg),
                dir: dir.clone(),
            };
            if emulator.wait_ready().await {
                return emulator;
            }
            let _ = emulator.child.kill().await;
            eprintln!("cargo lambda watch did not start:\n{}", emulator.logs());
        }
        panic!("cargo lambda watch did not start (3 tries)");
    }

    fn logs(&self) -> String {
        format!(
            "{}{}",
            read_log(&self.log),
            read_log(&self.log.with_extension("err"))
        )
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(200)).is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Starts function `name` the way Lambda does: `bootstrap` with the runtime API's
    /// address and the function's configuration in its environment, nothing else.
    fn spawn(&self, name: &str) {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("function log");
        let runner = std::env::var("ORGCERT_LAMBDA_RUNNER").unwrap_or_default();
        let mut command = match runner.split_whitespace().collect::<Vec<_>>().split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bootstrap(name));
                c
            }
            None => Command::new(bootstrap(name)),
        };
        let child = command
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt/{name}", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.functions
            .lock()
            .expect("functions")
            .push((name.to_owned(), child, log));
    }

    fn function_logs(&self) -> String {
        self.functions
            .lock()
            .expect("functions")
            .iter()
            .map(|(n, _, log)| format!("--- {n}\n{}", read_log(log)))
            .collect()
    }

    /// `cargo lambda invoke NAME --data-file EVENT`: the function's answer.
    async fn invoke(&self, name: &str, event: &Value) -> Value {
        let file = self
            .dir
            .path()
            .join(format!("event-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&file, serde_json::to_vec_pretty(event).expect("event")).expect("event");
        let mut cmd = Command::new(&self.cargo_lambda);
        cmd.args(["lambda", "invoke", name, "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string()])
            .arg("--data-file")
            .arg(&file)
            .args(["--output-format", "json", "--color", "never"])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let run = cmd.output();
        let out = match tokio::time::timeout(INVOKE_TIMEOUT, run).await {
            Ok(out) => out.expect("cargo lambda invoke"),
            Err(_) => panic!(
                "{name}: no answer in {INVOKE_TIMEOUT:?}\n{}\n{}",
                self.logs(),
                self.function_logs()
            ),
        };
        assert!(
            out.status.success(),
            "{name}: cargo lambda invoke failed: {}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs(),
            self.function_logs()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: the answer is no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(functions) = self.functions.get_mut() {
            for (_, child, _) in functions {
                let _ = child.start_kill();
            }
        }
        let _ = self.child.start_kill();
    }
}

/// What Lambda puts in a function's environment (bar the runtime API and the name), plus
/// the function configuration of infra/template.yaml pointing at moto.
fn function_env(cfg: &AwsConfig) -> Vec<(String, String)> {
    let endpoint = cfg.endpoint_url.clone().expect("moto endpoint");
    [
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        // Dummy credentials, as the execution role's would be; never leave 127.0.0.1.
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "orgcert-lambda-test"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("ORGCERT_LOG", "info"),
        ("ORGCERT_TABLE", &cfg.table),
        ("ORGCERT_BUCKET", &cfg.bucket),
        ("ORGCERT_KMS_KEY_ID", &cfg.kms_key_id),
        ("ORGCERT_SENDER", &cfg.sender),
        ("ORGCERT_PUBLIC_URL", &cfg.public_url),
        ("ORGCERT_PKI_URL", &cfg.pki_url),
        ("ORGCERT_AWS_ENDPOINT_URL", &endpoint),
        // infra/template.yaml with the machine API (MachineDomainName set).
        ("ORGCERT_MACHINE_DOMAIN", MACHINE_DOMAIN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The claims API Gateway's JWT authorizer passes on: every value a string, arrays as
/// `[a b]`.
fn claims(org: &Cvr, email: &str, name: &str, roles: &str) -> Value {
    json!({
        "sub": format!("idp|{}", email.split('@').next().unwrap_or_default()),
        "email": email,
        "name": name,
        "org": org.to_string(),
        "roles": roles,
        "iss": "https://login.eksempel.dk/realms/orgcert",
        "aud": "orgcert",
        "iat": "1764057600",
        "exp": "1764061200",
        "scope": "openid email profile",
    })
}

/// An API Gateway HTTP API (payload format 2.0) event for `route` with a JWT authorizer.
fn http_event(
    method: &str,
    route: &str,
    path: &str,
    path_parameters: Value,
    claims: Value,
    body: Option<Value>,
) -> Value {
    let host = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com";
    let now = OffsetDateTime::now_utc();
    let mut headers = json!({
        "accept": "application/json",
        "accept-encoding": "gzip, deflate, br",
        "authorization": "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "host": host,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": format!("Root=1-{:08x}-{}", now.unix_timestamp(), &uuid::Uuid::new_v4().simple().to_string()[..24]),
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    let body = body.map(|b| b.to_string());
    if let Some(b) = &body {
        headers["content-type"] = json!("application/json");
        headers["content-length"] = json!(b.len().to_string());
    }
    let route_key = format!("{method} {route}");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "authorizer": { "jwt": { "claims": claims, "scopes": null } },
            "domainName": host,
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": format!("{}=", &uuid::Uuid::new_v4().simple().to_string()[..15]),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format(time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            )).expect("time"),
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "isBase64Encoded": false,
    });
    if path_parameters.as_object().is_some_and(|o| !o.is_empty()) {
        event["pathParameters"] = path_parameters;
    }
    if let Some(b) = body {
        event["body"] = json!(b);
    }
    event
}

/// An EventBridge scheduled event (what a rule with a schedule delivers) at `time`.
fn scheduled_event(rule: &str, time: OffsetDateTime) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.replace_nanosecond(0).expect("time").format(&Rfc3339).expect("time"),
        "region": "eu-west-1",
        "resources": [format!("arn:aws:events:eu-west-1:123456789012:rule/{rule}")],
        "detail": {},
    })
}

/// The status and JSON body of an HTTP function's answer.
fn http_answer(name: &str, answer: &Value) -> (u64, Value) {
    let status = answer["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: no statusCode in {answer}"));
    assert_eq!(answer["isBase64Encoded"], json!(false), "{name}: {answer}");
    let body = answer["body"].as_str().unwrap_or_default();
    let body = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{name}: body is no JSON ({e}): {answer}"));
    (status, body)
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// Mails moto's SES accepted for `to`.
async fn mails_to(moto: &Moto, to: &str) -> Vec<Value> {
    moto.data().await["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t == to))
        })
        .collect()
}

/// Table, bucket, KMS key, SES identity and the CA certificate, as after a deployment and
/// `orgcert-ca self-signed`; then an organisation: what both tests start from. `None`
/// (after saying why) without cargo-lambda or moto.
async fn rig() -> Option<(PathBuf, Moto, AwsConfig, orgcert_aws::AwsApp, Cvr)> {
    let cargo_lambda = cargo_lambda()?;
    let moto = Moto::try_start()?;
    let cfg = moto.provision_with_ca(KeyAlgorithm::EcdsaP256).await;
    let (aws, org) = app_with_organisation(&cfg, "Lambda Prøve ApS").await;
    Some((cargo_lambda, moto, cfg, aws, org))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_answer_real_events_on_moto() {
    let Some((cargo_lambda, moto, cfg, aws, org)) = rig().await else {
        return;
    };
    let admin = claims(&org, ADMIN, "Ulla Admin", "[user_admin]");
    let holder = claims(&org, CONTACT, "Carl Kontakt", "[]");

    let lambda = Emulator::start(cargo_lambda, &cfg).await;
    for name in ["get-profile", "issue-certificate", "renewal-reminders"] {
        lambda.spawn(name);
    }

    // create-profile, cold: the invocation waits in the emulator while the function starts.
    let create = http_event(
        "POST",
        "/v1/profiles",
        "/v1/profiles",
        json!({}),
        admin.clone(),
        Some(json!({
            "type": "organisation",
            "name": "Fakturasignering",
            "contact_email": CONTACT,
            "issuing": "direct",
            "key_algorithm": "ecdsa-p256",
        })),
    );
    let (answer, cold) = {
        let invoke = lambda.invoke("create-profile", &create);
        tokio::pin!(invoke);
        // The request reaches the emulator's queue first, then the function starts.
        let early = tokio::time::timeout(Duration::from_millis(500), &mut invoke).await;
        assert!(early.is_err(), "create-profile answered before it started");
        let started = Instant::now();
        lambda.spawn("create-profile");
        (invoke.await, started.elapsed())
    };
    println!(
        "create-profile: cold start to first response {cold:?} (bootstrap {})",
        bootstrap("create-profile").display()
    );
    let (status, created) = http_answer("create-profile", &answer);
    assert_eq!(status, 201, "create-profile: {created}");
    assert_eq!(created["profile"]["name"], "Fakturasignering", "{created}");
    assert_eq!(created["certificate"]["status"], "pending", "{created}");
    let profile_id = text(&created["profile"]["id"]);
    let serial = text(&created["certificate"]["serial"]);
    let link = text(&created["issuance_url"]);
    let token = link.rsplit('/').next().expect("token").to_owned();

    // The order is in DynamoDB.
    let id = uuid::Uuid::parse_str(&profile_id).expect("profile id");
    let stored = aws
        .store
        .certificates_of(&org, id)
        .await
        .expect("certificates");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].serial.to_string(), serial);
    assert_eq!(stored[0].status, CertStatus::Pending);

    // The holder issues (issue-certificate), the administrator reads it back (get-profile).
    let issue = http_event(
        "POST",
        "/v1/issuance/{token}",
        &format!("/v1/issuance/{token}"),
        json!({ "token": token }),
        holder,
        Some(json!({ "accept_terms": true })),
    );
    let (status, issued) = http_answer(
        "issue-certificate",
        &lambda.invoke("issue-certificate", &issue).await,
    );
    assert_eq!(status, 201, "issue-certificate: {issued}");
    assert_eq!(text(&issued["serial"]), serial);
    assert!(
        text(&issued["download_url"]).starts_with("http"),
        "{issued}"
    );

    let get = http_event(
        "GET",
        "/v1/profiles/{id}",
        &format!("/v1/profiles/{profile_id}"),
        json!({ "id": profile_id }),
        admin,
        None,
    );
    let (status, detail) = http_answer("get-profile", &lambda.invoke("get-profile", &get).await);
    assert_eq!(status, 200, "get-profile: {detail}");
    assert_eq!(detail["profile"]["id"], json!(profile_id), "{detail}");
    let certs = detail["certificates"].as_array().expect("certificates");
    assert_eq!(certs.len(), 1, "{detail}");
    assert_eq!(certs[0]["serial"], json!(serial), "{detail}");
    assert_eq!(certs[0]["status"], "issued", "{detail}");
    let not_after =
        OffsetDateTime::parse(&text(&certs[0]["not_after"]), &Rfc3339).expect("not_after");

    // renewal-reminders, scheduled just inside 90 days before the expiry: one digest; a
    // second run at the same time sends none.
    let before = mails_to(&moto, CONTACT).await.len();
    let at = not_after - time::Duration::days(90) + time::Duration::hours(1);
    let event = scheduled_event("orgcert-renewal-reminders", at);
    let first = lambda.invoke("renewal-reminders", &event).await;
    assert_eq!(first["job"], "renewal-reminders", "{first}");
    assert_eq!(
        first["now"], event["time"],
        "the job runs for the event's time: {first}"
    );
    assert_eq!(first["detail"]["mails"], 1, "{first}");
    let mails = mails_to(&moto, CONTACT).await;
    assert_eq!(mails.len(), before + 1, "{mails:#?}");
    let digest = mails.last().expect("digest");
    assert!(
        digest["body"].as_str().is_some_and(|b| b.contains(&serial)),
        "the digest names the certificate: {digest}"
    );
    let second = lambda.invoke("renewal-reminders", &event).await;
    assert_eq!(second["detail"]["mails"], 0, "{second}");
    assert_eq!(mails_to(&moto, CONTACT).await.len(), before + 1);
}

/// An event of the machine API (API.md "System certificates: mutual TLS"): what API
/// Gateway passes after the mutual-TLS handshake on `domain` verified `cert_pem` against
/// the truststore: no authorizer, no token, the client certificate in
/// `requestContext.authentication.clientCert`.
fn machine_event(
    domain: &str,
    route: &str,
    path: &str,
    path_parameters: Value,
    cert_pem: &str,
    body: Value,
) -> Value {
    let mut e = http_event("POST", route, path, path_parameters, json!({}), Some(body));
    let ctx = e["requestContext"].as_object_mut().expect("context");
    ctx.remove("authorizer");
    ctx.insert("domainName".into(), json!(domain));
    ctx.insert(
        "domainPrefix".into(),
        json!(domain.split('.').next().unwrap_or_default()),
    );
    ctx.insert(
        "authentication".into(),
        json!({ "clientCert": {
            "clientCertPem": cert_pem,
            "subjectDN": "CN=IdM,O=Lambda Prøve ApS,C=DK",
            "issuerDN": "CN=orgcert test CA",
            "serialNumber": "a1:b2",
            "validity": { "notBefore": "Nov 29 10:00:00 2026 GMT", "notAfter": "Nov 28 10:00:00 2029 GMT" },
        } }),
    );
    let headers = e["headers"].as_object_mut().expect("headers");
    headers.remove("authorization");
    headers.insert("host".into(), json!(domain));
    e
}

/// A P-256 key's PKCS#10 request (PEM).
fn csr() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

/// The machine API's functions as Lambda functions on moto: `issue-by-api` issues an `api`
/// order for the IdM's system certificate that API Gateway passed in the request context,
/// `self-renew` renews that certificate; the same certificate arriving through the JWT
/// API's domain is not trusted (401, the order stays pending).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_api_functions_take_the_client_certificate_api_gateway_verified() {
    let Some((cargo_lambda, _moto, cfg, aws, org)) = rig().await else {
        return;
    };
    let admin = actor(&org, ADMIN, vec![orgcert_core::auth::Role::UserAdmin]);
    let order = |name: &str, rights: bool| {
        serde_json::from_value::<orgcert_core::app::ProfileInput>(json!({
            "type": "system", "name": name, "contact_email": CONTACT,
            "identification": "api", "issuing": "api", "key_algorithm": "ecdsa-p256",
            "system_rights": { "administration_api": rights, "issuance_api": rights },
        }))
        .expect("profile input")
    };
    // The IdM's certificate, issued as an `api` order (the fixture plays the issuing system).
    let idm_order = aws
        .app
        .create_profile(&admin, order("IdM", true), None)
        .await
        .expect("IdM order");
    let fixture = orgcert_core::auth::Machine {
        serial: idm_order.certificate.serial.clone(),
        org: org.clone(),
        rights: orgcert_core::model::SystemRights {
            administration_api: false,
            issuance_api: true,
            local_idp: false,
        },
    };
    let idm = aws
        .app
        .issue_for_machine(
            &fixture,
            &idm_order.certificate.serial,
            orgcert_core::app::ApiIssueRequest {
                csr: Some(csr()),
                p12_format: None,
            },
        )
        .await
        .expect("IdM certificate");
    let idm_pem = idm.certificate_pem.clone();
    let idm_serial = idm.certificate.serial.to_string();
    // The order the IdM issues over the machine API.
    let service = aws
        .app
        .create_profile(&admin, order("Service", false), None)
        .await
        .expect("service order");
    let serial = service.certificate.serial.to_string();

    // The truststore the machine API's custom domain reads (what orgcert-ca writes after
    // the bootstrap): the CA certificate, where infra/template.yaml's TruststoreUri points.
    let ca_der = orgcert_aws::load_ca_certificate(&aws.store)
        .await
        .expect("read")
        .expect("CA certificate");
    orgcert_aws::write_truststore(&cfg, &ca_der, None)
        .await
        .expect("truststore");
    use orgcert_core::ports::Objects as _;
    let truststore = aws
        .objects
        .get(orgcert_aws::TRUSTSTORE_OBJECT)
        .await
        .expect("read")
        .expect("truststore object");
    assert_eq!(
        String::from_utf8(truststore).expect("PEM"),
        orgcert_pki::to_pem("CERTIFICATE", &ca_der)
    );

    let lambda = Emulator::start(cargo_lambda, &cfg).await;
    for name in ["issue-by-api", "self-renew"] {
        lambda.spawn(name);
    }
    let route = "/v1/certificates/{serial}/issue";
    let path = format!("/v1/certificates/{serial}/issue");
    // The IdM's issuance of the service order, as API Gateway passes it from `domain`.
    let issue_on = |domain| {
        machine_event(
            domain,
            route,
            &path,
            json!({ "serial": serial }),
            &idm_pem,
            json!({ "csr": csr() }),
        )
    };
    let stored_now = || async {
        aws.store
            .certificate_any_org(&service.certificate.serial)
            .await
            .expect("read")
            .expect("order")
    };
    // The certificate block on the JWT API's domain: not trusted, 401, still pending.
    let forged = issue_on("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com");
    let (status, body) = http_answer(
        "issue-by-api",
        &lambda.invoke("issue-by-api", &forged).await,
    );
    assert_eq!(status, 401, "issue-by-api off the machine domain: {body}");
    let stored = stored_now().await;
    assert_eq!(stored.status, CertStatus::Pending);

    // Through the machine API: issued, by the IdM's certificate.
    let event = issue_on(MACHINE_DOMAIN);
    let (status, issued) =
        http_answer("issue-by-api", &lambda.invoke("issue-by-api", &event).await);
    assert_eq!(status, 201, "issue-by-api: {issued}");
    assert_eq!(text(&issued["serial"]), serial);
    assert!(
        text(&issued["certificate_pem"]).starts_with("-----BEGIN CERTIFICATE-----"),
        "{issued}"
    );
    let stored = stored_now().await;
    assert_eq!(stored.status, CertStatus::Issued);
    assert_eq!(
        stored.issued_by.as_deref(),
        Some(format!("system:{idm_serial}").as_str())
    );

    // Self-renewal through the machine API: a successor under the IdM's profile.
    let renew = machine_event(
        MACHINE_DOMAIN,
        "/v1/certificates/self/renew",
        "/v1/certificates/self/renew",
        json!({}),
        &idm_pem,
        json!({ "csr": csr() }),
    );
    let (status, renewed) = http_answer("self-renew", &lambda.invoke("self-renew", &renew).await);
    assert_eq!(status, 201, "self-renew: {renewed}");
    assert_ne!(text(&renewed["serial"]), idm_serial);
    let successors = aws
        .store
        .certificates_of(&org, idm_order.profile.id)
        .await
        .expect("certificates");
    assert_eq!(successors.len(), 2, "{successors:?}");
}
