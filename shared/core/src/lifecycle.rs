//! The certificate lifecycle as one pure transition function; every use case calls it.
//!
//! ```text
//! order/renew ─► Pending ──issue──► Issued ──revoke──► Revoked   (terminal)
//!                   │                  └── time ──► Expired       (derived)
//!                   └─delete──► (gone; only Pending can be deleted)
//! ```

use crate::error::DomainError;
use crate::model::CertStatus;

/// Something an actor does to an existing certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Holder issues a pending order.
    Issue,
    /// Administrator revokes.
    Revoke,
    /// Administrator renews (creates a new Pending certificate).
    Renew,
    /// Administrator deletes a pending order.
    Delete,
    /// Administrator sends the issuance link again.
    ResendLink,
}

impl Action {
    /// Every action (for exhaustive tests and docs).
    pub const ALL: [Action; 5] = [
        Action::Issue,
        Action::Revoke,
        Action::Renew,
        Action::Delete,
        Action::ResendLink,
    ];
    fn verb(self) -> &'static str {
        match self {
            Action::Issue => "issue",
            Action::Revoke => "revoke",
            Action::Renew => "renew",
            Action::Delete => "delete",
            Action::ResendLink => "send the issuance link for",
        }
    }
}

/// What an allowed action does to the certificate it is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The certificate moves to this status.
    Becomes(CertStatus),
    /// The certificate keeps its status (renew creates a sibling; resend makes a new secret).
    Unchanged,
    /// The certificate is removed.
    Removed,
}

/// The transition table. `status` must be the effective status (expiry applied).
///
/// # Errors
/// `Conflict` naming the status and action when the pair is not allowed.
pub fn transition(status: CertStatus, action: Action) -> Result<Outcome, DomainError> {
    use Action as A;
    use CertStatus as S;
    match (status, action) {
        (S::Pending, A::Issue) => Ok(Outcome::Becomes(S::Issued)),
        (S::Pending, A::Delete) => Ok(Outcome::Removed),
        (S::Pending, A::ResendLink) => Ok(Outcome::Unchanged),
        (S::Issued, A::Revoke) => Ok(Outcome::Becomes(S::Revoked)),
        (S::Issued, A::Renew) => Ok(Outcome::Unchanged),
        (s, a) => Err(DomainError::Conflict(format!(
            "cannot {} {} {} certificate{}",
            a.verb(),
            if matches!(s, S::Issued | S::Expired) {
                "an"
            } else {
                "a"
            },
            s.as_str(),
            hint(s, a)
        ))),
    }
}

fn hint(s: CertStatus, a: Action) -> &'static str {
    match (s, a) {
        (CertStatus::Pending, Action::Revoke) => " (delete the pending order instead)",
        (CertStatus::Issued | CertStatus::Revoked | CertStatus::Expired, Action::Delete) => {
            " (only pending orders can be deleted; revoke an issued certificate)"
        }
        (CertStatus::Revoked | CertStatus::Expired, Action::Renew) => {
            " (order a new certificate instead)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CertStatus as S;

    /// Exhaustive (state, action) table: every pair is listed, so a new state or
    /// action fails this test until it is decided.
    #[test]
    fn exhaustive_table() {
        let table: [(CertStatus, [Option<Outcome>; 5]); 4] = [
            //            Issue                            Revoke                          Renew                    Delete                    ResendLink
            (
                S::Pending,
                [
                    Some(Outcome::Becomes(S::Issued)),
                    None,
                    None,
                    Some(Outcome::Removed),
                    Some(Outcome::Unchanged),
                ],
            ),
            (
                S::Issued,
                [
                    None,
                    Some(Outcome::Becomes(S::Revoked)),
                    Some(Outcome::Unchanged),
                    None,
                    None,
                ],
            ),
            (S::Revoked, [None, None, None, None, None]),
            (S::Expired, [None, None, None, None, None]),
        ];
        for (status, row) in table {
            for (action, expected) in Action::ALL.into_iter().zip(row) {
                let got = transition(status, action);
                match expected {
                    Some(o) => assert_eq!(got, Ok(o), "{status:?} {action:?}"),
                    None => assert!(
                        matches!(got, Err(DomainError::Conflict(_))),
                        "{status:?} {action:?} should be refused, got {got:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn messages_name_state_and_action() {
        let Err(DomainError::Conflict(m)) = transition(S::Revoked, Action::Revoke) else {
            panic!()
        };
        assert_eq!(m, "cannot revoke a revoked certificate");
        let Err(DomainError::Conflict(m)) = transition(S::Issued, Action::Delete) else {
            panic!()
        };
        assert!(
            m.starts_with("cannot delete an issued certificate (only pending"),
            "{m}"
        );
    }
}
