//! System certificates as callers (DESIGN §5b): who a TLS client certificate is, API
//! issuance (`POST /v1/certificates/{serial}/issue`) for orders with identification `api`,
//! and self-renewal (`POST /v1/certificates/self/renew`).

use serde::Deserialize;
use serde_json::json;

use uuid::Uuid;

use super::input::check_profile_org_rules;
use super::issuance::{IssueRequest, IssueResult};
use super::pipeline::{check_unclaimed, Claimed, CLAIM_TTL};
use super::App;
use crate::auth::Machine;
use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::lifecycle::{transition, Action};
use crate::model::{CertKind, CertStatus, Certificate, Identification, IssuanceClaim, P12Format};
use crate::ports::Write;

/// Races with unrelated writes to the certificate or its profile a self-renewal rides out
/// (each lost race means another change went through).
const SELF_RENEW_TRIES: u32 = 8;

/// The body of self-renewal: the new key's request. No server-side key: the point of
/// self-renewal is that the key never leaves the system that uses it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfRenewRequest {
    /// PKCS#10 request (PEM) for the new key.
    pub csr: String,
}

/// The body of API issuance: the holder's request without terms (the organisation's IdM
/// accepted them when it was given the system certificate) or one-time codes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiIssueRequest {
    /// PKCS#10 request (PEM); without it the key is generated here, in a PKCS#12.
    #[serde(default)]
    pub csr: Option<String>,
    /// PKCS#12 format (default: the profile's); not with a CSR.
    #[serde(default)]
    pub p12_format: Option<P12Format>,
}

impl App {
    /// The system certificate behind a TLS client certificate whose chain to our CA the
    /// TLS layer already verified. Read from the store on every request, so a revocation
    /// takes effect on the next request, not at the next CRL.
    ///
    /// # Errors
    /// `Unauthenticated` when the store does not know the certificate (or knows another
    /// one under its serial), or it is not issued (pending, revoked, expired);
    /// `Forbidden` for an organisation certificate (only system certificates call the
    /// API); `Unavailable` from the store.
    pub async fn authenticate_machine(
        &self,
        serial: &Serial,
        fingerprint_sha256: &str,
    ) -> Result<Machine> {
        let unknown = || {
            DomainError::Unauthenticated(
                "the client certificate is not a certificate this service issued".into(),
            )
        };
        // Organisation-blind on purpose: the presented certificate names the organisation.
        let cert = self
            .store
            .certificate_any_org(serial)
            .await?
            .ok_or_else(unknown)?;
        // The serial alone could be claimed by a certificate from another CA that the TLS
        // layer also trusts (an older CA); the fingerprint pins the exact certificate.
        if cert.fingerprint.as_deref() != Some(fingerprint_sha256) {
            return Err(unknown());
        }
        match cert.status_at(self.now()) {
            CertStatus::Issued => {}
            CertStatus::Revoked => {
                return Err(DomainError::Unauthenticated(
                    "the client certificate is revoked".into(),
                ))
            }
            CertStatus::Expired => {
                return Err(DomainError::Unauthenticated(
                    "the client certificate has expired".into(),
                ))
            }
            CertStatus::Pending => return Err(unknown()),
        }
        if cert.snapshot.kind != CertKind::System {
            return Err(DomainError::Forbidden(
                "only system certificates may call the API over mutual TLS; this is an \
                 organisation certificate"
                    .into(),
            ));
        }
        Ok(Machine {
            serial: cert.serial,
            org: cert.org,
            rights: cert.snapshot.system_rights,
        })
    }

    /// Records a machine call refused for want of a right (403), so that the organisation
    /// sees what its system tried.
    ///
    /// # Errors
    /// `Unavailable` from the store.
    pub async fn record_machine_refusal(
        &self,
        machine: &Machine,
        operation: &str,
        needed: &str,
    ) -> Result<()> {
        let actor = machine.actor().audit_name();
        let event = self.audit(
            &machine.org,
            &actor,
            "api.refused",
            operation.to_owned(),
            json!({ "needed": needed }),
        );
        self.store.commit(vec![Write::Audit(event)]).await
    }

