//! Unit tests of the SQLite store; the full port contract runs in
//! `orgcert-tests` (`conformance::store_conformance`).

use super::*;
use orgcert_core::ids::{CertEmail, DisplayName, ProfileName};
use orgcert_core::model::{CertKind, LatestCertificate, OrgSettings, ProfileSnapshot};
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2025-03-01 09:00:00 UTC);

fn cvr(s: &str) -> Cvr {
    Cvr::parse(s).unwrap()
}

fn org(c: &str) -> Organisation {
    Organisation {
        cvr: cvr(c),
        name: DisplayName::parse("Eksempel A/S").unwrap(),
        settings: OrgSettings {
            organisation_certificates_enabled: true,
            seal_generation_allowed: false,
            local_idp_enabled: false,
            nemhandel_enabled: false,
        },
        p_numbers: vec![],
        se_numbers: vec![],
        version: 1,
        created_at: T0,
    }
}

fn profile(o: &str, name: &str) -> Profile {
    Profile::new(
        cvr(o),
        CertKind::System,
        ProfileName::parse(name).unwrap(),
        Email::parse("anna@example.dk").unwrap(),
        T0,
    )
}

fn cert(p: &Profile, serial: &str, ordered_at: OffsetDateTime) -> Certificate {
    let mut snapshot = ProfileSnapshot::of(p, DisplayName::parse("Eksempel A/S").unwrap());
    snapshot.seal_generation = false;
    Certificate::pending_order(
        Serial::parse(serial).unwrap(),
        p,
        snapshot,
        ordered_at,
        "admin@example.dk".into(),
        None,
    )
}

fn secret(c: &Certificate, hash: &str, reference: Option<&str>) -> IssuanceSecret {
    IssuanceSecret {
        hash: hash.into(),
        kind: match reference {
            Some(r) => SecretKind::OneTimeCode {
                reference: r.into(),
                failed_attempts: 0,
            },
            None => SecretKind::Link,
        },
        org: c.org.clone(),
        serial: c.serial.clone(),
        created_at: T0,
        expires_at: T0 + time::Duration::days(14),
        used_at: None,
        claim: None,
        version: 1,
    }
}

fn audit(o: &str, action: &str) -> AuditEvent {
    AuditEvent {
        id: Uuid::new_v4(),
        org: cvr(o),
        at: T0,
        actor: "admin@example.dk".into(),
        action: action.into(),
        target: "x".into(),
        detail: serde_json::json!({}),
        seq: None,
        prev_hash: None,
        hash: None,
    }
}

fn notification(o: &str, to: &str, subject: &str) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        org: cvr(o),
        recipient: Email::parse(to).unwrap(),
        at: T0,
        subject: subject.into(),
        text: "t".into(),
        link: None,
        read: false,
    }
}

fn idem(o: &str, key: &str, p: &Profile, serial: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        org: cvr(o),
        key: key.into(),
        request_hash: "h".into(),
        profile_id: p.id,
        serial: Serial::parse(serial).unwrap(),
        created_at: T0,
    }
}

const A: &str = "10150817";
const B: &str = "25313763";

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db/orgcert.sqlite")).unwrap();
    (dir, store)
}

async fn with_orgs(store: &SqliteStore) {
    store
        .commit(vec![
            Write::PutOrganisation {
                org: org(A),
                expected: None,
            },
            Write::PutOrganisation {
                org: org(B),
                expected: None,
            },
        ])
        .await
        .unwrap();
}

fn put_profile(p: &Profile, expected: Option<u64>) -> Write {
    Write::PutProfile {
        profile: p.clone(),
        expected,
    }
}

fn put_cert(c: &Certificate, expected: Option<u64>) -> Write {
    Write::PutCertificate {
        cert: c.clone(),
        expected,
    }
}

fn query(limit: u32) -> ProfileQuery {
    ProfileQuery {
        limit,
        now: Some(T0),
        ..Default::default()
    }
}

async fn names(store: &SqliteStore, org: &str, q: ProfileQuery) -> Vec<String> {
    let page = store.profiles(&cvr(org), &q).await.unwrap();
    page.items.into_iter().map(|p| p.name.to_string()).collect()
}

fn is_stale<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(DomainError::StaleVersion(_)))
}

