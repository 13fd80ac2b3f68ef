//! Differential test: the same writes on SQLite and on DynamoDB-on-moto give the same
//! answers from the revocation, expiry, directory and housekeeping queries (which the
//! store conformance suite does not cover yet), and the same effects of `MarkRead`,
//! `DeleteSecret`, `PutCrlState` and `PutOcsp`.

use std::fmt::Debug;
use std::sync::Arc;

use orgcert_aws::DynamoStore;
use orgcert_core::ids::{CertEmail, Serial};
use orgcert_core::model::{CertStatus, Certificate, CrlState, OcspRecord, Page, RevocationReason};
use orgcert_core::ports::{DirectoryQuery, Store, Write};
use orgcert_core::DomainError;
use orgcert_local::SqliteStore;
use orgcert_tests::conformance::{
    code_secret, email, issued, link_secret, notification, organisation, pending, profile,
    random_cvr, reference_of, T0,
};
use time::{Duration, OffsetDateTime};

use crate::helpers::with_table;

struct Both {
    sqlite: Arc<dyn Store>,
    dynamo: Arc<dyn Store>,
}

impl Both {
    async fn commit(&self, writes: Vec<Write>) {
        let a = self.sqlite.commit(writes.clone()).await;
        let b = self.dynamo.commit(writes).await;
        assert_eq!(a, b, "commit answers differ");
        a.expect("commit");
    }

    async fn commit_err(&self, writes: Vec<Write>) -> (DomainError, DomainError) {
        let a = self.sqlite.commit(writes.clone()).await.unwrap_err();
        let b = self.dynamo.commit(writes).await.unwrap_err();
        (a, b)
    }
}

/// Every page of a paged query on one store.
async fn pages<F, Fut>(f: F) -> Vec<Certificate>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = orgcert_core::error::Result<Page<Certificate>>>,
{
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = f(cursor.take()).await.expect("page");
        assert!(page.items.len() <= 2, "page over the limit");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("cursor loop")
}

#[track_caller]
fn same<T: PartialEq + Debug>(what: &str, sqlite: T, dynamo: T) {
    assert_eq!(
        sqlite, dynamo,
        "{what}: SQLite (left) and DynamoDB (right) differ"
    );
}

