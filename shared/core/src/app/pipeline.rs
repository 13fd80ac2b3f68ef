//! The issuance pipeline (DESIGN §5a): claim, sign, store, presign, commit.
//!
//! 1. **Claim**: one conditional commit marks the pending certificate (and the secret it
//!    is issued with, if any) with an attempt id and a claim expiry, expecting the versions
//!    that were read. Of concurrent attempts exactly one wins; the others get 409. It is a
//!    lease ([`Store::commit_lease`](crate::ports::Store::commit_lease)): the store need
//!    not wait for the disk, as a claim lost in a power failure only frees the link.
//! 2. Only the claimant **signs** (so no serial is ever signed twice, RFC 5280 §4.1.2.2),
//!    stores the PKCS#12 under a key unique to the attempt, and **presigns** its link.
//! 3. **Commit** the issued certificate and the used secret, expecting the claimed versions.
//!
//! A failed commit releases the claim (the link works again) and removes only the
//! attempt's own object; a crashed claimant's claim lapses after [`CLAIM_TTL`]. Link,
//! one-time code and (later) API issuance all enter through [`App::claim_issuance`] and
//! finish with [`App::run_issuance`].

use serde_json::json;
use time::Duration;
use uuid::Uuid;

use super::issuance::{IssueRequest, IssueResult};
use super::{validity, App};
use crate::auth::Actor;
use crate::error::{DomainError, Result};
use crate::model::{CertStatus, Certificate, IssuanceClaim, IssuanceSecret, KeyAlgorithm, Profile};
use crate::ports::{CertSpec, KeySource, Write};
use crate::secrets;

/// How long a claim holds. Signing takes well under a second (a KMS call included), so a
/// claim older than this belongs to a process that died; the link then works again.
pub const CLAIM_TTL: Duration = Duration::minutes(2);

/// Profile races the final commit of a claimed issuance rides out (each lost race means
/// another change of the profile went through).
const FINAL_COMMIT_TRIES: u32 = 32;

/// A won claim: the certificate and secret as stored after the claim commit.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    /// The attempt that holds the claim.
    pub attempt: Uuid,
    /// The pending certificate, claimed.
    pub cert: Certificate,
    /// The secret it is issued with (none for API issuance), claimed.
    pub secret: Option<IssuanceSecret>,
}

/// The PKCS#12 object of one attempt: unique per attempt, so a failed attempt can remove
/// its own file without touching another's; the last segment is the download file name.
pub fn p12_key(attempt: Uuid, serial: &crate::ids::Serial) -> String {
    format!("p12/{}/{serial}.p12", attempt.simple())
}

/// 409 for an issuance that lost to another: why, as the holder should read it.
fn busy(cert: Option<&Certificate>, now: time::OffsetDateTime) -> DomainError {
    match cert {
        Some(c) if c.status != CertStatus::Pending => {
            DomainError::Conflict("this certificate has already been issued".into())
        }
        Some(c) if c.claim.as_ref().is_some_and(|k| k.live(now)) => DomainError::Conflict(
            "this certificate is being issued right now; reload in a moment".into(),
        ),
        Some(_) => DomainError::Conflict(
            "this certificate order was changed meanwhile; reload and try again".into(),
        ),
        None => DomainError::Conflict("this certificate order was deleted".into()),
    }
}

/// Refuses a certificate or secret another attempt is issuing with right now.
pub(crate) fn check_unclaimed(
    claim: Option<&IssuanceClaim>,
    now: time::OffsetDateTime,
) -> Result<()> {
    if claim.is_some_and(|c| c.live(now)) {
        return Err(DomainError::Conflict(
            "this certificate is being issued right now; reload in a moment".into(),
        ));
    }
    Ok(())
}

impl App {
    /// Checks the holder's request before anything is claimed, so that bad input never
    /// holds the link.
    ///
    /// # Errors
    /// `Invalid{accept_terms|p12_format|csr}`.
    pub(crate) fn check_issue_request(&self, req: &IssueRequest) -> Result<()> {
        if !req.accept_terms {
            return Err(DomainError::invalid(
                "accept_terms",
                "you must accept the terms and conditions",
            ));
        }
        if let Some(csr) = &req.csr {
            if req.p12_format.is_some() {
                return Err(DomainError::invalid(
                    "p12_format",
                    "a PKCS#12 format cannot be chosen with a CSR",
                ));
            }
            if csr.len() > 64 * 1024 {
                return Err(DomainError::invalid(
                    "csr",
                    "the CSR must be at most 64 KiB",
                ));
            }
            self.ca.check_csr(csr)?;
        }
        Ok(())
    }

