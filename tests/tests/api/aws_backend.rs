//! The AWS composition behind the API tests (`ORGCERT_TEST_BACKEND=aws`).
//!
//! One moto server per [`AwsService`], provisioned with a table, a bucket, a KMS CA key
//! of the requested algorithm, the SES sender and a development CA certificate. Each
//! operation is served as deployed, by a function of its own: the composition of its row
//! of the needs table (`orgcert_aws::compose_for::<{ orgcert_lambda::needs(op).bits() }>`,
//! as its bin in `functions/lambda/src/bin` builds it) behind `orgcert_http::router_with`
//! for that operation only, built on the first request that reaches it (a cold start) and
//! kept (a warm function). So a port missing from a row answers 500 "not available in
//! this function" here, not first in AWS, and no in-memory state is shared between two
//! operations that two Lambda functions would not share. The jobs likewise run on the
//! composition of their `job_needs` row. All of it runs on the test's manual clock, on a
//! runtime of its own (multi-threaded, as the KMS signer needs), apart from the test that
//! calls it over HTTP, as a Lambda runs apart from its caller. The tests' own fixtures
//! (organisations, stored bytes, direct calls) use [`AwsApp::compose`], every port.
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

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post, MethodFilter};
use axum::{Json, Router};
use orgcert_aws::{AwsApp, AwsConfig};
use orgcert_core::app::{App, Job};
use orgcert_core::clock::{Clock, ManualClock};
use orgcert_core::DomainError;
use orgcert_functions::local::{self, LocalConfig};
use orgcert_http::auth::{Authenticator, JwtAuthenticator, AUDIENCE, LOCAL_ISSUER};
use orgcert_http::{ApiError, HttpState, Operation};
use orgcert_lambda::{job_needs, needs};
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::moto::{Moto, REGION, SENDER};
use serde::Deserialize;
use serde_json::{json, Value};
use time::Duration;
use tokio::sync::OnceCell;
use tower::ServiceExt as _;

/// The AWS composition on moto, served on its own runtime.
pub struct AwsService {
    /// The composed adapters (the store for fixtures and read figures).
    pub aws: Arc<AwsApp>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The emulator (dropped after the runtime: see `Drop`).
    pub moto: Moto,
    /// `aws-serve`: the `orgcert serve --backend aws` process the tests call.
    server: Option<Child>,
    /// `aws`: the functions the router calls (none for `aws-serve`).
    stack: Option<Stack>,
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

