//! System certificates over real mutual TLS (API.md "System certificates: mutual TLS"):
//! the real `orgcert serve` with `ORGCERT_MTLS_ADDR` on a free port; keys, CSRs and the
//! foreign certificate made with openssl; clients are reqwest (rustls) and curl.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use orgcert_tests::spawn::{self, banner_token, free_port};
use orgcert_tests::tools::{must, openssl_csr};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");
const CONTACT: &str = "carl.contact@demo-org.dk";

/// The server (killed when dropped, so a failing assertion leaves no process behind), its
/// mutual-TLS URL and its data directory.
struct Server {
    server: spawn::Server,
    http: String,
    mtls: String,
    banner: String,
    dir: tempfile::TempDir,
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mport = free_port();
    // The banner ends with the mutual-TLS listener's curl line.
    let srv = spawn::serve(BIN, dir.path())
        .env("ORGCERT_MTLS_ADDR", format!("127.0.0.1:{mport}"))
        .env("ORGCERT_CA_KEY_ALGORITHM", "ecdsa-p256")
        .until(|line| line.contains("--cacert"))
        .start();
    Server {
        http: srv.base.clone(),
        mtls: format!("https://127.0.0.1:{mport}"),
        banner: srv.banner.clone(),
        server: srv,
        dir,
    }
}

/// openssl with absolute paths (run where the test runs); fails the test when it fails.
fn openssl(args: &[&str]) {
    must(Path::new("."), "openssl", args);
}

/// A self-signed P-256 certificate for `subject`, valid `days`, by openssl: its key in
/// `key`, the certificate in `pem`.
fn self_signed(key: &Path, pem: &Path, days: &str, subject: &str) {
    let (key, pem) = (key.to_str().unwrap(), pem.to_str().unwrap());
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        days,
        "-subj",
        subject,
        "-keyout",
        key,
        "-out",
        pem,
    ]);
}

/// openssl verifies the certificate in `leaf` against the CA certificate in `ca_file`.
fn verify(ca_file: &Path, leaf: &Path) {
    openssl(&[
        "verify",
        "-CAfile",
        ca_file.to_str().unwrap(),
        leaf.to_str().unwrap(),
    ]);
}

/// `csr_pem` with the last octet of its signature changed (the CSR still parses).
fn tamper_signature(csr_pem: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = csr_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut der = b64.decode(body).unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        b64.encode(der)
    )
}

/// A key (`ec` P-256 or `rsa:<bits>`) and a CSR for it; returns (key path, CSR PEM).
fn key_and_csr(dir: &Path, name: &str, newkey: &str) -> (PathBuf, String) {
    let csr = openssl_csr(dir, name, newkey, "/CN=ignored");
    (dir.join(format!("{name}.key")), csr)
}

/// A client of the mutual-TLS listener: curl with the certificate, key and CA file, as
/// the banner's line (reqwest's rustls needs a crypto provider feature that would change
/// every other test's client).
struct Tls {
    base: String,
    ca: PathBuf,
    identity: Option<(PathBuf, PathBuf)>,
}

/// A client of the listener at `base` trusting `ca`, with the key and certificate PEM of
/// `identity` if any.
fn tls_client(base: &str, ca: &Path, identity: Option<(&Path, &str)>) -> Tls {
    Tls {
        base: base.to_owned(),
        ca: ca.to_owned(),
        identity: identity.map(|(key, cert_pem)| {
            let cert = key.with_extension("crt");
            std::fs::write(&cert, cert_pem).unwrap();
            (key.to_owned(), cert)
        }),
    }
}

struct Req<'a> {
    tls: &'a Tls,
    method: &'static str,
    url: String,
    body: Option<String>,
    bearer: Option<String>,
}

