//! Use cases: one file per group, all going through [`App`] and the lifecycle.

mod activity;
mod certificates;
mod input;
mod issuance;
mod ordering;
mod organisation;
mod profiles;

pub use certificates::CertificateDetail;
pub use input::{MasterDataPatch, ProfileInput, SettingsPatch};
pub use issuance::{IssuanceInfo, IssueRequest, IssueResult};
pub use ordering::{Delivery, IdempotencyKey, OrderResult};
pub use organisation::NewOrganisation;

use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::Actor;
use crate::clock::Clock;
use crate::error::{DomainError, Result};
use crate::ids::{Cvr, Serial};
use crate::model::{AuditEvent, Certificate, LatestCertificate, Organisation, Profile};
use crate::ports::{CertificateAuthority, Mailer, Objects, Store};

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
}

impl Config {
    /// Defaults with the given public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            issuance_ttl: Duration::days(14),
            download_ttl: Duration::minutes(10),
            max_code_attempts: 5,
        }
    }
}

/// Certificate validity: 1095 days − 1 s (DESIGN §3).
pub fn validity() -> Duration {
    Duration::days(1095) - Duration::seconds(1)
}

/// The composition of ports the use cases run on.
#[derive(Clone)]
pub struct App {
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
    /// Settings.
    pub config: Config,
}

impl App {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

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
        match self.store.certificate(serial).await? {
            Some(c) if &c.org == org => Ok(c),
            _ => Err(DomainError::NotFound("certificate")),
        }
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
        }
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
            a.ordered_at
                .cmp(&b.ordered_at)
                .then(a.serial.cmp(&b.serial))
        })
        .map(|c| LatestCertificate {
            serial: c.serial.clone(),
            status: c.status,
            not_after: c.not_after,
        })
}

/// The profile with a new summary and version, for a write that expects the old version.
pub(crate) fn with_summary(profile: &Profile, certs: &[Certificate]) -> Profile {
    let mut p = profile.clone();
    p.latest = summarise(certs);
    p.version += 1;
    p
}
