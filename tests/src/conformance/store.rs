//! The [`Store`] contract (ports.rs) as one suite of panicking checks.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use orgcert_core::error::DomainError;
use orgcert_core::ids::{CertEmail, Cvr, DisplayName, Serial};
use orgcert_core::model::{
    CertKind, CertStatus, Certificate, OcspRecord, Profile, RevocationReason, SecretKind,
};
use orgcert_core::ports::{ProfileQuery, Store, Write};
use time::{Duration, OffsetDateTime};

use super::*;

/// Runs the whole [`Store`] contract against `store`; panics on the first breach.
///
/// Each part works in its own fresh organisations, so the suite may run on a store
/// that already holds data, and may run twice.
pub async fn store_conformance(store: Arc<dyn Store>) {
    let s = store.as_ref();
    organisations(s).await;
    lifecycle(s).await;
    batches_are_atomic(s).await;
    cursors(s).await;
    search(s).await;
    status_and_kind_filters(s).await;
    scoping(s).await;
    idempotency(s).await;
    secrets(s).await;
    audit_and_notifications(s).await;
    ocsp_records_only_move_forward(s).await;
    audit_chain_under_concurrency(&store).await;
}

#[track_caller]
fn assert_stale<T: Debug>(r: orgcert_core::error::Result<T>, what: &str) {
    assert!(
        matches!(r, Err(DomainError::StaleVersion(_))),
        "{what}: expected StaleVersion, got {r:?}"
    );
}

#[track_caller]
fn assert_bad_cursor<T: Debug>(r: orgcert_core::error::Result<T>, what: &str) {
    assert!(
        matches!(&r, Err(DomainError::Malformed { field: Some(f), .. }) if f == "cursor"),
        "{what}: expected Malformed{{cursor}}, got {r:?}"
    );
}

fn put_org(o: &Organisation, expected: Option<u64>) -> Write {
    Write::PutOrganisation {
        org: o.clone(),
        expected,
    }
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

fn put_secret(s: &IssuanceSecret, expected: Option<u64>) -> Write {
    Write::PutSecret {
        secret: s.clone(),
        expected,
    }
}

/// A fresh organisation, committed.
async fn new_org(store: &dyn Store) -> Cvr {
    let cvr = random_cvr();
    store
        .commit(vec![put_org(&organisation(&cvr), None)])
        .await
        .expect("create organisation");
    cvr
}

/// Commits profiles (no certificates) in one batch.
async fn put_profiles(store: &dyn Store, profiles: &[Profile]) {
    store
        .commit(profiles.iter().map(|p| put_profile(p, None)).collect())
        .await
        .expect("create profiles");
}

fn query(limit: u32) -> ProfileQuery {
    ProfileQuery {
        limit,
        now: Some(T0),
        ..Default::default()
    }
}

/// Names of the first page of `q` (which must fit one page).
async fn names(store: &dyn Store, org: &Cvr, q: ProfileQuery) -> Vec<String> {
    let page = store.profiles(org, &q).await.expect("profiles");
    assert_eq!(page.next_cursor, None, "{q:?} should fit one page");
    page.items.into_iter().map(|p| p.name.to_string()).collect()
}

/// Every page of `q`, following cursors; returns the items and the page count.
async fn all_pages(store: &dyn Store, org: &Cvr, q: ProfileQuery) -> (Vec<Profile>, usize) {
    let mut items = Vec::new();
    let mut cursor = None;
    for pages in 1.. {
        let page = store
            .profiles(
                org,
                &ProfileQuery {
                    cursor: cursor.take(),
                    ..q.clone()
                },
            )
            .await
            .expect("profile page");
        assert!(page.items.len() <= q.limit as usize, "page over the limit");
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (items, pages),
        }
        assert!(pages < 1000, "cursor loop");
    }
    unreachable!()
}

async fn organisations(store: &dyn Store) {
    let cvr = random_cvr();
    let v1 = organisation(&cvr);
    assert_eq!(store.organisation(&cvr).await.unwrap(), None);
    store.commit(vec![put_org(&v1, None)]).await.unwrap();
    assert_eq!(store.organisation(&cvr).await.unwrap(), Some(v1.clone()));
    assert_stale(
        store.commit(vec![put_org(&v1, None)]).await,
        "creating an existing organisation",
    );

    let mut v2 = v1.clone();
    v2.settings.local_idp_enabled = true;
    v2.version = 2;
    store.commit(vec![put_org(&v2, Some(1))]).await.unwrap();
    assert_stale(
        store.commit(vec![put_org(&v2, Some(1))]).await,
        "updating an organisation with an old version",
    );
    let ghost = organisation(&random_cvr());
    assert_stale(
        store.commit(vec![put_org(&ghost, Some(1))]).await,
        "updating a missing organisation",
    );
    assert_eq!(store.organisation(&cvr).await.unwrap(), Some(v2.clone()));
    let all = store.organisations().await.unwrap();
    assert!(
        all.contains(&v2),
        "organisations() lists the new organisation"
    );
    assert!(!all.iter().any(|o| o.cvr == ghost.cvr));
    // An empty batch is a no-op.
    store.commit(vec![]).await.unwrap();
}