#[tokio::test]
async fn open_sets_wal_foreign_keys_and_schema_version() {
    let (dir, store) = open();
    let path = dir.path().join("db/orgcert.sqlite");
    {
        let c = store.conn.lock().unwrap();
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = c
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::SCHEMA_VERSION);
    }
    with_orgs(&store).await;
    drop(store);
    // Reopening migrates nothing and keeps the data.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.organisations().await.unwrap().len(), 2);
    drop(store);
    // A file from a newer build is refused rather than misread.
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(DomainError::Internal(m)) if m.contains("newer")
    ));
}

#[tokio::test]
async fn lifecycle_through_batches_with_versions() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let mut p = profile(A, "Lønsystem");
    let mut c = cert(&p, "4a01", T0);
    let s = secret(&c, &"ab".repeat(32), None);
    c.secret_hash = Some(s.hash.clone());
    p.latest = Some(LatestCertificate {
        serial: c.serial.clone(),
        status: CertStatus::Pending,
        not_after: None,
    });
    // Order: profile, certificate, secret, audit in one batch.
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            Write::PutSecret {
                secret: s.clone(),
                expected: None,
            },
            Write::Audit(audit(A, "certificate.order")),
        ])
        .await
        .unwrap();
    assert_eq!(store.profile(&cvr(A), p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(
        store.certificate_any_org(&c.serial).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(store.secret(&s.hash).await.unwrap(), Some(s.clone()));

    // Issue: certificate v1 → v2, secret used, profile summary updated.
    let mut issued = c.clone();
    issued.status = CertStatus::Issued;
    issued.not_after = Some(T0 + time::Duration::days(1095) - time::Duration::seconds(1));
    issued.version = 2;
    let mut used = s.clone();
    used.used_at = Some(T0);
    used.version = 2;
    let mut p2 = p.clone();
    p2.latest = Some(LatestCertificate {
        serial: c.serial.clone(),
        status: CertStatus::Issued,
        not_after: issued.not_after,
    });
    p2.version = 2;
    store
        .commit(vec![
            put_cert(&issued, Some(1)),
            Write::PutSecret {
                secret: used.clone(),
                expected: Some(1),
            },
            put_profile(&p2, Some(1)),
        ])
        .await
        .unwrap();
    assert_eq!(
        store
            .certificate_any_org(&c.serial)
            .await
            .unwrap()
            .unwrap()
            .status,
        CertStatus::Issued
    );
    // Replaying the same transition is stale: the stored version moved on.
    assert!(is_stale(
        store.commit(vec![put_cert(&issued, Some(1))]).await
    ));
    // Creating what exists is stale; updating what does not exist is stale.
    assert!(is_stale(store.commit(vec![put_profile(&p2, None)]).await));
    let ghost = cert(&p, "4a02", T0);
    assert!(is_stale(
        store.commit(vec![put_cert(&ghost, Some(1))]).await
    ));

    // Renew: a new pending certificate beside the issued one; then delete it.
    let renewal = cert(&p, "4a03", T0 + time::Duration::days(1));
    store.commit(vec![put_cert(&renewal, None)]).await.unwrap();
    assert!(is_stale(
        store
            .commit(vec![Write::DeleteCertificate {
                serial: renewal.serial.clone(),
                expected: 7,
            }])
            .await
    ));
    store
        .commit(vec![Write::DeleteCertificate {
            serial: renewal.serial.clone(),
            expected: 1,
        }])
        .await
        .unwrap();
    assert_eq!(
        store.certificate_any_org(&renewal.serial).await.unwrap(),
        None
    );
    // Deleting what is gone is stale too.
    assert!(is_stale(
        store
            .commit(vec![Write::DeleteCertificate {
                serial: renewal.serial.clone(),
                expected: 1,
            }])
            .await
    ));
}

#[tokio::test]
async fn a_batch_with_one_stale_write_writes_nothing() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let p = profile(A, "Faktura");
    let c = cert(&p, "5b01", T0);
    let mut changed_org = org(A);
    changed_org.version = 2;
    let r = store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            Write::Audit(audit(A, "certificate.order")),
            Write::Notify(notification(A, "anna@example.dk", "hello")),
            Write::Idempotency(idem(A, "k1", &p, "5b01")),
            // Stale: the organisation is at version 1.
            Write::PutOrganisation {
                org: changed_org,
                expected: Some(5),
            },
        ])
        .await;
    assert!(matches!(r, Err(DomainError::StaleVersion(_))), "{r:?}");
    assert_eq!(store.profile(&cvr(A), p.id).await.unwrap(), None);
    assert_eq!(store.certificate_any_org(&c.serial).await.unwrap(), None);
    assert!(store
        .audit(&cvr(A), 10, None)
        .await
        .unwrap()
        .items
        .is_empty());
    let anna = Email::parse("anna@example.dk").unwrap();
    assert!(store
        .notifications(&cvr(A), &anna, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.idempotency(&cvr(A), "k1").await.unwrap(), None);
    assert_eq!(
        store.organisation(&cvr(A)).await.unwrap().unwrap().version,
        1
    );
    // A dangling reference is a caller bug: Internal, and still nothing written.
    let orphan = profile("35954716", "Orphan");
    let r = store
        .commit(vec![
            put_profile(&orphan, None),
            Write::Audit(audit(A, "x")),
        ])
        .await;
    assert!(matches!(r, Err(DomainError::Internal(_))), "{r:?}");
    assert!(store
        .audit(&cvr(A), 10, None)
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn cursors_visit_25_profiles_once_in_order() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let mut writes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..25 {
        // Mixed case and duplicate names: order is (lower-cased name, id).
        let name = match i % 3 {
            0 => format!("System {:02}", i / 2),
            1 => format!("system {:02}", i / 2),
            _ => format!("SYSTEM {:02}", i / 2),
        };
        let p = profile(A, &name);
        expected.push((name.to_lowercase(), p.id));
        writes.push(put_profile(&p, None));
    }
    store.commit(writes).await.unwrap();
    expected.sort();

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .profiles(
                &cvr(A),
                &ProfileQuery {
                    cursor: cursor.clone(),
                    ..query(10)
                },
            )
            .await
            .unwrap();
        pages += 1;
        seen.extend(
            page.items
                .iter()
                .map(|p| (p.name.as_str().to_lowercase(), p.id)),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    // Exactly `limit` rows left: no phantom next page.
    let all = store.profiles(&cvr(A), &query(25)).await.unwrap();
    assert_eq!(all.items.len(), 25);
    assert_eq!(all.next_cursor, None);

    for garbage in ["%%%", "bm90IGpzb24", "e30", "", "eyJuIjoxfQ"] {
        let r = store
            .profiles(
                &cvr(A),
                &ProfileQuery {
                    cursor: Some(garbage.into()),
                    ..query(10)
                },
            )
            .await;
        assert!(
            matches!(&r, Err(DomainError::Malformed { field: Some(f), .. }) if f == "cursor"),
            "{garbage}: {r:?}"
        );
    }
}

#[tokio::test]
async fn search_is_case_insensitive_and_wildcards_are_literal() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let mut special = profile(A, "Ærø Havn 100% drift");
    special.contact_name = Some(DisplayName::parse("Søren Kierkegaard").unwrap());
    special.certificate_email = Some(CertEmail::parse("Drift@Aeroe.dk").unwrap());
    let mut serialed = profile(A, "Serial holder");
    serialed.latest = Some(LatestCertificate {
        serial: Serial::parse("7f3c9a").unwrap(),
        status: CertStatus::Pending,
        not_after: None,
    });
    let underscore = profile(A, "a_b");
    let plain = profile(A, "aXb");
    let backslash = profile(A, r"back\slash");
    let foreign = profile(B, "Ærø foreign");
    store
        .commit(
            [
                &special,
                &serialed,
                &underscore,
                &plain,
                &backslash,
                &foreign,
            ]
            .iter()
            .map(|p| put_profile(p, None))
            .collect(),
        )
        .await
        .unwrap();
    let q = |text: &str| ProfileQuery {
        q: Some(text.into()),
        ..query(50)
    };
    assert_eq!(names(&store, A, q("ærØ")).await, ["Ærø Havn 100% drift"]);
    assert_eq!(names(&store, A, q("SØREN")).await, ["Ærø Havn 100% drift"]);
    assert_eq!(
        names(&store, A, q("drift@aeroe")).await,
        ["Ærø Havn 100% drift"]
    );
    assert_eq!(names(&store, A, q("7F3C")).await, ["Serial holder"]);
    assert_eq!(
        names(&store, A, q(&special.id.to_string().to_uppercase())).await,
        ["Ærø Havn 100% drift"]
    );
    assert_eq!(names(&store, A, q("%")).await, ["Ærø Havn 100% drift"]);
    assert_eq!(names(&store, A, q("a_b")).await, ["a_b"]);
    assert_eq!(names(&store, A, q("_")).await, ["a_b"]);
    assert_eq!(names(&store, A, q(r"\")).await, [r"back\slash"]);
    assert!(names(&store, A, q("%%")).await.is_empty());
    // Contact email is searchable; every profile here has anna@.
    assert_eq!(names(&store, A, q("ANNA@")).await.len(), 5);
}

#[tokio::test]
async fn status_filter_derives_expiry_from_now() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let now = T0;
    let mk = |name: &str, status: Option<CertStatus>, not_after: Option<OffsetDateTime>| {
        let mut p = profile(A, name);
        p.latest = status.map(|status| LatestCertificate {
            serial: Serial::parse("01").unwrap(),
            status,
            not_after,
        });
        p
    };
    let profiles = [
        mk(
            "expired",
            Some(CertStatus::Issued),
            Some(now - time::Duration::seconds(1)),
        ),
        // Sub-second precision: expired half a second ago.
        mk(
            "expired by a hair",
            Some(CertStatus::Issued),
            Some(now - time::Duration::milliseconds(500)),
        ),
        mk(
            "issued",
            Some(CertStatus::Issued),
            Some(now + time::Duration::days(30)),
        ),
        mk("issued until now", Some(CertStatus::Issued), Some(now)),
        mk("pending", Some(CertStatus::Pending), None),
        mk(
            "revoked",
            Some(CertStatus::Revoked),
            Some(now - time::Duration::days(1)),
        ),
        mk("none", None, None),
    ];
    store
        .commit(profiles.iter().map(|p| put_profile(p, None)).collect())
        .await
        .unwrap();
    let by = |status| ProfileQuery {
        status: Some(status),
        ..query(50)
    };
    assert_eq!(
        names(&store, A, by(CertStatus::Expired)).await,
        ["expired", "expired by a hair"]
    );
    assert_eq!(
        names(&store, A, by(CertStatus::Issued)).await,
        ["issued", "issued until now"]
    );
    assert_eq!(names(&store, A, by(CertStatus::Pending)).await, ["pending"]);
    assert_eq!(names(&store, A, by(CertStatus::Revoked)).await, ["revoked"]);
    // The store's answer agrees with the model's effective status.
    for p in &profiles {
        let got = names(&store, A, by(p.status(now).unwrap_or(CertStatus::Pending))).await;
        assert_eq!(
            got.contains(&p.name.to_string()),
            p.latest.is_some(),
            "{}",
            p.name
        );
    }
    let mut org_cert = profile(A, "issued org");
    org_cert.kind = CertKind::Organisation;
    org_cert.latest = profiles[2].latest.clone();
    store
        .commit(vec![put_profile(&org_cert, None)])
        .await
        .unwrap();
    assert_eq!(
        names(
            &store,
            A,
            ProfileQuery {
                kind: Some(CertKind::Organisation),
                status: Some(CertStatus::Issued),
                ..query(50)
            }
        )
        .await,
        ["issued org"]
    );
}

#[tokio::test]
async fn other_organisations_see_nothing() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let p = profile(A, "Mine");
    let c = cert(&p, "6c01", T0);
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            Write::Audit(audit(A, "x")),
            Write::Notify(notification(A, "anna@example.dk", "s")),
            Write::Idempotency(idem(A, "k", &p, "6c01")),
        ])
        .await
        .unwrap();
    let b = cvr(B);
    assert_eq!(store.profile(&b, p.id).await.unwrap(), None);
    assert!(store
        .profiles(&b, &query(10))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store.certificates_of(&b, p.id).await.unwrap().is_empty());
    assert!(store.audit(&b, 10, None).await.unwrap().items.is_empty());
    let anna = Email::parse("anna@example.dk").unwrap();
    assert!(store.notifications(&b, &anna, 10).await.unwrap().is_empty());
    assert_eq!(store.idempotency(&b, "k").await.unwrap(), None);
    // Another organisation cannot overwrite the profile or certificate by id.
    let mut hijack = p.clone();
    hijack.org = b.clone();
    hijack.version = 2;
    assert!(is_stale(
        store.commit(vec![put_profile(&hijack, Some(1))]).await
    ));
    assert!(is_stale(
        store.commit(vec![put_profile(&hijack, None)]).await
    ));
    let mut c2 = c.clone();
    c2.org = b;
    c2.version = 2;
    assert!(is_stale(store.commit(vec![put_cert(&c2, Some(1))]).await));
    assert_eq!(store.profile(&cvr(A), p.id).await.unwrap(), Some(p));
}

