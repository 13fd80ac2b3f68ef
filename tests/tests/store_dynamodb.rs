//! The store conformance suite against the DynamoDB adapter on moto (DESIGN §8).

use std::sync::Arc;

use orgcert_aws::{provision, sdk_config, DynamoStore};
use orgcert_tests::conformance::store_conformance;
use orgcert_tests::moto::Moto;

/// moto, a fresh table in it and a store on it; `None` (after saying why) without moto.
async fn fresh() -> Option<(Moto, DynamoStore)> {
    let moto = Moto::try_start()?;
    let cfg = moto.config();
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&cfg).await);
    provision::create_table(&client, &cfg.table)
        .await
        .expect("create table");
    Some((moto, DynamoStore::new(client, cfg.table)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_conforms() {
    let Some((_moto, store)) = fresh().await else {
        return;
    };
    store_conformance(Arc::new(store)).await;
}

/// A second run on the same table (and through a second client) proves the suite needs
/// no empty table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_conforms_twice_on_one_table() {
    let Some((_moto, store)) = fresh().await else {
        return;
    };
    store_conformance(Arc::new(store.clone())).await;
    let again = DynamoStore::new(store.client().clone(), store.table());
    store_conformance(Arc::new(again)).await;
}

/// One audit event changed in the table (as someone with write access to DynamoDB
/// could) is named by the verification `orgcert audit verify --org` runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_audit_event_in_dynamodb_is_named() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use orgcert_core::ports::{Store, Write};
    use orgcert_tests::conformance::{audit_event, stored_organisation, T0};
    let Some((_moto, store)) = fresh().await else {
        return;
    };
    let org = stored_organisation(&store).await;
    for i in 0..3 {
        store
            .commit(vec![Write::Audit(audit_event(
                &org,
                &format!("e.{i}"),
                "t",
                T0,
            ))])
            .await
            .unwrap();
    }
    let intact = orgcert_functions::audit::verify_store(&store, std::slice::from_ref(&org))
        .await
        .expect("an intact chain");
    assert!(intact[0].contains("head seq 3"), "{intact:?}");

    // Find the stored item of seq 2 and change its actor in place.
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{org}#AUDIT")))
        .send()
        .await
        .unwrap();
    let items = out.items();
    let victim = items
        .iter()
        .find(|it| matches!(it.get("seq"), Some(AttributeValue::N(n)) if n == "2"))
        .expect("the item of seq 2");
    let id = match victim.get("doc") {
        Some(AttributeValue::M(doc)) => match doc.get("id") {
            Some(AttributeValue::S(id)) => id.clone(),
            other => panic!("doc.id {other:?}"),
        },
        other => panic!("doc {other:?}"),
    };
    orgcert_tests::moto::forge_audit_actor(store.client(), store.table(), victim).await;
    let err = orgcert_functions::audit::verify_store(&store, std::slice::from_ref(&org))
        .await
        .expect_err("a changed event must fail");
    assert!(err.contains(&id) && err.contains("seq 2"), "{err}");
}
