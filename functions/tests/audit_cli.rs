//! `orgcert audit verify` (API.md "Audit chain and events"): an intact chain verifies
//! from the store and from `GET /v1/audit/export`, printing the head hash; one changed
//! audit event in SQLite (or in an export) is named, exit 1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");
const DEMO: &str = "12345674";

struct Server {
    child: Child,
    admin: String,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--addr", &addr])
        .env("ORGCERT_MTLS_ADDR", "off")
        .env_remove("ORGCERT_PUBLIC_URL")
        .env_remove("ORGCERT_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orgcert");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut admin = None;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(t) = line.trim().strip_prefix("export TOKEN_USER_ADMIN=") {
            admin = Some(t.to_owned());
        }
        if line.starts_with("Try:") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        admin: admin.expect("serve printed the user admin's token"),
        base: format!("http://{addr}"),
    }
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

fn head_hash(out: &str) -> String {
    out.rsplit("hash ")
        .next()
        .map(|h| h.trim().to_owned())
        .filter(|h| h.len() == 64)
        .unwrap_or_else(|| panic!("no head hash in {out:?}"))
}

#[tokio::test]
async fn audit_verify_names_the_changed_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path());
    wait_ready(&s.base).await;
    let c = reqwest::Client::new();
    for i in 0..3 {
        let r = c
            .post(format!("{}/v1/profiles", s.base))
            .bearer_auth(&s.admin)
            .json(
                &json!({ "type": "organisation", "name": format!("Audit {i}"),
                           "contact_email": "contact@demo-org.dk", "issuing": "direct" }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let r = c
        .get(format!("{}/v1/audit/export", s.base))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/x-ndjson"));
    let export = r.text().await.unwrap();
    let events: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.len() >= 3, "{export}");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    drop(s);

    // Intact: from the store and from the export, the same head.
    let (ok, out, err) = run(&["audit", "verify", "--org", DEMO], dir.path());
    assert!(ok, "{err}");
    let head = head_hash(&out);
    assert_eq!(head, events.last().unwrap()["hash"].as_str().unwrap());
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, &export).unwrap();
    let (ok, out, err) = run(&["audit", "verify", file.to_str().unwrap()], dir.path());
    assert!(ok, "{err}");
    assert_eq!(head_hash(&out), head);
    // Without --org: every organisation.
    let (ok, out, err) = run(&["audit", "verify"], dir.path());
    assert!(
        ok && out.contains(&format!("organisation {DEMO}")),
        "{out}{err}"
    );

    // Change the actor of the second event, as someone with the database file could.
    let victim = &events[1];
    let id = victim["id"].as_str().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("orgcert.db")).unwrap();
    let n = db
        .execute(
            "UPDATE audit SET doc = json_set(doc, '$.actor', 'mallory@example.dk')
             WHERE json_extract(doc, '$.id') = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let (ok, out, err) = run(&["audit", "verify", "--org", DEMO], dir.path());
    assert!(!ok, "a changed event must fail: {out}");
    assert!(err.contains(id) && err.contains("seq 2"), "{err}");

    // The same change in an export is named too; a line that is no event as well.
    let mut lines: Vec<Value> = events.clone();
    lines[1]["actor"] = json!("mallory@example.dk");
    let forged: String = lines.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&file, forged).unwrap();
    let (ok, _, err) = run(&["audit", "verify", file.to_str().unwrap()], dir.path());
    assert!(!ok && err.contains(id) && err.contains("seq 2"), "{err}");
    std::fs::write(&file, format!("{export}not json\n")).unwrap();
    let (ok, _, err) = run(&["audit", "verify", file.to_str().unwrap()], dir.path());
    assert!(
        !ok && err.contains(&format!("line {}", events.len() + 1)),
        "{err}"
    );
    let (ok, _, err) = run(&["audit", "verify", "--org", "12345678"], dir.path());
    assert!(!ok && err.contains("--org"), "{err}");
}
