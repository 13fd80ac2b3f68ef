//! Issuance by the holder: inspect a link, issue with it, or redeem a one-time code.

use serde::Deserialize;
use serde_json::json;

use super::pipeline::check_unclaimed;
use super::App;
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::lifecycle::{transition, Action};
use crate::model::{
    CertStatus, Certificate, IssuanceSecret, IssuingMethod, P12Format, Profile, SecretKind,
};
use crate::ports::Write;
use crate::secret::{ExposeSecret as _, SecretString};
use crate::secrets;

/// The terms the holder accepts before issuance.
pub const TERMS: &str = "The certificate and its private key identify your organisation. \
Keep the key and its password secret, use the certificate only for your organisation's \
purposes, and tell your administrator at once if the key may be compromised so that the \
certificate can be revoked.";

/// What the holder is about to issue.
#[derive(Debug, Clone)]
pub struct IssuanceInfo {
    /// The pending certificate.
    pub certificate: Certificate,
    /// Its profile.
    pub profile: Profile,
    /// CVR.
    pub cvr: String,
    /// Organisation name.
    pub organisation_name: String,
    /// Terms to accept.
    pub terms: &'static str,
    /// When the link or code stops working.
    pub expires_at: time::OffsetDateTime,
}

/// The holder's issuance request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// Must be true.
    #[serde(default)]
    pub accept_terms: bool,
    /// PKCS#10 request (PEM); without it the key is generated here.
    #[serde(default)]
    pub csr: Option<String>,
    /// PKCS#12 format (default: the profile's).
    #[serde(default)]
    pub p12_format: Option<P12Format>,
    /// One-time-code flow only: reference number.
    #[serde(default)]
    pub reference: Option<String>,
    /// One-time-code flow only: the code.
    #[serde(default)]
    pub code: Option<SecretString>,
}

/// The issued certificate; `password` and `download_url` only for server-side keys.
#[derive(Debug, Clone)]
pub struct IssueResult {
    /// The certificate record, now issued.
    pub certificate: Certificate,
    /// PEM.
    pub certificate_pem: String,
    /// CA chain PEM.
    pub chain_pem: String,
    /// PKCS#12 password (shown once, never stored).
    pub password: Option<SecretString>,
    /// Short-lived link to the `.p12`.
    pub download_url: Option<String>,
}

/// Reads a guess loses to other guesses before it gives up with 409. Each lost race means
/// another guess was decided, so `max_code_attempts` plus a few concurrent successes bound it.
const CODE_RACE_RETRIES: usize = 32;

fn locked() -> DomainError {
    DomainError::Locked(
        "too many wrong codes: this order is locked; ask your administrator for a new code".into(),
    )
}

impl App {
    /// Loads a secret's certificate and profile and checks the secret is usable by this actor.
    async fn open_secret(
        &self,
        actor: &Actor,
        secret: &IssuanceSecret,
    ) -> Result<(Certificate, Profile)> {
        if secret.org != actor.org {
            return Err(DomainError::NotFound("issuance link"));
        }
        if secret.used_at.is_some() {
            return Err(DomainError::Conflict(
                "this issuance link has already been used".into(),
            ));
        }
        if self.now() > secret.expires_at {
            return Err(DomainError::Gone(
                "this issuance link has expired; ask your administrator to send it again".into(),
            ));
        }
        let cert = self
            .store
            .certificate_in(&actor.org, &secret.serial)
            .await?
            .ok_or(DomainError::NotFound("certificate order"))?;
        if cert.secret_hash.as_deref() != Some(secret.hash.as_str()) {
            if cert.status == CertStatus::Pending {
                return Err(DomainError::Gone(
                    "this issuance link was replaced by a newer one; use the latest link".into(),
                ));
            }
            return Err(DomainError::Conflict(
                "this certificate has already been issued".into(),
            ));
        }
        let profile = self.scoped_profile(&actor.org, cert.profile_id).await?;
        if !profile.contact_email.matches(&actor.email) && !ordered_it_directly(actor, &cert) {
            return Err(DomainError::Forbidden(
                "only the certificate profile's contact person can issue this certificate".into(),
            ));
        }
        transition(cert.status_at(self.now()), Action::Issue)?;
        check_unclaimed(secret.claim.as_ref(), self.now())?;
        check_unclaimed(cert.claim.as_ref(), self.now())?;
        Ok((cert, profile))
    }

    async fn secret_for_token(&self, token: &str) -> Result<IssuanceSecret> {
        if token.is_empty() || token.len() > 128 {
            return Err(DomainError::NotFound("issuance link"));
        }
        match self.store.secret(&secrets::hash_secret(token)).await? {
            Some(s) if matches!(s.kind, SecretKind::Link) => Ok(s),
            _ => Err(DomainError::NotFound("issuance link")),
        }
    }

    /// What a link will issue (the holder, logged in as the profile's contact).
    ///
    /// # Errors
    /// `NotFound` unknown link; `Conflict` used; `Gone` expired or replaced; `Forbidden` wrong user.
    pub async fn inspect_issuance(&self, actor: &Actor, token: &str) -> Result<IssuanceInfo> {
        let secret = self.secret_for_token(token).await?;
        let (certificate, profile) = self.open_secret(actor, &secret).await?;
        Ok(IssuanceInfo {
            cvr: certificate.org.to_string(),
            organisation_name: certificate.snapshot.organisation_name.to_string(),
            certificate,
            profile,
            terms: TERMS,
            expires_at: secret.expires_at,
        })
    }

