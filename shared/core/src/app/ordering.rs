//! Ordering: create profile + first order, order new, renew; and the issuance secret each needs.

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::input::{check_profile_org_rules, ProfileInput};
use super::{summarise, App};
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::model::{
    CertKind, Certificate, IdempotencyRecord, Identification, IssuanceSecret, IssuingMethod,
    Notification, Organisation, Profile, ProfileSnapshot, SecretKind,
};
use crate::ports::{Mail, Write};
use crate::secrets;

/// A client's `Idempotency-Key` with the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The key.
    pub key: String,
    /// SHA-256 of operation and body.
    pub request_hash: String,
}

/// How the issuance reaches the holder; secrets here are shown once and never stored.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// `direct`: the link to follow now.
    Link {
        /// Issuance URL.
        url: String,
    },
    /// `email`: mailed (and notified) to the contact.
    Mailed {
        /// Recipient.
        to: String,
    },
    /// `one_time_code`: the code for the admin; the reference went to the contact.
    Code {
        /// One-time code (shown once).
        code: crate::secret::SecretString,
        /// Reference number.
        reference: String,
        /// Recipient of the reference.
        mailed_to: String,
    },
    /// `api`: the IdM system issues.
    Api,
    /// An `Idempotency-Key` replay: secrets are not shown again.
    Replayed,
}

/// Answer of an ordering use case.
#[derive(Debug, Clone)]
pub struct OrderResult {
    /// The profile after the order.
    pub profile: Profile,
    /// The new pending certificate.
    pub certificate: Certificate,
    /// How it reaches the holder.
    pub delivery: Delivery,
}

/// A fresh secret and everything that announces it.
pub(crate) struct Announcement {
    pub secret: Option<IssuanceSecret>,
    pub delivery: Delivery,
    pub mail: Option<Mail>,
    pub notification: Option<Notification>,
}

fn mail_subject(kind: CertKind) -> &'static str {
    match kind {
        CertKind::Organisation => "Download an organisation certificate",
        CertKind::System => "Download a system certificate",
    }
}

/// The mail of an order to the profile's contact, and the same text as the guide's
/// notification "next to your name".
fn mailed(
    org: &Organisation,
    profile: &Profile,
    now: OffsetDateTime,
    subject: &str,
    text: String,
    url: String,
) -> (Mail, Notification) {
    let mail = Mail {
        to: profile.contact_email.to_string(),
        subject: subject.into(),
        text: text.clone(),
        links: vec![url.clone()],
    };
    let notification = Notification {
        id: Uuid::new_v4(),
        org: org.cvr.clone(),
        recipient: profile.contact_email.clone(),
        at: now,
        subject: subject.into(),
        text,
        link: Some(url),
        read: false,
    };
    (mail, notification)
}

