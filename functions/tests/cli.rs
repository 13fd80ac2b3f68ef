//! The real `orgcert` binary: `serve` prints working tokens; `token` and `org add` work on
//! the same data dir while the server runs; configuration variables are honoured.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");

struct Server {
    child: Child,
    tokens: Vec<(String, String)>,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--addr", &addr]);
    cmd.env_remove("ORGCERT_PUBLIC_URL")
        .env_remove("ORGCERT_PKI_URL")
        .env_remove("ORGCERT_POLICY_OIDS")
        .env_remove("ORGCERT_NAME_REGISTRATION_AUTHORITY")
        .env_remove("ORGCERT_DATA_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orgcert");
    let stdout = child.stdout.take().unwrap();
    let mut tokens = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_try = false;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.trim().strip_prefix("export ") {
            let (k, v) = rest.split_once('=').unwrap();
            tokens.push((k.to_owned(), v.to_owned()));
        }
        if line.starts_with("Try:") {
            saw_try = true;
            break;
        }
    }
    assert!(saw_try, "serve did not print its banner");
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        tokens,
        base: format!("http://{addr}"),
    }
}

fn token(s: &Server, name: &str) -> String {
    s.tokens
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", s.tokens))
        .1
        .clone()
}

async fn wait_ready(base: &str) {
    let c = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = c.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server not ready");
}

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("ORGCERT_DATA_DIR", dir)
        .output()
        .expect("run orgcert");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_prints_tokens_that_work_and_cli_shares_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        &[
            ("ORGCERT_PKI_URL", "http://pki.example.dk"),
            ("ORGCERT_CA_KEY_ALGORITHM", "ecdsa-p256"),
            (
                "ORGCERT_POLICY_OIDS",
                " 0.4.0.2042.1.1 ,1.2.208.169.1.1.1.3.7",
            ),
            (
                "ORGCERT_NAME_REGISTRATION_AUTHORITY",
                "https://datacvr.virk.dk",
            ),
        ],
    );
    wait_ready(&s.base).await;
    let c = reqwest::Client::new();
    for name in ["TOKEN_USER_ADMIN", "TOKEN_RIGHTS_ADMIN", "TOKEN_ORG_ADMIN"] {
        let r = c
            .get(format!("{}/v1/organisation", s.base))
            .bearer_auth(token(&s, name))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["cvr"], "12345674");
    }
    // The contact token is a plain user: notifications work, admin routes do not.
    let contact = token(&s, "TOKEN_DEMO_CONTACT");
    assert_eq!(
        c.get(format!("{}/v1/notifications", s.base))
            .bearer_auth(&contact)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{}/v1/profiles", s.base))
            .bearer_auth(&contact)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // `orgcert token` mints tokens the running server accepts.
    let (ok, out, err) = run(
        &[
            "token",
            "--org",
            "12345674",
            "--email",
            "x@demo-org.dk",
            "--role",
            "user_admin,rights_admin",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    let r = c
        .get(format!("{}/v1/profiles", s.base))
        .bearer_auth(out.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ok, _, err) = run(
        &[
            "token",
            "--org",
            "12345674",
            "--email",
            "x@demo-org.dk",
            "--role",
            "root",
        ],
        dir.path(),
    );
    assert!(!ok && err.contains("unknown role"), "{err}");

    // `orgcert org add` writes to the database the server is using.
    let (ok, out, err) = run(
        &[
            "org",
            "add",
            "--cvr",
            "25313763",
            "--name",
            "Other A/S",
            "--p-number",
            "1000000009",
            "--se-number",
            "25313763",
        ],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    let (_, t, _) = run(
        &[
            "token",
            "--org",
            "25313763",
            "--email",
            "a@other.dk",
            "--role",
            "org_admin",
        ],
        dir.path(),
    );
    let v: Value = c
        .get(format!("{}/v1/organisation", s.base))
        .bearer_auth(t.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["name"], "Other A/S");
    let (ok, _, err) = run(
        &["org", "add", "--cvr", "12345678", "--name", "Bad"],
        dir.path(),
    );
    assert!(!ok && err.contains("cvr"), "{err}");
    let (ok, _, err) = run(
        &["org", "add", "--cvr", "25313763", "--name", "Again"],
        dir.path(),
    );
    assert!(!ok && err.contains("already exists"), "{err}");

    // Links use the listen address by default; certificates use ORGCERT_PKI_URL.
    let admin = token(&s, "TOKEN_USER_ADMIN");
    let order: Value = c
        .post(format!("{}/v1/profiles", s.base))
        .bearer_auth(&admin)
        .json(&json!({ "type": "organisation", "name": "CLI", "contact_email": "carl.contact@demo-org.dk", "issuing": "direct" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = order["issuance_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/issue/", s.base)), "{url}");
    let tok = url.rsplit('/').next().unwrap();
    let issued: Value = c
        .post(format!("{}/v1/issuance/{tok}", s.base))
        .bearer_auth(&contact)
        .json(&json!({ "accept_terms": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = issued["certificate_pem"].as_str().unwrap();
    std::fs::write(dir.path().join("leaf.pem"), pem).unwrap();
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(dir.path().join("leaf.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("http://pki.example.dk/public/crl"), "{text}");
    assert!(
        text.contains("ecdsa-with-SHA256"),
        "EC CA from ORGCERT_CA_KEY_ALGORITHM: {text}"
    );
    let policies: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Policy: "))
        .collect();
    assert_eq!(
        policies,
        vec!["0.4.0.2042.1.1", "1.2.208.169.1.1.1.3.7"],
        "ORGCERT_POLICY_OIDS: {text}"
    );
    // openssl dumps the unknown qcStatements extension with its printable characters.
    assert!(
        text.contains("datacvr.virk.dk"),
        "ORGCERT_NAME_REGISTRATION_AUTHORITY: {text}"
    );
    assert!(issued["download_url"]
        .as_str()
        .unwrap()
        .starts_with(&s.base));
}

#[tokio::test]
async fn public_url_is_honoured_and_a_restart_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let ca_first;
    {
        let s = serve(
            dir.path(),
            &[("ORGCERT_PUBLIC_URL", "https://certs.example.dk/")],
        );
        wait_ready(&s.base).await;
        let c = reqwest::Client::new();
        let order: Value = c
            .post(format!("{}/v1/profiles", s.base))
            .bearer_auth(token(&s, "TOKEN_USER_ADMIN"))
            .json(&json!({ "type": "system", "name": "Public URL", "contact_email": "carl.contact@demo-org.dk", "issuing": "direct" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            order["issuance_url"]
                .as_str()
                .unwrap()
                .starts_with("https://certs.example.dk/issue/"),
            "{order}"
        );
        ca_first = c
            .get(format!("{}/public/ca.pem", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    let s = serve(dir.path(), &[]);
    wait_ready(&s.base).await;
    let c = reqwest::Client::new();
    let ca_again = c
        .get(format!("{}/public/ca.pem", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ca_first, ca_again, "the CA survives restarts");
    let list: Value = c
        .get(format!("{}/v1/profiles", s.base))
        .bearer_auth(token(&s, "TOKEN_USER_ADMIN"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let key_mode = std::fs::metadata(dir.path().join("ca.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key_mode.permissions().mode() & 0o777, 0o600);
}

/// This machine's own non-loopback address, if it has one (no packet is sent: UDP
/// `connect` only selects the route).
fn own_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("10.255.255.255:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn machine_only_routes_refuse_other_hosts() {
    let Some(ip) = own_address() else {
        eprintln!("no non-loopback address on this machine: skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--addr", &format!("0.0.0.0:{port}")])
        .env("ORGCERT_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let local = format!("http://127.0.0.1:{port}");
    wait_ready(&local).await;
    let c = reqwest::Client::new();
    let via_lan = c
        .get(format!("http://{ip}:{port}/_local/outbox"))
        .send()
        .await;
    let via_loopback = c
        .get(format!("{local}/_local/outbox"))
        .send()
        .await
        .unwrap()
        .status();
    let login_lan = c
        .post(format!("http://{ip}:{port}/_local/login"))
        .json(&json!({ "org": "12345674", "email": "x@demo-org.dk", "roles": ["user_admin"] }))
        .send()
        .await;
    let health_lan = c.get(format!("http://{ip}:{port}/healthz")).send().await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(via_loopback, 200);
    assert_eq!(via_lan.unwrap().status(), 403);
    assert_eq!(login_lan.unwrap().status(), 403);
    assert_eq!(health_lan.unwrap().status(), 200);
}

/// A bad certificate setting stops every command before anything is read or written, with
/// a message naming the variable.
#[test]
fn bad_certificate_settings_are_refused_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("ORGCERT_POLICY_OIDS", "0.4.0.2042.1.1,1.2.x"),
        ("ORGCERT_POLICY_OIDS", "0.4.0.2042.1.1,"),
        ("ORGCERT_NAME_REGISTRATION_AUTHORITY", "datacvr.virk.dk"),
    ] {
        let out = Command::new(BIN)
            .args(["org", "add", "--cvr", "25313763", "--name", "Bad settings"])
            .env("ORGCERT_DATA_DIR", dir.path())
            .env_remove("ORGCERT_POLICY_OIDS")
            .env_remove("ORGCERT_NAME_REGISTRATION_AUTHORITY")
            .env(var, value)
            .output()
            .expect("run orgcert");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} was accepted");
        assert!(err.contains(var), "{var}={value}: {err}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written to the data dir"
    );
}

fn run_with(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("ORGCERT_DATA_DIR", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run orgcert");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ca_rollover_needs_a_root_and_adds_the_next_generation() {
    let dir = tempfile::tempdir().unwrap();
    let fast = [
        ("ORGCERT_CA_KEY_ALGORITHM", "ecdsa-p256"),
        ("ORGCERT_ROOT_KEY_ALGORITHM", "ecdsa-p384"),
    ];
    let (ok, _, err) = run_with(&["ca", "rollover"], dir.path(), &fast);
    assert!(!ok && err.contains("cannot roll over"), "{err}");
    // Any command that opens the data dir creates the root and the first issuing CA.
    let (ok, out, err) = run_with(&["job", "run", "housekeeping"], dir.path(), &fast);
    assert!(ok, "{out}{err}");
    for n in [2, 3] {
        let (ok, out, err) = run_with(&["ca", "rollover"], dir.path(), &fast);
        assert!(ok, "{out}{err}");
        assert!(out.contains(&format!("generation {n} created")), "{out}");
        assert!(out.contains("BEGIN CERTIFICATE"), "{out}");
        assert!(dir.path().join(format!("ca-{n}.pem")).exists());
        assert!(dir.path().join(format!("ca-{n}.key")).exists());
    }
    // The next start serves generation 3 first, then 2 and 1, then the root.
    let (ok, out, err) = run_with(&["job", "run", "crl-refresh"], dir.path(), &fast);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("g3") && out.contains("g2") && out.contains("full"),
        "{out}"
    );
}
