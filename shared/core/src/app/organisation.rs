//! Organisation: read, settings, creation (CLI and demo data).

use serde_json::json;

use super::input::{Errors, SettingsPatch};
use super::App;
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::ids::{Cvr, DisplayName, PNumber, SeNumber};
use crate::model::{OrgSettings, Organisation};
use crate::ports::Write;

/// A new organisation (from `orgcert org add` or the demo data).
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    /// CVR.
    pub cvr: String,
    /// Name.
    pub name: String,
    /// P numbers.
    pub p_numbers: Vec<String>,
    /// SE numbers.
    pub se_numbers: Vec<String>,
    /// Initial settings.
    pub settings: OrgSettings,
}

impl App {
    /// The caller's organisation (any role).
    ///
    /// # Errors
    /// `Forbidden` without an administrative role; `NotFound` for an unknown CVR.
    pub async fn get_organisation(&self, actor: &Actor) -> Result<Organisation> {
        actor.require(&[Role::UserAdmin, Role::RightsAdmin, Role::OrgAdmin])?;
        self.org_of(actor).await
    }

    /// Changes the organisation's switches (org_admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `StaleVersion` when another change raced this one.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        patch: SettingsPatch,
    ) -> Result<Organisation> {
        actor.require(&[Role::OrgAdmin])?;
        let old = self.org_of(actor).await?;
        let mut org = old.clone();
        let s = &mut org.settings;
        if let Some(v) = patch.organisation_certificates_enabled {
            s.organisation_certificates_enabled = v;
        }
        if let Some(v) = patch.seal_generation_allowed {
            s.seal_generation_allowed = v;
        }
        if let Some(v) = patch.local_idp_enabled {
            s.local_idp_enabled = v;
        }
        if let Some(v) = patch.nemhandel_enabled {
            s.nemhandel_enabled = v;
        }
        org.version += 1;
        let event = self.audit(
            &org.cvr,
            &actor.audit_name(),
            "organisation.settings.update",
            org.cvr.to_string(),
            json!({ "before": old.settings, "after": org.settings }),
        );
        self.store
            .commit(vec![
                Write::PutOrganisation {
                    org: org.clone(),
                    expected: Some(old.version),
                },
                Write::Audit(event),
            ])
            .await?;
        Ok(org)
    }

    /// Creates `new` when no organisation exists yet (the demo data of a fresh
    /// deployment); whether it did.
    ///
    /// # Errors
    /// As [`App::add_organisation`].
    pub async fn add_first_organisation(&self, new: NewOrganisation) -> Result<bool> {
        if !self.store.organisations().await?.is_empty() {
            return Ok(false);
        }
        self.add_organisation(new).await?;
        Ok(true)
    }

    /// Creates an organisation.
    ///
    /// # Errors
    /// `Invalid` naming bad fields; `Conflict` when the CVR exists.
    pub async fn add_organisation(&self, new: NewOrganisation) -> Result<Organisation> {
        let mut e = Errors::default();
        let cvr = e.field("cvr", Cvr::parse(&new.cvr));
        // The name becomes the subject O=, whose upper bound is 64 (RFC 5280 ub-organization-name).
        let name = e.field(
            "name",
            DisplayName::parse(&new.name).and_then(|n| {
                if n.as_str().chars().count() > 64 {
                    Err("organisation name must be at most 64 characters".into())
                } else {
                    Ok(n)
                }
            }),
        );
        let p_numbers: Vec<PNumber> = new
            .p_numbers
            .iter()
            .filter_map(|p| e.field("p_number", PNumber::parse(p)))
            .collect();
        let se_numbers: Vec<SeNumber> = new
            .se_numbers
            .iter()
            .filter_map(|s| e.field("se_number", SeNumber::parse(s)))
            .collect();
        e.finish()?;
        let (Some(cvr), Some(name)) = (cvr, name) else {
            return Err(DomainError::Internal("validation lost a field".into()));
        };
        if self.store.organisation(&cvr).await?.is_some() {
            return Err(DomainError::Conflict(format!(
                "organisation {cvr} already exists"
            )));
        }
        let org = Organisation {
            cvr: cvr.clone(),
            name,
            settings: new.settings,
            p_numbers,
            se_numbers,
            version: 1,
            created_at: self.now(),
        };
        let event = self.audit(
            &cvr,
            "system",
            "organisation.create",
            cvr.to_string(),
            json!({}),
        );
        self.store
            .commit(vec![
                Write::PutOrganisation {
                    org: org.clone(),
                    expected: None,
                },
                Write::Audit(event),
            ])
            .await
            .map_err(|e| match e {
                DomainError::StaleVersion(_) => {
                    DomainError::Conflict(format!("organisation {cvr} already exists"))
                }
                other => other,
            })?;
        Ok(org)
    }

    /// Every organisation with the contact emails of its first 200 profiles (lower case,
    /// as stored order has it): whom the embedded default's sign-in page offers. No route
    /// of the API calls it; only the local-only `/_local/users` on this machine does.
    ///
    /// # Errors
    /// As the store's `organisations` and `profiles`.
    pub async fn organisations_and_contacts(&self) -> Result<Vec<(Organisation, Vec<String>)>> {
        let query = crate::ports::ProfileQuery {
            limit: 200,
            ..Default::default()
        };
        let mut out = Vec::new();
        for org in self.store.organisations().await? {
            let contacts = self
                .store
                .profiles(&org.cvr, &query)
                .await?
                .items
                .iter()
                .map(|p| p.contact_email.to_string().to_ascii_lowercase())
                .collect();
            out.push((org, contacts));
        }
        Ok(out)
    }
}
