//! [`forward_store!`]: the `Store` implementation of a decorator ([`crate::counting`],
//! [`crate::faults`]), written once: every port method calls the wrapped store's
//! (`self.inner`) through the decorator's own `around(what, call)`, where `what` names the
//! method ("store.profile").

use orgcert_core::model::Page;

/// How many records a store answer holds; `None` for a write's answer.
pub(crate) trait Records {
    fn records(&self) -> Option<usize>;
}

impl<T> Records for Option<T> {
    fn records(&self) -> Option<usize> {
        Some(usize::from(self.is_some()))
    }
}

impl<T> Records for Vec<T> {
    fn records(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T> Records for Page<T> {
    fn records(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

impl Records for () {
    fn records(&self) -> Option<usize> {
        None
    }
}

/// `impl Store for $ty`, each method `self.around("store.<method>", self.inner.<method>(…))`.
macro_rules! forward_store {
    ($ty:ty) => {
        $crate::decorate::forward_store!(@impl $ty;
            organisation(cvr: &Cvr) -> Option<Organisation>;
            organisations() -> Vec<Organisation>;
            profile(org: &Cvr, id: Uuid) -> Option<Profile>;
            profiles(org: &Cvr, query: &ProfileQuery) -> Page<Profile>;
            certificate_in(org: &Cvr, serial: &Serial) -> Option<Certificate>;
            certificate_any_org(serial: &Serial) -> Option<Certificate>;
            certificates_of(org: &Cvr, profile: Uuid) -> Vec<Certificate>;
            secret(hash: &str) -> Option<IssuanceSecret>;
            secret_by_reference(reference: &str) -> Option<IssuanceSecret>;
            audit(org: &Cvr, limit: u32, cursor: Option<&str>) -> Page<AuditEvent>;
            audit_export(org: &Cvr) -> Vec<AuditEvent>;
            events(org: &Cvr, after: u64, limit: u32) -> Vec<LifecycleEvent>;
            undelivered_events(limit: u32) -> Vec<LifecycleEvent>;
            mark_events_delivered(events: &[LifecycleEvent]) -> ();
            notifications(org: &Cvr, recipient: &Email, limit: u32) -> Vec<Notification>;
            idempotency(org: &Cvr, key: &str) -> Option<IdempotencyRecord>;
            revoked_certificates() -> Vec<Certificate>;
            certificates_by_status(status: CertStatus, limit: u32, cursor: Option<&str>)
                -> Page<Certificate>;
            expiring(after: OffsetDateTime, until: OffsetDateTime, limit: u32, cursor: Option<&str>)
                -> Page<Certificate>;
            crl_state(name: &str) -> Option<CrlState>;
            ocsp_record(serial: &Serial) -> Option<OcspRecord>;
            directory(query: &DirectoryQuery) -> Vec<Certificate>;
            expired_secrets(before: OffsetDateTime, limit: u32) -> Vec<IssuanceSecret>;
            commit(writes: Vec<Write>) -> ();
        );
    };
    (@impl $ty:ty; $($name:ident($($arg:ident: $t:ty),*) -> $out:ty;)*) => {
        #[async_trait::async_trait]
        impl orgcert_core::ports::Store for $ty {
            $(async fn $name(&self, $($arg: $t),*) -> orgcert_core::error::Result<$out> {
                let what = concat!("store.", stringify!($name));
                self.around(what, self.inner.$name($($arg),*)).await
            })*
        }
    };
}

pub(crate) use forward_store;
