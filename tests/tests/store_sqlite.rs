//! The store conformance suite against the embedded SQLite adapter.

use std::sync::Arc;

use orgcert_local::SqliteStore;
use orgcert_tests::conformance::store_conformance;

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("orgcert.sqlite")).expect("open store");
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conforms() {
    let (_dir, store) = fresh();
    store_conformance(Arc::new(store)).await;
}

/// A second run on the same file (and through a second handle, as the CLI opens it)
/// proves the suite needs no empty store, as on a shared emulator table.
#[tokio::test]
async fn sqlite_store_conforms_twice_on_one_file() {
    let (dir, store) = fresh();
    store_conformance(Arc::new(store)).await;
    let again = SqliteStore::open(&dir.path().join("orgcert.sqlite")).expect("reopen store");
    store_conformance(Arc::new(again)).await;
}
