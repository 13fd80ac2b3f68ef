//! Profiles: read, list/search, export, master data, system rights, seal generation.

use serde_json::json;
use uuid::Uuid;

use super::input::{check_cursor, check_org_rules, unknown_cursor, Errors, MasterDataPatch};
use super::App;
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::ids::{CertEmail, DisplayName, Ean, Email, PNumber, ProfileName, SeNumber};
use crate::model::{Certificate, Page, Profile, SystemRights};
use crate::ports::{ProfileQuery, Write};

const READERS: &[Role] = &[Role::UserAdmin, Role::RightsAdmin];

fn parse_nullable<T>(
    e: &mut Errors,
    field: &str,
    v: &Option<Option<String>>,
    current: &Option<T>,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Option<T>
where
    T: Clone,
{
    match v {
        None => current.clone(),
        Some(None) => None,
        Some(Some(s)) => e.field(field, parse(s)),
    }
}

impl App {
    /// A profile with its certificates (user_admin, rights_admin).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for unknown or foreign ids.
    pub async fn get_profile(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(Profile, Vec<Certificate>)> {
        actor.require(READERS)?;
        let profile = self.scoped_profile(&actor.org, id).await?;
        let certs = self.store.certificates_of(&actor.org, id).await?;
        Ok((profile, certs))
    }

    /// Lists and searches profiles (user_admin, rights_admin).
    ///
    /// # Errors
    /// `Forbidden`; `Invalid{limit|q}`; `Malformed{cursor}` for a cursor that is not
    /// base64url; `Invalid{cursor}` for one this service did not produce.
    pub async fn list_profiles(
        &self,
        actor: &Actor,
        mut query: ProfileQuery,
    ) -> Result<Page<Profile>> {
        actor.require(READERS)?;
        // Malformed (400) before rule breaks (422), whatever the order of parameters.
        check_cursor(query.cursor.as_deref())?;
        if query.limit == 0 || query.limit > 200 {
            return Err(DomainError::invalid(
                "limit",
                "limit must be between 1 and 200",
            ));
        }
        // The limit holds for the text as sent (the OpenAPI maxLength); the search itself
        // ignores surrounding spaces, and blank text searches nothing.
        if let Some(q) = &query.q {
            if q.chars().count() > 200 {
                return Err(DomainError::invalid(
                    "q",
                    "search text must be at most 200 characters",
                ));
            }
        }
        query.q = query
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
        query.now = Some(self.now());
        self.store
            .profiles(&actor.org, &query)
            .await
            .map_err(unknown_cursor)
    }

    /// Every profile of the organisation, for the CSV export (user_admin, rights_admin).
    ///
    /// # Errors
    /// `Forbidden`; `Unavailable`.
    pub async fn export_profiles(&self, actor: &Actor) -> Result<Vec<Profile>> {
        actor.require(READERS)?;
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .profiles(
                    &actor.org,
                    &ProfileQuery {
                        limit: 200,
                        cursor,
                        now: Some(self.now()),
                        ..Default::default()
                    },
                )
                .await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn save_profile(
        &self,
        actor: &Actor,
        old: &Profile,
        mut new: Profile,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<Profile> {
        new.version = old.version + 1;
        new.updated_at = self.now();
        let event = self.audit(
            &actor.org,
            &actor.audit_name(),
            action,
            new.id.to_string(),
            detail,
        );
        let mut writes = vec![
            Write::PutProfile {
                profile: new.clone(),
                expected: Some(old.version),
            },
            Write::Audit(event),
        ];
        // The public directory follows the profile's current "publish" flag for all its
        // certificates (issue 14: unticking it must take them out of the directory, and
        // ticking it publishes them), so the flag each certificate carries for the
        // directory's index is rewritten in the same commit.
        if new.publish != old.publish {
            for c in self.store.certificates_of(&actor.org, new.id).await? {
                if c.snapshot.publish == new.publish {
                    continue;
                }
                let mut n = c.clone();
                n.snapshot.publish = new.publish;
                n.version += 1;
                writes.push(Write::PutCertificate {
                    cert: n,
                    expected: Some(c.version),
                });
            }
        }
        self.store.commit(writes).await?;
        Ok(new)
    }

    /// Edits master data; takes effect on certificates ordered afterwards (user_admin).
    ///
    /// # Errors
    /// `StaleVersion` when `version` is not the stored one; `Invalid` naming fields.
    pub async fn update_master_data(
        &self,
        actor: &Actor,
        id: Uuid,
        patch: MasterDataPatch,
    ) -> Result<Profile> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let old = self.scoped_profile(&org.cvr, id).await?;
        let mut e = Errors::default();
        let mut p = old.clone();
        if let Some(n) = &patch.name {
            p.name = e.field("name", ProfileName::parse(n)).unwrap_or(p.name);
        }
        if let Some(m) = &patch.contact_email {
            p.contact_email = e
                .field("contact_email", Email::parse(m))
                .unwrap_or(p.contact_email);
        }
        p.certificate_email = parse_nullable(
            &mut e,
            "certificate_email",
            &patch.certificate_email,
            &old.certificate_email,
            CertEmail::parse,
        );
        p.contact_name = parse_nullable(
            &mut e,
            "contact_name",
            &patch.contact_name,
            &old.contact_name,
            DisplayName::parse,
        );
        p.p_number = parse_nullable(
            &mut e,
            "p_number",
            &patch.p_number,
            &old.p_number,
            PNumber::parse,
        );
        p.se_number = parse_nullable(
            &mut e,
            "se_number",
            &patch.se_number,
            &old.se_number,
            SeNumber::parse,
        );
        p.ean = parse_nullable(&mut e, "ean", &patch.ean, &old.ean, Ean::parse);
        if let Some(b) = patch.publish {
            p.publish = b;
        }
        // Only the fields this patch changes are held to the organisation's current rules.
        check_org_rules(
            &mut e,
            &org,
            p.kind,
            p.p_number.as_ref().filter(|_| patch.p_number.is_some()),
            p.se_number.as_ref().filter(|_| patch.se_number.is_some()),
            p.ean.as_ref().filter(|_| patch.ean.is_some()),
            &SystemRights::default(),
            false,
        );
        // The organisation-type rule is not part of master data.
        e.finish_except("type")?;
        if patch.version != old.version {
            return Err(DomainError::StaleVersion(format!(
                "the profile was changed by someone else (version {} is current, you sent {})",
                old.version, patch.version
            )));
        }
        self.save_profile(
            actor,
            &old,
            p,
            "profile.update",
            json!({ "version": patch.version }),
        )
        .await
    }

    /// Sets API services and Local IdP rights (user_admin).
    ///
    /// # Errors
    /// `Invalid` when the organisation or the certificate type does not allow a right.
    pub async fn set_system_rights(
        &self,
        actor: &Actor,
        id: Uuid,
        rights: SystemRights,
    ) -> Result<Profile> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let old = self.scoped_profile(&org.cvr, id).await?;
        let mut e = Errors::default();
        check_org_rules(&mut e, &org, old.kind, None, None, None, &rights, false);
        e.finish_except("type")?;
        let mut p = old.clone();
        p.system_rights = rights;
        self.save_profile(
            actor,
            &old,
            p,
            "profile.system_rights.update",
            json!({ "before": old.system_rights, "after": rights }),
        )
        .await
    }

    /// Turns seal generation on or off (user_admin).
    ///
    /// # Errors
    /// `Invalid{seal_generation}` when the organisation disallows seals or for system certificates.
    pub async fn set_seal_generation(
        &self,
        actor: &Actor,
        id: Uuid,
        enabled: bool,
    ) -> Result<Profile> {
        actor.require(&[Role::UserAdmin])?;
        let org = self.org_of(actor).await?;
        let old = self.scoped_profile(&org.cvr, id).await?;
        let mut e = Errors::default();
        check_org_rules(
            &mut e,
            &org,
            old.kind,
            None,
            None,
            None,
            &SystemRights::default(),
            enabled,
        );
        e.finish_except("type")?;
        let mut p = old.clone();
        p.seal_generation = enabled;
        self.save_profile(
            actor,
            &old,
            p,
            "profile.seal_generation.update",
            json!({ "enabled": enabled }),
        )
        .await
    }
}
