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
use orgcert_core::events::LifecycleEvent;
use orgcert_core::ids::{Cvr, Email, Serial};
use orgcert_core::model::{
    AuditEvent, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret, Notification,
    OcspRecord, Organisation, Page, Profile,
};
use orgcert_core::ports::{DirectoryQuery, Mail, Mailer, Objects, ProfileQuery, Store, Write};
use orgcert_pki::{CaSigner, KeyAlgorithm, PkiError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::decorate::forward_store;

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

    /// Runs `call` as one step of the plan.
    async fn around<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.plan.step(what, call).await
    }
}

forward_store!(FailingStore);

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