impl App {
    /// Creates the issuance secret for a pending certificate by the profile's methods.
    pub(crate) fn announce(
        &self,
        profile: &Profile,
        org: &Organisation,
        cert: &Certificate,
    ) -> Result<Announcement> {
        let now = self.now();
        let subject = mail_subject(cert.snapshot.kind);
        let secret = |hash: String, kind: SecretKind| IssuanceSecret {
            hash,
            kind,
            org: org.cvr.clone(),
            serial: cert.serial.clone(),
            created_at: now,
            expires_at: now + self.config.issuance_ttl,
            used_at: None,
            claim: None,
            version: 1,
        };
        let expires = self.config.issuance_ttl.whole_days();
        match (cert.snapshot.identification, cert.snapshot.issuing) {
            (Identification::Api, _) | (_, IssuingMethod::Api) => Ok(Announcement {
                secret: None,
                delivery: Delivery::Api,
                mail: None,
                notification: None,
            }),
            (Identification::OneTimeCode, _) => {
                let code = secrets::new_one_time_code();
                let reference = secrets::new_reference();
                let url = format!("{}/redeem", self.config.public_url);
                let text = format!(
                    "A certificate \"{}\" has been ordered for {} (CVR {}).\n\n\
                     Your reference number is {reference}. Your administrator has the one-time code.\n\
                     Go to {url}, log in, and enter the reference and the code within {expires} days.\n",
                    cert.snapshot.name, org.name, org.cvr
                );
                // The guide's notification "next to your name" for one-time-code
                // orders too: the reference and where to redeem it, never the code.
                let (mail, notification) = mailed(org, profile, now, subject, text, url);
                Ok(Announcement {
                    secret: Some(secret(
                        self.code_key()?
                            .hash_code(crate::secret::ExposeSecret::expose_secret(&code)),
                        SecretKind::OneTimeCode {
                            reference: reference.clone(),
                            failed_attempts: 0,
                        },
                    )),
                    delivery: Delivery::Code {
                        code,
                        reference,
                        mailed_to: profile.contact_email.to_string(),
                    },
                    mail: Some(mail),
                    notification: Some(notification),
                })
            }
            (_, issuing) => {
                let token = secrets::new_token();
                let url = self.issuance_url(&token);
                let s = Some(secret(secrets::hash_secret(&token), SecretKind::Link));
                if issuing == IssuingMethod::Direct {
                    return Ok(Announcement {
                        secret: s,
                        delivery: Delivery::Link { url },
                        mail: None,
                        notification: None,
                    });
                }
                let text = format!(
                    "A certificate \"{}\" has been ordered for {} (CVR {}).\n\n\
                     Follow this link, log in and accept the terms to issue and download it \
                     (valid for {expires} days):\n{url}\n",
                    cert.snapshot.name, org.name, org.cvr
                );
                let (mail, notification) = mailed(org, profile, now, subject, text, url);
                Ok(Announcement {
                    secret: s,
                    delivery: Delivery::Mailed {
                        to: profile.contact_email.to_string(),
                    },
                    mail: Some(mail),
                    notification: Some(notification),
                })
            }
        }
    }

    /// Sends a mail after its transaction committed; a failure leaves the order intact
    /// (the admin can send the link again), so it is logged, not returned.
    pub(crate) async fn send_after_commit(&self, mail: Option<Mail>) {
        if let Some(m) = mail {
            if let Err(e) = self.mailer.send(&m).await {
                tracing::warn!(error = %e, to = %m.to, subject = %m.subject, "mail not sent");
            }
        }
    }

    pub(super) fn new_order(
        &self,
        actor: &Actor,
        org: &Organisation,
        profile: &Profile,
        renewal_of: Option<Serial>,
    ) -> Certificate {
        Certificate::pending_order(
            secrets::new_serial(),
            profile,
            ProfileSnapshot::of(profile, org.name.clone()),
            self.now(),
            actor.audit_name(),
            renewal_of,
        )
    }

