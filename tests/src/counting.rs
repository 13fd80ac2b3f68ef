//! A `Store` decorator that counts reads: calls and records returned. Used to show that a
//! job's cost follows the items it works on, not the size of the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use orgcert_core::error::Result;
use orgcert_core::ids::{Cvr, Email, Serial};
use orgcert_core::model::{
    AuditEvent, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret, Notification,
    OcspRecord, Organisation, Page, Profile,
};
use orgcert_core::ports::{DirectoryQuery, ProfileQuery, Store, Write};
use time::OffsetDateTime;
use uuid::Uuid;

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
    fn note(&self, n: usize) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.items.fetch_add(n as u64, Ordering::SeqCst);
    }
    fn one<T>(&self, r: Result<Option<T>>) -> Result<Option<T>> {
        if let Ok(v) = &r {
            self.note(usize::from(v.is_some()));
        }
        r
    }
    fn many<T>(&self, r: Result<Vec<T>>) -> Result<Vec<T>> {
        if let Ok(v) = &r {
            self.note(v.len());
        }
        r
    }
    fn page<T>(&self, r: Result<Page<T>>) -> Result<Page<T>> {
        if let Ok(p) = &r {
            self.note(p.items.len());
        }
        r
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn organisation(&self, cvr: &Cvr) -> Result<Option<Organisation>> {
        self.one(self.inner.organisation(cvr).await)
    }
    async fn organisations(&self) -> Result<Vec<Organisation>> {
        self.many(self.inner.organisations().await)
    }
    async fn profile(&self, org: &Cvr, id: Uuid) -> Result<Option<Profile>> {
        self.one(self.inner.profile(org, id).await)
    }
    async fn profiles(&self, org: &Cvr, query: &ProfileQuery) -> Result<Page<Profile>> {
        self.page(self.inner.profiles(org, query).await)
    }
    async fn certificate_in(&self, org: &Cvr, serial: &Serial) -> Result<Option<Certificate>> {
        self.one(self.inner.certificate_in(org, serial).await)
    }
    async fn certificate_any_org(&self, serial: &Serial) -> Result<Option<Certificate>> {
        self.one(self.inner.certificate_any_org(serial).await)
    }
    async fn certificates_of(&self, org: &Cvr, profile: Uuid) -> Result<Vec<Certificate>> {
        self.many(self.inner.certificates_of(org, profile).await)
    }
    async fn secret(&self, hash: &str) -> Result<Option<IssuanceSecret>> {
        self.one(self.inner.secret(hash).await)
    }
    async fn secret_by_reference(&self, reference: &str) -> Result<Option<IssuanceSecret>> {
        self.one(self.inner.secret_by_reference(reference).await)
    }
    async fn audit(&self, org: &Cvr, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEvent>> {
        self.page(self.inner.audit(org, limit, cursor).await)
    }
    async fn events(
        &self,
        org: &Cvr,
        after: u64,
        limit: u32,
    ) -> Result<Vec<orgcert_core::events::LifecycleEvent>> {
        self.many(self.inner.events(org, after, limit).await)
    }
    async fn undelivered_events(
        &self,
        limit: u32,
    ) -> Result<Vec<orgcert_core::events::LifecycleEvent>> {
        self.many(self.inner.undelivered_events(limit).await)
    }
    async fn mark_events_delivered(
        &self,
        events: &[orgcert_core::events::LifecycleEvent],
    ) -> Result<()> {
        self.inner.mark_events_delivered(events).await
    }
    async fn audit_export(&self, org: &Cvr) -> Result<Vec<AuditEvent>> {
        self.many(self.inner.audit_export(org).await)
    }
    async fn notifications(
        &self,
        org: &Cvr,
        recipient: &Email,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        self.many(self.inner.notifications(org, recipient, limit).await)
    }
    async fn idempotency(&self, org: &Cvr, key: &str) -> Result<Option<IdempotencyRecord>> {
        self.one(self.inner.idempotency(org, key).await)
    }
    async fn revoked_certificates(&self) -> Result<Vec<Certificate>> {
        self.many(self.inner.revoked_certificates().await)
    }
    async fn certificates_by_status(
        &self,
        status: CertStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        self.page(
            self.inner
                .certificates_by_status(status, limit, cursor)
                .await,
        )
    }
    async fn expiring(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        self.page(self.inner.expiring(after, until, limit, cursor).await)
    }
    async fn crl_state(&self, name: &str) -> Result<Option<CrlState>> {
        self.one(self.inner.crl_state(name).await)
    }
    async fn ocsp_record(&self, serial: &Serial) -> Result<Option<OcspRecord>> {
        self.one(self.inner.ocsp_record(serial).await)
    }
    async fn directory(&self, query: &DirectoryQuery) -> Result<Vec<Certificate>> {
        self.many(self.inner.directory(query).await)
    }
    async fn expired_secrets(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IssuanceSecret>> {
        self.many(self.inner.expired_secrets(before, limit).await)
    }
    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        self.inner.commit(writes).await
    }
}