    /// Issues a pending order whose identification is `api`, for a system certificate with
    /// `issuance_api`, through the claimed pipeline (DESIGN §5a).
    ///
    /// # Errors
    /// `Forbidden` without `issuance_api`; `Invalid{csr|p12_format}` before anything is
    /// claimed (a weak key or bad signature is `Invalid{csr}`); `NotFound` unknown or
    /// another organisation's serial; `Conflict` when the order is not for API issuance,
    /// already issued, or being issued; `Unavailable` from the CA, objects or store.
    pub async fn issue_for_machine(
        &self,
        machine: &Machine,
        serial: &Serial,
        body: ApiIssueRequest,
    ) -> Result<IssueResult> {
        if !machine.rights.issuance_api {
            return Err(DomainError::Forbidden(
                "this system certificate does not have the right issuance_api".into(),
            ));
        }
        let req = IssueRequest {
            accept_terms: true,
            csr: body.csr,
            p12_format: body.p12_format,
            reference: None,
            code: None,
        };
        self.check_issue_request(&req)?;
        let cert = self
            .store
            .certificate_in(&machine.org, serial)
            .await?
            .ok_or(DomainError::NotFound("certificate order"))?;
        // 409, not 422: nothing in the request could make it right; the order's state
        // (its identification) forbids it.
        if cert.snapshot.identification != Identification::Api {
            return Err(DomainError::Conflict(format!(
                "this order is issued by its holder ({}), not over the API; order it with \
                 identification api",
                cert.snapshot.identification.as_str()
            )));
        }
        transition(cert.status_at(self.now()), Action::Issue)?;
        check_unclaimed(cert.claim.as_ref(), self.now())?;
        let profile = self.scoped_profile(&machine.org, cert.profile_id).await?;
        let claimed = match self.claim_issuance(&cert, None).await {
            Ok(c) => c,
            Err(DomainError::StaleVersion(_)) => return Err(self.explain_lost_claim(&cert).await),
            Err(e) => return Err(e),
        };
        self.run_issuance(&machine.actor(), claimed, &profile, &req)
            .await
    }

    /// Self-renewal (API.md "System certificates"): an issued, unexpired system certificate
    /// renews itself with a CSR; the new certificate is ordered under the same profile
    /// (with the profile's current rights and data) and issued at once. The old one stays
    /// valid until it expires; being renewed, it gets no more renewal reminders.
    ///
    /// Concurrency (DESIGN §5a): the order is written **already claimed**, in one
    /// conditional commit that also marks the old certificate's `pending_renewal` expecting
    /// the version that was read. Of two concurrent self-renewals exactly one commits and
    /// signs; the other gets 409. A certificate renews itself once: a second call after the
    /// renewal was issued is 409 naming the new serial. A renewal this certificate ordered
    /// whose signing failed (released claim) is issued by the next call instead of a new
    /// order; a renewal an administrator ordered is left to its holder (409).
    ///
    /// # Errors
    /// `Invalid{csr}` (too big, weak key, bad signature) before anything is
    /// written; `Conflict` when a renewal is pending, being issued or already issued, or
    /// the certificate changed meanwhile; `Invalid` when the organisation's rules no longer
    /// allow the profile; `Unavailable` from the CA or store.
    pub async fn self_renew(
        &self,
        machine: &Machine,
        body: SelfRenewRequest,
    ) -> Result<IssueResult> {
        let req = IssueRequest {
            accept_terms: true,
            csr: Some(body.csr),
            p12_format: None,
            reference: None,
            code: None,
        };
        self.check_issue_request(&req)?;
        let actor = machine.actor();
        for attempt in 0..SELF_RENEW_TRIES {
            let old = self
                .store
                .certificate_in(&machine.org, &machine.serial)
                .await?
                .ok_or(DomainError::NotFound("certificate"))?;
            transition(old.status_at(self.now()), Action::Renew)?;
            if let Some(existing) = self.own_renewal(&old).await? {
                return self.finish_own_renewal(machine, &old, existing, &req).await;
            }
            let org = self
                .store
                .organisation(&machine.org)
                .await?
                .ok_or(DomainError::NotFound("organisation"))?;
            let profile = self.scoped_profile(&machine.org, old.profile_id).await?;
            check_profile_org_rules(&org, &profile)?;
            let now = self.now();
            let claim = IssuanceClaim {
                attempt: Uuid::new_v4(),
                until: now + CLAIM_TTL,
            };
            let mut cert = self.new_order(&actor, &org, &profile, Some(old.serial.clone()));
            cert.claim = Some(claim.clone());
            let updated = self.summary_with_added(&profile, &cert).await?;
            let mut marked = old.clone();
            marked.pending_renewal = Some(cert.serial.clone());
            marked.version += 1;
            let writes = vec![
                Write::PutProfile {
                    profile: updated,
                    expected: Some(profile.version),
                },
                Write::PutCertificate {
                    cert: marked,
                    expected: Some(old.version),
                },
                Write::PutCertificate {
                    cert: cert.clone(),
                    expected: None,
                },
                Write::Audit(self.audit(
                    &org.cvr,
                    &actor.audit_name(),
                    "certificate.self_renew",
                    cert.serial.to_string(),
                    json!({ "profile_id": profile.id, "renewal_of": old.serial }),
                )),
            ];
            match self.store.commit(writes).await {
                Ok(()) => {
                    let claimed = Claimed {
                        attempt: claim.attempt,
                        cert,
                        secret: None,
                    };
                    return self.run_issuance(&actor, claimed, &profile, &req).await;
                }
                // Another write to the certificate or profile (a job, an administrator, a
                // concurrent self-renewal) came first: read again. A concurrent
                // self-renewal then shows as this certificate's pending or issued renewal
                // (409 above), anything else is simply retried.
                Err(DomainError::StaleVersion(_)) if attempt + 1 < SELF_RENEW_TRIES => continue,
                Err(DomainError::StaleVersion(_)) => {
                    return Err(self.explain_lost_self_renewal(&old).await)
                }
                Err(e) => return Err(e),
            }
        }
        Err(DomainError::Conflict(
            "too many concurrent changes of this certificate's profile; try again".into(),
        ))
    }

