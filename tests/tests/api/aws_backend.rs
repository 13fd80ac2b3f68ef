//! The AWS composition behind the API tests (`ORGCERT_TEST_BACKEND=aws`).
//!
//! One moto server per [`AwsService`], provisioned with a table, a bucket, a KMS CA key
//! of the requested algorithm, the SES sender and a development CA certificate;
//! [`AwsApp::compose`] builds the service on the test's manual clock, and the shared
//! router serves it. It runs on a runtime of its own (multi-threaded, as the KMS signer
//! needs), apart from the test that calls it over HTTP, as a Lambda runs apart from its
//! caller.
//!
//! What differs from the AWS deployment, and why:
//! - The bearer token is verified by the router with the same local key the tests mint
//!   tokens with; in AWS, API Gateway's JWT authorizer verifies it before the function.
//! - Two test-facing routes of the local composition are served here too:
//!   `GET /_local/outbox` lists the mails SES (moto) accepted, read back from
//!   `/moto-api/data.json`, in the outbox shape `{to, subject, text, links}`; and
//!   `POST /_local/jobs/{name}?now=` runs a job as its EventBridge schedule would.
//! - The demo organisation is added once the table is provisioned (the local server
//!   creates it on first start).
//!
//! `ORGCERT_TEST_BACKEND=aws-serve` ([`spawn_serve`]) goes one step further out: the tests
//! talk over HTTP to the `orgcert serve --backend aws --bootstrap` binary (a process of its
//! own, on the system clock, with its own job timers) against a moto server; the harness
//! composes `AwsApp` on the same table only for fixtures (organisations, stored bytes)
//! and reads mails from moto directly (the binary serves no `/_local/*` route). Tests
//! that move the manual clock cannot move the binary's: they stay on `aws` (tests/aws/serve
//! lists them).

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orgcert_aws::AwsApp;
use orgcert_core::app::{App, Job};
use orgcert_core::clock::ManualClock;
use orgcert_core::DomainError;
use orgcert_functions::local::{self, LocalConfig};
use orgcert_http::auth::{JwtAuthenticator, AUDIENCE, LOCAL_ISSUER};
use orgcert_http::{ApiError, HttpState};
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::moto::{Moto, REGION, SENDER};
use serde::Deserialize;
use serde_json::{json, Value};
use time::Duration;

/// The AWS composition on moto, served on its own runtime.
pub struct AwsService {
    /// The composed adapters (the store for fixtures and read figures).
    pub aws: Arc<AwsApp>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The emulator (dropped after the runtime: see `Drop`).
    pub moto: Moto,
    /// `aws-serve`: the `orgcert serve --backend aws` process the tests call.
    server: Option<Child>,
}

impl Drop for AwsService {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        // Dropping a runtime inside the test's async context is not allowed; stop it in
        // the background, then `moto` (a field) is killed.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl AwsService {
    /// Whether the tests talk to an `orgcert serve --backend aws` process (`aws-serve`).
    pub fn is_binary(&self) -> bool {
        self.server.is_some()
    }

    /// Runs `f` on the service's runtime (direct calls to the composed `App` or the SDK
    /// clients belong with the service, not with the test's runtime).
    pub async fn run<F, T>(&self, f: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime
            .as_ref()
            .expect("service runtime")
            .spawn(f)
            .await
            .expect("service task")
    }
}

