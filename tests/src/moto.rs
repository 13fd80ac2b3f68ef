//! [`Moto`]: a moto server (the AWS-wire emulator from PyPI) on a free 127.0.0.1 port,
//! started by the test itself and killed on drop, and the resources one test needs in it.
//!
//! `MOTO_SERVER` names the `moto_server` executable (`tests/aws/run` installs it into the
//! project venv). Without it a test skips with a message, unless
//! `ORGCERT_REQUIRE_TOOLS=1`, where it fails. The server runs with the test-only patches
//! of `tests/aws/moto/sitecustomize.py` (KMS DIGEST signing, S3 presigned-link checks
//! with a settable clock, atomic DynamoDB writes, transaction undo log and client
//! request tokens).
//! Nothing here ever talks to anything but 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orgcert_aws::{provision, sdk_config, AwsApp, AwsConfig};
use orgcert_core::clock::SystemClock;
use orgcert_core::ids::Cvr;
use orgcert_pki::{CaSubject, KeyAlgorithm};

use crate::conformance::{new_organisation, random_cvr};

/// Region every emulator test uses.
pub const REGION: &str = "us-east-1";
/// Sender address the emulator tests verify and send from.
pub const SENDER: &str = "orgcert@eksempel.dk";

/// A running moto server.
pub struct Moto {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl Moto {
    /// Starts moto, or returns `None` after printing why when `MOTO_SERVER` is unset.
    ///
    /// # Panics
    /// When `MOTO_SERVER` is unset and `ORGCERT_REQUIRE_TOOLS=1`, or moto does not start.
    pub fn try_start() -> Option<Self> {
        let Some(bin) = std::env::var_os("MOTO_SERVER").filter(|v| !v.is_empty()) else {
            assert!(
                std::env::var("ORGCERT_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "MOTO_SERVER is unset but ORGCERT_REQUIRE_TOOLS=1 (run tests/aws/run)"
            );
            eprintln!("skipped: MOTO_SERVER is unset (tests/aws/run sets it)");
            return None;
        };
        let patches = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("aws/moto");
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("orgcert-moto-{port}.log"));
            let stderr = std::fs::File::create(&log).expect("moto log file");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("PYTHONPATH", &patches)
                .env("ORGCERT_MOTO_PATCHES", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.to_string_lossy()));
            let mut moto = Self {
                child: Some(child),
                port,
                log,
            };
            if moto.wait_ready() {
                return Some(moto);
            }
            moto.stop();
        }
        panic!("moto_server did not start (3 tries)");
    }

    /// Starts moto (see [`Moto::try_start`]); panics when it is not installed.
    pub fn start() -> Self {
        Self::try_start().expect("MOTO_SERVER must name moto_server")
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                return false; // exited: port taken, or broken install
            }
            if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's stderr so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server now (fault tests: AWS gone mid-run).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A configuration naming fresh resources in this server (nothing created yet).
    pub fn config(&self) -> AwsConfig {
        let id = uuid::Uuid::new_v4().simple().to_string();
        AwsConfig {
            table: format!("orgcert-{id}"),
            bucket: format!("orgcert-{}", &id[..20]),
            kms_key_id: String::new(),
            sender: SENDER.into(),
            ses_configuration_set: None,
            public_url: "http://127.0.0.1:9".into(),
            pki_url: "http://pki.example.dk".into(),
            endpoint_url: Some(self.endpoint()),
            region: Some(REGION.into()),
            code_key_object: Some(orgcert_aws::CODE_KEY_OBJECT.into()),
            policy_oids: orgcert_pki::Authority::default_policies(),
            name_registration_authority: None,
        }
    }

    /// Creates the table, the bucket, a CA key of `alg` and the sender identity.
    pub async fn provision(&self, alg: KeyAlgorithm) -> AwsConfig {
        let mut cfg = self.config();
        let sdk = sdk_config(&cfg).await;
        provision::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &cfg.table)
            .await
            .expect("create table");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        provision::create_bucket(&s3, &cfg.bucket, REGION)
            .await
            .expect("create bucket");
        cfg.kms_key_id = provision::create_signing_key(&aws_sdk_kms::Client::new(&sdk), alg)
            .await
            .expect("create KMS key");
        provision::verify_sender(&aws_sdk_sesv2::Client::new(&sdk), SENDER)
            .await
            .expect("verify sender");
        cfg
    }

    /// [`Moto::provision`] plus a development CA certificate for the key.
    pub async fn provision_with_ca(&self, alg: KeyAlgorithm) -> AwsConfig {
        let cfg = self.provision(alg).await;
        orgcert_aws::bootstrap_ca(&cfg, &test_ca_subject())
            .await
            .expect("bootstrap CA");
        cfg
    }

    /// `POST {endpoint}{path}` to a test-only switch of `tests/aws/moto/sitecustomize.py`,
    /// which must answer 204 (else the patch `what` is not loaded).
    async fn switch(&self, path: &str, what: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}{path}", self.endpoint()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = resp.status().as_u16();
        assert_eq!(status, 204, "{what} is not loaded: {}", self.log());
    }

    /// `GET {endpoint}{path}` as JSON (a test-only counter `what`, or moto's own API).
    async fn read_json(&self, path: &str, what: &str) -> serde_json::Value {
        let resp = reqwest::get(format!("{}{path}", self.endpoint())).await;
        let resp = resp.unwrap_or_else(|e| panic!("{what}: {e}"));
        resp.json()
            .await
            .unwrap_or_else(|e| panic!("{what} is not loaded ({e}): {}", self.log()))
    }

    /// Sets the instant the presigned-link expiry check takes as "now" (the test-only
    /// `POST /_orgcert/clock` of `tests/aws/moto/sitecustomize.py`); the check's clock
    /// then runs on from there. Tests on a manual clock call it before fetching a link.
    ///
    /// # Panics
    /// When the patched server does not accept it.
    pub async fn set_clock(&self, now: time::OffsetDateTime) {
        let path = format!("/_orgcert/clock?now={}", now.unix_timestamp());
        self.switch(&path, "the moto test clock patch").await;
    }

    /// Makes every later call of `service` (`kms` or `dynamodb`) wait `seconds` before
    /// moto answers it (the test-only `POST /_orgcert/delay` of
    /// `tests/aws/moto/sitecustomize.py`); `0.0` ends it.
    ///
    /// # Panics
    /// When the patched server does not accept it.
    pub async fn set_delay(&self, service: &str, seconds: f64) {
        let path = format!("/_orgcert/delay?service={service}&seconds={seconds}");
        self.switch(&path, "the moto delay patch").await;
    }

    /// Calls moto has received so far for `service` (`kms` or `dynamodb`), counted by the
    /// test-only `GET /_orgcert/calls` of `tests/aws/moto/sitecustomize.py`.
    ///
    /// # Panics
    /// When the patched server does not answer it.
    pub async fn calls(&self, service: &str) -> u64 {
        let counts = self
            .read_json("/_orgcert/calls", "the moto call counter")
            .await;
        counts[service]
            .as_u64()
            .unwrap_or_else(|| panic!("no count for {service}: {counts}"))
    }

    /// Calls by `service:action` and DynamoDB request units since the last
    /// [`Moto::reset_usage`], counted by the test-only `GET /_orgcert/usage` of
    /// `tests/aws/moto/sitecustomize.py` (the cost model's measured run).
    ///
    /// # Panics
    /// When the patched server does not answer it.
    pub async fn usage(&self) -> serde_json::Value {
        self.read_json("/_orgcert/usage", "the moto usage counter")
            .await
    }

    /// Starts a new [`Moto::usage`] count.
    ///
    /// # Panics
    /// When the patched server does not take it.
    pub async fn reset_usage(&self) {
        self.switch("/_orgcert/usage", "the moto usage reset").await;
    }

    /// moto's view of every backend (`GET /moto-api/data.json`).
    ///
    /// # Panics
    /// When moto does not answer it as JSON.
    pub async fn data(&self) -> serde_json::Value {
        self.read_json("/moto-api/data.json", "moto data.json")
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The CA subject of the emulator tests.
pub fn test_ca_subject() -> CaSubject {
    CaSubject {
        common_name: "orgcert Emulator Test CA".into(),
        organisation: "orgcert".into(),
        country: "DK".into(),
    }
}

/// The AWS app composed on `cfg` with the system clock, and a fresh random organisation
/// named `name` ([`new_organisation`]) added to it: the app and the organisation's CVR.
///
/// # Panics
/// When the composition or the organisation's write fails.
pub async fn app_with_organisation(cfg: &AwsConfig, name: &str) -> (AwsApp, Cvr) {
    let aws = AwsApp::compose(cfg, Arc::new(SystemClock))
        .await
        .expect("compose");
    let org = random_cvr();
    aws.app
        .add_organisation(new_organisation(&org, name))
        .await
        .expect("organisation");
    (aws, org)
}

/// Changes the actor of the stored audit event `item` (a DynamoDB item of `table`) to
/// mallory, in place, as someone with write access to the table could: what the audit
/// chain's verification must notice.
///
/// # Panics
/// When the update fails.
pub async fn forge_audit_actor(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    client
        .update_item()
        .table_name(table)
        .key("PK", item["PK"].clone())
        .key("SK", item["SK"].clone())
        .update_expression("SET #doc.#actor = :m")
        .expression_attribute_names("#doc", "doc")
        .expression_attribute_names("#actor", "actor")
        .expression_attribute_values(":m", AttributeValue::S("mallory@example.dk".into()))
        .send()
        .await
        .expect("change one audit item");
}
