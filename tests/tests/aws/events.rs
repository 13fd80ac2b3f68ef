//! Lifecycle events reach EventBridge on moto: a rule (source `orgcert`) routes them to
//! an SQS queue, where the four events of order, issue, renew and revoke arrive with
//! detail-type = the event type; a second delivery run sends nothing again.

use std::collections::BTreeSet;

use orgcert_aws::{provision, sdk_config, DynamoStore, EventBridgeBus};
use orgcert_core::events::deliver;
use orgcert_core::ports::{Store, Write};
use orgcert_tests::conformance::{audit_event, stored_organisation, T0};
use orgcert_tests::moto::Moto;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_reach_eventbridge_once_marked() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let cfg = moto.config();
    let sdk = sdk_config(&cfg).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    provision::create_table(&ddb, &cfg.table)
        .await
        .expect("create table");
    let store = DynamoStore::new(ddb, cfg.table.clone());
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);

    // The example rule of infra/README.md: everything from source orgcert to a queue.
    let queue = sqs
        .create_queue()
        .queue_name("orgcert-events")
        .send()
        .await
        .unwrap();
    let queue_url = queue.queue_url().unwrap().to_owned();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    events
        .put_rule()
        .name("orgcert-lifecycle")
        .event_pattern(r#"{"source": ["orgcert"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("orgcert-lifecycle")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let org = stored_organisation(&store).await;
    // The audit actions of order, issue, renew and revoke (and one that is no event).
    for action in [
        "profile.create",
        "certificate.order",
        "certificate.issue",
        "certificate.renew",
        "certificate.revoke",
    ] {
        store
            .commit(vec![Write::Audit(audit_event(&org, action, "0a1b", T0))])
            .await
            .unwrap();
    }
    let feed = store.events(&org, 0, 100).await.unwrap();
    let types: Vec<&str> = feed.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        types,
        [
            "certificate.ordered",
            "certificate.issued",
            "certificate.renewed",
            "certificate.revoked"
        ]
    );

    let bus = EventBridgeBus::new(events.clone(), "default");
    let report = deliver(&store, &bus, 10).await.expect("delivery");
    assert_eq!((report.delivered, report.refused), (4, 0));
    assert!(store.undelivered_events(10).await.unwrap().is_empty());
    let again = deliver(&store, &bus, 10).await.expect("second delivery");
    assert_eq!(again.delivered, 0, "marked delivered: not sent twice");

    // Read the queue: bounded long polls until the four have arrived.
    let mut got: Vec<Value> = Vec::new();
    for _ in 0..10 {
        if got.len() >= 4 {
            break;
        }
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            got.push(serde_json::from_str(m.body().unwrap()).unwrap());
        }
    }
    assert_eq!(got.len(), 4, "{got:?}");
    let ids: BTreeSet<String> = feed.iter().map(|e| e.id.to_string()).collect();
    let mut seen = BTreeSet::new();
    for m in &got {
        assert_eq!(m["source"], "orgcert");
        let detail = &m["detail"];
        assert_eq!(m["detail-type"], detail["type"], "{m}");
        assert_eq!(detail["org"], org.as_str());
        seen.insert(detail["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ids);
}