/// Starts moto, provisions it with a CA of `ca`, composes `AwsApp` on `clock` with the
/// core settings of `cfg` (CRL partitions and validity, reminder days), adds the demo
/// organisation and serves the router on `listener`. Returns the service and the `App`
/// behind the router.
pub async fn spawn(
    listener: TcpListener,
    base: &str,
    ca: KeyAlgorithm,
    cfg: &LocalConfig,
    clock: Arc<ManualClock>,
    token_public_pem: String,
) -> (AwsService, App) {
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("moto start");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("aws-service")
        .enable_all()
        .build()
        .expect("service runtime");
    let base = base.to_owned();
    let cfg = cfg.clone();
    let (moto, aws, app) = runtime
        .spawn(async move {
            let mut aws_cfg = moto.provision_with_ca(ca).await;
            aws_cfg.public_url = base;
            // The harness plays every function at once, the crl-refresh job included, and
            // tests move the clock by years: let OCSP signing mint a responder when the
            // stored one has expired (deployed functions never do; see `status.rs` in
            // tests/tests/aws for the deployed shape).
            let aws = AwsApp::compose(&aws_cfg, clock.clone())
                .await
                .expect("compose AwsApp")
                .minting_ocsp_responder();
            // Core settings, not adapters: the same fields the local composition sets.
            let app = aws.app.clone().rewired(|_, c| {
                c.crl_partitions = cfg.crl_partitions;
                c.crl_validity = Duration::hours(i64::from(cfg.crl_validity_hours));
                c.reminder_days = cfg.reminder_days.clone();
            });
            app.add_organisation(local::demo_organisation())
                .await
                .expect("demo organisation");
            // A deployed stack's crl-refresh schedule has run once before the first
            // request: it mints the OCSP responder and publishes the first CRLs.
            app.run_job(
                Job::CrlRefresh,
                orgcert_core::clock::Clock::now(clock.as_ref()),
            )
            .await
            .expect("first crl-refresh run");
            let auth = Arc::new(
                JwtAuthenticator::from_public_pem(&token_public_pem, LOCAL_ISSUER, AUDIENCE)
                    .expect("token key"),
            );
            let extra = Router::new()
                .route("/_local/outbox", get(outbox))
                .route("/_local/jobs/{name}", post(job))
                .with_state(Extra {
                    app: app.clone(),
                    moto: moto.endpoint(),
                    http: reqwest::Client::new(),
                });
            let router = orgcert_http::router(HttpState::new(app.clone(), auth)).merge(extra);
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tokio::spawn(async move {
                axum::serve(listener, router).await.expect("serve");
            });
            (moto, aws, app)
        })
        .await
        .expect("compose the AWS service");
    (
        AwsService {
            aws: Arc::new(aws),
            runtime: Some(runtime),
            moto,
            server: None,
        },
        app,
    )
}

/// The `orgcert` binary: `ORGCERT_BIN`, else next to the test binary's `deps` directory
/// (`target/debug/orgcert`, built by `cargo build -p orgcert-functions --bin orgcert`).
fn orgcert_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ORGCERT_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|d| d.join("orgcert"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "ORGCERT_TEST_BACKEND=aws-serve needs the orgcert binary at {} \
         (cargo build -p orgcert-functions --bin orgcert, or set ORGCERT_BIN)",
        bin.display()
    );
    bin
}

/// `ORGCERT_TEST_BACKEND=aws-serve`: starts moto and `orgcert serve --backend aws
/// --bootstrap` on `listener`'s address (the listener is closed for the binary to bind
/// it), with `data_dir` holding the token key the tests mint with and the settings of
/// `cfg` as its `ORGCERT_*` environment; waits for its banner (bootstrap done, tokens
/// printed), then composes `AwsApp` on the same table (on `clock`) for fixtures and runs
/// crl-refresh once, as [`spawn`] does, so the first CRL is there before the first
/// request whatever the binary's own timer is doing.
pub async fn spawn_serve(
    listener: TcpListener,
    base: &str,
    ca: KeyAlgorithm,
    cfg: &LocalConfig,
    clock: Arc<ManualClock>,
) -> (AwsService, App) {
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("moto start");
    let mut aws_cfg = moto.config();
    aws_cfg.kms_key_id = format!("alias/{}", aws_cfg.table);
    aws_cfg.public_url = base.to_owned();
    aws_cfg.pki_url = cfg.pki_url.clone();
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let log = cfg.data_dir.join("orgcert-serve.log");
    let mut cmd = Command::new(orgcert_bin());
    cmd.args(["serve", "--backend", "aws", "--bootstrap", "--data-dir"])
        .arg(&cfg.data_dir)
        .args(["--addr", &addr]);
    // Only what is set here: never a profile, credentials or endpoint of the caller's.
    for v in [
        "ORGCERT_DATA_DIR",
        "ORGCERT_ADDR",
        "ORGCERT_AWS_ENDPOINT_URL",
        "ORGCERT_OCSP_SIGNER",
        "ORGCERT_CA_SIGNATURE",
        "ORGCERT_POLICY_OIDS",
        "ORGCERT_NAME_REGISTRATION_AUTHORITY",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(v);
    }
    let reminder_days: Vec<String> = cfg.reminder_days.iter().map(u32::to_string).collect();
    let mut child = cmd
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", REGION)
        .env("ORGCERT_TABLE", &aws_cfg.table)
        .env("ORGCERT_BUCKET", &aws_cfg.bucket)
        .env("ORGCERT_KMS_KEY_ID", &aws_cfg.kms_key_id)
        .env("ORGCERT_SENDER", SENDER)
        .env("ORGCERT_PUBLIC_URL", base)
        .env("ORGCERT_PKI_URL", &cfg.pki_url)
        .env("ORGCERT_CA_KEY_ALGORITHM", ca.as_str().to_ascii_lowercase())
        .env("ORGCERT_CRL_PARTITIONS", cfg.crl_partitions.to_string())
        .env(
            "ORGCERT_CRL_VALIDITY_HOURS",
            cfg.crl_validity_hours.to_string(),
        )
        .env("ORGCERT_REMINDER_DAYS", reminder_days.join(","))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("server log"))
        .spawn()
        .expect("spawn orgcert serve --backend aws");
    let stdout = child.stdout.take().expect("stdout");
    // Killed if anything below panics (moto kills itself on drop).
    let mut server = KillOnDrop(Some(child));
    // The banner ends with "Try:" once the bootstrap is done and the server listens;
    // bounded by the pipe closing if the process exits.
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            let done = line.starts_with("Try:");
            seen.push(line);
            if done {
                // Keep draining, so that the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return (true, seen);
            }
        }
        (false, seen)
    })
    .await
    .expect("banner reader");
    assert!(
        banner.0,
        "orgcert serve --backend aws did not start:\n{}\n{}",
        banner.1.join("\n"),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("aws-fixtures")
        .enable_all()
        .build()
        .expect("fixture runtime");
    let cfg = cfg.clone();
    let (aws, app) = runtime
        .spawn(async move {
            let aws = AwsApp::compose(&aws_cfg, clock.clone())
                .await
                .expect("compose AwsApp on the binary's table")
                .minting_ocsp_responder();
            let app = aws.app.clone().rewired(|_, c| {
                c.crl_partitions = cfg.crl_partitions;
                c.crl_validity = Duration::hours(i64::from(cfg.crl_validity_hours));
                c.reminder_days = cfg.reminder_days.clone();
            });
            // The binary's own job timer runs crl-refresh at start too: when both commit
            // the first CRL at once, one is refused (StaleVersion) and the next run finds
            // the other's work. Bounded: a handful of tries.
            let mut tries = 0;
            loop {
                let now = orgcert_core::clock::Clock::now(clock.as_ref());
                match app.run_job(Job::CrlRefresh, now).await {
                    Ok(_) => break,
                    Err(orgcert_core::DomainError::StaleVersion(_)) if tries < 5 => tries += 1,
                    Err(e) => panic!("first crl-refresh run: {e:?}"),
                }
            }
            (aws, app)
        })
        .await
        .expect("compose the fixtures' AwsApp");
    (
        AwsService {
            aws: Arc::new(aws),
            runtime: Some(runtime),
            moto,
            server: server.0.take(),
        },
        app,
    )
}