    /// The renewal of `old` this certificate ordered itself and that is still pending (its
    /// signing failed), if any. Another pending or issued renewal is a 409.
    async fn own_renewal(&self, old: &Certificate) -> Result<Option<Certificate>> {
        let Some(next) = &old.pending_renewal else {
            return Ok(None);
        };
        let Some(c) = self.store.certificate_in(&old.org, next).await? else {
            return Ok(None);
        };
        match c.status {
            CertStatus::Pending if c.ordered_by == format!("system:{}", old.serial) => Ok(Some(c)),
            CertStatus::Pending => Err(DomainError::Conflict(format!(
                "a renewal of this certificate ({}) was ordered by an administrator and \
                 waits for its holder",
                c.serial
            ))),
            _ => Err(already_renewed(&c)),
        }
    }

    /// Issues a pending self-renewal left by a failed earlier call, through the claim.
    async fn finish_own_renewal(
        &self,
        machine: &Machine,
        old: &Certificate,
        pending: Certificate,
        req: &IssueRequest,
    ) -> Result<IssueResult> {
        check_unclaimed(pending.claim.as_ref(), self.now())?;
        let profile = self
            .scoped_profile(&machine.org, pending.profile_id)
            .await?;
        let claimed = match self.claim_issuance(&pending, None).await {
            Ok(c) => c,
            Err(DomainError::StaleVersion(_)) => {
                return Err(self.explain_lost_self_renewal(old).await)
            }
            Err(e) => return Err(e),
        };
        self.run_issuance(&machine.actor(), claimed, &profile, req)
            .await
    }

    /// The 409 for a self-renewal that lost a race, from a fresh read.
    async fn explain_lost_self_renewal(&self, old: &Certificate) -> DomainError {
        let fresh = match self.store.certificate_in(&old.org, &old.serial).await {
            Ok(Some(c)) => c,
            Ok(None) => return DomainError::Conflict("this certificate was deleted".into()),
            Err(e) => return e,
        };
        match self.own_renewal(&fresh).await {
            Ok(Some(_)) => DomainError::Conflict(
                "this certificate is renewing itself right now (another call); use the \
                 certificate that call returns"
                    .into(),
            ),
            Ok(None) => DomainError::Conflict(
                "the certificate or its profile changed meanwhile; try again".into(),
            ),
            Err(e) => e,
        }
    }
}

/// 409: a certificate renews itself once; the renewal is the certificate to use.
fn already_renewed(renewal: &Certificate) -> DomainError {
    DomainError::Conflict(format!(
        "this certificate has already been renewed (serial {}); renew with that one",
        renewal.serial
    ))
}