impl Tls {
    fn req(&self, method: &'static str, path: &str) -> Req<'_> {
        Req {
            tls: self,
            method,
            url: format!("{}{path}", self.base),
            body: None,
            bearer: None,
        }
    }
    fn get(&self, path: &str) -> Req<'_> {
        self.req("GET", path)
    }
    fn post(&self, path: &str) -> Req<'_> {
        self.req("POST", path)
    }
    fn patch(&self, path: &str) -> Req<'_> {
        self.req("PATCH", path)
    }
    /// `GET /v1/profiles`.
    async fn profiles(&self) -> (u16, Value) {
        tsend(self.get("/v1/profiles")).await
    }
    /// `POST /v1/certificates/{serial}/issue`, with `body` if any.
    async fn issue(&self, serial: &str, body: Option<Value>) -> (u16, Value) {
        let req = self.post(&format!("/v1/certificates/{serial}/issue"));
        tsend(match body {
            Some(b) => req.json(&b),
            None => req,
        })
        .await
    }
    /// Orders the `api` certificate `name` ([`api_order`]): its serial.
    async fn order_api(&self, name: &str) -> String {
        let (s, o) = tsend(self.post("/v1/profiles").json(&api_order(name))).await;
        assert_eq!(s, 201, "{o}");
        o["certificate"]["serial"].as_str().unwrap().to_owned()
    }
}

impl Req<'_> {
    fn json(mut self, v: &Value) -> Self {
        self.body = Some(v.to_string());
        self
    }
    fn bearer_auth(mut self, t: &str) -> Self {
        self.bearer = Some(t.to_owned());
        self
    }
    /// `Err` when curl gets no HTTP answer (the handshake was refused).
    async fn send(self) -> Result<(u16, Value), String> {
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "--max-time",
            "60",
            "-X",
            self.method,
            "-w",
            "\n%{http_code}",
        ])
        .arg("--cacert")
        .arg(&self.tls.ca);
        if let Some((key, cert)) = &self.tls.identity {
            c.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some(b) = &self.bearer {
            c.args(["-H", &format!("Authorization: Bearer {b}")]);
        }
        if let Some(b) = &self.body {
            c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        let out = c
            .arg(&self.url)
            .output()
            .expect("curl is required (ORGCERT_REQUIRE_TOOLS)");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        Ok((
            code.trim().parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        ))
    }
}

async fn tsend(r: Req<'_>) -> (u16, Value) {
    r.send().await.expect("an HTTP answer over mutual TLS")
}

async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

struct Admin<'a> {
    http: &'a str,
    token: String,
    c: reqwest::Client,
}

impl Admin<'_> {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(
            self.c
                .post(format!("{}{path}", self.http))
                .bearer_auth(&self.token)
                .json(&body),
        )
        .await
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        send(
            self.c
                .get(format!("{}{path}", self.http))
                .bearer_auth(&self.token),
        )
        .await
    }
    /// Orders a profile; returns the order answer.
    async fn order(&self, body: Value) -> Value {
        let (s, v) = self.post("/v1/profiles", body).await;
        assert_eq!(s, 201, "{v}");
        v
    }
    /// Orders a profile issued directly and issues it as the contact from a fresh CSR;
    /// returns (serial, key path, certificate PEM).
    async fn issued(
        &self,
        contact: &str,
        dir: &Path,
        name: &str,
        body: Value,
    ) -> (String, PathBuf, String) {
        let o = self.order(body).await;
        let url = o["issuance_url"].as_str().expect("issuance_url");
        let token = url.rsplit('/').next().unwrap();
        let (key, csr) = key_and_csr(dir, name, "ec");
        let (s, v) = send(
            self.c
                .post(format!("{}/v1/issuance/{token}", self.http))
                .bearer_auth(contact)
                .json(&json!({ "accept_terms": true, "csr": csr })),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        (
            v["serial"].as_str().unwrap().to_owned(),
            key,
            v["certificate_pem"].as_str().unwrap().to_owned(),
        )
    }
    async fn status_of(&self, serial: &str) -> String {
        let (s, v) = self.get(&format!("/v1/certificates/{serial}")).await;
        assert_eq!(s, 200, "{v}");
        v["status"].as_str().unwrap().to_owned()
    }
}

fn system(name: &str, administration: bool, issuance: bool) -> Value {
    json!({ "type": "system", "name": name, "contact_email": CONTACT, "issuing": "direct",
            "key_algorithm": "ecdsa-p256",
            "system_rights": { "administration_api": administration, "issuance_api": issuance } })
}

