//! What happened: audit events and in-app notifications.

use super::input::{check_cursor, unknown_cursor};
use super::App;
use crate::audit_chain;
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::ids::Email;
use crate::model::{AuditEvent, Notification, Page};
use crate::ports::Write;
use uuid::Uuid;

impl App {
    /// Audit events of the organisation, newest first (user_admin, org_admin).
    ///
    /// # Errors
    /// `Forbidden`; `Invalid{limit}`; `Malformed{cursor}` for a cursor that is not
    /// base64url; `Invalid{cursor}` for one this service did not produce.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEvent>> {
        actor.require(&[Role::UserAdmin, Role::OrgAdmin])?;
        // Malformed (400) before rule breaks (422).
        check_cursor(cursor)?;
        if limit == 0 || limit > 500 {
            return Err(DomainError::invalid(
                "limit",
                "limit must be between 1 and 500",
            ));
        }
        self.store
            .audit(&actor.org, limit, cursor)
            .await
            .map_err(unknown_cursor)
    }

    /// Every audit event of the caller's organisation in chain order, oldest first
    /// (user_admin, org_admin): what `GET /v1/audit/export` writes and
    /// `orgcert audit verify FILE` checks (see [`crate::audit_chain`]).
    ///
    /// # Errors
    /// `Forbidden`; `Unavailable`.
    pub async fn audit_export(&self, actor: &Actor) -> Result<Vec<AuditEvent>> {
        actor.require(&[Role::UserAdmin, Role::OrgAdmin])?;
        self.store.audit_export(&actor.org).await
    }

    /// Verifies the organisation's audit chain as stored (`orgcert audit verify --org`).
    ///
    /// # Errors
    /// `Unavailable` when the store fails; a broken chain is the inner `Err`.
    pub async fn verify_audit_chain(
        &self,
        org: &crate::ids::Cvr,
    ) -> Result<std::result::Result<audit_chain::Verified, audit_chain::Mismatch>> {
        let events = self.store.audit_export(org).await?;
        Ok(audit_chain::verify(&events))
    }

    /// The caller's in-app notifications, newest first (any authenticated user).
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn notifications(&self, actor: &Actor) -> Result<Vec<Notification>> {
        let Ok(email) = Email::parse(&actor.email) else {
            return Ok(Vec::new());
        };
        self.store.notifications(&actor.org, &email, 100).await
    }

    /// Marks the caller's notifications read (`ids` empty: all).
    ///
    /// # Errors
    /// `Invalid{ids}` for more than 500 ids; `Unavailable`.
    pub async fn mark_notifications_read(&self, actor: &Actor, ids: Vec<Uuid>) -> Result<()> {
        if ids.len() > 500 {
            return Err(DomainError::invalid("ids", "at most 500 ids at a time"));
        }
        let Ok(recipient) = Email::parse(&actor.email) else {
            return Ok(());
        };
        self.store
            .commit(vec![Write::MarkRead {
                org: actor.org.clone(),
                recipient,
                ids,
            }])
            .await
    }
}
