//! Use cases: one file per group, all going through [`App`] and the lifecycle.

mod activity;
mod certificates;
mod directory;
mod feed;
mod input;
mod issuance;
mod jobs;
mod machine;
mod ordering;
mod organisation;
mod pipeline;
mod profiles;
mod public;
mod status;

pub use certificates::CertificateDetail;
pub use directory::DirectoryEntry;
pub use feed::EventPage;
pub use input::{object, MasterDataPatch, ProfileInput, SettingsPatch};
pub use issuance::{IssuanceInfo, IssueRequest, IssueResult};
pub use jobs::{Job, JobReport};
pub use machine::{ApiIssueRequest, SelfRenewRequest};
pub use ordering::{Delivery, IdempotencyKey, OrderResult};
pub use organisation::NewOrganisation;
pub use pipeline::{p12_key, CLAIM_TTL};
pub use status::{OcspAnswer, Presigned};

use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::Actor;
use crate::clock::Clock;
use crate::error::{DomainError, Result};
use crate::ids::{Cvr, Serial};
use crate::model::{AuditEvent, Certificate, LatestCertificate, Organisation, Profile};
use crate::ports::{CertificateAuthority, Mailer, Objects, StatusEvents, Store};
use crate::secrets::CodeKey;

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base of links in mails and answers (no trailing slash), e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// Lifetime of issuance links and one-time codes.
    pub issuance_ttl: Duration,
    /// Lifetime of PKCS#12 download links (DESIGN §4: about 10 minutes).
    pub download_ttl: Duration,
    /// Wrong one-time codes before the order locks.
    pub max_code_attempts: u32,
    /// nextUpdate − thisUpdate of CRLs (DESIGN §5: at most 10 days).
    pub crl_validity: Duration,
    /// Number of CRL partitions (0: only the full CRL).
    pub crl_partitions: u32,
    /// nextUpdate − thisUpdate of pre-signed OCSP responses.
    pub ocsp_validity: Duration,
    /// Pre-signed OCSP responses older than this are re-signed by the refresh job.
    pub ocsp_refresh_after: Duration,
    /// Renewal reminder thresholds in days.
    pub reminder_days: Vec<u32>,
    /// Server key of one-time-code hashes; every process of a deployment that orders or
    /// redeems one-time codes sets the same one (key file, bucket object). Unset, those
    /// use cases fail with `Internal` rather than store codes nobody can check.
    pub code_key: Option<CodeKey>,
    /// Whether reading a missing or expired CRL builds it in the request. Only where
    /// signing is free (the embedded default's key file); on AWS the public CRL function
    /// may not spend a KMS signature (DESIGN §5a) and the crl-refresh job builds CRLs.
    pub crl_build_on_read: bool,
}

impl Config {
    /// Defaults with the given public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            issuance_ttl: Duration::days(14),
            download_ttl: Duration::minutes(10),
            max_code_attempts: 5,
            crl_validity: Duration::hours(24),
            crl_partitions: 0,
            ocsp_validity: Duration::days(3),
            ocsp_refresh_after: Duration::days(1),
            reminder_days: vec![90, 30, 7],
            code_key: None,
            crl_build_on_read: true,
        }
    }
}

/// Certificate validity: 1095 days − 1 s (DESIGN §3).
pub fn validity() -> Duration {
    Duration::days(1095) - Duration::seconds(1)
}

/// The ports a composition root hands to [`App::new`].
#[derive(Clone)]
pub struct Ports {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Certificate authority.
    pub ca: Arc<dyn CertificateAuthority>,
    /// PKCS#12 objects.
    pub objects: Arc<dyn Objects>,
    /// Mail.
    pub mailer: Arc<dyn Mailer>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Background follow-ups of status changes.
    pub events: Arc<dyn StatusEvents>,
}

