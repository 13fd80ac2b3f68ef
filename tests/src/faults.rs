//! Fault injection: adapters that delegate to real ones and fail at step N.
//!
//! One [`FaultPlan`] is shared by every wrapper of an `App`, so "step N" counts calls
//! across the store, the signer, the objects and the mailer in the order the use case
//! makes them. A step fails either *before* the call (the dependency never saw it) or
//! *after* it (the dependency did the work but the answer was lost, as with a timeout),
//! and reports `Unavailable`, as a failing AWS service does after the SDK's retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use orgcert_core::error::{DomainError, Result};
use orgcert_core::ids::{Cvr, Email, Serial};
use orgcert_core::model::{
    AuditEvent, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret, Notification,
    OcspRecord, Organisation, Page, Profile,
};
use orgcert_core::ports::{DirectoryQuery, Mail, Mailer, Objects, ProfileQuery, Store, Write};
use orgcert_pki::{CaSigner, KeyAlgorithm, PkiError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Whether the failing step happens before or after the real call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// The dependency never sees the call.
    Before,
    /// The dependency does the work; its answer is lost.
    After,
}

/// Which step fails, and a log of the steps taken.
#[derive(Debug)]
pub struct FaultPlan {
    step: AtomicU64,
    fail_at: AtomicU64,
    mode: Mutex<FailMode>,
    fired: Mutex<Option<String>>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            step: AtomicU64::new(0),
            fail_at: AtomicU64::new(0),
            mode: Mutex::new(FailMode::Before),
            fired: Mutex::new(None),
        }
    }
}