    /// Claims a pending certificate, and the secret it is issued with, in one conditional
    /// commit expecting the versions given.
    ///
    /// # Errors
    /// `StaleVersion` when either moved on since it was read (another attempt won, a wrong
    /// code was counted, the order was deleted or its link replaced); callers explain it
    /// with [`App::explain_lost_claim`] or read again. `Unavailable` from the store.
    pub(crate) async fn claim_issuance(
        &self,
        cert: &Certificate,
        secret: Option<&IssuanceSecret>,
    ) -> Result<Claimed> {
        let now = self.now();
        let claim = IssuanceClaim {
            attempt: Uuid::new_v4(),
            until: now + CLAIM_TTL,
        };
        let mut c = cert.clone();
        c.claim = Some(claim.clone());
        c.version += 1;
        let mut writes = vec![Write::PutCertificate {
            cert: c.clone(),
            expected: Some(cert.version),
        }];
        let s = secret.map(|s| {
            let mut s2 = s.clone();
            s2.claim = Some(claim.clone());
            s2.version += 1;
            writes.push(Write::PutSecret {
                secret: s2.clone(),
                expected: Some(s.version),
            });
            s2
        });
        // A lease: lost in a power failure, the link simply works again.
        if let Err(e) = self.store.commit_lease(writes).await {
            // The answer of a commit can be lost after it took effect: a claim that holds
            // our attempt id is ours (the whole batch applied), so go on as the claimant
            // rather than leave the link blocked until the claim lapses.
            let ours = !matches!(e, DomainError::StaleVersion(_))
                && matches!(
                    self.store.certificate_in(&cert.org, &cert.serial).await,
                    Ok(Some(stored)) if stored.claim.as_ref().map(|k| k.attempt) == Some(claim.attempt)
                );
            if !ours {
                return Err(e);
            }
            tracing::warn!(serial = %cert.serial, error = %e, "issuance claim committed although the store reported an error");
        }
        Ok(Claimed {
            attempt: claim.attempt,
            cert: c,
            secret: s,
        })
    }

    /// The 409 for a claim that failed with `StaleVersion`, from a fresh read.
    pub(crate) async fn explain_lost_claim(&self, cert: &Certificate) -> DomainError {
        match self.store.certificate_in(&cert.org, &cert.serial).await {
            Ok(c) => busy(c.as_ref(), self.now()),
            Err(e) => e,
        }
    }

    /// Gives a claim back after a failed attempt, so the link works again at once. Only
    /// this attempt's claim is removed (expected = the claimed versions); when that fails
    /// the claim lapses by itself after [`CLAIM_TTL`].
    async fn release(&self, claimed: &Claimed) {
        let mut c = claimed.cert.clone();
        c.claim = None;
        c.version += 1;
        let mut writes = vec![Write::PutCertificate {
            cert: c,
            expected: Some(claimed.cert.version),
        }];
        if let Some(s) = &claimed.secret {
            let mut s2 = s.clone();
            s2.claim = None;
            s2.version += 1;
            writes.push(Write::PutSecret {
                secret: s2,
                expected: Some(s.version),
            });
        }
        if let Err(e) = self.store.commit_lease(writes).await {
            tracing::warn!(serial = %claimed.cert.serial, error = %e, "issuance claim not released; it lapses by itself");
        }
    }

    /// Signs, stores and commits a claimed issuance (the claimant only).
    ///
    /// # Errors
    /// `Invalid` when the CA refuses the spec or CSR; `Unavailable` from the CA, objects or
    /// store; `Conflict` when the order changed under the claim. In every error case the
    /// claim is released, this attempt's object removed, and nothing half-written stays.
    pub(crate) async fn run_issuance(
        &self,
        actor: &Actor,
        claimed: Claimed,
        profile: &Profile,
        req: &IssueRequest,
    ) -> Result<IssueResult> {
        let r = self.sign_and_commit(actor, &claimed, profile, req).await;
        if r.is_err() {
            self.release(&claimed).await;
        }
        r
    }