/// A child process killed on drop unless taken.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Clone)]
struct Extra {
    app: App,
    moto: String,
    http: reqwest::Client,
}

/// Links in a mail body: `http(s)://…` up to white space, without trailing punctuation
/// ("Go to https://x/redeem, log in").
pub fn links_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| {
            w.trim_end_matches(|c: char| ",.;:!?)\"'>".contains(c))
                .to_owned()
        })
        .collect()
}

/// The mails SES accepted from the sender, oldest first, in the local outbox's shape.
async fn outbox(State(s): State<Extra>) -> Response {
    match moto_outbox(&s.http, &s.moto).await {
        Ok(mails) => Json(mails).into_response(),
        Err(e) => ApiError(DomainError::Unavailable(e)).into_response(),
    }
}

/// The mails moto's SES at `moto` accepted from [`SENDER`], oldest first, in the local
/// outbox's shape `{id, to, subject, text, links}`.
///
/// # Errors
/// When moto cannot be read.
pub async fn moto_outbox(http: &reqwest::Client, moto: &str) -> Result<Value, String> {
    let data: Value = http
        .get(format!("{moto}/moto-api/data.json"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let mails: Vec<Value> = data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["source"] == SENDER)
        .map(|m| {
            let to: Vec<&str> = m["destinations"]["ToAddresses"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let text = m["body"].as_str().unwrap_or_default();
            json!({
                "id": m["id"],
                "to": to.join(", "),
                "subject": m["subject"],
                "text": text,
                "links": links_in(text),
            })
        })
        .collect();
    Ok(Value::Array(mails))
}

#[derive(Deserialize)]
struct JobQuery {
    now: Option<String>,
}

/// Runs a scheduled job now (or as of `?now=RFC3339`), as its schedule would.
async fn job(
    State(s): State<Extra>,
    Path(name): Path<String>,
    Query(q): Query<JobQuery>,
) -> Response {
    orgcert_local::site::run_job(&s.app, &name, q.now.as_deref()).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_lose_trailing_punctuation() {
        assert_eq!(
            super::links_in("Go to http://x.dk/redeem, log in.\nhttps://y.dk/issue/abc\n"),
            vec!["http://x.dk/redeem", "https://y.dk/issue/abc"]
        );
    }
}
