//! Certificates: read, renew, revoke, delete a pending order, send the issuance link again.

use serde_json::json;

use super::ordering::{Delivery, IdempotencyKey, OrderResult};
use super::pipeline::check_unclaimed;
use super::App;
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::lifecycle::{transition, Action};
use crate::model::{CertStatus, Certificate, Profile, RevocationReason};
use crate::ports::{Mail, Write};

/// A certificate with its profile.
#[derive(Debug, Clone)]
pub struct CertificateDetail {
    /// The certificate.
    pub certificate: Certificate,
    /// Its profile.
    pub profile: Profile,
}

impl App {
    /// One certificate (user_admin, rights_admin).
    ///
    /// # Errors
    /// `NotFound` for unknown or foreign serials.
    pub async fn get_certificate(
        &self,
        actor: &Actor,
        serial: &Serial,
    ) -> Result<CertificateDetail> {
        actor.require(&[Role::UserAdmin, Role::RightsAdmin])?;
        let certificate = self.scoped_certificate(&actor.org, serial).await?;
        let profile = self
            .scoped_profile(&actor.org, certificate.profile_id)
            .await?;
        Ok(CertificateDetail {
            certificate,
            profile,
        })
    }

    /// Writes a changed certificate together with its profile's new summary, retrying
    /// once when only the profile moved on (e.g. an edit of master data meanwhile).
    pub(crate) async fn commit_certificate_change(
        &self,
        old: &Certificate,
        new: Option<Certificate>,
        extra: Vec<Write>,
    ) -> Result<()> {
        self.commit_certificate_change_within(old, new, extra, 3)
            .await
    }

    /// [`App::commit_certificate_change`] with room for `tries` profile races. A claimed
    /// issuance uses more: its certificate cannot move under the claim, and giving up
    /// after signing would free the link for a second signature of the same serial.
    pub(crate) async fn commit_certificate_change_within(
        &self,
        old: &Certificate,
        new: Option<Certificate>,
        extra: Vec<Write>,
        tries: u32,
    ) -> Result<()> {
        for attempt in 0..tries {
            let profile = self.scoped_profile(&old.org, old.profile_id).await?;
            let mut writes = match &new {
                Some(c) => vec![Write::PutCertificate {
                    cert: c.clone(),
                    expected: Some(old.version),
                }],
                None => vec![Write::DeleteCertificate {
                    serial: old.serial.clone(),
                    expected: old.version,
                }],
            };
            writes.push(Write::PutProfile {
                profile: self
                    .summary_with_changed(&profile, old, new.as_ref())
                    .await?,
                expected: Some(profile.version),
            });
            writes.extend(extra.iter().cloned());
            match self.store.commit(writes).await {
                // The batch expects both versions: only a profile that moved on is worth
                // another try; a certificate that moved on is the caller's conflict.
                Err(DomainError::StaleVersion(m)) => {
                    if !self.still_at(old).await? {
                        return Err(changed_meanwhile());
                    }
                    if attempt + 1 == tries {
                        return Err(DomainError::StaleVersion(m));
                    }
                }
                r => return r,
            }
        }
        Err(DomainError::StaleVersion(
            "too many concurrent changes; try again".into(),
        ))
    }

    /// Revokes an issued certificate (terminal) and mails the contact (user_admin).
    ///
    /// # Errors
    /// `Conflict` unless the certificate is issued and unexpired.
    pub async fn revoke(
        &self,
        actor: &Actor,
        serial: &Serial,
        reason: RevocationReason,
    ) -> Result<Certificate> {
        actor.require(&[Role::UserAdmin])?;
        let cert = self.scoped_certificate(&actor.org, serial).await?;
        let now = self.now();
        transition(cert.status_at(now), Action::Revoke)?;
        let mut new = cert.clone();
        new.status = CertStatus::Revoked;
        new.revoked_at = Some(now);
        new.revoked_by = Some(actor.audit_name());
        new.revocation_reason = Some(reason);
        new.version += 1;
        let event = self.audit(
            &actor.org,
            &actor.audit_name(),
            "certificate.revoke",
            serial.to_string(),
            json!({ "reason": reason.as_str() }),
        );
        let writes = vec![Write::Audit(event), Self::revocation_supersedes_ocsp(&new)];
        self.commit_certificate_change(&cert, Some(new.clone()), writes)
            .await?;
        self.status_changed(&new, true).await;
        let profile = self.scoped_profile(&actor.org, cert.profile_id).await?;
        self.send_after_commit(Some(Mail {
            to: profile.contact_email.to_string(),
            subject: "Your certificate has been revoked".into(),
            text: format!(
                "The certificate \"{}\" (serial {}) of {} has been revoked.\nReason: {}.\n\
                 A revoked certificate cannot be reactivated; your administrator can order a new one.\n",
                cert.snapshot.name,
                serial,
                cert.snapshot.organisation_name,
                reason.as_str()
            ),
            links: vec![],
        }))
        .await;
        Ok(new)
    }