    async fn sign_and_commit(
        &self,
        actor: &Actor,
        claimed: &Claimed,
        profile: &Profile,
        req: &IssueRequest,
    ) -> Result<IssueResult> {
        let cert = &claimed.cert;
        let now = self.now();
        let spec = CertSpec {
            serial: cert.serial.clone(),
            kind: cert.snapshot.kind,
            cvr: cert.org.clone(),
            organisation_name: cert.snapshot.organisation_name.to_string(),
            profile_id: profile.id,
            common_name: cert.snapshot.name.to_string(),
            email: cert
                .snapshot
                .certificate_email
                .as_ref()
                .map(|e| e.to_string()),
            not_before: now,
            not_after: now + validity(),
            crl_partition: self.crl_partition_of(&cert.serial),
        };
        let (key, password) = match &req.csr {
            Some(csr) => (KeySource::Csr(csr.clone()), None),
            None => {
                let password = secrets::new_password();
                let algorithm: KeyAlgorithm = cert.snapshot.key_algorithm;
                let format = req.p12_format.unwrap_or(cert.snapshot.p12_format);
                (
                    KeySource::Generate {
                        algorithm,
                        format,
                        password: password.clone(),
                    },
                    Some(password),
                )
            }
        };
        let material = self.ca.issue(spec.clone(), key).await?;
        let object_key = p12_key(claimed.attempt, &cert.serial);
        // The link is made before the commit, so that a committed issuance always answers
        // with its password and link.
        let download_url = match &material.pkcs12 {
            Some(p12) => {
                let stored = async {
                    self.objects
                        .put(&object_key, p12.clone(), "application/x-pkcs12")
                        .await?;
                    self.objects
                        .presign(&object_key, self.config.download_ttl, now)
                        .await
                }
                .await;
                match stored {
                    Ok(url) => Some(url),
                    Err(e) => {
                        let _ = self.objects.delete(&object_key).await;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let mut new = cert.clone();
        new.status = CertStatus::Issued;
        new.issued_at = Some(now);
        new.issued_by = Some(actor.audit_name());
        new.not_before = Some(spec.not_before);
        new.not_after = Some(spec.not_after);
        new.subject = Some(material.subject.clone());
        new.fingerprint = Some(material.fingerprint.clone());
        new.certificate_pem = Some(material.certificate_pem.clone());
        new.secret_hash = None;
        new.claim = None;
        new.version += 1;
        let mut extra = Vec::new();
        if let Some(s) = &claimed.secret {
            let mut used = s.clone();
            used.used_at = Some(now);
            used.claim = None;
            used.version += 1;
            extra.push(Write::PutSecret {
                secret: used,
                expected: Some(s.version),
            });
        }
        // The pre-signed OCSP answers ride in the issuing commit: one transaction (and one
        // fsync) fewer per issuance, and no window in which the certificate is stored
        // without them. A responder that cannot sign now must not fail the issuance: the
        // answers are then signed after the commit, as a status change does.
        let presigned = match self.presign_ocsp(&new, now).await {
            Ok(rec) => rec,
            Err(e) => {
                tracing::warn!(serial = %cert.serial, error = %e, "OCSP responses not pre-signed with the issuance");
                None
            }
        };
        let ocsp_committed = presigned.is_some();
        extra.extend(presigned.map(Write::PutOcsp));
        extra.push(Write::Audit(self.audit(
            &actor.org,
            &actor.audit_name(),
            "certificate.issue",
            cert.serial.to_string(),
            json!({ "key": if req.csr.is_some() { "csr" } else { "server" }, "fingerprint": material.fingerprint }),
        )));
        if let Err(e) = self
            .commit_certificate_change_within(cert, Some(new.clone()), extra, FINAL_COMMIT_TRIES)
            .await
        {
            // The answer of a commit can be lost after it took effect: look before undoing.
            let committed = matches!(
                self.store.certificate_in(&cert.org, &cert.serial).await,
                Ok(Some(c)) if c.status == CertStatus::Issued && c.fingerprint == new.fingerprint
            );
            if !committed {
                // A signed certificate was thrown away: its serial may be signed again on
                // the next attempt, which RFC 5280 §4.1.2.2 frowns on. Say so loudly.
                tracing::warn!(serial = %cert.serial, error = %e, "signed but not committed; the order stays pending");
                // Nothing half-done: the order stays pending; only this attempt's file goes.
                if material.pkcs12.is_some() {
                    let _ = self.objects.delete(&object_key).await;
                }
                return Err(match e {
                    DomainError::StaleVersion(_) => DomainError::Conflict(
                        "this certificate was issued or changed meanwhile".into(),
                    ),
                    other => other,
                });
            }
            tracing::warn!(serial = %cert.serial, error = %e, "issuance committed although the store reported an error");
        }
        if !ocsp_committed {
            self.status_changed(&new, false).await;
        }
        Ok(IssueResult {
            certificate: new,
            certificate_pem: material.certificate_pem,
            chain_pem: material.chain_pem,
            password,
            download_url,
        })
    }
}