    /// Issues with a link token.
    ///
    /// # Errors
    /// As [`App::inspect_issuance`], plus `Invalid{accept_terms|csr|p12_format}`.
    pub async fn issue_with_link(
        &self,
        actor: &Actor,
        token: &str,
        req: IssueRequest,
    ) -> Result<IssueResult> {
        if req.reference.is_some() || req.code.is_some() {
            return Err(DomainError::invalid(
                "code",
                "reference and code belong to /v1/issuance/redeem",
            ));
        }
        self.check_issue_request(&req)?;
        let secret = self.secret_for_token(token).await?;
        let (cert, profile) = self.open_secret(actor, &secret).await?;
        let claimed = match self.claim_issuance(&cert, Some(&secret)).await {
            Ok(c) => c,
            Err(DomainError::StaleVersion(_)) => return Err(self.explain_lost_claim(&cert).await),
            Err(e) => return Err(e),
        };
        self.run_issuance(actor, claimed, &profile, &req).await
    }

    /// Issues with a reference and one-time code; wrong codes are counted and lock the order.
    ///
    /// # Errors
    /// `NotFound` unknown reference; `Invalid{code}` wrong code; `Locked` after too many.
    pub async fn redeem(&self, actor: &Actor, req: IssueRequest) -> Result<IssueResult> {
        let reference = req.reference.clone().unwrap_or_default();
        let code = req.code.clone().unwrap_or_default();
        let mut missing = Vec::new();
        if reference.trim().is_empty() {
            missing.push(crate::FieldError::new(
                "reference",
                "the reference number is required",
            ));
        }
        if code.expose_secret().trim().is_empty() {
            missing.push(crate::FieldError::new(
                "code",
                "the one-time code is required",
            ));
        }
        if !missing.is_empty() {
            return Err(DomainError::Invalid(missing));
        }
        self.check_issue_request(&req)?;
        let normalised = SecretString::from(code.expose_secret().trim().to_ascii_uppercase());
        let max = self.config.max_code_attempts;
        // Every guess is decided by a commit that expects the secret's version as read, and
        // the lock is checked on that same read: a guess that loses a race reads again and
        // is counted (or refused as locked) then, so parallel wrong guesses all count and
        // no more than `max` are ever counted (DESIGN §5a).
        for _ in 0..CODE_RACE_RETRIES {
            let secret = match self.store.secret_by_reference(reference.trim()).await? {
                Some(s) if s.org == actor.org => s,
                _ => return Err(DomainError::NotFound("reference")),
            };
            let SecretKind::OneTimeCode {
                failed_attempts, ..
            } = &secret.kind
            else {
                return Err(DomainError::NotFound("reference"));
            };
            let failed = *failed_attempts;
            if failed >= max {
                return Err(locked());
            }
            let (cert, profile) = self.open_secret(actor, &secret).await?;
            if self
                .code_key()?
                .verify_code(normalised.expose_secret(), &secret.hash)
            {
                match self.claim_issuance(&cert, Some(&secret)).await {
                    Ok(claimed) => return self.run_issuance(actor, claimed, &profile, &req).await,
                    Err(DomainError::StaleVersion(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            let mut s = secret.clone();
            if let SecretKind::OneTimeCode {
                failed_attempts, ..
            } = &mut s.kind
            {
                *failed_attempts += 1;
            }
            s.version += 1;
            let event = self.audit(
                &actor.org,
                &actor.audit_name(),
                "issuance.code_failed",
                cert.serial.to_string(),
                json!({ "attempt": failed + 1 }),
            );
            match self
                .store
                .commit(vec![
                    Write::PutSecret {
                        secret: s,
                        expected: Some(secret.version),
                    },
                    Write::Audit(event),
                ])
                .await
            {
                Ok(()) => {}
                Err(DomainError::StaleVersion(_)) => continue,
                Err(e) => return Err(e),
            }
            let left = max - failed - 1;
            if left == 0 {
                return Err(locked());
            }
            return Err(DomainError::invalid(
                "code",
                format!("wrong one-time code; {left} attempts left"),
            ));
        }
        Err(DomainError::Conflict(
            "too many attempts at once on this order; try again".into(),
        ))
    }
}

/// The guide's "Proceed directly to issuance": the administrator who placed a `direct`
/// order may issue it too, after logging in again (a token issued no earlier than the
/// order, JWT `iat` having whole seconds). Mailed links and one-time codes stay the
/// contact's.
fn ordered_it_directly(actor: &Actor, cert: &Certificate) -> bool {
    cert.snapshot.issuing == IssuingMethod::Direct
        && actor.roles.contains(&Role::UserAdmin)
        && actor.audit_name() == cert.ordered_by
        && actor
            .authenticated_at
            .is_some_and(|t| t.unix_timestamp() >= cert.ordered_at.unix_timestamp())
}
