//! System certificates as callers (DESIGN §5b): who a TLS client certificate is, and API
//! issuance (`POST /v1/certificates/{serial}/issue`) for orders with identification `api`.

use serde::Deserialize;
use serde_json::json;

use super::issuance::{IssueRequest, IssueResult};
use super::pipeline::check_unclaimed;
use super::App;
use crate::auth::Machine;
use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::lifecycle::{transition, Action};
use crate::model::{CertKind, CertStatus, Identification, P12Format};
use crate::ports::Write;

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
        let cert = self.store.certificate(serial).await?.ok_or_else(unknown)?;
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
            .certificate(serial)
            .await?
            .filter(|c| c.org == machine.org)
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
}