    /// Composes every function now, as a warmed-up deployment has them: figures per call
    /// (the cost run) then leave out the one-off cold starts. No-op for `aws-serve`.
    pub async fn warm_functions(&self) {
        let Some(stack) = self.stack.clone() else {
            return;
        };
        self.run(async move { stack.warm().await }).await;
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
    let (moto, aws, app, stack) = runtime
        .spawn(async move {
            let mut aws_cfg = moto.provision_with_ca(ca).await;
            aws_cfg.public_url = base;
            // The fixtures' composition: every port (tests add organisations and read the
            // store through it). The functions the router serves are composed apart.
            let aws = AwsApp::compose(&aws_cfg, clock.clone())
                .await
                .expect("compose AwsApp")
                .minting_ocsp_responder();
            let app = settings(&cfg)(aws.app.clone());
            app.add_organisation(local::demo_organisation())
                .await
                .expect("demo organisation");
            let auth: Arc<dyn Authenticator> = Arc::new(
                JwtAuthenticator::from_public_pem(&token_public_pem, LOCAL_ISSUER, AUDIENCE)
                    .expect("token key"),
            );
            let stack = Stack::new(aws_cfg, clock.clone(), &cfg, auth.clone());
            // A deployed stack's crl-refresh schedule has run once before the first
            // request: it mints the OCSP responder and publishes the first CRLs.
            let crl_refresh = stack.job(Job::CrlRefresh).await.expect("crl-refresh");
            crl_refresh
                .run_job(Job::CrlRefresh, clock.now())
                .await
                .expect("first crl-refresh run");
            let extra = Router::new()
                .route("/_local/outbox", get(outbox))
                .route("/_local/jobs/{name}", post(job))
                .with_state(Extra {
                    stack: stack.clone(),
                    moto: moto.endpoint(),
                    http: reqwest::Client::new(),
                });
            let router = stack.router(HttpState::new(app.clone(), auth)).merge(extra);
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tokio::spawn(async move {
                axum::serve(listener, router).await.expect("serve");
            });
            (moto, aws, app, stack)
        })
        .await
        .expect("compose the AWS service");
    (
        AwsService {
            aws: Arc::new(aws),
            runtime: Some(runtime),
            moto,
            server: None,
            stack: Some(stack),
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
            stack: None,
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

/// The core settings of the test's configuration (CRL partitions and validity, reminder
/// days): settings, not adapters, the same fields the local composition sets.
fn settings(cfg: &LocalConfig) -> impl Fn(App) -> App + Send + Sync + 'static {
    let partitions = cfg.crl_partitions;
    let validity = Duration::hours(i64::from(cfg.crl_validity_hours));
    let reminder_days = cfg.reminder_days.clone();
    move |app: App| {
        app.rewired(|_, c| {
            c.crl_partitions = partitions;
            c.crl_validity = validity;
            c.reminder_days = reminder_days.clone();
        })
    }
}

/// The stack as deployed: a function per operation and per job, each composed by
/// `compose_for` with its row of the needs table on its first call, then kept warm.
#[derive(Clone)]
struct Stack(Arc<StackInner>);

struct StackInner {
    cfg: AwsConfig,
    clock: Arc<ManualClock>,
    settings: Box<dyn Fn(App) -> App + Send + Sync>,
    auth: Arc<dyn Authenticator>,
    /// One warm HTTP function per operation, in the order of [`FUNCTIONS`].
    functions: Vec<OnceCell<Router>>,
    /// One warm job function per job, in the order of `Job::ALL`.
    jobs: Vec<OnceCell<App>>,
}

/// The composition of a function whose needs are `NEEDS`, with the test's settings.
async fn function<const NEEDS: u8>(s: &StackInner) -> Result<App, DomainError> {
    let app = orgcert_aws::compose_for::<NEEDS>(&s.cfg, s.clock.clone()).await?;
    Ok((s.settings)(app))
}

/// The functions of the API: one per operation, each listed once with the constant its
/// bin is built with (a const generic needs a literal per operation). A test checks
/// that the list is every API operation.
macro_rules! functions {
    ($($op:ident),* $(,)?) => {
        /// The operations served, a function each.
        const FUNCTIONS: &[Operation] = &[$(Operation::$op),*];

        /// The router of `op`'s function, composed as its bin composes it.
        async fn compose_function(s: &StackInner, op: Operation) -> Result<Router, DomainError> {
            match op {
                $(Operation::$op => {
                    let app = function::<{ needs(Operation::$op).bits() }>(s).await?;
                    Ok(orgcert_http::router_with(
                        op,
                        orgcert_http::handler!($op),
                        HttpState::new(app, s.auth.clone()),
                    ))
                })*
                _ => Err(DomainError::Internal(format!("{}: no Lambda function", op.name()))),
            }
        }
    };
}

functions!(
    GetOrganisation,
    UpdateSettings,
    CreateProfile,
    ListProfiles,
    ExportProfiles,
    GetProfile,
    UpdateProfile,
    PutSystemRights,
    PutSealGeneration,
    OrderCertificate,
    GetCertificate,
    RenewCertificate,
    RevokeCertificate,
    DeleteCertificate,
    SendIssuanceLink,
    RedeemIssuance,
    GetIssuance,
    IssueCertificate,
    IssueByApi,
    SelfRenew,
    ListNotifications,
    MarkNotificationsRead,
    ListAudit,
    ListEvents,
    ExportAudit,
    CaPem,
    CaCer,
    CaGeneration,
    RootPem,
    RootCer,
    RootCrl,
    GetCrl,
    GetCrlPartition,
    OcspGet,
    OcspPost,
    PublicCertificates,
    PublicCertificateFile,
    OpenApi,
    Healthz,
);

/// The composition of `job`'s function, as its bin composes it.
async fn compose_job(s: &StackInner, job: Job) -> Result<App, DomainError> {
    match job {
        Job::CrlRefresh => function::<{ job_needs(Job::CrlRefresh).bits() }>(s).await,
        Job::Housekeeping => function::<{ job_needs(Job::Housekeeping).bits() }>(s).await,
        Job::RenewalReminders => function::<{ job_needs(Job::RenewalReminders).bits() }>(s).await,
    }
}

impl Stack {
    fn new(
        cfg: AwsConfig,
        clock: Arc<ManualClock>,
        settings_of: &LocalConfig,
        auth: Arc<dyn Authenticator>,
    ) -> Self {
        Self(Arc::new(StackInner {
            cfg,
            clock,
            settings: Box::new(settings(settings_of)),
            auth,
            functions: FUNCTIONS.iter().map(|_| OnceCell::new()).collect(),
            jobs: Job::ALL.iter().map(|_| OnceCell::new()).collect(),
        }))
    }

    /// Composes every function and job function that is not yet.
    async fn warm(&self) {
        for (index, op) in FUNCTIONS.iter().enumerate() {
            self.0.functions[index]
                .get_or_try_init(|| compose_function(&self.0, *op))
                .await
                .unwrap_or_else(|e| panic!("compose {}: {e}", op.name()));
        }
        for job in Job::ALL {
            self.job(job)
                .await
                .unwrap_or_else(|e| panic!("compose {}: {e}", job.name()));
        }
    }

    /// The warm function of `job`, composed on its first run.
    async fn job(&self, job: Job) -> Result<App, DomainError> {
        let i = Job::ALL.iter().position(|j| *j == job).expect("a job");
        self.0.jobs[i]
            .get_or_try_init(|| compose_job(&self.0, job))
            .await
            .cloned()
    }

    /// Answers `req` with the function of the operation at `index` of [`FUNCTIONS`],
    /// composing it on its first request (a failed cold start answers its error).
    async fn call(self, index: usize, mut req: Request) -> Response {
        let op = FUNCTIONS[index];
        // The function gets the request as API Gateway hands it over: without what this
        // routing added (axum keeps matched path parameters in the extensions, and the
        // function's router would add its own to them: a second `{serial}`).
        *req.extensions_mut() = axum::http::Extensions::new();
        let router = match self.0.functions[index]
            .get_or_try_init(|| compose_function(&self.0, op))
            .await
        {
            Ok(router) => router.clone(),
            Err(e) => return ApiError(e).into_response(),
        };
        match router.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }

    /// API Gateway's routes: each operation's method and path to its function. `state`
    /// serves only what no route matches (the shared 404 and 405 answers).
    fn router(&self, state: HttpState) -> Router {
        let routes =
            FUNCTIONS
                .iter()
                .enumerate()
                .fold(Router::<HttpState>::new(), |routes, (index, op)| {
                    let filter = method_filter(op.method());
                    let stack = self.clone();
                    routes.route(
                        op.path(),
                        on(filter, move |req: Request| stack.clone().call(index, req)),
                    )
                });
        orgcert_http::with_state(routes, state)
    }
}

/// The routing filter of an operation's method.
fn method_filter(method: orgcert_http::Method) -> MethodFilter {
    use orgcert_http::Method as M;
    match method {
        M::Get => MethodFilter::GET,
        M::Post => MethodFilter::POST,
        M::Put => MethodFilter::PUT,
        M::Patch => MethodFilter::PATCH,
        M::Delete => MethodFilter::DELETE,
    }
}

#[derive(Clone)]
struct Extra {
    stack: Stack,
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
    let Some(job) = Job::from_name(&name) else {
        return ApiError(DomainError::NotFound("job")).into_response();
    };
    match s.stack.job(job).await {
        Ok(app) => orgcert_local::site::run_job(&app, &name, q.now.as_deref()).await,
        Err(e) => ApiError(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_operation_is_served_by_a_function_of_its_own() {
        // `Operation::ALL` is the API's operations (the local-only routes are apart).
        assert_eq!(FUNCTIONS, Operation::ALL);
    }

    #[test]
    fn links_lose_trailing_punctuation() {
        assert_eq!(
            super::links_in("Go to http://x.dk/redeem, log in.\nhttps://y.dk/issue/abc\n"),
            vec!["http://x.dk/redeem", "https://y.dk/issue/abc"]
        );
    }
}