impl FaultPlan {
    /// A plan that fails nothing until [`FaultPlan::arm`].
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts steps from zero again and fails step `n` (1-based) in `mode`.
    pub fn arm(&self, n: u64, mode: FailMode) {
        self.step.store(0, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
        *self.fired.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Fails nothing any more.
    pub fn disarm(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }

    /// The step that failed since the last [`FaultPlan::arm`], if any.
    pub fn fired(&self) -> Option<String> {
        self.fired.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Steps taken since the last [`FaultPlan::arm`].
    pub fn steps(&self) -> u64 {
        self.step.load(Ordering::SeqCst)
    }

    /// Counts one step; `Some(mode)` when this is the one to fail.
    fn tick(&self, what: &str) -> Option<FailMode> {
        let n = self.step.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fail_at.load(Ordering::SeqCst) {
            return None;
        }
        *self.fired.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{n}: {what}"));
        Some(*self.mode.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn error(what: &str) -> DomainError {
        DomainError::Unavailable(format!("injected fault at {what}"))
    }

    /// Runs `call` as one step.
    async fn step<T, F>(&self, what: &str, call: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        match self.tick(what) {
            None => call.await,
            Some(FailMode::Before) => Err(Self::error(what)),
            Some(FailMode::After) => {
                let _ = call.await;
                Err(Self::error(what))
            }
        }
    }
}

/// A [`Store`] failing at its plan's step.
pub struct FailingStore {
    inner: Arc<dyn Store>,
    plan: Arc<FaultPlan>,
}

impl FailingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn organisation(&self, cvr: &Cvr) -> Result<Option<Organisation>> {
        self.plan
            .step("store.organisation", self.inner.organisation(cvr))
            .await
    }
    async fn organisations(&self) -> Result<Vec<Organisation>> {
        self.plan
            .step("store.organisations", self.inner.organisations())
            .await
    }
    async fn profile(&self, org: &Cvr, id: Uuid) -> Result<Option<Profile>> {
        self.plan
            .step("store.profile", self.inner.profile(org, id))
            .await
    }
    async fn profiles(&self, org: &Cvr, query: &ProfileQuery) -> Result<Page<Profile>> {
        self.plan
            .step("store.profiles", self.inner.profiles(org, query))
            .await
    }
    async fn certificate_in(&self, org: &Cvr, serial: &Serial) -> Result<Option<Certificate>> {
        self.plan
            .step(
                "store.certificate_in",
                self.inner.certificate_in(org, serial),
            )
            .await
    }
    async fn certificate_any_org(&self, serial: &Serial) -> Result<Option<Certificate>> {
        self.plan
            .step(
                "store.certificate_any_org",
                self.inner.certificate_any_org(serial),
            )
            .await
    }
    async fn certificates_of(&self, org: &Cvr, profile: Uuid) -> Result<Vec<Certificate>> {
        self.plan
            .step(
                "store.certificates_of",
                self.inner.certificates_of(org, profile),
            )
            .await
    }
    async fn secret(&self, hash: &str) -> Result<Option<IssuanceSecret>> {
        self.plan
            .step("store.secret", self.inner.secret(hash))
            .await
    }
    async fn secret_by_reference(&self, reference: &str) -> Result<Option<IssuanceSecret>> {
        self.plan
            .step(
                "store.secret_by_reference",
                self.inner.secret_by_reference(reference),
            )
            .await
    }
    async fn audit(&self, org: &Cvr, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEvent>> {
        self.plan
            .step("store.audit", self.inner.audit(org, limit, cursor))
            .await
    }
    async fn events(
        &self,
        org: &Cvr,
        after: u64,
        limit: u32,
    ) -> Result<Vec<orgcert_core::events::LifecycleEvent>> {
        self.plan
            .step("store.events", self.inner.events(org, after, limit))
            .await
    }
    async fn undelivered_events(
        &self,
        limit: u32,
    ) -> Result<Vec<orgcert_core::events::LifecycleEvent>> {
        self.plan
            .step(
                "store.undelivered_events",
                self.inner.undelivered_events(limit),
            )
            .await
    }
    async fn mark_events_delivered(
        &self,
        events: &[orgcert_core::events::LifecycleEvent],
    ) -> Result<()> {
        self.plan
            .step(
                "store.mark_events_delivered",
                self.inner.mark_events_delivered(events),
            )
            .await
    }
    async fn audit_export(&self, org: &Cvr) -> Result<Vec<AuditEvent>> {
        self.plan
            .step("store.audit_export", self.inner.audit_export(org))
            .await
    }
    async fn notifications(
        &self,
        org: &Cvr,
        recipient: &Email,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        self.plan
            .step(
                "store.notifications",
                self.inner.notifications(org, recipient, limit),
            )
            .await
    }
    async fn idempotency(&self, org: &Cvr, key: &str) -> Result<Option<IdempotencyRecord>> {
        self.plan
            .step("store.idempotency", self.inner.idempotency(org, key))
            .await
    }
    async fn revoked_certificates(&self) -> Result<Vec<Certificate>> {
        self.plan
            .step(
                "store.revoked_certificates",
                self.inner.revoked_certificates(),
            )
            .await
    }
    async fn certificates_by_status(
        &self,
        status: CertStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        self.plan
            .step(
                "store.certificates_by_status",
                self.inner.certificates_by_status(status, limit, cursor),
            )
            .await
    }
    async fn expiring(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>> {
        self.plan
            .step(
                "store.expiring",
                self.inner.expiring(after, until, limit, cursor),
            )
            .await
    }
    async fn crl_state(&self, name: &str) -> Result<Option<CrlState>> {
        self.plan
            .step("store.crl_state", self.inner.crl_state(name))
            .await
    }
    async fn ocsp_record(&self, serial: &Serial) -> Result<Option<OcspRecord>> {
        self.plan
            .step("store.ocsp_record", self.inner.ocsp_record(serial))
            .await
    }
    async fn directory(&self, query: &DirectoryQuery) -> Result<Vec<Certificate>> {
        self.plan
            .step("store.directory", self.inner.directory(query))
            .await
    }
    async fn expired_secrets(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IssuanceSecret>> {
        self.plan
            .step(
                "store.expired_secrets",
                self.inner.expired_secrets(before, limit),
            )
            .await
    }
    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        self.plan
            .step("store.commit", self.inner.commit(writes))
            .await
    }
}

/// [`Objects`] failing at the plan's step.
pub struct FailingObjects {
    inner: Arc<dyn Objects>,
    plan: Arc<FaultPlan>,
}

impl FailingObjects {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Objects>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl Objects for FailingObjects {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        self.plan
            .step("objects.put", self.inner.put(key, bytes, content_type))
            .await
    }
    async fn presign(&self, key: &str, ttl: Duration, now: OffsetDateTime) -> Result<String> {
        self.plan
            .step("objects.presign", self.inner.presign(key, ttl, now))
            .await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.plan
            .step("objects.delete", self.inner.delete(key))
            .await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.plan.step("objects.get", self.inner.get(key)).await
    }
    async fn purge(&self, prefix: &str, older_than: OffsetDateTime) -> Result<usize> {
        self.plan
            .step("objects.purge", self.inner.purge(prefix, older_than))
            .await
    }
}

/// A [`Mailer`] failing at the plan's step.
pub struct FailingMailer {
    inner: Arc<dyn Mailer>,
    plan: Arc<FaultPlan>,
}

impl FailingMailer {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Mailer>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl Mailer for FailingMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        self.plan.step("mailer.send", self.inner.send(mail)).await
    }
}

/// A [`CaSigner`] failing at the plan's step (a signing call is one step).
pub struct FailingSigner {
    inner: Arc<dyn CaSigner>,
    plan: Arc<FaultPlan>,
}

impl FailingSigner {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn CaSigner>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

impl CaSigner for FailingSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.inner.algorithm()
    }
    fn public_key_spki_der(&self) -> Vec<u8> {
        self.inner.public_key_spki_der()
    }
    fn sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, PkiError> {
        match self.plan.tick("signer.sign") {
            None => self.inner.sign(message),
            Some(FailMode::Before) => Err(PkiError::Signer("injected fault at signer.sign".into())),
            Some(FailMode::After) => {
                let _ = self.inner.sign(message);
                Err(PkiError::Signer("injected fault at signer.sign".into()))
            }
        }
    }
}