fn revoke(c: &Certificate, at: OffsetDateTime) -> Certificate {
    let mut r = c.clone();
    r.status = CertStatus::Revoked;
    r.revoked_at = Some(at);
    r.revoked_by = Some("admin@eksempel.dk".into());
    r.revocation_reason = Some(RevocationReason::Superseded);
    r.version += 1;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_dynamodb_answer_alike() {
    let Some((_moto, c)) = with_table().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let both = Both {
        sqlite: Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap()),
        dynamo: Arc::new(DynamoStore::new(c.dynamodb.clone(), &c.cfg.table)),
    };
    let org = random_cvr();
    let other_org = random_cvr();
    both.commit(vec![
        Write::PutOrganisation {
            org: organisation(&org),
            expected: None,
        },
        Write::PutOrganisation {
            org: organisation(&other_org),
            expected: None,
        },
    ])
    .await;

    // Published profile with a certificate email; an unpublished one; another org's.
    let mut public = profile(&org, "Offentlig");
    public.publish = true;
    public.certificate_email = Some(CertEmail::parse("Drift@Eksempel.dk").unwrap());
    let hidden = profile(&org, "Skjult");
    let mut theirs = profile(&other_org, "Deres");
    theirs.publish = true;
    theirs.certificate_email = public.certificate_email.clone();
    let mut certs = Vec::new();
    // Issued at several times, so expiries cross month boundaries.
    for (p, days) in [
        (&public, 0),
        (&public, 40),
        (&public, 75),
        (&hidden, 10),
        (&theirs, 20),
    ] {
        let at = T0 + Duration::days(days);
        let c = issued(&pending(p, at), at);
        certs.push(c);
    }
    let pending_public = pending(&public, T0 + Duration::days(80));
    let mut writes = vec![
        Write::PutProfile {
            profile: public.clone(),
            expected: None,
        },
        Write::PutProfile {
            profile: hidden.clone(),
            expected: None,
        },
        Write::PutProfile {
            profile: theirs.clone(),
            expected: None,
        },
        Write::PutCertificate {
            cert: pending_public.clone(),
            expected: None,
        },
    ];
    writes.extend(certs.iter().map(|c| Write::PutCertificate {
        cert: c.clone(),
        expected: None,
    }));
    both.commit(writes).await;
    // Revoke one issued certificate: it leaves the expiry index, stays in the directory.
    let revoked = revoke(&certs[1], T0 + Duration::days(100));
    both.commit(vec![Write::PutCertificate {
        cert: revoked.clone(),
        expected: Some(certs[1].version),
    }])
    .await;

    let (s, d) = (&both.sqlite, &both.dynamo);
    same(
        "revoked",
        s.revoked_certificates().await.unwrap(),
        d.revoked_certificates().await.unwrap(),
    );
    for status in [CertStatus::Issued, CertStatus::Pending, CertStatus::Revoked] {
        same(
            &format!("by status {status:?}"),
            pages(|c| async move { s.certificates_by_status(status, 2, c.as_deref()).await }).await,
            pages(|c| async move { d.certificates_by_status(status, 2, c.as_deref()).await }).await,
        );
    }
    let windows = [
        (T0, T0 + Duration::days(2000)),
        (T0 + Duration::days(1094), T0 + Duration::days(1160)),
        // Exactly at a not_after: `after` is exclusive, `until` inclusive.
        (certs[0].not_after.unwrap(), certs[2].not_after.unwrap()),
        (T0, T0 + Duration::days(30)),
    ];
    for (after, until) in windows {
        let a = pages(|c| async move { s.expiring(after, until, 2, c.as_deref()).await }).await;
        let b = pages(|c| async move { d.expiring(after, until, 2, c.as_deref()).await }).await;
        same(&format!("expiring {after}..{until}"), a, b);
    }
    let expiring_all = pages(|c| async move {
        d.expiring(T0, T0 + Duration::days(2000), 2, c.as_deref())
            .await
    })
    .await;
    assert_eq!(expiring_all.len(), 4, "issued ones only: {expiring_all:?}");
    let bad = d.expiring(T0, T0 + Duration::days(1), 2, Some("e30")).await;
    assert!(matches!(bad, Err(DomainError::Malformed { .. })), "{bad:?}");

    let queries = [
        DirectoryQuery {
            cvr: Some(org.clone()),
            limit: 10,
            ..Default::default()
        },
        DirectoryQuery {
            email: Some("DRIFT@eksempel.dk".into()),
            limit: 10,
            ..Default::default()
        },
        DirectoryQuery {
            email: Some("drift@eksempel.dk".into()),
            cvr: Some(other_org.clone()),
            limit: 10,
            ..Default::default()
        },
        DirectoryQuery {
            profile_id: Some(public.id),
            limit: 2,
            ..Default::default()
        },
        DirectoryQuery {
            profile_id: Some(hidden.id),
            limit: 10,
            ..Default::default()
        },
        DirectoryQuery {
            serial: Some(certs[0].serial.clone()),
            limit: 10,
            ..Default::default()
        },
        DirectoryQuery {
            serial: Some(pending_public.serial.clone()),
            limit: 10,
            ..Default::default()
        },
        DirectoryQuery {
            serial: Some(certs[0].serial.clone()),
            cvr: Some(other_org.clone()),
            limit: 10,
            ..Default::default()
        },
    ];
    for q in &queries {
        same(
            &format!("directory {q:?}"),
            s.directory(q).await.unwrap(),
            d.directory(q).await.unwrap(),
        );
    }
    assert_eq!(d.directory(&queries[0]).await.unwrap().len(), 3);

    // Secrets: expiry housekeeping and deletion (which frees a one-time-code reference).
    let link = link_secret(&pending_public);
    let mut late = link_secret(&pending_public);
    late.expires_at = T0 + Duration::days(30);
    let code = code_secret(&pending_public);
    both.commit(vec![
        Write::PutSecret {
            secret: link.clone(),
            expected: None,
        },
        Write::PutSecret {
            secret: late.clone(),
            expected: None,
        },
        Write::PutSecret {
            secret: code.clone(),
            expected: None,
        },
    ])
    .await;
    // Equal expiries have no defined order: compare in (expires_at, hash) order.
    let sorted = |mut v: Vec<orgcert_core::model::IssuanceSecret>| {
        v.sort_by(|a, b| (a.expires_at, &a.hash).cmp(&(b.expires_at, &b.hash)));
        v
    };
    for before in [T0, T0 + Duration::days(15), T0 + Duration::days(31)] {
        same(
            &format!("expired secrets before {before}"),
            sorted(s.expired_secrets(before, 10).await.unwrap()),
            sorted(d.expired_secrets(before, 10).await.unwrap()),
        );
    }
    both.commit(vec![Write::DeleteSecret {
        hash: code.hash.clone(),
    }])
    .await;
    same(
        "deleted secret",
        s.secret(&code.hash).await.unwrap(),
        d.secret(&code.hash).await.unwrap(),
    );
    same(
        "deleted reference",
        s.secret_by_reference(reference_of(&code)).await.unwrap(),
        d.secret_by_reference(reference_of(&code)).await.unwrap(),
    );
    let mut reuse = code_secret(&pending_public);
    reuse.kind = code.kind.clone();
    both.commit(vec![Write::PutSecret {
        secret: reuse.clone(),
        expected: None,
    }])
    .await;
    same(
        "reused reference",
        s.secret_by_reference(reference_of(&code)).await.unwrap(),
        d.secret_by_reference(reference_of(&code)).await.unwrap(),
    );
    both.commit(vec![Write::DeleteSecret {
        hash: "no-such-secret".into(),
    }])
    .await;

    // CRL state: created once, advanced by version.
    let mut crl = CrlState {
        name: "full".into(),
        number: 1,
        this_update: T0,
        next_update: T0 + Duration::days(1),
        entries: 1,
        version: 1,
    };
    both.commit(vec![Write::PutCrlState {
        state: crl.clone(),
        expected: None,
    }])
    .await;
    let (a, b) = both
        .commit_err(vec![Write::PutCrlState {
            state: crl.clone(),
            expected: None,
        }])
        .await;
    assert!(
        matches!(
            (&a, &b),
            (DomainError::StaleVersion(_), DomainError::StaleVersion(_))
        ),
        "{a:?} {b:?}"
    );
    crl.number = 2;
    crl.version = 2;
    both.commit(vec![Write::PutCrlState {
        state: crl.clone(),
        expected: Some(1),
    }])
    .await;
    same(
        "crl state",
        s.crl_state("full").await.unwrap(),
        d.crl_state("full").await.unwrap(),
    );
    same(
        "no crl state",
        s.crl_state("p7").await.unwrap(),
        d.crl_state("p7").await.unwrap(),
    );

    // OCSP records are replaced whole, by newer ones only.
    let serial: Serial = certs[0].serial.clone();
    let ocsp = |n: u8| OcspRecord {
        serial: serial.clone(),
        status: CertStatus::Issued,
        sha1: vec![n; 40].into(),
        sha256: vec![n; 60].into(),
        this_update: T0 + Duration::minutes(i64::from(n)),
        next_update: T0 + Duration::days(i64::from(n)),
    };
    for n in 1..=2u8 {
        both.commit(vec![Write::PutOcsp(ocsp(n))]).await;
    }
    let (a, b) = both.commit_err(vec![Write::PutOcsp(ocsp(1))]).await;
    assert_eq!(a, b, "refused OCSP record");
    assert!(matches!(a, DomainError::StaleVersion(_)), "{a:?}");
    same(
        "ocsp",
        s.ocsp_record(&serial).await.unwrap(),
        d.ocsp_record(&serial).await.unwrap(),
    );
    assert_eq!(
        d.ocsp_record(&serial).await.unwrap().unwrap().sha1,
        vec![2; 40]
    );

    // Notifications: mark one read, then all.
    let anna = email("Anna@Eksempel.dk");
    let notes: Vec<_> = (0..3)
        .map(|i| {
            notification(
                &org,
                "anna@eksempel.dk",
                &format!("n{i}"),
                T0 + Duration::seconds(i),
            )
        })
        .collect();
    both.commit(notes.iter().cloned().map(Write::Notify).collect())
        .await;
    both.commit(vec![Write::MarkRead {
        org: org.clone(),
        recipient: anna.clone(),
        ids: vec![notes[1].id],
    }])
    .await;
    same(
        "one read",
        s.notifications(&org, &anna, 10).await.unwrap(),
        d.notifications(&org, &anna, 10).await.unwrap(),
    );
    both.commit(vec![Write::MarkRead {
        org: org.clone(),
        recipient: anna.clone(),
        ids: vec![],
    }])
    .await;
    let read = d.notifications(&org, &anna, 10).await.unwrap();
    assert!(read.iter().all(|n| n.read), "{read:?}");
    same(
        "all read",
        s.notifications(&org, &anna, 10).await.unwrap(),
        read,
    );
}
