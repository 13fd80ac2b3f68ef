//! What happened: audit events and in-app notifications.

use super::input::{check_cursor, unknown_cursor};
use super::App;
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
