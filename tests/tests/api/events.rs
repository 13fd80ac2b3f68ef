//! The lifecycle event feed (API.md "Audit chain and events"): order, issue, renew,
//! revoke read back as four events in order, with a cursor that continues where it
//! stopped; another organisation reads none of them.

use serde_json::{json, Value};

use crate::helpers::*;

fn s(v: &Value) -> String {
    v.as_str().expect("string").to_owned()
}

async fn feed(app: &TestApp, token: &str, after: Option<&str>) -> (Vec<Value>, Option<String>) {
    let path = match after {
        Some(c) => format!("/v1/events?after={c}&limit=500"),
        None => "/v1/events?limit=500".to_owned(),
    };
    let a = app.get(&path, token).await;
    let body = a.ok(200).clone();
    (
        body["items"].as_array().unwrap().clone(),
        body["next_cursor"].as_str().map(str::to_owned),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_issue_renew_revoke_read_back_as_four_events() {
    let app = spawn_app_with(orgcert_pki::KeyAlgorithm::EcdsaP256).await;
    let admin = app.admin();
    let (before, start) = feed(&app, &admin, None).await;

    let (c, _) = app
        .create_issued(json!({ "name": "Feed profile", "key_algorithm": "ecdsa-p256" }))
        .await;
    let first = s(&c["certificate"]["serial"]);
    let renewal = app.act(&first, "renew", json!({})).await;
    let renewal_serial = s(&renewal.ok(201)["certificate"]["serial"]);
    app.act(&first, "revoke", json!({ "reason": "superseded" }))
        .await
        .ok(200);

    let (events, next) = feed(&app, &admin, start.as_deref()).await;
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| (s(&e["type"]), s(&e["subject"])))
        .collect();
    assert_eq!(
        got,
        [
            ("certificate.ordered".to_owned(), first.clone()),
            ("certificate.issued".to_owned(), first.clone()),
            ("certificate.renewed".to_owned(), renewal_serial.clone()),
            ("certificate.revoked".to_owned(), first.clone()),
        ],
        "after {} earlier events",
        before.len()
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(events[3]["detail"]["reason"], "superseded");
    assert!(events.iter().all(|e| e["org"] == "12345674"));

    // The cursor continues where the feed stopped: nothing new, same cursor.
    let (none, same) = feed(&app, &admin, next.as_deref()).await;
    assert!(none.is_empty());
    assert_eq!(same, next);
    // From the start the whole feed includes the four, oldest first.
    let (all, _) = feed(&app, &admin, None).await;
    assert_eq!(all.len(), before.len() + 4);
    // Other readers of the organisation; not a plain user.
    assert_eq!(app.get("/v1/events", &app.rights()).await.status, 200);
    assert_eq!(app.get("/v1/events", &app.org_admin()).await.status, 200);
    app.get("/v1/events", &app.contact())
        .await
        .problem(403, None);

    // Another organisation reads none of them, even with this organisation's cursor.
    let other = app.token_in("25313763", "anna@other.dk", &["user_admin"]);
    let (theirs, _) = feed(&app, &other, None).await;
    assert!(theirs.is_empty(), "{theirs:?}");

    // Bad cursors and limits are named.
    for (query, status, field) in [
        ("after=%25%25", 400, "cursor"),
        ("after=Zm9v", 422, "after"),
        ("limit=0", 422, "limit"),
        ("since=1", 400, "since"),
    ] {
        let answer = app.get(&format!("/v1/events?{query}"), &admin).await;
        answer.problem(status, Some(field));
    }
}