#[tokio::test]
async fn idempotency_keys_are_unique_per_organisation() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let p = profile(A, "P");
    store.commit(vec![put_profile(&p, None)]).await.unwrap();
    let rec = idem(A, "order-1", &p, "7d01");
    store
        .commit(vec![Write::Idempotency(rec.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.idempotency(&cvr(A), "order-1").await.unwrap(),
        Some(rec)
    );
    // Same key again, even with a payload that would otherwise succeed: nothing written.
    let c = cert(&p, "7d02", T0);
    assert!(is_stale(
        store
            .commit(vec![
                put_cert(&c, None),
                Write::Idempotency(idem(A, "order-1", &p, "7d02")),
            ])
            .await
    ));
    assert_eq!(store.certificate_any_org(&c.serial).await.unwrap(), None);
    // The same key in another organisation is another key.
    store
        .commit(vec![Write::Idempotency(idem(B, "order-1", &p, "7d03"))])
        .await
        .unwrap();
}

#[tokio::test]
async fn secrets_by_hash_and_reference() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let p = profile(A, "P");
    let c = cert(&p, "8e01", T0);
    let link = secret(&c, &"11".repeat(32), None);
    let code = secret(&c, &"22".repeat(32), Some("4711001234"));
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            Write::PutSecret {
                secret: link.clone(),
                expected: None,
            },
            Write::PutSecret {
                secret: code.clone(),
                expected: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.secret(&link.hash).await.unwrap(), Some(link.clone()));
    assert_eq!(store.secret(&code.hash).await.unwrap(), Some(code.clone()));
    assert_eq!(
        store.secret_by_reference("4711001234").await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(store.secret_by_reference("0000000000").await.unwrap(), None);
    assert_eq!(store.secret(&"33".repeat(32)).await.unwrap(), None);
    // A wrong code bumps the counter with a version check.
    let mut failed = code.clone();
    failed.kind = SecretKind::OneTimeCode {
        reference: "4711001234".into(),
        failed_attempts: 1,
    };
    failed.version = 2;
    store
        .commit(vec![Write::PutSecret {
            secret: failed.clone(),
            expected: Some(1),
        }])
        .await
        .unwrap();
    assert!(is_stale(
        store
            .commit(vec![Write::PutSecret {
                secret: failed.clone(),
                expected: Some(1),
            }])
            .await
    ));
    assert_eq!(
        store.secret_by_reference("4711001234").await.unwrap(),
        Some(failed)
    );
    // A reference already taken by another secret is a conflict, not a crash.
    let clash = secret(&c, &"44".repeat(32), Some("4711001234"));
    assert!(is_stale(
        store
            .commit(vec![Write::PutSecret {
                secret: clash,
                expected: None,
            }])
            .await
    ));
}

#[tokio::test]
async fn audit_pages_newest_first_and_notifications_fold_case() {
    let (_d, store) = open();
    with_orgs(&store).await;
    store
        .commit(
            (0..5)
                .map(|i| Write::Audit(audit(A, &format!("a{i}"))))
                .collect(),
        )
        .await
        .unwrap();
    store
        .commit(vec![Write::Audit(audit(B, "b"))])
        .await
        .unwrap();
    let mut actions = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.audit(&cvr(A), 2, cursor.as_deref()).await.unwrap();
        actions.extend(page.items.into_iter().map(|e| e.action));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(actions, ["a4", "a3", "a2", "a1", "a0"]);
    for bad in ["!!", "LTE", "YWJj", ""] {
        assert!(
            matches!(
                store.audit(&cvr(A), 2, Some(bad)).await,
                Err(DomainError::Malformed { field: Some(ref f), .. }) if f == "cursor"
            ),
            "{bad}"
        );
    }

    store
        .commit(vec![
            Write::Notify(notification(A, "Anna@Example.dk", "first")),
            Write::Notify(notification(A, "anna@example.dk", "second")),
            Write::Notify(notification(A, "bo@example.dk", "other")),
        ])
        .await
        .unwrap();
    let anna = Email::parse("ANNA@example.DK").unwrap();
    let got: Vec<_> = store
        .notifications(&cvr(A), &anna, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.subject)
        .collect();
    assert_eq!(got, ["second", "first"]);
    assert_eq!(
        store.notifications(&cvr(A), &anna, 1).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn certificates_of_orders_by_time_then_serial() {
    let (_d, store) = open();
    with_orgs(&store).await;
    let p = profile(A, "P");
    let later = cert(&p, "01", T0 + time::Duration::milliseconds(1));
    let tie_b = cert(&p, "bb", T0);
    let tie_a = cert(&p, "aa", T0);
    let other = cert(&profile(A, "Q"), "cc", T0);
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&later, None),
            put_cert(&tie_b, None),
            put_cert(&tie_a, None),
        ])
        .await
        .unwrap();
    // A certificate of an unknown profile is refused (foreign key).
    assert!(store.commit(vec![put_cert(&other, None)]).await.is_err());
    let serials: Vec<_> = store
        .certificates_of(&cvr(A), p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.serial.to_string())
        .collect();
    assert_eq!(serials, ["aa", "bb", "01"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_file_race_cleanly() {
    // Two handles stand for the server and the CLI (`orgcert org add`) on one file.
    let (dir, server) = open();
    let cli = SqliteStore::open(&dir.path().join("db/orgcert.sqlite")).unwrap();
    let mut tasks = Vec::new();
    for (i, s) in [server.clone(), cli.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for n in 0..20 {
                let mut o = org(A);
                o.version = n + 1;
                let expected = (n > 0).then_some(n);
                let r = s
                    .commit(vec![
                        Write::PutOrganisation { org: o, expected },
                        Write::Audit(audit(A, &format!("h{i}-{n}"))),
                    ])
                    .await;
                results.push(r);
            }
            results
        }));
    }
    let mut ok = 0;
    for t in tasks {
        for r in t.await.unwrap() {
            match r {
                Ok(()) => ok += 1,
                Err(DomainError::StaleVersion(_)) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }
    let stored = server.organisation(&cvr(A)).await.unwrap().unwrap();
    // Each successful write moved the version by one, and each wrote one audit event.
    assert!(ok >= 1);
    assert_eq!(stored.version as usize, ok);
    assert_eq!(cli.audit(&cvr(A), 100, None).await.unwrap().items.len(), ok);
}

/// Audit rows written before the chain existed (no `seq`) stay a legacy prefix: the
/// first chained event after them is seq 1 from genesis, and verification counts them
/// without failing on them.
#[tokio::test]
async fn audit_rows_from_before_the_chain_are_a_legacy_prefix() {
    let (_dir, store) = open();
    with_orgs(&store).await;
    {
        let c = store.conn.lock().unwrap();
        for action in ["old.one", "old.two"] {
            // What the previous version wrote: the event without link fields.
            let doc = serde_json::to_string(&audit(A, action)).unwrap();
            assert!(!doc.contains("\"seq\""));
            c.execute(
                "INSERT INTO audit (org, at, doc) VALUES (?1, ?2, ?3)",
                params![A, ts(T0).unwrap(), doc],
            )
            .unwrap();
        }
    }
    for action in ["new.one", "new.two"] {
        store
            .commit(vec![Write::Audit(audit(A, action))])
            .await
            .unwrap();
    }
    let events = store.audit_export(&cvr(A)).await.unwrap();
    let seqs: Vec<Option<u64>> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [None, None, Some(1), Some(2)]);
    assert_eq!(events[2].prev_hash.as_deref(), Some(audit_chain::GENESIS));
    let v = audit_chain::verify(&events).unwrap();
    assert_eq!((v.legacy, v.head.seq), (2, 2));
}

fn synchronous(store: &SqliteStore) -> i64 {
    let c = store.conn.lock().unwrap();
    c.pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_lease_commit_is_conditional_and_leaves_every_other_commit_synchronous() {
    const FULL: i64 = 2;
    let (_dir, store) = open();
    with_orgs(&store).await;
    let p = profile(A, "Leased");
    assert_eq!(synchronous(&store), FULL, "open sets FULL");
    store
        .commit_lease(vec![put_profile(&p, None)])
        .await
        .unwrap();
    assert_eq!(synchronous(&store), FULL, "back to FULL after a lease");
    assert!(store.profile(&cvr(A), p.id).await.unwrap().is_some());
    // Conditional as `commit`: a stale version writes nothing, and FULL is back as well.
    let mut changed = p.clone();
    changed.version = 2;
    let r = store
        .commit_lease(vec![put_profile(&changed, Some(7))])
        .await;
    assert!(is_stale(r));
    assert_eq!(
        synchronous(&store),
        FULL,
        "back to FULL after a refused lease"
    );
    assert_eq!(
        store.profile(&cvr(A), p.id).await.unwrap().unwrap().version,
        1
    );
}