/// Order → issue → renew → delete the renewal → revoke, each as the use cases batch it.
async fn lifecycle(store: &dyn Store) {
    let org = new_org(store).await;
    let p0 = profile(&org, "Lønsystem produktion");

    // Order: profile, pending certificate, secret, notification, audit in one batch.
    let mut first = pending(&p0, T0);
    let secret = link_secret(&first);
    first.secret_hash = Some(secret.hash.clone());
    let mut p1 = p0.clone();
    p1.latest = Some(latest(&first));
    store
        .commit(vec![
            put_profile(&p1, None),
            put_cert(&first, None),
            put_secret(&secret, None),
            Write::Notify(notification(
                &org,
                "it-drift@eksempel.dk",
                "Download a system certificate",
                T0,
            )),
            Write::Audit(audit_event(
                &org,
                "certificate.order",
                first.serial.as_str(),
                T0,
            )),
        ])
        .await
        .expect("order");
    assert_eq!(store.profile(&org, p1.id).await.unwrap(), Some(p1.clone()));
    assert_eq!(
        store.certificate_any_org(&first.serial).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.secret(&secret.hash).await.unwrap(),
        Some(secret.clone())
    );
    assert_eq!(
        store.certificates_of(&org, p1.id).await.unwrap(),
        vec![first.clone()]
    );

    // Issue: certificate and secret move on one version, the profile follows.
    let t1 = T0 + Duration::hours(1);
    let got = issued(&first, t1);
    let mut used = secret.clone();
    used.used_at = Some(t1);
    used.version = 2;
    let p2 = summarised(&p1, &got);
    store
        .commit(vec![
            put_cert(&got, Some(1)),
            put_secret(&used, Some(1)),
            put_profile(&p2, Some(1)),
            Write::Audit(audit_event(
                &org,
                "certificate.issue",
                got.serial.as_str(),
                t1,
            )),
        ])
        .await
        .expect("issue");
    assert_eq!(
        store.certificate_any_org(&got.serial).await.unwrap(),
        Some(got.clone())
    );
    assert_eq!(
        store.secret(&secret.hash).await.unwrap(),
        Some(used.clone())
    );
    assert_eq!(store.profile(&org, p2.id).await.unwrap(), Some(p2.clone()));
    // A second issue racing the first: stale, and the secret stays used once.
    assert_stale(
        store
            .commit(vec![put_cert(&got, Some(1)), put_secret(&used, Some(1))])
            .await,
        "issuing twice",
    );

    // Renew: a new pending certificate; the profile summarises the newest.
    let t2 = T0 + Duration::days(1000);
    let mut renewal = pending(&p2, t2);
    renewal.renewal_of = Some(got.serial.clone());
    let p3 = summarised(&p2, &renewal);
    store
        .commit(vec![put_cert(&renewal, None), put_profile(&p3, Some(2))])
        .await
        .expect("renew");
    assert_eq!(
        store.certificates_of(&org, p3.id).await.unwrap(),
        vec![got.clone(), renewal.clone()],
        "certificates_of is oldest order first"
    );

    // Delete the pending renewal: wrong version is stale, right version removes it.
    let p4 = summarised(&p3, &got);
    assert_stale(
        store
            .commit(vec![
                Write::DeleteCertificate {
                    serial: renewal.serial.clone(),
                    expected: 2,
                },
                put_profile(&p4, Some(3)),
            ])
            .await,
        "deleting with a wrong version",
    );
    assert_eq!(store.profile(&org, p3.id).await.unwrap(), Some(p3.clone()));
    store
        .commit(vec![
            Write::DeleteCertificate {
                serial: renewal.serial.clone(),
                expected: 1,
            },
            put_profile(&p4, Some(3)),
        ])
        .await
        .expect("delete pending");
    assert_eq!(
        store.certificate_any_org(&renewal.serial).await.unwrap(),
        None
    );
    assert_eq!(
        store.certificates_of(&org, p4.id).await.unwrap(),
        vec![got.clone()]
    );
    assert_stale(
        store
            .commit(vec![Write::DeleteCertificate {
                serial: renewal.serial.clone(),
                expected: 1,
            }])
            .await,
        "deleting a deleted certificate",
    );

    // Revoke.
    let t3 = T0 + Duration::days(1001);
    let mut revoked = got.clone();
    revoked.status = CertStatus::Revoked;
    revoked.revoked_at = Some(t3);
    revoked.revoked_by = Some("admin@eksempel.dk".into());
    revoked.revocation_reason = Some(RevocationReason::KeyCompromise);
    revoked.version = 3;
    let p5 = summarised(&p4, &revoked);
    store
        .commit(vec![put_cert(&revoked, Some(2)), put_profile(&p5, Some(4))])
        .await
        .expect("revoke");
    assert_eq!(
        store.certificate_any_org(&got.serial).await.unwrap(),
        Some(revoked.clone())
    );
    assert_stale(
        store.commit(vec![put_cert(&revoked, Some(2))]).await,
        "revoking with an old version",
    );

    // Equal order times fall back to serial order.
    let pq = profile(&org, "Tie break");
    let mut a = pending(&pq, T0);
    let mut b = pending(&pq, T0);
    // Same random prefix, so only the last octet decides. A fresh prefix: one taken
    // from a stored serial collides with it when that serial ends in 01 or 02.
    let prefix = pending(&pq, T0).serial.as_str()[..30].to_owned();
    a.serial = Serial::parse(&format!("{prefix}01")).unwrap();
    b.serial = Serial::parse(&format!("{prefix}02")).unwrap();
    let later = pending(&pq, T0 + Duration::seconds(1));
    store
        .commit(vec![
            put_profile(&pq, None),
            put_cert(&later, None),
            put_cert(&b, None),
            put_cert(&a, None),
        ])
        .await
        .unwrap();
    let order: Vec<Serial> = store
        .certificates_of(&org, pq.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.serial)
        .collect();
    assert_eq!(order, vec![a.serial, b.serial, later.serial]);
}

