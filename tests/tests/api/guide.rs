//! Points of the user's guide that the API carries (issue 14).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn s(v: &Value) -> String {
    v.as_str().expect("string").to_owned()
}

async fn directory_count(app: &TestApp, serial: &str) -> usize {
    app.call(
        Method::GET,
        &format!("/public/certificates?serial={serial}"),
        None,
        None,
        &[],
    )
    .await
    .ok(200)["items"]
        .as_array()
        .unwrap()
        .len()
}

/// The directory follows the profile's current "publish" flag for every certificate of
/// the profile: unticking it removes them (list and download), ticking publishes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_follows_the_profiles_current_publish_flag() {
    let app = spawn_app_with(orgcert_pki::KeyAlgorithm::EcdsaP256).await;
    let admin = app.admin();
    let (m, issued) = app
        .create_issued(
            json!({ "name": "Published then not", "publish": true, "key_algorithm": "ecdsa-p256" }),
        )
        .await;
    let id = s(&m["profile"]["id"]);
    let serial = s(&issued["serial"]);
    assert_eq!(directory_count(&app, &serial).await, 1);

    let version = |p: &Value| p["version"].as_i64().expect("version");
    let current = app.get(&format!("/v1/profiles/{id}"), &admin).await;
    let v = version(&current.ok(200)["profile"]);
    let off = app
        .patch(
            &format!("/v1/profiles/{id}"),
            &admin,
            json!({ "version": v, "publish": false }),
        )
        .await;
    let off = off.ok(200).clone();
    assert_eq!(
        directory_count(&app, &serial).await,
        0,
        "unticked: out of the directory"
    );
    let file = app
        .call(
            Method::GET,
            &format!("/public/certificates/{serial}/certificate.pem"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(file.status, 404);

    let on = app
        .patch(
            &format!("/v1/profiles/{id}"),
            &admin,
            json!({ "version": version(off.get("profile").unwrap_or(&off)), "publish": true }),
        )
        .await;
    on.ok(200);
    assert_eq!(
        directory_count(&app, &serial).await,
        1,
        "ticked again: published"
    );
}

/// A one-time-code order puts the guide's in-app notification for the contact: the
/// reference and the redeem page, never the code (that is the administrator's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_code_order_notifies_the_contact_in_the_app() {
    let app = spawn_app_with(orgcert_pki::KeyAlgorithm::EcdsaP256).await;
    let made = app
        .create(json!({ "name": "Code notice", "identification": "one_time_code", "key_algorithm": "ecdsa-p256" }))
        .await;
    let m = made.ok(201).clone();
    let reference = s(&m["reference"]);
    let code = s(&m["one_time_code"]);
    let notes = app.get("/v1/notifications", &app.contact()).await;
    let items = notes.ok(200)["items"].as_array().unwrap().clone();
    let note = items
        .iter()
        .find(|n| s(&n["text"]).contains(&reference))
        .unwrap_or_else(|| panic!("no notification with the reference: {items:?}"));
    assert!(!s(&note["text"]).contains(&code), "the code is not in it");
    assert!(s(&note["link"]).ends_with("/redeem"), "{note}");
    assert_eq!(note["read"], false);
    // The administrator who ordered gets none.
    let admin_notes = app.get("/v1/notifications", &app.admin()).await;
    assert!(admin_notes.ok(200)["items"].as_array().unwrap().is_empty());
}
