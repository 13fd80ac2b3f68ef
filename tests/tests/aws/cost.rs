//! Cost figures, not assertions: DynamoDB items read per list and per search call with
//! 1,000 profiles in one organisation. Run by tests/aws/run:
//! `cargo test -p orgcert-tests --test aws -- --ignored --nocapture items_read`.

use std::sync::Arc;

use orgcert_aws::DynamoStore;
use orgcert_core::model::{CertKind, CertStatus};
use orgcert_core::ports::{ProfileQuery, Store, Write};
use orgcert_tests::conformance::{latest, pending, profile, stored_organisation, T0};

use crate::helpers::with_table;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints cost figures; run with --ignored --nocapture"]
async fn items_read_at_1000_profiles() {
    let Some((_moto, c)) = with_table().await else {
        return;
    };
    let store = Arc::new(DynamoStore::new(c.dynamodb.clone(), &c.cfg.table));
    let org = stored_organisation(store.as_ref()).await;
    // 1,000 profiles: every other one with an issued certificate, every tenth an
    // organisation certificate, one named uniquely.
    let profiles: Vec<_> = (0..1000)
        .map(|i| {
            let mut p = profile(&org, &format!("Server {i:04}"));
            if i % 10 == 0 {
                p.kind = CertKind::Organisation;
            }
            if i % 2 == 0 {
                let mut cert = pending(&p, T0);
                cert.status = CertStatus::Issued;
                cert.not_after = Some(T0 + time::Duration::days(1095));
                p.latest = Some(latest(&cert));
            }
            p
        })
        .collect();
    // moto copies every table for each transaction: load without them.
    store
        .import(
            profiles
                .iter()
                .map(|p| Write::PutProfile {
                    profile: p.clone(),
                    expected: None,
                })
                .collect(),
        )
        .await
        .unwrap();
    let q = |limit: u32| ProfileQuery {
        limit,
        now: Some(T0),
        ..Default::default()
    };
    let cases: Vec<(&str, ProfileQuery)> = vec![
        ("list, page of 50", q(50)),
        ("list, page of 200", q(200)),
        (
            "search 'server 0421' (1 match), page of 50",
            ProfileQuery {
                q: Some("server 0421".into()),
                ..q(50)
            },
        ),
        (
            "search 'it-drift@' (all match), page of 50",
            ProfileQuery {
                q: Some("it-drift@".into()),
                ..q(50)
            },
        ),
        (
            "search 'server 09' (100 match), page of 50",
            ProfileQuery {
                q: Some("server 09".into()),
                ..q(50)
            },
        ),
        (
            "filter status=issued (500), page of 50",
            ProfileQuery {
                status: Some(CertStatus::Issued),
                ..q(50)
            },
        ),
        (
            "filter type=organisation (100), page of 50",
            ProfileQuery {
                kind: Some(CertKind::Organisation),
                ..q(50)
            },
        ),
        (
            "search 'nothing' (0 match), page of 50",
            ProfileQuery {
                q: Some("nothing".into()),
                ..q(50)
            },
        ),
    ];
    println!("\nDynamoDB items read per call, 1,000 profiles in one organisation (moto):");
    println!(
        "{:<48} {:>7} {:>11} {:>8}",
        "call", "items", "read calls", "returned"
    );
    for (what, query) in cases {
        let before = store.read_stats();
        let page = store.profiles(&org, &query).await.unwrap();
        let used = store.read_stats() - before;
        println!(
            "{what:<48} {:>7} {:>11} {:>8}",
            used.items,
            used.calls,
            page.items.len()
        );
    }
    // Every page of the whole list.
    let before = store.read_stats();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .profiles(
                &org,
                &ProfileQuery {
                    cursor: cursor.take(),
                    ..q(50)
                },
            )
            .await
            .unwrap();
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let used = store.read_stats() - before;
    println!(
        "{:<48} {:>7} {:>11} {:>8}",
        format!("all {pages} pages of 50"),
        used.items,
        used.calls,
        1000
    );
}