/// A batch with one stale write writes nothing, wherever the stale write stands.
async fn batches_are_atomic(store: &dyn Store) {
    let org = new_org(store).await;
    let contact = email("it-drift@eksempel.dk");
    let mut org_v2 = organisation(&org);
    org_v2.version = 2;
    for stale_first in [true, false] {
        let p = profile(&org, "Atomic");
        let c = pending(&p, T0);
        let s = link_secret(&c);
        let key = format!("atomic-{stale_first}");
        let stale = put_org(&org_v2, Some(7));
        let mut writes = vec![
            put_profile(&p, None),
            put_cert(&c, None),
            put_secret(&s, None),
            Write::Audit(audit_event(&org, "profile.create", &p.id.to_string(), T0)),
            Write::Notify(notification(&org, contact.as_str(), "Atomic", T0)),
            Write::Idempotency(idempotency_record(&org, &key, &p, &c.serial)),
        ];
        if stale_first {
            writes.insert(0, stale);
        } else {
            writes.push(stale);
        }
        assert_stale(store.commit(writes).await, "batch with a stale write");
        assert_eq!(store.profile(&org, p.id).await.unwrap(), None);
        assert_eq!(store.certificate_any_org(&c.serial).await.unwrap(), None);
        assert_eq!(store.secret(&s.hash).await.unwrap(), None);
        assert_eq!(store.idempotency(&org, &key).await.unwrap(), None);
        assert!(store.audit(&org, 10, None).await.unwrap().items.is_empty());
        assert!(store
            .notifications(&org, &contact, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.organisation(&org).await.unwrap().map(|o| o.version),
            Some(1)
        );
    }

    // A stale delete inside a batch also voids the batch.
    let p = profile(&org, "Atomic delete");
    let c = pending(&p, T0);
    store
        .commit(vec![put_profile(&p, None), put_cert(&c, None)])
        .await
        .unwrap();
    let p2 = summarised(&p, &c);
    assert_stale(
        store
            .commit(vec![
                put_profile(&p2, Some(1)),
                Write::DeleteCertificate {
                    serial: secrets::new_serial(),
                    expected: 1,
                },
            ])
            .await,
        "batch deleting a missing certificate",
    );
    assert_eq!(store.profile(&org, p.id).await.unwrap(), Some(p));
}

async fn cursors(store: &dyn Store) {
    let org = new_org(store).await;
    // Mixed case and repeated names: the order is (lower-cased name, id).
    let profiles: Vec<Profile> = (0..25)
        .map(|i| {
            let n = i / 2;
            let name = match i % 3 {
                0 => format!("Server {n:02}"),
                1 => format!("server {n:02}"),
                _ => format!("SERVER {n:02}"),
            };
            profile(&org, &name)
        })
        .collect();
    put_profiles(store, &profiles).await;
    let mut expected: Vec<(String, uuid::Uuid)> = profiles
        .iter()
        .map(|p| (p.name.as_str().to_lowercase(), p.id))
        .collect();
    expected.sort();

    let (items, pages) = all_pages(store, &org, query(10)).await;
    assert_eq!(pages, 3, "25 profiles in pages of 10");
    let seen: Vec<(String, uuid::Uuid)> = items
        .iter()
        .map(|p| (p.name.as_str().to_lowercase(), p.id))
        .collect();
    assert_eq!(seen, expected, "every profile once, in order");
    let ids: HashSet<_> = items.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 25);

    // A page that ends exactly at the last profile has no next cursor.
    let page = store.profiles(&org, &query(25)).await.unwrap();
    assert_eq!(page.items.len(), 25);
    assert_eq!(page.next_cursor, None);
    let page = store.profiles(&org, &query(24)).await.unwrap();
    assert!(page.next_cursor.is_some());

    // Cursors combine with filters.
    let filtered = ProfileQuery {
        q: Some("server 0".into()),
        ..query(4)
    };
    let (items, pages) = all_pages(store, &org, filtered).await;
    assert_eq!(items.len(), 20, "server 00..09, two each");
    assert_eq!(pages, 5);

    for garbage in ["not a cursor!", "%%", "AAAA", "e30", "bnVsbA"] {
        assert_bad_cursor(
            store
                .profiles(
                    &org,
                    &ProfileQuery {
                        cursor: Some(garbage.into()),
                        ..query(10)
                    },
                )
                .await,
            garbage,
        );
    }
}