/// The composition of ports the use cases run on. The ports are private: a handler,
/// job or tool goes through a use case (one hop from route to use case to port), so a
/// tenant check or an audit entry cannot be skipped by reaching the store directly.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn Store>,
    ca: Arc<dyn CertificateAuthority>,
    objects: Arc<dyn Objects>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn StatusEvents>,
    // Shared: every request clones the `App` (axum `State`), and the settings hold a
    // `String` and a `Vec` that would otherwise be copied each time.
    config: Arc<Config>,
}

impl App {
    /// The use cases on `ports` with `config`.
    pub fn new(ports: Ports, config: Config) -> Self {
        Self {
            store: ports.store,
            ca: ports.ca,
            objects: ports.objects,
            mailer: ports.mailer,
            clock: ports.clock,
            events: ports.events,
            config: Arc::new(config),
        }
    }

    /// The same use cases with another certificate authority (a composition that
    /// decides after composing how OCSP responders are minted).
    #[must_use]
    pub fn with_ca(mut self, ca: Arc<dyn CertificateAuthority>) -> Self {
        self.ca = ca;
        self
    }

    /// The current time of the composition's clock: what answers compare validity and
    /// expiry with, so a view and the use case behind it agree.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Base of links in mails and answers (no trailing slash).
    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }
}

