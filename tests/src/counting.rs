//! A `Store` decorator that counts reads: calls and records returned. Used to show that a
//! job's cost follows the items it works on, not the size of the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use orgcert_core::error::Result;
use orgcert_core::events::LifecycleEvent;
use orgcert_core::ids::{Cvr, Email, Serial};
use orgcert_core::model::{
    AuditEvent, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret, Notification,
    OcspRecord, Organisation, Page, Profile,
};
use orgcert_core::ports::{DirectoryQuery, ProfileQuery, Store, Write};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::decorate::{forward_store, Records};

/// Counts read calls and the records they return.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    calls: AtomicU64,
    items: AtomicU64,
}

impl CountingStore {
    /// Wraps a store.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            items: AtomicU64::new(0),
        }
    }
    /// (read calls, records returned) since the last reset.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::SeqCst),
            self.items.load(Ordering::SeqCst),
        )
    }
    /// Zeroes the counters.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.items.store(0, Ordering::SeqCst);
    }
    /// Runs `call`, counting it and its records if it is a read.
    async fn around<T: Records>(
        &self,
        _what: &str,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let r = call.await;
        if let Some(n) = r.as_ref().ok().and_then(Records::records) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.items.fetch_add(n as u64, Ordering::SeqCst);
        }
        r
    }
}

forward_store!(CountingStore);
