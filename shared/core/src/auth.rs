//! Who is calling: roles and organisation scoping.

use crate::error::DomainError;
use crate::ids::{Cvr, Serial};
use crate::model::SystemRights;
use serde::{Deserialize, Serialize};

/// Administrative roles (JWT claim `roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Orders, issues links, renews, revokes, deletes, edits, exports.
    UserAdmin,
    /// Read-only views of every profile and its settings.
    RightsAdmin,
    /// Organisation settings.
    OrgAdmin,
}

impl Role {
    /// Parses a claim value; unknown roles are ignored by callers.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user_admin" => Some(Self::UserAdmin),
            "rights_admin" => Some(Self::RightsAdmin),
            "org_admin" => Some(Self::OrgAdmin),
            _ => None,
        }
    }
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserAdmin => "user_admin",
            Self::RightsAdmin => "rights_admin",
            Self::OrgAdmin => "org_admin",
        }
    }
}

/// An authenticated caller, always inside one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Subject (JWT `sub`).
    pub subject: String,
    /// Email (JWT `email`); a holder is matched on it.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Organisation (JWT `org`).
    pub org: Cvr,
    /// Roles in that organisation.
    pub roles: Vec<Role>,
    /// When the caller logged in (JWT `iat`), if known: a direct order's administrator may
    /// issue it after logging in again (the guide's "Proceed directly to issuance").
    pub authenticated_at: Option<time::OffsetDateTime>,
}

impl Actor {
    /// Succeeds if the actor holds any of `roles`.
    ///
    /// # Errors
    /// `Forbidden` naming the roles that would be needed.
    pub fn require(&self, roles: &[Role]) -> Result<(), DomainError> {
        if roles.iter().any(|r| self.roles.contains(r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(DomainError::Forbidden(format!(
                "this action needs the role {}",
                names.join(" or ")
            )))
        }
    }
    /// Text recorded as the actor in audit events: `sub <email>` for people, the
    /// certificate (`system:<serial>`) for machines, which have no email.
    pub fn audit_name(&self) -> String {
        if self.email.is_empty() {
            self.subject.clone()
        } else {
            format!("{} <{}>", self.subject, self.email)
        }
    }
}

/// A system certificate calling over mutual TLS (DESIGN §5b, API.md "System certificates"):
/// the caller is the certificate, its organisation the profile's, its rights the order
/// snapshot's (rights changed later apply to the next certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The calling certificate.
    pub serial: Serial,
    /// Its organisation.
    pub org: Cvr,
    /// Rights frozen when it was ordered.
    pub rights: SystemRights,
}

impl Machine {
    /// The actor the use cases see: `administration_api` acts as a user_admin (who may
    /// not change organisation settings: that needs org_admin), without it no role.
    pub fn actor(&self) -> Actor {
        Actor {
            subject: format!("system:{}", self.serial),
            email: String::new(),
            name: String::new(),
            org: self.org.clone(),
            roles: if self.rights.administration_api {
                vec![Role::UserAdmin]
            } else {
                Vec::new()
            },
            authenticated_at: None,
        }
    }
}
