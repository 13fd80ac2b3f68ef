//! `orgcert audit verify` (API.md "Audit chain and events"): an intact chain verifies
//! from the store and from `GET /v1/audit/export`, printing the head hash; one changed
//! audit event in SQLite (or in an export) is named, exit 1.

use orgcert_tests::spawn::{self, wait_ready};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgcert");
const DEMO: &str = "12345674";

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    spawn::run(BIN, args, dir, &[])
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
    let s = spawn::serve(BIN, dir.path())
        .env("ORGCERT_MTLS_ADDR", "off")
        .start();
    let admin = s.token("TOKEN_USER_ADMIN");
    wait_ready(&s.base).await;
    let c = reqwest::Client::new();
    for i in 0..3 {
        let r = c
            .post(format!("{}/v1/profiles", s.base))
            .bearer_auth(&admin)
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
        .bearer_auth(&admin)
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