async fn search(store: &dyn Store) {
    let org = new_org(store).await;
    let mut aero = profile(&org, "Ærø Havn 100% drift");
    aero.contact_name = Some(DisplayName::parse("Søren Kierkegaard").unwrap());
    aero.certificate_email = Some(CertEmail::parse("Drift@Aeroe-Havn.dk").unwrap());
    aero.contact_email = email("havnefoged@aeroe-havn.dk");
    let with_serial = {
        let mut p = profile(&org, "Kasse");
        let c = pending(&p, T0);
        p.latest = Some(latest(&c));
        p
    };
    let underscore = profile(&org, "web_api");
    let lookalike = profile(&org, "webXapi");
    let backslash = profile(&org, r"DOMAIN\service");
    put_profiles(
        store,
        &[
            aero.clone(),
            with_serial.clone(),
            underscore,
            lookalike,
            backslash,
        ],
    )
    .await;
    // Another organisation's matching profile never shows.
    let other = new_org(store).await;
    put_profiles(store, &[profile(&other, "Ærø Havn andet")]).await;

    let q = |text: &str| ProfileQuery {
        q: Some(text.into()),
        ..query(50)
    };
    let aero_name = ["Ærø Havn 100% drift"];
    assert_eq!(names(store, &org, q("ærø havn")).await, aero_name, "name");
    assert_eq!(
        names(store, &org, q("ÆRØ")).await,
        aero_name,
        "upper-case name"
    );
    assert_eq!(
        names(store, &org, q("HAVNEFOGED@")).await,
        aero_name,
        "contact email"
    );
    assert_eq!(
        names(store, &org, q("drift@aeroe")).await,
        aero_name,
        "certificate email"
    );
    assert_eq!(
        names(store, &org, q("kierkegaard")).await,
        aero_name,
        "contact name"
    );
    let id = aero.id.to_string().to_uppercase();
    assert_eq!(names(store, &org, q(&id)).await, aero_name, "profile id");
    let serial = with_serial.latest.as_ref().unwrap().serial.as_str()[..12].to_uppercase();
    assert_eq!(
        names(store, &org, q(&serial)).await,
        ["Kasse"],
        "latest serial"
    );
    // LIKE wildcards are literal.
    assert_eq!(names(store, &org, q("%")).await, aero_name, "%");
    assert_eq!(names(store, &org, q("0%")).await, aero_name, "0%");
    assert_eq!(names(store, &org, q("_")).await, ["web_api"], "_");
    assert_eq!(names(store, &org, q("b_a")).await, ["web_api"], "b_a");
    assert_eq!(
        names(store, &org, q(r"\")).await,
        [r"DOMAIN\service"],
        "backslash"
    );
    assert_eq!(
        names(store, &org, q(r"n\s")).await,
        [r"DOMAIN\service"],
        r"n\s"
    );
    assert!(names(store, &org, q("%%")).await.is_empty(), "%%");
    assert!(names(store, &org, q("nothing like it")).await.is_empty());
    // The contact email all fixtures share (but aero) finds the other four.
    assert_eq!(names(store, &org, q("it-drift@")).await.len(), 4);
}

async fn status_and_kind_filters(store: &dyn Store) {
    let org = new_org(store).await;
    let now = T0 + Duration::days(400);
    let mk = |name: &str, status: Option<CertStatus>, not_after: Option<OffsetDateTime>| {
        let mut p = profile(&org, name);
        p.latest = status.map(|status| orgcert_core::model::LatestCertificate {
            serial: secrets::new_serial(),
            status,
            not_after,
        });
        p
    };
    let mut org_issued = mk(
        "f organisation issued",
        Some(CertStatus::Issued),
        Some(now + Duration::days(10)),
    );
    org_issued.kind = CertKind::Organisation;
    let profiles = vec![
        mk(
            "a expired",
            Some(CertStatus::Issued),
            Some(now - Duration::seconds(1)),
        ),
        mk(
            "b issued",
            Some(CertStatus::Issued),
            Some(now + Duration::seconds(1)),
        ),
        // not_after is the last valid instant (RFC 5280 §4.1.2.5): still issued at it.
        mk("c issued until now", Some(CertStatus::Issued), Some(now)),
        mk("d pending", Some(CertStatus::Pending), None),
        mk(
            "e revoked",
            Some(CertStatus::Revoked),
            Some(now - Duration::days(1)),
        ),
        org_issued,
        mk("g no certificate", None, None),
    ];
    put_profiles(store, &profiles).await;
    let by = |status: CertStatus| ProfileQuery {
        status: Some(status),
        now: Some(now),
        ..query(50)
    };
    assert_eq!(
        names(store, &org, by(CertStatus::Expired)).await,
        ["a expired"]
    );
    assert_eq!(
        names(store, &org, by(CertStatus::Issued)).await,
        ["b issued", "c issued until now", "f organisation issued"]
    );
    assert_eq!(
        names(store, &org, by(CertStatus::Pending)).await,
        ["d pending"]
    );
    assert_eq!(
        names(store, &org, by(CertStatus::Revoked)).await,
        ["e revoked"]
    );
    // The filter agrees with the model's effective status for every profile.
    for p in &profiles {
        if let Some(status) = p.status(now) {
            let got = names(store, &org, by(status)).await;
            assert!(
                got.contains(&p.name.to_string()),
                "{} as {status:?}",
                p.name
            );
        }
    }
    // Time moves the boundary: a day later "b" and "c" are expired too.
    let later = ProfileQuery {
        now: Some(now + Duration::days(1)),
        ..by(CertStatus::Expired)
    };
    assert_eq!(
        names(store, &org, later).await,
        ["a expired", "b issued", "c issued until now"]
    );
    let kind = |k: CertKind| ProfileQuery {
        kind: Some(k),
        now: Some(now),
        ..query(50)
    };
    assert_eq!(
        names(store, &org, kind(CertKind::Organisation)).await,
        ["f organisation issued"]
    );
    assert_eq!(names(store, &org, kind(CertKind::System)).await.len(), 6);
    let both = ProfileQuery {
        kind: Some(CertKind::System),
        status: Some(CertStatus::Issued),
        q: Some("until".into()),
        now: Some(now),
        ..query(50)
    };
    assert_eq!(names(store, &org, both).await, ["c issued until now"]);
}

/// Every read is scoped by organisation; another organisation's ids read as absent
/// and cannot be overwritten.
async fn scoping(store: &dyn Store) {
    let mine = new_org(store).await;
    let theirs = new_org(store).await;
    let contact = "it-drift@eksempel.dk";
    let mut p = profile(&mine, "Scoped");
    let c = pending(&p, T0);
    p.latest = Some(latest(&c));
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            Write::Audit(audit_event(&mine, "profile.create", &p.id.to_string(), T0)),
            Write::Notify(notification(&mine, contact, "Scoped", T0)),
            Write::Idempotency(idempotency_record(&mine, "scoped-key", &p, &c.serial)),
        ])
        .await
        .unwrap();

    assert_eq!(store.profile(&theirs, p.id).await.unwrap(), None);
    assert!(store
        .profiles(&theirs, &query(50))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .certificates_of(&theirs, p.id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .audit(&theirs, 50, None)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .notifications(&theirs, &email(contact), 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.idempotency(&theirs, "scoped-key").await.unwrap(),
        None
    );
    // The scoped read finds a certificate in its own organisation only; the
    // organisation-blind one (OCSP, directory, mutual TLS) finds it anywhere.
    assert_eq!(
        store.certificate_in(&theirs, &c.serial).await.unwrap(),
        None,
        "certificate_in(another organisation, serial)"
    );
    assert_eq!(
        store.certificate_in(&mine, &c.serial).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        store
            .certificate_any_org(&c.serial)
            .await
            .unwrap()
            .map(|c| c.org),
        Some(mine.clone())
    );

    // Writing another organisation's profile or certificate id is refused.
    let mut hijack = p.clone();
    hijack.org = theirs.clone();
    hijack.version = 2;
    assert_stale(
        store.commit(vec![put_profile(&hijack, Some(1))]).await,
        "updating a foreign profile",
    );
    hijack.version = 1;
    assert_stale(
        store.commit(vec![put_profile(&hijack, None)]).await,
        "creating over a foreign profile",
    );
    let mut foreign_cert = c.clone();
    foreign_cert.org = theirs.clone();
    foreign_cert.version = 2;
    assert_stale(
        store.commit(vec![put_cert(&foreign_cert, Some(1))]).await,
        "updating a foreign certificate",
    );
    assert_eq!(store.profile(&mine, p.id).await.unwrap(), Some(p));
    assert_eq!(store.certificate_any_org(&c.serial).await.unwrap(), Some(c));
}

async fn idempotency(store: &dyn Store) {
    let org = new_org(store).await;
    let p = profile(&org, "Idempotent");
    let c = pending(&p, T0);
    let rec = idempotency_record(&org, "order-2025-03-01-1", &p, &c.serial);
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            Write::Idempotency(rec.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.idempotency(&org, "order-2025-03-01-1").await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(
        store.idempotency(&org, "order-2025-03-01-2").await.unwrap(),
        None
    );

    // The same key again: the whole second order is refused.
    let c2 = pending(&p, T0 + Duration::seconds(5));
    let mut again = idempotency_record(&org, "order-2025-03-01-1", &p, &c2.serial);
    again.request_hash = "another request".into();
    assert_stale(
        store
            .commit(vec![put_cert(&c2, None), Write::Idempotency(again)])
            .await,
        "reusing an idempotency key",
    );
    assert_eq!(store.certificate_any_org(&c2.serial).await.unwrap(), None);
    assert_eq!(
        store.idempotency(&org, "order-2025-03-01-1").await.unwrap(),
        Some(rec),
        "the first record stands"
    );

    // Keys are per organisation.
    let other = new_org(store).await;
    let q = profile(&other, "Other");
    let theirs = idempotency_record(&other, "order-2025-03-01-1", &q, &c2.serial);
    store
        .commit(vec![Write::Idempotency(theirs.clone())])
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency(&other, "order-2025-03-01-1")
            .await
            .unwrap(),
        Some(theirs)
    );
}

async fn secrets(store: &dyn Store) {
    let org = new_org(store).await;
    let p = profile(&org, "Secrets");
    let c = pending(&p, T0);
    let link = link_secret(&c);
    let code = code_secret(&c);
    store
        .commit(vec![
            put_profile(&p, None),
            put_cert(&c, None),
            put_secret(&link, None),
            put_secret(&code, None),
        ])
        .await
        .unwrap();
    assert_eq!(store.secret(&link.hash).await.unwrap(), Some(link.clone()));
    assert_eq!(store.secret(&code.hash).await.unwrap(), Some(code.clone()));
    assert_eq!(
        store
            .secret_by_reference(reference_of(&code))
            .await
            .unwrap(),
        Some(code.clone())
    );
    assert_eq!(
        store
            .secret(&secrets::hash_secret(&secrets::new_token()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .secret_by_reference(&format!("x{}", secrets::new_reference()))
            .await
            .unwrap(),
        None
    );
    assert_stale(
        store.commit(vec![put_secret(&link, None)]).await,
        "creating an existing secret",
    );

    // A wrong code counts an attempt under a version check.
    let mut failed = code.clone();
    failed.kind = SecretKind::OneTimeCode {
        reference: reference_of(&code).to_owned(),
        failed_attempts: 1,
    };
    failed.version = 2;
    store
        .commit(vec![put_secret(&failed, Some(1))])
        .await
        .unwrap();
    assert_stale(
        store.commit(vec![put_secret(&failed, Some(1))]).await,
        "counting a wrong code twice",
    );
    assert_eq!(
        store
            .secret_by_reference(reference_of(&code))
            .await
            .unwrap(),
        Some(failed)
    );

    // A reference finds one secret: a second secret with a taken reference is refused.
    let mut clash = code_secret(&c);
    clash.kind = code.kind.clone();
    assert_stale(
        store.commit(vec![put_secret(&clash, None)]).await,
        "reusing a reference number",
    );
    assert_eq!(store.secret(&clash.hash).await.unwrap(), None);
}

/// The store links every appended audit event into its organisation's chain
/// (API.md "Audit chain and events"): concurrent commits in one organisation leave
/// seq 1..=N without gaps or duplicates, each `prev_hash` the previous `hash`; a batch
/// with two events links both; a failed batch links none; another organisation's
/// chain is its own.
async fn audit_chain_under_concurrency(store: &Arc<dyn Store>) {
    use orgcert_core::audit_chain;
    const N: usize = 16;
    let org = new_org(store.as_ref()).await;
    let other = new_org(store.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..N {
        let store = Arc::clone(store);
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            let mut e = audit_event(&org, &format!("parallel.{i}"), "t", T0);
            // Whatever a caller puts in the link fields, the store decides them.
            e.seq = Some(999);
            e.hash = Some("forged".into());
            store.commit(vec![Write::Audit(e)]).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("a concurrent audit commit");
    }
    store
        .commit(vec![
            Write::Audit(audit_event(&org, "pair.first", "t", T0)),
            Write::Audit(audit_event(&org, "pair.second", "t", T0)),
        ])
        .await
        .expect("two events in one batch");
    // A batch refused for a stale version appends nothing to the chain.
    assert_stale(
        store
            .commit(vec![
                put_org(&organisation(&org), None),
                Write::Audit(audit_event(&org, "refused", "t", T0)),
            ])
            .await,
        "a refused batch with an audit event",
    );
    store
        .commit(vec![Write::Audit(audit_event(
            &other,
            "elsewhere",
            "t",
            T0,
        ))])
        .await
        .unwrap();

    let events = store.audit_export(&org).await.unwrap();
    let seqs: Vec<Option<u64>> = events.iter().map(|e| e.seq).collect();
    let want: Vec<Option<u64>> = (1..=N as u64 + 2).map(Some).collect();
    assert_eq!(seqs, want, "seq 1..=N+2 in export order");
    let actions: HashSet<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.len(), N + 2, "every event once: {actions:?}");
    assert!(!actions.contains("refused"));
    let pair: Vec<&str> = events[N..].iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        pair,
        ["pair.first", "pair.second"],
        "a batch keeps its order"
    );
    let verified = audit_chain::verify(&events).expect("an unbroken chain");
    assert_eq!(verified.head.seq, N as u64 + 2);
    assert_eq!(verified.head.hash, events[N + 1].hash.clone().unwrap());
    // The listing shows the same linked events, newest first.
    let page = store.audit(&org, 3, None).await.unwrap();
    assert!(page.items.iter().all(|e| e.hash.is_some()));

    let theirs = store.audit_export(&other).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].seq, Some(1));
    assert_eq!(
        theirs[0].prev_hash.as_deref(),
        Some(audit_chain::GENESIS),
        "each organisation has a chain of its own"
    );
    audit_chain::verify(&theirs).expect("the other chain");
}

async fn audit_and_notifications(store: &dyn Store) {
    let org = new_org(store).await;
    // Distinct, increasing times: "newest first" means the same by time and by arrival.
    for i in 0..5 {
        store
            .commit(vec![Write::Audit(audit_event(
                &org,
                &format!("event.{i}"),
                "t",
                T0 + Duration::seconds(i),
            ))])
            .await
            .unwrap();
    }
    let mut actions = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.audit(&org, 2, cursor.as_deref()).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        actions.extend(page.items.into_iter().map(|e| e.action));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        actions,
        ["event.4", "event.3", "event.2", "event.1", "event.0"]
    );
    assert_eq!(pages, 3);
    let one = store.audit(&org, 5, None).await.unwrap();
    assert_eq!(one.items.len(), 5);
    assert_eq!(one.next_cursor, None);
    for garbage in ["not a cursor!", "%%", "e30"] {
        assert_bad_cursor(store.audit(&org, 2, Some(garbage)).await, garbage);
    }

    for (i, (to, subject)) in [
        ("Anna.Holm@Eksempel.dk", "first"),
        ("bo@eksempel.dk", "for bo"),
        ("anna.holm@eksempel.dk", "second"),
        ("ANNA.HOLM@EKSEMPEL.DK", "third"),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .commit(vec![Write::Notify(notification(
                &org,
                to,
                subject,
                T0 + Duration::seconds(i as i64),
            ))])
            .await
            .unwrap();
    }
    let anna = email("anna.holm@EKSEMPEL.dk");
    let subjects: Vec<String> = store
        .notifications(&org, &anna, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.subject)
        .collect();
    assert_eq!(subjects, ["third", "second", "first"]);
    let two = store.notifications(&org, &anna, 2).await.unwrap();
    assert_eq!(
        two.iter().map(|n| n.subject.as_str()).collect::<Vec<_>>(),
        ["third", "second"]
    );
    assert!(store
        .notifications(&org, &email("nobody@eksempel.dk"), 10)
        .await
        .unwrap()
        .is_empty());
}