/// Test-only access to the ports and settings, so integration tests can check store
/// invariants behind the use cases and wrap a composed port (fault injection, counting).
/// Behind the `testing` feature: no production build enables it.
#[cfg(feature = "testing")]
impl App {
    /// The ports (clones of the handles).
    pub fn ports(&self) -> Ports {
        Ports {
            store: self.store.clone(),
            ca: self.ca.clone(),
            objects: self.objects.clone(),
            mailer: self.mailer.clone(),
            clock: self.clock.clone(),
            events: self.events.clone(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The same composition with ports or settings changed by `f`.
    #[must_use]
    pub fn rewired(self, f: impl FnOnce(&mut Ports, &mut Config)) -> Self {
        let mut ports = self.ports();
        let mut config = Arc::unwrap_or_clone(self.config);
        f(&mut ports, &mut config);
        Self::new(ports, config)
    }
}

impl App {
    async fn org_of(&self, actor: &Actor) -> Result<Organisation> {
        self.store
            .organisation(&actor.org)
            .await?
            .ok_or(DomainError::NotFound("organisation"))
    }

    /// A profile of the actor's organisation; others' ids are `NotFound`.
    async fn scoped_profile(&self, org: &Cvr, id: Uuid) -> Result<Profile> {
        self.store
            .profile(org, id)
            .await?
            .ok_or(DomainError::NotFound("certificate profile"))
    }

    /// A certificate of the actor's organisation; others' serials are `NotFound`.
    async fn scoped_certificate(&self, org: &Cvr, serial: &Serial) -> Result<Certificate> {
        self.store
            .certificate_in(org, serial)
            .await?
            .ok_or(DomainError::NotFound("certificate"))
    }

    fn audit(
        &self,
        org: &Cvr,
        actor: &str,
        action: &str,
        target: String,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            id: Uuid::new_v4(),
            org: org.clone(),
            at: self.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target,
            detail,
            seq: None,
            prev_hash: None,
            hash: None,
        }
    }

    /// The CRL partition a serial belongs to, when CRLs are partitioned.
    pub fn crl_partition_of(&self, serial: &Serial) -> Option<u32> {
        let n = self.config.crl_partitions;
        (n > 0).then(|| {
            let b = serial.to_bytes();
            let tail = b
                .iter()
                .rev()
                .take(4)
                .fold(0u32, |acc, x| (acc << 8) | u32::from(*x));
            tail % n
        })
    }

    /// The one-time-code key, or `Internal` for a composition that did not set one.
    fn code_key(&self) -> Result<&CodeKey> {
        self.config.code_key.as_ref().ok_or_else(|| {
            DomainError::Internal("no one-time-code key configured (Config::code_key)".into())
        })
    }

    fn issuance_url(&self, token: &str) -> String {
        format!("{}/issue/{}", self.config.public_url, token)
    }
}

/// The newest certificate of a profile, which gives the profile its status.
pub(crate) fn summarise(certs: &[Certificate]) -> Option<LatestCertificate> {
    certs
        .iter()
        .max_by(|a, b| {
            // Times have whole seconds: a renewal ordered in the same second as the
            // certificate it renews (a self-renewal right after issuance) is still the
            // newer one, or reminders would skip the renewal instead of the renewed.
            a.ordered_at
                .cmp(&b.ordered_at)
                .then_with(|| renewal_order(a, b))
                .then(a.serial.cmp(&b.serial))
        })
        .map(latest_of)
}

/// `Greater` when `a` renews `b`, `Less` when `b` renews `a`.
fn renewal_order(a: &Certificate, b: &Certificate) -> std::cmp::Ordering {
    if a.renewal_of.as_ref() == Some(&b.serial) {
        std::cmp::Ordering::Greater
    } else if b.renewal_of.as_ref() == Some(&a.serial) {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Equal
    }
}

/// The profile with a new summary and version, for a write that expects the old version.
pub(crate) fn with_summary(profile: &Profile, certs: &[Certificate]) -> Profile {
    let mut p = profile.clone();
    p.latest = summarise(certs);
    p.version += 1;
    p
}

/// The summary entry of one certificate.
fn latest_of(c: &Certificate) -> LatestCertificate {
    LatestCertificate {
        serial: c.serial.clone(),
        status: c.status,
        not_after: c.not_after,
    }
}

impl App {
    /// The profile with its summary after `added` (a new order) joins its certificates,
    /// and its version moved on. The summary names the newest certificate, and `added` can
    /// only displace that one, so one point read replaces reading all of the profile's
    /// certificates (which made each order O(certificates of the profile)). A summary
    /// that names nothing, or a certificate that is gone, is recomputed from all of them.
    pub(crate) async fn summary_with_added(
        &self,
        profile: &Profile,
        added: &Certificate,
    ) -> Result<Profile> {
        let newest = match &profile.latest {
            Some(l) => self.store.certificate_in(&profile.org, &l.serial).await?,
            None => None,
        };
        let mut certs = match newest {
            Some(c) => vec![c],
            None => self.store.certificates_of(&profile.org, profile.id).await?,
        };
        certs.push(added.clone());
        Ok(with_summary(profile, &certs))
    }

    /// The profile with its summary after `old` became `new` (`None`: deleted), and its
    /// version moved on. A change keeps a certificate's place among its siblings (serial,
    /// order time and renewal link stay), so only a change of the newest one changes the
    /// summary, and it is taken from `new` without reading the siblings. Deleting the
    /// newest, or anything that moves a certificate's place, reads them all.
    pub(crate) async fn summary_with_changed(
        &self,
        profile: &Profile,
        old: &Certificate,
        new: Option<&Certificate>,
    ) -> Result<Profile> {
        let newest_changed = profile.latest.as_ref().map(|l| l.serial == old.serial);
        let same_place = new.is_some_and(|c| {
            c.serial == old.serial
                && c.ordered_at == old.ordered_at
                && c.renewal_of == old.renewal_of
        });
        match (newest_changed, new) {
            (Some(false), Some(_)) if same_place => {
                let mut p = profile.clone();
                p.version += 1;
                Ok(p)
            }
            (Some(false), None) => {
                let mut p = profile.clone();
                p.version += 1;
                Ok(p)
            }
            (Some(true), Some(c)) if same_place => {
                let mut p = profile.clone();
                p.latest = Some(latest_of(c));
                p.version += 1;
                Ok(p)
            }
            _ => {
                let mut certs = self.store.certificates_of(&old.org, old.profile_id).await?;
                certs.retain(|c| c.serial != old.serial);
                certs.extend(new.cloned());
                Ok(with_summary(profile, &certs))
            }
        }
    }
}

/// A date for mails: `2026-11-25`.
pub(crate) fn fmt_date(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
