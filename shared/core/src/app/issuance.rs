//! Issuance by the holder: inspect a link, issue with it, or redeem a one-time code.

use serde::Deserialize;
use serde_json::json;

use super::{validity, App};
use crate::auth::Actor;
use crate::error::{DomainError, Result};
use crate::lifecycle::{transition, Action};
use crate::model::{
    CertKind, CertStatus, Certificate, IssuanceSecret, KeyAlgorithm, P12Format, Profile, SecretKind,
};
use crate::ports::{CertSpec, KeySource, Write};
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
            .certificate(&secret.serial)
            .await?
            .filter(|c| c.org == actor.org)
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
        if !profile.contact_email.matches(&actor.email) {
            return Err(DomainError::Forbidden(
                "only the certificate profile's contact person can issue this certificate".into(),
            ));
        }
        transition(cert.status_at(self.now()), Action::Issue)?;
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
        let secret = self.secret_for_token(token).await?;
        let (cert, profile) = self.open_secret(actor, &secret).await?;
        self.issue_now(actor, secret, cert, profile, req).await
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
        let max = self.config.max_code_attempts;
        if failed >= max {
            return Err(DomainError::Locked(
                "too many wrong codes: this order is locked; ask your administrator for a new code"
                    .into(),
            ));
        }
        let (cert, profile) = self.open_secret(actor, &secret).await?;
        let normalised = SecretString::from(code.expose_secret().trim().to_ascii_uppercase());
        if secrets::hash_secret(normalised.expose_secret()) != secret.hash {
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
            self.store
                .commit(vec![
                    Write::PutSecret {
                        secret: s,
                        expected: Some(secret.version),
                    },
                    Write::Audit(event),
                ])
                .await?;
            let left = max - failed - 1;
            if left == 0 {
                return Err(DomainError::Locked(
                    "too many wrong codes: this order is locked; ask your administrator for a new code".into(),
                ));
            }
            return Err(DomainError::invalid(
                "code",
                format!("wrong one-time code; {left} attempts left"),
            ));
        }
        self.issue_now(actor, secret, cert, profile, req).await
    }

    async fn issue_now(
        &self,
        actor: &Actor,
        secret: IssuanceSecret,
        cert: Certificate,
        profile: Profile,
        req: IssueRequest,
    ) -> Result<IssueResult> {
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
            seal: cert.snapshot.seal_generation && cert.snapshot.kind == CertKind::Organisation,
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
        let object_key = format!("p12/{}.p12", cert.serial);
        if let Some(p12) = &material.pkcs12 {
            self.objects
                .put(&object_key, p12.clone(), "application/x-pkcs12")
                .await?;
        }
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
        new.version += 1;
        let mut used = secret.clone();
        used.used_at = Some(now);
        used.version += 1;
        let event = self.audit(
            &actor.org,
            &actor.audit_name(),
            "certificate.issue",
            cert.serial.to_string(),
            json!({ "key": if req.csr.is_some() { "csr" } else { "server" }, "fingerprint": material.fingerprint }),
        );
        let extra = vec![
            Write::PutSecret {
                secret: used,
                expected: Some(secret.version),
            },
            Write::Audit(event),
        ];
        // The link is made before the commit, so that a committed issuance always answers
        // with its password and link.
        let download_url = match &material.pkcs12 {
            Some(_) => match self
                .objects
                .presign(&object_key, self.config.download_ttl, now)
                .await
            {
                Ok(url) => Some(url),
                Err(e) => {
                    let _ = self.objects.delete(&object_key).await;
                    return Err(e);
                }
            },
            None => None,
        };
        if let Err(e) = self
            .commit_certificate_change(&cert, Some(new.clone()), extra)
            .await
        {
            // The answer of a commit can be lost after it took effect: look before undoing.
            let committed = matches!(
                self.store.certificate(&cert.serial).await,
                Ok(Some(c)) if c.status == CertStatus::Issued && c.fingerprint == new.fingerprint
            );
            if !committed {
                // Nothing half-done: the order stays pending and the link works again.
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
        self.status_changed(&new, false).await;
        Ok(IssueResult {
            certificate: new,
            certificate_pem: material.certificate_pem,
            chain_pem: material.chain_pem,
            password,
            download_url,
        })
    }
}