/// `PutOcsp` (DESIGN §5a): a record is replaced only by a newer thisUpdate, "revoked"
/// replaces any record that is not revoked, and nothing replaces "revoked" but a newer
/// revoked record. A refused write is `StaleVersion` and leaves the stored record as it was.
async fn ocsp_records_only_move_forward(store: &dyn Store) {
    let org = random_cvr();
    let serial = pending(&profile(&org, "OCSP"), T0).serial;
    let rec = |status: CertStatus, at: OffsetDateTime, tag: u8| OcspRecord {
        serial: serial.clone(),
        status,
        sha1: vec![tag].into(),
        sha256: vec![tag, tag].into(),
        this_update: at,
        next_update: at + Duration::days(3),
    };
    let put = |r: OcspRecord| store.commit(vec![Write::PutOcsp(r)]);
    let stored_tag = || async { store.ocsp_record(&serial).await.unwrap().map(|r| r.sha1[0]) };
    assert_eq!(stored_tag().await, None);
    put(rec(CertStatus::Issued, T0, 1)).await.unwrap();
    assert_eq!(stored_tag().await, Some(1));
    assert_stale(
        put(rec(CertStatus::Issued, T0 - Duration::minutes(1), 2)).await,
        "older good",
    );
    assert_stale(put(rec(CertStatus::Issued, T0, 3)).await, "same thisUpdate");
    // Sub-second steps count (serde writes a varying number of fraction digits).
    put(rec(CertStatus::Issued, T0 + Duration::milliseconds(250), 4))
        .await
        .unwrap();
    assert_eq!(stored_tag().await, Some(4));
    assert_stale(
        put(rec(CertStatus::Issued, T0 + Duration::milliseconds(100), 5)).await,
        "older by a fraction of a second",
    );
    put(rec(CertStatus::Issued, T0 + Duration::hours(1), 6))
        .await
        .unwrap();
    // A revocation wins even with an older thisUpdate (a sweep that signed later).
    put(rec(CertStatus::Revoked, T0 + Duration::minutes(30), 7))
        .await
        .unwrap();
    assert_eq!(stored_tag().await, Some(7));
    assert_stale(
        put(rec(CertStatus::Issued, T0 + Duration::hours(2), 8)).await,
        "good after revoked",
    );
    assert_stale(
        put(rec(CertStatus::Revoked, T0 + Duration::minutes(10), 9)).await,
        "older revoked",
    );
    assert_eq!(stored_tag().await, Some(7), "refused writes change nothing");
    put(rec(CertStatus::Revoked, T0 + Duration::hours(3), 10))
        .await
        .unwrap();
    let got = store.ocsp_record(&serial).await.unwrap().unwrap();
    assert_eq!((got.status, got.sha1[0]), (CertStatus::Revoked, 10));
    // Atomic with the rest of a batch: a refused record fails the batch.
    let other = random_cvr();
    let r = store
        .commit(vec![
            put_org(&organisation(&other), None),
            Write::PutOcsp(rec(CertStatus::Issued, T0 + Duration::hours(4), 11)),
        ])
        .await;
    assert_stale(r, "batch with a refused OCSP record");
    assert!(store.organisation(&other).await.unwrap().is_none());
}