fn api_order(name: &str) -> Value {
    json!({ "type": "system", "name": name, "contact_email": CONTACT,
            "identification": "api", "issuing": "api", "key_algorithm": "ecdsa-p256" })
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("ORGCERT_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "orgcert {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .expect("curl is required (ORGCERT_REQUIRE_TOOLS)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Where both end-to-end tests start: a client directory holding the CA certificate, the
/// user admin, the demo contact's token, and the IdM's system certificate (both rights)
/// issued by its holder from a CSR.
struct Idm<'a> {
    dir: PathBuf,
    admin: Admin<'a>,
    contact: String,
    ca_pem: String,
    ca_file: PathBuf,
    serial: String,
    key: PathBuf,
    pem: String,
}

async fn idm(srv: &Server) -> Idm<'_> {
    let dir = srv.dir.path().join("client");
    std::fs::create_dir_all(&dir).unwrap();
    let admin = Admin {
        http: &srv.http,
        token: banner_token(&srv.banner, "TOKEN_USER_ADMIN"),
        c: reqwest::Client::new(),
    };
    let contact = banner_token(&srv.banner, "TOKEN_DEMO_CONTACT");
    let ca_pem = srv.server.text("/public/ca.pem").await;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let (serial, key, pem) = admin
        .issued(&contact, &dir, "idm", system("IdM", true, true))
        .await;
    Idm {
        dir,
        admin,
        contact,
        ca_pem,
        ca_file,
        serial,
        key,
        pem,
    }
}

#[tokio::test]
async fn system_certificates_over_mutual_tls() {
    let srv = start();
    let Idm {
        dir,
        admin,
        contact,
        ca_file,
        serial: idm_serial,
        key: idm_key,
        pem: idm_pem,
        ..
    } = idm(&srv).await;
    let idm = tls_client(&srv.mtls, &ca_file, Some((&idm_key, &idm_pem)));
    // A profile `body` ordered by the admin and issued by the demo contact from a CSR.
    let issue_as = |name, body| admin.issued(&contact, &dir, name, body);

    // Administration over the API: list profiles, order an `api` certificate.
    let (s, v) = idm.profiles().await;
    assert_eq!(s, 200, "{v}");
    assert!(!v["items"].as_array().unwrap().is_empty());
    let serial = idm.order_api("Service A").await;

    // A CSR with a weak key: 422 naming csr, and the order stays pending.
    let (_, weak_csr) = key_and_csr(&dir, "weak", "rsa:1024");
    let (s, v) = idm.issue(&serial, Some(json!({ "csr": weak_csr }))).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "csr", "{v}");
    assert_eq!(admin.status_of(&serial).await, "pending");

    // A CSR whose signature does not verify (one byte of it changed): 422 naming csr.
    let (_, good_csr) = key_and_csr(&dir, "tampered", "ec");
    let (s, v) = idm
        .issue(&serial, Some(json!({ "csr": tamper_signature(&good_csr) })))
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "csr", "{v}");
    assert_eq!(admin.status_of(&serial).await, "pending");

    // The route is only for mutual TLS: on the plain listener with a token, 401.
    let (key_a, csr_a) = key_and_csr(&dir, "service-a", "ec");
    let (s, v) = admin
        .post(
            &format!("/v1/certificates/{serial}/issue"),
            json!({ "csr": csr_a }),
        )
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(admin.status_of(&serial).await, "pending");

    // Issue it with a CSR: the certificate and chain; openssl verifies it against ca.pem.
    let (s, v) = idm.issue(&serial, Some(json!({ "csr": csr_a }))).await;
    assert_eq!(s, 201, "{v}");
    assert!(
        v["password"].is_null() && v["download_url"].is_null(),
        "{v}"
    );
    let leaf = dir.join("service-a.pem");
    std::fs::write(&leaf, v["certificate_pem"].as_str().unwrap()).unwrap();
    verify(&ca_file, &leaf);
    assert!(key_a.exists());
    // Twice: 409.
    let (s, v) = idm.issue(&serial, Some(json!({ "csr": csr_a }))).await;
    assert_eq!(s, 409, "{v}");
    // The audit names the certificate as the actor.
    let (_, audit) = admin.get("/v1/audit?limit=100").await;
    let issued_by_idm = audit["items"].as_array().unwrap().iter().any(|e| {
        e["action"] == "certificate.issue"
            && e["target"] == serial.as_str()
            && e["actor"] == format!("system:{idm_serial}").as_str()
    });
    assert!(issued_by_idm, "{audit}");

    // Without a body: a server-side key in a PKCS#12 with its password and link.
    let serial_b = idm.order_api("Service B").await;
    let (s, v) = idm.issue(&serial_b, None).await;
    assert_eq!(s, 201, "{v}");
    assert!(
        v["password"].is_string() && v["download_url"].is_string(),
        "{v}"
    );

    // Not an `api` order: 409, stays pending.
    let o = admin.order(system("Holder issued", false, false)).await;
    let holder_serial = o["certificate"]["serial"].as_str().unwrap().to_owned();
    let (s, v) = idm
        .issue(&holder_serial, Some(json!({ "csr": csr_a })))
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(admin.status_of(&holder_serial).await, "pending");

    // A bearer token sent over mutual TLS is ignored: the certificate is the caller, and
    // it is no org_admin.
    let org_admin = banner_token(&srv.banner, "TOKEN_ORG_ADMIN");
    let (s, v) = tsend(
        idm.patch("/v1/organisation/settings")
            .bearer_auth(&org_admin)
            .json(&json!({ "seal_generation_allowed": true })),
    )
    .await;
    assert_eq!(s, 403, "{v}");

    // Another organisation's pending `api` order: 404.
    cli(
        srv.dir.path(),
        &["org", "add", "--cvr", "25313763", "--name", "Other ApS"],
    );
    let other = Admin {
        http: &srv.http,
        token: cli(
            srv.dir.path(),
            &[
                "token",
                "--org",
                "25313763",
                "--email",
                "o@other.dk",
                "--role",
                "user_admin",
            ],
        ),
        c: reqwest::Client::new(),
    };
    let o = other
        .order(
            json!({ "type": "system", "name": "Theirs", "contact_email": "o@other.dk",
        "identification": "api", "issuing": "api", "key_algorithm": "ecdsa-p256" }),
        )
        .await;
    let foreign = o["certificate"]["serial"].as_str().unwrap().to_owned();
    let (s, v) = idm.issue(&foreign, Some(json!({ "csr": csr_a }))).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(other.status_of(&foreign).await, "pending");

    // A system certificate without issuance_api: 403, audited, order untouched.
    let (weak_serial, weak_key, weak_pem) =
        issue_as("admin-only", system("Admin only", true, false)).await;
    let admin_only = tls_client(&srv.mtls, &ca_file, Some((&weak_key, &weak_pem)));
    let serial_c = idm.order_api("Service C").await;
    let (s, v) = admin_only
        .issue(&serial_c, Some(json!({ "csr": csr_a })))
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(admin.status_of(&serial_c).await, "pending");
    let (_, audit) = admin.get("/v1/audit?limit=100").await;
    let refused = audit["items"].as_array().unwrap().iter().any(|e| {
        e["action"] == "api.refused"
            && e["actor"] == format!("system:{weak_serial}").as_str()
            && e["target"] == "issue-by-api"
    });
    assert!(refused, "{audit}");
    // ... and without administration_api, administration is refused as well.
    let (_, issue_key, issue_pem) = issue_as("issue-only", system("Issue only", false, true)).await;
    let issue_only = tls_client(&srv.mtls, &ca_file, Some((&issue_key, &issue_pem)));
    let (s, v) = issue_only.profiles().await;
    assert_eq!(s, 403, "{v}");

    // An organisation certificate (not a system certificate): 403.
    let (_, org_key, org_pem) = issue_as(
        "org",
        json!({ "type": "organisation", "name": "Org cert", "contact_email": CONTACT,
                    "issuing": "direct", "key_algorithm": "ecdsa-p256" }),
    )
    .await;
    let org_client = tls_client(&srv.mtls, &ca_file, Some((&org_key, &org_pem)));
    let (s, v) = org_client.profiles().await;
    assert_eq!(s, 403, "{v}");
    // Refused as an organisation certificate, not for want of a right it never had.
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("organisation certificate"),
        "{v}"
    );

    // No client certificate, or one of a foreign CA: refused at the handshake.
    let anonymous = tls_client(&srv.mtls, &ca_file, None);
    assert!(anonymous.get("/v1/profiles").send().await.is_err());
    let self_key = dir.join("self.key");
    let self_pem = dir.join("self.pem");
    self_signed(&self_key, &self_pem, "2", "/CN=IdM");
    let foreign_client = tls_client(
        &srv.mtls,
        &ca_file,
        Some((&self_key, &std::fs::read_to_string(&self_pem).unwrap())),
    );
    assert!(foreign_client.get("/v1/profiles").send().await.is_err());

    // Certificates our CA key signed that the service never issued (made here with
    // `openssl ca` from the data dir's issuing CA key): within their dates the handshake
    // completes and the store refuses the caller (401); expired, the handshake is refused.
    let stray = |name: &str, start: &str, end: &str| {
        let (key, csr) = key_and_csr(&dir, name, "ec");
        let csr_file = dir.join(format!("{name}.csr"));
        std::fs::write(&csr_file, csr).unwrap();
        let out = dir.join(format!("{name}.pem"));
        let ca_dir = dir.join(format!("{name}-ca"));
        std::fs::create_dir_all(&ca_dir).unwrap();
        std::fs::write(ca_dir.join("index.txt"), "").unwrap();
        std::fs::write(ca_dir.join("serial"), "7A01\n").unwrap();
        let cnf = ca_dir.join("ca.cnf");
        std::fs::write(
            &cnf,
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}\n\
                 serial = {0}/serial\ndefault_md = sha256\npolicy = p\nx509_extensions = x\n\
                 [p]\ncommonName = supplied\n[x]\nbasicConstraints = critical,CA:FALSE\n\
                 keyUsage = critical,digitalSignature\n",
                ca_dir.display()
            ),
        )
        .unwrap();
        openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            cnf.to_str().unwrap(),
            "-cert",
            srv.dir.path().join("ca.pem").to_str().unwrap(),
            "-keyfile",
            srv.dir.path().join("ca.key").to_str().unwrap(),
            "-in",
            csr_file.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
            "-startdate",
            start,
            "-enddate",
            end,
        ]);
        (key, std::fs::read_to_string(&out).unwrap())
    };
    let (unknown_key, unknown_pem) = stray("unknown", "20200101000000Z", "20991231000000Z");
    let unknown = tls_client(&srv.mtls, &ca_file, Some((&unknown_key, &unknown_pem)));
    let (s, v) = unknown.profiles().await;
    assert_eq!(s, 401, "a certificate the store does not hold: {v}");
    let (expired_key, expired_pem) = stray("expired", "20200101000000Z", "20200102000000Z");
    let expired = tls_client(&srv.mtls, &ca_file, Some((&expired_key, &expired_pem)));
    assert!(
        expired.get("/v1/profiles").send().await.is_err(),
        "an expired certificate of our CA is refused at the handshake"
    );
    // One of another CA (not self-signed: a CA of its own made by openssl).
    self_signed(
        &dir.join("other-ca.key"),
        &dir.join("other-ca.pem"),
        "2",
        "/CN=Other CA",
    );
    let (other_key, _) = key_and_csr(&dir, "other-leaf", "ec");
    openssl(&[
        "x509",
        "-req",
        "-in",
        dir.join("other-leaf.csr").to_str().unwrap(),
        "-CA",
        dir.join("other-ca.pem").to_str().unwrap(),
        "-CAkey",
        dir.join("other-ca.key").to_str().unwrap(),
        "-set_serial",
        "77",
        "-days",
        "2",
        "-out",
        dir.join("other-leaf.pem").to_str().unwrap(),
    ]);
    let other = tls_client(
        &srv.mtls,
        &ca_file,
        Some((
            &other_key,
            &std::fs::read_to_string(dir.join("other-leaf.pem")).unwrap(),
        )),
    );
    assert!(
        other.get("/v1/profiles").send().await.is_err(),
        "a certificate of another CA is refused at the handshake"
    );

    // curl, as the banner says: with the certificate 200, without it refused.
    let idm_cert_file = dir.join("idm.pem");
    std::fs::write(&idm_cert_file, &idm_pem).unwrap();
    let url = format!("{}/v1/organisation", srv.mtls);
    let (ok, body) = curl(&[
        "--fail",
        "--cert",
        idm_cert_file.to_str().unwrap(),
        "--key",
        idm_key.to_str().unwrap(),
        "--cacert",
        ca_file.to_str().unwrap(),
        &url,
    ]);
    assert!(ok, "curl with the system certificate: {body}");
    assert!(body.contains("\"cvr\""), "{body}");
    let (ok, _) = curl(&["--cacert", ca_file.to_str().unwrap(), &url]);
    assert!(!ok, "curl without a client certificate got through");
    let mut banner_curl = srv
        .banner
        .lines()
        .find(|l| l.contains("curl --cert"))
        .unwrap()
        .to_owned();
    banner_curl = banner_curl.trim().to_owned();
    assert!(
        banner_curl.contains("--cacert") && banner_curl.contains("https://"),
        "{banner_curl}"
    );

    // Revoked by an admin: the very next request is refused (no CRL wait).
    let (s, v) = admin
        .post(
            &format!("/v1/certificates/{idm_serial}/revoke"),
            json!({ "reason": "keyCompromise" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = idm.profiles().await;
    assert_eq!(s, 401, "{v}");
}

/// The serial (lower-case hex, as the API writes it) of a PEM certificate file, by openssl.
fn serial_of(pem_file: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(pem_file)
        .output()
        .expect("openssl is required (ORGCERT_REQUIRE_TOOLS)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

/// `orgcert renew ...` (no data dir): (success, stdout, stderr).
fn renew_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("renew")
        .args(args)
        .env_remove("ORGCERT_DATA_DIR")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The issue's "Done when": the IdM with its system certificate (curl and a Rust client)
/// lists profiles, orders and issues an `api` certificate from a CSR, renews itself over
/// `self/renew` (two parallel calls: one winner), `orgcert renew --force` replaces its
/// files, and after an admin revokes it the next request is refused.
#[tokio::test]
async fn idm_issues_renews_itself_and_is_refused_once_revoked() {
    use orgcert_functions::renew::MtlsClient;
    let srv = start();
    let Idm {
        dir,
        admin,
        ca_pem,
        ca_file,
        serial: idm_serial,
        key: idm_key,
        pem: idm_pem,
        ..
    } = idm(&srv).await;
    let idm_curl = tls_client(&srv.mtls, &ca_file, Some((&idm_key, &idm_pem)));
    let idm_rust = MtlsClient::new(
        ca_pem.as_bytes(),
        Some((idm_pem.as_bytes(), &std::fs::read(&idm_key).unwrap())),
    )
    .unwrap();

    // Both clients list profiles with the certificate.
    let (s, v) = idm_curl.profiles().await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = idm_rust
        .request("GET", &format!("{}/v1/profiles", srv.mtls), None)
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert!(!v["items"].as_array().unwrap().is_empty());

    // An `api` order, issued from a CSR over the Rust client; openssl verifies it.
    let (s, o) = idm_rust
        .request(
            "POST",
            &format!("{}/v1/profiles", srv.mtls),
            Some(&api_order("Service R")),
        )
        .await
        .unwrap();
    assert_eq!(s, 201, "{o}");
    let serial = o["certificate"]["serial"].as_str().unwrap().to_owned();
    let (_, csr) = key_and_csr(&dir, "service-r", "ec");
    let (s, v) = idm_rust
        .request(
            "POST",
            &format!("{}/v1/certificates/{serial}/issue", srv.mtls),
            Some(&json!({ "csr": csr })),
        )
        .await
        .unwrap();
    assert_eq!(s, 201, "{v}");
    let leaf = dir.join("service-r.pem");
    std::fs::write(&leaf, v["certificate_pem"].as_str().unwrap()).unwrap();
    verify(&ca_file, &leaf);

    // Self-renewal: bad input first, each refused with nothing written.
    let renew_path = "/v1/certificates/self/renew";
    let renew_url = format!("{}{renew_path}", srv.mtls);
    let (_, weak_csr) = key_and_csr(&dir, "weak", "rsa:1024");
    let (s, v) = tsend(idm_curl.post(renew_path).json(&json!({ "csr": weak_csr }))).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "csr", "{v}");
    let mut bad_sig = csr.clone().into_bytes();
    // Flip a character inside the base64 near the end (the signature).
    let at = bad_sig.len() - 40;
    bad_sig[at] = if bad_sig[at] == b'A' { b'B' } else { b'A' };
    let (s, v) = tsend(
        idm_curl
            .post(renew_path)
            .json(&json!({ "csr": String::from_utf8(bad_sig).unwrap() })),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "csr", "{v}");
    let (s, v) = tsend(idm_curl.post(renew_path).json(&json!({}))).await;
    assert_eq!(s, 400, "{v}");
    // A bearer token on the plain listener: 401 (the route is for certificates).
    let (s, v) = admin
        .post("/v1/certificates/self/renew", json!({ "csr": csr }))
        .await;
    assert_eq!(s, 401, "{v}");
    let (_, prof) = admin.get("/v1/profiles?q=IdM").await;
    let idm_profile = prof["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "IdM")
        .expect("IdM profile")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, before) = admin.get(&format!("/v1/profiles/{idm_profile}")).await;
    let certs_before = before["certificates"].as_array().map_or(0, Vec::len);
    assert_eq!(certs_before, 1, "{before}");

    // Two self-renewals at once: exactly one certificate is signed, the other call 409.
    let (key1, csr1) = key_and_csr(&dir, "idm-next-1", "ec");
    let (key2, csr2) = key_and_csr(&dir, "idm-next-2", "ec");
    let b1 = json!({ "csr": csr1 });
    let b2 = json!({ "csr": csr2 });
    let (r1, r2) = tokio::join!(
        idm_rust.request("POST", &renew_url, Some(&b1)),
        idm_rust.request("POST", &renew_url, Some(&b2)),
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    let mut codes = [r1.0, r2.0];
    codes.sort_unstable();
    assert_eq!(codes, [201, 409], "{r1:?} {r2:?}");
    let (won, next_key) = if r1.0 == 201 {
        (r1.1, key1)
    } else {
        (r2.1, key2)
    };
    let next_serial = won["serial"].as_str().unwrap().to_owned();
    assert_ne!(next_serial, idm_serial);
    assert!(
        won["chain_pem"].is_string() && won["not_after"].is_string(),
        "{won}"
    );
    assert!(won["password"].is_null(), "{won}");
    let (_, after) = admin.get(&format!("/v1/profiles/{idm_profile}")).await;
    assert_eq!(
        after["certificates"].as_array().map_or(0, Vec::len),
        2,
        "one new certificate: {after}"
    );
    // The old one stays valid; the audit names it as the actor.
    assert_eq!(admin.status_of(&idm_serial).await, "issued");
    assert_eq!(admin.status_of(&next_serial).await, "issued");
    let (_, audit) = admin.get("/v1/audit?limit=100").await;
    let by_itself = audit["items"].as_array().unwrap().iter().any(|e| {
        e["action"] == "certificate.self_renew"
            && e["target"] == next_serial.as_str()
            && e["actor"] == format!("system:{idm_serial}").as_str()
    });
    assert!(by_itself, "{audit}");
    // A certificate renews itself once: again, 409 naming its successor.
    let (s, v) = tsend(idm_curl.post(renew_path).json(&json!({ "csr": csr1 }))).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains(&next_serial), "{v}");

    // Renewal reminders skip the renewed certificate: near its end, the digest lists the
    // successor, not it.
    let (_, old_detail) = admin.get(&format!("/v1/certificates/{idm_serial}")).await;
    let old_end = time::OffsetDateTime::parse(
        old_detail["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let when = (old_end - time::Duration::days(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    cli(
        srv.dir.path(),
        &["job", "run", "renewal-reminders", "--now", &when],
    );
    let outbox: Value = serde_json::from_str(&srv.server.text("/_local/outbox").await).unwrap();
    let reminders: String = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap_or("")
                .contains("expire within")
        })
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(reminders.contains(&next_serial), "{reminders}");
    assert!(!reminders.contains(&idm_serial), "{reminders}");

    // `orgcert renew`: not due without --force (files untouched), then forced.
    let cert_file = dir.join("idm-current.pem");
    let key_file = dir.join("idm-current.key");
    std::fs::write(&cert_file, won["certificate_pem"].as_str().unwrap()).unwrap();
    std::fs::copy(&next_key, &key_file).unwrap();
    let old_key_text = std::fs::read_to_string(&key_file).unwrap();
    let common = [
        "--cert",
        cert_file.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
        "--url",
        srv.mtls.as_str(),
        "--ca",
        ca_file.to_str().unwrap(),
    ];
    let (ok, out, err) = renew_cli(&common);
    assert!(ok, "{err}");
    assert!(out.contains("not due"), "{out}");
    assert_eq!(serial_of(&cert_file), next_serial);
    let mut forced = common.to_vec();
    forced.push("--force");
    let (ok, out, err) = renew_cli(&forced);
    assert!(ok, "orgcert renew --force: {err}");
    let third_serial = serial_of(&cert_file);
    assert_ne!(third_serial, next_serial);
    assert!(out.contains(&third_serial), "{out}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key_text);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    verify(&ca_file, &cert_file);
    // The replaced files work as the identity, over curl and the Rust client.
    let renewed_pem = std::fs::read_to_string(&cert_file).unwrap();
    let renewed = tls_client(&srv.mtls, &ca_file, Some((&key_file, &renewed_pem)));
    let (s, v) = renewed.profiles().await;
    assert_eq!(s, 200, "{v}");
    let renewed_rust = MtlsClient::new(
        ca_pem.as_bytes(),
        Some((renewed_pem.as_bytes(), &std::fs::read(&key_file).unwrap())),
    )
    .unwrap();

    // The admin revokes it: the next request is refused (401), the CLI says why.
    let (s, v) = admin
        .post(
            &format!("/v1/certificates/{third_serial}/revoke"),
            json!({ "reason": "keyCompromise" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = renewed_rust
        .request("GET", &format!("{}/v1/profiles", srv.mtls), None)
        .await
        .unwrap();
    assert_eq!(s, 401, "{v}");
    let (s, v) = renewed.profiles().await;
    assert_eq!(s, 401, "{v}");
    let (ok, _, err) = renew_cli(&forced);
    assert!(!ok);
    assert!(err.contains("401") && err.contains("revoked"), "{err}");
    assert_eq!(serial_of(&cert_file), third_serial, "files left unchanged");
}

/// `orgcert renew --daemon` keeps running when a check fails (the old files stay, the next
/// check retries); without `--daemon` the same failure exits 1 naming the problem.
#[test]
fn renew_daemon_survives_a_failed_check() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("system.pem");
    let key = dir.path().join("system.key");
    let ca = dir.path().join("ca.pem");
    // A certificate that is due (1 day left) for a server that is not there.
    self_signed(&key, &cert, "1", "/CN=due");
    std::fs::copy(&cert, &ca).unwrap();
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let args = [
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
        "--url",
        url.as_str(),
    ];
    let (ok, _, err) = renew_cli(&args);
    assert!(!ok);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let before = std::fs::read(&cert).unwrap();

    let mut child = Command::new(BIN)
        .arg("renew")
        .args(args)
        .args(["--daemon", "--interval", "60"])
        .env_remove("ORGCERT_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60));
    // Still running after reporting the failure: it waits for the next check.
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    let first = first.expect("the daemon reports the failed check");
    assert!(first.starts_with("orgcert renew:"), "{first}");
    assert!(running, "the daemon exited after one failed check");
    assert_eq!(
        std::fs::read(&cert).unwrap(),
        before,
        "files left unchanged"
    );
}