    /// Deletes a pending order (user_admin).
    ///
    /// # Errors
    /// `Conflict` for any certificate that is not pending, or while it is being issued.
    pub async fn delete_order(&self, actor: &Actor, serial: &Serial) -> Result<()> {
        actor.require(&[Role::UserAdmin])?;
        let cert = self.scoped_certificate(&actor.org, serial).await?;
        transition(cert.status_at(self.now()), Action::Delete)?;
        // Not under a running issuance: the claimant is about to sign this serial.
        check_unclaimed(cert.claim.as_ref(), self.now())?;
        let event = self.audit(
            &actor.org,
            &actor.audit_name(),
            "certificate.delete",
            serial.to_string(),
            json!({ "profile_id": cert.profile_id }),
        );
        self.commit_certificate_change(&cert, None, vec![Write::Audit(event)])
            .await
    }

    /// Makes a new issuance secret (the old one stops working) and delivers it by the
    /// order's issuing method (user_admin).
    ///
    /// # Errors
    /// `Conflict` unless pending, or for `api` issuing which has no link.
    pub async fn resend_link(
        &self,
        actor: &Actor,
        serial: &Serial,
    ) -> Result<(Certificate, Delivery)> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let cert = self.scoped_certificate(&org.cvr, serial).await?;
        transition(cert.status_at(self.now()), Action::ResendLink)?;
        check_unclaimed(cert.claim.as_ref(), self.now())?;
        let profile = self.scoped_profile(&org.cvr, cert.profile_id).await?;
        let ann = self.announce(&profile, &org, &cert)?;
        let Some(secret) = ann.secret else {
            return Err(DomainError::Conflict(
                "certificates issued over the API have no issuance link".into(),
            ));
        };
        let mut new = cert.clone();
        new.secret_hash = Some(secret.hash.clone());
        new.version += 1;
        let mut writes = vec![
            Write::PutCertificate {
                cert: new.clone(),
                expected: Some(cert.version),
            },
            Write::PutSecret {
                secret,
                expected: None,
            },
            Write::Audit(self.audit(
                &org.cvr,
                &actor.audit_name(),
                "certificate.issuance_link",
                serial.to_string(),
                json!({ "issuing": cert.snapshot.issuing.as_str() }),
            )),
        ];
        if let Some(n) = ann.notification {
            writes.push(Write::Notify(n));
        }
        self.store.commit(writes).await?;
        self.send_after_commit(ann.mail).await;
        Ok((new, ann.delivery))
    }

    /// Renews an issued, unexpired, unrevoked certificate: a new Pending one under the
    /// same profile, delivered by the profile's issuing method (user_admin).
    ///
    /// # Errors
    /// `Conflict` for any other status or when a renewal is already pending.
    pub async fn renew(
        &self,
        actor: &Actor,
        serial: &Serial,
        idem: Option<IdempotencyKey>,
    ) -> Result<OrderResult> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let cert = self.scoped_certificate(&org.cvr, serial).await?;
        if let Some(r) = self.check_replay(actor, idem.as_ref()).await? {
            return Ok(r);
        }
        transition(cert.status_at(self.now()), Action::Renew)?;
        if self.renewal_pending(&cert).await? {
            return Err(already_renewing());
        }
        let profile = self.scoped_profile(&org.cvr, cert.profile_id).await?;
        match self
            .order_under(
                actor,
                &org,
                profile,
                Some(&cert),
                "certificate.renew",
                idem.as_ref(),
            )
            .await
        {
            Err(DomainError::StaleVersion(_)) => {
                // Lost to a concurrent change: say which, from a fresh read.
                let now = self.scoped_certificate(&org.cvr, serial).await?;
                if self.renewal_pending(&now).await? {
                    Err(already_renewing())
                } else {
                    Err(DomainError::Conflict(
                        "the certificate or its profile changed meanwhile; reload and try again"
                            .into(),
                    ))
                }
            }
            r => r,
        }
    }

    /// Whether `cert` is still stored at the version it was read with.
    async fn still_at(&self, cert: &Certificate) -> Result<bool> {
        let stored = self.store.certificate_in(&cert.org, &cert.serial).await?;
        Ok(stored.is_some_and(|c| c.version == cert.version))
    }

    /// Whether a renewal of `cert` is pending. A renewal leaves Pending only for good
    /// (issued or deleted), so a stale `pending_renewal` pointer is recognised by reading
    /// it; orders from before the pointer existed are found among the siblings.
    async fn renewal_pending(&self, cert: &Certificate) -> Result<bool> {
        if let Some(r) = &cert.pending_renewal {
            if let Some(c) = self.store.certificate_in(&cert.org, r).await? {
                if c.status == CertStatus::Pending {
                    return Ok(true);
                }
            }
        }
        let siblings = self
            .store
            .certificates_of(&cert.org, cert.profile_id)
            .await?;
        Ok(siblings.iter().any(|c| {
            c.status == CertStatus::Pending && c.renewal_of.as_ref() == Some(&cert.serial)
        }))
    }
}

fn changed_meanwhile() -> DomainError {
    DomainError::StaleVersion("the certificate was changed meanwhile; reload and try again".into())
}

fn already_renewing() -> DomainError {
    DomainError::Conflict("a renewal of this certificate is already pending".into())
}
