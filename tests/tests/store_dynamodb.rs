//! The store conformance suite against the DynamoDB adapter on moto (DESIGN §8).

use std::sync::Arc;

use orgcert_aws::{provision, sdk_config, DynamoStore};
use orgcert_tests::conformance::store_conformance;
use orgcert_tests::moto::Moto;

/// A fresh table in `moto` and a store on it.
async fn fresh(moto: &Moto) -> DynamoStore {
    let cfg = moto.config();
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&cfg).await);
    provision::create_table(&client, &cfg.table)
        .await
        .expect("create table");
    DynamoStore::new(client, cfg.table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_conforms() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let store = fresh(&moto).await;
    store_conformance(Arc::new(store)).await;
}

/// A second run on the same table (and through a second client) proves the suite needs
/// no empty table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_conforms_twice_on_one_table() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let store = fresh(&moto).await;
    store_conformance(Arc::new(store.clone())).await;
    let again = DynamoStore::new(store.client().clone(), store.table());
    store_conformance(Arc::new(again)).await;
}