    async fn replay(
        &self,
        actor: &Actor,
        rec: IdempotencyRecord,
        key: &IdempotencyKey,
    ) -> Result<OrderResult> {
        if rec.request_hash != key.request_hash {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                "this key was already used with a different request",
            ));
        }
        let profile = self.scoped_profile(&actor.org, rec.profile_id).await?;
        let certificate = self.scoped_certificate(&actor.org, &rec.serial).await?;
        Ok(OrderResult {
            profile,
            certificate,
            delivery: Delivery::Replayed,
        })
    }

    pub(super) async fn check_replay(
        &self,
        actor: &Actor,
        idem: Option<&IdempotencyKey>,
    ) -> Result<Option<OrderResult>> {
        if let Some(k) = idem {
            if k.key.is_empty() || k.key.len() > 255 || !k.key.is_ascii() {
                return Err(DomainError::invalid(
                    "Idempotency-Key",
                    "must be 1 to 255 ASCII characters",
                ));
            }
            if let Some(rec) = self.store.idempotency(&actor.org, &k.key).await? {
                return self.replay(actor, rec, k).await.map(Some);
            }
        }
        Ok(None)
    }

    /// Commits an order's writes (plus announcement and idempotency record), then mails.
    #[allow(clippy::too_many_arguments)]
    async fn commit_order(
        &self,
        actor: &Actor,
        org: &Organisation,
        profile: Profile,
        mut certificate: Certificate,
        mut writes: Vec<Write>,
        action: &str,
        idem: Option<&IdempotencyKey>,
    ) -> Result<OrderResult> {
        let ann = self.announce(&profile, org, &certificate)?;
        certificate.secret_hash = ann.secret.as_ref().map(|s| s.hash.clone());
        writes.push(Write::PutCertificate {
            cert: certificate.clone(),
            expected: None,
        });
        if let Some(s) = ann.secret {
            writes.push(Write::PutSecret {
                secret: s,
                expected: None,
            });
        }
        if let Some(n) = ann.notification {
            writes.push(Write::Notify(n));
        }
        writes.push(Write::Audit(self.audit(
            &org.cvr,
            &actor.audit_name(),
            action,
            certificate.serial.to_string(),
            json!({
                "profile_id": profile.id,
                "renewal_of": certificate.renewal_of,
                "issuing": certificate.snapshot.issuing.as_str(),
                "identification": certificate.snapshot.identification.as_str(),
            }),
        )));
        if let Some(k) = idem {
            writes.push(Write::Idempotency(IdempotencyRecord {
                org: org.cvr.clone(),
                key: k.key.clone(),
                request_hash: k.request_hash.clone(),
                profile_id: profile.id,
                serial: certificate.serial.clone(),
                created_at: self.now(),
            }));
        }
        if let Err(e) = self.store.commit(writes).await {
            // A concurrent request with the same key won the race: answer as a replay.
            if matches!(e, DomainError::StaleVersion(_)) {
                if let Some(r) = self.check_replay(actor, idem).await? {
                    return Ok(r);
                }
            }
            return Err(e);
        }
        self.send_after_commit(ann.mail).await;
        Ok(OrderResult {
            profile,
            certificate,
            delivery: ann.delivery,
        })
    }

    /// Creates a certificate profile and orders its first certificate (user_admin).
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` naming each bad field; `Unavailable`.
    pub async fn create_profile(
        &self,
        actor: &Actor,
        input: ProfileInput,
        idem: Option<IdempotencyKey>,
    ) -> Result<OrderResult> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let mut profile = input.validate(&org, self.now())?;
        if let Some(r) = self.check_replay(actor, idem.as_ref()).await? {
            return Ok(r);
        }
        let cert = self.new_order(actor, &org, &profile, None);
        profile.latest = summarise(std::slice::from_ref(&cert));
        let writes = vec![
            Write::PutProfile {
                profile: profile.clone(),
                expected: None,
            },
            Write::Audit(self.audit(
                &org.cvr,
                &actor.audit_name(),
                "profile.create",
                profile.id.to_string(),
                json!({ "name": profile.name, "type": profile.kind.as_str() }),
            )),
        ];
        self.commit_order(
            actor,
            &org,
            profile,
            cert,
            writes,
            "certificate.order",
            idem.as_ref(),
        )
        .await
    }

    /// Orders a new certificate under a profile, with its current settings (user_admin).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Invalid` when the organisation's settings no longer allow
    /// the profile's seal or rights; `StaleVersion` on a race.
    pub async fn order_certificate(
        &self,
        actor: &Actor,
        profile_id: Uuid,
        idem: Option<IdempotencyKey>,
    ) -> Result<OrderResult> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let profile = self.scoped_profile(&org.cvr, profile_id).await?;
        if let Some(r) = self.check_replay(actor, idem.as_ref()).await? {
            return Ok(r);
        }
        self.order_under(
            actor,
            &org,
            profile,
            None,
            "certificate.order",
            idem.as_ref(),
        )
        .await
    }

    pub(super) async fn order_under(
        &self,
        actor: &Actor,
        org: &Organisation,
        profile: Profile,
        renewal_of: Option<&Certificate>,
        action: &str,
        idem: Option<&IdempotencyKey>,
    ) -> Result<OrderResult> {
        check_profile_org_rules(org, &profile)?;
        let cert = self.new_order(actor, org, &profile, renewal_of.map(|c| c.serial.clone()));
        let updated = self.summary_with_added(&profile, &cert).await?;
        let mut writes = vec![Write::PutProfile {
            profile: updated.clone(),
            expected: Some(profile.version),
        }];
        if let Some(old) = renewal_of {
            // One pending renewal per certificate, decided by the store: the renewed
            // certificate names its renewal, written with the version that was checked.
            let mut marked = old.clone();
            marked.pending_renewal = Some(cert.serial.clone());
            marked.version += 1;
            writes.push(Write::PutCertificate {
                cert: marked,
                expected: Some(old.version),
            });
        }
        self.commit_order(actor, org, updated, cert, writes, action, idem)
            .await
    }
}
