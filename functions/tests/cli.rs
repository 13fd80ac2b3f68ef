//! The real `orgcert` binary: `serve` prints working tokens; `token` and `org add` work on
//! the same data dir while the server runs; configuration variables are honoured.

use std::process::{Command, Stdio};

use orgcert_tests::spawn::{self, free_port, wait_ready, Server};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");

fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    env.iter()
        .fold(spawn::serve(BIN, dir), |s, (k, v)| s.env(k, v))
        .start()
}

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    run_with(args, dir, &[])
}

/// `orgcert token --org <org> --email <email> --role <roles>`.
fn mint(dir: &std::path::Path, org: &str, email: &str, roles: &str) -> (bool, String, String) {
    run(
        &["token", "--org", org, "--email", email, "--role", roles],
        dir,
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
            .bearer_auth(s.token(name))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["cvr"], "12345674");
    }
    // The contact token is a plain user: notifications work, admin routes do not.
    let contact = s.token("TOKEN_DEMO_CONTACT");
    for (path, want) in [("/v1/notifications", 200), ("/v1/profiles", 403)] {
        let r = c
            .get(format!("{}{path}", s.base))
            .bearer_auth(&contact)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{path}");
    }

    // `orgcert token` mints tokens the running server accepts.
    let (ok, out, err) = mint(
        dir.path(),
        "12345674",
        "x@demo-org.dk",
        "user_admin,rights_admin",
    );
    assert!(ok, "{err}");
    let r = c
        .get(format!("{}/v1/profiles", s.base))
        .bearer_auth(out.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ok, _, err) = mint(dir.path(), "12345674", "x@demo-org.dk", "root");
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
    let (_, t, _) = mint(dir.path(), "25313763", "a@other.dk", "org_admin");
    let v = s.get_json("/v1/organisation", t.trim()).await;
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
    let admin = s.token("TOKEN_USER_ADMIN");
    let order = s.post_json("/v1/profiles", &admin, &json!({ "type": "organisation", "name": "CLI", "contact_email": "carl.contact@demo-org.dk", "issuing": "direct" })).await;
    let url = order["issuance_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/issue/", s.base)), "{url}");
    let issued = s.issue_via(url, &contact).await;
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
        let order = s.post_json("/v1/profiles", &s.token("TOKEN_USER_ADMIN"), &json!({ "type": "system", "name": "Public URL", "contact_email": "carl.contact@demo-org.dk", "issuing": "direct" })).await;
        assert!(
            order["issuance_url"]
                .as_str()
                .unwrap()
                .starts_with("https://certs.example.dk/issue/"),
            "{order}"
        );
        ca_first = s.text("/public/ca.pem").await;
    }
    let s = serve(dir.path(), &[]);
    wait_ready(&s.base).await;
    let ca_again = s.text("/public/ca.pem").await;
    assert_eq!(ca_first, ca_again, "the CA survives restarts");
    let list = s
        .get_json("/v1/profiles", &s.token("TOKEN_USER_ADMIN"))
        .await;
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
    spawn::run(BIN, args, dir, env)
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
