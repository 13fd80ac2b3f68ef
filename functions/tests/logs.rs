//! Secrets never reach the log: the real `orgcert serve` at `ORGCERT_LOG=trace` issues a
//! certificate with a server-side key (PKCS#12 password) and redeems a one-time code; the
//! whole output (stdout and stderr) holds neither, nor the CA key.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");

/// Copies a pipe into the shared log; tells `ready` once the banner's last line is in.
fn drain(
    mut pipe: impl Read + Send + 'static,
    log: Arc<Mutex<Vec<u8>>>,
    ready: mpsc::Sender<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut told = false;
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut l = log.lock().unwrap();
            l.extend_from_slice(&buf[..n]);
            if !told && String::from_utf8_lossy(&l).contains("\nTry: ") {
                told = true;
                let _ = ready.send(());
            }
        }
    })
}

fn banner_token(log: &str, name: &str) -> String {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {name} in the banner"))
}

#[tokio::test]
async fn trace_log_holds_no_password_code_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env_remove("ORGCERT_PUBLIC_URL")
        .env_remove("ORGCERT_DATA_DIR")
        .env("ORGCERT_LOG", "trace")
        .env("ORGCERT_PKI_URL", "http://pki.example.dk")
        .env("ORGCERT_CA_KEY_ALGORITHM", "ecdsa-p256")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn orgcert");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let readers = [
        drain(child.stdout.take().unwrap(), log.clone(), tx.clone()),
        drain(child.stderr.take().unwrap(), log.clone(), tx),
    ];
    let ready = rx.recv_timeout(Duration::from_secs(120));
    if ready.is_err() {
        let _ = child.kill();
        panic!(
            "no banner: {}",
            String::from_utf8_lossy(&log.lock().unwrap())
        );
    }
    let banner = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let admin = banner_token(&banner, "TOKEN_USER_ADMIN");
    let contact = banner_token(&banner, "TOKEN_DEMO_CONTACT");
    let c = reqwest::Client::new();
    let post = |path: &str, token: &str, body: Value| {
        c.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    // Server-side key: the answer carries the PKCS#12 password.
    let order: Value = post(
        "/v1/profiles",
        &admin,
        json!({ "type": "organisation", "name": "Logged", "contact_email": "carl.contact@demo-org.dk",
                "issuing": "direct", "key_algorithm": "ecdsa-p256" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let url = order["issuance_url"].as_str().expect("issuance_url");
    let token = url.rsplit('/').next().unwrap();
    let issued: Value = post(
        &format!("/v1/issuance/{token}"),
        &contact,
        json!({ "accept_terms": true }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let password = issued["password"].as_str().expect("password").to_owned();
    let dl = c
        .get(issued["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status(), 200);

    // One-time code: shown to the admin, redeemed by the contact (one wrong try first).
    let otc: Value = post(
        "/v1/profiles",
        &admin,
        json!({ "type": "organisation", "name": "Logged code", "contact_email": "carl.contact@demo-org.dk",
                "identification": "one_time_code", "key_algorithm": "ecdsa-p256" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let code = otc["one_time_code"].as_str().expect("code").to_owned();
    let reference = otc["reference"].as_str().unwrap().to_owned();
    let wrong = post(
        "/v1/issuance/redeem",
        &contact,
        json!({ "reference": reference, "code": "WRONGWRONG22", "accept_terms": true }),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 422);
    let redeemed: Value = post(
        "/v1/issuance/redeem",
        &contact,
        json!({ "reference": reference, "code": code.to_lowercase(), "accept_terms": true }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let password2 = redeemed["password"].as_str().expect("password").to_owned();

    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        r.join().unwrap();
    }
    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    // The log really is at trace level and saw these requests.
    assert!(log.contains("TRACE"), "not a trace log:\n{log}");
    // Requests are logged by route template (never the path with its token).
    for route in ["/v1/issuance/redeem", "/v1/issuance/{token}"] {
        assert!(log.contains(route), "{route} not logged:\n{log}");
    }
    for (what, secret) in [
        ("PKCS#12 password", password.as_str()),
        ("PKCS#12 password (redeemed)", password2.as_str()),
        ("one-time code", code.as_str()),
        ("one-time code (as typed)", &code.to_lowercase()),
        ("issuance link token", token),
    ] {
        assert!(secret.len() >= 12, "{what}: {secret:?}");
        assert!(!log.contains(secret), "the {what} is in the log");
    }
    // Nor the CA or token keys (any line of their base64 bodies).
    for key in ["ca.key", "jwt.key"] {
        let pem = std::fs::read_to_string(dir.path().join(key)).unwrap();
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
        {
            assert!(!log.contains(line), "{key} is in the log");
        }
    }
}
